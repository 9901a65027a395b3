#!/usr/bin/env bash
# dryrun_cases.sh — data-driven dry-run cases: each directory under
# tests/cases/dryrun/ holds policies, traffic, `args` (the dry-run arguments,
# paths relative to the case) and expect.json (selected fields of the
# --json report with their exact expected values; see check.py).
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for dir in tests/cases/dryrun/*/; do
  name=$(basename "$dir")
  [ -f "$dir/args" ] || continue
  read -r -a args < "$dir/args"
  ( cd "$dir" && "$TOLLGATE" dry-run --json --quiet "${args[@]}" ) >"$tmp/$name.json" 2>"$tmp/$name.err"
  rc=$?
  want_rc=0; [ -f "$dir/exit" ] && want_rc=$(cat "$dir/exit")
  if [ "$rc" -eq "$want_rc" ]; then echo "PASS: $name/exit"; else
    echo "FAIL: $name/exit want $want_rc got $rc"; cat "$tmp/$name.err"; fi
  python3 tests/cases/dryrun/check.py "$dir/expect.json" "$tmp/$name.json" "$name"
done
exit 0
