/* Socket.IO v4 clients (Engine.IO v4, Socket.IO v5 protocol) at /socket.io/,
 * speaking PrivyDrop's signaling events. docs/socketio.md is the contract. */
#ifndef TANDEM_SOCKETIO_H
#define TANDEM_SOCKETIO_H

#include <jansson.h>

#include "http/http.h"
#include "bus/envelope.h"
#include "hub/hub.h"

/* GET and POST /socket.io/?EIO=4&transport=polling|websocket[&sid=...] */
extern const http_handler socketio_handler;

/* Takes a socket out of a PrivyDrop room (POST /api/leave_room), telling
 * the others; 0, or -1 when the socket is not in that room. */
int socketio_leave(const char *room_id, size_t len, const char *socket_id, size_t id_len);

/* Frees the sessions left and the join rate limiter (at exit, after the loop). */
/* An event to every Socket.IO member of the room but `except` (any member,
 * or NULL); the payload reference stays the caller's. */
void socketio_room_emit(struct hub_room *r, struct hub_member *except, const char *event,
                        json_t *payload);

/* An event to one member, if it speaks Socket.IO. */
void socketio_emit_to(struct hub_member *m, const char *event, json_t *payload);

/* Packets from another instance (bus/envelope.h) to this instance's
 * Socket.IO members of the room but `except` / to one member. */
void socketio_deliver(const char *room, size_t len, const char *except, size_t except_len,
                      const struct bus_part *parts, size_t count);
void socketio_deliver_to(struct hub_member *m, const struct bus_part *parts, size_t count);

/* The Engine.IO packet of an event [name, payload] (new buffer, or NULL). */
buf *socketio_event_packet(const char *name, json_t *payload);

void socketio_free(void);

#endif
