#!/usr/bin/env bash
# bench_dryrun.sh — replay speed of `tollgate dry-run` (issue 6 target:
# >= 100,000 requests/s on one core, memory flat), next to the time
# `cat FILE > /dev/null` takes for the same file in the same run.
#
# Traffic: DRYRUN_BENCH_N requests (default 1,000,000) of ~2 KiB on average,
# 5% with PII, both capture forms mixed, generated deterministically by
# scripts/gen-traffic.py --mode bench into a temp file (~2 GB for 1M; set
# DRYRUN_BENCH_N=200000 where disk is short).  Flat memory: the peak RSS of
# a replay of the first 10% of the file is printed next to the full replay's.
# A benchmark, not a test: it prints numbers and never fails on the target.
set -uo pipefail
cd "$(dirname "$0")/.."
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
N=${DRYRUN_BENCH_N:-1000000}
POLICY=${DRYRUN_BENCH_POLICY:-rules/examples/policy-baseline.yaml}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pin=(); command -v taskset >/dev/null 2>&1 && pin=(taskset -c "$(( $(nproc) - 1 ))")

now() { date +%s.%N; }
t0=$(now)
python3 scripts/gen-traffic.py --mode bench --count "$N" --out "$tmp/traffic.jsonl" || exit 1
t1=$(now)
bytes=$(stat -c %s "$tmp/traffic.jsonl")
head -n $((N / 10)) "$tmp/traffic.jsonl" >"$tmp/tenth.jsonl"
printf 'traffic: %d requests, %.1f MiB, %.0f bytes/request (generated in %.1fs)\n' \
  "$N" "$(echo "$bytes / 1048576" | bc -l)" "$(echo "$bytes / $N" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"

# Baseline: reading the file, page cache warm (first cat warms it).
cat "$tmp/traffic.jsonl" >/dev/null
t0=$(now); cat "$tmp/traffic.jsonl" >/dev/null; t1=$(now)
cat_s=$(echo "$t1 - $t0" | bc -l)

run() {   # run FILE -> "wall_s user_s sys_s maxrss_kb"
  /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "${pin[@]}" "$TOLLGATE" dry-run --config "$POLICY" \
    --traffic "$1" --json --quiet >"$tmp/out.json" 2>"$tmp/err" || { cat "$tmp/err"; return 1; }
  cat "$tmp/time"
}
read -r tw tu ts tr < <(run "$tmp/tenth.jsonl") || exit 1
read -r fw fu fs fr < <(run "$tmp/traffic.jsonl") || exit 1
got=$(python3 -c "import json; print(json.load(open('$tmp/out.json'))['requests'])")
[ "$got" = "$N" ] || echo "warning: replayed $got of $N requests"
rate=$(echo "$N / $fw" | bc -l)
cpu=$(echo "$fu + $fs" | bc -l)
cpu_rate=$(echo "$N / $cpu" | bc -l)
printf 'cat FILE > /dev/null      %8.2f s  (%.0f MiB/s)\n' "$cat_s" "$(echo "$bytes / 1048576 / $cat_s" | bc -l)"
printf 'dry-run (one core)        %8.2f s  wall -> %.0f requests/s  (%.0f MiB/s)\n' \
  "$fw" "$rate" "$(echo "$bytes / 1048576 / $fw" | bc -l)"
# On a shared machine the process also waits for the CPU: its own CPU time
# (user + sys) is the one-core figure that does not depend on the neighbours.
printf 'dry-run CPU time          %8.2f s  user+sys -> %.0f requests/s per core\n' "$cpu" "$cpu_rate"
printf 'ratio dry-run / cat       %8.1fx  (wall; cat is the floor for any reader)\n' "$(echo "$fw / $cat_s" | bc -l)"
printf 'vs target 100000 req/s    %8.2fx  wall, %.2fx CPU time\n' "$(echo "$rate / 100000" | bc -l)" \
  "$(echo "$cpu_rate / 100000" | bc -l)"
printf 'peak RSS: %d KiB after %d requests, %d KiB after %d  (flat memory: per-request arena reset)\n' \
  "$tr" $((N / 10)) "$fr" "$N"
