#!/usr/bin/env bash
# dryrun_serve.sh — capture with `serve`, replay with `dry-run`: the capture
# file is 0600, holds no raw PII (redacted to typed placeholders), and
# dry-run's decision for every captured request equals the decision serve
# recorded for it — also for the redacted ones, whose placeholders count as
# the PII they replaced.  Echo providers on 127.0.0.1 only.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not installed"; exit 0; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key_a=tg-dryrun-a-0123456789; key_b=tg-dryrun-b-9876543210
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$tmp/serve.yaml" <<YAML
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
      primary: {provider: e-cn, model: m-cn}
      fallback: [{provider: e-us, model: m-us}]
      constraints: {timeout_ms: 2000}
      compliance: {data_residency: all, pii_allowed: true}
    - category: strict
      primary: {provider: e-cn, model: m-cn}
      constraints: {timeout_ms: 2000}
      compliance: {data_residency: all, pii_allowed: false}
  policy:
    pii: {on_violation: redact}
  tenants:
    - {id: ta, api_key_sha256: "$(sha $key_a)"}
    - {id: tb, api_key_sha256: "$(sha $key_b)", pii_allowed: false}
  audit: {path: $tmp/audit.log, signing_key: $tmp/audit.key}
  capture: {path: $tmp/capture.jsonl, redact: true, sample: 1.0}
  server: {listen: "127.0.0.1:$port", threads: 1}
YAML
"$TOLLGATE" serve --config "$tmp/serve.yaml" >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
if ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz"; then
  echo "FAIL: serve did not start"; head -5 "$tmp/serve.err"; exit 0
fi
req() { # KEY CATEGORY CONTENT
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -H "Authorization: Bearer $1" \
    -H "X-Task-Category: $2" -H 'Content-Type: application/json' \
    -d "{\"model\":\"auto\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"$3\"}]}" \
    "http://127.0.0.1:$port/v1/chat/completions" >>"$tmp/codes"
}
req $key_a chat "hello there"
req $key_a chat "mail jane.roe@example.com the invoice"
req $key_a strict "card 4111 1111 1111 1111 please"
req $key_a strict "plain question"
req $key_b chat "call me on +1 415 555 0199 or jane.roe@example.com"
req $key_b chat "no personal data here"
req $key_a nosuch "unknown category"
# other doors: their capture lines carry the client's own body as well
curl -s -o /dev/null --max-time 5 -H "x-api-key: $key_a" -H "X-Task-Category: chat" \
  -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' \
  -d '{"model":"auto","max_tokens":50,"system":"Reply to jane.roe@example.com only.","messages":[{"role":"user","content":[{"type":"text","text":"write to jane.roe@example.com about 4111 1111 1111 1111"}]}]}' \
  "http://127.0.0.1:$port/v1/messages"
curl -s -o /dev/null --max-time 5 -H "Authorization: Bearer $key_a" -H "X-Task-Category: chat" \
  -H 'Content-Type: application/json' \
  -d '{"model":"auto","instructions":"Sign as jane.roe@example.com","input":"card 4111 1111 1111 1111, thanks"}' \
  "http://127.0.0.1:$port/v1/responses"
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
[ -n "${DRYRUN_KEEP:-}" ] && cp "$tmp/capture.jsonl" "$DRYRUN_KEEP"

ok "serve_answered" '[ "$(wc -l <"$tmp/codes")" -eq 7 ]'
ok "capture_mode_0600" '[ "$(stat -c %a "$tmp/capture.jsonl")" = 600 ]'
ok "capture_has_every_decided_request" '[ "$(grep -c . "$tmp/capture.jsonl")" -ge 6 ]'
ok "capture_no_raw_pii" '! grep -Eq "jane\.roe|4111 1111|555 0199" "$tmp/capture.jsonl"'
ok "capture_has_placeholders" 'grep -q "<EMAIL_ADDRESS_1>" "$tmp/capture.jsonl"'
python3 - "$tmp/capture.jsonl" >"$tmp/body.out" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = []
seen = set()
for c in lines:
    ep = c.get("endpoint", "")
    if ep.endswith("/chat/completions"):
        if "body" in c: bad.append("chat line has a second body")
        continue
    seen.add(ep)
    b = c.get("body")
    if not isinstance(b, dict): bad.append("%s: no body" % ep); continue
    text = json.dumps(b)
    if "jane.roe" in text or "4111 1111" in text: bad.append("%s: raw value in body" % ep)
    if "<EMAIL_ADDRESS_1>" not in text or "<CREDIT_CARD_1>" not in text: bad.append("%s: placeholders missing" % ep)
    if ep.endswith("/messages") and not (b.get("system") == "Reply to <EMAIL_ADDRESS_1> only." and b["messages"][0]["content"][0]["type"] == "text"):
        bad.append("messages body not in its own shape: %s" % text[:200])
    if ep.endswith("/responses") and b.get("instructions") != "Sign as <EMAIL_ADDRESS_1>":
        bad.append("responses body not in its own shape: %s" % text[:200])
    # the same placeholders as the canonical request
    if "<EMAIL_ADDRESS_1>" not in json.dumps(c.get("request")): bad.append("%s: request differs" % ep)
if len(seen) != 2: bad.append("doors seen: %s" % sorted(seen))
print("\n".join(bad) or "ok")
sys.exit(1 if bad else 0)
PY
ok "capture_other_doors_keep_their_redacted_body" '[ $? -eq 0 ]'
sed 's/^/  /' "$tmp/body.out"

"$TOLLGATE" dry-run --config "$tmp/serve.yaml" --traffic "$tmp/capture.jsonl" --quiet \
  --decisions "$tmp/dec.jsonl" --json >"$tmp/dr.json" 2>"$tmp/dr.err"
ok "dry_run_replays_capture" '[ $? -eq 0 ] && [ "$(python3 -c "import json; d=json.load(open(\"$tmp/dr.json\")); print(d[\"malformed\"])")" = 0 ]'
python3 - "$tmp/capture.jsonl" "$tmp/dec.jsonl" >"$tmp/cmp.out" <<'PY'
import json, sys
cap = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
bad = 0
for c, d in zip(cap, dec):
    if c.get("decision") != d["decision"]:
        bad += 1
        print("mismatch %s: serve %s dry-run %s" % (d["id"], c.get("decision"), d["decision"]))
kinds = sorted(set(c.get("decision") for c in cap))
print("compared %d kinds %s" % (len(dec), kinds))
sys.exit(1 if bad or len(cap) != len(dec) else 0)
PY
ok "dry_run_decisions_equal_serve" '[ $? -eq 0 ]'
ok "decisions_cover_allow_redact_deny" 'grep -q "allow" "$tmp/cmp.out" && grep -q "redact" "$tmp/cmp.out" && grep -q "deny" "$tmp/cmp.out"'
cat "$tmp/cmp.out" | sed 's/^/  /'
exit 0
