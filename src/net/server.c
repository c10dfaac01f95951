#include "net/server.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "net/addr_table.h"
#include "util/log.h"

/* How often the timeout lists are checked: the resolution of every timeout. */
#define TICK_MS 250
#define LISTEN_BACKLOG 4096

static const char overload_response[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 5\r\n"
    "Connection: close\r\n"
    "Content-Length: 80\r\n\r\n"
    "{\"error\":{\"code\":\"overloaded\",\"message\":\"Too many connections, try again.\"}}";

void server_timeout_unlink(struct server *srv, conn *c) {
  if (c->tclass == TIMEOUT_CLASSES)
    return; /* in no list */
  if (c->to_prev)
    c->to_prev->to_next = c->to_next;
  else
    srv->list_head[c->tclass] = c->to_next;
  if (c->to_next)
    c->to_next->to_prev = c->to_prev;
  else
    srv->list_tail[c->tclass] = c->to_prev;
  c->to_prev = c->to_next = NULL;
  c->tclass = TIMEOUT_CLASSES;
}

void server_timeout_append(struct server *srv, conn *c, enum timeout_class cls) {
  c->tclass = (uint8_t)cls;
  c->deadline = uv_now(srv->loop) + srv->timeout_ms[cls];
  c->to_next = NULL;
  c->to_prev = srv->list_tail[cls];
  if (c->to_prev)
    c->to_prev->to_next = c;
  else
    srv->list_head[cls] = c;
  srv->list_tail[cls] = c;
}

static void maybe_stopped(struct server *srv) {
  if (srv->shutting_down && srv->connection_count == 0 && !srv->stopped) {
    srv->stopped = true;
    if (srv->on_stopped)
      srv->on_stopped(srv);
  }
}

void server_conn_closed(struct server *srv, conn *c) {
  srv->connection_count--;
  if (c->flags & CONN_COUNTED_WS)
    metrics.ws_connections--;
  else
    metrics.http_connections--;
  maybe_stopped(srv);
}

/* Each list has one duration, so its head expires first: pop heads until
 * one lies in the future. */
/* When a crowd leaves (the connection count falls to half its peak), hand
 * the freed heap pages back to the system, so memory follows load down as
 * well as up. */
static void trim_after_crowd(struct server *srv) {
  if (srv->connection_count > srv->connection_peak)
    srv->connection_peak = srv->connection_count;
  if (srv->connection_peak >= 1024 && srv->connection_count < srv->connection_peak / 2) {
    malloc_trim(0);
    srv->connection_peak = srv->connection_count;
  }
}

static void on_tick(uv_timer_t *t) {
  struct server *srv = t->data;
  uint64_t now = uv_now(srv->loop);
  trim_after_crowd(srv);
  for (int cls = TIMEOUT_NONE + 1; cls < TIMEOUT_CLASSES; cls++) {
    conn *c;
    while ((c = srv->list_head[cls]) && c->deadline <= now) {
      server_timeout_unlink(srv, c);
      c->proto->on_timeout(c, (enum timeout_class)cls);
      if (c->tclass == TIMEOUT_CLASSES && !(c->flags & CONN_CLOSING)) {
        /* A handler that neither closed nor re-armed: protect the server. */
        conn_close(c);
      }
    }
  }
}

static bool over_limit(struct server *srv, conn *c) {
  if (srv->connection_count > srv->cfg->max_connections) {
    metrics.rejected[REJECT_MAX_CONNECTIONS]++;
    return true;
  }
  if (c->addr->count > srv->cfg->max_connections_per_addr) {
    metrics.rejected[REJECT_PER_ADDR]++;
    return true;
  }
  return false;
}

/* Refuses politely: a 503 the client can read, then the connection goes.
 * The connection still passes through the usual close path so the counts
 * stay right. */
static const struct conn_proto reject_proto;

static void reject_read(conn *c, uint8_t *d, size_t n) {}
static void reject_close(conn *c) {}
static void reject_timeout(conn *c, enum timeout_class cls) {
  conn_close(c);
}
static void reject_eof(conn *c) {
  conn_close(c);
}
static void reject_shutdown(conn *c) {
  conn_close(c);
}
static const struct conn_proto reject_proto = {
    .name = "reject",
    .on_read = reject_read,
    .on_eof = reject_eof,
    .on_timeout = reject_timeout,
    .on_close = reject_close,
    .on_shutdown = reject_shutdown,
};

/* A connection that counts in the server's totals from the start, so every
 * way out (including a failed accept) passes through server_conn_closed. */
static conn *conn_new(struct server *srv) {
  conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->srv = srv;
  c->tclass = TIMEOUT_CLASSES;
  c->proto = &reject_proto;
  if (uv_tcp_init(srv->loop, &c->tcp) < 0) {
    free(c);
    return NULL;
  }
  c->tcp.data = c;
  srv->connection_count++;
  metrics.http_connections++;
  return c;
}

/* A connected socket becomes a client: its address is counted, the limits
 * are applied, and the protocol starts reading. */
static void conn_admit(struct server *srv, conn *c) {
  metrics.connections_accepted++;
  struct sockaddr_storage sa;
  int salen = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) < 0)
    memset(&sa, 0, sizeof sa); /* counted as "unknown" */
  c->addr = addr_table_acquire(&sa);
  if (!c->addr) {
    conn_close(c);
    return;
  }
  /* Fails on sockets that are not TCP (a socketpair in tests): harmless. */
  (void)uv_tcp_nodelay(&c->tcp, 1);
  if (srv->shutting_down || over_limit(srv, c)) {
    server_timeout_append(srv, c, TIMEOUT_CLOSING);
    conn_write(c, (const uint8_t *)overload_response, sizeof overload_response - 1, NULL,
               UINT64_MAX);
    conn_close_after_write(c);
    return;
  }
  c->proto = srv->accept_proto;
  server_timeout_append(srv, c, TIMEOUT_HEADERS);
  srv->accept_init(c);
  conn_read_start(c);
}

static void on_connection(uv_stream_t *listener, int status) {
  struct server *srv = listener->data;
  if (status < 0) {
    log_msg(LOG_WARN, "accept.error", "%s", uv_strerror(status));
    return;
  }
  conn *c = conn_new(srv);
  if (!c)
    return;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  conn_admit(srv, c);
}

int server_adopt(struct server *srv, uv_os_sock_t fd) {
  conn *c = conn_new(srv);
  if (!c)
    return UV_ENOMEM;
  int rc = uv_tcp_open(&c->tcp, fd);
  if (rc < 0) {
    conn_close(c);
    return rc;
  }
  conn_admit(srv, c);
  return 0;
}

/* Writes are flushed twice a turn: after the I/O callbacks (check), and
 * before the loop waits for I/O (prepare), so what a timer queued does not
 * wait for the next event. */
static void on_flush(uv_check_t *h) {
  conn_flush_corked(h->data);
}
static void on_flush_timers(uv_prepare_t *h) {
  conn_flush_corked(h->data);
}

int server_init(struct server *srv, uv_loop_t *loop, const struct config *cfg,
                const struct conn_proto *proto, void (*init)(conn *c)) {
  memset(srv, 0, sizeof *srv);
  srv->loop = loop;
  srv->cfg = cfg;
  srv->accept_proto = proto;
  srv->accept_init = init;
  srv->timeout_ms[TIMEOUT_NONE] = UINT64_MAX / 2;
  srv->timeout_ms[TIMEOUT_HEADERS] = cfg->header_timeout_ms;
  srv->timeout_ms[TIMEOUT_IDLE] = cfg->idle_timeout_ms;
  srv->timeout_ms[TIMEOUT_BODY] = cfg->body_timeout_ms;
  srv->timeout_ms[TIMEOUT_WS] = cfg->ws_ping_interval_ms;
  srv->timeout_ms[TIMEOUT_CLOSING] = cfg->ws_close_timeout_ms;
  int rc;
  if ((rc = uv_timer_init(loop, &srv->tick)) < 0 ||
      (rc = uv_timer_init(loop, &srv->shutdown_timer)) < 0)
    return rc;
  srv->tick.data = srv;
  srv->shutdown_timer.data = srv;
  if ((rc = uv_check_init(loop, &srv->flush)) < 0 ||
      (rc = uv_check_start(&srv->flush, on_flush)) < 0)
    return rc;
  srv->flush.data = srv;
  if ((rc = uv_prepare_init(loop, &srv->flush_timers)) < 0 ||
      (rc = uv_prepare_start(&srv->flush_timers, on_flush_timers)) < 0)
    return rc;
  srv->flush_timers.data = srv;
  /* Neither keeps the loop alive by itself. */
  uv_unref((uv_handle_t *)&srv->flush);
  uv_unref((uv_handle_t *)&srv->flush_timers);
  return uv_timer_start(&srv->tick, on_tick, TICK_MS, TICK_MS);
}

/* "host:port", "[v6]:port" or ":port" (all IPv4 interfaces). */
static int parse_listen(const char *spec, struct sockaddr_storage *sa, bool *v6) {
  char host[64];
  const char *colon;
  if (spec[0] == '[') {
    const char *close = strchr(spec, ']');
    if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
      return -1;
    memcpy(host, spec + 1, (size_t)(close - spec - 1));
    host[close - spec - 1] = '\0';
    colon = close + 1;
    *v6 = true;
  } else {
    colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
      return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (!host[0])
      strcpy(host, "0.0.0.0");
    if (strcmp(host, "localhost") == 0)
      strcpy(host, "127.0.0.1");
    *v6 = false;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || port < 0 || port > 65535)
    return -1;
  if (*v6)
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa);
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa);
}

int server_listen(struct server *srv, char *err, size_t errlen) {
  for (int i = 0; i < srv->cfg->listen_count; i++) {
    const char *spec = srv->cfg->listen[i];
    struct sockaddr_storage sa;
    bool v6;
    memset(&sa, 0, sizeof sa);
    if (parse_listen(spec, &sa, &v6) < 0) {
      snprintf(err, errlen, "--listen %s: expected host:port, [ipv6]:port or :port", spec);
      return -1;
    }
    uv_tcp_t *l = &srv->listeners[i];
    int rc = uv_tcp_init(srv->loop, l);
    if (rc < 0)
      goto fail;
    srv->listener_count = i + 1;
    l->data = srv;
    /* [::] listens on IPv6 only, so it can sit beside 0.0.0.0 on the same port. */
    if ((rc = uv_tcp_bind(l, (struct sockaddr *)&sa, v6 ? UV_TCP_IPV6ONLY : 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)l, LISTEN_BACKLOG, on_connection)) < 0)
      goto fail;
    char name[80];
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(l, (struct sockaddr *)&bound, &blen);
    int port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    snprintf(name, sizeof name, "%s", spec);
    struct log_field f[] = {LOG_STR("listen", name), LOG_NUM("port", port)};
    log_fields(LOG_START, "server.listening", f, 2);
    continue;
  fail:
    snprintf(err, errlen, "cannot listen on %s: %s", spec, uv_strerror(rc));
    return -1;
  }
  return 0;
}

static void on_shutdown_deadline(uv_timer_t *t) {
  struct server *srv = t->data;
  log_msg(LOG_WARN, "server.shutdown_deadline", "closing %llu connections still open",
          (unsigned long long)srv->connection_count);
  for (int cls = 0; cls < TIMEOUT_CLASSES; cls++)
    while (srv->list_head[cls])
      conn_close(srv->list_head[cls]);
}

void server_shutdown(struct server *srv) {
  if (srv->shutting_down)
    return;
  srv->shutting_down = true;
  log_msg(LOG_INFO, "server.shutdown", "stopping: %llu connections open",
          (unsigned long long)srv->connection_count);
  for (int i = 0; i < srv->listener_count; i++)
    if (!uv_is_closing((uv_handle_t *)&srv->listeners[i]))
      uv_close((uv_handle_t *)&srv->listeners[i], NULL);
  uv_timer_start(&srv->shutdown_timer, on_shutdown_deadline, srv->cfg->shutdown_timeout_ms, 0);
  /* Collect first: on_shutdown may close or move connections between lists. */
  size_t n = srv->connection_count, k = 0;
  conn **all = calloc(n ? n : 1, sizeof *all);
  if (!all) {
    on_shutdown_deadline(&srv->shutdown_timer);
  } else {
    for (int cls = 0; cls < TIMEOUT_CLASSES; cls++)
      for (conn *c = srv->list_head[cls]; c && k < n; c = c->to_next)
        all[k++] = c;
    for (size_t i = 0; i < k; i++)
      all[i]->proto->on_shutdown(all[i]);
    free(all);
  }
  maybe_stopped(srv);
}

void server_close(struct server *srv) {
  for (int i = 0; i < srv->listener_count; i++)
    if (!uv_is_closing((uv_handle_t *)&srv->listeners[i]))
      uv_close((uv_handle_t *)&srv->listeners[i], NULL);
  uv_close((uv_handle_t *)&srv->tick, NULL);
  uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
  uv_close((uv_handle_t *)&srv->flush, NULL);
  uv_close((uv_handle_t *)&srv->flush_timers, NULL);
}
