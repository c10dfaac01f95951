#include "hub/hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util/hmap.h"
#include "util/rand.h"
#include "ws/ws_conn.h"

static hmap rooms; /* name -> struct hub_room */
static hmap peers; /* peer id -> struct hub_member */

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

int hub_join(struct hub_member *m, conn *c, const char *name, size_t len) {
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
  return 0;
}

void hub_leave(struct hub_member *m) {
  struct hub_room *r = m->room;
  if (!r)
    return;
  hmap_del(&peers, m->peer_id, HUB_PEER_ID_LEN);
  /* Swap the last member into the hole: O(1), order is not promised. */
  struct hub_member *last = r->members[--r->count];
  r->members[m->index] = last;
  last->index = m->index;
  if (m->proto == HUB_SOCKETIO)
    r->socketio--;
  m->room = NULL;
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

void hub_broadcast_if(struct hub_room *r, buf *frame,
                      bool (*want)(const struct hub_member *m, const void *ctx), const void *ctx) {
  /* Sending may close a slow member, which leaves the room and reorders
   * the array: walk from the end so a swapped-in member was already seen. */
  r->busy++;
  for (uint32_t i = r->count; i-- > 0;) {
    if (i >= r->count)
      continue;
    struct hub_member *m = r->members[i];
    if (m->proto == HUB_NATIVE && want(m, ctx))
      ws_send(m->c, frame);
  }
  r->busy--;
  room_drop_if_empty(r);
}

static bool not_except(const struct hub_member *m, const void *except) {
  return m != except;
}

void hub_broadcast(struct hub_room *r, buf *frame, const struct hub_member *except) {
  hub_broadcast_if(r, frame, not_except, except);
}

void hub_room_closed(const char *name, size_t len, const char *reason) {
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

void hub_free(void) {
  hmap_free(&rooms);
  hmap_free(&peers);
}

int hub_join_as(struct hub_member *m, conn *c, const char *room, size_t len, const char *peer_id) {
  if (hmap_get(&peers, peer_id, HUB_PEER_ID_LEN))
    return -2;
  if (hub_join(m, c, room, len) < 0)
    return -1;
  /* Re-key the member from the id hub_join drew to the one asked for. */
  hmap_del(&peers, m->peer_id, HUB_PEER_ID_LEN);
  memcpy(m->peer_id, peer_id, HUB_PEER_ID_LEN);
  m->peer_id[HUB_PEER_ID_LEN] = 0;
  if (hmap_put(&peers, m->peer_id, HUB_PEER_ID_LEN, m) < 0) {
    hub_leave(m);
    return -1;
  }
  return 0;
}
