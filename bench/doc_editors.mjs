// One busy code room: N @codemirror/collab editors (default 20) typing into
// the same document through tandem for a few seconds, each pushing as
// collab does (one push in flight, pull and rebase when stale). Reports the
// updates tandem accepted a second and checks that every editor ends with
// the server's text.
//
//   node bench/doc_editors.mjs [--editors 20] [--seconds 5] [--interval 5] [--build build]
//
// Uses the packages of tests/e2e (npm ci there first). Bounded: the typing
// stops after --seconds, convergence is awaited at most 30 s.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modules = path.join(ROOT, 'tests/e2e/node_modules');
const { default: WebSocket } = await import(path.join(modules, 'ws/wrapper.mjs'));
const { ChangeSet, EditorState } = await import(path.join(modules, '@codemirror/state/dist/index.js'));
const { collab, getClientID, getSyncedVersion, receiveUpdates, sendableUpdates } = await import(
  path.join(modules, '@codemirror/collab/dist/index.js')
);

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const EDITORS = Number(arg('editors', 20));
const SECONDS = Number(arg('seconds', 5));
const INTERVAL_MS = Number(arg('interval', 5));
const BIN = path.join(ROOT, arg('build', 'build'), 'tandem');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// CPU seconds the server has used (user + system), to tell whether it or
// this client process was the limit.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function start() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tandem-bench-doc-'));
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TANDEM_LOG_LEVEL: 'info' },
  });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tandem did not start: ${log}`)), 10000);
    child.stderr.on('data', (d) => {
      log += d;
      const m = /server\.listening.*?port"?[=:](\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { port, child, dataDir };
}

class Editor {
  constructor(ws, welcome) {
    this.ws = ws;
    this.state = EditorState.create({ doc: welcome.doc.text, extensions: [collab({ startVersion: welcome.doc.version })] });
    this.inflight = false;
    this.pushes = 0;
    this.stale = 0;
    ws.on('message', (data) => this.onMessage(JSON.parse(data.toString())));
    ws.send(JSON.stringify({ type: 'doc.pull', version: welcome.doc.version }));
  }

  onMessage(msg) {
    if (msg.type === 'doc.updates') {
      const synced = getSyncedVersion(this.state);
      if (msg.from > synced) return this.ws.send(JSON.stringify({ type: 'doc.pull', version: synced }));
      const fresh = msg.updates.slice(synced - msg.from);
      if (fresh.length) {
        if (fresh.some((u) => u.clientID === getClientID(this.state))) this.inflight = false;
        const updates = fresh.map((u) => ({ clientID: u.clientID, changes: ChangeSet.fromJSON(u.changes) }));
        this.state = this.state.update(receiveUpdates(this.state, updates)).state;
      }
      this.push();
    } else if (msg.type === 'error' && msg.code === 'stale_version') {
      this.stale++;
      this.inflight = false;
      this.ws.send(JSON.stringify({ type: 'doc.pull', version: getSyncedVersion(this.state) }));
    } else if (msg.type === 'error') {
      throw new Error(`refused: ${JSON.stringify(msg)}`);
    }
  }

  push() {
    const updates = sendableUpdates(this.state);
    if (this.inflight || !updates.length) return;
    this.inflight = true;
    this.pushes++;
    this.ws.send(JSON.stringify({
      type: 'doc.push',
      version: getSyncedVersion(this.state),
      updates: updates.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })),
    }));
  }

  type() {
    // Typing at a spot of its own; the document is ASCII, so any position
    // is between characters.
    const len = this.state.doc.length;
    const from = Math.floor(Math.random() * (len + 1));
    const del = Math.random() < 0.2 && from < len ? 1 : 0;
    this.state = this.state.update({ changes: { from, to: from + del, insert: 'abc\n'[Math.floor(Math.random() * 4)] } }).state;
    this.push();
  }
}

const server = await start();
const base = `http://127.0.0.1:${server.port}`;
try {
  const room = await (await fetch(`${base}/api/rooms`, { method: 'POST', body: '{"kind":"code"}' })).json();
  const editors = [];
  for (let i = 0; i < EDITORS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/${room.id}`);
    const welcome = await new Promise((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString())));
      ws.once('error', reject);
    });
    editors.push(new Editor(ws, welcome));
  }
  await sleep(200);
  const v0 = (await (await fetch(`${base}/api/rooms/${room.id}/doc`)).json()).version;
  const cpu0 = cpuSeconds(server.child.pid);
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  while (performance.now() < until) {
    for (const e of editors) e.type();
    await sleep(INTERVAL_MS);
  }
  const t1 = performance.now();
  const serverCpu = cpuSeconds(server.child.pid) - cpu0;
  const v1 = (await (await fetch(`${base}/api/rooms/${room.id}/doc`)).json()).version;
  // Everyone settles on the server's text.
  const deadline = Date.now() + 30000;
  let doc;
  for (;;) {
    doc = await (await fetch(`${base}/api/rooms/${room.id}/doc`)).json();
    const done = editors.every((e) => !e.inflight && !sendableUpdates(e.state).length && getSyncedVersion(e.state) === doc.version);
    if (done) break;
    if (Date.now() > deadline) throw new Error('editors did not converge in 30 s');
    for (const e of editors) e.push();
    await sleep(50);
  }
  const same = editors.every((e) => e.state.doc.toString() === doc.text);
  const pushes = editors.reduce((n, e) => n + e.pushes, 0);
  const stale = editors.reduce((n, e) => n + e.stale, 0);
  const seconds = (t1 - t0) / 1000;
  console.log(JSON.stringify({
    editors: EDITORS,
    seconds: Number(seconds.toFixed(2)),
    accepted_updates: v1 - v0,
    accepted_updates_per_s: Math.round((v1 - v0) / seconds),
    pushes,
    stale_pushes: stale,
    final_version: doc.version,
    doc_bytes: Buffer.byteLength(doc.text),
    server_cpu_share: Number((serverCpu / seconds).toFixed(2)),
    converged: same,
  }));
  for (const e of editors) e.ws.close();
  if (!same) process.exitCode = 1;
} finally {
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.on('exit', r));
  rmSync(server.dataDir, { recursive: true, force: true });
}
