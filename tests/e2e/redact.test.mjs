// policy.pii.on_violation: redact — the request still goes out, but the
// provider receives placeholders instead of the personal data, and the
// decision is recorded as "redact".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway, KEYS, PII_EMAIL, auditEntry, chat, userMsg } from './harness.mjs';

let gw;
before(async () => { gw = await startGateway({ tag: 'redact', vars: { ON_VIOLATION: 'redact' } }); });
after(async () => { if (gw) { await gw.stop(); gw.cleanup(); } });

test('redact mode: the provider receives placeholders, not the PII', async () => {
  const c = new OpenAI({ apiKey: KEYS.acme, baseURL: gw.baseURL, maxRetries: 0,
    defaultHeaders: { 'X-Task-Category': 'chat' } });
  const content = `Contact ${PII_EMAIL} or call +1 415 555 0134 today.`;
  const { data, response } = await c.chat.completions.create({
    model: 'auto', messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content },
    ],
  }).withResponse();
  assert.equal(response.status, 200);
  const log = await gw.stub.requests();
  assert.equal(log.length, 1);
  const sent = JSON.stringify(log[0].body);
  assert.ok(!sent.includes(PII_EMAIL), 'email not sent upstream');
  assert.ok(!sent.includes('jane.roe'), 'no fragment of the email sent upstream');
  const user = log[0].body.messages.at(-1).content;
  assert.match(user, /^Contact .+ or call .+ today\.$/, `the rest of the text survives (${user})`);
  assert.match(user, /EMAIL/i, 'a placeholder naming the entity stands in for the email');
  assert.ok(!data.choices[0].message.content.includes(PII_EMAIL), 'the echo carries the placeholder too');
  const e = await auditEntry(gw, response.headers.get('x-tollgate-decision-id'));
  assert.equal(e.decision, 'redact');
  assert.ok(!JSON.stringify(e).includes(PII_EMAIL));
});

test('redact mode, streaming: placeholders upstream too', async () => {
  await gw.stub.clear();
  const r = await chat(gw, userMsg(`mail ${PII_EMAIL} now`, { stream: true }));
  assert.equal(r.status, 200);
  const [up] = await gw.stub.requests();
  assert.ok(up, 'provider contacted');
  assert.ok(!JSON.stringify(up.body).includes(PII_EMAIL));
  assert.ok(r.text.trim().endsWith('data: [DONE]'));
});

test('redact mode: a rule that allows PII sends it unchanged to a provider that may receive it', async () => {
  await gw.stub.clear();
  const r = await chat(gw, userMsg(`mail ${PII_EMAIL} now`), { category: 'pii_ok' });
  assert.equal(r.status, 200);
  const [up] = await gw.stub.requests();
  assert.equal(up.path, '/us2/v1/chat/completions');
  assert.ok(JSON.stringify(up.body).includes(PII_EMAIL), 'no needless redaction where PII is allowed');
});
