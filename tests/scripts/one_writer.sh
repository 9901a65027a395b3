#!/usr/bin/env bash
# one_writer.sh — one gateway per address, one writer per audit log and per
# capture file: a second `tollgate serve` on the same port, or on another
# port with the same audit log or capture file, refuses to start with one
# clear line, and the first keeps serving; once it stops, the log is free.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not installed"; exit 0; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(freeport); p2=$(freeport); p3=$(freeport)
conf() { # NAME PORT AUDIT CAPTURE
  cat >"$tmp/$1.yaml" <<YAML
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
    - {id: t, api_key_sha256: "$(printf %s tg-one-writer-key | sha256sum | cut -d' ' -f1)"}
  audit: {path: $tmp/$3, signing_key: $tmp/audit.key}
  capture: {path: $tmp/$4}
  server: {listen: "127.0.0.1:$2", threads: 2}
YAML
}
conf a "$p1" a.log a.jsonl
conf same_port "$p1" b.log b.jsonl
conf same_log "$p2" a.log c.jsonl
conf same_capture "$p3" d.log a.jsonl
"$TOLLGATE" serve --config "$tmp/a.yaml" >"$tmp/a.out" 2>"$tmp/a.err" &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p1/healthz" && break; sleep 0.05; done
second() { timeout 10 "$TOLLGATE" serve --config "$tmp/$1.yaml" >"$tmp/$1.out" 2>"$tmp/$1.err"; echo $?; }
rc=$(second same_port)
ok "same_port_refused (exit $rc)" '[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "another tollgate already serves 127.0.0.1:$p1" "$tmp/same_port.err"'
ok "same_port_error_is_one_line" '[ "$(wc -l <"$tmp/same_port.err")" -eq 1 ]'
rc=$(second same_log)
ok "same_audit_log_refused (exit $rc)" '[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "in use by another tollgate (pid $pid)" "$tmp/same_log.err"'
rc=$(second same_capture)
ok "same_capture_refused (exit $rc)" '[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "in use by another tollgate" "$tmp/same_capture.err"'
ok "refused_before_writing_the_log" '[ ! -e "$tmp/d.log" ] || [ ! -s "$tmp/d.log" ]'
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'X-Task-Category: chat' -H 'Authorization: Bearer tg-one-writer-key' \
  -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$p1/v1/chat/completions")
ok "first_keeps_serving ($code)" '[ "$code" = 200 ]'
kill -TERM "$pid"; wait "$pid"; pid=
"$TOLLGATE" serve --config "$tmp/same_log.yaml" >"$tmp/again.out" 2>"$tmp/again.err" &
pid=$!
up=no
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p2/healthz" && { up=yes; break; }; sleep 0.05; done
ok "log_free_after_the_first_stops" '[ $up = yes ]'
"$TOLLGATE" audit verify "$tmp/a.log" --pubkey "$tmp/audit.pub" >/dev/null 2>&1
ok "log_verifies" '[ $? -eq 0 ]'
