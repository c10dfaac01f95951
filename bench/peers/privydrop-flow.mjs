// The Socket.IO workload's client: the PrivyDrop signaling flow with the
// official socket.io-client, as a sender and a receiver run it:
//   create the room (REST) -> sender joins, announces initiator-online ->
//   receiver joins (the sender gets `ready`), announces recipient-ready ->
//   offer -> answer -> ICE candidates both ways -> both leave.
// `--flows` flows in all, `--concurrency` at once; prints one JSON report:
// flows/s, flow time percentiles (join to last candidate), errors.
import { io } from 'socket.io-client';

const opts = { port: 0, flows: 1000, concurrency: 50, candidates: 3, maxTime: 120 };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i].replace(/^--/, ''), Number(process.argv[i + 1])];
  if (!(k in opts) || !Number.isFinite(v)) throw new Error(`bad option ${process.argv[i]}`);
  opts[k === 'max-time' ? 'maxTime' : k] = v;
}
const base = `http://127.0.0.1:${opts.port}`;
// An SDP of the size browsers send for one data channel (about 1.5 KB).
const SDP = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n${'a=x-pad:0123456789abcdef\r\n'.repeat(56)}`;

let seq = 0;
const roomId = () => `bench${process.pid}x${(seq++).toString(36)}`;

function connect() {
  return io(base, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 10000 });
}

function once(socket, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (msg) => { clearTimeout(t); resolve(msg); });
    socket.once('connect_error', (e) => { clearTimeout(t); reject(e); });
  });
}

async function join(socket, id) {
  if (!socket.connected) await once(socket, 'connect');
  const answered = once(socket, 'joinResponse');
  socket.emit('join', { roomId: id });
  const r = await answered;
  if (!r?.success) throw new Error(`join refused: ${r?.message}`);
}

async function flow() {
  const id = roomId();
  const res = await fetch(`${base}/api/create_room`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roomId: id }),
  });
  if (res.status !== 200 || !(await res.json()).success) throw new Error(`create_room ${res.status}`);
  const start = process.hrtime.bigint();
  const sender = connect();
  const receiver = connect();
  try {
    await join(sender, id);
    sender.emit('initiator-online', { roomId: id });
    const ready = once(sender, 'ready');
    const offered = once(receiver, 'offer');
    await join(receiver, id);
    receiver.emit('recipient-ready', { roomId: id, peerId: receiver.id });
    const { peerId } = await ready;
    const answered = once(sender, 'answer');
    sender.emit('offer', { peerId, offer: { type: 'offer', sdp: SDP }, from: sender.id });
    const offer = await offered;
    let toReceiver = 0;
    let toSender = 0;
    const allCandidates = new Promise((resolve) => {
      const check = () => { if (toReceiver === opts.candidates && toSender === opts.candidates) resolve(); };
      receiver.on('ice-candidate', () => { toReceiver++; check(); });
      sender.on('ice-candidate', () => { toSender++; check(); });
    });
    receiver.emit('answer', { peerId: offer.peerId, answer: { type: 'answer', sdp: SDP }, from: receiver.id });
    await answered;
    for (let i = 0; i < opts.candidates; i++) {
      const candidate = { candidate: `candidate:${i} 1 udp 2122260223 127.0.0.1 ${50000 + i} typ host`, sdpMid: '0', sdpMLineIndex: 0 };
      sender.emit('ice-candidate', { peerId, candidate, from: sender.id });
      receiver.emit('ice-candidate', { peerId: offer.peerId, candidate, from: receiver.id });
    }
    await Promise.race([allCandidates, new Promise((_, reject) => setTimeout(() => reject(new Error('candidates lost')), 10000))]);
    return Number(process.hrtime.bigint() - start) / 1000;
  } finally {
    sender.disconnect();
    receiver.disconnect();
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const times = [];
const errors = {};
let started = 0;
const t0 = Date.now();
const cpu0 = process.cpuUsage();
const deadline = t0 + opts.maxTime * 1000;
async function worker() {
  while (started < opts.flows && Date.now() < deadline) {
    started++;
    try {
      times.push(await flow());
    } catch (e) {
      errors[e.message] = (errors[e.message] ?? 0) + 1;
    }
  }
}
await Promise.all(Array.from({ length: opts.concurrency }, worker));
const secs = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
times.sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({
  flows: times.length,
  seconds: secs,
  flows_per_s: times.length / secs,
  flow_us: { p50: percentile(times, 50), p99: percentile(times, 99), max: times.at(-1) ?? null },
  client_cpu_pct: ((cpu.user + cpu.system) / 1e6 / secs) * 100,
  errors: Object.values(errors).reduce((a, b) => a + b, 0),
  error_kinds: errors,
})}\n`);
process.exit(0);
