#!/usr/bin/env bash
# pii_cases.sh — data-driven PII detector cases (tests/cases/pii/*.tsv).
#
# Each file names its entity ("# entity: X") and may set "# min-score: X"
# (default 0.5); "+" lines must yield a
# finding of X whose text is exactly the expected match, "-" lines must
# yield none.  All cases of a file go through one `tollgate scan --jsonl --no-allow`
# (the detectors' own output: the policy's allow lists and built-in defaults,
# such as special-purpose IPs, are tested by allow_cases.sh)
# with the default pack; offsets are code points, so jq's string slicing
# checks them directly.
set -uo pipefail
root=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${TOLLGATE:-$root/build/tollgate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# PII_CASES_DIR / PII_CASES_NAME: another directory of case files in this
# format, and the prefix of its check names (structured_cases.sh).
dir=${PII_CASES_DIR:-$root/tests/cases/pii}
name=${PII_CASES_NAME:-pii}

for f in "$dir"/*.tsv; do
  det=$name/$(basename "$f" .tsv)
  ent=$(sed -n 's/^# entity: *//p' "$f" | head -1)
  # "# min-score: X" scans at another threshold (detectors scored under the
  # default 0.5, such as URL and DATE_TIME, are only reported below it)
  ms=$(sed -n 's/^# min-score: *\([0-9.]*\).*/\1/p' "$f" | head -1)
  # one JSON object per case: {n, kind, expect, text}
  awk -F'\t' '!/^#/ && NF >= 2 { print NR "\t" $0 }' "$f" |
    jq -R -c 'split("\t") | {n: (.[0] | tonumber), kind: .[1],
               expect: (if .[1] == "+" then ("\"" + .[2] + "\"" | fromjson) else null end),
               text: ("\"" + (if .[1] == "+" then .[3] else .[2] end) + "\"" | fromjson)}' \
    >"$tmp/in.jsonl" 2>"$tmp/perr" || { echo "FAIL: $det: cannot parse case file"; continue; }
  # jq reads each line on its own and goes on past one it cannot parse (a
  # field that is not a JSON string body): such a case would never run
  [ -s "$tmp/perr" ] && echo "FAIL: $det: case lines not JSON string bodies: $(head -3 "$tmp/perr")"
  "$bin" scan --jsonl --no-allow ${ms:+--min-score "$ms"} "$tmp/in.jsonl" >"$tmp/out.jsonl" 2>"$tmp/err" ||
    { echo "FAIL: $det: scan exited $?: $(head -3 "$tmp/err")"; continue; }
  jq -r --arg e "$ent" --arg d "$det" '
    . as $c
    | [.findings[] | select(.entity == $e) | $c.text[.start:.end]] as $got
    | if .kind == "+" then
        (if ($got | index($c.expect)) != null then "PASS: \($d):\(.n)"
         else "FAIL: \($d):\(.n) expected \($e) \($c.expect | @json) in \($c.text | @json), got \($got | @json) (all: \([.findings[] | .entity + "=" + $c.text[.start:.end]] | @json))" end)
      else
        (if ($got | length) == 0 then "PASS: \($d):\(.n)"
         else "FAIL: \($d):\(.n) unexpected \($e) \($got | @json) in \($c.text | @json)" end)
      end' "$tmp/out.jsonl"
  # every case must come back
  want=$(wc -l <"$tmp/in.jsonl"); got=$(wc -l <"$tmp/out.jsonl")
  [ "$want" -eq "$got" ] || echo "FAIL: $det: $want cases in, $got out"
done
