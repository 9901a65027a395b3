# tests/support/gateway.sh — sourced by tests/scripts/gateway_*.sh: start the
# stub upstream (tests/support/stub-upstream.mjs) and a real `tollgate serve`
# on free loopback ports, with a config rendered from tests/cases/gateway/,
# an audit log and a key pair in a temp dir; stop and clean up on exit.
#
#   gw_start TEMPLATE [NAME=VALUE]...   sets GW_DIR GW_BASE GW_PORT STUB_URL
#                                       GW_CONFIG GW_AUDIT GW_PUB GW_PID STUB_PID
#   gw_serve                            (re)start serve on the same config and log
#   gw_stop                             SIGTERM + wait; sets GW_RC (exit code)
#   pass NAME / fail NAME [WHY]          one result line each
#   check NAME CMD...                    PASS when CMD succeeds
#   chat_req [curl args...]              POST /v1/chat/completions as tenant acme
#                                       (CHAT_KEY, CHAT_CATEGORY override key and category:
#                                       a second -H would send the header twice)
# Requires node (for the stub); scripts print SKIP and exit 0 without it.

: "${TOLLGATE:=$TG_ROOT/tollgate}"
: "${TG_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
ACME_KEY=tg-test-acme-0123456789abcdef
GLOBEX_KEY=tg-test-globex-fedcba9876543210
INITECH_KEY=tg-test-initech-00aa11bb22cc33dd
PII_EMAIL=jane.roe@example.com
GW_PID= STUB_PID= GW_DIR= GW_RC=

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ — $2}"; }
check() { local n=$1; shift; if "$@" >/dev/null 2>&1; then pass "$n"; else fail "$n"; fi; }

gw_need_node() {
  if ! command -v node >/dev/null 2>&1; then echo "SKIP: node not installed (stub upstream)"; exit 0; fi
}

gw_cleanup() {
  [ -n "$GW_PID" ] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  [ -n "$STUB_PID" ] && kill -TERM "$STUB_PID" 2>/dev/null && wait "$STUB_PID" 2>/dev/null
  GW_PID= STUB_PID=
  [ -n "$GW_DIR" ] && rm -rf "$GW_DIR"
  GW_DIR=
}
trap gw_cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

sha256_hex() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }

# render TEMPLATE OUT NAME=VALUE... : fill {{NAME}} placeholders; fail on leftovers.
gw_render() {
  local tpl=$1 out=$2; shift 2
  cp "$TG_ROOT/tests/cases/gateway/$tpl" "$out" || return 1
  local kv k v
  for kv in "$@"; do
    k=${kv%%=*} v=${kv#*=}
    v=${v//\\/\\\\}; v=${v//|/\\|}; v=${v//&/\\&}
    sed -i "s|{{$k}}|$v|g" "$out"
  done
  if grep -q '{{[A-Z0-9_]*}}' "$out"; then
    echo "gw_render: unfilled placeholders: $(grep -o '{{[A-Z0-9_]*}}' "$out" | sort -u | tr '\n' ' ')" >&2
    return 1
  fi
}

gw_wait_http() { # URL TRIES(x50ms)
  local i
  for ((i = 0; i < $2; i++)); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.05
  done
  return 1
}

gw_start() {
  local tpl=$1; shift
  GW_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tg-gw-XXXXXX")
  node "$TG_ROOT/tests/support/stub-upstream.mjs" >"$GW_DIR/stub.out" 2>"$GW_DIR/stub.err" &
  STUB_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do [ -s "$GW_DIR/stub.out" ] && break; sleep 0.05; done
  STUB_URL="http://127.0.0.1:$(head -1 "$GW_DIR/stub.out")"
  "$TOLLGATE" keygen --out "$GW_DIR/audit" >"$GW_DIR/keyid" 2>"$GW_DIR/keygen.err" || {
    fail "gateway: keygen" "$(head -c 300 "$GW_DIR/keygen.err")"; return 1; }
  GW_CONFIG=$GW_DIR/config.yaml GW_AUDIT=$GW_DIR/audit.log GW_PUB=$GW_DIR/audit.pub
  # Overrides first: the first substitution of a placeholder wins.
  gw_render "$tpl" "$GW_CONFIG" "$@" TIMEOUT_MS=2000 DEADLINE_MS=6000 FAILURE_THRESHOLD=5 RECOVERY_MS=30000 \
    ON_VIOLATION=deny MAX_BODY=262144 HEADER_TIMEOUT_MS=5000 BUSY_POLL_US=0 MODE=enforce DEAD_URL=http://127.0.0.1:1/v1 \
    TELEMETRY_ENABLED=false PROGRESSIVE=false US_API_KEY=sk-stub-us-key TELEMETRY_URL="$STUB_URL/telemetry/v1/inference" \
    STUB="$STUB_URL" DIR="$GW_DIR" AUDIT_LOG="$GW_AUDIT" AUDIT_KEY="$GW_DIR/audit.key" \
    ACME_KEY_SHA="$(sha256_hex "$ACME_KEY")" GLOBEX_KEY_SHA="$(sha256_hex "$GLOBEX_KEY")" \
    INITECH_KEY_SHA="$(sha256_hex "$INITECH_KEY")" || return 1
  gw_serve
}

# gw_serve: (re)start `tollgate serve` on the rendered config, on a new free
# port, and wait until it answers /healthz.  Used by gw_start and after a crash.
gw_serve() {
  GW_PORT=$(free_port)
  GW_BASE="http://127.0.0.1:$GW_PORT"
  # `make valgrind` (TG_VALGRIND=1): memcheck the server; errors and definite
  # leaks make it exit 99, which the scripts' exit-status check reports.
  local pre=() tries=200
  if [ "${TG_VALGRIND:-}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    pre=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
         --suppressions="$TG_ROOT/tests/valgrind.supp")
    tries=1200
  fi
  "${pre[@]}" "$TOLLGATE" serve --config "$GW_CONFIG" --listen "127.0.0.1:$GW_PORT" >>"$GW_DIR/serve.log" 2>&1 &
  GW_PID=$!
  if ! gw_wait_http "$GW_BASE/healthz" "$tries"; then
    fail "gateway: serve started" "$(tail -c 400 "$GW_DIR/serve.log" | tr '\n' ' ')"
    return 1
  fi
}

gw_stop() {
  GW_RC=
  if [ -n "$GW_PID" ]; then
    kill -TERM "$GW_PID" 2>/dev/null
    local i
    for ((i = 0; i < 600; i++)); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$GW_PID" 2>/dev/null
    wait "$GW_PID" 2>/dev/null; GW_RC=$?
    GW_PID=
    # Sanitized (make asan) or memchecked builds report here.
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|^==[0-9]+== ' "$GW_DIR/serve.log"; then
      fail "serve: no sanitizer/memcheck reports" \
        "$(grep -E 'Sanitizer|runtime error:|^==[0-9]+== ' "$GW_DIR/serve.log" | head -3 | tr '\n' ' ')"
      grep -E -A40 'ERROR: |runtime error:|^==[0-9]+== [A-Z]' "$GW_DIR/serve.log" | head -80
    else
      pass "serve: no sanitizer/memcheck reports"
    fi
  fi
}

# chat_req [curl args...]: prints the body to stdout, headers to $GW_DIR/h, the status to $GW_DIR/status.
chat_req() {
  curl -s -D "$GW_DIR/h" -o "$GW_DIR/body" -w '%{http_code}' --max-time 20 \
    -H "Authorization: Bearer ${CHAT_KEY:-$ACME_KEY}" -H 'Content-Type: application/json' \
    -H "X-Task-Category: ${CHAT_CATEGORY:-chat}" \
    "$@" "$GW_BASE/v1/chat/completions" >"$GW_DIR/status"
  cat "$GW_DIR/body"
}
status() { cat "$GW_DIR/status"; }
header() { grep -i "^$1:" "$GW_DIR/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# Request-recording entries of the audit log (have a decision_id, not a seal).
audit_count() {
  node -e '
    const fs = require("fs");
    const n = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
      .map((l) => JSON.parse(l)).filter((e) => e.decision_id && e.event !== "seal" && e.type !== "seal").length;
    console.log(n);' "$GW_AUDIT"
}
