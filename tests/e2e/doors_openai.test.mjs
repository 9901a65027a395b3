// The official `openai` npm client on the doors other than chat completions:
// Responses (plain, streamed, a function-call round trip with
// function_call_output, plain and streamed), embeddings and legacy
// completions, against a real `tollgate serve` (tests/cases/gateway/doors.yaml)
// whose providers are the stub upstream.  The Responses dialect is served by a
// CN chat-completions model (tollgate translates both ways); embeddings by an
// embedding model; a card number is refused with 403 before any provider
// hears of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway, KEYS, PII_CARD as CARD, requestEntries, auditEntry } from './harness.mjs';
import { embedText } from '../support/stub-embed.mjs';

let gw;
before(async () => { gw = await startGateway({ tag: 'doors-openai', template: 'doors.yaml' }); });
after(async () => {
  if (!gw) return;
  await gw.stop();
  gw.cleanup();
});

// No category header: the client's model name (a rule alias) or the tenant's
// default_category picks the route, as it must for unmodified agents.
const client = () => new OpenAI({ apiKey: KEYS.acme, baseURL: gw.baseURL, maxRetries: 0, timeout: 15000 });

const WEATHER_TOOL = {
  type: 'function', name: 'get_weather', description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

async function upstream(match) { return gw.stub.requests(match); }

test('responses.create: instructions and input reach the CN chat model as chat messages; a Response comes back', async () => {
  await gw.stub.clear();
  const { data, response } = await client().responses.create({
    model: 'gpt-5-codex', instructions: 'Answer in one line.', input: 'What is a monad?',
  }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-tollgate-model'), 'cn-flash');
  assert.equal(data.object, 'response');
  assert.equal(data.status, 'completed');
  assert.equal(data.output_text, 'echo: What is a monad?');
  const msg = data.output.find((o) => o.type === 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.content[0].type, 'output_text');
  assert.ok(data.usage && data.usage.input_tokens > 0 && data.usage.output_tokens > 0, 'usage in Responses terms');

  const log = await upstream();
  assert.equal(log.length, 1, 'one upstream request');
  assert.equal(log[0].path, '/cn/v1/chat/completions', 'served by the CN chat-completions provider');
  assert.equal(log[0].body.model, 'deepseek-v4-flash');
  const roles = log[0].body.messages.map((m) => m.role);
  assert.deepEqual(roles, ['system', 'user'], 'instructions became the system message');
  assert.match(JSON.stringify(log[0].body.messages[0].content), /Answer in one line\./);

  const e = await auditEntry(gw, response.headers.get('x-tollgate-decision-id'));
  assert.equal(e.decision, 'allow');
  assert.equal(e.category, 'code_generation', 'category from the alias gpt-5-codex');
  assert.match(e.endpoint, /\/responses$/);
});

test('responses.create stream: response.created … output_text deltas … response.completed', async () => {
  await gw.stub.clear();
  const prompt = 'one two three four five six';
  const stream = await client().responses.create({ model: 'gpt-5-codex', input: prompt, stream: true });
  const types = [];
  let text = '';
  let completed = null;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 4, `several deltas: ${types.join(',')}`);
  for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done']) {
    assert.ok(types.includes(t), `has ${t}`);
  }
  assert.equal(text, `echo: ${prompt}`);
  assert.equal(completed.status, 'completed');
  assert.equal(completed.output.find((o) => o.type === 'message').content[0].text, text);
  const [u] = await upstream();
  assert.equal(u.stream, true, 'streamed upstream too');
});

test('responses: a function-call round trip with function_call_output', async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/cn/', tool_call: { name: 'get_weather', arguments: { city: 'Lisbon' } } });
  try {
    const c = client();
    const first = await c.responses.create({ model: 'gpt-5-codex', input: 'Weather in Lisbon?', tools: [WEATHER_TOOL] });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, `a function_call item: ${JSON.stringify(first.output)}`);
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Lisbon' });
    assert.ok(call.call_id, 'call_id present');
    const [u1] = await upstream();
    assert.equal(u1.body.tools[0].type, 'function');
    assert.equal(u1.body.tools[0].function.name, 'get_weather', 'tool definition translated to chat form');

    await gw.stub.clear();
    const second = await c.responses.create({ model: 'gpt-5-codex', tools: [WEATHER_TOOL], input: [
      { role: 'user', content: 'Weather in Lisbon?' },
      call,
      { type: 'function_call_output', call_id: call.call_id, output: 'sunny, 24 C' },
    ] });
    assert.equal(second.output_text, 'tool said: sunny, 24 C', 'the tool output reached the model');
    const [u2] = await upstream();
    const msgs = u2.body.messages;
    const asst = msgs.find((m) => m.role === 'assistant');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    const tool = msgs.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, asst.tool_calls[0].id, 'call ids line up');
    assert.match(JSON.stringify(tool.content), /sunny, 24 C/);
  } finally {
    await gw.stub.calm();
  }
});

test('responses stream: a streamed function call (arguments in pieces), as Codex reads it', async () => {
  await gw.stub.clear();
  await gw.stub.behave({ match: '/cn/', tool_call: { name: 'get_weather', arguments: { city: 'Porto' } } });
  try {
    const stream = await client().responses.create({ model: 'gpt-5-codex', input: 'Weather in Porto?',
      tools: [WEATHER_TOOL], stream: true });
    let args = '';
    let deltas = 0;
    let done = null;
    let completed = null;
    for await (const ev of stream) {
      if (ev.type === 'response.function_call_arguments.delta') { args += ev.delta; deltas++; }
      if (ev.type === 'response.output_item.done' && ev.item.type === 'function_call') done = ev.item;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    assert.ok(deltas >= 2, `arguments streamed in pieces (${deltas})`);
    assert.deepEqual(JSON.parse(args), { city: 'Porto' });
    assert.equal(done.name, 'get_weather');
    assert.equal(done.arguments, args);
    assert.ok(completed.output.some((o) => o.type === 'function_call' && o.call_id === done.call_id));
  } finally {
    await gw.stub.calm();
  }
});

test('responses: a card number is refused (403 PermissionDeniedError), the provider hears nothing', async () => {
  await gw.stub.clear();
  for (const stream of [false, true]) {
    await assert.rejects(client().responses.create({ model: 'gpt-5-codex', stream,
      input: `Charge the card ${CARD} for the renewal.` }), (e) => {
      assert.ok(e instanceof OpenAI.PermissionDeniedError, `got ${e.constructor.name} ${e.status}`);
      assert.equal(e.status, 403);
      assert.equal(e.code, 'policy_denied');
      assert.match(e.message, /CREDIT_CARD|pii/i, 'names the rule');
      assert.ok(!e.message.includes('4111'), 'never echoes the number');
      return true;
    });
  }
  // In a function_call_output too (tool results are scanned like any text).
  await assert.rejects(client().responses.create({ model: 'gpt-5-codex', input: [
    { role: 'user', content: 'Look up the customer.' },
    { type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{}' },
    { type: 'function_call_output', call_id: 'call_1', output: `card on file: ${CARD}` },
  ] }), (e) => e.status === 403);
  assert.equal((await upstream()).length, 0, 'no provider was contacted');
});

test('embeddings.create: routed to the embedding model, vectors come back intact (base64 as the SDK asks)', async () => {
  await gw.stub.clear();
  const input = ['The quarterly report is attached.', 'Deploy the service on Friday.'];
  const { data: r, response } = await client().embeddings.create({ model: 'text-embedding-3-small', input }).withResponse();
  assert.equal(response.headers.get('x-tollgate-model'), 'emb-small');
  assert.equal(r.data.length, 2);
  for (const d of r.data) assert.deepEqual(Array.from(d.embedding), embedText(input[d.index], 16));
  assert.ok(r.usage.prompt_tokens > 0);
  const log = await upstream();
  assert.equal(log.length, 1);
  assert.equal(log[0].path, '/emb/v1/embeddings', 'the embedding provider, never a chat model');
  assert.equal(log[0].body.model, 'text-embedding-3-small');
  assert.deepEqual(log[0].body.input, input);
  const e = await auditEntry(gw, response.headers.get('x-tollgate-decision-id'));
  assert.equal(e.category, 'rag_embed');
  assert.match(e.endpoint, /\/embeddings$/);
});

test('embeddings: a card number in any input string is refused, nothing reaches the provider', async () => {
  await gw.stub.clear();
  await assert.rejects(client().embeddings.create({ model: 'text-embedding-3-small',
    input: ['harmless text', `customer paid with ${CARD}`] }), (e) => {
    assert.equal(e.status, 403);
    assert.equal(e.code, 'policy_denied');
    return true;
  });
  assert.equal((await upstream()).length, 0);
});

test('completions.create (legacy): prompt in, text out, through the chat model; streamed too', async () => {
  await gw.stub.clear();
  const c = client();
  const r = await c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test', max_tokens: 16 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, 'echo: Say this is a test');
  assert.equal(r.choices[0].finish_reason, 'stop');
  const [u] = await upstream();
  assert.equal(u.path, '/cn/v1/chat/completions');
  assert.match(JSON.stringify(u.body.messages.at(-1)), /Say this is a test/);

  const stream = await c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'alpha beta gamma delta', stream: true });
  let text = '';
  let chunks = 0;
  for await (const ch of stream) { text += ch.choices[0]?.text || ''; chunks++; }
  assert.equal(text, 'echo: alpha beta gamma delta');
  assert.ok(chunks >= 3, `several chunks (${chunks})`);

  await gw.stub.clear();
  await assert.rejects(c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: `card ${CARD}` }), (e) => e.status === 403);
  assert.equal((await upstream()).length, 0);
});

test('every answer and refusal above is one audit entry with its endpoint', async () => {
  const entries = requestEntries(gw.auditPath);
  const eps = new Set(entries.map((e) => e.endpoint));
  for (const p of ['responses', 'embeddings', 'completions']) {
    const mine = entries.filter((e) => e.endpoint && e.endpoint.endsWith('/' + p));
    assert.ok(mine.some((e) => e.decision === 'allow' && e.status === 200), `an allowed answer on /${p}: ${[...eps].join(',')}`);
    assert.ok(mine.some((e) => e.decision === 'deny' && e.status === 403), `a refusal on /${p}`);
  }
  // the number in any of its written forms; not '4111' alone, which a hash,
  // an HMAC or a latency in the entries holds by chance about one run in ten
  const text = JSON.stringify(entries);
  const m = text.match(/4111[ ._-]?1111[ ._-]?1111[ ._-]?1111/);
  assert.ok(!m, `no card number in the audit log: ...${m ? text.slice(Math.max(0, m.index - 80), m.index + 40) : ''}...`);
});
