#!/usr/bin/env bash
# Every request through the gateway leaves exactly one audit entry, the log
# verifies after a graceful stop, tampering is detected, and neither the log
# nor the server's output holds the PII or keys that went through it.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
gw_start e2e.yaml || exit 0

sent=0
declare -A expect=()
send() { # EXPECTED_STATUS curl-args...
  local want=$1; shift
  chat_req "$@" >/dev/null
  sent=$((sent + 1))
  [ "$(status)" = "$want" ] || fail "request $sent: expected $want, got $(status)"
  local id; id=$(header x-tollgate-decision-id)
  [ -n "$id" ] && expect[$id]=$want
}
msg() { printf '{"model":"auto","messages":[{"role":"user","content":"%s"}]%s}' "$1" "${2:-}"; }

for i in 1 2 3; do send 200 -d "$(msg "hello $i")"; done
send 200 -N -d "$(msg 'a streamed one' ',"stream":true')"
send 403 -d "$(msg "mail $PII_EMAIL please")"
send 403 -d "$(msg "my card is 4111 1111 1111 1111 and $PII_EMAIL")"
CHAT_KEY=wrong-key send 401 -d "$(msg hi)"
send 400 -d '{"model":"auto","messages":['
CHAT_CATEGORY=pii_ok send 200 -d "$(msg 'pii allowed here: '"$PII_EMAIL")"
curl -s -X POST -d '{"match":"/us/","status":500,"times":1}' "$STUB_URL/__behavior" >/dev/null
send 200 -d "$(msg 'primary fails once')"
check "fallback answered (X-Tollgate-Model stub-eu-model)" test "$(header x-tollgate-model)" = stub-eu-model

curl -s "$GW_BASE/metrics" >"$GW_DIR/metrics.txt"
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
n=$(audit_count)
check "one audit entry per request ($n entries, $sent requests)" test "$n" = "$sent"
ids_ok=1
for id in "${!expect[@]}"; do
  c=$(grep -c "\"decision_id\":\"$id\"" "$GW_AUDIT")
  [ "$c" = 1 ] || { ids_ok=0; echo "decision $id appears $c times"; }
done
check "each X-Tollgate-Decision-Id appears exactly once (${#expect[@]} ids)" test "$ids_ok" = 1 -a "${#expect[@]}" -ge 9

"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >"$GW_DIR/verify.out" 2>&1
check "audit verify passes after SIGTERM" test $? = 0

# Status recorded matches what the client got.
st=$(node -e 'const f=process.argv[1];const es=require("fs").readFileSync(f,"utf8").split("\n").filter(Boolean).map(JSON.parse).filter(e=>e.decision_id&&e.event!=="seal");
  const c={};for(const e of es){const k=e.status??e.http_status;c[k]=(c[k]||0)+1}console.log(JSON.stringify(c))' "$GW_AUDIT")
check "audit statuses: 6x200 2x403 1x401 1x400 ($st)" test "$st" = '{"200":6,"400":1,"401":1,"403":2}'

# Nothing sensitive in the log or in the server's output.
CAP=$GW_DIR/capture.jsonl
check "capture written" test -s "$CAP"
ncap=$(grep -c . "$CAP")
check "capture: one line per decided request ($ncap; 401 and 400 are not decided)" test "$ncap" -ge 7 -a "$ncap" -le "$sent"
check "capture: PII replaced by placeholders" grep -q '<EMAIL_ADDRESS_1>' "$CAP"
for f in "$GW_AUDIT" "$GW_DIR/serve.log" "$CAP" "$GW_DIR/metrics.txt"; do
  b=$(basename "$f")
  check "$b: no email" bash -c "! grep -q -e 'jane.roe' -e 'example.com' '$f'"
  check "$b: no card number" bash -c "! grep -q -e '4111 1111' -e '4111111111111111' '$f'"
  check "$b: no client or provider keys" bash -c "! grep -q -e '$ACME_KEY' -e 'sk-stub' -e 'sk-ant-stub' '$f'"
done
"$TOLLGATE" scan "$GW_AUDIT" >"$GW_DIR/scan.out" 2>&1
check "tollgate scan of the audit log finds no email" bash -c "! grep -q EMAIL_ADDRESS '$GW_DIR/scan.out'"

"$TOLLGATE" audit stats "$GW_AUDIT" --by decision --json >"$GW_DIR/stats.json" 2>&1
check "audit stats --by decision --json parses" node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).groups.length>0||process.exit(1)' "$GW_DIR/stats.json"

# Tampering: change one decision, then delete an entry; verify must fail.
cp "$GW_AUDIT" "$GW_DIR/t1.log"
line=$(grep -n '"decision":"deny"' "$GW_DIR/t1.log" | head -1 | cut -d: -f1)
if [ -n "$line" ]; then
  sed -i "${line}s/\"decision\":\"deny\"/\"decision\":\"allow\"/" "$GW_DIR/t1.log"
  "$TOLLGATE" audit verify "$GW_DIR/t1.log" --pubkey "$GW_PUB" >"$GW_DIR/v1.out" 2>&1; rc=$?
  check "tampered decision detected (rc $rc)" test "$rc" = 1
  check "tamper report names the entry" grep -q '^tampered: seq [0-9]*' "$GW_DIR/v1.out"
else
  fail "tampered decision detected" "no deny entry found in the log"
fi
cp "$GW_AUDIT" "$GW_DIR/t2.log"
sed -i '3d' "$GW_DIR/t2.log"
"$TOLLGATE" audit verify "$GW_DIR/t2.log" --pubkey "$GW_PUB" >/dev/null 2>&1
check "deleted entry detected" test $? = 1
