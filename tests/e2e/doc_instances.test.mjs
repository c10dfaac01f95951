// Two tandem instances on one PostgreSQL database editing one code room:
// the database decides which push takes a version. Two collab clients, one
// on each instance, push at the same version: exactly one is accepted, the
// other is told stale_version, pulls, rebases and pushes again, and both
// clients end with the text GET doc gives on either instance.
// With Redis as well, each instance's document follows what the other
// stored, so whole-text clients, joiners and languages there are current.
// Also, on one instance whose database answers on a later turn: frames a
// client sends while its join waits come after its welcome, in order, and
// clients that go away before the answers leave tandem whole.
// Skipped when PostgreSQL is not installed (scripts/bootstrap installs it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChangeSet, EditorState } from '@codemirror/state';
import { collab, getClientID, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab';
import { startServer } from './lib/server.mjs';
import { postgresAvailable, startCluster } from './lib/postgres.mjs';
import { REDIS, startRedis } from './lib/redis.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let cluster;
after(() => cluster?.destroy());

// A collab editor driven step by step: it edits, pushes when told, and
// reports how its push was answered (its own update back, or stale).
class Editor {
  static async join(srv, roomId) {
    const ws = new WebSocket(srv.wsUrl(`/ws/${roomId}`));
    const welcome = await new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.once('message', (data) => resolve(JSON.parse(data.toString())));
    });
    assert.equal(welcome.type, 'welcome');
    return new Editor(ws, welcome.doc);
  }

  constructor(ws, doc) {
    this.ws = ws;
    this.state = EditorState.create({ doc: doc.text, extensions: [collab({ startVersion: doc.version })] });
    this.answers = [];
    this.waiting = null;
    ws.on('message', (data) => this.onMessage(JSON.parse(data.toString())));
  }

  get version() {
    return getSyncedVersion(this.state);
  }

  get text() {
    return this.state.doc.toString();
  }

  send(msg) {
    this.ws.send(JSON.stringify(msg));
  }

  edit(from, insert) {
    this.state = this.state.update({ changes: { from, insert } }).state;
  }

  push() {
    const updates = sendableUpdates(this.state);
    this.send({
      type: 'doc.push',
      version: this.version,
      updates: updates.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })),
    });
  }

  pull() {
    this.send({ type: 'doc.pull', version: this.version });
  }

  onMessage(msg) {
    if (msg.type === 'doc.updates') {
      const fresh = msg.from <= this.version ? msg.updates.slice(this.version - msg.from) : [];
      if (!fresh.length) return;
      const mine = fresh.some((u) => u.clientID === getClientID(this.state));
      const updates = fresh.map((u) => ({ clientID: u.clientID, changes: ChangeSet.fromJSON(u.changes) }));
      this.state = this.state.update(receiveUpdates(this.state, updates)).state;
      if (mine) this.answer('accepted');
    } else if (msg.type === 'error') {
      this.answer(msg.code);
    }
  }

  answer(what) {
    this.answers.push(what);
    this.waiting?.();
  }

  // The next answer to a push: 'accepted', 'stale_version' or another error.
  async nextAnswer(timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.answers.length) {
      if (Date.now() > deadline) throw new Error('no answer to the push');
      await new Promise((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.answers.shift();
  }
}

async function getDoc(srv, id) {
  const res = await fetch(`${srv.url}/api/rooms/${id}/doc`);
  assert.equal(res.status, 200);
  return res.json();
}

test('pushes at one version on two instances: one wins, the other rebases, all agree', { skip: !postgresAvailable() }, async () => {
  cluster ??= await startCluster();
  const database = cluster.createDatabase('tandem_doc_instances');
  const one = await startServer(['--database', database]);
  const two = await startServer(['--database', database]);

  const res = await fetch(`${one.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'code' }) });
  assert.equal(res.status, 201);
  const room = await res.json();
  const left = await Editor.join(one, room.id);
  const right = await Editor.join(two, room.id);
  assert.equal(left.version, 0);
  assert.equal(right.version, 0);

  // Both edit version 0 and push at once, each to its own instance.
  left.edit(0, 'left ');
  right.edit(0, 'right ');
  left.push();
  right.push();
  const answers = await Promise.all([left.nextAnswer(), right.nextAnswer()]);
  assert.deepEqual([...answers].sort(), ['accepted', 'stale_version']);
  const [winner, loser] = answers[0] === 'accepted' ? [left, right] : [right, left];
  assert.equal(winner.version, 1);

  // The loser pulls what won (its instance passed it on already, or the
  // pull brings it), rebases, and pushes again at the new version.
  loser.pull();
  for (let i = 0; i < 100 && loser.version < 1; i++) await sleep(50);
  assert.equal(loser.version, 1);
  loser.push();
  assert.equal(await loser.nextAnswer(), 'accepted');
  assert.equal(loser.version, 2);

  // Either instance's GET doc reads what the database holds and passes it
  // on to its members: the winner catches up too.
  let docs;
  for (let i = 0; i < 100; i++) {
    docs = [await getDoc(one, room.id), await getDoc(two, room.id)];
    if (winner.version === 2) break;
    await sleep(50);
  }
  assert.deepEqual(docs[0], docs[1]);
  assert.equal(docs[0].version, 2);
  assert.equal(winner.version, 2);
  assert.equal(winner.text, docs[0].text);
  assert.equal(loser.text, docs[0].text);
  assert.ok(docs[0].text.includes('left ') && docs[0].text.includes('right '), docs[0].text);

  left.ws.close();
  right.ws.close();
  assert.equal((await one.stop()).code, 0);
  assert.equal((await two.stop()).code, 0);
});

// A raw socket recording every frame, for the order they came in.
function rawSocket(srv, path) {
  const ws = new WebSocket(srv.wsUrl(path));
  const frames = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames, opened };
}

async function until(what, check, tries = 200) {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('frames sent while the join waits on the database are answered after the welcome, in order', { skip: !postgresAvailable() }, async () => {
  cluster ??= await startCluster();
  const srv = await startServer(['--database', cluster.createDatabase('tandem_held_frames')]);
  const room = await (await fetch(`${srv.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'code' }) })).json();
  const s = rawSocket(srv, `/ws/${room.id}`);
  await s.opened;
  // Sent at once: the room lookup and the document's load are still under way.
  s.ws.send(JSON.stringify({ type: 'doc.push', version: 0, updates: [{ clientID: 'early', changes: [[0, 'a']] }] }));
  s.ws.send(JSON.stringify({ type: 'doc.push', version: 1, updates: [{ clientID: 'early', changes: [1, [0, 'b']] }] }));
  s.ws.send(JSON.stringify({ type: 'doc.pull', version: 0 }));
  await until('three answers', () => s.frames.filter((f) => f.type === 'doc.updates').length === 3);
  const types = s.frames.map((f) => f.type).filter((t) => t !== 'init');
  assert.deepEqual(types, ['welcome', 'doc.updates', 'doc.updates', 'doc.updates']);
  const [first, second, pulled] = s.frames.filter((f) => f.type === 'doc.updates');
  assert.deepEqual([first.from, first.version, second.from, second.version], [0, 1, 1, 2]);
  assert.deepEqual([pulled.from, pulled.version], [0, 2]);
  assert.deepEqual(await getDoc(srv, room.id), { version: 2, text: 'ab', language: 'plaintext' });
  s.ws.close();
  assert.equal((await srv.stop()).code, 0);
});

test('clients that go away while the database answers leave tandem whole', { skip: !postgresAvailable() }, async () => {
  cluster ??= await startCluster();
  const srv = await startServer(['--database', cluster.createDatabase('tandem_gone_clients')]);
  const room = await (await fetch(`${srv.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'code' }) })).json();
  // Each joins and pushes, and is gone before the answers come: the
  // pushes at version 0 race, one of them is taken.
  const sockets = [];
  for (let i = 0; i < 8; i++) {
    const s = rawSocket(srv, `/ws/${room.id}`);
    sockets.push(s);
    await s.opened;
    s.ws.send(JSON.stringify({ type: 'doc.push', version: 0, updates: [{ clientID: `c${i}`, changes: [[0, `${i}`]] }] }));
    s.ws.terminate();
  }
  // A GET that hangs up at once.
  const aborted = new AbortController();
  const get = fetch(`${srv.url}/api/rooms/${room.id}/doc`, { signal: aborted.signal }).catch(() => null);
  aborted.abort();
  await get;
  // tandem still answers, and a new member sees what GET doc gives.
  const doc = await getDoc(srv, room.id);
  assert.ok(doc.version <= 1 && doc.text.length === doc.version, JSON.stringify(doc));
  const late = await Editor.join(srv, room.id);
  assert.equal(late.version, (await getDoc(srv, room.id)).version);
  late.ws.close();
  assert.equal((await srv.stop()).code, 0);
});

test('with Redis, an instance\'s document follows the other\'s: code_update, a joiner and the language meet what was stored, once', { skip: !postgresAvailable() || !REDIS }, async () => {
  cluster ??= await startCluster();
  const database = cluster.createDatabase('tandem_doc_follow');
  const redis = await startRedis();
  const one = await startServer(['--database', database, '--redis', redis.url, '--instance-id', 'one']);
  const two = await startServer(['--database', database, '--redis', redis.url, '--instance-id', 'two']);
  for (const srv of [one, two]) {
    for (let i = 0; i < 200 && (await fetch(`${srv.url}/readyz`)).status !== 200; i++) await sleep(25);
  }
  const res = await fetch(`${one.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'code' }) });
  assert.equal(res.status, 201);
  const room = await res.json();

  const left = await Editor.join(one, room.id); // collab, on one
  const whole = rawSocket(two, `/ws/${room.id}`); // whole-text, on two
  await whole.opened;
  await until('the welcome on two', () => whole.frames.some((f) => f.type === 'welcome'));
  // Two hears the room's channel once a cursor from one reaches it.
  for (let i = 0; i < 50 && !whole.frames.some((f) => f.type === 'doc.cursor'); i++) {
    left.send({ type: 'doc.cursor', anchor: 0, head: 0 });
    await sleep(100);
  }
  assert.ok(whole.frames.some((f) => f.type === 'doc.cursor'));

  left.edit(0, 'return 1');
  left.push();
  assert.equal(await left.nextAnswer(), 'accepted');
  await until('the text on two', () => whole.frames.some((f) => f.type === 'code_update' && f.code === 'return 1'));

  // The whole-text client edits what it was sent: two diffs it against the
  // same text, so the edit lands as it was meant.
  whole.ws.send(JSON.stringify({ type: 'code_update', code: 'return 42' }));
  await until('the edit on one', () => left.text === 'return 42');
  assert.equal(left.version, 2);

  left.send({ type: 'doc.language', language: 'python' });
  await until('the language on two', () => whole.frames.some((f) => f.type === 'doc.language'));

  // A joiner on two gets the current text and language.
  const joiner = rawSocket(two, `/ws/${room.id}`);
  await joiner.opened;
  await until('the joiner\'s welcome', () => joiner.frames.some((f) => f.type === 'welcome'));
  const welcome = joiner.frames.find((f) => f.type === 'welcome');
  assert.deepEqual(welcome.doc, { version: 2, text: 'return 42', language: 'python' });

  // Each update reached the members on two once.
  const seen = whole.frames.filter((f) => f.type === 'doc.updates').map((f) => `${f.from}-${f.version}`);
  assert.deepEqual(seen, ['0-1', '1-2']);
  assert.deepEqual(whole.frames.filter((f) => f.type === 'error'), []);
  for (const srv of [one, two]) assert.equal((await getDoc(srv, room.id)).text, 'return 42');

  left.ws.close();
  whole.ws.close();
  joiner.ws.close();
  assert.equal((await one.stop()).code, 0);
  assert.equal((await two.stop()).code, 0);
  await redis.stop();
});
