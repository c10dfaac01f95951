// Formatting for people: sizes, codes, durations, times and device names.

const UNITS = ['KB', 'MB', 'GB', 'TB'];

/** 1834212 -> "1.8 MB" (decimal units, as file managers show them). */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1000) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 999.95 && u < UNITS.length - 1);
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${UNITS[u]}`;
}

/** "482913" -> "482 913". */
export function formatCode(code) {
  const s = String(code ?? '');
  return /^\d{6}$/.test(s) ? `${s.slice(0, 3)} ${s.slice(3)}` : s;
}

/** Milliseconds left -> "23 h 59 min left", "12 min left", "less than a minute left". */
export function formatRemaining(ms) {
  if (ms <= 0) return 'Expired';
  const min = Math.floor(ms / 60000);
  if (min < 1) return 'Less than a minute left';
  const hours = Math.floor(min / 60);
  const rest = min % 60;
  if (hours === 0) return `${min} min left`;
  if (hours >= 48) return `${Math.floor(hours / 24)} days left`;
  return rest ? `${hours} h ${rest} min left` : `${hours} h left`;
}

/** Seconds -> "45 seconds", "2 minutes". */
export function formatWait(seconds) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

/** A short time for an item: "just now", "5 min ago", "14:05", "Tue 14:05". */
export function formatWhen(date, now = Date.now()) {
  const t = date.getTime();
  if (!Number.isFinite(t)) return '';
  const ago = now - t;
  if (ago < 45000) return 'just now';
  if (ago < 3600000) return `${Math.max(1, Math.round(ago / 60000))} min ago`;
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (new Date(now).toDateString() === date.toDateString()) return time;
  return `${date.toLocaleDateString([], { weekday: 'short' })} ${time}`;
}

/** "Chrome on Linux", from the user agent, for labelling what we drop. */
export function deviceName(ua = navigator.userAgent) {
  let browser = 'Browser';
  if (/Edg\//.test(ua)) browser = 'Edge';
  else if (/OPR\//.test(ua)) browser = 'Opera';
  else if (/Firefox\/|FxiOS/.test(ua)) browser = 'Firefox';
  else if (/Chrome\/|CriOS|Chromium/.test(ua)) browser = 'Chrome';
  else if (/Safari\//.test(ua)) browser = 'Safari';
  let os = '';
  if (/iPhone/.test(ua)) os = 'iPhone';
  else if (/iPad/.test(ua)) os = 'iPad';
  else if (/Android/.test(ua)) os = 'Android';
  else if (/Mac OS X|Macintosh/.test(ua)) os = 'Mac';
  else if (/Windows/.test(ua)) os = 'Windows';
  else if (/CrOS/.test(ua)) os = 'ChromeOS';
  else if (/Linux/.test(ua)) os = 'Linux';
  return os ? `${browser} on ${os}` : browser;
}

const ADJ = ['Amber', 'Azure', 'Coral', 'Golden', 'Jade', 'Lilac', 'Mint', 'Olive', 'Ruby', 'Sage', 'Slate', 'Teal'];
const ANIMAL = ['Badger', 'Crane', 'Finch', 'Fox', 'Heron', 'Lynx', 'Otter', 'Owl', 'Panda', 'Robin', 'Seal', 'Wren'];

/** A stable friendly name for a peer id we know nothing else about. */
export function peerName(id) {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return `${ADJ[h % ADJ.length]} ${ANIMAL[(h >>> 8) % ANIMAL.length]}`;
}

/** The extension of a file name, upper case, at most 4 characters: "JPG". */
export function extensionOf(name) {
  const m = /\.([A-Za-z0-9]{1,4})$/.exec(String(name ?? ''));
  return m ? m[1].toUpperCase() : '';
}

/** A category for a file's icon colour. */
export function fileKind(type, name) {
  const t = String(type ?? '').toLowerCase();
  const ext = extensionOf(name).toLowerCase();
  if (t.startsWith('image/')) return 'image';
  if (t.startsWith('video/')) return 'video';
  if (t.startsWith('audio/')) return 'audio';
  if (t === 'application/pdf' || ext === 'pdf') return 'pdf';
  if (/zip|tar|gzip|x-7z|rar|compressed/.test(t) || ['zip', 'gz', 'tgz', 'tar', '7z', 'rar', 'xz', 'bz2'].includes(ext)) return 'archive';
  if (t.startsWith('text/') || /json|javascript|xml|yaml/.test(t)) return 'text';
  if (/word|document|sheet|excel|presentation|powerpoint/.test(t) || ['doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt', 'ods', 'odp', 'csv'].includes(ext)) return 'doc';
  return 'other';
}
