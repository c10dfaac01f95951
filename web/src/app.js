// tandem's web client: the start page (new room, join with a code) and the
// room view (/r/<id>, /session/<code>). Plain ES modules bundled by esbuild;
// everything users send is shown with textContent, never parsed as HTML.
import { $ } from './dom.js';
import { openRoom } from './room.js';
import { openStart } from './start.js';
import { pruneRoomRecords } from './storage.js';
import { initTheme } from './theme.js';

const ROOM_RE = /^\/(?:r|session)\/([^/]+)\/?$/;

let room = null;

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Shows what the address bar says; `known` is a room object we already have. */
function route(known) {
  const m = ROOM_RE.exec(location.pathname);
  if (m) {
    const ref = decode(m[1]);
    if (room && !room.ended && (room.id === ref || room.ref === ref)) return;
    room?.destroy();
    room = openRoom(ref, known);
  } else {
    room?.destroy();
    room = null;
    openStart(navigate);
  }
}

function navigate(path, known) {
  if (location.pathname !== path) history.pushState({}, '', path);
  route(known);
  $('main').focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// In-page links (the logo, "Start a new room") do not reload the page.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target instanceof Element ? ev.target.closest('a[href="/"]') : null;
  if (!a) return;
  ev.preventDefault();
  if (room?.busy() && !window.confirm('Uploads are still running. Leave the room and cancel them?')) return;
  navigate('/');
});

window.addEventListener('popstate', () => route());

initTheme($('theme-toggle'));
pruneRoomRecords();
route();
