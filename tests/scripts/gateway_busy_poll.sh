#!/usr/bin/env bash
# server.busy_poll_us: with busy polling on, requests are answered as usual
# (plain and streamed, through both upstream clients), and the spin is
# bounded: an idle gateway goes back to sleep and burns (almost) no CPU.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
[ -r /proc/self/stat ] || { echo "SKIP: no /proc"; exit 0; }
gw_start e2e.yaml BUSY_POLL_US=10000 || exit 0

msg() { printf '{"model":"auto","messages":[{"role":"user","content":"%s"}]%s}' "$1" "${2:-}"; }
ok=0
for i in $(seq 1 20); do
  chat_req -d "$(msg "hello $i")" >/dev/null
  [ "$(status)" = 200 ] && ok=$((ok + 1))
done
check "20 requests answered 200 with busy polling ($ok)" test "$ok" = 20
chat_req -N -d "$(msg 'a streamed one' ',"stream":true')" >/dev/null
check "a stream answered 200" test "$(status)" = 200
check "the stream ended with [DONE]" grep -q 'data: \[DONE\]' "$GW_DIR/body"
CHAT_CATEGORY=dead_primary chat_req -d "$(msg 'via the fallback on libcurl')" >/dev/null
check "fallback through libcurl answered 200" test "$(status)" = 200

# CPU ticks (utime + stime) of the server over one idle second, after the
# spin window of the last request has long passed.
ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
sleep 0.5
t0=$(ticks); sleep 1; t1=$(ticks)
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
used=$(( t1 - t0 ))
check "idle with busy_poll_us: ${used} ticks of ${hz} in 1 s (< 10%)" test $(( used * 10 )) -lt "$hz"
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
