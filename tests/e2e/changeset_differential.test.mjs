// tandem's change sets against @codemirror/state itself: thousands of
// random documents and change sets made by the library the editor runs,
// applied by tandem's C code (tests/tools/changeset_tool, one process for
// all cases), must give the text ChangeSet.apply gives; and every diff the
// C code makes for two texts must turn the first into the second when
// CodeMirror applies it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ChangeSet, Text } from '@codemirror/state';

const TOOL =
  process.env.CHANGESET_TOOL || new URL('../../build/changeset_tool', import.meta.url).pathname;
const SEED = Number(process.env.DIFFERENTIAL_SEED || 20261124);
const APPLY_CASES = 6000;
const DIFF_CASES = 3000;

// A small seeded generator, so a failure can be replayed with its seed.
function generator(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)] };
}

// Whole characters only: ASCII, newlines, a carriage return, 2- and 3-byte
// UTF-8, and astral characters (surrogate pairs in JavaScript).
const CHARS = ['a', 'b', 'c', ' ', '\n', '\n', '\r', '\t', 'é', 'ß', '€', '漢', '😀', '🎉', '𝄞', '"', '\\'];

function randomText(rng, max) {
  const n = rng.next() < 0.1 ? rng.int(3000) : rng.int(max + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(CHARS);
  return s;
}

const docOf = (s) => Text.of(s.split('\n'));
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;
const insidePair = (s, pos) => pos > 0 && pos < s.length && isHigh(s.charCodeAt(pos - 1)) && isLow(s.charCodeAt(pos));

// A position: usually between characters, sometimes anywhere (which may be
// inside a surrogate pair, which tandem refuses).
function randomPos(rng, s, anywhere) {
  let pos = rng.int(s.length + 1);
  if (!anywhere && insidePair(s, pos)) pos--;
  return pos;
}

function randomChangeSet(rng, s) {
  const anywhere = rng.next() < 0.15;
  const specs = [];
  const count = 1 + rng.int(5);
  for (let i = 0; i < count; i++) {
    const a = randomPos(rng, s, anywhere);
    const b = rng.next() < 0.4 ? a : randomPos(rng, s, anywhere);
    specs.push({ from: Math.min(a, b), to: Math.max(a, b), insert: rng.next() < 0.3 ? '' : randomText(rng, 12) });
  }
  // Overlapping specs make ChangeSet.of compose several sets into one.
  return ChangeSet.of(specs, s.length);
}

// The rule tandem states (changeset.h): after joining neighbouring kept
// runs and neighbouring changes, and dropping changes that do nothing, no
// boundary between runs may fall inside a surrogate pair.
function splitsCharacter(s, json) {
  const runs = [];
  for (const part of json) {
    const change = Array.isArray(part);
    const len = change ? part[0] : part;
    const ins = change ? part.slice(1).join('\n').length : 0;
    if (change ? len === 0 && ins === 0 : len === 0) continue;
    const last = runs[runs.length - 1];
    if (last && last.change === change) last.len += len;
    else runs.push({ change, len });
  }
  let pos = 0;
  for (const run of runs) {
    pos += run.len;
    if (insidePair(s, pos)) return true;
  }
  return false;
}

function expectedApply(s, json) {
  // Half a surrogate pair cannot be UTF-8: such JSON is refused whole.
  if (json.some((part) => Array.isArray(part) && part.some((line, i) => i && !line.isWellFormed())))
    return { error: 'bad_json' };
  const cs = ChangeSet.fromJSON(json);
  if (cs.length !== s.length) return { error: 'length_mismatch' };
  if (splitsCharacter(s, json)) return { error: 'splits_character' };
  return { text: cs.apply(docOf(s)).toString() };
}

// Runs every case through one tool process: one JSON line in, one out.
function runTool(lines) {
  return new Promise((resolve, reject) => {
    const child = spawn(TOOL, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`changeset_tool exited with ${code}`));
      else resolve(out.split('\n').slice(0, -1).map((l) => JSON.parse(l)));
    });
    child.stdin.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
}

test(`random change sets apply as @codemirror/state applies them (seed ${SEED})`, async (t) => {
  const rng = generator(SEED);
  const cases = [];
  for (let i = 0; i < APPLY_CASES; i++) {
    const doc = randomText(rng, 60);
    let changes = randomChangeSet(rng, doc);
    if (rng.next() < 0.2) {
      // A composed set: a second edit on the result of the first.
      const middle = changes.apply(docOf(doc)).toString();
      changes = changes.compose(randomChangeSet(rng, middle));
    }
    let json = changes.toJSON();
    if (rng.next() < 0.05) json = [...json, 1]; // one unit too long
    cases.push({ doc, changes: json });
  }
  const answers = await runTool(cases);
  assert.equal(answers.length, cases.length);
  const outcomes = {};
  for (let i = 0; i < cases.length; i++) {
    const want = expectedApply(cases[i].doc, cases[i].changes);
    assert.deepEqual(answers[i], want, `case ${i}: ${JSON.stringify(cases[i])}`);
    const outcome = want.error ?? 'applied';
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  // Every outcome was exercised, and most cases applied.
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
  assert.ok(outcomes.applied > APPLY_CASES * 0.7, JSON.stringify(outcomes));
  for (const outcome of ['length_mismatch', 'splits_character', 'bad_json'])
    assert.ok(outcomes[outcome] >= 20, JSON.stringify(outcomes));
});

test('hand-made change sets: every form toJSON writes, and what fromJSON accepts', async () => {
  const cases = [
    { doc: '', changes: [] },
    { doc: '', changes: [[0, 'a', 'b']] },
    { doc: 'abc', changes: [[3]] },
    { doc: 'abc', changes: [1, [0, ''], 2] },
    { doc: 'abc', changes: [0, 3, 0] },
    { doc: 'a😀b', changes: [1, [2, '🎉', ''], 1] },
    { doc: 'x\r\ny', changes: [1, [2, '', ''], 1] },
    { doc: '𝄞𝄞', changes: [2, [2]] },
  ];
  const answers = await runTool(cases);
  cases.forEach((c, i) => assert.deepEqual(answers[i], expectedApply(c.doc, c.changes), JSON.stringify(c)));
});

test(`diffs of random texts apply with @codemirror/state (seed ${SEED})`, async () => {
  const rng = generator(SEED + 1);
  const pairs = [];
  for (let i = 0; i < DIFF_CASES; i++) {
    const old = randomText(rng, 80);
    let next;
    let cost = Infinity; // code points deleted and inserted by the edit made
    if (rng.next() < 0.3) {
      next = randomText(rng, 80);
    } else {
      // An edit of the old text, as a typing client would send.
      const from = randomPos(rng, old, false);
      let to = Math.min(old.length, from + rng.int(8));
      if (insidePair(old, to)) to++;
      const insert = randomText(rng, 6);
      next = old.slice(0, from) + insert + old.slice(to);
      cost = [...old.slice(from, to)].length + [...insert].length;
    }
    pairs.push({ diff: [old, next], cost });
  }
  const answers = await runTool(pairs.map(({ diff }) => ({ diff })));
  assert.equal(answers.length, pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    const [old, next] = pairs[i].diff;
    const changes = ChangeSet.fromJSON(answers[i].changes);
    assert.equal(changes.apply(docOf(old)).toString(), next, `pair ${i}: ${JSON.stringify(pairs[i])}`);
    // Canonical: what toJSON writes for these sections.
    assert.deepEqual(changes.toJSON(), answers[i].changes);
    // Minimal: never more characters changed than the edit that was made.
    let diffCost = 0;
    changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
      diffCost += [...old.slice(fromA, toA)].length + [...inserted.toString()].length;
    });
    assert.ok(diffCost <= pairs[i].cost, `pair ${i} costs ${diffCost} > ${pairs[i].cost}`);
    if (old === next) assert.deepEqual(answers[i].changes, old.length ? [old.length] : []);
  }
});
