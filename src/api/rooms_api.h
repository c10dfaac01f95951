#ifndef TANDEM_ROOMS_API_H
#define TANDEM_ROOMS_API_H

#include <stdint.h>

#include "http/http.h"
#include "store/store.h"

extern const http_handler rooms_create_handler; /* POST /api/rooms */
extern const http_handler rooms_get_handler;    /* GET /api/rooms/:room */
extern const http_handler rooms_delete_handler; /* DELETE /api/rooms/:room */
extern const http_handler rooms_qr_handler;     /* GET /api/rooms/:room/qr.svg */

/* Deletes the room (files removed, then rows, then members told) and
 * answers 204, or 503/500 (api_respond_store_error); logged with the
 * owner's account when it is a facilitator's (else 0). The answer may come
 * later: the request waits through handler_state (free when this is
 * called), so the handler's on_abort must be api_pending_abort. */
void rooms_delete(struct http_req *r, const struct room_row *room, int64_t account);

#endif
