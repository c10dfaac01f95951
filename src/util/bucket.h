/* A token bucket in eight bytes: per-connection rate limits (signals per
 * second, relayed bytes per second) without a timer. */
#ifndef TANDEM_BUCKET_H
#define TANDEM_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct bucket {
  uint32_t last_ms; /* loop time of the last refill (wraps; differences are what count) */
  uint32_t level;   /* tokens available */
};

/* Takes `cost` tokens if the bucket, refilled at `rate` a second up to
 * `burst`, has them. A new bucket ({0, 0} with last_ms 0) starts full on
 * its first use. */
static inline bool bucket_take(struct bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst,
                               uint32_t cost) {
  uint32_t now = (uint32_t)now_ms;
  if (b->last_ms == 0 && b->level == 0) {
    b->level = burst;
  } else {
    uint64_t refill = (uint64_t)(uint32_t)(now - b->last_ms) * rate / 1000;
    uint64_t level = b->level + refill;
    b->level = level > burst ? burst : (uint32_t)level;
    if (refill == 0)
      now = b->last_ms; /* keep the fraction for the next call */
  }
  b->last_ms = now ? now : 1;
  if (b->level < cost)
    return false;
  b->level -= cost;
  return true;
}

#endif
