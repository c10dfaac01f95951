#include "http/range.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

static bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Reads 1*DIGIT at *pos, saturating at UINT64_MAX. Returns false if there is
 * no digit. */
static bool take_number(const char *s, size_t len, size_t *pos, uint64_t *out) {
  size_t i = *pos;
  uint64_t v = 0;
  if (i >= len || !is_digit(s[i]))
    return false;
  for (; i < len && is_digit(s[i]); i++) {
    unsigned d = (unsigned)(s[i] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  *pos = i;
  *out = v;
  return true;
}

struct spec {
  bool suffix;   /* "-N" */
  bool has_last; /* "A-B" rather than "A-" */
  uint64_t first, last, suffix_len;
};

/* One range-spec, already trimmed. */
static bool parse_spec(const char *s, size_t len, struct spec *sp) {
  size_t pos = 0;
  *sp = (struct spec){0};
  if (len && s[0] == '-') {
    pos = 1;
    sp->suffix = true;
    return take_number(s, len, &pos, &sp->suffix_len) && pos == len;
  }
  if (!take_number(s, len, &pos, &sp->first) || pos >= len || s[pos] != '-')
    return false;
  pos++;
  if (pos == len)
    return true;
  sp->has_last = true;
  return take_number(s, len, &pos, &sp->last) && pos == len && sp->last >= sp->first;
}

enum range_result range_parse(const char *value, size_t len, uint64_t size, range_spec *out) {
  *out = (range_spec){0, 0, size};
  if (!value)
    return RANGE_NONE;
  while (len && is_ows(value[0])) {
    value++;
    len--;
  }
  while (len && is_ows(value[len - 1]))
    len--;
  static const char unit[] = "bytes=";
  if (len < sizeof unit - 1)
    return RANGE_NONE;
  for (size_t i = 0; i < sizeof unit - 1; i++) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c + 32);
    if (c != unit[i])
      return RANGE_NONE;
  }

  struct spec sp;
  int count = 0;
  size_t pos = sizeof unit - 1;
  while (pos <= len) {
    size_t start = pos, end = pos;
    while (end < len && value[end] != ',')
      end++;
    pos = end + 1;
    while (start < end && is_ows(value[start]))
      start++;
    while (end > start && is_ows(value[end - 1]))
      end--;
    if (start == end)
      continue; /* empty list element */
    if (++count > 1 || !parse_spec(value + start, end - start, &sp))
      return RANGE_NONE;
  }
  if (count == 0)
    return RANGE_NONE;

  if (sp.suffix) {
    if (sp.suffix_len == 0)
      return RANGE_UNSATISFIABLE;
    if (size == 0)
      return RANGE_NONE;
    out->start = sp.suffix_len >= size ? 0 : size - sp.suffix_len;
    out->end = size - 1;
    return RANGE_OK;
  }
  if (sp.first >= size)
    return RANGE_UNSATISFIABLE;
  out->start = sp.first;
  out->end = sp.has_last && sp.last < size - 1 ? sp.last : size - 1;
  return RANGE_OK;
}

int range_content_range(enum range_result result, const range_spec *r, char *out, size_t outlen) {
  int n;
  if (result == RANGE_OK)
    n = snprintf(out, outlen, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->start, r->end, r->size);
  else if (result == RANGE_UNSATISFIABLE)
    n = snprintf(out, outlen, "bytes */%" PRIu64, r->size);
  else
    return -1;
  return n < 0 || (size_t)n >= outlen ? -1 : n;
}
