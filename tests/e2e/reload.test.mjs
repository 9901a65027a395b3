// Hot reload under load: while a loop of requests runs, the config is changed
// and SIGHUP'd, then changed on disk without a signal (file watch), then
// replaced by an invalid one.  Zero requests may fail, later audit entries
// carry the new policy_version, the invalid config is rejected and the old one
// keeps serving; afterwards the audit log holds exactly one entry per request
// and verifies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startGateway, chat, userMsg, requestEntries, eventually, sleep, auditVerify } from './harness.mjs';

let gw;
after(async () => { if (gw) { await gw.stop(); gw.cleanup(); } });

// Versions seen in the audit log, in log order.
const versions = () => requestEntries(gw.auditPath).map((e) => e.policy_version);
const lastVersion = () => versions().at(-1);

test('reload under load: SIGHUP, file edit, invalid config; zero failed requests', async () => {
  gw = await startGateway({ tag: 'reload', vars: { TIMEOUT_MS: 2000 } });
  let running = true;
  let sent = 0;
  const failures = [];
  const ids = new Set();
  const worker = async (w) => {
    for (let i = 0; running; i++) {
      sent++;
      try {
        const r = await chat(gw, userMsg(`worker ${w} request ${i}`, i % 5 === 0 ? { stream: true } : {}));
        if (r.status !== 200) failures.push(`${r.status} ${r.text.slice(0, 120)}`);
        const id = r.headers.get('x-tollgate-decision-id');
        if (id) ids.add(id);
      } catch (e) {
        failures.push(`transport: ${e.cause?.code || e.message}`);
      }
      await sleep(5);   // a steady load, not a benchmark: keeps the audit log small
    }
  };
  const load = Promise.all([0, 1, 2, 3].map(worker));
  try {
    await eventually(() => versions().length > 20, 5000, 'traffic flowing', 100);
    const v1 = lastVersion();
    assert.match(v1, /^[0-9a-f]{64}$/);

    // 1. SIGHUP after a material change.
    gw.rewrite({ TIMEOUT_MS: 2500 });
    gw.reload();
    const v2 = await eventually(() => (lastVersion() !== v1 ? lastVersion() : null), 5000, 'SIGHUP reload', 100);

    // 2. Edit the file, no signal: the file watch reloads.
    await sleep(300);
    gw.rewrite({ TIMEOUT_MS: 3000 });
    const v3 = await eventually(() => (![v1, v2].includes(lastVersion()) ? lastVersion() : null), 6000,
      'file-watch reload', 100);

    // 3. An invalid config: rejected, the old one keeps serving.
    await sleep(300);
    fs.writeFileSync(gw.config, 'orchestration:\n  providers: [this is: not valid\n');
    gw.reload();
    await sleep(1200);
    const n = versions().length;
    await eventually(() => versions().length > n + 20, 5000, 'still serving after a bad reload', 100);
    assert.equal(lastVersion(), v3, 'policy unchanged by the invalid config');
    assert.equal((await fetch(gw.base + '/readyz')).status, 200, 'still ready');
    assert.match(gw.output(), /reload.*rejected/i, 'the rejected reload was logged');
    const m = await (await fetch(gw.base + '/metrics')).text();
    assert.match(m, /tollgate_policy_reloads_total\{[^}]*result="rejected"[^}]*\} [1-9]/, 'rejected reload counted');
    assert.ok(m.includes(v3), 'tollgate_policy_info shows the running policy_version');

    running = false;
    await load;
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} requests failed`);

    // Entries after the first v2 entry never go back to v1 (beyond the in-flight tail).
    const vs = versions();
    const firstV3 = vs.indexOf(v3);
    assert.ok(vs.indexOf(v2) > 0 && firstV3 > vs.indexOf(v2), 'versions appear in order');
    assert.ok(vs.slice(firstV3 + 8).every((v) => v === v3), 'every later decision used the new policy');

    const r = await gw.stop();
    assert.equal(r.code, 0, `clean drain on SIGTERM (${r.code}/${r.signal})`);
    const entries = requestEntries(gw.auditPath);
    assert.equal(entries.length, sent, `one audit entry per request (${entries.length} entries, ${sent} requests)`);
    assert.equal(ids.size, sent, 'every answer carried a distinct decision id');
    const v = auditVerify(gw);
    assert.equal(v.status, 0, `audit verify: ${v.stdout}${v.stderr}`);
  } finally {
    running = false;
    await load;
  }
});
