// The Drop web client in Debian's Chromium against the real binary: page A
// makes a room, page B (a phone-sized window) joins with the 6-digit code;
// A drops a text and a 1 MiB file, B shows both without a reload and
// downloads the file intact. Screenshots of the start page and the room view,
// light and dark, desktop and phone, are kept for a person to look at: in
// $TANDEM_SCREENSHOTS if set, else tests/e2e/artifacts/ (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.TANDEM_SCREENSHOTS || fileURLToPath(new URL('./artifacts/', import.meta.url));

const DESKTOP = { viewport: { width: 1280, height: 860 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

let server, browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  assert.equal((await server.stop()).code, 0);
});

// A page in a context of its own (own localStorage: another device), which
// records console errors and warnings, page errors and failed requests.
async function openPage(path, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...DESKTOP, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A download handed to the download manager shows as an aborted request.
    if (!/\/items\/[^/]+\/file$/.test(new URL(r.url()).pathname)) problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`);
  });
  await page.goto(server.url + path, { waitUntil: 'load' });
  return { page, context, problems };
}

async function screenshot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300); // let theme transitions and entrance animations settle
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const online = (page) =>
  page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online', null, { timeout: 30000 });

test('the start page offers a new room and joining with a code, light and dark', async () => {
  for (const colorScheme of ['light', 'dark']) {
    for (const [size, opts] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      const { page, context, problems } = await openPage('/', { ...opts, colorScheme });
      assert.equal(await page.title(), 'tandem');
      assert.ok(await page.locator('#new-room').isVisible());
      assert.ok(await page.locator('#code-input').isVisible());
      assert.equal(await page.locator('#code-input').getAttribute('inputmode'), 'numeric');
      assert.equal(await page.locator('html').getAttribute('data-theme'), colorScheme, 'follows the system');
      await screenshot(page, `drop-start-${size}-${colorScheme}`);
      assert.deepEqual(problems, []);
      await context.close();
    }
  }
});

test('A makes a room, B joins with the code, a text and a file reach B live and download intact', async () => {
  const a = await openPage('/');
  await a.page.click('#new-room');
  await a.page.waitForURL(/\/r\/[A-Za-z0-9]{22}$/);
  await a.page.locator('#room-code').waitFor({ state: 'visible' });
  await online(a.page);
  const roomPath = new URL(a.page.url()).pathname;
  const code = (await a.page.locator('#room-code').textContent()).replace(/\s/g, '');
  assert.match(code, /^\d{6}$/);
  assert.ok(await a.page.locator('#owner-tools').isVisible(), 'the maker holds the owner token');
  await a.page.waitForFunction(() => document.getElementById('room-qr').naturalWidth > 0);

  // B: another device (own storage, phone-sized), joins by typing the code.
  const b = await openPage('/', PHONE);
  await b.page.fill('#code-input', code); // the sixth digit joins, no button press needed on a phone
  await b.page.waitForURL((u) => u.pathname === roomPath);
  await online(b.page);
  assert.equal((await b.page.locator('#room-code').textContent()).replace(/\s/g, ''), code);
  assert.equal(await b.page.locator('#owner-tools').isVisible(), false, 'only the maker may delete the room');

  // Each sees two devices, itself labelled.
  for (const p of [a.page, b.page]) {
    await p.locator('#peers li').nth(1).waitFor();
    assert.equal(await p.locator('#peers li').count(), 2);
    assert.match(await p.locator('#peers li.self').textContent(), /this device/i);
  }

  // A drops a text; B shows it as text, never markup.
  const text = 'hello from A <b>not markup</b> https://example.com/x';
  await a.page.fill('#text-input', text);
  await a.page.click('#text-send');
  const bText = b.page.locator('#items li[data-kind="text"]', { hasText: 'hello from A' });
  await bText.waitFor({ timeout: 30000 });
  assert.equal(await bText.locator('.text-body').textContent(), text);
  assert.equal(await b.page.locator('#items b').count(), 0, 'dropped text is never parsed as HTML');

  // A uploads a 1 MiB file with a non-ASCII name (X-Filename is percent-encoded).
  const bytes = randomBytes(1024 * 1024);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const name = 'drop test ü.bin';
  await a.page.setInputFiles('#file-input', { name, mimeType: 'application/octet-stream', buffer: bytes });
  const aFile = a.page.locator('#items li[data-kind="file"]', { hasText: name });
  await aFile.waitFor({ timeout: 15000 });
  await a.page.locator('#uploads li').first().waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});

  // B shows it without a reload, newest first, with its size.
  const bFile = b.page.locator('#items li[data-kind="file"]', { hasText: name });
  await bFile.waitFor({ timeout: 30000 });
  assert.match(await bFile.textContent(), /1\.0 MB/);
  assert.equal(await b.page.locator('#items li').first().getAttribute('data-kind'), 'file', 'newest first');
  assert.equal(await b.page.locator('#items li').count(), 2);
  assert.equal(await b.page.locator('#item-count').textContent(), '2');

  // B downloads it: the same bytes.
  const [download] = await Promise.all([
    b.page.waitForEvent('download', { timeout: 15000 }),
    bFile.locator('a.download').click(),
  ]);
  const saved = await download.path();
  assert.ok(saved, `download failed: ${await download.failure()}`);
  assert.equal(createHash('sha256').update(readFileSync(saved)).digest('hex'), sha, 'the file arrives intact');
  assert.equal(download.suggestedFilename(), name);

  // Screenshots of the room: light, then dark by the toggle (which persists).
  await a.page.waitForTimeout(1700); // the arrival highlight fades
  await b.page.waitForTimeout(1700);
  await screenshot(a.page, 'drop-room-desktop-light');
  await screenshot(b.page, 'drop-room-phone-light');
  for (const p of [a.page, b.page]) {
    await p.click('#theme-toggle');
    assert.equal(await p.locator('html').getAttribute('data-theme'), 'dark');
  }
  await screenshot(a.page, 'drop-room-desktop-dark');
  await screenshot(b.page, 'drop-room-phone-dark');
  await a.page.reload({ waitUntil: 'load' });
  assert.equal(await a.page.locator('html').getAttribute('data-theme'), 'dark', 'the theme choice is kept');
  await online(a.page);
  await a.page.locator('#items li').nth(1).waitFor();
  assert.equal(await a.page.locator('#items li').count(), 2, 'a reload shows what is in the room');

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});
