// The real coding agents, unchanged, through tollgate (tests/cases/gateway/doors.yaml):
// Claude Code (`claude -p`, ANTHROPIC_BASE_URL = tollgate, POST /v1/messages?beta=true,
// x-api-key, anthropic-beta) and Codex CLI (`codex exec`, a model provider with
// wire_api = "responses", POST /v1/responses streamed), each answered by the
// cheap CN-region chat model behind an OpenAI-compatible API, and each shown
// a refusal in its own way when the prompt carries a card number, while the
// provider receives nothing.  The clients run hermetically (clients.mjs):
// temp HOME, no telemetry or update checks, loopback only, bounded.
//
// Claude Code's own request carries noreply@anthropic.com, and the
// code_generation rule has pii_allowed: false: its plain request is served
// only because a role mailbox is not personal data (issue 17); a personal
// address in the user's prompt is still refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, KEYS, PII_CARD, PII_EMAIL, requestEntries, eventually } from './harness.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runClaude, runCodex, haveClaude, haveCodex, tempHome } from './clients.mjs';

const RUN_MS = 60000;   // per client run; a served one takes about a second here

let gw;
before(async () => { gw = await startGateway({ tag: 'agents', template: 'doors.yaml' }); });
after(async () => {
  if (!gw) return;
  await gw.stop();
  gw.cleanup();
});

const claude = (prompt, opts = {}) => runClaude(prompt, { baseURL: gw.base, apiKey: KEYS.acme, timeoutMs: RUN_MS, ...opts });
const codex = (prompt, opts = {}) => runCodex(prompt, { baseURL: gw.baseURL, apiKey: KEYS.acme, timeoutMs: RUN_MS, ...opts });

const show = (r) => `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout.slice(-800)}\nstderr: ${r.stderr.slice(-1200)}\n` +
  `tollgate: ${gw.output().slice(-1200)}`;

// Entries for one endpoint written since `from` (the log is shared by the tests).
const entriesSince = (from, ep) => requestEntries(gw.auditPath).slice(from).filter((e) => e.endpoint && e.endpoint.endsWith(ep));

test('Claude Code: `claude -p` answered by the CN chat model through /v1/messages', { skip: !haveClaude() && 'claude not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/cn/', reply: 'pong from the CN model' });
  const from = requestEntries(gw.auditPath).length;
  try {
    const r = await claude('Reply with the single word pong.');
    assert.equal(r.code, 0, show(r));
    assert.ok(r.json, `a JSON result: ${show(r)}`);
    assert.equal(r.json.is_error, false, show(r));
    assert.equal(r.json.result, 'pong from the CN model');
  } finally {
    await gw.stub.calm();
  }
  const log = await gw.stub.requests();
  assert.ok(log.length >= 1, 'the provider was asked');
  for (const u of log) {
    assert.equal(u.path, '/cn/v1/chat/completions', 'only the CN chat-completions provider');
    assert.equal(u.body.model, 'deepseek-v4-flash');
  }
  const main = log.find((u) => JSON.stringify(u.body.messages).includes('Reply with the single word pong.'));
  assert.ok(main, 'the user prompt reached the model');
  assert.equal(main.body.messages[0].role, 'system', 'Claude Code\'s system prompt became the system message');
  // Its commit-attribution reminder (in a system-reminder block of the user
  // turn in this version) carries the role mailbox: served, not stripped.
  assert.ok(JSON.stringify(main.body.messages).includes('Co-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>'),
    'its unmodified request, with noreply@anthropic.com, was served');
  assert.ok(Array.isArray(main.body.tools) && main.body.tools.some((t) => t.function && t.function.name === 'Bash'),
    'its tools were translated to chat functions');
  const es = await eventually(() => { const x = entriesSince(from, '/messages'); return x.length ? x : null; }, 3000, 'audit entry');
  assert.ok(es.every((e) => e.decision === 'allow' && e.category === 'code_generation' && e.model === 'cn-flash'),
    JSON.stringify(es.map((e) => [e.decision, e.category, e.model])));
  // The role mailbox is recorded as an allowed finding (entity and count only).
  assert.ok(es.some((e) => (e.allowed || []).some((a) => a.entity === 'EMAIL_ADDRESS' && a.count >= 1)),
    JSON.stringify(es.map((e) => e.allowed)));
  assert.ok(!fs.readFileSync(gw.auditPath, 'utf8').includes('noreply@'), 'the address itself is never audited');
});

test('Claude Code: with a model aliased to the Anthropic route, its Messages pass through to Anthropic', { skip: !haveClaude() && 'claude not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/anthropic/', reply: 'pong from anthropic' });
  try {
    const r = await claude('Reply with the single word pong.', { model: 'claude-opus-4-1' });
    assert.equal(r.json && r.json.is_error, false, show(r));
    assert.equal(r.json.result, 'pong from anthropic');
  } finally {
    await gw.stub.calm();
  }
  const log = await gw.stub.requests();
  assert.ok(log.length >= 1);
  for (const u of log) {
    assert.equal(u.path, '/anthropic/v1/messages', 'only the Anthropic provider');
    assert.equal(u.body.model, 'claude-sonnet-4-5', 'the route\'s upstream model');
    assert.equal(u.headers['anthropic-version'], '2023-06-01');
  }
  const main = log.find((u) => JSON.stringify(u.body.messages).includes('Reply with the single word pong.'));
  assert.ok(main && main.body.system, 'the system prompt stays Anthropic\'s top-level system');
  assert.ok(main.body.tools.some((t) => t.name === 'Bash' && t.input_schema), 'tools stay in Anthropic form');
  // passed through as Claude Code wrote it: its cache breakpoints and thinking setting reach Anthropic
  assert.ok(Array.isArray(main.body.system) && main.body.system.some((b) => b.cache_control),
    'the system blocks with their cache_control, as written');
  assert.ok(main.body.thinking, 'the thinking setting, as written');
  assert.ok(!main.body.metadata || main.body.metadata.category === undefined);
});

test('Claude Code: a tool round trip (Read tool_use, tool_result) through the CN chat model', { skip: !haveClaude() && 'claude not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  const home = tempHome('claude');
  const file = path.join(home, 'work', 'notes.txt');
  await gw.stub.behave({ match: '/cn/', tool_call: { name: 'Read', arguments: { file_path: file } } });
  try {
    const r = await claude('What does notes.txt say?', { home, maxTurns: 3, files: { 'notes.txt': 'The build is green.\n' } });
    assert.equal(r.json && r.json.is_error, false, show(r));
    assert.match(r.json.result, /^tool said: [^]*The build is green\./, show(r));
  } finally {
    await gw.stub.calm();
  }
  const log = (await gw.stub.requests()).filter((u) => JSON.stringify(u.body.messages).includes('What does notes.txt say?'));
  assert.equal(log.length, 2, 'the call, then the answer with its result');
  const asst = log[1].body.messages.find((m) => m.role === 'assistant' && m.tool_calls);
  assert.equal(asst.tool_calls[0].function.name, 'Read');
  const tool = log[1].body.messages.find((m) => m.role === 'tool');
  assert.ok(tool, 'the tool_result became a tool message');
  assert.equal(tool.tool_call_id, asst.tool_calls[0].id);
  assert.match(JSON.stringify(tool.content), /The build is green\./);
});

test('Claude Code: a card number in the prompt is refused (API Error 403 shown), the provider hears nothing', { skip: !haveClaude() && 'claude not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  const r = await claude(`Charge the customer's card ${PII_CARD} for the renewal.`);
  assert.ok(r.json, `a JSON result: ${show(r)}`);
  assert.equal(r.json.is_error, true, show(r));
  assert.equal(r.json.api_error_status, 403, show(r));
  assert.equal(r.json.api_error_type, 'permission_error');
  assert.match(r.json.result, /403/);
  assert.match(r.json.result, /denied by policy/, 'the refusal reaches the user');
  assert.match(r.json.result, /CREDIT_CARD|pii/i);
  assert.ok(!r.stdout.includes('4111 1111'), 'tollgate never echoes the number');
  assert.ok(!r.timedOut && r.ms < 30000, `refused at once, not retried (${r.ms} ms)`);
  assert.equal((await gw.stub.requests()).length, 0, 'no provider was contacted');
});

test('Claude Code: a personal address in the prompt is refused although its own noreply address passes (issue 17)', { skip: !haveClaude() && 'claude not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  const r = await claude(`Draft a short note to ${PII_EMAIL} about the invoice.`);
  assert.equal(r.json && r.json.api_error_status, 403, show(r));
  assert.match(r.json.result, /EMAIL_ADDRESS|pii/i);
  assert.equal((await gw.stub.requests()).length, 0);
});

test('Codex CLI: `codex exec` answered by the CN chat model through /v1/responses', { skip: !haveCodex() && 'codex not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/cn/', reply: 'pong from the CN model' });
  const from = requestEntries(gw.auditPath).length;
  try {
    const r = await codex('Reply with the single word pong.');
    assert.equal(r.code, 0, show(r));
    assert.equal((r.last || '').trim(), 'pong from the CN model', show(r));
    assert.match(r.stdout, /pong from the CN model/);
  } finally {
    await gw.stub.calm();
  }
  const log = await gw.stub.requests();
  assert.ok(log.length >= 1);
  for (const u of log) {
    assert.equal(u.path, '/cn/v1/chat/completions');
    assert.equal(u.body.model, 'deepseek-v4-flash');
    assert.equal(u.stream, true, 'Codex streams; so does the translated request');
  }
  const main = log.find((u) => JSON.stringify(u.body.messages).includes('Reply with the single word pong.'));
  assert.ok(main, 'the user prompt reached the model');
  assert.ok(main.body.messages.some((m) => m.role === 'system' && /Codex/.test(JSON.stringify(m.content))),
    'Codex\'s developer messages became system messages');
  assert.ok(main.body.tools.some((t) => t.function && t.function.name === 'exec_command'), 'its tools were translated');
  const es = await eventually(() => { const x = entriesSince(from, '/responses'); return x.length ? x : null; }, 3000, 'audit entry');
  assert.ok(es.every((e) => e.decision === 'allow' && e.category === 'code_generation' && e.model === 'cn-flash'),
    JSON.stringify(es.map((e) => [e.decision, e.category, e.model])));
});

test('Codex CLI: a tool round trip (exec_command, function_call_output) through the CN chat model', { skip: !haveCodex() && 'codex not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/cn/', tool_call: { name: 'exec_command', arguments: { cmd: 'cat notes.txt' } } });
  try {
    const r = await codex('What does notes.txt say?', { files: { 'notes.txt': 'The build is green.\n' } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.last || '', /^tool said: [^]*The build is green\./, show(r));
  } finally {
    await gw.stub.calm();
  }
  const log = await gw.stub.requests();
  assert.equal(log.length, 2, 'the call, then the answer with its output');
  const tool = log[1].body.messages.find((m) => m.role === 'tool');
  assert.ok(tool, 'the function_call_output became a tool message');
  assert.match(JSON.stringify(tool.content), /The build is green\./);
});

test('Codex CLI: a card number in the prompt is refused (403 shown, non-zero exit), the provider hears nothing', { skip: !haveCodex() && 'codex not installed (npm ci)' }, async () => {
  await gw.stub.clear();
  const r = await codex(`Charge the customer's card ${PII_CARD} for the renewal.`);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /403/, show(r));
  assert.match(r.stderr, /denied by policy/, 'the refusal reaches the user');
  assert.ok(!r.timedOut && r.ms < 30000, `refused at once, not retried (${r.ms} ms)`);
  assert.equal((await gw.stub.requests()).length, 0, 'no provider was contacted');
});

// The captured requests (fixtures/, what the pinned versions send), replayed
// byte for byte with their own headers: each is served by the CN chat model
// as an event stream in the client's dialect.  Guards the decoders against
// the clients' real shapes without running the binaries.
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
test('the captured Claude Code and Codex requests, replayed unmodified, are served', async () => {
  const files = fs.readdirSync(FIXTURES).filter((f) => /^(claude-code|codex)-.*\.json$/.test(f)).sort();
  assert.ok(files.length >= 6, `fixtures present (${files.length})`);
  for (const f of files) {
    await gw.stub.clear();
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8'));
    const headers = {};
    for (const [k, v] of Object.entries(fx.headers)) {
      if (['host', 'content-length', 'connection', 'accept-encoding'].includes(k) || v === '[redacted]') continue;
      headers[k] = v;
    }
    if (fx.headers['x-api-key']) headers['x-api-key'] = KEYS.acme;
    else headers.authorization = `Bearer ${KEYS.acme}`;
    const r = await fetch(gw.base + fx.path, { method: fx.method, headers, body: JSON.stringify(fx.body),
      signal: AbortSignal.timeout(15000) });
    const text = await r.text();
    assert.equal(r.status, 200, `${f}: ${text.slice(0, 400)}`);
    assert.match(r.headers.get('content-type') || '', /text\/event-stream/, f);
    const last = f.startsWith('codex') ? /event: response\.completed/ : /event: message_stop/;
    assert.match(text, last, `${f}: the stream ends as the client expects`);
    const log = await gw.stub.requests();
    assert.equal(log.length, 1, f);
    assert.equal(log[0].path, '/cn/v1/chat/completions', f);
  }
});
