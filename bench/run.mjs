#!/usr/bin/env node
// Runs every benchmark workload against tandem and the servers people would
// pick instead, one after the other in one run on this machine, and writes
// the figures and tandem's ratio to each into bench/results/<date>.md/.json.
//
//   node bench/run.mjs            the full run (make bench)
//   node bench/run.mjs --quick    small N, one repeat: checks the harness
//                                 end to end (make bench-quick)
//
// Each server runs pinned to CPU 0 and the load generator (or wrk) to CPU 1;
// every (workload, server) pair is repeated --repeats times, each time with
// a fresh server, the repeats interleaved across servers, and the median of
// each figure kept. Only loopback addresses are used.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_CPU = '0';
const CLIENT_CPU = '1';

// ---- options -----------------------------------------------------------------

function parseOptions(argv) {
  const o = { quick: false, repeats: null, only: null, servers: null, out: null, build: 'build', note: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--repeats') o.repeats = Number(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--servers') o.servers = next().split(',');
    else if (a === '--out') o.out = next();
    else if (a === '--build') o.build = next();
    else if (a === '--note') o.note = next();
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--repeats N] [--only w1,w2] ' +
        '[--servers s1,s2] [--out DIR] [--build DIR] [--note TEXT]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (o.repeats === null) o.repeats = o.quick ? 1 : 3;
  if (!Number.isInteger(o.repeats) || o.repeats < 1 || o.repeats > 9) throw new Error('--repeats is 1..9');
  o.out = path.resolve(ROOT, o.out ?? (o.quick ? path.join(o.build, 'bench-quick') : 'bench/results'));
  return o;
}

const opts = parseOptions(process.argv);
const BUILD = path.resolve(ROOT, opts.build);
const TANDEM = path.join(BUILD, 'tandem');
const LOADGEN = path.join(BUILD, 'bench', 'loadgen');
const PEERS = path.join(ROOT, 'bench', 'peers');
// The source tree's revision when the run starts (the binary is from --build).
const TANDEM_REV = spawnSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).stdout?.trim();

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// The open-files limit every process of the run gets: as high as this
// machine lets us raise it (100,000 idle connections need more than that).
function fdLimit() {
  const r = spawnSync('sh', ['-c', 'ulimit -Hn 1048576 2>/dev/null || true; ulimit -Hn'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) ? n : 1024;
}
const FD_LIMIT = fdLimit();

// Runs argv pinned to a CPU with the open-files limit raised.
function pinned(cpu, argv) {
  return ['sh', ['-c', `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec taskset -c ${cpu} "$@"`,
    'sh', ...argv]];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every child process still running, so an interrupted run leaves none behind.
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}

function waitForTcp(port, ms) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listening on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

// ---- servers -------------------------------------------------------------------

// Starts a server pinned to SERVER_CPU; resolves to {pid, port, stop()}.
async function startProcess(name, argv, { cwd = ROOT, readyPort = null } = {}) {
  const [cmd, args] = pinned(SERVER_CPU, argv);
  const child = track(spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${stderr.slice(-400)}`)), 15000);
    child.stderr.on('data', (d) => {
      stderr = (stderr + d.toString()).slice(-8192);
      const m = /server\.listening.*port=(\d+)/.exec(stderr);
      if (m && readyPort === null) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    exited.then(({ code, sig }) => { clearTimeout(timer); reject(new Error(`${name} exited (${code ?? sig}): ${stderr.slice(-400)}`)); });
    if (readyPort !== null) waitForTcp(readyPort, 10000).then(() => { clearTimeout(timer); resolve(readyPort); }, reject);
  });
  let crashed = null;
  exited.then(({ code, sig }) => { crashed = `exited (${code ?? sig})`; });
  return {
    pid: child.pid,
    port,
    get crashed() { return crashed; },
    stderr: () => stderr,
    async stop() {
      if (crashed) return crashed;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 12000);
      const r = await exited;
      clearTimeout(t);
      return r.sig === 'SIGKILL' ? 'killed' : null;
    },
  };
}

let tandemHelp = null;
function tandemHasFlag(flag) {
  tandemHelp ??= spawnSync(TANDEM, ['serve', '--help'], { encoding: 'utf8' });
  return `${tandemHelp.stdout}${tandemHelp.stderr}`.includes(flag);
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

function nginxConfig(prefix, port) {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${prefix}/www;
    location = /healthz {
      default_type application/json;
      return 200 '{"status":"ok"}';
    }
    location = /json {
      default_type application/json;
      try_files /small.json =404;
    }
    # Uploads as nginx users take them: WebDAV PUT writes the body to a file
    # (client_body_in_file_only), served back as static files.
    location /dav/ {
      dav_methods PUT;
      client_body_in_file_only on;
      client_max_body_size 2g;
    }
  }
}
`;
}

// tandem's flags for a benchmark: the per-socket limits off (see below).
function tandemBenchFlags() {
  return [['--signal-rate', '1000000'], ['--sio-joins', '1000000'], ['--chat-rate', '1000000']]
    .filter(([flag]) => tandemHasFlag(flag)).flat();
}

// redis-server and n tandem instances on it; one handle for all of them:
// `ports` and `pids` list each instance (the load generator spreads its
// connections over them), `pid`/`port` are the first.
async function startTandemCluster(tmp, n) {
  const redisPort = await freePort();
  mkdirSync(path.join(tmp, 'redis'));
  const parts = [await startProcess('redis', ['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', path.join(tmp, 'redis')], { readyPort: redisPort })];
  try {
    for (let i = 0; i < n; i++) {
      parts.push(await startProcess(`tandem-${i + 1}`, [TANDEM, 'serve', '--listen', '127.0.0.1:0', '--data-dir',
        path.join(tmp, `data-${i + 1}`), '--log-level', 'warn', '--redis', `redis://127.0.0.1:${redisPort}`,
        ...tandemBenchFlags()]));
    }
  } catch (e) {
    for (const p of parts.reverse()) await p.stop();
    throw e;
  }
  const instances = parts.slice(1);
  return {
    pid: instances[0].pid,
    port: instances[0].port,
    pids: parts.map((p) => p.pid), // Redis's CPU counts as the server's too
    ports: instances.map((p) => p.port),
    get crashed() { return parts.map((p) => p.crashed).find(Boolean) ?? null; },
    stderr: () => parts.map((p) => p.stderr()).join('\n'),
    async stop() {
      let worst = null;
      for (const p of [...instances, parts[0]]) worst = (await p.stop()) ?? worst;
      return worst;
    },
  };
}

const SERVERS = {
  tandem: {
    label: 'tandem',
    proto: 'native',
    async start(tmp) {
      // The peers have no per-socket signal rate limit; tandem's default (a
      // safety bound of a few dozen a second) would throttle the publisher.
      // Likewise the PrivyDrop join limit (2 per 5 s per address): every
      // client of the Socket.IO workload comes from 127.0.0.1.
      return startProcess('tandem', [TANDEM, 'serve', '--listen', '127.0.0.1:0', '--data-dir',
        path.join(tmp, 'data'), '--log-level', 'warn', ...tandemBenchFlags()]);
    },
  },
  // Scale-out: instances sharing rooms through Redis, all pinned to the
  // server CPU like every other server (the same hardware budget).
  'tandem-redis': {
    label: 'tandem, 1 instance + Redis',
    proto: 'native',
    start: (tmp) => startTandemCluster(tmp, 1),
  },
  'tandem-x3': {
    label: 'tandem, 3 instances + Redis',
    proto: 'native',
    start: (tmp) => startTandemCluster(tmp, 3),
  },
  uws: {
    label: 'uWebSockets.js 20.30',
    proto: 'native',
    start: () => startProcess('uws', ['node', path.join(PEERS, 'uws-server.mjs'), '--port', '0'], { cwd: PEERS }),
  },
  ws: {
    label: 'Node ws 8.23',
    proto: 'native',
    start: () => startProcess('ws', ['node', path.join(PEERS, 'ws-server.mjs'), '--port', '0'], { cwd: PEERS }),
  },
  socketio: {
    label: 'Node Socket.IO 4.8.4',
    proto: 'socketio',
    start: () => startProcess('socketio', ['node', path.join(PEERS, 'socketio-server.mjs'), '--port', '0'], { cwd: PEERS }),
  },
  privydrop: {
    label: 'Node socket.io 4.8.4 (PrivyDrop backend)',
    start: () => startProcess('privydrop', ['node', path.join(PEERS, 'privydrop-server.mjs'), '--port', '0'], { cwd: PEERS }),
  },
  nginx: {
    label: 'nginx',
    async start(tmp) {
      const prefix = path.join(tmp, 'nginx');
      mkdirSync(path.join(prefix, 'www', 'dav'), { recursive: true });
      chmodSync(path.join(prefix, 'www', 'dav'), 0o777); // the worker (nobody) writes uploads there
      const port = await freePort();
      // A body the size and shape of tandem's answer to GET /api/rooms/:room.
      writeFileSync(path.join(prefix, 'www', 'small.json'), JSON.stringify({
        id: '3fK9cQ2mZpL8xR1vT7nB0a', code: '482913', title: null,
        url: `http://127.0.0.1:${port}/r/3fK9cQ2mZpL8xR1vT7nB0a`, qr_url: '/api/rooms/3fK9cQ2mZpL8xR1vT7nB0a/qr.svg',
        created_at: '2026-11-24T21:00:00.000Z', expires_at: '2026-11-25T21:00:00.000Z', members_online: 0,
      }));
      // Workers run as nobody: they must be able to read the prefix.
      for (const p of [tmp, prefix, path.join(prefix, 'www'), path.join(prefix, 'www', 'small.json')]) chmodSync(p, 0o755);
      writeFileSync(path.join(prefix, 'nginx.conf'), nginxConfig(prefix, port));
      return startProcess('nginx', ['nginx', '-p', prefix, '-e', path.join(prefix, 'error.log'),
        '-c', path.join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { readyPort: port });
    },
  },
};

// ---- workloads -----------------------------------------------------------------

const WS_SERVERS = ['tandem', 'uws', 'ws', 'socketio'];
const Q = opts.quick;
// The largest idle crowd this machine allows: 100,000, or what the open-files
// limit leaves room for (one descriptor per connection on each side).
const IDLE_MAX = Math.min(100000, Math.floor((FD_LIMIT - 250) / 500) * 500);

// A workload runs the load generator with `args` (or wrk), and reads
// `figures` out of its report. `headline` is the figure the ratio is about;
// `better` says which way is good. `requires` names a feature tandem does not
// have yet: the workload is listed, and skipped, until a probe finds it.
const WORKLOADS = [
  {
    id: 'fanout-1k',
    title: Q ? 'Fan-out: 1 room, 100 subscribers' : 'Fan-out: 1 room, 1,000 subscribers',
    what: 'One publisher sends signals (no `to`) into a room; the server relays each to every other member. ' +
      'Phase 1 at a fixed rate (latency from send to delivery), phase 2 at full speed with 8 messages in flight.',
    servers: WS_SERVERS,
    loadgen: { mode: 'fanout', connections: Q ? 100 : 1000, rates: Q ? '20,0' : '100,0', window: 8,
      duration: Q ? 1 : 3, warmup: Q ? 0.3 : 1, 'connect-rate': 20000, 'connect-concurrency': 1024,
      'connect-timeout': 60 },
    figures: fanoutFigures,
    headline: 'full_msgs_s',
  },
  {
    id: 'fanout-10k',
    title: Q ? 'Fan-out: 1 room, 300 subscribers' : 'Fan-out: 1 room, 10,000 subscribers',
    what: 'As above with ten times the room. Seating a room of N members costs the server N(N−1)/2 ' +
      'peer.joined messages, since every join is announced to everyone present: 50 million for 10,000. ' +
      'A server that cannot seat them all within 30 s fails the workload and is not repeated; how many ' +
      'it seated is then the figure compared.',
    servers: WS_SERVERS,
    loadgen: { mode: 'fanout', connections: Q ? 300 : 10000, rates: Q ? '5,0' : '10,0', window: 8,
      duration: Q ? 1 : 3, warmup: Q ? 0.3 : 1, 'connect-rate': 20000, 'connect-concurrency': 1024,
      'connect-timeout': 30 },
    figures: fanoutFigures,
    headline: 'full_msgs_s',
    // When nobody seats the whole room, how far each got is the comparison.
    columns: ['seated', 'ratio:seated', 'connect_s', 'full_msgs_s', 'ratio:full_msgs_s', 'full_p99_us',
      'fixed_p50_us', 'fixed_p99_us', 'ratio:fixed_p99_us', 'fixed_p999_us', 'fixed_max_us', 'errors'],
  },
  {
    id: 'fanout-3k-cluster',
    title: Q ? 'Scale-out fan-out: 1 room of 300 over 3 instances' : 'Scale-out fan-out: 1 room of 3,000 members over 3 instances',
    what: 'The fan-out workload with the room spread over three tandem instances sharing it through Redis ' +
      '(member i on instance i mod 3, the publisher on the first), against the same room on one instance, ' +
      'with and without Redis. Every server process (the instances and Redis) is pinned to the one server ' +
      'CPU, so this shows what crossing instances costs on the same hardware, not a speed-up. The ' +
      'fixed-rate latency difference is the cross-instance latency added. The ratio column is tandem on ' +
      'one instance divided by the row.',
    servers: ['tandem', 'tandem-redis', 'tandem-x3'],
    // Skipped (and said so) where tandem or Redis is missing.
    available: () => (tandemHasFlag('--redis') ? (hasCommand('redis-server') ? null : 'redis-server is not installed')
      : 'tandem has no --redis (the Redis bus) yet'),
    loadgen: { mode: 'fanout', connections: Q ? 300 : 3000, rates: Q ? '20,0' : '100,0', window: 8,
      duration: Q ? 1 : 3, warmup: Q ? 0.3 : 1, 'connect-rate': 20000, 'connect-concurrency': 1024,
      'connect-timeout': 60 },
    figures: fanoutFigures,
    headline: 'full_msgs_s',
    columns: ['full_msgs_s', 'ratio:full_msgs_s', 'full_p50_us', 'full_p99_us', 'fixed_p50_us', 'fixed_p99_us',
      'ratio:fixed_p99_us', 'fixed_p999_us', 'fixed_max_us', 'connect_s', 'errors'],
  },
  {
    id: 'pingpong',
    title: Q ? 'Signaling: 100 rooms of 2 peers' : 'Signaling: 5,000 rooms of 2 peers',
    what: 'WebRTC signaling shape: in each room one peer sends a signal `to` the other, which sends it back; ' +
      'one exchange in flight per room. Round trips per second and round-trip time.',
    servers: WS_SERVERS,
    loadgen: { mode: 'pingpong', connections: Q ? 200 : 10000, depth: 1, duration: Q ? 1 : 4,
      warmup: Q ? 0.3 : 1, 'connect-timeout': 60 },
    figures: pingpongFigures,
    headline: 'roundtrips_s',
  },
  {
    id: 'idle-10k',
    title: Q ? 'Idle: 500 connections in rooms of 20' : 'Idle: 10,000 connections in 500 rooms',
    what: 'Connections join rooms of 20 and stay silent. Server RSS per connection (RSS growth over the ' +
      'empty server, divided by the connections), time to open them all; then all close with the close ' +
      'handshake and the server\'s open descriptors and RSS are read again.',
    servers: WS_SERVERS,
    loadgen: { mode: 'idle', connections: Q ? 500 : 10000, 'room-size': 20, hold: Q ? 0.5 : 2,
      'connect-rate': 20000, 'connect-concurrency': 1024, 'connect-timeout': 60 },
    figures: idleFigures,
    headline: 'rss_per_conn',
    better: 'lower',
  },
  {
    id: 'idle-max',
    title: Q ? 'Idle: 1,000 connections in rooms of 20'
      : `Idle: ${IDLE_MAX.toLocaleString('en-US')} connections in rooms of 20 (the most this machine allows)`,
    what: 'As above at the largest count the open-files limit allows here (the target is 100,000).',
    servers: WS_SERVERS,
    loadgen: { mode: 'idle', connections: Q ? 1000 : IDLE_MAX, 'room-size': 20, hold: Q ? 0.5 : 2,
      'connect-rate': 20000, 'connect-concurrency': 1024, 'connect-timeout': 90 },
    figures: idleFigures,
    headline: 'rss_per_conn',
    better: 'lower',
  },
  {
    id: 'http-healthz',
    title: 'HTTP: GET /healthz, keep-alive, 64 connections',
    what: 'wrk, one thread, 64 keep-alive connections. nginx answers with `return 200` and the same body.',
    servers: ['tandem', 'nginx'],
    wrk: { path: { tandem: '/healthz', nginx: '/healthz' }, duration: Q ? 1 : 5, connections: 64 },
    figures: wrkFigures,
    headline: 'rps',
  },
  {
    id: 'http-json',
    title: 'HTTP: a small JSON API read, keep-alive, 64 connections',
    what: 'tandem: GET /api/rooms/:room for a room made just before (a store lookup, JSON out; /readyz ' +
      'where tandem has no rooms API). nginx: a static file of the same size.',
    servers: ['tandem', 'nginx'],
    wrk: { path: { tandem: tandemRoomPath, nginx: '/json' }, duration: Q ? 1 : 5, connections: 64 },
    figures: wrkFigures,
    headline: 'rps',
  },
  {
    id: 'chat-500',
    title: Q ? 'Chat: one facilitator\'s room of 50 members' : 'Chat: one facilitator\'s room of 500 members',
    what: 'tandem only (no other server here has chat rooms): a signed-in facilitator\'s room, open now; ' +
      'one member sends `chat` messages, each stored in SQLite before it is broadcast as `chat.message` ' +
      'to every member. Phase 1 at a fixed rate, phase 2 at full speed; deliveries/s and latency.',
    servers: ['tandem'],
    prepare: chatRoom,
    loadgen: { mode: 'fanout', proto: 'chat', connections: Q ? 50 : 500, rates: Q ? '20,0' : '200,0', window: 8,
      duration: Q ? 1 : 3, warmup: Q ? 0.3 : 1, 'connect-timeout': 60 },
    figures: fanoutFigures,
    headline: 'full_msgs_s',
    columns: ['full_msgs_s', 'full_p50_us', 'full_p99_us', 'fixed_msgs_s', 'fixed_p50_us', 'fixed_p99_us',
      'fixed_p999_us', 'fixed_max_us', 'connect_s', 'errors'],
  },
  {
    id: 'files',
    title: Q ? 'Files: upload and download, 64 MiB and 100 x 100 KiB' : 'Files: upload and download, 1 GiB and 1,000 x 100 KiB',
    what: 'curl moves the bytes (8 transfers in flight for the small files). tandem: POST into a room ' +
      '(hashed, fsynced, then listed) and GET of the item\'s file (sendfile). nginx: WebDAV PUT with ' +
      '`client_body_in_file_only` (no fsync) and static GET. MB/s = 10^6 bytes per second.',
    servers: ['tandem', 'nginx'],
    requires: { feature: 'file items (the drop issue)', probe: probeItems },
    client: (srv, server, tmp) => ['node', path.join(ROOT, 'bench', 'files-client.mjs'), '--server', server,
      '--port', String(srv.port), '--dir', tmp, '--big-mib', Q ? '64' : '1024', '--small-count', Q ? '100' : '1000'],
    figures: (rep) => rep,
    headline: 'big_down_mb_s',
    columns: ['big_up_mb_s', 'ratio:big_up_mb_s', 'big_down_mb_s', 'ratio:big_down_mb_s', 'small_up_mb_s',
      'ratio:small_up_mb_s', 'small_down_mb_s', 'ratio:small_down_mb_s', 'small_up_files_s', 'small_down_files_s'],
  },
  {
    id: 'socketio-flow',
    title: Q ? 'Socket.IO: the PrivyDrop flow, 100 pairs' : 'Socket.IO: the PrivyDrop flow, 2,000 pairs',
    what: 'The official socket.io-client 4.8.4 (websocket transport), 50 flows at once: create the room (REST), ' +
      'sender joins and announces itself, receiver joins (sender gets `ready`), offer, answer, 3 ICE ' +
      'candidates each way, both leave. The Node client is the bottleneck on its CPU, so the server\'s ' +
      'CPU time per flow is the fairer comparison.',
    servers: ['tandem', 'privydrop'],
    requires: { feature: 'the Socket.IO endpoint', probe: probeSocketIo },
    client: (srv) => ['node', path.join(PEERS, 'privydrop-flow.mjs'), '--port', String(srv.port),
      '--flows', Q ? '100' : '2000', '--concurrency', Q ? '10' : '50'],
    figures: (rep) => ({
      flows_s: rep.flows_per_s, flow_p50_us: rep.flow_us.p50, flow_p99_us: rep.flow_us.p99,
      client_cpu: rep.client_cpu_pct, server_cpu_us_per_flow: rep.server_cpu_us_per_flow, errors: rep.errors,
    }),
    headline: 'flows_s',
    columns: ['flows_s', 'ratio:flows_s', 'server_cpu_us_per_flow', 'ratio:server_cpu_us_per_flow', 'flow_p50_us',
      'flow_p99_us', 'ratio:flow_p99_us', 'client_cpu', 'errors'],
  },
];

// A chat room open now, made by a facilitator signed up for the run; the
// load generator gets its id.
async function chatRoom(port) {
  const base = `http://127.0.0.1:${port}`;
  const account = { email: `bench-${Date.now()}@example.org`, password: 'a bench password' };
  const post = (p, body, headers = {}) => fetch(base + p, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  let res = await post('/api/accounts', account);
  if (res.status !== 201) throw new Error(`POST /api/accounts: ${res.status}`);
  res = await post('/api/session', account);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (res.status !== 200 || !cookie) throw new Error(`POST /api/session: ${res.status}`);
  const now = Date.now();
  res = await post('/api/rooms', { kind: 'chat', title: 'bench', opens_at: now - 1000, closes_at: now + 3600e3 },
    { cookie });
  if (res.status !== 201) throw new Error(`POST /api/rooms (chat): ${res.status}`);
  return { 'room-prefix': (await res.json()).id };
}

// A room made through tandem's API, and the path that reads it back.
async function tandemRoomPath(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/rooms`, { method: 'POST' });
    if (res.status === 201) return `/api/rooms/${(await res.json()).id}`;
  } catch { /* no rooms API: fall back */ }
  return '/readyz';
}

async function probeItems(port) {
  const res = await fetch(`http://127.0.0.1:${port}/api/rooms`, { method: 'POST' });
  if (res.status !== 201) return false;
  const { id } = await res.json();
  return (await fetch(`http://127.0.0.1:${port}/api/rooms/${id}/items`)).status === 200;
}

async function probeSocketIo(port) {
  return (await fetch(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`)).status === 200;
}

function fanoutFigures(rep) {
  const [fixed, full] = rep.phases;
  return {
    seated: Math.max(0, rep.connected - 1), // subscribers in the room (the publisher aside)
    connect_s: rep.incomplete ? null : rep.connect.seconds,
    fixed_msgs_s: fixed?.msgs_per_s,
    fixed_p50_us: fixed?.latency_us.p50,
    fixed_p99_us: fixed?.latency_us.p99,
    fixed_p999_us: fixed?.latency_us.p999,
    fixed_max_us: fixed?.latency_us.max,
    full_msgs_s: full?.msgs_per_s,
    full_p50_us: full?.latency_us.p50,
    full_p99_us: full?.latency_us.p99,
    full_loadgen_cpu: full?.loadgen_cpu_pct,
    rss_per_conn: rep.server.rss_per_conn_bytes,
    errors: errorCount(rep),
  };
}

function pingpongFigures(rep) {
  const [p] = rep.phases;
  return {
    connect_s: rep.connect.seconds,
    roundtrips_s: p?.roundtrips_per_s,
    rtt_p50_us: p?.latency_us.p50,
    rtt_p99_us: p?.latency_us.p99,
    rtt_p999_us: p?.latency_us.p999,
    rtt_max_us: p?.latency_us.max,
    loadgen_cpu: p?.loadgen_cpu_pct,
    rss_per_conn: rep.server.rss_per_conn_bytes,
    errors: errorCount(rep),
  };
}

function idleFigures(rep) {
  const s = rep.server;
  return {
    connect_s: rep.connect.seconds,
    connect_per_s: rep.connect.per_s,
    rss_per_conn: s.rss_per_conn_bytes,
    rss_base_mb: s.rss_base_kb / 1024,
    rss_loaded_mb: s.rss_loaded_kb / 1024,
    rss_closed_mb: s.rss_closed_kb / 1024,
    fds_base: s.fds_base,
    fds_loaded: s.fds_loaded,
    fds_closed: s.fds_closed,
    release_s: s.release_seconds,
    errors: errorCount(rep),
  };
}

function wrkFigures(rep) {
  return { rps: rep.rps, p50_us: rep.p50_us, p99_us: rep.p99_us, errors: rep.errors };
}

// ---- running -------------------------------------------------------------------

function loadgenArgs(w, server, srv, label, extra = {}) {
  const ports = (srv.ports ?? [srv.port]).join(',');
  const pids = (srv.pids ?? [srv.pid]).join(',');
  const args = [LOADGEN, '--port', ports, '--server-pid', pids, '--label', label, '--max-time', '300'];
  const opts = { proto: SERVERS[server].proto, ...w.loadgen, ...extra };
  for (const [k, v] of Object.entries(opts)) args.push(`--${k}`, String(v));
  return args;
}

// CPU time in clock ticks: of the whole machine (busy, all CPUs), and of one
// process (user + system, all threads); null when it cannot be read.
// Only user, nice and system time: interrupt and softirq time (closing
// thousands of sockets, say) is the kernel working for the run itself and
// belongs to no process.
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2];
}
function processTicks(pid, depth = 0) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    let ticks = Number(f[11]) + Number(f[12]); // utime, stime
    // Its children too (nginx's worker): /proc/PID/task/TID/children.
    if (depth < 3) {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        let kids = '';
        try { kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8'); } catch { /* none */ }
        for (const kid of kids.split(' ').filter(Boolean)) ticks += processTicks(kid, depth + 1) ?? 0;
      }
    }
    return ticks;
  } catch {
    return null;
  }
}
const TICK_HZ = 100; // USER_HZ, the unit of /proc/*/stat on Linux

// Runs the client pinned to CLIENT_CPU. While it runs, samples how much CPU
// the machine spent besides the server (one pid or a list: all its
// processes) and the client: other processes
// disturbing the measurement (`others_cpu_pct`, % of one CPU).
function runPinned(argv, timeoutMs, serverPid) {
  return new Promise((resolve) => {
    const [cmd, args] = pinned(CLIENT_CPU, argv);
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4096); });
    const serverPids = [serverPid].flat();
    const serverTicks = () => serverPids.reduce((sum, pid) => {
      const t = processTicks(pid);
      return sum === null || t === null ? null : sum + t;
    }, 0);
    const sample = () => ({ t: Date.now(), m: machineTicks(), s: serverTicks(), c: processTicks(child.pid) });
    const first = sample();
    let last = first;
    const poll = setInterval(() => {
      const x = sample();
      if (x.c !== null && x.s !== null) last = x;
    }, 250);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, sig) => {
      clearTimeout(t);
      clearInterval(poll);
      const secs = (last.t - first.t) / 1000;
      let others = null;
      if (secs >= 1 && first.s !== null && first.c !== null) {
        const ticks = (last.m - first.m) - (last.s - first.s) - (last.c - first.c);
        others = Math.max(0, (ticks / TICK_HZ / secs) * 100);
      }
      const serverCpuS = first.s !== null && last.s !== null ? (last.s - first.s) / TICK_HZ : null;
      resolve({ code, sig, out, err, others_cpu_pct: others, server_cpu_s: serverCpuS });
    });
  });
}

function errorCount(rep) {
  const e = rep.errors;
  return e.connect + e.handshake + e.closed + e.protocol + e.server_error + e.write + e.timeout + e.lost;
}

// wrk's "1.23ms" / "456.00us" / "1.02s" to microseconds.
function wrkTime(s) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s);
  if (!m) return null;
  return Number(m[1]) * { us: 1, ms: 1000, s: 1e6 }[m[2]];
}

function parseWrk(text) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s+50%\s+(\S+)/m.exec(text);
  const p99 = /^\s+99%\s+(\S+)/m.exec(text);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (!rps || !p99) return null;
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps: Number(rps[1]), p50_us: wrkTime(p50?.[1]), p99_us: wrkTime(p99[1]), errors };
}

// Waits (at most QUIET_WAIT_S) for other processes to leave the CPUs
// alone, and returns how busy they were when the run started.
const QUIET_BUSY_PCT = 15;
const QUIET_WAIT_S = opts.quick ? 2 : 10;
async function waitQuiet() {
  let busy = 0;
  for (let i = 0; i < QUIET_WAIT_S * 2; i++) {
    busy = await cpuBusy(500);
    if (busy < QUIET_BUSY_PCT) break;
  }
  return busy;
}

// A run during which other processes took more than NOISY_PCT of a CPU is
// done again (at most NOISY_RETRIES times); the least disturbed one is kept.
const NOISY_PCT = 20;
const NOISY_RETRIES = opts.quick ? 0 : 2;
async function runOnce(w, server, repeat) {
  let best = null;
  let tries = 0;
  for (let attempt = 0; attempt <= NOISY_RETRIES; attempt++) {
    tries++;
    const busy = await waitQuiet();
    const r = await runOnceInner(w, server, repeat);
    r.busy_before_pct = Math.round(busy);
    if (!best || (r.others_cpu_pct ?? 0) < (best.others_cpu_pct ?? 0)) best = { ...r };
    if (!r.ok || (r.others_cpu_pct ?? 0) <= NOISY_PCT || attempt === NOISY_RETRIES) break;
    log(`${w.id} ${server} #${repeat}: other processes took ${r.others_cpu_pct}% of a CPU, running it again`);
  }
  best.attempts = tries;
  return best;
}

async function runOnceInner(w, server, repeat) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `tandem-bench-${server}-`));
  let srv;
  try {
    srv = await SERVERS[server].start(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    return { ok: false, reason: `start: ${e.message}` };
  }
  let result;
  let others = null;
  try {
    await sleep(300); // let it settle (JIT, first allocations) before the baseline reading
    if (w.wrk) {
      const p = w.wrk.path[server];
      const url = `http://127.0.0.1:${srv.port}${typeof p === 'function' ? await p(srv.port) : p}`;
      const r = await runPinned(['wrk', '-t1', `-c${w.wrk.connections}`, `-d${w.wrk.duration}s`, '--latency', url],
        (w.wrk.duration + 30) * 1000, srv.pid);
      others = r.others_cpu_pct;
      const rep = parseWrk(r.out);
      if (rep) rep.url = url;
      result = rep ? { ok: rep.errors === 0 && rep.rps > 0, reason: rep.errors ? `${rep.errors} errors` : null, report: rep }
        : { ok: false, reason: `wrk: ${(r.out + r.err).slice(-300)}` };
    } else if (w.client) {
      const r = await runPinned(w.client(srv, server, tmp), 600 * 1000, srv.pid);
      others = r.others_cpu_pct;
      let rep = null;
      try { rep = JSON.parse(r.out); } catch { /* reported below */ }
      if (rep && rep.flows && r.server_cpu_s !== null) rep.server_cpu_us_per_flow = (r.server_cpu_s * 1e6) / rep.flows;
      const errs = rep?.errors ?? 0;
      result = !rep || r.code !== 0 ? { ok: false, reason: `client exit ${r.code ?? r.sig}: ${r.err.slice(-300)}` }
        : { ok: errs === 0, reason: errs ? `${errs} errors: ${JSON.stringify(rep.error_kinds)}` : null, report: rep };
    } else {
      const extra = w.prepare ? await w.prepare(srv.port) : {};
      const r = await runPinned(loadgenArgs(w, server, srv, `${w.id}/${server}/${repeat}`, extra),
        330 * 1000, srv.pids ?? srv.pid);
      others = r.others_cpu_pct;
      let rep = null;
      try { rep = JSON.parse(r.out); } catch { /* reported below */ }
      if (!rep) result = { ok: false, reason: `loadgen exit ${r.code ?? r.sig}: ${r.err.slice(-300)}` };
      else {
        // Errors of the protocol itself mean the harness or a peer is wrong:
        // the run does not count. Closed connections and lost messages are
        // the server's doing under load: they count, and are shown.
        const errs = errorCount(rep);
        const e = rep.errors;
        const broken = e.protocol + e.handshake + e.server_error;
        const headline = w.figures(rep)[w.headline];
        let reason = null;
        if (rep.incomplete) reason = `${rep.connected.toLocaleString('en-US')} of ${rep.connections.toLocaleString('en-US')} connected within ${w.loadgen['connect-timeout']} s`;
        else if (rep.aborted) reason = 'hit the time cap';
        else if (r.code !== 0) reason = `loadgen exit ${r.code ?? r.sig}`;
        else if (rep.connected !== rep.connections) reason = `${rep.connections - rep.connected} connections failed`;
        else if (broken) reason = `${broken} protocol errors`;
        else if (!(headline > 0)) reason = `no ${w.headline} figure`;
        const ok = reason === null;
        if (ok && errs) reason = `${errs} errors (${Object.entries(e).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')})`;
        result = { ok, reason, report: rep, errors: errs };
      }
    }
  } catch (e) {
    result = { ok: false, reason: `driver: ${e.message}` };
  } finally {
    const crashed = srv.crashed;
    const stopped = await srv.stop();
    if (crashed) {
      result = { ...result, ok: false, reason: `server ${crashed} during the run` };
      const tail = srv.stderr().trim().split('\n').slice(-3).join(' | ');
      if (tail) result.reason += `: ${tail.slice(0, 300)}`;
    } else if (stopped === 'killed') result = { ...result, stop: 'did not exit on SIGTERM' };
    rmSync(tmp, { recursive: true, force: true });
  }
  if (result.report) result.figures = w.figures(result.report);
  result.others_cpu_pct = others === null ? null : Math.round(others);
  return result;
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

async function probe(server, p) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-probe-'));
  let srv;
  try {
    srv = await SERVERS[server].start(tmp);
    return await p(srv.port);
  } catch {
    return false;
  } finally {
    if (srv) await srv.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- the report ----------------------------------------------------------------

const FIG = {
  connect_s: ['connect s', 2],
  seated: ['subscribers seated', 0],
  connect_per_s: ['connects/s', 0],
  fixed_msgs_s: ['fixed: msgs/s', 0],
  fixed_p50_us: ['fixed: p50 µs', 0],
  fixed_p99_us: ['fixed: p99 µs', 0],
  fixed_p999_us: ['fixed: p99.9 µs', 0],
  fixed_max_us: ['fixed: max µs', 0],
  full_msgs_s: ['full speed: msgs/s', 0],
  full_p50_us: ['full: p50 µs', 0],
  full_p99_us: ['full: p99 µs', 0],
  full_loadgen_cpu: ['full: loadgen CPU %', 0],
  loadgen_cpu: ['loadgen CPU %', 0],
  roundtrips_s: ['round trips/s', 0],
  rtt_p50_us: ['RTT p50 µs', 0],
  rtt_p99_us: ['RTT p99 µs', 0],
  rtt_p999_us: ['RTT p99.9 µs', 0],
  rtt_max_us: ['RTT max µs', 0],
  rss_per_conn: ['RSS/conn bytes', 0],
  rss_base_mb: ['RSS empty MiB', 1],
  rss_loaded_mb: ['RSS loaded MiB', 1],
  rss_closed_mb: ['RSS after close MiB', 1],
  fds_base: ['fds empty', 0],
  fds_loaded: ['fds loaded', 0],
  fds_closed: ['fds after close', 0],
  release_s: ['fds back in s', 2],
  rps: ['requests/s', 0],
  p50_us: ['p50 µs', 0],
  p99_us: ['p99 µs', 0],
  big_up_mb_s: ['1 GiB up MB/s', 0],
  big_down_mb_s: ['1 GiB down MB/s', 0],
  small_up_mb_s: ['small up MB/s', 0],
  small_down_mb_s: ['small down MB/s', 0],
  small_up_files_s: ['small up files/s', 0],
  small_down_files_s: ['small down files/s', 0],
  flows_s: ['flows/s', 0],
  flow_p50_us: ['flow p50 µs', 0],
  flow_p99_us: ['flow p99 µs', 0],
  client_cpu: ['client CPU %', 0],
  server_cpu_us_per_flow: ['server CPU µs/flow', 0],
  errors: ['errors', 0],
};

// The columns of each kind of table, in order; `ratio:KEY` is tandem's
// figure for KEY divided by the server's.
const COLUMNS = {
  fanout: ['full_msgs_s', 'ratio:full_msgs_s', 'full_p99_us', 'fixed_p50_us', 'fixed_p99_us', 'ratio:fixed_p99_us',
    'fixed_p999_us', 'fixed_max_us', 'connect_s', 'full_loadgen_cpu', 'errors'],
  pingpong: ['roundtrips_s', 'ratio:roundtrips_s', 'rtt_p50_us', 'rtt_p99_us', 'ratio:rtt_p99_us', 'rtt_p999_us',
    'rtt_max_us', 'loadgen_cpu', 'errors'],
  idle: ['rss_per_conn', 'ratio:rss_per_conn', 'connect_s', 'connect_per_s', 'rss_loaded_mb', 'rss_closed_mb',
    'fds_base', 'fds_loaded', 'fds_closed', 'release_s', 'errors'],
  wrk: ['rps', 'ratio:rps', 'p50_us', 'p99_us', 'ratio:p99_us', 'errors'],
};

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a, b) {
  if (typeof a !== 'number' || typeof b !== 'number' || b === 0) return null;
  return a / b;
}

function workloadTable(w, res) {
  const lines = [];
  lines.push(`### ${w.title}`, '', w.what, '');
  if (res.skipped) {
    lines.push(`_Not run: ${res.skipped}._`, '');
    return lines;
  }
  const cols = w.columns ?? COLUMNS[w.wrk ? 'wrk' : w.loadgen.mode];
  const t = res.servers.tandem?.median;
  const head = ['server', ...cols.map((c) => (c.startsWith('ratio:') ? 'tandem ÷ it' : FIG[c][0]))];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i ? '--:' : '---')).join('|')}|`);
  for (const s of w.servers.filter((x) => res.servers[x])) {
    const r = res.servers[s];
    const label = SERVERS[s].label;
    if (!r?.median) {
      lines.push(`| ${label} | failed: ${r?.reason ?? 'no result'} |${cols.slice(1).map(() => ' |').join('')}`);
      continue;
    }
    const mark = r.partial ? ' (failed)' : '';
    const cells = cols.map((c) => {
      if (!c.startsWith('ratio:')) return fmt(r.median[c], FIG[c][1]);
      if (s === 'tandem') return '';
      const q = ratio(t?.[c.slice(6)], r.median[c.slice(6)]);
      return q === null ? '—' : `${fmt(q, 2)}×`;
    });
    lines.push(`| ${label}${mark} | ${cells.join(' | ')} |`);
  }
  const notes = w.servers.filter((s) => res.servers[s]?.notes?.length)
    .map((s) => `${SERVERS[s].label}: ${res.servers[s].notes.join('; ')}`);
  lines.push('');
  if (notes.length) lines.push(...notes.map((n) => `- ${n}`), '');
  return lines;
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const version = (cmd, args, re) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    const m = re.exec(`${r.stdout}${r.stderr}`);
    return m ? m[1] : 'unknown';
  };
  const git = TANDEM_REV;
  return {
    cpu,
    cores: os.cpus().length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    nginx: version('nginx', ['-v'], /nginx\/([\d.]+)/),
    wrk: version('wrk', ['-v'], /wrk (?:debian\/)?([\d.]+)/),
    tandem: git || 'unknown',
    tandem_binary: TANDEM,
    fd_limit: FD_LIMIT,
  };
}

// Share of CPU time other processes used over one second, before we start:
// the figures of a run on a busy machine are worth less, and say so.
async function cpuBusy(ms = 1000) {
  const read = () => readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const a = read();
  await sleep(ms);
  const b = read();
  const d = b.map((x, i) => x - a[i]);
  const total = d.reduce((x, y) => x + y, 0);
  const idle = d[3] + (d[4] ?? 0);
  return total ? (1 - idle / total) * 100 : 0;
}

// ---- main ------------------------------------------------------------------------

async function main() {
  for (const f of [TANDEM, LOADGEN]) if (!existsSync(f)) throw new Error(`${f} is missing: run make build first`);
  if (!existsSync(path.join(PEERS, 'node_modules'))) throw new Error('bench/peers/node_modules is missing: run scripts/bootstrap');
  if (os.cpus().length < 2) log('warning: fewer than 2 CPUs, server and load generator share one');
  const started = new Date();
  const busy = await cpuBusy();
  log(`machine busy ${busy.toFixed(0)}% before the start; open-files limit ${FD_LIMIT}`);
  const workloads = WORKLOADS.filter((w) => !opts.only || opts.only.includes(w.id));
  const results = {};
  for (const w of workloads) {
    const servers = w.servers.filter((s) => !opts.servers || opts.servers.includes(s));
    const res = { servers: {} };
    results[w.id] = res;
    const missing = w.available?.();
    if (missing) {
      res.skipped = missing;
      log(`${w.id}: skipped (${missing})`);
      continue;
    }
    if (w.pending) {
      const ok = await probe('tandem', w.requires.probe);
      res.skipped = ok ? `tandem has ${w.requires.feature} now: this workload is to be written`
        : `tandem does not have ${w.requires.feature} yet`;
      log(`${w.id}: skipped (${res.skipped})`);
      continue;
    }
    for (const s of servers) res.servers[s] = { runs: [], notes: [] };
    const t0 = Date.now();
    for (let rep = 1; rep <= opts.repeats; rep++) {
      for (const s of servers) {
        const entry = res.servers[s];
        // A server that failed once is not run again: a failure here is
        // usually a timeout, and repeating it would only spend the time.
        if (entry.runs.some((r) => !r.ok)) continue;
        const r = await runOnce(w, s, rep);
        entry.runs.push(r);
        const head = r.figures?.[w.headline];
        log(`${w.id} ${s} #${rep}: ${r.ok ? 'ok' : `FAILED (${r.reason})`}${head !== undefined ? ` ${w.headline}=${fmt(head, 1)}` : ''}` +
          `${r.ok && r.reason ? ` (${r.reason})` : ''}`);
      }
    }
    for (const s of servers) {
      const entry = res.servers[s];
      let good = entry.runs.filter((r) => r.ok && r.figures);
      const failed = entry.runs.find((r) => !r.ok);
      if (failed) entry.reason = failed.reason;
      if (!good.length) {
        // What a failed run did measure (how many got in, say) is shown,
        // marked as failed; it never counts as a result of the workload.
        good = entry.runs.filter((r) => r.figures);
        if (!good.length) continue;
        entry.partial = true;
      }
      entry.median = {};
      for (const k of Object.keys(good[0].figures)) entry.median[k] = median(good.map((r) => r.figures[k]));
      entry.repeats = good.length;
      const withErrors = entry.runs.filter((r) => r.ok && r.reason);
      if (withErrors.length) entry.notes.push(`errors in ${withErrors.length} run(s): ${withErrors.map((r) => r.reason).join(', ')}`);
      if (failed) entry.notes.push(`${entry.partial ? 'failed' : 'a failed run'}: ${failed.reason}`);
    }
    res.seconds = (Date.now() - t0) / 1000;
  }
  const finished = new Date();
  const busyAfter = await cpuBusy();

  // ---- write the results
  const allRuns = workloads.flatMap((w) => Object.values(results[w.id].servers ?? {}).flatMap((e) => e.runs));
  const total = allRuns.length;
  const noisy = allRuns.filter((r) => r.busy_before_pct >= QUIET_BUSY_PCT).length;
  const disturbed = allRuns.filter((r) => (r.others_cpu_pct ?? 0) > NOISY_PCT).length;
  const retried = allRuns.filter((r) => r.attempts > 1).length;
  const m = machine();
  const date = started.toISOString().slice(0, 10);
  mkdirSync(opts.out, { recursive: true });
  const base = path.join(opts.out, date);
  const json = {
    started: started.toISOString(), finished: finished.toISOString(), quick: opts.quick, repeats: opts.repeats,
    note: opts.note,
    machine: m, cpu_busy_before_pct: busy, cpu_busy_after_pct: busyAfter,
    pinning: { server_cpu: SERVER_CPU, client_cpu: CLIENT_CPU },
    workloads: Object.fromEntries(workloads.map((w) => [w.id, {
      title: w.title, what: w.what, headline: w.headline, better: w.better ?? 'higher',
      loadgen: w.loadgen, wrk: w.wrk, ...results[w.id],
    }])),
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `# tandem benchmarks, ${date}${opts.quick ? ' (quick smoke run: small N, no meaning as figures)' : ''}`,
    '',
    `Produced by \`${opts.quick ? 'make bench-quick' : 'make bench'}\` (bench/run.mjs) from ${started.toISOString()} to ` +
      `${finished.toISOString()} (${((finished - started) / 60000).toFixed(1)} min).`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Linux ${m.kernel}; open-files limit ${m.fd_limit}. ` +
      `Node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}; the source tree at ${m.tandem} when the run began, ` +
      `tandem from ${path.relative(ROOT, m.tandem_binary).startsWith('..') ? m.tandem_binary : path.relative(ROOT, m.tandem_binary)}.`,
    `Servers on CPU ${SERVER_CPU}, load generator and wrk on CPU ${CLIENT_CPU} (taskset). ` +
      `Each figure is the median of ${opts.repeats} run(s), each with a fresh server. ` +
      `Other processes kept the CPUs ${busy.toFixed(0)}% busy before the run and ${busyAfter.toFixed(0)}% after it; ` +
      `each run waited up to ${QUIET_WAIT_S} s for them to drop below ${QUIET_BUSY_PCT}%, and ${noisy} of ${total} runs ` +
      `started above that. ${retried} run(s) were done again because other processes took more than ` +
      `${NOISY_PCT}% of a CPU while they ran; ${disturbed} kept figures from a run disturbed that much ` +
      '(the JSON has both figures for each run).',
    ...(opts.note ? ['', opts.note] : []),
    '',
    'Ratios are tandem\'s figure divided by the other server\'s: for throughput above 1 means tandem is faster, ' +
      'for latency and memory below 1 means tandem is better. Latencies are in microseconds.',
    '',
  ];
  for (const w of workloads) md.push(...workloadTable(w, results[w.id]));
  writeFileSync(`${base}.md`, `${md.join('\n')}\n`);
  log(`wrote ${base}.md and ${base}.json`);

  // The smoke check: every server of every workload that ran produced numbers.
  const missing = [];
  for (const w of workloads) {
    if (results[w.id].skipped) continue;
    for (const [s, e] of Object.entries(results[w.id].servers)) {
      if (!e.median || e.partial) missing.push(`${w.id}/${s}: ${e.reason ?? 'no result'}`);
    }
  }
  if (missing.length) {
    log(`no figures from: ${missing.join('; ')}`);
    if (opts.quick) process.exit(1);
  }
}

main().catch((e) => {
  log(`error: ${e.stack ?? e}`);
  process.exit(2);
});
