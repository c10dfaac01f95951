/* What tandem instances will share through Redis when there are several:
 * for now the presence of chat members (which aliases are live in a room).
 * local.c keeps it in this process's memory; a redis.c can keep the same
 * contract with TTL keys. Only the loop thread calls these. */
#ifndef TANDEM_BUS_H
#define TANDEM_BUS_H

#include <stdbool.h>

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

/* Frees what is left (at shutdown). */
void bus_free(void);

#endif
