// tandem's web client: the start page (new room, join with a code), the
// drop room view (/r/<id>, /session/<code>), a facilitator's chat room on
// the same links, and the facilitator's pages (/login, /signup, /dashboard).
// Plain ES modules bundled by esbuild; everything users send is shown with
// textContent, never parsed as HTML.
import { openChat } from './chat.js';
import { $ } from './dom.js';
import { openAuth, openDashboard, refreshAccountLink } from './facilitator.js';
import { openRoom } from './room.js';
import { openStart } from './start.js';
import { pruneRoomRecords } from './storage.js';
import { initTheme } from './theme.js';

const ROOM_RE = /^\/(?:r|session)\/([^/]+)\/?$/;
const PAGES = { '/login': 'login', '/signup': 'signup', '/dashboard': 'dashboard' };

let view = null; // the view in force: a room, a chat, a facilitator page, or null (start)

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A room link: a drop room, or (as its answer says) a chat room. */
function openByLink(ref, known) {
  if (known?.kind === 'chat') return openChat(ref, known);
  const roomView = openRoom(ref, known, (info) => {
    if (view === roomView) view = openChat(info.id, info);
  });
  return roomView;
}

/** Shows what the address bar says; `known` is a room object we already have. */
function route(known) {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const m = ROOM_RE.exec(location.pathname);
  if (m) {
    const ref = decode(m[1]);
    if (view?.ref !== undefined && !view.ended && (view.id === ref || view.ref === ref)) return;
    view?.destroy();
    view = openByLink(ref, known);
    return;
  }
  view?.destroy();
  const page = PAGES[path];
  if (page === 'dashboard') view = openDashboard(navigate);
  else if (page) view = openAuth(page, navigate);
  else {
    view = null;
    openStart(navigate);
  }
}

function navigate(path, known) {
  if (location.pathname !== path) history.pushState({}, '', path);
  route(known);
  $('main').focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// In-page links (the logo, "Start a new room", links marked data-nav) do not reload the page.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target instanceof Element ? ev.target.closest('a[href="/"], a[data-nav]') : null;
  if (!a) return;
  ev.preventDefault();
  if (view?.busy?.() && !window.confirm('Uploads are still running. Leave the room and cancel them?')) return;
  navigate(a.getAttribute('href'));
});

window.addEventListener('popstate', () => route());

initTheme($('theme-toggle'));
refreshAccountLink();
pruneRoomRecords();
route();
