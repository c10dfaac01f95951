/* PrivyDrop's REST routes and its room registry.
 *
 * A PrivyDrop room is a name (1-61 characters of [A-Za-z0-9_-]) made by
 * POST /api/create_room or GET /api/get_room; Socket.IO joins need it to
 * exist. It lives --room-ttl from its creation or its last join, and 15
 * minutes once its last member left. Kept in memory: bounded, and gone on
 * a restart (clients create rooms again, as after a Redis flush). */
#ifndef TANDEM_PRIVYDROP_H
#define TANDEM_PRIVYDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/* Most rooms held at once (past it create_room answers 503). */
#define PRIVYDROP_MAX_ROOMS 100000
/* How long an empty room is kept. */
#define PRIVYDROP_EMPTY_ROOM_MS (15ull * 60 * 1000)

/* True when the room exists (and is not expired) at now_ms; a join then
 * refreshes its lifetime to ttl_ms from now. */
bool privydrop_room_join(const char *id, size_t len, uint64_t now_ms, uint64_t ttl_ms);
/* The last member left: the room lives PRIVYDROP_EMPTY_ROOM_MS more. */
void privydrop_room_emptied(const char *id, size_t len, uint64_t now_ms);

extern const http_handler privydrop_create_room_handler; /* POST /api/create_room */
extern const http_handler privydrop_get_room_handler;    /* GET /api/get_room */
extern const http_handler privydrop_check_room_handler;  /* POST /api/check_room */
extern const http_handler privydrop_leave_room_handler;  /* POST /api/leave_room */
extern const http_handler privydrop_set_track_handler;   /* POST /api/set_track */
extern const http_handler privydrop_logs_debug_handler;  /* POST /api/logs_debug */

/* Frees the registry (at exit). */
void privydrop_free(void);

#endif
