/* CodeMirror change sets: parsing their JSON form and applying them to
 * UTF-8 text (see changeset.h for the rules). */
#include "rooms/changeset.h"

#include <stdlib.h>
#include <string.h>

#include "ws/ws_codec.h" /* utf8_valid: the one UTF-8 checker of tandem */

/* Bytes of the UTF-8 sequence that starts with `lead`, and the UTF-16
 * units it takes: 4-byte sequences are the astral characters, which
 * JavaScript stores as a surrogate pair. */
static size_t utf8_seq_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

uint64_t text_utf16_length(const char *text, size_t len) {
  uint64_t units = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char b = (unsigned char)text[i];
    /* Every lead byte is one unit; a 4-byte lead is one more. */
    units += (b & 0xC0) != 0x80;
    units += b >= 0xF0;
  }
  return units;
}

/* Moves `units` UTF-16 units forward from byte `at`. Returns the new byte
 * offset, or -1 past the end of the text, or -2 when the move would stop
 * between the two halves of a surrogate pair. */
static int64_t advance(const char *text, size_t len, size_t at, uint64_t units) {
  while (units > 0) {
    if (at >= len)
      return -1;
    size_t n = utf8_seq_len((unsigned char)text[at]);
    if (n == 4) {
      if (units == 1)
        return -2;
      units--;
    }
    units--;
    at += n;
  }
  return at <= len ? (int64_t)at : -1;
}

int64_t text_utf16_to_byte(const char *text, size_t len, uint64_t pos) {
  int64_t at = advance(text, len, 0, pos);
  return at < 0 ? -1 : at;
}

void changeset_free(struct changeset *cs) {
  free(cs->sections);
  free(cs->inserts);
  memset(cs, 0, sizeof *cs);
}

/* A length: a JSON integer from 0 to CHANGESET_LENGTH_MAX. JavaScript
 * never writes a whole number with a fraction or exponent, so a real is
 * refused rather than guessed at. */
static int read_length(const json_t *v, uint64_t *len) {
  if (!json_is_integer(v))
    return json_is_number(v) ? CHANGESET_BAD_LENGTH : CHANGESET_BAD_SECTION;
  json_int_t n = json_integer_value(v);
  if (n < 0 || (uint64_t)n > CHANGESET_LENGTH_MAX)
    return CHANGESET_BAD_LENGTH;
  *len = (uint64_t)n;
  return CHANGESET_OK;
}

/* Appends bytes to the inserted text, within the limit. */
static int add_insert(struct changeset *cs, size_t *cap, const char *s, size_t n, size_t limit) {
  if (n == 0)
    return CHANGESET_OK;
  if (n > limit || cs->inserts_len > limit - n)
    return CHANGESET_INSERT_TOO_LARGE;
  if (cs->inserts_len + n > *cap) {
    size_t c = *cap ? *cap : 64;
    while (c < cs->inserts_len + n)
      c *= 2;
    char *p = realloc(cs->inserts, c);
    if (!p)
      return CHANGESET_NO_MEMORY;
    cs->inserts = p;
    *cap = c;
  }
  memcpy(cs->inserts + cs->inserts_len, s, n);
  cs->inserts_len += n;
  return CHANGESET_OK;
}

/* The lines after the length: strings, joined with "\n" as Text.of joins
 * them. Returns the status; *units gets the UTF-16 length. */
static int read_lines(const json_t *part, struct changeset *cs, size_t *cap, size_t limit,
                      uint64_t *units) {
  size_t lines = json_array_size(part);
  *units = 0;
  for (size_t i = 1; i < lines; i++) {
    const json_t *line = json_array_get(part, i);
    if (!json_is_string(line))
      return CHANGESET_BAD_INSERT;
    const char *s = json_string_value(line);
    size_t n = json_string_length(line);
    if (!utf8_valid((const uint8_t *)s, n))
      return CHANGESET_BAD_UTF8;
    int rc = i > 1 ? add_insert(cs, cap, "\n", 1, limit) : CHANGESET_OK;
    if (rc == CHANGESET_OK)
      rc = add_insert(cs, cap, s, n, limit);
    if (rc != CHANGESET_OK)
      return rc;
    *units += text_utf16_length(s, n) + (i > 1);
  }
  return CHANGESET_OK;
}

/* Adds a run, joining it to the last one when both are kept or both are
 * changes (an insertion right after a deletion is one replacement). */
static void add_section(struct changeset *cs, const struct changeset_section *s) {
  cs->length += s->len;
  cs->new_length += s->change ? s->ins_units : s->len;
  if (s->change && s->len == 0 && s->ins_len == 0)
    return; /* changes nothing */
  if (!s->change && s->len == 0)
    return;
  if (cs->count > 0) {
    struct changeset_section *last = &cs->sections[cs->count - 1];
    if (last->change == s->change) {
      last->len += s->len;
      last->ins_len += s->ins_len; /* inserts are stored in order, so they abut */
      last->ins_units += s->ins_units;
      return;
    }
  }
  cs->sections[cs->count++] = *s;
}

int changeset_parse(const json_t *json, const struct changeset_limits *limits,
                    struct changeset *out) {
  memset(out, 0, sizeof *out);
  if (!json_is_array(json))
    return CHANGESET_NOT_ARRAY;
  size_t parts = json_array_size(json);
  if (parts > limits->max_sections)
    return CHANGESET_TOO_MANY_SECTIONS;
  out->sections = malloc((parts ? parts : 1) * sizeof *out->sections);
  if (!out->sections)
    return CHANGESET_NO_MEMORY;
  size_t cap = 0;
  for (size_t i = 0; i < parts; i++) {
    const json_t *part = json_array_get(json, i);
    struct changeset_section s = {0};
    int rc;
    if (json_is_array(part)) {
      s.change = true;
      s.ins_at = out->inserts_len;
      rc = read_length(json_array_get(part, 0), &s.len);
      if (rc == CHANGESET_OK)
        rc = read_lines(part, out, &cap, limits->max_insert_bytes, &s.ins_units);
      s.ins_len = out->inserts_len - s.ins_at;
    } else {
      rc = read_length(part, &s.len);
    }
    if (rc != CHANGESET_OK)
      return rc;
    add_section(out, &s);
  }
  return CHANGESET_OK;
}

int changeset_apply(const struct changeset *cs, const char *text, size_t len, char **out,
                    size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (text_utf16_length(text, len) != cs->length)
    return CHANGESET_LENGTH_MISMATCH;
  /* Kept bytes are at most the old text, so this is always enough. */
  char *result = malloc(len + cs->inserts_len + 1);
  if (!result)
    return CHANGESET_NO_MEMORY;
  size_t at = 0, n = 0;
  for (size_t i = 0; i < cs->count; i++) {
    const struct changeset_section *s = &cs->sections[i];
    int64_t end = advance(text, len, at, s->len);
    if (end < 0) {
      free(result);
      return end == -2 ? CHANGESET_SPLITS_CHARACTER : CHANGESET_LENGTH_MISMATCH;
    }
    if (s->change) {
      if (s->ins_len) /* a deletion may come with no inserted text at all */
        memcpy(result + n, cs->inserts + s->ins_at, s->ins_len);
      n += s->ins_len;
    } else {
      memcpy(result + n, text + at, (size_t)end - at);
      n += (size_t)end - at;
    }
    at = (size_t)end;
  }
  result[n] = '\0';
  *out = result;
  *out_len = n;
  return CHANGESET_OK;
}

static const struct {
  const char *code, *message;
} statuses[] = {
    {"ok", "The change set applies."},
    {"bad_changes", "A change set is a JSON array."},
    {"bad_changes", "A change set element is a length or [length, ...lines]."},
    {"bad_changes", "A change set length is a whole number of 0 or more."},
    {"bad_changes", "Inserted lines are strings."},
    {"bad_changes", "Inserted text is not valid UTF-8."},
    {"changes_too_large", "The change set has too many sections."},
    {"changes_too_large", "The change set inserts too much text."},
    {"length_mismatch", "The change set's length is not the document's length."},
    {"splits_character", "A change begins or ends inside a surrogate pair."},
    {"internal", "Out of memory."},
};

static size_t status_index(int status) {
  size_t i = status <= 0 ? (size_t)-status : 0;
  return i < sizeof statuses / sizeof statuses[0] ? i : sizeof statuses / sizeof statuses[0] - 1;
}

const char *changeset_status_code(int status) {
  return statuses[status_index(status)].code;
}

const char *changeset_status_message(int status) {
  return statuses[status_index(status)].message;
}
