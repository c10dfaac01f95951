// The files workload's client: curl (C, one process, keep-alive) moves the
// bytes, so the client is never what is measured. Four figures, MB/s:
// one 1 GiB file up and down, then 1,000 files of 100 KiB up and down with
// 8 transfers in flight.
//   tandem: POST /api/rooms/:room/items (raw body), GET .../items/:item/file
//   nginx:  PUT /dav/NAME (WebDAV: the body to a file), GET /dav/NAME
// Usage: node files-client.mjs --server tandem|nginx --port P --dir TMP
//        [--big-mib 1024] [--small-count 1000] [--small-kib 100]
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

const opts = { server: null, port: 0, dir: null, 'big-mib': 1024, 'small-count': 1000, 'small-kib': 100 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opts)) throw new Error(`unknown option ${process.argv[i]}`);
  opts[k] = ['server', 'dir'].includes(k) ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
const base = `http://127.0.0.1:${opts.port}`;
const tandem = opts.server === 'tandem';

// Incompressible contents: 1 MiB of random bytes repeated.
function makeFile(name, bytes) {
  const file = path.join(opts.dir, name);
  const chunk = randomBytes(Math.min(bytes, 1 << 20));
  const fd = openSync(file, 'w');
  for (let left = bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  closeSync(fd);
  return file;
}

// Runs curl with a config file of transfers; returns {seconds, codes[]}.
function curl(lines, parallel) {
  const cfg = path.join(opts.dir, 'curl.cfg');
  writeFileSync(cfg, lines.join('\n') + '\n');
  const args = ['-sS', '-K', cfg, '-w', '%{http_code}\\n'];
  if (parallel > 1) args.push('--parallel', '--parallel-max', String(parallel));
  const t0 = process.hrtime.bigint();
  const r = spawnSync('curl', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`curl exit ${r.status}: ${r.stderr.slice(-300)}`);
  return { seconds, codes: r.stdout.split('\n').filter(Boolean).map(Number) };
}

async function newRoom() {
  const res = await fetch(`${base}/api/rooms`, { method: 'POST' });
  if (res.status !== 201) throw new Error(`POST /api/rooms: ${res.status}`);
  return (await res.json()).id;
}

// Transfers as curl config lines: options for all first (`Expect:` off for
// both servers: no wait for 100-continue on every upload), then one
// upload-file + url + output per transfer.
function uploads(files, room) {
  const global = tandem
    ? ['request = "POST"', 'header = "Content-Type: application/octet-stream"', 'header = "Expect:"']
    : ['header = "Expect:"'];
  return [...global, ...files.flatMap(([file, name]) => [`upload-file = "${file}"`,
    `url = "${base}${tandem ? `/api/rooms/${room}/items?name=${name}` : `/dav/${name}`}"`, 'output = "/dev/null"'])];
}
function download(url) {
  return [`url = "${base}${url}"`, 'output = "/dev/null"'];
}

async function fileUrls(room) {
  const urls = [];
  let after = 0;
  for (let page = 0; page < 100 && after !== null; page++) {
    const res = await fetch(`${base}/api/rooms/${room}/items?after=${after}&limit=500`);
    const body = await res.json();
    for (const it of body.items) urls.push(it.url);
    after = body.next_after;
  }
  return urls;
}

function check(what, codes, n) {
  const ok = codes.filter((c) => c >= 200 && c < 300).length;
  if (ok !== n) throw new Error(`${what}: ${ok} of ${n} answered 2xx (${[...new Set(codes)].join(',')})`);
}

const MB = 1e6;
const report = { server: opts.server };
const bigBytes = opts['big-mib'] * 1024 * 1024;
const smallBytes = opts['small-kib'] * 1024;
const n = opts['small-count'];
const big = makeFile('big.bin', bigBytes);
const small = makeFile('small.bin', smallBytes);

const bigRoom = tandem ? await newRoom() : null;
let r = curl(uploads([[big, 'big.bin']], bigRoom), 1);
check('big upload', r.codes, 1);
report.big_up_mb_s = bigBytes / MB / r.seconds;
const bigUrl = tandem ? (await fileUrls(bigRoom))[0] : '/dav/big.bin';
r = curl(download(bigUrl), 1);
check('big download', r.codes, 1);
report.big_down_mb_s = bigBytes / MB / r.seconds;

const smallRoom = tandem ? await newRoom() : null;
const names = Array.from({ length: n }, (_, i) => `small-${String(i).padStart(4, '0')}.bin`);
r = curl(uploads(names.map((name) => [small, name]), smallRoom), 8);
check('small uploads', r.codes, n);
report.small_up_mb_s = (n * smallBytes) / MB / r.seconds;
report.small_up_files_s = n / r.seconds;
const urls = tandem ? await fileUrls(smallRoom) : names.map((name) => `/dav/${name}`);
if (urls.length !== n) throw new Error(`${urls.length} of ${n} small files listed`);
r = curl(urls.flatMap(download), 8);
check('small downloads', r.codes, n);
report.small_down_mb_s = (n * smallBytes) / MB / r.seconds;
report.small_down_files_s = n / r.seconds;
process.stdout.write(`${JSON.stringify(report)}\n`);
