// 10,000 WebSocket connections open and close: no descriptor or memory is
// left behind, and the memory each idle connection costs is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { closeAll, openIdle, sleep, waitFor } from './lib/idle.mjs';

const N = 10000;

test(`${N} WebSocket connections open and close with no fd or memory leak`, { timeout: 240000 }, async (t) => {
  const s = await startServer(['--log-level', 'warn', '--max-connections-per-addr', String(N + 100)]);
  try {
    // Warm up: the first connections grow tables that then stay.
    await closeAll(await openIdle(s.port, 200));
    await sleep(300);
    const fdBefore = s.fdCount();
    const rssBefore = s.rssKiB();

    const sockets = await openIdle(s.port, N);
    await sleep(500);
    const rssOpen = s.rssKiB();
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`tandem_open_connections\\{protocol="ws"\\} ${N}\\b`));
    assert.match(metrics, new RegExp(`tandem_rooms_live ${N / 2}\\b`));
    assert.ok(s.fdCount() >= fdBefore + N);
    const perConnection = ((rssOpen - rssBefore) * 1024) / N;
    t.diagnostic(`idle WebSocket: ${perConnection.toFixed(0)} bytes of server RSS each (${rssBefore} KiB -> ${rssOpen} KiB for ${N})`);
    console.log(`IDLE_WS_BYTES_PER_CONNECTION=${perConnection.toFixed(0)}`);

    await closeAll(sockets);
    const fdsBack = await waitFor(() => s.fdCount() <= fdBefore, 10000);
    assert.ok(fdsBack, `descriptors: ${fdBefore} before, ${s.fdCount()} after`);
    await waitFor(async () => /tandem_open_connections\{protocol="ws"\} 0\b/.test(await (await fetch(`${s.url}/metrics`)).text()), 5000);
    const m2 = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(m2, /tandem_open_connections\{protocol="ws"\} 0\b/);
    assert.match(m2, /tandem_rooms_live 0\b/);
    // The server hands freed pages back once the crowd has gone. Under
    // AddressSanitizer freed memory sits in quarantine, so there the leak
    // check is LeakSanitizer's at exit instead (a leak fails the exit code).
    if (process.env.TANDEM_SANITIZED === '1') return;
    const rssAfter = await waitFor(() => {
      const r = s.rssKiB();
      return r - rssBefore < Math.max(2048, (rssOpen - rssBefore) * 0.15) ? r : 0;
    }, 5000);
    t.diagnostic(`RSS after closing: ${s.rssKiB()} KiB (before ${rssBefore} KiB, open ${rssOpen} KiB)`);
    assert.ok(rssAfter, `RSS did not come back: before ${rssBefore} KiB, open ${rssOpen} KiB, after ${s.rssKiB()} KiB`);
  } finally {
    const { code } = await s.stop();
    assert.equal(code, 0);
  }
});
