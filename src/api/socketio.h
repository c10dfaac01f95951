/* Socket.IO v4 clients (Engine.IO v4, Socket.IO v5 protocol) at /socket.io/,
 * speaking PrivyDrop's signaling events. docs/socketio.md is the contract. */
#ifndef TANDEM_SOCKETIO_H
#define TANDEM_SOCKETIO_H

#include "http/http.h"

/* GET /socket.io/?EIO=4&transport=websocket */
extern const http_handler socketio_handler;

/* Frees the join rate limiter (at exit). */
void socketio_free(void);

#endif
