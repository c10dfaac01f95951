/* Socket.IO v4 clients (Engine.IO v4, Socket.IO v5 protocol) at /socket.io/,
 * speaking PrivyDrop's signaling events. docs/socketio.md is the contract. */
#ifndef TANDEM_SOCKETIO_H
#define TANDEM_SOCKETIO_H

#include "http/http.h"

/* GET and POST /socket.io/?EIO=4&transport=polling|websocket[&sid=...] */
extern const http_handler socketio_handler;

/* Takes a socket out of a PrivyDrop room (POST /api/leave_room), telling
 * the others; 0, or -1 when the socket is not in that room. */
int socketio_leave(const char *room_id, size_t len, const char *socket_id, size_t id_len);

/* Frees the sessions left and the join rate limiter (at exit, after the loop). */
void socketio_free(void);

#endif
