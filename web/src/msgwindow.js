// A windowed list for a chat's messages: tens of thousands of messages in
// memory, only the ones in (and just around) the viewport in the DOM. Rows
// are absolutely placed at offsets summed from their heights; a row's height
// is a guess until it has been rendered once and measured. When heights or
// rows above the viewport change, the first visible row stays where the
// reader saw it (an anchor), and a list scrolled to the bottom stays there.

const GUESS_PX = 64; // a one-line message with its header
const OVERSCAN_PX = 700; // rendered beyond each edge, so a fling shows no gap
const BOTTOM_SLACK_PX = 48; // this close to the end counts as "at the newest"
const NEAR_TOP_PX = 900; // this close to the start asks for older history
const MAX_PASSES = 4; // measure, re-place, measure again: converges in one or two

export class MessageWindow {
  /**
   * scroller: the scrolling element; list: its only content, sized here;
   * render(msg) -> a new element for a message; hooks: onNearTop(),
   * onStick(atBottom) when the reader reaches or leaves the newest message.
   */
  constructor(scroller, list, render, hooks = {}) {
    this.scroller = scroller;
    this.list = list;
    this.render = render;
    this.hooks = hooks;
    this.msgs = []; // oldest first
    this.heights = new Map(); // id -> measured px
    this.index = new Map(); // id -> position in msgs
    this.offsets = [0]; // offsets[i]: top of msgs[i]; offsets[n]: total height
    this.dirty = false;
    this.rows = new Map(); // id -> element in the DOM
    this.stick = true;
    this.frame = 0;
    this.width = 0;
    this.onScroll = () => {
      const atBottom = this.distanceFromBottom() < BOTTOM_SLACK_PX;
      if (atBottom !== this.stick) {
        this.stick = atBottom;
        this.hooks.onStick?.(atBottom);
      }
      this.schedule();
    };
    scroller.addEventListener('scroll', this.onScroll, { passive: true });
    // A new width rewraps every row: forget the measurements.
    this.resize = new ResizeObserver(() => {
      const w = scroller.clientWidth;
      if (w === this.width) return;
      this.width = w;
      this.heights.clear();
      this.dirty = true;
      this.schedule();
    });
    this.resize.observe(scroller);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.scroller.removeEventListener('scroll', this.onScroll);
    this.resize.disconnect();
    this.clear();
  }

  clear() {
    this.msgs = [];
    this.heights.clear();
    this.index.clear();
    this.rows.clear();
    this.list.replaceChildren();
    this.offsets = [0];
    this.dirty = false;
    this.stick = true;
    this.list.style.height = '0px';
  }

  get size() {
    return this.msgs.length;
  }

  has(id) {
    return this.index.has(id);
  }

  get(id) {
    const i = this.index.get(id);
    return i === undefined ? null : this.msgs[i];
  }

  first() {
    return this.msgs[0] ?? null;
  }

  last() {
    return this.msgs[this.msgs.length - 1] ?? null;
  }

  distanceFromBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  /** Adds newer messages (ids above the last); returns how many were new. */
  append(msgs) {
    const last = this.last();
    const fresh = msgs.filter((m) => !this.index.has(m.id) && (!last || m.id > last.id));
    if (!fresh.length) return 0;
    for (const m of fresh) {
      this.index.set(m.id, this.msgs.length);
      this.msgs.push(m);
    }
    this.dirty = true;
    this.update();
    return fresh.length;
  }

  /** Adds older messages (ids below the first), keeping the reader's place. */
  prepend(msgs) {
    const first = this.first();
    const older = msgs.filter((m) => !this.index.has(m.id) && (!first || m.id < first.id));
    if (!older.length) return 0;
    const anchor = this.anchor();
    this.msgs = older.concat(this.msgs);
    this.reindex();
    this.update(anchor);
    return older.length;
  }

  /** Takes a message out (the owner deleted it); true when it was here. */
  remove(id) {
    const i = this.index.get(id);
    if (i === undefined) return false;
    let anchor = this.anchor();
    if (anchor?.id === id) anchor = this.anchorNear(i);
    this.msgs.splice(i, 1);
    this.heights.delete(id);
    this.rows.get(id)?.remove();
    this.rows.delete(id);
    this.reindex();
    this.update(anchor);
    return true;
  }

  /** Re-renders one message's row (its buttons changed). */
  refresh(id) {
    const el = this.rows.get(id);
    if (!el) return;
    el.remove();
    this.rows.delete(id);
    this.update();
  }

  /** Re-renders every row in the DOM (who may delete changed). */
  refreshAll() {
    this.list.replaceChildren();
    this.rows.clear();
    this.update();
  }

  scrollToBottom() {
    this.stick = true;
    this.hooks.onStick?.(true);
    this.update();
  }

  reindex() {
    this.index.clear();
    this.msgs.forEach((m, i) => this.index.set(m.id, i));
    this.dirty = true;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.update();
    });
  }

  heightOf(m) {
    return this.heights.get(m.id) ?? GUESS_PX;
  }

  relayout() {
    if (!this.dirty) return;
    const n = this.msgs.length;
    const offsets = new Array(n + 1);
    let y = 0;
    for (let i = 0; i < n; i++) {
      offsets[i] = y;
      y += this.heightOf(this.msgs[i]);
    }
    offsets[n] = y;
    this.offsets = offsets;
    this.dirty = false;
    this.list.style.height = `${y}px`;
  }

  /** The index of the row at pixel y (the last row whose top is <= y). */
  rowAt(y) {
    let lo = 0;
    let hi = this.msgs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= y) lo = mid;
      else hi = mid - 1;
    }
    return Math.max(0, lo);
  }

  /** The first visible row and how far above the viewport's top its top is. */
  anchor() {
    if (this.stick || !this.msgs.length) return null;
    this.relayout();
    const top = this.scroller.scrollTop;
    const i = this.rowAt(top);
    return { id: this.msgs[i].id, delta: this.offsets[i] - top };
  }

  anchorNear(i) {
    const other = this.msgs[i + 1] ?? this.msgs[i - 1];
    if (!other) return null;
    const j = this.index.get(other.id);
    return { id: other.id, delta: this.offsets[j] - this.scroller.scrollTop };
  }

  /** Puts the scroll position back where the anchor (or the bottom) says. */
  restore(anchor) {
    const s = this.scroller;
    if (this.stick) {
      s.scrollTop = s.scrollHeight;
      return;
    }
    const i = anchor ? this.index.get(anchor.id) : undefined;
    if (i !== undefined) s.scrollTop = this.offsets[i] - anchor.delta;
  }

  /** Renders the rows in view, measures them, repeats while heights moved. */
  update(anchor = this.anchor()) {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      this.relayout();
      this.restore(anchor);
      if (!this.renderWindow()) break;
      this.dirty = true;
    }
    if (this.msgs.length && this.scroller.scrollTop < NEAR_TOP_PX) this.hooks.onNearTop?.();
  }

  /** Returns whether any measured height changed. */
  renderWindow() {
    const n = this.msgs.length;
    if (!n) return false;
    const top = this.scroller.scrollTop;
    const from = this.rowAt(Math.max(0, top - OVERSCAN_PX));
    const to = this.rowAt(top + this.scroller.clientHeight + OVERSCAN_PX);
    for (const [id, el] of this.rows) {
      const i = this.index.get(id);
      if (i === undefined || i < from || i > to) {
        el.remove();
        this.rows.delete(id);
      }
    }
    const placed = [];
    for (let i = from; i <= to; i++) {
      const m = this.msgs[i];
      let el = this.rows.get(m.id);
      if (!el) {
        el = this.render(m);
        this.rows.set(m.id, el);
      }
      el.style.transform = `translateY(${this.offsets[i]}px)`;
      placed.push([m, el]);
    }
    // New rows go in before the next row already there, so the DOM order is
    // the reading order (for Tab, selection and screen readers) and no row
    // already in place moves (a focused button keeps its focus).
    let next = null;
    for (let k = placed.length - 1; k >= 0; k--) {
      const el = placed[k][1];
      if (!el.isConnected) this.list.insertBefore(el, next);
      next = el;
    }
    let changed = false;
    for (const [m, el] of placed) {
      const h = el.offsetHeight;
      if (h > 0 && h !== this.heights.get(m.id)) {
        if (this.heights.get(m.id) !== undefined || h !== GUESS_PX) changed = true;
        this.heights.set(m.id, h);
      }
    }
    return changed;
  }
}
