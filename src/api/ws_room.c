#include "api/ws_room.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/bridge.h"
#include "api/chat_ws.h"
#include "api/privydrop.h"
#include "api/ws_doc.h"
#include "api/ws_wait.h"
#include "bus/bus.h"
#include "config.h"
#include "http/query.h"
#include "metrics.h"
#include "hub/hub.h"
#include "net/server.h"
#include "rooms/peer_info.h"
#include "rooms/room.h"
#include "util/json_scan.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "ws/ws_conn.h"

/* Most missed items replayed on a reconnect; older ones are a REST page away. */
#define REPLAY_MAX 500

/* What the upgrade hands to on_open; replaced by the hub member there. */
struct join_request {
  int64_t after;  /* replay items after this seq; -1: no replay */
  uint8_t stored; /* a drop room (by id) rather than an ad-hoc name */
  struct peer_device device;
  uint8_t len;
  char room[HUB_ROOM_NAME_MAX + 1];
};

_Static_assert(sizeof(struct join_request) <= WS_APP_STATE, "join request fits");
_Static_assert(sizeof(struct ws_member) <= WS_APP_STATE, "member fits");

static struct ws_member *ws_member(conn *c) {
  return ws_app_state(c);
}

static struct hub_member *member(conn *c) {
  return &ws_member(c)->m;
}

/* A growable text for outgoing JSON. Room names and peer ids are of a safe
 * alphabet, so they are written without escaping. */
struct text {
  char *p;
  size_t len, cap;
  int failed;
};

/* Makes room for n more bytes and returns where they go, or NULL. */
static char *text_reserve(struct text *t, size_t n) {
  if (t->failed)
    return NULL;
  if (t->len + n > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n)
      cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
      t->failed = 1;
      return NULL;
    }
    t->p = p;
    t->cap = cap;
  }
  char *at = t->p + t->len;
  t->len += n;
  return at;
}

static void text_add(struct text *t, const char *s, size_t n) {
  char *at = text_reserve(t, n);
  if (at && n)
    memcpy(at, s, n);
}

static void text_str(struct text *t, const char *s) {
  text_add(t, s, strlen(s));
}

/* Builds the frame once; the caller sends or broadcasts it. */
static buf *text_frame(struct text *t) {
  buf *f = t->failed ? NULL : ws_frame_build(WS_OP_TEXT, t->p, t->len);
  free(t->p);
  return f;
}

static void send_frame(conn *c, buf *f) {
  if (!f)
    return;
  ws_send(c, f);
  buf_unref(f);
}

void ws_room_send_error(conn *c, const char *code, const char *message) {
  char out[384];
  int n = snprintf(out, sizeof out, "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"%s\"}", code,
                   message);
  if (n > 0 && (size_t)n < sizeof out)
    ws_send_text(c, out, (size_t)n);
}

/* {"peer_id","name","device"}: what others see of a member. */
json_t *ws_room_peer_json(const struct hub_member *m) {
  char name[48], device[48];
  if (!m->name)
    peer_default_name(m->peer_id, HUB_PEER_ID_LEN, name, sizeof name);
  peer_device_label(m->device, device, sizeof device);
  return json_pack("{s:s, s:s, s:s}", "peer_id", m->peer_id, "name", m->name ? m->name : name,
                   "device", device);
}

/* Sends a JSON object (taking its reference) to one member, or to the room. */
void ws_room_emit_json(json_t *o, conn *to, struct hub_room *room,
                       const struct hub_member *except) {
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  buf *f = text ? ws_frame_build(WS_OP_TEXT, text, strlen(text)) : NULL;
  free(text);
  if (!f)
    return;
  if (to)
    ws_send(to, f);
  else
    hub_broadcast(room, f, except);
  buf_unref(f);
}

/* peer.joined and peer.updated carry the peer; peer.left only its id. */
void ws_room_peer_event(struct hub_member *m, const char *type) {
  if (!m->room)
    return; /* a failed write may already have taken the member out */
  bool left = strcmp(type, "peer.left") == 0, joined = strcmp(type, "peer.joined") == 0;
  json_t *o = left ? json_pack("{s:s}", "peer_id", m->peer_id) : ws_room_peer_json(m);
  if (o)
    json_object_set_new(o, "type", json_string(type));
  ws_room_emit_json(o, NULL, m->room, strcmp(type, "peer.updated") == 0 ? NULL : m);
  if (m->proto == HUB_NATIVE && (left || joined))
    bridge_native_presence(m, joined);
}

struct room_facts {
  char code[STORE_CODE_LEN + 1];
  char expires_at[32];
  char language[DOC_LANGUAGE_MAX + 1]; /* empty: none */
  bool code_room;
  int found;
};

static void read_facts(struct room_facts *f, const struct room_row *room) {
  f->found = 1;
  memcpy(f->code, room->code, sizeof f->code);
  time_iso8601(room->expires_at, f->expires_at, sizeof f->expires_at);
  f->code_room = room->kind && strcmp(room->kind, "code") == 0;
  snprintf(f->language, sizeof f->language, "%s", room->language ? room->language : "");
}

static void append_json(struct text *t, json_t *o) {
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  text_str(t, s ? s : "null");
  free(s);
}

/* A stored room's welcome carries its code and expiry; a code room's also
 * its kind and document. */
static void send_welcome(conn *c, struct hub_member *m, const struct room_facts *f,
                         const struct bus_member *remote, size_t remote_count) {
  struct hub_room *r = m->room;
  struct text t = {0};
  char num[32];
  text_str(&t, "{\"type\":\"welcome\",\"peer_id\":\"");
  text_str(&t, m->peer_id);
  text_str(&t, "\",\"room\":\"");
  text_add(&t, r->name, r->name_len);
  if (f && f->found) {
    text_str(&t, "\",\"code\":\"");
    text_str(&t, f->code);
    text_str(&t, "\",\"expires_at\":\"");
    text_str(&t, f->expires_at);
    text_str(&t, "\",\"kind\":\"");
    text_str(&t, f->code_room ? "code" : "drop");
  }
  if (f && f->code_room) {
    text_str(&t, "\",\"doc\":");
    append_json(&t, ws_doc_state(c->srv->app, m));
    text_str(&t, ",\"");
  } else {
    text_str(&t, "\",\"");
  }
  text_str(&t, "you\":");
  append_json(&t, ws_room_peer_json(m));
  text_str(&t, ",\"peers\":[");
  uint32_t listed = 0;
  for (uint32_t i = 0; i < r->count && listed < WELCOME_PEERS_MAX; i++) {
    if (r->members[i] == m)
      continue;
    json_t *p = ws_room_peer_json(r->members[i]);
    char *pt = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!pt)
      continue;
    if (listed++)
      text_str(&t, ",");
    text_str(&t, pt);
    free(pt);
  }
  /* Members on other instances, as they listed themselves (checked to be
   * JSON objects before they are copied into the frame). */
  for (size_t i = 0; i < remote_count && listed < WELCOME_PEERS_MAX; i++) {
    json_t *p = json_loads(remote[i].info, 0, NULL);
    if (json_is_object(p)) {
      if (listed++)
        text_str(&t, ",");
      append_json(&t, json_incref(p));
    }
    json_decref(p);
  }
  snprintf(num, sizeof num, "],\"peer_count\":%zu}", (size_t)(r->count - 1) + remote_count);
  text_str(&t, num);
  send_frame(c, text_frame(&t));
}

/* A member joining: its room looked up, a code room's document opened,
 * the items it missed read, before it joins the hub and hears its welcome
 * (the first frame), all in one turn. Frames it sends meanwhile are held. */
struct joining {
  struct app *app;
  struct ws_wait *w; /* NULL for an ad-hoc room: joined at once, through `c` */
  conn *c;
  struct join_request req;
  struct room_facts facts;
  struct doc *doc; /* a code room's, with a use, until the member takes it */
  buf **replayed;  /* the missed items' frames, in seq order */
  size_t replayed_count;
  int replay_status;
  char peer_id[HUB_PEER_ID_LEN + 1]; /* once joined: the member, found again by it */
};

/* The connection joining, or NULL when it went away. */
static conn *joining_conn(const struct joining *j) {
  return j->w ? ws_wait_conn(j->w) : j->c;
}

static void join_free(struct joining *j) {
  if (j->doc)
    doc_close(&j->app->docs, j->doc);
  for (size_t i = 0; i < j->replayed_count; i++)
    buf_unref(j->replayed[i]);
  free(j->replayed);
  if (j->w)
    ws_wait_end(j->w); /* frames held meanwhile are handled now */
  free(j);
}

/* The join cannot go on: the client hears why and the socket closes. */
static void join_refuse(struct joining *j, const char *code, const char *message,
                        const char *reason) {
  conn *c = joining_conn(j);
  if (c) {
    ws_room_send_error(c, code, message);
    ws_close(c, 1011, reason);
  }
  join_free(j);
}

/* The welcome (the first frame), a code room's document, the items missed,
 * then what the room said meanwhile, once the members on other instances
 * (remote, n) are known. The member is found again by its id: it may have
 * gone while Redis answered. */
static void join_welcome(struct joining *j, const struct bus_member *remote, size_t n) {
  struct hub_member *m = hub_find_peer(j->peer_id, HUB_PEER_ID_LEN);
  if (m && m->room && m->proto == HUB_NATIVE) {
    conn *c = m->c;
    send_welcome(c, m, j->req.stored ? &j->facts : NULL, remote, n);
    if (j->facts.code_room)
      ws_doc_send_init(j->app, m);
    for (size_t i = 0; i < j->replayed_count; i++)
      ws_send(c, j->replayed[i]);
    if (j->replay_status < 0)
      ws_room_send_error(c, "storage_unavailable",
                         "The items missed could not be read; reload the room's items.");
    hub_release(m); /* what the room said while the welcome waited */
    if (m->room)
      ws_room_peer_event(m, "peer.joined");
  }
  join_free(j);
}

static void welcome_with(void *ctx, const struct bus_member *remote, size_t n) {
  join_welcome(ctx, remote, n);
}

static void join_finish(struct joining *j) {
  conn *c = joining_conn(j);
  if (!c) {
    join_free(j);
    return;
  }
  struct hub_member *m = member(c);
  const struct join_request *req = &j->req;
  if (hub_join(m, c, req->room, req->len) < 0) {
    join_refuse(j, "internal", "Out of memory.", "out of memory");
    return;
  }
  if (req->stored)
    m->room->stored = 1;
  struct log_field f[] = {LOG_STRN("room", req->room, req->len), LOG_STR("peer", m->peer_id),
                          LOG_STR("addr", conn_peer_text(c))};
  log_fields(LOG_INFO, "ws.open", f, 3);
  if (j->doc) { /* the member's use of the document from now on */
    m->doc_flags |= WS_DOC_OPEN;
    j->doc = NULL;
  }
  memcpy(j->peer_id, m->peer_id, sizeof j->peer_id);
  if (bus_up()) { /* the welcome lists members on other instances too */
    hub_hold(m);
    bus_members_get(m->room->name, m->room->name_len, welcome_with, j);
    return;
  }
  join_welcome(j, NULL, 0);
}

static void replay_one(void *ctx, int status, const struct item_row *it) {
  struct joining *j = ctx;
  if (!it) {
    j->replay_status = status;
    join_finish(j);
    return;
  }
  if (!ws_wait_conn(j->w) || j->replayed_count >= REPLAY_MAX)
    return;
  if (!j->replayed && !(j->replayed = calloc(REPLAY_MAX, sizeof *j->replayed))) {
    j->replay_status = STORE_FAILED;
    return;
  }
  json_t *frame = json_pack("{s:s, s:o}", "type", "item", "item", api_item_json(it));
  char *text = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
  json_decref(frame);
  buf *f = text ? ws_frame_build(WS_OP_TEXT, text, strlen(text)) : NULL;
  free(text);
  if (f)
    j->replayed[j->replayed_count++] = f;
}

/* A reconnecting client gets what it missed before anything new. */
static void join_replay(struct joining *j) {
  if (j->req.stored && j->req.after >= 0 && ws_wait_conn(j->w))
    store_items_list(j->app->store, j->req.room, j->req.after, REPLAY_MAX, replay_one, j);
  else
    join_finish(j);
}

static void doc_opened(void *ctx, int status, struct doc *d) {
  struct joining *j = ctx;
  j->doc = d;
  if (status == DOC_NO_MEMORY)
    join_refuse(j, "internal", "Out of memory.", "out of memory");
  else if (status != DOC_OK)
    join_refuse(j, "storage_unavailable", "The document could not be read; try again.",
                "document unavailable");
  else
    join_replay(j);
}

static void got_room(void *ctx, int status, const struct room_row *room) {
  struct joining *j = ctx;
  if (room)
    read_facts(&j->facts, room);
  if (!ws_wait_conn(j->w)) {
    join_free(j);
  } else if (status < 0 && status != STORE_NOT_FOUND) {
    join_refuse(j, "storage_unavailable", "The room could not be read; try again.",
                "storage unavailable");
  } else if (j->facts.code_room) {
    doc_open_async(&j->app->docs, j->req.room, j->facts.language[0] ? j->facts.language : NULL,
                   doc_opened, j);
  } else {
    join_replay(j);
  }
}

static void handle_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len);

static void on_open(conn *c) {
  struct join_request req;
  memcpy(&req, ws_app_state(c), sizeof req);
  struct ws_member *wm = ws_member(c);
  memset(wm, 0, sizeof *wm);
  wm->m.device = req.device;
  /* An ad-hoc room keeps nothing and never waits on the store: its
   * members (signaling, the most numerous) need no handle. */
  wm->wait = req.stored ? ws_wait_new(c, handle_message) : NULL;
  struct joining *j = calloc(1, sizeof *j);
  if (!j || (req.stored && !wm->wait)) {
    free(j);
    ws_close(c, 1011, "out of memory");
    return;
  }
  j->app = c->srv->app;
  j->req = req;
  if (!req.stored) {
    j->c = c;
    join_finish(j);
    return;
  }
  j->w = ws_wait_begin(wm->wait);
  store_room_get(j->app->store, req.room, req.len, got_room, j);
}

static void on_close(conn *c) {
  struct hub_member *m = member(c);
  ws_wait_closed(ws_member(c)->wait); /* answers still due find no connection */
  ws_member(c)->wait = NULL;
  if (!m->room)
    return;
  struct log_field f[] = {LOG_STRN("room", m->room->name, m->room->name_len),
                          LOG_STR("peer", m->peer_id), LOG_NUM("bytes_in", c->bytes_in),
                          LOG_NUM("bytes_out", c->bytes_out)};
  log_fields(LOG_INFO, "ws.close", f, 4);
  if (!m->held) /* gone before its welcome: nobody heard it join */
    ws_room_peer_event(m, "peer.left");
  ws_doc_leave(c->srv->app, m);
  char name[HUB_ROOM_NAME_MAX];
  size_t name_len = m->room->name_len;
  memcpy(name, m->room->name, name_len);
  hub_leave(m);
  if (!hub_find_room(name, name_len)) /* a PrivyDrop room of that name waits 15 minutes */
    privydrop_room_emptied(name, name_len, uv_now(c->srv->loop));
  free(m->name);
  m->name = NULL;
}

/* A member names itself: {"type":"peer.update","name":"..."}; everyone,
 * the member too, hears peer.updated. */
static void update_peer(conn *c, struct hub_member *m, json_t *msg) {
  json_t *name = json_object_get(msg, "name");
  size_t start, len;
  if (!json_is_string(name) ||
      peer_name_check(json_string_value(name), json_string_length(name), &start, &len) < 0) {
    ws_room_send_error(c, "bad_name", "A name is 1 to 40 bytes of text.");
    ws_count_error(c);
    return;
  }
  char *copy = strndup(json_string_value(name) + start, len);
  if (!copy)
    return;
  free(m->name);
  m->name = copy;
  hub_member_changed(m);
  ws_room_peer_event(m, "peer.updated");
}

/* Binary frames are the relay of last resort for direct transfers: the
 * first 12 bytes name the target peer, the rest is passed on with the
 * sender's id in their place. Never stored, never parsed. */
/* The relayed frame: the sender's id in place of the target's. */
static buf *relay_frame(const struct hub_member *m, const uint8_t *data, size_t len) {
  buf *f = buf_new(WS_HEADER_MAX + len);
  if (!f)
    return NULL;
  size_t h = ws_frame_header(f->data, WS_OP_BINARY, true, len);
  memcpy(f->data + h, m->peer_id, HUB_PEER_ID_LEN);
  memcpy(f->data + h + HUB_PEER_ID_LEN, data + HUB_PEER_ID_LEN, len - HUB_PEER_ID_LEN);
  f->len = (uint32_t)(h + len);
  return f;
}

/* A relay frame for a peer on another instance: sent there once the bus
 * says which; that instance answers relay_busy itself when the receiver
 * has a backlog. */
struct remote_relay {
  buf *frame;
  size_t payload;
  uint8_t room_len;
  char room[HUB_ROOM_NAME_MAX + 1];
  char from[HUB_PEER_ID_LEN + 1];
};

static void remote_relay_found(void *ctx, const struct bus_member *target) {
  struct remote_relay *rr = ctx;
  bool sent = target && target->proto == HUB_NATIVE &&
              hub_publish_to_peer(target->instance, rr->room, rr->room_len, target->peer_id,
                                  HUB_NATIVE, &rr->frame, NULL, 1, rr->from);
  struct hub_member *from = hub_find_peer(rr->from, HUB_PEER_ID_LEN);
  if (sent) {
    metrics.relay_messages++;
    metrics.relay_bytes += rr->payload;
  } else if (from && from->room)
    ws_room_send_error(from->c, "unknown_peer", "No such peer in this room.");
  buf_unref(rr->frame);
  free(rr);
}

static void relay_remote(struct hub_member *m, const uint8_t *data, size_t len) {
  struct remote_relay *rr = calloc(1, sizeof *rr);
  if (!rr || !(rr->frame = relay_frame(m, data, len))) {
    free(rr);
    return;
  }
  rr->payload = len - HUB_PEER_ID_LEN;
  rr->room_len = m->room->name_len;
  memcpy(rr->room, m->room->name, rr->room_len);
  memcpy(rr->from, m->peer_id, HUB_PEER_ID_LEN);
  char peer[HUB_PEER_ID_LEN + 1];
  memcpy(peer, data, HUB_PEER_ID_LEN);
  peer[HUB_PEER_ID_LEN] = 0;
  bus_member_find(rr->room, rr->room_len, peer, remote_relay_found, rr);
}

static void relay_binary(conn *c, struct hub_member *m, const uint8_t *data, size_t len) {
  const struct config *cfg = c->srv->cfg;
  if (len < HUB_PEER_ID_LEN || len - HUB_PEER_ID_LEN > cfg->relay_max_message) {
    ws_room_send_error(c, "bad_relay",
                       "A relay frame is a 12-byte peer id and at most --relay-max-message bytes.");
    ws_count_error(c);
    return;
  }
  struct hub_member *target = hub_find_peer((const char *)data, HUB_PEER_ID_LEN);
  uint32_t burst = cfg->relay_rate > UINT32_MAX / 2 ? UINT32_MAX : (uint32_t)cfg->relay_rate * 2;
  if (!target && bus_up()) { /* maybe on another instance */
    if (!bucket_take(&m->relay, uv_now(c->srv->loop), (uint32_t)cfg->relay_rate, burst,
                     (uint32_t)len))
      ws_room_send_error(c, "relay_busy", "The relay is at its limit; slow down.");
    else
      relay_remote(m, data, len);
    return;
  }
  /* A Socket.IO member has no relay of this kind (and maybe no socket now). */
  if (!target || target->room != m->room || target == m || target->proto != HUB_NATIVE) {
    ws_room_send_error(c, "unknown_peer", "No such peer in this room.");
    return;
  }
  /* A sender past its rate, or a receiver with a backlog, gets relay_busy
   * and slows down (the transfer protocol waits for acknowledgements);
   * the receiver is never cut off for a sender's haste. */
  if (!bucket_take(&m->relay, uv_now(c->srv->loop), (uint32_t)cfg->relay_rate, burst,
                   (uint32_t)len) ||
      target->c->queued_bytes > cfg->ws_max_queue / 2) {
    ws_room_send_error(c, "relay_busy", "The relay is at its limit; slow down.");
    return;
  }
  buf *f = relay_frame(m, data, len);
  if (!f)
    return;
  if (ws_send(target->c, f) == 0) {
    metrics.relay_messages++;
    metrics.relay_bytes += len - HUB_PEER_ID_LEN;
  }
  buf_unref(f);
}

static void refuse(conn *c, const char *code, const char *message) {
  ws_room_send_error(c, code, message);
  ws_count_error(c);
}

/* {"type":"signal","from":...,"data":...} with `data` copied as written. */
static buf *signal_frame(const struct hub_member *m, struct json_span data) {
  static const char head[] = "{\"type\":\"signal\",\"from\":\"", mid[] = "\",\"data\":";
  struct ws_part parts[] = {{head, sizeof head - 1},
                            {m->peer_id, strlen(m->peer_id)},
                            {mid, sizeof mid - 1},
                            {data.p, data.len},
                            {"}", 1}};
  return ws_frame_gather(WS_OP_TEXT, parts, sizeof parts / sizeof *parts);
}

/* A signal for a peer that is not here: built now, sent to the peer's
 * instance once the bus says which (or unknown_peer to the sender). */
struct remote_signal {
  buf *frame;
  buf *packet; /* the same for a Socket.IO peer (bridge.h), or NULL */
  uint8_t room_len;
  char room[HUB_ROOM_NAME_MAX + 1];
  char from[HUB_PEER_ID_LEN + 1];
};

static void remote_signal_found(void *ctx, const struct bus_member *target) {
  struct remote_signal *rs = ctx;
  buf *what = !target ? NULL : target->proto == HUB_NATIVE ? rs->frame : rs->packet;
  bool sent = what && hub_publish_to_peer(target->instance, rs->room, rs->room_len, target->peer_id,
                                          target->proto, &what, NULL, 1, NULL);
  struct hub_member *from = hub_find_peer(rs->from, HUB_PEER_ID_LEN);
  if (sent)
    metrics.signals_relayed++;
  /* An unknown peer is an error; a known one whose protocol has no such
   * signal just does not hear it, as in one instance. */
  if (!target && from && from->room)
    refuse(from->c, "unknown_peer", "No such peer in this room.");
  buf_unref(rs->frame);
  buf_unref(rs->packet);
  free(rs);
}

static void signal_remote(struct hub_member *m, const char *peer, struct json_span data) {
  struct remote_signal *rs = calloc(1, sizeof *rs);
  if (!rs || !(rs->frame = signal_frame(m, data))) {
    free(rs);
    return;
  }
  rs->packet = bridge_socketio_packet(m->peer_id, data);
  rs->room_len = m->room->name_len;
  memcpy(rs->room, m->room->name, rs->room_len);
  memcpy(rs->from, m->peer_id, HUB_PEER_ID_LEN);
  bus_member_find(rs->room, rs->room_len, peer, remote_signal_found, rs);
}

/* The hot path: `to` and `data` are spans of the message as received, so
 * `data` (an SDP or ICE candidate) is copied into the outgoing frame as
 * written, never parsed into a tree and dumped again. */
static void relay_signal(conn *c, struct hub_member *m, struct json_span to, struct json_span data,
                         size_t msg_len) {
  const struct config *cfg = c->srv->cfg;
  uint32_t rate = (uint32_t)cfg->signal_rate;
  if (!bucket_take(&m->signals, uv_now(c->srv->loop), rate, rate * 2, 1)) {
    refuse(c, "rate_limited", "Too many signals; slow down.");
    return;
  }
  if (msg_len > cfg->signal_max_bytes + 256) {
    refuse(c, "signal_too_large", "The signal data is larger than this server relays.");
    return;
  }
  if (!data.p) {
    refuse(c, "bad_message", "A signal needs a data field.");
    return;
  }
  struct hub_member *target = NULL;
  if (to.p) {
    char peer[HUB_PEER_ID_LEN + 2];
    if (to.p[0] != '"') {
      refuse(c, "bad_message", "The to field must be a peer id.");
      return;
    }
    long n = json_span_string(to, peer, sizeof peer);
    target = n > 0 ? hub_find_peer(peer, (size_t)n) : NULL;
    if (!target && n == HUB_PEER_ID_LEN && bus_up()) {
      signal_remote(m, peer, data);
      return;
    }
    if (!target || target->room != m->room || target == m) {
      refuse(c, "unknown_peer", "No such peer in this room.");
      return;
    }
    if (target->proto != HUB_NATIVE) { /* a PrivyDrop client: in its own words */
      metrics.signals_relayed++;
      bridge_signal_to_socketio(m->room, target, m->peer_id, data);
      return;
    }
  }
  buf *f = signal_frame(m, data);
  if (!f)
    return;
  metrics.signals_relayed++;
  if (target)
    ws_send(target->c, f);
  else
    hub_broadcast(m->room, f, m);
  buf_unref(f);
  if (!target)
    bridge_signal_to_socketio(m->room, NULL, m->peer_id, data);
}

/* Messages other than signals: rare enough to be parsed into a tree. */
static void handle_parsed(conn *c, struct hub_member *m, const char *type, const uint8_t *data,
                          size_t len) {
  json_t *msg = json_loadb((const char *)data, len, JSON_ALLOW_NUL, NULL);
  if (!msg) {
    refuse(c, "bad_json", "The message is not valid JSON.");
    return;
  }
  if (strcmp(type, "peer.update") == 0)
    update_peer(c, m, msg);
  else if (!ws_doc_message(c, m, ws_member(c)->wait, type, msg)) /* the editor's messages */
    refuse(c, "unknown_type", "Unknown message type.");
  json_decref(msg);
}

static void handle_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct hub_member *m = member(c);
  if (!m->room)
    return;
  if (op == WS_OP_BINARY) {
    relay_binary(c, m, data, len);
    return;
  }
  struct json_field f[] = {{.key = "type"}, {.key = "to"}, {.key = "data"}};
  enum json_scan_result scanned = json_scan_object((const char *)data, len, f, 3);
  if (scanned == JSON_SCAN_INVALID) {
    refuse(c, "bad_json", "The message is not valid JSON.");
    return;
  }
  char type[32];
  if (scanned != JSON_SCAN_OK || json_span_string(f[0].value, type, sizeof type) < 0) {
    refuse(c, "bad_message", "A message is a JSON object with a type.");
    return;
  }
  if (strcmp(type, "signal") == 0)
    relay_signal(c, m, f[1].value, f[2].value, len);
  else
    handle_parsed(c, m, type, data, len);
}

/* While the member waits on the store (its join, a push), what it sends
 * waits behind, in order. */
static void on_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct ws_wait *w = ws_member(c)->wait;
  if (w && ws_wait_busy(w))
    ws_wait_hold(w, op, data, len);
  else
    handle_message(c, op, data, len);
}

static const struct ws_handler room_ws = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* A drop room, found by id or code: members meet under its id. */
static struct peer_device device_of(struct http_req *r) {
  size_t len;
  const char *ua = http_header(r, "user-agent", &len);
  return peer_device_from_ua(ua, len);
}

static void join_stored(struct http_req *r, const struct room_row *room) {
  if (room->owner_id) {
    chat_ws_join(r, room);
    return;
  }
  struct join_request req = {.after = -1, .stored = 1, .len = STORE_ID_LEN, .device = device_of(r)};
  memcpy(req.room, room->id, STORE_ID_LEN);
  char v[24];
  if (query_param(r->query, r->query_len, "after", v, sizeof v) > 0) {
    char *end;
    long long after = strtoll(v, &end, 10);
    if (*end || after < 0) {
      http_respond_error(r, 400, "bad_query", "after is the last seq seen (0 or more).");
      return;
    }
    req.after = after;
  }
  ws_accept(r, &room_ws, &req, sizeof req);
}

static void on_upgrade_request(struct http_req *r) {
  size_t len;
  const char *room = route_param(&r->match, "room", &len);
  if (room && (room_key_is_id(room, len) || room_key_is_code(room, len))) {
    api_with_room(r, join_stored);
    return;
  }
  /* Any other name is an ad-hoc room: it lives while someone is in it and
   * keeps nothing (signaling between peers that agreed on a name). */
  if (!room || !hub_room_name_valid(room, len)) {
    http_respond_error(r, 400, "bad_room",
                       "A room name is 1-64 characters of A-Z, a-z, 0-9, _ and -.");
    return;
  }
  struct join_request req = {.after = -1, .len = (uint8_t)len, .device = device_of(r)};
  memcpy(req.room, room, len);
  ws_accept(r, &room_ws, &req, sizeof req);
}

const http_handler ws_room_handler = {.on_complete = on_upgrade_request,
                                      .on_abort = api_pending_abort};
