#!/usr/bin/env bash
# context_differential.sh — serve, explain and dry-run reach the same
# decision, category, route and rule ids for the same request, whichever
# way the request names its category (X-Task-Category header, metadata,
# `model` naming a category, a rule alias, the tenant's default_category).
# Cases: tests/cases/context/cases.jsonl, one JSON object per line:
#   {"name", "tenant", "header" (optional X-Task-Category), "body"}
# serve's answers are read back from its audit log; explain gets the body
# and --tenant/--category; dry-run gets capture lines.  Echo providers only.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not installed"; exit 0; }
cases=tests/cases/context/cases.jsonl
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key_a=tg-ctx-a-0123456789; key_b=tg-ctx-b-9876543210
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$tmp/p.yaml" <<YAML
orchestration:
  version: "2.1"
  providers:
    e-us: {adapter: echo, region: us, jurisdiction: US, pii_allowed: true}
    e-cn: {adapter: echo, region: cn, jurisdiction: CN, pii_allowed: false}
  models:
    m-us: {provider: e-us, max_context: 100000, pricing: {input_per_m: 1.0, output_per_m: 2.0}}
    m-cn: {provider: e-cn, max_context: 100000, pricing: {input_per_m: 0.1, output_per_m: 0.2}}
  regions:
    all: [us, cn]
  routing_rules:
    - category: chat
      aliases: [gpt-5-codex, claude-opus-5-5]
      primary: {provider: e-cn, model: m-cn}
      fallback: [{provider: e-us, model: m-us}]
      constraints: {timeout_ms: 2000}
      compliance: {data_residency: all, pii_allowed: true}
    - category: strict
      primary: {provider: e-cn, model: m-cn}
      constraints: {timeout_ms: 2000}
      compliance: {data_residency: all, pii_allowed: false}
  policy:
    pii: {on_violation: deny}
  tenants:
    - {id: ta, api_key_sha256: "$(sha $key_a)", default_category: chat}
    - {id: tb, api_key_sha256: "$(sha $key_b)", pii_allowed: false}
  audit: {path: $tmp/audit.log, signing_key: $tmp/audit.key, fsync: always}
  server: {listen: "127.0.0.1:$port", threads: 1}
YAML
"$TOLLGATE" check "$tmp/p.yaml" >/dev/null 2>"$tmp/check.err" || { echo "FAIL: config: $(head -3 "$tmp/check.err")"; exit 0; }
"$TOLLGATE" serve --config "$tmp/p.yaml" >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done

n=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  n=$((n + 1))
  t=$(jq -r .tenant <<<"$line"); h=$(jq -r '.header // empty' <<<"$line")
  jq -c .body <<<"$line" >"$tmp/body$n.json"
  key=$key_a; [ "$t" = tb ] && key=$key_b
  hdr=(); [ -n "$h" ] && hdr=(-H "X-Task-Category: $h")
  curl -s -o /dev/null --max-time 5 -H "Authorization: Bearer $key" "${hdr[@]}" \
    -H 'Content-Type: application/json' --data-binary @"$tmp/body$n.json" \
    "http://127.0.0.1:$port/v1/chat/completions"
  cat=(); [ -n "$h" ] && cat=(--category "$h")
  "$TOLLGATE" explain --config "$tmp/p.yaml" --request "$tmp/body$n.json" --tenant "$t" "${cat[@]}" \
    --compact >>"$tmp/explain.jsonl" 2>>"$tmp/explain.err"
  jq -c --arg t "$t" --arg h "$h" '{tenant: $t, request: .body} + (if $h != "" then {category: $h} else {} end)' \
    <<<"$line" >>"$tmp/traffic.jsonl"
done <"$cases"
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
"$TOLLGATE" dry-run --config "$tmp/p.yaml" --traffic "$tmp/traffic.jsonl" --quiet \
  --decisions "$tmp/dry.jsonl" --json >/dev/null 2>"$tmp/dry.err"

python3 - "$cases" "$tmp/audit.log" "$tmp/explain.jsonl" "$tmp/dry.jsonl" <<'PY'
import json, sys
cases = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
audit = [e for e in (json.loads(l) for l in open(sys.argv[2]) if l.strip()) if e.get("event") == "decision"]
expl = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
dry = [json.loads(l) for l in open(sys.argv[4]) if l.strip()]

def rules(d):
    r = set(x["rule"] for x in d.get("reasons", []) if isinstance(x, dict))
    for c in d.get("candidates", []) or []:
        r |= set(x["rule"] for x in c.get("reasons", []))
    for k in ("rules", "candidate_rules"):   # dry-run --decisions
        if isinstance(d.get(k), list):
            r |= set(d[k])
    return sorted(r)

def key(d):
    return (d.get("decision"), d.get("category"), list(d.get("route") or []), rules(d))

if not (len(cases) == len(audit) == len(expl) == len(dry)):
    print("FAIL: counts: cases %d, serve %d, explain %d, dry-run %d" % (len(cases), len(audit), len(expl), len(dry)))
    sys.exit(0)
seen = set()
for c, a, e, d in zip(cases, audit, expl, dry):
    ka, ke, kd = key(a), key(e), key(d)
    seen.add(ka[0])
    if ka == ke == kd:
        print("PASS: context/%s (%s, %s)" % (c["name"], ka[0], ka[1]))
    else:
        print("FAIL: context/%s serve %s explain %s dry-run %s" % (c["name"], ka, ke, kd))
print(("PASS" if {"allow", "deny"} <= seen else "FAIL") + ": context/covers_allow_and_deny %s" % sorted(seen))
PY
exit 0
