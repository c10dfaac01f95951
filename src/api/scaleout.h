/* Several tandem instances sharing rooms through the bus (--redis): what
 * arrives from the bus is handed to the hub and the Socket.IO side, every
 * join and leave is listed in the room's member list, and the members of
 * an instance that died are announced as gone. Alone, none of it runs. */
#ifndef TANDEM_SCALEOUT_H
#define TANDEM_SCALEOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"

struct app;

/* Starts the shared bus when --redis is given; 0, or -1 with err. The
 * app's live documents follow what other instances broadcast. */
int scaleout_start(uv_loop_t *loop, struct app *app, const struct config *cfg, char *err,
                   size_t errlen);

/* POST /api/leave_room for a socket on another instance: done(ctx, true)
 * once that instance was told (the socket is in the room's list there),
 * done(ctx, false) when no instance has it. False, and done not called,
 * when Redis is not in use or away. */
bool scaleout_leave_remote(const char *room, size_t len, const char *socket_id,
                           void (*done)(void *ctx, bool told), void *ctx);

/* Closes the bus (at shutdown, before the loop's last run). */
void scaleout_stop(void);

#endif
