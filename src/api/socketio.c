/* Socket.IO at /socket.io/: Engine.IO v4 over WebSocket, the Socket.IO v5
 * protocol on the "/" namespace, and PrivyDrop's signaling events on top.
 *
 * A session lives in its own allocation (it holds a libuv timer for the
 * Engine.IO heartbeat, which must outlive the connection until uv_close
 * calls back); the WebSocket's app state only points at it. The socket's
 * id is its hub peer id, so offers and answers find their target in O(1).
 * PrivyDrop rooms are hub rooms under a prefix, kept apart from the native
 * /ws/:room rooms whose members speak another protocol. */
#include "api/socketio.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/app.h"
#include "config.h"
#include "hub/hub.h"
#include "http/query.h"
#include "net/addr_table.h"
#include "net/server.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/ratelimit.h"
#include "ws/engineio.h"
#include "ws/ws_conn.h"

/* Hub rooms of Socket.IO clients are "io~<roomId>". */
#define ROOM_PREFIX "io~"
#define ROOM_PREFIX_LEN 3
#define ROOM_ID_MAX (HUB_ROOM_NAME_MAX - ROOM_PREFIX_LEN)
#define SID_LEN 20

struct sio_session {
  conn *c; /* NULL once the connection closed */
  uv_timer_t timer;
  struct hub_member member;
  char id[HUB_PEER_ID_LEN + 1]; /* the Socket.IO socket id = hub peer id */
  char sid[SID_LEN + 1];        /* the Engine.IO session id */
  bool connected;               /* CONNECT to "/" done */
  bool awaiting_pong;
  /* A binary packet waiting for its attachments. */
  json_t *pending;
  int64_t pending_ack;
  uint32_t pending_need, pending_have;
  buf *attachments[SIO_MAX_ATTACHMENTS]; /* prebuilt binary WebSocket frames */
};

_Static_assert(sizeof(struct sio_session *) <= WS_APP_STATE, "session pointer fits");

static ratelimit joins;
static bool joins_ready;

static struct sio_session *session(conn *c) {
  struct sio_session *s;
  memcpy(&s, ws_app_state(c), sizeof s);
  return s;
}

static const struct config *cfg_of(const struct sio_session *s) { return s->c->srv->cfg; }

/* ------------------------------------------------------------------------
 * Sending */

/* Builds "4<sio packet>" as a WebSocket text frame. */
static buf *packet_frame(enum sio_type type, uint32_t attachments, int64_t id, const char *json,
                         size_t json_len) {
  struct sio_packet pk = {.type = type, .attachments = attachments, .nsp = "/", .nsp_len = 1,
                          .id = id, .data = json, .data_len = json_len};
  size_t n = sio_encode(&pk, NULL, 0);
  char *text = malloc(n);
  if (!text)
    return NULL;
  sio_encode(&pk, text, n);
  buf *f = ws_frame_build(WS_OP_TEXT, text, n);
  free(text);
  return f;
}

/* The frame of an event [name, payload] (payload reference is kept by the caller). */
static buf *event_frame(const char *name, json_t *payload, uint32_t attachments) {
  json_t *arr = json_pack("[sO]", name, payload);
  char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  if (!text)
    return NULL;
  buf *f = packet_frame(attachments ? SIO_BINARY_EVENT : SIO_EVENT, attachments, -1, text,
                        strlen(text));
  free(text);
  return f;
}

static void send_frame(conn *c, buf *f) {
  if (!f)
    return;
  ws_send(c, f);
  buf_unref(f);
}

static void emit(struct sio_session *s, const char *name, json_t *payload) {
  send_frame(s->c, event_frame(name, payload, 0));
}

static void send_ack(struct sio_session *s, int64_t id, json_t *args) {
  char *text = json_dumps(args, JSON_COMPACT);
  if (text)
    send_frame(s->c, packet_frame(SIO_ACK, 0, id, text, strlen(text)));
  free(text);
}

/* Ends the session for a protocol violation, with the reason in the log. */
static void fail(struct sio_session *s, const char *why) {
  log_msg(LOG_INFO, "sio.protocol_error", "%s: %s", conn_peer_text(s->c), why);
  ws_close(s->c, WS_CLOSE_POLICY, why);
}

/* ------------------------------------------------------------------------
 * Rooms */

static void leave_room(struct sio_session *s) {
  struct hub_room *r = s->member.room;
  if (!r)
    return;
  json_t *payload = json_pack("{ss}", "peerId", s->id);
  buf *f = payload ? event_frame("peer-disconnected", payload, 0) : NULL;
  json_decref(payload);
  if (f) {
    hub_broadcast(r, f, &s->member);
    buf_unref(f);
  }
  hub_leave(&s->member);
}

static void join_response(struct sio_session *s, int64_t ack, bool ok, const char *message,
                          const char *room_id) {
  json_t *resp = json_pack("{sbssss}", "success", ok, "message", message, "roomId", room_id);
  if (!resp)
    return;
  emit(s, "joinResponse", resp);
  if (ack >= 0) {
    json_t *args = json_pack("[O]", resp);
    if (args)
      send_ack(s, ack, args);
    json_decref(args);
  }
  json_decref(resp);
}

static bool room_id_valid(const char *id, size_t len) {
  return len <= ROOM_ID_MAX && hub_room_name_valid(id, len);
}

static void on_join(struct sio_session *s, json_t *payload, int64_t ack) {
  json_t *jid = json_object_get(payload, "roomId");
  const char *room_id = json_string_value(jid);
  if (!room_id) {
    join_response(s, ack, false, "roomId is required", "");
    return;
  }
  size_t len = json_string_length(jid);
  if (!room_id_valid(room_id, len)) {
    join_response(s, ack, false, "Invalid room ID", room_id);
    return;
  }
  /* Per client address; an IPv6 client counts by its /64. Fails open on
   * out of memory, like the code lookups. */
  const struct addr_entry *a = s->c->addr;
  size_t klen = a->key[0] == AF_INET6 ? 1 + 8 : a->key_len;
  uint64_t retry_ms = 0;
  if (ratelimit_hit(&joins, a->key, klen, uv_now(s->c->srv->loop), &retry_ms) ==
      RATELIMIT_LIMITED) {
    char msg[96];
    snprintf(msg, sizeof msg, "Too many join attempts. Please try again in %llu seconds.",
             (unsigned long long)((retry_ms + 999) / 1000));
    join_response(s, ack, false, msg, room_id);
    return;
  }
  char name[HUB_ROOM_NAME_MAX + 1];
  memcpy(name, ROOM_PREFIX, ROOM_PREFIX_LEN);
  memcpy(name + ROOM_PREFIX_LEN, room_id, len);
  size_t name_len = ROOM_PREFIX_LEN + len;
  if (s->member.room && s->member.room->name_len == name_len &&
      memcmp(s->member.room->name, name, name_len) == 0) {
    join_response(s, ack, true, "Successfully joined room", room_id);
    return;
  }
  leave_room(s);
  if (hub_join_as(&s->member, s->c, name, name_len, s->id) < 0) {
    join_response(s, ack, false, "Server error", room_id);
    return;
  }
  join_response(s, ack, true, "Successfully joined room", room_id);
  json_t *ready = json_pack("{ss}", "peerId", s->id);
  buf *f = ready ? event_frame("ready", ready, 0) : NULL;
  json_decref(ready);
  if (f) {
    hub_broadcast(s->member.room, f, &s->member);
    buf_unref(f);
  }
}

/* Sends the event and its attachments to one connection. */
static void deliver(struct sio_session *s, conn *to, buf *f) {
  ws_send(to, f);
  for (uint32_t i = 0; i < s->pending_have; i++)
    ws_send(to, s->attachments[i]);
}

/* offer, answer, ice-candidate: to payload.peerId only, which becomes the sender. */
static void relay_to_peer(struct sio_session *s, const char *name, json_t *payload) {
  const char *peer = json_string_value(json_object_get(payload, "peerId"));
  if (!peer || !s->member.room)
    return;
  struct hub_member *target = hub_find_peer(peer, strlen(peer));
  if (!target || target->room != s->member.room || target == &s->member)
    return;
  json_t *copy = json_copy(payload);
  if (!copy || json_object_set_new(copy, "peerId", json_string(s->id)) < 0) {
    json_decref(copy);
    return;
  }
  buf *f = event_frame(name, copy, s->pending_have);
  json_decref(copy);
  if (!f)
    return;
  deliver(s, target->c, f);
  buf_unref(f);
}

/* initiator-online, recipient-ready: to the others in payload.roomId, which
 * must be the sender's room. */
static void relay_to_room(struct sio_session *s, const char *name, json_t *payload) {
  json_t *jid = json_object_get(payload, "roomId");
  struct hub_room *r = s->member.room;
  if (!json_is_string(jid) || !r || r->name_len != ROOM_PREFIX_LEN + json_string_length(jid) ||
      memcmp(r->name + ROOM_PREFIX_LEN, json_string_value(jid), json_string_length(jid)) != 0)
    return;
  buf *f = event_frame(name, payload, s->pending_have);
  if (!f)
    return;
  hub_broadcast(r, f, &s->member);
  buf_unref(f);
  for (uint32_t i = 0; i < s->pending_have && s->member.room; i++)
    hub_broadcast(s->member.room, s->attachments[i], &s->member);
}

static void handle_event(struct sio_session *s, json_t *args, int64_t ack) {
  const char *name = json_string_value(json_array_get(args, 0));
  json_t *payload = json_array_get(args, 1);
  if (!name) {
    fail(s, "an event needs a name");
    return;
  }
  if (strcmp(name, "join") == 0 && json_is_object(payload)) {
    on_join(s, payload, ack);
    return;
  }
  if (json_is_object(payload)) {
    if (strcmp(name, "offer") == 0 || strcmp(name, "answer") == 0 ||
        strcmp(name, "ice-candidate") == 0)
      relay_to_peer(s, name, payload);
    else if (strcmp(name, "initiator-online") == 0 || strcmp(name, "recipient-ready") == 0)
      relay_to_room(s, name, payload);
  }
  /* Unknown events are dropped, as a Socket.IO server with no listener
   * does; the ack still answers so a client's callback never hangs. */
  if (ack >= 0 && s->c) {
    json_t *none = json_array();
    if (none)
      send_ack(s, ack, none);
    json_decref(none);
  }
}

static void pending_clear(struct sio_session *s) {
  json_decref(s->pending);
  s->pending = NULL;
  for (uint32_t i = 0; i < s->pending_have; i++)
    buf_unref(s->attachments[i]);
  s->pending_have = s->pending_need = 0;
}

/* ------------------------------------------------------------------------
 * Socket.IO packets */

static void handle_sio(struct sio_session *s, const char *p, size_t n) {
  struct sio_packet pk;
  if (sio_decode(p, n, &pk) < 0) {
    fail(s, "malformed Socket.IO packet");
    return;
  }
  bool root = pk.nsp_len == 1 && pk.nsp[0] == '/';
  if (pk.type == SIO_CONNECT) {
    if (!root) {
      struct sio_packet err = {.type = SIO_CONNECT_ERROR, .nsp = pk.nsp, .nsp_len = pk.nsp_len,
                               .id = -1, .data = "{\"message\":\"Invalid namespace\"}",
                               .data_len = 31};
      size_t len = sio_encode(&err, NULL, 0);
      char *text = malloc(len);
      if (text) {
        sio_encode(&err, text, len);
        ws_send_text(s->c, text, len);
      }
      free(text);
      return;
    }
    s->connected = true;
    char text[64];
    int len = snprintf(text, sizeof text, "40{\"sid\":\"%s\"}", s->id);
    ws_send_text(s->c, text, (size_t)len);
    return;
  }
  if (!root || !s->connected)
    return; /* packets for a namespace the client is not in are ignored */
  switch (pk.type) {
  case SIO_DISCONNECT:
    leave_room(s);
    s->connected = false;
    return;
  case SIO_EVENT:
  case SIO_BINARY_EVENT: {
    json_t *args = json_loadb(pk.data, pk.data_len, 0, NULL);
    if (!json_is_array(args) || json_array_size(args) == 0) {
      json_decref(args);
      fail(s, "an event is a JSON array");
      return;
    }
    if (pk.type == SIO_BINARY_EVENT && pk.attachments > 0) {
      s->pending = args;
      s->pending_ack = pk.id;
      s->pending_need = pk.attachments;
      return;
    }
    handle_event(s, args, pk.id);
    json_decref(args);
    return;
  }
  case SIO_ACK:
  case SIO_BINARY_ACK:
    /* The server asks for no acknowledgements, so there is nothing to answer. */
    return;
  default:
    fail(s, "unexpected Socket.IO packet");
  }
}

/* ------------------------------------------------------------------------
 * Engine.IO: heartbeat and packets */

static void on_timer(uv_timer_t *t) {
  struct sio_session *s = t->data;
  if (!s->c)
    return;
  if (s->awaiting_pong) {
    log_msg(LOG_INFO, "sio.ping_timeout", "%s: no pong", conn_peer_text(s->c));
    conn_close(s->c);
    return;
  }
  s->awaiting_pong = true;
  ws_send_text(s->c, "2", 1);
  uv_timer_start(&s->timer, on_timer, cfg_of(s)->sio_ping_timeout_ms, 0);
}

static void on_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct sio_session *s = session(c);
  if (len > c->srv->cfg->sio_max_payload) {
    fail(s, "packet over maxPayload");
    return;
  }
  if (op == WS_OP_BINARY) {
    if (!s->pending) {
      fail(s, "binary data without a binary packet");
      return;
    }
    buf *f = ws_frame_build(WS_OP_BINARY, data, len);
    if (!f) {
      ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
      return;
    }
    s->attachments[s->pending_have++] = f;
    if (s->pending_have == s->pending_need) {
      json_t *args = s->pending;
      s->pending = NULL;
      handle_event(s, args, s->pending_ack);
      json_decref(args);
      pending_clear(s);
    }
    return;
  }
  struct eio_packet pk;
  if (eio_decode(data, len, &pk) < 0) {
    fail(s, "malformed Engine.IO packet");
    return;
  }
  if (s->pending && pk.type == EIO_MESSAGE) {
    fail(s, "a packet arrived before the attachments of the last");
    return;
  }
  switch (pk.type) {
  case EIO_PONG:
    s->awaiting_pong = false;
    uv_timer_start(&s->timer, on_timer, cfg_of(s)->sio_ping_interval_ms, 0);
    return;
  case EIO_PING:
    /* A probe (on an upgrade) is answered; a v4 client never pings otherwise. */
    if (pk.len == 5 && memcmp(pk.data, "probe", 5) == 0)
      ws_send_text(c, "3probe", 6);
    return;
  case EIO_MESSAGE:
    handle_sio(s, (const char *)pk.data, pk.len);
    return;
  case EIO_CLOSE:
    ws_close(c, WS_CLOSE_NORMAL, NULL);
    return;
  case EIO_UPGRADE:
  case EIO_NOOP:
    return;
  case EIO_OPEN:
    fail(s, "a client does not send open");
    return;
  }
}

static void on_open(conn *c) {
  struct sio_session *s = calloc(1, sizeof *s);
  memcpy(ws_app_state(c), &s, sizeof s);
  if (!s) {
    ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
    return;
  }
  s->c = c;
  s->pending_ack = -1;
  rand_base62(s->id, HUB_PEER_ID_LEN);
  rand_base62(s->sid, SID_LEN);
  uv_timer_init(c->srv->loop, &s->timer);
  s->timer.data = s;
  const struct config *cfg = c->srv->cfg;
  if (!joins_ready) {
    joins_ready = ratelimit_init(&joins, (uint32_t)cfg->sio_joins, cfg->sio_join_window_ms) == 0;
  }
  char open[192];
  int n = snprintf(open, sizeof open,
                   "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%llu,\"pingTimeout\":%llu,"
                   "\"maxPayload\":%llu}",
                   s->sid, (unsigned long long)cfg->sio_ping_interval_ms,
                   (unsigned long long)cfg->sio_ping_timeout_ms,
                   (unsigned long long)cfg->sio_max_payload);
  ws_send_text(c, open, (size_t)n);
  uv_timer_start(&s->timer, on_timer, cfg->sio_ping_interval_ms, 0);
  log_msg(LOG_INFO, "sio.open", "%s: socket %s", conn_peer_text(c), s->id);
}

static void free_session(uv_handle_t *h) { free(h->data); }

static void on_close(conn *c) {
  struct sio_session *s = session(c);
  if (!s)
    return;
  leave_room(s);
  pending_clear(s);
  s->c = NULL;
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, free_session);
}

static const struct ws_handler sio_ws = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* ------------------------------------------------------------------------
 * The HTTP side: GET /socket.io/?EIO=4&transport=websocket */

static void eio_error(struct http_req *r, int code, const char *message) {
  char body[128];
  int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
  http_respond(r, 400, "application/json", body, (size_t)n, NULL, false,
               "Cache-Control: no-store\r\n");
}

static void on_request(struct http_req *r) {
  char eio[8], transport[16], sid[32];
  if (query_param(r->query, r->query_len, "EIO", eio, sizeof eio) <= 0 || strcmp(eio, "4") != 0) {
    eio_error(r, 5, "Unsupported protocol version");
    return;
  }
  if (query_param(r->query, r->query_len, "transport", transport, sizeof transport) <= 0 ||
      strcmp(transport, "websocket") != 0) {
    eio_error(r, 0, "Transport unknown");
    return;
  }
  if (query_param(r->query, r->query_len, "sid", sid, sizeof sid) > 0) {
    /* Upgrades of polling sessions: there are no polling sessions. */
    eio_error(r, 1, "Session ID unknown");
    return;
  }
  struct sio_session *none = NULL;
  ws_accept(r, &sio_ws, &none, sizeof none);
}

const http_handler socketio_handler = {.on_complete = on_request};

void socketio_free(void) {
  if (joins_ready)
    ratelimit_free(&joins);
  joins_ready = false;
}
