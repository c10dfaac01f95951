// Faults of the scale-out topology (lib/cluster.mjs: tandem instances on one
// PostgreSQL database and one Redis, behind nginx): an instance killed with
// -9 mid-traffic loses no acknowledged item and its members leave the
// others' lists within the TTL; a Redis restart and a PostgreSQL stop
// degrade /readyz and the routes that need them, and the cluster comes back
// by itself. Each test starts its own cluster, whatever
// TANDEM_TEST_TOPOLOGY says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startCluster } from './lib/cluster.mjs';
import { postgresServer } from './lib/server.mjs';
import { sleep } from './lib/raw.mjs';

async function until(what, check, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function readyz(instance) {
  const res = await fetch(`${instance.url}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

const everyReady = (cluster, ms) => Promise.all(cluster.instances.map((i) =>
  until(`instance ${i.port} ready`, async () => (await readyz(i)).status === 200, ms)));

// Runs fn on a fresh cluster; stops it afterwards and checks that every
// instance the test did not kill exits cleanly (under ASan, a report or a
// leak is a non-zero exit).
async function withCluster(fn) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tandem-faults-'));
  const cluster = await startCluster(['--data-dir', dataDir], { dataDir });
  const killed = new Set();
  try {
    await everyReady(cluster, 20000);
    await fn(cluster, killed);
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const [i, inst] of cluster.instances.entries()) {
    if (killed.has(i)) continue;
    assert.equal(inst.child.exitCode, 0, `instance ${i} exited with ${inst.child.exitCode ?? inst.child.signalCode}:\n${cluster.log.slice(-4000)}`);
  }
}

// A WebSocket member that records every frame; next() takes the first
// frame matching pred, waiting at most ms.
function member(url) {
  const m = { all: [], unread: [], ws: null };
  m.ws = new WebSocket(url);
  m.ws.on('message', (d, binary) => {
    if (binary) return;
    const msg = JSON.parse(d.toString());
    m.all.push(msg);
    m.unread.push(msg);
  });
  m.next = async (pred, ms = 5000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = m.unread.findIndex(pred);
      if (i >= 0) return m.unread.splice(i, 1)[0];
      if (Date.now() > end) throw new Error(`nothing matched within ${ms} ms; have ${JSON.stringify(m.unread).slice(0, 400)}`);
      await sleep(20);
    }
  };
  m.welcome = () => m.next((x) => x.type === 'welcome', 10000);
  return m;
}

// A drop room member as the web client is one: it counts the items it has
// seen and, when its socket drops, reconnects through nginx with
// ?after=<last seq seen> (a bounded number of times, a little apart).
function dropMember(cluster, roomId, firstUrl) {
  const m = { items: [], lastSeq: 0, welcomes: [], sockets: 0, closing: false, failures: 0 };
  const connect = (url) => {
    const ws = new WebSocket(url);
    m.ws = ws;
    m.sockets += 1;
    ws.on('message', (d, binary) => {
      if (binary) return;
      const msg = JSON.parse(d.toString());
      if (msg.type === 'welcome') m.welcomes.push(msg);
      if (msg.type === 'item') {
        m.items.push(msg.item);
        m.lastSeq = Math.max(m.lastSeq, msg.item.seq);
      }
      if (msg.type === 'peer.left') (m.left ??= []).push(msg.peer_id);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (m.closing || m.failures >= 100) return;
      m.failures += 1;
      setTimeout(() => connect(cluster.nginx.wsUrl(`/ws/${roomId}?after=${m.lastSeq}`)), 100);
    });
  };
  connect(firstUrl);
  m.close = () => {
    m.closing = true;
    m.ws.close();
  };
  return m;
}

const direct = (instance, path) => `ws://127.0.0.1:${instance.port}${path}`;

const postText = (base, roomId, text) => fetch(`${base}/api/rooms/${roomId}/items`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ text }),
  signal: AbortSignal.timeout(15000),
});

// The seqs a member saw, each once, in the order first seen; a repeated
// seq must be the same item.
function firstSeen(m, label) {
  const order = [];
  const bySeq = new Map();
  for (const item of m.items) {
    if (bySeq.has(item.seq)) {
      assert.deepEqual(item, bySeq.get(item.seq), `${label}: a repeated seq is the same item`);
      continue;
    }
    bySeq.set(item.seq, item);
    order.push(item.seq);
  }
  return { order, bySeq };
}

const ascending = (seqs) => seqs.every((s, j) => j === 0 || s > seqs[j - 1]);

test('kill -9 of one instance mid-traffic: no acknowledged item is lost, its members leave within the TTL', { timeout: 180000 }, (t) => withCluster(async (cluster, killed) => {
  const res = await fetch(`${cluster.url}/api/rooms`, { method: 'POST' });
  assert.equal(res.status, 201);
  const room = await res.json();
  // One member on each instance directly (so we know who is on the one
  // killed), and two more through nginx, wherever it puts them.
  const members = cluster.instances.map((i) => dropMember(cluster, room.id, direct(i, `/ws/${room.id}?after=0`)));
  for (let k = 0; k < 2; k++) members.push(dropMember(cluster, room.id, cluster.nginx.wsUrl(`/ws/${room.id}?after=0`)));
  await until('every member welcomed', () => members.every((m) => m.welcomes.length === 1), 10000);
  const victim = 1;
  const victimPeer = members[victim].welcomes[0].peer_id;

  // One writer posts 60 items through nginx, one after the other (posts
  // that overlap are announced in no fixed seq order: see the todo test
  // below); the instance is killed while it writes.
  const acked = [];
  const refused = [];
  const writing = (async () => {
    for (let n = 0; n < 60; n++) {
      const text = `item ${n}`;
      try {
        const r = await postText(cluster.url, room.id, text);
        if (r.status === 201) acked.push({ text, item: (await r.json()).item });
        else refused.push(`${text}: ${r.status}`);
      } catch (e) {
        refused.push(`${text}: ${e.message}`);
      }
      await sleep(50);
    }
  })();
  await until('the first posts acknowledged', () => acked.length + refused.length >= 30, 30000);
  cluster.instances[victim].child.kill('SIGKILL');
  killed.add(victim);
  const killedAt = Date.now();
  await writing;
  await until('the killed instance gone', () => cluster.instances[victim].child.signalCode === 'SIGKILL', 5000);
  assert.ok(acked.length >= 50, `most posts are acknowledged (refused: ${refused.join('; ')})`);
  for (const a of acked) assert.equal(a.item.text, a.text);
  const ackedSeqs = acked.map((a) => a.item.seq);
  assert.equal(new Set(ackedSeqs).size, ackedSeqs.length, 'every acknowledged item has its own seq');

  const hasAll = (m) => { const seen = new Set(m.items.map((i) => i.seq)); return ackedSeqs.every((s) => seen.has(s)); };
  await until('every member has seen every acknowledged item', () => members.every(hasAll), 30000)
    .catch((e) => { throw new Error(`${e.message}; missing: ${JSON.stringify(members.map((m) => ackedSeqs.filter((s) => !m.items.some((i) => i.seq === s))))}`); });
  assert.ok(members[victim].sockets >= 2, 'the member on the killed instance reconnected');
  t.diagnostic(`${acked.length} acknowledged, ${refused.length} refused; sockets per member: ${members.map((m) => m.sockets).join(',')}`);
  for (const [k, m] of members.entries()) {
    const { order, bySeq } = firstSeen(m, `member ${k}`);
    assert.ok(ascending(order), `member ${k} saw items in seq order: ${order.join(',')}`);
    for (const a of acked) assert.equal(bySeq.get(a.item.seq).id, a.item.id);
  }

  const list = await (await fetch(`${cluster.url}/api/rooms/${room.id}/items?limit=500`)).json();
  const listed = new Map(list.items.map((i) => [i.seq, i]));
  for (const a of acked) assert.equal(listed.get(a.item.seq)?.id, a.item.id, `item ${a.item.seq} is listed`);
  const listedSeqs = list.items.map((i) => i.seq);
  assert.deepEqual(listedSeqs, [...listedSeqs].sort((x, y) => x - y), 'the list is in seq order');

  // The killed member is gone from the survivors' lists within the
  // heartbeat TTL (15 s; 25 s allows for a slow machine).
  // The members that lost their socket were all on the killed instance.
  const survivors = members.filter((m, k) => k !== victim && m.sockets === 1);
  const gone = members.filter((m) => m.sockets > 1).map((m) => m.welcomes[0].peer_id);
  assert.ok(survivors.length >= 2 && gone.includes(victimPeer));
  await until('peer.left of every killed member on every survivor',
    () => survivors.every((m) => gone.every((id) => m.left?.includes(id))), Math.max(1000, killedAt + 25000 - Date.now()));
  for (const m of members) m.close();
}));

test('Redis restart: /readyz degrades, comes back on every instance, signals cross instances again', { timeout: 120000 }, () => withCluster(async (cluster) => {
  const room = `faults-redis-${process.pid}`;
  const a = member(direct(cluster.instances[0], `/ws/${room}`));
  const wa = await a.welcome();
  const b = member(direct(cluster.instances[1], `/ws/${room}`));
  const wb = await b.welcome();
  await a.next((m) => m.type === 'peer.joined' && m.peer_id === wb.peer_id);
  a.ws.send(JSON.stringify({ type: 'signal', to: wb.peer_id, data: { n: 'before' } }));
  assert.deepEqual(await b.next((m) => m.type === 'signal'), { type: 'signal', from: wa.peer_id, data: { n: 'before' } });

  await cluster.redis.down({ hard: true });
  await until('instance 0 degraded', async () => (await readyz(cluster.instances[0])).status === 503, 10000);
  const degraded = await readyz(cluster.instances[0]);
  assert.equal(degraded.body.status, 'degraded');
  assert.equal(degraded.body.redis, 'unreachable');

  await cluster.redis.restart();
  await everyReady(cluster, 15000);
  a.ws.send(JSON.stringify({ type: 'signal', to: wb.peer_id, data: { n: 'after' } }));
  assert.deepEqual(await b.next((m) => m.type === 'signal', 5000), { type: 'signal', from: wa.peer_id, data: { n: 'after' } });
  b.ws.send(JSON.stringify({ type: 'signal', data: { n: 'to everyone' } }));
  assert.deepEqual(await a.next((m) => m.type === 'signal', 5000), { type: 'signal', from: wb.peer_id, data: { n: 'to everyone' } });
  a.ws.close();
  b.ws.close();
}));

test('PostgreSQL stopped: room creation and posts answer 503 storage_unavailable without hanging, /readyz 503; started again, all recover', { timeout: 120000 }, () => withCluster(async (cluster) => {
  const pg = await postgresServer();
  const createRoom = (base) => fetch(`${base}/api/rooms`, { method: 'POST', signal: AbortSignal.timeout(15000) });
  const first = await createRoom(cluster.url);
  assert.equal(first.status, 201);
  const room = await first.json();
  const isStorageUnavailable = async (res) => {
    const body = await res.json();
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.equal(body.error.code, 'storage_unavailable');
    assert.equal(typeof body.error.message, 'string');
  };
  pg.stop('fast');
  try {
    await isStorageUnavailable(await createRoom(cluster.url));
    await isStorageUnavailable(await postText(cluster.url, room.id, 'lost with the database'));
    // A drop room's id is looked up before the upgrade: refused there, in JSON.
    const refusal = await new Promise((resolve, reject) => {
      const ws = new WebSocket(cluster.nginx.wsUrl(`/ws/${room.id}`));
      const timer = setTimeout(() => { ws.terminate(); reject(new Error('the join neither upgraded nor was refused')); }, 15000);
      ws.on('open', () => { clearTimeout(timer); ws.close(); reject(new Error('upgraded while the database is away')); });
      ws.on('error', () => {});
      ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, body: JSON.parse(body) }); });
      });
    });
    assert.equal(refusal.status, 503);
    assert.equal(refusal.body.error.code, 'storage_unavailable');
    for (const i of cluster.instances) {
      await until(`instance ${i.port} not ready`, async () => (await readyz(i)).status === 503, 10000);
    }
    const notReady = await readyz(cluster.instances[0]);
    assert.equal(notReady.body.status, 'not_ready');
    assert.equal(notReady.body.storage, 'unavailable');
    assert.ok(Number(notReady.retryAfter) > 0, 'a Retry-After says when to ask again');
  } finally {
    if (!pg.running) pg.start();
  }
  await everyReady(cluster, 30000);
  assert.equal((await createRoom(cluster.url)).status, 201);
  for (const i of cluster.instances) assert.equal((await createRoom(i.url)).status, 201, `instance ${i.port} creates rooms again`);
  // The post refused during the outage left nothing: the next one is the first item.
  assert.equal((await postText(cluster.url, room.id, 'after the outage')).status, 201);
  const { items } = await (await fetch(`${cluster.url}/api/rooms/${room.id}/items`)).json();
  assert.deepEqual(items.map((i) => [i.seq, i.text]), [[1, 'after the outage']]);
}));

// Known bug, kept as a todo so it shows in every run: overlapping posts on
// PostgreSQL (on two instances, or on one with several pool connections)
// are numbered by the database but announced in the order their inserts
// finish, so a member can see seq 36 before 35. A client that reconnects
// with ?after=<highest seq seen> (as web/src/room.js does) in between never
// gets 35.
test('overlapping posts on different instances reach every member in seq order', {
  timeout: 120000,
  todo: 'items are announced in the order their inserts finish, not in seq order',
}, () => withCluster(async (cluster) => {
  const room = await (await fetch(`${cluster.url}/api/rooms`, { method: 'POST' })).json();
  const watchers = cluster.instances.map((i) => dropMember(cluster, room.id, direct(i, `/ws/${room.id}?after=0`)));
  await until('every watcher welcomed', () => watchers.every((m) => m.welcomes.length === 1), 10000);
  const acked = [];
  await Promise.all(cluster.instances.map(async (inst) => {
    for (let n = 0; n < 30; n++) {
      const r = await postText(inst.url, room.id, `${inst.port} ${n}`);
      assert.equal(r.status, 201);
      acked.push((await r.json()).item.seq);
    }
  }));
  await until('every watcher has every item', () => watchers.every((m) => acked.every((s) => m.items.some((i) => i.seq === s))), 15000);
  for (const [k, m] of watchers.entries()) {
    const { order } = firstSeen(m, `watcher ${k}`);
    assert.ok(ascending(order), `watcher ${k} saw items out of seq order: ${order.join(',')}`);
  }
  for (const m of watchers) m.close();
}));
