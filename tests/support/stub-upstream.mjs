#!/usr/bin/env node
// stub-upstream.mjs — a fake LLM provider for tollgate's integration and e2e tests.
//
// Speaks two wire formats on one port, chosen by path suffix, so each configured
// provider can get its own prefix (base_url http://127.0.0.1:PORT/<name>/v1) and
// tests can tell from the request log which provider received what:
//   POST …/chat/completions   OpenAI chat completions (JSON, or SSE chunks + [DONE]),
//                             tool calls included (behaviour tool_call)
//   POST …/embeddings         OpenAI embeddings (float arrays, or base64 with
//                             encoding_format: "base64"); deterministic vectors
//   POST …/messages           Anthropic Messages API (JSON, or its SSE event stream),
//                             tool_use blocks included (behaviour tool_call)
//   POST …/messages/count_tokens  Anthropic token count
//   GET  …/models             a model list in the OpenAI shape
//   POST …/telemetry…         a telemetry collector: records the batch, answers 204
//
// Misbehaviour, so tests can prove fallback, breakers and deadlines. A behaviour
// is a JSON object; the first source that gives one wins:
//   1. request header  X-Stub-Behavior: {"status":500}
//   2. a directive in the last user message: [[stub:{"status":500}]]
//   3. route rules installed with POST /__behavior (first match on path
//      substring `match`, optional `model`, `flavor`; `times` limits uses)
// Fields (all optional):
//   delay_ms        wait this long before sending headers
//   status          answer with this HTTP status and an error body in the
//                   provider's format (429/503 may add retry_after)
//   retry_after     Retry-After header value (seconds, or an HTTP date string)
//   reset           true: reset the TCP connection instead of answering
//   stall_after     stream: after this many content chunks, stop writing
//   stall_ms        …for this long (default: until the client goes away)
//   reset_after     stream: after this many content chunks, reset the connection
//   reset_delay_ms  …waiting this long first so the chunks are delivered (200)
//   chunk_delay_ms  stream: pause between chunks
//   error_event_after stream: after this many content chunks, send the
//                   provider's error event (OpenAI: data: {"error":…};
//                   Anthropic: event: error) and end without [DONE]/message_stop
//   content_type    override the Content-Type of a 200 answer
//   raw_body        send this text as the 200 body instead of a completion
//   invalid_json    true: a 200 whose body is not JSON
//   error_200       true: a 200 whose body is an error object
//   reply           the assistant text (default "echo: " + last user message;
//                   after a tool result: "tool said: " + the result's text)
//   tool_call       {"name": "...", "arguments": {...}}: answer with a call of
//                   this tool (OpenAI tool_calls, finish_reason "tool_calls";
//                   Anthropic tool_use, stop_reason "tool_use"), its arguments
//                   streamed in small pieces; ignored when the last message is
//                   already a tool result, so a round trip ends in text
//   piece_chars     stream the reply in pieces of at most this many characters
//                   (default: one word each)
//   no_usage        true: leave usage out
//
// Inspection: GET /__requests lists every request received (seq, ts, method,
// path, flavor, model, stream, headers with credential values replaced by
// "[redacted]", body parsed as JSON when possible, behavior applied, outcome:
// pending|ok|stalled|client-closed|reset|reset-mid-stream, closed_at ms);
// ?match=SUBSTR filters by path.  DELETE /__requests clears the log.
// GET/DELETE /__behavior list/clear rules; POST /__behavior adds a rule or
// {"rules":[…]} (replacing none).  GET /__health answers 200.
//
// Usage: node stub-upstream.mjs [--port N] [--host 127.0.0.1]
// The chosen port is printed alone on stdout's first line.  SIGTERM/SIGINT
// close every connection and exit 0.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { embedText } from './stub-embed.mjs';

const args = process.argv.slice(2);
function argVal(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const host = argVal('--host', '127.0.0.1');
const port = Number(argVal('--port', '0'));

const log = [];          // received requests, oldest first
let rules = [];          // route behaviours
let seq = 0;
const sockets = new Set();
const timers = new Set();

const CRED_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie']);

function sleep(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
    timers.add(t);
  });
}

function flavorOf(path) {
  const p = path.split('?')[0];
  if (p.endsWith('/chat/completions')) return 'openai';
  if (p.endsWith('/embeddings')) return 'embeddings';
  if (p.endsWith('/messages/count_tokens')) return 'anthropic_count';
  if (p.endsWith('/messages')) return 'anthropic';
  if (p.endsWith('/models')) return 'models';
  if (p.includes('/telemetry')) return 'telemetry';
  return 'other';
}

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p === 'object' && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

function lastUserText(body) {
  const msgs = body && Array.isArray(body.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i] && msgs[i].role === 'user') return textOf(msgs[i].content);
  }
  return '';
}

// The text of the tool result the conversation ends with, or null: an OpenAI
// `tool` message, or Anthropic tool_result blocks in the last user message.
function lastToolResult(body) {
  const msgs = body && Array.isArray(body.messages) ? body.messages : [];
  const last = msgs[msgs.length - 1];
  if (!last) return null;
  if (last.role === 'tool') return textOf(last.content);
  if (last.role === 'user' && Array.isArray(last.content)) {
    const rs = last.content.filter((b) => b && b.type === 'tool_result');
    if (rs.length) return rs.map((b) => textOf(b.content)).join('');
  }
  return null;
}

function replyFor(body, b) {
  if (typeof b.reply === 'string') return b.reply;
  const tr = lastToolResult(body);
  if (tr !== null) return 'tool said: ' + tr;
  return 'echo: ' + lastUserText(body).replace(DIRECTIVE, '').trim();
}

// The tool call to answer with, or null (none asked, or the round trip is done).
function toolCallFor(body, b) {
  if (!b.tool_call || typeof b.tool_call !== 'object' || lastToolResult(body) !== null) return null;
  return { name: String(b.tool_call.name || 'tool'), args: JSON.stringify(b.tool_call.arguments || {}) };
}

function allText(body) {
  if (!body || typeof body !== 'object') return '';
  let s = '';
  if (typeof body.system === 'string') s += body.system;
  else if (Array.isArray(body.system)) s += textOf(body.system);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    s += textOf(m && m.content);
    if (m && Array.isArray(m.content)) for (const b of m.content) if (b && b.type === 'tool_result') s += textOf(b.content);
  }
  return s;
}

// Rough token estimate, deterministic so tests can check usage and cost.
const tokens = (s) => Math.max(1, Math.ceil(Buffer.byteLength(s) / 4));

const DIRECTIVE = /\[\[stub:(\{.*?\})\]\]/s;

function pickBehavior(req, path, flavor, body) {
  const h = req.headers['x-stub-behavior'];
  if (h) {
    try { return { source: 'header', b: JSON.parse(h) }; } catch { /* ignore a bad header */ }
  }
  const m = DIRECTIVE.exec(lastUserText(body));
  if (m) {
    try { return { source: 'directive', b: JSON.parse(m[1]) }; } catch { /* ignore */ }
  }
  const model = body && typeof body.model === 'string' ? body.model : '';
  for (const r of rules) {
    if (r.times !== undefined && r.times <= 0) continue;
    if (r.match && !path.includes(r.match)) continue;
    if (r.model && r.model !== model) continue;
    if (r.flavor && r.flavor !== flavor) continue;
    if (r.times !== undefined) r.times--;
    return { source: 'rule', b: r };
  }
  return { source: 'default', b: {} };
}

function redactHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) out[k] = CRED_HEADERS.has(k) ? '[redacted]' : v;
  return out;
}

function sendJson(res, status, obj, extra = {}) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), ...extra });
  res.end(s);
}

function errorBody(flavor, status, message) {
  if (flavor === 'anthropic' || flavor === 'anthropic_count') {
    const type = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
      404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 529: 'overloaded_error' }[status]
      || 'api_error';
    return { type: 'error', error: { type, message } };
  }
  const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param: null, code: status === 429 ? 'rate_limit_exceeded' : null } };
}

function resetSocket(req) {
  const s = req.socket;
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else s.destroy();
}

const newId = (p) => p + randomBytes(12).toString('hex');

function openaiCompletion(model, reply, usage) {
  const o = {
    id: newId('chatcmpl-stub'), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
    system_fingerprint: 'fp_stub',
    choices: [{ index: 0, message: { role: 'assistant', content: reply, refusal: null }, logprobs: null, finish_reason: 'stop' }],
  };
  if (usage) o.usage = { prompt_tokens: usage.in, completion_tokens: usage.out, total_tokens: usage.in + usage.out };
  return o;
}

function anthropicMessage(model, reply, usage) {
  return {
    id: newId('msg_stub'), type: 'message', role: 'assistant', model,
    content: [{ type: 'text', text: reply }], stop_reason: 'end_turn', stop_sequence: null,
    usage: { input_tokens: usage ? usage.in : 0, output_tokens: usage ? usage.out : 0 },
  };
}

// Split a reply into a few chunks on word boundaries (keeping the spaces), so
// the client sees several deltas that concatenate back to the reply.
function pieces(reply, n) {
  if (n > 0) {
    const out = [];
    for (let i = 0; i < reply.length; i += n) out.push(reply.slice(i, i + n));
    return out.length ? out : [''];
  }
  const parts = reply.match(/\S+\s*|\s+/g) || [''];
  return parts.length ? parts : [''];
}

// Tool-call arguments stream in pieces this small, as real providers send them.
const ARG_PIECE = 7;

// error_event_after: keep the first N content frames (and what precedes
// them), then end the stream with the provider's error event instead of the
// normal ending.
function withErrorEvent(frames, b, errorFrame) {
  if (b.error_event_after === undefined) return frames;
  const out = [];
  let content = 0;
  for (const f of frames) {
    if (f.content && content === b.error_event_after) break;
    if (f.content) content++;
    out.push(f);
  }
  out.push({ text: errorFrame });
  return out;
}

// Stream writer honouring stall/reset/delay; returns false if the client left.
async function streamChunks(req, res, entry, b, frames) {
  let content = 0;
  for (const f of frames) {
    if (res.destroyed || res.writableEnded) return false;
    if (f.content) {
      if (b.reset_after !== undefined && content === b.reset_after) {
        // Let what was written reach the peer first: an RST makes the
        // receiver drop data it has not read yet.
        await sleep(b.reset_delay_ms ?? 200);
        entry.outcome = 'reset-mid-stream';
        resetSocket(req);
        return false;
      }
      if (b.stall_after !== undefined && content === b.stall_after && !entry.stalled) {
        entry.stalled = true;
        entry.outcome = 'stalled';
        if (b.stall_ms === undefined) {
          await new Promise((resolve) => res.on('close', resolve));
          return false;
        }
        await sleep(b.stall_ms);
        if (res.destroyed) return false;
      }
      content++;
      if (b.chunk_delay_ms) await sleep(b.chunk_delay_ms);
    }
    res.write(f.text);
  }
  return true;
}

async function answerOpenAI(req, res, entry, body, b) {
  const model = typeof body.model === 'string' ? body.model : 'unknown';
  const call = toolCallFor(body, b);
  const reply = call ? '' : replyFor(body, b);
  const usage = b.no_usage ? null : { in: tokens(allText(body)), out: tokens(call ? call.args : reply) };
  const callId = call ? newId('call_stub') : null;
  if (!body.stream) {
    const o = openaiCompletion(model, reply, usage);
    if (call) {
      o.choices[0].message.content = null;
      o.choices[0].message.tool_calls = [{ id: callId, type: 'function', function: { name: call.name, arguments: call.args } }];
      o.choices[0].finish_reason = 'tool_calls';
    }
    sendJson(res, 200, o, b.content_type ? { 'content-type': b.content_type } : {});
    return;
  }
  const id = newId('chatcmpl-stub');
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish, extra = {}) => 'data: ' + JSON.stringify({
    id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_stub',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra }) + '\n\n';
  const frames = [{ text: chunk({ role: 'assistant', content: call ? null : '', refusal: null }, null) }];
  if (call) {
    frames.push({ content: true, text: chunk({ tool_calls: [{ index: 0, id: callId, type: 'function',
      function: { name: call.name, arguments: '' } }] }, null) });
    for (const p of pieces(call.args, ARG_PIECE)) {
      frames.push({ content: true, text: chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null) });
    }
    frames.push({ text: chunk({}, 'tool_calls') });
  } else {
    for (const p of pieces(reply, b.piece_chars)) frames.push({ content: true, text: chunk({ content: p }, null) });
    frames.push({ text: chunk({}, 'stop') });
  }
  if (usage && body.stream_options && body.stream_options.include_usage) {
    frames.push({ text: 'data: ' + JSON.stringify({ id, object: 'chat.completion.chunk', created, model,
      system_fingerprint: 'fp_stub', choices: [],
      usage: { prompt_tokens: usage.in, completion_tokens: usage.out, total_tokens: usage.in + usage.out } }) + '\n\n' });
  }
  frames.push({ text: 'data: [DONE]\n\n' });
  const sent = withErrorEvent(frames, b, 'data: ' + JSON.stringify({ error: { message: 'stub: upstream error mid-stream',
    type: 'server_error', param: null, code: null } }) + '\n\n');
  res.writeHead(200, { 'content-type': b.content_type || 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  if (await streamChunks(req, res, entry, b, sent)) res.end();
}

async function answerAnthropic(req, res, entry, body, b) {
  // The real API insists on these; checking them proves tollgate's translation.
  if (!req.headers['x-api-key'] && !req.headers.authorization) {
    sendJson(res, 401, errorBody('anthropic', 401, 'x-api-key header is required'));
    return;
  }
  if (!req.headers['anthropic-version']) {
    sendJson(res, 400, errorBody('anthropic', 400, 'anthropic-version: header is required'));
    return;
  }
  if (typeof body.max_tokens !== 'number') {
    sendJson(res, 400, errorBody('anthropic', 400, 'max_tokens: Field required'));
    return;
  }
  if (!Array.isArray(body.messages) || body.messages.some((m) => m.role !== 'user' && m.role !== 'assistant')) {
    sendJson(res, 400, errorBody('anthropic', 400, 'messages: roles must be user or assistant (system goes in the top-level system field)'));
    return;
  }
  const model = typeof body.model === 'string' ? body.model : 'unknown';
  const call = toolCallFor(body, b);
  const reply = call ? '' : replyFor(body, b);
  const usage = b.no_usage ? { in: 0, out: 0 } : { in: tokens(allText(body)), out: tokens(call ? call.args : reply) };
  const toolId = call ? newId('toolu_stub') : null;
  if (!body.stream) {
    const m = anthropicMessage(model, reply, usage);
    if (call) {
      m.content = [{ type: 'tool_use', id: toolId, name: call.name, input: JSON.parse(call.args) }];
      m.stop_reason = 'tool_use';
    }
    sendJson(res, 200, m, b.content_type ? { 'content-type': b.content_type } : {});
    return;
  }
  const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  const msg = anthropicMessage(model, '', { in: usage.in, out: 1 });
  msg.content = [];
  msg.stop_reason = null;
  const frames = [{ text: ev('message_start', { message: msg }) }];
  if (call) {
    frames.push({ text: ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: toolId, name: call.name, input: {} } }) });
    frames.push({ text: ev('ping', {}) });
    for (const p of pieces(call.args, ARG_PIECE)) {
      frames.push({ content: true, text: ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: p } }) });
    }
  } else {
    frames.push({ text: ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) });
    frames.push({ text: ev('ping', {}) });
    for (const p of pieces(reply, b.piece_chars)) frames.push({ content: true, text: ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }) });
  }
  frames.push({ text: ev('content_block_stop', { index: 0 }) });
  frames.push({ text: ev('message_delta', { delta: { stop_reason: call ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.out } }) });
  frames.push({ text: ev('message_stop', {}) });
  const sent = withErrorEvent(frames, b, ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
  res.writeHead(200, { 'content-type': b.content_type || 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  if (await streamChunks(req, res, entry, b, sent)) res.end();
}

function answerEmbeddings(req, res, body) {
  if (!req.headers.authorization) return sendJson(res, 401, errorBody('openai', 401, 'You didn\'t provide an API key.'));
  let input = body.input;
  if (typeof input === 'string') input = [input];
  if (!Array.isArray(input) || input.length === 0 || typeof body.model !== 'string') {
    return sendJson(res, 400, errorBody('openai', 400, "'input' and 'model' are required."));
  }
  const dims = Number.isInteger(body.dimensions) && body.dimensions > 0 ? Math.min(body.dimensions, 3072) : 16;
  const b64 = body.encoding_format === 'base64';
  let ntok = 0;
  const data = input.map((x, index) => {
    const text = typeof x === 'string' ? x : Array.isArray(x) ? x.join(' ') : String(x);
    ntok += Array.isArray(x) ? x.length : tokens(text);
    const v = embedText(text, dims);
    const embedding = b64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index, embedding };
  });
  sendJson(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: ntok, total_tokens: ntok } });
}

function answerCountTokens(req, res, body) {
  if (!req.headers['x-api-key'] && !req.headers.authorization) {
    return sendJson(res, 401, errorBody('anthropic', 401, 'x-api-key header is required'));
  }
  if (!req.headers['anthropic-version']) return sendJson(res, 400, errorBody('anthropic', 400, 'anthropic-version: header is required'));
  if (!Array.isArray(body.messages)) return sendJson(res, 400, errorBody('anthropic', 400, 'messages: Field required'));
  sendJson(res, 200, { input_tokens: tokens(allText(body)) });
}

async function handleProvider(req, res, path, raw) {
  const flavor = flavorOf(path);
  let body = null;
  let parsed = true;
  try { body = raw.length ? JSON.parse(raw) : null; } catch { parsed = false; }
  const entry = {
    seq: ++seq, ts: Date.now(), method: req.method, path, flavor,
    model: body && typeof body.model === 'string' ? body.model : null,
    stream: !!(body && body.stream),
    headers: redactHeaders(req.headers),
    body: parsed ? body : raw,
    behavior: null, outcome: 'pending',
  };
  log.push(entry);
  res.on('close', () => {
    entry.closed_at = Date.now();
    if (entry.outcome === 'pending' || entry.outcome === 'stalled') {
      entry.outcome = res.writableFinished ? 'ok' : 'client-closed';
    }
  });
  res.on('finish', () => { if (entry.outcome === 'pending' || entry.outcome === 'stalled') entry.outcome = 'ok'; });

  if (flavor === 'telemetry') {   // a collector: record the batch, accept it
    res.writeHead(204);
    res.end();
    return;
  }
  if (flavor === 'models' && req.method === 'GET') {
    sendJson(res, 200, { object: 'list', data: [{ id: 'stub-model', object: 'model', created: 0, owned_by: 'stub' }] });
    return;
  }
  if (req.method !== 'POST' || !['openai', 'anthropic', 'embeddings', 'anthropic_count'].includes(flavor)) {
    sendJson(res, 404, errorBody(flavor, 404, `no route ${req.method} ${path}`));
    return;
  }
  const { source, b } = pickBehavior(req, path, flavor, body);
  entry.behavior = source === 'default' ? null : { source, ...b };

  if (b.delay_ms) {
    await sleep(b.delay_ms);
    if (res.destroyed) { entry.outcome = 'client-closed'; return; }
  }
  if (b.reset) { entry.outcome = 'reset'; resetSocket(req); return; }
  if (b.status && b.status !== 200) {
    const extra = b.retry_after !== undefined ? { 'retry-after': String(b.retry_after) } : {};
    sendJson(res, b.status, errorBody(flavor, b.status, `stub: told to answer ${b.status}`), extra);
    return;
  }
  if (!parsed || !body || typeof body !== 'object') {
    sendJson(res, 400, errorBody(flavor, 400, 'We could not parse the JSON body of your request.'));
    return;
  }
  if (b.invalid_json) {
    const s = '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "trunc';
    res.writeHead(200, { 'content-type': b.content_type || 'application/json', 'content-length': Buffer.byteLength(s) });
    res.end(s);
    return;
  }
  if (b.raw_body !== undefined) {
    const s = String(b.raw_body);
    res.writeHead(200, { 'content-type': b.content_type || 'text/html', 'content-length': Buffer.byteLength(s) });
    res.end(s);
    return;
  }
  if (b.error_200) {
    sendJson(res, 200, errorBody(flavor, 500, 'stub: error object in a 200 answer'), b.content_type ? { 'content-type': b.content_type } : {});
    return;
  }
  if (flavor === 'embeddings') {
    answerEmbeddings(req, res, body);
  } else if (flavor === 'anthropic_count') {
    answerCountTokens(req, res, body);
  } else if (flavor === 'openai') {
    if (!req.headers.authorization) {
      sendJson(res, 401, errorBody('openai', 401, 'You didn\'t provide an API key.'));
      return;
    }
    if (!Array.isArray(body.messages)) {
      sendJson(res, 400, errorBody('openai', 400, "Missing required parameter: 'messages'."));
      return;
    }
    await answerOpenAI(req, res, entry, body, b);
  } else {
    await answerAnthropic(req, res, entry, body, b);
  }
}

function handleControl(req, res, url, raw) {
  const p = url.pathname;
  if (p === '/__health') return sendJson(res, 200, { ok: true, requests: log.length });
  if (p === '/__requests') {
    if (req.method === 'DELETE') { log.length = 0; return sendJson(res, 200, { cleared: true }); }
    const m = url.searchParams.get('match');
    return sendJson(res, 200, m ? log.filter((e) => e.path.includes(m)) : log);
  }
  if (p === '/__behavior') {
    if (req.method === 'DELETE') { rules = []; return sendJson(res, 200, { cleared: true }); }
    if (req.method === 'POST') {
      let j;
      try { j = JSON.parse(raw); } catch { return sendJson(res, 400, { error: 'bad JSON' }); }
      const add = Array.isArray(j.rules) ? j.rules : [j];
      rules.push(...add);
      return sendJson(res, 200, { rules });
    }
    return sendJson(res, 200, { rules });
  }
  return sendJson(res, 404, { error: 'unknown control path' });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://stub');
    const done = url.pathname.startsWith('/__')
      ? Promise.resolve(handleControl(req, res, url, raw))
      : handleProvider(req, res, url.pathname, raw);
    done.catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'stub crashed: ' + e.message } });
      else res.destroy();
    });
  });
  req.on('error', () => {});
  res.on('error', () => {});
});
server.keepAliveTimeout = 30000;
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
  s.on('error', () => {});
});

function shutdown() {
  for (const t of timers) clearTimeout(t);
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(port, host, () => {
  process.stdout.write(server.address().port + '\n');
});
