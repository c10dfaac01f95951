// Raw TCP clients, for what real clients are too polite to send: split,
// slow, malformed and pipelined requests, and hand-made WebSocket frames.
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

// Collects everything the server sends until it closes the connection (or
// the time limit passes, which fails the caller's expectations, not a hang).
export function readUntilClose(socket, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const chunks = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
  });
}

// Reads until `predicate(buffer)` holds or the time limit passes.
export function readUntil(socket, predicate, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const onData = (d) => {
      data = Buffer.concat([data, d]);
      if (predicate(data)) {
        cleanup();
        resolve(data);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out; got: ${data.toString('latin1').slice(0, 500)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
    };
    socket.on('data', onData);
  });
}

export function upgradeRequest(path, extra = {}) {
  const headers = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  let s = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) s += `${k}: ${v}\r\n`;
  return s + '\r\n';
}

// A masked client frame.
export function clientFrame(opcode, payload, { fin = true, mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = data.length;
  let header;
  if (len < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, masked]);
}

// Parses unmasked server frames from a buffer: [{opcode, payload}], rest.
export function parseServerFrames(buf) {
  const frames = [];
  let off = 0;
  while (buf.length - off >= 2) {
    const opcode = buf[off] & 0x0f;
    let len = buf[off + 1] & 0x7f;
    let hdr = 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      hdr = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      hdr = 10;
    }
    if (buf.length - off < hdr + len) break;
    frames.push({ opcode, payload: buf.subarray(off + hdr, off + hdr + len) });
    off += hdr + len;
  }
  return { frames, rest: buf.subarray(off) };
}

// Opens a raw WebSocket: handshake done, returns the socket and any bytes
// that followed the 101 response.
export async function rawWebSocket(port, path, extra = {}) {
  const s = await connect(port);
  s.write(upgradeRequest(path, extra));
  const data = await readUntil(s, (d) => d.indexOf('\r\n\r\n') >= 0);
  const end = data.indexOf('\r\n\r\n') + 4;
  const head = data.subarray(0, end).toString('latin1');
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head}`);
  return { socket: s, rest: data.subarray(end) };
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
