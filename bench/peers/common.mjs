// What the three Node peers share: flags, the room name rule, peer ids and
// the start-up line the bench driver waits for.
import { randomBytes } from 'node:crypto';

export const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const WELCOME_PEERS_MAX = 1000;
export const MAX_MESSAGE = 1 << 20;

export function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 0 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--host') { opts.host = v; i++; }
    else if (a === '--port') { opts.port = Number(v); i++; }
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('bad --port');
  return opts;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// 12 base62 characters, like tandem's peer ids.
export function peerId() {
  const bytes = randomBytes(12);
  let s = '';
  for (let i = 0; i < 12; i++) s += ALPHABET[bytes[i] % 62];
  return s;
}

export function listening(name, port) {
  // The driver reads this line (same shape as tandem's) to learn the port.
  process.stderr.write(`${name} server.listening port=${port}\n`);
}

export function exitOnSignals(close) {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      close();
      setTimeout(() => process.exit(0), 200).unref();
    });
  }
}

// Builds the welcome object: the first WELCOME_PEERS_MAX others present.
export function welcome(id, room, ids) {
  const peers = [];
  let count = 0;
  for (const other of ids) {
    if (other === id) continue;
    count++;
    if (peers.length < WELCOME_PEERS_MAX) peers.push({ peer_id: other });
  }
  return { type: 'welcome', peer_id: id, room, peers, peer_count: count };
}

export function errorMessage(code, message) {
  return JSON.stringify({ type: 'error', code, message });
}
