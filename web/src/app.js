// tandem start page: join a room over the native WebSocket protocol, see who
// is there and pass short notes to everyone as `signal` messages.
//
// Everything the server or other peers send is shown with textContent, never
// parsed as HTML.

const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const ROOM_PATH_RE = /^\/r\/([^/]*)\/?$/;
const MAX_NOTES = 200;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
// Close codes after which trying again would only fail the same way.
const FINAL_CLOSE_CODES = new Set([1003, 1007, 1008, 1009, 1010]);

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
};

const ui = {
  status: $('status'),
  statusText: $('status-text'),
  alert: $('alert'),
  alertText: $('alert-text'),
  alertClose: $('alert-close'),
  joinCard: $('join-card'),
  joinForm: $('join-form'),
  roomInput: $('room-input'),
  roomError: $('room-error'),
  joinButton: $('join-button'),
  roomCard: $('room-card'),
  roomName: $('room-name'),
  roomLink: $('room-link'),
  leaveButton: $('leave-button'),
  me: $('me'),
  meId: $('me-id'),
  peers: $('peers'),
  peerCount: $('peer-count'),
  peersEmpty: $('peers-empty'),
  noteForm: $('note-form'),
  noteInput: $('note-input'),
  noteButton: $('note-button'),
  notes: $('notes'),
  notesEmpty: $('notes-empty'),
};

/** What we know of the current room. */
const state = {
  room: null,       // room name we want to be in, or null
  ws: null,         // the live socket, if any
  peerId: null,     // our id, from welcome
  peers: new Map(), // peer_id -> {peer_id}
  retries: 0,
  lastError: '',    // the last `error` frame of this connection, shown on close
  retryTimer: 0,
  countdownTimer: 0,
};

/* ---------- small helpers ---------- */

function validateRoom(name) {
  if (name.length === 0) return 'Enter a room name.';
  if (name.length > 64) return 'A room name has at most 64 characters.';
  if (!ROOM_RE.test(name)) return 'Use only letters, digits, "-" and "_".';
  return null;
}

function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.statusText.textContent = text;
}

function showAlert(text) {
  ui.alertText.textContent = text;
  ui.alert.hidden = false;
}

function hideAlert() {
  ui.alert.hidden = true;
  ui.alertText.textContent = '';
}

function showFieldError(text) {
  ui.roomError.textContent = text;
  ui.roomError.hidden = false;
  ui.roomInput.setAttribute('aria-invalid', 'true');
}

function clearFieldError() {
  ui.roomError.hidden = true;
  ui.roomError.textContent = '';
  ui.roomInput.removeAttribute('aria-invalid');
}

function timeLabel(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function roomUrl(room) {
  return `/r/${room}`;
}

function socketUrl(room) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws/${room}`;
}

function setComposerEnabled(on) {
  ui.noteInput.disabled = !on;
  ui.noteButton.disabled = !on;
}

/* ---------- rendering ---------- */

function renderPeers() {
  ui.peers.replaceChildren();
  const ids = [...state.peers.keys()].filter((id) => id !== state.peerId).sort();
  if (state.peerId) ids.unshift(state.peerId);
  for (const id of ids) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'mono';
    name.textContent = id;
    li.append(name);
    if (id === state.peerId) {
      const you = document.createElement('span');
      you.className = 'tag';
      you.textContent = 'you';
      li.append(' ', you);
    }
    ui.peers.append(li);
  }
  ui.peerCount.textContent = String(ids.length);
  ui.peersEmpty.textContent = state.peerId
    ? 'Nobody else is here yet.'
    : 'You will see who is here once connected.';
  ui.peersEmpty.hidden = ids.some((id) => id !== state.peerId);
}

function describeData(data) {
  if (data && typeof data === 'object' && typeof data.text === 'string') {
    return { text: data.text, raw: false };
  }
  let text;
  try {
    text = JSON.stringify(data);
  } catch {
    text = String(data);
  }
  if (text === undefined) text = String(data);
  if (text.length > 500) text = `${text.slice(0, 500)}…`;
  return { text, raw: true };
}

function addNote(from, data, mine) {
  const { text, raw } = describeData(data);
  const li = document.createElement('li');
  li.className = mine ? 'mine' : '';

  const meta = document.createElement('div');
  meta.className = 'meta';
  const who = document.createElement('span');
  who.className = 'mono who';
  who.textContent = mine ? 'you' : String(from ?? 'server');
  const when = document.createElement('time');
  const now = new Date();
  when.dateTime = now.toISOString();
  when.textContent = timeLabel(now);
  meta.append(who, when);

  const body = document.createElement('p');
  body.className = raw ? 'body raw mono' : 'body';
  body.textContent = text;

  li.append(meta, body);
  ui.notes.append(li);
  while (ui.notes.childElementCount > MAX_NOTES) ui.notes.firstElementChild?.remove();
  ui.notesEmpty.hidden = true;
  li.scrollIntoView({ block: 'nearest' });
}

function resetRoomView() {
  state.peerId = null;
  state.peers.clear();
  ui.me.hidden = true;
  ui.meId.textContent = '';
  renderPeers();
}

/* ---------- connection ---------- */

function clearTimers() {
  clearTimeout(state.retryTimer);
  clearInterval(state.countdownTimer);
  state.retryTimer = 0;
  state.countdownTimer = 0;
}

function join(room) {
  const problem = validateRoom(room);
  if (problem) {
    showFieldError(problem);
    ui.roomInput.focus();
    return;
  }
  clearFieldError();
  hideAlert();
  leave({ keepUrl: true, quiet: true });

  state.room = room;
  state.retries = 0;
  ui.roomInput.value = room;
  ui.roomName.textContent = room;
  ui.roomLink.textContent = `${location.host}${roomUrl(room)}`;
  ui.roomLink.href = roomUrl(room);
  ui.notes.replaceChildren();
  ui.notesEmpty.hidden = false;
  ui.joinCard.hidden = true;
  ui.roomCard.hidden = false;
  document.title = `${room} · tandem`;
  if (location.pathname !== roomUrl(room)) history.pushState({ room }, '', roomUrl(room));
  connect();
}

function connect() {
  clearTimers();
  const room = state.room;
  if (!room) return;
  resetRoomView();
  state.lastError = '';
  setComposerEnabled(false);
  setStatus('connecting', state.retries ? 'Reconnecting…' : 'Connecting…');

  let ws;
  try {
    ws = new WebSocket(socketUrl(room));
  } catch (err) {
    fail(`Could not open a connection: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  state.ws = ws;

  ws.addEventListener('message', (ev) => {
    if (state.ws !== ws) return;
    onFrame(ev.data);
  });
  ws.addEventListener('close', (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    onClose(ev);
  });
}

function onFrame(raw) {
  if (typeof raw !== 'string') return;
  let msg;
  try {
    msg = JSON.parse(raw);
  } catch {
    return;
  }
  if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;

  switch (msg.type) {
    case 'welcome': {
      state.retries = 0;
      state.peerId = String(msg.peer_id ?? '');
      state.peers.clear();
      if (state.peerId) state.peers.set(state.peerId, { peer_id: state.peerId });
      if (Array.isArray(msg.peers)) {
        for (const p of msg.peers) {
          if (p && typeof p.peer_id === 'string') state.peers.set(p.peer_id, p);
        }
      }
      ui.meId.textContent = state.peerId;
      ui.me.hidden = !state.peerId;
      renderPeers();
      hideAlert();
      setStatus('online', 'Connected');
      setComposerEnabled(true);
      break;
    }
    case 'peer.joined':
      if (typeof msg.peer_id === 'string') {
        state.peers.set(msg.peer_id, { peer_id: msg.peer_id });
        renderPeers();
      }
      break;
    case 'peer.left':
      if (typeof msg.peer_id === 'string' && msg.peer_id !== state.peerId) {
        state.peers.delete(msg.peer_id);
        renderPeers();
      }
      break;
    case 'signal':
      addNote(msg.from, msg.data, false);
      break;
    case 'error': {
      const code = typeof msg.code === 'string' ? msg.code : 'error';
      const text = typeof msg.message === 'string' && msg.message ? msg.message : 'Something went wrong.';
      state.lastError = `${text} (${code})`;
      showAlert(state.lastError);
      break;
    }
    default:
      // Newer server messages this page does not know yet.
      break;
  }
}

function onClose(ev) {
  setComposerEnabled(false);
  if (!state.room) return;

  const reason = ev.reason ? `: ${ev.reason}` : '';
  if (FINAL_CLOSE_CODES.has(ev.code) || (ev.code >= 4000 && ev.code <= 4999)) {
    fail(state.lastError
      ? `${state.lastError} The server closed the connection.`
      : `The server closed the connection${reason || '.'}`);
    return;
  }

  const wasOnline = state.peerId !== null;
  state.retries += 1;
  const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(state.retries - 1, 5));
  const deadline = Date.now() + delay;
  const tick = () => {
    const s = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    setStatus('offline', `Offline · retrying in ${s} s`);
  };
  tick();
  state.countdownTimer = setInterval(tick, 1000);
  state.retryTimer = setTimeout(connect, delay);
  const why = state.lastError ? ` ${state.lastError}` : '';
  showAlert(
    wasOnline
      ? `Lost the connection to the server${reason}.${why} Trying again…`
      : `Could not reach the server${reason}.${why} Trying again…`,
  );
  resetRoomView();
}

function fail(text) {
  clearTimers();
  setStatus('error', 'Disconnected');
  showAlert(text);
  setComposerEnabled(false);
}

function leave({ keepUrl = false, quiet = false } = {}) {
  clearTimers();
  const ws = state.ws;
  state.ws = null;
  state.room = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
  resetRoomView();
  setComposerEnabled(false);
  if (quiet) return;
  hideAlert();
  setStatus('idle', 'Not connected');
  ui.roomCard.hidden = true;
  ui.joinCard.hidden = false;
  document.title = 'tandem';
  if (!keepUrl && location.pathname !== '/') history.pushState({}, '', '/');
  ui.roomInput.focus();
}

function sendNote(text) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || !state.peerId) return false;
  ws.send(JSON.stringify({ type: 'signal', data: { text } }));
  addNote(state.peerId, { text }, true);
  return true;
}

/* ---------- wiring ---------- */

ui.joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  join(ui.roomInput.value.trim());
});

ui.roomInput.addEventListener('input', () => {
  if (!ui.roomError.hidden && !validateRoom(ui.roomInput.value.trim())) clearFieldError();
});

ui.noteForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = ui.noteInput.value.trim();
  if (!text) return;
  if (sendNote(text)) {
    ui.noteInput.value = '';
    ui.noteInput.focus();
  }
});

ui.leaveButton.addEventListener('click', () => leave());
ui.alertClose.addEventListener('click', hideAlert);

function route() {
  const m = ROOM_PATH_RE.exec(location.pathname);
  if (!m) {
    if (state.room) leave({ keepUrl: true });
    return;
  }
  let room = m[1];
  try {
    room = decodeURIComponent(room);
  } catch {
    // keep it raw; validation below reports it
  }
  if (room === state.room) return;
  const problem = validateRoom(room);
  if (problem) {
    if (state.room) leave({ keepUrl: true });
    ui.roomInput.value = room.slice(0, 64);
    showFieldError(`The link names the room "${room}", which is not valid. ${problem}`);
    return;
  }
  join(room);
}

window.addEventListener('popstate', route);
route();
