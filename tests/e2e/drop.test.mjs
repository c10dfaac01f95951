// Drop rooms through the REST API and the WebSocket: rooms with codes,
// text and files that reach every member at once, downloads, limits,
// expiry, deletion, and a crash in the middle of an upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import WebSocket from 'ws';
import { startServer, TOPOLOGY } from './lib/server.mjs';
import { sleep } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer(['--max-file-size', '64M', '--code-lookups-per-minute', '200']);
});
after(async () => {
  assert.equal((await server.stop()).code, 0);
});

const api = (path, init) => fetch(server.url + path, init);
const json = async (res) => ({ status: res.status, body: await res.json() });
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

async function newRoom(s = server) {
  const res = await fetch(s.url + '/api/rooms', { method: 'POST' });
  assert.equal(res.status, 201);
  return res.json();
}

// A WebSocket member that collects frames.
function member(path, s = server) {
  const ws = new WebSocket(s.wsUrl(path));
  const inbox = [];
  ws.on('message', (d) => inbox.push(JSON.parse(d.toString())));
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  return {
    ws, inbox, closed,
    async next(pred, ms = 5000) {
      const end = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > end) throw new Error(`no such frame; have ${JSON.stringify(inbox).slice(0, 400)}`);
        await sleep(20);
      }
    },
  };
}

test('POST /api/rooms makes a room with an id, a 6-digit code, links and an owner token', async () => {
  const room = await newRoom();
  assert.match(room.id, /^[A-Za-z0-9]{22}$/);
  assert.match(room.code, /^\d{6}$/);
  assert.equal(room.url, `${server.url}/r/${room.id}`);
  assert.equal(room.qr_url, `/api/rooms/${room.id}/qr.svg`);
  assert.ok(room.owner_token.length >= 40);
  const ttl = Date.parse(room.expires_at) - Date.parse(room.created_at);
  assert.equal(ttl, 24 * 3600 * 1000);
  const byCode = await json(await api(`/api/rooms/${room.code}`));
  assert.equal(byCode.status, 200);
  assert.equal(byCode.body.id, room.id);
  assert.equal(byCode.body.owner_token, undefined, 'the token is never shown again');
  const byId = await json(await api(`/api/rooms/${room.id}`));
  assert.equal(byId.body.code, room.code);
  assert.equal(byId.body.members_online, 0);
  assert.equal((await api('/api/rooms/000000')).status === 404 || room.code === '000000', true);
  assert.equal((await api('/api/rooms/ZZZZZZZZZZZZZZZZZZZZZZ')).status, 404);
});

test('the QR code is an SVG of the room link', async () => {
  const room = await newRoom();
  const res = await api(room.qr_url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/svg+xml');
  const svg = await res.text();
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
  assert.ok(svg.length > 1000);
});

test('text and a 50 MiB file posted by one client reach a WebSocket member live, and download intact', async () => {
  const room = await newRoom();
  const m = member(`/ws/${room.code}`);
  const welcome = await m.next((f) => f.type === 'welcome');
  assert.equal(welcome.room, room.id);
  assert.equal(welcome.code, room.code);

  const text = await json(await api(`/api/rooms/${room.id}/items`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: 'hello ✓ <script>', alias: 'Amber Otter' }),
  }));
  assert.equal(text.status, 201);
  assert.equal(text.body.item.kind, 'text');
  assert.equal(text.body.item.seq, 1);
  const live1 = await m.next((f) => f.type === 'item');
  assert.deepEqual(live1.item, text.body.item);
  assert.equal(live1.item.text, 'hello ✓ <script>');
  assert.equal(live1.item.alias, 'Amber Otter');

  const data = randomBytes(50 * 1024 * 1024);
  const up = await json(await api(`/api/rooms/${room.id}/items`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-test', 'X-Filename': encodeURIComponent('résumé "final".bin') },
    body: data,
  }));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const item = up.body.item;
  assert.equal(item.seq, 2);
  assert.equal(item.size, data.length);
  assert.equal(item.sha256, sha256(data));
  assert.equal(item.file_name, 'résumé "final".bin');
  assert.equal(item.content_type, 'application/x-test');
  const live2 = await m.next((f) => f.type === 'item');
  assert.equal(live2.item.id, item.id);

  const dl = await api(item.url);
  assert.equal(dl.status, 200);
  assert.match(dl.headers.get('content-disposition'), /^attachment; filename="r_sum_ \\"final\\".bin"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22\.bin$/);
  assert.equal(dl.headers.get('content-type'), 'application/octet-stream');
  assert.equal(dl.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(dl.headers.get('etag'), `"${item.sha256}"`);
  const body = Buffer.from(await dl.arrayBuffer());
  assert.equal(sha256(body), item.sha256);

  const part = await api(item.url, { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${data.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(1000, 2000));
  const tail = await api(item.url, { headers: { Range: 'bytes=-10' } });
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), data.subarray(data.length - 10));
  const bad = await api(item.url, { headers: { Range: `bytes=${data.length}-` } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), `bytes */${data.length}`);
  await bad.arrayBuffer();
  const cached = await api(item.url, { headers: { 'If-None-Match': `"${item.sha256}"` } });
  assert.equal(cached.status, 304);

  const list = await json(await api(`/api/rooms/${room.id}/items?after=0&limit=1`));
  assert.equal(list.body.items.length, 1);
  assert.equal(list.body.next_after, 1);
  const rest = await json(await api(`/api/rooms/${room.id}/items?after=1`));
  assert.deepEqual(rest.body.items.map((i) => i.seq), [2]);
  assert.equal(rest.body.next_after, null);
  m.ws.close();
});

test('a reconnecting member with ?after=SEQ gets what it missed first', async () => {
  const room = await newRoom();
  for (const t of ['one', 'two', 'three'])
    await api(`/api/rooms/${room.id}/items`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: t }) });
  const m = member(`/ws/${room.id}?after=1`);
  await m.next((f) => f.type === 'welcome');
  const a = await m.next((f) => f.type === 'item');
  const b = await m.next((f) => f.type === 'item');
  assert.deepEqual([a.item.text, b.item.text], ['two', 'three']);
  m.ws.close();
});

test('a listing larger than the inline response limit (16 KiB) arrives intact', async () => {
  // Such bodies are queued apart from the head; they once pointed at memory
  // freed before the write went out.
  const room = await newRoom();
  const texts = Array.from({ length: 40 }, (_, i) => `${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26))));
  for (const text of texts)
    await api(`/api/rooms/${room.id}/items`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) });
  const res = await api(`/api/rooms/${room.id}/items?limit=500`);
  const raw = await res.text();
  assert.equal(res.status, 200);
  assert.ok(raw.length > 40000, `a ${raw.length}-byte body`);
  assert.deepEqual(JSON.parse(raw).items.map((it) => it.text), texts);
});

test('a file from an HTML form (multipart) becomes an item', async () => {
  const room = await newRoom();
  const form = new FormData();
  form.append('alias', 'Blue Fox');
  form.append('file', new Blob([Buffer.from('first file')], { type: 'text/plain' }), 'a.txt');
  form.append('file', new Blob([randomBytes(300000)]), 'b.bin');
  const res = await json(await api(`/api/rooms/${room.id}/items`, { method: 'POST', body: form }));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.items.map((i) => [i.file_name, i.alias]), [['a.txt', 'Blue Fox'], ['b.bin', 'Blue Fox']]);
  assert.equal(res.body.items[0].content_type, 'text/plain');
  assert.equal(res.body.items[1].size, 300000);
  const dl = await api(res.body.items[0].url);
  assert.equal(await dl.text(), 'first file');
});

test('uploaded HTML is never served inline', async () => {
  const room = await newRoom();
  const up = await json(await api(`/api/rooms/${room.id}/items?name=x.html`, {
    method: 'POST', headers: { 'Content-Type': 'text/html' }, body: '<script>alert(1)</script>',
  }));
  const dl = await api(up.body.item.url);
  assert.equal(dl.headers.get('content-type'), 'application/octet-stream');
  assert.match(dl.headers.get('content-disposition'), /^attachment;/);
  assert.match(dl.headers.get('content-security-policy'), /sandbox/);
  await dl.text();
});

test('file names cannot escape the blob directory', async () => {
  const room = await newRoom();
  const up = await json(await api(`/api/rooms/${room.id}/items`, {
    method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': encodeURIComponent('../../etc/passwd') },
    body: 'x',
  }));
  assert.equal(up.status, 201);
  assert.equal(up.body.item.file_name, 'passwd');
  assert.equal(existsSync(join(server.dataDir, 'etc')), false);
});

test('limits: a file over --max-file-size gets 413 and leaves nothing behind', async () => {
  const room = await newRoom();
  const res = await api(`/api/rooms/${room.id}/items?name=big.bin`, {
    method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(65 * 1024 * 1024),
  }).catch((e) => e);
  if (res instanceof Error) {
    // The server may close before reading the whole body; that is a refusal too.
  } else {
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, 'file_too_large');
  }
  await sleep(300);
  const list = await json(await api(`/api/rooms/${room.id}/items`));
  assert.deepEqual(list.body.items, []);
  assert.deepEqual(readdirSync(join(server.dataDir, 'blobs', 'tmp')), []);
});

test('a chunked upload over the limit is cut with 413 mid-stream', async () => {
  const room = await newRoom();
  const s = net.connect(server.port, '127.0.0.1');
  await new Promise((r) => s.on('connect', r));
  s.write(`POST /api/rooms/${room.id}/items?name=c.bin HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 1);
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('error', () => {});
  for (let i = 0; i < 70 && !got; i++) {
    s.write(chunk.length.toString(16) + '\r\n');
    s.write(chunk);
    s.write('\r\n');
    await sleep(2);
  }
  await sleep(300);
  assert.match(got, /^HTTP\/1\.1 413 /);
  assert.match(got, /file_too_large/);
  s.destroy();
  await sleep(200);
  assert.deepEqual(readdirSync(join(server.dataDir, 'blobs', 'tmp')), []);
});

test('text limits and bad bodies are refused clearly', async () => {
  const room = await newRoom();
  const post = (body, type = 'application/json') => api(`/api/rooms/${room.id}/items`, { method: 'POST', headers: { 'Content-Type': type }, body });
  assert.equal((await json(await post('{"text": 5}'))).body.error.code, 'bad_request');
  assert.equal((await json(await post('not json'))).status, 400);
  assert.equal((await json(await post(JSON.stringify({ text: 'x'.repeat(70000) })))).status, 413);
  assert.equal((await json(await post(JSON.stringify({ text: '' })))).status, 400);
  assert.equal((await api(`/api/rooms/ZZZZZZZZZZZZZZZZZZZZZZ/items`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"x"}' })).status, 404);
});

test('deleting an item tells the members; the owner deletes the room and its files', async () => {
  const room = await newRoom();
  const m = member(`/ws/${room.id}`);
  await m.next((f) => f.type === 'welcome');
  const up = await json(await api(`/api/rooms/${room.id}/items?name=f.bin`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'file body' }));
  const blob = join(server.dataDir, 'blobs', up.body.item.id);
  assert.ok(existsSync(blob));
  await m.next((f) => f.type === 'item');
  const t = await json(await api(`/api/rooms/${room.id}/items`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"bye"}' }));
  assert.equal((await api(`/api/rooms/${room.id}/items/${t.body.item.id}`, { method: 'DELETE' })).status, 204);
  const gone = await m.next((f) => f.type === 'item.deleted');
  assert.equal(gone.id, t.body.item.id);

  assert.equal((await api(`/api/rooms/${room.id}`, { method: 'DELETE' })).status, 401);
  assert.equal((await api(`/api/rooms/${room.id}`, { method: 'DELETE', headers: { Authorization: 'Bearer wrong' } })).status, 401);
  const del = await api(`/api/rooms/${room.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${room.owner_token}` } });
  assert.equal(del.status, 204);
  const closed = await m.next((f) => f.type === 'room.closed');
  assert.equal(closed.reason, 'deleted');
  assert.equal(await m.closed, 1000);
  assert.equal((await api(`/api/rooms/${room.id}`)).status, 404);
  assert.equal(existsSync(blob), false);
});

test('code lookups are rate limited per address with 429 and Retry-After', async () => {
  const s = await startServer(['--code-lookups-per-minute', '3']);
  try {
    const room = await newRoom(s);
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${s.url}/api/rooms/${room.code}`)).status, 200);
    const res = await fetch(`${s.url}/api/rooms/${room.code}`);
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.equal((await res.json()).error.code, 'rate_limited');
    assert.equal((await fetch(`${s.url}/api/rooms/${room.id}`)).status, 200, 'ids are not limited');
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--trust-proxy loopback counts code lookups by X-Real-IP from a proxy on this host', {
  skip: TOPOLOGY === 'cluster' && 'nginx in front sets X-Real-IP itself (the cluster runs with the flag)',
}, async () => {
  const lookup = (s, room, ip) => fetch(`${s.url}/api/rooms/${room.code}`, { headers: { 'X-Real-IP': ip } });
  const trusting = await startServer(['--code-lookups-per-minute', '2', '--trust-proxy', 'loopback']);
  const plain = await startServer(['--code-lookups-per-minute', '2']);
  try {
    let room = await newRoom(trusting);
    for (const ip of ['192.0.2.1', '192.0.2.1', '2001:db8::1', '2001:db8::2']) {
      assert.equal((await lookup(trusting, room, ip)).status, 200, ip);
    }
    assert.equal((await lookup(trusting, room, '192.0.2.1')).status, 429, 'its third lookup');
    assert.equal((await lookup(trusting, room, '2001:db8::3')).status, 429, 'a /64 is one client');
    assert.equal((await lookup(trusting, room, '192.0.2.9')).status, 200, 'another client');
    // Without the flag a client cannot name itself anew with a header.
    room = await newRoom(plain);
    for (const ip of ['192.0.2.1', '192.0.2.2']) assert.equal((await lookup(plain, room, ip)).status, 200);
    assert.equal((await lookup(plain, room, '192.0.2.3')).status, 429);
  } finally {
    assert.equal((await trusting.stop()).code, 0);
    assert.equal((await plain.stop()).code, 0);
  }
});

test('rooms expire: members are told, then the room is gone everywhere', async () => {
  const s = await startServer(['--room-ttl', '2s']);
  try {
    const room = await newRoom(s);
    await fetch(`${s.url}/api/rooms/${room.id}/items?name=e.bin`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'soon gone' });
    const m = member(`/ws/${room.id}`, s);
    await m.next((f) => f.type === 'welcome');
    const closed = await m.next((f) => f.type === 'room.closed', 6000);
    assert.equal(closed.reason, 'expired');
    const after = await fetch(`${s.url}/api/rooms/${room.id}`);
    assert.ok([404, 410].includes(after.status));
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs')).filter((f) => f !== 'tmp'), []);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('/api/sessions/:code/items works like the room routes', async () => {
  const room = await newRoom();
  const res = await json(await api(`/api/sessions/${room.code}/items`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"pair drop"}' }));
  assert.equal(res.status, 201);
  const list = await json(await api(`/api/sessions/${room.code}/items`));
  assert.equal(list.body.items[0].text, 'pair drop');
});

test('--public-url sets the base of room links and QR codes', async () => {
  const s = await startServer(['--public-url', 'http://192.0.2.7:8080/']);
  try {
    const room = await newRoom(s);
    assert.equal(room.url, `http://192.0.2.7:8080/r/${room.id}`);
    const got = await (await fetch(`${s.url}/api/rooms/${room.id}`)).json();
    assert.equal(got.url, room.url);
    assert.equal(got.qr_url, `/api/rooms/${room.id}/qr.svg`);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('uploads that would eat into --min-free-disk get 507 and leave nothing', async () => {
  // Asks for more free space than this machine's disk has (1000 GB), so
  // every upload is refused.
  const s = await startServer(['--min-free-disk', '1000G']);
  try {
    const room = await newRoom(s);
    const res = await fetch(`${s.url}/api/rooms/${room.id}/items?name=a.bin`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(1000),
    });
    assert.equal(res.status, 507);
    assert.equal((await res.json()).error.code, 'disk_full');
    const text = await fetch(`${s.url}/api/rooms/${room.id}/items`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"text still fits"}',
    });
    assert.equal(text.status, 201);
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs', 'tmp')), []);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--max-room-bytes: the file that would overfill a room gets 413 room_full, by length or mid-stream', async () => {
  const s = await startServer(['--max-room-bytes', '1M', '--max-file-size', '4M']);
  try {
    const room = await newRoom(s);
    const post = (name, body) => fetch(`${s.url}/api/rooms/${room.id}/items?name=${name}`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body, duplex: 'half',
    });
    // A refusal is a 413, or the connection closed before the body was all
    // sent (the server answers and closes without reading the rest).
    const refused = async (res) => {
      if (res instanceof Error) return assert.equal(res.message, 'fetch failed', res.stack);
      assert.equal(res.status, 413);
      assert.equal((await res.json()).error.code, 'room_full');
    };
    assert.equal((await post('a.bin', Buffer.alloc(700 * 1024))).status, 201);
    // Declared too big: refused before the body is read.
    await refused(await post('b.bin', Buffer.alloc(400 * 1024)).catch((e) => e));
    // Chunked (no length): refused once the bytes pass the room's limit.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new Uint8Array(64 * 1024));
        c.close();
      },
    });
    await refused(await post('c.bin', stream).catch((e) => e));
    await sleep(300);
    const list = await (await fetch(`${s.url}/api/rooms/${room.id}/items`)).json();
    assert.deepEqual(list.items.map((i) => i.file_name), ['a.bin']);
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs', 'tmp')), []);
    // What fits still goes in.
    assert.equal((await post('d.bin', Buffer.alloc(100 * 1024))).status, 201);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--max-file-size holds for files in an HTML form too', async () => {
  const room = await newRoom();
  const form = new FormData();
  form.append('file', new Blob([Buffer.from('small')]), 'small.txt');
  form.append('file', new Blob([Buffer.alloc(65 * 1024 * 1024)]), 'huge.bin');
  const res = await api(`/api/rooms/${room.id}/items`, { method: 'POST', body: form }).catch((e) => e);
  if (res instanceof Error) assert.equal(res.message, 'fetch failed', res.stack);
  else {
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, 'file_too_large');
  }
  await sleep(300);
  const list = await json(await api(`/api/rooms/${room.id}/items`));
  assert.deepEqual(list.body.items, [], 'a refused form leaves none of its files');
  assert.deepEqual(readdirSync(join(server.dataDir, 'blobs', 'tmp')), []);
});
