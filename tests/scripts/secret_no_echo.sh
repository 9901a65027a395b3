#!/usr/bin/env bash
# secret_no_echo.sh — a matched secret never appears in what tollgate prints.
# For every "+" case of every secret detector (tests/cases/pii/<id>.tsv, ids
# from rules/pii/secrets.yaml): `tollgate scan` (human lines) and the
# findings of `tollgate scan --jsonl` must not contain the matched value;
# for the first "+" case of each file, neither may `tollgate explain`'s JSON
# (policy tests/cases/policies/secrets.yaml, the value in a user message),
# which must also deny it as pii.secret.  Multi-line values (PEM blocks)
# are checked line by line (lines of 8 bytes or more).
set -uo pipefail
root=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${TOLLGATE:-$root/build/tollgate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for det in $(sed -n 's/^  - id: *//p' "$root/rules/pii/secrets.yaml"); do
  f=$root/tests/cases/pii/$det.tsv
  [ -f "$f" ] || continue
  awk -F'\t' '!/^#/ && $1 == "+" { print NR "\t" $0 }' "$f" |
    jq -R -c 'split("\t") | {n: (.[0] | tonumber), expect: ("\"" + .[2] + "\"" | fromjson),
               text: ("\"" + .[3] + "\"" | fromjson)}' >"$tmp/in.jsonl"
  [ -s "$tmp/in.jsonl" ] || continue
  # human output, all cases of the file in one text
  jq -r '.text' "$tmp/in.jsonl" >"$tmp/all.txt"
  "$bin" scan "$tmp/all.txt" >"$tmp/human.txt" 2>&1
  # findings only: --jsonl prints each input back with its findings
  "$bin" scan --jsonl "$tmp/in.jsonl" 2>&1 | jq -c '.findings' >"$tmp/findings.txt"
  bad=0
  while IFS= read -r v; do
    if grep -qF -- "$v" "$tmp/human.txt" || grep -qF -- "$v" "$tmp/findings.txt"; then
      echo "FAIL: no-echo/$det: a matched value is printed by scan"; bad=1; break
    fi
  done < <(jq -r '.expect | split("\n")[] | select(length >= 8)' "$tmp/in.jsonl")
  [ $bad = 0 ] && echo "PASS: no-echo/$det scan"
  # explain, first case
  head -1 "$tmp/in.jsonl" | jq -c '{model: "m-us", metadata: {tenant: "t-open", category: "qa"},
                                     messages: [{role: "user", content: .text}]}' >"$tmp/req.json"
  v=$(head -1 "$tmp/in.jsonl" | jq -r '.expect | split("\n") | max_by(length)')
  "$bin" explain --config "$root/tests/cases/policies/secrets.yaml" --request "$tmp/req.json" >"$tmp/explain.json" 2>&1
  if ! jq -e . "$tmp/explain.json" >/dev/null 2>&1; then
    echo "FAIL: no-echo/$det explain: no JSON"
  elif grep -qF -- "$v" "$tmp/explain.json"; then
    echo "FAIL: no-echo/$det explain: the matched value is printed"
  elif ! jq -e '[.. | strings] | any(. == "pii.secret")' "$tmp/explain.json" >/dev/null; then
    echo "FAIL: no-echo/$det explain: the secret was not found (pii.secret)"
  else
    echo "PASS: no-echo/$det explain"
  fi
done
