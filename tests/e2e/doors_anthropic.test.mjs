// The official `@anthropic-ai/sdk` client on tollgate's /v1/messages and
// /v1/messages/count_tokens (tests/cases/gateway/doors.yaml): messages.create
// and messages.stream served by the CN chat-completions model (tollgate
// translates the request, the answer and the event stream), the same passed
// through to an Anthropic provider, tool_use/tool_result turns, countTokens
// answered locally, and a card number refused in Anthropic's error shape
// before any provider hears of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, KEYS, PII_CARD as CARD, auditEntry } from './harness.mjs';

let gw;
before(async () => { gw = await startGateway({ tag: 'doors-anthropic', template: 'doors.yaml' }); });
after(async () => {
  if (!gw) return;
  await gw.stop();
  gw.cleanup();
});

// The key travels as x-api-key, as with api.anthropic.com; no category header.
const client = () => new Anthropic({ apiKey: KEYS.acme, baseURL: gw.base, maxRetries: 0, timeout: 15000 });
const CN = 'claude-sonnet-4-5';        // an alias of code_generation: the CN chat model
const PASS = 'claude-opus-4-1';        // an alias of claude: the Anthropic provider

const TOOLS = [{ name: 'get_weather', description: 'Current weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

const upstream = (m) => gw.stub.requests(m);

test('messages.create on the CN chat model: system and content blocks translated, a Message comes back', async () => {
  await gw.stub.clear();
  const { data: msg, response } = await client().messages.create({
    model: CN, max_tokens: 256, system: 'You are terse.',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Name a prime number.' }] }],
  }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-tollgate-model'), 'cn-flash');
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.model, CN, 'the client\'s model name is echoed back');
  assert.equal(msg.content[0].type, 'text');
  assert.equal(msg.content[0].text, 'echo: Name a prime number.');
  assert.equal(msg.stop_reason, 'end_turn');
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  const log = await upstream();
  assert.equal(log.length, 1);
  assert.equal(log[0].path, '/cn/v1/chat/completions');
  assert.equal(log[0].body.model, 'deepseek-v4-flash');
  assert.equal(log[0].body.messages[0].role, 'system');
  assert.match(JSON.stringify(log[0].body.messages[0].content), /You are terse\./);
  assert.ok(!log[0].headers['anthropic-version'], 'no Anthropic headers to an OpenAI-compatible provider');
  const e = await auditEntry(gw, response.headers.get('x-tollgate-decision-id'));
  assert.equal(e.category, 'code_generation');
  assert.match(e.endpoint, /\/messages$/);
});

test('messages.stream on the CN chat model: message_start … text deltas … message_stop', async () => {
  await gw.stub.clear();
  const prompt = 'red orange yellow green blue';
  const stream = client().messages.stream({ model: CN, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
  const events = [];
  const deltas = [];
  stream.on('streamEvent', (ev) => events.push(ev.type));
  stream.on('text', (t) => deltas.push(t));
  const msg = await stream.finalMessage();
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  for (const t of ['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta']) {
    assert.ok(events.includes(t), `has ${t}: ${events.join(',')}`);
  }
  assert.ok(deltas.length >= 4, `several text deltas (${deltas.length})`);
  assert.equal(deltas.join(''), `echo: ${prompt}`);
  assert.equal(msg.content[0].text, `echo: ${prompt}`);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.ok(msg.usage.output_tokens > 0);
});

test('tool_use and tool_result turns on the CN chat model, plain and streamed', async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/cn/', tool_call: { name: 'get_weather', arguments: { city: 'Oslo' } } });
  try {
    const c = client();
    const first = await c.messages.create({ model: CN, max_tokens: 256, tools: TOOLS,
      messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
    assert.equal(first.stop_reason, 'tool_use');
    const tu = first.content.find((b) => b.type === 'tool_use');
    assert.ok(tu, JSON.stringify(first.content));
    assert.equal(tu.name, 'get_weather');
    assert.deepEqual(tu.input, { city: 'Oslo' });
    const [u1] = await upstream();
    assert.equal(u1.body.tools[0].function.name, 'get_weather', 'tools translated to chat functions');
    assert.deepEqual(u1.body.tools[0].function.parameters, TOOLS[0].input_schema);

    // The streamed first turn: input_json_delta pieces assemble into the input.
    const s = c.messages.stream({ model: CN, max_tokens: 256, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
    let pieces = 0;
    s.on('inputJson', () => { pieces++; });
    const streamed = await s.finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    assert.deepEqual(streamed.content.find((b) => b.type === 'tool_use').input, { city: 'Oslo' });
    assert.ok(pieces >= 2, `input_json_delta in pieces (${pieces})`);

    await gw.stub.clear();
    const second = await c.messages.create({ model: CN, max_tokens: 256, tools: TOOLS, messages: [
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: [{ type: 'text', text: 'snow, -3 C' }] }] },
    ] });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].text, 'tool said: snow, -3 C');
    const [u2] = await upstream();
    const asst = u2.body.messages.find((m) => m.role === 'assistant');
    const tool = u2.body.messages.find((m) => m.role === 'tool');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: 'Oslo' });
    assert.equal(tool.tool_call_id, asst.tool_calls[0].id);
  } finally {
    await gw.stub.calm();
  }
});

test('messages passed through to an Anthropic provider: plain and streamed, anthropic-version sent, provider key used', async () => {
  await gw.stub.clear();
  const c = client();
  const msg = await c.messages.create({ model: PASS, max_tokens: 128, system: 'Be brief.',
    messages: [{ role: 'user', content: 'hello anthropic' }] });
  assert.equal(msg.content[0].text, 'echo: hello anthropic');
  const [u] = await upstream();
  assert.equal(u.path, '/anthropic/v1/messages');
  assert.equal(u.body.model, 'claude-sonnet-4-5', 'the upstream model of the route');
  assert.equal(u.headers['anthropic-version'], '2023-06-01');
  assert.equal(u.headers['x-api-key'], '[redacted]', 'the provider key, not the client key, is sent');

  const s = c.messages.stream({ model: PASS, max_tokens: 128, messages: [{ role: 'user', content: 'stream through please' }] });
  const m2 = await s.finalMessage();
  assert.equal(m2.content[0].text, 'echo: stream through please');
});

// Issue 12: "Messages passed through to Anthropic".  A body whose every
// field tollgate decoded (and so scanned) goes to the Anthropic provider as
// the client wrote it — cache_control, top_k, thinking kept — and the
// provider's Message, or its event stream, comes back as it sent it.
test('messages to an Anthropic provider go through as written, and the provider\'s answer comes back as it is', async () => {
  await gw.stub.clear();
  const req = {
    model: PASS, max_tokens: 128, top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 },
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    metadata: { user_id: 'user-7', category: 'claude' },
    messages: [{ role: 'user', content: [{ type: 'text', text: 'hello verbatim', cache_control: { type: 'ephemeral' } }] }],
  };
  const msg = await client().messages.create(req);
  assert.match(msg.id, /^msg_stub/, 'the provider\'s own Message, not a translation');
  assert.equal(msg.model, 'claude-sonnet-4-5');
  assert.equal(msg.content[0].text, 'echo: hello verbatim');
  let [u] = await upstream();
  assert.equal(u.path, '/anthropic/v1/messages');
  assert.equal(u.body.model, 'claude-sonnet-4-5', 'the route\'s upstream model');
  assert.deepEqual(u.body.system, req.system, 'system blocks with cache_control as written');
  assert.deepEqual(u.body.messages, req.messages);
  assert.equal(u.body.top_k, 5);
  assert.deepEqual(u.body.thinking, req.thinking);
  assert.deepEqual(u.body.metadata, { user_id: 'user-7' }, 'tollgate\'s category hint stays behind');
  assert.equal(u.headers['x-api-key'], '[redacted]', 'the provider key, not the client key');

  await gw.stub.clear();
  const s = await client().messages.create({ ...req, stream: true });
  const types = [];
  let id = null;
  let text = '';
  for await (const ev of s) {
    types.push(ev.type);
    if (ev.type === 'message_start') id = ev.message.id;
    if (ev.type === 'content_block_delta') text += ev.delta.text;
  }
  assert.match(id, /^msg_stub/, 'the provider\'s events as it sent them');
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(text, 'echo: hello verbatim');
  // the bytes themselves (the SDK hides ping events): the provider's, pings included
  const raw = await fetch(`${gw.base}/v1/messages`, {
    method: 'POST', body: JSON.stringify({ ...req, stream: true }),
    headers: { 'content-type': 'application/json', 'x-api-key': KEYS.acme, 'anthropic-version': '2023-06-01' },
  });
  assert.equal(raw.status, 200);
  const wire = await raw.text();
  assert.match(wire, /^event: message_start\ndata: \{"type":"message_start","message":\{"id":"msg_stub/);
  assert.match(wire, /event: ping\ndata: \{"type":"ping"\}/);
  assert.match(wire, /event: message_stop\ndata: \{"type":"message_stop"\}\n\n$/);
  [u] = await upstream();
  assert.equal(u.body.stream, true);
  assert.deepEqual(u.body.system, req.system);
});

test('a passed-through stream the provider breaks: its own error event reaches the client, and no second one', async () => {
  await gw.stub.clear();
  for (const f of [{ error_event_after: 2 }, { reset_after: 2 }]) {
    await gw.stub.behave({ match: '/anthropic/', ...f, times: 1 });
    const raw = await fetch(`${gw.base}/v1/messages`, {
      method: 'POST',
      body: JSON.stringify({ model: PASS, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'one two three four five six' }] }),
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.acme, 'anthropic-version': '2023-06-01' },
    });
    assert.equal(raw.status, 200);
    const wire = await raw.text();
    assert.match(wire, /"id":"msg_stub/, 'passed through');
    assert.doesNotMatch(wire, /event: message_stop/, `${JSON.stringify(f)}: the stream did not end well`);
    const errors = wire.match(/event: error\n/g) || [];
    assert.equal(errors.length, 1, `${JSON.stringify(f)}: one error event: ${wire.slice(-300)}`);
    if (f.error_event_after !== undefined) assert.match(wire, /overloaded_error/, 'the provider\'s own');
    else assert.match(wire, /upstream stream interrupted/, 'tollgate\'s, in Anthropic\'s shape');
  }
  await gw.stub.calm();
});

test('messages to an Anthropic provider go the translated way when the body holds what tollgate does not carry', async () => {
  const bodies = [
    // a thinking block of an earlier turn (its text is dropped, never scanned)
    { model: PASS, max_tokens: 64, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'let me think', signature: 'c2ln' }, { type: 'text', text: 'first answer' }] },
        { role: 'user', content: 'second question' },
      ] },
    // a field tollgate does not know
    { model: PASS, max_tokens: 64, messages: [{ role: 'user', content: 'second question' }], speculative_field: 'x' },
    // an Anthropic-defined tool
    { model: PASS, max_tokens: 64, messages: [{ role: 'user', content: 'second question' }],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 1 }] },
  ];
  for (const body of bodies) {
    await gw.stub.clear();
    const msg = await client().messages.create(body);
    assert.doesNotMatch(msg.id, /^msg_stub/, 'tollgate\'s translated Message');
    assert.equal(msg.content[0].text, 'echo: second question');
    const [u] = await upstream();
    const sent = JSON.stringify(u.body);
    assert.ok(!sent.includes('thinking') && !sent.includes('cache_control') && !sent.includes('speculative_field') &&
              !sent.includes('web_search'), `nothing the translation drops reaches the provider: ${sent}`);
  }
});

// Issue 12: "Forward anthropic-version/anthropic-beta where the upstream is
// Anthropic" — Claude Code sends anthropic-beta on every request.
test('messages to an Anthropic provider: the client\'s anthropic-beta header is forwarded', async () => {
  await gw.stub.clear();
  await client().messages.create({ model: PASS, max_tokens: 64, messages: [{ role: 'user', content: 'beta please' }] },
    { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } });
  const [u] = await upstream();
  assert.equal(u.path, '/anthropic/v1/messages');
  assert.equal(u.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14');
});

test('countTokens: answered by tollgate, nothing goes to the CN provider', async () => {
  await gw.stub.clear();
  const small = await client().messages.countTokens({ model: CN, messages: [{ role: 'user', content: 'hi' }] });
  const big = await client().messages.countTokens({ model: CN, system: 'You are terse.', tools: TOOLS,
    messages: [{ role: 'user', content: 'word '.repeat(400) }] });
  assert.ok(small.input_tokens > 0);
  assert.ok(big.input_tokens > small.input_tokens + 200, `estimate grows with the text (${small.input_tokens} -> ${big.input_tokens})`);
  assert.equal((await upstream('/cn/')).length, 0);
});

test('a card number is refused: 403 permission_error in Anthropic\'s shape, with rule ids; nothing upstream', async () => {
  await gw.stub.clear();
  const c = client();
  const cases = [
    { model: CN, max_tokens: 64, messages: [{ role: 'user', content: `Charge ${CARD} please.` }] },
    { model: CN, max_tokens: 64, stream: true, messages: [{ role: 'user', content: `Charge ${CARD} please.` }] },
    { model: PASS, max_tokens: 64, messages: [{ role: 'user', content: `Charge ${CARD} please.` }] },
    // in a tool_result block
    { model: CN, max_tokens: 64, tools: TOOLS, messages: [
      { role: 'user', content: 'Look up the customer.' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: `card ${CARD}` }] },
    ] },
    // in the system prompt
    { model: CN, max_tokens: 64, system: `The customer's card is ${CARD}.`, messages: [{ role: 'user', content: 'hi' }] },
  ];
  for (const body of cases) {
    await assert.rejects(c.messages.create(body), (e) => {
      assert.ok(e instanceof Anthropic.PermissionDeniedError, `got ${e.constructor.name} ${e.status}`);
      assert.equal(e.status, 403);
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'permission_error');
      assert.match(e.error.error.message, /CREDIT_CARD|pii/i);
      // The added `rules` array: tollgate puts it in the error object, beside `type` and `message`.
      const rules = e.error.error.rules || e.error.rules;
      assert.ok(Array.isArray(rules) && rules.some((r) => /^pii\./.test(r)), `rule ids in an added rules array: ${JSON.stringify(e.error)}`);
      assert.ok(!JSON.stringify(e.error).includes('4111'), 'the number is never echoed');
      return true;
    });
  }
  assert.equal((await upstream()).length, 0, 'no provider was contacted');
});

test('bad requests answer in Anthropic\'s shape too (401 authentication_error, 400 invalid_request_error)', async () => {
  const bad = new Anthropic({ apiKey: 'not-a-tenant-key', baseURL: gw.base, maxRetries: 0, timeout: 5000 });
  await assert.rejects(bad.messages.create({ model: CN, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.status, 401);
    assert.equal(e.error.error.type, 'authentication_error');
    return true;
  });
  const r = await fetch(gw.base + '/v1/messages', { method: 'POST',
    headers: { 'x-api-key': KEYS.acme, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: CN, max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'no_such_block', text: 'x' }] }] }) });
  assert.equal(r.status, 400);
  const j = await r.json();
  assert.equal(j.type, 'error');
  assert.equal(j.error.type, 'invalid_request_error');
});
