/* PrivyDrop's rooms in Redis, under the keys PrivyDrop's own backend uses,
 * so a room made through one tandem instance is found through any other:
 *   room:<id>             hash {created_at}, expiring --room-ttl after its
 *                         creation or its last join
 *   room:<id>:sockets     set of the socket ids in it
 *   socket:<id>           hash {roomId}
 *   referrers:daily:<day> hash referrer -> visits
 *   ratelimit:join:<addr> sorted set of join times (a sliding window;
 *                         <addr> an IPv4 address, or an IPv6 /64)
 * Each call returns false when Redis is not in use or away; the caller
 * then keeps to this instance's memory (src/api/privydrop.c). */
#ifndef TANDEM_PRIVYDROP_REDIS_H
#define TANDEM_PRIVYDROP_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* rc: 1 the room exists (after a create: made now), 0 it does not (after
 * a create: it was taken), -1 Redis failed. */
typedef void (*pdr_fn)(void *ctx, int rc);

/* Makes the room unless it exists. */
bool pdr_create(const char *id, size_t len, uint64_t ttl_ms, pdr_fn done, void *ctx);

/* Whether the room exists. */
bool pdr_exists(const char *id, size_t len, pdr_fn done, void *ctx);

/* Whether the room exists, its life renewed for ttl_ms when it does: made
 * by create_room, or (a name not shaped like a stored room's id or code)
 * with members on some instance, as a native client makes one by joining. */
bool pdr_join(const char *id, size_t len, uint64_t ttl_ms, pdr_fn done, void *ctx);

/* A socket entered / left a room. */
void pdr_socket_joined(const char *room, size_t len, const char *socket_id, uint64_t ttl_ms);
void pdr_socket_left(const char *room, size_t len, const char *socket_id);

/* Counts one join from the address (the key bytes of net/addr_table.h,
 * an IPv6 one by its /64) in the window ending now; done gets how many
 * joins the window holds, this one included (-1: Redis failed). */
bool pdr_join_window(const uint8_t *addr_key, size_t key_len, uint64_t window_ms, pdr_fn done,
                     void *ctx);

/* One visit from a referrer on a day (YYYY-MM-DD). */
void pdr_referrer_visit(const char *day, const char *ref);

#endif
