// Process-level behaviour of `tollgate serve`: graceful drain on SIGTERM with
// requests in flight, breaker state surviving a reload, progressive timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startStub, chat, userMsg, auditEntry, auditVerify, requestEntries, sleep } from './harness.mjs';

async function withGateway(vars, fn) {
  const gw = await startGateway({ tag: 'life', vars });
  try { await fn(gw); } finally { await gw.stop(); gw.cleanup(); }
}

test('SIGTERM drains: in-flight requests finish, new ones are refused, log verifies', async () => {
  await withGateway({}, async (gw) => {
    await gw.stub.behave({ match: '/us/', delay_ms: 1200 });
    const inflight = [chat(gw, userMsg('slow one')), chat(gw, userMsg('slow two', { stream: true }))];
    // Wait until both have reached the stub (not a fixed sleep: sanitizer
    // builds start slower), so they are truly in flight when SIGTERM lands.
    for (let i = 0; i < 100 && (await gw.stub.requests('/us/')).length < 2; i++) await sleep(50);
    gw.child.kill('SIGTERM');
    await sleep(200);
    let refused = false;
    try {
      const r = await chat(gw, userMsg('too late'), { timeoutMs: 3000 });
      refused = r.status === 503;
    } catch { refused = true; }             // listener closed: connection refused
    assert.ok(refused, 'no new request accepted while draining');
    const done = await Promise.all(inflight);
    assert.deepEqual(done.map((r) => r.status), [200, 200], 'in-flight requests completed');
    assert.equal(done[0].json.choices[0].message.content, 'echo: slow one');
    assert.ok(done[1].text.trim().endsWith('data: [DONE]'), 'in-flight stream completed');
    const r = await gw.stop();
    assert.equal(r.code, 0, `exit 0 after drain (${r.code}/${r.signal})`);
    const ids = requestEntries(gw.auditPath).map((e) => e.decision_id);
    for (const x of done) assert.ok(ids.includes(x.headers.get('x-tollgate-decision-id')), 'drained request audited');
    const v = auditVerify(gw);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });
});

test('repeated SIGTERM while draining and closing still exits 0 with a verifiable log', async () => {
  await withGateway({}, async (gw) => {
    for (let i = 0; i < 5; i++) assert.equal((await chat(gw, userMsg('before stop ' + i))).status, 200);
    // A supervisor that repeats itself: keep signalling until the process is
    // gone. Every signal after the first must be absorbed, including those
    // that land while the audit log is being closed.
    const exited = new Promise((resolve) => gw.child.once('exit', (code, signal) => resolve({ code, signal })));
    let gone = false;
    exited.then(() => { gone = true; });
    while (!gone) {
      try { gw.child.kill('SIGTERM'); } catch { break; }
      await sleep(1);
    }
    const r = await exited;
    assert.equal(r.code, 0, `exit 0 (${r.code}/${r.signal})`);
    const v = auditVerify(gw);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });
});

test('breaker state survives a reload (kept by model id)', async () => {
  await withGateway({ FAILURE_THRESHOLD: 1, RECOVERY_MS: 30000 }, async (gw) => {
    await gw.stub.behave({ match: '/us/', status: 500, times: 1 });
    const a = await chat(gw, userMsg('trip the breaker'));
    assert.equal(a.headers.get('x-tollgate-model'), 'stub-eu-model');
    const v1 = a.headers.get('x-tollgate-policy-version');
    gw.rewrite({ DEADLINE_MS: 7000 });
    gw.reload();
    let b;
    for (let i = 0; i < 60; i++) {            // until a request runs on the new policy
      await sleep(50);
      b = await chat(gw, userMsg('after reload ' + i));
      if (b.headers.get('x-tollgate-policy-version') !== v1) break;
    }
    assert.notEqual(b.headers.get('x-tollgate-policy-version'), v1, 'reloaded');
    assert.equal(b.headers.get('x-tollgate-model'), 'stub-eu-model', 'breaker still open after the reload');
    assert.equal((await gw.stub.requests('/us/')).length, 1, 'the recovered primary was not contacted');
  });
});

test('a request in flight during a reload finishes on the policy it started with', async () => {
  await withGateway({}, async (gw) => {
    const v0 = (await chat(gw, userMsg('before'))).headers.get('x-tollgate-policy-version');
    await gw.stub.behave({ match: '/us/', delay_ms: 1500, times: 1 });
    const slow = chat(gw, userMsg('started before the reload'));
    await sleep(300);
    gw.rewrite({ DEADLINE_MS: 7000 });
    gw.reload();
    let vNew = v0;
    for (let i = 0; i < 40 && vNew === v0; i++) {
      await sleep(50);
      vNew = (await chat(gw, userMsg('after ' + i))).headers.get('x-tollgate-policy-version');
    }
    assert.notEqual(vNew, v0, 'reloaded');
    const old = await slow;
    assert.equal(old.status, 200);
    assert.equal(old.headers.get('x-tollgate-policy-version'), v0, 'answered under the snapshot it started with');
    const e = await auditEntry(gw, old.headers.get('x-tollgate-decision-id'));
    assert.equal(e.policy_version, v0, 'its audit entry names that snapshot');
  });
});

for (const progressive of [true, false]) {
  test(`progressive_timeout: ${progressive} — the fallback gets ${progressive ? '1.5x' : '1x'} timeout_ms`, async () => {
    await withGateway({ TIMEOUT_MS: 600, DEADLINE_MS: 5000, PROGRESSIVE: progressive }, async (gw) => {
      await gw.stub.behave({ match: '/us/', delay_ms: 3000 });
      await gw.stub.behave({ match: '/eu/', delay_ms: 750 });   // between 600 and 900 ms
      const r = await chat(gw, userMsg('progressive?'));
      const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
      if (progressive) {
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.equal(r.headers.get('x-tollgate-model'), 'stub-eu-model');
      } else {
        assert.equal(r.status, 504, r.text.slice(0, 300));
        assert.equal(e.attempts[1].outcome, 'timeout');
      }
    });
  });
}

test('a provider key with CR/LF (from the environment) never injects an upstream header', async () => {
  const stub = await startStub();
  let gw = null;
  try {
    try {
      gw = await startGateway({ tag: 'crlf', stub, vars: { US_API_KEY: '${TG_TEST_US_KEY}' },
        env: { TG_TEST_US_KEY: 'sk-abc\r\nX-Injected: yes' } });
    } catch (e) {
      assert.match(e.message, /api_key|CR|LF|control/i, 'refused at start, naming the problem');
      assert.ok(!e.message.includes('sk-abc'), 'without printing the key');
      return;
    }
    const r = await chat(gw, userMsg('injection?'));
    assert.ok(r.status === 200 || r.status >= 500, `answered (${r.status})`);
    const log = await stub.requests();
    assert.ok(log.every((x) => !('x-injected' in x.headers)), 'no injected header reached the provider');
    assert.ok(!gw.output().includes('sk-abc'), 'the key is never logged');
  } finally {
    if (gw) { await gw.stop(); gw.cleanup(); }
    await stub.stop();
  }
});
