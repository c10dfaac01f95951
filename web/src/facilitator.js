// The facilitator's pages: sign up, log in, and the dashboard of chat rooms
// (create and schedule, edit, new code, share by code, link and QR,
// transcripts, delete). The session is an httpOnly cookie; this page only
// remembers that someone signed in here (so it knows when to ask /api/me).
import * as api from './api.js';
import { serverNow } from './api.js';
import { copyText } from './clipboard.js';
import { $, h, icon, ICONS } from './dom.js';
import { formatCode, formatWait } from './format.js';
import { load, save } from './storage.js';
import { showView, toast } from './ui.js';

const SIGNED_IN_KEY = 'tandem.signed_in';
const DEFAULT_LENGTH_MS = 2 * 3600 * 1000;
const STATE_NAMES = { scheduled: 'Scheduled', open: 'Open', closed: 'Closed' };

/** The top bar's account link: "Log in", or "Dashboard" once signed in. */
export function refreshAccountLink() {
  const link = $('account-link');
  const signedIn = Boolean(load(SIGNED_IN_KEY));
  link.textContent = signedIn ? 'Dashboard' : 'Log in';
  link.setAttribute('href', signedIn ? '/dashboard' : '/login');
}

function setSignedIn(email) {
  save(SIGNED_IN_KEY, email || null);
  refreshAccountLink();
}

function setError(el, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
}

/* ---------- sign up and log in ---------- */

class AuthView {
  constructor(mode, navigate) {
    this.mode = mode; // 'login' | 'signup'
    this.navigate = navigate;
    this.lockTimer = 0;
    this.listeners = new AbortController();
  }

  start() {
    showView('auth');
    const signup = this.mode === 'signup';
    document.title = `${signup ? 'Sign up' : 'Log in'} · tandem`;
    $('auth-title').textContent = signup ? 'Make a facilitator account' : 'Log in';
    $('auth-lede').textContent = signup
      ? 'With an account you make chat rooms with a schedule, share them by code, link or QR, and keep their history.'
      : 'Facilitators log in to make chat rooms, share them and keep their history.';
    $('auth-submit').textContent = signup ? 'Sign up' : 'Log in';
    $('auth-hint').hidden = !signup;
    $('auth-password').setAttribute('autocomplete', signup ? 'new-password' : 'current-password');
    $('auth-switch-text').textContent = signup ? 'Have an account?' : 'No account yet?';
    const other = $('auth-switch');
    other.textContent = signup ? 'Log in' : 'Sign up';
    other.setAttribute('href', signup ? '/login' : '/signup');
    setError($('auth-error'), null);
    $('auth-submit').disabled = false;
    $('auth-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    }, { signal: this.listeners.signal });
    $('auth-email').focus({ preventScroll: true });
  }

  destroy() {
    clearInterval(this.lockTimer);
    this.listeners.abort();
  }

  /** After a 429: the button stays off, counting down, until Retry-After has passed. */
  lock(seconds) {
    const until = Date.now() + seconds * 1000;
    const button = $('auth-submit');
    clearInterval(this.lockTimer);
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(this.lockTimer);
        button.disabled = false;
        setError($('auth-error'), null);
        return;
      }
      button.disabled = true;
      setError($('auth-error'), `Too many attempts. Try again in ${formatWait(left)}.`);
    };
    tick();
    this.lockTimer = setInterval(tick, 1000);
  }

  async submit() {
    const email = $('auth-email').value.trim();
    const password = $('auth-password').value;
    const err = $('auth-error');
    if (!email || !password) {
      setError(err, 'Enter your email and your password.');
      return;
    }
    if (this.mode === 'signup' && [...password].length < 10) {
      setError(err, 'Choose a password of at least 10 characters.');
      return;
    }
    const button = $('auth-submit');
    button.disabled = true;
    setError(err, null);
    try {
      if (this.mode === 'signup') await api.signUp(email, password);
      const me = await api.signIn(email, password);
      setSignedIn(me?.email ?? email);
      $('auth-password').value = '';
      this.navigate('/dashboard');
    } catch (e) {
      if (e.status === 429) {
        this.lock(e.retryAfter ?? 60);
        return;
      }
      if (e.status === 401) setError(err, 'The email or the password is wrong.');
      else if (e.code === 'email_taken') setError(err, 'An account with this email exists already: log in instead.');
      else setError(err, e.message);
      button.disabled = false;
    }
  }
}

/* ---------- the dashboard ---------- */

/** "2026-11-24T18:00" in local time, for datetime-local inputs. */
function localInput(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

function when(iso) {
  const d = new Date(iso);
  return Number.isFinite(d.getTime())
    ? d.toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
    : '';
}

function stateOf(room, now) {
  if (now < Date.parse(room.opens_at)) return 'scheduled';
  if (now >= Date.parse(room.closes_at)) return 'closed';
  return 'open';
}

class DashboardView {
  constructor(navigate) {
    this.navigate = navigate;
    this.rooms = [];
    this.editing = null; // the room being edited, or null
    this.timer = 0;
    this.listeners = new AbortController();
  }

  async start() {
    showView('dashboard');
    document.title = 'Your rooms · tandem';
    this.wire();
    this.resetForm();
    let me;
    try {
      me = await api.me();
    } catch (e) {
      if (e.status === 401) {
        setSignedIn(null);
        this.navigate('/login');
        return;
      }
      setError($('dash-error'), `Could not load your rooms. ${e.message}`);
      return;
    }
    setSignedIn(me.email);
    $('dash-email').textContent = me.email;
    await this.reload();
    // States move with the clock: scheduled -> open -> closed.
    this.timer = setInterval(() => this.refreshStates(), 5000);
  }

  destroy() {
    clearInterval(this.timer);
    this.listeners.abort();
  }

  async reload() {
    try {
      const rooms = await api.myRooms();
      if (rooms === null) {
        setSignedIn(null);
        this.navigate('/login');
        return;
      }
      this.rooms = rooms;
      setError($('dash-error'), null);
      this.renderRooms();
    } catch (e) {
      setError($('dash-error'), `Could not load your rooms. ${e.message}`);
    }
  }

  wire() {
    const opts = { signal: this.listeners.signal };
    $('logout').addEventListener('click', () => this.logout(), opts);
    $('room-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.saveRoom();
    }, opts);
    $('rf-cancel').addEventListener('click', () => this.resetForm(), opts);
    $('rf-keep').addEventListener('change', () => {
      $('rf-password').disabled = $('rf-keep').checked;
    }, opts);
  }

  async logout() {
    try {
      await api.signOut();
    } catch {
      // Signed out here anyway: the cookie may already be gone.
    }
    setSignedIn(null);
    this.navigate('/login');
  }

  resetForm() {
    this.editing = null;
    const now = serverNow();
    const start = Math.ceil(now / 300000) * 300000 - 300000; // open now, on a round 5 minutes
    $('room-form-title').textContent = 'New chat room';
    $('rf-title').value = '';
    $('rf-opens').value = localInput(start);
    $('rf-closes').value = localInput(start + DEFAULT_LENGTH_MS);
    $('rf-password').value = '';
    $('rf-password').disabled = false;
    $('rf-keep-wrap').hidden = true;
    $('rf-submit').textContent = 'Create room';
    $('rf-cancel').hidden = true;
    setError($('rf-error'), null);
  }

  edit(room) {
    this.editing = room;
    $('room-form-title').textContent = `Edit “${room.title}”`;
    $('rf-title').value = room.title;
    $('rf-opens').value = localInput(Date.parse(room.opens_at));
    $('rf-closes').value = localInput(Date.parse(room.closes_at));
    $('rf-password').value = '';
    $('rf-keep-wrap').hidden = !room.has_password;
    $('rf-keep').checked = room.has_password;
    $('rf-password').disabled = room.has_password;
    $('rf-submit').textContent = 'Save changes';
    $('rf-cancel').hidden = false;
    setError($('rf-error'), null);
    $('rf-title').focus();
    $('room-form').scrollIntoView({ block: 'nearest' });
  }

  formFields() {
    const title = $('rf-title').value.trim();
    const opens = Date.parse($('rf-opens').value);
    const closes = Date.parse($('rf-closes').value);
    if (!title) return { error: 'Give the room a title.' };
    if (!Number.isFinite(opens) || !Number.isFinite(closes)) return { error: 'Pick when the room opens and when it closes.' };
    if (closes <= opens) return { error: 'The room must close after it opens.' };
    const fields = { title, opens_at: new Date(opens).toISOString(), closes_at: new Date(closes).toISOString() };
    const password = $('rf-password').value;
    if (!this.editing) {
      if (password) fields.password = password;
    } else if (!this.editing.has_password || !$('rf-keep').checked) {
      // Editing: an empty box on a room that had a password removes it.
      if (password) fields.password = password;
      else if (this.editing.has_password) fields.password = null;
    }
    if (typeof fields.password === 'string' && [...fields.password].length < 4) return { error: 'A password has at least 4 characters.' };
    return { fields };
  }

  async saveRoom() {
    const { fields, error } = this.formFields();
    const err = $('rf-error');
    if (error) {
      setError(err, error);
      return;
    }
    const button = $('rf-submit');
    button.disabled = true;
    try {
      if (this.editing) {
        await api.updateRoom(this.editing.id, fields);
        toast('Saved.');
      } else {
        await api.createChatRoom(fields);
        toast('Room created. Share its code, link or QR.');
      }
      this.resetForm();
      await this.reload();
    } catch (e) {
      if (e.status === 401) {
        setSignedIn(null);
        this.navigate('/login');
        return;
      }
      setError(err, e.code === 'title_taken' ? 'You have a room with this title already: choose another.' : e.message);
    } finally {
      button.disabled = false;
    }
  }

  refreshStates() {
    const now = serverNow();
    for (const li of $('dash-rooms').children) {
      const room = this.rooms.find((r) => r.id === li.dataset.id);
      if (!room) continue;
      const state = stateOf(room, now);
      if (li.dataset.state === state) continue;
      room.state = state;
      li.replaceWith(this.roomCard(room));
    }
  }

  renderRooms() {
    $('dash-count').textContent = String(this.rooms.length);
    $('dash-empty').hidden = this.rooms.length > 0;
    $('dash-rooms').replaceChildren(...this.rooms.map((r) => this.roomCard(r)));
  }

  roomCard(room) {
    const state = stateOf(room, serverNow());
    const link = room.url || `${location.origin}/r/${room.id}`;
    const qr = h('img', { className: 'qr droom-qr', width: 160, height: 160, alt: `QR code with the link to ${room.title}` });
    const share = h('details', { className: 'droom-share' },
      h('summary', { text: 'Share: code, link, QR' }),
      h('div', { className: 'droom-share-body' },
        qr,
        h('div', { className: 'droom-share-text' },
          h('p', { className: 'eyebrow', text: 'Code' }),
          h('p', { className: 'code droom-code', text: formatCode(room.code) }),
          h('p', { className: 'eyebrow', text: 'Link' }),
          h('div', { className: 'row' },
            h('input', { type: 'text', className: 'mono droom-link', value: link, readOnly: true, attrs: { 'aria-label': 'Room link' } }),
            this.copyButton(link)))));
    share.addEventListener('toggle', () => {
      if (share.open && !qr.getAttribute('src')) qr.src = room.qr_url || api.qrUrl(room.id);
    });
    const actions = h('div', { className: 'droom-actions' },
      h('a', { className: 'btn btn-sm btn-primary', href: `/r/${encodeURIComponent(room.id)}`, dataset: { nav: '' }, text: state === 'closed' ? 'Read history' : 'Open room' }),
      this.button('Edit', () => this.edit(room)),
      this.button('New code', () => this.rotate(room)),
      h('a', { className: 'btn btn-sm', href: api.transcriptUrl(room.id, 'md'), download: '', text: 'Transcript .md' }),
      h('a', { className: 'btn btn-sm', href: api.transcriptUrl(room.id, 'csv'), download: '', text: '.csv' }),
      this.deleteButton(room));
    return h('li', { className: 'card droom', dataset: { id: room.id, state } },
      h('div', { className: 'droom-head' },
        h('h4', { className: 'droom-title', text: room.title }),
        h('span', { className: 'badge', dataset: { state }, text: STATE_NAMES[state] })),
      h('p', { className: 'muted small droom-times' },
        h('span', { text: `Opens ${when(room.opens_at)}` }), ' · ',
        h('span', { text: `Closes ${when(room.closes_at)}` }),
        room.has_password ? ' · Password' : '',
        state === 'open' && room.members_online ? ` · ${room.members_online} here now` : ''),
      share, actions);
  }

  button(text, onClick) {
    return h('button', { type: 'button', className: 'btn btn-sm', text, on: { click: onClick } });
  }

  copyButton(text) {
    const btn = h('button', { type: 'button', className: 'btn btn-sm', attrs: { 'aria-label': 'Copy link' } }, icon(...ICONS.copy), h('span', { text: 'Copy' }));
    btn.addEventListener('click', async () => {
      if (await copyText(text)) toast('Link copied.');
      else toast('Could not copy. Select the link and copy it by hand.', 'error');
    });
    return btn;
  }

  deleteButton(room) {
    const btn = h('button', { type: 'button', className: 'btn btn-sm btn-danger-quiet', text: 'Delete' });
    btn.addEventListener('click', async () => {
      if (!btn.classList.contains('armed')) {
        btn.classList.add('armed');
        btn.textContent = 'Delete for good?';
        setTimeout(() => {
          btn.classList.remove('armed');
          btn.textContent = 'Delete';
        }, 4000);
        return;
      }
      try {
        await api.deleteOwnedRoom(room.id);
        toast(`“${room.title}” deleted.`);
        await this.reload();
      } catch (e) {
        toast(`Could not delete it. ${e.message}`, 'error');
      }
    });
    return btn;
  }

  async rotate(room) {
    try {
      const updated = await api.updateRoom(room.id, { rotate_code: true });
      toast(`New code: ${formatCode(updated.code)}. The old one no longer works.`);
      await this.reload();
    } catch (e) {
      toast(`Could not change the code. ${e.message}`, 'error');
    }
  }
}

export function openAuth(mode, navigate) {
  const view = new AuthView(mode, navigate);
  view.start();
  return view;
}

export function openDashboard(navigate) {
  const view = new DashboardView(navigate);
  view.start();
  return view;
}
