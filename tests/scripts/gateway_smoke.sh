#!/usr/bin/env bash
# Smoke test of `make run`'s demo: tollgate serve on rules/examples/demo.yaml
# (echo providers, nothing leaves the machine), driven with curl on
# loopback.  Checks the demo keys documented in docs/gateway.md, the deny
# path, streaming, the tenant rate limit, reload (valid and invalid) and a
# clean drain whose audit log verifies.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TOLLGATE=${TOLLGATE:-$TG_ROOT/build/tollgate}
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 0; }

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ — $2}"; }
check() { local n=$1; shift; if "$@" >/dev/null 2>&1; then pass "$n"; else fail "$n"; fi; }

dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
cp "$TG_ROOT/rules/examples/demo.yaml" "$dir/demo.yaml"

# The demo's audit path is var/audit.log relative to the working directory.
(cd "$dir" && exec "$TOLLGATE" serve --config "$dir/demo.yaml" --listen "127.0.0.1:$port" --threads 2) \
  >"$dir/serve.out" 2>"$dir/serve.err" &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "$base/healthz" && break; sleep 0.05; done
check "healthz" test "$(curl -s "$base/healthz")" = ok
check "readyz" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200

chat() { # KEY CATEGORY BODY [curl args] -> body on stdout, headers in $dir/h, status in $dir/st
  local key=$1 cat=$2 body=$3; shift 3
  curl -s -D "$dir/h" -o "$dir/b" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $key" \
    -H "X-Task-Category: $cat" -H 'Content-Type: application/json' -d "$body" "$@" \
    "$base/v1/chat/completions" >"$dir/st"
  cat "$dir/b"
}
hdr() { grep -i "^$1:" "$dir/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

out=$(chat demo-key-globex enterprise_qa '{"model":"gpt-4o","messages":[{"role":"user","content":"Hello smoke"}]}')
check "globex enterprise_qa: 200" test "$(cat "$dir/st")" = 200
check "echo answer labelled" grep -q '"content":"\[echo\] Hello smoke"' <<<"$out"
check "served by gpt-4o (X-Tollgate-Model)" test "$(hdr x-tollgate-model)" = gpt-4o
check "usage reported" grep -q '"total_tokens"' <<<"$out"
id1=$(hdr x-tollgate-decision-id)
check "decision id is 32 hex" grep -Eq '^[0-9a-f]{32}$' <<<"$id1"

out=$(chat demo-key-acme enterprise_qa '{"messages":[{"role":"user","content":"mail jane.roe@example.com the report"}]}')
check "acme + personal data: 403" test "$(cat "$dir/st")" = 403
check "403 code policy_denied" grep -q '"code":"policy_denied"' <<<"$out"
check "403 names the rule pii.tenant" grep -q 'pii.tenant' <<<"$out"
check "403 never echoes the e-mail" bash -c "! grep -q 'jane.roe' '$dir/b'"

out=$(chat demo-key-globex code_generation '{"stream":true,"messages":[{"role":"user","content":"write fizzbuzz"}]}' -N)
check "stream: 200 text/event-stream" grep -qi 'text/event-stream' <<<"$(hdr content-type)"
check "stream: chunks and [DONE]" bash -c "grep -q 'chat.completion.chunk' '$dir/b' && test \"\$(grep -v '^\s*\$' '$dir/b' | tail -1)\" = 'data: [DONE]'"

out=$(chat demo-key-initech enterprise_qa '{"messages":[{"role":"user","content":"hi"}]}')
check "initech outside its categories: 403 tenant.category" bash -c "test \"\$(cat '$dir/st')\" = 403 && grep -q tenant.category '$dir/b'"
out=$(chat nope code_generation '{"messages":[{"role":"user","content":"hi"}]}')
check "unknown key: 401" test "$(cat "$dir/st")" = 401

models=$(curl -s -H 'Authorization: Bearer demo-key-initech' "$base/v1/models")
check "initech sees only code_generation models" bash -c "grep -q deepseek-v4-flash <<<'$models' && ! grep -q gpt-4o <<<'$models'"

codes=""
for _ in $(seq 1 32); do
  chat demo-key-initech code_generation '{"messages":[{"role":"user","content":"x"}]}' >/dev/null
  codes="$codes $(cat "$dir/st")"
done
check "initech: 30 a minute, then 429" bash -c "test \$(tr ' ' '\n' <<<'$codes' | grep -c 429) -ge 2 && test \$(tr ' ' '\n' <<<'$codes' | grep -c 200) -ge 28"

m=$(curl -s "$base/metrics")
check "metrics: requests by code" grep -q '^tollgate_requests_total{code="403"}' <<<"$m"
check "metrics: decisions" grep -q '^tollgate_decisions_total{decision="deny"}' <<<"$m"
check "metrics: upstream attempts" grep -q '^tollgate_upstream_attempts_total{model="gpt-4o",outcome="ok"}' <<<"$m"

# Reload: an invalid edit is rejected and the old policy keeps serving ...
cp "$dir/demo.yaml" "$dir/demo.good"
printf 'orchestration:\n  version: [broken\n' >"$dir/demo.yaml"
kill -HUP "$pid"; sleep 0.3
chat demo-key-globex enterprise_qa '{"messages":[{"role":"user","content":"still here"}]}' >/dev/null
check "invalid reload rejected, old policy serves" test "$(cat "$dir/st")" = 200
check "rejection logged on stderr" grep -q 'reload.*rejected' "$dir/serve.err"
# ... and a valid one takes effect (initech may now use enterprise_qa).
sed 's/      categories: \[code_generation\]/      categories: [code_generation, enterprise_qa]/' "$dir/demo.good" >"$dir/demo.yaml"
kill -HUP "$pid"; sleep 0.3
chat demo-key-globex enterprise_qa '{"messages":[{"role":"user","content":"x"}]}' >/dev/null
v2=$(hdr x-tollgate-policy-version)
check "valid reload applied (new policy_version)" bash -c "grep -q 'policy reloaded' '$dir/serve.err' && test -n '$v2'"

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "SIGTERM drains, exit 0 (rc $rc)" test "$rc" = 0
check "audit log verifies" "$TOLLGATE" audit verify "$dir/var/audit.log" --pubkey "$dir/var/audit.pub"
check "first request's id is in the log" grep -q "\"decision_id\":\"$id1\"" "$dir/var/audit.log"
check "no e-mail in the audit log" bash -c "! grep -q 'jane.roe' '$dir/var/audit.log'"
check "no demo key in logs" bash -c "! grep -q 'demo-key-' '$dir/var/audit.log' '$dir/serve.err'"
exit 0
