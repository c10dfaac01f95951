// What sharing rooms through Redis costs a room event: the time from a
// member's signal to the room until another member has it, one at a time,
// for three placements of the two members:
//   alone      one instance without --redis (delivered in the process)
//   same       two instances with --redis, both members on the first (the
//              event goes to Redis and back before it is delivered)
//   across     the receiver on the second instance
// Prints p50 / p99 / max in microseconds. Measures; asserts nothing.
//   node bench/redis_fanout.mjs [--messages 2000] [--build build]
// (after npm ci in tests/e2e; needs redis-server on PATH)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { default: WebSocket } = await import(path.join(ROOT, 'tests/e2e/node_modules/ws/wrapper.mjs'));
const { freePort, startRedis } = await import(path.join(ROOT, 'tests/e2e/lib/redis.mjs'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const MESSAGES = Number(arg('messages', 2000));
const BIN = path.join(ROOT, arg('build', 'build'), 'tandem');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = [];

function startProcess(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${log}`)), 10000);
    const onData = (d) => {
      log += d;
      const m = ready.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

async function tandem(extra) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tandem-bench-redis-'));
  const t = await startProcess(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--log-level', 'warn', '--signal-rate', '100000', ...extra], /server\.listening.*?port"?[=:](\d+)/);
  t.dataDir = dataDir;
  if (extra.length) { // wait until Redis is up for it
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`http://127.0.0.1:${t.port}/readyz`)).status === 200) break;
      await sleep(50);
    }
  }
  return t;
}

function join(port, room) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${room}`);
  return new Promise((resolve) => ws.on('message', function first() {
    ws.off('message', first);
    resolve(ws);
  }));
}

// One signal at a time from `from` until `to` has it; microseconds each.
async function measure(from, to) {
  const times = [];
  let waiting = null;
  to.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.type === 'signal' && waiting) waiting(process.hrtime.bigint());
  });
  for (let i = 0; i < MESSAGES + 100; i++) {
    const t0 = process.hrtime.bigint();
    const t1 = await new Promise((resolve) => {
      waiting = resolve;
      from.send(JSON.stringify({ type: 'signal', data: { i } }));
    });
    if (i >= 100) times.push(Number(t1 - t0) / 1000); // the first 100 warm up
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(0);
  return `p50 ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${times[times.length - 1].toFixed(0)} µs`;
}

try {
  const alone = await tandem([]);
  const a1 = await join(alone.port, 'bench-alone');
  const a2 = await join(alone.port, 'bench-alone');
  console.log(`alone  (no Redis, one instance): ${await measure(a1, a2)}`);

  const redisDir = mkdtempSync(path.join(tmpdir(), 'tandem-bench-redis-data-'));
  const redisPort = await freePort();
  const redis = await startRedis(redisPort, redisDir);
  const url = `redis://127.0.0.1:${redisPort}`;
  const A = await tandem(['--redis', url, '--instance-id', 'A']);
  const B = await tandem(['--redis', url, '--instance-id', 'B']);
  const s1 = await join(A.port, 'bench-same');
  const s2 = await join(A.port, 'bench-same');
  console.log(`same   (Redis, both on A):       ${await measure(s1, s2)}`);
  const x1 = await join(A.port, 'bench-across');
  const x2 = await join(B.port, 'bench-across');
  console.log(`across (Redis, A to B):          ${await measure(x1, x2)}`);
  for (const ws of [a1, a2, s1, s2, x1, x2]) ws.close();
  await redis.stop();
  rmSync(redisDir, { recursive: true, force: true });
  for (const t of [alone, A, B]) rmSync(t.dataDir, { recursive: true, force: true });
} finally {
  for (const child of started) child.kill('SIGTERM');
}
