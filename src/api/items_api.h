#ifndef TANDEM_ITEMS_API_H
#define TANDEM_ITEMS_API_H

#include "http/http.h"

extern const http_handler items_post_handler;   /* POST /api/rooms/:room/items */
extern const http_handler items_list_handler;   /* GET /api/rooms/:room/items */
extern const http_handler items_get_handler;    /* GET /api/rooms/:room/items/:item */
extern const http_handler items_delete_handler; /* DELETE /api/rooms/:room/items/:item */
extern const http_handler items_file_handler;   /* GET /api/rooms/:room/items/:item/file */

#endif
