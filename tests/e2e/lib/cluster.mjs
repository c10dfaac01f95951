// The scale-out topology for tests: several tandem instances on one
// PostgreSQL database and one Redis, sharing one data directory (file
// contents), behind nginx with the shipped configuration. startServer
// (lib/server.mjs) returns one of these when TANDEM_TEST_TOPOLOGY=cluster,
// so every suite runs against it unchanged: its url is nginx's, and a
// client's requests and sockets land on different instances.
import { readFileSync, readdirSync } from 'node:fs';
import { spawnTandem, endProcess, databaseFor } from './server.mjs';
import { startNginx } from './nginx.mjs';
import { startRedis } from './redis.mjs';

export const INSTANCES = Number(process.env.TANDEM_TEST_INSTANCES || 3);

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

// Kills or waits for every instance as if they were one process: a suite
// that kills "the server" kills them all.
function group(parts) {
  const exited = Promise.all(parts.map((p) => p.exited)).then((all) => all.find((r) => r.code !== 0) ?? all[0]);
  const child = {
    pid: parts[0].child.pid,
    kill: (signal) => parts.forEach((p) => p.child.kill(signal)),
    get exitCode() {
      return parts.every((p) => p.child.exitCode !== null) ? parts[0].child.exitCode : null;
    },
    get signalCode() {
      return parts.every((p) => p.child.exitCode !== null || p.child.signalCode !== null)
        ? parts[0].child.signalCode : null;
    },
  };
  return { child, exited };
}

// Prometheus text of several instances as one: each sample's values added
// up (what a dashboard summing over instances shows), comments as they are.
export function sumMetrics(texts) {
  const order = [];
  const sums = new Map();
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const cut = line.lastIndexOf(' ');
      const key = line.startsWith('#') ? line : line.slice(0, cut);
      const value = line.startsWith('#') ? null : Number(line.slice(cut + 1));
      if (!sums.has(key)) {
        order.push(key);
        sums.set(key, value);
      } else if (value !== null) sums.set(key, sums.get(key) + value);
    }
  }
  return `${order.map((k) => (sums.get(k) === null ? k : `${k} ${sums.get(k)}`)).join('\n')}\n`;
}

export async function startCluster(args, { env = {}, dataDir }) {
  const database = await databaseFor(dataDir);
  const redis = await startRedis();
  const parts = [];
  let front = null;
  const stopAll = async () => {
    if (front) await front.stop();
    const results = [];
    for (const p of parts) results.push(await endProcess(p));
    await redis.stop();
    return results.find((r) => r.code !== 0) ?? results[0] ?? { code: 0, signal: null };
  };
  try {
    for (let i = 0; i < INSTANCES; i++) {
      // nginx on this host says who the client is (X-Real-IP).
      parts.push(await spawnTandem([...args, '--database', database, '--redis', redis.url,
        '--instance-id', `test-${i + 1}`, '--trust-proxy', 'loopback'], env));
    }
    front = await startNginx(parts.map((p) => p.port), { unlimited: true });
  } catch (e) {
    await stopAll();
    throw e;
  }
  const { child, exited } = group(parts);
  return {
    port: front.port,
    pid: child.pid,
    dataDir,
    child,
    exited,
    url: front.url,
    wsUrl: front.wsUrl,
    topology: 'cluster',
    instances: parts.map((p) => ({ port: p.port, pid: p.child.pid, child: p.child, url: `http://127.0.0.1:${p.port}` })),
    redis,
    nginx: front,
    database,
    get log() {
      return parts.map((p) => p.log()).join('');
    },
    rssKiB: () => parts.reduce((sum, p) => sum + rssKiB(p.child.pid), 0),
    fdCount: () => parts.reduce((sum, p) => sum + readdirSync(`/proc/${p.child.pid}/fd`).length, 0),
    metrics: async () => sumMetrics(await Promise.all(parts.map(async (p) =>
      (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text()))),
    stop: stopAll,
    // The instances started again on their own ports (after they were
    // stopped), on the same database and Redis, behind the same nginx: a
    // restart of the service as the clients see it. stop() ends those only.
    restart: async () => {
      const again = [];
      try {
        for (const [i, p] of parts.entries()) {
          again.push(await spawnTandem([...args, '--listen', `127.0.0.1:${p.port}`, '--database',
            database, '--redis', redis.url, '--instance-id', `test-${i + 1}`], env));
        }
      } catch (e) {
        for (const p of again) await endProcess(p);
        throw e;
      }
      return {
        stop: async () => {
          const results = [];
          for (const p of again) results.push(await endProcess(p));
          return results.find((r) => r.code !== 0) ?? results[0];
        },
      };
    },
  };
}
