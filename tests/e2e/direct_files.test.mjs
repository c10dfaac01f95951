// Direct transfer in Chromium, the receiving end: files written to disk as
// they arrive (File System Access API) or kept in memory with a warning above
// 1 GiB where a browser cannot do that.
//
// Headless Chromium has the API but cannot show its pickers, so the pages
// that save to disk get stand-ins for showSaveFilePicker/showDirectoryPicker
// that hand out handles in the origin private file system (OPFS): the same
// FileSystemFileHandle/createWritable() the real pickers return; only the
// dialog is skipped. The test reads the saved files back from there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { closeClean, directPages, launchChromium, sha256 } from './lib/direct.mjs';

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

/** Init script: pickers that answer with OPFS handles, and note what was asked. */
const opfsPickers = () => {
  window.__picked = [];
  window.showSaveFilePicker = async ({ suggestedName }) => {
    window.__picked.push(['file', suggestedName]);
    return (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
  };
  window.showDirectoryPicker = async () => {
    window.__picked.push(['directory']);
    return navigator.storage.getDirectory();
  };
};

/** Init script: a browser without the File System Access API (Firefox, Safari). */
const noDiskApi = () => {
  for (const name of ['showSaveFilePicker', 'showDirectoryPicker']) Object.defineProperty(window, name, { value: undefined });
};

/** SHA-256 of the OPFS file at `path` ("a/b.txt"), read in the page. */
function savedOnDisk(page, path) {
  return page.evaluate(async (p) => {
    const parts = p.split('/');
    const name = parts.pop();
    let at = await navigator.storage.getDirectory();
    for (const d of parts) at = await at.getDirectoryHandle(d);
    const file = await (await at.getFileHandle(name)).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return { size: file.size, sha: [...digest].map((x) => x.toString(16).padStart(2, '0')).join('') };
  }, path);
}

test('where the browser can, a received file is written to the file picked as it arrives', async () => {
  const { a, b } = await pages.pair('', { init: opfsPickers });
  const bytes = randomBytes(12 * 1024 * 1024 + 3);
  await a.page.setInputFiles('#direct-files', { name: 'stream me.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const offer = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
  await offer.waitFor({ timeout: 30000 });
  assert.equal(await offer.locator('button.save-to').textContent(), 'Save to…');
  assert.equal(await offer.locator('.dtransfer-warn').count(), 0);
  await offer.locator('button.save-to').click();
  const done = b.page.locator('#direct-transfers li.dfile[data-state="verified"]');
  await done.waitFor({ timeout: 60000 });
  const status = await done.locator('.dfile-status').textContent();
  assert.match(status, /Verified \(SHA-256\).* · saved as stream me\.bin$/);
  console.log(`# to disk: ${status}`);
  assert.equal(await done.locator('a.download').count(), 0, 'nothing kept in memory to save');
  assert.deepEqual(await b.page.evaluate(() => window.__picked), [['file', 'stream me.bin']]);
  assert.deepEqual(await savedOnDisk(b.page, 'stream me.bin'), { size: bytes.length, sha: sha256(bytes) });
  await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="done"]').waitFor({ timeout: 30000 });
  await closeClean(a, b);
});

test('above 1 GiB: a browser that cannot write to disk as it goes warns; one that can offers only that', async () => {
  const id = await pages.newRoom();
  const a = await pages.openPage(`/r/${id}`);
  const b = await pages.openPage(`/r/${id}`, { init: noDiskApi });
  const c = await pages.openPage(`/r/${id}`, { init: opfsPickers });
  await a.page.locator('#direct-peers li').nth(1).waitFor({ timeout: 30000 });
  for (const box of await a.page.locator('#direct-peers input[type=checkbox]').all()) await box.check();
  // A sparse file: 1.5 GiB on paper, nothing on disk; declined before a byte is read.
  const dir = mkdtempSync(join(tmpdir(), 'tandem-big-'));
  const file = join(dir, 'huge.iso');
  writeFileSync(file, '');
  truncateSync(file, 1536 * 1024 * 1024);
  try {
    await a.page.setInputFiles('#direct-files', file);
    const offerB = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
    const offerC = c.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
    await offerB.waitFor({ timeout: 30000 });
    await offerC.waitFor({ timeout: 30000 });
    assert.equal(await offerB.locator('.dtransfer-warn').textContent(),
      'This browser cannot write received files to disk as they arrive, so it keeps them in memory until you save them: 1.6 GB may be too much for it.');
    assert.equal(await offerB.locator('button.save-to').count(), 0);
    assert.equal(await offerB.locator('button.accept').textContent(), 'Accept');
    assert.equal(await offerC.locator('.dtransfer-warn').count(), 0);
    assert.equal(await offerC.locator('button.accept').textContent(), 'Accept and save…', 'no in-memory accept for it');
    for (const o of [offerB, offerC]) await o.locator('button.decline').click();
    await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="declined"]').nth(1).waitFor({ timeout: 30000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const p of [a, b, c]) {
    assert.deepEqual(p.problems, []);
    await p.context.close();
  }
});

test('a folder goes with its relative paths, shown on the other side and kept as folders on disk', async () => {
  const { a, b } = await pages.pair('', { init: opfsPickers });
  const root = mkdtempSync(join(tmpdir(), 'tandem-folder-'));
  const files = {
    'trip/notes.txt': Buffer.from('day one: rain\n'),
    'trip/photos/beach.bin': randomBytes(300 * 1024 + 17),
    'trip/photos/deep/empty.txt': Buffer.alloc(0),
  };
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), bytes);
  }
  try {
    await a.page.setInputFiles('#direct-folder', join(root, 'trip'));
    const offer = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
    await offer.waitFor({ timeout: 30000 });
    assert.match(await offer.locator('.dtransfer-title').textContent(), /3 files in trip\//);
    const shown = (await offer.locator('li.dfile .file-name').allTextContents()).sort();
    assert.deepEqual(shown, Object.keys(files).sort());
    await offer.locator('button.save-to').click();
    await b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="done"]').waitFor({ timeout: 30000 });
    assert.deepEqual(await b.page.evaluate(() => window.__picked), [['directory']]);
    for (const [path, bytes] of Object.entries(files)) {
      assert.deepEqual(await savedOnDisk(b.page, path), { size: bytes.length, sha: sha256(bytes) }, path);
    }
    await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="done"]').waitFor({ timeout: 30000 });
    assert.deepEqual((await a.page.locator('#direct-transfers li.dfile .file-name').allTextContents()).sort(), Object.keys(files).sort());
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await closeClean(a, b);
});
