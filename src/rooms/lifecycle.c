#include "rooms/lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "api/app.h"
#include "config.h"
#include "hub/hub.h"
#include "store/blobs.h"
#include "util/log.h"
#include "util/timefmt.h"

/* How many rooms one sweep handles: a backlog is worked off over several
 * ticks instead of stalling the loop. */
#define SWEEP_BATCH 64

static void remove_file_of(void *ctx, int status, const struct item_row *it) {
  if (it && it->kind == ITEM_FILE)
    blobs_remove(it->id);
}

static void note_status(void *ctx, int status) {
  *(int *)ctx = status;
}

int room_close(struct app *app, const char *room_id, const char *reason) {
  /* Files first: a crash in between leaves rows without files, which the
   * next sweep or delete removes; never files without rows. */
  store_items_list(app->store, room_id, 0, 1 << 30, remove_file_of, NULL);
  int status = STORE_FAILED;
  store_room_delete(app->store, room_id, note_status, &status);
  hub_room_closed(room_id, strlen(room_id), reason);
  return status == STORE_NOT_FOUND ? STORE_OK : status;
}

struct sweep {
  struct app *app;
  char ids[SWEEP_BATCH][STORE_ID_LEN + 1];
  int count;
};

static void collect(void *ctx, int status, const struct room_row *room) {
  struct sweep *s = ctx;
  if (room && s->count < SWEEP_BATCH)
    memcpy(s->ids[s->count++], room->id, STORE_ID_LEN + 1);
}

static void on_sweep(uv_timer_t *t) {
  struct app *app = t->data;
  struct sweep s = {.app = app};
  int64_t now = time_now_ms();
  ratelimit_sweep(&app->code_lookups, uv_now(app->loop));
  store_rooms_expired(app->store, now, SWEEP_BATCH, collect, &s);
  char oldest[TIME_DAY_LEN + 1]; /* referrer counts are kept 30 days */
  time_day(now - (int64_t)(STORE_REFERRER_DAYS - 1) * 86400000, oldest);
  int pruned = STORE_OK;
  store_referrers_prune(app->store, oldest, note_status, &pruned);
  for (int i = 0; i < s.count; i++) {
    if (room_close(app, s.ids[i], "expired") == 0) {
      struct log_field f = LOG_STR("room", s.ids[i]);
      log_fields(LOG_INFO, "room.expired", &f, 1);
    }
  }
}

int lifecycle_start(struct app *app, char *err, size_t errlen) {
  /* Sweep often enough that a room outlives its time by a fraction of it
   * at most, and at least once a minute. */
  uint64_t every = app->cfg->room_ttl_ms / 4;
  if (every < 250)
    every = 250;
  if (every > 60000)
    every = 60000;
  int rc = uv_timer_init(app->loop, &app->sweeper);
  if (rc == 0) {
    app->sweeper.data = app;
    rc = uv_timer_start(&app->sweeper, on_sweep, every, every);
  }
  if (rc < 0) {
    snprintf(err, errlen, "cannot start the room sweeper: %s", uv_strerror(rc));
    return -1;
  }
  return 0;
}

void lifecycle_stop(struct app *app) {
  if (!uv_is_closing((uv_handle_t *)&app->sweeper))
    uv_close((uv_handle_t *)&app->sweeper, NULL);
}
