// Direct transfer in Debian's Chromium against the real binary: two pages in
// one room send each other files and messages. Here Chromium finds a path on
// loopback, so the first test checks a file goes directly (tandem's relay
// counter in /metrics does not move). The second makes both pages withhold
// their ICE candidates (?transport=blocked: a network with no direct path), so
// no data channel opens and they fall back to tandem's WebSocket relay by
// themselves after ~5 s; /metrics counts the file's bytes. The others force the
// relay (?transport=relay) to skip the wait. Screenshots of the Direct card,
// light and dark, go to $TANDEM_SCREENSHOTS or tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lib/server.mjs';
import { acceptOffer, closeClean, directPages, keepPeerConnections, launchChromium, savedSha256, sha256, waitOnline } from './lib/direct.mjs';

const SHOTS = process.env.TANDEM_SCREENSHOTS || fileURLToPath(new URL('./artifacts/', import.meta.url));

let server, browser, relayBytes, pair;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await launchChromium();
  ({ relayBytes, pair } = directPages(browser, server));
});
after(async () => {
  await browser?.close();
  assert.equal((await server.stop()).code, 0);
});

async function shot(page, name) {
  await page.locator('#direct').scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  await page.locator('#direct').screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Can two RTCPeerConnections on this host connect at all (any candidate)? */
async function hostHasIcePath() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  const ok = await page.evaluate(async () => {
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    const ch = a.createDataChannel('probe');
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    const open = await Promise.race([
      new Promise((r) => (ch.onopen = () => r(true))),
      new Promise((r) => setTimeout(() => r(false), 4000)),
    ]);
    a.close();
    b.close();
    return open;
  });
  await context.close();
  return ok;
}

// TANDEM_DIRECT_MIB=200 makes this a measurement of a bigger file (docs/transfer.md).
const DIRECT_MIB = Number(process.env.TANDEM_DIRECT_MIB) || 50;

test(`a ${DIRECT_MIB} MiB file goes directly, browser to browser, never through tandem`, async (t) => {
  // Where Chromium finds no candidate at all (no interface but a bare lo), no
  // direct path can exist: the fallback test below still covers the rest.
  if (!(await hostHasIcePath())) {
    t.skip('Chromium finds no ICE path on this host');
    return;
  }
  const { a, b } = await pair();
  const size = DIRECT_MIB * 1024 * 1024;
  const bytes = randomBytes(size);
  const sha = sha256(bytes);
  const dir = mkdtempSync(join(tmpdir(), 'tandem-direct-'));
  const file = join(dir, 'big direct.bin');
  writeFileSync(file, bytes);
  try {
    const before = await relayBytes();
    await a.page.setInputFiles('#direct-files', file);
    await acceptOffer(b.page);
    const t0 = Date.now();
    const done = b.page.locator('#direct-transfers li.dfile[data-state="verified"]');
    await done.waitFor({ timeout: 120000 + DIRECT_MIB * 1000 });
    const secs = (Date.now() - t0) / 1000;
    for (const p of [a.page, b.page]) assert.equal(await p.locator('#direct-peers li .link-state').textContent(), 'Direct');
    const grew = (await relayBytes()) - before;
    assert.ok(grew < 4096, `the relay carried ${grew} bytes`);
    console.log(`# direct: ${DIRECT_MIB} MiB in ${secs.toFixed(2)} s (accept to verified) = ${(DIRECT_MIB / secs).toFixed(1)} MiB/s; relay bytes +${grew}`);
    assert.deepEqual(await savedSha256(b.page, done), { name: 'big direct.bin', sha }, 'the same SHA-256');
    await shot(a.page, 'direct-direct-sent-light');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await closeClean(a, b);
});

test('with no direct path a 5 MiB file falls back to the tandem relay by itself and arrives verified', async () => {
  const { a, b } = await pair('?transport=blocked');
  // Names and devices: B renames itself; A sees it.
  await b.page.fill('#direct-name', 'Kitchen laptop');
  await b.page.click('#direct-name-form button');
  await a.page.locator('#direct-peers li', { hasText: 'Kitchen laptop' }).waitFor({ timeout: 5000 });
  assert.match(await a.page.locator('#direct-peers li').textContent(), /Chrom(e|ium) on Linux/);
  assert.ok(await a.page.locator('#direct-peers input[type=checkbox]').isChecked(), 'the only peer is picked');

  const size = 5 * 1024 * 1024 + 12345;
  const bytes = randomBytes(size);
  const sha = sha256(bytes);
  const name = 'direct ü test.bin';
  const before = await relayBytes();
  await a.page.setInputFiles('#direct-files', { name, mimeType: 'application/octet-stream', buffer: bytes });

  const offer = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"]');
  await offer.waitFor({ timeout: 30000 });
  assert.equal(await offer.getAttribute('data-state'), 'offered');
  assert.match(await offer.textContent(), /direct ü test\.bin/);
  await shot(b.page, 'direct-offer-light');
  await offer.locator('button.accept').click();
  const t0 = Date.now();

  const done = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"] li.dfile[data-state="verified"]');
  await done.waitFor({ timeout: 60000 });
  const secs = (Date.now() - t0) / 1000;
  await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="done"]').waitFor({ timeout: 30000 });

  // Honest about the path, on both sides.
  for (const p of [a.page, b.page]) {
    assert.equal(await p.locator('#direct-peers li .link-state').textContent(), 'Via tandem relay');
    assert.equal(await p.locator('#direct-transfers li.dtransfer .link-state').first().textContent(), 'Via tandem relay');
  }
  const grew = (await relayBytes()) - before;
  assert.ok(grew >= size && grew < size * 1.2 + 65536, `relay bytes grew by ${grew} for a ${size}-byte file`);
  console.log(`# relay: ${(size / 1048576).toFixed(1)} MiB in ${secs.toFixed(2)} s (accept to verified) = ${(size / 1048576 / secs).toFixed(1)} MiB/s; relay bytes +${grew}`);

  assert.deepEqual(await savedSha256(b.page, done), { name, sha }, 'the same SHA-256');

  await shot(a.page, 'direct-sent-light');
  await a.page.evaluate(() => window.scrollTo(0, 0));
  await a.page.screenshot({ path: join(SHOTS, 'direct-room-light.png'), fullPage: true });
  await shot(b.page, 'direct-received-light');
  for (const p of [a.page, b.page]) await p.click('#theme-toggle');
  await shot(a.page, 'direct-sent-dark');
  await shot(b.page, 'direct-received-dark');

  await closeClean(a, b);
});

test('a declined offer says so on both sides; a chat message gets a delivery receipt', async () => {
  const { a, b } = await pair('?transport=relay');
  await a.page.setInputFiles('#direct-files', [
    { name: 'one.txt', mimeType: 'text/plain', buffer: Buffer.from('one') },
    { name: 'two.txt', mimeType: 'text/plain', buffer: Buffer.from('two') },
  ]);
  const offer = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
  await offer.waitFor({ timeout: 30000 });
  assert.equal(await offer.locator('li.dfile').count(), 2);
  await offer.locator('button.decline').click();
  const out = a.page.locator('#direct-transfers li.dtransfer[data-dir="out"]');
  await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="declined"]').waitFor({ timeout: 30000 });
  assert.match(await out.textContent(), /declined/i);
  assert.equal(await b.page.locator('#direct-transfers li.dtransfer[data-dir="in"]').getAttribute('data-state'), 'declined');

  await a.page.fill('#direct-text', 'hi B, <b>plain</b> text');
  await a.page.click('#direct-send-text');
  const got = b.page.locator('#direct-transfers li.dchat');
  await got.waitFor({ timeout: 30000 });
  assert.equal(await got.locator('.dchat-text').textContent(), 'hi B, <b>plain</b> text');
  await a.page.locator('#direct-transfers li.dchat.mine[data-state="delivered"]').waitFor({ timeout: 30000 });
  assert.equal(await a.page.locator('#direct-transfers li.dchat.mine .dchat-state').textContent(), 'Delivered');
  assert.equal(await a.page.locator('#direct-peers li .link-state').textContent(), 'Via tandem relay');

  await closeClean(a, b);
});

test('cancel from the receiver stops the sender; a peer leaving fails the transfer clearly', async () => {
  const { a, b } = await pair('?transport=relay');
  const bytes = randomBytes(40 * 1024 * 1024);
  await a.page.setInputFiles('#direct-files', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const offer = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
  await offer.waitFor({ timeout: 30000 });
  await offer.locator('button.accept').click();
  // Cancel in the same task that sees the file under way: a 40 MiB file takes
  // about 3 s through the relay, less than a click's checks on a loaded machine.
  await b.page.waitForFunction(() => {
    if (!(Number(document.querySelector('#direct-transfers li.dfile progress')?.value) >= 1)) return false;
    document.querySelector('#direct-transfers li.dtransfer[data-dir="in"][data-state="receiving"] button.cancel').click();
    return true;
  }, null, { timeout: 20000 });
  await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="cancelled"]').waitFor({ timeout: 30000 });
  assert.match(await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"]').textContent(), /cancelled/i);

  // Again, and this time the receiver goes away mid-file.
  await a.page.setInputFiles('#direct-files', { name: 'big2.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const offer2 = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
  await offer2.waitFor({ timeout: 30000 });
  await offer2.locator('button.accept').click();
  await b.page.waitForFunction(() => Number(document.querySelector('#direct-transfers li.dtransfer[data-state="receiving"] progress')?.value) >= 1, null, { timeout: 20000 });
  await b.context.close();
  const failed = a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="failed"]');
  await failed.waitFor({ timeout: 30000 });
  assert.match(await failed.textContent(), /left the room/);
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('the sender reloads mid-file and sends the same file again: it goes on from where the receiver is', async () => {
  const { a, b } = await pair();
  const size = 40 * 1024 * 1024 + 4321;
  const bytes = randomBytes(size);
  const dir = mkdtempSync(join(tmpdir(), 'tandem-resume-'));
  const file = join(dir, 'resume me.bin'); // a real file: the same modification time after the reload
  writeFileSync(file, bytes);
  try {
    await a.page.setInputFiles('#direct-files', file);
    await acceptOffer(b.page);
    await b.page.waitForFunction(() => Number(document.querySelector('#direct-transfers li.dfile progress')?.value) >= 25, null, { timeout: 60000 });
    a.page.on('dialog', (d) => d.accept()); // a "leave the page?" prompt, if Chromium shows one
    await a.page.reload({ waitUntil: 'load' });
    await waitOnline(a.page);

    // B kept what arrived; the transfer failed because the sender left.
    const stopped = b.page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="failed"]');
    await stopped.waitFor({ timeout: 30000 });
    assert.match(await stopped.textContent(), /left the room/);
    assert.match(await stopped.locator('.dfile-status').textContent(), /kept; if it is sent again, it goes on from here/);

    // The same file again from the reloaded page (a new peer id): B goes on by itself.
    await a.page.locator('#direct-peers li').first().waitFor({ timeout: 30000 });
    await a.page.setInputFiles('#direct-files', file);
    const done = b.page.locator('#direct-transfers li.dfile[data-state="verified"]');
    await done.waitFor({ timeout: 60000 });
    await a.page.locator('#direct-transfers li.dtransfer[data-dir="out"][data-state="done"]').waitFor({ timeout: 30000 });
    assert.equal(await b.page.locator('#direct-transfers li.dtransfer[data-dir="in"]').count(), 1, 'the old row made way for the resumed one');

    const sent = Number(await a.page.locator('#direct-transfers li.dfile').getAttribute('data-sent-bytes'));
    const from = Number(await a.page.locator('#direct-transfers li.dfile').getAttribute('data-resumed-from'));
    assert.equal(Number(await done.getAttribute('data-resumed-from')), from, 'both sides agree where it went on from');
    assert.ok(from >= size / 4, `resumed from ${from} of ${size}`);
    assert.ok(sent <= size - from + 2 * 1024 * 1024 && sent < size * 0.8, `the reloaded sender sent ${sent} bytes of a ${size}-byte file`);
    console.log(`# resume: went on from ${from} bytes; the reloaded sender sent ${sent} of ${size} bytes`);
    assert.deepEqual(await savedSha256(b.page, done), { name: 'resume me.bin', sha: sha256(bytes) }, 'the same SHA-256');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test('the data channel dies mid-file: the file goes on through the relay from where the receiver is', async (t) => {
  if (!(await hostHasIcePath())) {
    t.skip('Chromium finds no ICE path on this host');
    return;
  }
  const { a, b } = await pair('', { init: keepPeerConnections });
  const size = 30 * 1024 * 1024 + 99;
  const bytes = randomBytes(size);
  await a.page.setInputFiles('#direct-files', { name: 'dropped.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await acceptOffer(b.page);
  await b.page.waitForFunction(() => Number(document.querySelector('#direct-transfers li.dfile progress')?.value) >= 40, null, { timeout: 60000 });
  assert.equal(await a.page.locator('#direct-peers li .link-state').textContent(), 'Direct');
  const before = await relayBytes();
  // The sender's connection goes away under it, as in a network change.
  await a.page.evaluate(() => window.__pcs.forEach((pc) => pc.close()));
  const done = b.page.locator('#direct-transfers li.dfile[data-state="verified"]');
  await done.waitFor({ timeout: 60000 });
  for (const p of [a.page, b.page]) assert.equal(await p.locator('#direct-peers li .link-state').textContent(), 'Via tandem relay');
  const grew = (await relayBytes()) - before;
  assert.ok(grew < size * 0.7, `the relay carried ${grew} bytes of a ${size}-byte file: it went on, not over`);
  console.log(`# data channel lost: the relay carried ${grew} of ${size} bytes`);
  assert.deepEqual(await savedSha256(b.page, done), { name: 'dropped.bin', sha: sha256(bytes) });
  await closeClean(a, b);
});
