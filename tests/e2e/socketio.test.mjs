// Socket.IO at /socket.io/ with the official socket.io-client (websocket
// transport) and raw WebSockets for what the client hides: the open packet,
// heartbeats, malformed packets. PrivyDrop's signaling events end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { startServer } from './lib/server.mjs';

const PING_MS = 300;
const ADMIN_TOKEN = 'operator-secret-0123456789';
let server;
before(async () => {
  server = await startServer([
    '--sio-ping-interval', `${PING_MS}ms`, '--sio-ping-timeout', `${PING_MS}ms`,
    '--sio-max-payload', '4K', '--sio-joins', '1000', '--admin-token', ADMIN_TOKEN,
  ]);
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clients = [];

function client(url = server.url, opts = {}) {
  const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
  clients.push(s);
  return s;
}

async function connected(url, opts) {
  const s = client(url, opts);
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return s;
}

function next(s, event, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event}`)), timeoutMs);
    s.once(event, (...args) => {
      clearTimeout(t);
      resolve(args.length > 1 ? args : args[0]);
    });
  });
}

// Collects every event a socket gets, to prove what it did NOT receive.
function recorder(s) {
  const seen = [];
  s.onAny((event, ...args) => seen.push({ event, args }));
  return seen;
}

// Makes a PrivyDrop room through the REST route (joins need one).
async function room(roomId, srv = server) {
  const res = await fetch(`${srv.url}/api/create_room`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ roomId }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

async function joinedRoom(roomId) {
  await room(roomId);
  const s = await connected();
  const resp = await s.emitWithAck('join', { roomId });
  assert.equal(resp.success, true);
  return s;
}

after(() => clients.forEach((s) => s.close()));

// A raw Engine.IO WebSocket: messages as strings, in order.
async function raw() {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
  const msgs = [];
  let wake = null;
  ws.on('message', (d, isBinary) => {
    msgs.push(isBinary ? d : d.toString());
    wake?.();
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const take = async (pred = () => true, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = msgs.findIndex(pred);
      if (i >= 0) return msgs.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no message; have ${JSON.stringify(msgs)}`);
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return { ws, msgs, take, closed };
}

test('the open packet has sid, no upgrades, the ping settings and maxPayload', async () => {
  const { ws, take } = await raw();
  const open = await take();
  assert.equal(open[0], '0');
  const o = JSON.parse(open.slice(1));
  assert.match(o.sid, /^[A-Za-z0-9]{20}$/);
  assert.deepEqual(o.upgrades, []);
  assert.equal(o.pingInterval, PING_MS);
  assert.equal(o.pingTimeout, PING_MS);
  assert.equal(o.maxPayload, 4096);
  ws.send('40');
  const conn = await take((m) => m.startsWith('40'));
  assert.match(JSON.parse(conn.slice(2)).sid, /^[A-Za-z0-9]{12}$/);
  ws.close();
});

test('the official client connects over websocket and its id is stable', async () => {
  const s = await connected();
  assert.match(s.id, /^[A-Za-z0-9]{12}$/);
  assert.equal(s.io.engine.transport.name, 'websocket');
  s.close();
});

test('the server pings and a client that answers stays connected', async () => {
  const s = await connected();
  let pings = 0;
  s.io.engine.on('ping', () => pings++);
  await sleep(PING_MS * 4);
  assert.ok(pings >= 2, `pings: ${pings}`);
  assert.equal(s.connected, true);
  s.close();
});

test('a client that stops answering pings is dropped and its room told', async () => {
  const watcher = await joinedRoom('heartbeat');
  const { ws, take, closed } = await raw();
  await take((m) => m[0] === '0');
  ws.send('40');
  const sid = JSON.parse((await take((m) => m.startsWith('40'))).slice(2)).sid;
  ws.send('42["join",{"roomId":"heartbeat"}]');
  await take((m) => m.startsWith('42["joinResponse"'));
  const gone = next(watcher, 'peer-disconnected', PING_MS * 6);
  await take((m) => m === '2'); // a ping, left unanswered
  assert.deepEqual(await gone, { peerId: sid });
  await closed;
});

test('unknown namespaces get CONNECT_ERROR', async () => {
  const s = client(`${server.url}/admin`);
  const err = await next(s, 'connect_error');
  assert.equal(err.message, 'Invalid namespace');
});

test('acks from the server answer the client: join and unknown events', async () => {
  await room('acks');
  const s = await connected();
  const resp = await s.emitWithAck('join', { roomId: 'acks' });
  assert.deepEqual(resp, { success: true, message: 'Successfully joined room', roomId: 'acks' });
  const none = await new Promise((resolve) => s.emit('no-such-event', { x: 1 }, (...args) => resolve(args)));
  assert.deepEqual(none, []);
  s.close();
});

test('PrivyDrop flow with three clients: ready, directed signals, room events, disconnect', async () => {
  await room('flow-1');
  const a = await connected();
  const b = await connected();
  const c = await connected();
  const seenA = recorder(a), seenB = recorder(b), seenC = recorder(c);
  const joinA = next(a, 'joinResponse');
  a.emit('join', { roomId: 'flow-1' });
  assert.deepEqual(await joinA, { success: true, message: 'Successfully joined room', roomId: 'flow-1' });

  const readyForA = next(a, 'ready');
  assert.equal((await b.emitWithAck('join', { roomId: 'flow-1' })).success, true);
  assert.deepEqual(await readyForA, { peerId: b.id });

  const readyA2 = next(a, 'ready'), readyB = next(b, 'ready');
  await c.emitWithAck('join', { roomId: 'flow-1' });
  assert.deepEqual(await readyA2, { peerId: c.id });
  assert.deepEqual(await readyB, { peerId: c.id });

  // offer A -> B: only B, with peerId rewritten to A and from kept.
  const offer = next(b, 'offer');
  a.emit('offer', { peerId: b.id, offer: { type: 'offer', sdp: 'v=0 a' }, from: a.id });
  assert.deepEqual(await offer, { peerId: a.id, offer: { type: 'offer', sdp: 'v=0 a' }, from: a.id });
  const answer = next(a, 'answer');
  b.emit('answer', { peerId: a.id, answer: { type: 'answer', sdp: 'v=0 b' }, from: b.id });
  assert.deepEqual(await answer, { peerId: b.id, answer: { type: 'answer', sdp: 'v=0 b' }, from: b.id });
  const cand = next(b, 'ice-candidate');
  a.emit('ice-candidate', { peerId: b.id, candidate: { candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host' }, from: a.id });
  assert.equal((await cand).peerId, a.id);

  // Room events go to the others in the room.
  const onlineB = next(b, 'initiator-online'), onlineC = next(c, 'initiator-online');
  a.emit('initiator-online', { roomId: 'flow-1' });
  assert.deepEqual(await onlineB, { roomId: 'flow-1' });
  assert.deepEqual(await onlineC, { roomId: 'flow-1' });
  const rrA = next(a, 'recipient-ready'), rrC = next(c, 'recipient-ready');
  b.emit('recipient-ready', { roomId: 'flow-1', peerId: b.id });
  assert.deepEqual(await rrA, { roomId: 'flow-1', peerId: b.id });
  assert.deepEqual(await rrC, { roomId: 'flow-1', peerId: b.id });

  await sleep(100);
  const names = (seen) => seen.map((e) => e.event).filter((e) => e !== 'joinResponse');
  assert.deepEqual(names(seenC), ['initiator-online', 'recipient-ready']);
  assert.deepEqual(names(seenA), ['ready', 'ready', 'answer', 'recipient-ready']);
  assert.deepEqual(names(seenB), ['ready', 'offer', 'ice-candidate', 'initiator-online']);
  assert.ok(!seenA.some((e) => e.event === 'initiator-online'), 'the sender does not get its own event');

  const goneA = next(a, 'peer-disconnected'), goneB = next(b, 'peer-disconnected');
  const cid = c.id;
  c.disconnect();
  assert.deepEqual(await goneA, { peerId: cid });
  assert.deepEqual(await goneB, { peerId: cid });
  a.close();
  b.close();
});

test('signals to a peer in another room, or to no one, go nowhere', async () => {
  const a = await joinedRoom('iso-1');
  const b = await joinedRoom('iso-2');
  const seenB = recorder(b);
  a.emit('offer', { peerId: b.id, offer: {}, from: a.id });
  a.emit('offer', { peerId: 'nobody', offer: {}, from: a.id });
  a.emit('initiator-online', { roomId: 'iso-2' });
  await sleep(200);
  assert.deepEqual(seenB, []);
  a.close();
  b.close();
});

test('binary payloads are relayed with their attachments, to a peer and to a room', async () => {
  const a = await joinedRoom('binary');
  const b = await joinedRoom('binary');
  const offer = next(b, 'offer');
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  a.emit('offer', { peerId: b.id, offer: { blob: bytes, more: [Buffer.from('hi')] }, from: a.id });
  const got = await offer;
  assert.equal(got.peerId, a.id);
  assert.deepEqual(Buffer.from(got.offer.blob), bytes);
  assert.equal(Buffer.from(got.offer.more[0]).toString(), 'hi');
  const online = next(a, 'initiator-online');
  b.emit('initiator-online', { roomId: 'binary', data: new Uint8Array([9, 8, 7]) });
  assert.deepEqual([...new Uint8Array((await online).data)], [9, 8, 7]);
  a.close();
  b.close();
});

test('join with an invalid room id fails with a message', async () => {
  const s = await connected();
  const resp = await s.emitWithAck('join', { roomId: 'bad room!' });
  assert.deepEqual(resp, { success: false, message: 'Invalid room ID', roomId: 'bad room!' });
  const missing = await s.emitWithAck('join', {});
  assert.equal(missing.success, false);
  s.close();
});

test('a packet over maxPayload closes the session', async () => {
  const s = await connected();
  const reason = next(s, 'disconnect');
  s.emit('offer', { peerId: 'x', offer: 'y'.repeat(5000) });
  assert.equal((await reason)[0], 'transport close');
});

test('a malformed packet closes the session with a logged reason', async () => {
  const { ws, take, closed } = await raw();
  await take((m) => m[0] === '0');
  ws.send('40');
  await take((m) => m.startsWith('40'));
  ws.send('42{"not":"an array"}');
  assert.equal(await closed, 1008);
  await sleep(100);
  assert.match(server.log, /sio\.protocol_error/);
});

test('binary data with no binary packet closes the session', async () => {
  const { ws, take, closed } = await raw();
  await take((m) => m[0] === '0');
  ws.send('40');
  await take((m) => m.startsWith('40'));
  ws.send(Buffer.from([1, 2, 3]));
  assert.equal(await closed, 1008);
});

test('bad handshakes get the Engine.IO error body with status 400', async () => {
  const cases = [
    ['/socket.io/?EIO=3&transport=websocket', 5, 'Unsupported protocol version'],
    ['/socket.io/?EIO=4&transport=carrier-pigeon', 0, 'Transport unknown'],
    ['/socket.io/?EIO=4&transport=websocket&sid=nope', 1, 'Session ID unknown'],
  ];
  for (const [path, code, message] of cases) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 400, path);
    assert.deepEqual(await res.json(), { code, message });
  }
});

test('joins are rate limited per address: 2 in 5 s by default', async () => {
  const limited = await startServer([]);
  try {
    for (const id of ['rl-1', 'rl-2', 'rl-3']) await room(id, limited);
    const s = await connected(limited.url);
    assert.equal((await s.emitWithAck('join', { roomId: 'rl-1' })).success, true);
    assert.equal((await s.emitWithAck('join', { roomId: 'rl-2' })).success, true);
    const third = await s.emitWithAck('join', { roomId: 'rl-3' });
    assert.equal(third.success, false);
    assert.equal(third.roomId, 'rl-3');
    assert.match(third.message, /^Too many join attempts\. Please try again in [1-5] seconds\.$/);
    s.close();
  } finally {
    await limited.stop();
  }
});

// ---------------------------------------------------------------------------
// Long-polling, and the upgrade the official client makes by default.

// A raw polling session over fetch: open, then POST and GET by hand.
async function rawPolling(base = server.url, headers = {}) {
  const res = await fetch(`${base}/socket.io/?EIO=4&transport=polling`, { headers });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(text[0], '0');
  const open = JSON.parse(text.slice(1));
  const url = `${base}/socket.io/?EIO=4&transport=polling&sid=${open.sid}`;
  return {
    open,
    res,
    url,
    post: (body) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' } }),
    get: () => fetch(url).then(async (r) => ({ status: r.status, body: await r.text() })),
  };
}

test('the official client starts on polling and upgrades to websocket', async () => {
  const a = client(server.url, { transports: ['polling', 'websocket'] });
  const upgraded = new Promise((resolve) => a.io.on('open', () => a.io.engine.once('upgrade', (t) => resolve(t.name))));
  await next(a, 'connect');
  assert.equal(await upgraded, 'websocket');
  const b = await joinedRoom('upgrade-1');
  const ready = next(b, 'ready');
  assert.equal((await a.emitWithAck('join', { roomId: 'upgrade-1' })).success, true);
  assert.deepEqual(await ready, { peerId: a.id });
  const offer = next(a, 'offer');
  b.emit('offer', { peerId: a.id, offer: { sdp: 'after upgrade' }, from: b.id });
  assert.equal((await offer).offer.sdp, 'after upgrade');
  a.close();
  b.close();
});

test('a polling-only client does the PrivyDrop flow, binary included, both ways', async () => {
  const p = await connected(server.url, { transports: ['polling'] });
  assert.equal(p.io.engine.transport.name, 'polling');
  const w = await joinedRoom('poll-1');
  const ready = next(w, 'ready');
  assert.equal((await p.emitWithAck('join', { roomId: 'poll-1' })).success, true);
  assert.deepEqual(await ready, { peerId: p.id });
  const toPoll = next(p, 'offer');
  w.emit('offer', { peerId: p.id, offer: { sdp: 's' }, blob: Buffer.from([0, 255, 7]), from: w.id });
  const got = await toPoll;
  assert.equal(got.peerId, w.id);
  assert.deepEqual([...Buffer.from(got.blob)], [0, 255, 7]);
  const toWs = next(w, 'answer');
  p.emit('answer', { peerId: w.id, answer: { sdp: 'a' }, blob: Buffer.from('bytes from polling'), from: p.id });
  const ans = await toWs;
  assert.equal(ans.peerId, p.id);
  assert.equal(Buffer.from(ans.blob).toString(), 'bytes from polling');
  await sleep(PING_MS * 3);
  assert.equal(p.connected, true, 'polling answers the heartbeat');
  const gone = next(w, 'peer-disconnected');
  const pid = p.id;
  p.close();
  assert.deepEqual(await gone, { peerId: pid });
  w.close();
});

test('the polling open packet offers the websocket upgrade', async () => {
  const { open, post } = await rawPolling();
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, PING_MS);
  assert.equal(open.maxPayload, 4096);
  await post('1');
});

test('several packets in one POST and one GET, separated by 0x1e', async () => {
  await room('batch');
  const { post, get } = await rawPolling();
  const r = await post('40\x1e420["join",{"roomId":"batch"}]');
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'ok');
  const { body } = await get();
  const packets = body.split('\x1e');
  assert.match(packets[0], /^40\{"sid":"[A-Za-z0-9]{12}"\}$/);
  assert.equal(packets[1], '42["joinResponse",{"success":true,"message":"Successfully joined room","roomId":"batch"}]');
  assert.equal(packets[2], '430[{"success":true,"message":"Successfully joined room","roomId":"batch"}]');
  await post('1');
});

test('an unknown sid gets the Engine.IO error body with status 400', async () => {
  for (const method of ['GET', 'POST']) {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA`, {
      method,
      body: method === 'POST' ? '40' : undefined,
    });
    assert.equal(res.status, 400, method);
    assert.deepEqual(await res.json(), { code: 1, message: 'Session ID unknown' });
  }
});

test('a POST over maxPayload is refused and ends the session', async () => {
  const { post, get } = await rawPolling();
  const r = await post('4' + 'x'.repeat(5000));
  assert.equal(r.status, 413);
  const after = await get();
  assert.equal(after.status, 400);
});

test('two polls at once end the session', async () => {
  const { post, get } = await rawPolling();
  await post('40');
  await get(); // the CONNECT answer
  const first = get();
  await sleep(50);
  const second = await get();
  assert.equal(second.status, 400);
  assert.equal((await first).body, '1');
});

test('a polling client that stops polling is dropped and its room told', async () => {
  const watcher = await joinedRoom('poll-gone');
  const { post, get } = await rawPolling();
  await post('40\x1e42["join",{"roomId":"poll-gone"}]');
  const { body } = await get();
  const sid = JSON.parse(body.split('\x1e')[0].slice(2)).sid;
  assert.deepEqual(await next(watcher, 'peer-disconnected', PING_MS * 8), { peerId: sid });
  watcher.close();
});

test('CORS for polling follows --allowed-origins', async () => {
  const s = await startServer(['--allowed-origins', 'http://app.example']);
  try {
    const ok = await rawPolling(s.url, { origin: 'http://app.example' });
    assert.equal(ok.res.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.equal(ok.res.headers.get('access-control-allow-credentials'), 'true');
    const other = await rawPolling(s.url, { origin: 'http://evil.example' });
    assert.equal(other.res.headers.get('access-control-allow-origin'), null);
  } finally {
    await s.stop();
  }
});

test('too many packets buffered for a client that does not poll end its session', async () => {
  const s = await startServer(['--ws-max-queue', '2K', '--sio-joins', '100']);
  try {
    await room('flood', s);
    const { post, get } = await rawPolling(s.url);
    await post('40\x1e42["join",{"roomId":"flood"}]');
    const sid = JSON.parse((await get()).body.split('\x1e')[0].slice(2)).sid;
    const w = await connected(s.url);
    assert.equal((await w.emitWithAck('join', { roomId: 'flood' })).success, true);
    const gone = next(w, 'peer-disconnected');
    for (let i = 0; i < 20; i++) w.emit('offer', { peerId: sid, offer: 'o'.repeat(200) });
    assert.deepEqual(await gone, { peerId: sid });
    await sleep(100);
    assert.match(s.log, /too many packets buffered/);
    w.close();
  } finally {
    await s.stop();
  }
});

// ---------------------------------------------------------------------------
// PrivyDrop's REST routes, with their exact bodies.

async function postJson(path, body, srv = server, headers = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

test('create_room makes a room once; check_room tells whether an id is free', async () => {
  assert.deepEqual((await postJson('/api/check_room', { roomId: 'rest-1' })).body, { available: true });
  const made = await postJson('/api/create_room', { roomId: 'rest-1' });
  assert.equal(made.status, 200);
  assert.deepEqual(made.body, { success: true, message: 'Room created' });
  assert.deepEqual((await postJson('/api/create_room', { roomId: 'rest-1' })).body, { success: false, message: 'Room already exists' });
  assert.deepEqual((await postJson('/api/check_room', { roomId: 'rest-1' })).body, { available: false });
});

test('create_room and check_room need a roomId', async () => {
  for (const path of ['/api/create_room', '/api/check_room']) {
    const r = await postJson(path, {});
    assert.equal(r.status, 400, path);
    assert.equal(r.body.success, false);
    assert.equal((await postJson(path, 'not json')).status, 400);
  }
});

test('get_room hands out a free id whose room exists and can be joined', async () => {
  const res = await fetch(`${server.url}/api/get_room`);
  assert.equal(res.status, 200);
  const { roomId } = await res.json();
  assert.match(roomId, /^[A-Za-z0-9]{8}$/);
  assert.deepEqual((await postJson('/api/check_room', { roomId })).body, { available: false });
  const s = await connected();
  assert.equal((await s.emitWithAck('join', { roomId })).success, true);
  s.close();
});

test('joining a room that does not exist fails', async () => {
  const s = await connected();
  const resp = await s.emitWithAck('join', { roomId: 'never-made' });
  assert.deepEqual(resp, { success: false, message: 'Room does not exist', roomId: 'never-made' });
  s.close();
});

test('leave_room takes a socket out of its room and tells the others', async () => {
  const a = await joinedRoom('rest-leave');
  const b = await connected();
  assert.equal((await b.emitWithAck('join', { roomId: 'rest-leave' })).success, true);
  const gone = next(a, 'peer-disconnected');
  const r = await postJson('/api/leave_room', { roomId: 'rest-leave', socketId: b.id });
  assert.deepEqual(r.body, { success: true, message: 'Left the room' });
  assert.deepEqual(await gone, { peerId: b.id });
  const again = await postJson('/api/leave_room', { roomId: 'rest-leave', socketId: b.id });
  assert.equal(again.body.success, false);
  a.close();
  b.close();
});

test('logs_debug logs one sanitised line and is rate limited', async () => {
  const r = await postJson('/api/logs_debug', { message: 'hello\nfake=line\r\x1b[31m', timestamp: Date.now() });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { success: true });
  await sleep(50);
  const line = server.log.split('\n').find((l) => l.includes('client.debug'));
  assert.ok(line, 'logged');
  assert.ok(line.includes('hello fake=line'), line);
  assert.ok(!server.log.split('\n').some((l) => l.startsWith('fake=line')));
  let limited = null;
  for (let i = 0; i < 40 && !limited; i++) {
    const x = await postJson('/api/logs_debug', { message: `m${i}` });
    if (x.status === 429) limited = x;
  }
  assert.ok(limited, 'rate limited');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
});

test('REST routes answer CORS preflights and allowed origins', async () => {
  const s = await startServer(['--allowed-origins', 'http://app.example']);
  try {
    const pre = await fetch(`${s.url}/api/create_room`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.match(pre.headers.get('access-control-allow-headers'), /Content-Type/i);
    const made = await postJson('/api/create_room', { roomId: 'cors' }, s, { origin: 'http://app.example' });
    assert.equal(made.headers.get('access-control-allow-origin'), 'http://app.example');
  } finally {
    await s.stop();
  }
});

// A native /ws/:room member, its frames in an inbox.
function nativeMember(roomId) {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws/${roomId}`);
  const inbox = [];
  ws.on('message', (d) => inbox.push(JSON.parse(d.toString())));
  return {
    ws,
    inbox,
    send: (msg) => ws.send(JSON.stringify(msg)),
    async next(type, ms = 3000) {
      const end = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex((f) => f.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > end) throw new Error(`no ${type} (got ${inbox.map((f) => f.type).join(', ')})`);
        await sleep(10);
      }
    },
  };
}

test('a PrivyDrop client and tandem\'s web client meet in one room, each in its own protocol', async () => {
  const a = await joinedRoom('meet-here');
  const seen = recorder(a);
  const readied = next(a, 'ready');
  const b = nativeMember('meet-here');
  const welcome = await b.next('welcome');
  assert.deepEqual(welcome.peers.map((p) => p.peer_id), [a.id]);
  const ready = await readied;
  assert.deepEqual(ready, { peerId: welcome.you.peer_id });
  const bId = ready.peerId;

  // PrivyDrop offer -> native signal with {description}.
  a.emit('offer', { peerId: bId, offer: { type: 'offer', sdp: 'v=0 offer' }, from: a.id });
  const offer = await b.next('signal');
  assert.deepEqual(offer, { type: 'signal', from: a.id, data: { description: { type: 'offer', sdp: 'v=0 offer' } } });
  a.emit('ice-candidate', { peerId: bId, candidate: { candidate: 'candidate:1 1 udp 1 192.0.2.1 9 typ host', sdpMid: '0' }, from: a.id });
  const cand = await b.next('signal');
  assert.deepEqual(cand.data, { candidate: { candidate: 'candidate:1 1 udp 1 192.0.2.1 9 typ host', sdpMid: '0' } });

  // Native signals as tandem's web client sends them -> PrivyDrop events.
  const answered = next(a, 'answer');
  b.send({ type: 'signal', to: a.id, data: { direct: 1, description: { type: 'answer', sdp: 'v=0 answer' } } });
  assert.deepEqual(await answered, { peerId: bId, answer: { type: 'answer', sdp: 'v=0 answer' }, from: bId });
  const candidated = next(a, 'ice-candidate');
  b.send({ type: 'signal', data: { direct: 1, candidate: { candidate: 'candidate:2', sdpMid: '0' } } }); // to the room
  assert.deepEqual(await candidated, { peerId: bId, candidate: { candidate: 'candidate:2', sdpMid: '0' }, from: bId });
  b.send({ type: 'signal', to: a.id, data: { relay: true } }); // nothing PrivyDrop knows: dropped

  // Presence both ways.
  const readiedAgain = next(a, 'ready');
  const c = nativeMember('meet-here');
  const cWelcome = await c.next('welcome');
  assert.equal((await readiedAgain).peerId, cWelcome.you.peer_id);
  const disconnected = next(a, 'peer-disconnected');
  b.ws.close();
  const gone = await disconnected;
  assert.equal(gone.peerId, bId);
  assert.equal((await c.next('peer.left')).peer_id, bId);
  const aId = a.id; // the client forgets it on disconnect
  a.disconnect();
  const left = await c.next('peer.left');
  assert.equal(left.peer_id, aId);
  assert.ok(!seen.some((e) => e.event === 'signal' || e.event === 'welcome'), 'no native frames reach Socket.IO');
  assert.equal(seen.filter((e) => e.event === 'answer' || e.event === 'ice-candidate').length, 2);
  c.ws.close();
});

test('a PrivyDrop join finds a room where a native client already is, without create_room', async () => {
  const b = nativeMember('native-first');
  await b.next('welcome');
  const a = await connected();
  const resp = await a.emitWithAck('join', { roomId: 'native-first' });
  assert.equal(resp.success, true);
  const joined = await b.next('peer.joined');
  assert.equal(joined.peer_id, a.id);
  const left = b.next('peer.left');
  a.disconnect();
  await left;
  b.ws.close();
});

test('set_track counts visits per referrer per day; the operator reads them with the admin token', async () => {
  const track = (body) => fetch(`${server.url}/api/set_track`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  for (const ref of ['newsletter', 'newsletter', 'github']) {
    const res = await track({ ref, timestamp: Date.now() });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { success: true });
  }
  for (const ref of ['', 'x'.repeat(101), 'line\nbreak', 42]) {
    const res = await track({ ref });
    assert.equal(res.status, 400, `ref ${JSON.stringify(ref)}`);
    assert.equal((await res.json()).success, false);
  }

  const stats = (headers, query = '') => fetch(`${server.url}/api/stats/referrers${query}`, { headers });
  let res = await stats({});
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer');
  res = await stats({ authorization: 'Bearer wrong-token' });
  assert.equal(res.status, 401);
  res = await stats({ authorization: `Bearer ${ADMIN_TOKEN}` }, '?days=0');
  assert.equal(res.status, 400);
  res = await stats({ authorization: `Bearer ${ADMIN_TOKEN}` }, '?days=7');
  assert.equal(res.status, 200);
  const body = await res.json();
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(body.days.length, 1);
  assert.equal(body.days[0].day, today);
  assert.equal(body.days[0].visits, 3);
  assert.deepEqual(body.days[0].referrers, [{ ref: 'newsletter', visits: 2 }, { ref: 'github', visits: 1 }]);

  // 60 counted visits a minute per address, then 429 with Retry-After.
  for (let i = 3; i < 60; i++) assert.equal((await track({ ref: 'burst' })).status, 200);
  res = await track({ ref: 'burst' });
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get('retry-after')) >= 1);
});

test('without --admin-token the statistics are off', async () => {
  const other = await startServer([]);
  try {
    const res = await fetch(`${other.url}/api/stats/referrers`, { headers: { authorization: 'Bearer anything' } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, 'disabled');
  } finally {
    assert.equal((await other.stop()).code, 0);
  }
});

test('an ack asked for on a relayed offer is answered by the receiving client, not by the server', async () => {
  const a = await joinedRoom('acked-relay');
  const readied = next(a, 'ready');
  const b = await connected();
  assert.equal((await b.emitWithAck('join', { roomId: 'acked-relay' })).success, true);
  await readied;
  b.on('offer', (msg, answer) => answer({ accepted: true, from: msg.peerId }));
  const reply = await a.timeout(3000).emitWithAck('offer', { peerId: b.id, offer: { type: 'offer', sdp: 'x' }, from: a.id });
  assert.deepEqual(reply, { accepted: true, from: a.id });

  // An acknowledgement carrying binary (BINARY_ACK) arrives whole.
  b.off('offer');
  b.on('offer', (msg, answer) => answer({ fingerprint: Buffer.from([0, 1, 2, 253, 254, 255]) }));
  const binaryReply = await a.timeout(3000).emitWithAck('offer', { peerId: b.id, offer: {}, from: a.id });
  assert.deepEqual(Buffer.from(binaryReply.fingerprint), Buffer.from([0, 1, 2, 253, 254, 255]));

  // A receiver that never acknowledges leaves the sender to its own timeout.
  b.off('offer');
  b.on('offer', () => {});
  await assert.rejects(a.timeout(400).emitWithAck('offer', { peerId: b.id, offer: {}, from: a.id }));
  // An unknown peer: the server answers at once, as for any event.
  assert.equal(await a.timeout(3000).emitWithAck('offer', { peerId: 'nobody123456', offer: {}, from: a.id }), undefined);
  a.disconnect();
  b.disconnect();
});

test('a PrivyDrop join cannot enter one of tandem\'s stored rooms, and native relay frames never reach a Socket.IO member', async () => {
  const made = await (await fetch(`${server.url}/api/rooms`, { method: 'POST' })).json();
  const b = nativeMember(made.id);
  await b.next('welcome');
  const a = await connected();
  const resp = await a.emitWithAck('join', { roomId: made.id });
  assert.equal(resp.success, false);
  assert.equal(resp.message, 'Room does not exist');

  // In an ad-hoc room they share, a binary relay frame to the Socket.IO
  // member is refused like one to an unknown peer.
  assert.equal((await a.emitWithAck('join', { roomId: 'relay-mixed' })).success, false); // not made yet
  const c = nativeMember('relay-mixed');
  await c.next('welcome');
  assert.equal((await a.emitWithAck('join', { roomId: 'relay-mixed' })).success, true);
  c.ws.send(Buffer.concat([Buffer.from(a.id), Buffer.from('bytes')]));
  assert.equal((await c.next('error')).code, 'unknown_peer');
  a.disconnect();
  b.ws.close();
  c.ws.close();
});
