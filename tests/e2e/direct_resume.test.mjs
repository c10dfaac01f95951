// Direct transfer in Chromium: the receiver's page reloads mid-file. What had
// arrived is kept in the origin private file system (one file per 1 MiB part)
// with a record in localStorage; the reloaded page (a new peer id) says which
// device it is, the sender offers the rest by itself, and the file arrives
// whole. The same when only its room socket drops. Also: what is kept is
// removed when a file completes or is cancelled, and parts nobody came back
// for are dropped after a day.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { acceptOffer, closeClean, directPages, launchChromium, savedSha256, sha256, waitOnline } from './lib/direct.mjs';

let server, browser, pages;
before(async () => {
  server = await startServer();
  browser = await launchChromium();
  pages = directPages(browser, server);
});
after(async () => {
  await browser?.close();
  assert.equal((await server.stop()).code, 0);
});

/** What the page keeps for resumes: its records in localStorage and its folders in OPFS. */
function kept(page) {
  return page.evaluate(async () => {
    const records = Object.keys(localStorage).filter((k) => k.startsWith('tandem.partial.'))
      .map((k) => JSON.parse(localStorage.getItem(k)));
    const folders = [];
    const root = await navigator.storage.getDirectory();
    for await (const [name, handle] of root.entries()) {
      if (name !== 'tandem-partials') continue;
      for await (const sub of handle.keys()) folders.push(sub);
    }
    return { records, folders: folders.sort() };
  });
}

/**
 * Waits in the page (every 20 ms) until its record of the file says a quarter
 * is on disk, and returns the record with the file's status line then: the
 * test acts right after, before the file is complete.
 */
function quarterKept(page, size) {
  return page.waitForFunction((quarter) => {
    for (const k of Object.keys(localStorage)) {
      if (!k.startsWith('tandem.partial.')) continue;
      const rec = JSON.parse(localStorage.getItem(k));
      const row = document.querySelector('#direct-transfers li.dfile');
      if (rec.bytes >= quarter) return { ...rec, received: row?.querySelector('.dfile-status')?.textContent };
    }
    return null;
  }, size / 4, { polling: 20, timeout: 60000 }).then((handle) => handle.jsonValue());
}

/** The progress of B's first file row, in percent. */
function progressAtLeast(page, pct) {
  return page.waitForFunction((p) => Number(document.querySelector('#direct-transfers li.dfile progress')?.value) >= p, pct, { timeout: 60000 });
}

test('the receiver reloads mid-file: the sender offers the rest by itself and the file arrives whole', async () => {
  const { a, b } = await pages.pair();
  const size = 40 * 1024 * 1024 + 777;
  const bytes = randomBytes(size);
  await a.page.setInputFiles('#direct-files', { name: 'reload me.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await acceptOffer(b.page);
  // B reloads as soon as a quarter of the file is on its disk (acknowledged,
  // with the hash state there): the rest arrives in about a second.
  b.page.on('dialog', (d) => d.accept()); // "leave the page?" while receiving
  const record = await quarterKept(b.page, size);
  await b.page.reload({ waitUntil: 'load' });
  assert.equal(record.name, 'reload me.bin');
  assert.equal(record.size, size);
  await waitOnline(b.page);

  // No click on either side: A offers again, B goes on from what it kept.
  const done = b.page.locator('#direct-transfers li.dfile[data-state="verified"]');
  await done.waitFor({ timeout: 90000 });
  const sentRow = a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="done"] li.dfile');
  await sentRow.waitFor({ timeout: 30000 });
  assert.equal(await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"]').count(), 1, 'the interrupted row made way for the resumed one');

  const from = Number(await sentRow.getAttribute('data-resumed-from'));
  const sent = Number(await sentRow.getAttribute('data-sent-bytes'));
  assert.equal(Number(await done.getAttribute('data-resumed-from')), from, 'both sides agree where it went on from');
  assert.ok(from >= record.bytes, `went on from ${from} of ${size}`);
  assert.ok(sent <= size - from + 2 * 1024 * 1024 && sent < size * 0.85, `the sender sent ${sent} bytes of a ${size}-byte file after the reload`);
  console.log(`# before the reload: ${record.bytes} bytes on disk; B showed "${record.received}"`);
  console.log(`# receiver reload: went on from ${from} bytes; sent ${sent} of ${size} after the reload (size - sent: ${size - sent})`);
  assert.match(await done.locator('.dfile-status').textContent(), /^Verified \(SHA-256\)/);
  assert.deepEqual(await savedSha256(b.page, done), { name: 'reload me.bin', sha: sha256(bytes) }, 'the same SHA-256');
  assert.deepEqual(await kept(b.page), { records: [], folders: [] }, 'nothing kept once the file is whole');
  await closeClean(a, b);
});

test('what is kept goes when the receiver cancels, and parts older than a day are dropped', async () => {
  const { a, b } = await pages.pair('?transport=relay');
  // A record and a part left by a page a day and more ago (nobody came back for them).
  await b.page.evaluate(async () => {
    const rec = {
      id: 'oldoldoldold', key: 'f'.repeat(32), room: 'x', name: 'old.bin', size: 4, type: '',
      bytes: 0, parts: 0, sha: null, at: Date.now() - 25 * 3600 * 1000,
    };
    localStorage.setItem(`tandem.partial.${rec.id}`, JSON.stringify(rec));
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('tandem-partials', { create: true })).getDirectoryHandle(rec.id, { create: true });
    const w = await (await dir.getFileHandle('000000', { create: true })).createWritable();
    await w.write('abcd');
    await w.close();
  });
  assert.equal((await kept(b.page)).folders.length, 1);
  await b.page.reload({ waitUntil: 'load' });
  await waitOnline(b.page);
  await until(async () => JSON.stringify(await kept(b.page)) === '{"records":[],"folders":[]}', 'the stale record and part are dropped at load');

  const bytes = randomBytes(20 * 1024 * 1024);
  await a.page.setInputFiles('#direct-files', { name: 'cancel me.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await acceptOffer(b.page);
  await progressAtLeast(b.page, 10);
  const during = await kept(b.page);
  assert.equal(during.records.length, 1);
  assert.deepEqual(during.folders, [during.records[0].id]);
  await b.page.locator('#direct-transfers li.dtransfer[data-dir="in"] button.cancel').click();
  await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="cancelled"]').waitFor({ timeout: 30000 });
  await until(async () => JSON.stringify(await kept(b.page)) === '{"records":[],"folders":[]}', 'nothing kept after a cancel');
  await closeClean(a, b);
});

/** Init script: every WebSocket the page opens, in window.__sockets, so a test can drop one. */
const keepSockets = () => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
};

test("the receiver's room socket drops mid-file: back with a new peer id, it gets the rest by itself", async () => {
  const { a, b } = await pages.pair('', { init: keepSockets });
  const size = 30 * 1024 * 1024 + 5;
  const bytes = randomBytes(size);
  await a.page.setInputFiles('#direct-files', { name: 'socket drop.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await acceptOffer(b.page);
  await quarterKept(b.page, size);
  await b.page.evaluate(() => window.__sockets.forEach((ws) => ws.close()));
  // B keeps what arrived (in memory and on disk), reconnects, says who it is; A offers the rest.
  const done = b.page.locator('#direct-transfers li.dtransfer[data-state="done"] li.dfile[data-state="verified"]');
  await done.waitFor({ timeout: 90000 });
  const sentRow = a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="done"] li.dfile');
  await sentRow.waitFor({ timeout: 30000 });
  const from = Number(await sentRow.getAttribute('data-resumed-from'));
  const sent = Number(await sentRow.getAttribute('data-sent-bytes'));
  assert.ok(from >= size / 4 && sent <= size - from + 2 * 1024 * 1024, `went on from ${from}, sent ${sent} of ${size}`);
  console.log(`# receiver socket lost: went on from ${from} bytes; sent ${sent} of ${size} after it came back`);
  assert.deepEqual(await savedSha256(b.page, done), { name: 'socket drop.bin', sha: sha256(bytes) });
  assert.deepEqual(await kept(b.page), { records: [], folders: [] });
  await closeClean(a, b);
});

/** Waits (at most `ms`, checking every 100 ms) until `check` resolves true. */
async function until(check, what, ms = 10000) {
  for (let i = 0; i < ms / 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what}`);
}
