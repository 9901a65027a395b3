#!/usr/bin/env bash
# adversarial_requests.sh — hostile request bodies against a real `tollgate
# serve` (stub upstream on loopback): the data-driven cases of
# tests/cases/adversarial/requests.cases plus generated ones (every prefix of
# a valid body, deep nesting, huge and many-message bodies).  For each: the
# expected status, an OpenAI error body on >= 400, a decision id, and no PII
# marker in anything the stub upstream received.  At the end: one audit
# entry per request, each decision id exactly once, the log verifies, and
# the server never crashed.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
CASES=$TG_ROOT/tests/cases/adversarial/requests.cases
gw_start e2e.yaml HEADER_TIMEOUT_MS=2000 MAX_BODY=2097152 || exit 0

# What must never reach a provider on the chat route, in any spelling the
# cases use: the email's domain, the card and SSN digits, the email in base64.
MARKERS=(-e 'example\.com' -e 'jane\.roe' -e '4111' -e '536-22-1234' -e '536.22' -e 'amFuZS5yb2VAZXhhbXBsZS5jb20'
         -e 'ｊａｎｅ' -e '４１１１' -e '@exa')
sent=0
ids=()

is_openai_error() {
  node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));
    process.exit(j && j.error && typeof j.error.message==="string" && "type" in j.error && "code" in j.error ? 0 : 1)' \
    <"$GW_DIR/body" 2>/dev/null
}

status_ok() { # GOT EXPECT
  case $2 in
    4xx) [ "$1" -ge 400 ] && [ "$1" -lt 500 ] ;;
    '!5xx') [ "$1" -ge 200 ] && [ "$1" -lt 500 ] ;;
    *) [ "$1" = "$2" ] ;;
  esac
}

# run_case NAME CATEGORY EXPECT BODYFILE
run_case() {
  local name=$1 cat=$2 expect=$3 file=$4 why=
  curl -s -X DELETE "$STUB_URL/__requests" >/dev/null
  local hdr=(-H "X-Task-Category: $cat")
  [ "$cat" = - ] && hdr=()
  [ -z "$cat" ] && hdr=(-H 'X-Task-Category;')   # curl's spelling of an empty header
  curl -s -D "$GW_DIR/h" -o "$GW_DIR/body" -w '%{http_code}' --max-time 20 \
    -H "Authorization: Bearer $ACME_KEY" -H 'Content-Type: application/json' "${hdr[@]}" \
    --data-binary @"$file" "$GW_BASE/v1/chat/completions" >"$GW_DIR/status"
  sent=$((sent + 1))
  local got; got=$(status)
  status_ok "$got" "$expect" || why="status $got, want $expect"
  if [ -z "$why" ] && [ "$got" -ge 400 ] && ! is_openai_error; then why="not an OpenAI error body"; fi
  local id; id=$(header x-tollgate-decision-id)
  if [ -n "$id" ]; then ids+=("$id"); elif [ -z "$why" ]; then why="no X-Tollgate-Decision-Id"; fi
  curl -s "$STUB_URL/__requests" >"$GW_DIR/up.json"
  if grep -q "${MARKERS[@]}" "$GW_DIR/up.json"; then why="${why:+$why; }PII reached the upstream"; fi
  if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$GW_BASE/healthz")" != 200 ]; then
    why="${why:+$why; }server unhealthy afterwards"
  fi
  if [ -z "$why" ]; then pass "case: $name ($got)"; else fail "case: $name" "$why"; fi
}

# --- the case file ---------------------------------------------------------------
n=0
while IFS= read -r line || [ -n "$line" ]; do
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  name=$(sed 's/[[:space:]]*|.*//' <<<"$line")
  rest=${line#*|}; cat=${rest%%|*}; rest=${rest#*|}; expect=${rest%%|*}; body=${rest#*|}
  cat=$(echo $cat); expect=$(echo $expect); body=${body# }
  n=$((n + 1))
  if [[ $body == @* ]]; then
    f="$TG_ROOT/tests/cases/adversarial/${body#@}"
  else
    f="$GW_DIR/case.json"; printf '%s' "$body" >"$f"
  fi
  run_case "$name" "$cat" "$expect" "$f"
done <"$CASES"
check "case file has cases ($n)" test "$n" -ge 40

# --- generated: every 7th prefix of a valid body is a malformed request -------
full='{"model":"auto","messages":[{"role":"user","content":"mail jane.roe@example.com"},{"role":"assistant","content":"ok"}],"stream":false}'
bad=0 total=0
for ((i = 1; i < ${#full}; i += 7)); do
  printf '%s' "${full:0:i}" >"$GW_DIR/t.json"
  code=$(curl -s -o "$GW_DIR/body" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $ACME_KEY" \
    -H 'X-Task-Category: chat' --data-binary @"$GW_DIR/t.json" "$GW_BASE/v1/chat/completions")
  sent=$((sent + 1)); total=$((total + 1))
  { [ "$code" = 400 ] && is_openai_error; } || { bad=$((bad + 1)); echo "truncated at $i: $code"; }
done
check "truncated JSON: all $total prefixes -> 400 with an OpenAI error ($bad bad)" test "$bad" = 0

# --- generated: deep nesting inside a known field, and past the parser's limit ---
deep() { printf '{"model":"auto","messages":[{"role":"user","content":'; printf '%*s' "$1" '' | tr ' ' '['; printf '"x"'; printf '%*s' "$1" '' | tr ' ' ']'; printf '}]}'; }
for d in 500 100000; do
  deep "$d" >"$GW_DIR/deep.json"
  run_case "nested $d deep in content" chat 400 "$GW_DIR/deep.json"
done
printf '{"model":"auto","messages":[{"role":"user","content":"x"}],"junk":' >"$GW_DIR/deep2.json"
printf '%*s' 200000 '' | sed 's/ /{"a":/g' >>"$GW_DIR/deep2.json"
run_case "200000-deep objects in an unknown field" chat 4xx "$GW_DIR/deep2.json"

# --- generated: big and many -------------------------------------------------------
node -e 'const m=[]; for (let i=0;i<20000;i++) m.push({role:"user",content:"m"+i});
  process.stdout.write(JSON.stringify({model:"auto",messages:m}))' >"$GW_DIR/many.json"
run_case "20000 messages" chat '!5xx' "$GW_DIR/many.json"
node -e 'process.stdout.write(JSON.stringify({model:"auto",messages:[{role:"user",content:"1234 ".repeat(300000)}]}))' >"$GW_DIR/digits.json"
t0=$(date +%s%N)
run_case "1.5 MB of digit groups (scanner worst case)" chat '!5xx' "$GW_DIR/digits.json"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "1.5 MB of digit groups answered in < 10 s (${ms} ms)" test "$ms" -lt 10000
node -e 'process.stdout.write(JSON.stringify({model:"auto",messages:[{role:"user",content:"a".repeat(1500000)+" jane.roe@example.com"}]}))' >"$GW_DIR/tail.json"
run_case "email after 1.5 MB of text" chat 403 "$GW_DIR/tail.json"

# --- the audit log: one entry per request, each id once, verifies -----------------
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
got=$(audit_count)
check "one audit entry per request ($got entries, $sent requests)" test "$got" = "$sent"
dups=$(node -e '
  const [f, ...ids] = process.argv.slice(1);
  const seen = {};
  for (const l of require("fs").readFileSync(f, "utf8").split("\n")) {
    if (!l) continue; const e = JSON.parse(l); if (e.decision_id) seen[e.decision_id] = (seen[e.decision_id] || 0) + 1; }
  console.log(ids.filter((i) => seen[i] !== 1).length);' "$GW_AUDIT" "${ids[@]}")
check "each decision id sent to a client is in the audit log exactly once (${#ids[@]} ids, $dups bad)" test "$dups" = 0
"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >"$GW_DIR/verify.out" 2>&1
check "audit verify passes" test $? = 0
check "audit log holds no PII marker" bash -c "! grep -q -e 'jane.roe' -e 'example.com' -e '4111 1111' '$GW_AUDIT'"
check "no crash or sanitizer report in the server log" bash -c "! grep -q -e 'AddressSanitizer' -e 'runtime error' -e 'Segmentation' '$GW_DIR/serve.log'"
