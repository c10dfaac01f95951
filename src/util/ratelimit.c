#include "util/ratelimit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct ratelimit_entry {
  struct ratelimit_entry *newer, *older;
  uint32_t head;  /* ring index of the oldest recorded event */
  uint32_t count; /* recorded events, <= max_events */
  uint8_t klen;
  uint8_t key[RATELIMIT_KEY_MAX]; /* the map points here */
  uint64_t ts[];                  /* ring of max_events event times */
};

int ratelimit_init(ratelimit *rl, uint32_t max_events, uint64_t window_ms) {
  memset(rl, 0, sizeof *rl);
  if (max_events == 0 || window_ms == 0)
    return -EINVAL;
  rl->max_events = max_events;
  rl->window_ms = window_ms;
  rl->max_keys = RATELIMIT_MAX_KEYS;
  return 0;
}

/* How long ago t was; an event stamped in the future (a clock that went
 * back) counts as just now, which errs on the side of limiting. */
static uint64_t age(uint64_t t, uint64_t now) {
  return now > t ? now - t : 0;
}

static bool expired(const ratelimit *rl, uint64_t t, uint64_t now) {
  return age(t, now) >= rl->window_ms;
}

static uint64_t newest_ts(const ratelimit *rl, const struct ratelimit_entry *e) {
  return e->ts[(e->head + e->count - 1) % rl->max_events];
}

static bool entry_expired(const ratelimit *rl, const struct ratelimit_entry *e, uint64_t now) {
  return e->count == 0 || expired(rl, newest_ts(rl, e), now);
}

static void unlink_entry(ratelimit *rl, struct ratelimit_entry *e) {
  if (e->newer)
    e->newer->older = e->older;
  else
    rl->newest = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    rl->oldest = e->newer;
  e->newer = e->older = NULL;
}

static void push_newest(ratelimit *rl, struct ratelimit_entry *e) {
  e->newer = NULL;
  e->older = rl->newest;
  if (rl->newest)
    rl->newest->newer = e;
  else
    rl->oldest = e;
  rl->newest = e;
}

/* Drops the entry's events that have left the window. */
static void expire_events(const ratelimit *rl, struct ratelimit_entry *e, uint64_t now) {
  while (e->count && expired(rl, e->ts[e->head], now)) {
    e->head = (e->head + 1) % rl->max_events;
    e->count--;
  }
}

static void record(ratelimit *rl, struct ratelimit_entry *e, uint64_t now) {
  e->ts[(e->head + e->count) % rl->max_events] = now;
  e->count++;
}

/* Takes the entry at the oldest end out of the list and the map. */
static struct ratelimit_entry *evict_oldest(ratelimit *rl) {
  struct ratelimit_entry *e = rl->oldest;
  unlink_entry(rl, e);
  hmap_del(&rl->map, e->key, e->klen);
  rl->count--;
  return e;
}

int ratelimit_set_max_keys(ratelimit *rl, size_t max_keys) {
  if (max_keys == 0)
    return -EINVAL;
  rl->max_keys = max_keys;
  while (rl->count > max_keys)
    free(evict_oldest(rl));
  return 0;
}

/* An entry for a key not in the map: a new one, or when the table is full
 * the one at the oldest end, reused. */
static struct ratelimit_entry *new_entry(ratelimit *rl) {
  struct ratelimit_entry *e;
  if (rl->count == rl->max_keys)
    return evict_oldest(rl);
  return malloc(sizeof *e + (size_t)rl->max_events * sizeof e->ts[0]);
}

int ratelimit_hit(ratelimit *rl, const void *key, size_t klen, uint64_t now_ms,
                  uint64_t *retry_after_ms) {
  uint64_t ignored;
  if (!retry_after_ms)
    retry_after_ms = &ignored;
  *retry_after_ms = 0;
  if (klen == 0 || klen > RATELIMIT_KEY_MAX)
    return -EINVAL;

  struct ratelimit_entry *e = hmap_get(&rl->map, key, klen);
  if (e) {
    expire_events(rl, e, now_ms);
    if (e->count == rl->max_events) {
      *retry_after_ms = rl->window_ms - age(e->ts[e->head], now_ms);
      return RATELIMIT_LIMITED;
    }
    record(rl, e, now_ms);
    /* The list stays ordered by newest event, so the oldest end is where
     * the expired entries gather. */
    unlink_entry(rl, e);
    push_newest(rl, e);
    return RATELIMIT_ALLOWED;
  }

  e = new_entry(rl);
  if (!e)
    return -ENOMEM;
  memcpy(e->key, key, klen);
  e->klen = (uint8_t)klen;
  e->head = e->count = 0;
  e->newer = e->older = NULL;
  if (hmap_put(&rl->map, e->key, klen, e) < 0) {
    free(e);
    return -ENOMEM;
  }
  rl->count++;
  record(rl, e, now_ms);
  push_newest(rl, e);
  return RATELIMIT_ALLOWED;
}

size_t ratelimit_sweep(ratelimit *rl, uint64_t now_ms) {
  size_t dropped = 0;
  while (rl->oldest && entry_expired(rl, rl->oldest, now_ms)) {
    free(evict_oldest(rl));
    dropped++;
  }
  return dropped;
}

void ratelimit_free(ratelimit *rl) {
  struct ratelimit_entry *e = rl->newest;
  while (e) {
    struct ratelimit_entry *older = e->older;
    free(e);
    e = older;
  }
  hmap_free(&rl->map);
  memset(rl, 0, sizeof *rl);
}
