#include "util/filename.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..n) (1-4) with its code point
 * in *cp, or 0 when the first byte does not start one (RFC 3629: no
 * overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
  uint8_t b = s[0];
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
    *cp = b & 0x1Fu;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    *cp = b & 0x0Fu;
    if (b == 0xE0)
      lo = 0xA0; /* overlong */
    else if (b == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    *cp = b & 0x07u;
    if (b == 0xF0)
      lo = 0x90; /* overlong */
    else if (b == 0xF4)
      hi = 0x8F; /* past U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0u) != 0x80u)
      return 0;
    *cp = (*cp << 6) | (s[i] & 0x3Fu);
  }
  return len;
}

static bool dropped(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

int filename_sanitize(const char *in, size_t len, char *out, size_t outlen) {
  if (outlen < sizeof FILENAME_FALLBACK)
    return -1;
  const uint8_t *s = (const uint8_t *)in;
  /* '/' and '\' never occur inside a UTF-8 sequence, so a byte search for
   * the base name cannot split a character. */
  size_t start = len;
  while (start > 0 && s[start - 1] != '/' && s[start - 1] != '\\')
    start--;

  size_t cap = outlen - 1 < FILENAME_MAX_BYTES ? outlen - 1 : FILENAME_MAX_BYTES;
  size_t n = 0;
  for (size_t i = start; i < len;) {
    uint32_t cp;
    size_t k = utf8_decode(s + i, len - i, &cp);
    const uint8_t *piece = s + i;
    size_t plen = k;
    if (k == 0) {
      piece = (const uint8_t *)"_";
      plen = 1;
      k = 1;
    } else if (dropped(cp)) {
      i += k;
      continue;
    }
    i += k;
    if (n == 0 && plen == 1 && (piece[0] == '.' || piece[0] == ' '))
      continue; /* leading dots and spaces */
    if (n + plen > cap)
      break;
    memcpy(out + n, piece, plen);
    n += plen;
  }
  while (n > 0 && (out[n - 1] == '.' || out[n - 1] == ' '))
    n--;
  if (n == 0) {
    memcpy(out, FILENAME_FALLBACK, sizeof FILENAME_FALLBACK);
    return (int)(sizeof FILENAME_FALLBACK - 1);
  }
  out[n] = '\0';
  return (int)n;
}

/* RFC 8187 attr-char */
static bool is_attr_char(uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

struct writer {
  char *out;
  size_t cap, n;
  bool overflow;
};

static void put(struct writer *w, const char *s, size_t n) {
  if (w->n + n >= w->cap) {
    w->overflow = true;
    return;
  }
  memcpy(w->out + w->n, s, n);
  w->n += n;
}

int filename_content_disposition(const char *name, char *out, size_t outlen) {
  const uint8_t *s = (const uint8_t *)name;
  size_t len = strlen(name);
  struct writer w = {out, outlen, 0, false};

  put(&w, "attachment; filename=\"", 22);
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t k = utf8_decode(s + i, len - i, &cp);
    if (k == 1 && cp >= 0x20 && cp < 0x7F && cp != '%') {
      if (cp == '"' || cp == '\\')
        put(&w, "\\", 1);
      put(&w, (const char *)s + i, 1);
    } else {
      put(&w, "_", 1);
    }
    i += k ? k : 1;
  }
  put(&w, "\"; filename*=UTF-8''", 20);
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    if (is_attr_char(s[i])) {
      put(&w, (const char *)s + i, 1);
    } else {
      char pct[3] = {'%', hex[s[i] >> 4], hex[s[i] & 15]};
      put(&w, pct, 3);
    }
  }
  if (w.overflow)
    return -1;
  out[w.n] = '\0';
  return (int)w.n;
}
