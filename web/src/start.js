// The start page: make a new room (for dropping things, or a code room in a
// language), or join one with its 6-digit code.
import * as api from './api.js';
import { $, h } from './dom.js';
import { formatCode, formatWait } from './format.js';
import { LANGUAGES } from './languages.js';
import { saveRoomRecord } from './storage.js';
import { showView } from './ui.js';

let wired = false;
let navigateTo = null;
let lockTimer = 0;
let lockedUntil = 0;

function setError(el, input, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
  if (!input) return;
  if (text) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

function setBusy(button, busy, label) {
  button.disabled = busy;
  button.classList.toggle('busy', busy);
  button.setAttribute('aria-busy', String(busy));
  if (label) button.textContent = label;
}

/** Makes a room (body as POST /api/rooms takes it) and goes in. */
async function newRoom(body, button, err, label) {
  setError(err, null, null);
  const text = button.querySelector('span') ?? button;
  button.disabled = true;
  button.classList.add('busy');
  button.setAttribute('aria-busy', 'true');
  text.textContent = 'Creating…';
  try {
    const room = await api.createRoom(body);
    saveRoomRecord(room.id, {
      owner_token: room.owner_token, url: room.url, qr_url: room.qr_url, expires_at: room.expires_at,
    });
    const { owner_token: _secret, ...pub } = room;
    navigateTo(`/r/${encodeURIComponent(room.id)}`, pub);
  } catch (e) {
    const wait = e.status === 429 && e.retryAfter ? ` Try again in ${formatWait(e.retryAfter)}.` : '';
    setError(err, null, `Could not make a room. ${e.message}${wait}`);
  } finally {
    setBusy(button, false);
    text.textContent = label;
  }
}

/** After a 429: keeps the join button off, counting down, until Retry-After has passed. */
function lockJoin(seconds, code) {
  const button = $('join-button');
  const err = $('join-error');
  lockedUntil = Date.now() + seconds * 1000;
  clearInterval(lockTimer);
  const tick = () => {
    const left = (lockedUntil - Date.now()) / 1000;
    if (left <= 0) {
      clearInterval(lockTimer);
      button.disabled = false;
      setError(err, $('code-input'), null);
      return;
    }
    button.disabled = true;
    setError(err, $('code-input'),
      `Too many code lookups from your network${code ? ` (last: ${formatCode(code)})` : ''}. Try again in ${formatWait(left)}.`);
  };
  tick();
  lockTimer = setInterval(tick, 1000);
}

async function join() {
  const input = $('code-input');
  const button = $('join-button');
  const err = $('join-error');
  if (Date.now() < lockedUntil) return;
  const code = input.value.replace(/\D/g, '');
  if (code.length !== 6) {
    setError(err, input, code.length ? `A code has 6 digits; that is ${code.length}.` : 'Enter the 6-digit code shown on the other device.');
    input.focus();
    return;
  }
  setError(err, input, null);
  setBusy(button, true, 'Joining…');
  try {
    const room = await api.getRoom(code);
    input.value = '';
    navigateTo(`/r/${encodeURIComponent(room.id)}`, room);
  } catch (e) {
    if (e.status === 404) {
      setError(err, input, `No room has the code ${formatCode(code)}. Check the digits: a code works only while its room is open.`);
    } else if (e.status === 410) {
      setError(err, input, `The room with the code ${formatCode(code)} has expired, and everything in it is gone.`);
    } else if (e.status === 429) {
      setBusy(button, false, 'Join');
      lockJoin(e.retryAfter ?? 60, code);
      return;
    } else {
      setError(err, input, e.message);
    }
    input.focus();
    input.select();
  } finally {
    if (Date.now() >= lockedUntil) setBusy(button, false, 'Join');
  }
}

function wire() {
  $('new-room').addEventListener('click', () => newRoom({}, $('new-room'), $('new-error'), 'New room'));
  const language = $('new-code-language');
  for (const [id, name] of LANGUAGES) language.append(h('option', { value: id, text: name }));
  language.value = 'python';
  $('new-code-room').addEventListener('click', () =>
    newRoom({ kind: 'code', language: language.value }, $('new-code-room'), $('new-code-error'), 'New code room'));
  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    join();
  });
  const input = $('code-input');
  input.addEventListener('input', (ev) => {
    const digits = input.value.replace(/\D/g, '').slice(0, 6);
    if (input.value !== digits) input.value = digits;
    if (!$('join-error').hidden && Date.now() >= lockedUntil) setError($('join-error'), input, null);
    // Typing (or pasting) the sixth digit joins: no need to reach for the button on a phone.
    if (digits.length === 6 && ev.inputType !== 'deleteContentBackward' && Date.now() >= lockedUntil) join();
  });
}

export function openStart(navigate) {
  navigateTo = navigate;
  if (!wired) {
    wire();
    wired = true;
  }
  showView('start');
  document.title = 'tandem';
}
