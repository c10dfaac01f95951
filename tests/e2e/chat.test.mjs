// Facilitators' chat rooms, live: schedules, passwords, aliases and
// presence, messages stored and replayed, moderation and transcripts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { api, facilitator, chatRoom, member, newDevice, ofType, iso } from './lib/accounts.mjs';

let server;
let host;
before(async () => {
  server = await startServer(['--login-attempts', '100', '--unlock-attempts', '3']);
  host = await facilitator(server);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a room two seconds from opening refuses with its opening time, then admits', async () => {
  const opensAt = Date.now() + 2000;
  const room = await chatRoom(server, host, { opens_at: iso(opensAt), closes_at: iso(opensAt + 60_000) });
  const early = member(server, room.id);
  const refusal = await early.next(ofType('error'));
  assert.equal(refusal.code, 'room_not_open');
  assert.equal(refusal.opens_at, iso(opensAt));
  assert.equal(await early.closed, 1008);
  await sleep(Math.max(0, opensAt - Date.now()) + 50);
  const onTime = member(server, room.id);
  const welcome = await onTime.next(ofType('welcome'));
  assert.equal(welcome.room, room.id);
  assert.deepEqual([welcome.code, welcome.title, welcome.opens_at, welcome.closes_at], [room.code, room.title, room.opens_at, room.closes_at]);
  await onTime.close();
});

// A clean exit: under the sanitizers, a leak or an error fails it.
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

test('at closes_at members get room.closed, their sockets close, and the room is the owner\'s history', async () => {
  const closesAt = Date.now() + 1500;
  const room = await chatRoom(server, host, { closes_at: iso(closesAt) });
  const a = member(server, room.id);
  await a.next(ofType('welcome'));
  a.send({ type: 'chat', text: 'before the end' });
  await a.next(ofType('chat.message'));
  const closed = await a.next(ofType('room.closed'), 5000);
  assert.equal(closed.reason, 'closed');
  assert.equal(await a.closed, 1000);
  const late = member(server, room.id);
  assert.equal((await late.next(ofType('error'))).code, 'room_closed');
  const asOwner = await api(server, 'GET', `/api/rooms/${room.id}/messages`, { cookie: host.cookie });
  assert.equal(asOwner.status, 200);
  assert.deepEqual(asOwner.json.messages.map((m) => m.text), ['before the end']);
  const asStranger = await api(server, 'GET', `/api/rooms/${room.id}/messages`);
  assert.equal(asStranger.status, 403);
  const listed = await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie });
  assert.equal(listed.json.rooms.find((r) => r.id === room.id).state, 'closed');
});

test('a password room refuses without the unlock token and admits with it; wrong passwords are limited', async () => {
  const room = await chatRoom(server, host, { password: 'open sesame' });
  const locked = member(server, room.id);
  assert.equal((await locked.next(ofType('error'))).code, 'locked');
  assert.equal(await locked.closed, 1008);
  const wrong = await api(server, 'POST', `/api/rooms/${room.id}/unlock`, { body: { password: 'open barley' } });
  assert.equal(wrong.status, 403);
  const right = await api(server, 'POST', `/api/rooms/${room.id}/unlock`, { body: { password: 'open sesame' } });
  assert.equal(right.status, 200);
  assert.match(right.json.token, /^[0-9a-f]{64}$/);
  const items = await api(server, 'POST', `/api/rooms/${room.id}/items`, { body: { text: 'around the lock' } });
  assert.equal(items.status, 404, 'a chat room takes no drop items');
  assert.equal((await api(server, 'GET', `/api/rooms/${room.id}/items`)).status, 404);
  const forged = member(server, room.id, { token: '0'.repeat(64) });
  assert.equal((await forged.next(ofType('error'))).code, 'locked');
  const admitted = member(server, room.id, { token: right.json.token });
  await admitted.next(ofType('welcome'));
  await admitted.close();
  // --unlock-attempts 3: the fourth attempt in the minute is refused.
  await api(server, 'POST', `/api/rooms/${room.id}/unlock`, { body: { password: 'open oats' } });
  const limited = await api(server, 'POST', `/api/rooms/${room.id}/unlock`, { body: { password: 'open sesame' } });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
});

test('three members chat with presence, unique aliases, typing, history after a reconnect', async () => {
  const room = await chatRoom(server, host);
  const a = member(server, room.id, { alias: 'Ada' });
  const wa = await a.next(ofType('welcome'));
  assert.equal(wa.alias, 'Ada');
  assert.deepEqual((await a.next(ofType('presence'))).members, [{ peer: wa.peer_id, alias: 'Ada' }]);
  const b = member(server, room.id, { alias: 'Ada' });
  const wb = await b.next(ofType('welcome'));
  assert.equal(wb.alias, 'Ada 2');
  const c = member(server, room.id);
  const wc = await c.next(ofType('welcome'));
  assert.match(wc.alias, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
  const presence = await c.next(ofType('presence'));
  assert.deepEqual(presence.members.map((m) => m.alias).sort(), ['Ada', 'Ada 2', wc.alias].sort());
  assert.equal((await a.next((m) => m.type === 'peer.joined' && m.alias === 'Ada 2')).peer, wb.peer_id);
  await a.next((m) => m.type === 'peer.joined' && m.alias === wc.alias);

  b.send({ type: 'typing' });
  assert.equal((await a.next(ofType('typing'))).alias, 'Ada 2');

  a.send({ type: 'chat', text: 'hello <b>all</b>' });
  const seen = await Promise.all([a, b, c].map((m) => m.next(ofType('chat.message'))));
  for (const m of seen) assert.deepEqual({ alias: m.alias, text: m.text }, { alias: 'Ada', text: 'hello <b>all</b>' });
  assert.ok(seen[0].id > 0);
  assert.equal(seen[1].id, seen[0].id);

  // c goes away; the others go on; c comes back with its device and what it saw.
  const lastSeen = seen[2].id;
  await c.close();
  assert.equal((await a.next(ofType('peer.left'))).alias, wc.alias);
  b.send({ type: 'chat', text: 'while c was away' });
  // Stored before a's next one: two members on two instances sending at
  // once are ordered by whichever insert the database takes first.
  await a.next((m) => m.type === 'chat.message' && m.text === 'while c was away');
  a.send({ type: 'chat', text: 'and again' });
  await a.next((m) => m.type === 'chat.message' && m.text === 'and again');
  const c2 = member(server, room.id, { device: c.device, after: String(lastSeen) });
  const wc2 = await c2.next(ofType('welcome'));
  assert.equal(wc2.alias, wc.alias, 'the same device gets the same alias back');
  const missed = [await c2.next(ofType('chat.message')), await c2.next(ofType('chat.message'))];
  assert.deepEqual(missed.map((m) => m.text), ['while c was away', 'and again']);

  const page = await api(server, 'GET', `/api/rooms/${room.id}/messages?limit=2`);
  assert.equal(page.status, 200);
  assert.deepEqual(page.json.messages.map((m) => m.text), ['while c was away', 'and again']);
  const older = await api(server, 'GET', `/api/rooms/${room.id}/messages?before=${page.json.messages[0].id}&limit=10`);
  assert.deepEqual(older.json.messages.map((m) => m.text), ['hello <b>all</b>']);

  const tooLong = 'x'.repeat(4097);
  a.send({ type: 'chat', text: tooLong });
  assert.equal((await a.next(ofType('error'))).code, 'bad_text');
  for (const m of [a, b, c2]) await m.close();
});

test('a member past its chat rate gets rate_limited and nothing is stored for it', async () => {
  const room = await chatRoom(server, host);
  const a = member(server, room.id);
  await a.next(ofType('welcome'));
  for (let i = 0; i < 15; i++) a.send({ type: 'chat', text: `burst ${i}` });
  assert.equal((await a.next(ofType('error'))).code, 'rate_limited');
  await a.close();
  const stored = await api(server, 'GET', `/api/rooms/${room.id}/messages?limit=100`);
  assert.ok(stored.json.messages.length >= 10 && stored.json.messages.length < 15, `${stored.json.messages.length} stored`);
});

test('the owner deletes a message (chat.deleted to all) and removes a member for good', async () => {
  const room = await chatRoom(server, host);
  const a = member(server, room.id, { alias: 'Keeper' });
  const b = member(server, room.id, { alias: 'Troll' });
  await a.next(ofType('welcome'));
  await b.next(ofType('welcome'));
  b.send({ type: 'chat', text: 'something rude' });
  const msg = await a.next(ofType('chat.message'));

  const notOwner = await api(server, 'DELETE', `/api/rooms/${room.id}/messages/${msg.id}`);
  assert.equal(notOwner.status, 401);
  const del = await api(server, 'DELETE', `/api/rooms/${room.id}/messages/${msg.id}`, { cookie: host.cookie });
  assert.equal(del.status, 204);
  assert.equal((await a.next(ofType('chat.deleted'))).id, msg.id);
  assert.equal((await b.next(ofType('chat.deleted'))).id, msg.id);
  const history = await api(server, 'GET', `/api/rooms/${room.id}/messages`);
  assert.deepEqual(history.json.messages, []);

  const removed = await api(server, 'POST', `/api/rooms/${room.id}/remove`, { cookie: host.cookie, body: { alias: 'Troll' } });
  assert.equal(removed.status, 204);
  assert.equal((await b.next(ofType('error'))).code, 'removed');
  assert.equal(await b.closed, 1008);
  assert.equal((await a.next(ofType('peer.left'))).alias, 'Troll');
  const back = member(server, room.id, { device: b.device, alias: 'Nice Person' });
  assert.equal((await back.next(ofType('error'))).code, 'removed');
  const nobody = await api(server, 'POST', `/api/rooms/${room.id}/remove`, { cookie: host.cookie, body: { alias: 'Nobody' } });
  assert.equal(nobody.status, 404);
  await a.close();
});

test('transcripts: Markdown that cannot inject, CSV with correct quoting, owner only', async () => {
  const room = await chatRoom(server, host, { title: 'Notes # [x](y)' });
  const a = member(server, room.id, { alias: 'Eve*' });
  await a.next(ofType('welcome'));
  const texts = ['# not a heading\n<script>alert(1)</script>', 'say "hi", then\nleave', '=1+2'];
  for (const text of texts) {
    a.send({ type: 'chat', text });
    await a.next(ofType('chat.message'));
  }
  await a.close();
  const md = await api(server, 'GET', `/api/rooms/${room.id}/transcript?format=md`, { cookie: host.cookie });
  assert.equal(md.status, 200);
  assert.match(md.headers.get('content-type'), /^text\/markdown/);
  const lines = md.text.split('\n');
  assert.equal(lines[0], '# Notes \\# \\[x\\]\\(y\\)');
  assert.ok(md.text.includes('**Eve\\***: \\# not a heading\\\n  \\<script\\>alert\\(1\\)\\<\\/script\\>\n'), md.text);
  assert.ok(md.text.includes('**Eve\\***: say \\"hi\\"\\, then\\\n  leave\n'), md.text);
  assert.ok(!/^#/m.test(lines.slice(1).join('\n')), 'no line of a message starts a heading');

  const csv = await api(server, 'GET', `/api/rooms/${room.id}/transcript?format=csv`, { cookie: host.cookie });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  const rows = csv.text.split('\r\n');
  assert.equal(rows[0], 'id,created_at,alias,text');
  assert.match(csv.text, /,"Eve\*","say ""hi"", then\nleave"\r\n/);
  assert.match(csv.text, /,"Eve\*","'=1\+2"\r\n$/);
  assert.equal((await api(server, 'GET', `/api/rooms/${room.id}/transcript?format=csv`)).status, 401);
  assert.equal((await api(server, 'GET', `/api/rooms/${room.id}/transcript?format=pdf`, { cookie: host.cookie })).status, 400);
});

test('a join without a proper device key is refused with 400', async () => {
  const room = await chatRoom(server, host);
  const { default: WebSocket } = await import('ws');
  for (const query of ['', '?device=short', `?device=${newDevice()}&alias=%20`]) {
    const ws = new WebSocket(server.wsUrl(`/ws/${room.id}${query}`));
    ws.on('error', () => {});
    const status = await new Promise((resolve) => ws.on('unexpected-response', (req, r) => resolve(r.statusCode)));
    assert.equal(status, 400, query);
  }
});

test('the same device joining again replaces its old socket and keeps its alias', async () => {
  const room = await chatRoom(server, host);
  const first = member(server, room.id);
  const w1 = await first.next(ofType('welcome'));
  const other = member(server, room.id, { alias: 'Witness' });
  await other.next(ofType('welcome'));
  const second = member(server, room.id, { device: first.device });
  const w2 = await second.next(ofType('welcome'));
  assert.equal(w2.alias, w1.alias);
  assert.equal((await first.next(ofType('error'))).code, 'replaced');
  assert.equal(await first.closed, 1008);
  const presence = await second.next(ofType('presence'));
  assert.deepEqual(presence.members.map((m) => m.alias).sort(), [w1.alias, 'Witness'].sort());
  assert.ok(!second.inbox.some((m) => m.type === 'peer.left'), 'the new socket does not hear the old one leave');
  const seenByOther = [await other.next(ofType('peer.left')), await other.next(ofType('peer.joined'))];
  assert.deepEqual(seenByOther.map((m) => m.alias), [w1.alias, w1.alias]);
  await second.close();
  await other.close();
});

test('moving closes_at of a live room moves its closing', async () => {
  const room = await chatRoom(server, host);
  const a = member(server, room.id);
  await a.next(ofType('welcome'));
  const moved = await api(server, 'PATCH', `/api/rooms/${room.id}`, { cookie: host.cookie, body: { closes_at: Date.now() + 300 } });
  assert.equal(moved.status, 200);
  assert.equal((await a.next(ofType('room.closed'), 5000)).reason, 'closed');
  assert.equal(await a.closed, 1000);
});

test('deleting a live room closes it for its members', async () => {
  const room = await chatRoom(server, host);
  const a = member(server, room.id);
  await a.next(ofType('welcome'));
  assert.equal((await api(server, 'DELETE', `/api/rooms/${room.id}`, { cookie: host.cookie })).status, 204);
  assert.equal((await a.next(ofType('room.closed'))).reason, 'deleted');
  assert.equal(await a.closed, 1000);
});

test('an unlock token made by one tandem is good at another on the same data directory (and after a restart)', async () => {
  const first = await startServer(); // the file's server spent its unlock attempts
  const room = await chatRoom(first, await facilitator(first), { password: 'open sesame' });
  const right = await api(first, 'POST', `/api/rooms/${room.id}/unlock`, { body: { password: 'open sesame' } });
  assert.equal(right.status, 200);
  // A second instance beside the first, as behind a load balancer (or the
  // first one restarted): the key is <data-dir>/unlock.key.
  const other = await startServer(['--data-dir', first.dataDir]);
  try {
    const admitted = member(other, room.id, { token: right.json.token });
    await admitted.next(ofType('welcome'));
    await admitted.close();
    const forged = member(other, room.id, { token: 'f'.repeat(64) });
    assert.equal((await forged.next(ofType('error'))).code, 'locked');
  } finally {
    assert.equal((await other.stop()).code, 0);
    assert.equal((await first.stop()).code, 0);
  }
});
