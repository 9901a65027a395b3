#!/usr/bin/env bash
# gateway_tls.sh — TLS on the listener and client certificates as tenant
# identity (docs/tls.md), against a real `tollgate serve` with echo providers.
#
# A CA, a second "rogue" CA, server and client certificates are made with
# `openssl` in a temp dir at test time.  Checked with curl, openssl s_client
# and a small Python keep-alive client: mTLS identity without a key, key and
# certificate together, refusals (no certificate, foreign CA, plain HTTP on
# the TLS port, TLS 1.1, ALPN h2 only), the gateway still serving after
# them, session resumption, a SIGHUP certificate swap that leaves an open
# keep-alive connection working, `auth` in audit entries, and a key file
# with mode 0644 refused at start with one line.
set -uo pipefail
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TOLLGATE=${TOLLGATE:-$TG_ROOT/build/tollgate}
for t in curl openssl python3; do
  command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 0; }
done

pass() { echo "PASS: tls: $1"; }
fail() { echo "FAIL: tls: $1${2:+ — $2}"; }
check() { local n=$1; shift; if "$@" >/dev/null 2>&1; then pass "$n"; else fail "$n"; fi; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-tls-XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir" || exit 1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- PKI ------------------------------------------------------------------
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null && chmod 600 "$1"; }
mkca() { # NAME CN
  newkey "$1.key" && openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" 2>/dev/null
}
mkcert() { # NAME CN CA [server]
  newkey "$1.key" && openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null || return 1
  if [ "${4:-}" = server ]; then
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$1.ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
  fi
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$1.pem" -days 2 \
    -extfile "$1.ext" 2>/dev/null
}
fp() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
sha() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }

mkca ca "tollgate test CA" && mkca rogue "someone else's CA" &&
  mkcert server tollgate-first ca server && mkcert server2 tollgate-second ca server &&
  mkcert acme "Acme Pipeline Robot" ca && mkcert globex "Globex Batch" ca &&
  mkcert stranger "Stranger Danger" ca && mkcert forged "Acme Pipeline Robot" rogue ||
  { fail "openssl makes the test PKI"; exit 0; }
pass "openssl made a CA, a rogue CA, 2 server and 4 client certificates"

"$TOLLGATE" keygen --out audit >/dev/null 2>&1 || { fail keygen; exit 0; }
port=$(free_port)
cat >tls.yaml <<EOF
orchestration:
  version: "2.1"
  providers:
    openai: {adapter: echo, region: us, jurisdiction: US, pii_allowed: true}
  routing_rules:
    - category: general
      primary: {provider: openai, model: gpt-4o}
      compliance: {data_residency: global, pii_allowed: true, export_controlled: false}
  tenants:
    - id: acme                 # certificate only
      client_cert_sha256: "$(fp acme.pem)"
      default_category: general
    - id: globex               # key and certificate together
      api_key_sha256: "$(sha key-globex)"
      client_cert_sha256: "$(openssl x509 -in globex.pem -noout -fingerprint -sha256 | cut -d= -f2)"
      default_category: general
    - id: initech              # key only
      api_key_sha256: "$(sha key-initech)"
      default_category: general
  audit:
    path: $dir/audit.log
    signing_key: $dir/audit.key
    fsync: always
  server:
    listen: "127.0.0.1:$port"
    threads: 2
    header_timeout_ms: 2000
    tls:
      cert: server.pem
      key: server.key
      client_ca: ca.pem
EOF
base="https://localhost:$port"
"$TOLLGATE" serve --config tls.yaml >serve.out 2>serve.err &
pid=$!
C=(--cacert ca.pem --resolve "localhost:$port:127.0.0.1" --max-time 10)
ACME=(--cert acme.pem --key acme.key)
for _ in $(seq 1 100); do curl -s -o /dev/null "${C[@]}" "${ACME[@]}" "$base/healthz" && break; sleep 0.05; done
check "serve announces an https listener" grep -q "listening on https://127.0.0.1:$port" serve.err

chat() { # OUT curl-args... -> status on stdout, body in OUT
  local out=$1; shift
  curl -s -o "$out" -w '%{http_code}' "${C[@]}" -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"hello over tls"}]}' "$@" "$base/v1/chat/completions"
}

# ---- identity ---------------------------------------------------------------
check "acme's certificate, no key: 200" test "$(chat b1 "${ACME[@]}")" = 200
check "acme's answer is the echo" grep -q '\[echo\] hello over tls' b1
check "globex key + globex certificate: 200" \
  test "$(chat b2 --cert globex.pem --key globex.key -H 'Authorization: Bearer key-globex')" = 200
check "globex key over acme's certificate: 401" \
  test "$(chat b3 "${ACME[@]}" -H 'Authorization: Bearer key-globex')" = 401
check "globex key over a certificate of no tenant: 401 (the key is bound)" \
  test "$(chat b4 --cert stranger.pem --key stranger.key -H 'Authorization: Bearer key-globex')" = 401
check "verified certificate of no tenant, no key: 401" \
  test "$(chat b5 --cert stranger.pem --key stranger.key)" = 401
check "401 says the certificate names no tenant" grep -q 'certificate belongs to no tenant' b5
check "key-only tenant over a certificate of no tenant: 200" \
  test "$(chat b6 --cert stranger.pem --key stranger.key -H 'Authorization: Bearer key-initech')" = 200
check "acme's certificate with a wrong key: 401" \
  test "$(chat b7 "${ACME[@]}" -H 'Authorization: Bearer not-a-key')" = 401

# ---- refusals ---------------------------------------------------------------
code=$(chat b8); rc=$?
check "no client certificate: refused (no HTTP status)" test "$code" = 000
code=$(chat b9 --cert forged.pem --key forged.key)
check "certificate from another CA (same subject as acme): refused" test "$code" = 000
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz")
check "plain HTTP on the TLS port: no HTTP answer" test "$code" = 000
out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
  -cert acme.pem -key acme.key -CAfile ca.pem 2>&1)
if grep -q 'alert protocol version' <<<"$out" && grep -q 'Cipher is (NONE)' <<<"$out"; then
  pass "TLS 1.1: refused with a protocol_version alert"
else
  fail "TLS 1.1: refused with a protocol_version alert" "$(grep -iE 'alert|Cipher is|error' <<<"$out" | head -3 | tr '\n' ' ')"
fi
echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -alpn http/1.1 \
  -cert acme.pem -key acme.key -CAfile ca.pem >s12.out 2>&1
check "TLS 1.2 with an ECDHE AEAD suite and ALPN http/1.1" \
  bash -c "grep -Eq 'New, TLSv1.2, Cipher is ECDHE-.*(GCM|CHACHA)' s12.out && grep -q 'ALPN protocol: http/1.1' s12.out"
out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -alpn h2 -cert acme.pem -key acme.key \
  -CAfile ca.pem 2>&1)
check "ALPN offering only h2: refused (no_application_protocol)" grep -q 'no application protocol' <<<"$out"
for i in $(seq 1 20); do
  curl -s -o /dev/null --max-time 5 "${C[@]}" "$base/healthz"
  curl -s -o /dev/null --max-time 5 "${C[@]}" --cert forged.pem --key forged.key "$base/healthz"
  printf 'GET / HTTP/1.1\r\n\r\n' | timeout 5 python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port)); s.sendall(sys.stdin.buffer.read()); s.settimeout(3); s.recv(100)" 2>/dev/null
done
# A client that connects and never finishes the handshake is dropped at the header timeout.
t=$(python3 -c "
import socket, time
t = time.time(); s = socket.create_connection(('127.0.0.1', $port)); s.settimeout(10)
s.sendall(b'\x16\x03\x01\x00\xa0\x01')   # the first bytes of a ClientHello, then silence
try: s.recv(10); print('%.1f' % (time.time() - t))
except Exception: print('never')")
check "a stalled handshake is closed at server.header_timeout_ms ($t s)" \
  awk -v t="$t" 'BEGIN { exit !(t != "never" && t >= 1.5 && t < 5) }'
check "after 60 refused handshakes: acme still served (200)" test "$(chat b10 "${ACME[@]}")" = 200
check "the gateway process is alive" kill -0 "$pid"

# ---- resumption -------------------------------------------------------------
# TLS 1.3 tickets come after the handshake: the first client stays a moment.
(sleep 0.5) | timeout 10 openssl s_client -connect "127.0.0.1:$port" -cert acme.pem -key acme.key -CAfile ca.pem \
  -sess_out sess.pem >s1.out 2>&1
(sleep 0.3; printf 'GET /v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; sleep 2) |
  timeout 10 openssl s_client -connect "127.0.0.1:$port" -cert acme.pem -key acme.key -CAfile ca.pem \
  -sess_in sess.pem -ign_eof >s2.out 2>&1
check "TLS 1.3 session resumed (ticket)" grep -q '^Reused, TLSv1.3' s2.out
check "a resumed session keeps acme's identity (GET /v1/models: 200, Connection: close reply complete)" \
  bash -c "grep -q '^HTTP/1.1 200' s2.out && grep -q '\"object\":\"list\"' s2.out"

# Large answers, streamed and whole, keep-alive and closing: every byte arrives.
big=$(python3 -c 'print("lorem ipsum dolor " * 20000)')
printf '{"messages":[{"role":"user","content":"%s"}]}' "$big" >big.json
for conn in keep-alive close; do
  code=$(curl -s -o big.out -w '%{http_code}' "${C[@]}" "${ACME[@]}" -H "Connection: $conn" \
    -H 'Content-Type: application/json' --data-binary @big.json "$base/v1/chat/completions")
  check "360 KB answer, Connection: $conn: complete JSON" \
    bash -c "test $code = 200 && python3 -c 'import json,sys; d=json.load(open(\"big.out\")); sys.exit(0 if len(d[\"choices\"][0][\"message\"][\"content\"]) > 350000 else 1)'"
done

# ---- reload -----------------------------------------------------------------
cat >ka.py <<'EOF'
# Keep-alive client: one request, wait for the go file, one more on the same
# connection; prints the server certificate's CN and each status.
import http.client, os, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.load_cert_chain(d + "/acme.pem", d + "/acme.key")
c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
c.request("GET", "/healthz"); r = c.getresponse(); r.read()
sock = c.sock
cn = dict(x[0] for x in sock.getpeercert()["subject"])["commonName"]
print("first", r.status, cn, flush=True)
for _ in range(400):
    if os.path.exists(d + "/go"): break
    time.sleep(0.05)
c.request("GET", "/v1/models"); r = c.getresponse(); r.read()
print("second", r.status, "same-connection" if c.sock is sock else "reconnected", flush=True)
EOF
python3 ka.py "$port" "$dir" >ka.out 2>ka.err &
kapid=$!
for _ in $(seq 1 100); do grep -q '^first' ka.out && break; sleep 0.05; done
check "keep-alive connection opened on the first certificate" grep -q '^first 200 tollgate-first' ka.out
cp server2.pem server.pem && cp server2.key server.key
kill -HUP "$pid"
for _ in $(seq 1 100); do grep -q 'policy reloaded (SIGHUP)' serve.err && break; sleep 0.05; done
check "SIGHUP reload accepted" grep -q 'policy reloaded (SIGHUP)' serve.err
subj=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -cert acme.pem -key acme.key -CAfile ca.pem \
  2>/dev/null | openssl x509 -noout -subject 2>/dev/null)
check "a new connection gets the new certificate" grep -q 'tollgate-second' <<<"$subj"
touch go
wait "$kapid"
check "the open keep-alive connection still works after the reload" grep -q '^second 200 same-connection' ka.out
chmod 644 server.key
kill -HUP "$pid"
for _ in $(seq 1 100); do grep -q 'accessible by group or others' serve.err && break; sleep 0.05; done
check "reload with a 0644 key: rejected, running certificate kept" \
  bash -c "grep -q 'reload (SIGHUP) rejected.*accessible by group or others' serve.err && test \"\$(curl -s -o /dev/null -w '%{http_code}' ${C[*]} --cert acme.pem --key acme.key $base/healthz)\" = 200"

# ---- a key file others can read: no start -----------------------------------
port2=$(free_port)
timeout 10 "$TOLLGATE" serve --config tls.yaml --listen "127.0.0.1:$port2" >bad.out 2>bad.err; rc=$?
check "key file mode 0644: serve refuses to start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "... with exactly one line naming the key and its mode" \
  bash -c "test \$(wc -l <bad.err) = 1 && grep -q 'server.key is accessible by group or others (mode 0644)' bad.err"
chmod 600 server.key

# ---- audit ------------------------------------------------------------------
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "drain: exit 0" test "$rc" = 0
check "audit: acme's decision recorded with auth mtls" \
  grep -q '"event":"decision".*"tenant":"acme".*"auth":"mtls"' audit.log
check "audit: globex's decision recorded with auth key+mtls" \
  grep -q '"event":"decision".*"tenant":"globex".*"auth":"key+mtls"' audit.log
check "audit: initech's decision recorded with auth key" \
  grep -q '"event":"decision".*"tenant":"initech".*"auth":"key"' audit.log
check "audit: refused handshakes recorded as unauthenticated, rule tenant.certificate" \
  grep -q '"event":"unauthenticated".*"rules":\["tenant.certificate"\].*"error":"client certificate refused: [a-z ]*".*"auth":"mtls"' audit.log
check "audit: a missing certificate is named as such" grep -q 'client certificate refused: no client certificate' audit.log
check "audit: a foreign CA is named by its verify reason" \
  grep -q 'client certificate refused: unable to get local issuer certificate' audit.log
check "audit: no certificate subject or fingerprint in the log" \
  bash -c "! grep -qE 'Acme Pipeline|Stranger Danger|Globex Batch|$(fp acme.pem)|$(fp stranger.pem)' audit.log"
check "audit verify: intact" "$TOLLGATE" audit verify audit.log --pubkey audit.pub
# Sanitized builds (make asan) report here; the refused start's output too.
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' serve.err bad.err 2>/dev/null; then
  fail "serve: no sanitizer reports" "$(grep -hE 'Sanitizer|runtime error:' serve.err bad.err | head -3 | tr '\n' ' ')"
else
  pass "serve: no sanitizer reports"
fi
