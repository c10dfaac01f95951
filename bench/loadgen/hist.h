/* A log-linear latency histogram in the manner of HdrHistogram: every power
 * of two is split into 64 linear sub-buckets, so any recorded value is
 * reported within 1/64 (1.6 %) of itself, from 1 ns up to 2^40 ns (18 min),
 * in a fixed 19 KiB of counters. Recording is O(1) with no allocation. */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6                     /* 64 sub-buckets per octave */
#define HIST_SUB_HALF (1u << HIST_SUB_BITS) /* 64 */
#define HIST_MAX_SHIFT 34                   /* values up to 2^41 - 1 */
#define HIST_BUCKETS ((HIST_MAX_SHIFT + 2) * HIST_SUB_HALF)

typedef struct hist {
  uint64_t count;
  uint64_t min, max;
  double sum;
  uint64_t counts[HIST_BUCKETS];
} hist;

void hist_reset(hist *h);
void hist_record(hist *h, uint64_t value);
/* Adds every count of `from` into `into`. */
void hist_merge(hist *into, const hist *from);
/* The value at percentile p (0..100): the highest value of the bucket that
 * holds it, never above the largest value recorded. 0 when empty. */
uint64_t hist_percentile(const hist *h, double p);
/* Index of the bucket holding v, and the range of values a bucket holds
 * (exposed for the unit check). */
uint32_t hist_index(uint64_t v);
uint64_t hist_bucket_low(uint32_t index);
uint64_t hist_bucket_high(uint32_t index);

#endif
