/* A sliding-window rate limiter keyed by byte strings (client addresses):
 * "at most max_events in any window_ms", e.g. 20 room lookups a minute or 2
 * joins in 5 s per address.
 *
 * Exact, not approximate: each key keeps the times of its last max_events
 * allowed events in a ring, and an event at time t counts until (not
 * including) t + window_ms. Refused hits are not recorded, so a client
 * that keeps knocking does not push its own retry time back.
 *
 * Memory is bounded: at most max_keys keys (RATELIMIT_MAX_KEYS unless
 * ratelimit_set_max_keys says otherwise), each costing about
 * 100 + 8 * max_events bytes plus its hash slot. When a new key arrives
 * and the table is full, the key whose newest recorded event is oldest is
 * evicted: that is an expired key whenever there is one (an expired key has
 * nothing left to remember), otherwise the least recently allowed key,
 * whose history is forgotten (it starts afresh if it returns). New keys are
 * never refused, so a flood of addresses cannot lock out everyone else; it
 * can only shorten the memory of the quietest keys. ratelimit_sweep drops
 * expired keys; call it from a timer.
 *
 * Time is the caller's monotonic clock in milliseconds (uv_now), the same
 * clock for every call: the eviction and sweep order rely on it never going
 * back (if it does, limiting errs on the strict side and a sweep may keep
 * some expired keys until a later one). Keys are hashed with SipHash
 * (util/hmap.h), so clients cannot force collisions. Callers keying IPv6
 * clients should use the /64 prefix, which one client usually owns whole. */
#ifndef TANDEM_RATELIMIT_H
#define TANDEM_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "util/hmap.h"

/* Longest key, in bytes (a printable IPv6 address is at most 45). */
#define RATELIMIT_KEY_MAX 64
/* Default cap on tracked keys: about 10 MiB when full, with 20 events a key. */
#define RATELIMIT_MAX_KEYS 32768

/* Results of ratelimit_hit, besides negative errors. */
enum ratelimit_verdict {
  RATELIMIT_LIMITED = 0,
  RATELIMIT_ALLOWED = 1,
};

struct ratelimit_entry;

/* A limiter; owns its entries and map (ratelimit_free releases them). */
typedef struct ratelimit {
  hmap map;                       /* key -> struct ratelimit_entry */
  struct ratelimit_entry *newest; /* list by newest recorded event, */
  struct ratelimit_entry *oldest; /* newest first */
  uint64_t window_ms;
  uint32_t max_events;
  size_t max_keys;
  size_t count; /* keys tracked */
} ratelimit;

/* Sets up an empty limiter allowing max_events per window_ms per key and
 * tracking at most RATELIMIT_MAX_KEYS keys. Allocates nothing yet. Returns
 * 0, or -EINVAL when an argument is 0. */
int ratelimit_init(ratelimit *rl, uint32_t max_events, uint64_t window_ms);

/* Changes the cap on tracked keys, evicting (as described above) down to
 * it at once. Returns 0, or -EINVAL for 0. */
int ratelimit_set_max_keys(ratelimit *rl, size_t max_keys);

/* Records an event for key (copied; 1..RATELIMIT_KEY_MAX bytes) at now_ms
 * if the key is under its limit. Returns RATELIMIT_ALLOWED (1; sets
 * *retry_after_ms to 0), RATELIMIT_LIMITED (0; sets *retry_after_ms to the
 * wait, >= 1, after which one more event will be allowed), -EINVAL for a
 * bad key length, or -ENOMEM; on error nothing is recorded and a caller
 * testing the result as a boolean ("if (!ratelimit_hit(...)) 429") lets
 * the request through: it fails open. retry_after_ms may be NULL. */
int ratelimit_hit(ratelimit *rl, const void *key, size_t klen, uint64_t now_ms,
                  uint64_t *retry_after_ms);

/* Forgets every key with no event inside the window at now_ms; returns how
 * many were dropped. Costs O(dropped). */
size_t ratelimit_sweep(ratelimit *rl, uint64_t now_ms);

/* Frees all entries and the map; the limiter can be initialized again. */
void ratelimit_free(ratelimit *rl);

#endif
