#!/usr/bin/env bash
# bench/run.sh — `make bench`: every benchmark, each reporting its figure next
# to a baseline measured in the same run (these machines are shared and
# noisy: ratios, not absolute numbers, are what to compare across runs).
# Benchmarks are not tests: they print numbers and never fail on a target.
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export TOLLGATE=${TOLLGATE:-$PWD/$BUILD/tollgate}
only=${1:-}

section() { printf '\n== %s\n' "$1"; }
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

for b in "$BUILD"/bench/bench_*; do
  [ -x "$b" ] || continue
  n=$(basename "$b"); n=${n#bench_}
  want "$n" || continue
  section "$n"
  "$b" || echo "(bench $n exited $?)"
done
for s in bench/bench_*.sh; do
  [ -f "$s" ] || continue
  n=$(basename "$s" .sh); n=${n#bench_}
  want "$n" || continue
  section "$n"
  bash "$s" || echo "(bench $n exited $?)"
done
