// policy.mode: audit — decide and record, never block.  A request the
// enforcing policy would deny is served, and its audit entry records the
// decision that would have applied and the mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, PII_TEXT, PII_EMAIL, auditEntry, chat, userMsg } from './harness.mjs';

let gw;
before(async () => { gw = await startGateway({ tag: 'mode', vars: { MODE: 'audit' } }); });
after(async () => { if (gw) { await gw.stop(); gw.cleanup(); } });

test('audit mode: a would-be denial is served and recorded as deny', async () => {
  const r = await chat(gw, userMsg(PII_TEXT));
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal((await gw.stub.requests()).length, 1, 'forwarded');
  const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
  assert.equal(e.decision, 'deny', 'the decision enforce mode would have taken');
  assert.equal(e.mode, 'audit');
  assert.ok(!JSON.stringify(e).includes(PII_EMAIL));
});

test('audit mode: an allowed request is recorded as allow', async () => {
  const r = await chat(gw, userMsg('nothing personal'));
  assert.equal(r.status, 200);
  const e = await auditEntry(gw, r.headers.get('x-tollgate-decision-id'));
  assert.equal(e.decision, 'allow');
  assert.equal(e.mode, 'audit');
});
