#include "net/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <string.h>

#include "metrics.h"
#include "net/addr_table.h"
#include "net/server.h"
#include "util/log.h"

/* A ring of pending writes. `writing` items at the head belong to the
 * write in flight; the rest wait for the next one. */
struct outq {
  uint32_t head, count, cap, writing;
  struct out_item items[];
};

/* How many buffers one writev may gather. */
#define WRITE_BATCH 64
#define OUTQ_INITIAL 8

static struct out_item *outq_at(struct outq *q, uint32_t i) {
  return &q->items[(q->head + i) & (q->cap - 1)];
}

static int outq_push(conn *c, struct out_item it) {
  struct outq *q = c->outq;
  if (!q || q->count == q->cap) {
    uint32_t cap = q ? q->cap * 2 : OUTQ_INITIAL;
    struct outq *n = malloc(sizeof *n + cap * sizeof n->items[0]);
    if (!n)
      return -1;
    n->head = 0;
    n->count = q ? q->count : 0;
    n->cap = cap;
    n->writing = q ? q->writing : 0;
    for (uint32_t i = 0; q && i < q->count; i++)
      n->items[i] = *outq_at(q, i);
    free(q);
    c->outq = q = n;
  }
  *outq_at(q, q->count++) = it;
  return 0;
}

/* Releases the first n items. */
static void outq_pop(conn *c, uint32_t n) {
  struct outq *q = c->outq;
  for (uint32_t i = 0; i < n; i++) {
    struct out_item *it = outq_at(q, 0);
    c->queued_bytes -= it->len;
    buf_unref(it->owner);
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
  }
  if (q->count == 0) {
    free(q);
    c->outq = NULL;
  }
}

static void start_write(conn *c);

static void after_drain(conn *c) {
  if (c->flags & CONN_CLOSE_WHEN_DRAINED) {
    conn_close_after_write(c);
    return;
  }
  if (c->proto->on_drain)
    c->proto->on_drain(c);
}

static void on_write_done(uv_write_t *req, int status) {
  conn *c = req->data;
  uint32_t n = c->outq->writing;
  c->outq->writing = 0;
  outq_pop(c, n);
  c->wreq = NULL;
  free(req);
  if (c->flags & CONN_CLOSING)
    return;
  if (status < 0) {
    log_msg(LOG_DEBUG, "conn.write_error", "%s: %s", conn_peer_text(c), uv_strerror(status));
    conn_close(c);
    return;
  }
  if (c->outq)
    start_write(c);
  else
    after_drain(c);
}

/* One uv_write gathering up to WRITE_BATCH queued buffers (writev). */
static void start_write(conn *c) {
  struct outq *q = c->outq;
  uv_buf_t bufs[WRITE_BATCH];
  uint32_t n = q->count < WRITE_BATCH ? q->count : WRITE_BATCH;
  for (uint32_t i = 0; i < n; i++) {
    struct out_item *it = outq_at(q, i);
    bufs[i] = uv_buf_init((char *)it->ptr, it->len);
  }
  uv_write_t *req = malloc(sizeof *req);
  if (!req) {
    conn_close(c);
    return;
  }
  req->data = c;
  int rc = uv_write(req, (uv_stream_t *)&c->tcp, bufs, n, on_write_done);
  if (rc < 0) {
    free(req);
    conn_close(c);
    return;
  }
  q->writing = n;
  c->wreq = req;
}

int conn_write(conn *c, const uint8_t *p, size_t len, buf *owner, uint64_t limit) {
  if (c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED))
    return -1;
  if (c->queued_bytes + len > limit)
    return -2;
  if (outq_push(c, (struct out_item){p, (uint32_t)len, owner}) < 0) {
    conn_close(c);
    return -1;
  }
  if (owner)
    buf_ref(owner);
  c->queued_bytes += len;
  c->bytes_out += len;
  if (!c->wreq && !(c->flags & CONN_CORKED)) {
    c->flags |= CONN_CORKED;
    c->cork_next = c->srv->corked;
    c->srv->corked = c;
  }
  return 0;
}

/* Writes what the socket takes now of the queue (one writev), without
 * waiting; returns 0, or the socket's error (the caller closes, when it is
 * safe to: a close runs the protocol's callbacks at once). */
static int write_what_fits(conn *c) {
  struct outq *q = c->outq;
  uv_buf_t bufs[WRITE_BATCH];
  uint32_t n = q->count < WRITE_BATCH ? q->count : WRITE_BATCH;
  for (uint32_t i = 0; i < n; i++) {
    struct out_item *it = outq_at(q, i);
    bufs[i] = uv_buf_init((char *)it->ptr, it->len);
  }
  int written = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
  if (written < 0 && written != UV_EAGAIN)
    return written;
  size_t left = written > 0 ? (size_t)written : 0;
  while (left && c->outq) {
    struct out_item *it = outq_at(c->outq, 0);
    if (left < it->len) {
      it->ptr += left;
      it->len -= (uint32_t)left;
      c->queued_bytes -= left;
      break;
    }
    left -= it->len;
    outq_pop(c, 1);
  }
  return 0;
}

/* Hands the queue to the kernel: a writev that usually takes it all; what
 * the socket cannot take yet goes on with uv_write, which waits for room. */
static void flush_now(conn *c) {
  if ((c->flags & CONN_CLOSING) || c->wreq || !c->outq)
    return;
  if (write_what_fits(c) < 0) {
    conn_close(c);
    return;
  }
  if (c->outq)
    start_write(c);
  else
    after_drain(c);
}

void conn_flush_corked(struct server *srv) {
  /* Flushing may make more to flush (a drained stream sends its next
   * chunk): a few passes, then the next turn takes the rest. */
  for (int pass = 0; srv->corked && pass < 16; pass++) {
    conn *list = srv->corked;
    srv->corked = NULL;
    while (list) {
      conn *c = list;
      list = c->cork_next;
      c->cork_next = NULL;
      c->flags &= (uint8_t)~CONN_CORKED;
      flush_now(c);
    }
  }
}

ssize_t conn_sendfile(conn *c, int fd, int64_t *offset, size_t len) {
  if (c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED))
    return UV_ECANCELED;
  /* A response head queued (corked) just before: out with it first, so a
   * small file goes with one sendfile instead of a read in the thread pool.
   * Whatever stays queued is flushed at the end of the turn as usual; a
   * failed socket is closed there too, not under this caller. */
  if (c->outq && !c->wreq) {
    int rc = write_what_fits(c);
    if (rc < 0)
      return rc;
  }
  if (c->outq)
    return UV_EAGAIN;
  uv_os_fd_t sock;
  if (uv_fileno((uv_handle_t *)&c->tcp, &sock) < 0)
    return UV_EBADF;
  off_t off = (off_t)*offset;
  ssize_t n = sendfile(sock, fd, &off, len);
  if (n < 0)
    return errno == EAGAIN ? UV_EAGAIN : -errno;
  *offset = (int64_t)off;
  c->bytes_out += (uint64_t)n;
  return n;
}

void conn_discard_queue(conn *c) {
  struct outq *q = c->outq;
  if (!q)
    return;
  /* Items handed to the write in flight stay until it completes. */
  while (q->count > q->writing) {
    struct out_item *it = outq_at(q, q->count - 1);
    c->queued_bytes -= it->len;
    buf_unref(it->owner);
    q->count--;
  }
  if (q->count == 0) {
    free(q);
    c->outq = NULL;
  }
}

void conn_set_timeout(conn *c, enum timeout_class cls) {
  /* A closing connection stays out of the lists: it is freed soon. */
  if (c->flags & CONN_CLOSING)
    return;
  server_timeout_unlink(c->srv, c);
  server_timeout_append(c->srv, c, cls);
}

static void on_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (c->flags & CONN_CORKED) {
    /* Rare: closed while waiting for a flush that was put off. */
    conn **pp = &c->srv->corked;
    while (*pp && *pp != c)
      pp = &(*pp)->cork_next;
    if (*pp)
      *pp = c->cork_next;
  }
  if (c->outq) {
    c->outq->writing = 0;
    outq_pop(c, c->outq->count);
  }
  server_conn_closed(c->srv, c);
  addr_table_release(c->addr);
  free(c);
}

void conn_close(conn *c) {
  if (c->flags & CONN_CLOSING)
    return;
  c->flags |= CONN_CLOSING;
  server_timeout_unlink(c->srv, c);
  c->proto->on_close(c);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Our FIN is out. Closing now, with bytes from the peer still unread (the
 * rest of a message too large, say), would send RST instead, and a peer
 * that gets RST may drop what we wrote before it read it: nginx in front
 * then never passes on the close frame with its code. So linger: read and
 * drop until the peer closes too, at most the closing timeout. */
static void on_shutdown_done(uv_shutdown_t *req, int status) {
  conn *c = req->data;
  free(req);
  if (status < 0 || (c->flags & CONN_CLOSING)) {
    conn_close(c);
    return;
  }
  c->flags |= CONN_LINGERING;
  conn_read_start(c); /* closes the connection if it cannot read */
}

void conn_close_after_write(conn *c) {
  if (c->flags & CONN_CLOSING)
    return;
  c->flags |= CONN_CLOSE_WHEN_DRAINED;
  conn_read_stop(c);
  /* The closing list bounds how long a client that never reads can hold
     the connection open. */
  conn_set_timeout(c, TIMEOUT_CLOSING);
  if (c->outq)
    return; /* after_drain comes back here */
  /* Half-close first, so the client reads every byte before the FIN. */
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    conn_close(c);
    return;
  }
  req->data = c;
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown_done) < 0) {
    free(req);
    conn_close(c);
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* Every read on the loop lands here; the bytes are processed before the
 * next read, so one buffer serves every connection. */
static uint8_t shared_read_buffer[65536];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
  *out = uv_buf_init((char *)shared_read_buffer, sizeof shared_read_buffer);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = s->data;
  if (c->flags & CONN_LINGERING) {
    if (n < 0)
      conn_close(c); /* the peer closed too (or failed): done */
    else
      c->bytes_in += (uint64_t)n;
    return;
  }
  if (n > 0) {
    c->bytes_in += (uint64_t)n;
    c->proto->on_read(c, (uint8_t *)b->base, (size_t)n);
    return;
  }
  if (n == UV_EOF) {
    conn_read_stop(c);
    c->proto->on_eof(c);
  } else if (n < 0) {
    conn_close(c);
  }
}

void conn_read_stop(conn *c) {
  if (!(c->flags & CONN_READING) || (c->flags & CONN_CLOSING))
    return;
  c->flags &= (uint8_t)~CONN_READING;
  uv_read_stop((uv_stream_t *)&c->tcp);
}

int conn_read_start(conn *c) {
  if (c->flags & CONN_CLOSING)
    return -1;
  if (c->flags & CONN_READING)
    return 0;
  c->flags |= CONN_READING;
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0) {
    conn_close(c);
    return -1;
  }
  return 0;
}

const char *conn_peer_text(const conn *c) {
  return c->addr ? c->addr->text : "-";
}
