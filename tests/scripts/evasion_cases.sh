#!/usr/bin/env bash
# evasion_cases.sh — personal data written to slip past a byte-wise scanner
# (other digit scripts, invisible characters, unusual spaces and dashes,
# full-width forms, percent-encoding, HTML references, JSON escapes) is
# found in every request position of every dialect, and clean look-alikes
# in the same shapes are not.  Cases: tests/cases/evasion/cases.jsonl,
# {"name", "endpoint", "expect": "deny"|"allow", "body"}; each goes through
# `tollgate explain --endpoint` on a policy where no provider may receive
# personal data.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/p.yaml" <<'YAML'
orchestration:
  version: "2.1"
  providers:
    cn: {adapter: echo, region: cn, jurisdiction: CN, pii_allowed: false}
  models:
    m: {provider: cn, max_context: 100000, pricing: {input_per_m: 0.1, output_per_m: 0.2}}
  regions:
    all: [cn]
  routing_rules:
    - category: code
      primary: {provider: cn, model: m}
      compliance: {data_residency: all, pii_allowed: false}
  policy:
    pii: {deny_secrets: true}
YAML
n=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  n=$((n + 1))
  name=$(jq -r .name <<<"$line"); ep=$(jq -r .endpoint <<<"$line"); want=$(jq -r .expect <<<"$line")
  jq -c .body <<<"$line" >"$tmp/b$n.json"
  got=$("$TOLLGATE" explain --config "$tmp/p.yaml" --request "$tmp/b$n.json" --endpoint "$ep" --category code \
        --compact 2>"$tmp/e$n" | jq -r .decision)
  if [ "$got" = "$want" ]; then echo "PASS: evasion/$name"; else echo "FAIL: evasion/$name: expected $want, got ${got:-nothing} ($(head -c 200 "$tmp/e$n"))"; fi
done <tests/cases/evasion/cases.jsonl
[ "$n" -ge 20 ] || echo "FAIL: evasion: only $n cases"
