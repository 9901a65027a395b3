#!/usr/bin/env bash
# config_cases.sh — run every tests/cases/config/*.yaml through `tollgate check`
# and compare with its "# expect:" header (format: tests/cases/config/README.md).
# Also checks `tollgate check` on the shipped examples and its exit codes.
set -uo pipefail
ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TG=${TOLLGATE:-$ROOT/build/tollgate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ — $2}"; }

for f in tests/cases/config/*.yaml; do
  name=config/$(basename "$f" .yaml)
  secret=$(sed -n 's/^# secret: //p' "$f" | head -1)
  TG_CASE_SECRET="$secret" "$TG" check "$f" >"$tmp/out" 2>"$tmp/err"; rc=$?
  ok=1; why=
  nexp_err=0
  while IFS= read -r line; do
    level=${line%% *}; rest=${line#* }
    lc=${rest%% *}; frag=${rest#* }
    [ "$level" = error ] && nexp_err=$((nexp_err + 1))
    if ! grep -F -- "$f:$lc: $level: " "$tmp/err" | grep -qF -- "$frag"; then
      ok=0; why="missing '$level $lc $frag'"; break
    fi
  done < <(sed -n 's/^# expect: //p' "$f")
  nerr=$(grep -c ": error: " "$tmp/err")
  want_rc=0; [ "$nexp_err" -gt 0 ] && want_rc=1
  if [ $ok = 1 ] && [ "$rc" -ne "$want_rc" ]; then ok=0; why="exit $rc, expected $want_rc"; fi
  if [ $ok = 1 ] && [ "$nerr" -ne "$nexp_err" ]; then ok=0; why="$nerr errors reported, $nexp_err expected"; fi
  if [ $ok = 1 ] && grep -q '^# strict-warnings' "$f"; then
    nw=$(grep -c ": warning: " "$tmp/err"); ne=$(grep -c '^# expect: warning' "$f")
    [ "$nw" -ne "$ne" ] && { ok=0; why="$nw warnings, $ne expected"; }
  fi
  if [ $ok = 1 ] && [ -n "$secret" ] && grep -qF -- "$secret" "$tmp/out" "$tmp/err"; then
    ok=0; why="secret value printed"
  fi
  if [ $ok = 1 ]; then pass "$name"; else fail "$name" "$why"; sed 's/^/    /' "$tmp/err" | head -20; fi
done

# The seed template loads unchanged, exit 0, with the GLM-5 warning at the fallback entry.
"$TG" check rules/examples/seed-template.yaml >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "^rules/examples/seed-template.yaml:36:11: warning: fallback 'glm-5' (provider 'zhipu', region 'cn') can never be compliant" "$tmp/err" \
   && grep -q '^ok: .* policy_version [0-9a-f]\{64\}$' "$tmp/out"; then
  pass check/seed-template
else
  fail check/seed-template "exit $rc"; cat "$tmp/err" "$tmp/out" | head -20
fi
# rules/examples/seed-template.yaml is an exact copy of the seed (when the seed is at hand).
seed=$ROOT/../shared/seeds/config-template.yaml
if [ -f "$seed" ]; then
  if cmp -s rules/examples/seed-template.yaml "$seed"; then pass check/seed-template-is-copy
  else fail check/seed-template-is-copy "differs from $seed"; fi
fi

# full.yaml: every key, valid, no warnings.
"$TG" check rules/examples/full.yaml >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/err" ]; then pass check/full-example; else fail check/full-example "exit $rc"; head "$tmp/err"; fi

# Same config => same policy_version; a semantic change => a different one.
v1=$("$TG" check rules/examples/full.yaml 2>/dev/null | awk '{print $NF}')
v2=$("$TG" check rules/examples/full.yaml 2>/dev/null | awk '{print $NF}')
sed 's/max_cost_per_request: 0.05/max_cost_per_request: 0.06/' rules/examples/full.yaml >"$tmp/full2.yaml"
v3=$("$TG" check "$tmp/full2.yaml" 2>/dev/null | awk '{print $NF}')
{ echo "# a comment changes nothing"; cat rules/examples/full.yaml; } >"$tmp/full3.yaml"
v4=$("$TG" check "$tmp/full3.yaml" 2>/dev/null | awk '{print $NF}')
v5=$(OPENAI_API_KEY=other-key "$TG" check rules/examples/full.yaml 2>/dev/null | awk '{print $NF}')
if [ -n "$v1" ] && [ "$v1" = "$v2" ] && [ "$v1" = "$v4" ] && [ "$v1" != "$v3" ] && [ "$v1" != "$v5" ]; then
  pass check/policy-version
else
  fail check/policy-version "v1=$v1 v2=$v2 v3=$v3 v4=$v4 v5=$v5"
fi
# The key itself never appears, even with --json.
OPENAI_API_KEY=sk-live-do-not-print "$TG" check --json rules/examples/full.yaml >"$tmp/j" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '"valid":true' "$tmp/j" && ! grep -q sk-live-do-not-print "$tmp/j"; then
  pass check/no-secret-in-output; else fail check/no-secret-in-output "exit $rc"; fi

# Exit codes: usage 2, unreadable 2, invalid 1; --help 0; --json shape.
"$TG" check >/dev/null 2>&1; [ $? -eq 2 ] && pass check/exit-usage || fail check/exit-usage
"$TG" check "$tmp/does-not-exist.yaml" >/dev/null 2>&1; [ $? -eq 2 ] && pass check/exit-unreadable || fail check/exit-unreadable
"$TG" check tests/cases/config/08-unknown-provider.yaml >/dev/null 2>&1; [ $? -eq 1 ] && pass check/exit-invalid || fail check/exit-invalid
"$TG" check --help | grep -q '^usage: tollgate check' && pass check/help || fail check/help
"$TG" check --json tests/cases/config/08-unknown-provider.yaml >"$tmp/j" 2>/dev/null
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["valid"] is False and d["errors"]==1; x=d["diagnostics"][0]; assert (x["line"],x["col"],x["level"])==(6,27,"error")' "$tmp/j" 2>/dev/null; then
  pass check/json; else fail check/json; cat "$tmp/j"; fi
