#!/usr/bin/env bash
# bench/bench_gateway_tls.sh — what TLS on the listener costs (issue 15):
# requests per second through `tollgate serve` over HTTPS with keep-alive,
# relative to plain HTTP, measured in the same run on the same machine.
#
# nginx (loopback, one worker) is the upstream with a canned completion, as
# in bench_gateway.sh.  The same configuration is served twice, once plain
# and once with server.tls (a P-256 certificate made here with openssl; TLS
# 1.3, key auth), one at a time; wrk drives each at 64 keep-alive
# connections and at 1 connection.  BENCH_TLS_ROUNDS (3) interleaved rounds,
# median reported with the range.  A figure without a target: benchmarks
# never fail.
set -uo pipefail
cd "$(dirname "$0")/.."
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
DUR=${BENCH_GATEWAY_SECONDS:-5}
ROUNDS=${BENCH_TLS_ROUNDS:-3}

for t in wrk nginx curl openssl python3; do
  command -v "$t" >/dev/null 2>&1 || { echo "skipped: $t not installed"; exit 0; }
done
[ -x "$TOLLGATE" ] || { echo "skipped: $TOLLGATE not built"; exit 0; }

tmp=$(mktemp -d)
ngx_pid=; tg_pid=
cleanup() {
  [ -n "$tg_pid" ] && kill "$tg_pid" 2>/dev/null && wait "$tg_pid" 2>/dev/null
  [ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
up_port=$(free_port); tg_port=$(free_port)

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

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/server.key" \
  -out "$tmp/server.pem" -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
  { echo "skipped: openssl cannot make a certificate"; exit 0; }
chmod 600 "$tmp/server.key"

key=bench-key-0123456789
sha=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
write_config() { # plain | tls
  local tls=""
  [ "$1" = tls ] && tls=", tls: {cert: \"$tmp/server.pem\", key: \"$tmp/server.key\"}"
  cat >"$tmp/bench-$1.yaml" <<YAML
orchestration:
  version: "bench"
  providers:
    bench-up: {adapter: openai, base_url: "http://127.0.0.1:$up_port/v1", api_key: "sk-bench", region: us, jurisdiction: US, pii_allowed: true}
  models:
    bench-model: {provider: bench-up, upstream_model: gpt-4o-mini, max_context: 128000, streaming: true,
                  pricing: {input_per_m: 0.15, output_per_m: 0.60}, scores: {humaneval: 90, mmlu: 85}}
  regions:
    global: [us, eu, cn, sg]
  routing_rules:
    - category: bench
      primary: {provider: bench-up, model: bench-model}
      constraints: {max_cost_per_request: 1.0, timeout_ms: 5000}
      compliance: {data_residency: global, pii_allowed: true}
  policy:
    mode: enforce
    pii: {packs: [rules/pii/default.yaml], min_score: 0.5, on_violation: deny}
  tenants:
    - {id: bench, api_key_sha256: "$sha"}
  audit: {path: "$tmp/audit-$1.log", signing_key: "$tmp/audit.key", fsync: never}
  server: {threads: 2$tls}
YAML
}
scheme() { [ "$1" = tls ] && echo https || echo http; }
start_tg() { # plain | tls
  write_config "$1"
  "$TOLLGATE" serve --config "$tmp/bench-$1.yaml" --listen "127.0.0.1:$tg_port" >"$tmp/tg-$1.out" 2>&1 &
  tg_pid=$!
  for _ in $(seq 1 100); do
    curl -sk -o /dev/null "$(scheme "$1")://127.0.0.1:$tg_port/healthz" && return 0
    sleep 0.05
  done
  echo "tollgate ($1) did not start: $(tail -c 300 "$tmp/tg-$1.out")"; exit 0
}
stop_tg() { kill "$tg_pid" 2>/dev/null; wait "$tg_pid" 2>/dev/null; tg_pid=; }

prompt=$(python3 -c '
s = "Please review the quarterly planning notes below and summarise the main risks for the team. "
print((s * 40)[:2048])')
printf '{"model":"auto","max_tokens":64,"messages":[{"role":"user","content":"%s"}]}' "$prompt" >"$tmp/body.json"
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$tmp/body.json", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["X-Task-Category"] = "bench"
LUA

for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$up_port/" && break; sleep 0.05; done
start_tg tls
code=$(curl -sk -o "$tmp/check.json" -w '%{http_code}' -X POST --data-binary @"$tmp/body.json" \
  -H "Authorization: Bearer $key" -H 'X-Task-Category: bench' "https://127.0.0.1:$tg_port/v1/chat/completions")
stop_tg
[ "$code" = 200 ] || { echo "tollgate over TLS answered $code: $(head -c 300 "$tmp/check.json")"; exit 0; }

us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  if (u == "ms") n = n * 1000; else if (u == "s") n = n * 1000000; printf "%.1f", n }'; }
run() { # MODE CONNS THREADS -> "p50_us rps non2xx"
  local out p50 rps err
  out=$(wrk -t"$3" -c"$2" -d"${DUR}s" --latency -s "$tmp/post.lua" "$(scheme "$1")://127.0.0.1:$tg_port/v1/chat/completions" 2>&1)
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  err=$(awk '/Non-2xx or 3xx responses/{print $NF}' <<<"$out"); err=${err:-0}
  echo "$(us "${p50:-0}") ${rps:-0} $err"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print 0 }'; }
stat3() { tr ' ' '\n' | awk 'NF{v[n++]=$1+0} END{ if (!n) { print "0 0 0"; exit }
  for (i=0;i<n;i++) for (j=i+1;j<n;j++) if (v[j]<v[i]) { t=v[i]; v[i]=v[j]; v[j]=t }
  printf "%.3f %.3f %.3f", (n%2 ? v[int(n/2)] : (v[n/2-1]+v[n/2])/2), v[0], v[n-1] }'; }

pr= tr_= rr= p1= t1= errs=0
for r in $(seq "$ROUNDS"); do
  for mode in plain tls; do
    start_tg "$mode"
    wrk -t1 -c4 -d1s -s "$tmp/post.lua" "$(scheme "$mode")://127.0.0.1:$tg_port/v1/chat/completions" >/dev/null 2>&1
    read -r l1 _ e1 <<<"$(run "$mode" 1 1)"
    read -r _ rps e2 <<<"$(run "$mode" 64 2)"
    errs=$(( errs + ${e1:-0} + ${e2:-0} ))
    if [ "$mode" = plain ]; then pr="$pr $rps"; p1="$p1 $l1"; prps=$rps; else tr_="$tr_ $rps"; t1="$t1 $l1"; rr="$rr $(ratio "$rps" "$prps")"; fi
    stop_tg
  done
done
read -r mp lp hp <<<"$(stat3 <<<"$pr")"; read -r mt lt ht <<<"$(stat3 <<<"$tr_")"
read -r mr lr hr <<<"$(stat3 <<<"$rr")"
read -r mp1 _ _ <<<"$(stat3 <<<"$p1")"; read -r mt1 _ _ <<<"$(stat3 <<<"$t1")"
printf 'TLS on the listener (TLS 1.3, P-256, keep-alive) vs plain HTTP, same config, median of %s rounds (range):\n' "$ROUNDS"
printf '  64 connections: plain %.0f req/s (%.0f..%.0f), TLS %.0f req/s (%.0f..%.0f) = %.2f of plain (%.2f..%.2f)\n' \
  "$mp" "$lp" "$hp" "$mt" "$lt" "$ht" "$mr" "$lr" "$hr"
printf '  1 connection p50: plain %.0f us, TLS %.0f us (+%.0f us)\n' "$mp1" "$mt1" \
  "$(awk -v a="$mt1" -v b="$mp1" 'BEGIN{print a-b}')"
printf '  non-2xx %s\n' "$errs"
