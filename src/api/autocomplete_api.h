#ifndef TANDEM_AUTOCOMPLETE_API_H
#define TANDEM_AUTOCOMPLETE_API_H

#include "http/http.h"

extern const http_handler autocomplete_handler; /* POST /api/autocomplete */

#endif
