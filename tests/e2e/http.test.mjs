// HTTP/1.1 from outside: keep-alive, pipelining, limits, timeouts, headers
// and the embedded web client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, readUntil, readUntilClose, sleep } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer(['--header-timeout', '1s', '--idle-timeout', '2s', '--max-url', '1K', '--max-header-bytes', '4K', '--max-headers', '20']);
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

// Splits a byte stream of responses into [{status, headers, body}].
function parseResponses(buf) {
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = buf.subarray(off, end).toString('latin1').split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + len).toString() });
    off = end + 4 + len;
  }
  return out;
}

test('pipelined requests come back in order on one connection', async () => {
  const s = await connect(server.port);
  const paths = ['/healthz', '/nope', '/readyz', '/healthz', '/metrics', '/healthz'];
  s.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
  const data = await readUntil(s, (d) => parseResponses(d).length === paths.length && d.toString().endsWith('{"status":"ok"}'));
  const res = parseResponses(data);
  assert.deepEqual(res.map((r) => r.status), [200, 404, 200, 200, 200, 200]);
  assert.equal(res[0].body, '{"status":"ok"}');
  assert.equal(JSON.parse(res[1].body).error.code, 'not_found');
  assert.equal(JSON.parse(res[2].body).status, 'ready');
  assert.match(res[4].body, /tandem_open_connections/);
  s.destroy();
});

test('a pipeline split at every byte still answers in order', async () => {
  const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n';
  for (const cut of [1, 7, 20, req.length / 2, req.length - 3]) {
    const s = await connect(server.port);
    s.write(req.slice(0, cut));
    await sleep(5);
    s.write(req.slice(cut));
    const data = await readUntil(s, (d) => parseResponses(d).length === 2 && d.toString().includes('"ready"'));
    assert.deepEqual(parseResponses(data).map((r) => r.status), [200, 200]);
    s.destroy();
  }
});

test('keep-alive serves several requests; Connection: close ends the connection', async () => {
  const s = await connect(server.port);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(s, (d) => d.toString().includes('{"status":"ok"}'));
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const { data, closed } = await readUntilClose(s, 3000);
  assert.equal(closed, true);
  const [r] = parseResponses(data);
  assert.equal(r.status, 200);
  assert.equal(r.headers.connection, 'close');
});

test('HEAD gets the headers and Content-Length but no body', async () => {
  const s = await connect(server.port);
  s.write('HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const data = await readUntil(s, (d) => d.toString().includes('{"status":"ok"}'));
  const text = data.toString();
  const first = text.slice(0, text.indexOf('\r\n\r\n'));
  assert.match(first, /^HTTP\/1\.1 200 /);
  assert.match(first, /Content-Length: 15/);
  // The second response starts right after the first head: no body in between.
  assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4).startsWith('HTTP/1.1 200'), true);
  s.destroy();
});

test('slow headers are cut after --header-timeout with 408', async () => {
  const s = await connect(server.port);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finishes
  const started = Date.now();
  const { data, closed } = await readUntilClose(s, 5000);
  assert.equal(closed, true);
  assert.match(data.toString(), /^HTTP\/1\.1 408 /);
  assert.ok(Date.now() - started < 3000);
});

test('a connection that sends nothing is closed after the header timeout', async () => {
  const s = await connect(server.port);
  const { closed } = await readUntilClose(s, 5000);
  assert.equal(closed, true);
});

test('an idle keep-alive connection is closed after --idle-timeout', async () => {
  const s = await connect(server.port);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const started = Date.now();
  const { closed } = await readUntilClose(s, 6000);
  assert.equal(closed, true);
  const waited = Date.now() - started;
  assert.ok(waited >= 1500 && waited < 4500, `closed after ${waited} ms`);
});

test('limits: long URL 414, big header block 431, too many headers 431', async () => {
  const ask = async (req) => {
    const s = await connect(server.port);
    s.write(req);
    const { data } = await readUntilClose(s, 3000);
    return parseResponses(data)[0];
  };
  const long = await ask(`GET /${'a'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(long.status, 414);
  assert.equal(JSON.parse(long.body).error.code, 'uri_too_long');
  const big = await ask(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(5000)}\r\n\r\n`);
  assert.equal(big.status, 431);
  let many = 'GET / HTTP/1.1\r\nHost: x\r\n';
  for (let i = 0; i < 30; i++) many += `X-H${i}: v\r\n`;
  const m = await ask(many + '\r\n');
  assert.equal(m.status, 431);
  assert.equal(JSON.parse(m.body).error.code, 'too_many_headers');
});

test('a body where none belongs: 413 on a bodiless route, 405 on a wrong method; garbage 400', async () => {
  const b = await connect(server.port);
  b.write('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  const body = await readUntilClose(b, 3000);
  const refused = parseResponses(body.data)[0];
  assert.equal(refused.status, 413);
  assert.equal(JSON.parse(refused.body).error.code, 'body_not_allowed');
  assert.equal(body.closed, true);
  const s = await connect(server.port);
  s.write('POST /ws/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  const { data } = await readUntilClose(s, 3000);
  assert.equal(parseResponses(data)[0].status, 405);
  const g = await connect(server.port);
  g.write('THIS IS NOT HTTP\r\n\r\n');
  const r = await readUntilClose(g, 3000);
  assert.equal(parseResponses(r.data)[0].status, 400);
  assert.equal(r.closed, true);
});

test('405 lists the allowed methods; 404 is JSON', async () => {
  const res = await fetch(`${server.url}/healthz`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  assert.equal((await res.json()).error.code, 'method_not_allowed');
  const nf = await fetch(`${server.url}/no/such/thing`);
  assert.equal(nf.status, 404);
  assert.equal(nf.headers.get('content-type'), 'application/json');
  assert.deepEqual(Object.keys((await nf.json()).error).sort(), ['code', 'message']);
});

test('every response carries the security headers', async () => {
  for (const path of ['/', '/healthz', '/nope']) {
    const res = await fetch(server.url + path);
    assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  }
});

test('the web client is embedded: page revalidated by ETag, hashed assets immutable', async () => {
  const page = await fetch(server.url + '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  const etag = page.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  const html = await page.text();
  const again = await fetch(server.url + '/', { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const asset = /src="(\/assets\/app-[0-9a-f]{8}\.js)"/.exec(html)[1];
  const js = await fetch(server.url + asset);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('cache-control'), /max-age=31536000, immutable/);
  assert.match(js.headers.get('content-type'), /javascript/);
  for (const route of ['/r/abc123', '/session/123456']) {
    const r = await fetch(server.url + route);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), html);
  }
  assert.equal((await fetch(server.url + '/assets/nope.js')).status, 404);
});

test('/healthz, /readyz and /metrics answer', async () => {
  assert.deepEqual(await (await fetch(server.url + '/healthz')).json(), { status: 'ok' });
  const shared = server.topology === 'cluster'; // instances with --redis say how Redis is too
  assert.deepEqual(await (await fetch(server.url + '/readyz')).json(),
    { status: 'ready', storage: 'ok', ...(shared ? { redis: 'ok' } : {}) });
  const m = await fetch(server.url + '/metrics');
  assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await server.metrics();
  for (const name of ['tandem_open_connections{protocol="http"}', 'tandem_open_connections{protocol="ws"}', 'tandem_rooms_live', 'tandem_messages_total{direction="in"}', 'tandem_bytes_total{protocol="ws",direction="out"}', 'tandem_http_requests_total{class="2xx"}', 'tandem_rejected_connections_total{reason="header_timeout"}'])
    assert.ok(text.includes(name), `metrics lack ${name}`);
  assert.match(text, /tandem_http_requests_total\{class="4xx"\} [1-9]/);
});

test('logs have one line per request with method, path, status, bytes and duration, never the query', async () => {
  await fetch(`${server.url}/healthz?token=s3cr3t-value`);
  await sleep(50);
  const line = server.log.split('\n').find((l) => l.includes('path=/healthz') && l.includes('http.request'));
  assert.match(line, /method=GET path=\/healthz status=200 bytes=\d+ us=\d+ addr=127\.0\.0\.1/);
  assert.equal(server.log.includes('s3cr3t-value'), false);
});
