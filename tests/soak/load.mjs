#!/usr/bin/env node
// load.mjs — mixed-traffic load generator for tollgate's soak and kill -9
// tests (tests/soak/soak.sh, tests/crash/kill9.sh).  Keeps CONNS requests in
// flight against a gateway rendered from tests/cases/gateway/e2e.yaml and
// records, per request, the kind, status and X-Tollgate-Decision-Id.
//
//   node load.mjs --base URL --stub URL --seconds N [--conns 64]
//                 [--acks FILE] [--summary FILE] [--until-file FILE]
//
// Kinds (weights in MIX): allow (chat), stream (chat, SSE), pii_deny (chat +
// an email -> 403), pii_ok (pii_ok route + an email -> 200), unknown_cat
// (-> 403), dead_primary (connection refused upstream -> fallback -> 200),
// fail (claude route, the stub answers 500 -> 5xx, explained by the
// upstream), rate_limited (initech, 2/min -> mostly 429).
// --acks: appends "ID KIND STATUS" for each request whose complete response
// (for streams: through data: [DONE]) reached us — an acknowledged request.
// --until-file: stop when this file appears (besides --seconds).
// Connection errors are expected while a gateway is being killed; they are
// counted, not fatal.  The summary (stdout, or --summary FILE) is JSON:
// {requests, responses, conn_errors, by_kind: {kind: {status: n}}, unexplained_5xx,
//  latency_ms: {p50, p99, max}}.
import http from 'node:http';
import fs from 'node:fs';

const args = process.argv.slice(2);
const arg = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const base = new URL(arg('--base'));
const stub = arg('--stub');
const seconds = Number(arg('--seconds', '10'));
const conns = Number(arg('--conns', '64'));
const acksFile = arg('--acks');
const summaryFile = arg('--summary');
const untilFile = arg('--until-file');

const KEYS = {
  acme: 'tg-test-acme-0123456789abcdef',
  initech: 'tg-test-initech-00aa11bb22cc33dd',
};
const EMAIL = 'jane.roe@example.com';
const MIX = [
  ['allow', 40], ['stream', 20], ['pii_deny', 10], ['pii_ok', 8], ['unknown_cat', 5],
  ['dead_primary', 7], ['fail', 5], ['rate_limited', 5],
];
const total = MIX.reduce((a, [, w]) => a + w, 0);
function pick() {
  let r = Math.random() * total;
  for (const [k, w] of MIX) { if ((r -= w) < 0) return k; }
  return 'allow';
}

function build(kind, n) {
  const msg = (t) => ({ model: 'auto', messages: [{ role: 'user', content: t }] });
  switch (kind) {
    case 'allow': return { key: 'acme', cat: 'chat', body: msg(`soak request ${n}: summarise the weather`) };
    case 'stream': return { key: 'acme', cat: 'chat', body: { ...msg(`soak stream ${n} one two three four`), stream: true } };
    case 'pii_deny': return { key: 'acme', cat: 'chat', body: msg(`write to ${EMAIL} about invoice ${n}`) };
    case 'pii_ok': return { key: 'acme', cat: 'pii_ok', body: msg(`write to ${EMAIL} about invoice ${n}`) };
    case 'unknown_cat': return { key: 'acme', cat: 'no_such_category', body: msg('x') };
    case 'dead_primary': return { key: 'acme', cat: 'dead_primary', body: msg(`fallback ${n}`) };
    case 'fail': return { key: 'acme', cat: 'claude', body: msg(`fail ${n} [[stub:{"status":500}]]`) };
    case 'rate_limited': return { key: 'initech', cat: 'chat', body: msg(`limited ${n}`) };
    default: throw new Error(kind);
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const stats = { requests: 0, responses: 0, conn_errors: 0, by_kind: {}, unexplained_5xx: 0, unexplained: [] };
const lat = [];
let acks = acksFile ? fs.openSync(acksFile, 'a') : null;
let stopping = false;
let n = 0;

function record(kind, status) {
  const k = (stats.by_kind[kind] ||= {});
  k[status] = (k[status] || 0) + 1;
  // 5xx is explained only for the kind whose upstream is told to fail.
  if (status >= 500 && kind !== 'fail') {
    stats.unexplained_5xx++;
    if (stats.unexplained.length < 10) stats.unexplained.push(`${kind}:${status}`);
  }
}

function one() {
  return new Promise((resolve) => {
    const kind = pick();
    const { key, cat, body } = build(kind, n++);
    const data = JSON.stringify(body);
    const t0 = Date.now();
    stats.requests++;
    const req = http.request({
      host: base.hostname, port: base.port, path: '/v1/chat/completions', method: 'POST', agent,
      headers: {
        'Authorization': `Bearer ${KEYS[key]}`, 'Content-Type': 'application/json',
        'X-Task-Category': cat, 'Content-Length': Buffer.byteLength(data),
      },
      timeout: 30000,
    }, (res) => {
      const id = res.headers['x-tollgate-decision-id'] || '';
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { if (text.length < 65536) text += c; });
      res.on('end', () => {
        stats.responses++;
        lat.push(Date.now() - t0);
        record(kind, res.statusCode);
        const complete = !(body.stream && res.statusCode === 200) || /data: \[DONE\]/.test(text);
        if (acks && id && complete) fs.writeSync(acks, `${id} ${kind} ${res.statusCode}\n`);
        resolve();
      });
      res.on('error', () => { stats.conn_errors++; resolve(); });
      res.on('aborted', () => {});
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => { stats.conn_errors++; setTimeout(resolve, 20); });
    req.end(data);
  });
}

async function worker() {
  while (!stopping) await one();
}

// The stub keeps every request it saw; clear it so a long soak does not
// measure the stub's memory instead of the gateway's.
const clearTimer = stub ? setInterval(() => {
  const u = new URL('/__requests', stub);
  const r = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'DELETE' }, (res) => res.resume());
  r.on('error', () => {});
  r.end();
}, 5000) : null;

const stopAt = Date.now() + seconds * 1000;
const tick = setInterval(() => {
  if (Date.now() >= stopAt || (untilFile && fs.existsSync(untilFile))) stopping = true;
}, 50);
process.on('SIGTERM', () => { stopping = true; });
process.on('SIGINT', () => { stopping = true; });

await Promise.all(Array.from({ length: conns }, worker));
clearInterval(tick);
if (clearTimer) clearInterval(clearTimer);
agent.destroy();
if (acks) fs.closeSync(acks);
lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0);
stats.latency_ms = { p50: q(0.5), p99: q(0.99), max: lat.length ? lat[lat.length - 1] : 0 };
const out = JSON.stringify(stats);
if (summaryFile) fs.writeFileSync(summaryFile, out + '\n');
else console.log(out);
