// A throw-away PostgreSQL cluster for tests: initdb and pg_ctl in a
// temporary directory, listening on a free loopback port only (its Unix
// socket stays in that directory), fsync off, trust authentication for the
// `postgres` role. PostgreSQL refuses to run as root: when the tests run as
// root, the server runs as the `postgres` system user in a directory it owns.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PG_BIN = process.env.TANDEM_PG_BIN || '/usr/lib/postgresql/15/bin';

export function postgresAvailable() {
  return ['initdb', 'pg_ctl', 'createdb'].every((b) => existsSync(join(PG_BIN, b)));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The postgres user's ids when we are root (the server must not run as root).
function serverUser() {
  if (process.getuid() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root and there is no postgres user to run PostgreSQL as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function run(user, bin, args, timeout = 60000) {
  const cmd = user ? 'runuser' : join(PG_BIN, bin);
  const argv = user ? ['-u', 'postgres', '--', join(PG_BIN, bin), ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout });
  if (r.status !== 0)
    throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

export async function startCluster() {
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'tandem-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  run(user, 'initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = [
    '-c listen_addresses=127.0.0.1',
    `-c port=${port}`,
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  let running = false;
  let databases = 0;
  const cluster = {
    dir,
    port,
    url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    get running() {
      return running;
    },
    start() {
      run(user, 'pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
      running = true;
    },
    // fast: clients are told the server is going away, then disconnected.
    stop(mode = 'fast') {
      run(user, 'pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    // A new, empty database; its URL.
    createDatabase(name = `tandem_${process.pid}_${++databases}`) {
      run(user, 'createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      return cluster.url(name);
    },
    log() {
      try {
        return readFileSync(join(dir, 'server.log'), 'utf8');
      } catch {
        return '';
      }
    },
    destroy() {
      if (running) {
        try {
          cluster.stop('immediate');
        } catch {
          // Deleting its directory below stops a server that will not stop.
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    cluster.start();
  } catch (e) {
    cluster.destroy();
    throw e;
  }
  return cluster;
}
