#!/usr/bin/env bash
# tests/run.sh [suite...] — the single test runner behind `make test`.
#
# Suites: unit (Criterion binaries), scripts (tests/scripts/*.sh: case-file
# runners and integration tests), fuzz (replay each harness's corpus), e2e
# (node --test with the official SDKs).  Scripts report one line per check,
# "PASS: name" or "FAIL: name"; a script that exits non-zero without a FAIL
# line counts as one failure.  Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export TOLLGATE=${TOLLGATE:-$PWD/$BUILD/tollgate}
export TG_ROOT=$PWD
# Sanitizer builds: fail on the first report; ignore Criterion's own leak.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
suites=("$@"); [ ${#suites[@]} -eq 0 ] && suites=(unit scripts fuzz e2e)
pass=0; fail=0; failed=()
log=$(mktemp -d)

note() { printf '%s\n' "$*"; }

run_unit() {
  for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    out="$log/$n.out"
    "$t" --jobs 2 >"$out" 2>&1; rc=$?
    syn=$(grep -a 'Synthesis:' "$out" | tail -1)
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn"); f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn")
    c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$syn")
    p=${p:-0}; f=$(( ${f:-0} + ${c:-0} ))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" -ne 0 ]; then failed+=("unit/$n"); grep -a -v '^\s*$' "$out" | tail -40; fi
    note "unit  $n: $p passed, $f failed"
  done
}

run_scripts() {
  for s in tests/scripts/*.sh; do
    [ -f "$s" ] || continue
    n=$(basename "$s" .sh)
    # TG_SCRIPTS="a b" runs only those scripts (make valgrind uses it).
    if [ -n "${TG_SCRIPTS:-}" ] && ! [[ " $TG_SCRIPTS " == *" $n "* ]]; then continue; fi
    out="$log/$n.out"
    bash "$s" >"$out" 2>&1; rc=$?
    p=$(grep -ac '^PASS: ' "$out"); f=$(grep -ac '^FAIL: ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
      if grep -aq '^SKIP: ' "$out"; then note "skip  $n: $(grep -a '^SKIP: ' "$out" | head -1)"; continue; fi
      p=1
    fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" -ne 0 ]; then failed+=("scripts/$n"); grep -a -E '^FAIL: ' "$out" | head -20; tail -30 "$out"; fi
    note "cases $n: $p passed, $f failed"
  done
}

run_fuzz() {
  for h in "$BUILD"/fuzz-replay/fuzz_*; do
    [ -x "$h" ] || continue
    n=$(basename "$h")
    dir=tests/fuzz/corpus/$n
    if [ ! -d "$dir" ]; then note "fuzz  $n: no corpus"; continue; fi
    if "$h" "$dir" >"$log/$n.out" 2>&1; then
      pass=$((pass + 1)); note "fuzz  $n: corpus replayed ($(ls "$dir" | wc -l) inputs)"
    else
      fail=$((fail + 1)); failed+=("fuzz/$n"); tail -30 "$log/$n.out"
    fi
  done
}

run_e2e() {
  if [ ! -d node_modules ] || ! ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
    note "e2e   skipped (no node_modules or no tests)"; return
  fi
  out="$log/e2e.out"
  node --test --test-concurrency=1 tests/e2e/ >"$out" 2>&1; rc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$out" | tail -1); f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$out" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  pass=$((pass + p)); fail=$((fail + f))
  [ "$f" -ne 0 ] && { failed+=("e2e"); grep -a -A14 '^not ok' "$out" | head -200; tail -15 "$out"; }
  note "e2e   node --test: $p passed, $f failed"
}

for s in "${suites[@]}"; do
  case $s in
    unit) run_unit ;; scripts|cases|integration) run_scripts ;; fuzz) run_fuzz ;; e2e) run_e2e ;;
    *) echo "unknown suite $s"; exit 2 ;;
  esac
done
rm -rf "$log"
[ ${#failed[@]} -gt 0 ] && note "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
