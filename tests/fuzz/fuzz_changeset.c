/* libFuzzer harness for CodeMirror change sets and whole-text diffs.
 *
 * Input: the document (UTF-8), a NUL byte, then the change set's JSON. An
 * input whose document is not valid UTF-8 is skipped (tandem never holds
 * such a document). The parser must never crash; when it accepts, the
 * result of applying is checked against a reference written separately
 * here, which works on UTF-16 arrays as JavaScript does:
 *   - applied: the same text, valid UTF-8, of the announced length;
 *   - length_mismatch: the lengths really do not add up;
 *   - splits_character: some change really begins or ends inside a pair.
 * Then the diff of the document to the result (and to the JSON's own
 * bytes, when they are text) must turn one into the other. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/changeset.h"
#include "rooms/textdiff.h"
#include "ws/ws_codec.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static const struct changeset_limits limits = {.max_sections = 4096, .max_insert_bytes = 1 << 16};

/* UTF-8 to UTF-16, the way JavaScript holds strings. */
struct u16 {
  uint16_t *u;
  size_t n;
};

static void to_utf16(const char *s, size_t len, struct u16 *out) {
  out->u = malloc((len + 1) * sizeof *out->u);
  CHECK(out->u);
  out->n = 0;
  for (size_t i = 0; i < len;) {
    unsigned char b = (unsigned char)s[i];
    uint32_t c;
    if (b < 0x80) {
      c = b;
      i += 1;
    } else if (b < 0xE0) {
      c = ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
      i += 2;
    } else if (b < 0xF0) {
      c = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      i += 3;
    } else {
      c = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
          ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
      i += 4;
    }
    if (c >= 0x10000) {
      out->u[out->n++] = (uint16_t)(0xD800 + ((c - 0x10000) >> 10));
      out->u[out->n++] = (uint16_t)(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      out->u[out->n++] = (uint16_t)c;
    }
  }
}

static bool inside_pair(const struct u16 *d, uint64_t pos) {
  return pos > 0 && pos < d->n && d->u[pos - 1] >= 0xD800 && d->u[pos - 1] <= 0xDBFF &&
         d->u[pos] >= 0xDC00 && d->u[pos] <= 0xDFFF;
}

/* The reference: reads the accepted JSON again and applies it to the
 * UTF-16 document. Returns the total length it covers; *split says whether
 * some boundary between a kept run and a change falls inside a pair. */
static uint64_t reference(const json_t *json, const struct u16 *doc, struct u16 *out, bool *split) {
  uint64_t pos = 0;
  int last = -1; /* kind of the last run that did something: 0 kept, 1 change */
  *split = false;
  out->n = 0;
  for (size_t i = 0; i < json_array_size(json); i++) {
    const json_t *part = json_array_get(json, i);
    bool change = json_is_array(part);
    uint64_t len = (uint64_t)json_integer_value(change ? json_array_get(part, 0) : part);
    struct u16 ins = {0};
    if (change) {
      size_t lines = json_array_size(part);
      char *joined = NULL;
      size_t jl = 0;
      for (size_t k = 1; k < lines; k++) {
        const json_t *line = json_array_get(part, k);
        joined = realloc(joined, jl + json_string_length(line) + 2);
        CHECK(joined);
        if (k > 1)
          joined[jl++] = '\n';
        memcpy(joined + jl, json_string_value(line), json_string_length(line));
        jl += json_string_length(line);
      }
      to_utf16(joined ? joined : "", jl, &ins);
      free(joined);
    }
    bool does_something = change ? len > 0 || ins.n > 0 : len > 0;
    if (does_something) {
      if (last >= 0 && last != (int)change && inside_pair(doc, pos))
        *split = true;
      last = change;
    }
    if (pos + len <= doc->n) {
      if (change) {
        out->u = realloc(out->u, (out->n + ins.n + 1) * sizeof *out->u);
        CHECK(out->u);
        memcpy(out->u + out->n, ins.u, ins.n * sizeof *ins.u);
        out->n += ins.n;
      } else {
        out->u = realloc(out->u, (out->n + len + 1) * sizeof *out->u);
        CHECK(out->u);
        memcpy(out->u + out->n, doc->u + pos, len * sizeof *doc->u);
        out->n += len;
      }
    }
    free(ins.u);
    pos += len;
  }
  return pos;
}

/* The diff of a to b, applied to a, must give b. */
static void check_diff(const char *a, size_t alen, const char *b, size_t blen) {
  json_t *d = textdiff(a, alen, b, blen, 64);
  CHECK(d);
  struct changeset cs;
  static const struct changeset_limits wide = {.max_sections = 1 << 20,
                                               .max_insert_bytes = 1 << 24};
  CHECK(changeset_parse(d, &wide, &cs) == CHANGESET_OK);
  char *out;
  size_t out_len;
  CHECK(changeset_apply(&cs, a, alen, &out, &out_len) == CHANGESET_OK);
  CHECK(out_len == blen && memcmp(out, b, blen) == 0);
  free(out);
  changeset_free(&cs);
  json_decref(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  if (!nul)
    return 0;
  const char *doc = (const char *)data;
  size_t doc_len = (size_t)(nul - data);
  if (!utf8_valid(data, doc_len))
    return 0;
  const char *js = (const char *)nul + 1;
  size_t js_len = size - doc_len - 1;
  if (utf8_valid((const uint8_t *)js, js_len))
    check_diff(doc, doc_len, js, js_len);

  json_error_t jerr;
  json_t *json = json_loadb(js, js_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!json)
    return 0;
  struct changeset cs;
  int rc = changeset_parse(json, &limits, &cs);
  if (rc == CHANGESET_OK) {
    struct u16 d, want = {0}, got;
    to_utf16(doc, doc_len, &d);
    bool split;
    uint64_t covered = reference(json, &d, &want, &split);
    CHECK(covered == cs.length);
    char *out;
    size_t out_len;
    rc = changeset_apply(&cs, doc, doc_len, &out, &out_len);
    if (rc == CHANGESET_OK) {
      CHECK(covered == d.n && !split);
      CHECK(utf8_valid((const uint8_t *)out, out_len));
      CHECK(text_utf16_length(out, out_len) == cs.new_length);
      to_utf16(out, out_len, &got);
      CHECK(got.n == want.n && (!got.n || memcmp(got.u, want.u, got.n * sizeof *got.u) == 0));
      check_diff(doc, doc_len, out, out_len);
      free(got.u);
      free(out);
    } else if (rc == CHANGESET_LENGTH_MISMATCH) {
      CHECK(covered != d.n);
    } else {
      CHECK(rc == CHANGESET_SPLITS_CHARACTER && covered == d.n && split);
    }
    free(d.u);
    free(want.u);
  } else {
    CHECK(rc < 0 && rc != CHANGESET_LENGTH_MISMATCH && rc != CHANGESET_SPLITS_CHARACTER);
  }
  changeset_free(&cs);
  json_decref(json);
  return 0;
}
