// Page-wide bits shared by the views: which view shows, the connection
// status pill, the toast and the screen-reader announcer.
import { $ } from './dom.js';

const VIEWS = ['start', 'room', 'auth', 'dashboard', 'chat'];

export function showView(name) {
  for (const v of VIEWS) $(`${v}-view`).hidden = name !== v;
  // The footer speaks of drop rooms (gone after 24 hours); chat rooms are kept.
  $('foot').hidden = name !== 'start' && name !== 'room';
  if (name !== 'room' && name !== 'chat') setStatus(null);
}

/** kind: null (hidden), 'connecting', 'online', 'offline', 'ended'. */
export function setStatus(kind, text = '') {
  const el = $('status');
  el.hidden = !kind;
  el.dataset.state = kind ?? 'idle';
  $('status-text').textContent = text;
}

let toastTimer = 0;

/** A short message at the bottom of the screen; kind 'error' stays longer. */
export function toast(text, kind = 'info') {
  const el = $('toast');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  // Restart the entrance animation.
  el.classList.remove('show');
  void el.offsetWidth;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.classList.remove('show');
    el.hidden = true;
  }, kind === 'error' ? 6000 : 2600);
}

let announceTimer = 0;

/** Says something to screen readers only (new items, devices coming and going). */
export function announce(text) {
  const el = $('announcer');
  clearTimeout(announceTimer);
  el.textContent = '';
  // A fresh text node after a tick is announced even if the text repeats.
  announceTimer = setTimeout(() => {
    el.textContent = text;
  }, 50);
}
