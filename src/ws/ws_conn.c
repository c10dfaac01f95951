#include "ws/ws_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "metrics.h"
#include "net/server.h"
#include "util/log.h"

/* A data message that arrived in pieces (fragments or split reads). */
struct msgbuf {
  size_t len, cap;
  uint8_t data[];
};

struct ws_state {
  ws_parser parser;
  const struct ws_handler *handler;
  struct msgbuf *msg; /* NULL unless a message is being assembled */
  uint8_t *ctrl;      /* a control frame split across reads, or NULL */
  uint8_t ctrl_len;
  uint8_t msg_started; /* a piece of the current data message was kept */
  uint8_t close_sent;
  uint8_t ping_sent;
  uint16_t errors;
  _Alignas(max_align_t) unsigned char app[WS_APP_STATE];
};

_Static_assert(sizeof(struct ws_state) <= CONN_PROTO_STATE, "ws state fits the conn");

static struct ws_state *state(conn *c) {
  return (struct ws_state *)c->proto_state;
}

void *ws_app_state(conn *c) {
  return state(c)->app;
}

static const uint8_t ping_frame[] = {0x80 | WS_OP_PING, 0};

static void release(struct ws_state *ws) {
  free(ws->msg);
  ws->msg = NULL;
  free(ws->ctrl);
  ws->ctrl = NULL;
}

/* Fails the connection: a close frame with the code, then the TCP close
 * once it is written (RFC 6455 7.1.7), without waiting for a reply. */
static void ws_fail(conn *c, uint16_t code, const char *reason) {
  struct ws_state *ws = state(c);
  if (c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED))
    return;
  if (!ws->close_sent) {
    ws->close_sent = 1;
    buf *f = ws_close_frame_build(code, reason);
    if (f) {
      conn_send(c, f, UINT64_MAX);
      buf_unref(f);
    }
  }
  conn_close_after_write(c);
}

int ws_send(conn *c, buf *frame) {
  uint64_t limit = c->srv->cfg->ws_max_queue;
  int rc = conn_send(c, frame, limit);
  if (rc == 0) {
    metrics.ws_messages_out++;
    metrics.ws_bytes_out += frame->len;
    return 0;
  }
  if (rc == -2) {
    /* A reader this slow would make us hold its backlog without bound:
     * drop what is not yet on its way and tell it why. */
    metrics.rejected[REJECT_WS_QUEUE_FULL]++;
    log_msg(LOG_INFO, "ws.queue_full", "%s: closing a slow reader", conn_peer_text(c));
    conn_discard_queue(c);
    ws_fail(c, WS_CLOSE_TRY_AGAIN, "queue full");
  }
  return -1;
}

int ws_send_text(conn *c, const char *text, size_t len) {
  buf *f = ws_frame_build(WS_OP_TEXT, text, len);
  if (!f)
    return -1;
  int rc = ws_send(c, f);
  buf_unref(f);
  return rc;
}

void ws_close(conn *c, uint16_t code, const char *reason) {
  struct ws_state *ws = state(c);
  if (ws->close_sent || (c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED)))
    return;
  ws->close_sent = 1;
  buf *f = ws_close_frame_build(code, reason);
  if (!f || conn_send(c, f, UINT64_MAX) < 0) {
    buf_unref(f);
    conn_close(c);
    return;
  }
  buf_unref(f);
  /* Keep reading: the client's close frame ends it, or the timeout does. */
  conn_set_timeout(c, TIMEOUT_CLOSING);
}

int ws_count_error(conn *c) {
  struct ws_state *ws = state(c);
  if (++ws->errors > c->srv->cfg->ws_max_errors) {
    metrics.rejected[REJECT_WS_PROTOCOL]++;
    ws_close(c, WS_CLOSE_POLICY, "too many bad messages");
    return 1;
  }
  return 0;
}

static void handle_close_frame(conn *c, const uint8_t *p, size_t n) {
  struct ws_state *ws = state(c);
  int code = ws_close_payload_check(p, n);
  if (ws->close_sent) {
    /* Our close was answered: the handshake is complete. */
    conn_close_after_write(c);
    return;
  }
  ws->close_sent = 1;
  uint16_t reply = code < 0                     ? (uint16_t)-code
                   : code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL
                                                : (uint16_t)code;
  buf *f = ws_close_frame_build(reply, NULL);
  if (f) {
    conn_send(c, f, UINT64_MAX);
    buf_unref(f);
  }
  conn_close_after_write(c);
}

static void handle_control(conn *c, enum ws_opcode op, const uint8_t *p, size_t n) {
  struct ws_state *ws = state(c);
  if (op == WS_OP_CLOSE) {
    handle_close_frame(c, p, n);
  } else if (op == WS_OP_PING) {
    if (ws->close_sent)
      return;
    buf *f = ws_frame_build(WS_OP_PONG, p, n);
    if (f) {
      conn_send(c, f, c->srv->cfg->ws_max_queue);
      buf_unref(f);
    }
  } else if (op == WS_OP_PONG) {
    ws->ping_sent = 0;
  }
}

static void deliver(conn *c, enum ws_opcode op, const uint8_t *p, size_t n) {
  struct ws_state *ws = state(c);
  metrics.ws_messages_in++;
  if (!ws->close_sent)
    ws->handler->on_message(c, op, p, n);
}

static int append_msg(struct ws_state *ws, const uint8_t *p, size_t n) {
  struct msgbuf *m = ws->msg;
  size_t need = (m ? m->len : 0) + n;
  if (!m || need > m->cap) {
    size_t cap = m ? m->cap : 256;
    while (cap < need)
      cap *= 2;
    struct msgbuf *g = realloc(m, sizeof *g + cap);
    if (!g)
      return -1;
    if (!m)
      g->len = 0;
    g->cap = cap;
    ws->msg = m = g;
  }
  memcpy(m->data + m->len, p, n);
  m->len += n;
  return 0;
}

/* The codec hands over payload pieces. A message that arrives whole in
 * one read is delivered straight from the read buffer; only one split
 * across reads or fragments is copied. */
static int on_payload(void *ctx, enum ws_opcode op, const uint8_t *data, size_t n, unsigned flags) {
  conn *c = ctx;
  struct ws_state *ws = state(c);
  if (op >= WS_OP_CLOSE) {
    if (!ws->ctrl && (flags & WS_FRAME_END)) {
      handle_control(c, op, data, n);
    } else {
      if (!ws->ctrl && !(ws->ctrl = malloc(WS_CONTROL_MAX)))
        return 1;
      memcpy(ws->ctrl + ws->ctrl_len, data, n); /* the codec bounds control frames */
      ws->ctrl_len = (uint8_t)(ws->ctrl_len + n);
      if (flags & WS_FRAME_END) {
        uint8_t *p = ws->ctrl;
        size_t len = ws->ctrl_len;
        ws->ctrl = NULL;
        ws->ctrl_len = 0;
        handle_control(c, op, p, len);
        free(p);
      }
    }
  } else if (!ws->msg_started && (flags & WS_MESSAGE_END)) {
    deliver(c, op, data, n);
  } else {
    if (append_msg(ws, data, n) < 0)
      return 1;
    ws->msg_started = 1;
    if (flags & WS_MESSAGE_END) {
      struct msgbuf *m = ws->msg;
      ws->msg = NULL;
      ws->msg_started = 0;
      deliver(c, op, m->data, m->len);
      free(m);
    }
  }
  return (c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED)) ? 1 : 0;
}

static void ws_on_read(conn *c, uint8_t *data, size_t len) {
  struct ws_state *ws = state(c);
  metrics.ws_bytes_in += len;
  if (!ws->close_sent) {
    /* Any bytes prove the client alive, a pong or not: push the next ping back. */
    ws->ping_sent = 0;
    conn_set_timeout(c, TIMEOUT_WS);
  }
  size_t consumed = 0;
  int64_t rc = ws_parser_feed(&ws->parser, data, len, on_payload, c, &consumed);
  if (rc == WS_PARSE_STOPPED) {
    if (!(c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED)))
      conn_close(c); /* out of memory */
    return;
  }
  if (rc < 0) {
    metrics.rejected[REJECT_WS_PROTOCOL]++;
    const char *why = rc == -WS_CLOSE_TOO_BIG           ? "message too big"
                      : rc == -WS_CLOSE_INVALID_PAYLOAD ? "invalid UTF-8"
                                                        : "protocol error";
    log_msg(LOG_INFO, "ws.protocol_error", "%s: %s", conn_peer_text(c), why);
    ws_fail(c, (uint16_t)-rc, why);
  }
}

static void ws_on_eof(conn *c) {
  conn_close(c);
}

static void ws_on_timeout(conn *c, enum timeout_class cls) {
  struct ws_state *ws = state(c);
  if (cls != TIMEOUT_WS) {
    conn_close(c);
    return;
  }
  if (ws->ping_sent) {
    metrics.rejected[REJECT_WS_PING_TIMEOUT]++;
    log_msg(LOG_INFO, "ws.ping_timeout", "%s: no answer to ping", conn_peer_text(c));
    conn_close(c);
    return;
  }
  ws->ping_sent = 1;
  conn_set_timeout(c, TIMEOUT_WS);
  conn_write(c, ping_frame, sizeof ping_frame, NULL, c->srv->cfg->ws_max_queue);
}

static void ws_on_close(conn *c) {
  struct ws_state *ws = state(c);
  ws->handler->on_close(c);
  release(ws);
}

static void ws_on_shutdown(conn *c) {
  ws_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const struct conn_proto ws_proto = {
    .name = "ws",
    .on_read = ws_on_read,
    .on_eof = ws_on_eof,
    .on_timeout = ws_on_timeout,
    .on_close = ws_on_close,
    .on_shutdown = ws_on_shutdown,
};

struct ws_start_arg {
  const struct ws_handler *handler;
  size_t app_len;
  unsigned char app[WS_APP_STATE];
};

static void ws_start(conn *c, void *argp, uint8_t *rest, size_t rest_len) {
  struct ws_start_arg arg;
  memcpy(&arg, argp, sizeof arg);
  struct ws_state *ws = state(c);
  memset(ws, 0, sizeof *ws);
  ws_parser_init(&ws->parser, c->srv->cfg->ws_max_message, true);
  ws->handler = arg.handler;
  memcpy(ws->app, arg.app, arg.app_len);
  c->proto = &ws_proto;
  c->flags |= CONN_COUNTED_WS;
  metrics.http_connections--;
  metrics.ws_connections++;
  if (c->srv->shutting_down) {
    ws->handler->on_open(c);
    ws_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
    return;
  }
  conn_set_timeout(c, TIMEOUT_WS);
  ws->handler->on_open(c);
  if (rest_len && !(c->flags & CONN_CLOSING))
    ws_on_read(c, rest, rest_len);
  conn_read_start(c);
}

int ws_accept(struct http_req *r, const struct ws_handler *handler, const void *app_init,
              size_t app_len) {
  size_t klen, vlen, olen;
  if (!http_header_has_token(r, "upgrade", "websocket") ||
      !http_header_has_token(r, "connection", "upgrade")) {
    static const char body[] =
        "{\"error\":{\"code\":\"upgrade_required\",\"message\":\"This is a WebSocket endpoint.\"}}";
    http_respond(r, 426, "application/json", body, sizeof body - 1, NULL, true,
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    return -1;
  }
  const char *version = http_header(r, "sec-websocket-version", &vlen);
  if (!version || vlen != 2 || memcmp(version, "13", 2) != 0) {
    static const char body[] =
        "{\"error\":{\"code\":\"bad_version\",\"message\":\"WebSocket version 13 is required.\"}}";
    http_respond(r, 426, "application/json", body, sizeof body - 1, NULL, true,
                 "Sec-WebSocket-Version: 13\r\n");
    return -1;
  }
  const char *key = http_header(r, "sec-websocket-key", &klen);
  char accept[29];
  if (!key || ws_accept_key(key, klen, accept) < 0) {
    http_respond_error(r, 400, "bad_handshake", "Missing or malformed Sec-WebSocket-Key.");
    return -1;
  }
  const char *origin = http_header(r, "origin", &olen);
  size_t hlen;
  const char *host = http_header(r, "host", &hlen);
  if (origin && !http_origin_allowed(r->app->cfg, origin, olen, host, hlen)) {
    http_respond_error(r, 403, "origin_not_allowed", "This origin may not open WebSockets here.");
    return -1;
  }
  if (app_len > WS_APP_STATE) {
    http_respond_error(r, 500, "internal", "WebSocket state too large.");
    return -1;
  }
  struct ws_start_arg arg = {.handler = handler, .app_len = app_len};
  memcpy(arg.app, app_init, app_len);
  char head[160];
  snprintf(head, sizeof head,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: %s\r\n\r\n",
           accept);
  _Static_assert(sizeof(struct ws_start_arg) <= sizeof r->upgrade_arg, "upgrade arg fits");
  http_upgrade(r, head, ws_start, &arg, sizeof arg);
  return 0;
}
