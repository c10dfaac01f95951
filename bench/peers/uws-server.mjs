// The room protocol on uWebSockets.js: each room is a pub/sub topic, so a
// broadcast is ws.publish() (uWS's own fan-out path, written in C++).
import uWS from '@trufflesuite/uws-js-unofficial';
import { ROOM_RE, MAX_MESSAGE, parseArgs, peerId, listening, exitOnSignals, welcome, errorMessage } from './common.mjs';

const opts = parseArgs(process.argv);
const rooms = new Map(); // name -> Map(peer id -> ws)
const decoder = new TextDecoder();
let listenSocket = null;

const app = uWS.App().ws('/ws/:room', {
  compression: uWS.DISABLED,
  maxPayloadLength: MAX_MESSAGE,
  maxBackpressure: 4 * 1024 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const room = req.getParameter(0);
    if (!ROOM_RE.test(room)) {
      res.writeStatus('400 Bad Request').end();
      return;
    }
    res.upgrade({ room, id: peerId() }, req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => {
    const { room, id } = ws.getUserData();
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Map()));
    ws.send(JSON.stringify(welcome(id, room, members.keys())), false);
    // ws.publish() reaches every subscriber but ws itself, and only once
    // ws is subscribed.
    ws.subscribe(room);
    ws.publish(room, JSON.stringify({ type: 'peer.joined', peer_id: id }), false);
    members.set(id, ws);
  },
  message: (ws, message, isBinary) => {
    if (isBinary) return ws.send(errorMessage('binary_not_supported', 'Send JSON text messages.'));
    const { room, id } = ws.getUserData();
    let msg;
    try { msg = JSON.parse(decoder.decode(message)); } catch { return ws.send(errorMessage('bad_json', 'The message is not valid JSON.')); }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
      return ws.send(errorMessage('bad_message', 'A message is a JSON object with a type.'));
    }
    if (msg.type !== 'signal') return ws.send(errorMessage('unknown_type', 'Unknown message type.'));
    if (msg.data === undefined) return ws.send(errorMessage('bad_message', 'A signal needs a data field.'));
    const out = JSON.stringify({ type: 'signal', from: id, data: msg.data });
    if (msg.to !== undefined) {
      const target = typeof msg.to === 'string' ? rooms.get(room)?.get(msg.to) : undefined;
      if (!target || target === ws) return ws.send(errorMessage('unknown_peer', 'No such peer in this room.'));
      target.send(out, false);
    } else {
      ws.publish(room, out, false); // to every subscriber but ws itself
    }
  },
  close: (ws) => {
    const { room, id } = ws.getUserData();
    const members = rooms.get(room);
    if (!members) return;
    members.delete(id);
    if (members.size === 0) rooms.delete(room);
    else app.publish(room, JSON.stringify({ type: 'peer.left', peer_id: id }), false);
  },
}).any('/*', (res) => {
  res.writeStatus('404 Not Found').end('{"error":{"code":"not_found","message":"Not found."}}');
});

app.listen(opts.host, opts.port, (socket) => {
  if (!socket) {
    process.stderr.write('uws: could not listen\n');
    process.exit(2);
  }
  listenSocket = socket;
  listening('uws', uWS.us_socket_local_port(socket));
});
exitOnSignals(() => { if (listenSocket) uWS.us_listen_socket_close(listenSocket); });
