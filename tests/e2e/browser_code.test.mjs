// The code room in Debian's Chromium: "New code room" from the start page,
// two pages typing into the same CodeMirror editor at once and converging
// on tandem's text, the language picker, the other member's cursor, and
// completions from POST /api/autocomplete, all with no console errors
// under tandem's CSP. TANDEM_SCREENSHOTS=<dir> keeps light and dark shots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let server, browser;
before(async () => {
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A page that records console errors and warnings (CSP refusals are errors).
async function openPage(path, srv = server) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A completion request the editor cancels because the text moved on is by design.
    if (r.url().endsWith('/api/autocomplete') && r.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`);
  });
  await page.goto(srv.url + path, { waitUntil: 'load' });
  return { page, problems };
}

async function createCodeRoom(language) {
  const res = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'code', language }) });
  assert.equal(res.status, 201);
  return res.json();
}

async function putDoc(room, text) {
  const res = await fetch(`${server.url}/api/rooms/${room.id}/doc`, {
    method: 'PUT', headers: { Authorization: `Bearer ${room.owner_token}` }, body: JSON.stringify({ text }),
  });
  assert.equal(res.status, 200);
}

async function getDoc(id, srv = server) {
  const res = await fetch(`${srv.url}/api/rooms/${id}/doc`);
  assert.equal(res.status, 200);
  return res.json();
}

// The editor's text as the page shows it: its lines (the editor draws the
// whole of a short document; remote cursor names are CSS, not text).
const editorText = (page) => page.evaluate(() => {
  const root = document.getElementById('code-editor').shadowRoot;
  return [...root.querySelectorAll('.cm-content > .cm-line')].map((l) => l.textContent).join('\n');
});

async function waitOnline(page) {
  await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online', null, { timeout: 30000 });
  await page.locator('#code-editor .cm-content').waitFor({ timeout: 30000 });
}

/** Waits (at most 10 s) until every page shows the server's text; returns it. */
async function converged(id, pages, srv = server) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const doc = await getDoc(id, srv);
    const texts = await Promise.all(pages.map(editorText));
    if (texts.every((t) => t === doc.text)) return doc;
    if (Date.now() > deadline) assert.fail(`no convergence: server ${JSON.stringify(doc.text)}, pages ${JSON.stringify(texts)}`);
    await sleep(100);
  }
}

test('"New code room" on the start page opens the editor in the chosen language', async () => {
  const { page, problems } = await openPage('/');
  if (process.env.TANDEM_SCREENSHOTS) {
    await page.screenshot({ path: join(process.env.TANDEM_SCREENSHOTS, 'code-start.png'), fullPage: true, animations: 'disabled' });
  }
  await page.selectOption('#new-code-language', 'go');
  await page.click('#new-code-room');
  await page.waitForURL(/\/r\/[A-Za-z0-9]{22}$/);
  await waitOnline(page);
  const id = new URL(page.url()).pathname.split('/').pop();
  assert.equal(await page.locator('#code-language').inputValue(), 'go');
  assert.equal((await getDoc(id)).language, 'go');
  assert.ok(await page.locator('#room-body').isHidden(), 'the drop room view stays hidden');
  // Syntax highlighting is on: a Go keyword gets a token class.
  await page.locator('#code-editor .cm-content').click();
  await page.keyboard.type('package main');
  await page.locator('#code-editor .cm-line span', { hasText: 'package' }).waitFor({ timeout: 5000 });
  await converged(id, [page]);
  assert.deepEqual(problems, []);
  await page.close();
});

test('two pages type into one code room at once and converge on the server\'s text', async () => {
  const room = await createCodeRoom('python');
  await putDoc(room, 'total_price = 1\nprint(total_price)\n');
  const a = await openPage(`/r/${room.id}`);
  const b = await openPage(`/r/${room.id}`);
  await waitOnline(a.page);
  await waitOnline(b.page);
  await a.page.locator('#code-members li').nth(1).waitFor({ timeout: 5000 });
  await b.page.locator('#code-members li').nth(1).waitFor({ timeout: 5000 });
  assert.equal(await editorText(a.page), 'total_price = 1\nprint(total_price)\n');
  const nameA = await a.page.locator('#code-members li.self strong').textContent();

  // A types at the end, B at the start, key by key in turn.
  await a.page.locator('#code-editor .cm-content').click();
  await a.page.keyboard.press('Control+End');
  await b.page.locator('#code-editor .cm-content').click();
  await b.page.keyboard.press('Control+Home');
  const fromA = '# alpha wrote this line';
  const fromB = '# bravo wrote here ';
  for (let i = 0; i < Math.max(fromA.length, fromB.length); i++) {
    await Promise.all([
      i < fromA.length ? a.page.keyboard.type(fromA[i]) : null,
      i < fromB.length ? b.page.keyboard.type(fromB[i]) : null,
    ]);
  }
  await a.page.keyboard.press('Escape');
  await b.page.keyboard.press('Escape');
  const doc = await converged(room.id, [a.page, b.page]);
  assert.equal(doc.text, `${fromB}total_price = 1\nprint(total_price)\n${fromA}`);

  // B sees where A's cursor is, with A's name, in A's colour.
  const caret = b.page.locator('#code-editor .cm-remote-caret');
  await caret.waitFor({ timeout: 5000 });
  assert.equal(await caret.getAttribute('data-name'), nameA);
  assert.equal(await b.page.locator('#code-members li').count(), 2);
  const idA = await a.page.locator('#code-members li.self').getAttribute('data-peer-id');
  const colourOn = async (page, id) =>
    /peer-c(\d)/.exec(await page.locator(`#code-members li[data-peer-id="${id}"] .swatch`).getAttribute('class'))[1];
  const colourA = await colourOn(b.page, idA);
  assert.match(await caret.getAttribute('class'), new RegExp(`\\bcm-remote-c${colourA}\\b`));
  assert.equal(await colourOn(a.page, idA), colourA, 'both pages give A the same colour');
  const idB = await b.page.locator('#code-members li.self').getAttribute('data-peer-id');
  assert.notEqual(await colourOn(b.page, idB), colourA, 'two members, two colours');

  // Completions: a prefix of a word of the document, then Enter.
  await a.page.keyboard.press('Enter');
  await a.page.keyboard.type('tota');
  const option = a.page.locator('#code-editor .cm-tooltip-autocomplete li', { hasText: 'total_price' }).first();
  await option.waitFor({ timeout: 5000 });
  // CodeMirror lets Enter through to the text for a moment after the list
  // appears (interactionDelay, 75 ms), so a fast typist's Enter is a newline.
  await sleep(300);
  await a.page.keyboard.press('Enter');
  const completed = await converged(room.id, [a.page, b.page]);
  assert.ok(completed.text.endsWith(`${fromA}\ntotal_price`), JSON.stringify(completed.text));

  // A snippet: on a def line, the name gets (): and a body whose `pass` is
  // selected, so what A types next replaces it.
  await a.page.keyboard.press('Enter');
  // First a list for `ar`, then the rest of the name: the list follows the
  // word (a snippet is made of it), it is not the old one filtered.
  await a.page.keyboard.type('def ar');
  await a.page.locator('#code-editor .cm-tooltip-autocomplete li', { hasText: 'ar(' }).first().waitFor({ timeout: 5000 });
  await a.page.keyboard.type('ea');
  const snippet = a.page.locator('#code-editor .cm-tooltip-autocomplete li[aria-selected]', { hasText: 'area(' });
  await snippet.waitFor({ timeout: 5000 });
  await sleep(300);
  await a.page.keyboard.press('Enter');
  await a.page.keyboard.type('return 1');
  await a.page.keyboard.press('Escape');
  const withSnippet = await converged(room.id, [a.page, b.page]);
  assert.ok(withSnippet.text.endsWith('\ntotal_price\ndef area():\n    return 1'), JSON.stringify(withSnippet.text));

  if (process.env.TANDEM_SCREENSHOTS) {
    await b.page.emulateMedia({ colorScheme: 'light' });
    await b.page.evaluate(() => localStorage.setItem('tandem.theme', 'light'));
    await b.page.click('#theme-toggle'); // -> dark
    await b.page.click('#theme-toggle'); // -> light
    await b.page.screenshot({ path: join(process.env.TANDEM_SCREENSHOTS, 'code-light.png'), fullPage: true });
    // A moves, so its name shows again; the buttons' colour transitions settle.
    await a.page.keyboard.press('ArrowLeft');
    await b.page.click('#theme-toggle');
    await sleep(300);
    await b.page.screenshot({ path: join(process.env.TANDEM_SCREENSHOTS, 'code-dark.png'), fullPage: true });
  }

  // The language picker: A's choice reaches B and the server.
  await a.page.selectOption('#code-language', 'rust');
  await b.page.waitForFunction(() => document.getElementById('code-language').value === 'rust', null, { timeout: 5000 });
  assert.equal((await getDoc(room.id)).language, 'rust');

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.page.close();
  await b.page.close();
});

test('pages that lost the server keep what they typed and catch up when it is back', async () => {
  // A server of its own, restarted on the same port and data directory.
  const first = await startServer();
  const res = await fetch(`${first.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ kind: 'code', language: 'javascript' }) });
  assert.equal(res.status, 201);
  const room = await res.json();
  const a = await openPage(`/r/${room.id}`, first);
  const b = await openPage(`/r/${room.id}`, first);
  await waitOnline(a.page);
  await waitOnline(b.page);
  await a.page.locator('#code-editor .cm-content').click();
  await a.page.keyboard.type('let a = 1;');
  await converged(room.id, [a.page, b.page], first);

  first.child.kill('SIGTERM');
  assert.equal((await first.exited).code, 0);
  for (const p of [a.page, b.page]) {
    await p.waitForFunction(() => document.getElementById('status')?.dataset.state === 'offline', null, { timeout: 30000 });
  }
  assert.ok(await b.page.locator('#banner').isVisible());
  // Both edit while the server is away: A at the start, B at the end.
  await a.page.keyboard.press('Control+Home');
  await a.page.keyboard.type('// from a\n');
  await b.page.locator('#code-editor .cm-content').click();
  await b.page.keyboard.press('Control+End');
  await b.page.keyboard.type(' // from b');

  // A second --listen is added to the helper's 127.0.0.1:0: the old port is served again.
  // Several instances behind nginx come back on their own ports instead.
  const second = first.topology === 'cluster'
    ? await first.restart()
    : await startServer(['--listen', `127.0.0.1:${first.port}`, '--data-dir', first.dataDir]);
  for (const p of [a.page, b.page]) {
    await p.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online', null, { timeout: 20000 });
  }
  const doc = await converged(room.id, [a.page, b.page], first);
  assert.equal(doc.text, '// from a\nlet a = 1; // from b');
  assert.equal(await b.page.locator('#banner').isVisible(), false);

  // What failed while the server was down (the reconnect attempts) is expected; nothing else.
  const down = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection|requestfailed: .*\/api\/rooms\//;
  assert.deepEqual(a.problems.filter((p) => !down.test(p)), []);
  assert.deepEqual(b.problems.filter((p) => !down.test(p)), []);
  await a.page.close();
  await b.page.close();
  assert.equal((await second.stop()).code, 0);
  await first.stop();
});
