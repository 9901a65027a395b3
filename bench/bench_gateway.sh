#!/usr/bin/env bash
# bench/bench_gateway.sh — the gateway's overhead, measured against its own
# upstream in the same run (issue 5, "Speed").
#
# nginx (loopback, one worker) answers POST /v1/chat/completions with a
# canned chat.completion.  wrk drives it directly, then through
# `tollgate serve` (openai adapter -> that nginx) with the full pre-flight on
# a 2 KiB prompt (PII scan included) and the audit log on (fsync: batch).
# Reports: added latency p50/p99 at 1 connection, requests/s at 64
# connections and the ratio to direct, for fsync batch, never, and never
# with server.busy_poll_us; each the median of BENCH_GATEWAY_ROUNDS (3)
# rounds interleaved with nginx direct.  ~2.5 min; everything is stopped at
# the end.  Benchmarks print numbers; they never fail on a target.
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
write_config() { # MODE: batch | never | never-busy (fsync never + server.busy_poll_us)
local fsync=${1%%-*} busy=0
[ "$1" = never-busy ] && busy=${BENCH_GATEWAY_BUSY_US:-200}
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
  audit: {path: "$tmp/audit-$1.log", signing_key: "$tmp/audit.key", fsync: $fsync}
  server: {threads: 2, busy_poll_us: $busy}
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
ROUNDS=${BENCH_GATEWAY_ROUNDS:-3}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print 0 }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.1f", a-b }'; }
# median and range of a list of numbers
stat3() { tr ' ' '\n' | awk 'NF{v[n++]=$1+0} END{ if (!n) { print "0 0 0"; exit }
  for (i=0;i<n;i++) for (j=i+1;j<n;j++) if (v[j]<v[i]) { t=v[i]; v[i]=v[j]; v[j]=t }
  printf "%.2f %.2f %.2f", (n%2 ? v[int(n/2)] : (v[n/2-1]+v[n/2])/2), v[0], v[n-1] }'; }

# The machine is shared and noisy: every figure is a difference or a ratio
# against nginx measured right before it, in ROUNDS interleaved rounds;
# the median round is reported, with the range.
stop_tg
printf 'through tollgate (2 KiB prompt, PII scan, pre-flight, audit on) vs nginx direct (canned completion),\n'
printf 'median of %s interleaved rounds (range):\n' "$ROUNDS"
printf '  targets: added p50 <= 50 us, p99 <= 250 us; >= 20000 req/s and >= 0.25 of direct\n'
for mode in batch never never-busy; do
  start_tg "$mode"
  wrk -t1 -c4 -d1s -s "$tmp/post.lua" "$gw" >/dev/null 2>&1   # warm up connections and pages
  a50= a99= rr= gr= dr= d50s= errs=0
  for r in $(seq "$ROUNDS"); do
    read -r d50 d99 _ _ <<<"$(run "$up" 1 1)"
    read -r g50 g99 _ e1 <<<"$(run "$gw" 1 1)"
    read -r _ _ drps _ <<<"$(run "$up" 64 2)"
    read -r _ _ grps e2 <<<"$(run "$gw" 64 2)"
    a50="$a50 $(minus "$g50" "$d50")"; a99="$a99 $(minus "$g99" "$d99")"; d50s="$d50s $d50"
    gr="$gr $grps"; dr="$dr $drps"; rr="$rr $(ratio "$grps" "$drps")"
    errs=$(( errs + ${e1:-0} + ${e2:-0} ))
  done
  n=$(grep -c '"event":"decision"' "$tmp/audit-$mode.log" 2>/dev/null || echo 0)
  read -r m50 l50 h50 <<<"$(stat3 <<<"$a50")"; read -r m99 l99 h99 <<<"$(stat3 <<<"$a99")"
  read -r mg lg hg <<<"$(stat3 <<<"$gr")"; read -r mr lr hr <<<"$(stat3 <<<"$rr")"
  read -r md ld hd <<<"$(stat3 <<<"$dr")"; read -r mdl _ _ <<<"$(stat3 <<<"$d50s")"
  label=$mode; [ "$mode" = never-busy ] && label="never + busy_poll_us ${BENCH_GATEWAY_BUSY_US:-200}"
  printf '  audit fsync=%s\n' "$label"
  printf '    added latency, 1 connection: p50 %.0f us (%.0f..%.0f)  p99 %.0f us (%.0f..%.0f)   [nginx direct p50 %.0f us]\n' \
    "$m50" "$l50" "$h50" "$m99" "$l99" "$h99" "$mdl"
  printf '    64 connections: %.0f req/s (%.0f..%.0f) = %.2f of direct (%.2f..%.2f)   [nginx direct %.0f req/s]\n' \
    "$mg" "$lg" "$hg" "$mr" "$lr" "$hr" "$md"
  printf '    non-2xx %s, audit entries %s\n' "$errs" "$n"
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
