/* GET /ws/:room: a member of a room, speaking the JSON protocol of
 * docs/protocol.md (welcome, peer.joined, peer.left, signal, error). */
#ifndef TANDEM_WS_ROOM_H
#define TANDEM_WS_ROOM_H

#include "http/http.h"

extern const http_handler ws_room_handler;

/* Most peers listed in a welcome; peer_count always has the total. */
#define WELCOME_PEERS_MAX 1000

#endif
