/* The end of a room: deleted by its owner or expired. Its files, rows and
 * live members go together; a sweeper finds expired rooms on a timer. */
#ifndef TANDEM_LIFECYCLE_H
#define TANDEM_LIFECYCLE_H

#include <stddef.h>

struct app;

/* Starts the sweeper; 0 or -1 with a reason in err. */
int lifecycle_start(struct app *app, char *err, size_t errlen);
void lifecycle_stop(struct app *app);

/* Removes the room's files and rows, tells its members `room.closed` with
 * the reason ("deleted", "expired") and closes their sockets. Returns 0,
 * or a negative STORE_* status. */
int room_close(struct app *app, const char *room_id, const char *reason);

#endif
