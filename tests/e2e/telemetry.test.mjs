// Telemetry (seed `telemetry:` block): batches of {"source":"tollgate","events":[...]}
// reach the collector (the stub) without prompt text; a dead collector costs
// the request path nothing and the loss is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, PII_TEXT, PII_EMAIL, chat, userMsg, eventually } from './harness.mjs';

async function withGateway(vars, fn) {
  const gw = await startGateway({ tag: 'telemetry', vars });
  try { await fn(gw); } finally { await gw.stop(); gw.cleanup(); }
}

test('telemetry batches reach the collector, one event per request, no prompt text', async () => {
  await withGateway({ TELEMETRY_ENABLED: true }, async (gw) => {
    const ids = [];
    for (let i = 0; i < 7; i++) {
      const r = await chat(gw, userMsg(i === 3 ? PII_TEXT : `telemetry secret prompt ${i}`));
      ids.push(r.headers.get('x-tollgate-decision-id'));
    }
    const events = await eventually(async () => {
      const batches = await gw.stub.requests('/telemetry/');
      const ev = batches.flatMap((b) => (b.body && Array.isArray(b.body.events) ? b.body.events : []));
      return ev.length >= 7 ? { batches, ev } : null;
    }, 5000, 'telemetry events');
    for (const b of events.batches) {
      assert.equal(b.method, 'POST');
      assert.equal(b.body.source, 'tollgate');
      assert.ok(b.body.events.length <= 5, 'batch_size respected');
    }
    assert.equal(events.ev.length, 7, 'one event per request');
    const raw = JSON.stringify(events.batches.map((b) => b.body));
    for (const id of ids) assert.ok(raw.includes(id), `event for ${id}`);
    assert.ok(!raw.includes('secret prompt') && !raw.includes(PII_EMAIL), 'no prompt text or PII in telemetry');
  });
});

test('telemetry endpoint down: requests unaffected, drops counted', async () => {
  await withGateway({ TELEMETRY_ENABLED: true, TELEMETRY_URL: 'http://127.0.0.1:1/telemetry' }, async (gw) => {
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      const r = await chat(gw, userMsg(`dead collector ${i}`));
      assert.equal(r.status, 200);
      assert.ok(Date.now() - t0 < 1000, 'not slowed by the dead collector');
    }
    await eventually(async () => {
      const m = await (await fetch(gw.base + '/metrics')).text();
      const line = m.split('\n').find((l) => l.startsWith('tollgate_telemetry_dropped_total'));
      return line && Number(line.split(/\s+/).pop()) > 0;
    }, 5000, 'tollgate_telemetry_dropped_total > 0');
  });
});
