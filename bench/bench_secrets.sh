#!/usr/bin/env bash
# bench_secrets.sh (`make bench`) — recall and false-alarm rate of the secret detectors
# over their case files (tests/cases/pii/<id>.tsv for every id in
# rules/pii/secrets.yaml).  Recall: "+" cases where the file's entity is
# reported exactly at the expected text; false alarms: "-" cases where the
# file's entity is reported at all.  Prints a Markdown table (docs/secrets.md
# carries its latest output).  A measurement, not a test: exits 0.
set -uo pipefail
root=${TG_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${TOLLGATE:-$root/build/tollgate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ids=$(sed -n 's/^  - id: *//p' "$root/rules/pii/secrets.yaml")
printf '| detector | entity | true positives | found | recall | negatives | false alarms | false-alarm rate |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|\n'
for det in $ids; do
  f=$root/tests/cases/pii/$det.tsv
  [ -f "$f" ] || { printf '| %s | (no case file) |||||||\n' "$det"; continue; }
  ent=$(sed -n 's/^# entity: *//p' "$f" | head -1)
  awk -F'\t' '!/^#/ && NF >= 2 { print NR "\t" $0 }' "$f" |
    jq -R -c 'split("\t") | {kind: .[1],
               expect: (if .[1] == "+" then ("\"" + .[2] + "\"" | fromjson) else null end),
               text: ("\"" + (if .[1] == "+" then .[3] else .[2] end) + "\"" | fromjson)}' >"$tmp/in.jsonl"
  "$bin" scan --jsonl "$tmp/in.jsonl" >"$tmp/out.jsonl" 2>/dev/null
  jq -s -r --arg e "$ent" --arg d "$det" '
    map(. as $c | [.findings[] | select(.entity == $e) | $c.text[.start:.end]] as $got
        | {kind, hit: (if .kind == "+" then (($got | index($c.expect)) != null) else (($got | length) > 0) end)})
    | (map(select(.kind == "+")) | length) as $p | (map(select(.kind == "+" and .hit)) | length) as $tp
    | (map(select(.kind == "-")) | length) as $n | (map(select(.kind == "-" and .hit)) | length) as $fp
    | "| \($d) | \($e) | \($p) | \($tp) | \(if $p > 0 then (1000 * $tp / $p | round / 10 | tostring) + "%" else "-" end) | \($n) | \($fp) | \(if $n > 0 then (1000 * $fp / $n | round / 10 | tostring) + "%" else "-" end) |"
    ' "$tmp/out.jsonl" | tee -a "$tmp/rows"
done
awk -F'|' '{p += $4; tp += $5; n += $7; fp += $9}
  END { printf "| **all** | | %d | %d | %.1f%% | %d | %d | %.1f%% |\n", p, tp, p ? 100 * tp / p : 0, n, fp, n ? 100 * fp / n : 0 }' "$tmp/rows"
