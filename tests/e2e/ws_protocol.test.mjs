// The WebSocket codec seen from outside: hand-made frames on a raw socket,
// and what the server answers (close codes, pongs, reassembly).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer } from './lib/server.mjs';
import { clientFrame, connect, parseServerFrames, rawWebSocket, readUntil, readUntilClose, sleep, upgradeRequest } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer(['--ws-max-message', '64K', '--ws-ping-interval', '1s', '--ws-max-queue', '256K', '--signal-rate', '100000']);
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

const OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10, OP_CONT = 0;

// Opens a raw socket in a room and waits for the welcome frame.
async function joined(room) {
  const { socket, rest } = await rawWebSocket(server.port, `/ws/${room}`);
  let buf = rest;
  const frames = [];
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    const parsed = parseServerFrames(buf);
    frames.push(...parsed.frames);
    buf = parsed.rest;
  });
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.on('error', () => {});
  const p = parseServerFrames(buf);
  frames.push(...p.frames);
  buf = p.rest;
  const waitFor = async (pred, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`no such frame; got opcodes ${frames.map((x) => x.opcode)}`);
      await sleep(20);
    }
  };
  await waitFor((f) => f.opcode === OP_TEXT && JSON.parse(f.payload).type === 'welcome');
  const closeCode = async () => {
    const f = await waitFor((x) => x.opcode === OP_CLOSE);
    return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
  };
  return { socket, frames, waitFor, closeCode, closed };
}

test('a message over --ws-max-message closes with 1009', async () => {
  const c = await joined('big');
  c.socket.write(clientFrame(OP_TEXT, Buffer.alloc(70 * 1024, 0x61)));
  assert.equal(await c.closeCode(), 1009);
  await c.closed;
});

test('a fragmented message over the limit closes with 1009', async () => {
  const c = await joined('big2');
  const part = Buffer.alloc(40 * 1024, 0x61);
  c.socket.write(clientFrame(OP_TEXT, part, { fin: false }));
  c.socket.write(clientFrame(OP_CONT, part, { fin: true }));
  assert.equal(await c.closeCode(), 1009);
});

test('invalid UTF-8 in a text message closes with 1007', async () => {
  const c = await joined('utf8');
  c.socket.write(clientFrame(OP_TEXT, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])));
  assert.equal(await c.closeCode(), 1007);
});

test('UTF-8 is checked across fragments: a sequence cut at the end closes with 1007', async () => {
  const c = await joined('utf8-frag');
  c.socket.write(clientFrame(OP_TEXT, Buffer.from('"caf'), { fin: false }));
  c.socket.write(clientFrame(OP_CONT, Buffer.from([0xc3]), { fin: true }));
  assert.equal(await c.closeCode(), 1007);
});

test('a multi-byte character split across fragments is reassembled', async () => {
  const a = await joined('frag');
  const b = new WebSocket(server.wsUrl('/ws/frag'));
  const got = new Promise((resolve) => b.on('message', (m) => {
    const msg = JSON.parse(m.toString());
    if (msg.type === 'signal') resolve(msg);
  }));
  await new Promise((r) => b.on('open', r));
  await a.waitFor((f) => f.opcode === OP_TEXT && JSON.parse(f.payload).type === 'peer.joined');
  const text = Buffer.from(JSON.stringify({ type: 'signal', data: 'café ✓ 𝄞' }));
  const cut = text.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte sequence
  a.socket.write(clientFrame(OP_TEXT, text.subarray(0, cut), { fin: false }));
  a.socket.write(clientFrame(OP_PING, Buffer.from('mid'))); // control frames may interleave
  a.socket.write(clientFrame(OP_CONT, text.subarray(cut), { fin: true }));
  assert.equal((await got).data, 'café ✓ 𝄞');
  const pong = await a.waitFor((f) => f.opcode === OP_PONG);
  assert.equal(pong.payload.toString(), 'mid');
  b.close();
});

test('an unmasked client frame closes with 1002', async () => {
  const c = await joined('mask');
  c.socket.write(clientFrame(OP_TEXT, Buffer.from('{}'), { mask: false }));
  assert.equal(await c.closeCode(), 1002);
});

test('reserved bits and opcodes close with 1002', async () => {
  const c = await joined('rsv');
  const f = clientFrame(OP_TEXT, Buffer.from('{}'));
  f[0] |= 0x40;
  c.socket.write(f);
  assert.equal(await c.closeCode(), 1002);
  const d = await joined('rsv2');
  d.socket.write(clientFrame(0x3, Buffer.from('x')));
  assert.equal(await d.closeCode(), 1002);
});

test('ping gets a pong with the same payload; close gets the close echoed', async () => {
  const c = await joined('pingpong');
  c.socket.write(clientFrame(OP_PING, Buffer.from('hello')));
  const pong = await c.waitFor((f) => f.opcode === OP_PONG);
  assert.equal(pong.payload.toString(), 'hello');
  const close = Buffer.alloc(2);
  close.writeUInt16BE(1000);
  c.socket.write(clientFrame(OP_CLOSE, close));
  assert.equal(await c.closeCode(), 1000);
  await c.closed;
});

test('the server pings an idle connection and drops it when no pong comes', async () => {
  const c = await joined('idle');
  // --ws-ping-interval is 1s: a ping after about a second, the drop after about two.
  await c.waitFor((f) => f.opcode === OP_PING, 3000);
  const started = Date.now();
  await Promise.race([c.closed, sleep(4000)]);
  assert.ok(c.socket.destroyed || c.socket.readableEnded, 'connection was dropped');
  assert.ok(Date.now() - started < 4000);
});

test('a connection that answers pings stays open', async () => {
  const ws = new WebSocket(server.wsUrl('/ws/alive')); // ws answers pings itself
  await new Promise((r) => ws.on('open', r));
  await sleep(3000);
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.close();
});

test('a reader that does not read is closed with 1013 once its queue is full', async () => {
  const slow = await joined('slow');
  slow.socket.pause(); // stops reading: the kernel buffers fill, then our queue
  const fast = new WebSocket(server.wsUrl('/ws/slow'));
  await new Promise((r) => fast.on('open', r));
  const payload = JSON.stringify({ type: 'signal', data: 'x'.repeat(30000) });
  for (let i = 0; i < 400 && fast.readyState === WebSocket.OPEN; i++) {
    fast.send(payload);
    if (i % 20 === 0) await sleep(5);
  }
  await sleep(500);
  slow.socket.resume();
  assert.equal(await slow.closeCode(), 1013);
  const metrics = await server.metrics();
  assert.match(metrics, /tandem_rejected_connections_total\{reason="ws_queue_full"\} [1-9]/);
  fast.close();
});

test('handshake errors: bad key 400, wrong version 426, plain GET 426, foreign origin 403', async () => {
  const ask = async (req) => {
    const s = await connect(server.port);
    s.write(req);
    const data = await readUntil(s, (d) => d.indexOf('\r\n\r\n') >= 0);
    s.destroy();
    return data.toString();
  };
  assert.match(await ask(upgradeRequest('/ws/h', { 'Sec-WebSocket-Key': 'short' })), /^HTTP\/1\.1 400 /);
  assert.match(await ask(upgradeRequest('/ws/h', { 'Sec-WebSocket-Key': undefined })), /^HTTP\/1\.1 400 /);
  const v = await ask(upgradeRequest('/ws/h', { 'Sec-WebSocket-Version': '8' }));
  assert.match(v, /^HTTP\/1\.1 426 /);
  assert.match(v, /Sec-WebSocket-Version: 13/i);
  assert.match(await ask('GET /ws/h HTTP/1.1\r\nHost: localhost\r\n\r\n'), /^HTTP\/1\.1 426 /);
  assert.match(await ask(upgradeRequest('/ws/h', { Origin: 'https://evil.example' })), /^HTTP\/1\.1 403 /);
  // Same host is allowed by default.
  assert.match(await ask(upgradeRequest('/ws/h', { Host: `127.0.0.1:${server.port}`, Origin: `http://127.0.0.1:${server.port}` })), /^HTTP\/1\.1 101 /);
  const post = await ask(`POST /ws/h HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
  assert.match(post, /^HTTP\/1\.1 405 /);
  assert.match(post, /Allow: GET, HEAD/);
});

test('--allowed-origins admits the listed origins only', async () => {
  const s2 = await startServer(['--allowed-origins', 'https://app.example, http://localhost:3000']);
  try {
    const ask = async (origin) => {
      const s = await connect(s2.port);
      s.write(upgradeRequest('/ws/o', { Origin: origin }));
      const d = await readUntil(s, (x) => x.indexOf('\r\n\r\n') >= 0);
      s.destroy();
      return d.toString();
    };
    assert.match(await ask('https://app.example'), /^HTTP\/1\.1 101 /);
    assert.match(await ask('http://localhost:3000'), /^HTTP\/1\.1 101 /);
    assert.match(await ask('https://other.example'), /^HTTP\/1\.1 403 /);
  } finally {
    assert.equal((await s2.stop()).code, 0);
  }
});
