// harness.mjs — start the stub upstream and a real `tollgate serve` on loopback
// for the e2e tests, each in its own temp dir and on its own ports, and tear
// everything down afterwards.  Nothing of tollgate is mocked: the binary under
// test is $TOLLGATE (default ./tollgate), fed a config rendered from a template
// in tests/cases/gateway/ whose providers point at the stub.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TOLLGATE = path.resolve(ROOT, process.env.TOLLGATE || './tollgate');
export const STUB = path.join(ROOT, 'tests/support/stub-upstream.mjs');
export const CASES = path.join(ROOT, 'tests/cases/gateway');

// Client keys of the tenants in the templates; the configs hold only their SHA-256.
export const KEYS = {
  acme: 'tg-test-acme-0123456789abcdef',
  globex: 'tg-test-globex-fedcba9876543210',
  initech: 'tg-test-initech-00aa11bb22cc33dd',
};
export const sha256hex = (s) => createHash('sha256').update(s).digest('hex');

// PII used by the tests: an email and a phone number the default pack must find.
export const PII_EMAIL = 'jane.roe@example.com';
export const PII_TEXT = `Please email ${PII_EMAIL} about the overdue invoice.`;
// A test card number (Luhn-valid, the issuers' published test value): CREDIT_CARD.
export const PII_CARD = '4111 1111 1111 1111';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tg-e2e-${tag}-`));
}

// Resolve with the first line a child prints on stdout, or reject on exit/timeout.
function firstLine(child, ms, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what}: no output within ${ms} ms`)), ms);
    child.stdout.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) { clearTimeout(t); resolve(buf.slice(0, i).trim()); }
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited early (${code})`)); });
  });
}

function waitExit(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, ms);
    child.once('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal }); });
  });
}

// ---- the stub ------------------------------------------------------------

export async function startStub() {
  const child = spawn(process.execPath, [STUB], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const port = Number(await firstLine(child, 5000, 'stub'));
  const url = `http://127.0.0.1:${port}`;
  const call = async (method, p, body) => {
    const r = await fetch(url + p, { method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' } });
    return r.json();
  };
  return {
    port, url, child,
    stderr: () => stderr,
    /** requests received, optionally only those whose path contains `match` */
    requests: (match) => call('GET', '/__requests' + (match ? `?match=${encodeURIComponent(match)}` : '')),
    clear: () => call('DELETE', '/__requests'),
    behave: (rule) => call('POST', '/__behavior', rule),
    calm: () => call('DELETE', '/__behavior'),
    async stop() { child.kill('SIGTERM'); await waitExit(child, 2000); },
  };
}

// ---- tollgate ------------------------------------------------------------

export function keygen(dir) {
  const r = spawnSync(TOLLGATE, ['keygen', '--out', path.join(dir, 'audit')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tollgate keygen failed (${r.status}): ${r.stderr}`);
  return { key: path.join(dir, 'audit.key'), pub: path.join(dir, 'audit.pub'), keyId: r.stdout.trim() };
}

/** Fill {{NAME}} placeholders of a template; a placeholder left unfilled is an error. */
export function render(templateName, vars) {
  const text = fs.readFileSync(path.join(CASES, templateName), 'utf8');
  const out = text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (m, k) => {
    if (!(k in vars)) throw new Error(`template ${templateName}: no value for {{${k}}}`);
    return String(vars[k]);
  });
  return out;
}

export const DEFAULT_VARS = {
  TIMEOUT_MS: 2000,
  DEADLINE_MS: 6000,
  FAILURE_THRESHOLD: 5,
  RECOVERY_MS: 30000,
  ON_VIOLATION: 'deny',
  MAX_BODY: 262144,
  HEADER_TIMEOUT_MS: 5000,
  BUSY_POLL_US: 200,   // the e2e suite runs the loops busy-polling; tests/scripts do not
  MODE: 'enforce',
  TELEMETRY_ENABLED: false,
  PROGRESSIVE: false,
  US_API_KEY: 'sk-stub-us-key',
  DEAD_URL: 'http://127.0.0.1:1/v1',   // port 1: nothing listens, connection refused
};

async function waitHealthy(base, child, ms) {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`tollgate serve exited (${child.exitCode})`);
    try {
      const r = await fetch(base + '/healthz');
      if (r.status === 200) return;
      last = `healthz ${r.status}`;
    } catch (e) { last = e.cause ? e.cause.code : e.message; }
    await sleep(50);
  }
  throw new Error(`tollgate serve not healthy within ${ms} ms (${last})`);
}

/**
 * Start stub + tollgate.  opts: template (default 'e2e.yaml'), vars (merged
 * over DEFAULT_VARS), tag (temp dir name).  Returns an object with the
 * stub, the base URL, config/audit paths and helpers; call stop() in after().
 */
export async function startGateway(opts = {}) {
  const tag = opts.tag || 'gw';
  const dir = tempDir(tag);
  const stub = opts.stub || await startStub();
  let keys;
  try {
    keys = keygen(dir);
  } catch (e) {
    if (!opts.stub) await stub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const vars = {
    ...DEFAULT_VARS, TELEMETRY_URL: `${stub.url}/telemetry/v1/inference`, ...(opts.vars || {}),
    STUB: stub.url, DIR: dir,
    ACME_KEY_SHA: sha256hex(KEYS.acme), GLOBEX_KEY_SHA: sha256hex(KEYS.globex),
    INITECH_KEY_SHA: sha256hex(KEYS.initech),
    AUDIT_LOG: path.join(dir, 'audit.log'), AUDIT_KEY: keys.key,
  };
  const template = opts.template || 'e2e.yaml';
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, render(template, vars));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(TOLLGATE, ['serve', '--config', config, '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let stopped = false;
  const gw = {
    dir, stub, child, port, base, baseURL: base + '/v1', config, vars, template,
    auditPath: vars.AUDIT_LOG, pubKey: keys.pub, keyId: keys.keyId,
    output: () => output,
    /** Re-render the template with changed vars into the config file. */
    rewrite(newVars) {
      Object.assign(vars, newVars);
      fs.writeFileSync(config, render(template, vars));
    },
    reload() { child.kill('SIGHUP'); },
    /** SIGTERM and wait: graceful drain. Returns {code, signal}. */
    async stop() {
      if (stopped) return { code: child.exitCode, signal: child.signalCode };
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const r = await waitExit(child, 8000);
      if (!opts.stub) await stub.stop();
      // Under `make asan` the binary is sanitized: any report fails the test.
      const san = /(ERROR: (Address|Leak|Thread)Sanitizer|runtime error:)[^]*/.exec(output);
      if (san) {
        fs.rmSync(dir, { recursive: true, force: true });   // callers may not reach cleanup()
        throw new Error(`sanitizer report from tollgate serve:\n${san[0].slice(0, 4000)}`);
      }
      return r;
    },
    cleanup() { fs.rmSync(dir, { recursive: true, force: true }); },
  };
  try {
    await waitHealthy(base, child, 10000);
  } catch (e) {
    await gw.stop();
    const msg = `${e.message}\n--- tollgate output ---\n${output.slice(-3000)}`;
    gw.cleanup();
    throw new Error(msg);
  }
  return gw;
}

// ---- audit log -----------------------------------------------------------

export function auditEntries(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Entries that record a request (anything with a decision_id that is not a seal). */
export function requestEntries(file) {
  return auditEntries(file).filter((e) => e.decision_id && e.event !== 'seal' && e.type !== 'seal');
}

export function auditVerify(gw) {
  return spawnSync(TOLLGATE, ['audit', 'verify', gw.auditPath, '--pubkey', gw.pubKey], { encoding: 'utf8' });
}

/** Poll until fn() returns truthy (or throw after ms). */
export async function eventually(fn, ms = 3000, what = 'condition', every = 25) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await fn();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`${what} not met within ${ms} ms`);
}

/** The audit entry with this decision id (waits for the writer thread). */
export async function auditEntry(gw, decisionId, ms = 3000) {
  return eventually(() => requestEntries(gw.auditPath).find((e) => e.decision_id === decisionId), ms,
    `audit entry ${decisionId}`);
}

/** Raw POST /v1/chat/completions with fetch (for what the SDK hides). */
export async function chat(gw, body, { key = KEYS.acme, category = 'chat', headers = {}, raw, timeoutMs = 20000 } = {}) {
  const h = { 'content-type': 'application/json', ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (category) h['x-task-category'] = category;
  const r = await fetch(gw.baseURL + '/chat/completions', { method: 'POST', headers: h,
    body: raw !== undefined ? raw : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  let text;
  try {
    text = await r.text();
  } catch (e) {
    if (e.name !== 'TimeoutError' && e.name !== 'AbortError') throw e;
    text = '';   // the body did not finish in time; callers check timing
  }
  let json = null;
  try { json = JSON.parse(text); } catch { /* SSE or not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

export const userMsg = (content, extra = {}) => ({ model: 'auto', messages: [{ role: 'user', content }], ...extra });
