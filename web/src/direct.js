// "Direct": files and messages from this browser to others in the room,
// over a WebRTC data channel (tandem relays only the signaling), or through
// tandem's WebSocket relay when no channel opens. docs/transfer.md is the
// protocol; this file is its browser side and the Direct card of the room.
import { $, h, icon, ICONS } from './dom.js';
import { extensionOf, fileKind, formatBytes } from './format.js';
import { Sha256 } from './sha256.js';
import { PartStore, canKeepParts } from './partials.js';
import { DiskSink, MemorySink, canStreamToDisk, fileUnder } from './sinks.js';
import { load, save } from './storage.js';
import { announce, toast } from './ui.js';

const KiB = 1024;
const MiB = 1024 * KiB;
export const CHUNK = 64 * KiB; // see docs/transfer.md for why
const HEADER = 13; // tag (1) + file number (4) + byte offset (8)
const TAG_CONTROL = 0;
const TAG_CHUNK = 1;
const READ_BLOCK = 1 * MiB; // bytes read from the File at once, then cut into chunks
const DC_HIGH = 4 * MiB; // stop writing to the data channel above this...
const DC_LOW = 1 * MiB; // ...until bufferedamountlow fires here
const WS_HIGH = 1 * MiB; // the room socket's own buffer, for the relay
const WINDOW = { direct: 16 * MiB, relay: 1536 * KiB }; // bytes sent but not acknowledged
const ACK_EVERY = { direct: 1 * MiB, relay: 256 * KiB };
const OPEN_TIMEOUT_MS = 5000;
const LOST_MS = 3000; // an open path "disconnected" this long is given up for the relay
const RESEND_MS = 1500; // control frames re-sent after a relay_busy
const BLOB_WARN_BYTES = 1024 * MiB; // received in memory above this is risky: save to disk as it arrives, or warn
const TEXT_MAX = 16 * KiB;
const MAX_FILES = 500; // files in one offer (which must fit one 256 KiB message)...
const OFFER_BYTES = 160 * KiB; // ...so more, or longer names, are offered in several
const PATH_MAX = 1024; // a relative path in a folder
const KEY_RE = /^[0-9a-f]{32}$/;

const enc = new TextEncoder();
const dec = new TextDecoder();
const hex = (bytes) => [...bytes].map((x) => x.toString(16).padStart(2, '0')).join('');

/** A random key of this browser, kept in localStorage: part of every resume key. */
function deviceKey() {
  let key = load('tandem.device');
  if (!KEY_RE.test(key ?? '')) {
    key = hex(crypto.getRandomValues(new Uint8Array(16)));
    save('tandem.device', key);
  }
  return key;
}

/**
 * The resume key of a file offered from this browser: the same file (path,
 * size, modification time) from the same browser has the same key after a
 * reload, so a receiver holding part of it can say where to go on from.
 */
function resumeKey(device, file) {
  const h = new Sha256();
  h.update(enc.encode(JSON.stringify([device, file.webkitRelativePath || file.name, file.size, file.lastModified])));
  return h.hex().slice(0, 32);
}

/** The first 32 hex digits of SHA-256 of `parts` as a JSON array. */
function hash32(...parts) {
  const h = new Sha256();
  h.update(enc.encode(JSON.stringify(parts)));
  return h.hex().slice(0, 32);
}

/**
 * What this browser tells a sender it accepts files from (in `accept`), so
 * the sender knows the same device when it comes back with a new peer id:
 * derived from the device key, never the key itself, and different in every
 * room, so it does not follow the device from room to room.
 */
const peerTag = (device, room) => hash32('tandem.peer', device, room);

/**
 * A `hello` goes to everyone in the room, so it does not carry the tag (whoever
 * saw it could say it from their own peer id and get the files): it proves the
 * tag for the peer id it comes from, which tandem sets (`from`) and nobody else
 * can send from.
 */
const helloProof = (tag, peerId) => hash32('tandem.hello', tag, peerId);

/**
 * Files cut into offers that each fit one message on any path: at most
 * MAX_FILES, and about OFFER_BYTES of JSON (names and paths are what grows).
 */
function offerGroups(files) {
  const groups = [];
  let group = [];
  let bytes = 0;
  for (const file of files) {
    const size = 96 + 3 * ((file.name?.length ?? 0) + (file.webkitRelativePath?.length ?? 0) + (file.type?.length ?? 0));
    if (group.length && (group.length >= MAX_FILES || bytes + size > OFFER_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(file);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** A relative path from an offer ("trip/photos/a.jpg"), or null if it is not a plain one. */
function cleanPath(path) {
  if (typeof path !== 'string' || path.length > PATH_MAX) return null;
  const parts = path.split('/');
  if (parts.some((p) => !p || p === '.' || p === '..' || p.length > 255 || /[\\\u0000-\u001f\u007f]/.test(p))) return null;
  return path;
}

const rid = () => {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return [...b].map((x) => x.toString(36).padStart(2, '0')).join('').slice(0, 16);
};

/**
 * `?transport=` (or localStorage `tandem.transport`), for tests and for
 * trouble: `relay` uses tandem's WebSocket relay at once; `blocked` withholds
 * this side's ICE candidates, like a network with no direct path, so the
 * automatic fallback runs; `turn` lets ICE use only TURN candidates
 * (`iceTransportPolicy: 'relay'`), as behind a network that allows nothing
 * else; anything else (or nothing) is the normal order.
 */
function transportSetting() {
  let v = new URLSearchParams(location.search).get('transport');
  if (!v) {
    try {
      v = localStorage.getItem('tandem.transport');
    } catch {
      v = null;
    }
  }
  return ['relay', 'blocked', 'turn'].includes(v) ? v : 'auto';
}

const FAILED_TEXT = {
  verify_failed: 'Verification failed: the file arrived damaged',
  save_failed: 'They could not save it',
};

const TURN_NOTE = {
  refused: "The TURN server refused tandem's credentials, so this goes through the tandem relay instead.",
  unreachable: 'The TURN server did not answer, so this goes through the tandem relay instead.',
};

const MODE_TEXT = {
  new: 'Not connected', connecting: 'Connecting…', direct: 'Direct', turn: 'Via TURN', relay: 'Via tandem relay',
};

function formatDuration(s) {
  if (!Number.isFinite(s) || s < 0) return '';
  if (s < 1) return 'under 1 s';
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.ceil(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function tile(type, name) {
  const ext = extensionOf(name);
  return h('span', { className: 'tile', dataset: { kind: fileKind(type, name) }, attrs: { 'aria-hidden': 'true' } },
    ext || icon('M6 3h8l4 4v14H6z', 'M14 3v4h4'));
}

/* ---------- a link to one peer: data channel or relay ---------- */

class Link {
  constructor(direct, peerId) {
    this.d = direct;
    this.peer = peerId;
    this.mode = 'new'; // new | connecting | direct | turn | relay
    this.pc = null;
    this.dc = null;
    this.timer = 0;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.waiters = [];
    this.pending = []; // control frames waiting for a path
    this.recent = []; // [time, frame] of control frames sent over the relay
    this.gathered = 0; // local ICE candidates found
    this.turnTrouble = null; // 'refused' | 'unreachable': what the TURN server said
    this.note = null; // why this link is on the relay, when the user should know
    this.closed = false;
  }

  get polite() {
    return (this.d.selfId ?? '') > this.peer;
  }

  kind() {
    return this.mode === 'relay' ? 'relay' : 'direct';
  }

  ready() {
    return this.mode === 'direct' || this.mode === 'turn' || this.mode === 'relay';
  }

  start() {
    if (this.mode !== 'new' || this.closed) return;
    if (this.d.forceRelay || typeof RTCPeerConnection !== 'function') {
      this.useRelay(true);
      return;
    }
    this.setMode('connecting');
    // The ICE servers (TURN credentials) come from /api/config: wait for them.
    this.d.configReady.then(() => this.openPc());
    this.timer = setTimeout(() => {
      if (this.mode === 'connecting') this.useRelay(true);
    }, OPEN_TIMEOUT_MS);
  }

  openPc() {
    if (this.mode !== 'connecting' || this.closed) return;
    let pc;
    try {
      pc = new RTCPeerConnection({
        iceServers: this.d.iceServers,
        iceTransportPolicy: this.d.transport === 'turn' ? 'relay' : 'all',
      });
    } catch {
      this.useRelay(true);
      return;
    }
    this.pc = pc;
    // Negotiated on both sides: no race over who creates the channel.
    const dc = pc.createDataChannel('tandem', { negotiated: true, id: 0, ordered: true });
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = DC_LOW;
    this.dc = dc;
    dc.onopen = () => this.onOpen();
    dc.onmessage = (ev) => this.d.onData(this, ev.data);
    dc.onbufferedamountlow = () => this.wake();
    dc.onclose = () => {
      if (this.dc === dc && (this.mode === 'direct' || this.mode === 'turn')) this.useRelay(true);
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.gathered++;
      if (this.d.transport !== 'blocked') this.signal({ candidate: candidate ? candidate.toJSON() : null });
    };
    // A TURN server that refuses our credentials (401, or 403 once the
    // ones tandem handed out have expired) or does not answer (701) is
    // worth telling the user: it is why a strict network ends on the relay.
    pc.onicecandidateerror = (ev) => {
      if (!/^turns?:/.test(ev.url ?? '')) return;
      if (ev.errorCode === 401 || ev.errorCode === 403) this.turnTrouble = 'refused';
      else this.turnTrouble ??= 'unreachable';
    };
    // No local candidate at all: no pair can ever form, so do not wait for the timeout.
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete' && this.gathered === 0 && this.mode === 'connecting') this.useRelay(true);
    };
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal({ description: pc.localDescription.toJSON() });
      } catch {
        // the perfect-negotiation dance retries on the next event
      } finally {
        this.makingOffer = false;
      }
    };
    pc.oniceconnectionstatechange = () => {
      const state = pc.iceConnectionState;
      if (state === 'failed' && this.mode === 'connecting') this.useRelay(true);
      // An open path that stops answering (a network change) is given a
      // moment to come back, then the transfer goes on through the relay.
      clearTimeout(this.lostTimer);
      if (this.pc !== pc || (this.mode !== 'direct' && this.mode !== 'turn')) return;
      if (state === 'failed' || state === 'closed') this.useRelay(true);
      else if (state === 'disconnected') this.lostTimer = setTimeout(() => this.pc === pc && this.useRelay(true), LOST_MS);
    };
  }

  signal(data) {
    if (this.d.transport === 'blocked' && data.description) {
      const sdp = data.description.sdp.replace(/^a=candidate:.*\r?\n/gm, '');
      data = { description: { type: data.description.type, sdp } };
    }
    this.d.sendJson({ type: 'signal', to: this.peer, data: { direct: 1, ...data } });
  }

  /** A `signal` from the peer: perfect negotiation, or its switch to the relay. */
  async onSignal(data) {
    if (this.closed) return;
    if (data.relay) {
      if (this.mode !== 'relay') this.useRelay(false);
      return;
    }
    if (this.mode === 'relay') return;
    if (this.mode === 'new') {
      this.start();
      if (this.mode === 'relay') return;
    }
    await this.d.configReady; // after start()'s openPc, which was queued first
    const pc = this.pc;
    if (!pc) return;
    try {
      if (data.description) {
        const offer = data.description.type === 'offer';
        const collision = offer && (this.makingOffer || pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        await pc.setRemoteDescription(data.description);
        if (offer) {
          await pc.setLocalDescription();
          this.signal({ description: pc.localDescription.toJSON() });
        }
      } else if ('candidate' in data && data.candidate) {
        try {
          await pc.addIceCandidate(data.candidate);
        } catch (err) {
          if (!this.ignoreOffer) throw err;
        }
      }
    } catch {
      // a failed negotiation ends in the timeout, then the relay
    }
  }

  async onOpen() {
    clearTimeout(this.timer);
    if (this.mode === 'relay' || this.closed) return;
    this.setMode('direct');
    this.flush();
    // Honest about the path: a TURN relay shows as a "relay" candidate.
    try {
      const stats = await this.pc.getStats();
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
      const local = pair && stats.get(pair.localCandidateId);
      const remote = pair && stats.get(pair.remoteCandidateId);
      if (local?.candidateType === 'relay' || remote?.candidateType === 'relay') this.setMode('turn');
    } catch {
      // keep "direct"
    }
  }

  useRelay(tell) {
    clearTimeout(this.timer);
    if (this.closed) return;
    clearTimeout(this.lostTimer);
    const was = this.mode;
    if (was !== 'relay' && this.turnTrouble) this.note = TURN_NOTE[this.turnTrouble];
    this.setMode('relay');
    if (tell && was !== 'relay') this.signal({ relay: true });
    this.closePc();
    this.flush();
    if (was === 'direct' || was === 'turn') this.d.onPathLost(this);
    this.wake();
  }

  closePc() {
    const { pc, dc } = this;
    this.pc = null;
    this.dc = null;
    try {
      dc?.close();
      pc?.close();
    } catch {
      // already closed
    }
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.lostTimer);
    this.closePc();
    this.wake();
  }

  setMode(mode) {
    this.mode = mode;
    this.d.renderPeers();
    this.d.renderModes(this);
  }

  /* ----- writing ----- */

  canSend() {
    if (this.mode === 'relay') {
      const ws = this.d.socket();
      if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > WS_HIGH) return false;
      return this.d.relayBudget() > 0;
    }
    return this.dc?.readyState === 'open' && this.dc.bufferedAmount <= DC_HIGH;
  }

  /** Resolves when the path may have room again (an event, or a short poll for the relay). */
  wait() {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.mode === 'relay' || !this.ready()) setTimeout(() => this.wake(), this.ready() ? 8 : 100);
    });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  frame(bytes) {
    if (this.mode === 'relay') {
      return this.d.sendRelay(this.peer, bytes);
    }
    try {
      this.dc.send(bytes);
      return true;
    } catch {
      return false;
    }
  }

  control(msg) {
    const body = enc.encode(JSON.stringify(msg));
    const bytes = new Uint8Array(1 + body.length);
    bytes[0] = TAG_CONTROL;
    bytes.set(body, 1);
    if (!this.ready()) {
      this.pending.push(bytes);
      this.start();
      return;
    }
    this.frame(bytes);
    if (this.mode === 'relay') {
      const now = performance.now();
      this.recent.push([now, bytes]);
      while (this.recent.length && now - this.recent[0][0] > RESEND_MS) this.recent.shift();
    }
  }

  chunk(n, offset, data) {
    const bytes = new Uint8Array(HEADER + data.length);
    const view = new DataView(bytes.buffer);
    bytes[0] = TAG_CHUNK;
    view.setUint32(1, n);
    view.setUint32(5, Math.floor(offset / 0x100000000));
    view.setUint32(9, offset >>> 0);
    bytes.set(data, HEADER);
    return this.frame(bytes);
  }

  flush() {
    const p = this.pending;
    this.pending = [];
    for (const bytes of p) {
      this.frame(bytes);
      if (this.mode === 'relay') this.recent.push([performance.now(), bytes]);
    }
  }

  /** The relay dropped a frame of ours (relay_busy): re-send recent control frames. */
  resendRecent() {
    const now = performance.now();
    this.recent = this.recent.filter(([t]) => now - t <= RESEND_MS);
    for (const [, bytes] of this.recent) this.frame(bytes);
  }
}

/* ---------- the Direct card ---------- */

export class Direct {
  /**
   * io: { room, socket() -> WebSocket|null, dragInto() }. The room view forwards
   * welcome, peer.*, signal, binary frames and relay errors here.
   */
  constructor(io) {
    this.io = io;
    this.selfId = null;
    this.you = null;
    this.peers = new Map(); // peer_id -> {peer_id, name, device}
    this.links = new Map(); // peer_id -> Link
    this.selected = new Set();
    this.out = new Map(); // transfer id -> outgoing transfer
    this.in = new Map(); // transfer id -> incoming transfer
    this.inFiles = new Map(); // `${peer}/${n}` -> incoming file
    this.chats = new Set(); // ids of chats seen
    this.partials = new Map(); // resume key -> {t, f}: part of a file kept after its sender went away
    this.device = deviceKey();
    this.room = String(io.room ?? '');
    this.tag = peerTag(this.device, this.room);
    // Received parts kept across a reload of this page, where it can (partials.js).
    this.store = canKeepParts() ? new PartStore() : null;
    this.store?.prune();
    this.nextN = 1;
    this.iceServers = [];
    this.relayRate = 24 * MiB;
    this.relayMax = 256 * KiB;
    this.budget = 0;
    this.budgetAt = performance.now();
    this.transport = transportSetting();
    this.forceRelay = this.transport === 'relay';
    this.urls = [];
    this.listeners = new AbortController();
    this.bind();
    this.configReady = this.loadConfig();
  }

  socket() {
    return this.io.socket();
  }

  sendJson(obj) {
    const ws = this.socket();
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  /** Bytes the relay may take now: one bucket for the socket, shared by every link. */
  relayBudget() {
    const now = performance.now();
    this.budget = Math.min(this.relayRate / 4, this.budget + ((now - this.budgetAt) / 1000) * this.relayRate);
    this.budgetAt = now;
    return this.budget;
  }

  sendRelay(peer, bytes) {
    const ws = this.socket();
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    this.budget -= bytes.length;
    const out = new Uint8Array(12 + bytes.length);
    out.set(enc.encode(peer).subarray(0, 12), 0);
    out.set(bytes, 12);
    ws.send(out);
    return true;
  }

  async loadConfig() {
    try {
      const res = await fetch('/api/config', { cache: 'no-store' });
      if (!res.ok) return;
      const cfg = await res.json();
      if (Array.isArray(cfg.ice_servers)) this.iceServers = cfg.ice_servers;
      const rate = Number(cfg.limits?.relay_rate);
      if (rate > 0) this.relayRate = rate * 0.75; // stay clear of relay_busy
      const max = Number(cfg.limits?.relay_max_message);
      if (max > 0) this.relayMax = max;
    } catch {
      // defaults: no ICE servers (LAN only)
    }
  }

  bind() {
    this.ui = {};
    for (const [k, id] of Object.entries({
      card: 'direct', nameForm: 'direct-name-form', name: 'direct-name', peers: 'direct-peers',
      empty: 'direct-empty', form: 'direct-form', text: 'direct-text', sendText: 'direct-send-text', files: 'direct-files',
      fileBtn: 'direct-file-btn', folder: 'direct-folder', folderBtn: 'direct-folder-btn', transfers: 'direct-transfers', hint: 'direct-hint',
    })) this.ui[k] = $(id);
    const signal = this.listeners.signal;
    const on = (t, type, fn) => t.addEventListener(type, fn, { signal });
    on(this.ui.nameForm, 'submit', (ev) => {
      ev.preventDefault();
      const name = this.ui.name.value.trim();
      if (!name) return;
      this.sendJson({ type: 'peer.update', name });
      this.ui.name.blur();
    });
    on(this.ui.form, 'submit', (ev) => {
      ev.preventDefault();
      this.sendChat();
    });
    for (const input of [this.ui.files, this.ui.folder]) {
      on(input, 'change', () => {
        if (input.files?.length) this.sendFiles([...input.files]);
        input.value = '';
      });
    }
    // Phones mostly cannot pick a folder.
    this.ui.folderBtn.hidden = !('webkitdirectory' in HTMLInputElement.prototype) || matchMedia('(hover: none)').matches;
    // Files dropped on this card go directly, not into the room.
    const card = this.ui.card;
    const hasFiles = (ev) => [...(ev.dataTransfer?.types ?? [])].includes('Files');
    on(card, 'dragenter', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.stopPropagation();
      this.io.dragInto?.();
      card.classList.add('dragging');
    });
    on(card, 'dragover', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.stopPropagation();
      ev.dataTransfer.dropEffect = 'copy';
    });
    on(card, 'dragleave', (ev) => {
      if (!card.contains(ev.relatedTarget)) card.classList.remove('dragging');
      ev.stopPropagation();
    });
    on(card, 'drop', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.stopPropagation();
      card.classList.remove('dragging');
      if (ev.dataTransfer.files.length) this.sendFiles([...ev.dataTransfer.files]);
    });
    this.renderPeers();
    this.updateComposer();
  }

  /** Transfers still going (worth a warning before leaving). */
  busy() {
    return [...this.out.values(), ...this.in.values()].some((t) => !t.over && t.state !== 'offered');
  }

  destroy() {
    this.listeners.abort();
    for (const t of this.out.values()) this.stopOut(t, 'cancelled', 'Left the room');
    // What is kept on disk stays for a later page to go on from.
    for (const t of this.in.values()) for (const f of t.files) if (f.sink?.detach) f.sink.detach(); else this.dropSink(f);
    this.partials.clear();
    for (const l of this.links.values()) l.close();
    this.links.clear();
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    this.ui.transfers.replaceChildren();
  }

  /* ----- room events ----- */

  onWelcome(msg) {
    const first = this.selfId === null;
    // A new socket: every old link and transfer is gone with the old id.
    if (!first && msg.peer_id !== this.selfId) this.dropAll('The connection to the room was lost');
    this.selfId = msg.peer_id;
    this.you = msg.you ?? null;
    if (this.you?.name && document.activeElement !== this.ui.name) this.ui.name.value = this.you.name;
    this.peers.clear();
    for (const p of msg.peers ?? []) if (p && typeof p.peer_id === 'string' && p.peer_id !== this.selfId) this.peers.set(p.peer_id, p);
    for (const id of [...this.selected]) if (!this.peers.has(id)) this.selected.delete(id);
    if (this.selected.size === 0 && this.peers.size === 1) this.selected.add([...this.peers.keys()][0]);
    this.renderPeers();
    // Holding part of a file from this room (kept from before a reload): say
    // who we are, so its sender, if still here, offers the rest again.
    if (this.store?.hasFrom(this.room)) this.sendJson({ type: 'signal', data: { direct: 1, hello: helloProof(this.tag, this.selfId) } });
  }

  onPeer(msg) {
    if (typeof msg.peer_id !== 'string') return;
    if (msg.peer_id === this.selfId) {
      if (msg.type === 'peer.updated') {
        this.you = msg;
        if (document.activeElement !== this.ui.name) this.ui.name.value = msg.name ?? '';
        announce(`Others now see you as ${msg.name}`);
      }
      return;
    }
    if (msg.type === 'peer.left') {
      this.peers.delete(msg.peer_id);
      this.selected.delete(msg.peer_id);
      this.peerGone(msg.peer_id);
    } else {
      this.peers.set(msg.peer_id, msg);
      if (msg.type === 'peer.joined' && this.peers.size === 1) this.selected.add(msg.peer_id);
      for (const t of [...this.out.values(), ...this.in.values()]) if (t.peer === msg.peer_id) this.renderHead(t);
    }
    this.renderPeers();
  }

  onDisconnect() {
    this.dropAll('The connection to the room was lost');
    this.peers.clear();
    this.selected.clear();
    this.renderPeers();
  }

  dropAll(why) {
    // No `cancel` to the peers: they see our peer id leave, and keep (or offer
    // again) what a cancel would throw away, for when we are back.
    for (const t of this.out.values()) if (!t.over) this.stopOut(t, 'failed', why, false);
    for (const t of this.in.values()) if (!t.over) this.stopIn(t, 'failed', why, false, true);
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }

  peerGone(peer) {
    const name = this.name(peer);
    for (const t of this.out.values()) {
      if (t.peer !== peer || t.over) continue;
      this.stopOut(t, 'failed', `${name} left the room`);
      t.peerLeft = true; // offered again if the same device comes back (onHello)
    }
    for (const t of this.in.values()) if (t.peer === peer && !t.over) this.stopIn(t, 'failed', `${name} left the room`, true, true);
    this.links.get(peer)?.close();
    this.links.delete(peer);
  }

  onSignal(msg) {
    const data = msg.data;
    if (!data || typeof data !== 'object' || !data.direct || typeof msg.from !== 'string') return false;
    if (!this.peers.has(msg.from)) return true;
    if ('hello' in data) {
      if (typeof data.hello === 'string' && KEY_RE.test(data.hello)) this.onHello(msg.from, data.hello);
      return true;
    }
    this.link(msg.from).onSignal(data);
    return true;
  }

  onBinary(buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength < 13) return;
    const from = dec.decode(new Uint8Array(buf, 0, 12));
    if (!this.peers.has(from)) return;
    const link = this.link(from);
    // The peer is on the relay; so are we (it told us by signal too).
    if (link.mode !== 'relay') link.useRelay(false);
    this.onData(link, buf.slice(12));
  }

  /**
   * A data channel that closed took with it whatever it had not delivered
   * yet: each receiver says where it is (an ack with `gap`, so its sender goes
   * back exactly there, not to the start), and each sender sends `end` again.
   */
  onPathLost(link) {
    for (const t of this.in.values()) {
      if (t.over || t.peer !== link.peer || t.state !== 'receiving') continue;
      const f = t.files.find((x) => x.state === 'receiving' && !x.finishing);
      if (f) link.control({ type: 'ack', id: t.id, n: f.n, offset: f.received, gap: true });
    }
    for (const t of this.out.values()) {
      if (t.over || t.peer !== link.peer) continue;
      for (const f of t.files) if (f.state === 'sending') f.endSent = false;
    }
  }

  /**
   * A peer says which device it is (it keeps parts of files from this room).
   * Files this page was sending to that device when it went away (a reload of
   * the receiver: the same device, a new peer id) are offered again to the new
   * peer id, with the same resume keys: the receiver answers with where it is.
   */
  onHello(peer, proof) {
    for (const t of [...this.out.values()]) {
      if (!t.device || t.peer === peer || helloProof(t.device, peer) !== proof) continue;
      if (!t.over) {
        // Its old peer id is not gone yet: it is, now.
        this.stopOut(t, 'failed', `${this.name(t.peer)} left the room`);
        t.peerLeft = true;
      }
      if (!t.peerLeft) continue; // cancelled, declined or done: nothing to go on with
      const files = t.files.filter((f) => f.state !== 'verified');
      this.out.delete(t.id);
      t.el?.remove(); // the new transfer says where it goes on from
      if (!files.length) continue;
      const keys = new Map(files.map((f) => [f.file, f.key]));
      for (const group of offerGroups(files.map((f) => f.file))) this.offerTo(peer, group, keys);
      announce(`${this.name(peer)} is back: sending the rest`);
    }
  }

  /** A relay_busy error: a frame of ours was dropped; go back and re-send. */
  onRelayBusy() {
    for (const link of this.links.values()) if (link.mode === 'relay') link.resendRecent();
    for (const t of this.out.values()) {
      if (t.over || this.links.get(t.peer)?.mode !== 'relay') continue;
      for (const f of t.files) if (f.state === 'sending' && f.sent > f.acked) f.sent = f.acked;
    }
  }

  link(peer) {
    let l = this.links.get(peer);
    if (!l) {
      l = new Link(this, peer);
      this.links.set(peer, l);
    }
    return l;
  }

  name(peer) {
    const p = this.peers.get(peer);
    return p?.name || 'Someone';
  }

  /* ----- frames from a peer ----- */

  onData(link, data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 1) return;
    const bytes = new Uint8Array(data);
    if (bytes[0] === TAG_CHUNK && bytes.length >= HEADER) {
      const view = new DataView(data);
      const n = view.getUint32(1);
      const offset = view.getUint32(5) * 0x100000000 + view.getUint32(9);
      this.onChunk(link, n, offset, bytes.subarray(HEADER));
      return;
    }
    if (bytes[0] !== TAG_CONTROL) return;
    let msg;
    try {
      msg = JSON.parse(dec.decode(bytes.subarray(1)));
    } catch {
      return;
    }
    if (msg && typeof msg === 'object' && typeof msg.type === 'string') this.onControl(link, msg);
  }

  onControl(link, msg) {
    const peer = link.peer;
    switch (msg.type) {
      case 'chat': {
        if (typeof msg.id !== 'string' || typeof msg.text !== 'string') return;
        link.control({ type: 'receipt', id: msg.id });
        if (this.chats.has(msg.id)) return;
        this.chats.add(msg.id);
        this.addChat({ id: msg.id, peer, text: msg.text.slice(0, TEXT_MAX), mine: false });
        announce(`Message from ${this.name(peer)}: ${msg.text.slice(0, 200)}`);
        return;
      }
      case 'receipt': {
        const row = this.ui.transfers.querySelector(`li.dchat[data-id="${CSS.escape(String(msg.id))}"][data-peer="${CSS.escape(peer)}"]`);
        if (row && row.dataset.state !== 'delivered') {
          row.dataset.state = 'delivered';
          row.querySelector('.dchat-state').textContent = 'Delivered';
        }
        return;
      }
      case 'offer':
        this.onOffer(link, msg);
        return;
      default:
        break;
    }
    const t = this.out.get(msg.id) ?? this.in.get(msg.id);
    if (!t || t.peer !== peer) return;
    if (t.dir === 'out') {
      if (msg.type === 'accept' && t.state === 'offered') {
        if (typeof msg.device === 'string' && KEY_RE.test(msg.device)) t.device = msg.device;
        this.resumeOut(t, msg.resume_from);
        t.state = 'sending';
        this.renderHead(t);
        for (const f of t.files) this.renderFile(t, f);
        this.runOut(t);
      } else if (msg.type === 'decline' && t.state === 'offered') {
        this.stopOut(t, 'declined', `${this.name(peer)} declined`, false);
      } else if (msg.type === 'ack') {
        const f = t.files.find((x) => x.n === msg.n);
        if (!f || !Number.isFinite(msg.offset)) return;
        if (msg.offset > f.acked) f.acked = Math.min(msg.offset, f.size);
        // A gap: frames were lost on the relay; go back to what arrived.
        if (msg.gap && f.sent > msg.offset && performance.now() - (f.rewoundAt ?? 0) > 300) {
          f.sent = msg.offset;
          f.rewoundAt = performance.now();
        }
        this.renderFile(t, f);
        link.wake();
      } else if (msg.type === 'verified') {
        const f = t.files.find((x) => x.n === msg.n);
        if (f && f.state !== 'verified') {
          f.acked = f.size;
          f.state = 'verified';
          this.renderFile(t, f);
          f.resolve?.();
        }
      } else if (msg.type === 'failed') {
        const f = t.files.find((x) => x.n === msg.n);
        if (f) {
          f.state = 'failed';
          f.error = FAILED_TEXT[msg.code] ?? 'Failed on the other side';
          this.renderFile(t, f);
          f.resolve?.();
        }
      } else if (msg.type === 'cancel') {
        this.stopOut(t, 'cancelled', `${this.name(peer)} cancelled`, false);
      }
    } else if (msg.type === 'end') {
      const f = t.files.find((x) => x.n === msg.n);
      if (!f || typeof msg.sha256 !== 'string') return;
      f.sha = msg.sha256;
      this.maybeFinish(t, f);
    } else if (msg.type === 'cancel') {
      this.stopIn(t, 'cancelled', `${this.name(peer)} cancelled`, false);
    }
  }

  /* ----- sending ----- */

  targets() {
    return [...this.selected].filter((p) => this.peers.has(p));
  }

  updateComposer() {
    const to = this.targets();
    const none = to.length === 0;
    this.ui.sendText.disabled = none;
    for (const [input, btn] of [[this.ui.files, this.ui.fileBtn], [this.ui.folder, this.ui.folderBtn]]) {
      input.disabled = none;
      btn.classList.toggle('disabled', none);
    }
    this.ui.hint.textContent = this.peers.size === 0
      ? 'Nobody else is here yet. Open the room on another device to send to it directly.'
      : (none ? 'Pick who to send to.'
        : `To ${to.map((p) => this.name(p)).join(', ')}. Pick files, or drag them onto this card.`);
  }

  sendChat() {
    const text = this.ui.text.value.trim();
    const to = this.targets();
    if (!text || !to.length) return;
    if (enc.encode(text).length > TEXT_MAX) {
      toast(`Direct messages are at most ${formatBytes(TEXT_MAX)}.`, 'error');
      return;
    }
    for (const peer of to) {
      const id = rid();
      this.addChat({ id, peer, text, mine: true });
      const link = this.link(peer);
      link.start();
      link.control({ type: 'chat', id, text });
    }
    this.ui.text.value = '';
  }

  sendFiles(files) {
    const to = this.targets();
    if (!to.length) {
      toast('Pick a device to send to first.', 'error');
      return;
    }
    const keys = new Map(files.map((file) => [file, resumeKey(this.device, file)]));
    for (const peer of to) for (const group of offerGroups(files)) this.offerTo(peer, group, keys);
    announce(files.length === 1 ? `Offering ${files[0].name}` : `Offering ${files.length} files`);
  }

  /** One offer of `files` to `peer`. */
  offerTo(peer, files, keys) {
    const t = {
      id: rid(), dir: 'out', peer, state: 'offered', over: false,
      files: files.map((file) => ({
        n: this.nextN++, file, name: file.name || 'file', path: file.webkitRelativePath || '', size: file.size,
        type: file.type || 'application/octet-stream', key: keys.get(file),
        sent: 0, acked: 0, hashed: 0, bytesSent: 0, hasher: new Sha256(), state: 'waiting', block: null,
      })),
    };
    this.out.set(t.id, t);
    this.renderTransfer(t);
    const link = this.link(peer);
    link.start();
    link.control({
      type: 'offer', id: t.id,
      files: t.files.map((f) => ({ n: f.n, name: f.name, ...(f.path ? { path: f.path } : {}), size: f.size, type: f.type, key: f.key })),
    });
  }

  async runOut(t) {
    const link = this.link(t.peer);
    for (const f of t.files) {
      if (t.over) return;
      f.state = 'sending';
      f.t0 = performance.now();
      const done = new Promise((resolve) => { f.resolve = resolve; });
      while (!t.over && f.state === 'sending') {
        if (f.hashed < f.sent) {
          await this.hashUpTo(t, f, f.sent);
          continue;
        }
        if (f.sent >= f.size) {
          if (!f.endSent) {
            f.sha = f.hasher.hex();
            f.endSent = true;
            link.control({ type: 'end', id: t.id, n: f.n, sha256: f.sha });
          }
          await Promise.race([done, link.wait()]);
          continue;
        }
        if (!link.ready() || !link.canSend() || f.sent - f.acked >= WINDOW[link.kind()]) {
          await link.wait();
          continue;
        }
        const start = f.sent;
        const chunkSize = link.mode === 'relay' ? Math.max(1024, Math.min(CHUNK, this.relayMax - HEADER - 12)) : CHUNK;
        const end = Math.min(f.size, start + chunkSize);
        const chunk = await this.read(f, start, end);
        if (t.over || f.state !== 'sending') break;
        if (f.sent !== start) continue; // rewound while reading
        if (start === f.hashed) {
          f.hasher.update(chunk);
          f.hashed = end;
        }
        if (!link.chunk(f.n, start, chunk)) {
          await link.wait();
          continue;
        }
        f.sent = end;
        f.bytesSent += chunk.length;
        this.renderFile(t, f);
      }
      if (t.over) return;
      await done;
      f.block = null;
      this.renderFile(t, f);
    }
    if (!t.over) {
      const bad = t.files.filter((f) => f.state !== 'verified').length;
      this.finishOut(t, bad ? 'failed' : 'done');
    }
  }

  /**
   * A resumed file starts where the receiver is, but `end` carries the hash of
   * all of it: the part the receiver holds is read and hashed here, not sent.
   */
  async hashUpTo(t, f, end) {
    while (f.hashed < end && !t.over) {
      const stop = Math.min(end, f.hashed + READ_BLOCK);
      f.hasher.update(await this.read(f, f.hashed, stop));
      f.hashed = stop;
    }
  }

  /** The receiver's `resume_from`: where each file goes on from. */
  resumeOut(t, list) {
    if (!Array.isArray(list)) return;
    for (const r of list) {
      const f = t.files.find((x) => x.n === r?.n);
      if (!f || !Number.isSafeInteger(r.offset) || r.offset <= 0 || r.offset > f.size) continue;
      f.sent = r.offset;
      f.acked = r.offset;
      f.resumedFrom = r.offset;
    }
  }

  async read(f, start, end) {
    if (!f.block || start < f.block.start || end > f.block.start + f.block.bytes.length) {
      const bEnd = Math.min(f.size, start + READ_BLOCK);
      f.block = { start, bytes: new Uint8Array(await f.file.slice(start, bEnd).arrayBuffer()) };
    }
    return f.block.bytes.subarray(start - f.block.start, end - f.block.start);
  }

  finishOut(t, state) {
    t.over = true;
    t.state = state;
    this.renderHead(t);
    if (state === 'done') announce(`Sent to ${this.name(t.peer)}`);
  }

  stopOut(t, state, why, tell = true) {
    if (t.over) return;
    if (tell) this.links.get(t.peer)?.control({ type: 'cancel', id: t.id });
    t.over = true;
    t.state = state;
    t.reason = why;
    for (const f of t.files) {
      if (f.state !== 'verified') f.state = state;
      f.block = null;
      f.resolve?.();
    }
    this.links.get(t.peer)?.wake();
    this.renderTransfer(t);
  }

  /* ----- receiving ----- */

  onOffer(link, msg) {
    if (typeof msg.id !== 'string' || !Array.isArray(msg.files) || this.in.has(msg.id)) return;
    if (msg.files.length === 0 || msg.files.length > MAX_FILES) return;
    const files = [];
    for (const x of msg.files) {
      const size = Number(x?.size);
      if (!Number.isSafeInteger(x?.n) || !Number.isSafeInteger(size) || size < 0) return;
      files.push({
        n: x.n, name: String(x.name ?? 'file').replace(/[/\\]/g, '_').slice(0, 255) || 'file', path: cleanPath(x.path), size,
        type: typeof x.type === 'string' ? x.type.slice(0, 127) : '', key: KEY_RE.test(x.key ?? '') ? x.key : null,
        received: 0, stored: 0, lastAck: 0, lastGap: 0, sink: null, hasher: new Sha256(), state: 'waiting', sha: null,
      });
    }
    const t = { id: msg.id, dir: 'in', peer: link.peer, state: 'offered', over: false, files };
    this.in.set(t.id, t);
    for (const f of files) this.inFiles.set(`${t.peer}/${f.n}`, { t, f });
    // A sender that went away (a reload, a new network) and offers the same
    // file again goes on from what arrived before.
    const resumed = files.filter((f) => f.key && this.takePartial(t, f)).length;
    this.renderTransfer(t);
    const what = files.length === 1 ? files[0].name : `${files.length} files`;
    if (resumed === files.length) {
      // Accepted before, by the person at this device: go on without asking again.
      this.accept(t);
      announce(`Continuing ${what} from ${this.name(t.peer)}`);
      return;
    }
    const total = files.reduce((s, f) => s + f.size, 0);
    announce(`${this.name(t.peer)} wants to send you ${what} (${formatBytes(total)})`);
  }

  /**
   * Gives `f` of the new transfer `t` what an earlier transfer of the same file
   * (same resume key) kept; true if there was something. A transfer of it still
   * running from another peer id (the sender's old page, not yet gone) is
   * stopped first and kept.
   */
  takePartial(t, f) {
    for (const old of this.in.values()) {
      if (!old.over && old.peer !== t.peer && old.files.some((x) => x.key === f.key && x.state === 'receiving')) {
        this.stopIn(old, 'failed', 'Continued in a new transfer', false, true);
      }
    }
    const kept = this.partials.get(f.key);
    if (!kept || kept.f.size !== f.size) return this.takeStored(f);
    this.partials.delete(f.key);
    const was = kept.f;
    Object.assign(f, {
      sink: was.sink, hasher: was.hasher, received: was.received, stored: was.stored, lastAck: was.stored, resumedFrom: was.received,
    });
    f.sink.owner = { t, f }; // writes still on their way count for the new transfer
    was.sink = null;
    was.kept = false;
    // The old row has nothing left to show once all it kept goes on elsewhere.
    if (!kept.t.files.some((x) => x.kept)) this.forgetIn(kept.t);
    return true;
  }

  /** Like takePartial, from what an earlier load of this page kept on disk. */
  takeStored(f) {
    const rec = this.store?.find(f.key, f.size);
    if (!rec) return false;
    const sink = this.store.resume(rec);
    Object.assign(f, {
      sink, hasher: sink.hasher(), received: rec.bytes, stored: rec.bytes, lastAck: rec.bytes, resumedFrom: rec.bytes,
    });
    return true;
  }

  forgetIn(t) {
    t.el?.remove();
    this.in.delete(t.id);
    for (const f of t.files) {
      if (this.inFiles.get(`${t.peer}/${f.n}`)?.t === t) this.inFiles.delete(`${t.peer}/${f.n}`);
      if (f.kept) this.partials.delete(f.key);
      this.dropSink(f);
    }
  }

  accept(t) {
    if (t.state !== 'offered') return;
    t.state = 'receiving';
    t.t0 = performance.now();
    this.store?.prune();
    for (const f of t.files) {
      f.state = 'receiving';
      f.t0 = t.t0;
      f.sink ??= this.newSink(f);
      f.sink.owner = { t, f };
    }
    const resume = t.files.filter((f) => f.received > 0).map((f) => ({ n: f.n, offset: f.received }));
    this.link(t.peer).control({ type: 'accept', id: t.id, device: this.tag, ...(resume.length ? { resume_from: resume } : {}) });
    this.renderTransfer(t);
  }

  /**
   * Where a file accepted without a place picked goes: kept on disk in parts
   * that outlive a reload of this page, where it can and the file has a resume
   * key; otherwise in memory.
   */
  newSink(f) {
    if (!this.store || !f.key || f.size === 0) return new MemorySink(f.type);
    return this.store.create({ key: f.key, room: this.room, name: f.name, size: f.size, type: f.type });
  }

  /** Accept, writing each file to disk as it arrives, where the person picks. */
  async acceptToDisk(t) {
    if (t.state !== 'offered') return;
    let sinks;
    try {
      if (t.files.length === 1 && !t.files[0].path) {
        const handle = await window.showSaveFilePicker({ suggestedName: t.files[0].name });
        sinks = [new DiskSink(async () => handle)];
      } else {
        const dir = await window.showDirectoryPicker({ mode: 'readwrite' });
        sinks = t.files.map((f) => new DiskSink(() => fileUnder(dir, f.path || f.name)));
      }
    } catch (err) {
      if (err?.name !== 'AbortError') toast(`Could not open a place to save to: ${err?.message || err}`, 'error');
      return; // closed the picker: still offered
    }
    if (t.state !== 'offered') return; // cancelled while the picker was open
    t.files.forEach((f, i) => {
      f.sink ??= sinks[i]; // a file resumed from a kept part goes on where it was
    });
    this.accept(t);
  }

  decline(t) {
    if (t.state !== 'offered') return;
    this.link(t.peer).control({ type: 'decline', id: t.id });
    this.stopIn(t, 'declined', 'You declined', false);
  }

  onChunk(link, n, offset, data) {
    const entry = this.inFiles.get(`${link.peer}/${n}`);
    if (!entry) return;
    const { t, f } = entry;
    if (t.over || f.state !== 'receiving') return;
    if (offset !== f.received) {
      // A duplicate (after a go-back) is dropped quietly; a gap asks to go back.
      const now = performance.now();
      if (offset > f.received && now - f.lastGap > 200) {
        f.lastGap = now;
        link.control({ type: 'ack', id: t.id, n, offset: f.received, gap: true });
      }
      return;
    }
    if (f.received + data.length > f.size) return;
    if (f.received === (f.resumedFrom ?? 0)) f.t0 = performance.now();
    f.hasher.update(data);
    f.received += data.length;
    const sink = f.sink;
    // A view of the message's own buffer: no copy. Kept on disk in parts of an acknowledgement's size.
    const stored = sink.write(data, f.hasher, ACK_EVERY[link.kind()]);
    if (stored) stored.then(() => this.onStored(sink, data.length), (err) => this.onSinkError(sink, err));
    else this.onStored(sink, data.length);
    this.renderFile(t, f);
  }

  /** Bytes are stored (in memory at once, on disk when written): acknowledge them. */
  onStored(sink, length) {
    const { t, f } = sink.owner;
    f.stored += length;
    if (t.over || f.state !== 'receiving') return;
    const link = this.links.get(t.peer);
    if (!link) return;
    if (f.stored - f.lastAck >= ACK_EVERY[link.kind()] || f.stored === f.size) {
      f.lastAck = f.stored;
      link.control({ type: 'ack', id: t.id, n: f.n, offset: f.stored });
    }
    this.maybeFinish(t, f);
  }

  onSinkError(sink, err) {
    const { t, f } = sink.owner;
    if (t.over) return;
    f.error = `Could not save ${f.name}: ${err?.message || err}`;
    this.stopIn(t, 'failed', f.error);
  }

  async maybeFinish(t, f) {
    if (f.state !== 'receiving' || f.sha === null || f.stored !== f.size || f.finishing) return;
    f.finishing = true;
    const link = this.link(t.peer);
    const sha = f.hasher.hex();
    if (sha !== f.sha.toLowerCase()) {
      this.dropSink(f);
      this.failIn(t, f, 'verify_failed', 'Verification failed: the file arrived damaged');
      return;
    }
    let saved;
    try {
      saved = await f.sink.finish();
    } catch (err) {
      this.dropSink(f);
      this.failIn(t, f, 'save_failed', `Could not save ${f.name}: ${err?.message || err}`);
      return;
    }
    f.sink = null;
    if (f.state !== 'receiving') {
      // stopped while saving: what is saved stays, nothing more to say
      if (saved.url) URL.revokeObjectURL(saved.url);
      return;
    }
    f.state = 'verified';
    f.verifiedSha = sha;
    if (saved.url) {
      f.url = saved.url;
      this.urls.push(f.url);
    }
    f.disk = saved.disk ?? null;
    link.control({ type: 'verified', id: t.id, n: f.n });
    announce(`Received ${f.name}`);
    this.renderFile(t, f);
    this.maybeDone(t);
  }

  failIn(t, f, code, text) {
    f.state = 'failed';
    f.error = text;
    this.link(t.peer).control({ type: 'failed', id: t.id, n: f.n, code });
    this.renderFile(t, f);
    this.maybeDone(t);
  }

  maybeDone(t) {
    if (t.over || !t.files.every((x) => x.state === 'verified' || x.state === 'failed')) return;
    t.over = true;
    t.state = t.files.every((x) => x.state === 'verified') ? 'done' : 'failed';
    this.renderHead(t);
  }

  dropSink(f) {
    f.sink?.discard();
    f.sink = null;
  }

  /**
   * Stops an incoming transfer. With `keep` (the sender went away, or our own
   * connection did) what arrived of each file is kept under its resume key,
   * for the sender to go on from when it offers the same file again.
   */
  stopIn(t, state, why, tell = true, keep = false) {
    if (t.over) return;
    if (tell) this.links.get(t.peer)?.control({ type: 'cancel', id: t.id });
    t.over = true;
    t.state = state;
    t.reason = why;
    for (const f of t.files) {
      if (f.state === 'verified') continue;
      const resumable = keep && f.key && f.state === 'receiving' && f.received > 0 && f.sink && !f.finishing;
      f.state = state;
      if (resumable) {
        f.kept = true;
        this.partials.set(f.key, { t, f });
      } else {
        this.dropSink(f);
      }
    }
    this.renderTransfer(t);
  }

  /* ----- rendering ----- */

  renderPeers() {
    if (!this.ui) return;
    const rows = [];
    const sorted = [...this.peers.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    for (const p of sorted) {
      const mode = this.links.get(p.peer_id)?.mode ?? 'new';
      const box = h('input', { type: 'checkbox', checked: this.selected.has(p.peer_id), attrs: { 'aria-label': `Send to ${p.name}` } });
      box.addEventListener('change', () => {
        if (box.checked) this.selected.add(p.peer_id);
        else this.selected.delete(p.peer_id);
        this.updateComposer();
      });
      rows.push(h('li', { className: 'dpeer', dataset: { peerId: p.peer_id, mode } },
        h('label', { className: 'dpeer-pick' }, box,
          h('span', { className: 'dpeer-name' },
            h('strong', { text: p.name || 'Someone' }),
            h('span', { className: 'muted small', text: p.device || 'Unknown device' })),
          h('span', { className: 'link-state', dataset: { mode }, text: MODE_TEXT[mode] })),
        this.noteFor(p.peer_id)));
    }
    this.ui.peers.replaceChildren(...rows);
    this.ui.empty.hidden = rows.length > 0;
    this.updateComposer();
  }

  /** The reason a link ended on the relay, as a line under it (or nothing). */
  noteFor(peer) {
    const note = this.links.get(peer)?.note;
    return note ? h('p', { className: 'link-note small', text: note }) : null;
  }

  renderModes(link) {
    for (const t of [...this.out.values(), ...this.in.values()]) if (t.peer === link.peer) this.renderHead(t);
  }

  addChat({ id, peer, text, mine }) {
    const who = mine ? `You → ${this.name(peer)}` : this.name(peer);
    const li = h('li', { className: `dchat${mine ? ' mine' : ''}`, dataset: { id, peer, state: mine ? 'sent' : 'received' } },
      h('p', { className: 'dchat-meta' }, h('strong', { text: who }),
        h('span', { className: 'dchat-state', text: mine ? 'Sending…' : 'Direct message' })),
      h('p', { className: 'dchat-text', text }));
    this.ui.transfers.prepend(li);
  }

  renderTransfer(t) {
    let li = t.el;
    if (!li) {
      li = h('li', { className: 'dtransfer', dataset: { id: t.id, dir: t.dir } });
      t.el = li;
      this.ui.transfers.prepend(li);
    }
    li.dataset.state = t.state;
    t.headEl = h('div', { className: 'dtransfer-head' });
    const list = h('ul', { className: 'dfiles' });
    for (const f of t.files) {
      f.bar = h('progress', { max: 100, value: 0, attrs: { 'aria-label': `Progress of ${f.name}` } });
      f.status = h('span', { className: 'dfile-status' });
      f.actions = h('span', { className: 'dfile-actions' });
      f.el = h('li', { className: 'dfile', dataset: { n: String(f.n) } },
        tile(f.type, f.name),
        h('div', { className: 'dfile-body' },
          h('p', { className: 'dfile-line' },
            h('span', { className: 'file-name', text: f.path || f.name, title: f.path || f.name }),
            h('span', { className: 'dfile-size', text: formatBytes(f.size) })),
          f.bar, f.status),
        f.actions);
      list.append(f.el);
      this.renderFile(t, f);
    }
    li.replaceChildren(t.headEl, list);
    this.renderHead(t);
  }

  renderHead(t) {
    if (!t.headEl) return;
    t.el.dataset.state = t.state;
    const link = this.links.get(t.peer);
    const mode = link?.mode ?? 'new';
    const who = t.dir === 'out' ? `To ${this.name(t.peer)}` : `From ${this.name(t.peer)}`;
    const total = t.files.reduce((s, f) => s + f.size, 0);
    let count = t.files.length === 1 ? '1 file' : `${t.files.length} files`;
    const top = t.files[0].path?.split('/')[0];
    if (top && t.files.every((f) => f.path?.startsWith(`${top}/`))) count += ` in ${top}/`;
    const parts = [
      h('span', { className: 'dtransfer-icon', dataset: { dir: t.dir }, attrs: { 'aria-hidden': 'true' } },
        icon(...(t.dir === 'out' ? ['M12 19V5', 'M6 11l6-6 6 6'] : ['M12 5v14', 'M6 13l6 6 6-6']))),
      h('div', { className: 'dtransfer-title' },
        h('strong', { text: who }),
        h('span', { className: 'muted small', text: `${count} · ${formatBytes(total)}` })),
      h('span', { className: 'link-state', dataset: { mode }, text: MODE_TEXT[mode] }),
    ];
    const actions = h('div', { className: 'dtransfer-actions' });
    if (t.dir === 'in' && t.state === 'offered') {
      const decline = h('button', { type: 'button', className: 'btn btn-sm decline', text: 'Decline' });
      decline.addEventListener('click', () => this.decline(t));
      actions.append(decline);
      const big = total > BLOB_WARN_BYTES;
      if (canStreamToDisk()) {
        // Saving as it arrives needs a place picked now (a click is a user gesture).
        const toDisk = h('button', {
          type: 'button', className: `btn btn-sm save-to${big ? ' btn-primary accept' : ''}`, text: big ? 'Accept and save…' : 'Save to…',
          title: 'Pick where to save; the bytes go to disk as they arrive',
        });
        toDisk.addEventListener('click', () => this.acceptToDisk(t));
        actions.append(toDisk);
      }
      if (!big || !canStreamToDisk()) {
        const accept = h('button', { type: 'button', className: 'btn btn-sm btn-primary accept', text: 'Accept' });
        accept.addEventListener('click', () => this.accept(t));
        actions.append(accept);
      }
      if (big && !canStreamToDisk()) {
        parts.push(h('p', {
          className: 'dtransfer-warn small',
          text: `This browser cannot write received files to disk as they arrive, so it keeps them in memory until you save them: ${formatBytes(total)} may be too much for it.`,
        }));
      }
    } else if (!t.over) {
      const cancel = h('button', { type: 'button', className: 'btn btn-sm cancel', text: 'Cancel' });
      cancel.addEventListener('click', () => (t.dir === 'out' ? this.stopOut(t, 'cancelled', 'You cancelled') : this.stopIn(t, 'cancelled', 'You cancelled')));
      actions.append(cancel);
    } else {
      const dismiss = h('button', { type: 'button', className: 'btn btn-sm btn-icon dismiss', title: 'Remove from the list', attrs: { 'aria-label': 'Remove from the list' } }, icon(...ICONS.close));
      dismiss.addEventListener('click', () => {
        if (t.dir === 'in') {
          this.forgetIn(t); // and what it kept for a resume
          return;
        }
        t.el.remove();
        this.out.delete(t.id);
      });
      actions.append(dismiss);
    }
    const reason = t.reason && t.state !== 'done'
      ? h('p', { className: 'dtransfer-reason small', dataset: { state: t.state }, text: t.reason }) : null;
    t.headEl.replaceChildren(...parts, actions);
    if (reason) t.headEl.append(reason);
    const note = t.over ? null : this.noteFor(t.peer);
    if (note) t.headEl.append(note);
  }

  renderFile(t, f) {
    if (!f.el) return;
    f.el.dataset.state = f.state;
    // Counters for whoever wants to check a resume (tests do).
    if (t.dir === 'out') f.el.dataset.sentBytes = String(f.bytesSent);
    if (f.resumedFrom) f.el.dataset.resumedFrom = String(f.resumedFrom);
    const done = t.dir === 'out' ? f.acked : f.received;
    const pct = f.size ? Math.min(100, Math.floor((done / f.size) * 100)) : (f.state === 'verified' ? 100 : 0);
    f.bar.value = f.state === 'verified' ? 100 : pct;
    let text;
    switch (f.state) {
      case 'waiting':
        text = t.dir === 'out' ? (t.state === 'offered' ? 'Waiting for them to accept…' : 'Queued') : 'Waiting for your answer';
        break;
      case 'sending':
      case 'receiving': {
        const now = performance.now();
        const secs = (now - (f.t0 ?? now)) / 1000;
        const moved = done - (f.resumedFrom ?? 0); // bytes since this transfer (re)started
        const rate = secs > 0.3 && moved > 0 ? moved / secs : 0;
        const left = rate > 0 ? formatDuration((f.size - done) / rate) : '';
        text = `${pct}% · ${formatBytes(done)} of ${formatBytes(f.size)}${rate ? ` · ${formatBytes(rate)}/s` : ''}${left ? ` · ${left} left` : ''}`;
        if (f.resumedFrom) text += ` · resumed at ${formatBytes(f.resumedFrom)}`;
        if (done >= f.size) text = 'Verifying…';
        else if (t.dir === 'in' && done === 0) text = 'Queued';
        break;
      }
      case 'verified': {
        const secs = f.t0 !== undefined ? (performance.now() - f.t0) / 1000 : 0;
        f.seconds = secs;
        text = `Verified (SHA-256) · ${formatBytes(f.size)}${secs > 0 ? ` in ${secs < 10 ? secs.toFixed(1) : Math.round(secs)} s` : ''}`;
        if (f.disk) text += ` · saved as ${f.disk}`;
        break;
      }
      case 'failed':
        text = f.error ?? t.reason ?? 'Failed';
        if (f.kept) text = `Stopped at ${pct}%: kept; if it is sent again, it goes on from here`;
        break;
      case 'declined':
        text = 'Declined';
        break;
      case 'cancelled':
        text = 'Cancelled';
        break;
      default:
        text = f.state;
    }
    // Throttle DOM writes while bytes stream: ten times a second is plenty.
    const now = performance.now();
    if ((f.state === 'sending' || f.state === 'receiving') && done < f.size && now - (f.drawnAt ?? 0) < 100) return;
    f.drawnAt = now;
    f.status.textContent = text;
    if (t.dir === 'in' && f.state === 'verified' && f.url && !f.actions.firstChild) {
      f.actions.append(h('a', {
        className: 'btn btn-sm download', href: f.url, download: f.name, attrs: { 'aria-label': `Save ${f.name}` },
      }, icon(...ICONS.download), h('span', { text: 'Save' })));
    }
  }
}
