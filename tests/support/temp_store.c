#include "temp_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/room.h"

struct store *temp_store_open(struct temp_store *t, uv_loop_t *loop) {
  snprintf(t->dir, sizeof t->dir, "/tmp/tandem-test-XXXXXX");
  char err[256];
  t->s = mkdtemp(t->dir) ? store_open(loop, t->dir, NULL, 0, err, sizeof err) : NULL;
  return t->s;
}

int temp_store_close(struct temp_store *t) {
  if (t->s)
    store_close(t->s);
  t->s = NULL;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void note(void *ctx, int status) {
  *(int *)ctx = status;
}

int temp_code_room(struct store *s, struct room_row *room, const char *code) {
  *room = (struct room_row){.created_at = 1, .expires_at = 1000, .kind = "code"};
  room_new_id(room->id);
  snprintf(room->code, sizeof room->code, "%s", code);
  int status = STORE_FAILED;
  store_room_insert(s, room, note, &status);
  return status;
}
