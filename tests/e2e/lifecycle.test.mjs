// Starting and stopping tandem: flags, start-up errors, graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { runTandem, startServer } from './lib/server.mjs';
import { connect, readUntilClose, sleep } from './lib/raw.mjs';

test('--help lists the flags with their environment variables and exits 0', async () => {
  const r = await runTandem(['serve', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--listen', '--data-dir', '--log-format', '--log-level', '--shutdown-timeout', '--ws-max-message', '--ws-max-queue', '--allowed-origins'])
    assert.ok(r.stdout.includes(flag), `help lacks ${flag}`);
  assert.match(r.stdout, /TANDEM_DATA_DIR/);
});

test('bad flags and values exit 2 with a clear message', async () => {
  const cases = [
    [['serve', '--bogus'], /unknown flag '--bogus'/],
    [['serve', '--log-format', 'xml'], /--log-format: invalid value 'xml'/],
    [['serve', '--ws-max-message', 'lots'], /--ws-max-message: invalid value 'lots'/],
    [['serve', '--listen', 'nonsense'], /--listen nonsense: expected host:port/],
    [['serve', '--data-dir'], /--data-dir needs a value/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = await runTandem(args);
    assert.equal(r.code, 2, `${args.join(' ')} exited ${r.code}`);
    assert.match(r.stderr, message);
  }
});

test('TANDEM_* variables set flags, and flags win over them', async () => {
  const r = await runTandem(['serve'], { env: { TANDEM_LOG_FORMAT: 'yaml' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /TANDEM_LOG_FORMAT: invalid value 'yaml'/);
  const s = await startServer(['--log-format', 'json'], { env: { TANDEM_LOG_FORMAT: 'text', TANDEM_LOG_LEVEL: 'debug' } });
  await fetch(`${s.url}/healthz`);
  await sleep(50);
  const line = s.log.split('\n').find((l) => l.includes('"http.request"'));
  const entry = JSON.parse(line);
  assert.equal(entry.method, 'GET');
  assert.equal(entry.path, '/healthz');
  assert.equal(entry.status, 200);
  assert.equal(typeof entry.bytes, 'number');
  assert.equal(typeof entry.us, 'number');
  assert.equal((await s.stop()).code, 0);
});

test('an unusable data directory exits 2 and says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-dd-'));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const r = await runTandem(['serve', '--listen', '127.0.0.1:0', '--data-dir', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--data-dir .*a-file/);
  if (process.getuid && process.getuid() !== 0) {
    const ro = join(dir, 'ro');
    writeFileSync(join(dir, 'placeholder'), '');
    chmodSync(dir, 0o500);
    const r2 = await runTandem(['serve', '--listen', '127.0.0.1:0', '--data-dir', ro]);
    assert.equal(r2.code, 2);
    chmodSync(dir, 0o700);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('a port in use exits 2 and names the address', async () => {
  const a = await startServer();
  const r = await runTandem(['serve', '--listen', `127.0.0.1:${a.port}`, '--data-dir', a.dataDir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${a.port}: address already in use`));
  assert.equal((await a.stop()).code, 0);
});

test('listens on two addresses, IPv4 and IPv6', async (t) => {
  // A free port, found by a first server; another process may take it in
  // between, so a few tries.
  let s;
  for (let attempt = 0; !s && attempt < 5; attempt++) {
    const probe = await startServer();
    const port = probe.port;
    assert.equal((await probe.stop()).code, 0);
    s = await startServer(['--listen', `127.0.0.1:${port}`, '--listen', `[::1]:${port}`]).catch(() => null);
  }
  assert.ok(s, 'no free port for both addresses in five tries');
  const port = s.port;
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  let v6ok = true;
  try {
    assert.equal((await fetch(`http://[::1]:${port}/healthz`)).status, 200);
  } catch (e) {
    v6ok = false; // a machine without IPv6 loopback
  }
  if (!v6ok) t.diagnostic('no IPv6 loopback on this machine');
  assert.equal((await s.stop()).code, 0);
});

test('SIGTERM closes WebSockets with 1001, finishes the request in flight, and exits 0', async () => {
  const s = await startServer();
  const sockets = [];
  for (let i = 0; i < 5; i++) {
    const ws = new WebSocket(s.wsUrl('/ws/shutdown'));
    await new Promise((r) => ws.on('open', r));
    sockets.push({ ws, closed: new Promise((r) => ws.on('close', (code) => r(code))) });
  }
  // A request whose headers are half-way when the signal comes.
  const inflight = await connect(s.port);
  inflight.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  await sleep(100);
  s.child.kill('SIGTERM');
  for (const { closed } of sockets) assert.equal(await closed, 1001);
  inflight.write('\r\n');
  const { data, closed } = await readUntilClose(inflight, 5000);
  assert.match(data.toString(), /^HTTP\/1\.1 200 /);
  assert.match(data.toString(), /Connection: close/);
  assert.equal(closed, true);
  const { code } = await s.exited;
  assert.equal(code, 0);
  // No new connections once stopping.
  await assert.rejects(fetch(`${s.url}/healthz`));
  assert.equal((await s.stop()).code, 0);
});

test('--shutdown-timeout bounds how long a stuck client can hold the exit', async () => {
  const s = await startServer(['--shutdown-timeout', '1s', '--header-timeout', '30s']);
  const stuck = await connect(s.port);
  stuck.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never completes
  await sleep(100);
  const started = Date.now();
  s.child.kill('SIGTERM');
  const { code } = await s.exited;
  assert.equal(code, 0);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 4000, `exit took ${took} ms`);
  stuck.destroy();
  assert.equal((await s.stop()).code, 0);
});

test('connections over --max-connections-per-addr get 503', async () => {
  const s = await startServer(['--max-connections-per-addr', '3']);
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await connect(s.port));
  const extra = await connect(s.port);
  const { data, closed } = await readUntilClose(extra, 3000);
  assert.match(data.toString(), /^HTTP\/1\.1 503 /);
  assert.match(data.toString(), /Retry-After: \d+/);
  assert.equal(closed, true);
  for (const h of held) h.destroy();
  await sleep(100);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200); // room again
  const metrics = await s.metrics();
  assert.match(metrics, /reason="per_addr_limit"\} 1/);
  assert.equal((await s.stop()).code, 0);
});

test('connections over --max-connections get 503', async () => {
  const s = await startServer(['--max-connections', '2']);
  const held = [await connect(s.port), await connect(s.port)];
  const extra = await connect(s.port);
  const { data } = await readUntilClose(extra, 3000);
  assert.match(data.toString(), /^HTTP\/1\.1 503 /);
  assert.match(data.toString(), /"code":"overloaded"/);
  for (const h of held) h.destroy();
  assert.equal((await s.stop()).code, 0);
});
