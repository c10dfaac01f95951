#include "http/cookie.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "http/http.h"

static bool is_space(char c) {
  return c == ' ' || c == '\t';
}

const char *cookie_get(const char *h, size_t hlen, const char *name, size_t *len) {
  size_t nlen = strlen(name);
  size_t i = 0;
  while (i < hlen) {
    while (i < hlen && (is_space(h[i]) || h[i] == ';'))
      i++;
    size_t pair = i;
    while (i < hlen && h[i] != ';')
      i++;
    size_t end = i;
    const char *eq = memchr(h + pair, '=', end - pair);
    if (!eq)
      continue;
    size_t klen = (size_t)(eq - (h + pair));
    while (klen && is_space(h[pair + klen - 1]))
      klen--;
    if (klen != nlen || memcmp(h + pair, name, nlen) != 0)
      continue;
    const char *v = eq + 1;
    size_t vlen = (size_t)(h + end - v);
    while (vlen && is_space(*v)) {
      v++;
      vlen--;
    }
    while (vlen && is_space(v[vlen - 1]))
      vlen--;
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
      v++;
      vlen -= 2;
    }
    *len = vlen;
    return v;
  }
  return NULL;
}

int cookie_build(char *out, size_t cap, const char *name, const char *value, uint64_t max_age_s,
                 bool secure) {
  int n =
      snprintf(out, cap, "Set-Cookie: %s=%s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Lax%s\r\n",
               name, value, (unsigned long long)max_age_s, secure ? "; Secure" : "");
  return n < 0 || (size_t)n >= cap ? -1 : n;
}

bool csrf_origin_ok(const struct config *cfg, const char *origin, size_t olen, const char *host,
                    size_t hlen) {
  if (!origin)
    return true;
  return http_origin_allowed(cfg, origin, olen, host, hlen);
}
