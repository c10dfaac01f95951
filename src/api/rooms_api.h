#ifndef TANDEM_ROOMS_API_H
#define TANDEM_ROOMS_API_H

#include "http/http.h"

extern const http_handler rooms_create_handler; /* POST /api/rooms */
extern const http_handler rooms_get_handler;    /* GET /api/rooms/:room */
extern const http_handler rooms_delete_handler; /* DELETE /api/rooms/:room */
extern const http_handler rooms_qr_handler;     /* GET /api/rooms/:room/qr.svg */

#endif
