// What the Direct suites share: Debian's Chromium, and pairs of pages in one
// room of a running tandem, each page watching for console errors.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DESKTOP = { viewport: { width: 1280, height: 900 } };

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Pages of `browser` against `server`. */
export function directPages(browser, server) {
  async function newRoom() {
    const res = await fetch(`${server.url}/api/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 201);
    return (await res.json()).id;
  }

  /** tandem's count of bytes its WebSocket relay carried. */
  async function relayBytes() {
    const text = await server.metrics();
    const m = /^tandem_relay_bytes_total (\d+)/m.exec(text);
    assert.ok(m, 'tandem_relay_bytes_total in /metrics');
    return Number(m[1]);
  }

  /** One device: its own browser context (storage), online in the room at `path`. */
  async function openPage(path, { init, ...options } = {}) {
    const context = await browser.newContext({ acceptDownloads: true, ...DESKTOP, ...options });
    if (init) await context.addInitScript(init);
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(server.url + path, { waitUntil: 'load' });
    await waitOnline(page);
    return { page, context, problems };
  }

  /** Two devices in a fresh room, each seeing the other in the Direct card. */
  async function pair(query = '', options = {}) {
    const id = await newRoom();
    const a = await openPage(`/r/${id}${query}`, options);
    const b = await openPage(`/r/${id}${query}`, options);
    for (const p of [a.page, b.page]) await p.locator('#direct-peers li').first().waitFor({ timeout: 30000 });
    return { id, a, b };
  }

  return { newRoom, relayBytes, openPage, pair };
}

export async function waitOnline(page) {
  await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'online', null, { timeout: 30000 });
}

/** B accepts the next offer it is shown. */
export async function acceptOffer(page) {
  const offer = page.locator('#direct-transfers li.dtransfer[data-dir="in"][data-state="offered"]');
  await offer.waitFor({ timeout: 30000 });
  await offer.locator('button.accept').click();
}

/** Saves the verified file behind `row` (a li.dfile) and returns its SHA-256. */
export async function savedSha256(page, row) {
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 15000 }),
    row.locator('a.download').click(),
  ]);
  return { name: download.suggestedFilename(), sha: sha256(readFileSync(await download.path())) };
}

/** An init script: every RTCPeerConnection the page makes, in window.__pcs, so a test can ask it itself. */
export const keepPeerConnections = () => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function RTCPeerConnection(...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
};

/** The candidate types of the selected pair of the page's connected RTCPeerConnection (getStats). */
export function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs.find((x) => x.connectionState === 'connected');
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    return pair && { local: stats.get(pair.localCandidateId).candidateType, remote: stats.get(pair.remoteCandidateId).candidateType };
  });
}

/** A sends `bytes` as `name`, B accepts it into memory; resolves with B's verified file row. */
export async function sendAccepted(a, b, name, bytes, timeout = 60000) {
  await a.page.setInputFiles('#direct-files', { name, mimeType: 'application/octet-stream', buffer: bytes });
  await acceptOffer(b.page);
  const done = b.page.locator('#direct-transfers li.dfile[data-state="verified"]');
  await done.waitFor({ timeout });
  return done;
}

/** Asserts each device's page logged no error or warning, then closes it. */
export async function closeClean(...devices) {
  for (const d of devices) {
    assert.deepEqual(d.problems, []);
    await d.context.close();
  }
}
