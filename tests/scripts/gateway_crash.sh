#!/usr/bin/env bash
# Crash safety (issue 7, a short version of the soak): kill -9 the gateway
# while requests are flowing, restart it on the same audit log, repeat; then
# the log verifies and every request whose answer the client received
# (fsync: batch answers only once the entry is durable) has its entry.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
gw_start e2e.yaml || exit 0
CYCLES=${GW_CRASH_CYCLES:-5}

acked=$GW_DIR/acked
: >"$acked"
load() { # until the server dies: POST, and record the decision id of each complete 200
  local i=0 h b
  h=$(mktemp "$GW_DIR/h.XXXXXX") b=$(mktemp "$GW_DIR/b.XXXXXX")
  while [ $i -lt 2000 ]; do
    i=$((i + 1))
    code=$(curl -s -D "$h" -o "$b" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $ACME_KEY" \
      -H 'X-Task-Category: chat' -H 'Content-Type: application/json' \
      -d "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"crash test $i\"}]}" \
      "$GW_BASE/v1/chat/completions") || break
    if [ "$code" = 200 ] && grep -q '"echo: crash test' "$b"; then
      grep -i '^x-tollgate-decision-id:' "$h" | cut -d' ' -f2 | tr -d '\r' >>"$acked"
    fi
  done
}

for ((c = 1; c <= CYCLES; c++)); do
  load & lp=$!
  sleep "0.$((RANDOM % 5 + 3))"
  kill -KILL "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; GW_PID=
  wait "$lp" 2>/dev/null
  gw_serve || break
  check "cycle $c: restarted after kill -9 and ready" test "$(curl -s -o /dev/null -w '%{http_code}' "$GW_BASE/readyz")" = 200
done
out=$(chat_req -d '{"model":"auto","messages":[{"role":"user","content":"after the crashes"}]}')
check "serves after $CYCLES crashes" test "$(status)" = 200
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0

n=$(wc -l <"$acked")
check "requests were acknowledged during the run ($n)" test "$n" -gt 10
missing=$(node -e '
  const fs = require("fs");
  const ids = new Set();
  for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
    if (!l.trim()) continue;
    try { const e = JSON.parse(l); if (e.decision_id) ids.add(e.decision_id); } catch { /* torn line */ }
  }
  const acked = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean);
  console.log(acked.filter((id) => !ids.has(id)).length);' "$GW_AUDIT" "$acked")
check "every acknowledged request has its audit entry ($missing missing of $n)" test "$missing" = 0
"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >"$GW_DIR/verify.out" 2>&1; rc=$?
check "audit verify passes after $CYCLES kill -9 (rc $rc: $(head -c 200 "$GW_DIR/verify.out" | tr '\n' ' '))" test "$rc" = 0
