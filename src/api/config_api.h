#ifndef TANDEM_CONFIG_API_H
#define TANDEM_CONFIG_API_H

#include "http/http.h"

extern const http_handler config_handler; /* GET /api/config */

#endif
