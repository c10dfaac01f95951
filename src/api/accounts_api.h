/* Facilitator accounts and sessions: /api/accounts, /api/session, /api/me. */
#ifndef TANDEM_ACCOUNTS_API_H
#define TANDEM_ACCOUNTS_API_H

#include "http/http.h"

extern const http_handler accounts_create_handler; /* POST /api/accounts */
extern const http_handler session_create_handler;  /* POST /api/session */
extern const http_handler session_delete_handler;  /* DELETE /api/session */
extern const http_handler me_handler;              /* GET /api/me */
extern const http_handler me_rooms_handler;        /* GET /api/me/rooms */

#endif
