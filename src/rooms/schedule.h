/* When a facilitator's room is open: a pure function of its schedule and
 * the time, so every caller (join, REST state, the closing timer) agrees
 * to the millisecond.
 *
 * A room is scheduled before opens_at, open from opens_at (inclusive) up to
 * closes_at (exclusive), and closed from closes_at (inclusive) on. */
#ifndef TANDEM_SCHEDULE_H
#define TANDEM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

enum room_state { ROOM_SCHEDULED, ROOM_OPEN, ROOM_CLOSED };

enum room_state schedule_state(int64_t opens_at, int64_t closes_at, int64_t now);

/* "scheduled", "open", "closed". */
const char *schedule_state_name(enum room_state s);

/* 0 when a schedule can be kept: 0 <= opens_at < closes_at and the room is
 * open for at most SCHEDULE_MAX_LENGTH_MS; -1 otherwise. */
#define SCHEDULE_MAX_LENGTH_MS (366ll * 24 * 3600 * 1000)
int schedule_check(int64_t opens_at, int64_t closes_at);

/* Parses unix milliseconds from "2026-11-24T21:00:00Z" or
 * "2026-11-24T21:00:00.250Z" (UTC only). Returns 0 or -1. */
int schedule_parse_time(const char *s, size_t len, int64_t *ms);

#endif
