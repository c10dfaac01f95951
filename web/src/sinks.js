// Where a file received directly goes while it arrives: into memory (a Blob
// once whole, saved from a link), or straight to disk through the File System
// Access API where the browser has it (Chromium-based browsers, in a secure
// context), so a file larger than memory can still arrive. A sink has
// write(bytes) -> null (taken) or a Promise (resolves once stored),
// finish() -> Promise of {url} or {disk: name}, and discard().

/** Can this browser write a received file to disk as it arrives? */
export function canStreamToDisk() {
  return window.isSecureContext && typeof window.showSaveFilePicker === 'function' &&
    typeof window.showDirectoryPicker === 'function';
}

/** Chunks kept as views of the messages they came in: no copy until the Blob. */
export class MemorySink {
  constructor(type) {
    this.type = type || 'application/octet-stream';
    this.parts = [];
  }

  /** Takes `bytes` now; there is nothing to wait for (returns null). */
  write(bytes) {
    this.parts.push(bytes);
    return null;
  }

  /** The whole file as a Blob URL (the caller revokes it). */
  async finish() {
    const blob = new Blob(this.parts, { type: this.type });
    this.parts = [];
    return { url: URL.createObjectURL(blob) };
  }

  discard() {
    this.parts = [];
  }
}

const BATCH_BYTES = 1024 * 1024; // chunks gathered into one disk write
const BATCH_WAIT_MS = 20; // ...or written after this long without enough

/**
 * A file on disk, written in order. `open` resolves to a FileSystemFileHandle
 * and is called at the first write (or at the end of an empty file), so a
 * folder of many files does not hold many files open at once. Chunks are
 * gathered into writes of up to 1 MiB (each write is a round trip to the
 * browser's file process: 16 times fewer of them). Until `finish` the browser
 * writes to a temporary file; `discard` leaves nothing behind.
 */
export class DiskSink {
  constructor(open) {
    this.open = open;
    this.chain = null;
    this.writable = null;
    this.name = '';
    this.error = null;
    this.batch = null; // {parts, bytes, done: Promise} not written yet
    this.timer = 0;
  }

  start() {
    this.chain ??= this.open().then(async (handle) => {
      this.name = handle.name;
      this.writable = await handle.createWritable();
    });
    return this.chain;
  }

  /** Resolves when `bytes` are handed to the disk; rejects on a write error. */
  write(bytes) {
    if (!this.batch) {
      const batch = { parts: [], bytes: 0, written: null };
      batch.done = new Promise((resolve) => (batch.release = resolve)).then(() => batch.written);
      this.batch = batch;
    }
    const batch = this.batch;
    batch.parts.push(bytes);
    batch.bytes += bytes.length;
    if (batch.bytes >= BATCH_BYTES) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), BATCH_WAIT_MS);
    return batch.done;
  }

  /** Lets the gathered chunks go to disk, after the writes before them. */
  flush() {
    clearTimeout(this.timer);
    this.timer = 0;
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    batch.written = this.start().then(() => this.writable.write(new Blob(batch.parts)));
    this.chain = batch.written.catch((err) => {
      this.error ??= err;
    });
    batch.release();
  }

  async finish() {
    this.flush();
    await this.start();
    if (this.error) throw this.error;
    await this.writable.close();
    return { disk: this.name };
  }

  discard() {
    clearTimeout(this.timer);
    this.batch = null;
    if (!this.chain) return;
    this.chain.then(() => this.writable?.abort()).catch(() => {
      // nothing was written, or it is gone already
    });
  }
}

/** The FileSystemFileHandle for `path` ("a/b/c.txt") under `dir`, creating folders. */
export async function fileUnder(dir, path) {
  const parts = path.split('/');
  const name = parts.pop();
  let at = dir;
  for (const p of parts) at = await at.getDirectoryHandle(p, { create: true });
  return at.getFileHandle(name, { create: true });
}
