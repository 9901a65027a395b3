// The official `openai` npm client against a real `tollgate serve`, whose
// providers are the stub upstream: chat, streaming, the error classes the
// client maps tollgate's statuses to, the anthropic provider path (the openai
// client -> tollgate -> a stub speaking the Messages API), tenant isolation,
// and at the end: exactly one audit entry per request and a log that
// `tollgate audit verify` accepts after SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startGateway, KEYS, PII_EMAIL, PII_TEXT, requestEntries, auditEntry, auditVerify, chat, userMsg, eventually,
} from './harness.mjs';

let gw;
let sent = 0;                 // chat completion requests sent to tollgate
const decisionIds = [];       // X-Tollgate-Decision-Id of every answer seen

before(async () => { gw = await startGateway({ tag: 'openai' }); });
after(async () => {
  if (!gw) return;
  await gw.stop();
  gw.cleanup();
});

const client = (opts = {}) => new OpenAI({
  apiKey: KEYS.acme, baseURL: gw.baseURL, maxRetries: 0, timeout: 10000,
  defaultHeaders: { 'X-Task-Category': 'chat' }, ...opts,
});

function noteId(headers) {
  const id = headers.get('x-tollgate-decision-id');
  assert.ok(id && /^[0-9A-Za-z_-]{8,}$/.test(id), `X-Tollgate-Decision-Id present (${id})`);
  decisionIds.push(id);
  return id;
}

const tokens = (s) => Math.max(1, Math.ceil(Buffer.byteLength(s) / 4)); // the stub's estimate

test('chat (non-stream): content, headers, usage, upstream request', async () => {
  await gw.stub.clear();
  const prompt = 'What is the capital of France?';
  sent++;
  const { data, response } = await client().chat.completions.create({
    model: 'auto', messages: [{ role: 'user', content: prompt }],
  }).withResponse();
  assert.equal(response.status, 200);
  const id = noteId(response.headers);
  assert.equal(response.headers.get('x-tollgate-model'), 'stub-gpt');
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content, `echo: ${prompt}`);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.prompt_tokens, tokens(prompt));
  assert.equal(data.usage.completion_tokens, tokens(`echo: ${prompt}`));

  const log = await gw.stub.requests();
  assert.equal(log.length, 1, 'exactly one upstream request');
  assert.equal(log[0].path, '/us/v1/chat/completions', 'primary provider stub-us served');
  assert.equal(log[0].body.model, 'gpt-4o-mini', 'upstream_model sent');
  assert.equal(log[0].headers.authorization, '[redacted]', 'provider key sent');
  assert.ok(!('x-task-category' in log[0].headers), 'client headers are not forwarded');

  const e = await auditEntry(gw, id);
  assert.equal(response.headers.get('x-tollgate-policy-version'), e.policy_version);
  assert.equal(e.decision, 'allow');
  assert.equal(e.model, 'stub-gpt');
  assert.equal(e.provider, 'stub-us');
  assert.equal(e.category, 'chat');
  assert.equal(e.tenant, 'acme');
  assert.match(e.policy_version, /^[0-9a-f]{64}$/);
  assert.equal(e.usage.prompt_tokens, data.usage.prompt_tokens);
  assert.equal(e.usage.completion_tokens, data.usage.completion_tokens);
  const cost = (data.usage.prompt_tokens * 0.15 + data.usage.completion_tokens * 0.60) / 1e6;
  assert.ok(Math.abs(e.cost_usd - cost) < 1e-9, `cost_usd ${e.cost_usd} = usage x price ${cost}`);
  assert.ok(!JSON.stringify(e).includes(prompt), 'no prompt text in the audit entry');
});

test('chat (stream): async iterator gets every chunk, [DONE] ends it', async () => {
  await gw.stub.clear();
  const prompt = 'count one two three four five';
  sent++;
  const { data: stream, response } = await client().chat.completions.create({
    model: 'auto', stream: true, messages: [{ role: 'user', content: prompt }],
  }).withResponse();
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /text\/event-stream/);
  noteId(response.headers);
  assert.equal(response.headers.get('x-tollgate-model'), 'stub-gpt');
  let text = '';
  let chunks = 0;
  let finish = null;
  for await (const c of stream) {
    chunks++;
    assert.equal(c.object, 'chat.completion.chunk');
    for (const ch of c.choices) {
      text += ch.delta?.content || '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, `echo: ${prompt}`);
  assert.ok(chunks >= 8, `all chunks relayed (${chunks})`);
  assert.equal(finish, 'stop');
  const [up] = await gw.stub.requests();
  assert.equal(up.stream, true, 'upstream asked to stream');
  assert.equal(up.body.stream_options?.include_usage, true, 'usage requested upstream for the audit');
  const e = await auditEntry(gw, response.headers.get('x-tollgate-decision-id'));
  assert.equal(e.usage.completion_tokens, tokens(`echo: ${prompt}`), 'stream usage recorded');
});

test('chat (stream, raw SSE): the usage chunk tollgate asked for is not relayed', async () => {
  sent++;
  const r = await chat(gw, userMsg('no usage wanted', { stream: true }));
  noteId(r.headers);
  const datas = r.text.split('\n\n').map((x) => x.trim()).filter((x) => x.startsWith('data: {'));
  assert.ok(datas.length >= 3);
  assert.ok(datas.every((d) => !JSON.parse(d.slice(6)).usage), 'no usage chunk');
});

test('metadata.category routes, metadata stays home, X-Feature-Id reaches the audit entry', async () => {
  await gw.stub.clear();
  sent++;
  const c = client({ defaultHeaders: { 'X-Feature-Id': 'invoice-bot' } });
  const { response } = await c.chat.completions.create({
    model: 'auto', metadata: { category: 'claude', ticket: 'T-1' },
    messages: [{ role: 'user', content: 'routed by metadata' }],
  }).withResponse();
  const id = noteId(response.headers);
  assert.equal(response.headers.get('x-tollgate-model'), 'stub-claude');
  const [up] = await gw.stub.requests();
  assert.ok(!('metadata' in up.body), 'metadata removed before sending');
  const e = await auditEntry(gw, id);
  assert.equal(e.feature, 'invoice-bot');
  assert.equal(e.category, 'claude');
});

test('category from body.model when no header names one', async () => {
  sent++;
  const c = client({ defaultHeaders: {} });
  const { data, response } = await c.chat.completions.create({
    model: 'claude', messages: [{ role: 'user', content: 'route by model name' }],
  }).withResponse();
  noteId(response.headers);
  assert.equal(response.headers.get('x-tollgate-model'), 'stub-claude');
  assert.equal(data.choices[0].message.content, 'echo: route by model name');
});

test('chat (stream, raw SSE): ends with data: [DONE], usage chunk when asked', async () => {
  sent++;
  const r = await chat(gw, userMsg('raw sse please', { stream: true, stream_options: { include_usage: true } }));
  assert.equal(r.status, 200);
  noteId(r.headers);
  const events = r.text.split('\n\n').map((s) => s.trim()).filter(Boolean);
  assert.equal(events.at(-1), 'data: [DONE]');
  const jsons = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
  const usage = jsons.find((j) => j.usage)?.usage;
  assert.ok(usage && usage.prompt_tokens === tokens('raw sse please'), 'usage chunk relayed');
});

test('401 unknown key -> AuthenticationError, OpenAI error body', async () => {
  sent++;
  await assert.rejects(client({ apiKey: 'sk-not-a-tenant' }).chat.completions.create(userMsg('hi')),
    (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e.constructor.name} ${e.status}`);
      assert.equal(e.status, 401);
      assert.ok(typeof e.error?.message === 'string' && e.error.message.length > 0);
      assert.ok(e.type, 'error.type set');
      noteId(e.headers);
      return true;
    });
  sent++;
  const r = await chat(gw, userMsg('hi'), { key: null });
  assert.equal(r.status, 401, 'missing Authorization -> 401');
  noteId(r.headers);
});

test('403 policy_denied for PII: PermissionDeniedError, rule ids, never the PII', async () => {
  await gw.stub.clear();
  sent++;
  await assert.rejects(client().chat.completions.create(userMsg(PII_TEXT)), (e) => {
    assert.ok(e instanceof OpenAI.PermissionDeniedError, `got ${e.constructor.name} ${e.status}`);
    assert.equal(e.code, 'policy_denied');
    noteId(e.headers);
    return true;
  });
  sent++;
  const r = await chat(gw, userMsg(PII_TEXT));
  assert.equal(r.status, 403);
  const id = noteId(r.headers);
  assert.equal(r.json.error.code, 'policy_denied');
  assert.equal(r.json.error.decision_id, id, 'error body carries the decision id');
  assert.ok(!r.text.includes(PII_EMAIL) && !r.text.includes('jane.roe'), 'the matched PII is never echoed');
  assert.match(r.text, /EMAIL_ADDRESS|pii/i, 'names the PII rule');
  assert.match(r.text, /chat/, 'names the routing rule (category) that excluded the candidates');
  assert.equal((await gw.stub.requests()).length, 0, 'no provider was contacted');
  const e = await auditEntry(gw, id);
  assert.equal(e.decision, 'deny');
  assert.ok(!JSON.stringify(e).includes(PII_EMAIL));
  assert.deepEqual(e.pii?.map((p) => p.entity), ['EMAIL_ADDRESS']);
});

test('stream with PII: 403 before any byte, nothing upstream', async () => {
  await gw.stub.clear();
  sent++;
  const r = await chat(gw, userMsg(PII_TEXT, { stream: true }));
  assert.equal(r.status, 403);
  assert.match(r.headers.get('content-type') || '', /application\/json/, 'an error body, not an event stream');
  assert.equal(r.json?.error?.code, 'policy_denied');
  assert.ok(!r.text.includes(PII_EMAIL));
  noteId(r.headers);
  assert.equal((await gw.stub.requests()).length, 0);
});

test('429 past the tenant limit -> RateLimitError', async () => {
  const c = client({ apiKey: KEYS.initech });
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    sent++;
    try {
      const { response } = await c.chat.completions.create(userMsg('limited ' + i)).withResponse();
      noteId(response.headers);
      statuses.push(response.status);
    } catch (e) {
      assert.ok(e instanceof OpenAI.RateLimitError, `got ${e.constructor.name} ${e.status}`);
      assert.equal(typeof e.error?.message, 'string');
      assert.ok(Number(e.headers.get('retry-after')) > 0, 'Retry-After on the tenant limit');
      noteId(e.headers);
      statuses.push(e.status);
    }
  }
  assert.deepEqual(statuses, [200, 200, 429], 'requests_per_minute: 2');
});

test('400 malformed requests -> BadRequestError', async () => {
  sent++;
  await assert.rejects(client().chat.completions.create({ model: 'auto', messages: 'not-an-array' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e.constructor.name} ${e.status}`);
    noteId(e.headers);
    return true;
  });
  for (const raw of ['{"model": "auto", "messages": [', 'null', '[]', '{"model":"auto"}']) {
    sent++;
    const r = await chat(gw, null, { raw });
    assert.equal(r.status, 400, `400 for ${raw}`);
    assert.equal(typeof r.json?.error?.message, 'string', 'OpenAI error body');
    noteId(r.headers);
  }
});

test('413 oversized body', async () => {
  sent++;
  const big = 'x'.repeat(Number(gw.vars.MAX_BODY) + 1024);
  await assert.rejects(client().chat.completions.create(userMsg(big)), (e) => {
    assert.equal(e.status, 413, `got ${e.status}`);
    noteId(e.headers);
    return true;
  });
});

test('404 unknown route -> NotFoundError', async () => {
  await assert.rejects(client().post('/no/such/route', { body: {} }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e.constructor.name} ${e.status}`);
    assert.ok(e.headers.get('x-tollgate-decision-id'), 'decision id on every response');
    return true;
  });
});

test('GET /v1/models lists only what the tenant may reach', async () => {
  const acme = (await client().models.list()).data.map((m) => m.id);
  for (const id of ['stub-gpt', 'stub-eu-model', 'stub-claude']) assert.ok(acme.includes(id), `acme sees ${id}`);
  const globex = (await client({ apiKey: KEYS.globex }).models.list()).data.map((m) => m.id);
  assert.deepEqual(globex, ['stub-claude'], 'globex is limited to the claude route');
});

test('tenant isolation: a tenant cannot use another route', async () => {
  await gw.stub.clear();
  sent++;
  await assert.rejects(client({ apiKey: KEYS.globex }).chat.completions.create(userMsg('hello')), (e) => {
    assert.ok(e.status === 403 || e.status === 404, `denied (${e.status})`);
    noteId(e.headers);
    return true;
  });
  assert.equal((await gw.stub.requests()).length, 0);
});

test('anthropic provider (non-stream): openai client -> tollgate -> Messages API', async () => {
  await gw.stub.clear();
  sent++;
  const c = client({ defaultHeaders: { 'X-Task-Category': 'claude' } });
  const { data, response } = await c.chat.completions.create({
    model: 'auto', max_tokens: 100,
    messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Name a prime.' }],
  }).withResponse();
  noteId(response.headers);
  assert.equal(response.headers.get('x-tollgate-model'), 'stub-claude');
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content, 'echo: Name a prime.');
  assert.equal(data.choices[0].finish_reason, 'stop', 'end_turn -> stop');
  assert.equal(data.usage.prompt_tokens, tokens('You are terse.Name a prime.'));
  assert.equal(data.usage.completion_tokens, tokens('echo: Name a prime.'));
  const log = await gw.stub.requests();
  assert.equal(log.length, 1);
  const up = log[0];
  assert.equal(up.path, '/anthropic/v1/messages');
  assert.equal(up.flavor, 'anthropic');
  assert.equal(up.body.model, 'claude-sonnet-4-5');
  assert.equal(up.body.max_tokens, 100);
  assert.ok(up.headers['anthropic-version'], 'anthropic-version sent');
  assert.equal(up.headers['x-api-key'], '[redacted]', 'x-api-key sent');
  const sys = typeof up.body.system === 'string' ? up.body.system : up.body.system.map((b) => b.text).join('');
  assert.equal(sys, 'You are terse.', 'system message moved to the top-level field');
  assert.ok(up.body.messages.every((m) => m.role !== 'system'));
});

test('anthropic provider (stream): Messages events -> chat.completion.chunk', async () => {
  await gw.stub.clear();
  sent++;
  const c = client({ defaultHeaders: { 'X-Task-Category': 'claude' } });
  const stream = await c.chat.completions.create({
    model: 'auto', stream: true, messages: [{ role: 'user', content: 'alpha beta gamma delta' }],
  });
  let text = '';
  let chunks = 0;
  let finish = null;
  for await (const ch of stream) {
    chunks++;
    assert.equal(ch.object, 'chat.completion.chunk');
    for (const x of ch.choices) { text += x.delta?.content || ''; if (x.finish_reason) finish = x.finish_reason; }
  }
  assert.equal(text, 'echo: alpha beta gamma delta');
  assert.ok(chunks >= 5, `several chunks (${chunks})`);
  assert.equal(finish, 'stop');
  const [up] = await gw.stub.requests();
  assert.equal(up.flavor, 'anthropic');
  assert.equal(up.body.stream, true);
  assert.equal(typeof up.body.max_tokens, 'number', 'mandatory max_tokens filled in');
});

test('export control: an itar-tagged request on a route without export_controlled -> 403', async () => {
  await gw.stub.clear();
  sent++;
  const r = await chat(gw, userMsg('design notes'), { headers: { 'X-Export-Control': 'itar' } });
  assert.equal(r.status, 403, r.text.slice(0, 300));
  assert.equal(r.json.error.code, 'policy_denied');
  assert.match(r.text, /export|itar/i, 'names the export-control rule');
  noteId(r.headers);
  assert.equal((await gw.stub.requests()).length, 0);
});

test('anthropic provider errors: 529 without fallback -> 502; error event mid-stream ends the stream', async () => {
  const c = client({ defaultHeaders: { 'X-Task-Category': 'claude' } });
  await gw.stub.behave({ match: '/anthropic/', status: 529, times: 1 });
  sent++;
  await assert.rejects(c.chat.completions.create(userMsg('overloaded?')), (e) => {
    assert.equal(e.status, 502, `every compliant candidate failed -> 502 (got ${e.status})`);
    assert.ok(e instanceof OpenAI.InternalServerError);
    assert.match(e.message, /stub-claude/, 'the attempt is listed');
    noteId(e.headers);
    return true;
  });
  await gw.stub.calm();
  await gw.stub.behave({ match: '/anthropic/', error_event_after: 2, times: 1 });
  sent++;
  const { data: stream, response } = await c.chat.completions.create(
    userMsg('one two three four five', { stream: true })).withResponse();
  noteId(response.headers);
  let text = '';
  let threw = null;
  try {
    for await (const ch of stream) text += ch.choices[0]?.delta?.content || '';
  } catch (e) { threw = e; }
  assert.ok(threw, `the client sees the stream fail, not a clean end (got "${text}")`);
  assert.ok(!text.includes('five'), 'nothing invented after the error');
  await gw.stub.calm();
});

test('40 concurrent requests (streams and not): each gets its own answer', async () => {
  const c = client();
  const jobs = [];
  for (let i = 0; i < 40; i++) {
    sent++;
    const prompt = `concurrent ${'x'.repeat(i)} request number ${i}`;
    if (i % 2) {
      jobs.push(c.chat.completions.create(userMsg(prompt, { stream: true })).withResponse().then(async ({ data, response }) => {
        noteId(response.headers);
        let t = '';
        for await (const ch of data) t += ch.choices[0]?.delta?.content || '';
        return [prompt, t];
      }));
    } else {
      jobs.push(c.chat.completions.create(userMsg(prompt)).withResponse().then(({ data, response }) => {
        noteId(response.headers);
        return [prompt, data.choices[0].message.content];
      }));
    }
  }
  for (const [prompt, got] of await Promise.all(jobs)) assert.equal(got, `echo: ${prompt}`);
});

test('client gone mid-stream: upstream transfer aborted, request still audited', async () => {
  await gw.stub.clear();
  // A stream that keeps flowing (so no stall timer ends it) for ~8 s.
  await gw.stub.behave({ match: '/us/', chunk_delay_ms: 200, times: 1 });
  sent++;
  const ac = new AbortController();
  const r = await fetch(gw.baseURL + '/chat/completions', { method: 'POST', signal: ac.signal,
    headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', 'x-task-category': 'chat' },
    body: JSON.stringify(userMsg('w '.repeat(40), { stream: true })) });
  const id = noteId(r.headers);
  const reader = r.body.getReader();
  await reader.read();
  const t0 = Date.now();
  ac.abort();
  const [up] = await eventually(async () => {
    const l = await gw.stub.requests('/us/');
    return l[0]?.outcome === 'client-closed' ? l : null;
  }, 5000, 'upstream connection closed after the client left');
  assert.ok(up.closed_at - t0 < 2000, `upstream released ${up.closed_at - t0} ms after the client left`);
  await auditEntry(gw, id, 5000);
  await gw.stub.calm();
});

test('healthz, readyz, metrics', async () => {
  assert.equal((await fetch(gw.base + '/healthz')).status, 200);
  assert.equal((await fetch(gw.base + '/readyz')).status, 200);
  const m = await fetch(gw.base + '/metrics');
  assert.equal(m.status, 200);
  const text = await m.text();
  assert.match(text, /^# (HELP|TYPE) /m, 'Prometheus text format');
  assert.ok(!text.includes(KEYS.acme) && !text.includes(PII_EMAIL), 'no secrets or PII in metrics');
});

test('every request has exactly one audit entry; audit verify passes after SIGTERM', async () => {
  assert.ok(sent >= 15, `requests were sent (${sent})`);
  const r = await gw.stop();
  assert.equal(r.code, 0, `serve exits 0 on SIGTERM (got ${r.code}/${r.signal})\n${gw.output().slice(-2000)}`);
  const entries = await eventually(() => requestEntries(gw.auditPath), 1000, 'audit entries');
  const ids = entries.map((e) => e.decision_id);
  assert.equal(entries.length, sent, `${entries.length} entries for ${sent} requests`);
  for (const id of decisionIds) assert.equal(ids.filter((x) => x === id).length, 1, `decision ${id} logged once`);
  const raw = JSON.stringify(entries);
  assert.ok(!raw.includes(PII_EMAIL) && !raw.includes(KEYS.acme) && !raw.includes('sk-stub-us-key'),
    'no PII or keys in the audit log');
  const v = auditVerify(gw);
  assert.equal(v.status, 0, `audit verify: ${v.stdout}${v.stderr}`);
  assert.ok(!gw.output().includes(PII_EMAIL), 'the server never logs PII');
});
