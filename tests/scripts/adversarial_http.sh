#!/usr/bin/env bash
# adversarial_http.sh — hostile clients at the HTTP layer against a real
# `tollgate serve` on loopback: 10 MiB bodies (sized and chunked), lying
# Content-Length, smuggling-shaped framing, header floods, CR/LF and
# obs-fold injection attempts, client headers that must never reach a
# provider, a tenant claiming another tenant's identity, many concurrent
# slowloris clients, a stalled body, pipelining, a duplicate "model" key,
# and a client that hangs up mid-stream.  Never a crash or a hang; every
# request that got a decision id is in the audit log, which verifies.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
gw_start e2e.yaml HEADER_TIMEOUT_MS=1000 MAX_BODY=1048576 || exit 0

healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$GW_BASE/healthz")" = 200 ]; }
is_openai_error() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));
  process.exit(j && j.error && typeof j.error.message==="string" && "type" in j.error ? 0 : 1)' <"$GW_DIR/body" 2>/dev/null; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ids=()
keep_id() { local id; id=$(header x-tollgate-decision-id); [ -n "$id" ] && ids+=("$id"); }

# raw REQUEST-BYTES [SECONDS]: write bytes on a fresh connection, print what comes back.
raw() {
  exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT" || return 2
  printf '%b' "$1" >&3
  timeout "${2:-5}" cat <&3
  local rc=$?
  exec 3<&- 3>&-
  return $rc
}
auth="Authorization: Bearer $ACME_KEY"
small='{"model":"auto","messages":[{"role":"user","content":"hi"}]}'

# --- 10 MiB bodies ------------------------------------------------------------------
head -c 10485760 /dev/zero | tr '\0' 'a' | sed 's/^/{"model":"auto","messages":[{"role":"user","content":"/; s/$/"}]}/' >"$GW_DIR/10m.json"
t0=$(date +%s%N)
chat_req --data-binary @"$GW_DIR/10m.json" >/dev/null
check "10 MiB body with Content-Length -> 413 ($(status), $(ms_since "$t0") ms)" test "$(status)" = 413
check "413 has an OpenAI error body" is_openai_error
keep_id
t0=$(date +%s%N)
chat_req -H 'Transfer-Encoding: chunked' --data-binary @"$GW_DIR/10m.json" >/dev/null
check "10 MiB chunked body -> 413 ($(status), $(ms_since "$t0") ms)" test "$(status)" = 413
keep_id
check "healthy after 10 MiB bodies" healthy

out=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Task-Category: chat\r\nContent-Length: 99999999999999\r\n\r\n{}" 3)
check "absurd Content-Length refused at once (got: $(head -1 <<<"$out" | tr -d '\r'))" grep -qE '^HTTP/1\.[01] (413|400)' <<<"$out"
out=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Task-Category: chat\r\nContent-Length: -5\r\n\r\n{}" 3)
check "negative Content-Length -> 400 or closed (got: $(head -1 <<<"$out" | tr -d '\r'))" \
  bash -c "[ -z \"\$1\" ] || grep -qE '^HTTP/1\.[01] 4[0-9][0-9]' <<<\"\$1\"" _ "$out"
out=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Task-Category: chat\r\nContent-Length: 4\r\nContent-Length: 60\r\n\r\n$small" 3)
check "conflicting Content-Length headers are not served as 200 (got: $(head -1 <<<"$out" | tr -d '\r'))" \
  bash -c "! grep -qE '^HTTP/1\.[01] 200' <<<\"\$1\"" _ "$out"
check "healthy after framing attacks" healthy

# --- header floods --------------------------------------------------------------------
hdrs=()
for ((i = 0; i < 3000; i++)); do hdrs+=(-H "X-F$i: v"); done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${hdrs[@]}" "$GW_BASE/healthz"); rc=$?
check "3000 headers: an answer or a hang-up, not a hang (code $code, curl rc $rc)" test "$rc" != 28
check "healthy after a header flood" healthy

# --- client headers never reach a provider; no header injection ------------------------
curl -s -X DELETE "$STUB_URL/__requests" >/dev/null
out=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Task-Category: chat\r\nX-Feature-Id: feat\rX-Injected-CR: 1\r\nX-Export-Control: \r\n X-Injected-Fold: 1\r\nX-Stub-Behavior: {\"status\":500}\r\nCookie: session=abc\r\nX-Tenant-Id: globex\r\nContent-Type: application/json\r\nContent-Length: ${#small}\r\nConnection: close\r\n\r\n$small" 5)
st=$(head -1 <<<"$out" | tr -d '\r')
check "bare CR / obs-fold in headers: clear answer ($st)" grep -qE '^HTTP/1\.[01] (200|400|403)' <<<"$st"
id=$(grep -i '^x-tollgate-decision-id:' <<<"$out" | cut -d' ' -f2 | tr -d '\r'); [ -n "$id" ] && ids+=("$id")
chat_req -H $'X-Feature-Id: f1\r\nX-Injected-Curl: 1' -H 'X-Stub-Behavior: {"status":500}' -H 'Cookie: a=b' \
  -H 'X-Forwarded-For: 10.0.0.1' -d "$small" >/dev/null
check "client X-Stub-Behavior is not forwarded (request served: $(status))" test "$(status)" = 200
keep_id
sleep 0.2
curl -s "$STUB_URL/__requests" >"$GW_DIR/up.json"
bad=$(node -e '
  const allowed = new Set(["host","user-agent","content-type","accept","authorization","x-api-key",
    "anthropic-version","content-length","connection","accept-encoding","expect","transfer-encoding"]);
  const reqs = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const bad = [];
  for (const r of reqs) for (const [k, v] of Object.entries(r.headers || {})) {
    if (!allowed.has(k)) bad.push(k);
    if (/[\r\n]/.test(String(v))) bad.push(k + "(CRLF)");
  }
  console.log(reqs.length + " " + (bad.join(",") || "none"));' "$GW_DIR/up.json")
check "upstream saw only tollgate's own headers, no CR/LF in values (requests, extra: $bad)" grep -q ' none$' <<<"$bad"
check "upstream received requests at all ($bad)" grep -qv '^0 ' <<<"$bad"

# --- identity comes from the key ---------------------------------------------------------
CHAT_KEY=$GLOBEX_KEY chat_req -H 'X-Tenant-Id: acme' -d "$small" >/dev/null
check "globex claiming to be acme on a route only acme may use -> 403 ($(status))" test "$(status)" = 403
keep_id; spoof_id=$(header x-tollgate-decision-id)

# --- duplicate "model": the registry's model is what the provider reads ------------------
curl -s -X DELETE "$STUB_URL/__requests" >/dev/null
chat_req -d '{"model":"auto","model":"gpt-4-32k-expensive","messages":[{"role":"user","content":"hi"}]}' >/dev/null
keep_id
m=$(curl -s "$STUB_URL/__requests" | node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(r.length ? r[0].body.model : "none")')
check "duplicate model key: provider reads the registry's model, not the client's (got $m, status $(status))" \
  bash -c "[ '$m' = gpt-4o-mini ] || [ '$m' = none ]"

# --- slowloris: many slow clients do not block a normal one --------------------------------
slow_pids=()
for ((i = 0; i < 30; i++)); do
  ( exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT" || exit 2
    printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' >&3
    timeout 8 cat <&3 >/dev/null; echo $? >"$GW_DIR/slow.$i" ) 2>/dev/null &
  slow_pids+=($!)
done
sleep 0.2
t0=$(date +%s%N)
chat_req -d "$small" >/dev/null
ms=$(ms_since "$t0")
check "a normal request is served while 30 slowloris clients hang ($(status), ${ms} ms)" test "$(status)" = 200 -a "$ms" -lt 2000
keep_id
t0=$(date +%s%N)
for p in "${slow_pids[@]}"; do wait "$p" 2>/dev/null; done
ms=$(ms_since "$t0")
cut_off=$(cat "$GW_DIR"/slow.* 2>/dev/null | grep -cv '^124$')
check "all 30 slowloris connections cut off by header_timeout_ms ($cut_off/30, ${ms} ms)" test "$cut_off" = 30 -a "$ms" -lt 6000

# a body that stops arriving after the headers
t0=$(date +%s%N)
raw "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Task-Category: chat\r\nContent-Length: 100\r\n\r\n{\"mod" 15 >/dev/null
rc=$?
ms=$(ms_since "$t0")
check "stalled body: connection closed by the server (${ms} ms, rc $rc)" test "$rc" != 124 -a "$ms" -lt 12000
check "healthy after slow clients" healthy

# --- pipelining and HTTP/1.0 ----------------------------------------------------------------
req1="POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Task-Category: chat\r\nContent-Type: application/json\r\nContent-Length: ${#small}\r\n"
out=$(raw "$req1\r\n$small${req1}Connection: close\r\n\r\n$small" 5)
n=$(grep -ao 'HTTP/1.1 200 OK' <<<"$out" | wc -l)   # a body has no newline before the next status line
check "two pipelined requests both answered ($n)" test "$n" = 2
while read -r id; do ids+=("$id"); done < <(grep -i '^x-tollgate-decision-id:' <<<"$out" | cut -d' ' -f2 | tr -d '\r')
out=$(raw "GET /healthz HTTP/1.0\r\n\r\n" 3)
check "HTTP/1.0 without Host answered" grep -qE '^HTTP/1\.[01] 200' <<<"$out"
out=$(raw "BREW /v1/chat/completions HTCPCP/1.0\r\n\r\n" 3)
check "garbage request line: 4xx or closed, no crash" bash -c "[ -z \"\$1\" ] || grep -qE '^HTTP/1\.[01] 4' <<<\"\$1\"" _ "$out"
check "healthy after protocol abuse" healthy

# --- a client that hangs up mid-stream still gets its audit entry ----------------------------
curl -s -N -D "$GW_DIR/h" -o /dev/null --max-time 0.6 -H "$auth" -H 'X-Task-Category: chat' \
  -d '{"model":"auto","stream":true,"messages":[{"role":"user","content":"slow [[stub:{\"chunk_delay_ms\":300}]] one two three four five six seven"}]}' \
  "$GW_BASE/v1/chat/completions"
hang_id=$(header x-tollgate-decision-id)
check "mid-stream hang-up: the client had a decision id" test -n "$hang_id"
[ -n "$hang_id" ] && ids+=("$hang_id")
sleep 1.5
check "healthy after a mid-stream hang-up" healthy

# --- the audit log ------------------------------------------------------------------------------
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
missing=$(node -e '
  const [f, ...ids] = process.argv.slice(1);
  const seen = {};
  for (const l of require("fs").readFileSync(f, "utf8").split("\n")) {
    if (!l) continue; const e = JSON.parse(l); if (e.decision_id) seen[e.decision_id] = (seen[e.decision_id] || 0) + 1; }
  console.log(ids.filter((i) => seen[i] !== 1).join(" ") || "none");' "$GW_AUDIT" "${ids[@]}")
check "every decision id a client saw is in the audit log once (${#ids[@]} ids; missing: $missing)" test "$missing" = none
tenant=$(node -e 'const [f,id]=process.argv.slice(1);
  const e=require("fs").readFileSync(f,"utf8").split("\n").filter(Boolean).map(JSON.parse).find(x=>x.decision_id===id);
  console.log(e ? e.tenant : "none")' "$GW_AUDIT" "$spoof_id")
check "spoofing attempt audited as the key's tenant (globex; got $tenant)" test "$tenant" = globex
st=$(node -e 'const [f,id]=process.argv.slice(1);
  const e=require("fs").readFileSync(f,"utf8").split("\n").filter(Boolean).map(JSON.parse).find(x=>x.decision_id===id);
  console.log(e ? e.status + "/" + (e.error || "") : "none")' "$GW_AUDIT" "$hang_id")
check "mid-stream hang-up is in the audit log (status/error: $st)" test "$st" != none
"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >"$GW_DIR/verify.out" 2>&1
check "audit verify passes" test $? = 0
check "server log: no crash, sanitizer report, key or injected header" \
  bash -c "! grep -q -e 'AddressSanitizer' -e 'runtime error' -e '$ACME_KEY' -e 'X-Injected' '$GW_DIR/serve.log'"
