// Starts the real tandem binary for a test: on a free loopback port, with a
// data directory of its own, logs captured, and stopped at the end.
//
// TANDEM_TEST_DATABASE=postgres runs the servers on PostgreSQL: one cluster
// per test process (lib/postgres.mjs, started on first use, deleted when
// the file's tests are over), one database per data directory, so a server
// restarted on the same --data-dir finds the same database.
import { spawn } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from './postgres.mjs';

// Every server a test starts is stopped when the file's tests are over, so
// an assertion that fails before stop() cannot leave one running (and the
// runner waiting on its pipes until ctest's timeout). This hook runs before
// the file's own; stop() is idempotent, so a later stop() gets the same
// exit status.
const live = new Set();
let cluster = null; // a promise of lib/postgres.mjs's cluster, when one was started
after(async () => {
  for (const server of [...live]) await server.stop();
  if (cluster) (await cluster.catch(() => null))?.destroy();
});

export const usePostgres = process.env.TANDEM_TEST_DATABASE === 'postgres';
const databases = new Map(); // data directory -> its database's URL

async function databaseFor(dataDir) {
  cluster ??= startCluster();
  const c = await cluster;
  if (!databases.has(dataDir)) databases.set(dataDir, c.createDatabase());
  return databases.get(dataDir);
}

// The data directory a server will use: the last --data-dir among args
// (a restart passes the first server's), else its own.
function effectiveDataDir(args, own) {
  let dir = own;
  args.forEach((a, i) => {
    if (a === '--data-dir' && i + 1 < args.length) dir = args[i + 1];
    else if (a.startsWith('--data-dir=')) dir = a.slice('--data-dir='.length);
  });
  return dir;
}

export const BIN = process.env.TANDEM_BIN || new URL('../../../build/tandem', import.meta.url).pathname;

export async function startServer(args = [], { env = {} } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
  const chosen = args.some((a) => a === '--database' || a.startsWith('--database='));
  if (usePostgres && !chosen)
    args = ['--database', await databaseFor(effectiveDataDir(args, dataDir)), ...args];
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tandem did not start:\n${log}`)), 10000);
    const onData = (d) => {
      log += d;
      const m = /server\.listening.*?port"?[=:](\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', (d) => (log += d));
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`tandem exited with ${code} before listening:\n${log}`));
    });
  });
  const server = {
    port,
    pid: child.pid,
    dataDir,
    child,
    exited,
    url: `http://127.0.0.1:${port}`,
    wsUrl: (path) => `ws://127.0.0.1:${port}${path}`,
    get log() {
      return log;
    },
    rssKiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    },
    fdCount() {
      return readdirSync(`/proc/${child.pid}/fd`).length;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // A server that ignores SIGTERM for 20 s is killed (and the exit status says so).
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
      const result = await exited;
      clearTimeout(timer);
      live.delete(server);
      rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
  live.add(server);
  return server;
}

// Runs the binary to completion (for flag and start-up errors).
export function runTandem(args, { env = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
}
