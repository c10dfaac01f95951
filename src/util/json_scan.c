#include "util/json_scan.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/hex.h"

struct scan {
  const char *p, *end;
};

static void skip_space(struct scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static bool literal(struct scan *s, const char *word, size_t n) {
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
    return false;
  s->p += n;
  return true;
}

static bool digits(struct scan *s) {
  const char *start = s->p;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
    s->p++;
  return s->p > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(struct scan *s) {
  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (s->p >= s->end || *s->p < '1' || *s->p > '9' || !digits(s))
    return false;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (!digits(s))
      return false;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    if (!digits(s))
      return false;
  }
  return true;
}

/* Four hex digits after \u; -1 when they are not. */
static long hex4(const char *p, const char *end) {
  if (end - p < 4)
    return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_digit_value((unsigned char)p[i]);
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Reads one escape at p (just past the backslash) and returns the code
 * point, advancing *p; -1 for a bad escape or a lone surrogate. */
static long escape(const char **p, const char *end) {
  if (*p >= end)
    return -1;
  char c = *(*p)++;
  switch (c) {
  case '"': return '"';
  case '\\': return '\\';
  case '/': return '/';
  case 'b': return '\b';
  case 'f': return '\f';
  case 'n': return '\n';
  case 'r': return '\r';
  case 't': return '\t';
  case 'u': break;
  default: return -1;
  }
  long hi = hex4(*p, end);
  if (hi < 0)
    return -1;
  *p += 4;
  if (hi >= 0xDC00 && hi <= 0xDFFF)
    return -1;
  if (hi < 0xD800 || hi > 0xDBFF)
    return hi;
  if (end - *p < 6 || (*p)[0] != '\\' || (*p)[1] != 'u')
    return -1;
  long lo = hex4(*p + 2, end);
  if (lo < 0xDC00 || lo > 0xDFFF)
    return -1;
  *p += 6;
  return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* A string starting at its opening quote. */
static bool string(struct scan *s) {
  s->p++;
  while (s->p < s->end) {
    unsigned char c = (unsigned char)*s->p++;
    if (c == '"')
      return true;
    if (c < 0x20)
      return false;
    if (c == '\\' && escape(&s->p, s->end) < 0)
      return false;
  }
  return false;
}

static bool value(struct scan *s, int depth, struct json_field *fields, size_t nfields);

static bool key_is(struct json_span key, const char *want) {
  char decoded[64];
  long n = json_span_string(key, decoded, sizeof decoded);
  return n >= 0 && (size_t)n == strlen(want) && memcmp(decoded, want, (size_t)n) == 0;
}

static void note_field(struct json_span key, struct json_span v, struct json_field *fields,
                       size_t nfields) {
  for (size_t i = 0; i < nfields; i++)
    if (key_is(key, fields[i].key))
      fields[i].value = v;
}

/* An object starting at '{'; records top-level fields when fields != NULL. */
static bool object(struct scan *s, int depth, struct json_field *fields, size_t nfields) {
  s->p++;
  skip_space(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return true;
  }
  for (;;) {
    skip_space(s);
    if (s->p >= s->end || *s->p != '"')
      return false;
    struct json_span key = {s->p, 0};
    if (!string(s))
      return false;
    key.len = (size_t)(s->p - key.p);
    skip_space(s);
    if (s->p >= s->end || *s->p++ != ':')
      return false;
    skip_space(s);
    const char *start = s->p;
    if (!value(s, depth + 1, NULL, 0))
      return false;
    if (fields)
      note_field(key, (struct json_span){start, (size_t)(s->p - start)}, fields, nfields);
    skip_space(s);
    if (s->p >= s->end)
      return false;
    char c = *s->p++;
    if (c == '}')
      return true;
    if (c != ',')
      return false;
  }
}

static bool array(struct scan *s, int depth) {
  s->p++;
  skip_space(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    return true;
  }
  for (;;) {
    skip_space(s);
    if (!value(s, depth + 1, NULL, 0))
      return false;
    skip_space(s);
    if (s->p >= s->end)
      return false;
    char c = *s->p++;
    if (c == ']')
      return true;
    if (c != ',')
      return false;
  }
}

static bool value(struct scan *s, int depth, struct json_field *fields, size_t nfields) {
  if (depth > JSON_SCAN_MAX_DEPTH || s->p >= s->end)
    return false;
  switch (*s->p) {
  case '{': return object(s, depth, fields, nfields);
  case '[': return array(s, depth);
  case '"': return string(s);
  case 't': return literal(s, "true", 4);
  case 'f': return literal(s, "false", 5);
  case 'n': return literal(s, "null", 4);
  default: return number(s);
  }
}

enum json_scan_result json_scan_object(const char *text, size_t len, struct json_field *fields,
                                       size_t nfields) {
  for (size_t i = 0; i < nfields; i++)
    fields[i].value = (struct json_span){NULL, 0};
  struct scan s = {text, text + len};
  skip_space(&s);
  bool is_object = s.p < s.end && *s.p == '{';
  bool valid = value(&s, 1, is_object ? fields : NULL, nfields);
  skip_space(&s);
  if (valid && s.p == s.end)
    return is_object ? JSON_SCAN_OK : JSON_SCAN_NOT_OBJECT;
  for (size_t i = 0; i < nfields; i++) /* found before the error: not to be used */
    fields[i].value = (struct json_span){NULL, 0};
  return JSON_SCAN_INVALID;
}

/* Appends code point cp as UTF-8; false when it does not fit. */
static bool put_utf8(char *out, size_t cap, size_t *n, long cp) {
  unsigned char b[4];
  size_t k;
  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    k = 1;
  } else if (cp < 0x800) {
    b[0] = (unsigned char)(0xC0 | (cp >> 6));
    b[1] = (unsigned char)(0x80 | (cp & 0x3F));
    k = 2;
  } else if (cp < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    k = 3;
  } else {
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    k = 4;
  }
  if (*n + k >= cap)
    return false;
  memcpy(out + *n, b, k);
  *n += k;
  return true;
}

long json_span_string(struct json_span v, char *out, size_t cap) {
  if (!v.p || v.len < 2 || v.p[0] != '"' || v.p[v.len - 1] != '"' || cap == 0)
    return -1;
  const char *p = v.p + 1, *end = v.p + v.len - 1;
  size_t n = 0;
  while (p < end) {
    long cp = (unsigned char)*p++;
    if (cp == '\\') {
      cp = escape(&p, end);
      if (cp < 0 || !put_utf8(out, cap, &n, cp))
        return -1;
    } else {
      if (n + 1 >= cap)
        return -1;
      out[n++] = (char)cp;
    }
  }
  out[n] = '\0';
  return (long)n;
}
