// What a reconnecting drop room asks for: the items after `done`, the
// highest seq below which every item has been seen (or seen deleted).
// Not simply the highest seq seen: with several tandem instances, or posts
// that overlap, item N+1 can arrive before item N, and a reconnect asking
// for `after=N+1` would never get N.
export class SeqTracker {
  constructor() {
    this.done = 0;
    this.above = new Set(); // seen, above a gap
  }

  /** An item (or its deletion) with this seq was seen. */
  seen(seq) {
    if (!Number.isInteger(seq) || seq <= this.done) return;
    this.above.add(seq);
    while (this.above.delete(this.done + 1)) this.done++;
  }

  /** A whole list of the room's items was read: its gaps are deleted items. */
  listed(seqs) {
    const top = Math.max(0, ...seqs.filter(Number.isInteger));
    if (top <= this.done) return;
    this.done = top;
    for (const s of [...this.above]) if (s <= top) this.above.delete(s);
    while (this.above.delete(this.done + 1)) this.done++;
  }
}
