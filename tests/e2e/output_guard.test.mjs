// The output guard (policy.response; docs/output-guard.md): what the provider
// answers is scanned before it reaches the client.  Real tollgate, real
// sockets, the stub upstream answering what each test tells it to (a route
// rule with `reply` / `tool_call`, so the request itself carries nothing).
// Gateways: redact (secrets: redact, pii: redact), deny (secrets: deny,
// pii: pass), pass (the default), audit (secrets: deny in mode: audit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startGateway, KEYS, auditEntry, auditVerify, chat, userMsg } from './harness.mjs';

// Real-looking values (the packs drop documentation samples such as AKIAIOSFODNN7EXAMPLE).
const GH = 'ghp_QOqb7XOfCsVtaXrZMAzSv2gENfMTx0MOdOQw';
const AWS = 'AKIAZ3MQRF7XW2LBNPQT';
const EMAIL = 'jane.doe@acme-corp.com';
// Long enough that the stream guard releases text before the value arrives
// (it holds back the last 256 bytes).
const FILLER = 'The deployment guide continues with routine steps that mention nothing sensitive at all. '.repeat(12);

// No fragment of v (10 bytes or more) anywhere in text.
function noFragment(text, v, what) {
  for (let i = 0; i + 10 <= v.length; i++)
    assert.ok(!text.includes(v.slice(i, i + 10)), `${what}: fragment ${v.slice(i, i + 10)} of a guarded value leaked`);
}

const gws = {};
async function start(name, vars) {
  gws[name] = await startGateway({ tag: `og-${name}`, template: 'outguard.yaml',
    vars: { MODE: 'enforce', RESP_SECRETS: 'pass', RESP_PII: 'pass', ...vars } });
}
before(async () => {
  await start('redact', { RESP_SECRETS: 'redact', RESP_PII: 'redact' });
  await start('deny', { RESP_SECRETS: 'deny' });
  await start('pass', {});
  await start('audit', { RESP_SECRETS: 'deny', MODE: 'audit' });
});
after(async () => {
  for (const gw of Object.values(gws)) { await gw.stop(); gw.cleanup(); }
});

// The stub answers the next request on this provider with `behavior`.
async function answer(gw, behavior, match = '/us/') {
  await gw.stub.calm();
  await gw.stub.clear();
  await gw.stub.behave({ match, times: 1, ...behavior });
}

// OpenAI SSE: the data objects in order (and whether [DONE] came).
function sseData(text) {
  const out = [];
  let done = false;
  for (const block of text.split(/\n\n/)) {
    const lines = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    if (!lines.length) continue;
    const d = lines.join('\n');
    if (d === '[DONE]') { done = true; continue; }
    out.push(JSON.parse(d));
  }
  return { events: out, done };
}
// Named SSE events (Messages, Responses).
function sseNamed(text) {
  const out = [];
  for (const block of text.split(/\n\n/)) {
    let name = 'message';
    const data = [];
    for (const l of block.split('\n')) {
      if (l.startsWith('event: ')) name = l.slice(7);
      else if (l.startsWith('data: ')) data.push(l.slice(6));
    }
    if (data.length) out.push({ event: name, data: JSON.parse(data.join('\n')) });
  }
  return out;
}
const chatText = (events) => events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('');

async function post(gw, path, body, headers = {}) {
  const r = await fetch(gw.base + path, { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', 'x-task-category': 'chat', ...headers },
    signal: AbortSignal.timeout(20000) });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

async function entryOf(gw, r) {
  const id = r.headers.get('x-tollgate-decision-id');
  assert.ok(id, 'decision id header');
  const e = await auditEntry(gw, id);
  const raw = fs.readFileSync(gw.auditPath, 'utf8').split('\n').find((l) => l.includes(id));
  return { e, raw };
}

// ---- whole answers ------------------------------------------------------

test('pass (default): the answer is relayed untouched and no response_findings are audited', async () => {
  const gw = gws.pass;
  await answer(gw, { reply: `Use ${GH} to push.` });
  const r = await chat(gw, userMsg('how do I push?'));
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].message.content, `Use ${GH} to push.`);
  const { e } = await entryOf(gw, r);
  assert.equal(e.response_findings, undefined, 'the guard did not run');
  assert.equal(e.response_verdict, undefined);
});

test('redact: a secret in a plain answer is replaced, counted, and never audited', async () => {
  const gw = gws.redact;
  await answer(gw, { reply: `Use ${GH} to push, and ${AWS} for S3.` });
  const r = await chat(gw, userMsg('how do I push?'));
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].message.content, 'Use <GITHUB_TOKEN_1> to push, and <AWS_ACCESS_KEY_1> for S3.');
  noFragment(r.text, GH, 'client');
  const { e, raw } = await entryOf(gw, r);
  assert.equal(e.status, 200);
  assert.equal(e.response_verdict, 'redact');
  const counts = Object.fromEntries(e.response_findings.map((f) => [f.entity, f.count]));
  assert.deepEqual(counts, { GITHUB_TOKEN: 1, AWS_ACCESS_KEY: 1 });
  for (const f of e.response_findings) assert.deepEqual(Object.keys(f).sort(), ['count', 'entity']);
  noFragment(raw, GH, 'audit line');
  noFragment(raw, AWS, 'audit line');
});

test('redact: personal data in an answer is replaced; an allow-listed address is not', async () => {
  const gw = gws.redact;
  await answer(gw, { reply: `Write to ${EMAIL}, not noreply@anthropic.com; again: ${EMAIL}.` });
  const r = await chat(gw, userMsg('who do I write to?'));
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].message.content,
    'Write to <EMAIL_ADDRESS_1>, not noreply@anthropic.com; again: <EMAIL_ADDRESS_1>.');
  const { e, raw } = await entryOf(gw, r);
  assert.deepEqual(e.response_findings, [{ entity: 'EMAIL_ADDRESS', count: 2 }]);
  assert.ok(!raw.includes('jane.doe'));
});

test('deny: a secret in a plain answer is a 502 response_blocked, audited, with no fallback', async () => {
  const gw = gws.deny;
  await answer(gw, { reply: `Here: ${GH}` });
  const r = await chat(gw, userMsg('give me the token'));
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'response_blocked');
  assert.deepEqual(r.json.error.rules, ['response.secrets']);
  assert.match(r.json.error.message, /GITHUB_TOKEN/);
  noFragment(r.text, GH, 'client');
  const up = await gw.stub.requests();
  assert.equal(up.length, 1, 'one provider asked, no fallback');
  const { e, raw } = await entryOf(gw, r);
  assert.equal(e.status, 502);
  assert.equal(e.error, 'response_blocked');
  assert.equal(e.response_verdict, 'deny');
  assert.equal(e.response_rule, 'response.secrets');
  assert.deepEqual(e.response_findings, [{ entity: 'GITHUB_TOKEN', count: 1 }]);
  noFragment(raw, GH, 'audit line');
});

test('deny on secrets, pass on pii: personal data goes through and is not counted', async () => {
  const gw = gws.deny;
  await answer(gw, { reply: `Mail ${EMAIL}.` });
  const r = await chat(gw, userMsg('who?'));
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].message.content, `Mail ${EMAIL}.`);
  const { e } = await entryOf(gw, r);
  assert.deepEqual(e.response_findings, []);
  assert.equal(e.response_verdict, 'pass');
});

test('deny: the Messages door gets the block in Anthropic\'s error shape', async () => {
  const gw = gws.deny;
  await answer(gw, { reply: `Here: ${GH}` });
  const r = await post(gw, '/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 100,
    messages: [{ role: 'user', content: 'token please' }] }, { 'x-api-key': KEYS.acme });
  assert.equal(r.status, 502);
  const j = JSON.parse(r.text);
  assert.equal(j.type, 'error');
  assert.equal(j.error.code, 'response_blocked');
  noFragment(r.text, GH, 'client');
});

test('audit mode: a secret the guard would deny is recorded, the answer is untouched', async () => {
  const gw = gws.audit;
  await answer(gw, { reply: `Here: ${GH}` });
  const r = await chat(gw, userMsg('give me the token'));
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].message.content, `Here: ${GH}`);
  const { e } = await entryOf(gw, r);
  assert.equal(e.response_verdict, 'deny');
  assert.equal(e.response_rule, 'response.secrets');
  assert.equal(e.error, undefined);
});

// ---- tool calls -----------------------------------------------------------

test('redact: a secret in tool-call arguments is replaced (whole and streamed)', async () => {
  const gw = gws.redact;
  const call = { name: 'deploy', arguments: { token: GH, region: 'us-east-1' } };
  await answer(gw, { tool_call: call });
  let r = await chat(gw, userMsg('deploy it', { tools: [{ type: 'function', function: { name: 'deploy', parameters: { type: 'object' } } }] }));
  assert.equal(r.status, 200);
  const args = JSON.parse(r.json.choices[0].message.tool_calls[0].function.arguments);
  assert.deepEqual(args, { token: '<GITHUB_TOKEN_1>', region: 'us-east-1' });
  noFragment(r.text, GH, 'client');

  await answer(gw, { tool_call: call });   // arguments stream in 7-character pieces
  r = await chat(gw, userMsg('deploy it', { stream: true, tools: [{ type: 'function', function: { name: 'deploy', parameters: { type: 'object' } } }] }));
  assert.equal(r.status, 200);
  const { events, done } = sseData(r.text);
  assert.ok(done, 'the stream ends with [DONE]');
  const streamed = events.map((e) => e.choices?.[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '').join('');
  assert.deepEqual(JSON.parse(streamed), { token: '<GITHUB_TOKEN_1>', region: 'us-east-1' });
  assert.equal(events.at(-1).choices?.[0]?.finish_reason ?? events.findLast((e) => e.choices?.[0]?.finish_reason)?.choices[0].finish_reason, 'tool_calls');
  noFragment(r.text, GH, 'client stream');
  const { e } = await entryOf(gw, r);
  assert.deepEqual(e.response_findings, [{ entity: 'GITHUB_TOKEN', count: 1 }]);
});

// ---- streams ----------------------------------------------------------------

test('redact: a secret split across chat SSE chunks is replaced before it is forwarded', async () => {
  const gw = gws.redact;
  const reply = `${FILLER}Set GITHUB_TOKEN to ${GH} and run it. ${FILLER}`;
  await answer(gw, { reply, piece_chars: 5 });   // the token arrives in 9 pieces
  const r = await chat(gw, userMsg('how?', { stream: true }));
  assert.equal(r.status, 200);
  const { events, done } = sseData(r.text);
  assert.ok(done);
  assert.ok(events.length > 20, `streamed in many events (${events.length})`);
  assert.equal(chatText(events), `${FILLER}Set GITHUB_TOKEN to <GITHUB_TOKEN_1> and run it. ${FILLER}`);
  noFragment(r.text, GH, 'client stream');
  // text was released before the stream ended: the guard holds a window, not the answer
  const firstText = events.findIndex((e) => (e.choices?.[0]?.delta?.content ?? '') !== '');
  assert.ok(firstText >= 0 && firstText < events.length / 2, `first text at event ${firstText} of ${events.length}`);
  const { e, raw } = await entryOf(gw, r);
  assert.equal(e.stream, true);
  assert.deepEqual(e.response_findings, [{ entity: 'GITHUB_TOKEN', count: 1 }]);
  noFragment(raw, GH, 'audit line');
});

test('redact: split secret through the anthropic provider\'s stream (translated to chat)', async () => {
  const gw = gws.redact;
  await answer(gw, { reply: `${FILLER}key ${AWS} end`, piece_chars: 3 }, '/anthropic');
  const r = await chat(gw, userMsg('key?', { stream: true }), { category: 'claude' });
  assert.equal(r.status, 200);
  const { events, done } = sseData(r.text);
  assert.ok(done);
  assert.equal(chatText(events), `${FILLER}key <AWS_ACCESS_KEY_1> end`);
  noFragment(r.text, AWS, 'client stream');
});

test('redact: a secret split across chunks on the Messages door (Anthropic SSE)', async () => {
  const gw = gws.redact;
  await answer(gw, { reply: `${FILLER}token ${GH} and mail ${EMAIL} done`, piece_chars: 4 });
  const r = await post(gw, '/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 500, stream: true,
    messages: [{ role: 'user', content: 'token?' }] }, { 'x-api-key': KEYS.acme });
  assert.equal(r.status, 200);
  const evs = sseNamed(r.text);
  const text = evs.filter((x) => x.event === 'content_block_delta').map((x) => x.data.delta.text ?? '').join('');
  assert.equal(text, `${FILLER}token <GITHUB_TOKEN_1> and mail <EMAIL_ADDRESS_1> done`);
  assert.equal(evs.at(-1).event, 'message_stop');
  noFragment(r.text, GH, 'client stream');
  noFragment(r.text, EMAIL, 'client stream');
});

test('redact: a secret split across chunks on the Responses door', async () => {
  const gw = gws.redact;
  await answer(gw, { reply: `${FILLER}use ${GH} now`, piece_chars: 6 });
  const r = await post(gw, '/v1/responses', { model: 'gpt-5-codex', input: 'token?', stream: true },
    { authorization: `Bearer ${KEYS.acme}` });
  assert.equal(r.status, 200);
  const evs = sseNamed(r.text);
  const deltas = evs.filter((x) => x.event === 'response.output_text.delta').map((x) => x.data.delta).join('');
  assert.equal(deltas, `${FILLER}use <GITHUB_TOKEN_1> now`);
  const done = evs.find((x) => x.event === 'response.completed');
  assert.ok(done, 'response.completed');
  assert.ok(JSON.stringify(done.data).includes('<GITHUB_TOKEN_1>'));
  noFragment(r.text, GH, 'client stream');
});

test('redact: the legacy Completions door, whole and streamed', async () => {
  const gw = gws.redact;
  await answer(gw, { reply: `key ${AWS} ok` });
  let r = await post(gw, '/v1/completions', { model: 'gpt-5-codex', prompt: 'key?' },
    { authorization: `Bearer ${KEYS.acme}` });
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).choices[0].text, 'key <AWS_ACCESS_KEY_1> ok');
  await answer(gw, { reply: `${FILLER}key ${AWS} ok`, piece_chars: 3 });
  r = await post(gw, '/v1/completions', { model: 'gpt-5-codex', prompt: 'key?', stream: true },
    { authorization: `Bearer ${KEYS.acme}` });
  assert.equal(r.status, 200);
  const { events, done } = sseData(r.text);
  assert.ok(done);
  assert.equal(events.map((e) => e.choices?.[0]?.text ?? '').join(''), `${FILLER}key <AWS_ACCESS_KEY_1> ok`);
  noFragment(r.text, AWS, 'completions stream');
});

test('deny, stream: a secret after the first bytes ends the chat stream with an error event', async () => {
  const gw = gws.deny;
  await answer(gw, { reply: `${FILLER}${FILLER}token ${GH} ${FILLER}`, piece_chars: 5 });
  const r = await chat(gw, userMsg('token?', { stream: true }));
  assert.equal(r.status, 200, 'headers were sent before the secret arrived');
  const { events, done } = sseData(r.text);
  assert.ok(!done, 'no [DONE] after a block');
  const last = events.at(-1);
  assert.equal(last.error?.code, 'response_blocked');
  assert.deepEqual(last.error.rules, ['response.secrets']);
  assert.ok(chatText(events).length > 0, 'text before the secret was relayed');
  assert.ok(FILLER.startsWith(chatText(events).slice(0, 50)));
  noFragment(r.text, GH, 'client stream');
  const { e } = await entryOf(gw, r);
  assert.equal(e.error, 'response_blocked');
  assert.equal(e.response_rule, 'response.secrets');
  assert.equal(e.response_verdict, 'deny');
  assert.equal((await gw.stub.requests()).length, 1, 'no fallback');
});

test('deny, stream: Messages ends with event: error, Responses with response.failed', async () => {
  const gw = gws.deny;
  await answer(gw, { reply: `${FILLER}${FILLER}token ${GH} ${FILLER}`, piece_chars: 5 });
  let r = await post(gw, '/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 500, stream: true,
    messages: [{ role: 'user', content: 'token?' }] }, { 'x-api-key': KEYS.acme });
  assert.equal(r.status, 200);
  let evs = sseNamed(r.text);
  assert.equal(evs.at(-1).event, 'error');
  assert.equal(evs.at(-1).data.error.code, 'response_blocked');
  assert.match(evs.at(-1).data.error.message, /response policy/);
  assert.ok(!evs.some((x) => x.event === 'message_stop'));
  noFragment(r.text, GH, 'messages stream');

  await answer(gw, { reply: `${FILLER}${FILLER}token ${GH} ${FILLER}`, piece_chars: 5 });
  r = await post(gw, '/v1/responses', { model: 'gpt-5-codex', input: 'token?', stream: true },
    { authorization: `Bearer ${KEYS.acme}` });
  assert.equal(r.status, 200);
  evs = sseNamed(r.text);
  const failed = evs.find((x) => x.event === 'response.failed');
  assert.ok(failed, 'response.failed');
  assert.match(JSON.stringify(failed.data), /response_blocked/);
  assert.ok(!evs.some((x) => x.event === 'response.completed'));
  noFragment(r.text, GH, 'responses stream');
});

test('deny, stream: a secret before anything was released is a plain 502', async () => {
  const gw = gws.deny;
  await answer(gw, { reply: `short: ${GH}`, piece_chars: 5 });
  const r = await chat(gw, userMsg('token?', { stream: true }));
  assert.equal(r.status, 502);
  assert.equal(JSON.parse(r.text).error.code, 'response_blocked');
  noFragment(r.text, GH, 'client');
});

// ---- the audit log ------------------------------------------------------------

test('every gateway\'s audit log verifies, and a changed response_findings count is caught', async () => {
  for (const gw of Object.values(gws)) await gw.stop();   // the final seal covers every entry
  for (const [name, gw] of Object.entries(gws)) {
    const v = auditVerify(gw);
    assert.equal(v.status, 0, `${name}: ${v.stdout}${v.stderr}`);
  }
  const gw = gws.redact;
  const lines = fs.readFileSync(gw.auditPath, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('"response_findings":[{"entity":"GITHUB_TOKEN","count":1}'));
  assert.ok(i >= 0, 'an entry with response_findings');
  const copy = gw.auditPath + '.tampered';
  lines[i] = lines[i].replace('"count":1}', '"count":0}');
  fs.writeFileSync(copy, lines.join('\n'));
  const { spawnSync } = await import('node:child_process');
  const { TOLLGATE } = await import('./harness.mjs');
  const t = spawnSync(TOLLGATE, ['audit', 'verify', copy, '--pubkey', gw.pubKey], { encoding: 'utf8' });
  assert.equal(t.status, 1, t.stdout + t.stderr);
  assert.match(t.stdout + t.stderr, /tampered: seq \d+/);

  // audit stats --by rule counts the guard's blocks under their rule id
  const st = spawnSync(TOLLGATE, ['audit', 'stats', gws.deny.auditPath, '--by', 'rule', '--json'], { encoding: 'utf8' });
  assert.equal(st.status, 0, st.stderr);
  const g = JSON.parse(st.stdout).groups.find((x) => x.key === 'response.secrets');
  assert.ok(g, `a response.secrets group (${st.stdout})`);
  const blocked = fs.readFileSync(gws.deny.auditPath, 'utf8').split('\n')
    .filter((l) => l.includes('"response_rule":"response.secrets"')).length;
  assert.equal(blocked, 6, 'the deny gateway blocked six answers (plain, Messages, four streams)');
  assert.equal(g.requests, blocked);
});
