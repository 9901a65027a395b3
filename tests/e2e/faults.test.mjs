// Upstream faults through a real `tollgate serve`: fallback, timeouts, 429 +
// Retry-After, breaker open / half-open, the overall deadline, no fallback to
// a non-compliant provider, streams falling back only before the first byte.
// Each test gets its own gateway (breaker state is per process) and its own
// stub, temp dir and ports; the stub's request log is the witness of who was
// contacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startGateway, KEYS, PII_TEXT, PII_EMAIL, auditEntry, chat, userMsg, sleep, auditVerify, requestEntries,
} from './harness.mjs';

// Start a gateway, run fn(gw), always stop and clean up.
async function withGateway(vars, fn) {
  const gw = await startGateway({ tag: 'faults', vars });
  try {
    await fn(gw);
  } finally {
    await gw.stop();
    gw.cleanup();
  }
}

const client = (gw, category = 'chat') => new OpenAI({
  apiKey: KEYS.acme, baseURL: gw.baseURL, maxRetries: 0, timeout: 15000,
  defaultHeaders: { 'X-Task-Category': category },
});

const attemptsOf = (e) => (e.attempts || []).map((a) => `${a.model}:${a.outcome}`);

test('primary 500 -> fallback serves; the audit entry lists both attempts', async () => {
  await withGateway({}, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 500 });
    const { data, response } = await client(gw).chat.completions.create(userMsg('hello fallback')).withResponse();
    assert.equal(response.headers.get('x-tollgate-model'), 'stub-eu-model');
    assert.equal(data.choices[0].message.content, 'echo: hello fallback');
    assert.equal((await gw.stub.requests('/us/')).length, 1, 'primary tried once');
    assert.equal((await gw.stub.requests('/eu/')).length, 1, 'fallback tried once');
    const e = await auditEntry(gw, response.headers.get('x-tollgate-decision-id'));
    assert.equal(e.model, 'stub-eu-model');
    assert.equal(e.attempts.length, 2, `two attempts: ${attemptsOf(e)}`);
    assert.equal(e.attempts[0].model, 'stub-gpt');
    assert.equal(e.attempts[0].http_status, 500);
    assert.notEqual(e.attempts[0].outcome, 'ok');
    assert.equal(e.attempts[1].model, 'stub-eu-model');
    assert.equal(e.attempts[1].outcome, 'ok');
  });
});

test('other upstream faults each fall back: 502, 503, reset, invalid JSON, 200 with error body, wrong content type',
  async () => {
    await withGateway({ FAILURE_THRESHOLD: 100 }, async (gw) => {
      const faults = [
        { status: 502 }, { status: 503 }, { reset: true }, { invalid_json: true },
        { error_200: true }, { raw_body: '<html><body>502 Bad Gateway</body></html>', content_type: 'text/html' },
      ];
      for (const f of faults) {
        await gw.stub.calm();
        await gw.stub.clear();
        await gw.stub.behave({ match: '/us/', ...f });
        const r = await chat(gw, userMsg('fault ' + JSON.stringify(f)));
        assert.equal(r.status, 200, `${JSON.stringify(f)}: fallback answered (${r.status} ${r.text.slice(0, 200)})`);
        assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model', `${JSON.stringify(f)}: served by the fallback`);
        const tries = (await gw.stub.requests('/us/')).length;
        // A reset on a reused keep-alive connection looks like a stale
        // connection, and libcurl re-sends once on a fresh one: allow that.
        const most = f.reset ? 2 : 1;
        assert.ok(tries >= 1 && tries <= most, `${JSON.stringify(f)}: primary contacted ${tries} times (at most ${most})`);
        const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
        assert.equal(e.attempts.length, 2, `${JSON.stringify(f)}: ${attemptsOf(e)}`);
        assert.notEqual(e.attempts[0].outcome, 'ok');
      }
    });
  });

test('connection refused -> fallback, attempt recorded as a connect failure', async () => {
  await withGateway({}, async (gw) => {
    const r = await chat(gw, userMsg('dead primary'), { category: 'dead_primary' });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model');
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.equal(e.attempts[0].model, 'stub-dead-model');
    assert.equal(e.attempts[0].outcome, 'connect', attemptsOf(e).join());
  });
});

test('provider 4xx: relayed as upstream_rejected, no fallback; provider 401 -> 502 upstream_auth', async () => {
  await withGateway({}, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 400, times: 1 });
    const r = await chat(gw, userMsg('the provider refuses this'));
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.equal(r.json?.error?.code, 'upstream_rejected');
    assert.equal((await gw.stub.requests('/eu/')).length, 0, 'no fallback on a 4xx');
    await gw.stub.behave({ match: '/anthropic/', status: 401, times: 1 });
    const a = await chat(gw, userMsg('bad provider key'), { category: 'claude' });
    assert.equal(a.status, 502, a.text.slice(0, 300));
    assert.equal(a.json?.error?.code, 'upstream_auth');
    assert.ok(!a.text.includes('sk-ant-stub-key'), 'the provider key is never shown');
  });
});

test('primary timeout (stall before headers > timeout_ms) -> fallback', async () => {
  await withGateway({ TIMEOUT_MS: 400, DEADLINE_MS: 5000 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', delay_ms: 4000 });
    const t0 = Date.now();
    const r = await chat(gw, userMsg('slow primary'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model');
    assert.ok(ms >= 350 && ms < 2500, `fell back after about timeout_ms (${ms} ms)`);
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.equal(e.attempts[0].outcome, 'timeout', attemptsOf(e).join());
  });
});

test('429 with Retry-After opens the breaker: the primary is skipped without being contacted', async () => {
  await withGateway({ FAILURE_THRESHOLD: 5, RECOVERY_MS: 30000 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 429, retry_after: 30, times: 1 });
    const first = await chat(gw, userMsg('first'));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-tollgate-model'), 'stub-eu-model', '429 -> fallback');
    for (let i = 0; i < 3; i++) {
      const r = await chat(gw, userMsg('next ' + i));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model', 'breaker open: fallback serves');
    }
    assert.equal((await gw.stub.requests('/us/')).length, 1,
      'the primary got only the request that returned 429 (its own "times: 1" would have let it answer 200)');
    const e = requestEntries(gw.auditPath).at(-1);
    assert.ok(e && !e.attempts.some((a) => a.model === 'stub-gpt' && a.outcome !== 'breaker_open'),
      `later entries never attempt the primary: ${e && attemptsOf(e)}`);
  });
});

test('breaker opens after failure_threshold failures, half-open after recovery_timeout_ms, closes on success', async () => {
  await withGateway({ FAILURE_THRESHOLD: 2, RECOVERY_MS: 1200 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 500 });
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw, userMsg('fail ' + i));
      assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model');
    }
    assert.equal((await gw.stub.requests('/us/')).length, 2, 'primary contacted while closed');
    for (let i = 0; i < 3; i++) {
      const r = await chat(gw, userMsg('open ' + i));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model');
    }
    assert.equal((await gw.stub.requests('/us/')).length, 2, 'open: primary not contacted');
    const m = await (await fetch(gw.base + '/metrics')).text();
    assert.match(m, /breaker[^\n]*stub-gpt[^\n]*/i, 'breaker state exported in /metrics');

    await gw.stub.calm();            // the primary recovers
    await sleep(1400);               // past recovery_timeout_ms: half-open
    const probe = await chat(gw, userMsg('probe'));
    assert.equal(probe.status, 200);
    assert.equal(probe.headers.get('x-tollgate-model'), 'stub-gpt', 'half-open probe reached the primary');
    assert.equal((await gw.stub.requests('/us/')).length, 3);
    const after = await chat(gw, userMsg('closed again'));
    assert.equal(after.headers.get('x-tollgate-model'), 'stub-gpt', 'closed after a successful probe');
  });
});

test('half-open probe that fails re-opens the breaker', async () => {
  await withGateway({ FAILURE_THRESHOLD: 1, RECOVERY_MS: 800 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 500 });
    await chat(gw, userMsg('trip'));
    assert.equal((await gw.stub.requests('/us/')).length, 1);
    await sleep(1000);
    const probe = await chat(gw, userMsg('probe fails'));
    assert.equal(probe.headers.get('x-tollgate-model'), 'stub-eu-model');
    assert.equal((await gw.stub.requests('/us/')).length, 2, 'one probe');
    await chat(gw, userMsg('still open'));
    assert.equal((await gw.stub.requests('/us/')).length, 2, 're-opened: not contacted');
  });
});

test('overall deadline -> 504 listing each attempt', async () => {
  await withGateway({ TIMEOUT_MS: 600, DEADLINE_MS: 900 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', delay_ms: 5000 });
    await gw.stub.behave({ match: '/eu/', delay_ms: 5000 });
    const t0 = Date.now();
    const r = await chat(gw, userMsg('nobody answers'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 504, r.text.slice(0, 300));
    assert.ok(ms < 2000, `answered by the deadline (${ms} ms)`);
    assert.equal(typeof r.json?.error?.message, 'string');
    assert.match(r.text, /stub-gpt/, 'attempts listed in the error');
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.equal(e.status, 504);
    assert.ok(e.attempts.length >= 1);
    const c = client(gw);
    await assert.rejects(c.chat.completions.create(userMsg('again')), (err) => err.status === 504);
  });
});

test('no fallback to a non-compliant candidate: PII + primary down -> 502, cn never contacted', async () => {
  await withGateway({ FAILURE_THRESHOLD: 100 }, async (gw) => {
    // Control: without PII the cn model is a valid fallback, so the PII case below can fail.
    await gw.stub.behave({ match: '/us2/', status: 500 });
    const plain = await chat(gw, userMsg('no personal data here'), { category: 'pii_ok' });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('x-tollgate-model'), 'stub-cn-model', 'control: cn is the fallback');
    await gw.stub.clear();

    const r = await chat(gw, userMsg(PII_TEXT), { category: 'pii_ok' });
    assert.equal(r.status, 502, r.text.slice(0, 300));
    assert.ok(!r.text.includes(PII_EMAIL));
    assert.equal((await gw.stub.requests('/us2/')).length, 1, 'the compliant primary was tried');
    assert.deepEqual(await gw.stub.requests('/cn/'), [], 'the cn provider never got a request');
    const all = JSON.stringify(await gw.stub.requests());
    assert.ok(!all.includes('cn/v1'), 'nothing reached cn');
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.deepEqual(e.route, ['stub-gpt-b'], 'route holds only the compliant candidate');
    assert.ok(!e.attempts.some((a) => a.model === 'stub-cn-model'));

    // The same for export control: ear-tagged data may not go to a CN entity.
    await gw.stub.clear();
    const t = await chat(gw, userMsg('ear tagged'), { category: 'pii_ok', headers: { 'X-Export-Control': 'ear' } });
    assert.equal(t.status, 502, t.text.slice(0, 300));
    assert.equal((await gw.stub.requests('/us2/')).length, 1);
    assert.deepEqual(await gw.stub.requests('/cn/'), [], 'ear-tagged request never reached cn');
  });
});

test('stream: fallback before the first byte; no fallback after it', async () => {
  await withGateway({ FAILURE_THRESHOLD: 100 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 503, times: 1 });
    const c = client(gw);
    const { data: s, response } = await c.chat.completions.create(userMsg('stream fallback', { stream: true })).withResponse();
    assert.equal(response.headers.get('x-tollgate-model'), 'stub-eu-model');
    let text = '';
    for await (const ch of s) text += ch.choices[0]?.delta?.content || '';
    assert.equal(text, 'echo: stream fallback');

    // Reset after two content chunks: bytes reached the client, so no fallback.
    await gw.stub.clear();
    await gw.stub.behave({ match: '/us/', reset_after: 2, times: 1 });
    const r = await chat(gw, userMsg('one two three four five six', { stream: true }));
    assert.equal(r.status, 200, 'headers were already sent');
    assert.equal(r.headers.get('x-tollgate-model'), 'stub-gpt');
    assert.ok(!r.text.includes('data: [DONE]'), 'no [DONE]: the client must not take it for a complete answer');
    assert.match(r.text, /"error"/, 'an error event ends the stream');
    assert.ok(!r.text.includes('five six'), 'no second provider spliced into the stream');
    assert.equal((await gw.stub.requests('/eu/')).length, 0, 'fallback not contacted after the first byte');
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.equal(e.attempts.length, 1);
    assert.notEqual(e.attempts[0].outcome, 'ok');
  });
});

test('stall mid-stream: the client is released within the attempt timeout', async () => {
  await withGateway({ TIMEOUT_MS: 800, DEADLINE_MS: 1500 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', stall_after: 1 });
    const t0 = Date.now();
    const r = await chat(gw, userMsg('stall after one chunk', { stream: true }), { timeoutMs: 8000 });
    const ms = Date.now() - t0;
    assert.ok(ms < 4000, `not hung (${ms} ms)`);
    assert.ok(!r.text.trim().endsWith('data: [DONE]') || /error/.test(r.text));
    assert.equal((await gw.stub.requests('/eu/')).length, 0, 'no fallback after the first byte');
    const v = await gw.stop();
    assert.equal(v.code, 0);
    assert.equal(auditVerify(gw).status, 0);
  });
});
