// Clients that hang up while tandem waits on the store: with PostgreSQL
// (TANDEM_TEST_DATABASE=postgres) every answer comes on a later turn of the
// loop, after the client may be gone. The server must keep answering
// everyone else, finish or drop the work consistently, and exit cleanly
// (under the sanitizers a leak or a use after free fails the exit code).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { api, facilitator, chatRoom, iso } from './lib/accounts.mjs';
import { connect } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer(['--login-attempts', '1000']);
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

// Sends one request and hangs up as soon as the bytes are out.
async function hangUp(method, path, { cookie, body } = {}) {
  const socket = await connect(server.port);
  socket.on('error', () => {});
  const text = body === undefined ? '' : JSON.stringify(body);
  const head = [
    `${method} ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...(cookie ? [`Cookie: ${cookie}`] : []),
    ...(body !== undefined ? ['Content-Type: application/json'] : []),
    `Content-Length: ${Buffer.byteLength(text)}`,
  ].join('\r\n');
  await new Promise((resolve) => socket.write(`${head}\r\n\r\n${text}`, resolve));
  socket.destroy();
}

// Asks until `done(res)` holds, at most `tries` times: the hung-up
// request may be read after the one that checks it.
async function eventually(method, path, opts, done, tries = 100) {
  let res;
  for (let i = 0; i < tries; i++) {
    res = await api(server, method, path, opts);
    if (done(res)) return res;
    await new Promise((r) => setTimeout(r, 20));
  }
  return res;
}

test('hang-ups during session lookups, listings and transcripts leave the server answering', async () => {
  const host = await facilitator(server);
  const room = await chatRoom(server, host, { title: 'lookups' });
  for (let i = 0; i < 5; i++) {
    await hangUp('GET', '/api/me', { cookie: host.cookie });
    await hangUp('GET', '/api/me/rooms', { cookie: host.cookie });
    await hangUp('GET', `/api/rooms/${room.id}/messages`, { cookie: host.cookie });
    await hangUp('GET', `/api/rooms/${room.id}/messages`); // anonymous: no session to look up
    await hangUp('GET', `/api/rooms/${room.id}/transcript?format=csv`, { cookie: host.cookie });
    await hangUp('DELETE', `/api/rooms/${room.id}/messages/12345`, { cookie: host.cookie });
  }
  assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  const me = await api(server, 'GET', '/api/me', { cookie: host.cookie });
  assert.equal(me.status, 200);
  assert.equal(me.json.email, host.email);
  const mine = await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie });
  assert.deepEqual(mine.json.rooms.map((r) => r.id), [room.id]);
  const transcript = await api(server, 'GET', `/api/rooms/${room.id}/transcript?format=csv`, { cookie: host.cookie });
  assert.equal(transcript.status, 200);
  assert.equal(transcript.text, 'id,created_at,alias,text\r\n');
});

test('a sign-out whose client hung up still ends the session', async () => {
  const host = await facilitator(server);
  await hangUp('DELETE', '/api/session', { cookie: host.cookie });
  const me = await eventually('GET', '/api/me', { cookie: host.cookie }, (res) => res.status === 401);
  assert.equal(me.status, 401);
  assert.equal(me.json.error.code, 'not_signed_in');
});

test('rooms created and changed by clients that hung up are whole, or not there', async () => {
  // SQLite answers before the hang-up is read, so everything is done; with
  // PostgreSQL the work stops where the server notices the client is gone.
  // Either way nothing is half done.
  const host = await facilitator(server);
  const now = Date.now();
  const fields = { opens_at: iso(now - 1000), closes_at: iso(now + 3600_000) };
  for (let i = 0; i < 3; i++) {
    await hangUp('POST', '/api/rooms', { cookie: host.cookie, body: { kind: 'chat', title: `gone ${i}`, ...fields } });
    await hangUp('POST', '/api/rooms', { cookie: host.cookie, body: { kind: 'chat', title: `gone locked ${i}`, password: 'sesame', ...fields } });
  }
  const mine = await eventually('GET', '/api/me/rooms', { cookie: host.cookie }, (res) => res.json.rooms.length === 6, 25);
  assert.ok(mine.json.rooms.length <= 6);
  for (const room of mine.json.rooms) {
    assert.match(room.title, /^gone (locked )?\d$/);
    assert.equal(room.has_password, room.title.startsWith('gone locked'));
    assert.equal(room.kind, 'chat');
  }
  const room = await chatRoom(server, host, { title: 'before' });
  await hangUp('PATCH', `/api/rooms/${room.id}`, { cookie: host.cookie, body: { title: 'after', rotate_code: true } });
  const changed = await eventually('GET', `/api/rooms/${room.id}`, {}, (res) => res.json.title === 'after', 25);
  assert.equal(changed.json.title === 'after', changed.json.code !== room.code, 'title and code change together');
  await hangUp('PATCH', `/api/rooms/${room.id}`, { cookie: host.cookie, body: { password: 'a new secret' } });
  await hangUp('DELETE', `/api/rooms/${room.id}`, { cookie: host.cookie });
  const gone = await eventually('GET', `/api/rooms/${room.id}`, {}, (res) => res.status === 404, 25);
  assert.ok([200, 404].includes(gone.status));
  // What is left still answers its owner.
  const again = await api(server, 'PATCH', `/api/rooms/${room.id}`, { cookie: host.cookie, body: { title: 'last' } });
  assert.equal(again.status, gone.status === 404 ? 404 : 200);
});
