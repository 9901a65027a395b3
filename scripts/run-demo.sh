#!/usr/bin/env bash
# run-demo.sh — `make run`: serve rules/examples/demo.yaml in the foreground
# and, once it is ready, print the demo keys and a request to paste.
# LISTEN=HOST:PORT overrides the demo's address.
set -euo pipefail
cd "$(dirname "$0")/.."
listen=${LISTEN:-127.0.0.1:8080}
./tollgate serve --config rules/examples/demo.yaml --listen "$listen" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
for _ in $(seq 1 200); do
  if curl -s -o /dev/null --max-time 1 "http://$listen/readyz"; then
    cat <<MSG

tollgate is serving rules/examples/demo.yaml on http://$listen (Ctrl-C stops it).
Demo tenants (bearer keys):  demo-key-acme (acme-bank: no personal data)
                             demo-key-globex (globex)   demo-key-initech (initech)
Try:
  curl -s http://$listen/v1/chat/completions -H 'Authorization: Bearer demo-key-globex' \\
    -H 'X-Task-Category: code_generation' \\
    -d '{"model":"auto","messages":[{"role":"user","content":"Write a binary search in C"}]}'
  curl -s http://$listen/v1/chat/completions -H 'Authorization: Bearer demo-key-acme' \\
    -H 'X-Task-Category: code_generation' \\
    -d '{"messages":[{"role":"user","content":"Card 4111 1111 1111 1111, fix my parser"}]}'
Audit log: var/audit.log (./tollgate audit verify var/audit.log --pubkey var/audit.pub)

MSG
    break
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
wait $pid
