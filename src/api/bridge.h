/* What a native member (/ws/:room) and a Socket.IO member (PrivyDrop) in one
 * room see of each other. The room is the same hub room; each side hears
 * the other in its own protocol:
 *   native peer.joined / peer.left     <->  ready / peer-disconnected {peerId}
 *   native signal data {description}   <->  offer {offer} / answer {answer}
 *   native signal data {candidate}     <->  ice-candidate {candidate}
 * (signal data in the shape tandem's web client sends; anything else a
 * native member signals is not for PrivyDrop clients and is dropped). */
#ifndef TANDEM_BRIDGE_H
#define TANDEM_BRIDGE_H

#include <jansson.h>
#include <stdbool.h>

#include "hub/hub.h"
#include "util/json_scan.h"

/* A native member joined or left (peer.left: still in the room): tells
 * the room's Socket.IO members. */
void bridge_native_presence(struct hub_member *m, bool joined);

/* A native signal `data` from `from` to one Socket.IO member, or to all
 * of the room's Socket.IO members when target is NULL. */
void bridge_signal_to_socketio(struct hub_room *room, struct hub_member *target, const char *from,
                               struct json_span data);

/* A PrivyDrop offer / answer / ice-candidate from Socket.IO socket `from`
 * to a native member, as a native signal. */
void bridge_signal_to_native(struct hub_member *target, const char *from, const char *event,
                             json_t *payload);

/* The same two crossings as frames built for a member on another
 * instance (NULL when the data has no equivalent): a native signal frame
 * for a PrivyDrop event, a Socket.IO packet for native signal data. */
buf *bridge_native_frame(const char *from, const char *event, json_t *payload);
buf *bridge_socketio_packet(const char *from, struct json_span data);

#endif
