// One chat room whose members are on different tandem instances (one
// PostgreSQL database, one Redis): each client here picks its instance, so
// aliases, removals, a device joining again and a moved closing are checked
// across instances every time, not only when nginx happens to spread them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

process.env.TANDEM_TEST_TOPOLOGY = 'cluster'; // read when lib/server.mjs loads
const { startServer } = await import('./lib/server.mjs');
const { api, facilitator, chatRoom, member, ofType } = await import('./lib/accounts.mjs');

let server;
let host;
let at; // at[i]: talks to instance i directly

before(async () => {
  server = await startServer(['--login-attempts', '100']);
  assert.ok(server.instances.length >= 3, 'three instances at least');
  at = server.instances.map((s) => ({ url: s.url, wsUrl: (path) => `ws://127.0.0.1:${s.port}${path}` }));
  host = await facilitator(at[0]);
});

after(async () => {
  await server?.stop();
});

test('two members asking for "Ada" on two instances get "Ada" and "Ada 2"; presence lists all', async () => {
  const room = await chatRoom(at[0], host);
  const a = member(at[0], room.id, { alias: 'Ada' });
  assert.equal((await a.next(ofType('welcome'))).alias, 'Ada');
  const b = member(at[1], room.id, { alias: 'Ada' });
  const wb = await b.next(ofType('welcome'));
  assert.equal(wb.alias, 'Ada 2');
  assert.equal((await a.next((m) => m.type === 'peer.joined')).alias, 'Ada 2');
  const c = member(at[2], room.id, { alias: 'Ada' });
  assert.equal((await c.next(ofType('welcome'))).alias, 'Ada 3');
  const presence = await c.next(ofType('presence'));
  assert.deepEqual(presence.members.map((m) => m.alias).sort(), ['Ada', 'Ada 2', 'Ada 3']);
  await a.close();
  assert.equal((await b.next(ofType('peer.left'))).alias, 'Ada');
  const d = member(at[1], room.id, { alias: 'Ada' });
  assert.equal((await d.next(ofType('welcome'))).alias, 'Ada', 'a leave frees the alias everywhere');
  for (const m of [b, c, d]) await m.close();
});

test('the owner removes, through one instance, a member on another: 204, and it stays out everywhere', async () => {
  const room = await chatRoom(at[0], host);
  const troll = member(at[1], room.id, { alias: 'Troll' });
  await troll.next(ofType('welcome'));
  const witness = member(at[2], room.id, { alias: 'Witness' });
  await witness.next(ofType('welcome'));
  const removed = await api(at[0], 'POST', `/api/rooms/${room.id}/remove`, { cookie: host.cookie, body: { alias: 'Troll' } });
  assert.equal(removed.status, 204);
  assert.equal((await troll.next(ofType('error'))).code, 'removed');
  assert.equal(await troll.closed, 1008);
  assert.equal((await witness.next(ofType('peer.left'))).alias, 'Troll');
  for (const i of [0, 1, 2]) {
    const back = member(at[i], room.id, { device: troll.device, alias: 'Troll' });
    assert.equal((await back.next(ofType('error'))).code, 'removed', `instance ${i}`);
    assert.equal(await back.closed, 1008);
  }
  const again = await api(at[0], 'POST', `/api/rooms/${room.id}/remove`, { cookie: host.cookie, body: { alias: 'Troll' } });
  assert.equal(again.status, 404);
  assert.equal(again.json.error.code, 'alias_not_found');
  await witness.close();
});

test('the same device joining on another instance replaces its old socket and keeps its alias', async () => {
  const room = await chatRoom(at[0], host);
  const first = member(at[0], room.id);
  const w1 = await first.next(ofType('welcome'));
  const other = member(at[2], room.id, { alias: 'Witness' });
  await other.next(ofType('welcome'));
  const second = member(at[1], room.id, { device: first.device });
  const w2 = await second.next(ofType('welcome'));
  assert.equal(w2.alias, w1.alias);
  assert.equal((await first.next(ofType('error'))).code, 'replaced');
  assert.equal(await first.closed, 1008);
  const presence = await second.next(ofType('presence'));
  assert.deepEqual(presence.members.map((m) => m.alias).sort(), [w1.alias, 'Witness'].sort());
  const seenByOther = [await other.next(ofType('peer.left')), await other.next(ofType('peer.joined'))];
  assert.deepEqual(seenByOther.map((m) => [m.alias, m.peer]), [[w1.alias, w1.peer_id], [w1.alias, w2.peer_id]]);
  assert.ok(!second.inbox.some((m) => m.type === 'peer.left'), 'the new socket does not hear the old one leave');
  await second.close();
  await other.close();
});

test('closes_at moved through one instance closes the room on the instances with its members', async () => {
  const room = await chatRoom(at[0], host);
  const a = member(at[1], room.id);
  const b = member(at[2], room.id);
  await a.next(ofType('welcome'));
  await b.next(ofType('welcome'));
  const moved = await api(at[0], 'PATCH', `/api/rooms/${room.id}`, { cookie: host.cookie, body: { closes_at: Date.now() + 300 } });
  assert.equal(moved.status, 200);
  for (const m of [a, b]) {
    assert.equal((await m.next(ofType('room.closed'), 5000)).reason, 'closed');
    assert.equal(await m.closed, 1000);
  }
});
