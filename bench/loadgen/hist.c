#include "hist.h"

#include <string.h>

void hist_reset(hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

static unsigned msb(uint64_t v) {
  return 63u - (unsigned)__builtin_clzll(v);
}

uint32_t hist_index(uint64_t v) {
  const uint64_t top = ((uint64_t)2 * HIST_SUB_HALF << HIST_MAX_SHIFT) - 1;
  if (v > top)
    v = top;
  if (v < 2 * HIST_SUB_HALF)
    return (uint32_t)v;                    /* shift 0: one bucket per value below 128 */
  unsigned shift = msb(v) - HIST_SUB_BITS; /* >= 1 */
  return (uint32_t)(shift * HIST_SUB_HALF + (v >> shift));
}

uint64_t hist_bucket_low(uint32_t index) {
  if (index < 2 * HIST_SUB_HALF)
    return index;
  unsigned shift = index / HIST_SUB_HALF - 1;
  uint64_t sub = index - (uint64_t)shift * HIST_SUB_HALF; /* 64..127 */
  return sub << shift;
}

uint64_t hist_bucket_high(uint32_t index) {
  if (index < 2 * HIST_SUB_HALF)
    return index;
  unsigned shift = index / HIST_SUB_HALF - 1;
  uint64_t sub = index - (uint64_t)shift * HIST_SUB_HALF;
  return ((sub + 1) << shift) - 1;
}

void hist_record(hist *h, uint64_t v) {
  h->counts[hist_index(v)]++;
  h->count++;
  h->sum += (double)v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

void hist_merge(hist *into, const hist *from) {
  for (uint32_t i = 0; i < HIST_BUCKETS; i++)
    into->counts[i] += from->counts[i];
  into->count += from->count;
  into->sum += from->sum;
  if (from->count) {
    if (from->min < into->min)
      into->min = from->min;
    if (from->max > into->max)
      into->max = from->max;
  }
}

uint64_t hist_percentile(const hist *h, double p) {
  if (!h->count)
    return 0;
  if (p >= 100.0)
    return h->max;
  /* The rank of the value sought, 1-based, rounded up. */
  double want = p / 100.0 * (double)h->count;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want)
    rank++;
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = hist_bucket_high(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}
