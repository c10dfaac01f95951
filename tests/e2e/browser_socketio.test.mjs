// A real browser speaking Socket.IO to tandem: Debian's Chromium loads the
// official socket.io-client browser bundle, connects over polling, upgrades
// to websocket as the client does by default, and signals a Node client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';
import { startServer } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const require = createRequire(import.meta.url);
const bundle = readFileSync(join(dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js'));

let server, browser;
before(async () => {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The test page is fulfilled by Playwright, so Chromium gives it no
    // address space and its Local Network Access checks would block the
    // WebSocket to 127.0.0.1; a page tandem served itself is not affected.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-features=LocalNetworkAccessChecks'],
  });
});
after(async () => {
  await browser?.close();
  assert.equal((await server.stop()).code, 0);
});

test('chromium connects over polling, upgrades to websocket and signals a node client', async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // The test page and the bundle come from the test, on tandem's origin, so
  // the page's Socket.IO requests go to tandem same-origin.
  await page.route(`${server.url}/sio-test/**`, (route) => {
    const url = route.request().url();
    if (url.endsWith('.js')) return route.fulfill({ contentType: 'text/javascript', body: bundle });
    return route.fulfill({ contentType: 'text/html', body: '<!doctype html><script src="/sio-test/socket.io.min.js"></script>' });
  });
  await page.goto(`${server.url}/sio-test/index.html`);
  const { roomId } = await (await fetch(`${server.url}/api/get_room`)).json();

  const result = await page.evaluate(async (roomId) => {
    const socket = io({ reconnection: false, autoConnect: false });
    window.socket = socket;
    const transports = [];
    socket.io.on('open', () => {
      transports.push(socket.io.engine.transport.name);
      socket.io.engine.on('upgrade', (t) => transports.push(t.name));
    });
    socket.connect();
    await new Promise((resolve, reject) => {
      socket.on('connect', resolve);
      socket.on('connect_error', reject);
    });
    for (let i = 0; i < 400 && transports.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const join = await socket.emitWithAck('join', { roomId });
    window.offers = [];
    window.readies = [];
    socket.on('offer', (o) => window.offers.push(o));
    socket.on('ready', (r) => window.readies.push(r));
    return { id: socket.id, transports, join };
  }, roomId);
  assert.deepEqual(result.transports, ['polling', 'websocket']);
  assert.equal(result.join.success, true);

  const node = io(server.url, { transports: ['websocket'], reconnection: false });
  await new Promise((resolve) => node.on('connect', resolve));
  assert.equal((await node.emitWithAck('join', { roomId })).success, true);
  await page.waitForFunction(() => window.readies.length === 1);
  assert.deepEqual(await page.evaluate(() => window.readies[0]), { peerId: node.id });

  node.emit('offer', { peerId: result.id, offer: { type: 'offer', sdp: 'v=0' }, from: node.id });
  await page.waitForFunction(() => window.offers.length === 1);
  assert.deepEqual(await page.evaluate(() => window.offers[0]), { peerId: node.id, offer: { type: 'offer', sdp: 'v=0' }, from: node.id });

  const answer = new Promise((resolve) => node.once('answer', resolve));
  await page.evaluate((to) => window.socket.emit('answer', { peerId: to, answer: { type: 'answer', sdp: 'v=0' }, from: window.socket.id }), node.id);
  assert.deepEqual(await answer, { peerId: result.id, answer: { type: 'answer', sdp: 'v=0' }, from: result.id });

  node.close();
  await page.evaluate(() => window.socket.close());
  assert.deepEqual(problems, []);
  await page.close();
});
