// tls.test.mjs — transport security end to end (docs/tls.md).
//
// A test CA and a server certificate are made with `openssl` at test time;
// `tollgate serve` listens with TLS only.  The official `openai` SDK runs in a
// child node process that trusts the test CA through NODE_EXTRA_CA_CERTS (read
// by node at start, hence the child); without it the same client is refused.
//
// Outbound: a tiny logging proxy on loopback (absolute-form HTTP forwarding
// and CONNECT tunnels) sits in front of the stub upstream.  One provider
// reaches the plain-HTTP stub through it (which also proves the in-loop HTTP
// client stepped aside for libcurl); another reaches an HTTPS front of the
// stub, signed by the test CA, through a CONNECT tunnel and trusts it only
// through `ca_bundle`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import {
  ROOT, TOLLGATE, KEYS, sha256hex, startStub, keygen, tempDir, freePort, sleep, eventually, requestEntries,
  auditVerify,
} from './harness.mjs';

let dir, stub, proxy, front, child, port, output = '';
const proxyLog = [];

function openssl(...args) {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

function makePki() {
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tollgate e2e CA');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'server.key');
  openssl('req', '-new', '-key', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  fs.chmodSync(path.join(dir, 'server.key'), 0o600);
}

// A forward proxy: CONNECT host:port (tunnel) and absolute-form requests
// (re-sent to the origin).  Every request line is logged.
function startProxy() {
  const srv = http.createServer((req, res) => {
    proxyLog.push(`${req.method} ${req.url}`);
    const u = new URL(req.url);
    const up = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method,
      headers: req.headers }, (ur) => { res.writeHead(ur.statusCode, ur.headers); ur.pipe(res); });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  srv.on('connect', (req, sock, head) => {
    proxyLog.push(`CONNECT ${req.url}`);
    const [host, p] = req.url.split(':');
    const up = net.connect(Number(p), host === 'localhost' ? '127.0.0.1' : host, () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on('error', () => sock.destroy());
    sock.on('error', () => up.destroy());
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

// HTTPS in front of the stub, with the test CA's certificate.
function startFront() {
  const srv = https.createServer({ key: fs.readFileSync(path.join(dir, 'server.key')),
    cert: fs.readFileSync(path.join(dir, 'server.pem')) }, (req, res) => {
    const up = http.request({ host: '127.0.0.1', port: stub.port, path: req.url, method: req.method, headers: req.headers },
      (ur) => { res.writeHead(ur.statusCode, ur.headers); ur.pipe(res); });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

const model = (id, provider) => `    ${id}:
      provider: ${provider}
      upstream_model: gpt-4o-mini
      max_context: 128000
      streaming: true
      pricing: {input_per_m: 0.15, output_per_m: 0.60}
      scores: {humaneval: 90.0}
`;
const rule = (category, provider, m) => `    - category: ${category}
      primary: {provider: ${provider}, model: ${m}}
      constraints: {max_cost_per_request: 1.0, timeout_ms: 5000}
      compliance: {data_residency: global, pii_allowed: false}
`;

before(async () => {
  dir = tempDir('tls');
  makePki();
  stub = await startStub();
  proxy = await startProxy();
  front = await startFront();
  const keys = keygen(dir);
  port = await freePort();
  const proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
  const config = `orchestration:
  version: "2.1"
  server:
    threads: 2
    tls:
      cert: server.pem
      key: server.key
  providers:
    direct:
      adapter: openai
      base_url: "${stub.url}/us/v1"
      api_key: "sk-stub-us-key"
      region: us
      jurisdiction: US
    proxied:
      adapter: openai
      base_url: "${stub.url}/eu/v1"
      api_key: "sk-stub-eu-key"
      region: us
      jurisdiction: US
      proxy: "${proxyUrl}"
    tunnelled:
      adapter: openai
      base_url: "https://localhost:${front.address().port}/cn/v1"
      api_key: "sk-stub-cn-key"
      region: us
      jurisdiction: US
      proxy: "${proxyUrl}"
      ca_bundle: ca.pem
  models:
${model('m-direct', 'direct')}${model('m-proxied', 'proxied')}${model('m-tunnelled', 'tunnelled')}
  routing_rules:
${rule('chat', 'direct', 'm-direct')}${rule('via_proxy', 'proxied', 'm-proxied')}${rule('via_tunnel', 'tunnelled', 'm-tunnelled')}
  tenants:
    - id: acme
      api_key_sha256: "${sha256hex(KEYS.acme)}"
  audit:
    path: ${path.join(dir, 'audit.log')}
    signing_key: ${keys.key}
`;
  fs.writeFileSync(path.join(dir, 'config.yaml'), config);
  child = spawn(TOLLGATE, ['serve', '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'));
  await eventually(() => new Promise((resolve) => {
    https.get({ host: '127.0.0.1', servername: 'localhost', port, path: '/healthz', ca }, (r) => {
      r.resume();
      resolve(r.statusCode === 200);
    }).on('error', () => resolve(false));
  }), 10000, `tollgate serve with TLS healthy (${output.slice(-500)})`);
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  for (const s of [proxy, front]) if (s) { s.closeAllConnections?.(); s.close(); }
  if (stub) await stub.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// The openai SDK in a child node process (NODE_EXTRA_CA_CERTS is read at start).
function sdk(script, env) {
  const code = `import OpenAI from 'openai';
const client = new OpenAI({ apiKey: ${JSON.stringify(KEYS.acme)}, baseURL: ${JSON.stringify(`https://localhost:${port}/v1`)},
  maxRetries: 0, timeout: 10000, defaultHeaders: { 'X-Task-Category': 'chat' } });
try { ${script} } catch (e) {
  const chain = [];
  for (let c = e.cause; c; c = c.cause) chain.push(String(c.code || c.message));
  console.log(JSON.stringify({ error: e.constructor.name, message: String(e.message), cause: chain.join(' <- ') }));
}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code],
    { cwd: ROOT, encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `sdk child: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('openai SDK over TLS, test CA from NODE_EXTRA_CA_CERTS: chat and stream', async () => {
  await stub.clear();
  const out = sdk(`
const c = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello over tls' }] });
let streamed = '';
const s = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true,
  messages: [{ role: 'user', content: 'stream over tls' }] });
for await (const ch of s) streamed += ch.choices[0]?.delta?.content ?? '';
console.log(JSON.stringify({ content: c.choices[0].message.content, model: c.model, streamed }));`,
  { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') });
  assert.equal(out.error, undefined, JSON.stringify(out));
  assert.equal(out.content, 'echo: hello over tls');
  assert.equal(out.streamed, 'echo: stream over tls');
  const seen = await stub.requests('/us/v1/chat/completions');
  assert.equal(seen.length, 2, 'both requests reached the upstream');
});

test('without the test CA the SDK refuses the gateway certificate', () => {
  const out = sdk(`await client.models.list(); console.log(JSON.stringify({ ok: true }));`, { NODE_EXTRA_CA_CERTS: '' });
  assert.equal(out.ok, undefined, 'no answer without trusting the CA');
  assert.equal(out.error, 'APIConnectionError');
  assert.match(out.cause || '', /UNABLE_TO_VERIFY|SELF_SIGNED|CERT_/);
});

test('plain HTTP to the TLS listener gets no HTTP answer', async () => {
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) }));
});

async function viaGateway(category, content) {
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'));
  const body = JSON.stringify({ messages: [{ role: 'user', content }] });
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, path: '/v1/chat/completions',
      method: 'POST', ca, headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.acme}`,
        'x-task-category': category } }, (r) => {
      let s = '';
      r.on('data', (d) => { s += d; });
      r.on('end', () => resolve({ status: r.statusCode, body: s, id: r.headers['x-tollgate-decision-id'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('provider with proxy: the request goes through the proxy, not the in-loop client', async () => {
  await stub.clear();
  proxyLog.length = 0;
  const r = await viaGateway('via_proxy', 'through the egress proxy');
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).choices[0].message.content, 'echo: through the egress proxy');
  assert.ok(proxyLog.includes(`POST ${stub.url}/eu/v1/chat/completions`), `proxy log: ${JSON.stringify(proxyLog)}`);
  assert.equal((await stub.requests('/eu/v1/chat/completions')).length, 1);
});

test('provider with proxy and ca_bundle: CONNECT tunnel to an HTTPS upstream signed by the bundle', async () => {
  await stub.clear();
  proxyLog.length = 0;
  const r = await viaGateway('via_tunnel', 'through the tunnel');
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).choices[0].message.content, 'echo: through the tunnel');
  assert.ok(proxyLog.includes(`CONNECT localhost:${front.address().port}`), `proxy log: ${JSON.stringify(proxyLog)}`);
  assert.equal((await stub.requests('/cn/v1/chat/completions')).length, 1);
});

test('direct provider: never through the proxy', async () => {
  proxyLog.length = 0;
  const r = await viaGateway('chat', 'straight');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(proxyLog, []);
});

test('audit entries record auth "key"; the log verifies after a drain', async () => {
  await sleep(100);
  const entries = requestEntries(path.join(dir, 'audit.log')).filter((e) => e.event === 'decision');
  assert.ok(entries.length >= 5, `decisions audited (${entries.length})`);
  for (const e of entries) assert.equal(e.auth, 'key', JSON.stringify(e).slice(0, 200));
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, output.slice(-500));
  const v = auditVerify({ auditPath: path.join(dir, 'audit.log'), pubKey: path.join(dir, 'audit.pub') });
  assert.equal(v.status, 0, v.stdout + v.stderr);
});
