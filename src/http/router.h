/* Routing on method + path, with :parameters. Pure: no I/O, no allocation,
 * so it is unit-tested on its own. */
#ifndef TANDEM_ROUTER_H
#define TANDEM_ROUTER_H

#include <stddef.h>
#include <stdint.h>

enum http_method_bit {
  METHOD_GET = 1u << 0,
  METHOD_HEAD = 1u << 1,
  METHOD_POST = 1u << 2,
  METHOD_PUT = 1u << 3,
  METHOD_PATCH = 1u << 4,
  METHOD_DELETE = 1u << 5,
  METHOD_OPTIONS = 1u << 6,
};

#define ROUTE_MAX_PARAMS 4

struct route {
  unsigned methods;    /* METHOD_* bits; GET routes also answer HEAD */
  const char *pattern; /* "/api/rooms/:room/items/:item"; a final "*" matches the rest */
  const void *handler; /* opaque to the router */
};

struct route_match {
  const struct route *route;
  unsigned allowed; /* on ROUTE_METHOD_NOT_ALLOWED: methods the path takes */
  int param_count;
  struct {
    const char *name; /* points into the pattern, not NUL-terminated */
    size_t name_len;
    const char *value; /* points into the path */
    size_t value_len;
  } params[ROUTE_MAX_PARAMS];
};

enum route_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED };

/* Finds the first route whose pattern matches `path` (no query string) and
 * whose methods include `method`. Empty segments never match a parameter. */
enum route_result router_match(const struct route *routes, size_t count, unsigned method,
                               const char *path, size_t path_len, struct route_match *m);

/* The value of a named parameter, or NULL (with *len 0). */
const char *route_param(const struct route_match *m, const char *name, size_t *len);

/* "GET, HEAD, POST" for an Allow header; returns the length written. */
size_t router_allow_header(unsigned methods, char *out, size_t outlen);

#endif
