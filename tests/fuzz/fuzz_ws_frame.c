/* libFuzzer harness for the WebSocket frame parser.
 *
 * Input: one control byte, then the bytes fed to the parser. The control
 * byte picks the side (bit 7 set: a client parser reading unmasked server
 * frames) and seeds the chunking and callback-stop pattern. The same bytes
 * are parsed whole, in pseudo-random chunks, in chunks with the callback
 * stopping the parser every few events, and one byte at a time; every run
 * must give the same result and the same transcript of finished frames.
 * Independently of the runs agreeing, each run's events must obey the
 * protocol: sizes, control frame rules, message ordering and UTF-8, the
 * last checked against a reference decoder written separately here. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws/ws_codec.h"

#include "fuzz_check.h"

#define MAX_MESSAGE ((uint64_t)1 << 20)

/* Code-point decoding, deliberately unlike the codec's DFA, so a shared
 * mistake is unlikely. */
static bool ref_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    uint32_t cp;
    size_t len;
    if (b < 0x80) {
      i++;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F;
      len = 2;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F;
      len = 3;
    } else if ((b & 0xF8) == 0xF0) {
      cp = b & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

struct event {
  uint8_t opcode;
  unsigned flags;
  size_t off, n;
};

struct run {
  /* the buffer being parsed, to check piece pointers lie inside it */
  const uint8_t *base;
  size_t base_len;
  /* transcript of frames, pieces merged */
  struct event *ev;
  size_t nev, ev_cap;
  uint8_t *bytes;
  size_t nbytes, bytes_cap;
  /* protocol tracking */
  uint8_t msg_opcode; /* data message open, else 0 */
  uint8_t *msg;       /* the open data message, assembled apart from the */
  size_t msg_len;     /* transcript because control frames interleave */
  size_t msg_cap;
  uint32_t utf8;
  bool in_frame;
  size_t calls, stop_every;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  p = realloc(p, c * elem);
  CHECK(p != NULL);
  *cap = c;
  return p;
}

static int on_piece(void *ctx, enum ws_opcode op, const uint8_t *data, size_t n, unsigned flags) {
  struct run *r = ctx;
  r->calls++;
  CHECK(op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE || op == WS_OP_PING ||
        op == WS_OP_PONG);
  CHECK((flags & ~(WS_FRAME_END | WS_MESSAGE_END)) == 0);
  CHECK(!(flags & WS_MESSAGE_END) || (flags & WS_FRAME_END));
  CHECK(n > 0 || (flags & WS_FRAME_END));
  if (n)
    CHECK(data >= r->base && data + n <= r->base + r->base_len);

  struct event *e;
  if (!r->in_frame) {
    r->ev = grow(r->ev, &r->ev_cap, r->nev + 1, sizeof *r->ev);
    e = &r->ev[r->nev++];
    e->opcode = (uint8_t)op;
    e->off = r->nbytes;
    e->n = 0;
    r->in_frame = true;
    bool control = (op & 0x8) != 0;
    if (!control) {
      if (r->msg_opcode)
        CHECK(op == r->msg_opcode); /* continuations keep the opcode */
      else {
        r->msg_opcode = (uint8_t)op;
        r->msg_len = 0;
        r->utf8 = UTF8_ACCEPT;
      }
    }
  } else {
    e = &r->ev[r->nev - 1];
    CHECK(e->opcode == op);
  }
  r->bytes = grow(r->bytes, &r->bytes_cap, r->nbytes + n, 1);
  if (n)
    memcpy(r->bytes + r->nbytes, data, n);
  r->nbytes += n;
  e->n += n;
  e->flags = flags;

  bool control = (op & 0x8) != 0;
  if (control) {
    CHECK(e->n <= WS_CONTROL_MAX);
    if (flags & WS_FRAME_END) {
      CHECK(flags & WS_MESSAGE_END);
      CHECK(!(op == WS_OP_CLOSE && e->n == 1));
      /* Whatever the peer sent, the check must not crash and must agree
       * with the reference on the reason's UTF-8. */
      int code = ws_close_payload_check(r->bytes + e->off, e->n);
      if (op == WS_OP_CLOSE && e->n >= 2 && code != -WS_CLOSE_PROTOCOL_ERROR)
        CHECK((code == -WS_CLOSE_INVALID_PAYLOAD) ==
              !ref_utf8_valid(r->bytes + e->off + 2, e->n - 2));
    }
  } else {
    r->msg = grow(r->msg, &r->msg_cap, r->msg_len + n, 1);
    if (n)
      memcpy(r->msg + r->msg_len, data, n);
    r->msg_len += n;
    CHECK(r->msg_len <= MAX_MESSAGE);
    if (op == WS_OP_TEXT) {
      /* "validated up to this point": no delivered prefix is invalid. */
      r->utf8 = utf8_step(r->utf8, data, n);
      CHECK(r->utf8 != UTF8_REJECT);
    }
    if (flags & WS_MESSAGE_END) {
      if (op == WS_OP_TEXT) {
        CHECK(utf8_valid(r->msg, r->msg_len));
        CHECK(ref_utf8_valid(r->msg, r->msg_len));
      }
      r->msg_opcode = 0;
    }
  }
  if (flags & WS_FRAME_END)
    r->in_frame = false;
  return r->stop_every && r->calls % r->stop_every == 0;
}

static void run_free(struct run *r) {
  free(r->ev);
  free(r->bytes);
  free(r->msg);
}

/* Drops a frame left unfinished by an error: how much of it was delivered
 * legitimately depends on the chunking. */
static void drop_partial(struct run *r) {
  if (r->in_frame) {
    r->nbytes = r->ev[r->nev - 1].off;
    r->nev--;
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

enum chunking { WHOLE, RANDOM, BYTES };

/* Parses `in` with the given chunking; returns 0 or the error code. */
static int64_t parse(const uint8_t *in, size_t len, bool require_mask, enum chunking how,
                     uint8_t seed, size_t stop_every, struct run *r) {
  uint8_t *copy = malloc(len ? len : 1);
  CHECK(copy != NULL);
  if (len)
    memcpy(copy, in, len);
  memset(r, 0, sizeof *r);
  r->base = copy;
  r->base_len = len;
  r->stop_every = stop_every;
  /* Never NULL, so offsets into it are defined even when nothing arrived. */
  r->bytes = grow(NULL, &r->bytes_cap, 1, 1);
  r->msg = grow(NULL, &r->msg_cap, 1, 1);
  struct rng g = {seed};
  size_t max_chunk = (size_t)3 << (seed & 7);

  ws_parser p;
  ws_parser_init(&p, MAX_MESSAGE, require_mask);
  int64_t result = 0;
  size_t pos = 0;
  while (pos < len) {
    size_t n = len - pos;
    if (how == BYTES)
      n = 1;
    else if (how == RANDOM) {
      size_t c = 1 + (size_t)(rng_next(&g) % max_chunk);
      if (c < n)
        n = c;
    }
    size_t end = pos + n;
    while (pos < end) {
      size_t consumed = (size_t)-1;
      int64_t rc = ws_parser_feed(&p, copy + pos, end - pos, on_piece, r, &consumed);
      CHECK(consumed <= end - pos);
      if (rc == WS_PARSE_STOPPED) {
        CHECK(stop_every != 0);
        pos += consumed;
        continue;
      }
      if (rc < 0) {
        CHECK(rc == -WS_CLOSE_PROTOCOL_ERROR || rc == -WS_CLOSE_INVALID_PAYLOAD ||
              rc == -WS_CLOSE_TOO_BIG);
        result = rc;
        goto out;
      }
      CHECK(rc == (int64_t)(end - pos));
      CHECK(consumed == end - pos);
      pos = end;
    }
  }
  /* A frame the callbacks saw begin but not end can only be one the input
   * cut off, so the parser must still be inside its payload. */
  if (r->in_frame)
    CHECK(p.in_payload);
out:
  if (result)
    drop_partial(r);
  free(copy);
  return result;
}

/* Payload bytes are delivered as soon as they are fed, so after a clean run
 * even a frame cut off by the end of the input must match in every run. */
static void same(const struct run *a, const struct run *b) {
  CHECK(a->nev == b->nev);
  for (size_t i = 0; i < a->nev; i++) {
    CHECK(a->ev[i].opcode == b->ev[i].opcode);
    CHECK(a->ev[i].n == b->ev[i].n);
    CHECK(a->ev[i].flags == b->ev[i].flags);
    CHECK(memcmp(a->bytes + a->ev[i].off, b->bytes + b->ev[i].off, a->ev[i].n) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The validator must agree with the reference on arbitrary bytes. */
  CHECK(utf8_valid(data, size) == ref_utf8_valid(data, size));
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  bool require_mask = !(ctl & 0x80);
  const uint8_t *in = data + 1;
  size_t len = size - 1;

  struct run whole, chunked, stopped, bytes;
  int64_t rc = parse(in, len, require_mask, WHOLE, ctl, 0, &whole);
  CHECK(parse(in, len, require_mask, RANDOM, ctl, 0, &chunked) == rc);
  same(&whole, &chunked);
  size_t stop_every = 1 + ((ctl >> 3) & 3);
  CHECK(parse(in, len, require_mask, RANDOM, (uint8_t)(ctl * 37 + 11), stop_every, &stopped) == rc);
  same(&whole, &stopped);
  if (len <= 8192) {
    CHECK(parse(in, len, require_mask, BYTES, ctl, 0, &bytes) == rc);
    same(&whole, &bytes);
    run_free(&bytes);
  }
  run_free(&whole);
  run_free(&chunked);
  run_free(&stopped);
  return 0;
}
