// The room view: the code, QR and link to bring devices in; the live list of
// items (text and files); dropping text and uploading files with progress;
// the devices present; the owner's delete; and staying connected (reconnect
// with backoff, asking for what was missed). A code room is handed over to
// code.js, loaded only then.
import * as api from './api.js';
import { serverNow } from './api.js';
import { copyText } from './clipboard.js';
import { Direct } from './direct.js';
import { $, h, icon, ICONS } from './dom.js';
import {
  deviceName, extensionOf, fileKind, formatBytes, formatCode, formatRemaining, formatWhen, peerName,
} from './format.js';
import { SeqTracker } from './seqs.js';
import { roomRecord, saveRoomRecord } from './storage.js';
import { announce, setStatus, showView, toast } from './ui.js';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const TEXT_MAX_BYTES = 64 * 1024;
const UPLOAD_CONCURRENCY = 2;
const THUMB_MAX_BYTES = 15 * 1000 * 1000;
const THUMB_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);
const CLAMP_CHARS = 600;
const CLAMP_LINES = 10;
const ME = deviceName();

const ui = {};
function bindUi() {
  if (ui.items) return;
  for (const [key, id] of Object.entries({
    banner: 'banner', bannerTitle: 'banner-title', bannerBody: 'banner-body', bannerRetry: 'banner-retry',
    bannerHome: 'banner-home', loading: 'room-loading', loadingText: 'room-loading-text', body: 'room-body',
    code: 'room-code', qr: 'room-qr', host: 'room-host', copyLink: 'copy-link', copyLinkText: 'copy-link-text',
    shareLink: 'share-link', linkFallback: 'link-fallback', expires: 'expires', peers: 'peers',
    peerCount: 'peer-count', peersHint: 'peers-hint', ownerTools: 'owner-tools', deleteRoom: 'delete-room',
    textForm: 'text-form', textInput: 'text-input', textSend: 'text-send', textError: 'text-error',
    fileInput: 'file-input', uploads: 'uploads', items: 'items', itemCount: 'item-count',
    itemsEmpty: 'items-empty', dropOverlay: 'drop-overlay', dialog: 'confirm-dialog', codeBody: 'code-body',
  })) ui[key] = $(id);
}

const wsUrl = (id, after) =>
  `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/${encodeURIComponent(id)}?after=${after}`;

const isItem = (it) => it && typeof it === 'object' && typeof it.id === 'string' && Number.isFinite(it.seq);

/* ---------- pieces of an item ---------- */

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/g;

/** Text with http(s) links made clickable, built from text nodes and anchors only. */
function linkified(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    // Leave closing punctuation to the sentence, not the link.
    const trail = /[.,;:!?)\]}]+$/.exec(url);
    if (trail) url = url.slice(0, -trail[0].length);
    if (m.index > last) frag.append(text.slice(last, m.index));
    frag.append(h('a', { href: url, text: url, target: '_blank', rel: 'noopener noreferrer' }));
    last = m.index + url.length;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

function fileTile(type, name) {
  const ext = extensionOf(name);
  return h('span', { className: 'tile', dataset: { kind: fileKind(type, name) }, attrs: { 'aria-hidden': 'true' } },
    ext || icon('M6 3h8l4 4v14H6z', 'M14 3v4h4'));
}

const TYPE_NAMES = {
  image: 'Image', video: 'Video', audio: 'Audio', pdf: 'PDF document', archive: 'Archive', text: 'Text file', doc: 'Document',
};

function fileDescription(item) {
  const kind = fileKind(item.content_type, item.file_name);
  const ext = extensionOf(item.file_name);
  const what = TYPE_NAMES[kind] ? (kind === 'image' && ext ? `${ext} image` : TYPE_NAMES[kind]) : (ext ? `${ext} file` : 'File');
  return `${formatBytes(Number(item.size))} · ${what}`;
}

/** A button whose label flips to a check mark and "Copied" for a moment. */
function copyButton(getText, label) {
  const text = h('span', { text: 'Copy' });
  const btn = h('button', { type: 'button', className: 'btn btn-sm', attrs: { 'aria-label': label } }, icon(...ICONS.copy), text);
  let timer = 0;
  btn.addEventListener('click', async () => {
    const ok = await copyText(getText());
    if (!ok) {
      toast('Could not copy. Select the text and copy it by hand.', 'error');
      return;
    }
    btn.classList.add('done');
    btn.replaceChildren(icon(...ICONS.check), text);
    text.textContent = 'Copied';
    announce('Copied to the clipboard');
    clearTimeout(timer);
    timer = setTimeout(() => {
      btn.classList.remove('done');
      btn.replaceChildren(icon(...ICONS.copy), text);
      text.textContent = 'Copy';
    }, 1600);
  });
  return btn;
}

/* ---------- the room ---------- */

class RoomView {
  constructor(ref, known, onChat) {
    bindUi();
    this.onChat = onChat; // a chat room turns out to be behind the link: hand it over
    this.ref = ref;
    this.known = known ?? null; // a room object we already have (just made or looked up)
    this.id = null;
    this.info = null;
    this.link = '';
    this.ownerToken = null;
    this.items = new Map(); // id -> {item, el}
    this.seqs = new SeqTracker(); // what a reconnect asks for (seqs.js)
    this.mine = new Set();
    this.selfId = null;
    this.peers = new Map();
    this.ws = null;
    this.connected = false;
    this.everConnected = false;
    this.needsResync = false;
    this.retries = 0;
    this.retryTimer = 0;
    this.countdownTimer = 0;
    this.retryAt = 0;
    this.expiryTimer = 0;
    this.clockTimer = 0;
    this.ended = false;
    this.destroyed = false;
    this.deleting = false;
    this.queue = [];
    this.active = new Set();
    this.dragDepth = 0;
    this.listeners = new AbortController();
    this.code = null; // the code room view, when the room is of kind code
  }

  /* ----- life cycle ----- */

  async start() {
    showView('room');
    this.resetUi();
    setStatus('connecting', 'Connecting…');
    ui.loading.hidden = false;
    ui.loadingText.textContent = 'Opening the room…';

    let info = this.known;
    if (!info) {
      try {
        info = await api.getRoom(this.ref);
      } catch (err) {
        if (!this.destroyed) this.failToOpen(err);
        return;
      }
    }
    if (this.destroyed) return;
    if (info.kind === 'chat' && this.onChat) {
      this.destroy();
      this.onChat(info);
      return;
    }
    this.id = String(info.id);
    const path = `/r/${encodeURIComponent(this.id)}`;
    if (location.pathname !== path) history.replaceState(history.state, '', path);
    this.setInfo(info);
    if (this.info.kind === 'code') {
      this.openCode();
      return;
    }
    this.wire();
    this.direct?.destroy();
    this.direct = new Direct({
      room: this.id,
      socket: () => (this.connected ? this.ws : null),
      dragInto: () => {
        this.dragDepth = 0;
        ui.dropOverlay.hidden = true;
      },
    });
    ui.loading.hidden = true;
    ui.body.hidden = false;
    if (!matchMedia('(hover: none)').matches) ui.textInput.focus({ preventScroll: true });

    try {
      for (const item of await api.listItems(this.id)) this.addItem(item, false);
      this.seqs.listed([...this.items.values()].map((e) => e.item.seq));
    } catch (err) {
      if (this.destroyed) return;
      if (err.status === 404 || err.status === 410) {
        this.end(err.status === 410 ? 'expired' : 'gone');
        return;
      }
      // The WebSocket replays the items anyway (after=0).
    }
    if (!this.destroyed && !this.ended) this.connect();
  }

  /** A code room: the editor view takes over (its module is fetched now). */
  async openCode() {
    ui.loadingText.textContent = 'Opening the editor…';
    let mod;
    try {
      mod = await import('./code.js');
    } catch {
      if (this.destroyed) return;
      ui.loading.hidden = true;
      this.showBanner('error', 'Could not load the editor', 'Check your connection and try again.', { retry: () => this.restart() });
      setStatus('offline', 'Offline');
      return;
    }
    if (this.destroyed || this.ended) return;
    ui.loading.hidden = true;
    this.code?.destroy();
    this.code = new mod.CodeRoom({
      id: this.id,
      info: this.info,
      link: this.link,
      onEnd: (reason) => this.end(reason),
      banner: (kind, title, body, opts) => this.showBanner(kind, title, body, opts),
      hideBanner: () => {
        ui.banner.hidden = true;
      },
    });
    this.code.start();
  }

  /** Leaves the room view: closes the socket, cancels uploads, unhooks everything. */
  destroy() {
    this.destroyed = true;
    this.code?.destroy();
    this.code = null;
    this.stopTimers();
    clearInterval(this.expiryTimer);
    clearInterval(this.clockTimer);
    this.listeners.abort();
    this.cancelUploads();
    this.direct?.destroy();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
    ui.dropOverlay.hidden = true;
    document.title = 'tandem';
  }

  /** Uploads still going or waiting (worth a warning before leaving). */
  busy() {
    return this.active.size + this.queue.length > 0 || Boolean(this.direct?.busy());
  }

  resetUi() {
    ui.banner.hidden = true;
    ui.body.hidden = true;
    ui.codeBody.hidden = true;
    ui.items.replaceChildren();
    ui.uploads.replaceChildren();
    ui.peers.replaceChildren();
    ui.peerCount.textContent = '0';
    ui.itemCount.textContent = '0';
    ui.itemsEmpty.hidden = false;
    ui.ownerTools.hidden = true;
    ui.linkFallback.hidden = true;
    ui.textError.hidden = true;
    ui.textInput.value = '';
    ui.code.textContent = '';
    ui.expires.textContent = '';
    ui.qr.removeAttribute('src');
    ui.shareLink.hidden = typeof navigator.share !== 'function';
    this.setComposerEnabled(true);
  }

  /** The room's public facts, from GET /api/rooms/:room, POST or welcome. */
  setInfo(info) {
    const prev = this.info ?? {};
    this.info = { ...prev, ...info };
    const rec = roomRecord(this.id);
    if (rec && info.expires_at && rec.expires_at !== info.expires_at) saveRoomRecord(this.id, { ...rec, expires_at: info.expires_at });
    this.ownerToken = rec?.owner_token ?? null;
    ui.ownerTools.hidden = !this.ownerToken;

    this.link = rec?.url || this.info.url || `${location.origin}/r/${encodeURIComponent(this.id)}`;
    let host = location.host;
    try {
      host = new URL(this.link, location.href).host;
    } catch {
      // keep ours
    }
    ui.host.textContent = host;

    const code = String(this.info.code ?? '');
    ui.code.textContent = formatCode(code);
    ui.code.setAttribute('aria-label', code ? `Room code ${code.split('').join(' ')}` : 'Room code');
    document.title = code ? `${formatCode(code)} · tandem` : 'Room · tandem';

    const qr = rec?.qr_url || this.info.qr_url || api.qrUrl(this.id);
    if (ui.qr.getAttribute('src') !== qr) ui.qr.src = qr;

    this.tickExpiry();
    clearInterval(this.expiryTimer);
    this.expiryTimer = setInterval(() => this.tickExpiry(), 15000);
  }

  tickExpiry() {
    const exp = Date.parse(this.info?.expires_at ?? '');
    if (!Number.isFinite(exp)) {
      ui.expires.textContent = '';
      return;
    }
    const left = exp - serverNow();
    ui.expires.textContent = formatRemaining(left);
    ui.expires.parentElement.classList.toggle('soon', left < 3600000);
    ui.expires.parentElement.title = `Everything here is deleted at ${new Date(exp).toLocaleString()}`;
    // The server's sweeper says so too (room.closed); do not wait on it forever.
    if (left < -5000 && !this.ended) this.end('expired');
  }

  failToOpen(err) {
    ui.loading.hidden = true;
    if (err.status === 404) this.end('not_found');
    else if (err.status === 410) this.end('expired');
    else {
      const wait = err.retryAfter ? ` Try again in ${Math.ceil(err.retryAfter)} s.` : '';
      this.showBanner('error', err.status === 429 ? 'Too many attempts' : 'Could not open the room',
        `${err.message}${wait}`, { retry: () => this.restart() });
      setStatus('offline', 'Offline');
    }
  }

  restart() {
    ui.banner.hidden = true;
    this.start();
  }

  /* ----- banner ----- */

  showBanner(kind, title, body, { retry = null, home = false } = {}) {
    ui.banner.dataset.kind = kind;
    ui.bannerTitle.textContent = title;
    ui.bannerBody.textContent = body;
    ui.bannerRetry.hidden = !retry;
    ui.bannerRetry.onclick = retry;
    ui.bannerHome.hidden = !home;
    ui.banner.hidden = false;
  }

  /* ----- the connection ----- */

  stopTimers() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    this.retryTimer = 0;
    this.countdownTimer = 0;
  }

  connect() {
    this.stopTimers();
    if (this.ended || this.destroyed) return;
    setStatus('connecting', this.everConnected ? 'Reconnecting…' : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.id, this.seqs.done));
    } catch {
      this.onClose({ code: 1006, reason: '' });
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer'; // relayed direct-transfer frames
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      if (typeof ev.data === 'string') this.onFrame(ev.data);
      else this.direct?.onBinary(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClose(ev);
    });
  }

  onFrame(raw) {
    const msg = api.parseFrame(raw);
    if (!msg) return;
    switch (msg.type) {
      case 'welcome':
        this.onWelcome(msg);
        this.direct?.onWelcome(msg);
        break;
      case 'signal':
        this.direct?.onSignal(msg);
        break;
      case 'peer.updated':
        if (typeof msg.peer_id === 'string' && msg.peer_id !== this.selfId && this.peers.has(msg.peer_id)) {
          this.peers.set(msg.peer_id, msg);
          this.renderPeers();
        }
        this.direct?.onPeer(msg);
        break;
      case 'item':
        if (isItem(msg.item)) this.addItem(msg.item, this.connected);
        break;
      case 'item.deleted':
        if (typeof msg.id === 'string') this.removeItem(msg.id);
        this.seqs.seen(msg.seq);
        break;
      case 'peer.joined':
        if (typeof msg.peer_id === 'string' && msg.peer_id !== this.selfId) {
          this.peers.set(msg.peer_id, msg);
          this.renderPeers();
          announce(`${this.peerLabel(msg)} joined the room`);
        }
        this.direct?.onPeer(msg);
        break;
      case 'peer.left':
        if (typeof msg.peer_id === 'string' && msg.peer_id !== this.selfId) {
          const p = this.peers.get(msg.peer_id);
          this.peers.delete(msg.peer_id);
          this.renderPeers();
          if (p) announce(`${this.peerLabel(p)} left the room`);
        }
        this.direct?.onPeer(msg);
        break;
      case 'room.closed':
        this.end(msg.reason === 'expired' ? 'expired' : 'deleted');
        break;
      case 'error':
        if (msg.code === 'relay_busy') this.direct?.onRelayBusy();
        else if (typeof msg.message === 'string') toast(msg.message, 'error');
        break;
      default:
        break; // newer messages this page does not know
    }
  }

  onWelcome(msg) {
    this.connected = true;
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.retries = 0;
    this.selfId = typeof msg.peer_id === 'string' ? msg.peer_id : null;
    this.peers.clear();
    if (Array.isArray(msg.peers)) {
      for (const p of msg.peers) if (p && typeof p.peer_id === 'string' && p.peer_id !== this.selfId) this.peers.set(p.peer_id, p);
    }
    this.renderPeers();
    const update = {};
    if (typeof msg.code === 'string') update.code = msg.code;
    if (typeof msg.expires_at === 'string') update.expires_at = msg.expires_at;
    if (Object.keys(update).length) this.setInfo(update);
    if (Array.isArray(msg.items)) for (const it of msg.items) if (isItem(it)) this.addItem(it, false);
    if (!this.ended) {
      ui.banner.hidden = true;
      setStatus('online', 'Live');
      this.setComposerEnabled(true);
    }
    if (reconnected) {
      announce('Connected again');
      if (this.needsResync) this.resync();
    }
    this.needsResync = false;
  }

  /** After a gap: drops items deleted while we were away (the socket only replays new ones). */
  async resync() {
    const before = new Set(this.items.keys());
    let list;
    try {
      list = await api.listItems(this.id);
    } catch {
      return;
    }
    if (this.destroyed || this.ended) return;
    const present = new Set(list.map((it) => it.id));
    for (const id of before) if (!present.has(id)) this.removeItem(id);
    for (const it of list) if (isItem(it)) this.addItem(it, false);
  }

  onClose() {
    this.connected = false;
    if (this.ended || this.destroyed) return;
    this.needsResync = true;
    this.direct?.onDisconnect();
    // Who is here is unknown until the next welcome.
    this.peers.clear();
    this.renderPeers();
    this.retries += 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.retries - 1, 5));
    this.scheduleRetry(delay);
  }

  scheduleRetry(delay) {
    this.stopTimers();
    this.retryAt = Date.now() + delay;
    const title = this.everConnected ? 'Connection lost' : 'Cannot reach the room';
    const tick = () => {
      const s = Math.max(1, Math.ceil((this.retryAt - Date.now()) / 1000));
      setStatus('offline', `Offline · retry in ${s} s`);
      this.showBanner('warn', title,
        `Trying again in ${s} s. Anything dropped meanwhile appears once the connection is back.`,
        { retry: () => this.reconnect() });
    };
    tick();
    this.countdownTimer = setInterval(tick, 1000);
    this.retryTimer = setTimeout(() => this.reconnect(), delay);
  }

  /** Checks the room still exists (a refused WebSocket says nothing), then connects. */
  async reconnect() {
    if (this.ended || this.destroyed || this.ws) return;
    this.stopTimers();
    setStatus('connecting', 'Reconnecting…');
    ui.bannerBody.textContent = 'Reconnecting…';
    ui.bannerRetry.hidden = true;
    let info;
    try {
      info = await api.getRoom(this.id);
    } catch (err) {
      if (this.ended || this.destroyed) return;
      if (err.status === 404) this.end('gone');
      else if (err.status === 410) this.end('expired');
      else this.onClose();
      return;
    }
    if (this.ended || this.destroyed) return;
    this.setInfo(info);
    this.connect();
  }

  /** Wakes a waiting reconnect (the network came back, the tab became visible). */
  nudge() {
    if (this.retryTimer && !this.ended && !this.destroyed) this.reconnect();
  }

  /** The room is over (or never was): say so, stop everything. */
  end(reason) {
    if (this.ended) return;
    this.ended = true;
    this.connected = false;
    this.stopTimers();
    clearInterval(this.expiryTimer);
    this.cancelUploads();
    this.direct?.destroy();
    this.code?.destroy();
    this.code = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'room closed');
    if (this.id && reason !== 'not_found') saveRoomRecord(this.id, null);
    ui.loading.hidden = true;
    ui.body.hidden = true;
    ui.dropOverlay.hidden = true;
    document.title = 'tandem';
    const texts = {
      expired: ['This room has expired', 'Rooms last 24 hours. Everything that was in it has been deleted.'],
      deleted: this.deleting
        ? ['You deleted this room', 'Everything that was in it has been removed from every device.']
        : ['This room was deleted', 'Whoever made it deleted it, along with everything in it.'],
      gone: ['This room is gone', 'It expired or was deleted, along with everything in it.'],
      not_found: ['No such room', 'Check the link or the code. Rooms and their codes stop working 24 hours after they are made.'],
    };
    const [title, body] = texts[reason] ?? texts.gone;
    this.showBanner('ended', title, body, { home: true });
    setStatus('ended', reason === 'not_found' ? 'Not found' : 'Room closed');
    announce(`${title}. ${body}`);
  }

  /* ----- items ----- */

  addItem(item, live) {
    if (!isItem(item) || this.items.has(item.id)) return;
    const el = this.buildItem(item);
    this.items.set(item.id, { item, el });
    this.seqs.seen(item.seq);
    let before = null;
    for (const li of ui.items.children) {
      if (Number(li.dataset.seq) < item.seq) {
        before = li;
        break;
      }
    }
    ui.items.insertBefore(el, before);
    this.updateCounts();
    if (live) {
      el.classList.add('fresh');
      if (!this.mine.has(item.id)) {
        const who = item.alias ? ` from ${item.alias}` : '';
        announce(item.kind === 'file' ? `New file${who}: ${item.file_name}` : `New text${who}`);
      }
    }
  }

  removeItem(id) {
    const entry = this.items.get(id);
    if (!entry) return;
    this.items.delete(id);
    const focused = entry.el.contains(document.activeElement);
    const next = entry.el.nextElementSibling ?? entry.el.previousElementSibling;
    entry.el.remove();
    if (focused) (next?.querySelector('button, a') ?? ui.textInput).focus({ preventScroll: true });
    this.updateCounts();
  }

  updateCounts() {
    ui.itemCount.textContent = String(this.items.size);
    ui.itemsEmpty.hidden = this.items.size > 0;
  }

  buildItem(item) {
    const isFile = item.kind === 'file';
    const when = new Date(item.created_at ?? Date.now());
    const who = this.mine.has(item.id)
      ? 'You'
      : (typeof item.alias === 'string' && item.alias ? item.alias : 'Someone');
    const time = h('time', { dateTime: Number.isFinite(when.getTime()) ? when.toISOString() : '', text: formatWhen(when, serverNow()) });
    time.title = Number.isFinite(when.getTime()) ? when.toLocaleString() : '';
    const meta = h('p', { className: 'item-meta' }, h('span', { className: 'who', text: who }), h('span', { text: '·', attrs: { 'aria-hidden': 'true' } }), time);

    const li = h('li', { className: `item item-${isFile ? 'file' : 'text'}`, dataset: { id: item.id, seq: String(item.seq), kind: isFile ? 'file' : 'text' } });
    const actions = h('div', { className: 'item-actions' });
    let main;

    if (isFile) {
      const name = String(item.file_name ?? 'file');
      const url = typeof item.url === 'string' ? item.url : `/api/rooms/${encodeURIComponent(this.id)}/items/${encodeURIComponent(item.id)}/file`;
      let visual = fileTile(item.content_type, name);
      if (THUMB_TYPES.has(String(item.content_type).toLowerCase()) && Number(item.size) <= THUMB_MAX_BYTES) {
        const img = h('img', { className: 'thumb', src: url, alt: '', loading: 'lazy', decoding: 'async' });
        img.addEventListener('error', () => img.replaceWith(fileTile(item.content_type, name)), { once: true });
        visual = img;
      }
      main = h('div', { className: 'item-main' },
        visual,
        h('div', { className: 'item-body' },
          h('p', { className: 'file-name', text: name, title: name }),
          h('p', { className: 'file-info', text: fileDescription(item) }),
          meta));
      actions.append(h('a', {
        className: 'btn btn-sm download', href: url, download: name,
        attrs: { 'aria-label': `Download ${name}` },
      }, icon(...ICONS.download), h('span', { text: 'Download' })));
    } else {
      const text = String(item.text ?? '');
      const body = h('p', { className: 'text-body' }, linkified(text));
      const content = h('div', { className: 'item-body' }, meta, body);
      if (text.length > CLAMP_CHARS || text.split('\n').length > CLAMP_LINES) {
        body.classList.add('clamped');
        const more = h('button', { type: 'button', className: 'link-btn', text: 'Show all', attrs: { 'aria-expanded': 'false' } });
        more.addEventListener('click', () => {
          const open = body.classList.toggle('clamped') === false;
          more.textContent = open ? 'Show less' : 'Show all';
          more.setAttribute('aria-expanded', String(open));
        });
        content.append(more);
      }
      main = h('div', { className: 'item-main' }, h('span', { className: 'tile', dataset: { kind: 'note' }, attrs: { 'aria-hidden': 'true' } }, icon('M5 6h14', 'M5 11h14', 'M5 16h9')), content);
      actions.append(copyButton(() => text, 'Copy text'));
    }
    actions.append(this.deleteButton(item, isFile ? String(item.file_name ?? 'file') : 'text'));
    li.append(main, actions);
    return li;
  }

  deleteButton(item, what) {
    const label = `Delete ${what}`;
    const btn = h('button', { type: 'button', className: 'btn btn-sm btn-icon del', title: 'Delete', attrs: { 'aria-label': label } }, icon(...ICONS.trash));
    let armed = 0;
    const disarm = () => {
      clearTimeout(armed);
      armed = 0;
      btn.classList.remove('armed');
      btn.replaceChildren(icon(...ICONS.trash));
      btn.setAttribute('aria-label', label);
    };
    btn.addEventListener('click', async () => {
      if (!armed) {
        btn.classList.add('armed');
        btn.replaceChildren(icon(...ICONS.trash), h('span', { text: 'Delete?' }));
        btn.setAttribute('aria-label', `Confirm: ${label} for everyone`);
        armed = setTimeout(disarm, 4000);
        return;
      }
      disarm();
      btn.disabled = true;
      try {
        await api.deleteItem(this.id, item.id);
        this.removeItem(item.id);
        announce('Deleted');
      } catch (err) {
        btn.disabled = false;
        if (err.status === 404) this.removeItem(item.id);
        else toast(`Could not delete: ${err.message}`, 'error');
      }
    });
    btn.addEventListener('blur', () => {
      if (armed) setTimeout(() => armed && !btn.matches(':focus') && disarm(), 200);
    });
    return btn;
  }

  refreshTimes() {
    const now = serverNow();
    for (const t of ui.items.querySelectorAll('time')) {
      const d = new Date(t.dateTime);
      if (Number.isFinite(d.getTime())) t.textContent = formatWhen(d, now);
    }
  }

  /* ----- devices ----- */

  peerLabel(p) {
    if (typeof p.name === 'string' && p.name) return p.name;
    return typeof p.alias === 'string' && p.alias ? p.alias : peerName(p.peer_id);
  }

  renderPeers() {
    const rows = [];
    if (this.selfId || this.connected) {
      rows.push(h('li', { className: 'peer self', dataset: { peerId: this.selfId ?? '' } },
        h('span', { className: 'peer-icon' }, icon(...(matchMedia('(pointer: coarse)').matches ? ICONS.phone : ICONS.device))),
        h('span', { className: 'peer-name' }, h('strong', { text: 'This device' }), h('span', { className: 'muted small', text: ME }))));
    }
    const others = [...this.peers.values()].sort((a, b) => this.peerLabel(a).localeCompare(this.peerLabel(b)));
    for (const p of others) {
      rows.push(h('li', { className: 'peer', dataset: { peerId: p.peer_id } },
        h('span', { className: 'peer-icon' }, icon(...ICONS.device)),
        h('span', { className: 'peer-name' }, h('strong', { text: this.peerLabel(p) }), h('span', { className: 'muted small', text: typeof p.device === 'string' && p.device ? p.device : 'Online' }))));
    }
    ui.peers.replaceChildren(...rows);
    ui.peerCount.textContent = String(rows.length);
    ui.peersHint.hidden = others.length > 0;
  }

  /* ----- dropping things ----- */

  setComposerEnabled(on) {
    ui.textInput.disabled = !on;
    ui.textSend.disabled = !on;
    ui.fileInput.disabled = !on;
  }

  textError(msg) {
    ui.textError.textContent = msg ?? '';
    ui.textError.hidden = !msg;
    if (msg) ui.textInput.setAttribute('aria-invalid', 'true');
    else ui.textInput.removeAttribute('aria-invalid');
  }

  async sendText() {
    const text = ui.textInput.value;
    if (!text.trim()) {
      this.textError('Type or paste some text first.');
      ui.textInput.focus();
      return;
    }
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > TEXT_MAX_BYTES) {
      this.textError(`That is ${formatBytes(bytes)} of text; the limit is ${formatBytes(TEXT_MAX_BYTES)}. Drop it as a file instead.`);
      return;
    }
    this.textError(null);
    ui.textSend.disabled = true;
    ui.textSend.classList.add('busy');
    try {
      const item = await api.postText(this.id, text, ME);
      if (this.destroyed) return;
      if (isItem(item)) {
        this.mine.add(item.id);
        // The socket may have delivered it first: relabel as ours.
        if (this.items.has(item.id)) {
          const old = this.items.get(item.id).el;
          this.items.delete(item.id);
          old.remove();
        }
        this.addItem(item, false);
      }
      if (ui.textInput.value === text) ui.textInput.value = '';
      announce('Text dropped');
    } catch (err) {
      if (err.status === 404 || err.status === 410) this.end(err.status === 410 ? 'expired' : 'gone');
      else this.textError(err.message);
    } finally {
      ui.textSend.classList.remove('busy');
      if (!this.ended) ui.textSend.disabled = false;
    }
  }

  addFiles(fileList) {
    if (this.ended || !this.id) return;
    const files = [...fileList];
    for (const file of files) {
      const bar = h('progress', { max: 100, value: 0, attrs: { 'aria-label': `Uploading ${file.name}` } });
      const status = h('span', { className: 'upload-status', text: 'Waiting…' });
      const cancel = h('button', {
        type: 'button', className: 'btn btn-sm btn-icon',
        title: 'Cancel', attrs: { 'aria-label': `Cancel upload of ${file.name}` },
      }, icon(...ICONS.close));
      const row = h('li', { className: 'upload', dataset: { state: 'queued' } },
        fileTile(file.type, file.name),
        h('div', { className: 'upload-body' },
          h('p', { className: 'upload-line' },
            h('span', { className: 'file-name', text: file.name, title: file.name }),
            h('span', { className: 'upload-size', text: formatBytes(file.size) })),
          bar, status),
        cancel);
      const job = { file, row, bar, status, cancel, handle: null, state: 'queued' };
      cancel.addEventListener('click', () => this.cancelUpload(job));
      ui.uploads.append(row);
      this.queue.push(job);
    }
    if (files.length) announce(files.length === 1 ? `Uploading ${files[0].name}` : `Uploading ${files.length} files`);
    this.pump();
  }

  pump() {
    while (this.active.size < UPLOAD_CONCURRENCY && this.queue.length && !this.ended && !this.destroyed) {
      this.runUpload(this.queue.shift());
    }
  }

  async runUpload(job) {
    job.state = 'active';
    job.row.dataset.state = 'active';
    job.status.textContent = `0% · 0 of ${formatBytes(job.file.size)}`;
    this.active.add(job);
    const started = Date.now();
    job.handle = api.uploadFile(this.id, job.file, {
      alias: ME,
      onProgress: (sent, total) => {
        const pct = total ? Math.min(100, Math.floor((sent / total) * 100)) : 100;
        job.bar.value = pct;
        const secs = (Date.now() - started) / 1000;
        const rate = secs > 0.5 ? ` · ${formatBytes(sent / secs)}/s` : '';
        job.status.textContent = pct >= 100 ? '100% · finishing…' : `${pct}% · ${formatBytes(sent)} of ${formatBytes(total)}${rate}`;
      },
    });
    try {
      const item = await job.handle.promise;
      if (this.destroyed) return;
      this.mine.add(item.id);
      if (this.items.has(item.id)) {
        this.items.get(item.id).el.remove();
        this.items.delete(item.id);
      }
      this.addItem(item, false);
      job.state = 'done';
      job.row.dataset.state = 'done';
      job.bar.value = 100;
      job.status.textContent = 'Uploaded';
      job.cancel.hidden = true;
      setTimeout(() => job.row.remove(), 900);
    } catch (err) {
      if (err.code === 'aborted' || this.destroyed) {
        job.row.remove();
      } else {
        job.state = 'failed';
        job.row.dataset.state = 'failed';
        job.status.textContent = err.message;
        job.cancel.title = 'Dismiss';
        job.cancel.setAttribute('aria-label', `Dismiss the failed upload of ${job.file.name}`);
        announce(`Upload of ${job.file.name} failed: ${err.message}`);
        if (err.status === 404 || err.status === 410) this.end(err.status === 410 ? 'expired' : 'gone');
      }
    } finally {
      this.active.delete(job);
      this.pump();
    }
  }

  cancelUpload(job) {
    if (job.state === 'queued') {
      this.queue = this.queue.filter((j) => j !== job);
      job.row.remove();
    } else if (job.state === 'active') {
      job.handle?.abort();
    } else {
      job.row.remove();
    }
    if (!ui.uploads.contains(document.activeElement)) ui.textInput.focus({ preventScroll: true });
  }

  cancelUploads() {
    for (const job of this.queue) job.row.remove();
    this.queue = [];
    for (const job of [...this.active]) job.handle?.abort();
  }

  /* ----- owner ----- */

  async deleteRoom() {
    const token = this.ownerToken;
    if (!token) return;
    ui.dialog.returnValue = '';
    ui.dialog.showModal();
    const answer = await new Promise((resolve) => ui.dialog.addEventListener('close', () => resolve(ui.dialog.returnValue), { once: true }));
    if (answer !== 'ok' || this.ended) return;
    ui.deleteRoom.disabled = true;
    this.deleting = true;
    try {
      await api.deleteRoom(this.id, token);
      this.end('deleted');
    } catch (err) {
      this.deleting = false;
      if (err.status === 404 || err.status === 410) {
        this.end(err.status === 410 ? 'expired' : 'gone');
      } else if (err.status === 401) {
        saveRoomRecord(this.id, null);
        this.ownerToken = null;
        ui.ownerTools.hidden = true;
        toast('This browser\'s key to the room was not accepted, so it cannot delete it.', 'error');
      } else {
        toast(`Could not delete the room: ${err.message}`, 'error');
      }
    } finally {
      ui.deleteRoom.disabled = false;
    }
  }

  async copyLink() {
    if (await copyText(this.link)) {
      ui.copyLinkText.textContent = 'Link copied';
      ui.copyLink.classList.add('done');
      toast('Link copied. Paste it on your other device.');
      setTimeout(() => {
        ui.copyLinkText.textContent = 'Copy link';
        ui.copyLink.classList.remove('done');
      }, 2000);
    } else {
      ui.linkFallback.value = this.link;
      ui.linkFallback.hidden = false;
      ui.linkFallback.focus();
      ui.linkFallback.select();
      toast('Copying is blocked here: the link is selected, copy it by hand.', 'error');
    }
  }

  async shareLink() {
    try {
      await navigator.share({ title: 'tandem room', text: `Join my tandem room (code ${formatCode(this.info?.code)})`, url: this.link });
    } catch {
      // Dismissed.
    }
  }

  /* ----- wiring ----- */

  wire() {
    if (/Mac|iPhone|iPad/.test(navigator.platform)) {
      const kbd = document.querySelector('#text-hint kbd');
      if (kbd) kbd.textContent = '⌘';
    }
    const signal = this.listeners.signal;
    const on = (target, type, fn, opts = {}) => target.addEventListener(type, fn, { ...opts, signal });

    on(ui.textForm, 'submit', (ev) => {
      ev.preventDefault();
      this.sendText();
    });
    on(ui.textInput, 'keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        this.sendText();
      }
    });
    on(ui.textInput, 'input', () => {
      if (!ui.textError.hidden) this.textError(null);
    });
    on(ui.fileInput, 'change', () => {
      if (ui.fileInput.files?.length) this.addFiles(ui.fileInput.files);
      ui.fileInput.value = '';
    });
    on(ui.copyLink, 'click', () => this.copyLink());
    on(ui.shareLink, 'click', () => this.shareLink());
    on(ui.deleteRoom, 'click', () => this.deleteRoom());

    // Files dragged anywhere onto the page.
    const hasFiles = (ev) => [...(ev.dataTransfer?.types ?? [])].includes('Files');
    on(window, 'dragenter', (ev) => {
      if (!hasFiles(ev) || this.ended) return;
      ev.preventDefault();
      this.dragDepth += 1;
      ui.dropOverlay.hidden = false;
    });
    on(window, 'dragover', (ev) => {
      if (!hasFiles(ev) || this.ended) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
    });
    on(window, 'dragleave', (ev) => {
      if (!hasFiles(ev)) return;
      this.dragDepth = Math.max(0, this.dragDepth - 1);
      if (this.dragDepth === 0) ui.dropOverlay.hidden = true;
    });
    on(window, 'drop', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      this.dragDepth = 0;
      ui.dropOverlay.hidden = true;
      if (!this.ended && ev.dataTransfer.files.length) this.addFiles(ev.dataTransfer.files);
    });
    // Files pasted (a screenshot from the clipboard, say).
    on(document, 'paste', (ev) => {
      const files = ev.clipboardData?.files;
      if (this.ended || !files || !files.length) return;
      ev.preventDefault();
      this.addFiles(files);
    });

    on(window, 'online', () => this.nudge());
    on(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible') this.nudge();
    });
    on(window, 'beforeunload', (ev) => {
      if (this.busy()) {
        ev.preventDefault();
        ev.returnValue = '';
      }
    });
    clearInterval(this.clockTimer);
    this.clockTimer = setInterval(() => this.refreshTimes(), 30000);
  }
}

/** Opens the room view on a room id or code; `known` is its room object if we have it. */
export function openRoom(ref, known, onChat) {
  const view = new RoomView(ref, known, onChat);
  view.start();
  return view;
}
