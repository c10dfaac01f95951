/* Storage. For now: the embedded SQLite database in the data directory,
 * opened in WAL mode at start-up and probed by /readyz. Rooms and items
 * come with the drop feature. */
#ifndef TANDEM_STORE_H
#define TANDEM_STORE_H

#include <stddef.h>

struct store;

/* Opens (creating if needed) <data_dir>/tandem.db. On failure writes the
 * reason into err and returns NULL. */
struct store *store_open(const char *data_dir, char *err, size_t errlen);

/* 0 when the database answers a trivial query, -1 otherwise. */
int store_ping(struct store *s);

void store_close(struct store *s);

#endif
