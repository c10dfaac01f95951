#include "rooms/schedule.h"

#include <stddef.h>

enum room_state schedule_state(int64_t opens_at, int64_t closes_at, int64_t now) {
  if (now >= closes_at)
    return ROOM_CLOSED;
  return now >= opens_at ? ROOM_OPEN : ROOM_SCHEDULED;
}

const char *schedule_state_name(enum room_state s) {
  return s == ROOM_OPEN ? "open" : s == ROOM_CLOSED ? "closed" : "scheduled";
}

int schedule_check(int64_t opens_at, int64_t closes_at) {
  if (opens_at < 0 || closes_at <= opens_at || closes_at - opens_at > SCHEDULE_MAX_LENGTH_MS)
    return -1;
  return 0;
}

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no time zone or libc state is involved. */
static int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int schedule_parse_time(const char *s, size_t len, int64_t *ms) {
  int y, mo, d, h, mi, sec, frac = 0;
  if (len != 20 && len != 24)
    return -1;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[len - 1] != 'Z')
    return -1;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
      digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
    return -1;
  if (len == 24 && (s[19] != '.' || digits(s + 20, 3, &frac)))
    return -1;
  static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || h > 23 || mi > 59 ||
      sec > 59)
    return -1;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap)
    return -1;
  *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000ll + sec * 1000ll + frac;
  return 0;
}
