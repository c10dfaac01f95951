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
import { api, facilitator, chatRoom, member, ofType } from './lib/accounts.mjs';

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
// and a file item, the name of a bundled asset, a signed-in facilitator with
// a chat room (locked with a password).
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
  const host = await facilitator(server);
  const chat = await chatRoom(server, host, { password: 'open sesame' });
  ctx = { room, textItem, fileItem, asset, host, chat };
});
after(async () => {
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
const asOwner = (extra = {}) => ({ params: { room: ctx.chat.id }, headers: { Cookie: ctx.host.cookie }, ...extra });

// A live member of the chat room (unlocked); returns it once welcomed.
async function chatMember(alias) {
  const { token } = (await api(server, 'POST', `/api/rooms/${ctx.chat.id}/unlock`, { body: { password: 'open sesame' } })).json;
  const m = member(server, ctx.chat.id, { token, alias });
  await m.next(ofType('welcome'));
  return m;
}

const RECIPES = {
  'PATCH /api/rooms/{room}': async () => asOwner(),
  'POST /api/rooms/{room}/unlock': async () => ({ params: { room: ctx.chat.id } }),
  'GET /api/rooms/{room}/messages': async () => asOwner(),
  'GET /api/rooms/{room}/transcript': async () => asOwner({ query: 'format=csv' }),
  'DELETE /api/rooms/{room}/messages/{id}': async () => {
    const m = await chatMember('Writer');
    m.send({ type: 'chat', text: 'a message to delete' });
    const { id } = await m.next(ofType('chat.message'));
    await m.close();
    return asOwner({ params: { room: ctx.chat.id, id: String(id) } });
  },
  'POST /api/rooms/{room}/remove': async () => {
    await chatMember('Visitor');
    return asOwner();
  },
  'POST /api/session': async () => ({ body: JSON.stringify({ email: ctx.host.email, password: ctx.host.password }), headers: { 'Content-Type': 'application/json' } }),
  'DELETE /api/session': async () => {
    const other = await facilitator(server);
    return { headers: { Cookie: other.cookie } };
  },
  'GET /api/me': async () => ({ headers: { Cookie: ctx.host.cookie } }),
  'GET /api/me/rooms': async () => ({ headers: { Cookie: ctx.host.cookie } }),
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
  'GET /socket.io/': async () => ({ query: 'EIO=4&transport=polling' }),
  'GET /api/stats/referrers': async () => ({ headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }),
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
    const content = resolve(op.requestBody).content ?? {};
    const [type, media] = Object.entries(content).find(([, m]) => m.example !== undefined) ?? [];
    if (type) {
      headers['Content-Type'] = type;
      body = typeof media.example === 'string' ? media.example : JSON.stringify(media.example);
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
