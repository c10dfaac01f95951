// The room protocol on Socket.IO 4.8 (Engine.IO v4, websocket transport):
// the room comes in the connect packet's auth ({room}); events are named by
// the message type and carry the same objects as the native protocol:
//   welcome, peer.joined, peer.left, signal ({to?, data} in; {from, data} out).
// A room broadcast is socket.to(room).emit(), encoded once by the adapter.
import http from 'node:http';
import { Server } from 'socket.io';
import { ROOM_RE, MAX_MESSAGE, parseArgs, listening, exitOnSignals, welcome } from './common.mjs';

const opts = parseArgs(process.argv);
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: MAX_MESSAGE,
});

io.use((socket, next) => {
  const room = socket.handshake.auth?.room;
  if (typeof room !== 'string' || !ROOM_RE.test(room)) return next(new Error('bad_room'));
  next();
});

io.on('connection', (socket) => {
  const room = socket.handshake.auth.room;
  const id = socket.id;
  const present = io.sockets.adapter.rooms.get(room) ?? new Set();
  socket.emit('welcome', welcome(id, room, present));
  socket.to(room).emit('peer.joined', { type: 'peer.joined', peer_id: id });
  socket.join(room);

  socket.on('signal', (msg) => {
    if (!msg || typeof msg !== 'object' || msg.data === undefined) {
      return socket.emit('error', { type: 'error', code: 'bad_message', message: 'A signal needs a data field.' });
    }
    const out = { type: 'signal', from: id, data: msg.data };
    if (msg.to !== undefined) {
      const target = typeof msg.to === 'string' ? io.sockets.sockets.get(msg.to) : undefined;
      if (!target || target === socket || !target.rooms.has(room)) {
        return socket.emit('error', { type: 'error', code: 'unknown_peer', message: 'No such peer in this room.' });
      }
      target.emit('signal', out);
    } else {
      socket.to(room).emit('signal', out);
    }
  });
  socket.on('disconnect', () => {
    io.to(room).emit('peer.left', { type: 'peer.left', peer_id: id });
  });
});

httpServer.listen(opts.port, opts.host, () => listening('socketio', httpServer.address().port));
exitOnSignals(() => io.close());
