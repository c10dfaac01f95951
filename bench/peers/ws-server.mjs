// The room protocol on Node `ws`: /ws/:room, welcome, peer.joined/left, and
// signal relay (to one peer, or to every other member with `from` added).
// A broadcast is serialised once and the same Buffer sent to each member.
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { ROOM_RE, MAX_MESSAGE, parseArgs, peerId, listening, exitOnSignals, welcome, errorMessage } from './common.mjs';

const opts = parseArgs(process.argv);
const rooms = new Map(); // name -> Map(peer id -> ws)
const peers = new Map(); // peer id -> ws

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":{"code":"not_found","message":"Not found."}}');
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_MESSAGE, clientTracking: false });

function broadcast(members, except, data) {
  const buf = Buffer.from(data);
  for (const ws of members.values()) {
    if (ws !== except && ws.readyState === 1) ws.send(buf, { binary: false });
  }
}

server.on('upgrade', (req, socket, head) => {
  const m = /^\/ws\/([^/?]+)$/.exec(req.url);
  if (!m || !ROOM_RE.test(m[1])) {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => join(ws, m[1]));
});

function join(ws, roomName) {
  const id = peerId();
  let members = rooms.get(roomName);
  if (!members) rooms.set(roomName, (members = new Map()));
  ws.send(JSON.stringify(welcome(id, roomName, members.keys())));
  broadcast(members, ws, JSON.stringify({ type: 'peer.joined', peer_id: id }));
  members.set(id, ws);
  peers.set(id, ws);
  ws.peer = { id, room: roomName, members };

  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.send(errorMessage('binary_not_supported', 'Send JSON text messages.'));
    let msg;
    try { msg = JSON.parse(data); } catch { return ws.send(errorMessage('bad_json', 'The message is not valid JSON.')); }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
      return ws.send(errorMessage('bad_message', 'A message is a JSON object with a type.'));
    }
    if (msg.type !== 'signal') return ws.send(errorMessage('unknown_type', 'Unknown message type.'));
    if (msg.data === undefined) return ws.send(errorMessage('bad_message', 'A signal needs a data field.'));
    const out = JSON.stringify({ type: 'signal', from: id, data: msg.data });
    if (msg.to !== undefined) {
      const target = typeof msg.to === 'string' ? members.get(msg.to) : undefined;
      if (!target || target === ws) return ws.send(errorMessage('unknown_peer', 'No such peer in this room.'));
      target.send(out);
    } else {
      broadcast(members, ws, out);
    }
  });
  ws.on('close', () => {
    members.delete(id);
    peers.delete(id);
    if (members.size === 0) rooms.delete(roomName);
    else broadcast(members, null, JSON.stringify({ type: 'peer.left', peer_id: id }));
  });
  ws.on('error', () => {});
}

server.listen(opts.port, opts.host, () => listening('ws', server.address().port));
exitOnSignals(() => server.close());
