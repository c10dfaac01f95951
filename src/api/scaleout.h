/* Several tandem instances sharing rooms through the bus (--redis): what
 * arrives from the bus is handed to the hub and the Socket.IO side, every
 * join and leave is listed in the room's member list, and the members of
 * an instance that died are announced as gone. Alone, none of it runs. */
#ifndef TANDEM_SCALEOUT_H
#define TANDEM_SCALEOUT_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

/* Starts the shared bus when --redis is given; 0, or -1 with err. */
int scaleout_start(uv_loop_t *loop, const struct config *cfg, char *err, size_t errlen);

/* Closes the bus (at shutdown, before the loop's last run). */
void scaleout_stop(void);

#endif
