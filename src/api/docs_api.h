/* GET|PUT /api/rooms/:room/doc: a code room's document over REST. */
#ifndef TANDEM_DOCS_API_H
#define TANDEM_DOCS_API_H

#include "http/http.h"

extern const http_handler doc_get_handler;
extern const http_handler doc_put_handler;

#endif
