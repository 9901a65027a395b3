#!/usr/bin/env bash
# json_cases.sh — tests/cases/json/{y,n}_*.json (RFC 8259 grammar and UTF-8;
# y_ must be accepted, n_ refused) at the three doors that read a request
# body, each case as the value of an extra member of a valid chat request:
#   - the live gateway: y_ -> 200, n_ -> 400 with an OpenAI error body;
#   - `tollgate explain`: y_ -> exit 0, n_ -> exit 1 with a request.malformed deny;
#   - `tollgate dry-run` over a capture file of one line per case: n_ lines
#     refused, y_ lines replayed.
# (tests/unit/test_json_cases.c runs the same files through the parser alone.)
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 0; }
gw_start e2e.yaml || exit 0

pre='{"model":"auto","messages":[{"role":"user","content":"hi"}],"x":'
ny=0 nn=0 cy=0 cn=0
: >"$GW_DIR/cases.jsonl"
for f in "$TG_ROOT"/tests/cases/json/[yn]_*.json; do
  name=$(basename "$f" .json)
  { printf '%s' "$pre"; cat "$f"; printf '}'; } >"$GW_DIR/body"
  # One capture line per case, unless a raw LF (JSON whitespace) would split it.
  if [ "$(tr -d '\n' <"$f" | wc -c)" = "$(wc -c <"$f")" ]; then
    { printf '{"tenant":"acme","category":"chat","request":'; cat "$GW_DIR/body"; printf '}\n'; } >>"$GW_DIR/cases.jsonl"
    case $name in y_*) cy=$((cy + 1)) ;; *) cn=$((cn + 1)) ;; esac
  fi
  code=$(curl -s -o "$GW_DIR/resp" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $ACME_KEY" \
    -H 'X-Task-Category: chat' -H 'Content-Type: application/json' --data-binary @"$GW_DIR/body" \
    "$GW_BASE/v1/chat/completions")
  "$TOLLGATE" explain --config "$GW_CONFIG" --request "$GW_DIR/body" --tenant acme --category chat \
    --compact >"$GW_DIR/ex.out" 2>"$GW_DIR/ex.err"
  ex=$?
  case $name in
    y_*) ny=$((ny + 1))
         check "$name: gateway 200 ($code)" test "$code" = 200
         check "$name: explain exit 0 ($ex)" test "$ex" = 0 ;;
    n_*) nn=$((nn + 1))
         check "$name: gateway 400 ($code)" test "$code" = 400
         check "$name: gateway answer is an OpenAI error" python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert e["type"] == "invalid_request_error" and any(w in e["message"] for w in ("JSON", "UTF-8", "NUL"))' "$GW_DIR/resp"
         check "$name: explain exit 1 with a request.malformed deny ($ex)" \
           bash -c '[ "$1" = 1 ] && grep -q "request.malformed" "$2"' _ "$ex" "$GW_DIR/ex.out" ;;
  esac
done
check "case files read ($ny accepted, $nn refused)" test "$ny" -gt 20 -a "$nn" -gt 40

"$TOLLGATE" dry-run --config "$GW_CONFIG" --traffic "$GW_DIR/cases.jsonl" --quiet \
  --decisions "$GW_DIR/dec.jsonl" >"$GW_DIR/dry.out" 2>"$GW_DIR/dry.err"
echo "dry-run exit $?" >>"$GW_DIR/dry.err"
lines=$(wc -l <"$GW_DIR/dec.jsonl" 2>/dev/null || echo 0)
check "dry-run: one decision per y_ line, none for the n_ lines ($lines decisions, $cy y_)" test "$lines" = "$cy"
skipped=$(grep -o "[0-9]* malformed line" "$GW_DIR/dry.err" | cut -d" " -f1)
check "dry-run: every n_ line refused as malformed (${skipped:-0} of $cn)" test "${skipped:-0}" = "$cn"
gw_stop
