/* GET /ws/:room: a member of a room, speaking the JSON protocol of
 * docs/protocol.md (welcome, peer.joined, peer.left, signal, error). */
#ifndef TANDEM_WS_ROOM_H
#define TANDEM_WS_ROOM_H

#include <jansson.h>

#include "http/http.h"
#include "hub/hub.h"

extern const http_handler ws_room_handler;

struct ws_wait;

/* The app state of a native or chat member's connection: the hub member
 * first (the hub and api/ws_doc.c see only it), and its handle for store
 * answers that may come after the connection went (api/ws_wait.h). */
struct ws_member {
  struct hub_member m;
  struct ws_wait *wait;
};

/* Tells the room's native members of m ("peer.joined", "peer.left" while m
 * is still in the room, "peer.updated"); also used for Socket.IO members. */
void ws_room_peer_event(struct hub_member *m, const char *type);

/* {"peer_id","name","device"}: what others see of a member (new reference). */
json_t *ws_room_peer_json(const struct hub_member *m);

/* Most peers listed in a welcome; peer_count always has the total. */
#define WELCOME_PEERS_MAX 1000

/* {"type":"error","code":...,"message":...} to one socket (code and
 * message are the server's own text, not escaped). */
void ws_room_send_error(conn *c, const char *code, const char *message);

/* Sends a JSON object (taking its reference) to one socket (`to`), or to
 * every member of `room` but `except`. */
void ws_room_emit_json(json_t *o, conn *to, struct hub_room *room, const struct hub_member *except);

#endif
