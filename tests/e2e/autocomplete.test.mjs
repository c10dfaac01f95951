// POST /api/autocomplete through the real binary: completions per language,
// UTF-16 cursors as CodeMirror counts them, and every refusal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, readUntilClose } from './lib/raw.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

async function post(body, srv = server) {
  const res = await fetch(`${srv.url}/api/autocomplete`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

// Completes a document written with '|' at the cursor; the cursor sent is
// the JavaScript (UTF-16) index, exactly what an editor would send.
async function complete(doc, language) {
  const cursor = doc.indexOf('|');
  const code = doc.slice(0, cursor) + doc.slice(cursor + 1);
  const res = await post({ code, cursor, language });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { ...res.body, code, cursor };
}

function labels(r) {
  return r.completions.map((c) => `${c.kind}:${c.label}`);
}

test('python: identifiers of the document ranked, strings and comments skipped', async () => {
  const r = await complete(
    '# total_hidden\ntotal_price = 1\ns = "total_quoted"\ntotal_price += 2\ntota|',
    'python',
  );
  assert.equal(r.suggestion, 'total_price');
  assert.deepEqual(r.completions[0], {
    label: 'total_price',
    kind: 'identifier',
    insert: 'total_price',
    detail: '2 uses in this document',
  });
  assert.ok(!labels(r).some((l) => l.includes('hidden') || l.includes('quoted')));
  assert.equal(r.from, r.cursor - 4);
  assert.equal(r.to, r.cursor);
  assert.ok(r.confidence > 0.8 && r.confidence <= 1);
});

test('python: a def line gets (): and an indented body', async () => {
  const r = await complete('class Cart:\n    def total|', 'python');
  assert.equal(r.completions[0].kind, 'snippet');
  assert.equal(r.suggestion, 'total():\n        pass');
  // Replacing from..to with the suggestion gives the finished definition.
  const after = r.code.slice(0, r.from) + r.suggestion + r.code.slice(r.to);
  assert.equal(after, 'class Cart:\n    def total():\n        pass');
  assert.ok(r.confidence >= 0.9);
});

test('javascript: keywords, globals and a for snippet', async () => {
  let r = await complete('const x = JSO|', 'javascript');
  assert.equal(r.suggestion, 'JSON');
  assert.equal(r.completions[0].kind, 'builtin');
  r = await complete('function f() {\n  for|\n}', 'javascript');
  assert.equal(r.completions[0].kind, 'snippet');
  assert.equal(r.suggestion, 'for (let i = 0; i < n; i++) {\n    \n  }');
});

test('typescript: utility types and keywords', async () => {
  const r = await complete('type P = Readon|', 'ts');
  assert.equal(r.language, 'typescript');
  assert.ok(labels(r).includes('builtin:Readonly'));
  assert.ok(labels(r).includes('keyword:readonly'));
});

test('c: libc and the for header', async () => {
  let r = await complete('#include <string.h>\nsize_t n = strle|', 'c');
  assert.equal(r.suggestion, 'strlen');
  r = await complete('int main(void) {\n    for|\n}', 'c');
  assert.equal(r.suggestion, 'for (int i = 0; i < n; i++) {\n        \n    }');
});

test('go: predeclared names and a func skeleton', async () => {
  let r = await complete('package main\n\nfunc main() {\n\ts := mak|\n}', 'go');
  assert.equal(r.suggestion, 'make');
  r = await complete('func serve|', 'go');
  assert.equal(r.completions[0].label, 'serve() {…}');
  assert.equal(r.suggestion, 'serve() {\n\t\n}');
});

test('rust: prelude macros and raw strings skipped', async () => {
  const r = await complete('let s = r#"println_hidden"#;\nfn main() {\n    printl|\n}', 'rust');
  assert.equal(r.suggestion, 'println!');
  assert.equal(r.completions[0].detail, 'macro');
  assert.ok(!labels(r).some((l) => l.includes('hidden')));
});

test('java: java.lang and keywords', async () => {
  let r = await complete('Object o = new StringBui|', 'java');
  assert.equal(r.suggestion, 'StringBuilder');
  r = await complete('synchr|', 'java');
  assert.equal(r.suggestion, 'synchronized');
  assert.equal(r.completions[0].kind, 'keyword');
});

test('the word at the cursor is not suggested because it is there', async () => {
  const r = await complete('lonelyword|', 'python');
  assert.deepEqual(r.completions, []);
  assert.equal(r.suggestion, null);
  assert.equal(r.confidence, 0);
});

test('cursor in the middle of a word completes the part before it', async () => {
  const r = await complete('counter = 1\ncoun|ter', 'python');
  assert.equal(r.prefix, 'coun');
  assert.equal(r.suggestion, 'counter');
  assert.equal(r.to - r.from, 4);
});

test('UTF-16 cursor after astral characters and a non-ASCII prefix', async () => {
  // 😀 is two UTF-16 units and four UTF-8 bytes; the answer stays in units.
  const r = await complete('s = "😀😀"\nnaïve_value = 1\nnaï|', 'python');
  assert.equal(r.prefix, 'naï');
  assert.equal(r.from, r.cursor - 3);
  assert.equal(r.suggestion, 'naïve_value');
  const replaced = r.code.slice(0, r.from) + r.suggestion + r.code.slice(r.to);
  assert.ok(replaced.endsWith('\nnaïve_value'));
});

test('an empty document and an empty prefix answer with low confidence', async () => {
  let r = await complete('|', 'go');
  assert.equal(r.from, 0);
  assert.equal(r.to, 0);
  assert.ok(r.confidence <= 0.15);
  r = await complete('alpha = 1\n|', 'python');
  assert.ok(r.completions.length > 0);
  assert.ok(r.confidence <= 0.15);
});

test('bad JSON, missing and wrong fields are 400 with a clear error', async () => {
  const cases = [
    ['{"code":', 'bad_json', /not valid JSON/],
    ['[1,2]', 'bad_json', /JSON object/],
    ['', 'bad_json', /JSON object/],
    [{ cursor: 0, language: 'c' }, 'missing_code', /code is required/],
    [{ code: 1, cursor: 0, language: 'c' }, 'bad_code', /code is required/],
    [{ code: 'x', language: 'c' }, 'missing_cursor', /cursor is required/],
    [{ code: 'x', cursor: -1, language: 'c' }, 'bad_cursor', /UTF-16/],
    [{ code: 'x', cursor: 0.5, language: 'c' }, 'bad_cursor', /integer/],
    [{ code: 'x', cursor: 0 }, 'missing_language', /language is required/],
    [{ code: 'x', cursor: 0, language: 'cobol' }, 'unknown_language', /"cobol".*python, javascript, typescript, c, go, rust, java/],
    [{ code: 'abc', cursor: 4, language: 'c' }, 'cursor_out_of_range', /past the end.*3 UTF-16/],
    [{ code: 'a😀', cursor: 2, language: 'c' }, 'cursor_splits_character', /surrogate pair/],
  ];
  for (const [body, code, message] of cases) {
    const res = await post(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, code, JSON.stringify(body));
    assert.match(res.body.error.message, message);
  }
});

test('code over 1 MiB is 413, and so is a body over the limit', async () => {
  let res = await post({ code: 'a'.repeat((1 << 20) + 1), cursor: 0, language: 'c' });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'code_too_large');
  res = await post({ code: 'a'.repeat(1 << 20), cursor: 1 << 20, language: 'c' });
  assert.equal(res.status, 200); // exactly 1 MiB is fine
  // A body announced over the limit is refused before it is sent.
  const socket = await connect(server.port);
  socket.write(
    'POST /api/autocomplete HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${5 << 20}\r\n\r\n`,
  );
  const { data } = await readUntilClose(socket);
  assert.match(data.toString(), /^HTTP\/1\.1 413 [^]*"body_too_large"/);
});

test('GET is 405 with Allow: POST', async () => {
  const res = await fetch(`${server.url}/api/autocomplete`);
  assert.equal(res.status, 405);
  assert.match(res.headers.get('allow'), /POST/);
});

test('requests per address are limited by --autocomplete-per-minute', async () => {
  const limited = await startServer(['--autocomplete-per-minute', '3']);
  const body = { code: 'pri', cursor: 3, language: 'python' };
  for (let i = 0; i < 3; i++) assert.equal((await post(body, limited)).status, 200);
  const res = await post(body, limited);
  assert.equal(res.status, 429);
  assert.equal(res.body.error.code, 'rate_limited');
  assert.ok(Number(res.headers.get('retry-after')) >= 1);
  assert.equal((await limited.stop()).code, 0);
});
