/* Checks of the load generator's histogram and JSON scanners: the numbers
 * a benchmark reports are only as good as these. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "scan.h"

static int failed, passed;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (cond)                                                                                      \
      passed++;                                                                                    \
    else {                                                                                         \
      failed++;                                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
    }                                                                                              \
  } while (0)

static void test_buckets(void) {
  /* Every value lies in its bucket, and a bucket is at most 1/64 wide. */
  for (uint64_t v = 0; v < (1ull << 40); v = v < 1000 ? v + 1 : v + v / 7 + 1) {
    uint32_t i = hist_index(v);
    uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
    if (!(lo <= v && v <= hi) || (hi - lo) * 64 > lo + 64) {
      CHECK(lo <= v && v <= hi);
      CHECK((hi - lo) * 64 <= lo + 64);
      return;
    }
  }
  passed++;
  CHECK(hist_index(UINT64_MAX) < HIST_BUCKETS);
}

static void test_percentiles(void) {
  static hist h;
  hist_reset(&h);
  CHECK(hist_percentile(&h, 50) == 0);
  for (uint64_t v = 1; v <= 100000; v++)
    hist_record(&h, v * 1000); /* 1 us .. 100 ms in ns */
  double p50 = (double)hist_percentile(&h, 50), p99 = (double)hist_percentile(&h, 99);
  double p999 = (double)hist_percentile(&h, 99.9);
  CHECK(p50 >= 50000000 && p50 <= 50000000 * 1.016);
  CHECK(p99 >= 99000000 && p99 <= 99000000 * 1.016);
  CHECK(p999 >= 99900000 && p999 <= 100000000);
  CHECK(hist_percentile(&h, 100) == 100000000);
  CHECK(h.min == 1000 && h.count == 100000);
  static hist g;
  hist_reset(&g);
  hist_record(&g, 7);
  hist_merge(&g, &h);
  CHECK(g.count == 100001 && g.min == 7 && g.max == 100000000);
}

static void test_scan(void) {
  const char *m = "{\"type\":\"welcome\",\"peer_id\":\"Eeu3QdyKPOt5\",\"room\":\"r\","
                  "\"peers\":[{\"peer_id\":\"ERRu5WGscIME\"}],\"peer_count\":1}";
  char out[40];
  size_t end = 0;
  CHECK(scan_string(m, strlen(m), "type", out, sizeof out, &end) == 7);
  CHECK(strcmp(out, "welcome") == 0);
  CHECK(scan_string(m, strlen(m), "peer_id", out, sizeof out, NULL) == 12);
  CHECK(strcmp(out, "Eeu3QdyKPOt5") == 0);
  CHECK(scan_string(m, strlen(m), "nope", out, sizeof out, NULL) == -1);
  CHECK(scan_string(m, strlen(m), "peer_id", out, 5, NULL) == -1); /* too long */
  const char *s = "{\"type\":\"signal\",\"from\":\"x\",\"data\":{\"t\":123456789012,\"s\":4}}";
  uint64_t t = 0;
  CHECK(scan_u64(s, strlen(s), "t", &t) == 0 && t == 123456789012ull);
  CHECK(scan_u64(s, 20, "t", &t) == -1); /* cut short */
  CHECK(scan_find("abcabd", 6, "abd", 3) == 3);
  char b64[32];
  const uint8_t raw[] = "the sample nonce";
  base64_encode(raw, 16, b64);
  CHECK(strcmp(b64, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
}

int main(void) {
  test_buckets();
  test_percentiles();
  test_scan();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
