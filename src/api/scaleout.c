#include "api/scaleout.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/chat_ws.h"
#include "api/socketio.h"
#include "api/ws_doc.h"
#include "api/ws_room.h"
#include "bus/bus.h"
#include "hub/hub.h"
#include "ws/ws_conn.h"

/* The public info others list for a member, as the welcome shows it. */
static char *member_info(const struct hub_member *m) {
  json_t *o = ws_room_peer_json(m);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return text;
}

static void on_joined(struct hub_member *m) {
  char *info = bus_shared() ? member_info(m) : NULL;
  if (info)
    bus_member_add(m->room->name, m->room->name_len, m->peer_id, m->proto, info);
  free(info);
}

static void on_left(struct hub_member *m) {
  if (bus_shared())
    bus_member_remove(m->room->name, m->room->name_len, m->peer_id);
}

static void deliver_to_peer(const struct bus_envelope *e) {
  struct hub_member *m = hub_find_peer(e->target, e->target_len);
  if (!m || !m->room || m->room->name_len != e->room_len ||
      memcmp(m->room->name, e->room, e->room_len) != 0 || e->count == 0)
    return;
  if (m->proto == HUB_SOCKETIO) {
    socketio_deliver_to(m, e->parts, e->count);
    return;
  }
  buf *f = buf_from(e->parts[0].p, e->parts[0].len);
  if (f)
    ws_send(m->c, f);
  buf_unref(f);
}

static const struct config *cfg;
static struct app *app;

/* A relayed binary frame from a member on another instance: the same
 * backpressure as in one instance, relay_busy going back to the sender. */
static void deliver_relay(const struct bus_envelope *e) {
  struct hub_member *m = hub_find_peer(e->target, e->target_len);
  if (!m || !m->room || m->proto != HUB_NATIVE || m->room->name_len != e->room_len ||
      memcmp(m->room->name, e->room, e->room_len) != 0 || e->count != 1 ||
      e->except_len != HUB_PEER_ID_LEN || e->origin_len > BUS_INSTANCE_MAX)
    return;
  if (m->c->queued_bytes > cfg->ws_max_queue / 2) {
    static const char busy[] = "{\"type\":\"error\",\"code\":\"relay_busy\",\"message\":"
                               "\"The relay is at its limit; slow down.\"}";
    char origin[BUS_INSTANCE_MAX + 1], from[HUB_PEER_ID_LEN + 1];
    memcpy(origin, e->origin, e->origin_len);
    origin[e->origin_len] = 0;
    memcpy(from, e->except, HUB_PEER_ID_LEN);
    from[HUB_PEER_ID_LEN] = 0;
    buf *f = ws_frame_build(WS_OP_TEXT, busy, sizeof busy - 1);
    if (f)
      hub_publish_to_peer(origin, e->room, e->room_len, from, HUB_NATIVE, &f, NULL, 1, NULL);
    buf_unref(f);
    return;
  }
  buf *f = buf_from(e->parts[0].p, e->parts[0].len); /* counted where it was sent */
  if (f)
    ws_send(m->c, f);
  buf_unref(f);
}

/* What another instance tells a chat room's members here. */
static void deliver_chat(const struct bus_envelope *e) {
  char room[STORE_ID_LEN + 1], text[24];
  if (e->room_len != STORE_ID_LEN || e->count != 1 || e->parts[0].len >= sizeof text)
    return;
  memcpy(room, e->room, STORE_ID_LEN);
  room[STORE_ID_LEN] = 0;
  if (e->kind == BUS_CHAT_EVICT) {
    chat_ws_evict_local(room, e->target, e->target_len, (const char *)e->parts[0].p,
                        e->parts[0].len);
    return;
  }
  memcpy(text, e->parts[0].p, e->parts[0].len);
  text[e->parts[0].len] = 0;
  char *end;
  long long closes_at = strtoll(text, &end, 10);
  if (e->parts[0].len && !*end)
    chat_ws_closes_at_local(room, closes_at);
}

/* From this instance, or from another one that stored what it tells: then
 * this instance's document follows, in the same turn as its members hear
 * (what they send next meets the document they saw). */
static void deliver_native_broadcast(const struct bus_envelope *e) {
  hub_deliver_native(e->room, e->room_len, e->parts[0].p, e->parts[0].len, e->except, e->except_len,
                     e->skip_flags);
  const char *self = bus_instance();
  if (e->origin_len != strlen(self) || memcmp(e->origin, self, e->origin_len) != 0)
    ws_doc_follow_frame(app, e->room, e->room_len, e->parts[0].p, e->parts[0].len);
}

static void deliver(const struct bus_envelope *e) {
  switch (e->kind) {
  case BUS_BROADCAST:
    if (e->proto == HUB_SOCKETIO)
      socketio_deliver(e->room, e->room_len, e->except, e->except_len, e->parts, e->count);
    else if (e->count == 1)
      deliver_native_broadcast(e);
    return;
  case BUS_ROOM_CLOSED: {
    char reason[64];
    size_t n = e->count && e->parts[0].len < sizeof reason ? e->parts[0].len : 0;
    memcpy(reason, n ? (const char *)e->parts[0].p : "", n);
    reason[n] = 0;
    hub_room_closed_local(e->room, e->room_len, reason);
    return;
  }
  case BUS_TO_PEER: deliver_to_peer(e); return;
  case BUS_RELAY: deliver_relay(e); return;
  case BUS_LEAVE: socketio_leave(e->room, e->room_len, e->target, e->target_len); return;
  case BUS_CHAT_EVICT:
  case BUS_CHAT_CLOSES: deliver_chat(e); return;
  }
}

/* A member of a dead instance: its room hears it left, in each protocol
 * (through the bus, so every instance's members do). */
static void member_gone(const char *room, size_t len, const char *peer_id, uint8_t proto) {
  (void)proto;
  struct hub_room *r = hub_find_room(room, len);
  if (!r)
    return;
  ws_room_emit_json(json_pack("{ssss}", "type", "peer.left", "peer_id", peer_id), NULL, r, NULL);
  json_t *payload = json_pack("{ss}", "peerId", peer_id);
  if (payload && (r = hub_find_room(room, len)))
    socketio_room_emit(r, NULL, "peer-disconnected", payload);
  json_decref(payload);
}

static void reconnected(void) {
  hub_each_member(on_joined);
  chat_ws_relist();
}

/* Listed and announced again, in each protocol, as at a join. */
static void announce(struct hub_member *m) {
  on_joined(m);
  if (!m->room || m->held)
    return;
  ws_room_peer_event(m, "peer.joined");
  json_t *payload = m->proto == HUB_SOCKETIO ? json_pack("{ss}", "peerId", m->peer_id) : NULL;
  if (payload && m->room)
    socketio_room_emit(m->room, m, "ready", payload);
  json_decref(payload);
}

static void rejoined(void) {
  hub_each_member(announce);
  chat_ws_relist();
}

struct leave_wait {
  void (*done)(void *ctx, bool told);
  void *ctx;
  uint8_t room_len;
  char room[HUB_ROOM_NAME_MAX + 1];
};

static void leave_found(void *ctx, const struct bus_member *m) {
  struct leave_wait *w = ctx;
  bool told = false;
  if (m && m->proto == HUB_SOCKETIO) {
    struct bus_envelope e = {.kind = BUS_LEAVE, .proto = HUB_SOCKETIO};
    e.room = w->room;
    e.room_len = w->room_len;
    e.except = "";
    e.target = m->peer_id;
    e.target_len = (uint8_t)strlen(m->peer_id);
    told = bus_publish_instance(m->instance, &e);
  }
  w->done(w->ctx, told);
  free(w);
}

bool scaleout_leave_remote(const char *room, size_t len, const char *socket_id,
                           void (*done)(void *ctx, bool told), void *ctx) {
  struct leave_wait *w = bus_up() && len <= HUB_ROOM_NAME_MAX ? calloc(1, sizeof *w) : NULL;
  if (!w)
    return false;
  w->done = done;
  w->ctx = ctx;
  w->room_len = (uint8_t)len;
  memcpy(w->room, room, len);
  bus_member_find(room, len, socket_id, leave_found, w);
  return true;
}

int scaleout_start(uv_loop_t *loop, struct app *the_app, const struct config *config, char *err,
                   size_t errlen) {
  cfg = config;
  app = the_app;
  if (!cfg->redis_url)
    return 0;
  static const struct bus_hooks hooks = {.deliver = deliver,
                                         .member_gone = member_gone,
                                         .reconnected = reconnected,
                                         .rejoined = rejoined};
  static const struct hub_observer observer = {.joined = on_joined, .left = on_left};
  if (bus_start(loop, cfg->redis_url, cfg->instance_id, &hooks, err, errlen) < 0)
    return -1;
  hub_set_observer(&observer);
  return 0;
}

void scaleout_stop(void) {
  bus_stop();
}
