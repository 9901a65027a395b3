#!/usr/bin/env bash
# pii_scan_cli.sh — `tollgate scan` (docs/interface.md §1): human output with masked
# matches, --jsonl with code point offsets and echoed fields, bad lines,
# --pack / --config / --min-score, exit codes.
set -uo pipefail
root=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${TOLLGATE:-$root/build/tollgate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "PASS: scan_cli/$1"; }
no() { echo "FAIL: scan_cli/$1${2:+: $2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else no "$name"; fi; }

printf 'Hello\nmail jane.doe@example.com and SSN 536-22-1234\n' >"$tmp/a.txt"
out=$("$bin" scan "$tmp/a.txt"); rc=$?
check human_exit0 [ "$rc" -eq 0 ]
check human_line_col grep -q '^2:6 EMAIL_ADDRESS score=1.00 detector=email match=j\*\*\*\.d\*\*@e\*\*\*\*\*\*\.com$' <<<"$out"
check human_ssn grep -q '^2:35 US_SSN score=0.95 detector=us_ssn match=5\*\*-2\*-1\*\*\*$' <<<"$out"
check human_never_prints_value bash -c "! grep -q 'jane.doe\|536-22-1234' <<<\"\$1\"" _ "$out"
out=$(printf 'nothing to see here\n' | "$bin" scan -); rc=$?
check clean_input_exit0 [ "$rc" -eq 0 ] && [ -z "$out" ]

# --jsonl: code point offsets, other fields echoed, bad lines reported, exit 2
printf '%s\n' '{"id":7,"lang":"fr","text":"écrivez à jean@exemple.fr"}' 'not json' '{"id":8}' \
  '{"id":9,"text":"中文 138 0013 8000"}' >"$tmp/in.jsonl"
"$bin" scan --jsonl "$tmp/in.jsonl" >"$tmp/out.jsonl" 2>"$tmp/err"; rc=$?
check jsonl_bad_lines_exit2 [ "$rc" -eq 2 ]
check jsonl_error_names_line grep -q 'line 2' "$tmp/err"
check jsonl_error_names_line3 grep -q 'line 3' "$tmp/err"
check jsonl_two_outputs [ "$(wc -l <"$tmp/out.jsonl")" -eq 2 ]
check jsonl_echo_fields [ "$(jq -r 'select(.id==7) | .lang' "$tmp/out.jsonl")" = fr ]
check jsonl_codepoints [ "$(jq -c 'select(.id==7) | .findings[0] | [.entity,.start,.end,.detector]' "$tmp/out.jsonl")" = '["EMAIL_ADDRESS",10,25,"email"]' ]
check jsonl_slice_is_value [ "$(jq -r 'select(.id==9) | .text[.findings[0].start:.findings[0].end]' "$tmp/out.jsonl")" = '138 0013 8000' ]
printf '%s\n' '{"text":"ok"}' | "$bin" scan --jsonl >/dev/null; rc=$?
check jsonl_good_exit0 [ "$rc" -eq 0 ]

# --min-score: a bare 9-digit SSN scores 0.3
printf 'order 536221234\n' >"$tmp/b.txt"
check min_score_default_hides [ -z "$("$bin" scan "$tmp/b.txt")" ]
check min_score_low_shows bash -c "'$bin' scan --min-score 0.2 '$tmp/b.txt' | grep -q US_SSN"
"$bin" scan --min-score 2 "$tmp/b.txt" 2>/dev/null; rc=$?
check min_score_bad_exit2 [ "$rc" -eq 2 ]

# --pack: only that pack's detectors
cat >"$tmp/pack.yaml" <<'YAML'
detectors:
  - id: ticket
    entity: TICKET_ID
    class: pii
    triggers: [digits]
    pattern: 'TCK-[0-9]{6}'
    score: 0.9
YAML
out=$(printf 'see TCK-123456 and jane@example.com\n' | "$bin" scan --pack "$tmp/pack.yaml"); rc=$?
check pack_custom_entity grep -q 'TICKET_ID score=0.90 detector=ticket' <<<"$out"
check pack_replaces_default bash -c "! grep -q EMAIL <<<\"\$1\"" _ "$out"
printf 'detectors:\n  - id: x\n    entity: X\n    pattern: "a"\n    validator: nope\n' >"$tmp/bad.yaml"
"$bin" scan --pack "$tmp/bad.yaml" "$tmp/a.txt" >/dev/null 2>"$tmp/err"; rc=$?
check bad_pack_exit2 [ "$rc" -eq 2 ]
check bad_pack_position grep -q 'bad.yaml:5:16: error: unknown validator' "$tmp/err"
"$bin" scan /nonexistent/file 2>/dev/null; rc=$?
check missing_file_exit2 [ "$rc" -eq 2 ]
"$bin" scan --bogus 2>/dev/null; rc=$?
check unknown_flag_exit2 [ "$rc" -eq 2 ]
"$bin" scan --help | grep -q 'usage: tollgate scan'; check help_exit0 [ "${PIPESTATUS[0]}" -eq 0 ]

# --config: the policy's packs and min_score
if [ -f "$root/rules/examples/demo.yaml" ]; then
  out=$("$bin" scan --config "$root/rules/examples/demo.yaml" "$tmp/a.txt" 2>"$tmp/err"); rc=$?
  check config_exit0 [ "$rc" -eq 0 ] 
  check config_finds grep -q EMAIL_ADDRESS <<<"$out"
fi
