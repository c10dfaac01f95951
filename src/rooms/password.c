#include "rooms/password.h"

#include <sodium.h>
#include <string.h>

/* Counts code points; -1 for invalid UTF-8 (a stray byte is not a character). */
static long utf8_chars(const unsigned char *s, size_t len) {
  long chars = 0;
  for (size_t i = 0; i < len; chars++) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!n || i + n > len)
      return -1;
    for (size_t k = 1; k < n; k++)
      if ((s[i + k] & 0xC0) != 0x80)
        return -1;
    i += n;
  }
  return chars;
}

int password_check(const char *pw, size_t len) {
  if (len > PASSWORD_MAX_BYTES || memchr(pw, 0, len))
    return -1;
  long chars = utf8_chars((const unsigned char *)pw, len);
  return chars >= PASSWORD_MIN_CHARS ? 0 : -1;
}

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX]) {
  _Static_assert(crypto_pwhash_STRBYTES <= PASSWORD_HASH_MAX, "hash fits");
  return crypto_pwhash_str_alg(out, pw, len, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT,
                               crypto_pwhash_ALG_ARGON2ID13) == 0
             ? 0
             : -1;
}

bool password_verify(const char *hash, const char *pw, size_t len) {
  return hash && crypto_pwhash_str_verify(hash, pw, len) == 0;
}

static bool domain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

int email_normalise(const char *in, size_t len, char out[EMAIL_MAX + 1]) {
  while (len && (*in == ' ' || *in == '\t')) {
    in++;
    len--;
  }
  while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
    len--;
  if (len < 3 || len > EMAIL_MAX)
    return -1;
  size_t at = len;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c <= ' ' || c == 0x7F || c == '"' || c == '<' || c == '>' || c == ',' || c == ';')
      return -1;
    if (c == '@') {
      if (at != len)
        return -1; /* a second @ */
      at = i;
    }
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out[len] = 0;
  if (at == 0 || at == len || at > 64)
    return -1;
  const char *domain = out + at + 1;
  size_t dlen = len - at - 1;
  if (dlen < 3 || domain[0] == '.' || domain[dlen - 1] == '.' || !memchr(domain, '.', dlen) ||
      strstr(domain, ".."))
    return -1;
  for (size_t i = 0; i < dlen; i++)
    if (!domain_char(domain[i]))
      return -1;
  return 0;
}
