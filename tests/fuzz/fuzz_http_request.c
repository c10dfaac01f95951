/* libFuzzer harness for the HTTP request path: the bytes a client sends,
 * through the real connection (conn.c), http_conn.c, router.c, response.c,
 * tandem's own routes (health, metrics, the REST API on a real SQLite store
 * in a temporary data directory, the web client, the WebSocket upgrade and
 * what follows it) and a few routes that take bodies, answer later or
 * answer early, or close the connection themselves.
 *
 * Input: one control byte, then one length byte per cut, then the bytes the
 * client sends. Control bits 0-2: the number of cuts (each piece is read by
 * the server separately, piece i being length byte i + 1 bytes long);
 * bit 3: the client half-closes after sending; bit 6: small limits, so the
 * 413/414/431 paths are reachable with short inputs.
 *
 * Every run must end with every connection, handle and request released
 * (harness_free checks the loop and the connection counts; LeakSanitizer
 * checks the heap). */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "http_harness.h"
#include "store/store.h"

#include "fuzz_check.h"

/* ------------------------------------------------------------------------
 * Extra routes: the shapes of handler the app will grow */

/* Reads everything the request points at, so a stale pointer into moved
 * or freed request text is caught by AddressSanitizer. */
static unsigned touch_request(const struct http_req *r) {
  unsigned sum = 0;
  for (size_t i = 0; i < r->path_len; i++)
    sum += (unsigned char)r->path[i];
  for (size_t i = 0; r->query && i < r->query_len; i++)
    sum += (unsigned char)r->query[i];
  for (uint32_t i = 0; i < r->header_count; i++) {
    const struct http_header *hd = &r->headers[i];
    for (uint32_t k = 0; k < hd->name_len; k++)
      sum += (unsigned char)r->text[hd->name_off + k];
    for (uint32_t k = 0; k < hd->value_len; k++)
      sum += (unsigned char)r->text[hd->value_off + k];
  }
  size_t len;
  const char *host = http_header(r, "host", &len);
  return sum + (host ? (unsigned)len : 0);
}

struct sink_state {
  uint64_t bytes;
};

static void sink_headers(struct http_req *r) {
  r->handler_state = calloc(1, sizeof(struct sink_state));
}

static void sink_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct sink_state *s = r->handler_state;
  if (s)
    s->bytes += len;
}

static void sink_complete(struct http_req *r) {
  struct sink_state *s = r->handler_state;
  char body[64];
  int n = snprintf(body, sizeof body, "{\"bytes\":%llu,\"sum\":%u}",
                   s ? (unsigned long long)s->bytes : 0ull, touch_request(r));
  free(s);
  r->handler_state = NULL;
  http_respond(r, 200, "application/json", body, (size_t)n, NULL, false, NULL);
}

static void sink_abort(struct http_req *r) {
  free(r->handler_state);
  r->handler_state = NULL;
}

static const http_handler sink_handler = {.on_headers = sink_headers,
                                          .on_body = sink_body,
                                          .on_complete = sink_complete,
                                          .on_abort = sink_abort};

static const http_handler small_sink_handler = {.on_headers = sink_headers,
                                                .on_body = sink_body,
                                                .on_complete = sink_complete,
                                                .on_abort = sink_abort,
                                                .max_body = 16,
                                                .length_required = true};

/* Answers on a later turn of the loop. */
struct later {
  uv_timer_t timer;
  struct http_req *r;
};

static void later_free(uv_handle_t *h) {
  free(h->data);
}

static void later_fire(uv_timer_t *t) {
  struct later *l = t->data;
  struct http_req *r = l->r;
  r->handler_state = NULL;
  (void)touch_request(r);
  uv_close((uv_handle_t *)&l->timer, later_free);
  http_respond(r, 202, "text/plain", "later", 5, NULL, true, NULL);
}

static void later_complete(struct http_req *r) {
  struct later *l = calloc(1, sizeof *l);
  if (!l) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  l->r = r;
  l->timer.data = l;
  uv_timer_init(r->c->srv->loop, &l->timer);
  uv_timer_start(&l->timer, later_fire, 0, 0);
  r->handler_state = l;
}

static void later_abort(struct http_req *r) {
  struct later *l = r->handler_state;
  if (l)
    uv_close((uv_handle_t *)&l->timer, later_free);
  r->handler_state = NULL;
}

static void ignore_body(struct http_req *r, const uint8_t *data, size_t len) {}

static const http_handler later_handler = {
    .on_body = ignore_body, .on_complete = later_complete, .on_abort = later_abort};

/* Refuses in on_headers, before any body. */
static void early_headers(struct http_req *r) {
  r->handler_state = malloc(8);
  http_respond_error(r, 401, "unauthorized", "No.");
}

static void early_complete(struct http_req *r) {
  http_respond_error(r, 500, "internal", "Unreachable.");
}

static void early_abort(struct http_req *r) {
  free(r->handler_state);
  r->handler_state = NULL;
}

static const http_handler early_handler = {.on_headers = early_headers,
                                           .on_body = ignore_body,
                                           .on_complete = early_complete,
                                           .on_abort = early_abort};

/* Gives up on the connection itself, inside the parser's callbacks. */
static void drop_complete(struct http_req *r) {
  conn_close(r->c);
}

static const http_handler drop_handler = {.on_complete = drop_complete};

static const struct route extra_routes[] = {
    {METHOD_POST | METHOD_PUT, "/fuzz/sink", &sink_handler},
    {METHOD_POST, "/fuzz/small", &small_sink_handler},
    {METHOD_GET | METHOD_POST, "/fuzz/later/:id", &later_handler},
    {METHOD_POST | METHOD_DELETE, "/fuzz/early", &early_handler},
    {METHOD_GET, "/fuzz/drop", &drop_handler},
};

#define MAX_ROUTES 128
static struct route routes[MAX_ROUTES];
static size_t route_count;

/* One store for the whole run, in a directory removed at exit. */
static char data_dir[] = "/tmp/tandem-fuzz-XXXXXX";
static struct store *store;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}

static void cleanup(void) {
  store_close(store);
  store = NULL;
  nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  size_t extra = sizeof extra_routes / sizeof extra_routes[0];
  CHECK(app_route_count + extra <= MAX_ROUTES);
  memcpy(routes, app_routes, app_route_count * sizeof routes[0]);
  memcpy(routes + app_route_count, extra_routes, sizeof extra_routes);
  route_count = app_route_count + extra;
  CHECK(mkdtemp(data_dir) != NULL);
  char err[512];
  store = store_open(NULL, data_dir, NULL, 0, err, sizeof err);
  if (!store) {
    fprintf(stderr, "fuzz_http_request: %s\n", err);
    abort();
  }
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t control = data[0];
  size_t ncuts = control & 7;
  if (size < 1 + ncuts)
    return 0;
  const uint8_t *lengths = data + 1;
  const uint8_t *bytes = data + 1 + ncuts;
  size_t len = size - 1 - ncuts;

  struct harness h;
  CHECK(harness_init(&h) == 0);
  h.out_limit = 1 << 20;
  h.cfg.data_dir = data_dir;
  if (control & 0x40) {
    h.cfg.max_url = 64;
    h.cfg.max_header_bytes = 256;
    h.cfg.max_headers = 4;
    h.cfg.max_body = 64;
    h.cfg.ws_max_message = 256;
    h.cfg.ws_max_errors = 2;
  }
  static struct app app;
  memset(&app, 0, sizeof app);
  app.http = (struct http_app){routes, route_count, &h.cfg, &app};
  char err[512];
  CHECK(app_init(&app, &h.loop, &h.cfg, store, err, sizeof err) == 0);
  CHECK(harness_start(&h, routes, route_count, &app) == 0);

  size_t off = 0;
  for (size_t i = 0; i <= ncuts && off < len; i++) {
    size_t piece = i < ncuts ? (size_t)lengths[i] + 1 : len - off;
    if (piece > len - off)
      piece = len - off;
    if (harness_feed(&h, bytes + off, piece) < piece)
      break; /* the server closed */
    off += piece;
  }
  if (control & 8)
    harness_shutdown_write(&h);

  /* Whatever came back starts as an HTTP response. */
  if (h.out_len >= 5)
    CHECK(memcmp(h.out, "HTTP/", 5) == 0);
  app_stop(&app);
  CHECK(harness_free(&h) == 0);
  app_free(&app);
  return 0;
}
