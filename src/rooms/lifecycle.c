#include "rooms/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
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

/* A room being closed, while the store works through its steps. */
struct closing {
  struct app *app;
  char id[STORE_ID_LEN + 1];
  const char *reason;
  room_closed_cb done;
  void *ctx;
};

static void closing_end(struct closing *c, int status) {
  room_closed_cb done = c->done;
  void *ctx = c->ctx;
  free(c);
  done(ctx, status);
}

static void room_deleted(void *ctx, int status) {
  struct closing *c = ctx;
  if (status == STORE_NOT_FOUND)
    status = STORE_OK; /* gone already: closed all the same */
  if (status == STORE_OK)
    hub_room_closed(c->id, strlen(c->id), c->reason);
  closing_end(c, status);
}

/* Files first: a crash (or a failure) in between leaves rows without
 * files, which the next sweep or delete removes; never files without rows. */
static void remove_file_of(void *ctx, int status, const struct item_row *it) {
  struct closing *c = ctx;
  if (it) {
    if (it->kind == ITEM_FILE)
      blobs_remove(it->id);
    return;
  }
  if (status < 0) {
    closing_end(c, status);
    return;
  }
  store_room_delete(c->app->store, c->id, room_deleted, c);
}

void room_close(struct app *app, const char *room_id, const char *reason, room_closed_cb done,
                void *ctx) {
  struct closing *c = malloc(sizeof *c);
  if (!c) {
    done(ctx, STORE_FAILED);
    return;
  }
  *c = (struct closing){.app = app, .reason = reason, .done = done, .ctx = ctx};
  snprintf(c->id, sizeof c->id, "%s", room_id);
  store_items_list(app->store, c->id, 0, 1 << 30, remove_file_of, c);
}

/* One sweep, from the expired sessions to the last expired room closed.
 * The store may answer each step later; a tick that comes while a sweep is
 * still under way leaves the store alone, so sweeps never overlap. */
struct sweep {
  struct app *app;
  int64_t now;
  char ids[SWEEP_BATCH][STORE_ID_LEN + 1];
  int count, closed;
};

static struct sweep *sweeping;

static void sweep_end(struct sweep *s) {
  sweeping = NULL;
  free(s);
}

static void close_next(struct sweep *s);

static void expired_closed(void *ctx, int status) {
  struct sweep *s = ctx;
  if (status == STORE_OK) {
    struct log_field f = LOG_STR("room", s->ids[s->closed]);
    log_fields(LOG_INFO, "room.expired", &f, 1);
  }
  s->closed++;
  close_next(s);
}

/* One room after another: a backlog never floods the store. */
static void close_next(struct sweep *s) {
  if (s->closed == s->count) {
    sweep_end(s);
    return;
  }
  room_close(s->app, s->ids[s->closed], "expired", expired_closed, s);
}

static void collect(void *ctx, int status, const struct room_row *room) {
  struct sweep *s = ctx;
  if (room) {
    if (s->count < SWEEP_BATCH)
      memcpy(s->ids[s->count++], room->id, STORE_ID_LEN + 1);
    return;
  }
  close_next(s); /* a failed listing closes the rooms it gave, if any */
}

static void referrers_pruned(void *ctx, int status) {
  struct sweep *s = ctx;
  store_rooms_expired(s->app->store, s->now, SWEEP_BATCH, collect, s);
}

/* Failures are the engine's to log; the next tick tries again. */
static void sessions_swept(void *ctx, int status) {
  struct sweep *s = ctx;
  char oldest[TIME_DAY_LEN + 1]; /* referrer counts are kept 30 days */
  time_day(s->now - (int64_t)(STORE_REFERRER_DAYS - 1) * 86400000, oldest);
  store_referrers_prune(s->app->store, oldest, referrers_pruned, s);
}

static void on_sweep(uv_timer_t *t) {
  struct app *app = t->data;
  ratelimit_sweep(&app->code_lookups, uv_now(app->loop));
  ratelimit_sweep(&app->login_addr, uv_now(app->loop));
  ratelimit_sweep(&app->login_email, uv_now(app->loop));
  ratelimit_sweep(&app->unlock_addr, uv_now(app->loop));
  if (sweeping)
    return;
  struct sweep *s = calloc(1, sizeof *s);
  if (!s)
    return;
  s->app = app;
  s->now = time_now_ms();
  sweeping = s;
  store_sessions_expired_delete(app->store, s->now, sessions_swept, s);
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
