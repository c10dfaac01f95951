// tandem on PostgreSQL (--database): several instances migrating one
// database at once, and PostgreSQL going away under a running tandem:
// /readyz says 503 (so a load balancer stops sending traffic), /healthz
// stays 200 (the process is fine), the log says it once, and when
// PostgreSQL is back tandem reconnects by itself and /readyz is 200 again.
// Skipped when PostgreSQL is not installed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresAvailable, startCluster } from './lib/postgres.mjs';
import { runTandem, startServer } from './lib/server.mjs';

const skip = !postgresAvailable() && 'PostgreSQL is not installed';
let cluster = null;
after(() => cluster?.destroy());

async function theCluster() {
  cluster ??= await startCluster();
  return cluster;
}

// Asks until answer(res, body) holds; at most `tries` times, 100 ms apart.
async function poll(url, answer, tries = 200) {
  let last;
  for (let i = 0; i < tries; i++) {
    const res = await fetch(url);
    last = { status: res.status, body: await res.text() };
    if (answer(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

test('a database tandem cannot use is an exit with status 2 and the reason, never the password', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
  try {
    const cases = [
      [['--database', 'mysql://root:hunter2@127.0.0.1/x'], /--database: expected postgres:\/\/\.\.\./],
      [['--database', 'postgres://tandem:hunter2@127.0.0.1:1/x'], /cannot connect to PostgreSQL/],
      [['--database-pool', '0'], /--database-pool: invalid value '0'/],
    ];
    for (const [args, message] of cases) {
      const r = await runTandem(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /hunter2/);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('three tandems starting at once on a new database apply each migration once', { skip }, async () => {
  const url = (await theCluster()).createDatabase('together');
  const servers = await Promise.all([1, 2, 3].map(() => startServer(['--database', url])));
  const applied = servers.flatMap((s) => s.log.match(/store\.migrated msg="applied \S+"/g) || []);
  const migrations = readdirSync(new URL('../../src/store/migrations/postgres/', import.meta.url)).sort();
  assert.deepEqual(applied.map((line) => /applied (\S+)"/.exec(line)[1]).sort(), migrations);
  for (const s of servers) {
    assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
    assert.equal((await s.stop()).code, 0);
  }
});

test('readyz follows PostgreSQL going away and coming back; healthz stays 200', { skip }, async () => {
  const url = (await theCluster()).createDatabase('faults');
  const s = await startServer(['--database', url, '--database-pool', '2']);

  const ready = await fetch(`${s.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', storage: 'ok' });

  cluster.stop('fast');
  const away = await poll(`${s.url}/readyz`, (r) => r.status === 503);
  assert.equal(away.status, 503);
  assert.deepEqual(JSON.parse(away.body), { status: 'not_ready', storage: 'unavailable' });
  const health = await fetch(`${s.url}/healthz`);
  assert.equal(health.status, 200);
  // A room lookup answers at once (a query asked for while no connection
  // is up fails before the call returns), with an error, not a hang.
  const lookup = await fetch(`${s.url}/api/rooms/123456`);
  assert.ok(lookup.status >= 500, `a lookup while PostgreSQL is away answers ${lookup.status}`);
  assert.equal((s.log.match(/store\.unavailable/g) || []).length, 1, s.log);

  cluster.start();
  const back = await poll(`${s.url}/readyz`, (r) => r.status === 200);
  assert.equal(back.status, 200, s.log);
  assert.match(s.log, /store\.available/);

  const { code } = await s.stop();
  assert.equal(code, 0);
});
