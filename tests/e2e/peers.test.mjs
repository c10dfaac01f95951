// What direct transfers need from the server: peers with names and
// devices, signaling with limits, the binary relay of last resort, and
// ICE servers with TURN REST credentials.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { startServer } from './lib/server.mjs';
import { sleep } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer(['--signal-rate', '5', '--signal-max-bytes', '1K', '--relay-max-message', '64K',
    '--stun', 'stun:127.0.0.1:3478', '--turn-url', 'turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp',
    '--turn-secret', 'north', '--turn-ttl', '10m']);
});
after(async () => {
  assert.equal((await server.stop()).code, 0);
});

function peer(room, ua) {
  const ws = new WebSocket(server.wsUrl(`/ws/${room}`), ua ? { headers: { 'User-Agent': ua } } : {});
  const text = [];
  const binary = [];
  ws.on('message', (d, isBinary) => (isBinary ? binary.push(Buffer.from(d)) : text.push(JSON.parse(d.toString()))));
  const wait = async (list, pred, ms = 3000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = list.findIndex(pred);
      if (i >= 0) return list.splice(i, 1)[0];
      if (Date.now() > end) throw new Error(`nothing matched; have ${JSON.stringify(list).slice(0, 300)}`);
      await sleep(20);
    }
  };
  return { ws, text, binary, next: (pred, ms) => wait(text, pred, ms), nextBinary: (ms) => wait(binary, () => true, ms) };
}

test('peers carry a generated name and a device label; a chosen name reaches everyone', async () => {
  const a = peer('names', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1');
  const wa = await a.next((m) => m.type === 'welcome');
  assert.equal(wa.you.device, 'Safari on iPhone');
  const b = peer('names', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0');
  const wb = await b.next((m) => m.type === 'welcome');
  assert.deepEqual(wb.peers, [wa.you]);
  assert.equal((await a.next((m) => m.type === 'peer.joined')).device, 'Edge on Windows');
  b.ws.send(JSON.stringify({ type: 'peer.update', name: '  Kitchen laptop ' }));
  const ua = await a.next((m) => m.type === 'peer.updated');
  assert.deepEqual(ua, { type: 'peer.updated', peer_id: wb.peer_id, name: 'Kitchen laptop', device: 'Edge on Windows' });
  assert.equal((await b.next((m) => m.type === 'peer.updated')).name, 'Kitchen laptop');
  b.ws.send(JSON.stringify({ type: 'peer.update', name: 'x'.repeat(41) }));
  assert.equal((await b.next((m) => m.type === 'error')).code, 'bad_name');
  a.ws.close();
  b.ws.close();
});

test('signals are rate limited per socket and bounded in size', async () => {
  const a = peer('limits');
  await a.next((m) => m.type === 'welcome');
  const b = peer('limits');
  const wb = await b.next((m) => m.type === 'welcome');
  a.ws.send(JSON.stringify({ type: 'signal', to: wb.peer_id, data: 'x'.repeat(2000) }));
  assert.equal((await a.next((m) => m.type === 'error')).code, 'signal_too_large');
  await sleep(1100); // the bucket refills
  for (let i = 0; i < 15; i++) a.ws.send(JSON.stringify({ type: 'signal', to: wb.peer_id, data: i }));
  assert.equal((await a.next((m) => m.type === 'error')).code, 'rate_limited');
  await sleep(200);
  const got = b.text.filter((m) => m.type === 'signal').length;
  assert.ok(got >= 5 && got <= 11, `${got} of 15 signals went through at 5 a second with bursts of 10`);
  a.ws.close();
  b.ws.close();
});

test('binary frames are relayed to the named peer with the sender in its place, and counted apart', async () => {
  const before = await server.metrics();
  const relayBefore = Number(/tandem_relay_bytes_total (\d+)/.exec(before)[1]);
  const signalsBefore = Number(/tandem_signals_relayed_total (\d+)/.exec(before)[1]);
  const a = peer('relay');
  const wa = await a.next((m) => m.type === 'welcome');
  const b = peer('relay');
  const wb = await b.next((m) => m.type === 'welcome');
  const c = peer('relay');
  await c.next((m) => m.type === 'welcome');
  const payload = Buffer.from([0, 1, 2, 255, 254, 253, 10, 13]);
  a.ws.send(Buffer.concat([Buffer.from(wb.peer_id), payload]));
  const got = await b.nextBinary();
  assert.equal(got.subarray(0, 12).toString(), wa.peer_id);
  assert.deepEqual(got.subarray(12), payload);
  await sleep(100);
  assert.equal(c.binary.length, 0, 'only the target receives it');
  a.ws.send(Buffer.concat([Buffer.from('nobodyHere12'), payload]));
  assert.equal((await a.next((m) => m.type === 'error')).code, 'unknown_peer');
  a.ws.send(Buffer.concat([Buffer.from(wb.peer_id), Buffer.alloc(65 * 1024)]));
  assert.equal((await a.next((m) => m.type === 'error')).code, 'bad_relay');
  const after = await server.metrics();
  assert.equal(Number(/tandem_relay_bytes_total (\d+)/.exec(after)[1]) - relayBefore, payload.length);
  assert.equal(Number(/tandem_signals_relayed_total (\d+)/.exec(after)[1]), signalsBefore);
  for (const p of [a, b, c]) p.ws.close();
});

test('/api/config gives STUN and TURN with REST credentials that coturn would accept', async () => {
  const res = await fetch(`${server.url}/api/config`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const cfg = await res.json();
  assert.deepEqual(cfg.ice_servers[0], { urls: ['stun:127.0.0.1:3478'] });
  const turn = cfg.ice_servers[1];
  assert.deepEqual(turn.urls, ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
  const [expiry, user] = turn.username.split(':');
  const ttl = Number(expiry) - Date.now() / 1000;
  assert.ok(ttl > 590 && ttl <= 601, `credentials live ${ttl} s`);
  assert.match(user, /^[A-Za-z0-9]{12}$/);
  assert.equal(turn.credential, createHmac('sha1', 'north').update(turn.username).digest('base64'));
  assert.equal(cfg.limits.relay_max_message, 65536);
});

test('without --stun or --turn-url nothing leaves the LAN: no ICE servers', async () => {
  const s = await startServer();
  try {
    const cfg = await (await fetch(`${s.url}/api/config`)).json();
    assert.deepEqual(cfg.ice_servers, []);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('--relay-rate: a sender past its rate gets relay_busy, and what was refused never arrives', async () => {
  const s = await startServer(['--relay-rate', '64K', '--relay-max-message', '64K']);
  try {
    const open = (room) => {
      const ws = new WebSocket(s.wsUrl(`/ws/${room}`));
      const text = [];
      const binary = [];
      ws.on('message', (d, isBinary) => (isBinary ? binary.push(d) : text.push(JSON.parse(d.toString()))));
      return { ws, text, binary };
    };
    const until = async (cond, ms = 3000) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error('timed out');
        await sleep(20);
      }
    };
    const a = open('rate');
    await until(() => a.text.some((m) => m.type === 'welcome'));
    const b = open('rate');
    await until(() => b.text.some((m) => m.type === 'welcome'));
    const bId = b.text.find((m) => m.type === 'welcome').peer_id;
    // A burst of twice the rate passes; four frames of 60 KiB at once do not.
    for (let i = 0; i < 4; i++) a.ws.send(Buffer.concat([Buffer.from(bId), Buffer.alloc(60 * 1024, i)]));
    await until(() => a.text.some((m) => m.type === 'error'));
    await sleep(300);
    const busy = a.text.filter((m) => m.type === 'error');
    assert.ok(busy.length >= 1 && busy.every((m) => m.code === 'relay_busy'), JSON.stringify(busy));
    assert.equal(b.binary.length, 4 - busy.length);
    assert.ok(b.binary.length >= 2, `${b.binary.length} frames within the burst`);
    a.ws.close();
    b.ws.close();
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});
