// Facilitators and chat members for the chat suites: sign up and in over
// REST (keeping the session cookie), and WebSocket members that record
// what they receive.
import WebSocket from 'ws';

export async function api(server, method, path, { body, cookie, headers = {} } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(cookie ? { Cookie: cookie } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

let accountSeq = 0;

// A new account, signed in: { email, password, cookie }.
export async function facilitator(server) {
  const email = `host${++accountSeq}-${process.pid}@example.org`;
  const password = 'a long enough password';
  const made = await api(server, 'POST', '/api/accounts', { body: { email, password } });
  if (made.status !== 201) throw new Error(`sign-up: ${made.status} ${made.text}`);
  const session = await api(server, 'POST', '/api/session', { body: { email, password } });
  if (session.status !== 200) throw new Error(`sign-in: ${session.status} ${session.text}`);
  const cookie = session.headers.getSetCookie()[0].split(';')[0];
  return { email, password, cookie };
}

export const iso = (ms) => new Date(ms).toISOString();

// A chat room of the facilitator, open now for an hour unless told otherwise.
export async function chatRoom(server, host, fields = {}) {
  const now = Date.now();
  const res = await api(server, 'POST', '/api/rooms', {
    cookie: host.cookie,
    body: { kind: 'chat', title: `room ${now} ${Math.random()}`, opens_at: iso(now - 1000), closes_at: iso(now + 3600_000), ...fields },
  });
  if (res.status !== 201) throw new Error(`create room: ${res.status} ${res.text}`);
  return res.json;
}

let deviceSeq = 0;
export const newDevice = () => `device-${process.pid}-${++deviceSeq}-abcdefgh`;

// A member on /ws/:room; query: { device, alias, token, after }.
export function member(server, roomId, query = {}) {
  const q = new URLSearchParams({ device: newDevice(), ...query });
  const ws = new WebSocket(server.wsUrl(`/ws/${roomId}?${q}`));
  const inbox = [];
  const waiters = [];
  ws.on('message', (data) => {
    inbox.push(JSON.parse(data.toString()));
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', () => {});
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  return {
    ws,
    inbox,
    closed,
    device: q.get('device'),
    // The first message (removed from the inbox) that matches, within a bound.
    async next(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no matching message; inbox: ${JSON.stringify(inbox)}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    send(obj) {
      ws.send(JSON.stringify(obj));
    },
    close() {
      ws.close();
      return closed;
    },
  };
}

export const ofType = (t) => (m) => m.type === t;
