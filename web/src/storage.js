// localStorage that never throws (private modes and full disks make it throw).

export function load(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function save(key, value) {
  try {
    if (value === null || value === undefined) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // Not persisted; the page still works for this visit.
  }
}

const ROOM_PREFIX = 'tandem.room.';

/** What this browser remembers of a room it made: {owner_token, url, qr_url, expires_at}. */
export function roomRecord(id) {
  try {
    const v = JSON.parse(load(ROOM_PREFIX + id) ?? 'null');
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

export function saveRoomRecord(id, record) {
  save(ROOM_PREFIX + id, record ? JSON.stringify(record) : null);
}

/** Forgets rooms past their expiry, so owner tokens do not pile up. */
export function pruneRoomRecords(now = Date.now()) {
  let keys = [];
  try {
    keys = Object.keys(window.localStorage).filter((k) => k.startsWith(ROOM_PREFIX));
  } catch {
    return;
  }
  for (const k of keys) {
    const rec = roomRecord(k.slice(ROOM_PREFIX.length));
    const exp = Date.parse(rec?.expires_at ?? '');
    if (!rec || (Number.isFinite(exp) && exp < now)) save(k, null);
  }
}
