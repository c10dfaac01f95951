// nginx in front of tandem instances, with the configuration tandem ships
// (deploy/nginx/tandem.conf): started on a free loopback port with its own
// prefix (logs, pid, temp files) in a temporary directory. Only the
// upstream servers, the listen address and the server name are rewritten
// (and, for suites that make many requests from one address on purpose,
// the per-address request limits), so what runs is the file shipped.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SHIPPED = new URL('../../../deploy/nginx/tandem.conf', import.meta.url).pathname;
export const NGINX = spawnSync('nginx', ['-v']).error ? null : 'nginx';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Replaces what the shipped file must contain exactly `count` times, so a
// change to the file that this rewriting no longer fits fails loudly.
function rewrite(text, pattern, replacement, count) {
  const found = text.match(new RegExp(pattern.source, 'g')) ?? [];
  if (found.length !== count) {
    throw new Error(`deploy/nginx/tandem.conf: expected ${count} of ${pattern}, found ${found.length}`);
  }
  return text.replace(new RegExp(pattern.source, 'g'), replacement);
}

// sticky: Socket.IO by client address, as shipped. unlimited: no
// per-address request or connection limits (every test client comes from
// 127.0.0.1, so a whole suite would be one very busy user).
export function siteConf(port, upstreamPorts, { sticky = true, unlimited = false } = {}) {
  let site = readFileSync(SHIPPED, 'utf8');
  const servers = upstreamPorts.map((p) => `server 127.0.0.1:${p} max_fails=0;`).join('\n    ');
  site = rewrite(site, /server 127\.0\.0\.1:8080 max_fails=0;/, servers, 2);
  site = rewrite(site, /listen 80;\n\s*listen \[::\]:80;/, `listen 127.0.0.1:${port};`, 1);
  site = rewrite(site, /server_name [^;]+;/, 'server_name 127.0.0.1;', 1);
  if (!sticky) site = rewrite(site, /hash \$remote_addr consistent;/, '', 1);
  if (unlimited) {
    site = site.replace(/^\s*limit_req zone=[^;]+;$/gm, '').replace(/^\s*limit_conn [^;]+;$/gm, '');
  }
  return site;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// Resolves to a handle once nginx accepts connections; stop() ends it and
// removes its directory.
export async function startNginx(upstreamPorts, opts = {}) {
  if (!NGINX) throw new Error('nginx is not installed (scripts/bootstrap installs it)');
  const prefix = mkdtempSync(join(tmpdir(), 'tandem-nginx-'));
  const port = await freePort();
  writeFileSync(join(prefix, 'tandem.conf'), siteConf(port, upstreamPorts, opts));
  // As root, nginx would run its worker as nobody, who cannot enter the
  // private temporary directory.
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  writeFileSync(join(prefix, 'nginx.conf'), `${user}
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 8192; }
http {
  log_format upstream '$request_method $uri $status $upstream_addr';
  access_log ${prefix}/access.log upstream;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${prefix}/tandem.conf;
}
`);
  const child = spawn(NGINX, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', join(prefix, 'nginx.conf'),
    '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const instance = {
    port,
    prefix,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    wsUrl: (path) => `ws://127.0.0.1:${port}${path}`,
    accessLog: () => readFileSync(join(prefix, 'access.log'), 'utf8'),
    errorLog() {
      try {
        return readFileSync(join(prefix, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    },
    // The one worker process's resident memory (the master only forks it).
    workerRssKiB() {
      const [worker] = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ');
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${worker}/status`, 'utf8'))[1]);
    },
    // Points the upstreams elsewhere and reloads, as an operator would.
    reload(ports) {
      writeFileSync(join(prefix, 'tandem.conf'), siteConf(port, ports, opts));
      child.kill('SIGHUP');
    },
    // The upstream addresses that served requests for paths starting with `path`.
    upstreamsOf(path) {
      return new Set(instance.accessLog().split('\n').filter((l) => l.split(' ')[1]?.startsWith(path))
        .map((l) => l.split(' ')[3]));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await canConnect(port)) return instance;
    await sleep(50);
  }
  const log = instance.errorLog();
  await instance.stop();
  throw new Error(`nginx did not start:\n${output}\n${log}`);
}
