// The stub upstream itself, checked with the official SDKs: if `openai` and
// `@anthropic-ai/sdk` accept its answers (JSON and streams), the stub speaks
// the real wire formats, and the gateway tests that rely on it mean something.
// Also checks the misbehaviour switches the fault tests depend on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startStub } from './harness.mjs';
import { embedText } from '../support/stub-embed.mjs';

let stub;
before(async () => { stub = await startStub(); });
after(async () => { await stub.stop(); });

const oa = () => new OpenAI({ apiKey: 'sk-direct', baseURL: `${stub.url}/direct/v1`, maxRetries: 0, timeout: 5000 });
const an = () => new Anthropic({ apiKey: 'sk-ant-direct', baseURL: `${stub.url}/direct-ant`, maxRetries: 0, timeout: 5000 });

test('stub: openai client, non-stream completion with usage', async () => {
  await stub.clear();
  const { data, response } = await oa().chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }],
  }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.content, 'echo: hello there');
  assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0);
  const log = await stub.requests('/direct/v1');
  assert.equal(log.length, 1);
  assert.equal(log[0].path, '/direct/v1/chat/completions');
  assert.equal(log[0].flavor, 'openai');
  assert.equal(log[0].headers.authorization, '[redacted]', 'credential values are never recorded');
  assert.ok(!JSON.stringify(log).includes('sk-direct'));
});

test('stub: openai client, stream with usage chunk and [DONE]', async () => {
  const stream = await oa().chat.completions.create({
    model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'one two three four' }],
  });
  let text = '';
  let chunks = 0;
  let usage = null;
  let finish = null;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text += ch.delta.content || '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, 'echo: one two three four');
  assert.ok(chunks >= 5, `several chunks (${chunks})`);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0);
});

test('stub: anthropic SDK, messages.create non-stream', async () => {
  await stub.clear();
  const msg = await an().messages.create({
    model: 'claude-stub-1', max_tokens: 64, system: 'be brief',
    messages: [{ role: 'user', content: 'hi claude' }],
  });
  assert.equal(msg.type, 'message');
  assert.equal(msg.content[0].type, 'text');
  assert.equal(msg.content[0].text, 'echo: hi claude');
  assert.equal(msg.stop_reason, 'end_turn');
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  const [r] = await stub.requests('/direct-ant');
  assert.equal(r.path, '/direct-ant/v1/messages');
  assert.equal(r.flavor, 'anthropic');
  assert.ok(r.headers['anthropic-version'], 'the SDK sends anthropic-version');
  assert.equal(r.headers['x-api-key'], '[redacted]');
});

test('stub: anthropic SDK, streaming events assemble into the final message', async () => {
  const stream = an().messages.stream({
    model: 'claude-stub-1', max_tokens: 64, messages: [{ role: 'user', content: 'stream me please' }],
  });
  const deltas = [];
  stream.on('text', (t) => deltas.push(t));
  const final = await stream.finalMessage();
  assert.ok(deltas.length >= 3, `several text deltas (${deltas.length})`);
  assert.equal(deltas.join(''), 'echo: stream me please');
  assert.equal(final.content[0].text, 'echo: stream me please');
  assert.equal(final.stop_reason, 'end_turn');
  assert.ok(final.usage.output_tokens > 1);
});

test('stub: anthropic wire rules are enforced (max_tokens, anthropic-version)', async () => {
  const noMax = await fetch(`${stub.url}/x/v1/messages`, { method: 'POST',
    headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }) });
  assert.equal(noMax.status, 400);
  assert.equal((await noMax.json()).error.type, 'invalid_request_error');
  const noVer = await fetch(`${stub.url}/x/v1/messages`, { method: 'POST',
    headers: { 'x-api-key': 'k', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }) });
  assert.equal(noVer.status, 400);
});

test('stub: status + Retry-After via route rule, limited by times', async () => {
  await stub.calm();
  await stub.behave({ match: '/limited/', status: 429, retry_after: 7, times: 1 });
  const c = new OpenAI({ apiKey: 'k', baseURL: `${stub.url}/limited/v1`, maxRetries: 0 });
  await assert.rejects(c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'a' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '7');
  const ok = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'b' }] });
  assert.equal(ok.choices[0].message.content, 'echo: b', 'rule used up after `times`');
  await stub.calm();
});

test('stub: 500 via directive in the message, anthropic error shape', async () => {
  await assert.rejects(an().messages.create({ model: 'm', max_tokens: 5,
    messages: [{ role: 'user', content: 'boom [[stub:{"status":529}]]' }] }),
  (e) => e.status === 529 && e.error.error.type === 'overloaded_error');
});

test('stub: delay before headers trips a client timeout', async () => {
  const c = new OpenAI({ apiKey: 'k', baseURL: `${stub.url}/slow/v1`, maxRetries: 0, timeout: 300 });
  const t0 = Date.now();
  await assert.rejects(c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] },
    { headers: { 'X-Stub-Behavior': '{"delay_ms":3000}' } }), OpenAI.APIConnectionTimeoutError);
  assert.ok(Date.now() - t0 < 2500);
});

test('stub: reset, invalid JSON, error body in a 200, wrong content type', async () => {
  const post = (b) => fetch(`${stub.url}/f/v1/chat/completions`, { method: 'POST',
    headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-stub-behavior': JSON.stringify(b) },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }) });
  await assert.rejects(post({ reset: true }));
  const bad = await post({ invalid_json: true });
  assert.equal(bad.status, 200);
  await assert.rejects(bad.json());
  const err200 = await post({ error_200: true });
  assert.equal(err200.status, 200);
  assert.ok((await err200.json()).error);
  const html = await post({ raw_body: '<html>oops</html>' });
  assert.match(html.headers.get('content-type'), /text\/html/);
});

test('stub: stall mid-stream then resume; reset mid-stream', async () => {
  const c = oa();
  const t0 = Date.now();
  const s = await c.chat.completions.create({ model: 'm', stream: true,
    messages: [{ role: 'user', content: 'a b c d' }] }, { headers: { 'X-Stub-Behavior': '{"stall_after":2,"stall_ms":400}' } });
  let text = '';
  for await (const ch of s) text += ch.choices[0]?.delta?.content || '';
  assert.equal(text, 'echo: a b c d');
  assert.ok(Date.now() - t0 >= 380, 'stalled');
  const s2 = await c.chat.completions.create({ model: 'm', stream: true,
    messages: [{ role: 'user', content: 'a b c d' }] }, { headers: { 'X-Stub-Behavior': '{"reset_after":2}' } });
  await assert.rejects((async () => { for await (const ch of s2) void ch; })());
  const log = await stub.requests();
  assert.ok(log.some((e) => e.outcome === 'reset-mid-stream'));
});

test('stub: error event mid-stream (both formats) makes the SDKs throw', async () => {
  const s1 = await oa().chat.completions.create({ model: 'm', stream: true,
    messages: [{ role: 'user', content: 'a b c d' }] }, { headers: { 'X-Stub-Behavior': '{"error_event_after":2}' } });
  let text = '';
  await assert.rejects((async () => { for await (const ch of s1) text += ch.choices[0]?.delta?.content || ''; })(),
    /upstream error mid-stream/);
  assert.equal(text, 'echo: a ');
  const s2 = an().messages.stream({ model: 'claude-stub-1', max_tokens: 16,
    messages: [{ role: 'user', content: 'x y z' }] }, { headers: { 'X-Stub-Behavior': '{"error_event_after":1}' } });
  await assert.rejects(s2.finalMessage(), (e) => /Overloaded|overloaded/.test(String(e.message)));
});

// ---- the doors' needs: tool calls, embeddings, count_tokens ------------------

const WEATHER = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object',
    properties: { city: { type: 'string' } }, required: ['city'] } },
};

test('stub: openai tool call, streamed in small argument pieces, then the round trip ends in text', async () => {
  await stub.clear();
  const behave = { 'X-Stub-Behavior': JSON.stringify({ tool_call: { name: 'get_weather', arguments: { city: 'Lisbon' } } }) };
  const stream = await oa().chat.completions.create({ model: 'm', stream: true, tools: [WEATHER],
    messages: [{ role: 'user', content: 'weather in Lisbon?' }] }, { headers: behave });
  let args = '';
  let pieces = 0;
  let id = null;
  let name = null;
  let finish = null;
  for await (const c of stream) {
    for (const ch of c.choices) {
      for (const tc of ch.delta.tool_calls || []) {
        if (tc.id) id = tc.id;
        if (tc.function && tc.function.name) name = tc.function.name;
        if (tc.function && tc.function.arguments) { args += tc.function.arguments; pieces++; }
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), { city: 'Lisbon' });
  assert.ok(pieces >= 3, `arguments in several pieces (${pieces})`);
  assert.equal(finish, 'tool_calls');
  // Same behaviour, but the conversation now ends with the tool's result: text.
  const done = await oa().chat.completions.create({ model: 'm', tools: [WEATHER], messages: [
    { role: 'user', content: 'weather in Lisbon?' },
    { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name, arguments: args } }] },
    { role: 'tool', tool_call_id: id, content: 'sunny, 24 C' },
  ] }, { headers: behave });
  assert.equal(done.choices[0].finish_reason, 'stop');
  assert.equal(done.choices[0].message.content, 'tool said: sunny, 24 C');
});

test('stub: openai tool call, not streamed', async () => {
  const r = await oa().chat.completions.create({ model: 'm', tools: [WEATHER],
    messages: [{ role: 'user', content: 'weather? [[stub:{"tool_call":{"name":"get_weather","arguments":{"city":"Oslo"}}}]]' }] });
  const [tc] = r.choices[0].message.tool_calls;
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(tc.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Oslo' });
});

test('stub: anthropic tool_use streamed with input_json_delta, then tool_result ends in text', async () => {
  const tools = [{ name: 'get_weather', description: 'Weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
  const behave = { 'X-Stub-Behavior': JSON.stringify({ tool_call: { name: 'get_weather', arguments: { city: 'Porto' } } }) };
  const stream = an().messages.stream({ model: 'c', max_tokens: 64, tools,
    messages: [{ role: 'user', content: 'weather in Porto?' }] }, { headers: behave });
  let jsonDeltas = 0;
  stream.on('inputJson', () => { jsonDeltas++; });
  const msg = await stream.finalMessage();
  assert.equal(msg.stop_reason, 'tool_use');
  const tu = msg.content.find((b) => b.type === 'tool_use');
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, { city: 'Porto' });
  assert.ok(jsonDeltas >= 3, `input in several pieces (${jsonDeltas})`);
  const done = await an().messages.create({ model: 'c', max_tokens: 64, tools, messages: [
    { role: 'user', content: 'weather in Porto?' },
    { role: 'assistant', content: msg.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'rain, 15 C' }] },
  ] }, { headers: behave });
  assert.equal(done.stop_reason, 'end_turn');
  assert.equal(done.content[0].text, 'tool said: rain, 15 C');
});

test('stub: embeddings, float and base64 (the openai SDK default), deterministic vectors', async () => {
  await stub.clear();
  const inputs = ['first document', 'second document'];
  const r = await oa().embeddings.create({ model: 'text-embedding-3-small', input: inputs });
  assert.equal(r.data.length, 2);
  for (const [i, d] of r.data.entries()) {
    assert.equal(d.index, i);
    assert.deepEqual(Array.from(d.embedding), embedText(inputs[i], 16));
  }
  assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
  assert.ok(r.usage.prompt_tokens > 0);
  const f = await oa().embeddings.create({ model: 'text-embedding-3-small', input: 'x', encoding_format: 'float', dimensions: 8 });
  assert.deepEqual(f.data[0].embedding, embedText('x', 8));
  const log = await stub.requests('/direct/v1/embeddings');
  assert.equal(log.length, 2);
  assert.equal(log[0].flavor, 'embeddings');
  assert.equal(log[0].body.encoding_format, 'base64', 'the SDK asks for base64 unless told otherwise');
});

test('stub: anthropic count_tokens', async () => {
  await stub.clear();
  const r = await an().messages.countTokens({ model: 'c', system: 'be brief', messages: [{ role: 'user', content: 'count these words please' }] });
  assert.ok(r.input_tokens > 0);
  const [e] = await stub.requests('/direct-ant');
  assert.equal(e.path, '/direct-ant/v1/messages/count_tokens');
  assert.equal(e.flavor, 'anthropic_count');
});
