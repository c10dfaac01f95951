/* A WebSocket member waiting on the store (see ws_wait.h). */
#include "api/ws_wait.h"

#include <stdlib.h>
#include <string.h>

#include "api/ws_room.h"
#include "ws/ws_conn.h"

struct held_frame {
  struct held_frame *next;
  enum ws_opcode op;
  size_t len;
  uint8_t data[];
};

struct ws_wait {
  conn *c; /* NULL once the connection closed */
  ws_wait_handler handle;
  uint32_t refs;    /* the connection's, one per wait, one per drain */
  uint32_t waiting; /* waits begun and not yet ended */
  bool draining;    /* handling held frames: a nested end leaves it to the loop */
  struct held_frame *head, *tail;
  size_t held, held_bytes;
};

struct ws_wait *ws_wait_new(conn *c, ws_wait_handler handle) {
  struct ws_wait *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->c = c;
  w->handle = handle;
  w->refs = 1;
  return w;
}

static void drop_held(struct ws_wait *w) {
  while (w->head) {
    struct held_frame *h = w->head;
    w->head = h->next;
    free(h);
  }
  w->tail = NULL;
  w->held = w->held_bytes = 0;
}

static void unref(struct ws_wait *w) {
  if (--w->refs > 0)
    return;
  drop_held(w);
  free(w);
}

void ws_wait_closed(struct ws_wait *w) {
  if (!w)
    return;
  w->c = NULL;
  drop_held(w);
  unref(w);
}

struct ws_wait *ws_wait_begin(struct ws_wait *w) {
  w->refs++;
  w->waiting++;
  return w;
}

conn *ws_wait_conn(const struct ws_wait *w) {
  return w->c;
}

bool ws_wait_busy(const struct ws_wait *w) {
  return w->waiting > 0 || w->head != NULL;
}

/* Handles held frames until one starts a wait of its own (the rest stay
 * held behind it) or none is left. A frame whose wait ends at once (an
 * engine that answers before the call returns) lets the loop go on. The
 * caller holds a reference: a frame may close the connection. */
static void drain(struct ws_wait *w) {
  if (w->draining)
    return;
  w->draining = true;
  while (w->c && w->waiting == 0 && w->head) {
    struct held_frame *h = w->head;
    w->head = h->next;
    if (!w->head)
      w->tail = NULL;
    w->held--;
    w->held_bytes -= h->len;
    w->handle(w->c, h->op, h->data, h->len);
    free(h);
  }
  w->draining = false;
}

void ws_wait_end(struct ws_wait *w) {
  w->waiting--;
  if (w->waiting == 0 && w->c)
    drain(w);
  unref(w);
}

void ws_wait_hold(struct ws_wait *w, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct held_frame *h = NULL;
  if (w->held < WS_WAIT_HELD_MAX && w->held_bytes + len <= WS_WAIT_HELD_BYTES)
    h = malloc(sizeof *h + len);
  if (!h) {
    ws_room_send_error(w->c, "busy",
                       "Too much sent while an earlier message is being stored; send it again.");
    ws_count_error(w->c);
    return;
  }
  h->next = NULL;
  h->op = op;
  h->len = len;
  memcpy(h->data, data, len);
  if (w->tail)
    w->tail->next = h;
  else
    w->head = h;
  w->tail = h;
  w->held++;
  w->held_bytes += len;
}
