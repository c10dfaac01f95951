#ifndef TANDEM_STATIC_H
#define TANDEM_STATIC_H

#include "http/http.h"

/* GET /assets/... : a bundled file of the web client. */
extern const http_handler static_asset_handler;
/* GET /, /r/:room, /session/:code : the web client's page. */
extern const http_handler static_page_handler;

#endif
