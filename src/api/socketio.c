/* Socket.IO at /socket.io/: Engine.IO v4 over long-polling and WebSocket
 * (and the upgrade between them), the Socket.IO v5 protocol on the "/"
 * namespace, and PrivyDrop's signaling events on top.
 *
 * A session lives in its own allocation, found by sid for polling requests
 * and upgrades: it outlives any one connection, and holds a libuv timer for
 * the Engine.IO heartbeat, freed when uv_close calls back. A WebSocket's app
 * state only points at it. The server runs on the default loop (main.c). The socket's
 * id is its hub peer id, so offers and answers find their target in O(1).
 * A PrivyDrop room id is a hub room name, the same room a native client
 * reaches at /ws/<id>: the two meet there, each hearing the other in its own
 * protocol (src/api/bridge.c). */
#include "api/socketio.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/app.h"
#include "api/bridge.h"
#include "api/privydrop.h"
#include "api/privydrop_redis.h"
#include "api/ws_room.h"
#include "bus/bus.h"
#include "config.h"
#include "hub/hub.h"
#include "http/query.h"
#include "net/addr_table.h"
#include "net/server.h"
#include "util/json_scan.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/ratelimit.h"
#include "ws/engineio.h"
#include "ws/ws_conn.h"

/* PrivyDrop room ids: 1-61 characters of [A-Za-z0-9_-]. */
#define ROOM_ID_MAX 61
#define SID_LEN 20

struct out_packet {
  buf *data; /* an Engine.IO packet: text with its type digit, or binary bytes */
  bool binary;
};

/* Acknowledgements relayed, per receiving socket: when it acknowledges the
 * event under `id`, the sender's callback `sender_ack` gets its answer. */
#define RELAYED_ACKS_MAX 32
struct relayed_ack {
  uint32_t id; /* 0: a free slot */
  int64_t sender_ack;
  char sender_sid[SID_LEN + 1];
};

struct sio_session {
  conn *c;               /* the WebSocket carrying the session, or NULL on polling */
  conn *probe;           /* a WebSocket probing an upgrade, or NULL */
  struct http_req *poll; /* a long-poll GET waiting for packets, or NULL */
  uv_timer_t timer;
  struct hub_member member;
  char id[HUB_PEER_ID_LEN + 1]; /* the Socket.IO socket id = hub peer id */
  char sid[SID_LEN + 1];        /* the Engine.IO session id */
  uint8_t addr_key[17];         /* the client's address, for the join limit */
  uint8_t addr_key_len;
  bool polling; /* the transport is long-polling */
  bool ended;
  bool connected; /* CONNECT to "/" done */
  bool awaiting_pong;
  /* Packets queued for the next poll. */
  struct out_packet *q;
  size_t q_len, q_cap;
  uint64_t q_bytes;
  /* Events relayed to this socket with an ack asked for by their sender:
   * allocated on first use, a ring of RELAYED_ACKS_MAX. */
  struct relayed_ack *relayed;
  uint32_t relayed_next; /* this session's next server-side ack id */
  /* A binary packet waiting for its attachments. */
  json_t *pending;
  int64_t pending_ack; /* the event's ack id, or the id a BINARY_ACK answers */
  bool pending_is_ack; /* the packet waiting is a BINARY_ACK, not an event */
  uint32_t pending_need, pending_have;
  buf *attachments[SIO_MAX_ATTACHMENTS]; /* raw bytes */
};

_Static_assert(sizeof(struct sio_session *) <= WS_APP_STATE, "session pointer fits");

static ratelimit joins;
static bool joins_ready;
static hmap sessions; /* sid -> struct sio_session, polling sessions and upgraded ones */
static const struct config *cfg;

static struct sio_session *session(conn *c) {
  struct sio_session *s;
  memcpy(&s, ws_app_state(c), sizeof s);
  return s;
}

/* The session around a hub member that speaks Socket.IO. */
static struct sio_session *session_of(struct hub_member *m) {
  return (struct sio_session *)((char *)m - offsetof(struct sio_session, member));
}

static const char *peer_text(const struct sio_session *s) {
  return s->c ? conn_peer_text(s->c) : s->id;
}

static void session_end(struct sio_session *s, const char *why);
static void respond_text(struct http_req *r, const void *body, size_t len, buf *owner);

/* ------------------------------------------------------------------------
 * Sending: over the WebSocket at once, or queued for the next poll */

/* Answers the waiting poll with every queued packet, joined by 0x1e,
 * binary ones as "b" + base64. */
static void flush_poll(struct sio_session *s) {
  if (!s->poll || !s->q_len)
    return;
  size_t total = 0;
  for (size_t i = 0; i < s->q_len; i++) {
    size_t n = s->q[i].data->len;
    total += (s->q[i].binary ? 1 + eio_base64_encoded_len(n) : n) + 1;
  }
  buf *body = buf_new(total);
  if (!body) {
    session_end(s, "out of memory");
    return;
  }
  for (size_t i = 0; i < s->q_len; i++) {
    const buf *d = s->q[i].data;
    if (i)
      body->data[body->len++] = 0x1e;
    if (s->q[i].binary) {
      body->data[body->len++] = 'b';
      body->len += (uint32_t)eio_base64_encode(d->data, d->len, (char *)body->data + body->len);
    } else {
      memcpy(body->data + body->len, d->data, d->len);
      body->len += d->len;
    }
    buf_unref(s->q[i].data);
  }
  s->q_len = 0;
  s->q_bytes = 0;
  struct http_req *r = s->poll;
  s->poll = NULL;
  r->handler_state = NULL;
  respond_text(r, body->data, body->len, body);
  buf_unref(body);
}

/* Sends one Engine.IO packet (takes no reference from the caller). */
static void send_packet(struct sio_session *s, buf *data, bool binary) {
  if (s->ended)
    return;
  if (s->c) {
    buf *f = ws_frame_build(binary ? WS_OP_BINARY : WS_OP_TEXT, data->data, data->len);
    if (f) {
      ws_send(s->c, f);
      buf_unref(f);
    }
    return;
  }
  if (s->q_bytes + data->len > cfg->ws_max_queue) {
    session_end(s, "too many packets buffered for polling");
    return;
  }
  if (s->q_len == s->q_cap) {
    size_t cap = s->q_cap ? s->q_cap * 2 : 8;
    struct out_packet *q = realloc(s->q, cap * sizeof *q);
    if (!q) {
      session_end(s, "out of memory");
      return;
    }
    s->q = q;
    s->q_cap = cap;
  }
  s->q[s->q_len++] = (struct out_packet){buf_ref(data), binary};
  s->q_bytes += data->len;
  flush_poll(s);
}

static void send_text(struct sio_session *s, const char *text, size_t len) {
  buf *b = buf_from(text, len);
  if (b)
    send_packet(s, b, false);
  buf_unref(b);
}

/* "4<sio packet>" in a buf. */
static buf *packet_buf(enum sio_type type, uint32_t attachments, int64_t id, const char *json,
                       size_t json_len) {
  struct sio_packet pk = {.type = type,
                          .attachments = attachments,
                          .nsp = "/",
                          .nsp_len = 1,
                          .id = id,
                          .data = json,
                          .data_len = json_len};
  size_t n = sio_encode(&pk, NULL, 0);
  buf *b = buf_new(n);
  if (!b)
    return NULL;
  sio_encode(&pk, (char *)b->data, n);
  b->len = (uint32_t)n;
  return b;
}

/* An event [name, payload] asking for an ack under `id` (-1: none). */
static buf *event_buf_acked(const char *name, json_t *payload, uint32_t attachments, int64_t id);

/* An event [name, payload] (the payload reference stays the caller's). */
static buf *event_buf(const char *name, json_t *payload, uint32_t attachments) {
  return event_buf_acked(name, payload, attachments, -1);
}

static buf *event_buf_acked(const char *name, json_t *payload, uint32_t attachments, int64_t id) {
  json_t *arr = json_pack("[sO]", name, payload);
  char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  if (!text)
    return NULL;
  buf *b =
      packet_buf(attachments ? SIO_BINARY_EVENT : SIO_EVENT, attachments, id, text, strlen(text));
  free(text);
  return b;
}

static void send_buf(struct sio_session *s, buf *b) {
  if (!b)
    return;
  send_packet(s, b, false);
  buf_unref(b);
}

static void emit(struct sio_session *s, const char *name, json_t *payload) {
  send_buf(s, event_buf(name, payload, 0));
}

static void send_ack(struct sio_session *s, int64_t id, json_t *args) {
  char *text = json_dumps(args, JSON_COMPACT);
  if (text)
    send_buf(s, packet_buf(SIO_ACK, 0, id, text, strlen(text)));
  free(text);
}

/* Ends the session for a protocol violation, with the reason in the log. */
static void fail(struct sio_session *s, const char *why) {
  log_msg(LOG_INFO, "sio.protocol_error", "%s: %s", peer_text(s), why);
  if (s->c)
    ws_close(s->c, WS_CLOSE_POLICY, why);
  else
    session_end(s, why);
}

/* The sessions of a room's members, copied first: a send may end a
 * session, which leaves the room and reorders its members. Sessions are
 * freed only from a later loop turn (uv_close), so the copies stay valid. */
static void room_send_local(struct hub_room *r, const char *except, buf *const *packets,
                            const bool *binary, size_t count) {
  uint32_t n = r->count;
  struct sio_session **to = malloc((n ? n : 1) * sizeof *to);
  if (!to)
    return;
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (r->members[i]->proto != HUB_SOCKETIO)
      continue;
    struct sio_session *t = session_of(r->members[i]);
    if (!except || memcmp(t->id, except, HUB_PEER_ID_LEN) != 0)
      to[k++] = t;
  }
  for (uint32_t i = 0; i < k; i++)
    for (size_t j = 0; j < count; j++)
      send_packet(to[i], packets[j], binary[j]);
  free(to);
}

/* To the room's Socket.IO members on every instance (scaleout.h). */
static void room_send(struct hub_room *r, const struct sio_session *except, buf *const *packets,
                      const bool *binary, size_t count) {
  if (!hub_publish_socketio(r, except ? except->id : NULL, packets, binary, count))
    room_send_local(r, except ? except->id : NULL, packets, binary, count);
}

static void room_send_one(struct hub_room *r, const struct sio_session *except, buf *b) {
  bool binary = false;
  if (b)
    room_send(r, except, &b, &binary, 1);
  buf_unref(b);
}

void socketio_room_emit(struct hub_room *r, struct hub_member *except, const char *event,
                        json_t *payload) {
  const struct sio_session *skip =
      except && except->proto == HUB_SOCKETIO ? session_of(except) : NULL;
  room_send_one(r, skip, event_buf(event, payload, 0));
}

buf *socketio_event_packet(const char *name, json_t *payload) {
  return event_buf(name, payload, 0);
}

void socketio_emit_to(struct hub_member *m, const char *event, json_t *payload) {
  if (m->proto == HUB_SOCKETIO)
    emit(session_of(m), event, payload);
}

/* Packets from the bus as buffers of their own. */
static size_t parts_bufs(const struct bus_part *parts, size_t count, buf **packets, bool *binary) {
  size_t k = 0;
  for (size_t i = 0; i < count && i < BUS_PARTS_MAX; i++) {
    if (!(packets[k] = buf_from(parts[i].p, parts[i].len)))
      break;
    binary[k++] = parts[i].binary;
  }
  return k;
}

void socketio_deliver(const char *room, size_t len, const char *except, size_t except_len,
                      const struct bus_part *parts, size_t count) {
  struct hub_room *r = hub_find_room(room, len);
  buf *packets[BUS_PARTS_MAX];
  bool binary[BUS_PARTS_MAX];
  size_t k = r ? parts_bufs(parts, count, packets, binary) : 0;
  if (k)
    room_send_local(r, except_len == HUB_PEER_ID_LEN ? except : NULL, packets, binary, k);
  for (size_t i = 0; i < k; i++)
    buf_unref(packets[i]);
}

void socketio_deliver_to(struct hub_member *m, const struct bus_part *parts, size_t count) {
  buf *packets[BUS_PARTS_MAX];
  bool binary[BUS_PARTS_MAX];
  size_t k = parts_bufs(parts, count, packets, binary);
  for (size_t i = 0; i < k; i++) {
    send_packet(session_of(m), packets[i], binary[i]);
    buf_unref(packets[i]);
  }
}

/* ------------------------------------------------------------------------
 * Rooms */

static void leave_room(struct sio_session *s) {
  struct hub_room *r = s->member.room;
  if (!r)
    return;
  char name[HUB_ROOM_NAME_MAX];
  size_t name_len = r->name_len;
  memcpy(name, r->name, name_len);
  if (hub_room_may_have(r, HUB_NATIVE))
    ws_room_peer_event(&s->member, "peer.left");
  /* Told while the room is still here: its other members may be on other
   * instances only (scaleout.h). */
  json_t *payload = json_pack("{ss}", "peerId", s->id);
  if (payload && s->member.room)
    room_send_one(s->member.room, s, event_buf("peer-disconnected", payload, 0));
  json_decref(payload);
  hub_leave(&s->member);
  pdr_socket_left(name, name_len, s->id);
  if (!hub_find_room(name, name_len)) /* the last member: the room is kept a while for a return */
    privydrop_room_emptied(name, name_len, uv_now(uv_default_loop()));
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

static void join_room(struct sio_session *s, const char *room_id, size_t len, int64_t ack);

/* A join waiting for Redis to say whether the room exists. */
struct redis_join {
  char sid[SID_LEN + 1];
  int64_t ack;
  uint8_t len;
  char room[ROOM_ID_MAX + 1];
};

static struct sio_session *redis_join_session(const struct redis_join *j) {
  struct sio_session *s = hmap_get(&sessions, j->sid, SID_LEN);
  return s && !s->ended && s->connected ? s : NULL;
}

static void redis_join_answered(void *ctx, int rc) {
  struct redis_join *j = ctx;
  struct sio_session *s = redis_join_session(j);
  if (s && (rc == 1 || hub_find_room(j->room, j->len)))
    join_room(s, j->room, j->len, j->ack);
  else if (s)
    join_response(s, j->ack, false, "Room does not exist", j->room);
  free(j);
}

static void join_limited(struct sio_session *s, int64_t ack, const char *room_id,
                         uint64_t retry_ms) {
  char msg[96];
  snprintf(msg, sizeof msg, "Too many join attempts. Please try again in %llu seconds.",
           (unsigned long long)((retry_ms + 999) / 1000));
  join_response(s, ack, false, msg, room_id);
}

/* The joins this address made through every instance, then the room. */
static void redis_join_counted(void *ctx, int count) {
  struct redis_join *j = ctx;
  struct sio_session *s = redis_join_session(j);
  if (s && count > 0 && (uint64_t)count > cfg->sio_joins) {
    join_limited(s, j->ack, j->room, cfg->sio_join_window_ms);
  } else if (s && hub_find_room(j->room, j->len)) {
    join_room(s, j->room, j->len, j->ack);
  } else if (s && pdr_join(j->room, j->len, cfg->room_ttl_ms, redis_join_answered, j)) {
    return;
  } else if (s) {
    join_response(s, j->ack, false, "Room does not exist", j->room);
  }
  free(j);
}

static bool join_through_redis(struct sio_session *s, const char *room_id, size_t len,
                               int64_t ack) {
  struct redis_join *j = bus_up() ? calloc(1, sizeof *j) : NULL;
  if (!j)
    return false;
  memcpy(j->sid, s->sid, sizeof j->sid);
  j->ack = ack;
  j->len = (uint8_t)len;
  memcpy(j->room, room_id, len);
  if (pdr_join_window(s->addr_key, s->addr_key_len, cfg->sio_join_window_ms, redis_join_counted, j))
    return true;
  free(j);
  return false;
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
  /* Per client address (an IPv6 client counts by its /64); fails open on
   * out of memory, like the code lookups. */
  uint64_t retry_ms = 0;
  if (joins_ready && ratelimit_hit(&joins, s->addr_key, s->addr_key_len, uv_now(uv_default_loop()),
                                   &retry_ms) == RATELIMIT_LIMITED) {
    join_limited(s, ack, room_id, retry_ms);
    return;
  }
  /* A room exists once made through the REST routes, or while anyone (a
   * native client too) is in it; never one of tandem's stored rooms, whose
   * schedule and password a PrivyDrop join would walk around. */
  struct hub_room *live = hub_find_room(room_id, len);
  if (live && live->stored) {
    join_response(s, ack, false, "Room does not exist", room_id);
    return;
  }
  bool known = privydrop_room_join(room_id, len, uv_now(uv_default_loop()), cfg->room_ttl_ms);
  if (join_through_redis(s, room_id, len, ack))
    return; /* limits and rooms of every instance: Redis knows */
  if (!known && !live) {
    join_response(s, ack, false, "Room does not exist", room_id);
    return;
  }
  join_room(s, room_id, len, ack);
}

static void join_room(struct sio_session *s, const char *room_id, size_t len, int64_t ack) {
  const char *name = room_id;
  size_t name_len = len;
  if (s->member.room && s->member.room->name_len == name_len &&
      memcmp(s->member.room->name, name, name_len) == 0) {
    join_response(s, ack, true, "Successfully joined room", room_id);
    return;
  }
  leave_room(s);
  s->member.proto = HUB_SOCKETIO;
  if (hub_join_as(&s->member, s->c, name, name_len, s->id) < 0) {
    join_response(s, ack, false, "Server error", room_id);
    return;
  }
  pdr_socket_joined(name, name_len, s->id, cfg->room_ttl_ms);
  join_response(s, ack, true, "Successfully joined room", room_id);
  json_t *ready = json_pack("{ss}", "peerId", s->id);
  if (ready && s->member.room)
    room_send_one(s->member.room, s, event_buf("ready", ready, 0));
  json_decref(ready);
  if (s->member.room && hub_room_may_have(s->member.room, HUB_NATIVE))
    ws_room_peer_event(&s->member, "peer.joined");
}

/* Notes that the target's answer to its ack `id` goes to the sender's
 * callback `ack`; returns the id to send the event under, or -1 (out of
 * memory: the sender is then answered at once, as for any event). */
static int64_t relay_ack(struct sio_session *target, const struct sio_session *sender,
                         int64_t ack) {
  if (!target->relayed && !(target->relayed = calloc(RELAYED_ACKS_MAX, sizeof *target->relayed)))
    return -1;
  /* Ids count from 1; the oldest unanswered one gives way past the ring. */
  uint32_t id = ++target->relayed_next ? target->relayed_next : ++target->relayed_next;
  struct relayed_ack *slot = &target->relayed[id % RELAYED_ACKS_MAX];
  slot->id = id;
  slot->sender_ack = ack;
  memcpy(slot->sender_sid, sender->sid, sizeof slot->sender_sid);
  return id;
}

/* The socket acknowledged an event relayed to it: its arguments (a JSON
 * array, passed on as written, with the binary attachments of a BINARY_ACK)
 * go to the sender's callback. */
static void relay_ack_answer(struct sio_session *s, int64_t id, const char *args, size_t len,
                             buf *const *attachments, uint32_t count) {
  if (!s->relayed || id <= 0 || id > UINT32_MAX)
    return;
  struct relayed_ack *slot = &s->relayed[id % RELAYED_ACKS_MAX];
  if (slot->id != (uint32_t)id)
    return; /* unknown, answered already, or given way */
  slot->id = 0;
  struct sio_session *sender = hmap_get(&sessions, slot->sender_sid, SID_LEN);
  /* Passed on as written, so checked to be a JSON array first. */
  if (!sender || sender->ended || len < 2 || args[0] != '[' ||
      json_scan_object(args, len, NULL, 0) != JSON_SCAN_NOT_OBJECT)
    return;
  send_buf(sender,
           packet_buf(count ? SIO_BINARY_ACK : SIO_ACK, count, slot->sender_ack, args, len));
  for (uint32_t i = 0; i < count; i++)
    send_packet(sender, attachments[i], true);
}

/* An event for a peer on another instance: built here in both protocols,
 * sent once the bus says where the peer is and which it speaks (an ack
 * asked for is answered by the server at once, not relayed). */
struct remote_relay {
  buf *native; /* the same as a native signal, for a native peer (or NULL) */
  buf *packets[1 + SIO_MAX_ATTACHMENTS];
  bool binary[1 + SIO_MAX_ATTACHMENTS];
  size_t count;
  uint8_t room_len;
  char room[HUB_ROOM_NAME_MAX + 1];
};

static void remote_relay_found(void *ctx, const struct bus_member *m) {
  struct remote_relay *rr = ctx;
  if (m && m->proto == HUB_SOCKETIO)
    hub_publish_to_peer(m->instance, rr->room, rr->room_len, m->peer_id, HUB_SOCKETIO, rr->packets,
                        rr->binary, rr->count, NULL);
  else if (m && m->proto == HUB_NATIVE && rr->native)
    hub_publish_to_peer(m->instance, rr->room, rr->room_len, m->peer_id, HUB_NATIVE, &rr->native,
                        NULL, 1, NULL);
  buf_unref(rr->native);
  for (size_t i = 0; i < rr->count; i++)
    buf_unref(rr->packets[i]);
  free(rr);
}

static void relay_to_remote_peer(struct sio_session *s, const char *name, json_t *payload,
                                 const char *peer) {
  struct hub_room *r = s->member.room;
  struct remote_relay *rr = calloc(1, sizeof *rr);
  json_t *copy = rr ? json_copy(payload) : NULL;
  if (!copy || json_object_set_new(copy, "peerId", json_string(s->id)) < 0 ||
      !(rr->packets[0] = event_buf(name, copy, s->pending_have))) {
    json_decref(copy);
    free(rr);
    return;
  }
  json_decref(copy);
  rr->native = bridge_native_frame(s->id, name, payload);
  rr->count = 1;
  for (uint32_t i = 0; i < s->pending_have; i++) {
    rr->packets[rr->count] = buf_ref(s->attachments[i]);
    rr->binary[rr->count++] = true;
  }
  rr->room_len = r->name_len;
  memcpy(rr->room, r->name, r->name_len);
  bus_member_find(r->name, r->name_len, peer, remote_relay_found, rr);
}

/* offer, answer, ice-candidate: to payload.peerId only, which becomes the
 * sender. Returns true when the sender's ack (if any) is to be answered by
 * the target's own acknowledgement rather than at once. */
static bool relay_to_peer(struct sio_session *s, const char *name, json_t *payload, int64_t ack) {
  const char *peer = json_string_value(json_object_get(payload, "peerId"));
  if (!peer || !s->member.room)
    return false;
  struct hub_member *m = hub_find_peer(peer, strlen(peer));
  if (!m && bus_shared()) {
    relay_to_remote_peer(s, name, payload, peer);
    return false;
  }
  if (!m || m->room != s->member.room || m == &s->member)
    return false;
  if (m->proto == HUB_NATIVE) {
    bridge_signal_to_native(m, s->id, name, payload);
    return false;
  }
  struct sio_session *target = session_of(m);
  json_t *copy = json_copy(payload);
  if (!copy || json_object_set_new(copy, "peerId", json_string(s->id)) < 0) {
    json_decref(copy);
    return false;
  }
  int64_t relayed_id = ack >= 0 ? relay_ack(target, s, ack) : -1;
  buf *b = event_buf_acked(name, copy, s->pending_have, relayed_id);
  json_decref(copy);
  if (!b)
    return false;
  send_packet(target, b, false);
  for (uint32_t i = 0; i < s->pending_have; i++)
    send_packet(target, s->attachments[i], true);
  buf_unref(b);
  return relayed_id >= 0;
}

/* initiator-online, recipient-ready: to the others in payload.roomId, which
 * must be the sender's room. */
static void relay_to_room(struct sio_session *s, const char *name, json_t *payload) {
  json_t *jid = json_object_get(payload, "roomId");
  struct hub_room *r = s->member.room;
  if (!json_is_string(jid) || !r || r->name_len != json_string_length(jid) ||
      memcmp(r->name, json_string_value(jid), r->name_len) != 0)
    return;
  buf *packets[1 + SIO_MAX_ATTACHMENTS];
  bool binary[1 + SIO_MAX_ATTACHMENTS] = {false};
  if (!(packets[0] = event_buf(name, payload, s->pending_have)))
    return;
  for (uint32_t i = 0; i < s->pending_have; i++) {
    packets[1 + i] = s->attachments[i];
    binary[1 + i] = true;
  }
  room_send(r, s, packets, binary, 1 + s->pending_have);
  buf_unref(packets[0]);
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
        strcmp(name, "ice-candidate") == 0) {
      if (relay_to_peer(s, name, payload, ack))
        return; /* the target's acknowledgement answers */
    } else if (strcmp(name, "initiator-online") == 0 || strcmp(name, "recipient-ready") == 0)
      relay_to_room(s, name, payload);
  }
  /* Unknown events are dropped, as a Socket.IO server with no listener
   * does; the ack still answers so a client's callback never hangs. */
  if (ack >= 0) {
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
  s->pending_is_ack = false;
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
      struct sio_packet err = {.type = SIO_CONNECT_ERROR,
                               .nsp = pk.nsp,
                               .nsp_len = pk.nsp_len,
                               .id = -1,
                               .data = "{\"message\":\"Invalid namespace\"}",
                               .data_len = 31};
      size_t len = sio_encode(&err, NULL, 0);
      char *text = malloc(len);
      if (text) {
        sio_encode(&err, text, len);
        send_text(s, text, len);
      }
      free(text);
      return;
    }
    s->connected = true;
    char text[64];
    int len = snprintf(text, sizeof text, "40{\"sid\":\"%s\"}", s->id);
    send_text(s, text, (size_t)len);
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
  case SIO_ACK: relay_ack_answer(s, pk.id, pk.data, pk.data_len, NULL, 0); return;
  case SIO_BINARY_ACK: {
    json_t *args = json_loadb(pk.data, pk.data_len, 0, NULL);
    if (!json_is_array(args)) {
      json_decref(args);
      fail(s, "an acknowledgement is a JSON array");
      return;
    }
    if (pk.attachments == 0) {
      json_decref(args);
      relay_ack_answer(s, pk.id, pk.data, pk.data_len, NULL, 0);
      return;
    }
    s->pending = args; /* relayed when its attachments are in */
    s->pending_ack = pk.id;
    s->pending_is_ack = true;
    s->pending_need = pk.attachments;
    return;
  }
  default: fail(s, "unexpected Socket.IO packet");
  }
}

/* ------------------------------------------------------------------------
 * Engine.IO: heartbeat and packets */

static void on_timer(uv_timer_t *t) {
  struct sio_session *s = t->data;
  if (s->ended)
    return;
  if (s->awaiting_pong) {
    log_msg(LOG_INFO, "sio.ping_timeout", "%s: no pong", peer_text(s));
    if (s->c)
      conn_close(s->c);
    else
      session_end(s, NULL);
    return;
  }
  s->awaiting_pong = true;
  send_text(s, "2", 1);
  uv_timer_start(&s->timer, on_timer, cfg->sio_ping_timeout_ms, 0);
}

static void attachment(struct sio_session *s, const uint8_t *data, size_t len) {
  if (!s->pending) {
    fail(s, "binary data without a binary packet");
    return;
  }
  buf *b = buf_from(data, len);
  if (!b) {
    fail(s, "out of memory");
    return;
  }
  s->attachments[s->pending_have++] = b;
  if (s->pending_have < s->pending_need)
    return;
  json_t *args = s->pending;
  s->pending = NULL;
  if (s->pending_is_ack) {
    char *text = json_dumps(args, JSON_COMPACT);
    if (text)
      relay_ack_answer(s, s->pending_ack, text, strlen(text), s->attachments, s->pending_have);
    free(text);
  } else {
    handle_event(s, args, s->pending_ack);
  }
  json_decref(args);
  pending_clear(s);
}

/* One text Engine.IO packet from either transport. */
static void handle_eio(struct sio_session *s, const uint8_t *data, size_t len) {
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
    uv_timer_start(&s->timer, on_timer, cfg->sio_ping_interval_ms, 0);
    return;
  case EIO_MESSAGE: handle_sio(s, (const char *)pk.data, pk.len); return;
  case EIO_CLOSE:
    if (s->c)
      ws_close(s->c, WS_CLOSE_NORMAL, NULL);
    else
      session_end(s, NULL);
    return;
  case EIO_PING:
  case EIO_UPGRADE:
  case EIO_NOOP: return;
  case EIO_OPEN: fail(s, "a client does not send open"); return;
  }
}

static struct sio_session *session_new(const struct addr_entry *a, bool polling) {
  struct sio_session *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->pending_ack = -1;
  s->polling = polling;
  rand_base62(s->id, HUB_PEER_ID_LEN);
  rand_base62(s->sid, SID_LEN);
  s->addr_key_len = a->key[0] == AF_INET6 ? 1 + 8 : a->key_len;
  memcpy(s->addr_key, a->key, s->addr_key_len);
  if (hmap_put(&sessions, s->sid, SID_LEN, s) < 0) {
    free(s);
    return NULL;
  }
  uv_timer_init(uv_default_loop(), &s->timer);
  /* A session alone must not keep the loop running at shutdown. */
  uv_unref((uv_handle_t *)&s->timer);
  s->timer.data = s;
  if (!joins_ready)
    joins_ready = ratelimit_init(&joins, (uint32_t)cfg->sio_joins, cfg->sio_join_window_ms) == 0;
  uv_timer_start(&s->timer, on_timer, cfg->sio_ping_interval_ms, 0);
  log_msg(LOG_INFO, "sio.open", "%s: socket %s (%s)", a->text, s->id,
          polling ? "polling" : "websocket");
  return s;
}

static int open_packet(const struct sio_session *s, char *out, size_t cap) {
  return snprintf(
      out, cap,
      "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%llu,\"pingTimeout\":%llu,"
      "\"maxPayload\":%llu}",
      s->sid, s->polling ? "\"websocket\"" : "", (unsigned long long)cfg->sio_ping_interval_ms,
      (unsigned long long)cfg->sio_ping_timeout_ms, (unsigned long long)cfg->sio_max_payload);
}

static void free_session(uv_handle_t *h) {
  free(h->data);
}

/* Ends the session once: the room is told, a waiting poll answered with
 * a close packet, the timer closed (the memory goes with it). */
static void session_end(struct sio_session *s, const char *why) {
  if (s->ended)
    return;
  if (why)
    log_msg(LOG_INFO, "sio.close", "%s: %s", peer_text(s), why);
  leave_room(s);
  s->ended = true;
  pending_clear(s);
  for (size_t i = 0; i < s->q_len; i++)
    buf_unref(s->q[i].data);
  free(s->q);
  free(s->relayed);
  s->q = NULL;
  s->q_len = 0;
  if (s->poll) {
    struct http_req *r = s->poll;
    s->poll = NULL;
    r->handler_state = NULL;
    respond_text(r, "1", 1, NULL);
  }
  if (s->probe) {
    struct sio_session *none = NULL;
    memcpy(ws_app_state(s->probe), &none, sizeof none);
    ws_close(s->probe, WS_CLOSE_NORMAL, NULL);
    s->probe = NULL;
  }
  hmap_del(&sessions, s->sid, SID_LEN);
  s->c = NULL;
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, free_session);
}

/* ------------------------------------------------------------------------
 * The WebSocket transport, direct or as an upgrade of a polling session */

struct ws_app {
  struct sio_session *s; /* NULL: a new session is made on open */
};

static void on_ws_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct sio_session *s = session(c);
  if (!s || s->ended)
    return;
  if (s->probe == c) {
    /* The upgrade: "2probe" is answered, "5" moves the session here. */
    if (op == WS_OP_TEXT && len == 6 && memcmp(data, "2probe", 6) == 0) {
      ws_send_text(c, "3probe", 6);
      /* Let the client's waiting poll end, so it can pause polling. */
      if (s->poll && !s->q_len)
        send_text(s, "6", 1);
    } else if (op == WS_OP_TEXT && len == 1 && data[0] == '5') {
      s->probe = NULL;
      s->polling = false;
      s->c = c;
      s->member.c = c;
      if (s->poll) {
        struct http_req *r = s->poll;
        s->poll = NULL;
        r->handler_state = NULL;
        respond_text(r, "6", 1, NULL);
      }
      /* What was queued for polling goes over the WebSocket, in order. */
      for (size_t i = 0; i < s->q_len; i++) {
        send_packet(s, s->q[i].data, s->q[i].binary);
        buf_unref(s->q[i].data);
      }
      s->q_len = 0;
      s->q_bytes = 0;
    } else {
      ws_close(c, WS_CLOSE_POLICY, "bad upgrade");
    }
    return;
  }
  if (s->c != c)
    return;
  if (len > cfg->sio_max_payload) {
    fail(s, "packet over maxPayload");
    return;
  }
  if (op == WS_OP_BINARY)
    attachment(s, data, len);
  else
    handle_eio(s, data, len);
}

static void on_ws_open(conn *c) {
  struct sio_session *s = session(c);
  if (s) {
    if (s->ended || s->probe || !s->polling) {
      struct sio_session *none = NULL;
      memcpy(ws_app_state(c), &none, sizeof none);
      ws_close(c, WS_CLOSE_POLICY, "upgrade refused");
      return;
    }
    s->probe = c;
    return;
  }
  s = session_new(c->addr, false);
  memcpy(ws_app_state(c), &s, sizeof s);
  if (!s) {
    ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
    return;
  }
  s->c = c;
  s->member.c = c;
  char open[192];
  int n = open_packet(s, open, sizeof open);
  ws_send_text(c, open, (size_t)n);
}

static void on_ws_close(conn *c) {
  struct sio_session *s = session(c);
  if (!s)
    return;
  if (s->probe == c)
    s->probe = NULL;
  else if (s->c == c)
    session_end(s, NULL);
}

static const struct ws_handler sio_ws = {
    .on_open = on_ws_open,
    .on_message = on_ws_message,
    .on_close = on_ws_close,
};

/* ------------------------------------------------------------------------
 * The HTTP side: GET and POST /socket.io/?EIO=4&transport=... */

static void eio_error(struct http_req *r, int code, const char *message) {
  char body[128];
  int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
  http_respond(r, 400, "application/json", body, (size_t)n, NULL, false,
               "Cache-Control: no-store\r\n");
}

static void respond_text(struct http_req *r, const void *body, size_t len, buf *owner) {
  char extra[384];
  http_cors_headers(r, extra, sizeof extra - 32);
  strcat(extra, "Cache-Control: no-store\r\n");
  http_respond(r, 200, "text/plain; charset=UTF-8", body, len, owner, false, extra);
}

/* Checks EIO and transport; returns 1 for websocket, 0 for polling, -1 answered. */
static int check_query(struct http_req *r, char *sid, size_t sid_cap) {
  char eio[8], transport[16];
  if (query_param(r->query, r->query_len, "EIO", eio, sizeof eio) <= 0 || strcmp(eio, "4") != 0) {
    eio_error(r, 5, "Unsupported protocol version");
    return -1;
  }
  int t = query_param(r->query, r->query_len, "transport", transport, sizeof transport) <= 0 ? -1
          : strcmp(transport, "websocket") == 0                                              ? 1
          : strcmp(transport, "polling") == 0                                                ? 0
                                                                                             : -1;
  if (t < 0) {
    eio_error(r, 0, "Transport unknown");
    return -1;
  }
  if (query_param(r->query, r->query_len, "sid", sid, sid_cap) <= 0)
    sid[0] = 0;
  return t;
}

static struct sio_session *find_session(const char *sid) {
  size_t n = strlen(sid);
  return n == SID_LEN ? hmap_get(&sessions, sid, n) : NULL;
}

/* A POST body, gathered up to maxPayload. */
struct post_body {
  size_t len, cap;
  uint8_t data[];
};

static void on_headers(struct http_req *r) {
  char sid[32];
  cfg = r->app->cfg;
  if (r->method != METHOD_POST)
    return;
  if (check_query(r, sid, sizeof sid) < 0)
    return;
  if (!find_session(sid)) {
    eio_error(r, 1, "Session ID unknown");
    return;
  }
  if (r->content_length != UINT64_MAX && r->content_length > cfg->sio_max_payload) {
    struct sio_session *s = find_session(sid);
    http_respond_error(r, 413, "payload_too_large", "Over maxPayload.");
    session_end(s, "POST over maxPayload");
  }
}

static void on_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct post_body *b = r->handler_state;
  size_t have = b ? b->len : 0;
  if (have + len > cfg->sio_max_payload) {
    char sid[32];
    free(b);
    r->handler_state = NULL;
    if (check_query(r, sid, sizeof sid) >= 0) {
      struct sio_session *s = find_session(sid);
      http_respond_error(r, 413, "payload_too_large", "Over maxPayload.");
      if (s)
        session_end(s, "POST over maxPayload");
    }
    return;
  }
  if (!b || have + len > b->cap) {
    size_t cap = b ? b->cap * 2 : 1024;
    while (cap < have + len)
      cap *= 2;
    struct post_body *g = realloc(b, sizeof *g + cap);
    if (!g) {
      free(b);
      r->handler_state = NULL;
      http_respond_error(r, 500, "internal", "Out of memory.");
      return;
    }
    if (!b)
      g->len = 0;
    g->cap = cap;
    r->handler_state = b = g;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

static void on_post(struct http_req *r, struct sio_session *s) {
  struct post_body *b = r->handler_state;
  r->handler_state = NULL;
  respond_text(r, "ok", 2, NULL);
  size_t pos = 0, len;
  const uint8_t *rec;
  while (b && !s->ended && eio_payload_next(b->data, b->len, &pos, &rec, &len)) {
    if (len && rec[0] == 'b') {
      uint8_t *raw = malloc(eio_base64_decoded_max(len - 1));
      long n = raw ? eio_base64_decode(rec + 1, len - 1, raw) : -1;
      if (n < 0)
        fail(s, "bad base64 in a binary packet");
      else
        attachment(s, raw, (size_t)n);
      free(raw);
    } else {
      handle_eio(s, rec, len);
    }
  }
  free(b);
}

static void on_request(struct http_req *r) {
  char sid[32];
  cfg = r->app->cfg;
  int t = check_query(r, sid, sizeof sid);
  if (t < 0)
    return;
  struct sio_session *s = sid[0] ? find_session(sid) : NULL;
  if (sid[0] && (!s || s->ended)) {
    eio_error(r, 1, "Session ID unknown");
    return;
  }
  if (t == 1) {
    if (s && (!s->polling || s->probe)) {
      eio_error(r, 3, "Bad request");
      return;
    }
    ws_accept(r, &sio_ws, &s, sizeof s);
    return;
  }
  if (r->method == METHOD_POST) {
    if (!s || !s->polling) {
      eio_error(r, 3, "Bad request");
      return;
    }
    on_post(r, s);
    return;
  }
  if (!s) {
    s = session_new(r->c->addr, true);
    if (!s) {
      http_respond_error(r, 500, "internal", "Out of memory.");
      return;
    }
    char open[192];
    int n = open_packet(s, open, sizeof open);
    respond_text(r, open, (size_t)n, NULL);
    return;
  }
  if (s->poll || !s->polling) {
    /* Two polls at once break the protocol: the session ends. */
    eio_error(r, 3, "Bad request");
    session_end(s, "overlapping polls");
    return;
  }
  s->poll = r;
  r->handler_state = s;
  flush_poll(s);
}

static void on_abort(struct http_req *r) {
  if (r->method == METHOD_POST) {
    free(r->handler_state);
  } else if (r->handler_state) {
    struct sio_session *s = r->handler_state;
    if (s->poll == r)
      s->poll = NULL;
  }
  r->handler_state = NULL;
}

const http_handler socketio_handler = {
    .on_headers = on_headers,
    .on_body = on_body,
    .on_complete = on_request,
    .on_abort = on_abort,
};

int socketio_leave(const char *room_id, size_t len, const char *socket_id, size_t id_len) {
  struct hub_member *m = hub_find_peer(socket_id, id_len);
  if (!m || m->proto != HUB_SOCKETIO || !m->room || m->room->name_len != len ||
      memcmp(m->room->name, room_id, len) != 0)
    return -1;
  leave_room(session_of(m));
  return 0;
}

void socketio_free(void) {
  /* Sessions still open at exit (polling ones whose client left). */
  size_t pos = 0;
  struct sio_session *s;
  while ((s = hmap_next(&sessions, &pos))) {
    pending_clear(s);
    for (size_t i = 0; i < s->q_len; i++)
      buf_unref(s->q[i].data);
    free(s->q);
    free(s->relayed);
    free(s);
  }
  hmap_free(&sessions);
  if (joins_ready)
    ratelimit_free(&joins);
  joins_ready = false;
}
