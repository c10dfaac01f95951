// docs/openapi.json, served at /api/openapi.json, is kept true by calling
// the real binary: every documented path and method answers with a status
// the document lists and a body with the documented required properties,
// and every route the router has (`tandem routes`) is documented. /docs
// renders it in Chromium with no console errors.
//
// Adding a route? Document it in docs/openapi.json (the failure names the
// route). If calling it needs more than its requestBody example and the
// path parameters below, add a recipe to RECIPES.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { BIN, startServer } from './lib/server.mjs';
import { api, iso, member, ofType } from './lib/accounts.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let server, doc, ctx;
const ADMIN_TOKEN = 'openapi-test-admin-token';

async function json(res) {
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

async function createRoom() {
  const res = await fetch(`${server.url}/api/rooms`, { method: 'POST' });
  assert.equal(res.status, 201);
  return json(res);
}

async function createCodeRoom() {
  const res = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{"kind":"code"}' });
  assert.equal(res.status, 201);
  return json(res);
}

// The document's example request body of an operation (`name` picks one
// of several), to send as it is or with a field or two changed.
function example(path, method, name) {
  const media = resolve(doc.paths[path][method].requestBody).content['application/json'];
  return structuredClone(name ? media.examples[name].value : media.example);
}

const signedIn = (cookie) => ({ Cookie: cookie });

// A new session of the facilitator of the document's sign-in example.
async function signIn() {
  const res = await api(server, 'POST', '/api/session', { body: example('/api/session', 'post') });
  assert.equal(res.status, 200, res.text);
  return res.headers.getSetCookie()[0].split(';')[0];
}

// The document's chat room example, open from a second ago for an hour
// (the example's own times are past), under a title not yet taken.
let chatRooms = 0;
async function createChatRoom(fields = {}) {
  const now = Date.now();
  const res = await api(server, 'POST', '/api/rooms', {
    cookie: ctx.cookie,
    body: {
      ...example('/api/rooms', 'post', 'chat'),
      title: `Workshop ${++chatRooms}`,
      opens_at: iso(now - 1000),
      closes_at: iso(now + 3600_000),
      ...fields,
    },
  });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

// A chat member of ctx.chat, with the unlock token, once welcomed.
async function chatMember(alias) {
  const m = member(server, ctx.chat.id, { alias, token: ctx.unlockToken });
  ctx.members.push(m);
  await m.next(ofType('welcome'));
  return m;
}

async function createTextItem(room) {
  const res = await fetch(`${server.url}/api/rooms/${room.id}/items`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: 'an item for the API test' }),
  });
  assert.equal(res.status, 201);
  return (await json(res)).item;
}

// What the routes need to exist before they are called: a room with a text
// and a file item, the name of a bundled asset; the facilitator of the
// document's examples, signed in, with a chat room (open, with the
// example's password), its unlock token and a message in it.
before(async () => {
  server = await startServer(['--admin-token', ADMIN_TOKEN]);
  const res = await fetch(`${server.url}/api/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  doc = await res.json();
  const room = await createRoom();
  const textItem = await createTextItem(room);
  const file = await fetch(`${server.url}/api/rooms/${room.id}/items`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', 'X-Filename': 'notes.txt' },
    body: 'file contents',
  });
  assert.equal(file.status, 201);
  const fileItem = (await json(file)).item;
  const page = await (await fetch(`${server.url}/`)).text();
  const asset = /\/assets\/(app-[0-9a-f]{8}\.js)/.exec(page)[1];
  ctx = { room, textItem, fileItem, asset, members: [] };
  const account = await api(server, 'POST', '/api/accounts', { body: example('/api/accounts', 'post') });
  assert.equal(account.status, 201, account.text);
  ctx.cookie = await signIn();
  ctx.chat = await createChatRoom();
  const unlocked = await api(server, 'POST', `/api/rooms/${ctx.chat.id}/unlock`, {
    body: example('/api/rooms/{room}/unlock', 'post'),
  });
  assert.equal(unlocked.status, 200, unlocked.text);
  ctx.unlockToken = unlocked.json.token;
  const writer = await chatMember('Ada');
  writer.send({ type: 'chat', text: 'a message for the API test' });
  ctx.message = await writer.next(ofType('chat.message'));
  await writer.close();
});
after(async () => {
  await Promise.all(ctx.members.map((m) => m.close()));
  assert.equal((await server.stop()).code, 0);
});

// Values for path parameters, by name.
const PARAMS = {
  room: () => ctx.room.id,
  code: () => ctx.room.code,
  item: () => ctx.textItem.id,
  asset: () => ctx.asset,
};

// Calls that need more than the defaults: "METHOD /path" -> async () =>
// { params, query, headers, body, expect }. Anything left out is the
// default; a call is expected to succeed (below 400) unless `expect` names
// the documented status it must get instead.
const RECIPES = {
  // A plain GET cannot upgrade: the documented refusal says how to.
  'GET /ws/{room}': async () => ({ expect: 426 }),
  'DELETE /api/rooms/{room}': async () => {
    const room = await createRoom();
    return { params: { room: room.id }, headers: { Authorization: `Bearer ${room.owner_token}` } };
  },
  'DELETE /api/rooms/{room}/items/{item}': async () => ({
    params: { item: (await createTextItem(ctx.room)).id },
  }),
  'GET /api/rooms/{room}/items/{item}/file': async () => ({ params: { item: ctx.fileItem.id } }),
  'GET /api/rooms/{room}/doc': async () => ({ params: { room: (await createCodeRoom()).id } }),
  'PUT /api/rooms/{room}/doc': async () => {
    const room = await createCodeRoom();
    return { params: { room: room.id }, headers: { Authorization: `Bearer ${room.owner_token}` } };
  },
  'GET /socket.io/': async () => ({ query: 'EIO=4&transport=polling' }),
  'GET /api/stats/referrers': async () => ({ headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }),
  // Chat rooms and accounts: the owner acts by the session cookie.
  'PATCH /api/rooms/{room}': async () => ({
    params: { room: (await createChatRoom()).id },
    headers: signedIn(ctx.cookie),
  }),
  'POST /api/rooms/{room}/unlock': async () => ({ params: { room: ctx.chat.id } }),
  'GET /api/rooms/{room}/messages': async () => ({
    params: { room: ctx.chat.id },
    query: `token=${ctx.unlockToken}`,
  }),
  'DELETE /api/rooms/{room}/messages/{id}': async () => ({
    params: { room: ctx.chat.id, id: String(ctx.message.id) },
    headers: signedIn(ctx.cookie),
  }),
  // The example's alias is a member who is in the room when it is removed.
  'POST /api/rooms/{room}/remove': async () => {
    await chatMember(example('/api/rooms/{room}/remove', 'post').alias);
    return { params: { room: ctx.chat.id }, headers: signedIn(ctx.cookie) };
  },
  'GET /api/rooms/{room}/transcript': async () => ({
    params: { room: ctx.chat.id },
    query: 'format=md',
    headers: signedIn(ctx.cookie),
  }),
  // The example's email is the facilitator made before the tests.
  'POST /api/accounts': async () => ({
    body: JSON.stringify({ ...example('/api/accounts', 'post'), email: 'second.facilitator@example.org' }),
    headers: { 'Content-Type': 'application/json' },
  }),
  'DELETE /api/session': async () => ({ headers: signedIn(await signIn()) }),
  'GET /api/me': async () => ({ headers: signedIn(ctx.cookie) }),
  'GET /api/me/rooms': async () => ({ headers: signedIn(ctx.cookie) }),
  'POST /socket.io/': async () => {
    const open = await (await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`)).text();
    const { sid } = JSON.parse(open.slice(1));
    return { query: `EIO=4&transport=polling&sid=${sid}` };
  },
};

function resolve(node) {
  let n = node;
  for (let hops = 0; n && n.$ref && hops < 10; hops++) {
    assert.ok(n.$ref.startsWith('#/'), `only local $refs: ${n.$ref}`);
    n = n.$ref.slice(2).split('/').reduce((o, k) => o?.[k], doc);
    assert.ok(n, `$ref ${node.$ref} does not resolve`);
  }
  return n;
}

function operations() {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) if (item[method]) ops.push({ path, method, op: item[method] });
  }
  return ops;
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

// The parts of JSON Schema the document uses: type, required, properties,
// items, enum, oneOf. Returns the problems found, with where.
function check(schemaNode, value, where = 'body') {
  const schema = resolve(schemaNode);
  if (schema.oneOf) {
    const fits = schema.oneOf.some((s) => check(s, value, where).length === 0);
    return fits ? [] : [`${where} matches none of oneOf`];
  }
  const problems = [];
  if (schema.type) {
    const types = [].concat(schema.type);
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      return [`${where} is ${t}, documented as ${types.join('|')}`];
    }
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${where} ${JSON.stringify(value)} not in enum`);
  if (typeOf(value) === 'object') {
    for (const key of schema.required ?? []) {
      if (!(key in value)) problems.push(`${where} lacks required property "${key}"`);
    }
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (key in value) problems.push(...check(sub, value[key], `${where}.${key}`));
    }
  }
  if (typeOf(value) === 'array' && schema.items) {
    value.forEach((v, i) => problems.push(...check(schema.items, v, `${where}[${i}]`)));
  }
  return problems;
}

// The router's patterns and the document's paths, in one form.
function normalise(path) {
  return path.replace(/\{[^}]+\}|:[^/]+|\*$/g, '{}');
}

test('the served document is OpenAPI 3.1 shaped and every $ref resolves', () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.equal(typeof doc.info.title, 'string');
  assert.equal(typeof doc.info.version, 'string');
  assert.ok(Object.keys(doc.paths).length > 20);
  for (const { path, method, op } of operations()) {
    const name = `${method.toUpperCase()} ${path}`;
    assert.ok(path.startsWith('/'), name);
    assert.equal(typeof op.summary, 'string', `${name} has a summary`);
    assert.ok(op.operationId, `${name} has an operationId`);
    const statuses = Object.keys(op.responses ?? {});
    assert.ok(statuses.length > 0, `${name} documents its responses`);
    for (const s of statuses) assert.match(s, /^[1-5]\d\d$/, `${name}: status ${s}`);
    const declared = new Set((path.match(/\{[^}]+\}/g) ?? []).map((p) => p.slice(1, -1)));
    const inPath = (op.parameters ?? []).map(resolve).filter((p) => p.in === 'path');
    assert.deepEqual(new Set(inPath.map((p) => p.name)), declared, `${name}: path parameters`);
  }
  // Every $ref anywhere in the document points at something.
  const refs = [];
  (function walk(node) {
    if (node && typeof node === 'object') {
      if (typeof node.$ref === 'string') refs.push(node);
      Object.values(node).forEach(walk);
    }
  })(doc);
  assert.ok(refs.length > 0);
  for (const ref of refs) resolve(ref);
  const ids = operations().map((o) => o.op.operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
});

test('every route the router has is documented, and every documented one is routed', () => {
  const routed = execFileSync(BIN, ['routes'], { encoding: 'utf8', timeout: 10000 })
    .trim()
    .split('\n')
    .map((line) => {
      const [method, pattern] = line.split(' ');
      return { method, pattern, key: `${method} ${normalise(pattern)}` };
    });
  assert.ok(routed.length > 20, 'tandem routes lists the route table');
  const documented = new Map(
    operations().map(({ path, method }) => [`${method.toUpperCase()} ${normalise(path)}`, path]),
  );
  const routedKeys = new Set(routed.map((r) => r.key));
  const problems = [
    ...routed
      .filter((r) => !documented.has(r.key))
      .map((r) => `${r.method} ${r.pattern} is routed (src/api/routes.c) but missing from docs/openapi.json "paths"`),
    ...[...documented]
      .filter(([key]) => !routedKeys.has(key))
      .map(([key, path]) => `${key.split(' ')[0]} ${path} is documented in docs/openapi.json but no route serves it`),
  ];
  assert.deepEqual(problems, []);
});

// Builds the request for one operation: recipe, then path parameters, then
// the requestBody's example.
async function requestFor({ path, method, op }) {
  const name = `${method.toUpperCase()} ${path}`;
  const recipe = RECIPES[name] ? await RECIPES[name]() : {};
  const url = path.replace(/\{([^}]+)\}/g, (_, p) => {
    const value = recipe.params?.[p] ?? PARAMS[p]?.();
    assert.ok(value, `no value for {${p}} of ${name}: add it to PARAMS or RECIPES in openapi.test.mjs`);
    return encodeURIComponent(value);
  });
  const headers = { ...(recipe.headers ?? {}) };
  let body = recipe.body;
  if (body === undefined && op.requestBody && method !== 'get') {
    // The example, or the first of several named ones.
    const content = resolve(op.requestBody).content ?? {};
    const exampleOf = (m) => m.example ?? Object.values(m.examples ?? {})[0]?.value;
    const [type, media] = Object.entries(content).find(([, m]) => exampleOf(m) !== undefined) ?? [];
    if (type) {
      headers['Content-Type'] = type;
      const value = exampleOf(media);
      body = typeof value === 'string' ? value : JSON.stringify(value);
    }
  }
  const query = recipe.query ? `?${recipe.query}` : '';
  return {
    name,
    url: `${server.url}${url}${query}`,
    init: { method: method.toUpperCase(), headers, body },
    expect: recipe.expect,
  };
}

test('every documented operation answers as documented', async () => {
  const ops = operations();
  // Deleting comes last, so it does not take what the others need.
  ops.sort((a, b) => (a.method === 'delete') - (b.method === 'delete'));
  const failures = [];
  for (const entry of ops) {
    const { name, url, init, expect } = await requestFor(entry);
    const res = await fetch(url, init);
    const text = await res.text();
    const documented = entry.op.responses[String(res.status)];
    if (!documented) {
      failures.push(`${name} answered ${res.status}, not among ${Object.keys(entry.op.responses).join(', ')}: ${text.slice(0, 200)}`);
      continue;
    }
    if (expect ? res.status !== expect : res.status >= 400) {
      failures.push(`${name} answered ${res.status} (expected ${expect ?? 'success'}): ${text.slice(0, 200)}`);
      continue;
    }
    const content = resolve(documented).content;
    if (!content) continue;
    const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const media = content[type];
    if (!media) {
      failures.push(`${name} ${res.status} answered ${type}, documented ${Object.keys(content).join(', ')}`);
      continue;
    }
    if (type === 'application/json' && media.schema) {
      const problems = check(media.schema, JSON.parse(text));
      if (problems.length) failures.push(`${name} ${res.status}: ${problems.join('; ')}`);
    }
  }
  assert.deepEqual(failures, []);
});

// POST /api/rooms is called above with its first example (a drop room);
// its chat variant answers as documented too, and DELETE takes a chat room
// by its owner's cookie.
test('the chat variant of POST /api/rooms and DELETE of a chat room answer as documented', async () => {
  const create = doc.paths['/api/rooms'].post.responses;
  const remove = doc.paths['/api/rooms/{room}'].delete.responses;
  const room = await createChatRoom();
  assert.deepEqual(check(create['201'].content['application/json'].schema, room), []);
  assert.equal(room.kind, 'chat');
  assert.equal(room.has_password, true);
  assert.equal(room.state, 'open');
  const body = { ...example('/api/rooms', 'post', 'chat'), title: room.title };
  const cases = [
    [{ body }, 401, 'not_signed_in'],
    [{ body, cookie: ctx.cookie }, 409, 'title_taken'],
    [{ body, cookie: ctx.cookie, headers: { Origin: 'http://elsewhere.example' } }, 403, 'foreign_origin'],
  ];
  for (const [init, status, code] of cases) {
    const res = await api(server, 'POST', '/api/rooms', init);
    assert.ok(create[String(status)], `${status} is documented`);
    assert.deepEqual([res.status, res.json?.error?.code], [status, code]);
  }
  const anonymous = await api(server, 'DELETE', `/api/rooms/${room.id}`);
  assert.ok(remove['401']);
  assert.deepEqual([anonymous.status, anonymous.json?.error?.code], [401, 'not_signed_in']);
  assert.equal((await api(server, 'DELETE', `/api/rooms/${room.id}`, { cookie: ctx.cookie })).status, 204);
  assert.equal((await api(server, 'GET', `/api/rooms/${room.id}`)).status, 404);
});

test('/docs renders the document in Chromium with no console errors', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
  await page.goto(`${server.url}/docs`, { waitUntil: 'load' });
  await page.locator('.opblock').first().waitFor({ timeout: 15000 });
  const shown = await page.locator('.opblock').count();
  assert.equal(shown, operations().length, 'one block per documented operation');
  const paths = await page.locator('.opblock-summary-path').allTextContents();
  for (const p of ['/api/rooms', '/api/autocomplete', '/api/rooms/{room}/items']) {
    assert.ok(paths.some((text) => text.replace(/\u200b/g, '') === p), `${p} shown`);
  }
  // Opening an operation renders its parameters, body and response schemas.
  const autocomplete = page.locator('.opblock', { hasText: '/api/autocomplete' });
  await autocomplete.locator('.opblock-summary').click();
  await autocomplete.locator('.responses-wrapper').waitFor({ timeout: 5000 });
  assert.match(await autocomplete.textContent(), /unknown_language/);
  await autocomplete.scrollIntoViewIfNeeded();
  await page.screenshot({ path: process.env.TANDEM_DOCS_SCREENSHOT || '/tmp/tandem-docs.png' });
  assert.deepEqual(problems, []);
});
