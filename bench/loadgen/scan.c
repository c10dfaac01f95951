#include "scan.h"

#include <string.h>

long scan_find(const char *s, size_t n, const char *needle, size_t nlen) {
  if (nlen == 0 || nlen > n)
    return -1;
  const char *p = s, *stop = s + n - nlen;
  while (p <= stop) {
    const char *q = memchr(p, needle[0], (size_t)(stop - p) + 1);
    if (!q)
      return -1;
    if (memcmp(q, needle, nlen) == 0)
      return (long)(q - s);
    p = q + 1;
  }
  return -1;
}

/* Offset just past `"key":` or -1. */
static long after_key(const char *s, size_t n, const char *key) {
  char pat[64];
  size_t klen = strlen(key);
  if (klen + 3 > sizeof pat)
    return -1;
  pat[0] = '"';
  memcpy(pat + 1, key, klen);
  pat[klen + 1] = '"';
  pat[klen + 2] = ':';
  long at = scan_find(s, n, pat, klen + 3);
  return at < 0 ? -1 : at + (long)klen + 3;
}

int scan_string(const char *s, size_t n, const char *key, char *out, size_t cap, size_t *end) {
  long at = after_key(s, n, key);
  if (at < 0 || (size_t)at >= n || s[at] != '"')
    return -1;
  size_t i = (size_t)at + 1, len = 0;
  while (i < n && s[i] != '"') {
    if (s[i] == '\\' || len + 1 >= cap)
      return -1;
    out[len++] = s[i++];
  }
  if (i >= n)
    return -1;
  out[len] = '\0';
  if (end)
    *end = i + 1;
  return (int)len;
}

int scan_u64(const char *s, size_t n, const char *key, uint64_t *out) {
  long at = after_key(s, n, key);
  if (at < 0)
    return -1;
  size_t i = (size_t)at;
  uint64_t v = 0;
  size_t digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 20) {
    v = v * 10 + (uint64_t)(s[i++] - '0');
    digits++;
  }
  if (!digits)
    return -1;
  *out = v;
  return 0;
}

size_t base64_encode(const uint8_t *in, size_t n, char *out) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    out[o++] = tab[v >> 6 & 63];
    out[o++] = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}
