/* A throw-away store for unit tests: SQLite in a new temporary directory,
 * removed again with everything in it. */
#ifndef TANDEM_TEST_TEMP_STORE_H
#define TANDEM_TEST_TEMP_STORE_H

#include <uv.h>

#include "store/store.h"

struct temp_store {
  char dir[64];
  struct store *s;
};

/* Makes the directory and opens the store in it (loop may be NULL for
 * SQLite). The store, or NULL on failure. */
struct store *temp_store_open(struct temp_store *t, uv_loop_t *loop);

/* Closes the store and removes the directory: 0, or -1. */
int temp_store_close(struct temp_store *t);

/* A code room with a new id and the given 6-digit code, inserted into s
 * (SQLite answers before this returns). The store's status. */
int temp_code_room(struct store *s, struct room_row *room, const char *code);

#endif
