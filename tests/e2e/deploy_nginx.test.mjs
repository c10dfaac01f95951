// The nginx configuration tandem ships (deploy/nginx/tandem.conf), run for
// real: nginx started by the test on a free loopback port, its upstream
// pointed at tandem instances the test starts, and real clients talking to
// tandem only through it. Only the upstream servers, the listen address and
// the server name are rewritten, so the file under test is the file shipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { startServer } from './lib/server.mjs';
import { NGINX, startNginx as startShippedNginx } from './lib/nginx.mjs';
import { closeAll, openIdle, waitFor } from './lib/idle.mjs';

const skip = NGINX ? false : 'nginx is not installed (scripts/bootstrap installs it)';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const PING_MS = 400;

const nginxes = [];

// Every nginx of this file is stopped by the after() hook.
async function startNginx(upstreamPorts, opts) {
  const instance = await startShippedNginx(upstreamPorts, opts);
  nginxes.push(instance);
  return instance;
}

let one; // tandem A
let two; // tandem B, beside A behind the Socket.IO test's nginx
let front; // nginx -> A
let pair; // nginx -> A and B, as shipped (Socket.IO sticky by address)
const clients = [];

before(async () => {
  if (skip) return;
  const flags = ['--sio-ping-interval', `${PING_MS}ms`, '--sio-ping-timeout', `${PING_MS}ms`, '--sio-joins', '100'];
  one = await startServer(flags);
  two = await startServer(flags);
  front = await startNginx([one.port]);
  pair = await startNginx([one.port, two.port]);
});

after(async () => {
  clients.forEach((c) => c.close());
  for (const n of nginxes) await n.stop();
  if (one) assert.equal((await one.stop()).code, 0);
  if (two) assert.equal((await two.stop()).code, 0);
});

async function newRoom(base) {
  const res = await fetch(`${base}/api/rooms`, { method: 'POST', headers: { 'X-Forwarded-Proto': 'https' } });
  assert.equal(res.status, 201);
  return res.json();
}

// A WebSocket member that collects frames.
function member(url) {
  const ws = new WebSocket(url);
  clients.push(ws);
  const inbox = [];
  ws.on('message', (d) => inbox.push(JSON.parse(d.toString())));
  return {
    ws,
    async next(pred, ms = 5000) {
      const end = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > end) throw new Error(`no such frame; have ${JSON.stringify(inbox).slice(0, 400)}`);
        await sleep(20);
      }
    },
  };
}

test('health, readiness and /metrics answer through nginx', { skip }, async () => {
  assert.deepEqual(await (await fetch(`${front.url}/healthz`)).json(), { status: 'ok' });
  assert.deepEqual(await (await fetch(`${front.url}/readyz`)).json(), { status: 'ready', storage: 'ok' });
  const metrics = await fetch(`${front.url}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^tandem_open_connections\{protocol="ws"\} \d+$/m);
});

test('a room made over REST gets links to nginx\'s address, with the scheme nginx saw', { skip }, async () => {
  // The client's own X-Forwarded-Proto: https is replaced by nginx's $scheme.
  const room = await newRoom(front.url);
  assert.equal(room.url, `${front.url}/r/${room.id}`);
  const byCode = await fetch(`${front.url}/api/rooms/${room.code}`);
  assert.equal(byCode.status, 200);
  assert.equal((await byCode.json()).id, room.id);
});

test('WebSocket members (by id and by code) receive an item posted over REST', { skip }, async () => {
  const room = await newRoom(front.url);
  const byId = member(front.wsUrl(`/ws/${room.id}`));
  const byCode = member(front.wsUrl(`/ws/${room.code}`));
  assert.equal((await byId.next((f) => f.type === 'welcome')).room, room.id);
  assert.equal((await byCode.next((f) => f.type === 'welcome')).room, room.id);
  const res = await fetch(`${front.url}/api/rooms/${room.id}/items`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'through nginx' }),
  });
  assert.equal(res.status, 201);
  const { item } = await res.json();
  assert.deepEqual((await byId.next((f) => f.type === 'item')).item, item);
  assert.deepEqual((await byCode.next((f) => f.type === 'item')).item, item);
  byId.ws.close();
  byCode.ws.close();
});

test('a 20 MiB upload streams through nginx and downloads intact', { skip }, async () => {
  const room = await newRoom(front.url);
  const data = randomBytes(20 * 1024 * 1024);
  const watcher = member(front.wsUrl(`/ws/${room.id}`));
  await watcher.next((f) => f.type === 'welcome');
  const up = await fetch(`${front.url}/api/rooms/${room.id}/items?name=big.bin`, {
    method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: data,
  });
  const body = await up.json();
  assert.equal(up.status, 201, JSON.stringify(body));
  assert.equal(body.item.size, data.length);
  assert.equal(body.item.sha256, sha256(data));
  assert.equal((await watcher.next((f) => f.type === 'item')).item.id, body.item.id);
  const dl = await fetch(`${front.url}${body.item.url}`);
  assert.equal(dl.status, 200);
  assert.equal(sha256(Buffer.from(await dl.arrayBuffer())), body.item.sha256);
  const part = await fetch(`${front.url}${body.item.url}`, { headers: { Range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(100, 200));
  watcher.ws.close();
});

test('a body declared larger than 2 GiB is refused by nginx before tandem sees it', { skip }, async () => {
  const room = await newRoom(front.url);
  const reply = await new Promise((resolve, reject) => {
    const s = net.connect(front.port, '127.0.0.1');
    let got = '';
    // nginx answers at once but keeps reading (lingering close): the reply
    // is complete at its Content-Length.
    s.on('data', (d) => {
      got += d;
      const head = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      if (head >= 0 && len && got.length >= head + 4 + Number(len[1])) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer; got ${got}`)));
    s.write(`POST /api/rooms/${room.id}/items?name=huge.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${2 ** 31 + 1}\r\nConnection: close\r\n\r\n`);
  });
  assert.match(reply, /^HTTP\/1\.1 413 /);
  assert.match(reply, /<center>nginx<\/center>/, 'nginx\'s own page, without its version');
  const items = await (await fetch(`${front.url}/api/rooms/${room.id}/items`)).json();
  assert.equal(items.items.length, 0);
});

test('nginx passes X-Forwarded-For, X-Real-IP, its own X-Forwarded-Proto and the Host with its port', { skip }, async () => {
  // tandem itself does not read X-Forwarded-For (it logs and limits by the
  // connection's address, which is nginx's), so what nginx sends upstream is
  // read by a stand-in that echoes the headers it receives.
  const echo = createServer((req, res) => res.end(JSON.stringify(req.headers)));
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  try {
    const proxy = await startNginx([echo.address().port]);
    const res = await fetch(`${proxy.url}/api/anything`, {
      headers: { 'X-Forwarded-For': '203.0.113.9', 'X-Forwarded-Proto': 'https' },
    });
    const seen = await res.json();
    assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen['x-real-ip'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen.host, `127.0.0.1:${proxy.port}`);
    assert.equal(seen.connection, undefined, 'no Connection header: the upstream connection is kept alive');
  } finally {
    echo.closeAllConnections();
    await new Promise((r) => echo.close(r));
  }
});

test('idle WebSockets through nginx: each is counted by tandem and closes cleanly; memory reported', { skip }, async (t) => {
  const N = 2000;
  await closeAll(await openIdle(front.port, 100)); // warm-up: tables and pools that then stay
  await sleep(300);
  const nginxBefore = front.workerRssKiB();
  const tandemBefore = one.rssKiB();
  const sockets = await openIdle(front.port, N);
  await sleep(300);
  const nginxOpen = front.workerRssKiB();
  const tandemOpen = one.rssKiB();
  assert.match(await (await fetch(`${front.url}/metrics`)).text(), new RegExp(`tandem_open_connections\\{protocol="ws"\\} ${N}\\b`));
  const each = (before, open) => (((open - before) * 1024) / N).toFixed(0);
  t.diagnostic(`${N} idle WebSockets through nginx: nginx worker ${each(nginxBefore, nginxOpen)} B each ` +
    `(${nginxBefore} -> ${nginxOpen} KiB), tandem ${each(tandemBefore, tandemOpen)} B each (${tandemBefore} -> ${tandemOpen} KiB)`);
  await closeAll(sockets);
  const gone = async () => /tandem_open_connections\{protocol="ws"\} 0\b/.test(await (await fetch(`${front.url}/metrics`)).text());
  assert.ok(await waitFor(gone, 10000), 'tandem saw every connection close through nginx');
});

// ---------------------------------------------------------------------------
// Socket.IO behind two instances: long-polling sessions stay on the instance
// that opened them.

function sio(url, opts = {}) {
  const s = io(url, { reconnection: false, forceNew: true, ...opts });
  clients.push(s);
  return s;
}

function next(s, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event}`)), timeoutMs);
    s.once(event, (...args) => {
      clearTimeout(t);
      resolve(args.length > 1 ? args : args[0]);
    });
  });
}

async function privyRoom(base, roomId) {
  const res = await fetch(`${base}/api/create_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId }),
  });
  assert.equal(res.status, 200);
}

// Opens a raw Engine.IO polling session and polls it `polls` times; returns
// the status of each poll.
async function pollStatuses(base, polls) {
  const res = await fetch(`${base}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const open = JSON.parse((await res.text()).slice(1));
  const url = `${base}/socket.io/?EIO=4&transport=polling&sid=${open.sid}`;
  const statuses = [];
  for (let i = 0; i < polls; i++) {
    const r = await fetch(url);
    statuses.push({ status: r.status, body: await r.text() });
    if (r.status === 200 && statuses.at(-1).body === '2') await fetch(url, { method: 'POST', body: '3' }).then((p) => p.text());
  }
  await fetch(url, { method: 'POST', body: '1' }).then((p) => p.text());
  return statuses;
}

test('PrivyDrop over Socket.IO: polling, the upgrade to websocket, and a polling-only peer, through two instances', { skip }, async () => {
  await privyRoom(pair.url, 'behind-nginx');
  const ws = sio(pair.url, { transports: ['websocket'] });
  await next(ws, 'connect');
  assert.equal((await ws.emitWithAck('join', { roomId: 'behind-nginx' })).success, true);

  // The official client's default: polling first, then the upgrade.
  const up = sio(pair.url, { transports: ['polling', 'websocket'] });
  const upgraded = new Promise((resolve) => up.io.on('open', () => up.io.engine.once('upgrade', (t) => resolve(t.name))));
  await next(up, 'connect');
  assert.equal(await upgraded, 'websocket');
  const ready = next(ws, 'ready');
  assert.equal((await up.emitWithAck('join', { roomId: 'behind-nginx' })).success, true);
  assert.deepEqual(await ready, { peerId: up.id });
  const offer = next(up, 'offer');
  ws.emit('offer', { peerId: up.id, offer: { sdp: 'via nginx' }, from: ws.id });
  assert.equal((await offer).offer.sdp, 'via nginx');

  // Polling only, kept alive across several ping intervals: every poll and
  // post of the session has to reach the same instance.
  const poll = sio(pair.url, { transports: ['polling'] });
  await next(poll, 'connect');
  const ready2 = next(ws, 'ready');
  assert.equal((await poll.emitWithAck('join', { roomId: 'behind-nginx' })).success, true);
  assert.deepEqual(await ready2, { peerId: poll.id });
  await sleep(PING_MS * 4);
  assert.equal(poll.connected, true, 'the polling session survived its heartbeats');
  const answer = next(ws, 'answer');
  poll.emit('answer', { peerId: ws.id, answer: { sdp: 'from polling' }, from: poll.id });
  assert.equal((await answer).answer.sdp, 'from polling');
  [ws, up, poll].forEach((s) => s.close());
});

test('every request of a polling session reaches one instance; without the hash they would not', { skip }, async () => {
  const sticky = await pollStatuses(pair.url, 4);
  assert.deepEqual(sticky.map((s) => s.status), [200, 200, 200, 200]);
  assert.equal(pair.upstreamsOf('/socket.io/').size, 1, 'one client address, one instance');
  // The same file with the sticky line taken out: nginx's default round
  // robin sends the session's polls to the instance that never opened it.
  const spread = await startNginx([one.port, two.port], { sticky: false });
  const lost = await pollStatuses(spread.url, 4);
  const unknown = lost.find((s) => s.status === 400);
  assert.ok(unknown, `a poll should have hit the other instance: ${JSON.stringify(lost)}`);
  assert.match(unknown.body, /Session ID unknown/);
});

// ---------------------------------------------------------------------------
// The upgrade of docs/operations.md: a second instance on the same data
// directory, nginx moved to it by a reload, the first drained by SIGTERM.

test('an upgrade: the new instance takes over the data, the old one drains, members reconnect through nginx', { skip }, async () => {
  const shared = mkdtempSync(join(tmpdir(), 'tandem-upgrade-'));
  try {
    const old = await startServer(['--data-dir', shared]);
    const proxy = await startNginx([old.port]);
    const room = await newRoom(proxy.url);
    const post = (text) => fetch(`${proxy.url}/api/rooms/${room.id}/items`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }),
    });
    const first = member(proxy.wsUrl(`/ws/${room.id}`));
    await first.next((f) => f.type === 'welcome');
    const closed = new Promise((resolve) => first.ws.on('close', (code) => resolve(code)));
    assert.equal((await post('before the upgrade')).status, 201);
    await first.next((f) => f.type === 'item');

    const next = await startServer(['--data-dir', shared]);
    assert.equal((await fetch(`${next.url}/readyz`)).status, 200);
    proxy.reload([next.port]);
    const nextAddr = `127.0.0.1:${next.port}`;
    // The old worker closes its idle keep-alive connections as it leaves, so
    // a request that raced onto one fails: clients retry such idempotent
    // requests, and so does this loop.
    for (let i = 0; i < 50 && !proxy.upstreamsOf('/healthz').has(nextAddr); i++) {
      await fetch(`${proxy.url}/healthz`).then((r) => r.text(), () => null);
      await sleep(100);
    }
    assert.ok(proxy.upstreamsOf('/healthz').has(nextAddr), 'nginx sends new requests to the new instance');

    assert.equal((await old.stop()).code, 0);
    assert.equal(await closed, 1001, 'the old instance said it was going away');

    const again = member(proxy.wsUrl(`/ws/${room.id}?after=1`));
    assert.equal((await again.next((f) => f.type === 'welcome')).room, room.id);
    assert.equal((await post('after the upgrade')).status, 201);
    assert.equal((await again.next((f) => f.type === 'item')).item.text, 'after the upgrade');
    const list = await (await fetch(`${proxy.url}/api/rooms/${room.id}/items`)).json();
    assert.deepEqual(list.items.map((i) => i.text), ['before the upgrade', 'after the upgrade']);
    assert.deepEqual(proxy.upstreamsOf(`/api/rooms/${room.id}/items`),
      new Set([`127.0.0.1:${old.port}`, nextAddr]), 'the items were posted through both instances');
    again.ws.close();
    assert.equal((await next.stop()).code, 0);
  } finally {
    rmSync(shared, { recursive: true, force: true });
  }
});
