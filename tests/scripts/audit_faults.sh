#!/usr/bin/env bash
# audit_faults.sh — the audit log survives a full disk: under a file-size
# limit (EFBIG, as ENOSPC) the gateway is not killed (SIGXFSZ ignored),
# refuses requests with 503 and /readyz 503 while it cannot write, heals by
# itself once writing works again (a signed recovery entry, the chain
# whole), exits 0 after a drain, and the log verifies.  Echo providers only.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not installed"; exit 0; }
command -v prlimit >/dev/null 2>&1 || { echo "SKIP: prlimit not installed"; exit 0; }
[ -n "${TG_VALGRIND:-}" ] && { echo "SKIP: not under valgrind"; exit 0; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=tg-faults-0123456789
cat >"$tmp/p.yaml" <<YAML
orchestration:
  version: "2.1"
  providers:
    e: {adapter: echo, region: us, jurisdiction: US, pii_allowed: true}
  models:
    m: {provider: e, max_context: 100000, pricing: {input_per_m: 1.0, output_per_m: 2.0}}
  regions:
    all: [us]
  routing_rules:
    - category: chat
      primary: {provider: e, model: m}
      compliance: {data_residency: all, pii_allowed: true}
  tenants:
    - {id: t, api_key_sha256: "$(printf '%s' $key | sha256sum | cut -d' ' -f1)"}
  audit: {path: $tmp/audit.log, signing_key: $tmp/audit.key, fsync: always}
  server: {listen: "127.0.0.1:$port", threads: 1}
YAML
# A 48 KiB file-size limit, soft (raised later from outside, as space returning).
( ulimit -S -f 48; exec "$TOLLGATE" serve --config "$tmp/p.yaml" ) >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
req() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $key" \
          -H 'X-Task-Category: chat' -d '{"model":"auto","messages":[{"role":"user","content":"hello there, a request to fill the log"}]}' \
          "http://127.0.0.1:$port/v1/chat/completions"; }
codes=""
for i in $(seq 1 200); do c=$(req); codes="$codes $c"; [ "$c" = 503 ] && break; done
ok "requests_served_until_the_limit" '[[ "$codes" == *200* ]]'
ok "limit_hit_answers_503" '[[ "$codes" == *503 ]]'
ok "not_killed_by_SIGXFSZ" 'kill -0 $pid 2>/dev/null'
ok "readyz_503_while_degraded" '[ "$(curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$port/readyz)" = 503 ]'
ok "still_503_while_degraded" '[ "$(req)" = 503 ]'
size1=$(stat -c %s "$tmp/audit.log")
ok "log_ends_on_a_whole_line" '[ "$(tail -c 1 "$tmp/audit.log" | od -An -c | tr -d " ")" = "\n" ]'
# Space returns.
prlimit --pid "$pid" --fsize=unlimited:unlimited
healed=no
for _ in $(seq 1 60); do
  [ "$(curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$port/readyz)" = 200 ] && { healed=yes; break; }
  sleep 0.1
done
ok "heals_by_itself" '[ $healed = yes ]'
ok "serves_again" '[ "$(req)" = 200 ]'
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
ok "exit_0_after_drain" '[ $rc -eq 0 ]'
ok "recovery_entry_written" 'grep -q "\"event\":\"recovery\".*\"reason\":\"write_failed\".*\"error\":\"EFBIG\"" "$tmp/audit.log"'
"$TOLLGATE" audit verify "$tmp/audit.log" --pubkey "$tmp/audit.pub" >"$tmp/verify" 2>&1
ok "log_verifies" '[ $? -eq 0 ]'
ok "log_grew_after_recovery" '[ "$(stat -c %s "$tmp/audit.log")" -gt "$size1" ]'
