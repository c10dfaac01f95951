// Two tandem instances on one PostgreSQL database editing one code room:
// the database decides which push takes a version. Two collab clients, one
// on each instance, push at the same version: exactly one is accepted, the
// other is told stale_version, pulls, rebases and pushes again, and both
// clients end with the text GET doc gives on either instance.
// Skipped when PostgreSQL is not installed (scripts/bootstrap installs it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChangeSet, EditorState } from '@codemirror/state';
import { collab, getClientID, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab';
import { startServer } from './lib/server.mjs';
import { postgresAvailable, startCluster } from './lib/postgres.mjs';

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
  cluster = await startCluster();
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
