/* Unit tests for HTTP/1.1 connections (src/http/http_conn.c, response.c),
 * driven through the real connection code by tests/support/http_harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http.h"
#include "http_harness.h"

/* ------------------------------------------------------------------------
 * Routes under test */

/* What the body-counting handler saw, across requests. */
static struct {
  int opened, completed, aborted;
  uint64_t bytes;  /* body bytes of the request in progress */
  unsigned pieces; /* on_body calls of the request in progress */
  size_t largest_piece;
} sink;

struct sink_state {
  uint64_t bytes;
  unsigned pieces;
};

/* Allocates on the headers and frees on completion or abort, so a request
 * that ends any other way shows up as a leak under LeakSanitizer. */
static void sink_headers(struct http_req *r) {
  r->handler_state = calloc(1, sizeof(struct sink_state));
  sink.opened++;
  sink.bytes = 0;
  sink.pieces = 0;
}

static void sink_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct sink_state *s = r->handler_state;
  s->bytes += len;
  s->pieces++;
  sink.bytes = s->bytes;
  sink.pieces = s->pieces;
  if (len > sink.largest_piece)
    sink.largest_piece = len;
}

static void sink_complete(struct http_req *r) {
  struct sink_state *s = r->handler_state;
  char body[96];
  int n = snprintf(body, sizeof body, "{\"bytes\":%llu,\"pieces\":%u}",
                   (unsigned long long)s->bytes, s->pieces);
  free(s);
  r->handler_state = NULL;
  sink.completed++;
  http_respond(r, 200, "application/json", body, (size_t)n, NULL, false, NULL);
}

static void sink_abort(struct http_req *r) {
  free(r->handler_state);
  r->handler_state = NULL;
  sink.aborted++;
}

static const http_handler sink_handler = {
    .on_headers = sink_headers,
    .on_body = sink_body,
    .on_complete = sink_complete,
    .on_abort = sink_abort,
    .max_body = 1 << 20,
};

static const http_handler small_sink_handler = {
    .on_headers = sink_headers,
    .on_body = sink_body,
    .on_complete = sink_complete,
    .on_abort = sink_abort,
    .max_body = 100,
};

static const http_handler sized_sink_handler = {
    .on_headers = sink_headers,
    .on_body = sink_body,
    .on_complete = sink_complete,
    .on_abort = sink_abort,
    .length_required = true,
};

/* Answers with the :id parameter, so pipelined answers can be told apart. */
static void echo_complete(struct http_req *r) {
  size_t len;
  const char *id = route_param(&r->match, "id", &len);
  http_respond(r, 200, "text/plain", id, len, NULL, false, NULL);
}

static const http_handler echo_handler = {.on_complete = echo_complete};

/* Answers with the request target's path and query, after the request. */
static void target_complete(struct http_req *r) {
  char body[256];
  int n = snprintf(body, sizeof body, "%.*s|%.*s", (int)r->path_len, r->path,
                   r->query ? (int)r->query_len : 1, r->query ? r->query : "-");
  http_respond(r, 200, "text/plain", body, (size_t)n, NULL, false, NULL);
}

static void ignore_body(struct http_req *r, const uint8_t *data, size_t len) {}

static const http_handler target_handler = {.on_body = ignore_body, .on_complete = target_complete};

/* Answers on a later turn of the loop, as a handler waiting on storage would. */
struct later {
  uv_timer_t timer;
  struct http_req *r;
};

static int later_aborted;

static void later_free(uv_handle_t *h) {
  free(h->data);
}

static void later_fire(uv_timer_t *t) {
  struct later *l = t->data;
  struct http_req *r = l->r;
  size_t len;
  const char *id = route_param(&r->match, "id", &len);
  char body[64];
  int n = snprintf(body, sizeof body, "later %.*s", (int)len, id);
  uv_close((uv_handle_t *)&l->timer, later_free);
  r->handler_state = NULL;
  http_respond(r, 200, "text/plain", body, (size_t)n, NULL, false, NULL);
}

static uint64_t later_delay_ms;

static void later_complete(struct http_req *r) {
  struct later *l = calloc(1, sizeof *l);
  l->r = r;
  l->timer.data = l;
  uv_timer_init(r->c->srv->loop, &l->timer);
  uv_timer_start(&l->timer, later_fire, later_delay_ms, 0);
  r->handler_state = l;
}

static void later_abort(struct http_req *r) {
  struct later *l = r->handler_state;
  later_aborted++;
  if (!l)
    return;
  uv_close((uv_handle_t *)&l->timer, later_free);
  r->handler_state = NULL;
}

static const http_handler later_handler = {
    .on_body = ignore_body, .on_complete = later_complete, .on_abort = later_abort};

/* A body the client must read in several turns. */
#define BIG_LEN (3 << 20)
static uint8_t big_body[BIG_LEN];

static void big_complete(struct http_req *r) {
  http_respond(r, 200, "application/octet-stream", big_body, sizeof big_body, NULL, true, NULL);
}

static const http_handler big_handler = {.on_complete = big_complete};

/* Handlers that give up on the connection from inside their callbacks. */
static void drop_complete(struct http_req *r) {
  conn_close(r->c);
}

static const http_handler drop_handler = {.on_complete = drop_complete};

static bool sink_in_callback;

static void drop_body(struct http_req *r, const uint8_t *data, size_t len) {
  sink_in_callback = true;
  sink_body(r, data, len);
  conn_close(r->c);
  sink_in_callback = false;
}

static void drop_abort(struct http_req *r) {
  assert_false(sink_in_callback); /* never from inside on_body */
  sink_abort(r);
}

static const http_handler drop_body_handler = {.on_headers = sink_headers,
                                               .on_body = drop_body,
                                               .on_complete = sink_complete,
                                               .on_abort = drop_abort};

/* Pauses the body on its first piece (as a handler whose disk is behind
 * would) and answers as soon as the request is whole. */
static void pause_body(struct http_req *r, const uint8_t *data, size_t len) {
  sink_body(r, data, len);
  http_body_pause(r);
}

static const http_handler pause_handler = {.on_headers = sink_headers,
                                           .on_body = pause_body,
                                           .on_complete = sink_complete,
                                           .on_abort = sink_abort};

/* A streamed response: "0123456789" in two pieces, the second on a later
 * turn of the loop, and the end a few milliseconds after that. */
struct stream {
  uv_timer_t timer;
  struct http_req *r;
  bool second_sent;
};

static int stream_aborted;

static void stream_free(uv_handle_t *h) {
  free(h->data);
}

static void stream_piece(struct http_req *r, const char *text) {
  buf *chunk = buf_from(text, strlen(text));
  http_stream_write(r, chunk);
  buf_unref(chunk);
}

static void stream_next(uv_timer_t *t) {
  struct stream *s = t->data;
  struct http_req *r = s->r;
  if (!s->second_sent) {
    s->second_sent = true;
    stream_piece(r, "56789");
    uv_timer_start(&s->timer, stream_next, 5, 0);
    return;
  }
  r->handler_state = NULL;
  uv_close((uv_handle_t *)&s->timer, stream_free);
  http_stream_end(r);
}

static void stream_complete(struct http_req *r) {
  struct stream *s = calloc(1, sizeof *s);
  s->r = r;
  s->timer.data = s;
  uv_timer_init(r->c->srv->loop, &s->timer);
  uv_timer_start(&s->timer, stream_next, 0, 0);
  r->handler_state = s;
  http_stream_begin(r, 200, "text/plain", 10, NULL, NULL);
  stream_piece(r, "01234");
}

static void stream_abort(struct http_req *r) {
  struct stream *s = r->handler_state;
  stream_aborted++;
  if (s)
    uv_close((uv_handle_t *)&s->timer, stream_free);
  r->handler_state = NULL;
}

static const http_handler stream_handler = {.on_complete = stream_complete,
                                            .on_abort = stream_abort};

static const struct route routes[] = {
    {METHOD_POST | METHOD_PUT, "/sink", &sink_handler},
    {METHOD_POST, "/small", &small_sink_handler},
    {METHOD_PUT, "/sized", &sized_sink_handler},
    {METHOD_GET | METHOD_DELETE, "/echo/:id", &echo_handler},
    {METHOD_GET | METHOD_POST, "/target/*", &target_handler},
    {METHOD_GET | METHOD_POST, "/later/:id", &later_handler},
    {METHOD_GET, "/big", &big_handler},
    {METHOD_GET, "/drop", &drop_handler},
    {METHOD_POST, "/drop-body", &drop_body_handler},
    {METHOD_POST, "/pause", &pause_handler},
    {METHOD_GET, "/stream", &stream_handler},
};

/* ------------------------------------------------------------------------
 * Reading responses */

struct resp {
  int status;
  char head[4096]; /* status line and headers, NUL-terminated */
  char body[8192]; /* NUL-terminated (truncated past the buffer) */
  size_t body_len;
};

/* The value of a header in a response head (case-sensitive name), or "". */
static const char *resp_header(const struct resp *r, const char *name, char *out, size_t cap) {
  char key[128];
  snprintf(key, sizeof key, "\r\n%s: ", name);
  const char *p = strstr(r->head, key);
  out[0] = '\0';
  if (!p)
    return out;
  p += strlen(key);
  const char *e = strstr(p, "\r\n");
  size_t n = e ? (size_t)(e - p) : strlen(p);
  if (n >= cap)
    n = cap - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return out;
}

static bool has_header(const struct resp *r, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "\r\n%s: ", name);
  return strstr(r->head, key) != NULL;
}

/* Parses one response from *p; `head_request` says there is no body.
 * Returns false at the end or on garbage. */
static bool parse_response(const char **p, const char *end, bool head_request, struct resp *r) {
  memset(r, 0, sizeof *r);
  const char *s = *p;
  if (end - s < 12 || memcmp(s, "HTTP/1.1 ", 9) != 0)
    return false;
  const char *hend = NULL;
  for (const char *q = s; q + 4 <= end; q++)
    if (memcmp(q, "\r\n\r\n", 4) == 0) {
      hend = q + 2; /* keep the last header's CRLF */
      break;
    }
  if (!hend || (size_t)(hend - s) >= sizeof r->head)
    return false;
  memcpy(r->head, s, (size_t)(hend - s));
  r->status = atoi(s + 9);
  const char *body = hend + 2;
  char cl[32];
  size_t len = 0;
  if (!head_request && r->status >= 200 && r->status != 204 && r->status != 304 &&
      *resp_header(r, "Content-Length", cl, sizeof cl))
    len = strtoull(cl, NULL, 10);
  if ((size_t)(end - body) < len)
    return false;
  r->body_len = len;
  memcpy(r->body, body, len < sizeof r->body - 1 ? len : sizeof r->body - 1);
  *p = body + len;
  return true;
}

/* Parses every response in `out`; returns how many (at most max). */
static int parse_all(const char *out, size_t len, struct resp *rs, int max) {
  const char *p = out, *end = out + len;
  int n = 0;
  while (n < max && parse_response(&p, end, false, &rs[n]))
    n++;
  return n;
}

/* ------------------------------------------------------------------------
 * Fixtures */

struct fixture {
  struct harness h;
  char out[1 << 16];
  size_t out_len;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f || harness_init(&f->h) < 0)
    return -1;
  memset(&sink, 0, sizeof sink);
  later_aborted = 0;
  stream_aborted = 0;
  later_delay_ms = 0;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  int rc = harness_free(&f->h);
  free(f);
  return rc;
}

static struct harness *start(void **state) {
  struct fixture *f = *state;
  assert_int_equal(harness_start(&f->h, routes, sizeof routes / sizeof routes[0], NULL), 0);
  return &f->h;
}

static void send_text(struct harness *h, const char *text) {
  assert_int_equal(harness_feed(h, text, strlen(text)), strlen(text));
}

/* Everything the server has written, as one string. */
static const char *output(void **state) {
  struct fixture *f = *state;
  f->out_len = harness_read_all(&f->h, f->out, sizeof f->out);
  return f->out;
}

/* Exactly one response (and nothing after it). */
static void one_response(void **state, struct resp *r) {
  struct fixture *f = *state;
  output(state);
  const char *p = f->out, *end = f->out + f->out_len;
  assert_true(parse_response(&p, end, false, r));
  assert_int_equal(end - p, 0);
}

/* ------------------------------------------------------------------------
 * Tests */

static void test_http_answers_a_simple_get(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/hi HTTP/1.1\r\nHost: x\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hi");
  char v[64];
  assert_string_equal(resp_header(&r, "Content-Type", v, sizeof v), "text/plain");
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "keep-alive");
  assert_true(has_header(&r, "Date"));
  assert_false(h->server_eof);
}

static void test_http_keeps_the_connection_alive_between_requests(void **state) {
  struct harness *h = start(state);
  for (int i = 0; i < 5; i++) {
    char req[64], want[8];
    snprintf(req, sizeof req, "GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    snprintf(want, sizeof want, "%d", i);
    send_text(h, req);
    struct resp r;
    one_response(state, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    assert_false(h->server_eof);
  }
  assert_int_equal(h->srv.connection_count, 1);
}

static void test_http_closes_after_a_connection_close_request(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/bye HTTP/1.1\r\nConnection: close\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  char v[64];
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "close");
  assert_true(h->server_eof);
}

static void test_http_closes_after_an_http_1_0_request(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/old HTTP/1.0\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_string_equal(r.body, "old");
  assert_true(h->server_eof);
}

static void test_http_answers_pipelined_requests_in_order(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/one HTTP/1.1\r\n\r\n"
               "GET /echo/two HTTP/1.1\r\n\r\n"
               "GET /echo/three HTTP/1.1\r\n\r\n");
  struct fixture *f = *state;
  output(state);
  struct resp rs[4];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 4), 3);
  assert_string_equal(rs[0].body, "one");
  assert_string_equal(rs[1].body, "two");
  assert_string_equal(rs[2].body, "three");
  assert_false(h->server_eof);
}

static const char two_requests[] = "POST /sink HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                                   "GET /echo/second HTTP/1.1\r\nHost: x\r\n\r\n";

static void check_two_answers(void **state) {
  struct fixture *f = *state;
  output(state);
  struct resp rs[3];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 3), 2);
  assert_int_equal(rs[0].status, 200);
  assert_int_equal(strncmp(rs[0].body, "{\"bytes\":5,", 11), 0);
  assert_int_equal(rs[1].status, 200);
  assert_string_equal(rs[1].body, "second");
}

static void test_http_answers_a_pipeline_split_at_every_byte(void **state) {
  size_t len = sizeof two_requests - 1;
  for (size_t cut = 1; cut < len; cut++) {
    struct fixture *f = *state;
    struct harness *h = start(state);
    assert_int_equal(harness_feed_split(h, two_requests, len, &cut, 1), len);
    check_two_answers(state);
    assert_false(h->server_eof);
    assert_int_equal(sink.completed, 1);
    assert_int_equal(harness_free(&f->h), 0);
    assert_int_equal(harness_init(&f->h), 0);
    memset(&sink, 0, sizeof sink);
  }
}

static void test_http_answers_a_pipeline_fed_byte_by_byte(void **state) {
  struct harness *h = start(state);
  size_t len = sizeof two_requests - 1;
  assert_int_equal(harness_feed_pieces(h, two_requests, len, 1), len);
  check_two_answers(state);
  assert_int_equal(sink.pieces, 5); /* one body byte per read */
}

static void test_http_keeps_order_when_a_pipelined_response_comes_later(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/a HTTP/1.1\r\n\r\n"
               "GET /later/b HTTP/1.1\r\n\r\n"
               "GET /echo/c HTTP/1.1\r\n\r\n"
               "GET /later/d HTTP/1.1\r\n\r\n"
               "GET /echo/e HTTP/1.1\r\n\r\n");
  struct fixture *f = *state;
  output(state);
  struct resp rs[6];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 6), 5);
  assert_string_equal(rs[0].body, "a");
  assert_string_equal(rs[1].body, "later b");
  assert_string_equal(rs[2].body, "c");
  assert_string_equal(rs[3].body, "later d");
  assert_string_equal(rs[4].body, "e");
  assert_false(h->server_eof);
}

static void test_http_streams_a_content_length_body_in_pieces(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /sink HTTP/1.1\r\nContent-Length: 40000\r\n\r\n");
  uint8_t piece[4000];
  memset(piece, 'x', sizeof piece);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(harness_feed(h, piece, sizeof piece), sizeof piece);
    /* The handler has every byte sent so far, before the body is whole. */
    assert_int_equal(sink.bytes, (uint64_t)(i + 1) * sizeof piece);
    assert_int_equal(sink.pieces, (unsigned)i + 1);
    assert_int_equal(sink.completed, i == 9 ? 1 : 0);
  }
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "{\"bytes\":40000,\"pieces\":10}");
  assert_true(sink.largest_piece <= sizeof piece);
}

static void test_http_streams_a_chunked_body_in_pieces(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  char chunk[1100];
  memset(chunk, 0, sizeof chunk);
  int n = snprintf(chunk, sizeof chunk, "3e8\r\n");
  memset(chunk + n, 'y', 1000);
  memcpy(chunk + n + 1000, "\r\n", 2);
  size_t chunk_len = (size_t)n + 1002;
  for (int i = 0; i < 6; i++) {
    assert_int_equal(harness_feed(h, chunk, chunk_len), chunk_len);
    assert_int_equal(sink.bytes, (uint64_t)(i + 1) * 1000);
    assert_int_equal(sink.completed, 0);
  }
  send_text(h, "0\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "{\"bytes\":6000,\"pieces\":6}");
  assert_int_equal(sink.completed, 1);
  assert_false(h->server_eof);
}

static void test_http_chunked_body_split_inside_chunk_sizes_still_streams(void **state) {
  struct harness *h = start(state);
  static const char req[] = "PUT /sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                            "GET /echo/next HTTP/1.1\r\n\r\n";
  assert_int_equal(harness_feed_pieces(h, req, sizeof req - 1, 3), sizeof req - 1);
  struct fixture *f = *state;
  output(state);
  struct resp rs[3];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 3), 2);
  assert_int_equal(strncmp(rs[0].body, "{\"bytes\":11,", 12), 0);
  assert_string_equal(rs[1].body, "next");
}

static void test_http_head_has_length_but_no_body(void **state) {
  struct harness *h = start(state);
  send_text(h, "HEAD /echo/abcdef HTTP/1.1\r\n\r\nGET /echo/after HTTP/1.1\r\n\r\n");
  struct fixture *f = *state;
  output(state);
  const char *p = f->out, *end = f->out + f->out_len;
  struct resp r;
  assert_true(parse_response(&p, end, true, &r));
  assert_int_equal(r.status, 200);
  char v[32];
  assert_string_equal(resp_header(&r, "Content-Length", v, sizeof v), "6");
  /* What follows the head is the next response, not a body. */
  assert_true(parse_response(&p, end, false, &r));
  assert_string_equal(r.body, "after");
  assert_int_equal(end - p, 0);
}

static void test_http_sends_100_continue_before_the_response(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /sink HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  assert_string_equal(output(state), "HTTP/1.1 100 Continue\r\n\r\n");
  send_text(h, "data");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "{\"bytes\":4,\"pieces\":1}");
}

static void test_http_refuses_a_too_large_body_with_expect_without_100(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /small HTTP/1.1\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
  const char *out = output(state);
  assert_null(strstr(out, "100 Continue"));
  assert_int_equal(strncmp(out, "HTTP/1.1 413 ", 13), 0);
  assert_true(h->server_eof);
  assert_int_equal(sink.opened, 0);
}

static void test_http_unknown_path_is_404_with_a_json_error(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /nothing/here HTTP/1.1\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 404);
  char v[64];
  assert_string_equal(resp_header(&r, "Content-Type", v, sizeof v), "application/json");
  assert_string_equal(
      r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"There is nothing here.\"}}");
  assert_false(h->server_eof);
}

static void test_http_wrong_method_is_405_with_allow(void **state) {
  struct harness *h = start(state);
  send_text(h, "PATCH /echo/x HTTP/1.1\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 405);
  char v[64];
  assert_string_equal(resp_header(&r, "Allow", v, sizeof v), "GET, HEAD, DELETE");
  assert_non_null(strstr(r.body, "\"method_not_allowed\""));
  assert_false(h->server_eof);
}

static void test_http_unknown_method_is_405_with_allow(void **state) {
  struct harness *h = start(state);
  send_text(h, "PROPFIND /echo/x HTTP/1.1\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 405);
  char v[64];
  assert_string_equal(resp_header(&r, "Allow", v, sizeof v), "GET, HEAD, DELETE");
}

static void test_http_unknown_method_on_unknown_path_is_404(void **state) {
  struct harness *h = start(state);
  send_text(h, "PROPFIND /nowhere HTTP/1.1\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 404);
}

static void test_http_wrong_method_with_a_body_is_405_and_closes(void **state) {
  struct harness *h = start(state);
  send_text(h, "DELETE /sink HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 405);
  char v[64];
  assert_string_equal(resp_header(&r, "Allow", v, sizeof v), "POST, PUT");
  assert_true(h->server_eof);
}

static void test_http_long_url_is_414(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_url = 100;
  struct harness *h = start(state);
  char req[400];
  memset(req, 0, sizeof req);
  memcpy(req, "GET /echo/", 10);
  memset(req + 10, 'a', 200);
  strcat(req, " HTTP/1.1\r\n\r\n");
  send_text(h, req);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 414);
  assert_non_null(strstr(r.body, "uri_too_long"));
  assert_true(h->server_eof);
}

static void test_http_url_at_the_limit_is_accepted(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_url = 100;
  struct harness *h = start(state);
  char req[400] = "GET /echo/";
  memset(req + 10, 'a', 94); /* the target is exactly 100 bytes */
  strcat(req, " HTTP/1.1\r\n\r\n");
  send_text(h, req);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 94);
}

static void test_http_large_header_block_is_431(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_header_bytes = 1024;
  struct harness *h = start(state);
  char req[4096] = "GET /echo/x HTTP/1.1\r\nX-Big: ";
  size_t n = strlen(req);
  memset(req + n, 'b', 2000);
  strcat(req, "\r\n\r\n");
  send_text(h, req);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 431);
  assert_non_null(strstr(r.body, "headers_too_large"));
  assert_true(h->server_eof);
}

static void test_http_large_header_block_in_small_pieces_is_431(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_header_bytes = 1024;
  struct harness *h = start(state);
  char req[4096] = "GET /echo/x HTTP/1.1\r\n";
  for (int i = 0; i < 60; i++)
    strcat(req, "X-Header-Line: 0123456789\r\n");
  strcat(req, "\r\n");
  harness_feed_pieces(h, req, strlen(req), 7);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 431);
  assert_true(h->server_eof);
}

static void test_http_too_many_headers_is_431(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_headers = 8;
  struct harness *h = start(state);
  char req[1024] = "GET /echo/x HTTP/1.1\r\n";
  for (int i = 0; i < 9; i++) {
    char line[32];
    snprintf(line, sizeof line, "X-H%d: v\r\n", i);
    strcat(req, line);
  }
  strcat(req, "\r\n");
  send_text(h, req);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 431);
  assert_non_null(strstr(r.body, "too_many_headers"));
  assert_true(h->server_eof);
}

static void test_http_headers_at_the_count_limit_are_accepted(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_headers = 8;
  struct harness *h = start(state);
  char req[1024] = "GET /echo/ok HTTP/1.1\r\n";
  for (int i = 0; i < 8; i++) {
    char line[32];
    snprintf(line, sizeof line, "X-H%d: v\r\n", i);
    strcat(req, line);
  }
  strcat(req, "\r\n");
  send_text(h, req);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
}

static void test_http_content_length_over_the_route_limit_is_413(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /small HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 413);
  assert_non_null(strstr(r.body, "body_too_large"));
  assert_true(h->server_eof);
  assert_int_equal(sink.opened, 0);
}

static void test_http_content_length_over_the_server_limit_is_413(void **state) {
  struct fixture *f = *state;
  f->h.cfg.max_body = 10;
  struct harness *h = start(state);
  send_text(h, "PUT /sized HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 413);
}

static void test_http_chunked_body_over_the_route_limit_is_413(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /small HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  send_text(h, "3c\r\n012345678901234567890123456789012345678901234567890123456789\r\n");
  assert_int_equal(output(state)[0], '\0'); /* 60 bytes: still within */
  send_text(h, "3c\r\n012345678901234567890123456789012345678901234567890123456789\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 413);
  assert_true(h->server_eof);
  /* The handler saw the start of the body; it learns the request is over. */
  assert_int_equal(sink.opened, 1);
  assert_int_equal(sink.completed, 0);
  assert_int_equal(sink.aborted, 1);
}

static void test_http_body_on_a_route_without_body_is_413(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 413);
  assert_non_null(strstr(r.body, "body_not_allowed"));
  assert_true(h->server_eof);
}

static void test_http_length_required_route_without_length_is_411(void **state) {
  struct harness *h = start(state);
  send_text(h, "PUT /sized HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 411);
  assert_non_null(strstr(r.body, "length_required"));
  assert_true(h->server_eof);
  assert_int_equal(sink.opened, 0);
}

static void test_http_length_required_route_with_length_is_served(void **state) {
  struct harness *h = start(state);
  send_text(h, "PUT /sized HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
}

static void test_http_malformed_request_is_400_and_closes(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/x HTTP/1.1\r\nBad Header Line\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "bad_request"));
  char v[32];
  assert_string_equal(resp_header(&r, "Connection", v, sizeof v), "close");
  assert_true(h->server_eof);
}

static void test_http_garbage_after_a_good_request_is_400_after_its_answer(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/good HTTP/1.1\r\n\r\n\x01\x02garbage\r\n\r\n");
  struct fixture *f = *state;
  output(state);
  struct resp rs[3];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 3), 2);
  assert_string_equal(rs[0].body, "good");
  assert_int_equal(rs[1].status, 400);
  assert_true(h->server_eof);
}

static void test_http_relative_target_is_400(void **state) {
  struct harness *h = start(state);
  send_text(h, "OPTIONS * HTTP/1.1\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 400);
  assert_true(h->server_eof);
}

static void test_http_malformed_chunk_is_400_and_aborts_the_handler(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\n");
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 400);
  assert_true(h->server_eof);
  assert_int_equal(sink.opened, 1);
  assert_int_equal(sink.aborted, 1);
}

static void test_http_responses_carry_security_headers(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/x HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\n");
  struct fixture *f = *state;
  output(state);
  struct resp rs[2];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 2), 2);
  for (int i = 0; i < 2; i++) {
    char v[512];
    resp_header(&rs[i], "Content-Security-Policy", v, sizeof v);
    assert_non_null(strstr(v, "default-src 'self'"));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_string_equal(resp_header(&rs[i], "X-Content-Type-Options", v, sizeof v), "nosniff");
    assert_string_equal(resp_header(&rs[i], "Referrer-Policy", v, sizeof v), "no-referrer");
  }
}

static void test_http_splits_the_query_from_the_path(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /target/a/b?x=1&y=2 HTTP/1.1\r\n\r\n");
  struct resp r;
  one_response(state, &r);
  assert_string_equal(r.body, "/target/a/b|x=1&y=2");
}

static void test_http_ignores_trailers_after_a_chunked_body(void **state) {
  struct harness *h = start(state);
  char req[8192] = "POST /target/keep?q=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n0\r\n";
  /* Trailer fields big enough to move the request text if they were kept. */
  for (int i = 0; i < 40; i++)
    strcat(req, "X-Trailer: 0123456789012345678901234567890123456789\r\n");
  strcat(req, "\r\n");
  send_text(h, req);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "/target/keep|q=1");
}

static void test_http_writes_a_large_response_as_the_client_reads(void **state) {
  struct harness *h = start(state);
  memset(big_body, 'z', sizeof big_body);
  send_text(h, "GET /big HTTP/1.1\r\n\r\nGET /echo/after HTTP/1.1\r\n\r\n");
  struct fixture *f = *state;
  /* The harness keeps reading, so the server's queue drains. */
  assert_int_equal(f->h.out_len > BIG_LEN, true);
  const char *after = (const char *)f->h.out + f->h.out_len - 5;
  assert_memory_equal(after, "after", 5);
  assert_false(h->server_eof);
}

static void test_http_reads_on_after_a_paused_body_is_answered(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /pause HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  struct resp r;
  one_response(state, &r);
  assert_string_equal(r.body, "{\"bytes\":3,\"pieces\":1}");
  /* The pause was for that body only: the next request is read. */
  send_text(h, "GET /echo/next HTTP/1.1\r\n\r\n");
  one_response(state, &r);
  assert_string_equal(r.body, "next");
}

static void test_http_streams_a_response_before_the_next_pipelined_one(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /stream HTTP/1.1\r\n\r\nGET /echo/after HTTP/1.1\r\n\r\n");
  harness_run_for(h, 50);
  struct fixture *f = *state;
  output(state);
  struct resp rs[3];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 3), 2);
  assert_string_equal(rs[0].body, "0123456789");
  assert_string_equal(rs[1].body, "after");
  assert_false(h->server_eof);
}

static void test_http_head_of_a_streamed_response_has_no_body(void **state) {
  struct harness *h = start(state);
  send_text(h, "HEAD /stream HTTP/1.1\r\n\r\nGET /echo/after HTTP/1.1\r\n\r\n");
  harness_run_for(h, 50);
  struct fixture *f = *state;
  output(state);
  const char *p = f->out, *end = f->out + f->out_len;
  struct resp r;
  assert_true(parse_response(&p, end, true, &r));
  char v[32];
  assert_string_equal(resp_header(&r, "Content-Length", v, sizeof v), "10");
  assert_true(parse_response(&p, end, false, &r));
  assert_string_equal(r.body, "after");
  assert_int_equal(end - p, 0);
}

static void test_http_aborts_a_stream_when_the_client_leaves(void **state) {
  struct harness *h = start(state);
  static const char req[] = "GET /stream HTTP/1.1\r\n\r\n";
  /* The first piece goes out, then the client leaves: the next piece
   * fails to write, and the handler learns its stream is over. */
  assert_int_equal(send(h->peer, req, sizeof req - 1, 0), sizeof req - 1);
  uv_run(&h->loop, UV_RUN_NOWAIT);
  harness_close_client(h);
  harness_run_for(h, 50);
  assert_int_equal(stream_aborted, 1);
  assert_int_equal(h->srv.connection_count, 0);
}

static void test_http_survives_the_client_leaving_before_the_response(void **state) {
  struct harness *h = start(state);
  static const char req[] = "GET /echo/x HTTP/1.1\r\n\r\n";
  /* The request is in the socket, and the client is gone, before the
   * server runs: its answer fails to write. */
  assert_int_equal(send(h->peer, req, sizeof req - 1, 0), sizeof req - 1);
  harness_close_client(h);
  assert_int_equal(h->srv.connection_count, 0);
}

static void test_http_survives_the_client_leaving_before_a_pipelined_response(void **state) {
  struct harness *h = start(state);
  static const char req[] = "POST /sink HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"
                            "GET /echo/x HTTP/1.1\r\n\r\nGET /echo/y HTTP/1.1\r\n\r\n";
  assert_int_equal(send(h->peer, req, sizeof req - 1, 0), sizeof req - 1);
  harness_close_client(h);
  assert_int_equal(h->srv.connection_count, 0);
  assert_int_equal(sink.aborted + sink.completed, 1);
}

static void test_http_survives_a_handler_closing_the_connection(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /drop HTTP/1.1\r\n\r\nGET /echo/never HTTP/1.1\r\n\r\n");
  assert_string_equal(output(state), "");
  assert_true(h->server_eof);
  assert_int_equal(h->srv.connection_count, 0);
}

static void test_http_aborts_after_a_handler_closes_the_connection_mid_body(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /drop-body HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  assert_true(h->server_eof);
  assert_int_equal(sink.opened, 1);
  assert_int_equal(sink.aborted, 1);
  assert_int_equal(sink.completed, 0);
}

static void test_http_aborts_a_waiting_request_when_the_client_leaves(void **state) {
  later_delay_ms = 60000;
  struct harness *h = start(state);
  send_text(h, "GET /later/x HTTP/1.1\r\n\r\n");
  assert_int_equal(output(state)[0], '\0');
  harness_close_client(h);
  struct fixture *f = *state;
  assert_int_equal(harness_free(&f->h), 0);
  assert_int_equal(later_aborted, 1);
  assert_int_equal(harness_init(&f->h), 0);
}

static void test_http_aborts_once_when_the_client_leaves_mid_body(void **state) {
  struct harness *h = start(state);
  send_text(h, "POST /sink HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf");
  harness_shutdown_write(h);
  assert_int_equal(sink.opened, 1);
  assert_int_equal(sink.aborted, 1);
  assert_int_equal(h->srv.connection_count, 0);
}

static void test_http_answers_a_client_that_half_closes_after_its_request(void **state) {
  struct harness *h = start(state);
  send_text(h, "GET /echo/x HTTP/1.1\r\n\r\nGET /later/y HTTP/1.1\r\n\r\n");
  harness_shutdown_write(h);
  struct fixture *f = *state;
  output(state);
  struct resp rs[3];
  assert_int_equal(parse_all(f->out, f->out_len, rs, 3), 2);
  assert_string_equal(rs[1].body, "later y");
  assert_true(h->server_eof);
}

static void test_http_a_slow_handler_is_not_cut_by_the_body_timeout(void **state) {
  struct fixture *f = *state;
  f->h.cfg.body_timeout_ms = 100;
  later_delay_ms = 700;
  struct harness *h = start(state);
  /* The body is whole at once; the answer takes longer than a body may. */
  send_text(h, "POST /later/slow HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  harness_run_for(h, 1000);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "later slow");
  assert_false(h->server_eof);
}

static void test_http_times_out_a_stalled_body_with_408(void **state) {
  struct fixture *f = *state;
  f->h.cfg.body_timeout_ms = 100;
  struct harness *h = start(state);
  send_text(h, "POST /sink HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  harness_run_for(h, 600);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 408);
  assert_true(h->server_eof);
  assert_int_equal(sink.aborted, 1);
}

static void test_http_times_out_slow_headers_with_408(void **state) {
  struct fixture *f = *state;
  f->h.cfg.header_timeout_ms = 100;
  struct harness *h = start(state);
  send_text(h, "GET /echo/x HTTP/1.1\r\nHost: ");
  harness_run_for(h, 600);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 408);
  assert_true(h->server_eof);
}

static void test_http_closes_an_idle_keep_alive_connection(void **state) {
  struct fixture *f = *state;
  f->h.cfg.idle_timeout_ms = 100;
  struct harness *h = start(state);
  send_text(h, "GET /echo/x HTTP/1.1\r\n\r\n");
  harness_run_for(h, 600);
  struct resp r;
  one_response(state, &r);
  assert_int_equal(r.status, 200);
  assert_true(h->server_eof);
  assert_int_equal(h->srv.connection_count, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_http_answers_a_simple_get),
      T(test_http_keeps_the_connection_alive_between_requests),
      T(test_http_closes_after_a_connection_close_request),
      T(test_http_closes_after_an_http_1_0_request),
      T(test_http_answers_pipelined_requests_in_order),
      T(test_http_answers_a_pipeline_split_at_every_byte),
      T(test_http_answers_a_pipeline_fed_byte_by_byte),
      T(test_http_keeps_order_when_a_pipelined_response_comes_later),
      T(test_http_streams_a_content_length_body_in_pieces),
      T(test_http_streams_a_chunked_body_in_pieces),
      T(test_http_chunked_body_split_inside_chunk_sizes_still_streams),
      T(test_http_head_has_length_but_no_body),
      T(test_http_sends_100_continue_before_the_response),
      T(test_http_refuses_a_too_large_body_with_expect_without_100),
      T(test_http_unknown_path_is_404_with_a_json_error),
      T(test_http_wrong_method_is_405_with_allow),
      T(test_http_unknown_method_is_405_with_allow),
      T(test_http_unknown_method_on_unknown_path_is_404),
      T(test_http_wrong_method_with_a_body_is_405_and_closes),
      T(test_http_long_url_is_414),
      T(test_http_url_at_the_limit_is_accepted),
      T(test_http_large_header_block_is_431),
      T(test_http_large_header_block_in_small_pieces_is_431),
      T(test_http_too_many_headers_is_431),
      T(test_http_headers_at_the_count_limit_are_accepted),
      T(test_http_content_length_over_the_route_limit_is_413),
      T(test_http_content_length_over_the_server_limit_is_413),
      T(test_http_chunked_body_over_the_route_limit_is_413),
      T(test_http_body_on_a_route_without_body_is_413),
      T(test_http_length_required_route_without_length_is_411),
      T(test_http_length_required_route_with_length_is_served),
      T(test_http_malformed_request_is_400_and_closes),
      T(test_http_garbage_after_a_good_request_is_400_after_its_answer),
      T(test_http_relative_target_is_400),
      T(test_http_malformed_chunk_is_400_and_aborts_the_handler),
      T(test_http_responses_carry_security_headers),
      T(test_http_splits_the_query_from_the_path),
      T(test_http_ignores_trailers_after_a_chunked_body),
      T(test_http_writes_a_large_response_as_the_client_reads),
      T(test_http_reads_on_after_a_paused_body_is_answered),
      T(test_http_streams_a_response_before_the_next_pipelined_one),
      T(test_http_head_of_a_streamed_response_has_no_body),
      T(test_http_aborts_a_stream_when_the_client_leaves),
      T(test_http_survives_the_client_leaving_before_the_response),
      T(test_http_survives_the_client_leaving_before_a_pipelined_response),
      T(test_http_survives_a_handler_closing_the_connection),
      T(test_http_aborts_after_a_handler_closes_the_connection_mid_body),
      T(test_http_aborts_a_waiting_request_when_the_client_leaves),
      T(test_http_aborts_once_when_the_client_leaves_mid_body),
      T(test_http_answers_a_client_that_half_closes_after_its_request),
      T(test_http_a_slow_handler_is_not_cut_by_the_body_timeout),
      T(test_http_times_out_a_stalled_body_with_408),
      T(test_http_times_out_slow_headers_with_408),
      T(test_http_closes_an_idle_keep_alive_connection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
