#include "http/router.h"

#include <stdio.h>
#include <string.h>

/* Matches one pattern against a path, filling params. */
static int match_pattern(const char *pat, const char *path, size_t path_len,
                         struct route_match *m) {
  const char *p = path, *end = path + path_len;
  m->param_count = 0;
  while (*pat) {
    if (pat[0] == '*' && pat[1] == '\0')
      return 1;
    if (*pat == ':') {
      const char *name = pat + 1;
      const char *name_end = strchr(name, '/');
      if (!name_end)
        name_end = name + strlen(name);
      const char *seg_end = memchr(p, '/', (size_t)(end - p));
      if (!seg_end)
        seg_end = end;
      if (seg_end == p || m->param_count == ROUTE_MAX_PARAMS)
        return 0;
      m->params[m->param_count].name = name;
      m->params[m->param_count].name_len = (size_t)(name_end - name);
      m->params[m->param_count].value = p;
      m->params[m->param_count].value_len = (size_t)(seg_end - p);
      m->param_count++;
      pat = name_end;
      p = seg_end;
      continue;
    }
    if (p == end || *p != *pat)
      return 0;
    p++;
    pat++;
  }
  return p == end;
}

enum route_result router_match(const struct route *routes, size_t count, unsigned method,
                               const char *path, size_t path_len, struct route_match *m) {
  memset(m, 0, sizeof *m);
  unsigned allowed = 0;
  for (size_t i = 0; i < count; i++) {
    struct route_match tmp;
    if (!match_pattern(routes[i].pattern, path, path_len, &tmp))
      continue;
    unsigned methods = routes[i].methods;
    if (methods & METHOD_GET)
      methods |= METHOD_HEAD;
    if (methods & method) {
      *m = tmp;
      m->route = &routes[i];
      return ROUTE_FOUND;
    }
    allowed |= methods;
  }
  if (!allowed)
    return ROUTE_NOT_FOUND;
  m->allowed = allowed;
  return ROUTE_METHOD_NOT_ALLOWED;
}

const char *route_param(const struct route_match *m, const char *name, size_t *len) {
  size_t n = strlen(name);
  for (int i = 0; i < m->param_count; i++)
    if (m->params[i].name_len == n && memcmp(m->params[i].name, name, n) == 0) {
      *len = m->params[i].value_len;
      return m->params[i].value;
    }
  *len = 0;
  return NULL;
}

size_t router_allow_header(unsigned methods, char *out, size_t outlen) {
  static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  size_t k = 0;
  if (outlen)
    out[0] = '\0';
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(methods & (1u << i)))
      continue;
    int w = snprintf(out + k, outlen - k, "%s%s", k ? ", " : "", names[i]);
    if (w < 0 || (size_t)w >= outlen - k) {
      if (k < outlen)
        out[k] = '\0'; /* no half-written method name */
      break;
    }
    k += (size_t)w;
  }
  return k;
}
