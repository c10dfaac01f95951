// Direct transfer through a real TURN server (coturn, installed by
// scripts/bootstrap), with ICE limited to TURN candidates (?transport=turn).
//
// Chromium gathers no candidate on a bare loopback, and a TURN server on the
// machine's real interfaces would be reachable from outside, so the whole
// scenario runs in a network namespace of its own: this file re-runs itself
// under `unshare -n` (root) and, inside, brings up lo and a veth pair with
// 192.0.2.10/24 and 192.0.2.11/24 (TEST-NET-1, never routed) and a default
// route, then starts coturn, tandem and Chromium there. Nothing leaves the
// namespace; it disappears with the last process in it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lib/server.mjs';
import { closeClean, directPages, keepPeerConnections, launchChromium, savedSha256, selectedPair, sendAccepted, sha256 } from './lib/direct.mjs';

const INSIDE = process.env.TANDEM_NETNS === '1';
const TURN_IP = '192.0.2.10';
const PEER_IP = '192.0.2.11';
const SECRET = randomBytes(18).toString('base64');

if (!INSIDE) {
  test('TURN: coturn, tandem and Chromium in a network namespace of their own', async (t) => {
    const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      t.skip(`no network namespace: unshare -n: ${probe.error?.message ?? probe.stderr.trim()}`);
      return;
    }
    const self = fileURLToPath(import.meta.url);
    // Its own process group, so whatever it started is gone with it even if it dies.
    // A run of its own: without the runner's NODE_TEST_CONTEXT, which would
    // make the inner runner report to this one in its private format.
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const child = spawn('unshare', ['-n', process.execPath, '--test', '--test-reporter=spec', self], {
      env: { ...env, TANDEM_NETNS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 300000);
    const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
    clearTimeout(timer);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is empty: everything ended by itself
    }
    assert.equal(code, 0, `the namespaced run failed:\n${out.slice(-4000)}`);
  });
} else {
  let turn, turnDir, turnLog = '', good, bad, browser;

  before(async () => {
    setUpNetwork();
    turnDir = mkdtempSync(join(tmpdir(), 'tandem-turn-'));
    const port = await freeUdpPort();
    turn = spawn('turnserver', [
      '-n', '--no-cli', '--no-tls', '--no-dtls', '--fingerprint',
      '--listening-ip', TURN_IP, '--relay-ip', TURN_IP, '--listening-port', String(port),
      '--min-port', '49152', '--max-port', '49252',
      '--use-auth-secret', '--static-auth-secret', SECRET, '--realm', 'tandem.test',
      '--userdb', join(turnDir, 'turndb'), '--pidfile', join(turnDir, 'turnserver.pid'),
      '--log-file', 'stdout', '--simple-log',
    ], { cwd: turnDir, stdio: ['ignore', 'pipe', 'pipe'] });
    turn.stdout.on('data', (d) => (turnLog += d));
    turn.stderr.on('data', (d) => (turnLog += d));
    await waitForStun(port);
    const url = `turn:${TURN_IP}:${port}`;
    good = await startServer(['--turn-url', url, '--turn-secret', SECRET]);
    bad = await startServer(['--turn-url', url, '--turn-secret', `not-${SECRET}`]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    turn?.kill('SIGTERM');
    if (turnDir) rmSync(turnDir, { recursive: true, force: true });
    for (const s of [good, bad]) if (s) assert.equal((await s.stop()).code, 0);
  });

  function setUpNetwork() {
    const ip = (...args) => execFileSync('ip', args);
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', 'tdm0', 'type', 'veth', 'peer', 'name', 'tdm1');
    ip('addr', 'add', `${TURN_IP}/24`, 'dev', 'tdm0');
    ip('addr', 'add', `${PEER_IP}/24`, 'dev', 'tdm1');
    ip('link', 'set', 'tdm0', 'up');
    ip('link', 'set', 'tdm1', 'up');
    ip('route', 'add', 'default', 'via', PEER_IP);
  }

  function freeUdpPort() {
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      s.on('error', reject);
      s.bind(0, TURN_IP, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
  }

  /** Resolves once coturn answers a STUN Binding request (RFC 5389) on `port`. */
  async function waitForStun(port) {
    const s = createSocket('udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request, no attributes
    request.writeUInt32BE(0x2112a442, 4); // magic cookie
    randomBytes(12).copy(request, 8);
    const answered = new Promise((resolve) => s.on('message', (m) => m.readUInt16BE(0) === 0x0101 && resolve(true)));
    try {
      for (let i = 0; i < 100; i++) {
        if (turn.exitCode !== null) throw new Error(`turnserver exited with ${turn.exitCode}:\n${turnLog}`);
        s.send(request, port, TURN_IP);
        if (await Promise.race([answered, new Promise((r) => setTimeout(() => r(false), 100))])) return;
      }
      throw new Error(`turnserver did not answer STUN on ${TURN_IP}:${port} in 10 s:\n${turnLog}`);
    } finally {
      s.close();
    }
  }

  test('relay-only ICE: a file goes through coturn (a relay candidate pair), not through tandem', async () => {
    const { relayBytes, pair } = directPages(browser, good);
    const { a, b } = await pair('?transport=turn', { init: keepPeerConnections });
    const bytes = randomBytes(6 * 1024 * 1024 + 777);
    const before = await relayBytes();
    const done = await sendAccepted(a, b, 'via turn.bin', bytes);
    for (const p of [a.page, b.page]) {
      assert.equal(await p.locator('#direct-peers li .link-state').textContent(), 'Via TURN');
      assert.deepEqual(await selectedPair(p), { local: 'relay', remote: 'relay' });
    }
    assert.equal((await relayBytes()) - before, 0, "tandem's relay carried nothing");
    assert.deepEqual(await savedSha256(b.page, done), { name: 'via turn.bin', sha: sha256(bytes) });
    await closeClean(a, b);
  });

  test('a TURN server refusing the credentials: the user is told, and the file goes through the tandem relay', async () => {
    const { relayBytes, pair } = directPages(browser, bad);
    const { a, b } = await pair('?transport=turn');
    const bytes = randomBytes(1024 * 1024 + 5);
    const before = await relayBytes();
    const done = await sendAccepted(a, b, 'refused.bin', bytes);
    for (const p of [a.page, b.page]) {
      assert.equal(await p.locator('#direct-peers li .link-state').textContent(), 'Via tandem relay');
      assert.equal(await p.locator('#direct-peers li .link-note').textContent(),
        "The TURN server refused tandem's credentials, so this goes through the tandem relay instead.");
    }
    assert.ok((await relayBytes()) - before >= bytes.length, "the bytes went through tandem's relay");
    assert.deepEqual(await savedSha256(b.page, done), { name: 'refused.bin', sha: sha256(bytes) });
    await closeClean(a, b);
  });
}
