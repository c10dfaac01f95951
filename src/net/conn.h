/* A client connection: the TCP handle, its bounded write queue and its
 * place in the server's timeout lists. The protocol spoken on it (HTTP,
 * then perhaps WebSocket) lives in `proto_state` and is driven through the
 * `proto` table, so this module knows nothing of either.
 *
 * Memory is the point here: an idle connection owns no buffers. Reads land
 * in one buffer shared by the loop; the write queue is allocated when a
 * write cannot complete at once and freed when it drains. */
#ifndef TANDEM_CONN_H
#define TANDEM_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

struct server;
struct addr_entry;
typedef struct conn conn;

/* Each connection sits in exactly one timeout list; each list has a fixed
 * duration, so appending keeps it sorted and expiry is O(1). */
enum timeout_class {
  TIMEOUT_NONE,    /* never expires (waiting on the server itself) */
  TIMEOUT_HEADERS, /* a request's headers are due */
  TIMEOUT_IDLE,    /* keep-alive, no request in progress */
  TIMEOUT_BODY,    /* a request body is arriving */
  TIMEOUT_WS,      /* WebSocket: ping when it expires, drop when it expires again */
  TIMEOUT_CLOSING, /* waiting for a close handshake or a final write */
  TIMEOUT_CLASSES
};

struct conn_proto {
  const char *name;
  /* Bytes read; `data` is the loop's shared buffer and may be modified
   * but must not be kept after return. */
  void (*on_read)(conn *c, uint8_t *data, size_t len);
  /* The client closed its side (EOF). */
  void (*on_eof)(conn *c);
  /* The connection's timeout list expired it; the callback must close the
   * connection or move it to a list (conn_set_timeout). */
  void (*on_timeout)(conn *c, enum timeout_class cls);
  /* All queued output has been written. May be NULL. */
  void (*on_drain)(conn *c);
  /* The connection is closing: release protocol state. Called once. */
  void (*on_close)(conn *c);
  /* The server is shutting down; close gracefully. */
  void (*on_shutdown)(conn *c);
};

struct out_item {
  const uint8_t *ptr;
  uint32_t len;
  buf *owner; /* reference held while queued; NULL for static data */
};

struct outq; /* ring of out_items, allocated on demand */

#define CONN_PROTO_STATE 192

enum conn_flags {
  CONN_CLOSING = 1u << 0, /* conn_close was called */
  CONN_CLOSE_WHEN_DRAINED = 1u << 1,
  CONN_READING = 1u << 2,
  CONN_COUNTED_WS = 1u << 3, /* counted in metrics.ws_connections */
  CONN_CORKED = 1u << 4,     /* in the server's list to flush this loop turn */
  CONN_LINGERING = 1u << 5,  /* our side shut: reading only to drop what the peer still sends */
};

struct conn {
  uv_tcp_t tcp;
  struct server *srv;
  const struct conn_proto *proto;
  conn *to_prev, *to_next; /* timeout list links */
  conn *cork_next;         /* the server's list of connections to flush */
  uint64_t deadline;       /* loop time (ms) when the timeout fires */
  struct outq *outq;       /* NULL when nothing is queued */
  uv_write_t *wreq;        /* the write in flight, or NULL */
  struct addr_entry *addr; /* the client's address and its connection count */
  uint64_t queued_bytes;   /* queued, not yet handed to the kernel */
  uint64_t bytes_in, bytes_out;
  uint8_t tclass; /* enum timeout_class */
  uint8_t flags;  /* enum conn_flags */
  _Alignas(max_align_t) unsigned char proto_state[CONN_PROTO_STATE];
};

/* Queues bytes for writing, after what is already queued. Nothing is
 * written at once: once per turn of the loop, everything queued for a
 * connection goes out in one writev (conn_flush_corked), so a client sent
 * eight messages in a turn costs one system call, not eight. A reference
 * to `owner` is taken (static data passes NULL; anything else must be owned
 * by a buf). Returns 0; -1 when the connection is closing; -2 when the
 * queue would exceed `limit` bytes (nothing is queued then). */
int conn_write(conn *c, const uint8_t *p, size_t len, buf *owner, uint64_t limit);

/* conn_write of a whole buffer. */
static inline int conn_send(conn *c, buf *b, uint64_t limit) {
  return conn_write(c, b->data, b->len, b, limit);
}

/* Sends up to len bytes of file `fd` from *offset straight from the page
 * cache to the socket (sendfile), advancing *offset. Only when nothing is
 * queued (bytes must stay in order): what is queued is written first if the
 * socket takes it at once. Returns bytes sent (>= 0), UV_EAGAIN
 * when the socket or the queue is full, or another negative error. It never
 * waits: the caller queues something through conn_write to learn when the
 * socket drains. */
ssize_t conn_sendfile(conn *c, int fd, int64_t *offset, size_t len);

/* Writes what every connection queued this turn (called by the server's
 * check handle, after the loop's I/O callbacks). */
void conn_flush_corked(struct server *srv);

/* Moves the connection to the tail of a timeout list. */
void conn_set_timeout(conn *c, enum timeout_class cls);

/* Closes now: queued output is dropped. Idempotent. */
void conn_close(conn *c);

/* Closes once the queue has drained (gracefully: FIN after the last byte). */
void conn_close_after_write(conn *c);

/* Drops queued output that has not yet been handed to a write. */
void conn_discard_queue(conn *c);

void conn_read_stop(conn *c);
int conn_read_start(conn *c);

/* The client's address as text, for logs. */
const char *conn_peer_text(const conn *c);

#endif
