/* Unit tests for the multipart/form-data parser (src/http/multipart.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

/* ------------------------------------------------------------------------
 * Transcript: the events as text, with a part's data pieces merged, so the
 * same body fed in any chunking must give the same transcript:
 *   B part begin, H<name>=<value>| header, E headers end, D[...] data,
 *   P part end, Z end, and !<code> when feed or finish failed. */

struct rec {
  char *s;
  size_t n, cap;
  int data_open;
  size_t calls, stop_every; /* return non-zero from every Nth callback */
  const uint8_t *base;      /* the buffer being fed, to check zero-copy */
  size_t base_len;
  size_t copied; /* data bytes that did not point into base */
};

static void put(struct rec *r, const void *d, size_t n) {
  if (r->n + n + 1 > r->cap) {
    r->cap = (r->n + n + 1) * 2;
    r->s = realloc(r->s, r->cap);
    assert_non_null(r->s);
  }
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
  r->data_open = 0;
}

static int stop(struct rec *r) {
  return r->stop_every && ++r->calls % r->stop_every == 0;
}

static int ev_begin(void *ctx) {
  close_data(ctx);
  puts_(ctx, "B");
  return stop(ctx);
}

static int ev_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen) {
  close_data(ctx);
  puts_(ctx, "H");
  put(ctx, name, nlen);
  puts_(ctx, "=");
  put(ctx, value, vlen);
  puts_(ctx, "|");
  return stop(ctx);
}

static int ev_headers_end(void *ctx) {
  close_data(ctx);
  puts_(ctx, "E");
  return stop(ctx);
}

static int ev_data(void *ctx, const uint8_t *d, size_t n) {
  struct rec *r = ctx;
  assert_true(n > 0);
  if (!(d >= r->base && d + n <= r->base + r->base_len))
    r->copied += n;
  if (!r->data_open)
    puts_(r, "D[");
  r->data_open = 1;
  put(r, d, n);
  return stop(r);
}

static int ev_part_end(void *ctx) {
  close_data(ctx);
  puts_(ctx, "P");
  return stop(ctx);
}

static int ev_end(void *ctx) {
  close_data(ctx);
  puts_(ctx, "Z");
  return stop(ctx);
}

static const multipart_callbacks recorder = {ev_begin, ev_header,   ev_headers_end,
                                             ev_data,  ev_part_end, ev_end};

/* Feeds one chunk, resuming after every stop; returns 0 or the error. */
static int feed_chunk(multipart_parser *p, const uint8_t *d, size_t n, struct rec *r) {
  r->base = d;
  r->base_len = n;
  for (;;) {
    size_t consumed = (size_t)-1;
    int64_t rc = multipart_feed(p, d, n, &recorder, r, &consumed);
    assert_true(consumed <= n);
    if (rc == MULTIPART_STOPPED) {
      assert_true(r->stop_every != 0);
      d += consumed;
      n -= consumed;
      continue;
    }
    if (rc < 0)
      return (int)rc;
    assert_int_equal(rc, n);
    assert_int_equal(consumed, n);
    return 0;
  }
}

/* Parses body cut at the given offsets (ascending); returns the transcript. */
static struct rec parse_cuts(const char *boundary, const void *body, size_t len, const size_t *cuts,
                             size_t ncuts, size_t stop_every) {
  multipart_parser p;
  struct rec r = {0};
  r.stop_every = stop_every;
  puts_(&r, "");
  assert_int_equal(multipart_init(&p, boundary, strlen(boundary)), 0);
  const uint8_t *b = body;
  size_t at = 0;
  int rc = 0;
  for (size_t i = 0; i <= ncuts && rc == 0; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    rc = feed_chunk(&p, b + at, end - at, &r);
    at = end;
  }
  close_data(&r);
  if (rc == 0)
    rc = multipart_finish(&p);
  if (rc) {
    char code[16];
    snprintf(code, sizeof code, "!%d", rc);
    puts_(&r, code);
  }
  return r;
}

static struct rec parse_whole(const char *boundary, const void *body, size_t len) {
  return parse_cuts(boundary, body, len, NULL, 0, 0);
}

static void assert_same(const struct rec *a, const struct rec *b) {
  if (a->n != b->n || memcmp(a->s, b->s, a->n) != 0)
    fail_msg("transcripts differ:\n  %s\n  %s", a->s, b->s);
}

/* The transcript of the whole body, which must also be what every split in
 * two, one byte at a time, and stopping at every event give. */
static struct rec parse_every_way(const char *boundary, const void *body, size_t len) {
  struct rec whole = parse_whole(boundary, body, len);
  for (size_t k = 0; k <= len; k++) {
    struct rec split = parse_cuts(boundary, body, len, &k, 1, 0);
    assert_same(&whole, &split);
    free(split.s);
  }
  size_t *cuts = malloc((len + 1) * sizeof *cuts);
  assert_non_null(cuts);
  for (size_t k = 0; k < len; k++)
    cuts[k] = k;
  struct rec bytes = parse_cuts(boundary, body, len, cuts, len, 0);
  assert_same(&whole, &bytes);
  free(bytes.s);
  for (size_t every = 1; every <= 3; every++) {
    struct rec stopped = parse_cuts(boundary, body, len, cuts, len / 2, every);
    assert_same(&whole, &stopped);
    free(stopped.s);
  }
  free(cuts);
  return whole;
}

static void assert_transcript(const char *boundary, const char *body, const char *expected) {
  struct rec r = parse_every_way(boundary, body, strlen(body));
  assert_string_equal(r.s, expected);
  free(r.s);
}

#define FORM                                                                                       \
  "--XyZ\r\n"                                                                                      \
  "Content-Disposition: form-data; name=\"alias\"\r\n"                                             \
  "\r\n"                                                                                           \
  "phone\r\n"                                                                                      \
  "--XyZ\r\n"                                                                                      \
  "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"                          \
  "Content-Type: application/octet-stream\r\n"                                                     \
  "\r\n"                                                                                           \
  "\x00\x01\r\n--XyY\r\r\n--Xy\x02\r\n"                                                            \
  "--XyZ--\r\n"

#define FORM_TRANSCRIPT                                                                            \
  "BHContent-Disposition=form-data; name=\"alias\"|ED[phone]P"                                     \
  "BHContent-Disposition=form-data; name=\"file\"; filename=\"a.bin\"|"                            \
  "HContent-Type=application/octet-stream|ED[\x00\x01\r\n--XyY\r\r\n--Xy\x02]PZ"

/* ------------------------------------------------------------------------
 * Boundary */

static void test_multipart_boundary_reads_token_value(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *ct = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk";
  assert_int_equal(multipart_boundary(ct, strlen(ct), b, sizeof b), 30);
  assert_string_equal(b, "----WebKitFormBoundary7MA4YWxk");
}

static void test_multipart_boundary_reads_quoted_value_with_separators(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *ct = "multipart/form-data; boundary=\"a b:c/d=e?f(g)h,\"";
  assert_int_equal(multipart_boundary(ct, strlen(ct), b, sizeof b), 16);
  assert_string_equal(b, "a b:c/d=e?f(g)h,");
}

static void test_multipart_boundary_ignores_case_and_other_parameters(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *ct = " Multipart/Form-Data ; charset=\"utf-8; x\" ;BOUNDARY=abc ";
  assert_int_equal(multipart_boundary(ct, strlen(ct), b, sizeof b), 3);
  assert_string_equal(b, "abc");
}

static void test_multipart_boundary_accepts_70_characters(void **state) {
  char ct[128], b[MULTIPART_BOUNDARY_MAX + 1];
  int n = snprintf(ct, sizeof ct, "multipart/form-data; boundary=%070d", 7);
  assert_int_equal(multipart_boundary(ct, (size_t)n, b, sizeof b), 70);
}

static void test_multipart_boundary_rejects_71_characters(void **state) {
  char ct[128], b[MULTIPART_BOUNDARY_MAX + 1];
  int n = snprintf(ct, sizeof ct, "multipart/form-data; boundary=%071d", 7);
  assert_int_equal(multipart_boundary(ct, (size_t)n, b, sizeof b), MULTIPART_EBOUNDARY);
}

static void test_multipart_boundary_rejects_missing_or_empty(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *cts[] = {"multipart/form-data", "multipart/form-data; charset=utf-8",
                       "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\""};
  for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++)
    assert_int_equal(multipart_boundary(cts[i], strlen(cts[i]), b, sizeof b), MULTIPART_EBOUNDARY);
}

static void test_multipart_boundary_rejects_characters_rfc2046_forbids(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *cts[] = {
      "multipart/form-data; boundary=ab!c", "multipart/form-data; boundary=\"a\rb\"",
      "multipart/form-data; boundary=\"ab \"", "multipart/form-data; boundary=\"a\\\"b\""};
  for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++)
    assert_int_equal(multipart_boundary(cts[i], strlen(cts[i]), b, sizeof b), MULTIPART_EBOUNDARY);
}

static void test_multipart_boundary_rejects_repeated_parameter(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *ct = "multipart/form-data; boundary=a; boundary=b";
  assert_int_equal(multipart_boundary(ct, strlen(ct), b, sizeof b), MULTIPART_EBOUNDARY);
}

static void test_multipart_boundary_rejects_malformed_parameters(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *cts[] = {"multipart/form-data; boundary=abc junk",
                       "multipart/form-data; boundary = abc",
                       "multipart/form-data; x=\"unterminated; boundary=abc",
                       "multipart/form-data; novalue; boundary=abc"};
  for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++)
    assert_int_equal(multipart_boundary(cts[i], strlen(cts[i]), b, sizeof b), MULTIPART_EBOUNDARY);
}

static void test_multipart_boundary_rejects_other_media_types(void **state) {
  char b[MULTIPART_BOUNDARY_MAX + 1];
  const char *cts[] = {"application/json; boundary=abc", "multipart; boundary=abc", "",
                       "text/plain"};
  for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++)
    assert_int_equal(multipart_boundary(cts[i], strlen(cts[i]), b, sizeof b),
                     MULTIPART_ENOT_MULTIPART);
}

static void test_multipart_boundary_rejects_output_too_small(void **state) {
  char b[3];
  const char *ct = "multipart/form-data; boundary=abc";
  assert_int_equal(multipart_boundary(ct, strlen(ct), b, sizeof b), MULTIPART_EBOUNDARY);
}

static void test_multipart_init_rejects_invalid_boundary(void **state) {
  multipart_parser p;
  char long_b[72];
  memset(long_b, 'a', sizeof long_b);
  assert_int_equal(multipart_init(&p, "", 0), MULTIPART_EBOUNDARY);
  assert_int_equal(multipart_init(&p, long_b, 71), MULTIPART_EBOUNDARY);
  assert_int_equal(multipart_init(&p, "a\r\nb", 4), MULTIPART_EBOUNDARY);
  assert_int_equal(multipart_init(&p, long_b, 70), 0);
}

static void test_multipart_parser_after_failed_init_reports_bad_boundary(void **state) {
  multipart_parser p;
  multipart_init(&p, "", 0);
  assert_int_equal(multipart_feed(&p, (const uint8_t *)"--\r\n", 4, NULL, NULL, NULL),
                   MULTIPART_EBOUNDARY);
  assert_int_equal(multipart_finish(&p), MULTIPART_EBOUNDARY);
}

/* ------------------------------------------------------------------------
 * Parsing */

static void test_multipart_reports_fields_and_files_in_order(void **state) {
  struct rec r = parse_whole("XyZ", FORM, sizeof FORM - 1);
  assert_int_equal(r.n, sizeof FORM_TRANSCRIPT - 1);
  assert_memory_equal(r.s, FORM_TRANSCRIPT, r.n);
  free(r.s);
}

static void test_multipart_same_transcript_at_every_split_point(void **state) {
  struct rec r = parse_every_way("XyZ", FORM, sizeof FORM - 1);
  assert_memory_equal(r.s, FORM_TRANSCRIPT, sizeof FORM_TRANSCRIPT - 1);
  free(r.s);
}

static void test_multipart_data_points_into_the_input_when_fed_whole(void **state) {
  struct rec r = parse_whole("XyZ", FORM, sizeof FORM - 1);
  assert_int_equal(r.copied, 0);
  free(r.s);
}

static void test_multipart_holds_back_only_a_possible_delimiter_prefix(void **state) {
  const char *head = "--b\r\n\r\nabc\r\n-";
  multipart_parser p;
  struct rec r = {0};
  puts_(&r, "");
  multipart_init(&p, "b", 1);
  assert_int_equal(feed_chunk(&p, (const uint8_t *)head, strlen(head), &r), 0);
  close_data(&r);
  assert_string_equal(r.s, "BED[abc]");
  /* "-x" shows "\r\n-" was data: it comes from the parser, not the input. */
  assert_int_equal(feed_chunk(&p, (const uint8_t *)"x", 1, &r), 0);
  close_data(&r);
  assert_string_equal(r.s, "BED[abc]D[\r\n-x]");
  assert_int_equal(r.copied, 3);
  free(r.s);
}

static void test_multipart_partial_boundaries_in_data_are_data(void **state) {
  assert_transcript("boundary",
                    "--boundary\r\n\r\n"
                    "\r\n--boundar\r\r\n--boundarx\r\n-\r\n\r\n--\r\n--boundar"
                    "\r\n--boundary--",
                    "BED[\r\n--boundar\r\r\n--boundarx\r\n-\r\n\r\n--\r\n--boundar]PZ");
}

static void test_multipart_boundary_needs_crlf_before_it_in_data(void **state) {
  assert_transcript("b", "--b\r\n\r\nx\n--b y\r--b\r\n--b--", "BED[x\n--b y\r--b]PZ");
}

static void test_multipart_binary_data_with_every_byte_value(void **state) {
  uint8_t body[600];
  size_t n = 0;
  memcpy(body, "--q\r\n\r\n", 7);
  n = 7;
  for (int i = 0; i < 256; i++)
    body[n++] = (uint8_t)i;
  for (int i = 255; i >= 0; i--)
    body[n++] = (uint8_t)i;
  memcpy(body + n, "\r\n--q--", 7);
  n += 7;
  struct rec r = parse_every_way("q", body, n);
  assert_int_equal(r.n, 4 + 512 + 3); /* BED[ data ]PZ */
  assert_memory_equal(r.s + 4, body + 7, 512);
  free(r.s);
}

static void test_multipart_skips_preamble_and_epilogue(void **state) {
  assert_transcript("b",
                    "A preamble that mentions --b mid-line.\r\n"
                    "--b\r\n\r\ndata\r\n--b--\r\nThis is the epilogue, --b\r\n--b junk",
                    "BED[data]PZ");
}

static void test_multipart_accepts_crlf_preamble(void **state) {
  assert_transcript("b", "\r\n--b\r\n\r\ndata\r\n--b--", "BED[data]PZ");
}

static void test_multipart_accepts_transport_padding_after_boundary(void **state) {
  assert_transcript("b", "--b \t \r\nH: v\r\n\r\nx\r\n--b\t\r\n\r\ny\r\n--b-- \r\n",
                    "BHH=v|ED[x]PBED[y]PZ");
}

static void test_multipart_rejects_text_after_boundary(void **state) {
  assert_transcript("b", "--b\r\n\r\nx\r\n--bb\r\n--b--", "BED[x]!-4");
}

static void test_multipart_rejects_boundary_line_with_bare_lf(void **state) {
  assert_transcript("b", "--b\n\r\nx\r\n--b--", "!-4");
}

static void test_multipart_rejects_dashes_after_padding(void **state) {
  assert_transcript("b", "--b\r\n\r\nx\r\n--b --", "BED[x]!-4");
}

static void test_multipart_rejects_boundary_followed_by_text_in_preamble(void **state) {
  assert_transcript("b", "pre\r\n--bad\r\n--b\r\n\r\nx\r\n--b--", "!-4");
}

static void test_multipart_empty_part_with_headers(void **state) {
  assert_transcript("b", "--b\r\nH: v\r\n\r\n\r\n--b--", "BHH=v|EPZ");
}

static void test_multipart_part_with_headers_and_no_data_line(void **state) {
  assert_transcript("b", "--b\r\nH: v\r\n\r\n--b\r\n\r\nx\r\n--b--", "BHH=v|EPBED[x]PZ");
}

static void test_multipart_part_without_headers(void **state) {
  assert_transcript("b", "--b\r\n\r\nbody\r\n--b--", "BED[body]PZ");
}

static void test_multipart_empty_part_without_headers(void **state) {
  assert_transcript("b", "--b\r\n\r\n--b--", "BEPZ");
}

static void test_multipart_data_beginning_with_crlf(void **state) {
  assert_transcript("b", "--b\r\n\r\n\r\nx\r\n\r\n--b--", "BED[\r\nx\r\n]PZ");
}

static void test_multipart_close_delimiter_alone_has_no_parts(void **state) {
  assert_transcript("b", "--b--", "Z");
}

static void test_multipart_trims_header_value_whitespace(void **state) {
  assert_transcript("b", "--b\r\nName:\t  a  b \t\r\nEmpty:\r\n\r\n--b--",
                    "BHName=a  b|HEmpty=|EPZ");
}

static void test_multipart_rejects_header_without_colon(void **state) {
  assert_transcript("b", "--b\r\nNoColon\r\n\r\n--b--", "B!-5");
}

static void test_multipart_rejects_header_name_with_space(void **state) {
  assert_transcript("b", "--b\r\nBad Name: v\r\n\r\n--b--", "B!-5");
}

static void test_multipart_rejects_folded_header(void **state) {
  assert_transcript("b", "--b\r\nA: v\r\n w\r\n\r\n--b--", "BHA=v|!-5");
}

static void test_multipart_rejects_bare_lf_in_header(void **state) {
  assert_transcript("b", "--b\r\nA: v\nB: w\r\n\r\n--b--", "B!-5");
}

static void test_multipart_rejects_bare_cr_in_header(void **state) {
  assert_transcript("b", "--b\r\nA: v\rB: w\r\n\r\n--b--", "B!-5");
}

static void test_multipart_rejects_control_character_in_header(void **state) {
  const char body[] = "--b\r\nA: v\0w\r\n\r\n--b--";
  struct rec r = parse_every_way("b", body, sizeof body - 1);
  assert_string_equal(r.s, "B!-5");
  free(r.s);
}

static char *body_with_header_of(size_t line_len) {
  char *body = malloc(line_len + 64);
  assert_non_null(body);
  strcpy(body, "--b\r\nX: ");
  memset(body + 8, 'v', line_len - 3);
  strcpy(body + 8 + line_len - 3, "\r\n\r\n--b--");
  return body;
}

static void test_multipart_accepts_header_line_of_max_length(void **state) {
  char *body = body_with_header_of(MULTIPART_HEADER_MAX);
  struct rec r = parse_whole("b", body, strlen(body));
  assert_int_equal(r.n, 1 + 1 + 2 + (MULTIPART_HEADER_MAX - 3) + 1 + 3);
  assert_string_equal(r.s + r.n - 3, "EPZ");
  free(r.s);
  free(body);
}

static void test_multipart_rejects_header_line_over_max_length(void **state) {
  char *body = body_with_header_of(MULTIPART_HEADER_MAX + 1);
  struct rec r = parse_every_way("b", body, strlen(body));
  assert_string_equal(r.s, "B!-6");
  free(r.s);
  free(body);
}

static char *body_with_headers(int n) {
  char *body = malloc(32 + (size_t)n * 16);
  assert_non_null(body);
  strcpy(body, "--b\r\n");
  for (int i = 0; i < n; i++)
    sprintf(body + strlen(body), "H%d: v\r\n", i);
  strcat(body, "\r\n--b--");
  return body;
}

static void test_multipart_accepts_max_headers(void **state) {
  char *body = body_with_headers(MULTIPART_MAX_HEADERS);
  struct rec r = parse_whole("b", body, strlen(body));
  assert_string_equal(r.s + r.n - 3, "EPZ");
  free(r.s);
  free(body);
}

static void test_multipart_rejects_one_header_over_max(void **state) {
  char *body = body_with_headers(MULTIPART_MAX_HEADERS + 1);
  struct rec r = parse_every_way("b", body, strlen(body));
  assert_string_equal(r.s + r.n - 3, "!-7");
  free(r.s);
  free(body);
}

static void test_multipart_header_count_resets_for_each_part(void **state) {
  char *one = body_with_headers(MULTIPART_MAX_HEADERS);
  size_t n = strlen(one) - 2; /* without the closing "--" */
  char *body = malloc(2 * n + 8);
  assert_non_null(body);
  memcpy(body, one, n);
  strcpy(body + n, one + 3); /* the second part: CRLF, headers, close */
  struct rec r = parse_whole("b", body, strlen(body));
  assert_null(strchr(r.s, '!'));
  assert_string_equal(r.s + r.n - 5, "v|EPZ");
  free(r.s);
  free(body);
  free(one);
}

static void test_multipart_finish_before_close_delimiter_is_truncated(void **state) {
  assert_transcript("b", "--b\r\n\r\nx\r\n--b", "BED[x]!-8");
  assert_transcript("b", "--b\r\n\r\nx\r\n--b-", "BED[x]!-8");
  assert_transcript("b", "--b\r\n\r\nxyz", "BED[xyz]!-8");
  assert_transcript("b", "", "!-8");
  assert_transcript("b", "preamble only", "!-8");
}

static void test_multipart_errors_are_sticky(void **state) {
  multipart_parser p;
  multipart_init(&p, "b", 1);
  const uint8_t bad[] = "--bX";
  assert_int_equal(multipart_feed(&p, bad, 4, NULL, NULL, NULL), MULTIPART_EDELIMITER);
  assert_int_equal(multipart_feed(&p, (const uint8_t *)"\r\n", 2, NULL, NULL, NULL),
                   MULTIPART_EDELIMITER);
  assert_int_equal(multipart_finish(&p), MULTIPART_EDELIMITER);
}

static void test_multipart_stop_reports_bytes_consumed_up_to_the_event(void **state) {
  const char *body = "--b\r\nH: v\r\n\r\nx";
  multipart_parser p;
  struct rec r = {0};
  r.stop_every = 1;
  puts_(&r, "");
  multipart_init(&p, "b", 1);
  size_t consumed;
  assert_int_equal(
      multipart_feed(&p, (const uint8_t *)body, strlen(body), &recorder, &r, &consumed),
      MULTIPART_STOPPED);
  assert_int_equal(consumed, 5); /* the boundary line, before part begin */
  assert_string_equal(r.s, "B");
  assert_int_equal(
      multipart_feed(&p, (const uint8_t *)body + 5, strlen(body) - 5, &recorder, &r, &consumed),
      MULTIPART_STOPPED);
  assert_int_equal(consumed, 6); /* through the header's CRLF */
  free(r.s);
}

static void test_multipart_end_is_pending_after_stop_at_last_byte(void **state) {
  const char *body = "--b\r\n\r\n--b--";
  multipart_parser p;
  struct rec r = {0};
  r.stop_every = 1;
  puts_(&r, "");
  multipart_init(&p, "b", 1);
  size_t consumed, at = 0;
  while (multipart_feed(&p, (const uint8_t *)body + at, strlen(body) - at, &recorder, &r,
                        &consumed) == MULTIPART_STOPPED) {
    at += consumed;
    if (strcmp(r.s, "BEP") == 0)
      break;
  }
  assert_string_equal(r.s, "BEP");
  assert_int_equal(at, strlen(body));
  assert_int_equal(multipart_finish(&p), MULTIPART_ETRUNCATED);
  assert_int_equal(multipart_feed(&p, NULL, 0, &recorder, &r, &consumed), MULTIPART_STOPPED);
  assert_string_equal(r.s, "BEPZ");
  assert_int_equal(multipart_finish(&p), 0);
  free(r.s);
}

static void test_multipart_works_without_callbacks(void **state) {
  multipart_parser p;
  multipart_init(&p, "XyZ", 3);
  assert_int_equal(multipart_feed(&p, (const uint8_t *)FORM, sizeof FORM - 1, NULL, NULL, NULL),
                   sizeof FORM - 1);
  assert_int_equal(multipart_finish(&p), 0);
}

static void test_multipart_strerror_names_each_code(void **state) {
  const char *seen[16] = {0};
  for (int code = 0; code >= MULTIPART_EDISPOSITION; code--) {
    const char *s = multipart_strerror(code);
    assert_non_null(s);
    for (int j = 0; j > code; j--)
      assert_string_not_equal(s, seen[-j]);
    seen[-code] = s;
  }
  assert_string_equal(multipart_strerror(-100), "unknown multipart error");
}

/* ------------------------------------------------------------------------
 * Content-Disposition */

static multipart_disp disp;

static int parse_disp(const char *v) {
  return multipart_disposition(v, strlen(v), &disp);
}

static void test_multipart_disposition_reads_name_and_filename(void **state) {
  assert_int_equal(parse_disp("form-data; name=\"file\"; filename=\"a b.txt\""), 0);
  assert_true(disp.form_data);
  assert_true(disp.has_name);
  assert_string_equal(disp.name, "file");
  assert_int_equal(disp.name_len, 4);
  assert_true(disp.has_filename);
  assert_string_equal(disp.filename, "a b.txt");
  assert_int_equal(disp.filename_len, 7);
}

static void test_multipart_disposition_field_without_filename(void **state) {
  assert_int_equal(parse_disp("form-data; name=alias"), 0);
  assert_string_equal(disp.name, "alias");
  assert_false(disp.has_filename);
  assert_int_equal(disp.filename_len, 0);
}

static void test_multipart_disposition_empty_filename_is_present(void **state) {
  assert_int_equal(parse_disp("form-data; name=\"f\"; filename=\"\""), 0);
  assert_true(disp.has_filename);
  assert_int_equal(disp.filename_len, 0);
}

static void test_multipart_disposition_unescapes_quotes_and_backslashes(void **state) {
  assert_int_equal(parse_disp("form-data; name=\"f\"; filename=\"say \\\"hi\\\" \\\\ o.txt\""), 0);
  assert_string_equal(disp.filename, "say \"hi\" \\ o.txt");
}

static void test_multipart_disposition_keeps_backslashes_of_windows_paths(void **state) {
  assert_int_equal(parse_disp("form-data; name=\"f\"; filename=\"C:\\dir\\a.txt\""), 0);
  assert_string_equal(disp.filename, "C:\\dir\\a.txt");
}

static void test_multipart_disposition_keeps_semicolons_inside_quotes(void **state) {
  assert_int_equal(parse_disp("form-data; filename=\"a; name=x.txt\"; name=\"real\""), 0);
  assert_string_equal(disp.filename, "a; name=x.txt");
  assert_string_equal(disp.name, "real");
}

static void test_multipart_disposition_takes_percent_literally_in_filename(void **state) {
  assert_int_equal(parse_disp("form-data; name=f; filename=\"a%22b.txt\""), 0);
  assert_string_equal(disp.filename, "a%22b.txt");
}

static void test_multipart_disposition_decodes_filename_star(void **state) {
  assert_int_equal(parse_disp("form-data; name=f; filename*=UTF-8''%E2%82%AC%20rates.txt"), 0);
  assert_string_equal(disp.filename, "\xE2\x82\xAC rates.txt");
}

static void test_multipart_disposition_filename_star_wins_in_either_order(void **state) {
  assert_int_equal(parse_disp("form-data; filename*=utf-8'en'%C3%A9.txt; filename=\"e.txt\""), 0);
  assert_string_equal(disp.filename, "\xC3\xA9.txt");
  assert_int_equal(parse_disp("form-data; filename=\"e.txt\"; FILENAME*=UTF-8''%C3%A9.txt"), 0);
  assert_string_equal(disp.filename, "\xC3\xA9.txt");
}

static void test_multipart_disposition_ignores_unusable_filename_star(void **state) {
  assert_int_equal(parse_disp("form-data; filename=\"e.txt\"; filename*=ISO-8859-1''%E9.txt"), 0);
  assert_string_equal(disp.filename, "e.txt");
  assert_int_equal(parse_disp("form-data; filename=\"e.txt\"; filename*=UTF-8''%E"), 0);
  assert_string_equal(disp.filename, "e.txt");
  assert_int_equal(parse_disp("form-data; filename*=UTF-8''%zz"), 0);
  assert_false(disp.has_filename);
  assert_int_equal(parse_disp("form-data; filename*=UTF-8'no-second-quote"), 0);
  assert_false(disp.has_filename);
}

static void test_multipart_disposition_keeps_nul_from_filename_star_with_length(void **state) {
  assert_int_equal(parse_disp("form-data; filename*=UTF-8''a%00b"), 0);
  assert_int_equal(disp.filename_len, 3);
  assert_memory_equal(disp.filename, "a\0b", 3);
}

static void test_multipart_disposition_is_case_insensitive(void **state) {
  assert_int_equal(parse_disp("Form-Data; NAME=\"x\"; FileName=\"y\""), 0);
  assert_true(disp.form_data);
  assert_string_equal(disp.name, "x");
  assert_string_equal(disp.filename, "y");
}

static void test_multipart_disposition_reports_other_types(void **state) {
  assert_int_equal(parse_disp("attachment; filename=\"y\""), 0);
  assert_false(disp.form_data);
}

static void test_multipart_disposition_rejects_repeated_parameters(void **state) {
  assert_int_equal(parse_disp("form-data; name=a; name=b"), MULTIPART_EDISPOSITION);
  assert_int_equal(parse_disp("form-data; filename=a; filename=b"), MULTIPART_EDISPOSITION);
  assert_int_equal(parse_disp("form-data; filename*=UTF-8''a; filename*=UTF-8''b"),
                   MULTIPART_EDISPOSITION);
}

static void test_multipart_disposition_rejects_malformed_values(void **state) {
  const char *bad[] = {"",
                       "; name=a",
                       "form-data; name=\"unterminated",
                       "form-data; name",
                       "form-data; name=",
                       "form-data; name=a b",
                       "form-data; name=\"a\rb\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(parse_disp(bad[i]), MULTIPART_EDISPOSITION);
}

static void test_multipart_disposition_ignores_unknown_and_empty_parameters(void **state) {
  assert_int_equal(parse_disp("form-data;; size=3; x=\"q;\\\"\" ;name=n;"), 0);
  assert_string_equal(disp.name, "n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multipart_boundary_reads_token_value),
      cmocka_unit_test(test_multipart_boundary_reads_quoted_value_with_separators),
      cmocka_unit_test(test_multipart_boundary_ignores_case_and_other_parameters),
      cmocka_unit_test(test_multipart_boundary_accepts_70_characters),
      cmocka_unit_test(test_multipart_boundary_rejects_71_characters),
      cmocka_unit_test(test_multipart_boundary_rejects_missing_or_empty),
      cmocka_unit_test(test_multipart_boundary_rejects_characters_rfc2046_forbids),
      cmocka_unit_test(test_multipart_boundary_rejects_repeated_parameter),
      cmocka_unit_test(test_multipart_boundary_rejects_malformed_parameters),
      cmocka_unit_test(test_multipart_boundary_rejects_other_media_types),
      cmocka_unit_test(test_multipart_boundary_rejects_output_too_small),
      cmocka_unit_test(test_multipart_init_rejects_invalid_boundary),
      cmocka_unit_test(test_multipart_parser_after_failed_init_reports_bad_boundary),
      cmocka_unit_test(test_multipart_reports_fields_and_files_in_order),
      cmocka_unit_test(test_multipart_same_transcript_at_every_split_point),
      cmocka_unit_test(test_multipart_data_points_into_the_input_when_fed_whole),
      cmocka_unit_test(test_multipart_holds_back_only_a_possible_delimiter_prefix),
      cmocka_unit_test(test_multipart_partial_boundaries_in_data_are_data),
      cmocka_unit_test(test_multipart_boundary_needs_crlf_before_it_in_data),
      cmocka_unit_test(test_multipart_binary_data_with_every_byte_value),
      cmocka_unit_test(test_multipart_skips_preamble_and_epilogue),
      cmocka_unit_test(test_multipart_accepts_crlf_preamble),
      cmocka_unit_test(test_multipart_accepts_transport_padding_after_boundary),
      cmocka_unit_test(test_multipart_rejects_text_after_boundary),
      cmocka_unit_test(test_multipart_rejects_boundary_line_with_bare_lf),
      cmocka_unit_test(test_multipart_rejects_dashes_after_padding),
      cmocka_unit_test(test_multipart_rejects_boundary_followed_by_text_in_preamble),
      cmocka_unit_test(test_multipart_empty_part_with_headers),
      cmocka_unit_test(test_multipart_part_with_headers_and_no_data_line),
      cmocka_unit_test(test_multipart_part_without_headers),
      cmocka_unit_test(test_multipart_empty_part_without_headers),
      cmocka_unit_test(test_multipart_data_beginning_with_crlf),
      cmocka_unit_test(test_multipart_close_delimiter_alone_has_no_parts),
      cmocka_unit_test(test_multipart_trims_header_value_whitespace),
      cmocka_unit_test(test_multipart_rejects_header_without_colon),
      cmocka_unit_test(test_multipart_rejects_header_name_with_space),
      cmocka_unit_test(test_multipart_rejects_folded_header),
      cmocka_unit_test(test_multipart_rejects_bare_lf_in_header),
      cmocka_unit_test(test_multipart_rejects_bare_cr_in_header),
      cmocka_unit_test(test_multipart_rejects_control_character_in_header),
      cmocka_unit_test(test_multipart_accepts_header_line_of_max_length),
      cmocka_unit_test(test_multipart_rejects_header_line_over_max_length),
      cmocka_unit_test(test_multipart_accepts_max_headers),
      cmocka_unit_test(test_multipart_rejects_one_header_over_max),
      cmocka_unit_test(test_multipart_header_count_resets_for_each_part),
      cmocka_unit_test(test_multipart_finish_before_close_delimiter_is_truncated),
      cmocka_unit_test(test_multipart_errors_are_sticky),
      cmocka_unit_test(test_multipart_stop_reports_bytes_consumed_up_to_the_event),
      cmocka_unit_test(test_multipart_end_is_pending_after_stop_at_last_byte),
      cmocka_unit_test(test_multipart_works_without_callbacks),
      cmocka_unit_test(test_multipart_strerror_names_each_code),
      cmocka_unit_test(test_multipart_disposition_reads_name_and_filename),
      cmocka_unit_test(test_multipart_disposition_field_without_filename),
      cmocka_unit_test(test_multipart_disposition_empty_filename_is_present),
      cmocka_unit_test(test_multipart_disposition_unescapes_quotes_and_backslashes),
      cmocka_unit_test(test_multipart_disposition_keeps_backslashes_of_windows_paths),
      cmocka_unit_test(test_multipart_disposition_keeps_semicolons_inside_quotes),
      cmocka_unit_test(test_multipart_disposition_takes_percent_literally_in_filename),
      cmocka_unit_test(test_multipart_disposition_decodes_filename_star),
      cmocka_unit_test(test_multipart_disposition_filename_star_wins_in_either_order),
      cmocka_unit_test(test_multipart_disposition_ignores_unusable_filename_star),
      cmocka_unit_test(test_multipart_disposition_keeps_nul_from_filename_star_with_length),
      cmocka_unit_test(test_multipart_disposition_is_case_insensitive),
      cmocka_unit_test(test_multipart_disposition_reports_other_types),
      cmocka_unit_test(test_multipart_disposition_rejects_repeated_parameters),
      cmocka_unit_test(test_multipart_disposition_rejects_malformed_values),
      cmocka_unit_test(test_multipart_disposition_ignores_unknown_and_empty_parameters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
