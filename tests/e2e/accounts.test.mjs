// Facilitator accounts: sign up, sign in with a cookie, sign out, limits on
// guessing, and the Origin check on cookie-authenticated mutations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { api, facilitator, chatRoom, iso } from './lib/accounts.mjs';
import { connect, sleep } from './lib/raw.mjs';
import http from 'node:http';

let server;
before(async () => {
  server = await startServer(['--login-attempts', '100', '--session-ttl', '1h']);
});

// A clean exit: under the sanitizers, a leak or an error fails it.
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

test('sign up, sign in, who am I, sign out', async () => {
  const made = await api(server, 'POST', '/api/accounts', { body: { email: '  Grace@Example.ORG ', password: 'correct horse battery' } });
  assert.equal(made.status, 201);
  assert.equal(made.json.email, 'grace@example.org');
  const again = await api(server, 'POST', '/api/accounts', { body: { email: 'grace@example.org', password: 'another password' } });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'email_taken');

  const session = await api(server, 'POST', '/api/session', { body: { email: 'GRACE@example.org', password: 'correct horse battery' } });
  assert.equal(session.status, 200);
  const setCookie = session.headers.getSetCookie()[0];
  assert.match(setCookie, /^tandem_session=[A-Za-z0-9]{43}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
  const cookie = setCookie.split(';')[0];

  const me = await api(server, 'GET', '/api/me', { cookie });
  assert.equal(me.status, 200);
  assert.equal(me.json.email, 'grace@example.org');
  assert.equal((await api(server, 'GET', '/api/me')).status, 401);

  const out = await api(server, 'DELETE', '/api/session', { cookie });
  assert.equal(out.status, 204);
  assert.match(out.headers.getSetCookie()[0], /Max-Age=0/);
  assert.equal((await api(server, 'GET', '/api/me', { cookie })).status, 401);
});

test('weak passwords and malformed emails are refused with 400', async () => {
  const weak = await api(server, 'POST', '/api/accounts', { body: { email: 'weak@example.org', password: 'short' } });
  assert.equal(weak.status, 400);
  assert.equal(weak.json.error.code, 'weak_password');
  const huge = await api(server, 'POST', '/api/accounts', { body: { email: 'huge@example.org', password: 'x'.repeat(1025) } });
  assert.equal(huge.status, 400);
  const bad = await api(server, 'POST', '/api/accounts', { body: { email: 'not an email', password: 'long enough password' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'bad_email');
  assert.equal((await api(server, 'POST', '/api/accounts', { body: '[1,2]' })).status, 400);
});

test('no such user and a wrong password get the same 401, then 429 with Retry-After', async () => {
  // A server of its own, so the per-address budget is this test's alone.
  const s = await startServer(['--login-attempts', '3']);
  const made = await api(s, 'POST', '/api/accounts', { body: { email: 'lin@example.org', password: 'right password 1' } });
  assert.equal(made.status, 201);
  const wrong = await api(s, 'POST', '/api/session', { body: { email: 'lin@example.org', password: 'wrong password 1' } });
  const nobody = await api(s, 'POST', '/api/session', { body: { email: 'nobody@example.org', password: 'wrong password 1' } });
  assert.equal(wrong.status, 401);
  assert.equal(nobody.status, 401);
  assert.deepEqual(wrong.json, nobody.json);
  const limited = await api(s, 'POST', '/api/session', { body: { email: 'lin@example.org', password: 'right password 1' } });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal(limited.json.error.code, 'rate_limited');
  assert.equal((await s.stop()).code, 0);
});

test('passwords are never written to the log', async () => {
  const s = await startServer(['--log-level', 'debug']);
  await api(s, 'POST', '/api/accounts', { body: { email: 'log@example.org', password: 'secret-in-the-body-42' } });
  await api(s, 'POST', '/api/session', { body: { email: 'log@example.org', password: 'secret-in-the-body-42' } });
  await api(s, 'POST', '/api/session', { body: { email: 'log@example.org', password: 'other-secret-in-body' } });
  assert.ok(s.log.includes('session.created'));
  assert.ok(!s.log.includes('secret-in-the-body-42'));
  assert.ok(!s.log.includes('other-secret-in-body'));
  assert.equal((await s.stop()).code, 0);
});

test('a cookie-authenticated POST from a foreign Origin gets 403; the same origin passes', async () => {
  const host = await facilitator(server);
  const now = Date.now();
  const body = { kind: 'chat', title: 'csrf', opens_at: iso(now), closes_at: iso(now + 60_000) };
  const foreign = await api(server, 'POST', '/api/rooms', { cookie: host.cookie, body, headers: { Origin: 'http://evil.example' } });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.json.error.code, 'foreign_origin');
  const mine = (await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie })).json.rooms;
  assert.equal(mine.length, 0);
  const same = await api(server, 'POST', '/api/rooms', { cookie: host.cookie, body, headers: { Origin: server.url } });
  assert.equal(same.status, 201);
  const logout = await api(server, 'DELETE', '/api/session', { cookie: host.cookie, headers: { Origin: 'http://evil.example' } });
  assert.equal(logout.status, 403);
});

test('chat rooms: title unique per owner, reschedule, rename, password, code rotation, listing with state', async () => {
  const host = await facilitator(server);
  const other = await facilitator(server);
  const now = Date.now();
  const later = { opens_at: iso(now + 3600_000), closes_at: iso(now + 7200_000) };
  const room = await chatRoom(server, host, { title: 'Workshop', ...later });
  assert.equal(room.kind, 'chat');
  assert.equal(room.state, 'scheduled');
  assert.equal(room.has_password, false);
  const dup = await api(server, 'POST', '/api/rooms', { cookie: host.cookie, body: { kind: 'chat', title: 'Workshop', ...later } });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.error.code, 'title_taken');
  await chatRoom(server, other, { title: 'Workshop', ...later }); // another owner may
  assert.equal((await api(server, 'POST', '/api/rooms', { body: { kind: 'chat', title: 'x', ...later } })).status, 401);
  const backwards = await api(server, 'POST', '/api/rooms', { cookie: host.cookie, body: { kind: 'chat', title: 'b', opens_at: later.closes_at, closes_at: later.opens_at } });
  assert.equal(backwards.status, 400);

  const patched = await api(server, 'PATCH', `/api/rooms/${room.id}`, {
    cookie: host.cookie,
    body: { title: 'Workshop (moved)', opens_at: iso(now - 1000), password: 'sesame', rotate_code: true },
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.json.title, 'Workshop (moved)');
  assert.equal(patched.json.state, 'open');
  assert.equal(patched.json.has_password, true);
  assert.notEqual(patched.json.code, room.code);
  assert.equal((await api(server, 'GET', `/api/rooms/${room.code}`)).status, 404);
  const byOther = await api(server, 'PATCH', `/api/rooms/${room.id}`, { cookie: other.cookie, body: { title: 'mine now' } });
  assert.equal(byOther.status, 403);
  const unlocked = await api(server, 'PATCH', `/api/rooms/${room.id}`, { cookie: host.cookie, body: { password: null, closes_at: iso(now - 500) } });
  assert.equal(unlocked.json.has_password, false);
  assert.equal(unlocked.json.state, 'closed');

  const list = await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.rooms.map((r) => [r.title, r.state]), [['Workshop (moved)', 'closed']]);
  assert.equal((await api(server, 'DELETE', `/api/rooms/${room.id}`, { cookie: other.cookie })).status, 403);
  assert.equal((await api(server, 'DELETE', `/api/rooms/${room.id}`, { cookie: host.cookie })).status, 204);
  assert.equal((await api(server, 'GET', `/api/rooms/${room.id}`)).status, 404);
});

test('accounts, sessions and rooms survive a restart; owned rooms do not expire with --room-ttl', async () => {
  const s = await startServer(['--room-ttl', '1s']);
  const host = await facilitator(s);
  const room = await chatRoom(s, host, { title: 'kept' });
  // Restart on the same data directory.
  s.child.kill('SIGTERM');
  await s.exited;
  const s2 = await startServer(['--data-dir', s.dataDir, '--room-ttl', '1s']);
  try {
    await new Promise((r) => setTimeout(r, 1600)); // past the drop-room TTL, a sweep or more
    const me = await api(s2, 'GET', '/api/me', { cookie: host.cookie });
    assert.equal(me.status, 200);
    const got = await api(s2, 'GET', `/api/rooms/${room.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.title, 'kept');
  } finally {
    assert.equal((await s2.stop()).code, 0);
  }
});

test('clients that leave while their password is checked leave the server whole', async () => {
  const made = await api(server, 'POST', '/api/accounts', { body: { email: 'leaver@example.org', password: 'the right password' } });
  assert.equal(made.status, 201);
  const body = JSON.stringify({ email: 'leaver@example.org', password: 'the right password' });
  for (let i = 0; i < 5; i++) {
    const socket = await connect(server.port);
    socket.write(`POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    socket.destroy(); // gone before the check on the thread pool is done
  }
  await sleep(300);
  // Sign-ins run on the thread pool: the loop answers meanwhile.
  const logins = Array.from({ length: 4 }, () => api(server, 'POST', '/api/session', { body: JSON.parse(body) }));
  const health = await api(server, 'GET', '/healthz');
  assert.equal(health.status, 200);
  for (const res of await Promise.all(logins)) assert.equal(res.status, 200);
});

// A POST from a chosen loopback source address (127.0.0.x), so the
// per-account limit can be seen apart from the per-address one.
function postFrom(s, localAddress, path, body) {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: s.port, path, method: 'POST', localAddress, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }));
      },
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(text);
  });
}

test('sign-in attempts on one account are limited across addresses', async () => {
  const s = await startServer(['--login-attempts', '3']);
  const made = await api(s, 'POST', '/api/accounts', { body: { email: 'target@example.org', password: 'the real password' } });
  assert.equal(made.status, 201);
  const guess = { email: 'Target@Example.org', password: 'a guessed password' };
  for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4'])
    assert.equal((await postFrom(s, from, '/api/session', guess)).status, 401, from);
  const fourth = await postFrom(s, '127.0.0.5', '/api/session', guess);
  assert.equal(fourth.status, 429, 'the account, not the address, is out of attempts');
  assert.ok(Number(fourth.retryAfter) >= 1);
  // Another account from a fresh address is not affected.
  const other = await postFrom(s, '127.0.0.6', '/api/session', { email: 'someone@example.org', password: 'whatever it is' });
  assert.equal(other.status, 401);
  assert.equal((await s.stop()).code, 0);
});

test('the session cookie is Secure when tandem is reached over https', async () => {
  const s = await startServer(['--public-url', 'https://tandem.example']);
  await api(s, 'POST', '/api/accounts', { body: { email: 'tls@example.org', password: 'a password over tls' } });
  const session = await api(s, 'POST', '/api/session', { body: { email: 'tls@example.org', password: 'a password over tls' } });
  assert.equal(session.status, 200);
  assert.match(session.headers.getSetCookie()[0], /; HttpOnly; SameSite=Lax; Secure$/);
  assert.equal((await s.stop()).code, 0);
});
