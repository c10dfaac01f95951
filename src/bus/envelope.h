/* What one tandem instance tells the others about a room through Redis:
 * a small binary envelope around the frames it built, so every instance
 * sends its members the same bytes without building them again.
 *
 *   "T1" kind proto skip_flags
 *   origin, room, except, target   (each: one length byte, then the bytes)
 *   count, then per part: binary (0/1), length (4 bytes, big-endian), bytes
 *
 * Pure code, no I/O: a decoded envelope points into the bytes it came from. */
#ifndef TANDEM_BUS_ENVELOPE_H
#define TANDEM_BUS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_ID_MAX 64    /* an instance id, a room name, a peer id */
#define BUS_PARTS_MAX 65 /* a Socket.IO event and its binary attachments (SIO_MAX_ATTACHMENTS) */

enum bus_kind {
  BUS_BROADCAST = 1,   /* to the room's members of `proto`, but `except` */
  BUS_ROOM_CLOSED = 2, /* the room was closed; part 0 is the reason */
  BUS_TO_PEER = 3,     /* to the member `target` only */
  BUS_RELAY = 4,      /* a relayed binary frame for `target` from `except` (backpressure applies) */
  BUS_LEAVE = 5,      /* the Socket.IO member `target` leaves its room (POST /api/leave_room) */
  BUS_CHAT_EVICT = 6, /* the chat member `target` is put out; part 0: "removed" or "replaced" */
  BUS_CHAT_CLOSES = 7, /* the chat room's closes_at moved; part 0: the new time in ms, decimal */
};

struct bus_part {
  const uint8_t *p;
  uint32_t len;
  bool binary; /* a Socket.IO attachment rather than a text packet */
};

struct bus_envelope {
  uint8_t kind;                                /* enum bus_kind */
  uint8_t proto;                               /* enum hub_proto of the members it is for */
  uint8_t skip_flags;                          /* members whose doc_flags share a bit are skipped */
  const char *origin, *room, *except, *target; /* "" when none */
  uint8_t origin_len, room_len, except_len, target_len;
  uint8_t count;
  struct bus_part parts[BUS_PARTS_MAX];
};

/* The encoded size, or 0 when a field is over its bound. */
size_t bus_envelope_size(const struct bus_envelope *e);

/* Writes the envelope into out (bus_envelope_size bytes). */
void bus_envelope_write(const struct bus_envelope *e, uint8_t *out);

/* Reads an envelope; its strings and parts point into p. 0, or -1 when
 * the bytes are not a whole envelope. */
int bus_envelope_read(const uint8_t *p, size_t len, struct bus_envelope *e);

#endif
