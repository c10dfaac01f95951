#include "util/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t time_iso8601(int64_t ms, char *out, size_t outlen) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&secs, &tm) || outlen < 25) {
    if (outlen)
      out[0] = '\0';
    return 0;
  }
  size_t k = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
  int n = snprintf(out + k, outlen - k, ".%03dZ", (int)(ms % 1000));
  return n > 0 ? k + (size_t)n : k;
}

void time_day(int64_t ms, char out[TIME_DAY_LEN + 1]) {
  char iso[32];
  time_iso8601(ms, iso, sizeof iso);
  memcpy(out, iso, TIME_DAY_LEN);
  out[TIME_DAY_LEN] = '\0';
}
