// Facilitator chat rooms in Debian's Chromium against the real binary: a
// facilitator signs up and makes a room in the dashboard; two participants
// (contexts of their own: other devices) join by link and by code, chat,
// see each other's presence, copy a message, and see HTML as text; a room
// with 10,000 messages of history keeps only a window of them in the DOM
// and pages older ones in on scrolling up; the "new messages" button; the
// owner deletes a message and it goes from a participant's page.
// Screenshots of the dashboard and the chat, light and dark, desktop and
// phone, land in $TANDEM_SCREENSHOTS if set, else /tmp/tandem-chat-screens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './lib/server.mjs';
import { api, chatRoom, facilitator, member, ofType, iso } from './lib/accounts.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.TANDEM_SCREENSHOTS || '/tmp/tandem-chat-screens';
const DESKTOP = { viewport: { width: 1280, height: 860 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const HISTORY = 10_000;
const WINDOW_MAX = 80; // message rows in the DOM at any time, at most

let server, browser;
let owner; // the facilitator's page, signed in
let host; // the same account for REST calls: { cookie }
let room; // the room made in the dashboard

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A high chat rate, so 10,000 messages of history go in within seconds.
  server = await startServer(['--chat-rate', '100000', '--login-attempts', '100']);
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

// A page in a context of its own (own storage and cookies: another device),
// allowed to use the clipboard, recording console errors and page errors.
async function openPage(path, options = {}, base = server.url) {
  const context = await browser.newContext({ acceptDownloads: true, ...DESKTOP, ...options });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(base + path, { waitUntil: 'load' });
  return { page, context, problems };
}

async function setTheme(page, theme) {
  await page.evaluate((t) => {
    localStorage.setItem('tandem.theme', t);
    document.documentElement.dataset.theme = t;
  }, theme);
  await page.waitForTimeout(250);
}

async function screenshot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const online = (page) => page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online');
const msgCount = (page) => page.locator('#chat-list .msg').count();

test('a facilitator signs up, makes a room in the dashboard and shares its code, link and QR', async () => {
  owner = await openPage('/signup');
  const { page } = owner;
  await page.fill('#auth-email', 'teacher@example.org');
  await page.fill('#auth-password', 'short');
  await page.click('#auth-submit');
  assert.match(await page.locator('#auth-error').textContent(), /at least 10 characters/);
  await page.fill('#auth-password', 'a long enough password');
  await page.click('#auth-submit');
  await page.waitForURL(/\/dashboard$/);
  await page.locator('#dash-email', { hasText: 'teacher@example.org' }).waitFor();

  await page.fill('#rf-title', 'Thursday <b>workshop</b>');
  await page.click('#rf-submit');
  const card = page.locator('#dash-rooms li.droom').first();
  await card.waitFor();
  assert.equal(await card.locator('.droom-title').textContent(), 'Thursday <b>workshop</b>');
  assert.equal(await card.locator('.badge').textContent(), 'Open');
  await card.locator('summary').click();
  const code = (await card.locator('.droom-code').textContent()).replace(/\s/g, '');
  assert.match(code, /^\d{6}$/);
  await page.waitForFunction(() => document.querySelector('.droom-qr')?.naturalWidth > 0);
  const link = await card.locator('.droom-link').inputValue();
  assert.match(link, /\/r\/[A-Za-z0-9]{22}$/);

  // A second, scheduled room, so the dashboard shows both states.
  await page.fill('#rf-title', 'Next week');
  await page.fill('#rf-opens', '2099-01-05T09:00');
  await page.fill('#rf-closes', '2099-01-05T11:00');
  await page.fill('#rf-password', 'sesame');
  await page.click('#rf-submit');
  await page.locator('.droom .badge', { hasText: 'Scheduled' }).waitFor();

  // The same account over REST (another session) for the tests below.
  const session = await api(server, 'POST', '/api/session', { body: { email: 'teacher@example.org', password: 'a long enough password' } });
  host = { cookie: session.headers.getSetCookie()[0].split(';')[0] };
  const rooms = (await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie })).json.rooms;
  room = rooms.find((r) => r.title === 'Thursday <b>workshop</b>');
  assert.equal(room.code, code);
  assert.equal(rooms.find((r) => r.title === 'Next week').state, 'scheduled');

  await screenshot(page, 'dashboard-light');
  await setTheme(page, 'dark');
  await screenshot(page, 'dashboard-dark');
  await setTheme(page, 'light');
  assert.deepEqual(owner.problems, []);
});

test('log in: a wrong password gets one clear message, then the dashboard', async () => {
  const { page, context, problems } = await openPage('/login');
  await page.fill('#auth-email', 'teacher@example.org');
  await page.fill('#auth-password', 'not the password');
  await page.click('#auth-submit');
  await page.locator('#auth-error', { hasText: 'The email or the password is wrong.' }).waitFor();
  await page.fill('#auth-password', 'a long enough password');
  await page.click('#auth-submit');
  await page.waitForURL(/\/dashboard$/);
  await page.locator('#dash-rooms li.droom').first().waitFor();
  await page.click('#logout');
  await page.waitForURL(/\/login$/);
  assert.equal((await api(server, 'GET', '/api/me')).status, 401);
  // The failed log in is the one expected console error (its 401).
  assert.ok(problems.every((p) => /401/.test(p)), problems.join('\n'));
  await context.close();
});

test('log in: past the attempt limit the page says how long to wait and holds the button', async () => {
  const strict = await startServer(['--login-attempts', '2']);
  const { page, context } = await openPage('/login', {}, strict.url);
  await page.fill('#auth-email', 'nobody@example.org');
  await page.fill('#auth-password', 'not the password');
  // Two wrong attempts are allowed a minute; the third is refused with Retry-After.
  for (let i = 0; i < 2; i++) {
    await page.click('#auth-submit');
    await page.locator('#auth-error', { hasText: 'The email or the password is wrong.' }).waitFor();
    await page.locator('#auth-submit:enabled').waitFor();
  }
  await page.click('#auth-submit');
  await page.locator('#auth-error', { hasText: /Too many attempts\. Try again in \d+ (seconds?|minutes?)\./ }).waitFor();
  assert.ok(await page.locator('#auth-submit').isDisabled());
  await context.close();
  assert.equal((await strict.stop()).code, 0);
});

test('two participants chat by link and by code: messages, presence, copy, HTML shown as text', async () => {
  const a = await openPage(`/r/${room.id}`);
  await online(a.page);
  await a.page.fill('#alias-input', 'Ada');
  await a.page.press('#alias-input', 'Enter');
  await a.page.locator('#chat-members li.self[data-alias="Ada"]').waitFor();

  const b = await openPage('/', PHONE);
  await b.page.fill('#code-input', room.code);
  await b.page.waitForURL((u) => u.pathname === `/r/${room.id}`);
  await online(b.page);
  const bAlias = await b.page.locator('#chat-members li.self').getAttribute('data-alias');
  assert.match(bAlias, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
  await a.page.locator(`#chat-members li[data-alias="${bAlias}"]`).waitFor();
  await b.page.locator('#chat-members li[data-alias="Ada"]').waitFor();

  await a.page.fill('#chat-input', 'hello from Ada');
  await a.page.press('#chat-input', 'Enter');
  await b.page.locator('#chat-list .msg-text', { hasText: 'hello from Ada' }).waitFor();
  const html = '<img src=x onerror="document.title=\'owned\'"><b>bold</b> & <script>alert(1)</script>';
  await b.page.fill('#chat-input', html);
  await b.page.press('#chat-input', 'Enter');
  const shown = a.page.locator('#chat-list .msg').last();
  await shown.locator('.msg-text', { hasText: 'bold' }).waitFor();
  assert.equal(await shown.locator('.msg-text').textContent(), html);
  assert.equal(await shown.locator('.msg-alias').textContent(), bAlias);
  assert.equal(await a.page.locator('#chat-list img, #chat-list b, #chat-list script').count(), 0);
  assert.notEqual(await a.page.title(), 'owned');

  // Shift+Enter is a new line, not a send.
  await a.page.fill('#chat-input', 'line one');
  await a.page.press('#chat-input', 'Shift+Enter');
  await a.page.keyboard.type('line two');
  assert.equal(await a.page.inputValue('#chat-input'), 'line one\nline two');
  await a.page.press('#chat-input', 'Enter');
  await b.page.locator('#chat-list .msg-text', { hasText: 'line two' }).waitFor();

  // Copy puts the message's text on the clipboard.
  const first = a.page.locator('#chat-list .msg', { hasText: 'hello from Ada' });
  await first.hover();
  await first.locator('button[data-act="copy"]').click();
  await first.locator('button[data-act="copy"]', { hasText: 'Copied' }).waitFor();
  assert.equal(await a.page.evaluate(() => navigator.clipboard.readText()), 'hello from Ada');

  // Typing shows on the other side.
  await b.page.type('#chat-input', 'typ');
  await a.page.locator('#chat-typing', { hasText: `${bAlias} is typing` }).waitFor();
  await b.page.fill('#chat-input', '');

  await screenshot(a.page, 'chat-light');
  await screenshot(b.page, 'chat-phone-light');
  await setTheme(a.page, 'dark');
  await setTheme(b.page, 'dark');
  await screenshot(a.page, 'chat-dark');
  await screenshot(b.page, 'chat-phone-dark');

  // B reloads: the same device gets the same generated alias back.
  await b.page.reload();
  await online(b.page);
  assert.equal(await b.page.locator('#chat-members li.self').getAttribute('data-alias'), bAlias);

  // The owner deletes Ada's first message: it goes from B's page.
  const o = owner.page;
  await o.goto(`${server.url}/r/${room.id}`);
  await online(o);
  const target = o.locator('#chat-list .msg', { hasText: 'hello from Ada' });
  await target.hover();
  await target.locator('button[data-act="delete"]').click();
  await target.locator('button[data-act="delete"]', { hasText: 'Delete?' }).click();
  await b.page.locator('#chat-list .msg-text', { hasText: 'hello from Ada' }).waitFor({ state: 'detached' });
  await a.page.locator('#chat-list .msg-text', { hasText: 'hello from Ada' }).waitFor({ state: 'detached' });
  const left = (await api(server, 'GET', `/api/rooms/${room.id}/messages`)).json.messages.map((m) => m.text);
  assert.ok(!left.includes('hello from Ada') && left.includes('line one\nline two'));
  await screenshot(o, 'chat-owner-light');

  // The owner removes B: B's page says so; A's presence loses B.
  const removeB = o.locator(`#chat-members li[data-alias="${bAlias}"] button[data-act="remove"]`);
  await removeB.click();
  await removeB.click();
  await b.page.locator('#gate-title', { hasText: 'You were removed' }).waitFor();
  await a.page.locator(`#chat-members li[data-alias="${bAlias}"]`).waitFor({ state: 'detached' });

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test('10,000 messages of history: a window of rows in the DOM, older pages on scrolling up, "new messages"', async (t) => {
  const big = await chatRoom(server, host, { title: 'Big history' });
  const writer = member(server, big.id, { alias: 'Writer' });
  await writer.next(ofType('welcome'));
  for (let i = 1; i <= HISTORY; i++) writer.send({ type: 'chat', text: `message ${i}${i % 7 === 0 ? '\nwith a second line' : ''}` });
  await writer.next((m) => m.type === 'chat.message' && m.text === `message ${HISTORY}`, 60_000);
  writer.inbox.length = 0;

  const r = await openPage(`/r/${big.id}`);
  const { page } = r;
  await online(page);
  await page.locator('#chat-list .msg-text', { hasText: `message ${HISTORY}` }).waitFor();
  const rows = await msgCount(page);
  assert.ok(rows > 3 && rows <= WINDOW_MAX, `${rows} rows in the DOM`);

  // Scroll up to the very first message: each time at the top, a page of history comes in.
  const firstRendered = () => page.evaluate(() => Math.min(...[...document.querySelectorAll('#chat-list .msg')].map((e) => Number(e.dataset.id))));
  const newest = await firstRendered();
  let most = rows;
  for (let step = 0; step < 200; step++) {
    await page.evaluate(() => {
      document.getElementById('chat-scroll').scrollTop = 0;
    });
    await page.waitForTimeout(50);
    most = Math.max(most, await msgCount(page));
    if (await page.locator('#chat-list .msg-text', { hasText: /^message 1$/ }).count()) break;
  }
  await page.locator('#chat-list .msg-text', { hasText: /^message 1$/ }).waitFor({ timeout: 1000 });
  assert.ok((await firstRendered()) < newest, 'older messages came in');
  const ids = await page.evaluate(() => [...document.querySelectorAll('#chat-list .msg')].map((e) => Number(e.dataset.id)));
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'rows are in the DOM in reading order');
  await screenshot(page, 'chat-10k-top');
  assert.ok(most <= WINDOW_MAX, `at most ${most} rows while scrolling through ${HISTORY}`);
  t.diagnostic(`${rows} rows in the DOM at the newest, at most ${most} while scrolling through ${HISTORY}`);

  // Scrolled up, a new message shows the button instead of moving the view.
  writer.send({ type: 'chat', text: 'fresh news' });
  await page.locator('#chat-new', { hasText: '1 new message' }).waitFor();
  await screenshot(page, 'chat-10k-new-messages');
  assert.equal(await page.locator('#chat-list .msg-text', { hasText: 'fresh news' }).count(), 0);
  await page.click('#chat-new');
  await page.locator('#chat-list .msg-text', { hasText: 'fresh news' }).waitFor();
  await page.locator('#chat-new').waitFor({ state: 'hidden' });
  assert.ok((await msgCount(page)) <= WINDOW_MAX);

  // At the bottom, the next one scrolls into view by itself.
  writer.send({ type: 'chat', text: 'more news' });
  await page.locator('#chat-list .msg-text', { hasText: 'more news' }).waitFor();
  assert.ok(await page.locator('#chat-new').isHidden());
  assert.deepEqual(r.problems, []);
  await writer.close();
  await r.context.close();
});

test('a room not open yet counts down and joins when it opens; a password room asks first', async () => {
  const opensAt = Date.now() + 2500;
  const later = await chatRoom(server, host, {
    title: 'Soon', password: 'open sesame', opens_at: new Date(opensAt).toISOString(), closes_at: new Date(opensAt + 3600_000).toISOString(),
  });
  const { page, context } = await openPage(`/r/${later.id}`, PHONE);
  await page.locator('#gate-countdown', { hasText: 'Opens in' }).waitFor();
  await screenshot(page, 'chat-countdown-phone');
  await page.locator('#gate-form').waitFor({ timeout: 8000 });
  await page.fill('#gate-password', 'wrong one');
  await page.click('#gate-submit');
  await page.locator('#gate-error', { hasText: 'not the password' }).waitFor();
  await page.fill('#gate-password', 'open sesame');
  await page.click('#gate-submit');
  await online(page);
  await page.fill('#chat-input', 'x'.repeat(4097));
  await page.press('#chat-input', 'Enter');
  await page.locator('#chat-error', { hasText: 'too long' }).waitFor();
  await context.close();
});

test('sending past the chat rate says to slow down and gives the text back', async () => {
  const slow = await startServer(['--chat-rate', '1']);
  const slowHost = await facilitator(slow);
  const slowRoom = await chatRoom(slow, slowHost);
  const { page, context } = await openPage(`/r/${slowRoom.id}`, {}, slow.url);
  await online(page);
  // A burst of 2 passes; the rest within the second are refused.
  for (let i = 1; i <= 5; i++) {
    await page.fill('#chat-input', `quick ${i}`);
    await page.press('#chat-input', 'Enter');
  }
  await page.locator('#chat-error', { hasText: 'sending too fast' }).waitFor();
  assert.match(await page.inputValue('#chat-input'), /^quick \d$/);
  await context.close();
  assert.equal((await slow.stop()).code, 0);
});

test('dashboard: a closed room\'s history, transcripts, edit, new code, delete', async () => {
  const short = await chatRoom(server, host, { title: 'Short session', closes_at: iso(Date.now() + 1500) });
  const writer = member(server, short.id, { alias: 'Scribe' });
  await writer.next(ofType('welcome'));
  writer.send({ type: 'chat', text: 'for the record: <i>kept</i>' });
  await writer.next(ofType('chat.message'));
  await writer.next(ofType('room.closed'), 5000);

  const { page } = owner;
  await page.goto(`${server.url}/dashboard`);
  const card = page.locator('#dash-rooms li.droom', { hasText: 'Short session' });
  await card.locator('.badge', { hasText: 'Closed' }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a', { hasText: 'Transcript .md' }).click()]);
  const md = readFileSync(await download.path(), 'utf8');
  assert.match(md, /^# Short session\n/);
  assert.ok(md.includes('**Scribe**: for the record\\: \\<i\\>kept\\<\\/i\\>'), md);
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), card.locator('a', { hasText: '.csv' }).click()]);
  assert.match(readFileSync(await csvDownload.path(), 'utf8'), /^id,created_at,alias,text\r\n/);

  await card.locator('a', { hasText: 'Read history' }).click();
  await page.waitForURL((u) => u.pathname === `/r/${short.id}`);
  await page.locator('#chat-list .msg-text', { hasText: 'for the record: <i>kept</i>' }).waitFor();
  assert.ok(await page.locator('#chat-readonly').isVisible());
  assert.ok(await page.locator('#chat-form').isHidden());
  await screenshot(page, 'chat-history-light');
  const stranger = await openPage(`/r/${short.id}`, PHONE);
  await stranger.page.locator('#gate-title', { hasText: 'This room is closed' }).waitFor();
  await screenshot(stranger.page, 'chat-closed-phone');
  await stranger.context.close();

  await page.goto(`${server.url}/dashboard`);
  const next = page.locator('#dash-rooms li.droom', { hasText: 'Next week' });
  await next.locator('button', { hasText: 'Edit' }).click();
  assert.equal(await page.inputValue('#rf-title'), 'Next week');
  assert.ok(await page.locator('#rf-keep').isChecked());
  await page.fill('#rf-title', 'Next week, moved');
  await page.fill('#rf-closes', '2099-01-05T12:30');
  await page.click('#rf-submit');
  const moved = page.locator('#dash-rooms li.droom', { hasText: 'Next week, moved' });
  await moved.waitFor();
  const before = (await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie })).json.rooms.find((r) => r.title === 'Next week, moved');
  assert.ok(before.has_password, 'the password was kept');
  assert.equal(before.closes_at, new Date(2099, 0, 5, 12, 30).toISOString());
  await moved.locator('button', { hasText: 'New code' }).click();
  await page.locator('#toast', { hasText: 'New code' }).waitFor();
  const after = (await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie })).json.rooms.find((r) => r.id === before.id);
  assert.notEqual(after.code, before.code);
  await moved.locator('summary').click();
  assert.equal((await moved.locator('.droom-code').textContent()).replace(/\s/g, ''), after.code);

  const del = page.locator('#dash-rooms li.droom', { hasText: 'Next week, moved' }).locator('button', { hasText: 'Delete' });
  await del.click();
  await page.locator('#dash-rooms li.droom', { hasText: 'Next week, moved' }).locator('button', { hasText: 'Delete for good?' }).click();
  await page.locator('#dash-rooms li.droom', { hasText: 'Next week, moved' }).waitFor({ state: 'detached' });
  const left = (await api(server, 'GET', '/api/me/rooms', { cookie: host.cookie })).json.rooms;
  assert.ok(!left.some((r) => r.id === before.id));
});

test('owner dashboard and chat on a phone', async () => {
  const { page } = owner;
  await page.setViewportSize(PHONE.viewport);
  await page.goto(`${server.url}/dashboard`);
  await page.locator('#dash-rooms li.droom').first().waitFor();
  await page.locator('#dash-rooms li.droom summary').first().click();
  await screenshot(page, 'dashboard-phone-light');
  await setTheme(page, 'dark');
  await screenshot(page, 'dashboard-phone-dark');
  await owner.context.close();
});
