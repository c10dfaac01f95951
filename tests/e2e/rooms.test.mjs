// Rooms over WebSocket with the real `ws` client: presence and signal relay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer } from './lib/server.mjs';
import { connect, readUntil, readUntilClose, upgradeRequest } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer(['--ws-max-errors', '5']);
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

// A client that records every message and lets a test wait for one.
function client(path) {
  const ws = new WebSocket(server.wsUrl(path), { headers: { 'User-Agent': FIREFOX_ON_LINUX } });
  const inbox = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? { binary: data } : JSON.parse(data.toString());
    inbox.push(msg);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return {
    ws,
    inbox,
    closed,
    opened: new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    async next(pred, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no matching message; inbox: ${JSON.stringify(inbox)}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    send(obj) {
      ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    },
  };
}

const ofType = (t) => (m) => m.type === t;
const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

test('two clients in a room see each other join and leave', async () => {
  const a = client('/ws/presence');
  const wa = await a.next(ofType('welcome'));
  assert.equal(wa.room, 'presence');
  assert.match(wa.peer_id, /^[A-Za-z0-9]{12}$/);
  assert.deepEqual(wa.peers, []);

  assert.equal(wa.you.peer_id, wa.peer_id);
  assert.match(wa.you.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/); // "Amber Otter"

  const b = client('/ws/presence');
  const wb = await b.next(ofType('welcome'));
  assert.deepEqual(wb.peers, [wa.you]);
  assert.equal(wb.peer_count, 1);
  const joined = await a.next(ofType('peer.joined'));
  assert.equal(joined.peer_id, wb.peer_id);
  assert.equal(joined.name, wb.you.name);
  assert.equal(joined.device, 'Firefox on Linux'); // from the User-Agent

  b.ws.close(1000);
  assert.equal((await b.closed).code, 1000);
  const left = await a.next(ofType('peer.left'));
  assert.equal(left.peer_id, wb.peer_id);
  a.ws.close();
  await a.closed;
});

test('rooms are separate: members of another room hear nothing', async () => {
  const a = client('/ws/room-a');
  await a.next(ofType('welcome'));
  const other = client('/ws/room-b');
  await other.next(ofType('welcome'));
  const b = client('/ws/room-a');
  await b.next(ofType('welcome'));
  await a.next(ofType('peer.joined'));
  b.send({ type: 'signal', data: { hello: 1 } });
  await a.next(ofType('signal'));
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(other.inbox.length, 0);
  for (const c of [a, b, other]) c.ws.close();
});

test('a signal with `to` reaches only its target, with `from` added', async () => {
  const a = client('/ws/signals');
  const wa = await a.next(ofType('welcome'));
  const b = client('/ws/signals');
  const wb = await b.next(ofType('welcome'));
  const c = client('/ws/signals');
  await c.next(ofType('welcome'));
  await a.next((m) => m.type === 'peer.joined' && m.peer_id !== wb.peer_id);

  const offer = { sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1', kind: 'offer', n: [1, 2, 3], u: 'é✓' };
  a.send({ type: 'signal', to: wb.peer_id, data: offer });
  const got = await b.next(ofType('signal'));
  assert.equal(got.from, wa.peer_id);
  assert.deepEqual(got.data, offer);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(c.inbox.filter(ofType('signal')).length, 0, 'a third member must not see it');
  assert.equal(a.inbox.filter(ofType('signal')).length, 0, 'the sender gets no echo');

  // Without `to`, every other member receives it.
  a.send({ type: 'signal', data: 'to all' });
  assert.equal((await b.next(ofType('signal'))).data, 'to all');
  assert.equal((await c.next(ofType('signal'))).data, 'to all');
  for (const x of [a, b, c]) x.ws.close();
});

test('an unknown peer, bad JSON and unknown types get error frames, not a disconnect', async () => {
  const a = client('/ws/errors');
  await a.next(ofType('welcome'));
  a.send({ type: 'signal', to: 'nobodyHere12', data: 1 });
  assert.equal((await a.next(ofType('error'))).code, 'unknown_peer');
  a.send('{not json');
  assert.equal((await a.next(ofType('error'))).code, 'bad_json');
  a.send({ type: 'dance' });
  assert.equal((await a.next(ofType('error'))).code, 'unknown_type');
  a.send({ type: 'signal' });
  assert.equal((await a.next(ofType('error'))).code, 'bad_message');
  assert.equal(a.ws.readyState, WebSocket.OPEN);
  a.ws.close();
});

test('a signal to a peer in another room is refused as unknown', async () => {
  const a = client('/ws/iso-1');
  await a.next(ofType('welcome'));
  const b = client('/ws/iso-2');
  const wb = await b.next(ofType('welcome'));
  a.send({ type: 'signal', to: wb.peer_id, data: 'psst' });
  assert.equal((await a.next(ofType('error'))).code, 'unknown_peer');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(b.inbox.length, 0);
  a.ws.close();
  b.ws.close();
});

test('repeated abuse closes the socket with 1008', async () => {
  const a = client('/ws/abuse');
  await a.next(ofType('welcome'));
  for (let i = 0; i < 10; i++) a.send('garbage');
  const { code } = await a.closed;
  assert.equal(code, 1008);
});

test('an invalid room name is refused with 400', async () => {
  const s = await connect(server.port);
  s.write(upgradeRequest('/ws/bad.name'));
  const { data } = await readUntilClose(s, 3000);
  const text = data.toString();
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /"code":"bad_room"/);
  s.destroy();
});
