/* The application: what the routes share. */
#ifndef TANDEM_APP_H
#define TANDEM_APP_H

#include "http/http.h"
#include "store/store.h"

struct app {
  struct http_app http;
  struct store *store;
};

/* The route table of tandem. */
extern const struct route app_routes[];
extern const size_t app_route_count;

#endif
