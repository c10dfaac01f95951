/* A WebSocket member waiting on the store.
 *
 * The store may answer after the connection closed and was freed, so a
 * store callback never holds a conn: it holds a ws_wait, a small counted
 * handle that forgets its connection when the connection closes.
 *
 * While a member waits (a join being looked up, a chat message being
 * stored, a push being appended), the frames it sends are held and
 * handled in order once the answer has been handled: a member's messages
 * are handled one at a time, each after the effects of the one before.
 * What is held is bounded; past the bound a frame is refused with an
 * error, never dropped silently. */
#ifndef TANDEM_WS_WAIT_H
#define TANDEM_WS_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "ws/ws_codec.h"

/* Frames held while a member waits (a chat member typing fast while each
 * message is stored in PostgreSQL); past either bound a frame is refused
 * with `busy`. The bytes bound is what matters; the count bounds the
 * bookkeeping of many tiny frames. */
#define WS_WAIT_HELD_MAX 16384
#define WS_WAIT_HELD_BYTES (1024 * 1024) /* their bytes together */

struct ws_wait;

/* Handles a frame that was held (the member's on_message). */
typedef void (*ws_wait_handler)(conn *c, enum ws_opcode op, const uint8_t *data, size_t len);

/* A handle for the connection, or NULL when out of memory. The connection
 * holds one reference until ws_wait_closed. */
struct ws_wait *ws_wait_new(conn *c, ws_wait_handler handle);

/* The connection is closing: frames held are dropped, callbacks still due
 * see no connection. Drops the connection's reference (NULL is ignored). */
void ws_wait_closed(struct ws_wait *w);

/* Starts a wait: returns w, with a reference for the callback's ctx. */
struct ws_wait *ws_wait_begin(struct ws_wait *w);

/* The connection the wait is for, or NULL when it went away. */
conn *ws_wait_conn(const struct ws_wait *w);

/* The callback has done its work: drops its reference (w may be freed)
 * and, when the connection is still there and waits for nothing else,
 * handles the frames held meanwhile. */
void ws_wait_end(struct ws_wait *w);

/* True while the member waits; its on_message then hands the frame to
 * ws_wait_hold and returns. */
bool ws_wait_busy(const struct ws_wait *w);

/* Holds a copy of the frame until the wait ends; refuses it with an
 * error when the bound is reached. */
void ws_wait_hold(struct ws_wait *w, enum ws_opcode op, const uint8_t *data, size_t len);

#endif
