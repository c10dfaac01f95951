// Code rooms: tandem as the authority of a shared document, with real
// @codemirror/collab clients (in Node, over the `ws` client) and simple
// whole-text clients (init / code_update).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChangeSet, EditorState } from '@codemirror/state';
import { collab, getClientID, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab';
import { startServer } from './lib/server.mjs';

let server;
before(async () => {
  server = await startServer(['--max-doc-bytes', '64K', '--doc-snapshot-every', '7']);
});
after(async () => {
  assert.equal((await server.stop()).code, 0);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function createCodeRoom(srv = server, body = { kind: 'code', language: 'javascript' }) {
  const res = await fetch(`${srv.url}/api/rooms`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 201);
  return res.json();
}

async function getDoc(srv, id) {
  const res = await fetch(`${srv.url}/api/rooms/${id}/doc`);
  assert.equal(res.status, 200);
  return res.json();
}

// A WebSocket that keeps every message and lets a test wait for one.
function socket(srv, path) {
  const ws = new WebSocket(srv.wsUrl(path));
  const inbox = [];
  const waiters = new Set();
  ws.on('message', (data) => {
    inbox.push(JSON.parse(data.toString()));
    for (const w of waiters) w();
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    inbox,
    opened,
    send: (obj) => ws.send(JSON.stringify(obj)),
    async next(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no matching message; inbox: ${JSON.stringify(inbox).slice(0, 2000)}`);
        await new Promise((r) => {
          waiters.add(r);
          setTimeout(r, 50);
        });
        for (const w of waiters) waiters.delete(w);
      }
    },
    close: () => ws.close(),
  };
}

const ofType = (t) => (m) => m.type === t;

// An editor as the web client runs it: an EditorState with collab(),
// pushing its sendable updates at its synced version, pulling when told it
// is stale, and receiving doc.updates (its own confirm its pushes).
class CollabClient {
  static async connect(srv, roomId) {
    const sock = socket(srv, `/ws/${roomId}`);
    const welcome = await sock.next(ofType('welcome'));
    return new CollabClient(sock, welcome);
  }

  constructor(sock, welcome) {
    this.sock = sock;
    this.welcome = welcome;
    this.state = EditorState.create({ doc: welcome.doc.text, extensions: [collab({ startVersion: welcome.doc.version })] });
    this.inflight = false;
    this.errors = [];
    this.stale = 0;
    sock.ws.on('message', (data) => this.onMessage(JSON.parse(data.toString())));
    // Announce itself as a collab client (no whole-text frames for it).
    sock.send({ type: 'doc.pull', version: getSyncedVersion(this.state) });
  }

  get text() {
    return this.state.doc.toString();
  }

  get version() {
    return getSyncedVersion(this.state);
  }

  onMessage(msg) {
    if (msg.type === 'doc.updates') {
      const synced = getSyncedVersion(this.state);
      if (msg.from > synced) {
        this.sock.send({ type: 'doc.pull', version: synced });
        return;
      }
      const fresh = msg.updates.slice(synced - msg.from);
      if (fresh.length) {
        const updates = fresh.map((u) => ({ clientID: u.clientID, changes: ChangeSet.fromJSON(u.changes) }));
        // Its own updates coming back confirm its push.
        if (fresh.some((u) => u.clientID === getClientID(this.state))) this.inflight = false;
        this.state = this.state.update(receiveUpdates(this.state, updates)).state;
      }
      this.push();
    } else if (msg.type === 'error') {
      if (msg.code === 'stale_version') {
        this.stale++;
        this.inflight = false;
        this.sock.send({ type: 'doc.pull', version: getSyncedVersion(this.state) });
      } else {
        this.errors.push(msg);
      }
    }
  }

  push() {
    const updates = sendableUpdates(this.state);
    if (this.inflight || !updates.length) return;
    this.inflight = true;
    this.sock.send({
      type: 'doc.push',
      version: getSyncedVersion(this.state),
      updates: updates.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })),
    });
  }

  edit(changes) {
    this.state = this.state.update({ changes }).state;
    this.push();
  }

  // A random edit between whole characters (never inside a surrogate pair).
  randomEdit(rng) {
    const doc = this.state.doc;
    const boundary = (pos) => {
      const s = doc.sliceString(Math.max(0, pos - 1), pos + 1);
      return s.length === 2 && /[\ud800-\udbff]/.test(s[0]) && /[\udc00-\udfff]/.test(s[1]) ? pos - 1 : pos;
    };
    const from = boundary(Math.floor(rng() * (doc.length + 1)));
    const to = boundary(Math.min(doc.length, from + Math.floor(rng() * 4)));
    const pieces = ['a', 'b', 'xyz', '\n', 'é', '😀', '漢', ' ', 'fn()'];
    let insert = '';
    for (let n = Math.floor(rng() * 3); n > 0; n--) insert += pieces[Math.floor(rng() * pieces.length)];
    this.edit({ from, to: Math.max(from, to), insert });
  }

  settled(version) {
    return !this.inflight && sendableUpdates(this.state).length === 0 && getSyncedVersion(this.state) === version;
  }
}

function seeded(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

// Waits (bounded) until every client has pushed all it has and sits at the
// server's version; returns the server's document.
async function converge(srv, roomId, clients, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const doc = await getDoc(srv, roomId);
    if (clients.every((c) => c.settled(doc.version))) return doc;
    if (Date.now() > deadline)
      throw new Error(`no convergence: server ${doc.version}, clients ${clients.map((c) => `${c.version}/${sendableUpdates(c.state).length}`)}`);
    for (const c of clients) c.push();
    await sleep(50);
  }
}

test('POST /api/rooms makes a code room: kind, language, roomId; GET doc is empty at version 0', async () => {
  const room = await createCodeRoom(server, { language: 'python' });
  assert.equal(room.kind, 'code');
  assert.equal(room.language, 'python');
  assert.equal(room.roomId, room.id);
  const shown = await (await fetch(`${server.url}/api/rooms/${room.id}`)).json();
  assert.equal(shown.kind, 'code');
  assert.deepEqual(await getDoc(server, room.id), { version: 0, text: '', language: 'python' });
  const drop = await (await fetch(`${server.url}/api/rooms`, { method: 'POST' })).json();
  assert.equal(drop.kind, 'drop');
  const res = await fetch(`${server.url}/api/rooms/${drop.id}/doc`);
  assert.equal(res.status, 409);
  assert.equal((await res.json()).error.code, 'not_code_room');
  const bad = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'chess' }) });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, 'bad_kind');
});

test('three collab clients editing at once end with the same text, equal to GET doc', async () => {
  const room = await createCodeRoom();
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await CollabClient.connect(server, room.id));
  const rngs = clients.map((_, i) => seeded(1000 + i));
  // About three seconds of typing: 150 rounds, each client editing at once.
  for (let round = 0; round < 150; round++) {
    clients.forEach((c, i) => c.randomEdit(rngs[i]));
    await sleep(20);
  }
  const doc = await converge(server, room.id, clients);
  for (const c of clients) {
    assert.equal(c.text, doc.text);
    assert.deepEqual(c.errors, []);
  }
  assert.ok(doc.version >= 150, `version ${doc.version}`);
  assert.ok(clients.some((c) => c.stale > 0), 'concurrent pushes met stale versions');
  for (const c of clients) c.sock.close();
});

test('a stale push is refused with the current version, then pulled, rebased and accepted', async () => {
  const room = await createCodeRoom();
  const a = socket(server, `/ws/${room.id}`);
  const b = socket(server, `/ws/${room.id}`);
  await a.next(ofType('welcome'));
  await b.next(ofType('welcome'));
  a.send({ type: 'doc.push', version: 0, updates: [{ clientID: 'a', changes: [[0, 'hello']] }] });
  const confirmed = await a.next(ofType('doc.updates'));
  assert.deepEqual(confirmed, { type: 'doc.updates', from: 0, version: 1, updates: [{ clientID: 'a', changes: [[0, 'hello']] }] });
  // b still thinks the document is empty.
  b.send({ type: 'doc.push', version: 0, updates: [{ clientID: 'b', changes: [[0, 'world']] }] });
  const stale = await b.next((m) => m.type === 'error');
  assert.equal(stale.code, 'stale_version');
  assert.equal(stale.version, 1);
  b.send({ type: 'doc.pull', version: 0 });
  const missed = await b.next((m) => m.type === 'doc.updates' && m.from === 0);
  assert.deepEqual(missed.updates, [{ clientID: 'a', changes: [[0, 'hello']] }]);
  // Rebased over "hello" as collab would: insert after it.
  const rebased = ChangeSet.fromJSON([[0, 'world']]).map(ChangeSet.fromJSON(missed.updates[0].changes).desc);
  b.send({ type: 'doc.push', version: 1, updates: [{ clientID: 'b', changes: rebased.toJSON() }] });
  await b.next((m) => m.type === 'doc.updates' && m.version === 2);
  assert.deepEqual(await getDoc(server, room.id), { version: 2, text: 'helloworld', language: 'javascript' });
  // And with @codemirror/collab doing the rebase itself.
  const c1 = await CollabClient.connect(server, room.id);
  const c2 = await CollabClient.connect(server, room.id);
  await sleep(100);
  c1.edit({ from: 0, insert: '1' });
  c2.edit({ from: 10, insert: '2' }); // pushed at the same version: one is stale
  const doc = await converge(server, room.id, [c1, c2]);
  assert.equal(doc.text, '1helloworld2');
  assert.equal(c1.text, doc.text);
  assert.equal(c2.text, doc.text);
  assert.equal(c1.stale + c2.stale, 1);
  for (const s of [a, b, c1.sock, c2.sock]) s.close();
});

test('invalid change sets are refused and leave the document as it was', async () => {
  const room = await createCodeRoom();
  const a = socket(server, `/ws/${room.id}`);
  await a.next(ofType('welcome'));
  a.send({ type: 'doc.push', version: 0, updates: [{ clientID: 'a', changes: [[0, 'a😀b']] }] });
  await a.next(ofType('doc.updates'));
  const before = await getDoc(server, room.id);
  const cases = [
    [[5], 'length_mismatch'],
    [[2, [2]], 'splits_character'],
    [[-1, 5], 'bad_changes'],
    [[[4, 7]], 'bad_changes'],
    ['not an array', 'bad_changes'],
    [[1, [0, 'x\ry'], 3], 'bad_changes'],
  ];
  for (const [changes, code] of cases) {
    a.send({ type: 'doc.push', version: 1, updates: [{ clientID: 'a', changes }] });
    const err = await a.next(ofType('error'));
    assert.equal(err.code, code, JSON.stringify(changes));
  }
  // All or none: a good update followed by a bad one changes nothing.
  a.send({ type: 'doc.push', version: 1, updates: [{ clientID: 'a', changes: [4, [0, '!']] }, { clientID: 'a', changes: [99] }] });
  assert.equal((await a.next(ofType('error'))).code, 'length_mismatch');
  a.send({ type: 'doc.push', version: 1, updates: [{ changes: [4] }] });
  assert.equal((await a.next(ofType('error'))).code, 'bad_changes');
  // Half a surrogate pair, as JSON.stringify writes one: not text UTF-8 can hold.
  a.ws.send('{"type":"doc.push","version":1,"updates":[{"clientID":"a","changes":[1,[0,"\\ud800"],3]}]}');
  assert.equal((await a.next(ofType('error'))).code, 'bad_json');
  assert.deepEqual(await getDoc(server, room.id), before);
  assert.deepEqual(before, { version: 1, text: 'a😀b', language: 'javascript' });
  a.close();
});

test('a whole-text client and a collab client edit the same document', async () => {
  const room = await createCodeRoom();
  const simple = socket(server, `/ws/${room.id}`);
  await simple.next(ofType('welcome'));
  const init = await simple.next(ofType('init'));
  assert.deepEqual(init, { type: 'init', code: '', language: 'javascript' });
  const editor = await CollabClient.connect(server, room.id);
  await sleep(100);

  simple.send({ type: 'code_update', code: 'function f() {\r\n  return 1;\r\n}\r\n' });
  const doc1 = await converge(server, room.id, [editor]);
  assert.equal(doc1.text, 'function f() {\n  return 1;\n}\n'); // line breaks as CodeMirror keeps them
  assert.equal(editor.text, doc1.text);

  editor.edit({ from: 24, to: 25, insert: '42' });
  const whole = await simple.next((m) => m.type === 'code_update');
  assert.equal(whole.code, 'function f() {\n  return 42;\n}\n');
  const doc2 = await converge(server, room.id, [editor]);
  assert.equal(doc2.text, whole.code);

  // The whole text becomes the smallest change, not a replacement.
  simple.send({ type: 'code_update', code: 'function g() {\n  return 42;\n}\n' });
  const small = await simple.next((m) => m.type === 'doc.updates' && m.version === doc2.version + 1);
  assert.deepEqual(small.updates[0].changes, [9, [1, 'g'], 20]);
  const doc3 = await converge(server, room.id, [editor]);
  assert.equal(editor.text, doc3.text);
  assert.equal(doc3.text, 'function g() {\n  return 42;\n}\n');
  // The sender gets no code_update echo of its own text.
  await sleep(100);
  assert.equal(simple.inbox.filter((m) => m.type === 'code_update' && m.code === doc3.text).length, 0);
  simple.close();
  editor.sock.close();
});

test('cursors go to the others with who moved them; a language change to everyone', async () => {
  const room = await createCodeRoom();
  const a = socket(server, `/ws/${room.id}`);
  const b = socket(server, `/ws/${room.id}`);
  const wa = await a.next(ofType('welcome'));
  await b.next(ofType('welcome'));
  a.send({ type: 'doc.cursor', anchor: 0, head: 0 });
  const seen = await b.next(ofType('doc.cursor'));
  assert.equal(seen.peer_id, wa.peer_id);
  assert.equal(seen.name, wa.you.name);
  assert.deepEqual([seen.anchor, seen.head, seen.version], [0, 0, 0]);
  a.send({ type: 'doc.cursor', anchor: -1, head: 0 });
  assert.equal((await a.next(ofType('error'))).code, 'bad_message');
  b.send({ type: 'doc.language', language: 'rust' });
  assert.equal((await a.next(ofType('doc.language'))).language, 'rust');
  assert.equal((await b.next(ofType('doc.language'))).language, 'rust');
  b.send({ type: 'doc.language', language: 'no spaces' });
  assert.equal((await b.next(ofType('error'))).code, 'bad_language');
  assert.equal((await getDoc(server, room.id)).language, 'rust');
  a.close();
  b.close();
});

test('PUT doc needs the owner token and reaches members as one update', async () => {
  const room = await createCodeRoom();
  const a = socket(server, `/ws/${room.id}`);
  await a.next(ofType('welcome'));
  const put = (body, token) =>
    fetch(`${server.url}/api/rooms/${room.id}/doc`, {
      method: 'PUT',
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      body: JSON.stringify(body),
    });
  const refused = await put({ text: 'x' });
  assert.equal(refused.status, 401);
  const res = await put({ text: 'int main(void) {}\n' }, room.owner_token);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { version: 1, text: 'int main(void) {}\n', language: 'javascript' });
  const upd = await a.next(ofType('doc.updates'));
  assert.deepEqual(upd.updates, [{ clientID: 'rest', changes: [[0, 'int main(void) {}', '']] }]);
  assert.equal((await a.next(ofType('code_update'))).code, 'int main(void) {}\n');
  const bad = await put({ txt: 1 }, room.owner_token);
  assert.equal(bad.status, 400);
  a.close();
});

test('the document size limit holds for pushes, whole texts and PUT', async () => {
  const room = await createCodeRoom();
  const a = socket(server, `/ws/${room.id}`);
  await a.next(ofType('welcome'));
  const big = 'x'.repeat(64 * 1024 + 1);
  a.send({ type: 'doc.push', version: 0, updates: [{ clientID: 'a', changes: [[0, big]] }] });
  assert.equal((await a.next(ofType('error'))).code, 'changes_too_large');
  a.send({ type: 'doc.push', version: 0, updates: [{ clientID: 'a', changes: [[0, 'y'.repeat(40000)]] }, { clientID: 'a', changes: [40000, [0, 'y'.repeat(30000)]] }] });
  assert.equal((await a.next(ofType('error'))).code, 'doc_too_large');
  a.send({ type: 'code_update', code: big });
  assert.equal((await a.next(ofType('error'))).code, 'doc_too_large');
  const res = await fetch(`${server.url}/api/rooms/${room.id}/doc`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${room.owner_token}` },
    body: JSON.stringify({ text: big }),
  });
  assert.equal(res.status, 413);
  const exact = 'z'.repeat(64 * 1024);
  a.send({ type: 'code_update', code: exact });
  await a.next(ofType('doc.updates'));
  assert.equal((await getDoc(server, room.id)).text.length, 64 * 1024);
  a.close();
});

test('a restart keeps the document and its version (snapshots and updates after them)', async () => {
  const first = await startServer(['--doc-snapshot-every', '4']);
  const room = await createCodeRoom(first);
  const editor = await CollabClient.connect(first, room.id);
  const rng = seeded(7);
  for (let i = 0; i < 30; i++) {
    editor.randomEdit(rng);
    await sleep(5);
  }
  const before = await converge(first, room.id, [editor]);
  editor.sock.close();
  first.child.kill('SIGTERM');
  assert.equal((await first.exited).code, 0);

  const second = await startServer(['--data-dir', first.dataDir, '--doc-snapshot-every', '4']);
  try {
    assert.deepEqual(await getDoc(second, room.id), before);
    // The history after the last snapshot is there to pull, and pushing
    // goes on from the same version.
    const again = await CollabClient.connect(second, room.id);
    assert.equal(again.version, before.version);
    assert.equal(again.text, before.text);
    const pulled = socket(second, `/ws/${room.id}`);
    await pulled.next(ofType('welcome'));
    pulled.send({ type: 'doc.pull', version: before.version - 2 });
    const missed = await pulled.next((m) => m.type === 'doc.updates' && m.from === before.version - 2);
    assert.equal(missed.updates.length, 2);
    again.edit({ from: 0, insert: '// kept\n' });
    const after = await converge(second, room.id, [again]);
    assert.equal(after.version, before.version + 1);
    assert.equal(after.text, `// kept\n${before.text}`);
    again.sock.close();
    pulled.close();
  } finally {
    assert.equal((await second.stop()).code, 0);
    await first.stop(); // removes the shared data directory
  }
});
