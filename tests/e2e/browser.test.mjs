// The embedded web client in Debian's Chromium: it loads with no console
// errors under tandem's CSP, and two pages in one room (one by the link made
// by "New room", one by /session/<code>) see each other come and go.
// browser_drop.test.mjs covers dropping text and files.
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

test('two pages in a room see each other come and go, by the link and by /session/<code>', async () => {
  const a = await openPage('/');
  await a.page.click('#new-room');
  await a.page.waitForURL(/\/r\/[A-Za-z0-9]{22}$/);
  await a.page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online');
  const roomPath = new URL(a.page.url()).pathname;
  const code = (await a.page.locator('#room-code').textContent()).replace(/\s/g, '');
  assert.match(code, /^\d{6}$/);
  assert.equal(await a.page.locator('#peers li').count(), 1);
  const idA = await a.page.locator('#peers li.self').getAttribute('data-peer-id');
  assert.match(idA, /^[A-Za-z0-9]{12}$/);

  // The Pair Drop page route resolves the code and lands on the room's link.
  const b = await openPage(`/session/${code}`);
  await b.page.waitForURL((u) => u.pathname === roomPath);
  await b.page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online');
  const idB = await b.page.locator('#peers li.self').getAttribute('data-peer-id');
  assert.match(idB, /^[A-Za-z0-9]{12}$/);
  assert.notEqual(idA, idB);

  await a.page.locator(`#peers li[data-peer-id="${idB}"]`).waitFor();
  await b.page.locator(`#peers li[data-peer-id="${idA}"]`).waitFor();
  if (process.env.TANDEM_SCREENSHOTS) await a.page.screenshot({ path: join(process.env.TANDEM_SCREENSHOTS, 'room.png'), fullPage: true });

  await b.page.close();
  await a.page.locator(`#peers li[data-peer-id="${idB}"]`).waitFor({ state: 'detached' });
  assert.equal(await a.page.locator('#peers li').count(), 1);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.page.close();
});
