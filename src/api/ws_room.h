/* GET /ws/:room: a member of a room, speaking the JSON protocol of
 * docs/protocol.md (welcome, peer.joined, peer.left, signal, error). */
#ifndef TANDEM_WS_ROOM_H
#define TANDEM_WS_ROOM_H

#include "http/http.h"
#include "hub/hub.h"

extern const http_handler ws_room_handler;

/* Tells the room's native members of m ("peer.joined", "peer.left" while m
 * is still in the room, "peer.updated"); also used for Socket.IO members. */
void ws_room_peer_event(struct hub_member *m, const char *type);

/* Most peers listed in a welcome; peer_count always has the total. */
#define WELCOME_PEERS_MAX 1000

#endif
