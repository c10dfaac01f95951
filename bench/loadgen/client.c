/* One load generator connection: TCP from a chosen 127.0.0.x source, the
 * WebSocket upgrade, frames through tandem's codec (client side), and on top
 * either the native JSON protocol or Engine.IO v4 / Socket.IO v5 framing:
 *
 *   server "0{...}"        Engine.IO open        -> client "40{"room":"..."}"
 *   server "40{...}"       Socket.IO connect ack
 *   server "2"             Engine.IO ping        -> client "3"
 *   server "42[ev,{...}]"  an event: the object is handled like a native message
 *   client "42["signal",{...}]" to send a signal
 *
 * Reads land in one buffer shared by every connection; a connection keeps
 * bytes of its own only for a message split across reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loadgen.h"
#include "scan.h"

struct handshake {
  char accept[29];
  uint16_t len;
  char data[HS_MAX];
};

struct wreq {
  uv_write_t req;
  struct client *c;
  uint8_t data[];
};

static uint8_t read_buf[256 * 1024];

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

const char *client_room_name(const struct run *r, uint32_t room, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s-%u", r->o.room_prefix, room);
  if (n < 0 || (size_t)n >= cap)
    out[0] = '\0';
  return out;
}

void client_init_all(struct run *r) {
  rng_state ^= uv_hrtime();
  for (uint32_t i = 0; i < r->nclients; i++) {
    struct client *c = &r->clients[i];
    memset(c, 0, sizeof *c);
    c->run = r;
    c->id = i;
    c->state = C_NEW;
  }
}

static void on_handle_closed(uv_handle_t *h) {
  struct client *c = h->data;
  free(c->hs);
  c->hs = NULL;
  free(c->msg);
  c->msg = NULL;
  c->msg_len = c->msg_cap = 0;
  c->state = C_CLOSED;
  c->run->closed++;
  on_client_closed(c);
}

/* Closes the TCP handle now (no close handshake). */
void client_abort(struct client *c) {
  if (c->state == C_NEW || c->state == C_CLOSED)
    return;
  uv_handle_t *h = (uv_handle_t *)&c->tcp;
  if (!uv_is_closing(h))
    uv_close(h, on_handle_closed);
}

static void on_write(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  struct client *c = w->c;
  c->pending_writes--;
  if (status < 0 && status != UV_ECANCELED && c->state != C_CLOSING) {
    c->run->err.write++;
    client_abort(c);
  }
  free(w);
}

/* Writes bytes in order: straight to the socket when nothing is queued,
 * the rest through a queued uv_write holding a copy. */
static int raw_write(struct client *c, const uint8_t *data, size_t len) {
  uv_stream_t *s = (uv_stream_t *)&c->tcp;
  if (uv_is_closing((uv_handle_t *)s))
    return -1;
  size_t off = 0;
  if (c->pending_writes == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(s, &b, 1);
    if (n >= 0)
      off = (size_t)n;
    else if (n != UV_EAGAIN) {
      c->run->err.write++;
      client_abort(c);
      return -1;
    }
  }
  if (off == len)
    return 0;
  struct wreq *w = malloc(sizeof *w + (len - off));
  if (!w) {
    c->run->err.write++;
    client_abort(c);
    return -1;
  }
  w->c = c;
  memcpy(w->data, data + off, len - off);
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(len - off));
  int rc = uv_write(&w->req, s, &b, 1, on_write);
  if (rc < 0) {
    free(w);
    c->run->err.write++;
    client_abort(c);
    return -1;
  }
  c->pending_writes++;
  return 0;
}

static int send_frame(struct client *c, enum ws_opcode op, const void *payload, size_t len) {
  uint8_t stack[4096];
  uint8_t *out = len + 14 <= sizeof stack ? stack : malloc(len + 14);
  if (!out)
    return -1;
  uint64_t m = rng_next();
  uint8_t mask[4];
  memcpy(mask, &m, 4);
  size_t n = ws_client_frame_write(out, op, true, mask, payload, len);
  int rc = raw_write(c, out, n);
  if (out != stack)
    free(out);
  if (rc == 0)
    c->run->msgs_out++;
  return rc;
}

int client_send_text(struct client *c, const char *text, size_t len) {
  if (c->state != C_READY && c->state != C_OPEN)
    return -1;
  return send_frame(c, WS_OP_TEXT, text, len);
}

void client_close_ws(struct client *c) {
  if (c->state == C_NEW || c->state == C_CLOSED)
    return;
  if (c->state != C_READY && c->state != C_OPEN) {
    client_abort(c);
    return;
  }
  uint8_t code[2] = {1000 >> 8, 1000 & 0xff};
  c->close_sent = 1;
  c->state = C_CLOSING;
  if (send_frame(c, WS_OP_CLOSE, code, 2) < 0)
    client_abort(c);
}

/* ---- messages ---------------------------------------------------------- */

static void mark_ready(struct client *c) {
  if (c->counted_ready)
    return;
  c->counted_ready = 1;
  c->state = C_READY;
  on_client_ready(c);
}

/* Offset just past the array that opens at s[open] ('['), strings and
 * nesting respected; n when it does not close. */
static size_t skip_array(const char *s, size_t n, size_t open) {
  int depth = 0;
  bool in_str = false;
  for (size_t i = open; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
    } else if (ch == '[' || ch == '{') {
      depth++;
    } else if ((ch == ']' || ch == '}') && --depth == 0) {
      return i + 1;
    }
  }
  return n;
}

/* The welcome: our own peer id (the top-level "peer_id", wherever it sits
 * around the "peers" array) and the first peer already present, if any (a
 * ping-pong partner). Returns -1 when there is no peer id. */
static int read_welcome(struct client *c, const char *s, size_t n) {
  long pl = scan_find(s, n, "\"peers\":[", 9);
  size_t peers_at = pl < 0 ? n : (size_t)pl;
  size_t peers_end = pl < 0 ? n : skip_array(s, n, peers_at + 8);
  int len = scan_string(s, peers_at, "peer_id", c->peer_id, sizeof c->peer_id, NULL);
  if (len <= 0 && peers_end < n)
    len = scan_string(s + peers_end, n - peers_end, "peer_id", c->peer_id, sizeof c->peer_id, NULL);
  if (len <= 0)
    return -1;
  c->peer_id_len = (uint8_t)len;
  if (pl >= 0 && peers_at + 9 < n && s[peers_at + 9] == '{') {
    char id[PEER_ID_MAX];
    int l2 = scan_string(s + peers_at, peers_end - peers_at, "peer_id", id, sizeof id, NULL);
    if (l2 > 0)
      on_peer_joined(c, id, (size_t)l2);
  }
  return 0;
}

/* A JSON object from the server (native frame, or a Socket.IO event's
 * argument). Fields are found wherever they sit in the object; types the
 * workloads do not use are counted and ignored. Returns -1 when the
 * connection went away. */
static int app_message(struct client *c, const char *s, size_t n) {
  struct run *r = c->run;
  char type[32];
  if (scan_string(s, n, "type", type, sizeof type, NULL) < 0) {
    r->err.protocol++;
    return 0;
  }
  if (strcmp(type, "signal") == 0) {
    on_signal(c, s, n);
  } else if (strcmp(type, "chat.message") == 0) {
    on_chat_message(c, s, n);
  } else if (strcmp(type, "peer.joined") == 0) {
    char id[PEER_ID_MAX];
    int len = scan_string(s, n, "peer_id", id, sizeof id, NULL);
    if (len > 0)
      on_peer_joined(c, id, (size_t)len);
  } else if (strcmp(type, "welcome") == 0) {
    if (read_welcome(c, s, n) < 0) {
      r->err.protocol++;
      return 0;
    }
    mark_ready(c);
  } else if (strcmp(type, "error") == 0) {
    if (r->err.server_error++ == 0) /* the first one says what is wrong */
      fprintf(stderr, "loadgen: the server answered: %.*s\n", (int)(n < 300 ? n : 300), s);
  }
  return c->state == C_CLOSED ? -1 : 0;
}

static int eio_message(struct client *c, const char *s, size_t n) {
  struct run *r = c->run;
  if (n == 0) {
    r->err.protocol++;
    return 0;
  }
  switch (s[0]) {
  case '0': { /* Engine.IO open: connect to the main namespace with the room */
    char room[64], out[128];
    client_room_name(r, c->room, room, sizeof room);
    int len = snprintf(out, sizeof out, "40{\"room\":\"%s\"}", room);
    if (len > 0 && (size_t)len < sizeof out)
      client_send_text(c, out, (size_t)len);
    return 0;
  }
  case '2': /* ping */ client_send_text(c, "3", 1); return 0;
  case '1': /* Engine.IO close */ client_close_ws(c); return 0;
  case '4':
    if (n >= 2 && s[1] == '2') {
      /* 42["event",{...}]: hand the object to the native handler. */
      const char *obj = memchr(s, '{', n);
      if (!obj) {
        r->err.protocol++;
        return 0;
      }
      return app_message(c, obj, n - (size_t)(obj - s));
    }
    if (n >= 2 && s[1] == '0')
      return 0; /* connect ack; the welcome event follows */
    if (n >= 2 && s[1] == '4') {
      r->err.handshake++; /* connect error */
      client_close_ws(c);
      return -1;
    }
    return 0;
  default: return 0;
  }
}

static int handle_message(struct client *c, const uint8_t *data, size_t n) {
  struct run *r = c->run;
  r->msgs_in++;
  if (r->o.proto == PROTO_SOCKETIO)
    return eio_message(c, (const char *)data, n);
  return app_message(c, (const char *)data, n);
}

static int handle_control(struct client *c, enum ws_opcode op) {
  struct run *r = c->run;
  if (op == WS_OP_PING) {
    send_frame(c, WS_OP_PONG, c->ctl, c->ctl_len);
    return 0;
  }
  if (op == WS_OP_CLOSE) {
    if (!c->close_sent) {
      /* The server closed first: answer, and count it unless we asked. */
      if (r->phase < PH_CLOSE)
        r->err.closed++;
      c->close_sent = 1;
      send_frame(c, WS_OP_CLOSE, c->ctl, c->ctl_len >= 2 ? 2 : 0);
    }
    c->state = C_CLOSING;
    return 1; /* nothing more to read but EOF */
  }
  return 0; /* pong */
}

static int on_payload(void *ctx, enum ws_opcode op, const uint8_t *data, size_t n, unsigned flags) {
  struct client *c = ctx;
  if (op == WS_OP_PING || op == WS_OP_PONG || op == WS_OP_CLOSE) {
    if ((size_t)c->ctl_len + n > sizeof c->ctl)
      return 1;
    memcpy(c->ctl + c->ctl_len, data, n);
    c->ctl_len = (uint8_t)(c->ctl_len + n);
    if (flags & WS_FRAME_END) {
      int rc = handle_control(c, op);
      c->ctl_len = 0;
      return rc;
    }
    return 0;
  }
  if ((flags & WS_MESSAGE_END) && c->msg_len == 0)
    return handle_message(c, data, n) < 0 ? 1 : 0;
  if ((uint64_t)c->msg_len + n > MSG_MAX) {
    c->run->err.protocol++;
    client_abort(c);
    return 1;
  }
  if (c->msg_len + n > c->msg_cap) {
    uint32_t cap = c->msg_cap ? c->msg_cap : 4096;
    while (cap < c->msg_len + n)
      cap *= 2;
    uint8_t *m = realloc(c->msg, cap);
    if (!m) {
      c->run->err.protocol++;
      client_abort(c);
      return 1;
    }
    c->msg = m;
    c->msg_cap = cap;
  }
  memcpy(c->msg + c->msg_len, data, n);
  c->msg_len += (uint32_t)n;
  if (flags & WS_MESSAGE_END) {
    uint32_t len = c->msg_len;
    c->msg_len = 0;
    int rc = handle_message(c, c->msg, len);
    /* Keep a small buffer for the next split message; give back a big one. */
    if (c->state != C_CLOSED && c->msg_cap > 64 * 1024) {
      free(c->msg);
      c->msg = NULL;
      c->msg_cap = 0;
    }
    return rc < 0 ? 1 : 0;
  }
  return 0;
}

static void feed_frames(struct client *c, uint8_t *data, size_t len) {
  size_t consumed = 0;
  int64_t rc = ws_parser_feed(&c->parser, data, len, on_payload, c, &consumed);
  if (rc == WS_PARSE_STOPPED || c->state == C_CLOSED)
    return;
  if (rc < 0) {
    c->run->err.protocol++;
    client_abort(c);
  }
}

/* ---- handshake ---------------------------------------------------------- */

/* Checks the 101 response in hs->data[0..end); 0 when it is right. */
static int check_response(struct handshake *hs, size_t end) {
  if (end < 12 || memcmp(hs->data, "HTTP/1.1 101", 12) != 0)
    return -1;
  const char *p = hs->data, *stop = hs->data + end;
  static const char name[] = "sec-websocket-accept:";
  while (p < stop) {
    const char *eol = memchr(p, '\n', (size_t)(stop - p));
    if (!eol)
      break;
    size_t linelen = (size_t)(eol - p);
    if (linelen > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
      const char *v = p + sizeof name - 1;
      while (v < eol && *v == ' ')
        v++;
      return (eol - v >= 28 && memcmp(v, hs->accept, 28) == 0) ? 0 : -1;
    }
    p = eol + 1;
  }
  return -1;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  struct client *c = s->data;
  struct run *r = c->run;
  if (nread == 0)
    return;
  if (nread < 0) {
    if (c->state != C_CLOSING) {
      if (c->state == C_HANDSHAKE)
        r->err.handshake++;
      else if (r->phase < PH_CLOSE)
        r->err.closed++;
    }
    client_abort(c);
    return;
  }
  r->bytes_in += (uint64_t)nread;
  uint8_t *data = (uint8_t *)b->base;
  size_t len = (size_t)nread;
  if (c->state == C_HANDSHAKE) {
    struct handshake *hs = c->hs;
    size_t room = sizeof hs->data - hs->len;
    size_t take = len < room ? len : room;
    memcpy(hs->data + hs->len, data, take);
    size_t before = hs->len;
    hs->len = (uint16_t)(hs->len + take);
    long end = scan_find(hs->data, hs->len, "\r\n\r\n", 4);
    if (end < 0) {
      if (hs->len == sizeof hs->data) {
        r->err.handshake++;
        client_abort(c);
      }
      return;
    }
    size_t hdr_end = (size_t)end + 4;
    if (check_response(hs, hdr_end) < 0) {
      r->err.handshake++;
      client_abort(c);
      return;
    }
    size_t used = hdr_end - before; /* bytes of this read that were headers */
    free(c->hs);
    c->hs = NULL;
    c->state = C_OPEN;
    ws_parser_init(&c->parser, MSG_MAX, false);
    data += used;
    len -= used;
  }
  if (len > 0 && c->state != C_CLOSED)
    feed_frames(c, data, len);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h;
  (void)suggested;
  *b = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void on_connect(uv_connect_t *req, int status) {
  struct client *c = req->data;
  struct run *r = c->run;
  free(req);
  if (status < 0) {
    if (status != UV_ECANCELED)
      r->err.connect++;
    client_abort(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uint8_t key_raw[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = rng_next();
    memcpy(key_raw + i, &v, 8);
  }
  char key[32];
  base64_encode(key_raw, sizeof key_raw, key);
  c->hs = calloc(1, sizeof *c->hs);
  if (!c->hs || ws_accept_key(key, 24, c->hs->accept) < 0) {
    r->err.handshake++;
    client_abort(c);
    return;
  }
  char path[128], room[64];
  if (r->o.proto == PROTO_SOCKETIO)
    snprintf(path, sizeof path, "/socket.io/?EIO=4&transport=websocket");
  else if (r->o.proto == PROTO_CHAT) /* one chat room: --room-prefix is its id */
    snprintf(path, sizeof path, "/ws/%s?device=loadgen-device-%08u", r->o.room_prefix, c->id);
  else
    snprintf(path, sizeof path, "/ws/%s", client_room_name(r, c->room, room, sizeof room));
  char req_text[512];
  int n = snprintf(req_text, sizeof req_text,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   path, r->o.host, r->o.ports[c->id % (uint32_t)r->o.nports], key);
  if (n < 0 || (size_t)n >= sizeof req_text) {
    r->err.handshake++;
    client_abort(c);
    return;
  }
  c->state = C_HANDSHAKE;
  if (raw_write(c, (const uint8_t *)req_text, (size_t)n) < 0)
    return;
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0) {
    r->err.connect++;
    client_abort(c);
  }
}

int client_start(struct client *c) {
  struct run *r = c->run;
  int rc = uv_tcp_init(r->loop, &c->tcp);
  if (rc < 0) {
    r->err.connect++;
    c->state = C_CLOSED;
    r->closed++;
    on_client_closed(c);
    return -1;
  }
  c->tcp.data = c;
  c->state = C_CONNECTING;
  c->t_start = uv_hrtime();
  /* Spread the source over 127.0.0.first..last so the 4-tuples never run
   * out, and a per-address connection limit is not what is measured. */
  uint32_t span = (uint32_t)(r->o.src_last - r->o.src_first + 1);
  struct sockaddr_in src;
  memset(&src, 0, sizeof src);
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(r->o.src_first + (int)(c->id % span)));
  rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
  uv_connect_t *req = rc < 0 ? NULL : malloc(sizeof *req);
  if (!req) {
    r->err.connect++;
    client_abort(c);
    return -1;
  }
  req->data = c;
  /* Spread over the instances: the publisher (client 0) on the first. */
  const struct sockaddr_in *dest = &r->dest[c->id % (uint32_t)r->o.nports];
  rc = uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)dest, on_connect);
  if (rc < 0) {
    free(req);
    r->err.connect++;
    client_abort(c);
    return -1;
  }
  return 0;
}
