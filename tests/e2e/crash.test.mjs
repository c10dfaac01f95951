// kill -9 in the middle of an upload: after a restart there is no row and
// no stray file, and what was there before is intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { startServer } from './lib/server.mjs';
import { sleep } from './lib/raw.mjs';

test('a crash mid-upload leaves no row and no stray file after the next start', async () => {
  const first = await startServer();
  const room = await (await fetch(`${first.url}/api/rooms`, { method: 'POST' })).json();
  const keep = randomBytes(200000);
  const kept = await (await fetch(`${first.url}/api/rooms/${room.id}/items?name=keep.bin`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: keep })).json();

  const s = net.connect(first.port, '127.0.0.1');
  await new Promise((r) => s.on('connect', r));
  s.on('error', () => {});
  s.write(`POST /api/rooms/${room.id}/items?name=half.bin HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${20 * 1024 * 1024}\r\n\r\n`);
  s.write(randomBytes(8 * 1024 * 1024));
  await sleep(500);
  assert.ok(readdirSync(join(first.dataDir, 'blobs', 'tmp')).length >= 1, 'the upload is under way');
  first.child.kill('SIGKILL');
  await first.exited;
  s.destroy();

  // The same data directory, a new process.
  const second = await startServer(['--data-dir', first.dataDir]);
  try {
    assert.deepEqual(readdirSync(join(first.dataDir, 'blobs', 'tmp')), []);
    const files = readdirSync(join(first.dataDir, 'blobs')).filter((f) => f !== 'tmp');
    assert.deepEqual(files, [kept.item.id]);
    const list = await (await fetch(`${second.url}/api/rooms/${room.id}/items`)).json();
    assert.deepEqual(list.items.map((i) => i.file_name), ['keep.bin']);
    const body = Buffer.from(await (await fetch(`${second.url}${kept.item.url}`)).arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), kept.item.sha256);
  } finally {
    assert.equal((await second.stop()).code, 0);
    await first.stop(); // removes the shared data directory
  }
});

test('a second tandem started on the same data directory leaves the first one\'s upload in progress alone', async () => {
  const first = await startServer();
  let second;
  try {
    const room = await (await fetch(`${first.url}/api/rooms`, { method: 'POST' })).json();
    const bytes = randomBytes(12 * 1024 * 1024);
    const s = net.connect(first.port, '127.0.0.1');
    await new Promise((r) => s.on('connect', r));
    let answer = '';
    s.on('data', (d) => (answer += d));
    s.write(`POST /api/rooms/${room.id}/items?name=slow.bin HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`);
    s.write(bytes.subarray(0, 4 * 1024 * 1024));
    await sleep(500);
    const tmp = join(first.dataDir, 'blobs', 'tmp');
    assert.equal(readdirSync(tmp).length, 1, 'the upload is under way');

    // An upgrade starts a second process on the same data (docs/operations.md).
    second = await startServer(['--data-dir', first.dataDir]);
    assert.equal(readdirSync(tmp).length, 1, 'the second start left the upload in progress alone');

    s.write(bytes.subarray(4 * 1024 * 1024));
    await new Promise((r) => s.on('close', r));
    assert.match(answer, /^HTTP\/1\.1 201/);
    const item = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).item;
    const body = Buffer.from(await (await fetch(`${second.url}${item.url}`)).arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(bytes).digest('hex'));
  } finally {
    if (second) assert.equal((await second.stop()).code, 0);
    assert.equal((await first.stop()).code, 0);
  }
});
