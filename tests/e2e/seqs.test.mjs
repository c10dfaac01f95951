// The drop room client's resume point (web/src/seqs.js): a reconnect asks
// for the items after the highest seq below which nothing is missing, so
// items that arrive out of order (several instances, overlapping posts)
// are never skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeqTracker } from '../../web/src/seqs.js';

test('in order, the resume point follows the items', () => {
  const t = new SeqTracker();
  for (const s of [1, 2, 3]) t.seen(s);
  assert.equal(t.done, 3);
});

test('an item ahead of a missing one does not move the resume point until the gap fills', () => {
  const t = new SeqTracker();
  t.listed([1, 2, 4]); // 3 was deleted before the list was read
  assert.equal(t.done, 4);
  t.seen(6);
  t.seen(7);
  assert.equal(t.done, 4, '5 is still on its way: a reconnect must ask for it');
  t.seen(5);
  assert.equal(t.done, 7);
  t.seen(7);
  t.seen(2);
  assert.equal(t.done, 7, 'seen again or old: nothing moves');
});

test('a deletion seen live fills its gap; what is not a seq is ignored', () => {
  const t = new SeqTracker();
  t.seen(1);
  t.seen(3);
  t.seen(undefined);
  t.seen(2.5);
  assert.equal(t.done, 1);
  t.seen(2); // item.deleted of 2 carries its seq
  assert.equal(t.done, 3);
});

test('a list read later covers the gaps below its top and keeps what is above it', () => {
  const t = new SeqTracker();
  t.seen(1);
  t.seen(5);
  t.seen(9);
  t.listed([1, 2, 4, 5, 6]);
  assert.equal(t.done, 6);
  t.seen(8);
  t.seen(7);
  assert.equal(t.done, 9);
  t.listed([]);
  assert.equal(t.done, 9);
});
