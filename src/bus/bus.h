/* What tandem instances share when there are several.
 *
 * local.c: the presence of chat members (which aliases are live in a
 * room), in this process's memory.
 * redis.c: with --redis, the rooms themselves: every room event goes out
 * on the room's channel and comes back to each instance with members there
 * (the publishing one too, so all see one order); the member lists of
 * rooms, refreshed by a heartbeat so a crashed instance's members vanish;
 * the route from a peer id to its instance. Without --redis, or while
 * Redis is away, the functions say so and the caller delivers locally.
 * Only the loop thread calls these. */
#ifndef TANDEM_BUS_H
#define TANDEM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus/envelope.h"

#define BUS_INSTANCE_MAX 32
#define BUS_HEARTBEAT_MS 5000 /* members and instance refreshed */
#define BUS_TTL_MS 15000      /* an instance silent this long is gone */
#define BUS_BACKOFF_MIN_MS 100
#define BUS_BACKOFF_MAX_MS 5000

/* What the bus hands back to the application. */
struct bus_hooks {
  /* An envelope arrived on a room's channel or this instance's. */
  void (*deliver)(const struct bus_envelope *e);
  /* A member of a local room was on an instance that stopped beating:
   * its entry is gone, the room's members are to hear it left. */
  void (*member_gone)(const char *room, size_t room_len, const char *peer_id, uint8_t proto);
  /* Redis is back (it may have lost everything): the local members are
   * to be listed again. */
  void (*reconnected)(void);
  /* This instance was silent too long (stopped, cut off) and the others
   * told its members' rooms they left: they are to be listed and
   * announced again. */
  void (*rejoined)(void);
};

/* Parses redis://host:port[/db]; 0, or -1 with err written. */
int bus_redis_url_parse(const char *url, char *host, size_t host_cap, int *port, int *db, char *err,
                        size_t errlen);

/* Starts the shared bus when url is not NULL: connects in the background
 * (an unreachable Redis is retried, not fatal). instance_id may be NULL
 * (a random one). 0, or -1 for a bad url or id. */
int bus_start(uv_loop_t *loop, const char *url, const char *instance_id,
              const struct bus_hooks *hooks, char *err, size_t errlen);

/* Closes the connections and timers without waiting long for Redis. */
void bus_stop(void);

/* --redis was given. */
bool bus_shared(void);

/* Shared and both connections up: events travel through Redis. */
bool bus_up(void);

/* This instance's id ("" when alone). */
const char *bus_instance(void);

/* A room got its first local member / lost its last: its channel is
 * subscribed / let go (lazily, so a quick return keeps it). */
void bus_room_enter(const char *room, size_t len);
void bus_room_leave(const char *room, size_t len);

/* Publishes on e->room's channel (the origin is filled in). true: it went
 * out and comes back through hooks->deliver, to this instance too; false:
 * the caller delivers locally now. */
bool bus_publish_room(struct bus_envelope *e);

/* Publishes to one instance's own channel; false when Redis is away. */
bool bus_publish_instance(const char *instance, struct bus_envelope *e);

/* The room's member list across instances: peer id -> instance, protocol
 * and the public info (a JSON object as the welcome lists it). */
void bus_member_add(const char *room, size_t len, const char *peer_id, uint8_t proto,
                    const char *info);
void bus_member_remove(const char *room, size_t len, const char *peer_id);

struct bus_member {
  const char *peer_id, *instance, *info;
  uint8_t proto;
};
/* Called once: with the members on other instances (ok), or with none
 * when alone or Redis is away (at once then). The array lives for the call. */
typedef void (*bus_members_fn)(void *ctx, const struct bus_member *members, size_t n);
void bus_members_get(const char *room, size_t len, bus_members_fn done, void *ctx);

/* One member on another instance, or NULL (unknown, or Redis away). */
typedef void (*bus_member_fn)(void *ctx, const struct bus_member *member);
void bus_member_find(const char *room, size_t len, const char *peer_id, bus_member_fn done,
                     void *ctx);

/* Records a live member; 0, -EEXIST when the alias is live in the room,
 * or -ENOMEM. room and alias are copied. */
int bus_presence_add(const char *room, const char *alias, const char *peer_id);

/* Forgets a live member (nothing when absent). */
void bus_presence_remove(const char *room, const char *alias);

/* True when the alias is live in the room. */
bool bus_presence_has(const char *room, const char *alias);

/* Calls each(ctx, peer_id, alias) for every live member of the room. */
typedef void (*bus_presence_fn)(void *ctx, const char *peer_id, const char *alias);
void bus_presence_each(const char *room, bus_presence_fn each, void *ctx);

/* With --redis, the live aliases of a chat room across instances, in
 * tandem:aliases:<room> (alias -> "<instance>\n<peer id>\n<device hash hex>"),
 * kept alive by the heartbeat like the member lists; an entry of an
 * instance that stopped beating counts as free. */
struct bus_alias_claim {
  const char *alias;                   /* the alias taken */
  const char *old_instance, *old_peer; /* "": the same device held it on another instance */
  const char *const *live;             /* alias, peer id, alias, peer id, ... (this one too) */
  size_t live_count;                   /* pairs */
};
/* done gets the claim, or NULL when Redis failed or every suffix is taken. */
typedef void (*bus_alias_fn)(void *ctx, const struct bus_alias_claim *claim);

/* Takes the first free of base, "base 2", ... "base <suffix_max>" in one
 * step (a script); an alias the same device holds is free for it. False,
 * and done not called, when Redis is away: the caller decides alone. */
bool bus_alias_claim(const char *room, const char *base, int suffix_max, const char *peer_id,
                     const char *device_hex, bus_alias_fn done, void *ctx);

/* Lists a live alias again (after Redis came back, or this instance was
 * taken for gone) unless another member took it meanwhile. */
void bus_alias_keep(const char *room, const char *alias, const char *peer_id,
                    const char *device_hex);

/* Frees the alias if peer_id still holds it (sends and forgets). */
void bus_alias_release(const char *room, const char *alias, const char *peer_id);

/* Who holds a live alias: done(ctx, instance, peer id, device hex), all
 * NULL when nobody (or Redis failed). False, done not called, when away. */
typedef void (*bus_alias_found_fn)(void *ctx, const char *instance, const char *peer_id,
                                   const char *device_hex);
bool bus_alias_find(const char *room, const char *alias, bus_alias_found_fn done, void *ctx);

/* Frees what is left (at shutdown). */
void bus_free(void);

/* A command for keys other modules keep in Redis (PrivyDrop's rooms):
 * done(ctx, n) gets an integer reply, or -1 for an error or a lost
 * connection; a NULL done sends and forgets. False, and done not called,
 * when Redis is away. fmt is hiredis's: %s a C string, %b a pointer and a
 * size_t, each one argument whatever bytes it holds. */
typedef void (*bus_int_fn)(void *ctx, long long n);
bool bus_command(bus_int_fn done, void *ctx, const char *fmt, ...);

/* One event against a rate limit every instance shares: a sliding window
 * of at most `max` events in `window_ms` per (name, key), kept in Redis and
 * checked and counted in one step (a script), so instances agree. done(ctx,
 * n): 0 allowed (and counted), n > 0 refused (not counted) with n ms until
 * the window has room, -1 when Redis failed meanwhile. False, and done not
 * called, when Redis is away: the caller decides alone. */
bool bus_rate_hit(const char *name, const void *key, size_t klen, uint32_t max, uint64_t window_ms,
                  bus_int_fn done, void *ctx);

#endif
