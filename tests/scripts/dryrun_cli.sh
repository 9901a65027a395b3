#!/usr/bin/env bash
# dryrun_cli.sh — `tollgate dry-run` as a user drives it: JSON shape (docs/interface.md
# §7), malformed lines (counted, line numbers), --fail-on thresholds and exit
# codes, usage errors, escaping of hostile names, progress bar only on a TTY,
# and the bundled example (rules/examples) end to end.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
C=tests/cases/dryrun/transitions
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# --- JSON per docs/interface.md §7, with and without a baseline ----------------------
"$TOLLGATE" dry-run --config $C/policy.yaml --baseline $C/baseline.yaml --traffic $C/traffic.jsonl \
  --json >"$tmp/a.json" 2>"$tmp/a.err"; rc=$?
ok "json_exit_0" '[ $rc -eq 0 ]'
ok "json_keys" '[ "$(jq_ "$tmp/a.json" "sorted(d.keys())")" = "['"'"'allow_list'"'"', '"'"'allow_list_effect'"'"', '"'"'by_category'"'"', '"'"'by_rule'"'"', '"'"'by_tenant'"'"', '"'"'changes'"'"', '"'"'cost'"'"', '"'"'decisions'"'"', '"'"'malformed'"'"', '"'"'malformed_lines'"'"', '"'"'requests'"'"']" ]'
ok "json_changes_keys" '[ "$(jq_ "$tmp/a.json" "all(k in d[\"changes\"] for k in (\"newly_denied\",\"newly_allowed\",\"route_changed\",\"examples\"))")" = True ]'
ok "json_cost_keys" '[ "$(jq_ "$tmp/a.json" "all(k in d[\"cost\"] for k in (\"estimated_usd\",\"baseline_usd\",\"monolithic\",\"annualised_usd\"))")" = True ]'
ok "json_group_keys" '[ "$(jq_ "$tmp/a.json" "sorted(d[\"by_tenant\"][\"t1\"].keys())[:5]")" = "['"'"'allow'"'"', '"'"'baseline_usd'"'"', '"'"'cost_usd'"'"', '"'"'deny'"'"', '"'"'redact'"'"']" ]'
ok "json_totals_add_up" '[ "$(jq_ "$tmp/a.json" "sum(d[\"decisions\"].values()) == d[\"requests\"] == sum(g[\"requests\"] for g in d[\"by_tenant\"].values())")" = True ]'
ok "json_stdout_is_one_document" '[ "$(wc -l <"$tmp/a.json")" -eq 1 ]'
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic $C/traffic.jsonl --json >"$tmp/b.json" 2>/dev/null
ok "json_no_baseline_no_changes" '[ "$(jq_ "$tmp/b.json" "(\"changes\" in d, \"baseline_usd\" in d[\"cost\"])")" = "(False, False)" ]'

# --- malformed lines: counted, line numbers, reported on stderr --------------
{
  echo '{"id":"ok1","tenant":"t1","category":"chat","request":{"messages":[{"role":"user","content":"hi"}]}}'
  echo 'garbage'
  echo ''
  echo '{"custom_id":"x","method":"DELETE","url":"/v1/chat/completions","body":{}}'
  echo '{"id":"ok2","tenant":"t1","category":"chat","request":{"messages":[{"role":"user","content":"hi"}]}}'
  printf '{"tenant":"t1","request":{"messages":[{"role":"user","content":"no newline"}]}}'
} >"$tmp/mal.jsonl"
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic "$tmp/mal.jsonl" --json >"$tmp/m.json" 2>"$tmp/m.err"; rc=$?
ok "malformed_exit_0" '[ $rc -eq 0 ]'
ok "malformed_count" '[ "$(jq_ "$tmp/m.json" "(d[\"requests\"], d[\"malformed\"], d[\"malformed_lines\"])")" = "(3, 2, [2, 4])" ]'
ok "malformed_stderr_line_numbers" 'grep -q "2 malformed line(s) skipped (lines 2,4" "$tmp/m.err"'
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic "$tmp/mal.jsonl" >"$tmp/m.txt" 2>/dev/null
ok "malformed_text_report" 'grep -q "^malformed lines: 2 skipped (lines 2, 4)" "$tmp/m.txt"'
ok "text_no_progress_without_tty" '! grep -q $'"'"'\r'"'"' "$tmp/m.err"'

# --- --fail-on ---------------------------------------------------------------
fo() { "$TOLLGATE" dry-run --config $C/policy.yaml --baseline $C/baseline.yaml --traffic $C/traffic.jsonl \
        --quiet "$@" >/dev/null 2>"$tmp/fo.err"; echo $?; }
ok "fail_on_newly_denied_gt_2_exceeded" '[ "$(fo --fail-on "newly_denied>2")" = 1 ]'
ok "fail_on_newly_denied_gt_3_ok" '[ "$(fo --fail-on "newly_denied>3")" = 0 ]'
ok "fail_on_ge" '[ "$(fo --fail-on "newly_denied>=3")" = 1 ]'
ok "fail_on_several_any_exceeds" '[ "$(fo --fail-on "newly_allowed>5" --fail-on "route_changed>=4")" = 1 ]'
ok "fail_on_message" 'grep -q "threshold exceeded: route_changed>=4" "$tmp/fo.err"'
ok "fail_on_deny" '[ "$(fo --fail-on "deny>3")" = 1 ] && [ "$(fo --fail-on "deny>4")" = 0 ]'
ok "fail_on_bad_expr_is_usage" '[ "$(fo --fail-on "newly_denied<3")" = 2 ] && [ "$(fo --fail-on "bogus>1")" = 2 ]'
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic $C/traffic.jsonl --fail-on "newly_denied>0" >/dev/null 2>&1
ok "fail_on_needs_baseline" '[ $? -eq 2 ]'

# --- usage and I/O errors ----------------------------------------------------
"$TOLLGATE" dry-run --help >"$tmp/h.txt"; rc=$?
ok "help" '[ $rc -eq 0 ] && grep -q -- "--fail-on" "$tmp/h.txt"'
"$TOLLGATE" dry-run --config $C/policy.yaml >/dev/null 2>&1; ok "missing_traffic_is_usage" '[ $? -eq 2 ]'
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic "$tmp/nope.jsonl" >/dev/null 2>"$tmp/e.err"
ok "missing_file_is_io_error" '[ $? -eq 2 ] && [ "$(wc -l <"$tmp/e.err")" -eq 1 ]'
"$TOLLGATE" dry-run --config "$tmp/nope.yaml" --traffic $C/traffic.jsonl >/dev/null 2>&1; ok "bad_config_exit_2" '[ $? -eq 2 ]'
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic - --json <$C/traffic.jsonl >"$tmp/s.json" 2>/dev/null
ok "stdin_traffic" '[ "$(jq_ "$tmp/s.json" "d[\"requests\"]")" = 11 ]'

# --- empty traffic; bounded group tables (memory stays flat) -----------------
: >"$tmp/empty.jsonl"
"$TOLLGATE" dry-run --config $C/policy.yaml --baseline $C/baseline.yaml --traffic "$tmp/empty.jsonl" --json >"$tmp/z.json" 2>/dev/null
ok "empty_traffic" '[ $? -eq 0 ] && [ "$(jq_ "$tmp/z.json" "(d[\"requests\"], d[\"cost\"][\"annualised_usd\"])")" = "(0, None)" ]'
python3 -c "
import json
with open('$tmp/many.jsonl', 'w') as f:
    for i in range(5000):
        f.write(json.dumps({'id': 'r%d' % i, 'tenant': 't%d' % i, 'category': 'chat',
                            'request': {'messages': [{'role': 'user', 'content': 'hi'}]}}) + '\n')"
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic "$tmp/many.jsonl" --json >"$tmp/many.json" 2>/dev/null
ok "groups_fold_into_other" '[ "$(jq_ "$tmp/many.json" "(len(d[\"by_tenant\"]), d[\"by_tenant\"][\"(other)\"][\"requests\"], sum(g[\"requests\"] for g in d[\"by_tenant\"].values()))")" = "(4096, 905, 5000)" ]'

# --- hostile names never reach the terminal or the HTML raw -------------------
printf '{"id":"<b>x</b>","tenant":"t1\\u001b[31mred","category":"<script>alert(1)</script>","request":{"messages":[{"role":"user","content":"hi"}]}}\n' >"$tmp/evil.jsonl"
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic "$tmp/evil.jsonl" --html "$tmp/evil.html" >"$tmp/evil.txt" 2>/dev/null
ok "text_strips_escape_sequences" '! grep -q $'"'"'\x1b'"'"' "$tmp/evil.txt" && grep -q "t1?\[31mred" "$tmp/evil.txt"'
ok "html_escapes_names" '! grep -q "<script>alert" "$tmp/evil.html" && grep -q "&lt;script&gt;alert(1)&lt;/script&gt;" "$tmp/evil.html"'
ok "html_no_network_refs" '! grep -Eqi "(src|href)=\"?(https?:)?//" "$tmp/evil.html"'

# --- the bundled example: strict vs baseline over the sample traffic ----------
E=rules/examples
"$TOLLGATE" dry-run --config $E/policy-strict.yaml --baseline $E/policy-baseline.yaml \
  --traffic $E/traffic-sample.jsonl --json >"$tmp/x.json" 2>/dev/null; rc=$?
ok "example_runs" '[ $rc -eq 0 ]'
ok "example_has_every_kind_of_change" '[ "$(jq_ "$tmp/x.json" "all(d[\"changes\"][k] > 0 for k in (\"newly_denied\",\"newly_allowed\",\"route_changed\"))")" = True ]'
ok "example_malformed_2" '[ "$(jq_ "$tmp/x.json" "(d[\"requests\"], d[\"malformed\"])")" = "(300, 2)" ]'
ok "example_annualised" '[ "$(jq_ "$tmp/x.json" "d[\"cost\"][\"annualised_usd\"] > d[\"cost\"][\"estimated_usd\"] > 0")" = True ]'

# --- Batch lines of every door: decoded and decided, no crash ------------------
# (the decoders' canonical text is cJSON's, allocated from the replay's
# arena: it must go back through cJSON_free, never free())
{
  echo '{"custom_id":"r","method":"POST","url":"/v1/responses","body":{"model":"m","input":"ssn 536-22-4817","metadata":{"tenant":"t1","category":"chat"}}}'
  echo '{"custom_id":"m","method":"POST","url":"/v1/messages","body":{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"ssn 536-22-4817"}],"metadata":{"tenant":"t1","category":"chat"}}}'
  echo '{"custom_id":"c","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"ssn 536-22-4817"}],"metadata":{"tenant":"t1","category":"chat"}}}'
} >"$tmp/doors.jsonl"
"$TOLLGATE" dry-run --config $C/policy.yaml --traffic "$tmp/doors.jsonl" --json >"$tmp/d.json" 2>"$tmp/d.err"; rc=$?
ok "batch_doors_exit_0" '[ $rc -eq 0 ]'
ok "batch_doors_all_replayed" '[ "$(jq_ "$tmp/d.json" "(d[\"requests\"], d[\"malformed\"])")" = "(3, 0)" ]'

# --- progress bar on a terminal only (needs script(1)) ------------------------
if command -v script >/dev/null 2>&1; then
  script -qfec "$TOLLGATE dry-run --config $E/policy-strict.yaml --traffic $E/traffic-sample.jsonl --json >/dev/null" \
    "$tmp/tty.log" >/dev/null 2>&1 </dev/null
  ok "progress_bar_on_tty" 'grep -q "300 requests" "$tmp/tty.log" && grep -q "100.0%" "$tmp/tty.log"'
fi
exit 0
