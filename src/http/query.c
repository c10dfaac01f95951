#include "http/query.h"

#include <string.h>

#include "util/hex.h"

int percent_decode(const char *s, size_t len, char *out, size_t outlen, int plus_is_space) {
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= len || hex_digit_value((unsigned char)s[i + 1]) < 0 ||
          hex_digit_value((unsigned char)s[i + 2]) < 0)
        return -2;
      c = hex_digit_value((unsigned char)s[i + 1]) * 16 + hex_digit_value((unsigned char)s[i + 2]);
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
