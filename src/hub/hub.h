/* The live members of each room, and delivery to them.
 *
 * A room exists while it has members. A broadcast serialises its frame once
 * and every member's queue takes a reference to the same buffer. Peer ids
 * are random, unguessable, and looked up in O(1) for directed signals. */
#ifndef TANDEM_HUB_H
#define TANDEM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "rooms/peer_info.h"
#include "util/bucket.h"
#include "util/buf.h"

#define HUB_ROOM_NAME_MAX 64
#define HUB_PEER_ID_LEN 12

struct hub_member;

/* The protocol a member speaks. A room may hold both: tandem's web client
 * and a PrivyDrop client meet in one (src/api/bridge.c translates). */
enum hub_proto {
  HUB_NATIVE = 0,   /* /ws/:room, docs/protocol.md */
  HUB_SOCKETIO = 1, /* /socket.io/, docs/socketio.md */
};

struct hub_room {
  char name[HUB_ROOM_NAME_MAX + 1];
  uint8_t name_len;
  uint32_t count, cap;
  uint32_t socketio; /* members speaking Socket.IO (count includes them) */
  uint8_t stored;    /* a room of the store (drop, chat, code): not for PrivyDrop joins */
  uint32_t busy;     /* broadcasts in progress: the room must not be freed */
  struct hub_member **members;
};

/* Lives inside the member's connection (WebSocket app state). */
struct hub_member {
  struct hub_room *room;
  conn *c;
  char *name;     /* a name the user chose (owned), or NULL: derived from the id */
  uint32_t index; /* position in room->members */
  uint8_t proto;  /* enum hub_proto, set before the join */
  char peer_id[HUB_PEER_ID_LEN + 1];
  struct peer_device device;
  uint8_t doc_flags;       /* a code room member's use of the document (api/ws_doc.h) */
  uint8_t held;            /* waiting for its welcome: broadcasts are kept for it (hub_hold) */
  struct bucket signals;   /* signals a second */
  struct bucket relay;     /* relayed bytes a second */
  struct bucket chat;      /* chat messages a second (chat rooms) */
  uint8_t device_hash[16]; /* chat rooms: the device, keyed by room (rooms/alias.h) */
};

/* True for 1..64 characters of [A-Za-z0-9_-]. */
int hub_room_name_valid(const char *name, size_t len);

/* Adds the member to the room (created on first join) under a new peer id.
 * Returns 0, or -1 when out of memory. */
int hub_join(struct hub_member *m, conn *c, const char *room, size_t len);

/* Removes the member; the room goes when its last member leaves. */
void hub_leave(struct hub_member *m);

/* A member by peer id, or NULL. */
struct hub_member *hub_find_peer(const char *peer_id, size_t len);

/* The room by name, or NULL when nobody is in it. */
struct hub_room *hub_find_room(const char *name, size_t len);

/* Queues the frame to every native member except `except` (may be NULL):
 * a native frame means nothing to a Socket.IO client. With a shared bus
 * (bus/bus.h) the frame goes through the room's channel and reaches the
 * room's members on every instance, this one included, in one order. */
void hub_broadcast(struct hub_room *room, buf *frame, const struct hub_member *except);

/* The same, skipping members whose doc_flags share a bit with skip_flags
 * (data rather than a predicate, so it travels between instances). */
void hub_broadcast_if(struct hub_room *room, buf *frame, const struct hub_member *except,
                      uint8_t skip_flags);

/* For events that start outside the room (a REST call): whether the room
 * may have members anywhere (here, or with a shared bus, elsewhere), so
 * the frame is worth building; and hub_broadcast_if to a room known by
 * name only. */
bool hub_room_anywhere(const char *name, size_t len);
void hub_broadcast_named(const char *name, size_t len, buf *frame, const struct hub_member *except,
                         uint8_t skip_flags);

/* Socket.IO packets for the room's Socket.IO members but `except`: true
 * when they went through the shared bus (and come back through
 * socketio_deliver), false when the caller sends them itself. */
bool hub_publish_socketio(struct hub_room *room, const char *except_peer, buf *const *packets,
                          const bool *binary, size_t count);

/* Sends frames to one member on another instance (its id and instance
 * known from the bus): true when they went. `relay_from` names the sender
 * of a relayed binary frame (the receiving instance may answer relay_busy
 * to it), NULL otherwise. */
bool hub_publish_to_peer(const char *instance, const char *room, size_t room_len,
                         const char *peer_id, uint8_t proto, buf *const *packets,
                         const bool *binary, size_t count, const char *relay_from);

/* Delivers a native broadcast that came through the bus to this
 * instance's members of the room. */
void hub_deliver_native(const char *room, size_t len, const uint8_t *frame, size_t frame_len,
                        const char *except, size_t except_len, uint8_t skip_flags);

/* hub_room_closed for this instance's members only (from the bus). */
void hub_room_closed_local(const char *name, size_t len, const char *reason);

/* Most broadcasts kept for a member waiting for its welcome (a Redis
 * round trip, a millisecond or so, but a busy room's joins come in bursts:
 * each is a peer.joined for everyone waiting); one more and it is closed
 * with 1013 when released. The frames are shared with the room's other
 * members, so they cost a pointer each here. */
#define HUB_HELD_MAX 65536
#define HUB_HELD_MAX_BYTES (8u << 20)

/* The member's welcome waits (for the members on other instances): the
 * room's broadcasts to it are kept, in order, instead of sent. */
void hub_hold(struct hub_member *m);

/* Its welcome went: sends what was kept (nothing when not held). */
void hub_release(struct hub_member *m);

/* Whether the room may have members speaking `proto`: those here, or,
 * with a shared bus, anywhere (other instances' are not counted here). */
bool hub_room_may_have(const struct hub_room *room, enum hub_proto proto);

/* Told of every join and leave (the bus lists members across instances). */
struct hub_observer {
  void (*joined)(struct hub_member *m);
  void (*left)(struct hub_member *m);
};
void hub_set_observer(const struct hub_observer *o);

/* The member's public info changed (a name): observers hear it as a join
 * again (the bus's member list is updated in place). */
void hub_member_changed(struct hub_member *m);

/* Calls each(m) for every member of every room (m may not leave). */
void hub_each_member(void (*each)(struct hub_member *m));

/* Tells every native member {"type":"room.closed","reason":...} and closes
 * their sockets with 1000. Nothing happens when nobody is in the room. */
void hub_room_closed(const char *name, size_t len, const char *reason);

/* Frees the hub's tables (members must have left). */
void hub_free(void);

/* hub_join under a peer id the caller chose (HUB_PEER_ID_LEN characters,
 * e.g. a Socket.IO socket id handed out before the join). Returns 0, -1
 * when out of memory, or -2 when the id is taken. */
int hub_join_as(struct hub_member *m, conn *c, const char *room, size_t len, const char *peer_id);

#endif
