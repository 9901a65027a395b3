#!/usr/bin/env node
// capture_clients.mjs — record what Claude Code and Codex CLI really send.
//
// Starts a tiny server on 127.0.0.1 that answers the way their own APIs do
// (Anthropic Messages, JSON or SSE, and count_tokens, for Claude Code; the
// Responses SSE event stream for Codex), runs `claude -p` and `codex exec`
// against it (clients.mjs: temp HOME, no telemetry, bounded), and writes each
// request received — method, path, headers with credential values replaced,
// body — to tests/e2e/fixtures/claude-code-SCENARIO-N.json and codex-SCENARIO-N.json.
// The dialect decoders are tested on these files, so they are the clients'
// unmodified requests (Claude Code's request carries
// noreply@anthropic.com: that is the point of issue 17; it stays).
//
// Usage: node tests/e2e/capture_clients.mjs [--out DIR]   (default tests/e2e/fixtures)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runClaude, runCodex } from './clients.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(HERE, 'fixtures');

const CRED = new Set(['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie']);
const REPLY = 'Captured: hello from the capture server.';

const received = [];

function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [name, data] of events) res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`);
  res.end();
}

function json(res, status, obj) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

// Split a string into a few pieces, as a real stream would.
const split = (s, n = 4) => {
  const out = [];
  const step = Math.max(1, Math.ceil(s.length / n));
  for (let i = 0; i < s.length; i += step) out.push(s.slice(i, i + step));
  return out;
};

function hasToolResult(body) {
  const last = (body.messages || []).at(-1);
  return !!(last && Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result'));
}

// Scenario "tool": the first turn asks Claude Code to Read notes.txt in its
// working directory; the turn carrying the tool_result gets the text answer.
function answerMessages(res, body, scenario) {
  const model = body.model || 'unknown';
  const usage = { input_tokens: 12, output_tokens: 8, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const id = 'msg_capture_' + received.length;
  if (scenario === 'tool' && body.stream && !hasToolResult(body)) {
    const m = /Primary working directory: ([^\s\\]+)/.exec(JSON.stringify(body.messages));
    const input = JSON.stringify({ file_path: (m ? m[1] : '/tmp') + '/notes.txt' });
    return sse(res, [
      ['message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null,
        stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }],
      ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Reading the notes.' } }],
      ['content_block_stop', { index: 0 }],
      ['content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_capture_1', name: 'Read', input: {} } }],
      ...split(input).map((j) => ['content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: j } }]),
      ['content_block_stop', { index: 1 }],
      ['message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 20 } }],
      ['message_stop', {}],
    ]);
  }
  if (!body.stream) {
    return json(res, 200, { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: REPLY }],
      stop_reason: 'end_turn', stop_sequence: null, usage });
  }
  const words = REPLY.match(/\S+\s*/g);
  sse(res, [
    ['message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null,
      stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }],
    ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', {}],
    ...words.map((w) => ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } }]),
    ['content_block_stop', { index: 0 }],
    ['message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 8 } }],
    ['message_stop', {}],
  ]);
}

// Scenario "tool": the first turn calls exec_command `cat notes.txt`; the
// turn carrying the function_call_output gets the text answer.
function answerResponses(res, body, scenario) {
  const model = body.model || 'unknown';
  const rid = 'resp_capture_' + received.length;
  const mid = 'msg_capture_' + received.length;
  const created = Math.floor(Date.now() / 1000);
  const base = { id: rid, object: 'response', created_at: created, model, output: [], status: 'in_progress' };
  const answered = (body.input || []).some((i) => i.type === 'function_call_output');
  if (scenario === 'tool' && !answered) {
    const args = JSON.stringify({ cmd: 'cat notes.txt' });
    const fc = { id: 'fc_capture_1', type: 'function_call', status: 'completed', call_id: 'call_capture_1',
      name: 'exec_command', arguments: args };
    let k = 0;
    const e = (name, data) => [name, { sequence_number: k++, ...data }];
    return sse(res, [
      e('response.created', { response: base }),
      e('response.output_item.added', { output_index: 0, item: { ...fc, status: 'in_progress', arguments: '' } }),
      ...split(args).map((d) => e('response.function_call_arguments.delta', { item_id: fc.id, output_index: 0, delta: d })),
      e('response.function_call_arguments.done', { item_id: fc.id, output_index: 0, arguments: args }),
      e('response.output_item.done', { output_index: 0, item: fc }),
      e('response.completed', { response: { ...base, status: 'completed', output: [fc],
        usage: { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 9,
          output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 21 } } }),
    ]);
  }
  const words = REPLY.match(/\S+\s*/g);
  const item = { id: mid, type: 'message', role: 'assistant', status: 'completed',
    content: [{ type: 'output_text', text: REPLY, annotations: [] }] };
  let n = 0;
  const ev = (name, data) => [name, { sequence_number: n++, ...data }];
  sse(res, [
    ev('response.created', { response: base }),
    ev('response.in_progress', { response: base }),
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { item_id: mid, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
    ...words.map((w) => ev('response.output_text.delta', { item_id: mid, output_index: 0, content_index: 0, delta: w })),
    ev('response.output_text.done', { item_id: mid, output_index: 0, content_index: 0, text: REPLY }),
    ev('response.content_part.done', { item_id: mid, output_index: 0, content_index: 0, part: item.content[0] }),
    ev('response.output_item.done', { output_index: 0, item }),
    ev('response.completed', { response: { ...base, status: 'completed', output: [item],
      usage: { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 8,
        output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 20 } } }),
  ]);
}

function handle(client, scenario, req, res, raw) {
  let body = null;
  try { body = raw.length ? JSON.parse(raw) : null; } catch { body = raw; }
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = CRED.has(k) ? '[redacted]' : v;
  received.push({ client, scenario, method: req.method, path: req.url, headers, body });
  const p = req.url.split('?')[0];
  if (req.method === 'POST' && p.endsWith('/messages/count_tokens')) return json(res, 200, { input_tokens: 42 });
  if (req.method === 'POST' && p.endsWith('/messages')) return answerMessages(res, body || {}, scenario);
  if (req.method === 'POST' && p.endsWith('/responses')) return answerResponses(res, body || {}, scenario);
  if (req.method === 'GET' && p.endsWith('/models')) return json(res, 200, { object: 'list', data: [], models: [] });
  return json(res, 404, { error: { message: `capture: no route ${req.method} ${p}`, type: 'not_found' } });
}

function server(client, scenario) {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => handle(client, scenario, req, res, Buffer.concat(chunks).toString('utf8')));
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const NOTES = { 'notes.txt': 'The build is green.\n' };
const RUNS = [
  ['claude-code', 'hello', (url) => runClaude('Say hello in five words.', { baseURL: url, apiKey: 'sk-ant-capture-not-a-key',
    headers: { 'X-Task-Category': 'code_generation' }, timeoutMs: 90000 })],
  ['claude-code', 'tool', (url) => runClaude('What does notes.txt say?', { baseURL: url, apiKey: 'sk-ant-capture-not-a-key',
    headers: { 'X-Task-Category': 'code_generation' }, timeoutMs: 90000, maxTurns: 3, files: NOTES })],
  ['codex', 'hello', (url) => runCodex('Say hello in five words.', { baseURL: url + '/v1', apiKey: 'tg-capture-not-a-key',
    headers: { 'X-Task-Category': 'code_generation' }, timeoutMs: 90000 })],
  ['codex', 'tool', (url) => runCodex('What does notes.txt say?', { baseURL: url + '/v1', apiKey: 'tg-capture-not-a-key',
    headers: { 'X-Task-Category': 'code_generation' }, timeoutMs: 90000, files: NOTES })],
];

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) {
    if (/^(claude-code|codex)-.*\.json$/.test(f)) fs.rmSync(path.join(outDir, f));
  }
  const results = {};
  for (const [client, scenario, go] of RUNS) {
    const s = await server(client, scenario);
    const url = `http://127.0.0.1:${s.address().port}`;
    const r = await go(url);
    s.close();
    s.closeAllConnections();
    const mine = received.filter((e) => e.client === client && e.scenario === scenario);
    mine.forEach((e, i) => {
      const { client: _c, scenario: _s, ...rec } = e;
      fs.writeFileSync(path.join(outDir, `${client}-${scenario}-${i + 1}.json`), JSON.stringify(rec, null, 2) + '\n');
    });
    results[`${client}-${scenario}`] = { code: r.code, timedOut: r.timedOut, ms: r.ms, stdout: r.stdout.slice(-300),
      stderr: r.stderr.slice(-800), requests: mine.map((e) => `${e.method} ${e.path}`) };
  }
  console.log(JSON.stringify(results, null, 2));
}

main().catch((e) => { console.error(e); process.exit(1); });
