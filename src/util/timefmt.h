/* Wall-clock time for stored data and the API. */
#ifndef TANDEM_TIMEFMT_H
#define TANDEM_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch. */
int64_t time_now_ms(void);

/* "2026-11-24T21:00:00.000Z" into out (at least 25 bytes); returns its length. */
size_t time_iso8601(int64_t ms, char *out, size_t outlen);

/* The UTC day of ms, "2026-11-24", into out (at least 11 bytes). */
#define TIME_DAY_LEN 10
void time_day(int64_t ms, char out[TIME_DAY_LEN + 1]);

#endif
