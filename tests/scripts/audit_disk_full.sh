#!/usr/bin/env bash
# audit_disk_full.sh — a real full disk (ENOSPC on a small tmpfs): the
# gateway answers 503 and /readyz 503 while the audit log cannot be
# written, heals by itself once space returns (a signed recovery entry
# naming ENOSPC, the chain whole), exits 0 after a drain, and the log
# verifies.  Needs permission to mount a tmpfs (root, as CI runs); skipped
# otherwise — tests/scripts/audit_faults.sh covers the same path through a
# file-size limit without privileges.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); pid=; mnt=$tmp/disk
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; wait 2>/dev/null; umount "$mnt" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
[ -n "${TG_VALGRIND:-}" ] && { echo "SKIP: not under valgrind"; exit 0; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not installed"; exit 0; }
mkdir -p "$mnt"
mount -t tmpfs -o size=192k tmpfs "$mnt" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 0; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=tg-diskfull-0123456789
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
  audit: {path: $mnt/audit.log, signing_key: $tmp/audit.key, fsync: always}
  server: {listen: "127.0.0.1:$port", threads: 1}
YAML
"$TOLLGATE" serve --config "$tmp/p.yaml" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
# Leave ~24 KiB free, then fill the rest with requests.
dd if=/dev/zero of="$mnt/filler" bs=1k count=160 2>/dev/null
req() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $key" \
          -H 'X-Task-Category: chat' -d '{"model":"auto","messages":[{"role":"user","content":"hello there, a request to fill the disk"}]}' \
          "http://127.0.0.1:$port/v1/chat/completions"; }
codes=""
for i in $(seq 1 400); do c=$(req); codes="$codes $c"; [ "$c" = 503 ] && break; done
ok "disk_full_answers_503" '[[ "$codes" == *503 ]]'
ok "readyz_503_while_full" '[ "$(curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$port/readyz)" = 503 ]'
ok "log_ends_on_a_whole_line" '[ "$(tail -c 1 "$mnt/audit.log" | od -An -c | tr -d " ")" = "\n" ]'
rm -f "$mnt/filler"   # space returns
healed=no
for _ in $(seq 1 60); do
  [ "$(curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$port/readyz)" = 200 ] && { healed=yes; break; }
  sleep 0.1
done
ok "heals_by_itself" '[ $healed = yes ]'
ok "serves_again" '[ "$(req)" = 200 ]'
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
ok "exit_0_after_drain" '[ $rc -eq 0 ]'
ok "recovery_entry_names_ENOSPC" 'grep -q "\"event\":\"recovery\".*\"error\":\"ENOSPC\"" "$mnt/audit.log"'
"$TOLLGATE" audit verify "$mnt/audit.log" --pubkey "$tmp/audit.pub" >"$tmp/verify" 2>&1
ok "log_verifies" '[ $? -eq 0 ]'
