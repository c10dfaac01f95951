// redis-server for tests: on a free loopback port, in a temporary directory,
// nothing saved to disk; stop() ends it and removes the directory, and
// restart() brings it back on the same port (for the tests of Redis loss).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort } from './nginx.mjs';

export const REDIS = spawnSync('redis-server', ['--version']).error ? null : 'redis-server';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function spawnRedis(port, dir) {
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output = (output + d).slice(-4096)));
  child.stderr.on('data', (d) => (output = (output + d).slice(-4096)));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

async function waitListening(port, proc) {
  for (let i = 0; i < 100; i++) {
    if (proc.child.exitCode !== null) break;
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`redis-server did not start on ${port}:\n${proc.output()}`);
}

async function end(proc, signal = 'SIGTERM') {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await proc.exited;
  clearTimeout(timer);
}

export async function startRedis() {
  if (!REDIS) throw new Error('redis-server is not installed (scripts/bootstrap installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'tandem-redis-'));
  const port = await freePort();
  let proc = spawnRedis(port, dir);
  await waitListening(port, proc);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return proc.child.pid;
    },
    // Ends it (kill -9 with hard), leaving the port free for restart().
    async down({ hard = false } = {}) {
      await end(proc, hard ? 'SIGKILL' : 'SIGTERM');
    },
    async restart() {
      await end(proc);
      proc = spawnRedis(port, dir);
      await waitListening(port, proc);
    },
    async stop() {
      await end(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
