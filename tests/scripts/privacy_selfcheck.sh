#!/usr/bin/env bash
# privacy_selfcheck.sh — tollgate checks its own exhaust (issue 7, item 6).
# A PII-heavy run through a real gateway (on_violation: redact, capture with
# redact: true; allowed, redacted, denied, streamed, unauthorised, failed
# requests), then `tollgate scan --jsonl` over everything the gateway
# wrote or served: the audit log, the capture file, /metrics, and the
# server's own stdout/stderr.  Zero findings are allowed except typed
# placeholders (<EMAIL_ADDRESS_1>) and the loopback address the server
# reports listening on; and no client key, bearer token or provider key
# may appear anywhere, in any of those files.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
gw_start e2e.yaml ON_VIOLATION=redact TELEMETRY_ENABLED=true || exit 0

WRONG_KEY=tg-wrong-key-5f4dcc3b5aa765d61d8327deb882cf99
# One of each: what a bank's prompts carry.
PII=(
  "mail jane.roe@example.com about the loan"
  "call me on +1 415 555 0132 tomorrow"
  "card 4111 1111 1111 1111 exp 12/29"
  "my SSN: 536-22-1234"
  "IBAN GB82 WEST 1234 5698 7654 32 for the transfer"
  "server 203.0.113.77 is down"
  "key AKIAIOSFODNN7EXAMPLE leaked"
  "jane\u200b.roe@example.com with a zero-width space"
  "passport 340020013 and NHS 943 476 5919"
)
sent=0
# All bodies in one node run: B/<i>.json and B/<i>.s.json (stream).
mkdir -p "$GW_DIR/B"
node -e 'const fs=require("fs"); const [dir,...ts]=process.argv.slice(1);
  ts.forEach((t,i)=>{ const text=JSON.parse("\""+t+"\"");
    for (const [suf,extra] of [["",{}],[".s",{stream:true}],[".f",{}]]) {
      const u = suf===".f" ? text+" [[stub:{\"status\":500}]]" : text;
      fs.writeFileSync(`${dir}/${i}${suf}.json`, JSON.stringify({model:"auto",...extra,
        messages:[{role:"system",content:"You are a bank assistant."},{role:"user",content:u}]})); } });' \
  "$GW_DIR/B" "${PII[@]}"
req() { # CATEGORY KEY BODYFILE
  curl -s -N -o /dev/null --max-time 20 -H "Authorization: Bearer $2" -H "X-Task-Category: $1" \
    -H 'Content-Type: application/json' -H 'X-Feature-Id: privacy-selfcheck' --data-binary @"$3" \
    "$GW_BASE/v1/chat/completions"
  sent=$((sent + 1))
}
for round in 1 2; do
  # Round 2: the PII-permitted primary of pii_ok fails, so its requests fall
  # back to stub-cn, which has no DPA: it may only ever see redacted text.
  [ "$round" = 2 ] && curl -s -X POST -H 'Content-Type: application/json' \
    -d '{"match":"/us2/","status":500}' "$STUB_URL/__behavior" >/dev/null
  for ((i = 0; i < ${#PII[@]}; i++)); do
    b=$GW_DIR/B/$i
    req chat "$ACME_KEY" "$b.json"            # redacted, then sent
    req chat "$ACME_KEY" "$b.s.json"          # streamed, redacted
    req pii_ok "$ACME_KEY" "$b.json"          # PII allowed: sent as is, captured redacted
    req claude "$GLOBEX_KEY" "$b.json"        # anthropic adapter
    req nope "$ACME_KEY" "$b.json"            # unknown category: denied
    req chat "$WRONG_KEY" "$b.json"           # unknown key: 401
    req chat "$ACME_KEY" "$b.f.json"          # upstream fails
  done
done
sleep 0.5
curl -s "$GW_BASE/metrics" >"$GW_DIR/metrics.txt"
check "metrics scraped" test -s "$GW_DIR/metrics.txt"
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
check "capture file written" test -s "$GW_DIR/capture.jsonl"
check "capture holds placeholders (redaction happened)" grep -q '<EMAIL_ADDRESS_1>' "$GW_DIR/capture.jsonl"

# scan FILE: every line as a {"text"} object; print findings that are not
# placeholders or the loopback address, as ENTITY@LINE (never the match).
scan_file() {
  node -e 'const fs=require("fs"); for (const l of fs.readFileSync(process.argv[1],"utf8").split("\n")) console.log(JSON.stringify({text:l}))' "$1" \
    >"$GW_DIR/scan.in"
  "$TOLLGATE" scan --config "$GW_CONFIG" --jsonl "$GW_DIR/scan.in" >"$GW_DIR/scan.out" 2>"$GW_DIR/scan.err" || { echo "scan-failed"; return; }
  node -e '
    const fs = require("fs");
    let ln = 0; const bad = [];
    for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
      if (!l) continue; ln++;
      const o = JSON.parse(l); const cps = Array.from(o.text);
      for (const f of o.findings || []) {
        const m = cps.slice(f.start, f.end).join("");
        // a placeholder, possibly with the surrounding brackets cut off
        const ctx = cps.slice(Math.max(0, f.start - 1), f.end + 1).join("");
        if (/^<[A-Z0-9_]+_[0-9]+>$/.test(ctx) || /^<?[A-Z][A-Z0-9_]*_[0-9]+>?$/.test(m)) continue;
        if (f.entity === "IP_ADDRESS" && m === "127.0.0.1") continue;
        bad.push(f.entity + "@" + ln);
      }
    }
    console.log(bad.length ? bad.slice(0, 12).join(" ") : "none");' "$GW_DIR/scan.out"
}
# The check can fail: the same scan over the raw prompts finds them.
printf '%b\n' "${PII[@]}" >"$GW_DIR/control.txt"
res=$(scan_file "$GW_DIR/control.txt")
check "control: the scan finds the raw prompts' PII ($(wc -w <<<"$res") findings)" test "$(wc -w <<<"$res")" -ge 7
curl -s "$STUB_URL/__requests?match=telemetry" >"$GW_DIR/telemetry.json"
curl -s "$STUB_URL/__requests" | node -e '
  const reqs = JSON.parse(require("fs").readFileSync(0, "utf8"));
  // every body a provider without PII permission received (us2 may see PII)
  for (const r of reqs) if (!r.path.includes("/us2/") && r.flavor !== "telemetry") console.log(JSON.stringify(r.body));' \
  >"$GW_DIR/upstream.jsonl"
check "stub-cn was reached by the pii_ok fallback" grep -q 'stub-cn\|deepseek-chat' "$GW_DIR/upstream.jsonl"
check "telemetry batches reached the collector" grep -q '"flavor":"telemetry"' "$GW_DIR/telemetry.json"
for f in audit.log capture.jsonl metrics.txt serve.log telemetry.json upstream.jsonl; do
  res=$(scan_file "$GW_DIR/$f")
  check "tollgate scan $f: no findings but placeholders ($res)" test "$res" = none
done

keys=(-e "$ACME_KEY" -e "$GLOBEX_KEY" -e "$WRONG_KEY" -e 'sk-stub' -e 'sk-ant-stub' -e 'Bearer ')
no_keys() { ! grep -q -F "${keys[@]}" "$1"; }
for f in audit.log capture.jsonl metrics.txt serve.log telemetry.json; do
  check "$f: no client key, bearer token or provider key" no_keys "$GW_DIR/$f"
done
check "audit log: one entry per request ($(audit_count) entries, $sent requests)" test "$(audit_count)" = "$sent"
"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >/dev/null 2>&1
check "audit verify passes" test $? = 0
