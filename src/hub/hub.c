#include "hub/hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "metrics.h"
#include "util/hmap.h"
#include "util/rand.h"
#include "ws/ws_conn.h"

static hmap rooms; /* name -> struct hub_room */
static hmap peers; /* peer id -> struct hub_member */
static struct hub_observer observer;
static hmap held; /* peer id -> struct held_frames, members waiting for their welcome */

struct held_frames {
  uint32_t count, cap;
  uint64_t bytes; /* of the frames kept (each shared with the room's other members) */
  bool overflow;
  buf **frames;
};

void hub_hold(struct hub_member *m) {
  struct held_frames *h = calloc(1, sizeof *h);
  if (h && hmap_put(&held, m->peer_id, HUB_PEER_ID_LEN, h) < 0) {
    free(h);
    h = NULL;
  }
  m->held = h != NULL; /* out of memory: it hears broadcasts before its welcome */
}

/* Room for one more frame, within the bounds; false when past them. */
static bool held_room(struct held_frames *h, size_t len) {
  if (h->count >= HUB_HELD_MAX || h->bytes + len > HUB_HELD_MAX_BYTES)
    return false;
  if (h->count < h->cap)
    return true;
  uint32_t cap = h->cap ? h->cap * 2 : 16;
  buf **grown = realloc(h->frames, cap * sizeof *grown);
  if (!grown)
    return false;
  h->frames = grown;
  h->cap = cap;
  return true;
}

static void keep_for(struct hub_member *m, buf *frame) {
  struct held_frames *h = hmap_get(&held, m->peer_id, HUB_PEER_ID_LEN);
  if (!h || h->overflow)
    return;
  if (held_room(h, frame->len)) {
    h->frames[h->count++] = buf_ref(frame);
    h->bytes += frame->len;
  } else {
    h->overflow = true;
  }
}

/* Forgets what was kept; sends it first when `send`. */
static void unhold(struct hub_member *m, bool send) {
  if (!m->held)
    return;
  m->held = 0;
  struct held_frames *h = hmap_del(&held, m->peer_id, HUB_PEER_ID_LEN);
  if (!h)
    return;
  for (uint32_t i = 0; i < h->count; i++) {
    if (send && !h->overflow)
      ws_send(m->c, h->frames[i]);
    buf_unref(h->frames[i]);
  }
  if (send && h->overflow)
    ws_close(m->c, WS_CLOSE_TRY_AGAIN, "too much happened before the welcome");
  free(h->frames);
  free(h);
}

void hub_release(struct hub_member *m) {
  unhold(m, true);
}

void hub_set_observer(const struct hub_observer *o) {
  observer = o ? *o : (struct hub_observer){0};
}

int hub_room_name_valid(const char *name, size_t len) {
  if (len < 1 || len > HUB_ROOM_NAME_MAX)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

static struct hub_room *room_get_or_create(const char *name, size_t len) {
  struct hub_room *r = hmap_get(&rooms, name, len);
  if (r)
    return r;
  r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  memcpy(r->name, name, len);
  r->name_len = (uint8_t)len;
  if (hmap_put(&rooms, r->name, r->name_len, r) < 0) {
    free(r);
    return NULL;
  }
  metrics.rooms++;
  return r;
}

static void room_drop_if_empty(struct hub_room *r) {
  if (r->count || r->busy)
    return;
  hmap_del(&rooms, r->name, r->name_len);
  free(r->members);
  free(r);
  metrics.rooms--;
}

static int join(struct hub_member *m, conn *c, const char *name, size_t len) {
  struct hub_room *r = room_get_or_create(name, len);
  if (!r)
    return -1;
  if (r->count == r->cap) {
    uint32_t cap = r->cap ? r->cap * 2 : 4;
    struct hub_member **ms = realloc(r->members, cap * sizeof *ms);
    if (!ms) {
      room_drop_if_empty(r);
      return -1;
    }
    r->members = ms;
    r->cap = cap;
  }
  /* 12 base62 characters: 71 bits, and a retry on the rare collision. */
  do
    rand_base62(m->peer_id, HUB_PEER_ID_LEN);
  while (hmap_get(&peers, m->peer_id, HUB_PEER_ID_LEN));
  if (hmap_put(&peers, m->peer_id, HUB_PEER_ID_LEN, m) < 0) {
    room_drop_if_empty(r);
    return -1;
  }
  m->room = r;
  m->c = c;
  m->index = r->count;
  r->members[r->count++] = m;
  if (m->proto == HUB_SOCKETIO)
    r->socketio++;
  if (r->count == 1)
    bus_room_enter(r->name, r->name_len);
  return 0;
}

int hub_join(struct hub_member *m, conn *c, const char *name, size_t len) {
  if (join(m, c, name, len) < 0)
    return -1;
  if (observer.joined)
    observer.joined(m);
  return 0;
}

void hub_leave(struct hub_member *m) {
  struct hub_room *r = m->room;
  if (!r)
    return;
  if (observer.left)
    observer.left(m);
  unhold(m, false);
  hmap_del(&peers, m->peer_id, HUB_PEER_ID_LEN);
  /* Swap the last member into the hole: O(1), order is not promised. */
  struct hub_member *last = r->members[--r->count];
  r->members[m->index] = last;
  last->index = m->index;
  if (m->proto == HUB_SOCKETIO)
    r->socketio--;
  m->room = NULL;
  if (!r->count)
    bus_room_leave(r->name, r->name_len);
  /* Shrink a room that emptied out, so a crowd that left returns its memory. */
  if (!r->busy && r->cap > 64 && r->count < r->cap / 4) {
    struct hub_member **ms = realloc(r->members, (r->cap / 2) * sizeof *ms);
    if (ms) {
      r->members = ms;
      r->cap /= 2;
    }
  }
  room_drop_if_empty(r);
}

struct hub_member *hub_find_peer(const char *peer_id, size_t len) {
  return hmap_get(&peers, peer_id, len);
}

struct hub_room *hub_find_room(const char *name, size_t len) {
  return hmap_get(&rooms, name, len);
}

/* Sends to this instance's native members: the frame once, a reference
 * per member. */
static void deliver_native(struct hub_room *r, buf *frame, const char *except, size_t except_len,
                           uint8_t skip_flags) {
  /* Sending may close a slow member, which leaves the room and reorders
   * the array: walk from the end so a swapped-in member was already seen. */
  r->busy++;
  for (uint32_t i = r->count; i-- > 0;) {
    if (i >= r->count)
      continue;
    struct hub_member *m = r->members[i];
    if (m->proto != HUB_NATIVE || (m->doc_flags & skip_flags))
      continue;
    if (except_len == HUB_PEER_ID_LEN && memcmp(m->peer_id, except, HUB_PEER_ID_LEN) == 0)
      continue;
    if (m->held)
      keep_for(m, frame);
    else
      ws_send(m->c, frame);
  }
  r->busy--;
  room_drop_if_empty(r);
}

/* An envelope for the room's channel around frames built here. */
static struct bus_envelope envelope(uint8_t kind, uint8_t proto, const struct hub_room *r,
                                    const char *except, buf *const *packets, const bool *binary,
                                    size_t count) {
  struct bus_envelope e = {.kind = kind, .proto = proto, .room = r->name, .room_len = r->name_len};
  e.except = except ? except : "";
  e.except_len = except ? (uint8_t)strlen(except) : 0;
  e.count = count > BUS_PARTS_MAX ? BUS_PARTS_MAX : (uint8_t)count;
  for (uint8_t i = 0; i < e.count; i++)
    e.parts[i] = (struct bus_part){packets[i]->data, packets[i]->len, binary && binary[i]};
  return e;
}

void hub_broadcast_if(struct hub_room *r, buf *frame, const struct hub_member *except,
                      uint8_t skip_flags) {
  if (bus_up()) {
    struct bus_envelope e =
        envelope(BUS_BROADCAST, HUB_NATIVE, r, except ? except->peer_id : NULL, &frame, NULL, 1);
    e.skip_flags = skip_flags;
    if (bus_publish_room(&e))
      return;
  }
  deliver_native(r, frame, except ? except->peer_id : NULL, except ? HUB_PEER_ID_LEN : 0,
                 skip_flags);
}

void hub_broadcast(struct hub_room *r, buf *frame, const struct hub_member *except) {
  hub_broadcast_if(r, frame, except, 0);
}

bool hub_room_anywhere(const char *name, size_t len) {
  return bus_up() || hub_find_room(name, len);
}

void hub_broadcast_named(const char *name, size_t len, buf *frame, const struct hub_member *except,
                         uint8_t skip_flags) {
  struct hub_room *r = hub_find_room(name, len);
  if (r) {
    hub_broadcast_if(r, frame, except, skip_flags);
    return;
  }
  if (!bus_up() || len > HUB_ROOM_NAME_MAX)
    return; /* nobody here, nobody elsewhere */
  struct hub_room named = {.name_len = (uint8_t)len};
  memcpy(named.name, name, len);
  struct bus_envelope e =
      envelope(BUS_BROADCAST, HUB_NATIVE, &named, except ? except->peer_id : NULL, &frame, NULL, 1);
  e.skip_flags = skip_flags;
  bus_publish_room(&e);
}

bool hub_publish_socketio(struct hub_room *r, const char *except_peer, buf *const *packets,
                          const bool *binary, size_t count) {
  if (!bus_up() || count > BUS_PARTS_MAX)
    return false;
  struct bus_envelope e =
      envelope(BUS_BROADCAST, HUB_SOCKETIO, r, except_peer, packets, binary, count);
  return bus_publish_room(&e);
}

bool hub_publish_to_peer(const char *instance, const char *room, size_t room_len,
                         const char *peer_id, uint8_t proto, buf *const *packets,
                         const bool *binary, size_t count, const char *relay_from) {
  if (count > BUS_PARTS_MAX || room_len > HUB_ROOM_NAME_MAX)
    return false;
  struct hub_room named = {.name_len = (uint8_t)room_len};
  memcpy(named.name, room, room_len);
  struct bus_envelope e = envelope(relay_from ? BUS_RELAY : BUS_TO_PEER, proto, &named, relay_from,
                                   packets, binary, count);
  e.target = peer_id;
  e.target_len = (uint8_t)strlen(peer_id);
  return bus_publish_instance(instance, &e);
}

void hub_deliver_native(const char *room, size_t len, const uint8_t *frame, size_t frame_len,
                        const char *except, size_t except_len, uint8_t skip_flags) {
  struct hub_room *r = hub_find_room(room, len);
  buf *f = r ? buf_from(frame, frame_len) : NULL;
  if (f)
    deliver_native(r, f, except, except_len, skip_flags);
  buf_unref(f);
}

void hub_room_closed_local(const char *name, size_t len, const char *reason) {
  struct hub_room *r = hub_find_room(name, len);
  if (!r)
    return;
  char text[96];
  int n = snprintf(text, sizeof text, "{\"type\":\"room.closed\",\"reason\":\"%s\"}", reason);
  buf *f = n > 0 && (size_t)n < sizeof text ? ws_frame_build(WS_OP_TEXT, text, (size_t)n) : NULL;
  r->busy++;
  for (uint32_t i = r->count; i-- > 0;) {
    if (i >= r->count)
      continue;
    if (r->members[i]->proto != HUB_NATIVE)
      continue;
    conn *c = r->members[i]->c;
    if (f)
      ws_send(c, f);
    ws_close(c, WS_CLOSE_NORMAL, "room closed");
  }
  r->busy--;
  buf_unref(f);
  room_drop_if_empty(r);
}

/* A room closed on one instance closes on all: its members may be
 * anywhere, and the room may have none here. */
void hub_room_closed(const char *name, size_t len, const char *reason) {
  if (bus_up() && len <= HUB_ROOM_NAME_MAX) {
    buf *why = buf_from(reason, strlen(reason));
    struct hub_room named = {.name_len = (uint8_t)len};
    memcpy(named.name, name, len);
    struct bus_envelope e = why ? envelope(BUS_ROOM_CLOSED, HUB_NATIVE, &named, NULL, &why, NULL, 1)
                                : (struct bus_envelope){0};
    bool sent = why && bus_publish_room(&e);
    buf_unref(why);
    if (sent)
      return;
  }
  hub_room_closed_local(name, len, reason);
}

bool hub_room_may_have(const struct hub_room *r, enum hub_proto proto) {
  uint32_t here = proto == HUB_SOCKETIO ? r->socketio : r->count - r->socketio;
  return here > 0 || bus_up();
}

void hub_member_changed(struct hub_member *m) {
  if (m->room && observer.joined)
    observer.joined(m);
}

void hub_each_member(void (*each)(struct hub_member *m)) {
  size_t pos = 0;
  struct hub_member *m;
  while ((m = hmap_next(&peers, &pos)))
    each(m);
}

void hub_free(void) {
  hmap_free(&held);
  hmap_free(&rooms);
  hmap_free(&peers);
}

int hub_join_as(struct hub_member *m, conn *c, const char *room, size_t len, const char *peer_id) {
  if (hmap_get(&peers, peer_id, HUB_PEER_ID_LEN))
    return -2;
  if (join(m, c, room, len) < 0)
    return -1;
  /* Re-key the member from the id hub_join drew to the one asked for. */
  hmap_del(&peers, m->peer_id, HUB_PEER_ID_LEN);
  memcpy(m->peer_id, peer_id, HUB_PEER_ID_LEN);
  m->peer_id[HUB_PEER_ID_LEN] = 0;
  if (hmap_put(&peers, m->peer_id, HUB_PEER_ID_LEN, m) < 0) {
    hub_leave(m);
    return -1;
  }
  if (observer.joined)
    observer.joined(m);
  return 0;
}
