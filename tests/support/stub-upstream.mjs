#!/usr/bin/env node
// stub-upstream.mjs — a fake LLM provider for tollgate's integration and e2e tests.
//
// Speaks two wire formats on one port, chosen by path suffix, so each configured
// provider can get its own prefix (base_url http://127.0.0.1:PORT/<name>/v1) and
// tests can tell from the request log which provider received what:
//   POST …/chat/completions   OpenAI chat completions (JSON, or SSE chunks + [DONE])
//   POST …/messages           Anthropic Messages API (JSON, or its SSE event stream)
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
//   reply           the assistant text (default "echo: " + last user message)
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

function allText(body) {
  if (!body || typeof body !== 'object') return '';
  let s = '';
  if (typeof body.system === 'string') s += body.system;
  else if (Array.isArray(body.system)) s += textOf(body.system);
  for (const m of Array.isArray(body.messages) ? body.messages : []) s += textOf(m && m.content);
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
  if (flavor === 'anthropic') {
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
function pieces(reply) {
  const parts = reply.match(/\S+\s*|\s+/g) || [''];
  return parts.length ? parts : [''];
}

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
  const reply = typeof b.reply === 'string' ? b.reply : 'echo: ' + lastUserText(body).replace(DIRECTIVE, '').trim();
  const usage = b.no_usage ? null : { in: tokens(allText(body)), out: tokens(reply) };
  if (!body.stream) {
    sendJson(res, 200, openaiCompletion(model, reply, usage), b.content_type ? { 'content-type': b.content_type } : {});
    return;
  }
  const id = newId('chatcmpl-stub');
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish, extra = {}) => 'data: ' + JSON.stringify({
    id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_stub',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra }) + '\n\n';
  const frames = [{ text: chunk({ role: 'assistant', content: '', refusal: null }, null) }];
  for (const p of pieces(reply)) frames.push({ content: true, text: chunk({ content: p }, null) });
  frames.push({ text: chunk({}, 'stop') });
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
  const reply = typeof b.reply === 'string' ? b.reply : 'echo: ' + lastUserText(body).replace(DIRECTIVE, '').trim();
  const usage = b.no_usage ? { in: 0, out: 0 } : { in: tokens(allText(body)), out: tokens(reply) };
  if (!body.stream) {
    sendJson(res, 200, anthropicMessage(model, reply, usage), b.content_type ? { 'content-type': b.content_type } : {});
    return;
  }
  const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  const msg = anthropicMessage(model, '', { in: usage.in, out: 1 });
  msg.content = [];
  msg.stop_reason = null;
  const frames = [
    { text: ev('message_start', { message: msg }) },
    { text: ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) },
    { text: ev('ping', {}) },
  ];
  for (const p of pieces(reply)) frames.push({ content: true, text: ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }) });
  frames.push({ text: ev('content_block_stop', { index: 0 }) });
  frames.push({ text: ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.out } }) });
  frames.push({ text: ev('message_stop', {}) });
  const sent = withErrorEvent(frames, b, ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
  res.writeHead(200, { 'content-type': b.content_type || 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  if (await streamChunks(req, res, entry, b, sent)) res.end();
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
  if (req.method !== 'POST' || (flavor !== 'openai' && flavor !== 'anthropic')) {
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
  if (flavor === 'openai') {
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
