// Three tandem instances sharing rooms through one Redis (--redis): members
// of a room spread over them see each other and every event in one order,
// signals and PrivyDrop's Socket.IO events cross instances, a killed
// instance's members leave everyone's lists within the TTL, and a Redis
// restart degrades /readyz and then resumes delivery.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { runTandem, startServer } from './lib/server.mjs';
import { sleep } from './lib/raw.mjs';
import { freePort, redisCli as cli, startRedis } from './lib/redis.mjs';

let redis;
let redisPort;
let redisDir;
const instances = {};

async function until(what, check, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function stopRedis() {
  if (!redis) return;
  await redis.stop();
  redis = null;
}

function redisCli(...args) {
  return cli(redisPort, ...args);
}

async function readyz(server) {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

before(async () => {
  redisDir = mkdtempSync(join(tmpdir(), 'tandem-redis-'));
  redisPort = await freePort();
  redis = await startRedis(redisPort, redisDir);
  for (const id of ['A', 'B', 'C']) {
    instances[id] = await startServer(['--redis', `redis://127.0.0.1:${redisPort}`, '--instance-id', id,
      '--sio-joins', '3', '--sio-join-window', '30s']);
  }
  for (const s of Object.values(instances)) await until('ready', async () => (await readyz(s)).status === 200);
  assert.deepEqual((await readyz(instances.A)).body, { status: 'ready', storage: 'ok', redis: 'ok' });
});

after(async () => {
  for (const s of Object.values(instances)) {
    const { code, signal } = await s.stop();
    if (!s.killed) assert.equal(code, 0, `an instance did not stop cleanly (${signal})`);
  }
  await stopRedis();
  rmSync(redisDir, { recursive: true, force: true });
});

test('a bad --redis URL or --instance-id stops the start with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-redis-flags-'));
  try {
    const url = await runTandem(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--redis', 'http://127.0.0.1:1']);
    assert.equal(url.code, 2);
    assert.match(url.stderr, /--redis: expected redis:\/\/host:port\[\/db\]/);
    const id = await runTandem(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir],
      { env: { TANDEM_REDIS: `redis://127.0.0.1:${redisPort}`, TANDEM_INSTANCE_ID: 'no spaces' } });
    assert.equal(id.code, 2);
    assert.match(id.stderr, /--instance-id: 1-32 characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A native member of room `room` on instance `id`.
function member(id, room) {
  const ws = new WebSocket(instances[id].wsUrl(`/ws/${room}`));
  const text = [];
  const all = [];
  const binary = [];
  ws.on('message', (d, isBinary) => {
    if (isBinary) return binary.push(Buffer.from(d));
    const m = JSON.parse(d.toString());
    text.push(m);
    all.push(m);
  });
  const next = async (pred, ms = 5000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = text.findIndex(pred);
      if (i >= 0) return text.splice(i, 1)[0];
      if (Date.now() > end) throw new Error(`nothing matched on ${id}; have ${JSON.stringify(text).slice(0, 400)}`);
      await sleep(20);
    }
  };
  return { ws, all, binary, next, welcome: () => next((m) => m.type === 'welcome') };
}

test('members spread over three instances see joins, leaves and broadcasts in one order', async () => {
  const a1 = member('A', 'spread');
  const wa1 = await a1.welcome();
  const b1 = member('B', 'spread');
  const wb1 = await b1.welcome();
  assert.deepEqual(wb1.peers.map((p) => p.peer_id), [wa1.peer_id], 'the welcome lists the member on A');
  assert.equal((await a1.next((m) => m.type === 'peer.joined')).peer_id, wb1.peer_id);
  const c1 = member('C', 'spread');
  const wc1 = await c1.welcome();
  assert.deepEqual(wc1.peers.map((p) => p.peer_id).sort(), [wa1.peer_id, wb1.peer_id].sort());
  assert.equal(wc1.peer_count, 2);
  for (const m of [a1, b1]) assert.equal((await m.next((x) => x.type === 'peer.joined')).peer_id, wc1.peer_id);
  const a2 = member('A', 'spread');
  const b2 = member('B', 'spread');
  const c2 = member('C', 'spread');
  const ids = {};
  for (const [name, m] of Object.entries({ a2, b2, c2 })) ids[name] = (await m.welcome()).peer_id;
  for (const m of [a1, b1, c1]) {
    await until('every later join heard', () => Object.values(ids).every((id) =>
      m.all.some((x) => x.type === 'peer.joined' && x.peer_id === id)), 5000);
  }
  // Two senders on two instances, interleaved: every other member hears
  // both senders' signals in the same order.
  const N = 20;
  for (let i = 0; i < N; i++) {
    a1.ws.send(JSON.stringify({ type: 'signal', data: { n: `a${i}` } }));
    b1.ws.send(JSON.stringify({ type: 'signal', data: { n: `b${i}` } }));
  }
  const heard = (m) => m.all.filter((x) => x.type === 'signal').map((x) => x.data.n);
  const listeners = [c1, a2, b2, c2];
  await until('all signals delivered', () => listeners.every((m) => heard(m).length === 2 * N), 10000);
  const order = heard(c1);
  for (const m of listeners) assert.deepEqual(heard(m), order, 'one order on every instance');
  assert.deepEqual(order.filter((n) => n.startsWith('a')), Array.from({ length: N }, (_, i) => `a${i}`));
  await until('senders hear each other', () =>
    heard(a1).length === N && heard(b1).length === N, 5000);
  // A leave on C reaches A and B.
  c2.ws.close();
  for (const m of [a1, b1, a2]) assert.equal((await m.next((x) => x.type === 'peer.left')).peer_id, ids.c2);
  for (const m of [a1, b1, c1, a2, b2]) m.ws.close();
});

test('a signal and a relay frame reach a peer on another instance; an unknown peer is an error', async () => {
  const a = member('A', 'direct-x');
  const wa = await a.welcome();
  const b = member('B', 'direct-x');
  const wb = await b.welcome();
  a.ws.send(JSON.stringify({ type: 'signal', to: wb.peer_id, data: { sdp: 'offer-1' } }));
  const got = await b.next((m) => m.type === 'signal');
  assert.deepEqual(got, { type: 'signal', from: wa.peer_id, data: { sdp: 'offer-1' } });
  b.ws.send(JSON.stringify({ type: 'signal', to: wa.peer_id, data: { sdp: 'answer-1' } }));
  assert.equal((await a.next((m) => m.type === 'signal')).from, wb.peer_id);
  a.ws.send(JSON.stringify({ type: 'signal', to: 'AAAAAAAAAAAA', data: {} }));
  assert.equal((await a.next((m) => m.type === 'error')).code, 'unknown_peer');
  // The relay of last resort crosses too: the target's id in front, the
  // sender's in its place on arrival.
  const bin = b.binary;
  a.ws.send(Buffer.concat([Buffer.from(wb.peer_id), Buffer.from([1, 2, 3, 250])]));
  await until('relayed frame', () => bin.length === 1, 5000);
  assert.deepEqual(bin[0], Buffer.concat([Buffer.from(wa.peer_id), Buffer.from([1, 2, 3, 250])]));
  a.ws.send(Buffer.concat([Buffer.from('BBBBBBBBBBBB'), Buffer.from([1])]));
  assert.equal((await a.next((m) => m.type === 'error')).code, 'unknown_peer');
  a.ws.close();
  b.ws.close();
});

function sioClient(id) {
  const s = io(instances[id].url, { transports: ['websocket'], reconnection: false, forceNew: true });
  const events = [];
  s.onAny((name, payload) => events.push({ name, payload }));
  const next = async (name, ms = 5000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = events.findIndex((e) => e.name === name);
      if (i >= 0) return events.splice(i, 1)[0].payload;
      if (Date.now() > end) throw new Error(`no ${name} on ${id}; have ${JSON.stringify(events).slice(0, 300)}`);
      await sleep(20);
    }
  };
  return { s, next, connected: new Promise((resolve) => s.on('connect', resolve)) };
}

test('PrivyDrop over Socket.IO: a room made on A is joined on B and C; offers, answers and candidates cross', async () => {
  const made = await fetch(`${instances.A.url}/api/create_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: 'pd-shared' }),
  });
  assert.deepEqual(await made.json(), { success: true, message: 'Room created' });
  const again = await fetch(`${instances.C.url}/api/create_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: 'pd-shared' }),
  });
  assert.equal((await again.json()).success, false, 'taken on every instance');
  const check = await fetch(`${instances.B.url}/api/check_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: 'pd-shared' }),
  });
  assert.deepEqual(await check.json(), { available: false });
  const got = await (await fetch(`${instances.B.url}/api/get_room`)).json();
  const seen = await fetch(`${instances.C.url}/api/check_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: got.roomId }),
  });
  assert.deepEqual(await seen.json(), { available: false }, 'get_room on B is seen on C');

  const b = sioClient('B');
  const c = sioClient('C');
  await Promise.all([b.connected, c.connected]);
  b.s.emit('join', { roomId: 'pd-shared' });
  assert.equal((await b.next('joinResponse')).success, true);
  c.s.emit('join', { roomId: 'pd-shared' });
  assert.equal((await c.next('joinResponse')).success, true);
  assert.equal((await b.next('ready')).peerId, c.s.id, 'B hears C join on another instance');
  const nope = sioClient('C');
  await nope.connected;
  nope.s.emit('join', { roomId: 'pd-never-made' });
  assert.deepEqual(await nope.next('joinResponse'),
    { success: false, message: 'Room does not exist', roomId: 'pd-never-made' });
  nope.s.close();
  // The join limit (3 in 30 s here) counts this address's joins on every
  // instance: A has seen none itself, yet refuses the fourth.
  const fourth = sioClient('A');
  await fourth.connected;
  fourth.s.emit('join', { roomId: 'pd-shared' });
  assert.match((await fourth.next('joinResponse')).message, /^Too many join attempts/);
  fourth.s.close();

  // PrivyDrop's own keys, as its backend keeps them.
  assert.match(redisCli('HGET', 'room:pd-shared', 'created_at'), /^\d{13}$/);
  assert.equal(redisCli('SISMEMBER', 'room:pd-shared:sockets', b.s.id), '1');
  assert.equal(redisCli('HGET', `socket:${c.s.id}`, 'roomId'), 'pd-shared');
  assert.equal(redisCli('ZCARD', 'ratelimit:join:127.0.0.1'), '4', 'every join of this address, on any instance');
  assert.ok(Number(redisCli('PTTL', 'room:pd-shared')) > 0, 'the room expires');

  c.s.emit('offer', { peerId: b.s.id, offer: { type: 'offer', sdp: 'v=0 c' } });
  assert.deepEqual(await b.next('offer'), { peerId: c.s.id, offer: { type: 'offer', sdp: 'v=0 c' } });
  b.s.emit('answer', { peerId: c.s.id, answer: { type: 'answer', sdp: 'v=0 b' } });
  assert.deepEqual(await c.next('answer'), { peerId: b.s.id, answer: { type: 'answer', sdp: 'v=0 b' } });
  b.s.emit('ice-candidate', { peerId: c.s.id, candidate: { candidate: 'candidate:1', sdpMid: '0' } });
  assert.deepEqual((await c.next('ice-candidate')).candidate, { candidate: 'candidate:1', sdpMid: '0' });
  c.s.emit('recipient-ready', { roomId: 'pd-shared', peerId: c.s.id });
  assert.equal((await b.next('recipient-ready')).peerId, c.s.id);
  // tandem's own client on A meets them, each side in its own protocol.
  const n = member('A', 'pd-shared');
  const wn = await n.welcome();
  assert.deepEqual(wn.peers.map((p) => p.peer_id).sort(), [b.s.id, c.s.id].sort());
  for (const p of wn.peers) assert.deepEqual(Object.keys(p).sort(), ['device', 'name', 'peer_id'], 'listed as peers are');
  assert.equal((await b.next('ready')).peerId, wn.peer_id);
  n.ws.send(JSON.stringify({ type: 'signal', to: b.s.id, data: { description: { type: 'offer', sdp: 'v=0 n' } } }));
  assert.deepEqual(await b.next('offer'), { peerId: wn.peer_id, offer: { type: 'offer', sdp: 'v=0 n' }, from: wn.peer_id });
  b.s.emit('answer', { peerId: wn.peer_id, answer: { type: 'answer', sdp: 'v=0 b2' } });
  assert.deepEqual(await n.next((m) => m.type === 'signal'),
    { type: 'signal', from: b.s.id, data: { description: { type: 'answer', sdp: 'v=0 b2' } } });
  n.ws.close();
  assert.equal((await b.next('peer-disconnected')).peerId, wn.peer_id);

  // POST /api/leave_room reaches the socket's instance, whichever is asked.
  const leave = (socketId) => fetch(`${instances.A.url}/api/leave_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: 'pd-shared', socketId }),
  }).then((res) => res.json());
  assert.deepEqual(await leave(c.s.id), { success: true, message: 'Left the room' });
  assert.equal((await b.next('peer-disconnected')).peerId, c.s.id);
  assert.equal((await leave('nosuchsocket')).success, false);
  c.s.close();
  b.s.close();
});

test('Redis restarts: /readyz says degraded meanwhile, local members still talk, delivery resumes', async () => {
  const a1 = member('A', 'outage');
  await a1.welcome();
  const a2 = member('A', 'outage');
  const wa2 = await a2.welcome();
  const b = member('B', 'outage');
  const wb = await b.welcome();
  await stopRedis();
  await until('A degraded', async () => (await readyz(instances.A)).status === 503, 5000);
  const r = await readyz(instances.A);
  assert.equal(r.body.status, 'degraded');
  assert.equal(r.body.redis, 'unreachable');
  const metricsText = async (s) => (await fetch(`${s.url}/metrics`)).text();
  assert.match(await metricsText(instances.A), /^tandem_redis_up 0$/m);
  assert.match(r.body.message, /redis is unreachable/);
  a1.ws.send(JSON.stringify({ type: 'signal', to: wa2.peer_id, data: { n: 'local' } }));
  assert.equal((await a2.next((m) => m.type === 'signal')).data.n, 'local');
  a1.ws.send(JSON.stringify({ type: 'signal', data: { n: 'broadcast-while-down' } }));
  assert.equal((await a2.next((m) => m.type === 'signal')).data.n, 'broadcast-while-down');

  redis = await startRedis(redisPort, redisDir);
  for (const s of [instances.A, instances.B]) await until('ready again', async () => (await readyz(s)).status === 200, 10000);
  assert.match(await metricsText(instances.A), /^tandem_redis_up 1$/m);
  assert.match(await metricsText(instances.B), /^tandem_bus_messages_total\{direction="received"\} [1-9]\d*$/m);
  a1.ws.send(JSON.stringify({ type: 'signal', data: { n: 'after' } }));
  const heard = await b.next((m) => m.type === 'signal' && m.data.n === 'after', 5000);
  assert.equal(heard.data.n, 'after');
  b.ws.send(JSON.stringify({ type: 'signal', to: wa2.peer_id, data: { n: 'routed-after' } }));
  assert.equal((await a2.next((m) => m.type === 'signal' && m.data.n === 'routed-after', 5000)).from, wb.peer_id);
  for (const m of [a1, a2, b]) m.ws.close();
});

test('an instance stopped past the TTL comes back: its members leave, then join again', { timeout: 60000 }, async () => {
  const a = member('A', 'pause');
  const wa = await a.welcome();
  const c = member('C', 'pause');
  const wc = await c.welcome();
  await a.next((m) => m.type === 'peer.joined' && m.peer_id === wc.peer_id);
  instances.C.child.kill('SIGSTOP');
  try {
    assert.equal((await a.next((m) => m.type === 'peer.left', 30000)).peer_id, wc.peer_id);
  } finally {
    instances.C.child.kill('SIGCONT');
  }
  assert.equal((await a.next((m) => m.type === 'peer.joined', 15000)).peer_id, wc.peer_id);
  a.ws.send(JSON.stringify({ type: 'signal', to: wc.peer_id, data: { n: 'welcome back' } }));
  assert.equal((await c.next((m) => m.type === 'signal' && m.data.n === 'welcome back')).from, wa.peer_id);
  a.ws.close();
  c.ws.close();
});

test('kill -9 of an instance: its members leave the others\' lists within the TTL', { timeout: 60000 }, async () => {
  const a = member('A', 'crash');
  const wa = await a.welcome();
  const c = member('C', 'crash');
  const wc = await c.welcome();
  const c2 = member('C', 'crash');
  const wc2 = await c2.welcome();
  for (const w of [wc, wc2]) await a.next((m) => m.type === 'peer.joined' && m.peer_id === w.peer_id);
  instances.C.killed = true;
  instances.C.child.kill('SIGKILL');
  await instances.C.exited;
  const gone = [(await a.next((m) => m.type === 'peer.left', 30000)).peer_id,
    (await a.next((m) => m.type === 'peer.left', 5000)).peer_id];
  assert.deepEqual(gone.sort(), [wc.peer_id, wc2.peer_id].sort());
  const later = member('B', 'crash');
  const wl = await later.welcome();
  assert.deepEqual(wl.peers.map((p) => p.peer_id), [wa.peer_id], 'only the living are listed to a newcomer');
  a.ws.close();
  later.ws.close();
});
