#!/usr/bin/env bash
# kill9.sh — crash safety of the audit log under load (issue 7, item 4).
#
#   KILLS=20 tests/crash/kill9.sh        (tests/scripts/crash_kill9.sh runs KILLS=5)
#
# A real `tollgate serve` takes mixed traffic from 16 connections
# (tests/soak/load.mjs); at a random moment it is killed with SIGKILL and
# restarted on the same port, KILLS times, alternating the config between
# fsync: always and fsync: batch.  Afterwards the log must verify (a torn
# tail becomes a recovery entry), and every acknowledged request — the
# client read the complete response carrying X-Tollgate-Decision-Id — must
# have exactly one entry.  Prints PASS/FAIL lines and a summary line
# "kill9: K kills, A acknowledged, E entries, R recovery entries".
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
KILLS=${KILLS:-20}
LOAD_PID=
kill9_cleanup() {
  [ -n "$LOAD_PID" ] && kill -TERM "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
  LOAD_PID=
  gw_cleanup
}
trap kill9_cleanup EXIT
gw_start e2e.yaml || exit 0

serve_again() { # restart on the same port; up to ~10 s for the socket to be free
  local try
  for try in 1 2 3 4 5; do
    "$TOLLGATE" serve --config "$GW_CONFIG" --listen "127.0.0.1:$GW_PORT" >>"$GW_DIR/serve.log" 2>&1 &
    GW_PID=$!
    gw_wait_http "$GW_BASE/healthz" 40 && return 0
    kill -KILL "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; GW_PID=
  done
  return 1
}

node "$TG_ROOT/tests/soak/load.mjs" --base "$GW_BASE" --stub "$STUB_URL" --seconds 3600 --conns 16 \
  --acks "$GW_DIR/acks" --until-file "$GW_DIR/stop" --summary "$GW_DIR/load.json" &
LOAD_PID=$!

restarted=0 torn=0
for ((k = 1; k <= KILLS; k++)); do
  # 150..1350 ms of traffic, then pull the plug
  sleep "$(printf '0.%03d' $((150 + RANDOM % 850)))"
  [ $((RANDOM % 4)) = 0 ] && sleep 0.5
  kill -KILL "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; GW_PID=
  # Every 3rd kill, emulate the kill landing inside write(): half a line on
  # disk.  The restarted gateway must keep it and add a recovery entry.
  if [ $((k % 3)) = 0 ] && [ "$(tail -c 1 "$GW_AUDIT" | od -An -c | tr -d ' ')" = '\n' ]; then
    tail -n 1 "$GW_AUDIT" | head -c 120 >>"$GW_AUDIT"; torn=$((torn + 1))
  fi
  if [ $((k % 2)) = 1 ]; then mode=always; else mode=batch; fi
  sed -i "s/^\(    fsync: \).*/\1$mode/" "$GW_CONFIG"
  if serve_again; then
    restarted=$((restarted + 1))
  else
    fail "kill $k: restart after kill -9" "$(tail -c 300 "$GW_DIR/serve.log" | tr '\n' ' ')"
    break
  fi
done
check "gateway restarted after each of $KILLS kill -9 ($restarted)" test "$restarted" = "$KILLS"
sleep 0.5
touch "$GW_DIR/stop"
wait "$LOAD_PID" 2>/dev/null; LOAD_PID=
gw_stop
check "final SIGTERM drain exits 0 (rc $GW_RC)" test "$GW_RC" = 0

"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >"$GW_DIR/verify.out" 2>&1; rc=$?
check "audit log verifies after $KILLS kills (rc $rc: $(tail -1 "$GW_DIR/verify.out"))" test "$rc" = 0
[ "$rc" = 0 ] || head -5 "$GW_DIR/verify.out"

read -r acked entries recov missing dup < <(node -e '
  const fs = require("fs");
  const [logf, ackf] = process.argv.slice(1);
  const seen = new Map(); let entries = 0, recov = 0;
  for (const l of fs.readFileSync(logf, "utf8").split("\n")) {
    if (!l) continue;
    let e; try { e = JSON.parse(l); } catch { continue; }   // a torn line kept in place
    if (e.event === "recovery") recov++;
    if (!e.decision_id || e.event === "seal") continue;
    entries++; seen.set(e.decision_id, (seen.get(e.decision_id) || 0) + 1);
  }
  const acks = fs.existsSync(ackf) ? fs.readFileSync(ackf, "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")[0]) : [];
  let missing = 0, dup = 0;
  for (const id of acks) { const c = seen.get(id) || 0; if (c === 0) missing++; else if (c > 1) dup++; }
  console.log(acks.length, entries, recov, missing, dup);' "$GW_AUDIT" "$GW_DIR/acks")
check "load generator saw acknowledged requests ($acked)" test "${acked:-0}" -gt $((KILLS * 10))
check "no acknowledged request is missing its audit entry ($missing of $acked missing)" test "${missing:-1}" = 0
check "no acknowledged request has two entries ($dup)" test "${dup:-1}" = 0
check "each torn tail became a recovery entry ($recov recovery entries, $torn torn)" test "${recov:-0}" -ge "$torn"
check "entries >= acknowledged ($entries >= $acked)" test "${entries:-0}" -ge "${acked:-1}"
echo "kill9: $KILLS kills, $acked acknowledged, $entries entries, $recov recovery entries; load: $(cat "$GW_DIR/load.json" 2>/dev/null | head -c 400)"
check "no sanitizer report in the server log" bash -c "! grep -q -e 'AddressSanitizer' -e 'runtime error' '$GW_DIR/serve.log'"
