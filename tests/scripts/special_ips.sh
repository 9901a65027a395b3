#!/usr/bin/env bash
# special_ips.sh — special-purpose IP addresses (loopback, private,
# link-local, documentation, multicast, netmasks, ...) identify no person:
# by default they are not findings for decisions (counted as `allowed`),
# public addresses still are, and `policy.pii.special_ips: personal` turns
# the default off.  A code slice such as x[::2] is never an address at all.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
special='connect to 127.0.0.1:8080, 10.0.0.7, 192.168.1.20, fe80::1, ::1, 2001:db8::1, netmask 255.255.255.0'
printf '{"text":"%s"}\n' "$special" | "$TOLLGATE" scan --jsonl - >"$tmp/def.jsonl" 2>/dev/null
printf '%s\n' "$special" | "$TOLLGATE" scan - >/dev/null 2>"$tmp/def.err"
ok "special_not_findings_by_default" '[ "$(jq ".findings | length" "$tmp/def.jsonl")" = 0 ]'
ok "special_counted_as_allowed" 'grep -q "IP_ADDRESS x7" "$tmp/def.err"'
printf '{"text":"%s"}\n' "$special" | "$TOLLGATE" scan --jsonl --no-allow - >"$tmp/raw.jsonl" 2>/dev/null
ok "detector_still_sees_them (--no-allow)" '[ "$(jq "[.findings[] | select(.entity == \"IP_ADDRESS\")] | length" "$tmp/raw.jsonl")" = 7 ]'
printf '{"text":"client 81.2.69.142 and 2a00:1450:4001:82b::200e called"}\n' | "$TOLLGATE" scan --jsonl - >"$tmp/pub.jsonl" 2>/dev/null
ok "public_addresses_found" '[ "$(jq "[.findings[] | select(.entity == \"IP_ADDRESS\")] | length" "$tmp/pub.jsonl")" = 2 ]'
printf '{"text":"evens = x[::2]; rev = y[::-1]; odd = z[1::2]; b = le[4-1::-1] + le[6-1:4-1:-1]"}\n' | "$TOLLGATE" scan --jsonl --no-allow - >"$tmp/slice.jsonl" 2>/dev/null
ok "slices_are_not_addresses" '[ "$(jq ".findings | length" "$tmp/slice.jsonl")" = 0 ]'
# Networks (an address, its prefix length, host bits zero) name an
# allocation, not a machine; a host written with its prefix is still one.
nets='routes 8.8.8.0/24, 81.2.69.0/24 and 2a00:1450:4001:82b::/64; IPv6Network(\u0027200::/7\u0027)'
printf '{"text":"%s"}\n' "$nets" | "$TOLLGATE" scan --jsonl - >"$tmp/net.jsonl" 2>/dev/null
ok "networks_not_findings" '[ "$(jq ".findings | length" "$tmp/net.jsonl")" = 0 ] && [ "$(jq ".allowed[0].count" "$tmp/net.jsonl")" = 4 ]'
printf '{"text":"%s"}\n' "$nets" | "$TOLLGATE" scan --jsonl --no-allow - >"$tmp/netraw.jsonl" 2>/dev/null
ok "networks_seen_by_the_detectors (--no-allow)" '[ "$(jq ".findings | length" "$tmp/netraw.jsonl")" = 4 ]'
hosts='eth0 81.2.69.142/24, 2a00:1450:4001:82b::200e/64, 8.8.8.8/32, 2001:4860::8888/128, 8.8.8.0/245'
printf '{"text":"%s"}\n' "$hosts" | "$TOLLGATE" scan --jsonl - >"$tmp/host.jsonl" 2>/dev/null
ok "hosts_with_a_prefix_found" '[ "$(jq ".findings | length" "$tmp/host.jsonl")" = 5 ]'

# Decisions: a rule without PII permission serves an agent's localhost talk.
conf() {
  cat <<YAML
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
    pii: {special_ips: $1}
YAML
}
conf not_personal >"$tmp/np.yaml"; conf personal >"$tmp/p.yaml"
printf '{"messages":[{"role":"user","content":"the dev server at 127.0.0.1:3000 and 10.0.0.7 refuses connections"}]}' >"$tmp/req.json"
"$TOLLGATE" explain --config "$tmp/np.yaml" --request "$tmp/req.json" --category code --compact >"$tmp/np.out" 2>/dev/null
ok "default_allows_localhost_talk" '[ "$(jq -r .decision "$tmp/np.out")" = allow ] && [ "$(jq -r ".allowed[0].entity" "$tmp/np.out")" = IP_ADDRESS ] && [ "$(jq -r ".allowed[0].count" "$tmp/np.out")" = 2 ]'
"$TOLLGATE" explain --config "$tmp/p.yaml" --request "$tmp/req.json" --category code --compact >"$tmp/p.out" 2>/dev/null
ok "switch_counts_them_as_personal" '[ "$(jq -r .decision "$tmp/p.out")" = deny ]'
printf '{"messages":[{"role":"user","content":"user 81.2.69.142 reported a bug"}]}' >"$tmp/pub.json"
"$TOLLGATE" explain --config "$tmp/np.yaml" --request "$tmp/pub.json" --category code --compact >"$tmp/pub.out" 2>/dev/null
ok "public_address_still_denied" '[ "$(jq -r .decision "$tmp/pub.out")" = deny ]'
