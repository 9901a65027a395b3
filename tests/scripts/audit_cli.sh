#!/usr/bin/env bash
# audit_cli.sh — keygen, audit verify/show/stats/rotate-key through the real
# binary: exit codes, tamper reports, and stats totals on a known set.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TOLLGATE=${TOLLGATE:-$TG_ROOT/build/tollgate}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
check() { local name=$1; shift; if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; fi; }

# ---- keygen ---------------------------------------------------------------
id=$("$TOLLGATE" keygen --out "$T/k"); rc=$?
check "keygen exits 0" test "$rc" = 0
check "keygen prints a 32-hex key id" bash -c "[[ '$id' =~ ^[0-9a-f]{32}$ ]]"
check "keygen private key is mode 0600" test "$(stat -c %a "$T/k.key")" = 600
check "keygen writes PEM private key" grep -q "BEGIN PRIVATE KEY" "$T/k.key"
check "keygen writes PEM public key" grep -q "BEGIN PUBLIC KEY" "$T/k.pub"
sum=$(sha256sum "$T/k.key")
"$TOLLGATE" keygen --out "$T/k" 2>"$T/err"; rc=$?
check "keygen refuses to overwrite (exit 2)" test "$rc" = 2
check "keygen overwrite refusal says so" grep -q "refusing to overwrite" "$T/err"
check "keygen left the key untouched" test "$sum" = "$(sha256sum "$T/k.key")"
"$TOLLGATE" keygen 2>/dev/null; check "keygen without --out is a usage error" test $? = 2
"$TOLLGATE" keygen --help >/dev/null; check "keygen --help exits 0" test $? = 0
"$TOLLGATE" keygen --out "$T/other" >/dev/null

# ---- a known set of entries ----------------------------------------------
# 3 tenants, allow/redact/deny, tokens and costs chosen so float sums are exact to the nano-dollar.
cat >"$T/in.jsonl" <<'J'
{"event":"decision","tenant":"acme","feature":"chat","category":"general","decision":"allow","model":"gpt-4o","rules":[],"usage":{"prompt_tokens":100,"completion_tokens":50},"cost_usd":0.00075,"status":200,"ts":"2026-01-01T10:00:00.000000Z"}
{"event":"decision","tenant":"acme","feature":"chat","category":"general","decision":"redact","model":"gpt-4o","rules":["pii.provider"],"usage":{"prompt_tokens":200,"completion_tokens":10},"cost_usd":0.0006,"status":200,"ts":"2026-01-02T10:00:00.000000Z"}
{"event":"decision","tenant":"acme","feature":"search","category":"code_generation","decision":"deny","model":null,"rules":["pii.rule","route.empty"],"usage":{"prompt_tokens":null,"completion_tokens":null},"cost_usd":null,"status":403,"ts":"2026-01-03T10:00:00.000000Z"}
{"event":"decision","tenant":"globex","feature":"chat","category":"general","decision":"allow","model":"deepseek-v4-flash","rules":[],"usage":{"prompt_tokens":1000,"completion_tokens":500},"cost_usd":0.1,"status":200,"ts":"2026-01-04T10:00:00.000000Z"}
{"event":"decision","tenant":"globex","feature":"chat","category":"general","decision":"allow","model":"deepseek-v4-flash","rules":[],"usage":{"prompt_tokens":1,"completion_tokens":2},"cost_usd":0.2,"status":200,"ts":"2026-01-05T10:00:00.000000Z"}
{"event":"unauthenticated","tenant":null,"decision":"deny","model":null,"rules":["tenant.unknown"],"usage":{"prompt_tokens":null,"completion_tokens":null},"cost_usd":null,"status":401,"ts":"2026-01-06T10:00:00.000000Z"}
{"event":"upstream_failure","tenant":"initech","feature":"chat","category":"general","decision":"allow","model":null,"rules":[],"usage":{"prompt_tokens":null,"completion_tokens":null},"cost_usd":null,"status":502,"ts":"2026-01-07T10:00:00.000000Z","attempts":[{"model":"gpt-4o","provider":"openai","outcome":"timeout","http_status":0,"ms":800}]}
J
"$TOLLGATE" audit _append --log "$T/a.log" --key "$T/k.key" --seal-every 3 <"$T/in.jsonl"; rc=$?
check "_append writes the known set" test "$rc" = 0
check "log file is mode 0600" test "$(stat -c %a "$T/a.log")" = 600

"$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/k.pub" >"$T/v.out"; rc=$?
check "verify intact log exits 0" test "$rc" = 0
n=$(wc -l <"$T/a.log")
check "verify summary N/N entries verified ($n)" grep -q "^$n/$n entries verified" "$T/v.out"

stats=$("$TOLLGATE" audit stats "$T/a.log" --json)
want='{"by":"tenant","groups":[{"key":"(none)","requests":1,"decisions":{"allow":0,"redact":0,"deny":1},"prompt_tokens":0,"completion_tokens":0,"cost_usd":0},{"key":"acme","requests":3,"decisions":{"allow":1,"redact":1,"deny":1},"prompt_tokens":300,"completion_tokens":60,"cost_usd":0.00135},{"key":"globex","requests":2,"decisions":{"allow":2,"redact":0,"deny":0},"prompt_tokens":1001,"completion_tokens":502,"cost_usd":0.3},{"key":"initech","requests":1,"decisions":{"allow":1,"redact":0,"deny":0},"prompt_tokens":0,"completion_tokens":0,"cost_usd":0}]}'
check "stats --json by tenant is exact" test "$stats" = "$want"
[ "$stats" = "$want" ] || { echo "got:  $stats"; echo "want: $want"; }
stats=$("$TOLLGATE" audit stats "$T/a.log" --json --by decision)
want='{"by":"decision","groups":[{"key":"allow","requests":4,"decisions":{"allow":4,"redact":0,"deny":0},"prompt_tokens":1101,"completion_tokens":552,"cost_usd":0.30075},{"key":"deny","requests":2,"decisions":{"allow":0,"redact":0,"deny":2},"prompt_tokens":0,"completion_tokens":0,"cost_usd":0},{"key":"redact","requests":1,"decisions":{"allow":0,"redact":1,"deny":0},"prompt_tokens":200,"completion_tokens":10,"cost_usd":0.0006}]}'
check "stats --json by decision is exact" test "$stats" = "$want"
[ "$stats" = "$want" ] || { echo "got:  $stats"; echo "want: $want"; }
stats=$("$TOLLGATE" audit stats "$T/a.log" --json --by rule)
check "stats by rule counts each rule id" bash -c "grep -q '\"key\":\"route.empty\",\"requests\":1' <<<'$stats' && grep -q '\"key\":\"pii.provider\",\"requests\":1' <<<'$stats' && grep -q '\"key\":\"(none)\",\"requests\":4' <<<'$stats'"
stats=$("$TOLLGATE" audit stats "$T/a.log" --json --by model)
check "stats by model" bash -c "grep -q '\"key\":\"deepseek-v4-flash\",\"requests\":2' <<<'$stats' && grep -q '\"key\":\"gpt-4o\",\"requests\":2' <<<'$stats'"
"$TOLLGATE" audit stats "$T/a.log" --by feature >"$T/s.txt"
check "stats human table has a TOTAL row of 7 requests" grep -Eq '^TOTAL +7 ' "$T/s.txt"
"$TOLLGATE" audit stats "$T/a.log" --by nonsense 2>/dev/null; check "stats bad --by is exit 2" test $? = 2

# ---- show ------------------------------------------------------------------
c=$("$TOLLGATE" audit show "$T/a.log" --tenant acme --json | wc -l)
check "show --tenant acme --json: 3 lines" test "$c" = 3
c=$("$TOLLGATE" audit show "$T/a.log" --decision deny --json | wc -l)
check "show --decision deny: 2" test "$c" = 2
c=$("$TOLLGATE" audit show "$T/a.log" --since 2026-01-02 --until 2026-01-04 --json | wc -l)
check "show --since/--until inclusive days: 3" test "$c" = 3
c=$("$TOLLGATE" audit show "$T/a.log" --model gpt-4o --category general --json | wc -l)
check "show --model --category: 2" test "$c" = 2
"$TOLLGATE" audit show "$T/a.log" --json | python3 -c 'import sys,json; [json.loads(l) for l in sys.stdin]' 2>/dev/null
check "show --json lines are JSON" test $? = 0
"$TOLLGATE" audit show "$T/a.log" --tenant globex >"$T/show.txt"
check "show table: header + 2 rows" test "$(wc -l <"$T/show.txt")" = 3

# ---- tampering through the CLI ---------------------------------------------
cp "$T/a.log" "$T/t.log"
sed -i '3s/"tenant":"acme"/"tenant":"acmf"/' "$T/t.log"
"$TOLLGATE" audit verify "$T/t.log" --pubkey "$T/k.pub" >"$T/v.out"; rc=$?
check "modified entry: exit 1" test "$rc" = 1
check "modified entry: tampered: seq 3" grep -q "^tampered: seq 3: " "$T/v.out"
sed '4d' "$T/a.log" >"$T/t.log"
"$TOLLGATE" audit verify "$T/t.log" --pubkey "$T/k.pub" >"$T/v.out"; rc=$?
check "deleted entry: exit 1 with tampered: seq 4" bash -c "test $rc = 1 && grep -q '^tampered: seq 4: ' '$T/v.out'"
"$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/other.pub" >"$T/v.out"; rc=$?
check "unlisted key: exit 1" test "$rc" = 1
check "unlisted key: reported" grep -q "not given with --pubkey" "$T/v.out"
head=$("$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/k.pub" | sed -n 's/^head: seq [0-9]* //p')
"$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/k.pub" --expect-head "$head" >/dev/null
check "--expect-head of the real head: exit 0" test $? = 0
last_seal=$(grep -n '"event":"seal"' "$T/a.log" | tail -2 | head -1 | cut -d: -f1)
head -n "$last_seal" "$T/a.log" >"$T/t.log"
"$TOLLGATE" audit verify "$T/t.log" --pubkey "$T/k.pub" >/dev/null
check "truncated at a seal without --expect-head: exit 0 (undetectable by design)" test $? = 0
"$TOLLGATE" audit verify "$T/t.log" --pubkey "$T/k.pub" --expect-head "$head" >"$T/v.out"
check "truncated with --expect-head: exit 1" test $? = 1
check "truncated with --expect-head: tampered line" grep -q "^tampered: seq .*not found" "$T/v.out"
"$TOLLGATE" audit verify "$T/a.log" 2>/dev/null; check "verify without --pubkey: exit 2" test $? = 2
"$TOLLGATE" audit verify "$T/nope.log" --pubkey "$T/k.pub" 2>/dev/null; check "verify missing file: exit 2" test $? = 2

# ---- key rotation -----------------------------------------------------------
"$TOLLGATE" keygen --out "$T/k2" >/dev/null
nid=$("$TOLLGATE" audit rotate-key --log "$T/a.log" --key "$T/k.key" --new-key "$T/k2.key"); rc=$?
check "rotate-key exits 0 and prints the new id" bash -c "test $rc = 0 && [[ '$nid' =~ ^[0-9a-f]{32}$ ]]"
"$TOLLGATE" audit _append --log "$T/a.log" --key "$T/k2.key" <"$T/in.jsonl"
check "writer continues under the new key" test $? = 0
"$TOLLGATE" audit _append --log "$T/a.log" --key "$T/k.key" </dev/null 2>"$T/err"
check "the retired key can no longer open the log" test $? = 2
"$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/k.pub" --pubkey "$T/k2.pub" >"$T/v.out"
check "verify across rotation with both keys: exit 0" test $? = 0
"$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/k.pub" >/dev/null
check "verify across rotation with only the old key: exit 1" test $? = 1
"$TOLLGATE" audit verify "$T/a.log" --pubkey "$T/k2.pub" >/dev/null
check "verify with only the new key: exit 1" test $? = 1

# ---- size-based file rotation ------------------------------------------------
"$TOLLGATE" audit _stress --log "$T/r.log" --key "$T/k.key" --count 2000 --rotate-bytes 300000
check "_stress with rotate-bytes exits 0" test $? = 0
nfiles=$(ls "$T"/r.log* | wc -l)
check "rotation produced several files ($nfiles)" test "$nfiles" -ge 3
"$TOLLGATE" audit verify "$T"/r.log* --pubkey "$T/k.pub" >"$T/v.out"
check "verify accepts rotated files in glob order" test $? = 0
check "chain spans all files (2000 decisions + start + seals)" grep -Eq '^20[0-9][0-9]/20[0-9][0-9] entries verified' "$T/v.out"
middle=$(ls "$T"/r.log.* | sed -n 2p)
"$TOLLGATE" audit verify $(ls "$T"/r.log* | grep -v "$middle") --pubkey "$T/k.pub" >"$T/v.out"
check "a missing rotated file is detected" test $? = 1
first=$(ls "$T"/r.log.* | head -1)
anchor=$("$TOLLGATE" audit verify "$first" --pubkey "$T/k.pub" | sed -n 's/^head: seq [0-9]* //p')
"$TOLLGATE" audit verify $(ls "$T"/r.log* | grep -v "$first") --pubkey "$T/k.pub" >/dev/null
check "recent files alone do not verify (chain start missing)" test $? = 1
"$TOLLGATE" audit verify $(ls "$T"/r.log* | grep -v "$first") --pubkey "$T/k.pub" --start-after "$anchor" >/dev/null
check "--start-after the archived head verifies the recent files" test $? = 0
"$TOLLGATE" audit verify $(ls "$T"/r.log* | grep -v "$first") --pubkey "$T/k.pub" --start-after "${anchor%?}0" >/dev/null
wrong=$?
[ "${anchor: -1}" = 0 ] && wrong=1
check "--start-after a wrong head fails" test "$wrong" = 1
