#!/usr/bin/env bash
# bench/bench_gateway.sh — the gateway's overhead, measured against its own
# upstream in the same run (issue 5, "Speed").
#
# nginx (loopback, one worker) answers POST /v1/chat/completions with a
# canned chat.completion.  wrk drives it directly, then through
# `tollgate serve` (openai adapter -> that nginx) with the full pre-flight on
# a 2 KiB prompt (PII scan included) and the audit log on (fsync: batch).
# Reports: added latency p50/p99 at 1 connection, requests/s at 64
# connections and the ratio to direct.  ~35 s; everything is stopped at the
# end.  Benchmarks print numbers; they never fail on a target.
set -uo pipefail
cd "$(dirname "$0")/.."
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
DUR=${BENCH_GATEWAY_SECONDS:-5}

for t in wrk nginx curl; do
  command -v "$t" >/dev/null 2>&1 || { echo "skipped: $t not installed"; exit 0; }
done
[ -x "$TOLLGATE" ] || { echo "skipped: $TOLLGATE not built"; exit 0; }

tmp=$(mktemp -d)
ngx_pid=; tg_pid=; sse_pid=
cleanup() {
  [ -n "$tg_pid" ] && kill "$tg_pid" 2>/dev/null && wait "$tg_pid" 2>/dev/null
  [ -n "$sse_pid" ] && kill "$sse_pid" 2>/dev/null && wait "$sse_pid" 2>/dev/null
  [ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_up() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
up_port=$(free_port); tg_port=$(free_port); sse_port=$(free_port)

canned='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Sure: here is a short answer for the benchmark."},"finish_reason":"stop"}],"usage":{"prompt_tokens":512,"completion_tokens":12,"total_tokens":524}}'
mkdir -p "$tmp/ngx"
cat >"$tmp/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/ngx; proxy_temp_path $tmp/ngx; fastcgi_temp_path $tmp/ngx;
  uwsgi_temp_path $tmp/ngx; scgi_temp_path $tmp/ngx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$up_port;
    location / { default_type application/json; return 200 '$canned'; }
  }
}
NGX
nginx -c "$tmp/nginx.conf" -p "$tmp" >"$tmp/nginx.out" 2>&1 &
ngx_pid=$!

key=bench-key-0123456789
sha=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
write_config() { # FSYNC
cat >"$tmp/bench-$1.yaml" <<YAML
orchestration:
  version: "bench"
  telemetry: {enabled: false, endpoint: "http://127.0.0.1:9/", batch_size: 100, flush_interval_ms: 5000}
  providers:
    bench-up: {adapter: openai, base_url: "http://127.0.0.1:$up_port/v1", api_key: "sk-bench", region: us, jurisdiction: US, pii_allowed: true}
    bench-sse: {adapter: openai, base_url: "http://127.0.0.1:$sse_port/v1", api_key: "sk-bench", region: us, jurisdiction: US, pii_allowed: true}
  models:
    bench-model: {provider: bench-up, upstream_model: gpt-4o-mini, max_context: 128000, streaming: true,
                  pricing: {input_per_m: 0.15, output_per_m: 0.60}, scores: {humaneval: 90, mmlu: 85}}
    bench-stream: {provider: bench-sse, upstream_model: gpt-4o-mini, max_context: 128000, streaming: true,
                  pricing: {input_per_m: 0.15, output_per_m: 0.60}, scores: {humaneval: 90, mmlu: 85}}
  regions:
    global: [us, eu, cn, sg]
  routing_rules:
    - category: bench
      primary: {provider: bench-up, model: bench-model}
      constraints: {max_cost_per_request: 1.0, timeout_ms: 5000}
      compliance: {data_residency: global, pii_allowed: true}
    - category: hold
      primary: {provider: bench-sse, model: bench-stream}
      constraints: {max_cost_per_request: 1.0, timeout_ms: 10000, deadline_ms: 30000}
      compliance: {data_residency: global, pii_allowed: true}
  policy:
    mode: enforce
    pii: {packs: [rules/pii/default.yaml], min_score: 0.5, on_violation: deny}
  tenants:
    - {id: bench, api_key_sha256: "$sha"}
  audit: {path: "$tmp/audit-$1.log", signing_key: "$tmp/audit.key", fsync: $1}
  server: {threads: 2}
YAML
}
start_tg() { # FSYNC
  write_config "$1"
  "$TOLLGATE" serve --config "$tmp/bench-$1.yaml" --listen "127.0.0.1:$tg_port" >"$tmp/tg-$1.out" 2>&1 &
  tg_pid=$!
  wait_up "http://127.0.0.1:$tg_port/healthz" || { echo "tollgate did not start"; cat "$tmp/tg-$1.out"; exit 0; }
}
stop_tg() { kill "$tg_pid" 2>/dev/null; wait "$tg_pid" 2>/dev/null; tg_pid=; }

# A 2 KiB prompt of ordinary prose (scanned in full; no PII, so it is allowed).
prompt=$(python3 -c '
import sys
s = "Please review the quarterly planning notes below and summarise the main risks for the team. "
t = ""
i = 0
while len(t) < 2048:
    t += s.replace("quarterly", "quarterly %d" % (i % 7)); i += 1
print(t[:2048])')
body=$(printf '{"model":"auto","max_tokens":64,"messages":[{"role":"system","content":"You are concise."},{"role":"user","content":"%s"}]}' "$prompt")
printf '%s' "$body" >"$tmp/body.json"
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$tmp/body.json", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["X-Task-Category"] = "bench"
LUA

wait_up "http://127.0.0.1:$up_port/" || { echo "nginx did not start"; cat "$tmp/nginx.out" "$tmp/nginx.err" 2>/dev/null; exit 0; }
start_tg batch
code=$(curl -s -o "$tmp/check.json" -w '%{http_code}' -X POST --data-binary @"$tmp/body.json" \
  -H "Authorization: Bearer $key" -H 'X-Task-Category: bench' "http://127.0.0.1:$tg_port/v1/chat/completions")
[ "$code" = 200 ] || { echo "tollgate answered $code: $(head -c 300 "$tmp/check.json")"; exit 0; }

# wrk --latency percentile -> microseconds
us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  if (u == "us") n = n; else if (u == "ms") n = n * 1000; else if (u == "s") n = n * 1000000; else if (u == "m") n = n * 60000000;
  printf "%.1f", n }'; }
run() { # URL CONNS THREADS -> "p50_us p99_us rps errors"
  local out
  out=$(wrk -t"$3" -c"$2" -d"${DUR}s" --latency -s "$tmp/post.lua" "$1" 2>&1)
  local p50 p99 rps err
  p50=$(awk '$1=="50%"{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  err=$(awk '/Non-2xx or 3xx responses/{print $NF}' <<<"$out"); err=${err:-0}
  echo "$(us "$p50") $(us "$p99") ${rps:-0} $err"
}

up="http://127.0.0.1:$up_port/v1/chat/completions"
gw="http://127.0.0.1:$tg_port/v1/chat/completions"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print 0 }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.1f", a-b }'; }

read -r d50 d99 _ _ <<<"$(run "$up" 1 1)"
read -r _ _ drps _ <<<"$(run "$up" 64 2)"
printf 'upstream direct (nginx, canned completion):\n'
printf '  1 connection    p50 %8.1f us   p99 %8.1f us\n' "$d50" "$d99"
printf '  64 connections  %10.0f req/s\n' "$drps"
printf 'through tollgate (2 KiB prompt, PII scan, pre-flight, audit on):\n'
printf '  targets: added p50 <= 50 us, p99 <= 250 us; >= 20000 req/s and >= 0.25 of direct\n'
for mode in batch never; do
  [ "$mode" = batch ] || start_tg "$mode"
  wrk -t1 -c4 -d1s -s "$tmp/post.lua" "$gw" >/dev/null 2>&1   # warm up connections and pages
  read -r g50 g99 _ e1 <<<"$(run "$gw" 1 1)"
  read -r _ _ grps e2 <<<"$(run "$gw" 64 2)"
  n=$(grep -c '"event":"decision"' "$tmp/audit-$mode.log" 2>/dev/null || echo 0)
  printf '  audit fsync=%-5s  added p50 %8.1f us  p99 %8.1f us   %8.0f req/s  (%s of direct)  non-2xx %s  audit entries %s\n' \
    "$mode" "$(minus "$g50" "$d50")" "$(minus "$g99" "$d99")" "$grps" "$(ratio "$grps" "$drps")" \
    "$(( ${e1:-0} + ${e2:-0} ))" "$n"
  stop_tg
done
echo "(fsync=batch answers only after the entry is on disk: each request waits for a group fdatasync)"

# Many streams held open at once: memory per open stream.
if command -v python3 >/dev/null 2>&1; then
  python3 bench/bench_gateway_streams.py upstream "$sse_port" 3 >"$tmp/sse.out" 2>&1 &
  sse_pid=$!
  start_tg never
  wait_up "http://127.0.0.1:$tg_port/healthz"
  printf '  '
  timeout 60 python3 bench/bench_gateway_streams.py client "$tg_port" "${BENCH_GATEWAY_STREAMS:-1000}" "$key" hold "$tg_pid" \
    || echo "stream hold run failed"
  stop_tg
fi
