// The web client's incremental SHA-256 (web/src/sha256.js) in Node: its state
// saved at any point, through JSON (as a receiver keeps it in localStorage
// across a reload), and restored goes on to the same digest as node:crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Sha256 } from '../../web/src/sha256.js';

const nodeSha = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('a hash saved at any offset and restored from JSON ends with the same digest', () => {
  const bytes = randomBytes(3 * 65536 + 777);
  // Block boundaries, offsets inside a block, the ends, and a chunk-sized step.
  for (const cut of [0, 1, 63, 64, 65, 127, 1000, 65536, 65536 + 13, bytes.length - 1, bytes.length]) {
    const first = new Sha256().update(bytes.subarray(0, cut));
    const saved = JSON.parse(JSON.stringify(first.save()));
    assert.equal(saved.total, cut);
    assert.equal(saved.tail.length, (cut % 64) * 2, `the bytes past the last block at ${cut}`);
    const rest = Sha256.restore(saved);
    assert.ok(rest, `restored at ${cut}`);
    // The rest in uneven pieces, as chunks arrive.
    for (let at = cut; at < bytes.length; at += 4099) rest.update(bytes.subarray(at, Math.min(bytes.length, at + 4099)));
    assert.equal(rest.hex(), nodeSha(bytes), `cut at ${cut}`);
  }
});

test('the empty hash, and saving does not disturb the hash it came from', () => {
  assert.equal(Sha256.restore(new Sha256().save()).hex(), nodeSha(Buffer.alloc(0)));
  const bytes = randomBytes(10000);
  const h = new Sha256().update(bytes.subarray(0, 5000));
  h.save();
  assert.equal(h.update(bytes.subarray(5000)).hex(), nodeSha(bytes));
});

test('restore refuses what is not a saved state', () => {
  const good = new Sha256().update(randomBytes(70)).save();
  for (const bad of [
    null, undefined, 'x', {},
    { ...good, h: good.h.slice(1) },
    { ...good, h: 'g'.repeat(64) },
    { ...good, tail: good.tail + 'a' },
    { ...good, tail: 'ab'.repeat(64) },
    { ...good, total: good.total + 1 }, // the count does not match the tail
    { ...good, total: -6 },
    { ...good, total: 70.5 },
    { ...good, total: '70' },
  ]) assert.equal(Sha256.restore(bad), null, JSON.stringify(bad));
});
