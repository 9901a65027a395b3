#!/usr/bin/env bash
# purity_check.sh — `make check-purity`'s link-closure check can fail: an
# object calling getenv() directly, and one reaching the impure policy
# loader through a pure-looking call, are both caught; the real engine
# passes.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
BUILD=${BUILD:-build}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
CC=${CC:-cc}
python3 scripts/check-purity.py "$BUILD" >"$tmp/real.out" 2>&1
ok "engine_closure_is_pure" '[ $? -eq 0 ]'
printf '#include <stdlib.h>\nconst char *tg_probe_env(void);\nconst char *tg_probe_env(void) { return getenv("HOME"); }\n' >"$tmp/env.c"
$CC -c -o "$tmp/env.o" "$tmp/env.c"
python3 scripts/check-purity.py "$BUILD" "$tmp/env.o" >"$tmp/env.out" 2>&1
ok "direct_getenv_caught" '[ $? -eq 1 ] && grep -q "impure symbol getenv" "$tmp/env.out"'
printf '#include "policy/policy.h"\nconst char *tg_probe_dir(void);\nconst char *tg_probe_dir(void) { return tg_data_dir(); }\n' >"$tmp/dir.c"
$CC -I. -c -o "$tmp/dir.o" "$tmp/dir.c"
python3 scripts/check-purity.py "$BUILD" "$tmp/dir.o" >"$tmp/dir.out" 2>&1
ok "transitive_impurity_caught" '[ $? -eq 1 ] && grep -q "links policy/policy.o" "$tmp/dir.out"'
printf '#include <time.h>\nlong tg_probe_clock(void);\nlong tg_probe_clock(void) { return (long)time(NULL); }\n' >"$tmp/clk.c"
$CC -c -o "$tmp/clk.o" "$tmp/clk.c"
python3 scripts/check-purity.py "$BUILD" "$tmp/clk.o" >"$tmp/clk.out" 2>&1
ok "clock_caught" '[ $? -eq 1 ] && grep -q "impure symbol time" "$tmp/clk.out"'
