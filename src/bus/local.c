/* The bus in one process: per room, a map of live aliases and a list of
 * them for listing. A room's entry goes with its last member. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "util/hmap.h"

struct presence_member {
  struct presence_member *prev, *next;
  char peer_id[16];
  char alias[]; /* the map's key */
};

struct presence_room {
  hmap aliases; /* alias -> member */
  struct presence_member *first;
  char name[]; /* the map's key */
};

static hmap rooms; /* name -> presence_room */

static struct presence_room *room_get(const char *name) {
  return hmap_get(&rooms, name, strlen(name));
}

int bus_presence_add(const char *room, const char *alias, const char *peer_id) {
  struct presence_room *r = room_get(room);
  if (r && hmap_get(&r->aliases, alias, strlen(alias)))
    return -EEXIST;
  if (!r) {
    size_t n = strlen(room);
    r = calloc(1, sizeof *r + n + 1);
    if (!r)
      return -ENOMEM;
    memcpy(r->name, room, n + 1);
    if (hmap_put(&rooms, r->name, n, r) < 0) {
      free(r);
      return -ENOMEM;
    }
  }
  size_t n = strlen(alias);
  struct presence_member *m = calloc(1, sizeof *m + n + 1);
  if (m)
    memcpy(m->alias, alias, n + 1); /* the key must be in place before it is hashed */
  if (!m || hmap_put(&r->aliases, m->alias, n, m) < 0) {
    free(m);
    if (!r->first) {
      hmap_del(&rooms, r->name, strlen(r->name));
      hmap_free(&r->aliases);
      free(r);
    }
    return -ENOMEM;
  }
  strncpy(m->peer_id, peer_id, sizeof m->peer_id - 1);
  m->next = r->first;
  if (r->first)
    r->first->prev = m;
  r->first = m;
  return 0;
}

void bus_presence_remove(const char *room, const char *alias) {
  struct presence_room *r = room_get(room);
  struct presence_member *m = r ? hmap_del(&r->aliases, alias, strlen(alias)) : NULL;
  if (!m)
    return;
  if (m->prev)
    m->prev->next = m->next;
  else
    r->first = m->next;
  if (m->next)
    m->next->prev = m->prev;
  free(m);
  if (!r->first) {
    hmap_del(&rooms, r->name, strlen(r->name));
    hmap_free(&r->aliases);
    free(r);
  }
}

bool bus_presence_has(const char *room, const char *alias) {
  struct presence_room *r = room_get(room);
  return r && hmap_get(&r->aliases, alias, strlen(alias));
}

void bus_presence_each(const char *room, bus_presence_fn each, void *ctx) {
  struct presence_room *r = room_get(room);
  for (struct presence_member *m = r ? r->first : NULL; m; m = m->next)
    each(ctx, m->peer_id, m->alias);
}

void bus_free(void) {
  hmap_free(&rooms);
}
