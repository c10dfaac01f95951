/* The listeners, the accept path with its connection limits, the timeout
 * lists, and graceful shutdown. One server per event loop. */
#ifndef TANDEM_SERVER_H
#define TANDEM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "net/conn.h"

struct server {
  uv_loop_t *loop;
  const struct config *cfg;
  uv_tcp_t listeners[CONFIG_MAX_LISTEN];
  int listener_count;
  uv_timer_t tick;           /* expires the timeout lists */
  uv_timer_t shutdown_timer; /* the --shutdown-timeout deadline */
  uv_check_t flush;          /* after each turn's I/O: write what was queued */
  uv_prepare_t flush_timers; /* before waiting for I/O: what timers queued */
  conn *corked;              /* connections with writes to flush */
  conn *list_head[TIMEOUT_CLASSES];
  conn *list_tail[TIMEOUT_CLASSES];
  uint64_t timeout_ms[TIMEOUT_CLASSES];
  uint64_t connection_count;
  uint64_t connection_peak; /* since memory was last trimmed */
  bool shutting_down;
  bool stopped;
  /* Protocol of new connections, and its set-up. */
  const struct conn_proto *accept_proto;
  void (*accept_init)(conn *c);
  /* Called once when shutdown has finished (all connections closed). */
  void (*on_stopped)(struct server *srv);
  void *app; /* the application (router, hub) */
};

/* Prepares the server: timers and signal handlers on `loop`. */
int server_init(struct server *srv, uv_loop_t *loop, const struct config *cfg,
                const struct conn_proto *proto, void (*init)(conn *c));

/* Binds and listens on every configured address. On failure writes the
 * reason to err (e.g. "127.0.0.1:8080: address already in use"). */
int server_listen(struct server *srv, char *err, size_t errlen);

/* Serves an already connected stream socket as if it had just been accepted
 * (limits, protocol, timeouts). Tests use it with one end of a socketpair.
 * Returns 0, after which the connection owns fd, or a negative error code,
 * after which fd is still the caller's to close. */
int server_adopt(struct server *srv, uv_os_sock_t fd);

/* Stops accepting, asks every connection to finish (WebSockets close with
 * 1001, idle keep-alive connections close, in-flight requests complete),
 * and force-closes whatever is left at the deadline. */
void server_shutdown(struct server *srv);

/* Closes every handle the server owns; run the loop afterwards to let
 * libuv finish closing them. */
void server_close(struct server *srv);

/* Internal to net/: bookkeeping when a connection goes. */
void server_conn_closed(struct server *srv, conn *c);
void server_timeout_unlink(struct server *srv, conn *c);
void server_timeout_append(struct server *srv, conn *c, enum timeout_class cls);

#endif
