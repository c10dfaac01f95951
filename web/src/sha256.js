// Incremental SHA-256 (FIPS 180-4) in plain JavaScript. crypto.subtle only
// hashes a whole buffer at once and is missing outside secure contexts (a
// LAN address over http), while a direct transfer must hash a file of any
// size as its chunks go by without holding it in memory.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 {
  constructor() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Uint32Array(64);
    this.buf = new Uint8Array(64);
    this.bufLen = 0;
    this.total = 0;
  }

  /** Hashes `bytes` (a Uint8Array) after what came before. */
  update(bytes) {
    let i = 0;
    const n = bytes.length;
    this.total += n;
    if (this.bufLen) {
      const take = Math.min(64 - this.bufLen, n);
      this.buf.set(bytes.subarray(0, take), this.bufLen);
      this.bufLen += take;
      i = take;
      if (this.bufLen < 64) return this;
      this.block(this.buf, 0);
      this.bufLen = 0;
    }
    for (; i + 64 <= n; i += 64) this.block(bytes, i);
    if (i < n) {
      this.buf.set(bytes.subarray(i), 0);
      this.bufLen = n - i;
    }
    return this;
  }

  block(p, o) {
    const w = this.w;
    const h = this.h;
    for (let t = 0; t < 16; t++, o += 4) w[t] = (p[o] << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3];
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }

  /**
   * The state after the bytes so far, as plain JSON-able values, so a hash can
   * go on in another page load (a receiver that reloaded mid-file): the eight
   * words, the bytes past the last 64-byte block (none at a block boundary),
   * and the count.
   */
  save() {
    return {
      h: [...this.h].map((x) => x.toString(16).padStart(8, '0')).join(''),
      tail: [...this.buf.subarray(0, this.bufLen)].map((x) => x.toString(16).padStart(2, '0')).join(''),
      total: this.total,
    };
  }

  /** A hash that goes on from `state` (from save()); null if `state` is not one. */
  static restore(state) {
    const { h, tail, total } = state ?? {};
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h) || typeof tail !== 'string' || !/^(?:[0-9a-f]{2}){0,63}$/.test(tail)) return null;
    if (!Number.isSafeInteger(total) || total < 0 || total % 64 !== tail.length / 2) return null;
    const s = new Sha256();
    for (let i = 0; i < 8; i++) s.h[i] = parseInt(h.slice(i * 8, i * 8 + 8), 16);
    for (let i = 0; i < tail.length / 2; i++) s.buf[i] = parseInt(tail.slice(i * 2, i * 2 + 2), 16);
    s.bufLen = tail.length / 2;
    s.total = total;
    return s;
  }

  /** The digest as 64 lowercase hex digits; the object is spent afterwards. */
  hex() {
    const bits = this.total * 8;
    const pad = new Uint8Array(((this.bufLen + 9 + 63) >> 6) * 64 - this.bufLen);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(pad.length - 4, bits >>> 0);
    this.total -= pad.length; // padding is not message
    this.update(pad);
    return [...this.h].map((x) => x.toString(16).padStart(8, '0')).join('');
  }
}
