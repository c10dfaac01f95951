/* WebSocket connections: the handshake on the HTTP side, then frames in
 * (through the codec) and frames out (shared buffers, bounded queue), the
 * close handshake, and pings for idle connections. */
#ifndef TANDEM_WS_CONN_H
#define TANDEM_WS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "net/conn.h"
#include "util/buf.h"
#include "ws/ws_codec.h"

/* Room for the application's per-connection state, kept inside the
 * connection so a WebSocket costs one allocation. */
#define WS_APP_STATE 96 /* a chat member: a hub member with its device and chat rate */

struct ws_handler {
  /* The connection is open; the app state holds what ws_accept copied. */
  void (*on_open)(conn *c);
  /* A whole message (text is valid UTF-8). `data` is valid during the call. */
  void (*on_message)(conn *c, enum ws_opcode op, const uint8_t *data, size_t len);
  /* The connection is going: release app state. Called once. */
  void (*on_close)(conn *c);
};

/* Checks the upgrade request (method, Upgrade, Connection, version 13, key,
 * Origin policy) and answers 400/403/426 itself when it fails (returns -1).
 * On success switches the connection to WebSocket after the 101, with
 * `app_init` (app_len <= WS_APP_STATE bytes) copied into the app state. */
int ws_accept(struct http_req *r, const struct ws_handler *handler, const void *app_init,
              size_t app_len);

/* The app state area of a WebSocket connection. */
void *ws_app_state(conn *c);

/* Queues a prebuilt frame (shared by reference). A client whose queue is
 * over --ws-max-queue is closed with 1013. Returns 0 or -1 when the frame
 * was not queued. */
int ws_send(conn *c, buf *frame);

/* Builds and sends one text frame. */
int ws_send_text(conn *c, const char *text, size_t len);

/* Starts the close handshake with a code and a short reason. */
void ws_close(conn *c, uint16_t code, const char *reason);

/* Counts a bad message; past --ws-max-errors closes with 1008. Returns 1
 * when the connection is closing. */
int ws_count_error(conn *c);

#endif
