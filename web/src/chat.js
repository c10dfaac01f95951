// A facilitator's chat room, as its participants (and its owner) see it:
// the gate before it opens (a countdown), a password to unlock, the live
// conversation in a windowed list, presence, typing, the composer, and the
// owner's moderation (delete a message, remove a member). A closed room is
// its owner's read-only history. Every message is text: textContent only.
import * as api from './api.js';
import { serverNow } from './api.js';
import { copyText } from './clipboard.js';
import { $, h, icon, ICONS } from './dom.js';
import { formatCode, formatWait } from './format.js';
import { MessageWindow } from './msgwindow.js';
import { load, save } from './storage.js';
import { announce, setStatus, showView, toast } from './ui.js';

const TEXT_MAX_BYTES = 4096; // the server's limit on a chat message
const HISTORY_PAGE = 100; // newest messages fetched on entering
const OLDER_PAGE = 200; // each page back through history
const TYPING_SEND_MS = 2500; // at most one "typing" this often
const TYPING_SHOW_MS = 4000; // how long someone counts as typing
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const DEVICE_KEY = 'tandem.chat.device';
const SIGNED_IN_KEY = 'tandem.signed_in';
const aliasKey = (id) => `tandem.chat.alias.${id}`;
const tokenKey = (id) => `tandem.chat.token.${id}`;
const utf8 = new TextEncoder();

/** This browser's device key (kept: the server gives the same device its alias back). */
function deviceKey() {
  const old = load(DEVICE_KEY);
  if (old && /^[A-Za-z0-9_-]{16,64}$/.test(old)) return old;
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const key = Array.from(bytes, (b) => abc[b % abc.length]).join('');
  save(DEVICE_KEY, key);
  return key;
}

/** "14:05" today, "Tue 24 Nov, 14:05" otherwise. */
function clock(iso, now = Date.now()) {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '';
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (new Date(now).toDateString() === d.toDateString()) return time;
  return `${d.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' })}, ${time}`;
}

/** "2 d 3 h", "1 h 04 min", "4 min 09 s", "9 s": what a countdown shows. */
function countdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${two(min)} min`;
  if (min) return `${min} min ${two(sec)} s`;
  return `${sec} s`;
}

function stateAt(info, now) {
  const opens = Date.parse(info.opens_at ?? '');
  const closes = Date.parse(info.closes_at ?? '');
  if (Number.isFinite(opens) && now < opens) return 'scheduled';
  if (Number.isFinite(closes) && now >= closes) return 'closed';
  return 'open';
}

const ui = {};
function bindUi() {
  if (ui.list) return;
  for (const [key, id] of Object.entries({
    title: 'chat-title', sub: 'chat-sub', dash: 'chat-dash', gate: 'chat-gate', gateTitle: 'gate-title',
    gateBody: 'gate-body', gateCountdown: 'gate-countdown', gateForm: 'gate-form', gatePassword: 'gate-password',
    gateSubmit: 'gate-submit', gateError: 'gate-error', body: 'chat-body', scroll: 'chat-scroll', list: 'chat-list',
    older: 'chat-older', newBtn: 'chat-new', typing: 'chat-typing', form: 'chat-form', input: 'chat-input',
    send: 'chat-send', error: 'chat-error', readonly: 'chat-readonly', aliasForm: 'alias-form',
    aliasInput: 'alias-input', members: 'chat-members', memberCount: 'chat-member-count',
  })) ui[key] = $(id);
}

class ChatView {
  constructor(ref, known) {
    bindUi();
    this.ref = ref;
    this.known = known ?? null;
    this.id = null;
    this.info = null;
    this.owner = false;
    this.token = null;
    this.alias = '';
    this.device = deviceKey();
    this.members = new Map(); // peer -> alias
    this.typists = new Map(); // alias -> until (ms)
    this.ws = null;
    this.connected = false;
    this.ended = false;
    this.destroyed = false;
    this.readOnly = false;
    this.retries = 0;
    this.retryTimer = 0;
    this.gateTimer = 0;
    this.typingTimer = 0;
    this.lastTypingSent = 0;
    this.lastSent = '';
    this.unseen = 0;
    this.loadingOlder = false;
    this.hasOlder = false;
    this.errorTimer = 0;
    this.notBefore = 0; // after the server said "not open yet": no new try before this
    this.listeners = new AbortController();
    this.window = new MessageWindow(ui.scroll, ui.list, (m) => this.renderMessage(m), {
      onNearTop: () => this.loadOlder(),
      onStick: (atBottom) => {
        if (atBottom) this.clearUnseen();
      },
    });
  }

  /* ----- life cycle ----- */

  async start() {
    showView('chat');
    this.resetUi();
    setStatus('connecting', 'Opening…');
    let info = this.known;
    try {
      if (!info) info = await api.getRoom(this.ref);
    } catch (err) {
      if (this.destroyed) return;
      setStatus(null);
      if (err.status === 404 || err.status === 410) this.gate('No such room', 'Check the code or the link: this room does not exist, or its owner deleted it.');
      else this.gate('Could not open the room', err.message);
      return;
    }
    if (this.destroyed) return;
    this.id = String(info.id);
    const path = `/r/${encodeURIComponent(this.id)}`;
    if (location.pathname !== path) history.replaceState(history.state, '', path);
    this.token = load(tokenKey(this.id));
    this.setInfo(info);
    this.wire();
    // Only someone who signed in on this browser can be the owner: ask then.
    if (load(SIGNED_IN_KEY)) {
      const rooms = await api.myRooms().catch(() => null);
      if (this.destroyed) return;
      if (rooms === null) save(SIGNED_IN_KEY, null);
      this.owner = Boolean(rooms?.some((r) => r.id === this.id));
      ui.dash.hidden = !this.owner;
    }
    this.proceed();
  }

  destroy() {
    this.destroyed = true;
    this.ended = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.gateTimer);
    clearInterval(this.typingTimer);
    clearTimeout(this.errorTimer);
    this.listeners.abort();
    this.window.destroy();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
    document.title = 'tandem';
  }

  busy() {
    return false;
  }

  resetUi() {
    ui.gate.hidden = true;
    ui.body.hidden = true;
    ui.dash.hidden = true;
    ui.title.textContent = 'Chat room';
    ui.sub.textContent = '';
    ui.members.replaceChildren();
    ui.memberCount.textContent = '0';
    ui.typing.textContent = '';
    ui.typing.hidden = false;
    ui.newBtn.hidden = true;
    ui.older.hidden = true;
    ui.error.hidden = true;
    ui.readonly.hidden = true;
    ui.form.hidden = false;
    ui.aliasForm.hidden = false;
    ui.input.value = '';
    ui.gateError.hidden = true;
  }

  setInfo(info) {
    this.info = { ...(this.info ?? {}), ...info };
    const i = this.info;
    ui.title.textContent = i.title || 'Chat room';
    document.title = `${i.title || 'Chat'} · tandem`;
    this.renderSub();
  }

  renderSub() {
    const i = this.info;
    const now = serverNow();
    const state = stateAt(i, now);
    const code = i.code ? `Code ${formatCode(i.code)}` : '';
    const when = state === 'scheduled' ? `Opens ${clock(i.opens_at, now)}`
      : state === 'open' ? `Open until ${clock(i.closes_at, now)}` : `Closed ${clock(i.closes_at, now)}`;
    ui.sub.textContent = [when, code, i.has_password ? 'Password' : ''].filter(Boolean).join(' · ');
  }

  /** Goes where the room's schedule and lock say. */
  proceed() {
    clearInterval(this.gateTimer);
    const state = stateAt(this.info, serverNow());
    this.renderSub();
    if (state === 'closed') {
      if (this.owner) this.openHistory();
      else this.closedGate();
    } else if (state === 'scheduled') {
      this.countdownGate();
    } else if (this.info.has_password && !this.token) {
      this.passwordGate();
    } else {
      this.enter();
    }
  }

  /* ----- the gate: not open yet, locked, closed, removed ----- */

  gate(title, body) {
    ui.body.hidden = true;
    ui.gate.hidden = false;
    ui.gateTitle.textContent = title;
    ui.gateBody.textContent = body;
    ui.gateCountdown.hidden = true;
    ui.gateForm.hidden = true;
    ui.gateError.hidden = true;
  }

  countdownGate() {
    const opens = Date.parse(this.info.opens_at);
    this.gate('This room is not open yet', `It opens at ${new Date(opens).toLocaleString()}. This page joins by itself when it does.`);
    setStatus('connecting', 'Waiting to open');
    ui.gateCountdown.hidden = false;
    const tick = () => {
      const left = opens - serverNow();
      // Clocks differ by a little: when the server refused although our clock
      // says open, wait a moment rather than asking again at once.
      if (left <= 0 && Date.now() >= this.notBefore) {
        clearInterval(this.gateTimer);
        this.proceed();
        return;
      }
      ui.gateCountdown.textContent = left > 0 ? `Opens in ${countdown(left)}` : 'Opening…';
    };
    tick();
    this.gateTimer = setInterval(tick, 250);
  }

  closedGate(deleted = false) {
    this.ended = true;
    setStatus('ended', 'Closed');
    if (deleted) this.gate('This room was deleted', 'Its owner deleted it; nothing more can be said here.');
    else this.gate('This room is closed', `It closed at ${new Date(this.info.closes_at).toLocaleString()}. Only its owner can read the conversation now.`);
  }

  passwordGate(message = '') {
    this.gate('This room has a password', 'Ask the person who shared it for the password.');
    setStatus(null);
    ui.gateForm.hidden = false;
    ui.gatePassword.value = '';
    this.gateError(message);
    ui.gatePassword.focus();
  }

  gateError(text) {
    ui.gateError.textContent = text;
    ui.gateError.hidden = !text;
  }

  async unlock() {
    const password = ui.gatePassword.value;
    if (!password) {
      this.gateError('Type the room\'s password.');
      return;
    }
    ui.gateSubmit.disabled = true;
    try {
      this.token = await api.unlockRoom(this.id, password);
      save(tokenKey(this.id), this.token);
      ui.gate.hidden = true;
      this.enter();
    } catch (err) {
      if (err.status === 403) this.gateError('That is not the password. Check it and try again.');
      else if (err.status === 429) this.gateError(`Too many tries. Try again in ${formatWait(err.retryAfter ?? 60)}.`);
      else if (err.code === 'no_password') {
        this.info.has_password = false;
        this.enter();
      } else this.gateError(err.message);
    } finally {
      ui.gateSubmit.disabled = false;
    }
  }

  /* ----- entering: history, then the live socket ----- */

  showBody() {
    ui.gate.hidden = true;
    ui.body.hidden = false;
    clearInterval(this.gateTimer);
  }

  async enter() {
    this.showBody();
    this.window.clear();
    const ok = await this.loadNewest();
    if (!ok || this.destroyed) return;
    this.connect();
    if (!matchMedia('(hover: none)').matches) ui.input.focus({ preventScroll: true });
  }

  /** The owner's view of a closed room: the history, read-only. */
  async openHistory() {
    this.readOnly = true;
    this.ended = true;
    this.showBody();
    ui.form.hidden = true;
    ui.aliasForm.hidden = true;
    ui.readonly.hidden = false;
    ui.typing.hidden = true;
    this.renderMembers();
    setStatus('ended', 'Closed');
    this.window.clear();
    await this.loadNewest();
  }

  async loadNewest() {
    try {
      const msgs = await api.listMessages(this.id, { limit: HISTORY_PAGE, token: this.token });
      if (this.destroyed) return false;
      this.hasOlder = msgs.length === HISTORY_PAGE;
      this.window.append(msgs);
      this.window.scrollToBottom();
      return true;
    } catch (err) {
      if (this.destroyed) return false;
      return this.refused(err.code, err.message);
    }
  }

  async loadOlder() {
    const first = this.window.first();
    if (this.loadingOlder || !this.hasOlder || !first) return;
    this.loadingOlder = true;
    ui.older.hidden = false;
    try {
      const msgs = await api.listMessages(this.id, { before: first.id, limit: OLDER_PAGE, token: this.token });
      if (this.destroyed) return;
      this.hasOlder = msgs.length === OLDER_PAGE;
      this.window.prepend(msgs);
    } catch (err) {
      if (!this.destroyed) this.composerError(`Could not load older messages. ${err.message}`);
    } finally {
      this.loadingOlder = false;
      ui.older.hidden = true;
    }
  }

  /** A refusal by REST or WebSocket; false when it ends the visit (for now). */
  refused(code, message, extra = {}) {
    switch (code) {
      case 'room_not_open':
        if (extra.opens_at) this.info.opens_at = extra.opens_at;
        this.notBefore = Date.now() + 1500;
        this.countdownGate();
        return false;
      case 'room_closed':
        this.proceedClosed();
        return false;
      case 'locked':
        this.token = null;
        save(tokenKey(this.id), null);
        this.passwordGate(this.info.has_password ? 'Enter the password again: it changed, or the server restarted.' : '');
        this.info.has_password = true;
        return false;
      case 'removed':
        this.ended = true;
        setStatus('ended', 'Removed');
        this.gate('You were removed from this room', 'The room\'s owner removed this device from the conversation.');
        return false;
      case 'replaced':
        this.ended = true;
        setStatus('ended', 'Open elsewhere');
        this.gate('This room is open in another tab', 'This device joined again somewhere else. Reload to use it here.');
        return false;
      default:
        this.composerError(message || 'Something went wrong.');
        return true;
    }
  }

  proceedClosed() {
    this.info.closes_at = this.info.closes_at && Date.parse(this.info.closes_at) <= serverNow()
      ? this.info.closes_at : new Date(serverNow()).toISOString();
    this.renderSub();
    if (this.owner) this.openHistory();
    else this.closedGate();
  }

  wsUrl() {
    const q = new URLSearchParams({ device: this.device });
    const alias = load(aliasKey(this.id));
    if (alias) q.set('alias', alias);
    if (this.token) q.set('token', this.token);
    q.set('after', String(this.window.last()?.id ?? 0));
    return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/${encodeURIComponent(this.id)}?${q}`;
  }

  connect() {
    if (this.destroyed || this.ended) return;
    clearTimeout(this.retryTimer);
    setStatus('connecting', this.retries ? 'Reconnecting…' : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(this.wsUrl());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      const msg = api.parseFrame(ev.data);
      if (msg) this.onMessage(msg);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.connected = false;
      this.members.clear();
      this.renderMembers();
      if (!this.ended && !this.destroyed) this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.retries);
    this.retries++;
    setStatus('offline', `Offline, retrying in ${Math.ceil(wait / 1000)} s`);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  /** Joins again under another alias (the same device replaces its socket). */
  rejoin() {
    this.detachSocket();
    this.retries = 0;
    this.connect();
  }

  send(obj) {
    if (!this.connected || !this.ws) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        this.connected = true;
        this.retries = 0;
        this.alias = String(msg.alias ?? '');
        if (document.activeElement !== ui.aliasInput) ui.aliasInput.value = this.alias;
        this.setInfo({ title: msg.title, code: msg.code, opens_at: msg.opens_at, closes_at: msg.closes_at });
        setStatus('online', 'Connected');
        this.window.refreshAll();
        break;
      case 'presence':
        this.members = new Map((msg.members ?? []).map((m) => [String(m.peer), String(m.alias)]));
        this.renderMembers();
        break;
      case 'peer.joined':
        this.members.set(String(msg.peer), String(msg.alias));
        this.renderMembers();
        break;
      case 'peer.left':
        this.members.delete(String(msg.peer));
        this.typists.delete(String(msg.alias));
        this.renderMembers();
        this.renderTyping();
        break;
      case 'chat.message':
        this.onChat(msg);
        break;
      case 'chat.deleted':
        this.window.remove(Number(msg.id));
        break;
      case 'typing':
        if (msg.alias && msg.alias !== this.alias) {
          this.typists.set(String(msg.alias), Date.now() + TYPING_SHOW_MS);
          this.renderTyping();
        }
        break;
      case 'room.closed':
        this.ended = true;
        if (msg.reason === 'deleted') this.closedGate(true);
        else this.proceedClosed();
        break;
      case 'error':
        this.onError(msg);
        break;
      default:
        break;
    }
  }

  onChat(msg) {
    const m = { id: Number(msg.id), alias: String(msg.alias ?? ''), text: String(msg.text ?? ''), created_at: msg.created_at };
    if (!Number.isFinite(m.id)) return;
    this.typists.delete(m.alias);
    this.renderTyping();
    const mine = m.alias === this.alias;
    const wasAtBottom = this.window.stick;
    if (!this.window.append([m])) return;
    if (mine && !wasAtBottom) this.window.scrollToBottom();
    else if (!wasAtBottom) {
      this.unseen++;
      ui.newBtn.textContent = `${this.unseen} new message${this.unseen === 1 ? '' : 's'} ↓`;
      ui.newBtn.hidden = false;
    }
    if (!mine) announce(`${m.alias}: ${m.text.slice(0, 140)}`);
  }

  onError(msg) {
    const code = String(msg.code ?? '');
    if (code === 'rate_limited') {
      if (!ui.input.value && this.lastSent) ui.input.value = this.lastSent;
      this.composerError('You are sending too fast: wait a moment, then send again.');
    } else if (code === 'bad_text') {
      if (!ui.input.value && this.lastSent) ui.input.value = this.lastSent;
      this.composerError(`That message is too long: at most ${TEXT_MAX_BYTES} bytes (about 4,000 letters).`);
    } else if (code === 'bad_message' || code === 'bad_json' || code === 'unknown_type') {
      this.composerError(String(msg.message ?? 'The server did not understand that.'));
    } else {
      // A refusal: the server closes this socket, and the gate decides what next.
      this.detachSocket();
      this.refused(code, String(msg.message ?? ''), msg);
    }
  }

  detachSocket() {
    const ws = this.ws;
    this.ws = null;
    this.connected = false;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'refused');
    this.members.clear();
    this.renderMembers();
  }

  clearUnseen() {
    this.unseen = 0;
    ui.newBtn.hidden = true;
  }

  /* ----- rendering ----- */

  renderMessage(m) {
    const mine = m.alias === this.alias && !this.readOnly;
    const actions = h('span', { className: 'msg-actions' },
      h('button', { type: 'button', className: 'btn btn-sm msg-btn', dataset: { act: 'copy' }, attrs: { 'aria-label': `Copy the message from ${m.alias}` } },
        icon(...ICONS.copy), h('span', { text: 'Copy' })));
    if (this.owner) {
      actions.append(h('button', { type: 'button', className: 'btn btn-sm msg-btn del', dataset: { act: 'delete' }, attrs: { 'aria-label': `Delete the message from ${m.alias}` } },
        icon(...ICONS.trash), h('span', { text: 'Delete' })));
    }
    return h('article', { className: `msg${mine ? ' msg-mine' : ''}`, dataset: { id: String(m.id) } },
      h('header', { className: 'msg-head' },
        h('span', { className: 'msg-alias', text: m.alias || 'Someone' }),
        h('time', { className: 'msg-time', text: clock(m.created_at), attrs: { datetime: String(m.created_at ?? '') } }),
        actions),
      h('p', { className: 'msg-text', text: m.text }));
  }

  renderMembers() {
    const aliases = [...this.members.values()].sort((a, b) => a.localeCompare(b));
    ui.memberCount.textContent = String(aliases.length);
    ui.members.replaceChildren(...aliases.map((alias) => {
      const me = alias === this.alias;
      const li = h('li', { className: `member${me ? ' self' : ''}`, dataset: { alias } },
        h('span', { className: 'member-dot', attrs: { 'aria-hidden': 'true' } }),
        h('span', { className: 'member-name', text: alias }),
        me ? h('span', { className: 'muted small', text: '(you)' }) : null);
      if (this.owner && !me && !this.readOnly) {
        li.append(h('button', { type: 'button', className: 'btn btn-sm del member-remove', dataset: { act: 'remove' }, text: 'Remove', attrs: { 'aria-label': `Remove ${alias} from the room` } }));
      }
      return li;
    }));
    if (!aliases.length) ui.members.append(h('li', { className: 'muted small', text: this.readOnly ? 'The room is closed.' : 'Nobody yet.' }));
  }

  renderTyping() {
    const now = Date.now();
    for (const [alias, until] of this.typists) if (until <= now) this.typists.delete(alias);
    const names = [...this.typists.keys()];
    ui.typing.textContent = names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…`
        : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
  }

  composerError(text) {
    ui.error.textContent = text;
    ui.error.hidden = !text;
    clearTimeout(this.errorTimer);
    if (text) this.errorTimer = setTimeout(() => (ui.error.hidden = true), 8000);
  }

  /* ----- actions ----- */

  submit() {
    const text = ui.input.value;
    if (!text.trim()) return;
    const bytes = utf8.encode(text).length;
    if (bytes > TEXT_MAX_BYTES) {
      this.composerError(`That message is too long: ${bytes} bytes, and the limit is ${TEXT_MAX_BYTES} (about 4,000 letters).`);
      return;
    }
    if (!this.send({ type: 'chat', text })) {
      this.composerError('Not connected right now: your message is still here; send it again once connected.');
      return;
    }
    this.lastSent = text;
    this.lastTypingSent = 0; // the next keystroke is news again
    this.composerError('');
    ui.input.value = '';
    this.fitInput();
    this.window.scrollToBottom();
  }

  fitInput() {
    ui.input.style.height = 'auto';
    ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 180)}px`;
  }

  async onListClick(ev) {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-act]') : null;
    const row = btn?.closest('.msg');
    if (!btn || !row) return;
    const m = this.window.get(Number(row.dataset.id));
    if (!m) return;
    if (btn.dataset.act === 'copy') {
      const ok = await copyText(m.text);
      if (!ok) {
        toast('Could not copy. Select the text and copy it by hand.', 'error');
        return;
      }
      btn.classList.add('done');
      btn.lastChild.textContent = 'Copied';
      announce('Copied to the clipboard');
      setTimeout(() => {
        btn.classList.remove('done');
        btn.lastChild.textContent = 'Copy';
      }, 1600);
    } else if (btn.dataset.act === 'delete') {
      // Two clicks: the first arms the button, so a slip deletes nothing.
      if (!btn.classList.contains('armed')) {
        btn.classList.add('armed');
        btn.lastChild.textContent = 'Delete?';
        setTimeout(() => {
          btn.classList.remove('armed');
          btn.lastChild.textContent = 'Delete';
        }, 4000);
        return;
      }
      try {
        await api.deleteMessage(this.id, m.id);
        this.window.remove(m.id);
      } catch (err) {
        toast(`Could not delete it. ${err.message}`, 'error');
      }
    }
  }

  async onMemberClick(ev) {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-act="remove"]') : null;
    const alias = btn?.closest('li')?.dataset.alias;
    if (!btn || !alias) return;
    if (!btn.classList.contains('armed')) {
      btn.classList.add('armed');
      btn.textContent = 'Remove?';
      return;
    }
    try {
      await api.removeMember(this.id, alias);
      toast(`${alias} was removed and cannot come back.`);
    } catch (err) {
      toast(`Could not remove ${alias}. ${err.message}`, 'error');
    }
  }

  wire() {
    const opts = { signal: this.listeners.signal };
    ui.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    }, opts);
    ui.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.submit();
      }
    }, opts);
    ui.input.addEventListener('input', () => {
      this.fitInput();
      const now = Date.now();
      if (ui.input.value && now - this.lastTypingSent > TYPING_SEND_MS && this.send({ type: 'typing' })) this.lastTypingSent = now;
    }, opts);
    ui.newBtn.addEventListener('click', () => {
      this.window.scrollToBottom();
      this.clearUnseen();
    }, opts);
    ui.list.addEventListener('click', (ev) => this.onListClick(ev), opts);
    ui.members.addEventListener('click', (ev) => this.onMemberClick(ev), opts);
    ui.gateForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.unlock();
    }, opts);
    ui.aliasForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const alias = ui.aliasInput.value.trim();
      if (!alias || alias === this.alias) return;
      if (utf8.encode(alias).length > 40) {
        this.composerError('A name has at most 40 bytes.');
        return;
      }
      save(aliasKey(this.id), alias);
      ui.aliasInput.blur();
      this.rejoin();
    }, opts);
    this.typingTimer = setInterval(() => {
      if (this.typists.size) this.renderTyping();
      this.renderSub();
    }, 1000);
  }
}

/** Opens a chat room by id or code; `known` is its room object if we have it. */
export function openChat(ref, known) {
  const view = new ChatView(ref, known);
  view.start();
  return view;
}
