#include "http_harness.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "util/log.h"
#include "util/rand.h"

/* The loop is quiet when this many turns in a row brought no output. One
 * turn reads, one completes writes and shutdowns, one runs close callbacks. */
#define QUIET_TURNS 3
/* Bounds that keep a broken test from spinning forever. */
#define MAX_TURNS 100000
#define MAX_STALLED_WRITES 1000
#define DEFAULT_OUT_LIMIT ((size_t)64 << 20)

int harness_init(struct harness *h) {
  memset(h, 0, sizeof *h);
  h->peer = -1;
  h->out_limit = DEFAULT_OUT_LIMIT;
  char err[256];
  if (config_load(&h->cfg, 0, NULL, err, sizeof err) != 0)
    return -1;
  /* A write to a client that has gone must fail with EPIPE, as in main.c. */
  signal(SIGPIPE, SIG_IGN);
  if (!getenv("TANDEM_LOG_LEVEL"))
    h->cfg.log_level = LOG_ERROR;
  if (rand_init() < 0 || uv_loop_init(&h->loop) < 0)
    return -1;
  h->loop_ready = true;
  return 0;
}

static void keep_output(struct harness *h, const uint8_t *p, size_t n) {
  if (h->out_len + n > h->out_limit)
    n = h->out_limit - h->out_len;
  if (n == 0)
    return;
  if (h->out_len + n > h->out_cap) {
    size_t cap = h->out_cap ? h->out_cap : 4096;
    while (cap < h->out_len + n)
      cap *= 2;
    uint8_t *o = realloc(h->out, cap);
    if (!o)
      abort(); /* a test harness has no better answer */
    h->out = o;
    h->out_cap = cap;
  }
  memcpy(h->out + h->out_len, p, n);
  h->out_len += n;
}

/* Reads whatever the server has written; returns the byte count. */
static size_t drain(struct harness *h) {
  size_t total = 0;
  uint8_t tmp[65536];
  while (h->peer >= 0 && !h->server_eof) {
    ssize_t n = recv(h->peer, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n > 0) {
      keep_output(h, tmp, (size_t)n);
      total += (size_t)n;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      h->server_eof = true;
    } else if (errno != EINTR) {
      break;
    }
  }
  return total;
}

static size_t turn(struct harness *h) {
  uv_run(&h->loop, UV_RUN_NOWAIT);
  return drain(h);
}

void harness_run(struct harness *h) {
  int quiet = 0;
  for (int i = 0; i < MAX_TURNS && quiet < QUIET_TURNS; i++)
    quiet = turn(h) ? 0 : quiet + 1;
}

void harness_run_for(struct harness *h, uint64_t ms) {
  uv_update_time(&h->loop);
  uint64_t end = uv_now(&h->loop) + ms;
  /* The server's tick timer wakes the loop at least every 250 ms. */
  while (uv_now(&h->loop) < end) {
    uv_run(&h->loop, UV_RUN_ONCE);
    drain(h);
    uv_update_time(&h->loop);
  }
  harness_run(h);
}

int harness_start(struct harness *h, const struct route *routes, size_t count, void *ctx) {
  log_setup((enum log_level)h->cfg.log_level, (enum log_format)h->cfg.log_format);
  h->app = (struct http_app){routes, count, &h->cfg, ctx};
  http_set_app(&h->app);
  int rc = server_init(&h->srv, &h->loop, &h->cfg, &http_proto, http_conn_init);
  if (rc < 0)
    return rc;
  h->srv.app = ctx; /* as main.c does: WebSocket handlers find the app there */
  h->metrics_http_before = metrics.http_connections;
  h->metrics_ws_before = metrics.ws_connections;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    rc = -errno;
    goto fail_server;
  }
  if ((rc = server_adopt(&h->srv, sv[0])) < 0) {
    close(sv[0]);
    close(sv[1]);
    goto fail_server;
  }
  h->peer = sv[1];
  h->started = true;
  return 0;
fail_server:
  server_close(&h->srv);
  return rc;
}

size_t harness_feed(struct harness *h, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t off = 0;
  int stalled = 0;
  while (off < len && h->peer >= 0 && stalled < MAX_STALLED_WRITES) {
    ssize_t n = send(h->peer, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      stalled = 0;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* The server has not read yet (or has stopped reading): let it run. */
      turn(h);
      stalled++;
      continue;
    }
    break; /* the server closed its end */
  }
  harness_run(h);
  return off;
}

size_t harness_feed_pieces(struct harness *h, const void *data, size_t len, size_t piece) {
  const uint8_t *p = data;
  size_t sent = 0;
  if (piece == 0)
    piece = len;
  for (size_t off = 0; off < len; off += piece) {
    size_t n = len - off < piece ? len - off : piece;
    size_t k = harness_feed(h, p + off, n);
    sent += k;
    if (k < n)
      break;
  }
  return sent;
}

size_t harness_feed_split(struct harness *h, const void *data, size_t len, const size_t *cuts,
                          size_t ncuts) {
  const uint8_t *p = data;
  size_t from = 0, sent = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    if (to > len)
      to = len;
    if (to <= from)
      continue;
    size_t k = harness_feed(h, p + from, to - from);
    sent += k;
    if (k < to - from)
      break;
    from = to;
  }
  return sent;
}

size_t harness_read_all(struct harness *h, char *out, size_t cap) {
  harness_run(h);
  if (cap == 0)
    return 0;
  size_t n = h->out_len < cap - 1 ? h->out_len : cap - 1;
  if (n) {
    memcpy(out, h->out, n);
    memmove(h->out, h->out + n, h->out_len - n);
    h->out_len -= n;
  }
  out[n] = '\0';
  return n;
}

void harness_shutdown_write(struct harness *h) {
  if (h->peer >= 0)
    shutdown(h->peer, SHUT_WR);
  harness_run(h);
}

void harness_close_client(struct harness *h) {
  if (h->peer >= 0)
    close(h->peer);
  h->peer = -1;
  harness_run(h);
}

static void close_stray(uv_handle_t *handle, void *arg) {
  int *strays = arg;
  if (!uv_is_closing(handle)) {
    (*strays)++;
    uv_close(handle, NULL);
  }
}

int harness_free(struct harness *h) {
  int result = 0;
  if (h->started) {
    harness_close_client(h);
    /* Whatever did not go when the client did (a response still owed). */
    for (int cls = 0; cls < TIMEOUT_CLASSES; cls++)
      while (h->srv.list_head[cls])
        conn_close(h->srv.list_head[cls]);
    server_close(&h->srv);
    for (int i = 0; i < MAX_TURNS && uv_loop_alive(&h->loop); i++)
      uv_run(&h->loop, UV_RUN_NOWAIT);
    if (h->srv.connection_count != 0 || metrics.http_connections != h->metrics_http_before ||
        metrics.ws_connections != h->metrics_ws_before)
      result = -1;
    http_set_app(NULL);
  }
  if (h->loop_ready) {
    for (int i = 0; i < MAX_TURNS && uv_loop_alive(&h->loop); i++)
      uv_run(&h->loop, UV_RUN_NOWAIT);
    int strays = 0;
    uv_walk(&h->loop, close_stray, &strays);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    if (strays || uv_loop_close(&h->loop) != 0)
      result = -1;
    h->loop_ready = false;
  }
  free(h->out);
  h->out = NULL;
  h->out_len = h->out_cap = 0;
  h->started = false;
  return result;
}
