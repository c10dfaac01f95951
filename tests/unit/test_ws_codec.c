/* Unit tests for the WebSocket codec (src/ws/ws_codec.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ws/ws_codec.h"

/* ------------------------------------------------------------------------
 * Transcript: what the parser reported, independent of how the input was
 * split. Pieces of one frame are merged, so feeding the same bytes in any
 * chunking must produce an identical transcript. */

#define MAX_EVENTS 64

struct event {
  enum ws_opcode opcode;
  unsigned flags; /* flags of the last piece seen for this frame */
  size_t off, n;  /* slice of transcript.bytes */
};

struct transcript {
  struct event ev[MAX_EVENTS];
  size_t nev;
  uint8_t *bytes;
  size_t nbytes, cap;
  size_t calls;
  size_t stop_every; /* return non-zero from every Nth callback; 0: never */
};

static void transcript_free(struct transcript *t) {
  free(t->bytes);
  memset(t, 0, sizeof *t);
}

static int record_cb(void *ctx, enum ws_opcode opcode, const uint8_t *data, size_t n,
                     unsigned flags) {
  struct transcript *t = ctx;
  t->calls++;
  struct event *last = t->nev ? &t->ev[t->nev - 1] : NULL;
  if (!last || (last->flags & WS_FRAME_END)) {
    assert_true(t->nev < MAX_EVENTS);
    last = &t->ev[t->nev++];
    last->opcode = opcode;
    last->off = t->nbytes;
    last->n = 0;
  } else {
    /* A frame's pieces all carry the same opcode. */
    assert_int_equal(last->opcode, opcode);
  }
  /* Only the last piece of a frame may be empty. */
  if (n == 0)
    assert_true(flags & WS_FRAME_END);
  if (flags & WS_MESSAGE_END)
    assert_true(flags & WS_FRAME_END);
  if (t->nbytes + n > t->cap) {
    t->cap = (t->nbytes + n) * 2 + 64;
    t->bytes = realloc(t->bytes, t->cap);
    assert_non_null(t->bytes);
  }
  if (n)
    memcpy(t->bytes + t->nbytes, data, n);
  t->nbytes += n;
  last->n += n;
  last->flags = flags;
  return t->stop_every && t->calls % t->stop_every == 0;
}

/* After an error, the frame being read may have been delivered partly, by
 * an amount that depends on the split; only finished frames are compared. */
static void transcript_drop_partial(struct transcript *t) {
  if (t->nev && !(t->ev[t->nev - 1].flags & WS_FRAME_END)) {
    t->nbytes = t->ev[t->nev - 1].off;
    t->nev--;
  }
}

static void assert_same_transcript(const struct transcript *a, const struct transcript *b) {
  assert_int_equal(a->nev, b->nev);
  for (size_t i = 0; i < a->nev; i++) {
    assert_int_equal(a->ev[i].opcode, b->ev[i].opcode);
    assert_int_equal(a->ev[i].flags, b->ev[i].flags);
    assert_int_equal(a->ev[i].n, b->ev[i].n);
    if (a->ev[i].n)
      assert_memory_equal(a->bytes + a->ev[i].off, b->bytes + b->ev[i].off, a->ev[i].n);
  }
}

/* Feeds `in` cut at the given offsets (ascending, each in 1..len-1).
 * Returns 0 when everything parsed, else the parser's error code; every
 * successful feed must report its whole piece consumed. Callback stops are
 * resumed from the reported consumed count. */
static int64_t run_cuts(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
                        bool require_mask, uint64_t max, struct transcript *t) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len)
    memcpy(copy, in, len);
  ws_parser p;
  ws_parser_init(&p, max, require_mask);
  int64_t result = 0;
  size_t start = 0;
  for (size_t c = 0; c <= ncuts && result == 0; c++) {
    size_t end = c < ncuts ? cuts[c] : len;
    while (start < end) {
      size_t consumed = (size_t)-1;
      int64_t rc = ws_parser_feed(&p, copy + start, end - start, record_cb, t, &consumed);
      if (rc == WS_PARSE_STOPPED) {
        assert_true(consumed <= end - start);
        start += consumed;
        continue;
      }
      if (rc < 0) {
        assert_true(consumed <= end - start);
        result = rc;
        break;
      }
      assert_int_equal(rc, end - start);
      assert_int_equal(consumed, end - start);
      start = end;
    }
  }
  free(copy);
  if (result)
    transcript_drop_partial(t);
  return result;
}

static int64_t run_whole(const uint8_t *in, size_t len, bool require_mask, uint64_t max,
                         struct transcript *t) {
  return run_cuts(in, len, NULL, 0, require_mask, max, t);
}

static int64_t run_bytewise(const uint8_t *in, size_t len, bool require_mask, uint64_t max,
                            struct transcript *t) {
  size_t *cuts = malloc(len * sizeof *cuts + 1);
  assert_non_null(cuts);
  for (size_t i = 1; i < len; i++)
    cuts[i - 1] = i;
  int64_t rc = run_cuts(in, len, cuts, len ? len - 1 : 0, require_mask, max, t);
  free(cuts);
  return rc;
}

/* Feeds whole, then cut in two at every offset, then one byte at a time,
 * and requires the same result and transcript each time. Returns the
 * whole-feed transcript for further checks. */
static int64_t check_every_split(const uint8_t *in, size_t len, bool require_mask, uint64_t max,
                                 struct transcript *whole) {
  int64_t expect = run_whole(in, len, require_mask, max, whole);
  for (size_t k = 1; k < len; k++) {
    struct transcript t = {0};
    assert_int_equal(run_cuts(in, len, &k, 1, require_mask, max, &t), expect);
    assert_same_transcript(whole, &t);
    transcript_free(&t);
  }
  struct transcript t = {0};
  assert_int_equal(run_bytewise(in, len, require_mask, max, &t), expect);
  assert_same_transcript(whole, &t);
  transcript_free(&t);
  return expect;
}

/* ------------------------------------------------------------------------
 * Input builders */

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 5.7 */
static const uint8_t ZERO_MASK[4] = {0, 0, 0, 0};

struct wire {
  uint8_t *b;
  size_t n, cap;
};

static void wire_reserve(struct wire *w, size_t more) {
  if (w->n + more > w->cap) {
    w->cap = (w->n + more) * 2;
    w->b = realloc(w->b, w->cap);
    assert_non_null(w->b);
  }
}

static void wire_frame(struct wire *w, enum ws_opcode op, bool fin, const void *payload,
                       size_t len) {
  wire_reserve(w, len + 14);
  w->n += ws_client_frame_write(w->b + w->n, op, fin, MASK, payload, len);
}

static void wire_str(struct wire *w, enum ws_opcode op, bool fin, const char *s) {
  wire_frame(w, op, fin, s, strlen(s));
}

static void wire_bytes(struct wire *w, const void *p, size_t n) {
  wire_reserve(w, n);
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

/* A masked frame whose length uses the 8-byte form even when shorter would
 * do, so 64-bit length handling can be split-tested on a small input. */
static void wire_frame_len64(struct wire *w, uint8_t b0, const void *payload, size_t len) {
  uint8_t hdr[14] = {b0, 0x80 | 127};
  for (unsigned i = 0; i < 8; i++)
    hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  memcpy(hdr + 10, MASK, 4);
  wire_bytes(w, hdr, 14);
  wire_reserve(w, len);
  for (size_t i = 0; i < len; i++)
    w->b[w->n + i] = ((const uint8_t *)payload)[i] ^ MASK[i & 3];
  w->n += len;
}

static void wire_free(struct wire *w) {
  free(w->b);
}

static int64_t feed_once(const uint8_t *in, size_t len, bool require_mask, uint64_t max,
                         struct transcript *t) {
  return run_whole(in, len, require_mask, max, t);
}

#define BIG ((uint64_t)1 << 20)

static void assert_event(const struct transcript *t, size_t i, enum ws_opcode op, unsigned flags,
                         const void *data, size_t n) {
  assert_true(i < t->nev);
  assert_int_equal(t->ev[i].opcode, op);
  assert_int_equal(t->ev[i].flags, flags);
  assert_int_equal(t->ev[i].n, n);
  if (n)
    assert_memory_equal(t->bytes + t->ev[i].off, data, n);
}

#define ENDS (WS_FRAME_END | WS_MESSAGE_END)

/* ------------------------------------------------------------------------
 * UTF-8 */

#define U(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static void test_utf8_accepts_ascii_and_empty(void **state) {
  (void)state;
  assert_true(utf8_valid(U("")));
  assert_true(utf8_valid(U("hello, world: a longer ascii run")));
}

static void test_utf8_accepts_boundary_code_points(void **state) {
  (void)state;
  assert_true(utf8_valid(U("\xc2\x80")));         /* U+0080 */
  assert_true(utf8_valid(U("\xdf\xbf")));         /* U+07FF */
  assert_true(utf8_valid(U("\xe0\xa0\x80")));     /* U+0800 */
  assert_true(utf8_valid(U("\xed\x9f\xbf")));     /* U+D7FF */
  assert_true(utf8_valid(U("\xee\x80\x80")));     /* U+E000 */
  assert_true(utf8_valid(U("\xef\xbf\xbf")));     /* U+FFFF */
  assert_true(utf8_valid(U("\xf0\x90\x80\x80"))); /* U+10000 */
  assert_true(utf8_valid(U("\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
}

static void test_utf8_accepts_valid_four_byte_sequence(void **state) {
  (void)state;
  /* "κόσμε 𝄞" mixes 2-, 3- and 4-byte characters. */
  assert_true(utf8_valid(U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 "
                           "\xf0\x9d\x84\x9e")));
  assert_true(utf8_valid(U("\xf3\xa0\x80\x81"))); /* F1..F3 leads */
}

static void test_utf8_rejects_overlong_encodings(void **state) {
  (void)state;
  assert_false(utf8_valid(U("\xc0\x80")));
  assert_false(utf8_valid(U("\xc1\xbf")));
  assert_false(utf8_valid(U("\xe0\x80\x80")));
  assert_false(utf8_valid(U("\xe0\x9f\xbf")));
  assert_false(utf8_valid(U("\xf0\x80\x80\x80")));
  assert_false(utf8_valid(U("\xf0\x8f\xbf\xbf")));
}

static void test_utf8_rejects_surrogates(void **state) {
  (void)state;
  assert_false(utf8_valid(U("\xed\xa0\x80")));             /* U+D800 */
  assert_false(utf8_valid(U("\xed\xbf\xbf")));             /* U+DFFF */
  assert_false(utf8_valid(U("\xed\xa0\xbd\xed\xb2\xa9"))); /* CESU pair */
}

static void test_utf8_rejects_code_points_above_10ffff(void **state) {
  (void)state;
  assert_false(utf8_valid(U("\xf4\x90\x80\x80")));
  assert_false(utf8_valid(U("\xf5\x80\x80\x80")));
  assert_false(utf8_valid(U("\xf7\xbf\xbf\xbf")));
  assert_false(utf8_valid(U("\xf8\x88\x80\x80\x80")));
}

static void test_utf8_rejects_truncated_sequences(void **state) {
  (void)state;
  assert_false(utf8_valid(U("\xc2")));
  assert_false(utf8_valid(U("a\xe2\x82")));
  assert_false(utf8_valid(U("\xf0\x9d\x84")));
  /* Truncated is "not yet accepted", not rejected: more may follow. */
  uint32_t s = utf8_step(UTF8_ACCEPT, U("\xf0\x9d\x84"));
  assert_int_not_equal(s, UTF8_ACCEPT);
  assert_int_not_equal(s, UTF8_REJECT);
  /* A truncated sequence followed by something else is rejected. */
  assert_false(utf8_valid(U("\xe2\x82"
                            "a")));
}

static void test_utf8_rejects_stray_continuation_and_invalid_bytes(void **state) {
  (void)state;
  assert_false(utf8_valid(U("\x80")));
  assert_false(utf8_valid(U("abc\xbf")));
  assert_false(utf8_valid(U("\xfe")));
  assert_false(utf8_valid(U("\xff")));
  /* Past the ASCII word fast path. */
  assert_false(utf8_valid(U("0123456789abcdef\x80"
                            "0123456789")));
}

static void test_utf8_step_carries_state_across_every_split(void **state) {
  (void)state;
  static const uint8_t s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
  size_t n = sizeof s - 1;
  for (size_t k = 0; k <= n; k++) {
    uint32_t st = utf8_step(UTF8_ACCEPT, s, k);
    assert_int_not_equal(st, UTF8_REJECT);
    assert_int_equal(utf8_step(st, s + k, n - k), UTF8_ACCEPT);
  }
  static const uint8_t bad[] = "a\xe0\x80\x80";
  for (size_t k = 0; k <= sizeof bad - 1; k++) {
    uint32_t st = utf8_step(UTF8_ACCEPT, bad, k);
    assert_int_equal(utf8_step(st, bad + k, sizeof bad - 1 - k), UTF8_REJECT);
  }
}

static void test_utf8_reject_is_sticky(void **state) {
  (void)state;
  uint32_t st = utf8_step(UTF8_ACCEPT, U("\xff"));
  assert_int_equal(st, UTF8_REJECT);
  assert_int_equal(utf8_step(st, U("abc")), UTF8_REJECT);
}

/* ------------------------------------------------------------------------
 * Parser: basic frames */

static void test_ws_parses_masked_text_frame(void **state) {
  (void)state;
  /* RFC 6455 5.7: a single-frame masked text message "Hello". */
  static const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  struct transcript t = {0};
  assert_int_equal(feed_once(in, sizeof in, true, BIG, &t), 0);
  assert_int_equal(t.nev, 1);
  assert_event(&t, 0, WS_OP_TEXT, ENDS, "Hello", 5);
  transcript_free(&t);
}

static void test_ws_client_parses_unmasked_server_frame(void **state) {
  (void)state;
  static const uint8_t in[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
  struct transcript t = {0};
  assert_int_equal(feed_once(in, sizeof in, false, BIG, &t), 0);
  assert_event(&t, 0, WS_OP_TEXT, ENDS, "Hello", 5);
  transcript_free(&t);
}

static void test_ws_feed_returns_bytes_consumed(void **state) {
  (void)state;
  uint8_t in[] = {0x82, 0x83, 1, 2, 3, 4, 9, 9, 9, 0x89, 0x80, 1, 2, 3, 4};
  ws_parser p;
  ws_parser_init(&p, BIG, true);
  size_t consumed = 0;
  assert_int_equal(ws_parser_feed(&p, in, sizeof in, NULL, NULL, &consumed), (int64_t)sizeof in);
  assert_int_equal(consumed, sizeof in);
}

static void test_ws_empty_frame_delivers_one_end_piece(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, true, "");
  wire_str(&w, WS_OP_PING, true, "");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.calls, 2);
  assert_event(&t, 0, WS_OP_TEXT, ENDS, NULL, 0);
  assert_event(&t, 1, WS_OP_PING, ENDS, NULL, 0);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_parses_16bit_length(void **state) {
  (void)state;
  uint8_t payload[300];
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t)(i * 7);
  struct wire w = {0};
  wire_frame(&w, WS_OP_BINARY, true, payload, sizeof payload);
  assert_int_equal(w.b[1], 0x80 | 126);
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_event(&t, 0, WS_OP_BINARY, ENDS, payload, sizeof payload);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_parses_64bit_length(void **state) {
  (void)state;
  size_t n = 65536 + 11;
  uint8_t *payload = malloc(n);
  assert_non_null(payload);
  for (size_t i = 0; i < n; i++)
    payload[i] = (uint8_t)(i ^ (i >> 8));
  struct wire w = {0};
  wire_frame(&w, WS_OP_BINARY, true, payload, n);
  assert_int_equal(w.b[1], 0x80 | 127);
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_event(&t, 0, WS_OP_BINARY, ENDS, payload, n);
  transcript_free(&t);
  wire_free(&w);
  free(payload);
}

static void test_ws_unmasks_every_length_and_alignment(void **state) {
  (void)state;
  /* Covers the word-at-a-time path's head, body and tail at every offset of
   * the payload relative to the buffer. */
  uint8_t payload[70], buf_[96];
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t)(0xA5 ^ (i * 13));
  for (size_t len = 0; len <= sizeof payload; len++) {
    uint8_t frame[90];
    size_t fn = ws_client_frame_write(frame, WS_OP_BINARY, true, MASK, payload, len);
    for (size_t off = 0; off < 8; off++) {
      memcpy(buf_ + off, frame, fn);
      ws_parser p;
      ws_parser_init(&p, BIG, true);
      struct transcript t = {0};
      assert_int_equal(ws_parser_feed(&p, buf_ + off, fn, record_cb, &t, NULL), (int64_t)fn);
      assert_event(&t, 0, WS_OP_BINARY, ENDS, payload, len);
      transcript_free(&t);
    }
  }
}

/* ------------------------------------------------------------------------
 * Parser: protocol errors (1002) */

static int64_t feed_bytes(const uint8_t *in, size_t n, bool require_mask, uint64_t max) {
  struct transcript t = {0};
  int64_t rc = feed_once(in, n, require_mask, max, &t);
  transcript_free(&t);
  return rc;
}

static void test_ws_rejects_unmasked_client_frame(void **state) {
  (void)state;
  static const uint8_t in[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
  assert_int_equal(feed_bytes(in, sizeof in, true, BIG), -1002);
}

static void test_ws_rejects_masked_server_frame(void **state) {
  (void)state;
  static const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  assert_int_equal(feed_bytes(in, sizeof in, false, BIG), -1002);
}

static void test_ws_rejects_reserved_bits(void **state) {
  (void)state;
  for (unsigned rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
    uint8_t in[] = {(uint8_t)(0x81 | rsv), 0x80, 1, 2, 3, 4};
    assert_int_equal(feed_bytes(in, sizeof in, true, BIG), -1002);
  }
}

static void test_ws_rejects_unknown_opcodes(void **state) {
  (void)state;
  static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  for (size_t i = 0; i < sizeof ops; i++) {
    uint8_t in[] = {(uint8_t)(0x80 | ops[i]), 0x80, 1, 2, 3, 4};
    assert_int_equal(feed_bytes(in, sizeof in, true, BIG), -1002);
  }
}

static void test_ws_rejects_fragmented_control_frame(void **state) {
  (void)state;
  static const uint8_t ops[] = {WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG};
  for (size_t i = 0; i < sizeof ops; i++) {
    struct wire w = {0};
    wire_str(&w, (enum ws_opcode)ops[i], false, "xy");
    assert_int_equal(feed_bytes(w.b, w.n, true, BIG), -1002);
    wire_free(&w);
  }
}

static void test_ws_rejects_control_frame_over_125_bytes(void **state) {
  (void)state;
  uint8_t payload[126] = {0};
  static const uint8_t ops[] = {WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG};
  for (size_t i = 0; i < sizeof ops; i++) {
    struct wire w = {0};
    wire_frame(&w, (enum ws_opcode)ops[i], true, payload, sizeof payload);
    /* Refused from the length byte alone. */
    assert_int_equal(feed_bytes(w.b, 2, true, BIG), -1002);
    wire_free(&w);
  }
}

static void test_ws_accepts_control_frame_of_125_bytes(void **state) {
  (void)state;
  uint8_t payload[125];
  memset(payload, 'p', sizeof payload);
  struct wire w = {0};
  wire_frame(&w, WS_OP_PING, true, payload, sizeof payload);
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_event(&t, 0, WS_OP_PING, ENDS, payload, sizeof payload);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_rejects_close_payload_of_one_byte(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_CLOSE, true, "x");
  assert_int_equal(feed_bytes(w.b, w.n, true, BIG), -1002);
  wire_free(&w);
}

static void test_ws_accepts_empty_close_frame(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_CLOSE, true, "");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_event(&t, 0, WS_OP_CLOSE, ENDS, NULL, 0);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_rejects_continuation_without_open_message(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_CONTINUATION, true, "abc");
  assert_int_equal(feed_bytes(w.b, w.n, true, BIG), -1002);
  wire_free(&w);
}

static void test_ws_rejects_continuation_after_message_finished(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "ab");
  wire_str(&w, WS_OP_CONTINUATION, true, "cd");
  wire_str(&w, WS_OP_CONTINUATION, true, "ef");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), -1002);
  assert_int_equal(t.nev, 2);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_rejects_new_data_frame_inside_fragmented_message(void **state) {
  (void)state;
  static const uint8_t ops[] = {WS_OP_TEXT, WS_OP_BINARY};
  for (size_t i = 0; i < sizeof ops; i++) {
    struct wire w = {0};
    wire_str(&w, WS_OP_BINARY, false, "ab");
    wire_str(&w, (enum ws_opcode)ops[i], true, "cd");
    assert_int_equal(feed_bytes(w.b, w.n, true, BIG), -1002);
    wire_free(&w);
  }
}

static void test_ws_rejects_64bit_length_with_top_bit_set(void **state) {
  (void)state;
  static const uint8_t in[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(feed_bytes(in, sizeof in, true, UINT64_MAX), -1002);
}

/* ------------------------------------------------------------------------
 * Parser: message size (1009) */

static void test_ws_rejects_oversized_message_from_header_alone(void **state) {
  (void)state;
  /* 1 MiB + 1 announced; no payload byte is ever supplied. */
  static const uint8_t in[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0x01};
  ws_parser p;
  ws_parser_init(&p, BIG, true);
  uint8_t copy[sizeof in];
  memcpy(copy, in, sizeof in);
  size_t consumed = 99;
  assert_int_equal(ws_parser_feed(&p, copy, sizeof copy, NULL, NULL, &consumed), -1009);
  assert_true(consumed < sizeof in);
}

static void test_ws_accepts_message_of_exactly_max_bytes(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "12345");
  wire_str(&w, WS_OP_CONTINUATION, true, "67890");
  assert_int_equal(feed_bytes(w.b, w.n, true, 10), 0);
  wire_free(&w);
}

static void test_ws_rejects_fragmented_message_over_max(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "12345");
  wire_str(&w, WS_OP_CONTINUATION, true, "678901");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, 10, &t), -1009);
  assert_int_equal(t.nev, 1); /* the first fragment fitted */
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_control_frames_do_not_count_toward_max(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "12");
  wire_str(&w, WS_OP_PING, true, "a ping longer than the limit");
  wire_str(&w, WS_OP_CONTINUATION, true, "34");
  wire_str(&w, WS_OP_BINARY, true, "5678"); /* the count restarts */
  assert_int_equal(feed_bytes(w.b, w.n, true, 4), 0);
  wire_free(&w);
}

/* ------------------------------------------------------------------------
 * Parser: fragmentation and UTF-8 (1007) */

static void test_ws_delivers_control_frame_inside_fragmented_message(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "Hel");
  wire_str(&w, WS_OP_PING, true, "p");
  wire_str(&w, WS_OP_CONTINUATION, true, "lo");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.nev, 3);
  assert_event(&t, 0, WS_OP_TEXT, WS_FRAME_END, "Hel", 3);
  assert_event(&t, 1, WS_OP_PING, ENDS, "p", 1);
  /* Continuation frames report the message's opcode. */
  assert_event(&t, 2, WS_OP_TEXT, ENDS, "lo", 2);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_rejects_invalid_utf8_in_text(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, true, "ok \xff then more");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), -1007);
  /* The piece holding the bad byte is never handed over. */
  assert_int_equal(t.calls, 0);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_delivers_only_validated_text(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, true, "good\xed\xa0\x80");
  for (size_t k = 1; k < w.n; k++) {
    ws_parser p;
    ws_parser_init(&p, BIG, true);
    uint8_t *copy = malloc(w.n);
    assert_non_null(copy);
    memcpy(copy, w.b, w.n);
    struct transcript t = {0};
    int64_t rc = ws_parser_feed(&p, copy, k, record_cb, &t, NULL);
    if (rc >= 0)
      rc = ws_parser_feed(&p, copy + k, w.n - k, record_cb, &t, NULL);
    assert_int_equal(rc, -1007);
    /* Delivery stops before the byte that proves the text invalid (A0
     * after ED would be a surrogate); ED alone may still be delivered. */
    assert_true(t.nbytes <= 5);
    if (t.nbytes)
      assert_memory_equal(t.bytes, "good\xed", t.nbytes);
    transcript_free(&t);
    free(copy);
  }
  wire_free(&w);
}

static void test_ws_rejects_invalid_utf8_split_across_fragments(void **state) {
  (void)state;
  /* E0 then 80 80: an overlong, visible only across the frame boundary. */
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "a\xe0");
  wire_str(&w, WS_OP_PING, true, "");
  wire_str(&w, WS_OP_CONTINUATION, true, "\x80\x80");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), -1007);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_accepts_multibyte_utf8_split_across_fragments(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "\xe2");
  wire_str(&w, WS_OP_CONTINUATION, false, "\x82");
  wire_str(&w, WS_OP_CONTINUATION, true, "\xac");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.nbytes, 3);
  assert_memory_equal(t.bytes, "\xe2\x82\xac", 3);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_rejects_text_message_ending_mid_sequence(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, true, "a\xe2\x82");
  assert_int_equal(feed_bytes(w.b, w.n, true, BIG), -1007);
  wire_free(&w);
}

static void test_ws_rejects_truncated_utf8_ended_by_empty_continuation(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "a\xf0\x9f");
  wire_str(&w, WS_OP_CONTINUATION, true, "");
  struct transcript t = {0};
  assert_int_equal(feed_once(w.b, w.n, true, BIG, &t), -1007);
  assert_int_equal(t.nev, 1);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_utf8_state_resets_between_messages(void **state) {
  (void)state;
  /* A fully valid message must not leak state into the next one. */
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, true, "\xc3\xa9");
  wire_str(&w, WS_OP_TEXT, true, "\xc3\xa9");
  assert_int_equal(feed_bytes(w.b, w.n, true, BIG), 0);
  wire_free(&w);
}

static void test_ws_does_not_validate_binary_as_utf8(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_BINARY, false, "\xff\xfe");
  wire_str(&w, WS_OP_CONTINUATION, true, "\xe2");
  assert_int_equal(feed_bytes(w.b, w.n, true, BIG), 0);
  wire_free(&w);
}

/* ------------------------------------------------------------------------
 * Parser: callback stop and resume */

static void test_ws_stops_when_callback_returns_nonzero(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, true, "first");
  wire_str(&w, WS_OP_TEXT, true, "second");
  size_t first_len = 2 + 4 + 5;
  ws_parser p;
  ws_parser_init(&p, BIG, true);
  struct transcript t = {.stop_every = 1};
  size_t consumed = 0;
  assert_int_equal(ws_parser_feed(&p, w.b, w.n, record_cb, &t, &consumed), WS_PARSE_STOPPED);
  assert_int_equal(consumed, first_len);
  assert_int_equal(t.nev, 1);
  assert_event(&t, 0, WS_OP_TEXT, ENDS, "first", 5);
  /* Resuming at the consumed offset picks up the next frame. */
  t.stop_every = 0;
  assert_int_equal(ws_parser_feed(&p, w.b + consumed, w.n - consumed, record_cb, &t, &consumed),
                   (int64_t)(w.n - first_len));
  assert_event(&t, 1, WS_OP_TEXT, ENDS, "second", 6);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_resumes_after_every_stop_with_same_events(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "frag");
  wire_str(&w, WS_OP_PING, true, "");
  wire_str(&w, WS_OP_CONTINUATION, true, "ment \xc3\xa9");
  wire_str(&w, WS_OP_CLOSE, true, "\x03\xe8");
  struct transcript whole = {0};
  assert_int_equal(run_whole(w.b, w.n, true, BIG, &whole), 0);
  for (size_t k = 0; k < w.n; k++) {
    struct transcript t = {.stop_every = 1};
    size_t cut = k ? k : w.n / 2;
    assert_int_equal(run_cuts(w.b, w.n, &cut, 1, true, BIG, &t), 0);
    assert_same_transcript(&whole, &t);
    transcript_free(&t);
  }
  transcript_free(&whole);
  wire_free(&w);
}

/* ------------------------------------------------------------------------
 * Parser: split reads at every byte boundary */

static void test_ws_split_fragmented_text_with_ping_at_every_byte(void **state) {
  (void)state;
  struct wire w = {0};
  static const char ping[] = "are you there? (long enough for words)";
  wire_str(&w, WS_OP_TEXT, false, "Hello, ");
  wire_str(&w, WS_OP_PING, true, ping);
  wire_str(&w, WS_OP_CONTINUATION, false,
           "w\xc3\xb6rld, this fragment is "
           "long enough to unmask by words");
  wire_str(&w, WS_OP_PONG, true, "");
  wire_str(&w, WS_OP_CONTINUATION, true, " \xe2\x9c\x93");
  wire_frame(&w, WS_OP_BINARY, true, "\x00\xff\x10", 3);
  wire_str(&w, WS_OP_CLOSE, true,
           "\x03\xe8"
           "bye");
  struct transcript t = {0};
  assert_int_equal(check_every_split(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.nev, 7);
  assert_event(&t, 1, WS_OP_PING, ENDS, ping, sizeof ping - 1);
  assert_event(&t, 4, WS_OP_TEXT, ENDS, " \xe2\x9c\x93", 4);
  assert_event(&t, 6, WS_OP_CLOSE, ENDS,
               "\x03\xe8"
               "bye",
               5);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_split_16bit_lengths_at_every_byte(void **state) {
  (void)state;
  uint8_t text[200], bin[126];
  for (size_t i = 0; i < sizeof text; i++)
    text[i] = (uint8_t)('a' + i % 26);
  memcpy(text + 50, "\xf0\x9f\x98\x80", 4); /* a 4-byte char mid-payload */
  for (size_t i = 0; i < sizeof bin; i++)
    bin[i] = (uint8_t)(i * 31);
  struct wire w = {0};
  wire_frame(&w, WS_OP_TEXT, true, text, sizeof text);
  wire_frame(&w, WS_OP_BINARY, false, bin, sizeof bin);
  wire_frame(&w, WS_OP_CONTINUATION, true, bin, sizeof bin);
  struct transcript t = {0};
  assert_int_equal(check_every_split(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.nev, 3);
  assert_event(&t, 0, WS_OP_TEXT, ENDS, text, sizeof text);
  assert_event(&t, 2, WS_OP_BINARY, ENDS, bin, sizeof bin);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_split_64bit_lengths_at_every_byte(void **state) {
  (void)state;
  /* 8-byte length fields around small payloads, so every cut is tried. */
  static const char txt[] = "sixty-four bit length, \xce\xba\xe1\xbd\xb9\xcf\x83"
                            "\xce\xbc\xce\xb5";
  struct wire w = {0};
  wire_frame_len64(&w, 0x01, txt, sizeof txt - 1); /* TEXT, not FIN */
  wire_str(&w, WS_OP_PING, true, "ping");
  wire_frame_len64(&w, 0x80, "!!", 2); /* FIN continuation */
  wire_frame_len64(&w, 0x82, "\x01\x02\x03", 3);
  struct transcript t = {0};
  assert_int_equal(check_every_split(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.nev, 4);
  assert_event(&t, 0, WS_OP_TEXT, WS_FRAME_END, txt, sizeof txt - 1);
  assert_event(&t, 2, WS_OP_TEXT, ENDS, "!!", 2);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_split_large_64bit_frame_at_many_bytes(void **state) {
  (void)state;
  /* A real 64-bit frame is too long to cut everywhere under sanitizers, so
   * cut everywhere near its edges and at a stride in between. */
  size_t n = 65536 + 5;
  uint8_t *payload = malloc(n);
  assert_non_null(payload);
  for (size_t i = 0; i < n; i++)
    payload[i] = (uint8_t)('A' + i % 50);
  struct wire w = {0};
  wire_frame(&w, WS_OP_TEXT, true, payload, n);
  wire_str(&w, WS_OP_PING, true, "x");
  struct transcript whole = {0};
  assert_int_equal(run_whole(w.b, w.n, true, BIG, &whole), 0);
  assert_event(&whole, 0, WS_OP_TEXT, ENDS, payload, n);
  for (size_t k = 1; k < w.n; k += (k < 64 || k > w.n - 64) ? 1 : 97) {
    struct transcript t = {0};
    assert_int_equal(run_cuts(w.b, w.n, &k, 1, true, BIG, &t), 0);
    assert_same_transcript(&whole, &t);
    transcript_free(&t);
  }
  struct transcript t = {0};
  assert_int_equal(run_bytewise(w.b, w.n, true, BIG, &t), 0);
  assert_same_transcript(&whole, &t);
  transcript_free(&t);
  transcript_free(&whole);
  wire_free(&w);
  free(payload);
}

static void test_ws_split_multibyte_utf8_across_fragments_at_every_byte(void **state) {
  (void)state;
  struct wire w = {0};
  wire_str(&w, WS_OP_TEXT, false, "euro: \xe2");
  wire_str(&w, WS_OP_CONTINUATION, false, "\x82");
  wire_str(&w, WS_OP_PING, true, "mid-character ping");
  wire_str(&w, WS_OP_CONTINUATION, false, "\xac clef: \xf0");
  wire_str(&w, WS_OP_CONTINUATION, true, "\x9d\x84\x9e");
  struct transcript t = {0};
  assert_int_equal(check_every_split(w.b, w.n, true, BIG, &t), 0);
  assert_int_equal(t.nev, 5);
  transcript_free(&t);
  wire_free(&w);
}

static void test_ws_split_errors_are_the_same_at_every_byte(void **state) {
  (void)state;
  struct {
    const char *a, *b;
    int64_t rc;
  } cases[] = {
      {"valid \xe0", "\x80\x80 overlong across fragments", -1007},
      {"ends mid ", "sequence \xf0\x9f\x98", -1007},
      {"surrogate ", "\xed\xb0\x80 here", -1007},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct wire w = {0};
    wire_str(&w, WS_OP_TEXT, false, cases[i].a);
    wire_str(&w, WS_OP_PONG, true, "");
    wire_str(&w, WS_OP_CONTINUATION, true, cases[i].b);
    struct transcript t = {0};
    assert_int_equal(check_every_split(w.b, w.n, true, BIG, &t), cases[i].rc);
    assert_int_equal(t.nev, 2);
    transcript_free(&t);
    wire_free(&w);
  }
  /* Header-level errors too: an oversized message after a good frame. */
  struct wire w = {0};
  wire_str(&w, WS_OP_BINARY, true, "fits");
  wire_str(&w, WS_OP_BINARY, true, "does not fit");
  struct transcript t = {0};
  assert_int_equal(check_every_split(w.b, w.n, true, 8, &t), -1009);
  assert_int_equal(t.nev, 1);
  transcript_free(&t);
  wire_free(&w);
}

/* ------------------------------------------------------------------------
 * Writers and round trips */

static void test_ws_frame_header_uses_shortest_length_form(void **state) {
  (void)state;
  uint8_t h[WS_HEADER_MAX];
  assert_int_equal(ws_frame_header(h, WS_OP_TEXT, true, 0), 2);
  assert_int_equal(h[0], 0x81);
  assert_int_equal(h[1], 0);
  assert_int_equal(ws_frame_header(h, WS_OP_BINARY, false, 125), 2);
  assert_int_equal(h[0], 0x02);
  assert_int_equal(h[1], 125);
  assert_int_equal(ws_frame_header(h, WS_OP_TEXT, true, 126), 4);
  assert_memory_equal(h, "\x81\x7e\x00\x7e", 4);
  assert_int_equal(ws_frame_header(h, WS_OP_TEXT, true, 65535), 4);
  assert_memory_equal(h, "\x81\x7e\xff\xff", 4);
  assert_int_equal(ws_frame_header(h, WS_OP_TEXT, true, 65536), 10);
  assert_memory_equal(h, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
  assert_int_equal(ws_frame_header(h, WS_OP_BINARY, true, UINT64_C(0x0102030405060708)), 10);
  assert_memory_equal(h, "\x82\x7f\x01\x02\x03\x04\x05\x06\x07\x08", 10);
}

static void test_ws_frame_build_holds_header_and_payload(void **state) {
  (void)state;
  buf *b = ws_frame_build(WS_OP_TEXT, "Hello", 5);
  assert_non_null(b);
  assert_int_equal(b->refs, 1);
  assert_int_equal(b->len, 7);
  assert_memory_equal(b->data, "\x81\x05Hello", 7);
  buf_unref(b);
  b = ws_frame_build(WS_OP_PONG, NULL, 0);
  assert_non_null(b);
  assert_int_equal(b->len, 2);
  assert_memory_equal(b->data, "\x8a\x00", 2);
  buf_unref(b);
}

static void test_ws_frame_gather_concatenates_parts_behind_one_header(void **state) {
  (void)state;
  static char big[300];
  memset(big, 'x', sizeof big);
  struct ws_part parts[] = {{"{\"a\":", 5}, {NULL, 0}, {big, sizeof big}, {"}", 1}};
  buf *b = ws_frame_gather(WS_OP_TEXT, parts, 4);
  assert_non_null(b);
  assert_int_equal(b->len, 4 + 306); /* 126: a 16-bit length follows */
  assert_memory_equal(b->data, "\x81\x7e\x01\x32{\"a\":", 9);
  assert_memory_equal(b->data + 9, big, sizeof big);
  assert_int_equal(b->data[b->len - 1], '}');
  buf_unref(b);
}

static void test_ws_client_parser_reads_frame_build_output(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70001};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    uint8_t *payload = malloc(lens[i] + 1);
    for (size_t j = 0; j < lens[i]; j++)
      payload[j] = (uint8_t)('a' + j % 26);
    buf *b = ws_frame_build(WS_OP_TEXT, payload, lens[i]);
    assert_non_null(b);
    struct transcript t = {0};
    assert_int_equal(run_whole(b->data, b->len, false, BIG, &t), 0);
    assert_int_equal(t.nev, 1);
    assert_event(&t, 0, WS_OP_TEXT, ENDS, payload, lens[i]);
    transcript_free(&t);
    buf_unref(b);
    free(payload);
  }
}

static void test_ws_client_frame_write_round_trips_through_server_parser(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 7, 8, 17, 125, 126, 65535, 65536, 70001};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    size_t n = lens[i];
    uint8_t *payload = malloc(n + 1);
    uint8_t *frame = malloc(n + 14);
    for (size_t j = 0; j < n; j++)
      payload[j] = (uint8_t)(j * 131 + 7);
    size_t fn = ws_client_frame_write(frame, WS_OP_BINARY, true, MASK, payload, n);
    assert_int_equal(fn, n + (n < 126 ? 6 : n < 65536 ? 8 : 14));
    assert_true(frame[1] & 0x80);
    if (n >= 4) /* the wire bytes really are masked */
      assert_memory_not_equal(frame + fn - n, payload, 4);
    struct transcript t = {0};
    assert_int_equal(run_whole(frame, fn, true, BIG, &t), 0);
    assert_event(&t, 0, WS_OP_BINARY, ENDS, payload, n);
    transcript_free(&t);
    free(payload);
    free(frame);
  }
}

static void test_ws_client_frame_write_with_zero_mask_copies_payload(void **state) {
  (void)state;
  uint8_t frame[32];
  size_t fn = ws_client_frame_write(frame, WS_OP_TEXT, false, ZERO_MASK, "abc", 3);
  assert_int_equal(fn, 9);
  assert_memory_equal(frame, "\x01\x83\0\0\0\0abc", 9);
}

static void test_ws_close_frame_build_encodes_code_and_reason(void **state) {
  (void)state;
  buf *b = ws_close_frame_build(1000, "bye");
  assert_non_null(b);
  assert_int_equal(b->len, 7);
  assert_memory_equal(b->data,
                      "\x88\x05\x03\xe8"
                      "bye",
                      7);
  buf_unref(b);
  b = ws_close_frame_build(1001, NULL);
  assert_non_null(b);
  assert_int_equal(b->len, 4);
  assert_memory_equal(b->data, "\x88\x02\x03\xe9", 4);
  buf_unref(b);
}

static void test_ws_close_frame_build_truncates_reason_on_utf8_boundary(void **state) {
  (void)state;
  /* 122 ASCII bytes then a 3-byte character straddling the 123-byte limit. */
  char reason[200];
  memset(reason, 'r', 122);
  strcpy(reason + 122, "\xe2\x82\xac tail");
  buf *b = ws_close_frame_build(1008, reason);
  assert_non_null(b);
  size_t plen = b->data[1];
  assert_int_equal(plen, 2 + 122);
  assert_int_equal(ws_close_payload_check(b->data + 2, plen), 1008);
  buf_unref(b);
  /* An all-ASCII reason is cut at exactly 123 bytes. */
  memset(reason, 'r', 199);
  reason[199] = '\0';
  b = ws_close_frame_build(1000, reason);
  assert_non_null(b);
  assert_int_equal(b->data[1], WS_CONTROL_MAX);
  assert_int_equal(b->len, 2 + WS_CONTROL_MAX);
  buf_unref(b);
}

/* ------------------------------------------------------------------------
 * Close payload check */

static int close_check(unsigned code, const char *reason) {
  uint8_t p[WS_CONTROL_MAX + 8];
  size_t rn = strlen(reason);
  p[0] = (uint8_t)(code >> 8);
  p[1] = (uint8_t)code;
  memcpy(p + 2, reason, rn);
  return ws_close_payload_check(p, rn + 2);
}

static void test_ws_close_check_empty_payload_is_no_status(void **state) {
  (void)state;
  assert_int_equal(ws_close_payload_check(NULL, 0), 1005);
}

static void test_ws_close_check_rejects_one_byte_payload(void **state) {
  (void)state;
  assert_int_equal(ws_close_payload_check((const uint8_t *)"\x03", 1), -1002);
}

static void test_ws_close_check_accepts_valid_codes(void **state) {
  (void)state;
  static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    assert_int_equal(close_check(ok[i], "reason"), (int)ok[i]);
}

static void test_ws_close_check_rejects_codes_not_allowed_on_wire(void **state) {
  (void)state;
  static const unsigned bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                 1016, 1100, 2000, 2999, 5000, 65535};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(close_check(bad[i], ""), -1002);
}

static void test_ws_close_check_rejects_invalid_utf8_reason(void **state) {
  (void)state;
  assert_int_equal(close_check(1000, "bad \xc0\xaf"), -1007);
  assert_int_equal(close_check(1000, "cut \xe2\x82"), -1007);
  assert_int_equal(close_check(1000, "fine \xe2\x82\xac"), 1000);
}

static void test_ws_close_check_rejects_payload_over_125_bytes(void **state) {
  (void)state;
  uint8_t p[126];
  memset(p, 'a', sizeof p);
  p[0] = 0x03;
  p[1] = 0xe8;
  assert_int_equal(ws_close_payload_check(p, 125), 1000);
  assert_int_equal(ws_close_payload_check(p, 126), -1002);
}

/* ------------------------------------------------------------------------
 * Accept key */

static void test_ws_accept_key_matches_rfc_example(void **state) {
  (void)state;
  /* RFC 6455 1.3. */
  char out[29];
  static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
  assert_int_equal(ws_accept_key(key, 24, out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_ws_accept_key_rejects_wrong_length(void **state) {
  (void)state;
  char out[29];
  assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 23, out), -1);
  assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", 25, out), -1);
  assert_int_equal(ws_accept_key("", 0, out), -1);
}

static void test_ws_accept_key_rejects_non_base64_characters(void **state) {
  (void)state;
  char out[29];
  assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZ*==", 24, out), -1);
  assert_int_equal(ws_accept_key("dGhl-HNhbXBsZSBub25jZQ==", 24, out), -1);
  assert_int_equal(ws_accept_key("dGhl_HNhbXBsZSBub25jZQ==", 24, out), -1);
  assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSB ub25jZQ=", 24, out), -1);
  assert_int_equal(ws_accept_key("dGhlIHNh=XBsZSBub25jZQ==", 24, out), -1);
}

static void test_ws_accept_key_rejects_key_not_decoding_to_16_bytes(void **state) {
  (void)state;
  char out[29];
  /* One '=': 17 bytes. None: 18 bytes. */
  assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQA=", 24, out), -1);
  assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", 24, out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_accepts_ascii_and_empty),
      cmocka_unit_test(test_utf8_accepts_boundary_code_points),
      cmocka_unit_test(test_utf8_accepts_valid_four_byte_sequence),
      cmocka_unit_test(test_utf8_rejects_overlong_encodings),
      cmocka_unit_test(test_utf8_rejects_surrogates),
      cmocka_unit_test(test_utf8_rejects_code_points_above_10ffff),
      cmocka_unit_test(test_utf8_rejects_truncated_sequences),
      cmocka_unit_test(test_utf8_rejects_stray_continuation_and_invalid_bytes),
      cmocka_unit_test(test_utf8_step_carries_state_across_every_split),
      cmocka_unit_test(test_utf8_reject_is_sticky),
      cmocka_unit_test(test_ws_parses_masked_text_frame),
      cmocka_unit_test(test_ws_client_parses_unmasked_server_frame),
      cmocka_unit_test(test_ws_feed_returns_bytes_consumed),
      cmocka_unit_test(test_ws_empty_frame_delivers_one_end_piece),
      cmocka_unit_test(test_ws_parses_16bit_length),
      cmocka_unit_test(test_ws_parses_64bit_length),
      cmocka_unit_test(test_ws_unmasks_every_length_and_alignment),
      cmocka_unit_test(test_ws_rejects_unmasked_client_frame),
      cmocka_unit_test(test_ws_rejects_masked_server_frame),
      cmocka_unit_test(test_ws_rejects_reserved_bits),
      cmocka_unit_test(test_ws_rejects_unknown_opcodes),
      cmocka_unit_test(test_ws_rejects_fragmented_control_frame),
      cmocka_unit_test(test_ws_rejects_control_frame_over_125_bytes),
      cmocka_unit_test(test_ws_accepts_control_frame_of_125_bytes),
      cmocka_unit_test(test_ws_rejects_close_payload_of_one_byte),
      cmocka_unit_test(test_ws_accepts_empty_close_frame),
      cmocka_unit_test(test_ws_rejects_continuation_without_open_message),
      cmocka_unit_test(test_ws_rejects_continuation_after_message_finished),
      cmocka_unit_test(test_ws_rejects_new_data_frame_inside_fragmented_message),
      cmocka_unit_test(test_ws_rejects_64bit_length_with_top_bit_set),
      cmocka_unit_test(test_ws_rejects_oversized_message_from_header_alone),
      cmocka_unit_test(test_ws_accepts_message_of_exactly_max_bytes),
      cmocka_unit_test(test_ws_rejects_fragmented_message_over_max),
      cmocka_unit_test(test_ws_control_frames_do_not_count_toward_max),
      cmocka_unit_test(test_ws_delivers_control_frame_inside_fragmented_message),
      cmocka_unit_test(test_ws_rejects_invalid_utf8_in_text),
      cmocka_unit_test(test_ws_delivers_only_validated_text),
      cmocka_unit_test(test_ws_rejects_invalid_utf8_split_across_fragments),
      cmocka_unit_test(test_ws_accepts_multibyte_utf8_split_across_fragments),
      cmocka_unit_test(test_ws_rejects_text_message_ending_mid_sequence),
      cmocka_unit_test(test_ws_rejects_truncated_utf8_ended_by_empty_continuation),
      cmocka_unit_test(test_ws_utf8_state_resets_between_messages),
      cmocka_unit_test(test_ws_does_not_validate_binary_as_utf8),
      cmocka_unit_test(test_ws_stops_when_callback_returns_nonzero),
      cmocka_unit_test(test_ws_resumes_after_every_stop_with_same_events),
      cmocka_unit_test(test_ws_split_fragmented_text_with_ping_at_every_byte),
      cmocka_unit_test(test_ws_split_16bit_lengths_at_every_byte),
      cmocka_unit_test(test_ws_split_64bit_lengths_at_every_byte),
      cmocka_unit_test(test_ws_split_large_64bit_frame_at_many_bytes),
      cmocka_unit_test(test_ws_split_multibyte_utf8_across_fragments_at_every_byte),
      cmocka_unit_test(test_ws_split_errors_are_the_same_at_every_byte),
      cmocka_unit_test(test_ws_frame_header_uses_shortest_length_form),
      cmocka_unit_test(test_ws_frame_build_holds_header_and_payload),
      cmocka_unit_test(test_ws_frame_gather_concatenates_parts_behind_one_header),
      cmocka_unit_test(test_ws_client_parser_reads_frame_build_output),
      cmocka_unit_test(test_ws_client_frame_write_round_trips_through_server_parser),
      cmocka_unit_test(test_ws_client_frame_write_with_zero_mask_copies_payload),
      cmocka_unit_test(test_ws_close_frame_build_encodes_code_and_reason),
      cmocka_unit_test(test_ws_close_frame_build_truncates_reason_on_utf8_boundary),
      cmocka_unit_test(test_ws_close_check_empty_payload_is_no_status),
      cmocka_unit_test(test_ws_close_check_rejects_one_byte_payload),
      cmocka_unit_test(test_ws_close_check_accepts_valid_codes),
      cmocka_unit_test(test_ws_close_check_rejects_codes_not_allowed_on_wire),
      cmocka_unit_test(test_ws_close_check_rejects_invalid_utf8_reason),
      cmocka_unit_test(test_ws_close_check_rejects_payload_over_125_bytes),
      cmocka_unit_test(test_ws_accept_key_matches_rfc_example),
      cmocka_unit_test(test_ws_accept_key_rejects_wrong_length),
      cmocka_unit_test(test_ws_accept_key_rejects_non_base64_characters),
      cmocka_unit_test(test_ws_accept_key_rejects_key_not_decoding_to_16_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
