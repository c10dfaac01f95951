// Where a file received directly goes while it arrives. A sink has
// write(bytes) -> null (taken) or a Promise (resolves once stored),
// finish() -> Promise of {url} or {disk: name}, and discard().

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
