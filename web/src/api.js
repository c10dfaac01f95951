// tandem's REST API (docs/api.md), as promises. Failures are ApiError with
// the HTTP status, the server's error code and message, and Retry-After.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0: the request never got an answer
    this.code = code;
    this.retryAfter = retryAfter; // seconds, or null
  }
}

/** Offset of the server's clock from ours (ms), from the last Date header. */
let clockSkew = 0;
export const serverNow = () => Date.now() + clockSkew;

function noteDate(dateHeader) {
  const t = Date.parse(dateHeader ?? '');
  // Date has one-second resolution: ignore differences it cannot show.
  if (Number.isFinite(t) && Math.abs(t - Date.now()) > 2000) clockSkew = t - Date.now();
}

function retryAfterOf(value) {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, (t - Date.now()) / 1000) : null;
}

function errorFrom(status, body, retryAfter) {
  const e = body && typeof body === 'object' ? body.error : null;
  const code = e && typeof e.code === 'string' ? e.code : `http_${status}`;
  const message = e && typeof e.message === 'string' && e.message ? e.message : `The server answered ${status}.`;
  return new ApiError(status, code, message, retryAfterOf(retryAfter));
}

async function request(method, path, { json, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal, cache: 'no-store' };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Could not reach the server. Check your connection.');
  }
  noteDate(res.headers.get('Date'));
  if (res.status === 204) return null;
  let body = null;
  const text = await res.text().catch(() => '');
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) throw errorFrom(res.status, body, res.headers.get('Retry-After'));
  return body;
}

const enc = encodeURIComponent;
const roomPath = (room) => `/api/rooms/${enc(room)}`;

/** body: {} for a drop room, {kind: 'code', language} for a code room. */
export const createRoom = (body = {}) => request('POST', '/api/rooms', { json: body });
export const getRoom = (room) => request('GET', roomPath(room));
export const deleteRoom = (room, ownerToken) =>
  request('DELETE', roomPath(room), { headers: { Authorization: `Bearer ${ownerToken}` } });
export const deleteItem = (room, itemId) => request('DELETE', `${roomPath(room)}/items/${enc(itemId)}`);
export const qrUrl = (room) => `${roomPath(room)}/qr.svg`;

/** What the word at `cursor` (a UTF-16 offset) may become; abortable with signal. */
export const autocomplete = (code, cursor, language, signal) =>
  request('POST', '/api/autocomplete', { json: { code, cursor, language }, signal });

/** Posts a text item; resolves to the item. */
export async function postText(room, text, alias) {
  const body = await request('POST', `${roomPath(room)}/items`, { json: alias ? { text, alias } : { text } });
  return body?.item;
}

/** Every item of a room, oldest first, following next_after pages. */
export async function listItems(room, after = 0) {
  const all = [];
  let cursor = after;
  for (let page = 0; page < 1000; page++) {
    const body = await request('GET', `${roomPath(room)}/items?after=${cursor}&limit=500`);
    const items = Array.isArray(body?.items) ? body.items : [];
    all.push(...items);
    const next = body?.next_after;
    if (next === null || next === undefined || !items.length || next <= cursor) break;
    cursor = next;
  }
  return all;
}

/**
 * Uploads one file as the raw request body. onProgress(sent, total) as it
 * goes. Returns {promise, abort}; the promise resolves to the item, or
 * rejects with ApiError (code "aborted" after abort()).
 */
export function uploadFile(room, file, { alias, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `${roomPath(room)}/items`);
    xhr.responseType = 'text';
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('X-Filename', encodeURIComponent(file.name || 'file'));
    if (alias) xhr.setRequestHeader('X-Alias', encodeURIComponent(alias));
    xhr.upload.addEventListener('progress', (ev) => {
      if (onProgress) onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    });
    xhr.addEventListener('load', () => {
      noteDate(xhr.getResponseHeader('Date'));
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const item = body?.item ?? body?.items?.[0];
        if (item) resolve(item);
        else reject(new ApiError(xhr.status, 'bad_response', 'The server accepted the file but sent no item.'));
      } else {
        reject(errorFrom(xhr.status, body, xhr.getResponseHeader('Retry-After')));
      }
    });
    xhr.addEventListener('error', () =>
      reject(new ApiError(0, 'network', 'The upload was interrupted. Check your connection and try again.')));
    xhr.addEventListener('timeout', () => reject(new ApiError(0, 'timeout', 'The upload timed out.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'Cancelled.')));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

/* ---------- facilitators and chat rooms (the session cookie rides along) ---------- */

export const signUp = (email, password) => request('POST', '/api/accounts', { json: { email, password } });
export const signIn = (email, password) => request('POST', '/api/session', { json: { email, password } });
export const signOut = () => request('DELETE', '/api/session');
export const me = () => request('GET', '/api/me');

/** The signed-in facilitator's rooms, or null when nobody is signed in. */
export async function myRooms() {
  try {
    const body = await request('GET', '/api/me/rooms');
    return Array.isArray(body?.rooms) ? body.rooms : [];
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

export const createChatRoom = (fields) => request('POST', '/api/rooms', { json: { kind: 'chat', ...fields } });
export const updateRoom = (room, fields) => request('PATCH', roomPath(room), { json: fields });
export const deleteOwnedRoom = (room) => request('DELETE', roomPath(room));
export const transcriptUrl = (room, format) => `${roomPath(room)}/transcript?format=${enc(format)}`;

/** Resolves to the room-scoped token a password room's members join with. */
export async function unlockRoom(room, password) {
  const body = await request('POST', `${roomPath(room)}/unlock`, { json: { password } });
  return String(body?.token ?? '');
}

/** Up to `limit` messages before message `before` (null: the newest), oldest first. */
export async function listMessages(room, { before = null, limit = 100, token = null } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before !== null) q.set('before', String(before));
  if (token) q.set('token', token);
  const body = await request('GET', `${roomPath(room)}/messages?${q}`);
  return Array.isArray(body?.messages) ? body.messages : [];
}

export const deleteMessage = (room, id) => request('DELETE', `${roomPath(room)}/messages/${enc(String(id))}`);
export const removeMember = (room, alias) => request('POST', `${roomPath(room)}/remove`, { json: { alias } });

/** A server frame of the room protocol as an object, or null when it is not
 * a JSON object (binary relay frames, anything malformed). */
export function parseFrame(raw) {
  if (typeof raw !== 'string') return null;
  try {
    const msg = JSON.parse(raw);
    return msg && typeof msg === 'object' ? msg : null;
  } catch {
    return null;
  }
}
