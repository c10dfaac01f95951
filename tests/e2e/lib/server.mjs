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
import { startCluster as startPostgres } from './postgres.mjs';

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

// This test process's PostgreSQL server (lib/postgres.mjs), started on
// first use: the suites about database loss stop and start it.
export async function postgresServer() {
  cluster ??= startPostgres();
  return cluster;
}

// The database of a data directory (made on first use).
export async function databaseFor(dataDir) {
  const c = await postgresServer();
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

// One tandem process, resolved once it listens: {child, port, exited, log()}.
export async function spawnTandem(args, env = {}) {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', ...args], {
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
  return { child, port, exited, log: () => log };
}

// Ends a process (SIGTERM, SIGKILL after 20 s: the exit status says so).
export async function endProcess(p) {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20000);
  const result = await p.exited;
  clearTimeout(timer);
  return result;
}

// TANDEM_TEST_TOPOLOGY=cluster runs every suite against several instances
// behind nginx (lib/cluster.mjs) instead of one.
export const TOPOLOGY = process.env.TANDEM_TEST_TOPOLOGY || 'single';

export async function startServer(args = [], { env = {} } = {}) {
  // A test that restarts a server passes the first one's --data-dir; the
  // directory is removed only by the server that made it.
  const given = effectiveDataDir(args, null);
  const made = given === null;
  const dataDir = made ? mkdtempSync(join(tmpdir(), 'tandem-e2e-')) : given;
  if (made) args = ['--data-dir', dataDir, ...args];
  const chosen = args.some((a) => a === '--database' || a.startsWith('--database='));
  if (usePostgres && TOPOLOGY !== 'cluster' && !chosen) args = ['--database', await databaseFor(dataDir), ...args];
  const server = TOPOLOGY === 'cluster'
    ? await (await import('./cluster.mjs')).startCluster(args, { env, dataDir })
    : single(await spawnTandem(args, env), dataDir);
  const stop = server.stop;
  server.stop = async () => {
    const result = await stop();
    live.delete(server);
    if (made) rmSync(dataDir, { recursive: true, force: true });
    return result;
  };
  live.add(server);
  return server;
}

function single(p, dataDir) {
  const { child, port, exited } = p;
  return {
    port,
    pid: child.pid,
    dataDir,
    child,
    exited,
    url: `http://127.0.0.1:${port}`,
    wsUrl: (path) => `ws://127.0.0.1:${port}${path}`,
    get log() {
      return p.log();
    },
    rssKiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    },
    fdCount() {
      return readdirSync(`/proc/${child.pid}/fd`).length;
    },
    // The /metrics text (lib/cluster.mjs adds up every instance's).
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    stop: () => endProcess(p),
  };
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
