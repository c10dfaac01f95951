// The embedded web client in Debian's Chromium: it loads with no console
// errors under tandem's CSP, and two pages in one room see each other and
// exchange a note through the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let server, browser, profile;
before(async () => {
  server = await startServer();
  profile = mkdtempSync(join(tmpdir(), 'tandem-chromium-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
  assert.equal((await server.stop()).code, 0);
});

// A page that records console messages of every level worth noticing.
async function openPage(path) {
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
  await page.goto(server.url + path, { waitUntil: 'load' });
  return { page, problems };
}

test('chromium is installed for the browser tests', () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/bootstrap`);
});

test('the start page loads with no console errors', async () => {
  const { page, problems } = await openPage('/');
  assert.equal(await page.title(), 'tandem');
  assert.equal(await page.locator('h1').textContent(), 'tandem');
  assert.ok(await page.locator('#join-form').isVisible());
  await page.waitForTimeout(300);
  assert.deepEqual(problems, []);
  if (process.env.TANDEM_SCREENSHOTS) await page.screenshot({ path: join(process.env.TANDEM_SCREENSHOTS, 'start.png'), fullPage: true });
  await page.close();
});

test('two pages in a room see each other and a note goes from one to the other', async () => {
  const a = await openPage('/r/browser-room');
  await a.page.locator('#me-id').waitFor({ state: 'visible' });
  const idA = (await a.page.locator('#me-id').textContent()).trim();
  assert.match(idA, /^[A-Za-z0-9]{12}$/);

  const b = await openPage('/');
  await b.page.fill('#room-input', 'browser-room');
  await b.page.click('#join-button');
  await b.page.locator('#me-id').waitFor({ state: 'visible' });
  const idB = (await b.page.locator('#me-id').textContent()).trim();

  await a.page.locator('#peers', { hasText: idB }).waitFor();
  await b.page.locator('#peers', { hasText: idA }).waitFor();

  await b.page.fill('#note-input', 'hello from <b>B</b>');
  await b.page.click('#note-button');
  await a.page.locator('#notes', { hasText: 'hello from <b>B</b>' }).waitFor();
  assert.equal(await a.page.locator('#notes b').count(), 0, 'notes are text, never markup');
  if (process.env.TANDEM_SCREENSHOTS) await a.page.screenshot({ path: join(process.env.TANDEM_SCREENSHOTS, 'room.png'), fullPage: true });

  await b.page.close();
  await a.page.locator('#peers', { hasText: idB }).waitFor({ state: 'detached' }).catch(() => {});
  assert.equal(await a.page.locator('#peers').textContent().then((t) => t.includes(idB)), false);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.page.close();
});
