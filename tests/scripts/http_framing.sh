#!/usr/bin/env bash
# http_framing.sh — the strict HTTP/1.1 framing guard (adapters/http/hdrguard.h)
# against a real `tollgate serve`: every case of tests/cases/http/*.cases
# (format in the file's header) is written raw on a fresh socket, followed in
# the same write by a valid "GET /healthz" with "Connection: close".  Checks
# per case: the first answer's status; how many final answers came back (a
# refused request must hide nothing: the appended request is never served);
# refusals are OpenAI-shaped JSON errors with "Connection: close"; the
# server closes the connection.  Then: a 17 MB body gets a JSON 413, the
# gateway stays healthy, and the audit log (chat refusals are audited)
# verifies.
set -uo pipefail
trap "" PIPE   # the server closes on a refusal while the rest is still being written
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TG_ROOT/tests/support/gateway.sh"
gw_need_node
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 0; }
gw_start e2e.yaml MAX_BODY=1048576 HEADER_TIMEOUT_MS=1500 || exit 0

body='{"model":"auto","messages":[{"role":"user","content":"hi"}]}'
auth="Authorization: Bearer $ACME_KEY"
chat="POST /v1/chat/completions HTTP/1.1\\r\\nHost: x\\r\\n$auth\\r\\nX-Task-Category: chat"
big=$(head -c 70000 /dev/zero | tr '\0' a)
follow='GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

# The answers on one connection: "N STATUS CLOSE_HDR JSON_OK" for the first
# final answer (1xx skipped), N = how many final answers.  argv[2] = "head":
# the first answer is to a HEAD (no body; JSON not checked).
cat >"$GW_DIR/answers.py" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
finals = []
i = 0
while i < len(data):
    end = data.find(b"\r\n\r\n", i)
    if end < 0:
        break
    head = data[i:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        break
    status = int(parts[1])
    hdrs = {}
    for l in head[1:]:
        k, _, v = l.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    i = end + 4
    blen = 0
    if len(sys.argv) > 2 and sys.argv[2] == "head" and not finals and status >= 200:
        blen = 0
    elif "content-length" in hdrs:
        blen = int(hdrs["content-length"][0])
    elif status >= 200:
        blen = len(data) - i   # HTTP/1.0: the body runs to the close
    b = data[i:i + blen]
    i += blen
    if status >= 200:
        finals.append((status, hdrs, b))
if not finals:
    print("0 000 no no")
    sys.exit(0)
st, h, b = finals[0]
close = "yes" if any(v.lower() == "close" for v in h.get("connection", [])) else "no"
ok = "no"
if len(sys.argv) > 2 and sys.argv[2] == "head":
    ok = "yes" if h.get("content-type", [""])[0].startswith("application/json") or st < 400 else "no"
else:
  try:
    j = json.loads(b)
    e = j["error"]
    if isinstance(e["message"], str) and "type" in e and "code" in e and \
            h.get("content-type", [""])[0].startswith("application/json"):
        ok = "yes"
  except Exception:
    pass
print(len(finals), st, close, ok)
PY

ncase=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  want=${line%% | *}; rest=${line#* | }
  nresp=${rest%% | *}; rest=${rest#* | }
  name=${rest%% | *}; bytes=${rest#* | }
  bytes=${bytes//\{CHAT\}/$chat}
  bytes=${bytes//\{AUTH\}/$auth}
  bytes=${bytes//\{BODY\}/$body}
  bytes=${bytes//\{LEN\}/${#body}}
  bytes=${bytes//\{HEX\}/$(printf '%x' ${#body})}
  bytes=${bytes//\{BIG\}/$big}
  ncase=$((ncase + 1))
  exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT" || { fail "$name: connect"; continue; }
  printf '%b' "$bytes$follow" >&3 2>/dev/null
  timeout 5 cat <&3 >"$GW_DIR/out" 2>/dev/null
  rc=$?
  exec 3<&- 3>&-
  head=; case "$bytes" in HEAD*) head=head ;; esac
  read -r n st close ok < <(python3 "$GW_DIR/answers.py" "$GW_DIR/out" $head)
  why="status $st, $n answer(s), Connection: close $close, JSON $ok, read rc $rc"
  if [ "$st" != "$want" ] || [ "$n" != "$nresp" ] || [ "$rc" = 124 ]; then
    fail "$name -> $want" "$why"
  elif [ "$want" -ge 400 ] && { [ "$close" != yes ] || [ "$ok" != yes ]; }; then
    fail "$name -> $want" "$why"
  else
    pass "$name -> $want ($n answer(s))"
  fi
done < <(cat "$TG_ROOT"/tests/cases/http/*.cases)
check "the case files were read ($ncase cases)" test "$ncase" -gt 50

# Body too large for the wire cap: a JSON 413 before the body is sent.
head -c 17000000 /dev/zero | tr '\0' a >"$GW_DIR/17m"
code=$(curl -s -D "$GW_DIR/h" -o "$GW_DIR/body" -w '%{http_code}' --max-time 20 -H "$auth" \
  -H 'X-Task-Category: chat' -H 'Content-Type: application/json' --data-binary @"$GW_DIR/17m" \
  "$GW_BASE/v1/chat/completions")
check "17 MB body -> 413 ($code)" test "$code" = 413
check "17 MB body: the 413 is an OpenAI JSON error" \
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]=="request_too_large"' "$GW_DIR/body"
check "17 MB body: Connection: close" grep -qi '^connection: close' "$GW_DIR/h"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "$auth" -H 'X-Task-Category: chat' \
  -H 'Transfer-Encoding: chunked' --data-binary @"$GW_DIR/17m" "$GW_BASE/v1/chat/completions")
check "17 MB chunked body -> 413 or a hang-up past the wire cap ($code)" bash -c "[ '$code' = 413 ] || [ '$code' = 000 ]"

# A chunked body is held until complete (hdrguard.h): a slow but steady one
# outlives header_timeout_ms (1.5 s here), and "Expect: 100-continue" gets
# its interim answer at once instead of after the client's own wait.
{
  exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT"
  printf '%b' "$chat\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" >&3
  for ((k = 0; k < ${#body}; k += 10)); do
    piece=${body:k:10}
    printf '%x\r\n%s\r\n' "${#piece}" "$piece" >&3
    sleep 0.3
  done
  printf '0\r\n\r\n' >&3
  timeout 5 cat <&3 >"$GW_DIR/out"
  exec 3<&- 3>&-
}
read -r n st _ < <(python3 "$GW_DIR/answers.py" "$GW_DIR/out")
check "a chunked body trickled over $(( (${#body} / 10 + 1) * 3 / 10 )) s (header timeout 1.5 s) is served ($st)" test "$st" = 200
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 10 -H "$auth" -H 'X-Task-Category: chat' \
  -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' --data-binary "$body" "$GW_BASE/v1/chat/completions")
check "chunked with Expect: 100-continue is not held for the client's 1 s wait (${t} s)" \
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 0.9 else 1)' "$t"

# A smuggled request inside a refused one's body is never served: count the
# upstream calls before and after.
curl -s -X DELETE "$STUB_URL/__requests" >/dev/null
smuggled="$chat\\r\\nContent-Length: ${#body}\\r\\n\\r\\n$body"
exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT"
printf '%b' "$chat\r\nContent-Length: 5\r\nContent-Length: $(( ${#body} + 200 ))\r\n\r\n$smuggled" >&3
timeout 5 cat <&3 >"$GW_DIR/out"
exec 3<&- 3>&-
sleep 0.2
ups=$(curl -s "$STUB_URL/__requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "a request hidden in a refused body never reaches a provider ($ups upstream calls)" test "$ups" = 0

check "healthy after every case" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$GW_BASE/healthz")" = 200
gw_stop
check "serve exits 0 on SIGTERM (rc $GW_RC)" test "$GW_RC" = 0
"$TOLLGATE" audit verify "$GW_AUDIT" --pubkey "$GW_PUB" >"$GW_DIR/verify.out" 2>&1
check "audit verify passes ($(tail -1 "$GW_DIR/verify.out"))" test $? = 0
