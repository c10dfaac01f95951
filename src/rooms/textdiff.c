/* Whole text to change set: prefix and suffix trimmed, Myers' diff on the
 * code points between them (see textdiff.h). */
#include "rooms/textdiff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/changeset.h" /* text_utf16_length */

/* Comparisons the search may make before it gives up on being minimal, so
 * one update never holds the loop for long (about 10 ms). */
#define TEXTDIFF_MAX_WORK (16u * 1000 * 1000)

/* Code points of the part that differs, decoded once so the search
 * compares whole characters. */
struct codepoints {
  uint32_t *cp;
  size_t n;
};

static uint32_t decode_one(const unsigned char *s, size_t *at) {
  unsigned char b = s[*at];
  if (b < 0x80) {
    *at += 1;
    return b;
  }
  if (b < 0xE0) {
    uint32_t c = ((uint32_t)(b & 0x1F) << 6) | (s[*at + 1] & 0x3F);
    *at += 2;
    return c;
  }
  if (b < 0xF0) {
    uint32_t c =
        ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[*at + 1] & 0x3F) << 6) | (s[*at + 2] & 0x3F);
    *at += 3;
    return c;
  }
  uint32_t c = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[*at + 1] & 0x3F) << 12) |
               ((uint32_t)(s[*at + 2] & 0x3F) << 6) | (s[*at + 3] & 0x3F);
  *at += 4;
  return c;
}

static int decode(const char *s, size_t len, struct codepoints *out) {
  out->n = 0;
  out->cp = malloc((len ? len : 1) * sizeof *out->cp);
  if (!out->cp)
    return -1;
  for (size_t at = 0; at < len;)
    out->cp[out->n++] = decode_one((const unsigned char *)s, &at);
  return 0;
}

static size_t encode_one(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

static uint64_t units_of(uint32_t c) {
  return c >= 0x10000 ? 2 : 1;
}

/* ------------------------------------------------------------------------
 * Myers' search. V[k] is the furthest x reached on diagonal k = x - y;
 * the V of every round d is kept so the path can be walked back. The
 * result marks which characters of a are deleted and which of b are
 * inserted; everything else is common. */

struct search {
  const struct codepoints *a, *b;
  int32_t *trace; /* rounds 0..d, round d holding 2d+1 entries for k = -d..d */
  size_t trace_len, trace_cap;
  bool *deleted, *inserted;
};

static int32_t *round_of(struct search *s, int32_t d) {
  return s->trace + (size_t)d * (size_t)d; /* rounds before d hold d*d entries */
}

static int trace_round(struct search *s, int32_t d) {
  size_t need = (size_t)(d + 1) * (size_t)(d + 1);
  if (need > s->trace_cap) {
    size_t cap = s->trace_cap ? s->trace_cap * 2 : 1024;
    while (cap < need)
      cap *= 2;
    int32_t *p = realloc(s->trace, cap * sizeof *p);
    if (!p)
      return -1;
    s->trace = p;
    s->trace_cap = cap;
  }
  s->trace_len = need;
  return 0;
}

/* x on diagonal k in round d-1's V, or -1 when that diagonal is outside
 * round d-1 or was not reached inside the grid. */
static int32_t prev_x(struct search *s, int32_t d, int32_t k) {
  if (k < -(d - 1) || k > d - 1)
    return -1;
  return round_of(s, d - 1)[k + d - 1];
}

/* Where round d's path on diagonal k starts, before its run of common
 * characters: one step down from diagonal k + 1 (inserting b[y]) or right
 * from k - 1 (deleting a[x]), whichever gets further without leaving the
 * grid. Returns x (*down says which), or -1 when neither step stays in. */
static int32_t step_into(struct search *s, int32_t d, int32_t k, bool *down) {
  int32_t n = (int32_t)s->a->n, m = (int32_t)s->b->n;
  int32_t from_above = prev_x(s, d, k + 1), from_left = prev_x(s, d, k - 1);
  int32_t xd = from_above >= 0 && from_above - (k + 1) < m ? from_above : -1;
  int32_t xr = from_left >= 0 && from_left < n ? from_left + 1 : -1;
  *down = xd >= 0 && xd >= xr;
  return *down ? xd : xr;
}

/* Runs the search; returns the number of edits, -1 past the limits, -2
 * when out of memory. */
static int32_t search_run(struct search *s, int32_t max_d) {
  int32_t n = (int32_t)s->a->n, m = (int32_t)s->b->n;
  uint64_t work = 0;
  for (int32_t d = 0; d <= max_d; d++) {
    if (trace_round(s, d) < 0)
      return -2;
    int32_t *v = round_of(s, d);
    for (int32_t k = -d; k <= d; k += 2) {
      bool down;
      int32_t x = d == 0 ? 0 : step_into(s, d, k, &down);
      int32_t y = x - k;
      while (x >= 0 && x < n && y < m && s->a->cp[x] == s->b->cp[y]) {
        x++;
        y++;
        work++;
      }
      v[k + d] = x;
      if (x == n && y == m)
        return d;
      if (++work > TEXTDIFF_MAX_WORK)
        return -1;
    }
  }
  return -1;
}

/* Walks from the end back to the start, marking each edit. */
static void search_mark(struct search *s, int32_t d_end) {
  int32_t x = (int32_t)s->a->n, y = (int32_t)s->b->n;
  for (int32_t d = d_end; d > 0; d--) {
    bool down;
    int32_t k = x - y;
    x = step_into(s, d, k, &down);
    if (down) {
      y = x - (k + 1);
      s->inserted[y] = true;
    } else {
      x -= 1;
      y = x - (k - 1);
      s->deleted[x] = true;
    }
  }
}

/* ------------------------------------------------------------------------
 * Writing the change set in toJSON's form. */

struct writer {
  json_t *out;
  uint64_t kept; /* units of kept text not yet written */
  bool failed;
};

static void add_item(struct writer *w, json_t *item) {
  if (!item || json_array_append_new(w->out, item) < 0)
    w->failed = true;
}

static void flush_kept(struct writer *w) {
  if (w->kept)
    add_item(w, json_integer((json_int_t)w->kept));
  w->kept = 0;
}

/* [deleted units] or [deleted units, "line", ...] (the text split at
 * "\n", as Text.toJSON splits it). */
static void add_change(struct writer *w, uint64_t deleted, const char *ins, size_t ins_len) {
  flush_kept(w);
  json_t *part = json_array();
  if (!part || json_array_append_new(part, json_integer((json_int_t)deleted)) < 0) {
    json_decref(part);
    w->failed = true;
    return;
  }
  for (size_t start = 0; ins_len > 0;) {
    const char *nl = memchr(ins + start, '\n', ins_len - start);
    size_t end = nl ? (size_t)(nl - ins) : ins_len;
    if (json_array_append_new(part, json_stringn(ins + start, end - start)) < 0)
      w->failed = true;
    if (!nl)
      break;
    start = end + 1;
  }
  add_item(w, part);
}

/* The middle, hunk by hunk: runs of common characters are kept, each run
 * of deletions and insertions between them is one replacement. */
static int write_middle(struct writer *w, const struct search *s) {
  const struct codepoints *a = s->a, *b = s->b;
  char *ins = malloc(b->n * 4 + 1);
  if (!ins)
    return -1;
  size_t i = 0, j = 0;
  while (i < a->n || j < b->n) {
    if ((i < a->n && s->deleted[i]) || (j < b->n && s->inserted[j])) {
      uint64_t del = 0;
      size_t len = 0;
      while ((i < a->n && s->deleted[i]) || (j < b->n && s->inserted[j])) {
        if (i < a->n && s->deleted[i])
          del += units_of(a->cp[i++]);
        else
          len += encode_one(b->cp[j++], ins + len);
      }
      add_change(w, del, ins, len);
    } else {
      w->kept += units_of(a->cp[i]);
      i++;
      j++;
    }
  }
  free(ins);
  return 0;
}

/* Bytes shared at the start, backed off to a character boundary. */
static size_t common_prefix(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen < blen ? alen : blen, i = 0;
  while (i < n && a[i] == b[i])
    i++;
  while (i > 0 && ((i < alen && (a[i] & 0xC0) == 0x80) || (i < blen && (b[i] & 0xC0) == 0x80)))
    i--;
  return i;
}

/* Bytes shared at the end (not overlapping the prefix), starting on a
 * character boundary. */
static size_t common_suffix(const char *a, size_t alen, const char *b, size_t blen, size_t prefix) {
  size_t n = (alen < blen ? alen : blen) - prefix, j = 0;
  while (j < n && a[alen - 1 - j] == b[blen - 1 - j])
    j++;
  while (j > 0 && (a[alen - j] & 0xC0) == 0x80)
    j--;
  return j;
}

static void search_free(struct search *s) {
  free(s->trace);
  free(s->deleted);
  free(s->inserted);
}

/* Marks the edits of the middle: minimal when the search finishes within
 * its limits, else everything deleted and inserted. Returns 0 or -1. */
static int diff_middle(struct search *s, uint32_t max_edits) {
  size_t total = s->a->n + s->b->n;
  s->deleted = calloc(s->a->n + 1, sizeof *s->deleted);
  s->inserted = calloc(s->b->n + 1, sizeof *s->inserted);
  if (!s->deleted || !s->inserted)
    return -1;
  int32_t max_d = (int32_t)(max_edits < total ? max_edits : total);
  int32_t d = total <= INT32_MAX ? search_run(s, max_d) : -1;
  if (d == -2)
    return -1;
  if (d >= 0) {
    search_mark(s, d);
    return 0;
  }
  memset(s->deleted, 1, s->a->n * sizeof *s->deleted);
  memset(s->inserted, 1, s->b->n * sizeof *s->inserted);
  return 0;
}

json_t *textdiff(const char *old, size_t old_len, const char *new_text, size_t new_len,
                 uint32_t max_edits) {
  size_t prefix = common_prefix(old, old_len, new_text, new_len);
  size_t suffix = common_suffix(old, old_len, new_text, new_len, prefix);
  struct codepoints a = {0}, b = {0};
  struct search s = {.a = &a, .b = &b};
  struct writer w = {.out = json_array(), .kept = text_utf16_length(old, prefix)};
  if (!w.out || decode(old + prefix, old_len - prefix - suffix, &a) < 0 ||
      decode(new_text + prefix, new_len - prefix - suffix, &b) < 0 ||
      diff_middle(&s, max_edits) < 0 || write_middle(&w, &s) < 0)
    w.failed = true;
  w.kept += text_utf16_length(old + old_len - suffix, suffix);
  flush_kept(&w);
  search_free(&s);
  free(a.cp);
  free(b.cp);
  if (w.failed) {
    json_decref(w.out);
    return NULL;
  }
  return w.out;
}
