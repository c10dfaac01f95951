/* libFuzzer harness for the multipart/form-data parser.
 *
 * Input: a control byte, two seed bytes, then the body. The control byte
 * picks one of a few fixed boundaries (short ones, so random bodies hit
 * delimiters often, and the longest allowed); the seed picks the split
 * point and the chunk sizes. The body is parsed whole, split in two at the
 * seeded point, in pseudo-random chunks, in chunks with a callback stopping
 * the parser every few events, and (when short) one byte at a time: every
 * run must give the same transcript and result. The whole run must also
 * agree with a reference parser written separately here, which works on
 * the complete body with memmem instead of a state machine. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

#include "fuzz_check.h"

static const char *const boundaries[4] = {
    "XyZ",
    "-",
    "a b",
    "0123456789012345678901234567890123456789012345678901234567890123456789",
};

/* ------------------------------------------------------------------------
 * Transcript, as in the unit tests: B, H<name>=<value>|, E, D[...], P, Z,
 * !<code>. */

struct rec {
  char *s;
  size_t n, cap;
  bool data_open;
  /* grammar tracking */
  enum { G_OUT, G_HEADERS, G_DATA, G_END } g;
  /* where data may point */
  const uint8_t *base;
  size_t base_len;
  const multipart_parser *p;
  size_t calls, stop_every;
};

static void put(struct rec *r, const void *d, size_t n) {
  if (r->n + n + 1 > r->cap) {
    r->cap = (r->n + n + 1) * 2;
    r->s = realloc(r->s, r->cap);
    CHECK(r->s != NULL);
  }
  if (n)
    memcpy(r->s + r->n, d, n);
  r->n += n;
  r->s[r->n] = '\0';
}

static void puts_(struct rec *r, const char *s) {
  put(r, s, strlen(s));
}

static void close_data(struct rec *r) {
  if (r->data_open)
    puts_(r, "]");
  r->data_open = false;
}

static int stop(struct rec *r) {
  return r->stop_every && ++r->calls % r->stop_every == 0;
}

static int ev_begin(void *ctx) {
  struct rec *r = ctx;
  CHECK(r->g == G_OUT);
  r->g = G_HEADERS;
  close_data(r);
  puts_(r, "B");
  return stop(r);
}

static int ev_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen) {
  struct rec *r = ctx;
  CHECK(r->g == G_HEADERS);
  CHECK(nlen > 0 && nlen + vlen < MULTIPART_HEADER_MAX);
  CHECK(memchr(value, '\r', vlen) == NULL && memchr(value, '\n', vlen) == NULL);
  close_data(r);
  puts_(r, "H");
  put(r, name, nlen);
  puts_(r, "=");
  put(r, value, vlen);
  puts_(r, "|");
  return stop(r);
}

static int ev_headers_end(void *ctx) {
  struct rec *r = ctx;
  CHECK(r->g == G_HEADERS);
  r->g = G_DATA;
  close_data(r);
  puts_(r, "E");
  return stop(r);
}

static int ev_data(void *ctx, const uint8_t *d, size_t n) {
  struct rec *r = ctx;
  CHECK(r->g == G_DATA);
  CHECK(n > 0);
  /* Zero-copy from the input, or held-back bytes from the parser's own
   * copy of the delimiter. */
  bool in_input = d >= r->base && d + n <= r->base + r->base_len;
  bool in_delim = d >= r->p->delim && d + n <= r->p->delim + r->p->delim_len;
  CHECK(in_input || in_delim);
  if (!r->data_open)
    puts_(r, "D[");
  r->data_open = true;
  put(r, d, n);
  return stop(r);
}

static int ev_part_end(void *ctx) {
  struct rec *r = ctx;
  CHECK(r->g == G_DATA);
  r->g = G_OUT;
  close_data(r);
  puts_(r, "P");
  return stop(r);
}

static int ev_end(void *ctx) {
  struct rec *r = ctx;
  CHECK(r->g == G_OUT);
  r->g = G_END;
  close_data(r);
  puts_(r, "Z");
  return stop(r);
}

static const multipart_callbacks recorder = {ev_begin, ev_header,   ev_headers_end,
                                             ev_data,  ev_part_end, ev_end};

static void finish_rec(struct rec *r, int rc) {
  close_data(r);
  if (rc) {
    char code[16];
    snprintf(code, sizeof code, "!%d", rc);
    puts_(r, code);
  }
}

struct rng {
  uint64_t s;
};

static uint64_t rng_next(struct rng *g) {
  uint64_t z = (g->s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

enum chunking { WHOLE, SPLIT, RANDOM, BYTES };

static struct rec parse(const char *boundary, const uint8_t *body, size_t len, enum chunking how,
                        uint16_t seed, size_t stop_every) {
  /* Each chunk gets its own allocation, so ASan catches a read past it. */
  multipart_parser p;
  struct rec r = {0};
  r.p = &p;
  r.stop_every = stop_every;
  puts_(&r, "");
  CHECK(multipart_init(&p, boundary, strlen(boundary)) == 0);
  struct rng g = {seed};
  size_t max_chunk = (size_t)3 << (seed & 7);
  size_t pos = 0, chunks = 0;
  int rc = 0;
  while (rc == 0 && (pos < len || chunks == 0)) {
    size_t n = len - pos;
    if (how == BYTES && n > 1)
      n = 1;
    else if (how == SPLIT && chunks == 0)
      n = seed % (len + 1);
    else if (how == RANDOM) {
      size_t c = (size_t)(rng_next(&g) % (max_chunk + 1)); /* empty chunks too */
      if (c < n)
        n = c;
    }
    uint8_t *chunk = malloc(n ? n : 1);
    CHECK(chunk != NULL);
    if (n)
      memcpy(chunk, body + pos, n);
    r.base = chunk;
    r.base_len = n;
    size_t at = 0;
    for (;;) {
      size_t consumed = (size_t)-1;
      int64_t res = multipart_feed(&p, chunk + at, n - at, &recorder, &r, &consumed);
      CHECK(consumed <= n - at);
      /* Held back: a strict prefix of the delimiter, never more. */
      CHECK(p.matched < p.delim_len);
      if (res == MULTIPART_STOPPED) {
        CHECK(stop_every != 0);
        at += consumed;
        continue;
      }
      if (res < 0) {
        CHECK(res <= MULTIPART_EBOUNDARY && res >= MULTIPART_EDISPOSITION);
        rc = (int)res;
        break;
      }
      CHECK((size_t)res == n - at && consumed == n - at);
      break;
    }
    free(chunk);
    pos += n;
    chunks++;
  }
  if (rc == 0) {
    rc = multipart_finish(&p);
    CHECK(rc == 0 || rc == MULTIPART_ETRUNCATED);
    CHECK((rc == 0) == (r.g == G_END));
  } else {
    /* Errors are sticky. */
    CHECK(multipart_finish(&p) == rc);
    CHECK(multipart_feed(&p, (const uint8_t *)"", 0, &recorder, &r, NULL) == rc);
  }
  finish_rec(&r, rc);
  return r;
}

/* ------------------------------------------------------------------------
 * Reference: the same grammar, on the whole body, by searching. */

static bool ref_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static struct rec reference(const char *boundary, const uint8_t *b, size_t len) {
  struct rec r = {0};
  puts_(&r, "");
  char delim[80];
  size_t dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
  int rc = MULTIPART_ETRUNCATED;
  size_t pos;
  /* The first delimiter may lack its CRLF. */
  if (len >= dl - 2 && memcmp(b, delim + 2, dl - 2) == 0) {
    pos = dl - 2;
  } else {
    const uint8_t *f = memmem(b, len, delim, dl);
    if (!f)
      goto out;
    pos = (size_t)(f - b) + dl;
  }
  bool in_part = false;
  for (;;) {
    /* after a boundary */
    if (pos < len && b[pos] == '-') {
      if (pos + 1 >= len)
        goto out;
      if (b[pos + 1] != '-') {
        rc = MULTIPART_EDELIMITER;
        goto out;
      }
      if (in_part)
        puts_(&r, "P");
      puts_(&r, "Z");
      rc = 0;
      goto out;
    }
    while (pos < len && (b[pos] == ' ' || b[pos] == '\t'))
      pos++;
    if (pos >= len)
      goto out;
    if (b[pos] != '\r') {
      rc = MULTIPART_EDELIMITER;
      goto out;
    }
    if (pos + 1 >= len)
      goto out;
    if (b[pos + 1] != '\n') {
      rc = MULTIPART_EDELIMITER;
      goto out;
    }
    pos += 2;
    if (in_part)
      puts_(&r, "P");
    puts_(&r, "B");
    in_part = true;
    /* headers */
    int count = 0;
    for (;;) {
      size_t start = pos;
      while (pos < len && b[pos] != '\r') {
        unsigned char c = b[pos];
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
          rc = MULTIPART_EHEADER;
          goto out;
        }
        if (pos - start == MULTIPART_HEADER_MAX) {
          rc = MULTIPART_EHEADER_TOO_LONG;
          goto out;
        }
        pos++;
      }
      if (pos + 1 >= len)
        goto out;
      if (b[pos + 1] != '\n') {
        rc = MULTIPART_EHEADER;
        goto out;
      }
      size_t end = pos;
      pos += 2;
      if (end == start) {
        puts_(&r, "E");
        break;
      }
      size_t colon = start;
      while (colon < end && ref_tchar(b[colon]))
        colon++;
      if (colon == start || colon == end || b[colon] != ':') {
        rc = MULTIPART_EHEADER;
        goto out;
      }
      if (++count > MULTIPART_MAX_HEADERS) {
        rc = MULTIPART_ETOO_MANY_HEADERS;
        goto out;
      }
      size_t vs = colon + 1, ve = end;
      while (vs < ve && (b[vs] == ' ' || b[vs] == '\t'))
        vs++;
      while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
        ve--;
      puts_(&r, "H");
      put(&r, b + start, colon - start);
      puts_(&r, "=");
      put(&r, b + vs, ve - vs);
      puts_(&r, "|");
    }
    /* data: the blank line's CRLF may be the delimiter's */
    const uint8_t *f = memmem(b + pos - 2, len - (pos - 2), delim, dl);
    size_t data_end = f ? (size_t)(f - b) : len;
    if (data_end > pos) {
      puts_(&r, "D[");
      put(&r, b + pos, data_end - pos);
      puts_(&r, "]");
    }
    if (!f) {
      /* Held back at the end: a tail that is a delimiter prefix is not
       * data yet. Undo it from the transcript. */
      size_t held = 0;
      for (size_t k = dl - 1; k > 0; k--)
        if (len - (pos - 2) >= k && memcmp(b + len - k, delim, k) == 0) {
          held = k;
          break;
        }
      if (held && data_end > pos) {
        size_t keep = data_end - pos > held ? data_end - pos - held : 0;
        r.n -= (data_end - pos) + 3;
        r.s[r.n] = '\0';
        if (keep) {
          puts_(&r, "D[");
          put(&r, b + pos, keep);
          puts_(&r, "]");
        }
      }
      goto out;
    }
    pos = data_end + dl;
  }
out:
  finish_rec(&r, rc);
  return r;
}

static void same(const struct rec *a, const struct rec *b) {
  if (a->n != b->n || memcmp(a->s, b->s, a->n) != 0) {
    fprintf(stderr, "transcripts differ:\n  %.*s\n  %.*s\n", (int)a->n, a->s, (int)b->n, b->s);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3)
    return 0;
  const char *boundary = boundaries[data[0] & 3];
  uint16_t seed = (uint16_t)(data[1] | data[2] << 8);
  const uint8_t *body = data + 3;
  size_t len = size - 3;

  struct rec whole = parse(boundary, body, len, WHOLE, seed, 0);
  struct rec ref = reference(boundary, body, len);
  same(&whole, &ref);
  struct rec runs[4];
  runs[0] = parse(boundary, body, len, SPLIT, seed, 0);
  runs[1] = parse(boundary, body, len, RANDOM, seed, 0);
  runs[2] = parse(boundary, body, len, RANDOM, (uint16_t)(seed * 37 + 11), 1 + (data[0] >> 2 & 3));
  size_t nruns = 3;
  if (len <= 4096)
    runs[nruns++] = parse(boundary, body, len, BYTES, seed, 0);
  for (size_t i = 0; i < nruns; i++) {
    same(&whole, &runs[i]);
    free(runs[i].s);
  }
  free(whole.s);
  free(ref.s);

  /* The header helpers must not crash on anything either. */
  multipart_disp d;
  if (multipart_disposition((const char *)body, len, &d) == 0) {
    CHECK(!d.has_name || d.name_len <= len);
    CHECK(!d.has_filename || d.filename_len <= len);
  }
  char b[MULTIPART_BOUNDARY_MAX + 1];
  int n = multipart_boundary((const char *)body, len, b, sizeof b);
  if (n >= 0) {
    multipart_parser p;
    CHECK(n >= 1 && n <= MULTIPART_BOUNDARY_MAX && strlen(b) == (size_t)n);
    CHECK(multipart_init(&p, b, (size_t)n) == 0);
  }
  return 0;
}
