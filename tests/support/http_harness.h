/* A test harness for the real HTTP connection code, with no listening socket.
 *
 * One end of a socketpair is handed to the server (server_adopt), so the
 * bytes a test writes go through conn.c, http_conn.c, router.c and
 * response.c exactly as a client's would. The other end is the test's
 * client: it writes requests in whatever pieces the test chooses and reads
 * back everything the server wrote. The loop runs only inside the harness
 * calls, in bounded steps, so a test never blocks.
 *
 * Use:
 *   struct harness h;
 *   harness_init(&h);            -- h.cfg holds the defaults; adjust limits
 *   harness_start(&h, routes, n, ctx);
 *   harness_feed(&h, "GET / HTTP/1.1\r\n\r\n", 18);
 *   size_t n = harness_read_all(&h, out, sizeof out);
 *   harness_free(&h);            -- 0 when nothing was left open
 */
#ifndef TANDEM_TEST_HTTP_HARNESS_H
#define TANDEM_TEST_HTTP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http/http.h"
#include "net/server.h"

struct harness {
  uv_loop_t loop;
  struct config cfg; /* adjust between harness_init and harness_start */
  struct server srv;
  struct http_app app;
  int peer;        /* the client's end of the socketpair (nonblocking), or -1 */
  bool server_eof; /* the server closed or half-closed its end */
  bool loop_ready;
  bool started;
  /* What the server wrote and the test has not yet taken. */
  uint8_t *out;
  size_t out_len, out_cap;
  size_t out_limit; /* bytes kept at most; the rest is read and dropped */
  int64_t metrics_http_before, metrics_ws_before;
};

/* Fills h->cfg with the defaults (config_load without arguments), quiets
 * the log unless TANDEM_LOG_LEVEL is set, and initialises h->loop (so the
 * test may put its own handles on it before harness_start). Returns 0 or -1. */
int harness_init(struct harness *h);

/* Starts a server on h->loop and connects the client: the server's end
 * speaks http_proto with these routes; `ctx` becomes app.ctx and srv.app.
 * Returns 0 or a negative error code. */
int harness_start(struct harness *h, const struct route *routes, size_t count, void *ctx);

/* Writes bytes as the client, running the loop while the socket is full,
 * then until the server is quiet. Returns the bytes the socket took (fewer
 * than len when the server closed first). */
size_t harness_feed(struct harness *h, const void *data, size_t len);

/* harness_feed in pieces of at most `piece` bytes, each read separately. */
size_t harness_feed_pieces(struct harness *h, const void *data, size_t len, size_t piece);

/* harness_feed cut at the given increasing offsets, each piece read separately. */
size_t harness_feed_split(struct harness *h, const void *data, size_t len, const size_t *cuts,
                          size_t ncuts);

/* Runs the loop until the server is quiet (bounded), collecting output. */
void harness_run(struct harness *h);

/* Runs the loop for about `ms` milliseconds of loop time, so timers fire. */
void harness_run_for(struct harness *h, uint64_t ms);

/* Takes everything the server wrote so far: copies at most cap - 1 bytes
 * and a NUL into out (the rest stays for the next call); returns the count. */
size_t harness_read_all(struct harness *h, char *out, size_t cap);

/* The client half-closes (shutdown SHUT_WR), then the loop runs. */
void harness_shutdown_write(struct harness *h);

/* The client goes away abruptly: its end is closed without reading. */
void harness_close_client(struct harness *h);

/* Closes the client, every connection, the server and the loop. Returns 0
 * when everything closed and the connection counts came back to where they
 * were, -1 otherwise (a handle left open on the loop counts as a failure;
 * a test's own handles must be closed before). */
int harness_free(struct harness *h);

#endif
