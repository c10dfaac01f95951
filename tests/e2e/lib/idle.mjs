// Opens many idle WebSocket connections on raw sockets (lighter than a
// full client, so the client is not what runs out), for the memory figure
// and the leak check. Rooms of two peers: the shape of WebRTC signaling.
import net from 'node:net';
import { randomBytes } from 'node:crypto';

function openOne(port, room) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('timed out opening a WebSocket'));
    }, 20000);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => {
      s.write(`GET /ws/${room} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      // Wait for the 101 and the welcome frame behind it.
      if (end >= 0 && got.length > end + 4 + 2) {
        clearTimeout(timer);
        s.off('data', onData);
        if (!got.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
          s.destroy();
          reject(new Error(`refused: ${got.toString().slice(0, 80)}`));
          return;
        }
        s.on('data', () => {}); // later frames (peer.joined) are read and dropped
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

export async function openIdle(port, count, { concurrency = 256 } = {}) {
  const sockets = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      sockets[i] = await openOne(port, `idle-${i >> 1}`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return sockets;
}

export async function closeAll(sockets) {
  await Promise.all(sockets.map((s) => new Promise((resolve) => {
    if (s.destroyed) return resolve();
    s.once('close', resolve);
    s.destroy();
  })));
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Waits until fn() returns true or the time is up; returns the last value.
export async function waitFor(fn, timeoutMs, stepMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(stepMs);
  }
}
