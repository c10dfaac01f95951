// The PrivyDrop signaling backend as its users run it today: Node socket.io
// 4.8 with the rooms in memory (PrivyDrop keeps them in Redis; one process
// needs no Redis, which only favours this side of the comparison). Same
// events and payloads as tandem's /socket.io/ endpoint (docs/socketio.md):
//   POST /api/create_room {roomId}; join {roomId} -> joinResponse, ready to
//   the others; offer / answer / ice-candidate to peerId (rewritten to the
//   sender); initiator-online / recipient-ready to the room; peer-disconnected.
import http from 'node:http';
import { Server } from 'socket.io';
import { parseArgs, listening, exitOnSignals } from './common.mjs';

const ROOM_ID_RE = /^[A-Za-z0-9_-]{1,61}$/;
const opts = parseArgs(process.argv);
const rooms = new Map(); // roomId -> created_at

function createRoom(req, res) {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => {
    body += d;
    if (body.length > 4096) req.destroy();
  });
  req.on('end', () => {
    let roomId;
    try { roomId = JSON.parse(body).roomId; } catch { /* answered below */ }
    res.setHeader('Content-Type', 'application/json');
    if (typeof roomId !== 'string' || !ROOM_ID_RE.test(roomId)) {
      res.writeHead(400).end(JSON.stringify({ success: false, message: 'roomId is required' }));
      return;
    }
    const fresh = !rooms.has(roomId);
    if (fresh) rooms.set(roomId, Date.now());
    res.writeHead(200).end(JSON.stringify({ success: fresh, message: fresh ? 'Room created' : 'Room already exists' }));
  });
}

const httpServer = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/api/create_room') return createRoom(req, res);
  res.writeHead(404).end();
});
const io = new Server(httpServer, { serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 1e6 });

io.on('connection', (socket) => {
  let joined = null;
  socket.on('join', (msg) => {
    const roomId = msg?.roomId;
    if (typeof roomId !== 'string' || !rooms.has(roomId)) {
      socket.emit('joinResponse', { success: false, message: 'Room does not exist', roomId });
      return;
    }
    socket.join(roomId);
    joined = roomId;
    socket.emit('joinResponse', { success: true, message: 'Successfully joined room', roomId });
    socket.to(roomId).emit('ready', { peerId: socket.id });
  });
  for (const name of ['offer', 'answer', 'ice-candidate']) {
    socket.on(name, (msg) => {
      const target = typeof msg?.peerId === 'string' ? io.sockets.sockets.get(msg.peerId) : undefined;
      if (!target || !joined || !target.rooms.has(joined)) return;
      target.emit(name, { ...msg, peerId: socket.id });
    });
  }
  for (const name of ['initiator-online', 'recipient-ready']) {
    socket.on(name, (msg) => {
      if (joined && msg?.roomId === joined) socket.to(joined).emit(name, msg);
    });
  }
  socket.on('disconnect', () => {
    if (joined) socket.to(joined).emit('peer-disconnected', { peerId: socket.id });
  });
});

httpServer.listen(opts.port, opts.host, () => listening('privydrop', httpServer.address().port));
exitOnSignals(() => { io.close(); httpServer.close(); });
