// redis-server for tests and benchmarks: on a free loopback port (or the
// caller's), nothing saved, its files in a temporary directory (or the
// caller's). stop() ends it; down() and restart() take it away and bring
// it back on the same port, for the tests of Redis loss.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nginx.mjs';

export { freePort };
export const REDIS = spawnSync('redis-server', ['--version']).error ? null : 'redis-server';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// True once Redis answers PING on its port.
function ping(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, 500);
    s.on('error', () => { clearTimeout(timer); resolve(false); });
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { clearTimeout(timer); s.destroy(); resolve(d.toString().startsWith('+PONG')); });
  });
}

// Starts it and waits (10 s at most) until it answers.
async function spawnRedis(port, dir) {
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const end = Date.now() + 10000;
  while (!(await ping(port))) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port}`);
    }
    await sleep(50);
  }
  return { child, exited };
}

async function end(proc, signal = 'SIGTERM') {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await proc.exited;
  clearTimeout(timer);
}

export async function startRedis(port = null, dir = null) {
  if (!REDIS) throw new Error('redis-server is not installed (scripts/bootstrap installs it)');
  const own = dir === null;
  const where = own ? mkdtempSync(join(tmpdir(), 'tandem-redis-')) : dir;
  const at = port ?? (await freePort());
  let proc = await spawnRedis(at, where);
  return {
    port: at,
    url: `redis://127.0.0.1:${at}`,
    get child() {
      return proc.child;
    },
    get pid() {
      return proc.child.pid;
    },
    // Takes it away (kill -9 with hard), leaving the port for restart().
    async down({ hard = false } = {}) {
      await end(proc, hard ? 'SIGKILL' : 'SIGTERM');
    },
    async restart() {
      await end(proc);
      proc = await spawnRedis(at, where);
    },
    async stop() {
      await end(proc, 'SIGKILL');
      if (own) rmSync(where, { recursive: true, force: true });
    },
  };
}

// One command through redis-cli (Debian's redis-server brings redis-tools).
export function redisCli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), '--raw', ...args], { timeout: 5000 }).toString().trim();
}
