#include "http/query.h"

#include <string.h>

static int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int percent_decode(const char *s, size_t len, char *out, size_t outlen, int plus_is_space) {
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= len || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
        return -2;
      c = hex(s[i + 1]) * 16 + hex(s[i + 2]);
      i += 2;
      if (c == 0)
        return -2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (k + 1 >= outlen)
      return -2;
    out[k++] = (char)c;
  }
  if (outlen == 0)
    return -2;
  out[k] = '\0';
  return (int)k;
}

int query_param(const char *query, size_t qlen, const char *name, char *out, size_t outlen) {
  if (!query)
    return -1;
  size_t nlen = strlen(name);
  const char *p = query, *end = query + qlen;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pair_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pair_end - p));
    const char *key_end = eq ? eq : pair_end;
    if ((size_t)(key_end - p) == nlen && memcmp(p, name, nlen) == 0) {
      const char *v = eq ? eq + 1 : pair_end;
      return percent_decode(v, (size_t)(pair_end - v), out, outlen, 1);
    }
    p = pair_end + 1;
  }
  return -1;
}
