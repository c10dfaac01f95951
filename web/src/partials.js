// Files being received directly, kept where a reload of this page does not
// lose them: the bytes in the origin private file system (OPFS, no dialog, in
// every current browser's secure contexts), one file per 1 MiB part, and a
// small record per file in localStorage (resume key, name, size, bytes kept,
// the SHA-256 state at that offset). A reloaded receiver offered the same
// file again goes on from the record (docs/transfer.md, section 6).
//
// A part is written with createWritable() and closed: a closed part is on
// disk, while an open writable is only a temporary file the browser drops when
// the page goes. So bytes count as stored (and are acknowledged) once their
// part is closed and the record says so.
import { Sha256 } from './sha256.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PART_BYTES = 1 * MiB; // at most, so that a part stays well under the sender's window
const PREFIX = 'tandem.partial.'; // localStorage: one record per file
const DIR = 'tandem-partials'; // OPFS: one folder per record, named by its id
const MAX_AGE_MS = 24 * 3600 * 1000; // a part nobody came back for is dropped after a day...
const MAX_BYTES = 2048 * MiB; // ...and the oldest first when all of them hold more than this
const ID_RE = /^[0-9a-z]{8,24}$/;
const KEY_RE = /^[0-9a-f]{32}$/;

const partName = (i) => String(i).padStart(6, '0');
const newId = () => [...crypto.getRandomValues(new Uint8Array(12))].map((x) => x.toString(36).padStart(2, '0')).join('').slice(0, 16);

/** Can this page keep received parts across a reload? */
export function canKeepParts() {
  return Boolean(window.isSecureContext && typeof navigator.storage?.getDirectory === 'function');
}

function validRecord(r) {
  return r && typeof r === 'object' && ID_RE.test(r.id ?? '') && KEY_RE.test(r.key ?? '') &&
    Number.isSafeInteger(r.size) && Number.isSafeInteger(r.bytes) && r.bytes >= 0 && r.bytes <= r.size &&
    Number.isSafeInteger(r.parts) && r.parts >= 0 && Number.isFinite(r.at) && (r.bytes === 0 || Sha256.restore(r.sha));
}

/** The records in localStorage; broken ones are removed. */
function records() {
  const out = [];
  let keys = [];
  try {
    keys = Object.keys(window.localStorage).filter((k) => k.startsWith(PREFIX));
  } catch {
    return out;
  }
  for (const k of keys) {
    let r = null;
    try {
      r = JSON.parse(window.localStorage.getItem(k));
    } catch {
      // removed below
    }
    if (validRecord(r) && k === PREFIX + r.id) out.push(r);
    else dropRecord(k.slice(PREFIX.length));
  }
  return out;
}

function saveRecord(r) {
  try {
    window.localStorage.setItem(PREFIX + r.id, JSON.stringify(r));
    return true;
  } catch {
    return false; // full: the part is on disk, a resume goes on from an older record
  }
}

function dropRecord(id) {
  try {
    window.localStorage.removeItem(PREFIX + id);
  } catch {
    // nothing to drop
  }
}

/** What this page keeps: the records, the parts' folder, and which records it is using. */
export class PartStore {
  constructor() {
    this.inUse = new Set(); // record ids this page writes to
    this.root = null;
  }

  dir() {
    this.root ??= navigator.storage.getDirectory().then((r) => r.getDirectoryHandle(DIR, { create: true }));
    return this.root;
  }

  /**
   * Is anything kept from a transfer in `room`, so a sender there could go on?
   * Records this page holds count too: after our own socket was lost, what
   * we kept in memory is there to go on from.
   */
  hasFrom(room) {
    return records().some((r) => r.room === room);
  }

  /** The record of the file with resume key `key` and `size` bytes nobody here uses, or null. */
  find(key, size) {
    const found = records().filter((r) => r.key === key && r.size === size && !this.inUse.has(r.id));
    return found.sort((a, b) => b.bytes - a.bytes)[0] ?? null;
  }

  /** A sink for a new file, with its record. */
  create({ key, room, name, size, type }) {
    const rec = { id: newId(), key, room, name, size, type, bytes: 0, parts: 0, sha: null, at: Date.now() };
    saveRecord(rec);
    return new PartSink(this, rec);
  }

  /** A sink that goes on after what `rec` holds. */
  resume(rec) {
    return new PartSink(this, rec);
  }

  /** Removes a record and its parts. */
  async remove(id) {
    dropRecord(id);
    this.inUse.delete(id);
    try {
      await (await this.dir()).removeEntry(id, { recursive: true });
    } catch {
      // never written, or gone already
    }
  }

  /**
   * Keeps the space bounded: records older than a day go, then the oldest
   * while all of them hold more than MAX_BYTES, then folders without a record
   * (a record removed while its page could not delete the parts). Records in
   * use here are left alone.
   */
  async prune(now = Date.now()) {
    const keep = [];
    for (const r of records()) {
      if (!this.inUse.has(r.id) && now - r.at > MAX_AGE_MS) await this.remove(r.id);
      else keep.push(r);
    }
    let total = keep.reduce((s, r) => s + r.bytes, 0);
    for (const r of [...keep].sort((a, b) => a.at - b.at)) {
      if (total <= MAX_BYTES) break;
      if (this.inUse.has(r.id)) continue;
      total -= r.bytes;
      await this.remove(r.id);
      keep.splice(keep.indexOf(r), 1);
    }
    const live = new Set(keep.map((r) => r.id));
    try {
      const dir = await this.dir();
      const orphans = [];
      for await (const name of dir.keys()) if (!live.has(name) && !this.inUse.has(name)) orphans.push(name);
      for (const name of orphans) {
        // Another page of this origin may have made its record since.
        if (!records().some((r) => r.id === name)) await dir.removeEntry(name, { recursive: true });
      }
    } catch {
      // no OPFS here, or a folder another page is removing
    }
  }
}

/**
 * A sink (see sinks.js) writing one file into OPFS parts. write(bytes,
 * hasher, partBytes) gathers chunks into the current part; when it holds
 * `partBytes` (the receiver's acknowledgement step: 1 MiB on a data channel,
 * 256 KiB through the relay, whose window is only 1.5 MiB), or
 * the file is complete, the part is written and closed, then the record moves
 * to its end with `hasher`'s state there, and only then do the writes of that
 * part resolve. finish() hands the whole file back as a Blob URL and removes
 * the parts; discard() removes them; detach() leaves them for a later page.
 */
export class PartSink {
  constructor(store, rec) {
    this.store = store;
    this.rec = rec;
    this.written = rec.bytes; // bytes handed to write(), kept or not yet
    this.nextPart = rec.parts;
    this.current = null; // {parts, bytes, done} not written yet
    this.chain = Promise.resolve();
    this.error = null;
    this.gone = false;
    this.folder = null;
    this.firstPart = rec.parts; // parts before it are from an earlier page: read back at the end
    this.chunks = []; // what arrived in this page, kept in memory too, as a MemorySink does
    store.inUse.add(rec.id);
    this.openFolder().catch(() => {}); // ready before the first part; an error shows at its write
  }

  /** The SHA-256 of the bytes kept, to go on hashing after them. */
  hasher() {
    return this.rec.bytes ? Sha256.restore(this.rec.sha) : new Sha256();
  }

  openFolder() {
    this.folder ??= this.store.dir().then((d) => d.getDirectoryHandle(this.rec.id, { create: true }));
    return this.folder;
  }

  write(bytes, hasher, partBytes = PART_BYTES) {
    if (!this.current) {
      const part = { parts: [], bytes: 0, written: null };
      part.done = new Promise((resolve) => (part.release = resolve)).then(() => part.written);
      this.current = part;
    }
    const part = this.current;
    this.chunks.push(bytes);
    part.parts.push(bytes);
    part.bytes += bytes.length;
    this.written += bytes.length;
    if (part.bytes >= Math.min(partBytes, PART_BYTES) || this.written >= this.rec.size) this.seal(hasher.save());
    return part.done;
  }

  /**
   * Writes the current part; `hash` is the state at its end. Parts are files
   * of their own, so several are written at once (a part is one round trip to
   * the browser's file process or more), but the record moves over them in
   * order: a part counts once every part before it is on disk too.
   */
  seal(hash) {
    const part = this.current;
    this.current = null;
    const index = this.nextPart++;
    const end = this.written;
    const own = this.writePart(index, part.parts);
    own.catch(() => {}); // seen in order below, not as an unhandled rejection now
    const before = this.chain;
    part.written = before.then(async () => {
      await own;
      if (this.error) throw this.error;
      Object.assign(this.rec, { parts: index + 1, bytes: end, sha: hash, at: Date.now() });
      if (!this.gone) saveRecord(this.rec);
    });
    this.chain = part.written.catch((err) => {
      this.error ??= err;
    });
    part.release();
  }

  async writePart(index, parts) {
    if (this.gone) throw new Error('stopped');
    const handle = await (await this.openFolder()).getFileHandle(partName(index), { create: true });
    const writable = await handle.createWritable();
    try {
      await writable.write(new Blob(parts));
      await writable.close();
    } catch (err) {
      writable.abort().catch(() => {});
      throw err;
    }
  }

  /**
   * The whole file as a Blob URL, from the parts an earlier page kept (read
   * back) and what arrived here; then the parts are removed.
   */
  async finish() {
    await this.chain;
    if (this.error) throw this.error;
    const buffers = [];
    if (this.firstPart) {
      const folder = await this.openFolder();
      for (let i = 0; i < this.firstPart; i++) buffers.push(await (await (await folder.getFileHandle(partName(i))).getFile()).arrayBuffer());
    }
    const blob = new Blob([...buffers, ...this.chunks], { type: this.rec.type || 'application/octet-stream' });
    this.chunks = [];
    if (blob.size !== this.rec.size) throw new Error(`${blob.size} bytes kept of ${this.rec.size}`);
    this.gone = true;
    await this.store.remove(this.rec.id);
    return { url: URL.createObjectURL(blob) };
  }

  /** Throws the file away (cancelled, declined, damaged). */
  discard() {
    this.gone = true;
    this.current = null;
    this.chunks = [];
    this.chain.then(() => this.store.remove(this.rec.id));
  }

  /** This page is done with it, but a later one may go on from what is kept. */
  detach() {
    this.gone = true;
    this.current = null;
    this.chunks = [];
    this.store.inUse.delete(this.rec.id);
  }
}
