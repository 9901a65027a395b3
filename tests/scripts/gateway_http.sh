#!/usr/bin/env bash
# Gateway over real HTTP with curl: routes, status codes and error bodies of
# docs/interface.md §5, streaming, and hostile clients (oversized and malformed
# bodies, oversized headers, slowloris, a spoofed tenant header).  The
# providers are the stub upstream (tests/support/stub-upstream.mjs).
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
gw_start e2e.yaml HEADER_TIMEOUT_MS=1000 MAX_BODY=65536 || exit 0

is_openai_error() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));
  process.exit(j && j.error && typeof j.error.message==="string" && "type" in j.error && "code" in j.error ? 0 : 1)' <"$GW_DIR/body"; }
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$GW_BASE/healthz")" = 200 ]; }

# --- probes and metrics -----------------------------------------------------
check "healthz 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$GW_BASE/healthz")" = 200
check "readyz 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$GW_BASE/readyz")" = 200
m=$(curl -s "$GW_BASE/metrics")
check "metrics: Prometheus text" grep -q '^# TYPE ' <<<"$m"

# --- a normal request ---------------------------------------------------------
out=$(chat_req -d '{"model":"auto","messages":[{"role":"user","content":"ping over curl"}]}')
check "allow: 200" test "$(status)" = 200
check "allow: reply relayed from the stub" grep -q '"echo: ping over curl"' <<<"$out"
check "allow: X-Tollgate-Model" test "$(header x-tollgate-model)" = stub-gpt
check "allow: X-Tollgate-Decision-Id" test -n "$(header x-tollgate-decision-id)"
check "allow: JSON content type" grep -qi 'application/json' <<<"$(header content-type)"

out=$(chat_req -N -d '{"model":"auto","stream":true,"messages":[{"role":"user","content":"stream over curl"}]}')
check "stream: 200 text/event-stream" grep -qi 'text/event-stream' <<<"$(header content-type)"
check "stream: ends with data: [DONE]" test "$(grep -v '^\s*$' <<<"$out" | tail -1 | tr -d '\r')" = 'data: [DONE]'
check "stream: chunks are chat.completion.chunk" grep -q '"chat.completion.chunk"' <<<"$out"

# --- errors, docs/interface.md §5 ------------------------------------------------------
CHAT_KEY=nope chat_req -d '{"model":"auto","messages":[{"role":"user","content":"x"}]}' >/dev/null
check "401 unknown key" test "$(status)" = 401
check "401 has the OpenAI error body" is_openai_error
check "401 has X-Tollgate-Decision-Id" test -n "$(header x-tollgate-decision-id)"
curl -s -o "$GW_DIR/body" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"model":"auto","messages":[{"role":"user","content":"x"}]}' "$GW_BASE/v1/chat/completions" >"$GW_DIR/status"
check "401 without Authorization" test "$(status)" = 401

chat_req -d "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"write to $PII_EMAIL\"}]}" >/dev/null
check "403 PII denied" test "$(status)" = 403
check "403 code policy_denied" grep -q '"policy_denied"' "$GW_DIR/body"
check "403 never echoes the PII" bash -c "! grep -q 'jane.roe' '$GW_DIR/body'"
check "403 body is an OpenAI error" is_openai_error

for bad in '{"model":"auto","messages":[' 'not json at all' '{"model":"auto","messages":"x"}' '{"model":"auto"}' '[1,2,3]' '""'; do
  chat_req -d "$bad" >/dev/null
  check "400 malformed: $bad" test "$(status)" = 400
done
check "400 body is an OpenAI error" is_openai_error

head -c 100000 /dev/zero | tr '\0' 'a' | sed 's/^/{"model":"auto","messages":[{"role":"user","content":"/; s/$/"}]}/' >"$GW_DIR/big.json"
chat_req --data-binary @"$GW_DIR/big.json" >/dev/null
check "413 body over max_body_bytes" test "$(status)" = 413

curl -s -D "$GW_DIR/h" -o "$GW_DIR/body" -w '%{http_code}' "$GW_BASE/v2/nothing" >"$GW_DIR/status"
check "404 unknown route" test "$(status)" = 404
check "404 has the OpenAI error body" is_openai_error
check "404 has X-Tollgate-Decision-Id" test -n "$(header x-tollgate-decision-id)"
code=$(curl -s -D "$GW_DIR/h" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ACME_KEY" "$GW_BASE/v1/chat/completions")
check "GET on the POST route -> 405 (got $code)" test "$code" = 405
check "405 names the allowed method" grep -qi '^allow: *POST' "$GW_DIR/h"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ACME_KEY" -H "Authorization: Bearer $ACME_KEY" \
  -H 'X-Task-Category: chat' -d '{"model":"auto","messages":[{"role":"user","content":"x"}]}' "$GW_BASE/v1/chat/completions")
check "Authorization given twice -> 401 (got $code)" test "$code" = 401

# --- PII anywhere in the request is found (not only the last user message) ----
curl -s -X DELETE "$STUB_URL/__requests" >/dev/null
pii_case() { # NAME BODY
  chat_req -d "$2" >/dev/null
  check "PII in $1 -> 403 (got $(status))" test "$(status)" = 403
}
pii_case "the system message" "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"reply to $PII_EMAIL\"},{\"role\":\"user\",\"content\":\"hi\"}]}"
pii_case "an earlier message" "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"I am $PII_EMAIL\"},{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\",\"content\":\"and?\"}]}"
pii_case "content parts" "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"},{\"type\":\"text\",\"text\":\"mail $PII_EMAIL\"}]}]}"
pii_case "tool-call arguments" "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"send it\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"send\",\"arguments\":\"{\\\"to\\\":\\\"$PII_EMAIL\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sent\"}]}"
pii_case "a tool result" "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"look up\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"owner: $PII_EMAIL\"}]}"
check "no PII request reached any provider" test "$(curl -s "$STUB_URL/__requests" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).length)')" = 0

# --- routing without a category -------------------------------------------------
curl -s -o "$GW_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $ACME_KEY" -H 'Content-Type: application/json' \
  -d '{"model":"auto","messages":[{"role":"user","content":"no category"}]}' "$GW_BASE/v1/chat/completions" >"$GW_DIR/status"
check "no category -> 403 no route (got $(status))" test "$(status)" = 403
CHAT_CATEGORY=no_such_category chat_req -d '{"model":"auto","messages":[{"role":"user","content":"x"}]}' >/dev/null
check "unknown category -> 403 (got $(status))" test "$(status)" = 403

# --- hostile clients ----------------------------------------------------------
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$GW_DIR/10m.bin"
t0=$(date +%s%N)
chat_req --data-binary @"$GW_DIR/10m.bin" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
c=$(status); check "10 MiB body -> 413 (got $c in ${ms} ms)" test "$c" = 413
check "healthy after a 10 MiB body" healthy
nest=$(printf '%*s' 5000 '' | tr ' ' '[')
chat_req -d "{\"model\":\"auto\",\"messages\":$nest" >/dev/null
check "deeply nested JSON -> 400" test "$(status)" = 400
printf '{"model":"auto","messages":[{"role":"user","content":"bad \xff\xfe utf8"}]}' >"$GW_DIR/badutf8.json"
chat_req --data-binary @"$GW_DIR/badutf8.json" >/dev/null
c=$(status); check "invalid UTF-8 -> clear answer, not 5xx (got $c)" test "$c" -ge 200 -a "$c" -lt 500
chat_req -d '{"model":"auto","messages":[{"role":"user","content":"nul \u0000 inside"}]}' >/dev/null
c=$(status); check "escaped NUL in content -> not 5xx (got $c)" test "$c" -ge 200 -a "$c" -lt 500

big=$(head -c 70000 /dev/zero | tr '\0' 'h')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Junk: $big" "$GW_BASE/healthz")
check "oversized header refused (got $code)" test "$code" = 431 -o "$code" = 400 -o "$code" = 413 -o "$code" = 000
check "healthy after oversized header" healthy

# Slowloris: half a request line, then silence; the server must hang up after
# header_timeout_ms (1 s here), not hold the connection.
t0=$(date +%s%N)
( exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT" || exit 2
  printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' >&3
  timeout 6 cat <&3 >/dev/null ) 2>/dev/null
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "slowloris: connection closed by header timeout (${ms} ms, rc $rc)" test "$rc" -ne 124 -a "$ms" -lt 5000
check "healthy after slowloris" healthy

# A client naming another tenant: identity comes from the key alone.
chat_req -H 'X-Tenant-Id: globex' -d '{"model":"auto","messages":[{"role":"user","content":"who am i"}]}' >/dev/null
id=$(header x-tollgate-decision-id)
check "spoofed X-Tenant-Id: still served as the key's tenant" test "$(status)" = 200
sleep 0.3
tenant=$(node -e 'const [f,id]=process.argv.slice(1);
  const e=require("fs").readFileSync(f,"utf8").split("\n").filter(Boolean).map(JSON.parse).find(x=>x.decision_id===id);
  console.log(e ? e.tenant : "none")' "$GW_AUDIT" "$id")
check "spoofed X-Tenant-Id: audit names acme (got $tenant)" test "$tenant" = acme

# Provider never saw client credentials or tollgate's routing headers.
curl -s "$STUB_URL/__requests" >"$GW_DIR/reqs.json"
check "stub log readable" test -s "$GW_DIR/reqs.json"
check "upstream never receives the client's key" bash -c "! grep -q '$ACME_KEY' '$GW_DIR/reqs.json'"
check "upstream never receives X-Tenant-Id" bash -c "! grep -qi 'x-tenant-id' '$GW_DIR/reqs.json'"

gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
check "serve log holds no PII and no keys" bash -c "! grep -q -e 'jane.roe' -e '$ACME_KEY' -e 'sk-stub' '$GW_DIR/serve.log'"
