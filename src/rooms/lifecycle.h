/* The end of a room: deleted by its owner or expired. Its files, rows and
 * live members go together; a sweeper finds expired rooms on a timer. */
#ifndef TANDEM_LIFECYCLE_H
#define TANDEM_LIFECYCLE_H

#include <stddef.h>

struct app;

/* Starts the sweeper; 0 or -1 with a reason in err. */
int lifecycle_start(struct app *app, char *err, size_t errlen);
void lifecycle_stop(struct app *app);

/* Called once a room_close is over: 0, or a negative STORE_* status. */
typedef void (*room_closed_cb)(void *ctx, int status);

/* Removes the room's files and rows, then tells its members `room.closed`
 * with the reason (a string that lives forever: "deleted", "expired") and
 * closes their sockets, then calls `done` (which may run before this
 * returns, or later: the store answers when it does). The id is copied. */
void room_close(struct app *app, const char *room_id, const char *reason, room_closed_cb done,
                void *ctx);

#endif
