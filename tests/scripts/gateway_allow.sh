#!/usr/bin/env bash
# Allow lists through the real gateway (docs/allow-lists.md): serve takes the
# same tg_preflight_decide() path as explain, so on a rule with
# pii_allowed: false an agent's own no-reply address is served while a real
# personal address in the same run is denied; the audit entries count the
# allowed finding ("allowed": entity and count) and never hold the value.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
gw_start e2e.yaml || exit 0

AGENT='Co-Authored-By: Claude <noreply@anthropic.com>'
body() { # SYSTEM USER
  printf '{"model":"auto","messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"}]}' "$1" "$2"
}
chat_req -d "$(body "When you commit, add $AGENT." "fix the build")" >/dev/null
check "agent prompt with its no-reply address is served (rule chat, pii_allowed: false)" test "$(status)" = 200
id_ok=$(header x-tollgate-decision-id)
chat_req -d "$(body "When you commit, add $AGENT." "mail the log to $PII_EMAIL")" >/dev/null
check "the same prompt with a personal address is denied" test "$(status)" = 403
id_deny=$(header x-tollgate-decision-id)
chat_req -d "$(body "Bounces go to postmaster@example.org." "hello")" >/dev/null
check "a role mailbox is served" test "$(status)" = 200

# Claude Code's own recorded request (tests/e2e/fixtures, when present), unmodified, on the
# Messages door with its own X-Task-Category header, through a rule with pii_allowed: false
# (chat); then the same request with a personal address in the user's turn.
FX=$TG_ROOT/tests/e2e/fixtures/claude-code-hello-1.json
msg_req() { # BODY_FILE -> status
  curl -s -o "$GW_DIR/mbody" -w '%{http_code}' --max-time 20 -H "x-api-key: $ACME_KEY" \
    -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -H 'X-Task-Category: chat' \
    --data-binary @"$1" "$GW_BASE/v1/messages?beta=true"
}
cc_ok= cc_deny=
if [ -f "$FX" ]; then
  node -e 'const fs=require("fs");const b=JSON.parse(fs.readFileSync(process.argv[1],"utf8")).body;
    fs.writeFileSync(process.argv[2],JSON.stringify(b));const m=b.messages[b.messages.length-1];
    if(typeof m.content==="string")m.content+=" Also mail it to "+process.argv[4];
    else m.content.push({type:"text",text:"Also mail it to "+process.argv[4]});
    fs.writeFileSync(process.argv[3],JSON.stringify(b))' "$FX" "$GW_DIR/cc.json" "$GW_DIR/cc-pii.json" "$PII_EMAIL"
  st=$(msg_req "$GW_DIR/cc.json")
  if [ "$st" = 404 ]; then
    echo "SKIP: no /v1/messages door in this build"
  else
    check "Claude Code's unmodified request is served on /v1/messages ($st)" test "$st" = 200
    cc_ok=1
    st=$(msg_req "$GW_DIR/cc-pii.json")
    check "the same with a personal address in the user's turn is denied ($st)" test "$st" = 403
    cc_deny=1
  fi
else
  echo "SKIP: no tests/e2e/fixtures/claude-code-hello-1.json"
fi
gw_stop

entry() { grep "\"decision_id\":\"$1\"" "$GW_AUDIT" | head -1; }
allowed() { # DECISION_ID -> the entry's "allowed" and "pii" arrays as JSON
  entry "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const e=JSON.parse(s);
    console.log(JSON.stringify({allowed:e.allowed,pii:(e.pii||[]).map(p=>[p.entity,p.count])}))})'
}
check "audit: served entry counts the allowed address ($(allowed "$id_ok"))" \
  test "$(allowed "$id_ok")" = '{"allowed":[{"entity":"EMAIL_ADDRESS","count":1}],"pii":[]}'
check "audit: denied entry counts one finding and one allowed ($(allowed "$id_deny"))" \
  test "$(allowed "$id_deny")" = '{"allowed":[{"entity":"EMAIL_ADDRESS","count":1}],"pii":[["EMAIL_ADDRESS",1]]}'
if [ -n "$cc_ok" ]; then
  n=$(grep -c '"allowed":\[{"entity":"EMAIL_ADDRESS","count":1}\]' "$GW_AUDIT")
  check "audit: the Claude Code entries count its no-reply address as allowed ($n entries)" test "$n" -ge 4
fi
"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >/dev/null 2>&1
check "audit verify passes" test $? = 0
for v in noreply@anthropic.com postmaster@example.org "$PII_EMAIL"; do
  check "audit log does not hold $v" sh -c "! grep -qF '$v' '$GW_AUDIT'"
done
