// Upstream faults that tests/e2e/faults.test.mjs does not cover (issue 7,
// item 5): a provider whose host does not resolve, the Anthropic adapter's
// answers that are not what they claim (invalid JSON, a 200 carrying an
// error, the wrong content type, 5xx with Retry-After), error events and
// resets in the middle of an Anthropic stream, and an OpenAI stream that
// ends with an error event.  Each: a clear answer to the client, every
// attempt in the audit entry, the log verifies, serve drains with 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, auditEntry, auditVerify, chat, userMsg } from './harness.mjs';

async function withGateway(vars, fn) {
  const gw = await startGateway({ tag: 'adv', vars });
  try {
    await fn(gw);
    const r = await gw.stop();
    assert.equal(r.code, 0, 'serve drains with exit 0');
    const v = auditVerify(gw);
    assert.equal(v.status, 0, `audit verify: ${v.stdout}${v.stderr}`);
  } finally {
    await gw.stop().catch(() => {});
    gw.cleanup();
  }
}
const isOpenAIError = (j) => j && j.error && typeof j.error.message === 'string' && 'type' in j.error && 'code' in j.error;
const attemptsOf = (e) => (e.attempts || []).map((a) => `${a.model}:${a.outcome}`).join(', ');

test('DNS failure: an unresolvable provider host falls back, and the attempt is audited', async () => {
  await withGateway({ DEAD_URL: 'http://tollgate-no-such-host.invalid/v1' }, async (gw) => {
    const t0 = Date.now();
    const r = await chat(gw, userMsg('dns failure'), { category: 'dead_primary' });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model');
    assert.ok(Date.now() - t0 < 5000, `no long hang on resolution (${Date.now() - t0} ms)`);
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.equal(e.attempts.length, 2, attemptsOf(e));
    assert.equal(e.attempts[0].model, 'stub-dead-model');
    assert.notEqual(e.attempts[0].outcome, 'ok', attemptsOf(e));
    assert.equal(e.attempts[1].outcome, 'ok');
  });
});

test('DNS failure with no fallback: 502 with an OpenAI error body listing the attempt', async () => {
  await withGateway({ DEAD_URL: 'http://tollgate-no-such-host.invalid/v1' }, async (gw) => {
    // the eu fallback fails too: every compliant candidate failed
    await gw.stub.behave({ match: '/eu/', status: 503 });
    const r = await chat(gw, userMsg('nobody answers'), { category: 'dead_primary' });
    assert.equal(r.status, 502, r.text.slice(0, 300));
    assert.ok(isOpenAIError(r.json), r.text.slice(0, 300));
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.equal(e.attempts.length, 2, attemptsOf(e));
    assert.ok(e.attempts.every((a) => a.outcome !== 'ok'), attemptsOf(e));
    assert.equal(e.status, 502);
  });
});

test('Anthropic adapter: invalid JSON, 200 with an error body, wrong content type, 500/529 -> clear 502s', async () => {
  await withGateway({ FAILURE_THRESHOLD: 100 }, async (gw) => {
    const faults = [
      { invalid_json: true }, { error_200: true },
      { raw_body: '<html><body>upstream down</body></html>', content_type: 'text/html' },
      { status: 500 }, { status: 529 }, { status: 503, retry_after: '1' },
    ];
    for (const f of faults) {
      await gw.stub.calm();
      await gw.stub.behave({ match: '/anthropic/', ...f, times: 1 });
      const r = await chat(gw, userMsg('anthropic fault ' + JSON.stringify(f)), { category: 'claude' });
      const what = `${JSON.stringify(f)} -> ${r.status} ${r.text.slice(0, 200)}`;
      assert.ok(r.status === 502 || r.status === 503 || r.status === 504, what);
      assert.ok(isOpenAIError(r.json), what);
      assert.ok(!r.text.includes('sk-ant-stub-key'), 'the provider key is never shown');
      const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
      assert.equal(e.attempts.length, 1, `${what}: ${attemptsOf(e)}`);
      assert.notEqual(e.attempts[0].outcome, 'ok', `${what}: ${attemptsOf(e)}`);
      assert.equal(e.status, r.status);
    }
    await gw.stub.calm();
    const ok = await chat(gw, userMsg('healthy again'), { category: 'claude' });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
  });
});

test('Anthropic stream: an error event or a reset mid-stream ends the client stream without [DONE]', async () => {
  await withGateway({ FAILURE_THRESHOLD: 100 }, async (gw) => {
    for (const f of [{ error_event_after: 2 }, { reset_after: 2 }]) {
      await gw.stub.calm();
      await gw.stub.behave({ match: '/anthropic/', ...f, times: 1 });
      const t0 = Date.now();
      const r = await chat(gw, userMsg('one two three four five six seven', { stream: true }),
        { category: 'claude', timeoutMs: 10000 });
      const what = `${JSON.stringify(f)} -> ${r.status} ${r.text.slice(0, 300)}`;
      assert.ok(Date.now() - t0 < 8000, `${what}: not hung`);
      assert.equal(r.status, 200, what);
      assert.ok(!r.text.includes('data: [DONE]'), `${what}: no [DONE] after a failed stream`);
      assert.match(r.text, /"error"/, `${what}: an error event tells the client`);
      const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
      assert.equal(e.attempts.length, 1, attemptsOf(e));
      assert.notEqual(e.attempts[0].outcome, 'ok', `${what}: ${attemptsOf(e)}`);
    }
  });
});

test('OpenAI stream: an error event from the provider is relayed as an error, not as [DONE]', async () => {
  await withGateway({ FAILURE_THRESHOLD: 100 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', error_event_after: 1, times: 1 });
    const r = await chat(gw, userMsg('alpha beta gamma delta', { stream: true }), { timeoutMs: 10000 });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.ok(!r.text.includes('data: [DONE]'), r.text.slice(0, 400));
    assert.match(r.text, /"error"/);
    const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
    assert.notEqual(e.attempts[0].outcome, 'ok', attemptsOf(e));
  });
});
