#!/usr/bin/env node
// Bundles the web client and embeds it in the server as C arrays.
//
//   node web/build.mjs --out build/generated/assets.c [--dir /tmp/site]
//
// src/app.js and src/app.css are bundled and minified with esbuild, named
// after a hash of their content (/assets/app-<hash>.js|css, immutable), and
// src/index.html is rewritten to load them. What app.js imports with
// import() (the code editor and each language's syntax) becomes chunks of
// its own (/assets/chunk-<esbuild's hash>.js), fetched only by the pages
// that need it. The C file defines the table
// declared in src/api/assets.h. It is written only when its content changes,
// so a rebuild that changes nothing recompiles nothing. --dir also writes the
// files as a static site (index.html + assets/), for a quick look in a browser.
//
// The API documentation goes in the same table: ../docs/openapi.json (checked
// to be JSON, served at /api/openapi.json) and the /docs page that renders it
// (src/docs.html, with src/docs.js and src/docs.css bundled the same way).

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, 'src');
const PROG = 'build.mjs';

class BuildError extends Error {}

function usage() {
  return `usage: node ${PROG} --out <path/to/assets.c> [--dir <site dir>]`;
}

function parseArgs(argv) {
  const opts = { out: null, dir: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (name === '--help' || name === '-h') {
      console.log(usage());
      process.exit(0);
    }
    if (name !== '--out' && name !== '--dir') throw new BuildError(`unknown argument "${arg}"\n${usage()}`);
    let value;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    if (!value) throw new BuildError(`${name} needs a path\n${usage()}`);
    opts[name.slice(2)] = value;
  }
  if (!opts.out) throw new BuildError(`--out is required\n${usage()}`);
  return opts;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch (err) {
    throw new BuildError(
      `cannot load esbuild (${err.message}).\nRun "npm ci" in ${HERE} first.`,
    );
  }
}

/** Bundles one entry point; returns its single output file's bytes. */
async function bundle(esbuild, entry, extra) {
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [path.join(SRC, entry)],
      absWorkingDir: HERE,
      bundle: true,
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      charset: 'utf8',
      write: false,
      outdir: path.join(HERE, 'out'),
      logLevel: 'silent',
      ...extra,
    });
  } catch (err) {
    const msgs = err.errors?.length
      ? (await esbuild.formatMessages(err.errors, { kind: 'error', color: false })).join('')
      : `${err.message}\n`;
    throw new BuildError(`esbuild failed on src/${entry}:\n${msgs}`);
  }
  if (result.warnings.length) {
    const msgs = await esbuild.formatMessages(result.warnings, { kind: 'warning', color: false });
    process.stderr.write(`${PROG}: warnings in src/${entry}:\n${msgs.join('')}`);
  }
  const files = result.outputFiles.filter((f) => !f.path.endsWith('.map'));
  if (files.length !== 1) {
    throw new BuildError(`esbuild produced ${files.length} files for src/${entry}, expected 1`);
  }
  return Buffer.from(files[0].contents);
}

/**
 * Bundles a script entry point with code splitting: the entry and the chunks
 * its dynamic imports become, each named by esbuild after a hash of its
 * content. Returns {entry: url path, files: [{path, bytes}]}.
 */
async function bundleScript(esbuild, entry) {
  const outdir = path.join(HERE, 'out');
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [path.join(SRC, entry)],
      absWorkingDir: HERE,
      bundle: true,
      splitting: true,
      format: 'esm',
      target: 'es2020',
      platform: 'browser',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      charset: 'utf8',
      write: false,
      metafile: true,
      outdir,
      entryNames: '[name]',
      chunkNames: 'chunk-[hash]',
      logLevel: 'silent',
    });
  } catch (err) {
    const msgs = err.errors?.length
      ? (await esbuild.formatMessages(err.errors, { kind: 'error', color: false })).join('')
      : `${err.message}\n`;
    throw new BuildError(`esbuild failed on src/${entry}:\n${msgs}`);
  }
  if (result.warnings.length) {
    const msgs = await esbuild.formatMessages(result.warnings, { kind: 'warning', color: false });
    process.stderr.write(`${PROG}: warnings in src/${entry}:\n${msgs.join('')}`);
  }
  const entryOut = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint);
  if (!entryOut) throw new BuildError(`esbuild made no entry file for src/${entry}`);
  // The entry keeps tandem's naming (<name>-<8 hex of its sha256>); nothing
  // imports it, so renaming it breaks no reference. Chunks keep esbuild's.
  const entryFile = path.resolve(HERE, entryOut[0]);
  const name = path.basename(entry, '.js');
  const files = result.outputFiles
    .filter((f) => f.path.endsWith('.js'))
    .map((f) => {
      const bytes = Buffer.from(f.contents);
      const file = f.path === entryFile ? `${name}-${sha256(bytes).slice(0, 8)}.js` : path.relative(outdir, f.path);
      return { path: `/assets/${file.split(path.sep).join('/')}`, bytes, entry: f.path === entryFile };
    });
  for (const f of files) {
    if (!/^\/assets\/[A-Za-z0-9_-]+\.js$/.test(f.path)) throw new BuildError(`unexpected output ${f.path}`);
  }
  return { entry: files.find((f) => f.entry).path, files };
}

/** Replaces exactly one tag matching re, or fails. */
function replaceTag(html, re, replacement, what, page = 'index.html') {
  const matches = html.match(new RegExp(re.source, `${re.flags.replace('g', '')}g`)) ?? [];
  if (matches.length !== 1) {
    throw new BuildError(`src/${page} must contain exactly one ${what}; found ${matches.length}`);
  }
  return html.replace(re, replacement);
}

function cString(s) {
  // Paths, types and ETags are ASCII; escape anything else to be safe.
  let out = '"';
  for (const ch of Buffer.from(s, 'utf8')) {
    if (ch === 0x22 || ch === 0x5c) out += `\\${String.fromCharCode(ch)}`;
    else if (ch >= 0x20 && ch < 0x7f && ch !== 0x3f) out += String.fromCharCode(ch); // no '?' (trigraphs)
    else out += `\\${ch.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}

function cBytes(bytes) {
  if (bytes.length === 0) return '  0x00 /* empty */';
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = [];
    for (const b of bytes.subarray(i, i + 16)) row.push(`0x${b.toString(16).padStart(2, '0')}`);
    lines.push(`  ${row.join(', ')},`);
  }
  return lines.join('\n');
}

function generateC(assets) {
  const out = [];
  out.push(
    '/* Generated by web/build.mjs from web/src. Do not edit. */',
    '#include "api/assets.h"',
    '',
    '#include <string.h>',
    '',
  );
  assets.forEach((a, i) => {
    out.push(`/* ${a.path} (${a.bytes.length} bytes) */`);
    out.push(`static const uint8_t asset_${i}_data[] = {`);
    out.push(cBytes(a.bytes));
    out.push('};', '');
  });
  out.push(`#define ASSET_COUNT ${assets.length}u`, '');
  out.push('static const struct asset asset_table[ASSET_COUNT] = {');
  assets.forEach((a, i) => {
    out.push(
      `  { ${cString(a.path)}, ${cString(a.contentType)}, asset_${i}_data, ${a.bytes.length}u,`,
      `    ${cString(a.etag)}, ${a.immutable ? 'true' : 'false'} },`,
    );
  });
  out.push('};', '');
  out.push('static const size_t asset_path_len[ASSET_COUNT] = {');
  out.push(`  ${assets.map((a) => `${Buffer.byteLength(a.path)}u`).join(', ')},`);
  out.push('};', '');
  out.push(
    'const struct asset *assets_find(const char *path, size_t len) {',
    '  if (path == NULL) return NULL;',
    '  for (size_t i = 0; i < ASSET_COUNT; i++) {',
    '    if (asset_path_len[i] == len && memcmp(asset_table[i].path, path, len) == 0) {',
    '      return &asset_table[i];',
    '    }',
    '  }',
    '  return NULL;',
    '}',
    '',
    'const struct asset *assets_index(void) {',
    '  return &asset_table[0];',
    '}',
    '',
  );
  return out.join('\n');
}

/** Writes file only if its bytes differ; returns whether it wrote. */
async function writeIfChanged(file, content) {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  let old = null;
  try {
    old = await readFile(file);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  if (old && old.equals(bytes)) return false;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return true;
}

function asset(urlPath, contentType, bytes, immutable) {
  return { path: urlPath, contentType, bytes, immutable, etag: `"${sha256(bytes).slice(0, 16)}"` };
}

/**
 * Bundles a page's <name>.js and <name>.css and rewrites src/<page> to load
 * them under hashed names; returns the page and its two assets.
 */
async function buildPage(esbuild, page, name, urlPath) {
  const js = await bundleScript(esbuild, `${name}.js`);
  const css = await bundle(esbuild, `${name}.css`, { target: ['chrome90', 'firefox90', 'safari14'] });
  const jsPath = js.entry;
  const cssPath = `/assets/${name}-${sha256(css).slice(0, 8)}.css`;

  let html;
  try {
    html = await readFile(path.join(SRC, page), 'utf8');
  } catch (err) {
    throw new BuildError(`cannot read src/${page}: ${err.message}`);
  }
  const script = new RegExp(`<script\\b[^>]*\\bsrc="(?:\\.?\\/)?${name}\\.js"[^>]*><\\/script>`);
  const link = new RegExp(`<link\\b[^>]*\\bhref="(?:\\.?\\/)?${name}\\.css"[^>]*>`);
  html = replaceTag(html, script, `<script type="module" src="${jsPath}"></script>`,
    `<script src="./${name}.js"></script>`, page);
  html = replaceTag(html, link, `<link rel="stylesheet" href="${cssPath}">`,
    `<link rel="stylesheet" href="./${name}.css">`, page);
  return [
    asset(urlPath, 'text/html; charset=utf-8', Buffer.from(html, 'utf8'), false),
    ...js.files.map((f) => asset(f.path, 'text/javascript; charset=utf-8', f.bytes, true)),
    asset(cssPath, 'text/css; charset=utf-8', css, true),
  ];
}

/** docs/openapi.json, checked to parse and to be OpenAPI 3.1, written compact. */
async function openapiAsset() {
  const file = path.join(HERE, '..', 'docs', 'openapi.json');
  let doc;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BuildError(`docs/openapi.json: ${err.message}`);
  }
  if (typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.1') || !doc.paths) {
    throw new BuildError('docs/openapi.json must be an OpenAPI 3.1 document with paths');
  }
  return asset('/api/openapi.json', 'application/json', Buffer.from(JSON.stringify(doc), 'utf8'), false);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const esbuild = await loadEsbuild();

  // index.html first: assets_index() returns the first entry.
  const assets = [
    ...(await buildPage(esbuild, 'index.html', 'app', '/')),
    ...(await buildPage(esbuild, 'docs.html', 'docs', '/docs')),
    await openapiAsset(),
  ];

  const out = path.resolve(opts.out);
  const wrote = await writeIfChanged(out, generateC(assets));
  const total = assets.reduce((n, a) => n + a.bytes.length, 0);
  console.log(`${PROG}: ${wrote ? 'wrote' : 'unchanged'} ${out} (${assets.length} assets, ${total} bytes)`);
  if (process.env.TANDEM_ASSET_SIZES) for (const a of assets) console.log(`  ${a.path} ${a.bytes.length}`);

  if (opts.dir) {
    const dir = path.resolve(opts.dir);
    for (const a of assets) {
      const rel = a.path === '/' ? 'index.html' : a.path === '/docs' ? 'docs.html' : a.path.slice(1);
      await writeIfChanged(path.join(dir, rel), a.bytes);
    }
    console.log(`${PROG}: site in ${dir}`);
  }
}

main().catch((err) => {
  const text = err instanceof BuildError ? err.message : (err?.stack ?? String(err));
  process.stderr.write(`${PROG}: error: ${text}\n`);
  process.exit(1);
});
