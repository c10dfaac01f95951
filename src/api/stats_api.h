/* The operator's statistics: GET /api/stats/referrers, behind --admin-token. */
#ifndef TANDEM_STATS_API_H
#define TANDEM_STATS_API_H

#include "http/http.h"

extern const http_handler stats_referrers_handler;

#endif
