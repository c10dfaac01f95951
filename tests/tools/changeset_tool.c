/* The differential test's view of tandem's change sets: reads one JSON
 * object a line on stdin and answers one JSON line on stdout.
 *
 *   {"doc":"...","changes":[...]}  ->  {"text":"..."} or {"error":"code"}
 *   a line that is not JSON         ->  {"error":"bad_json"}
 *   {"diff":["old","new"]}          ->  {"changes":[...]}
 *
 * tests/e2e/changeset_differential.test.mjs feeds it thousands of cases
 * made with @codemirror/state, in one process. Built with the tests, never
 * installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/changeset.h"
#include "rooms/textdiff.h"

static const struct changeset_limits limits = {.max_sections = 1 << 20,
                                               .max_insert_bytes = 1 << 26};

static json_t *apply_case(json_t *doc, json_t *changes) {
  struct changeset cs;
  int rc = changeset_parse(changes, &limits, &cs);
  char *out = NULL;
  size_t out_len = 0;
  if (rc == CHANGESET_OK)
    rc = changeset_apply(&cs, json_string_value(doc), json_string_length(doc), &out, &out_len);
  changeset_free(&cs);
  if (rc != CHANGESET_OK)
    return json_pack("{s:s}", "error", changeset_status_code(rc));
  json_t *answer = json_pack("{s:s%}", "text", out, out_len);
  free(out);
  return answer;
}

static json_t *diff_case(json_t *pair) {
  json_t *a = json_array_get(pair, 0), *b = json_array_get(pair, 1);
  if (!json_is_string(a) || !json_is_string(b))
    return json_pack("{s:s}", "error", "diff takes [old, new]");
  json_t *d = textdiff(json_string_value(a), json_string_length(a), json_string_value(b),
                       json_string_length(b), TEXTDIFF_MAX_EDITS);
  return d ? json_pack("{s:o}", "changes", d) : json_pack("{s:s}", "error", "internal");
}

static json_t *answer(const char *line, size_t len) {
  json_error_t jerr;
  json_t *in = json_loadb(line, len, 0, &jerr);
  if (!in) /* jansson refuses lone surrogates (\udc00), as the server does */
    return json_pack("{s:s}", "error", "bad_json");
  json_t *doc = json_object_get(in, "doc"), *diff = json_object_get(in, "diff");
  json_t *out = json_is_string(doc)   ? apply_case(doc, json_object_get(in, "changes"))
                : json_is_array(diff) ? diff_case(diff)
                                      : json_pack("{s:s}", "error", "bad_input");
  json_decref(in);
  return out;
}

int main(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    json_t *out = answer(line, (size_t)n);
    if (!out || json_dumpf(out, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF) {
      json_decref(out);
      free(line);
      return 1;
    }
    json_decref(out);
  }
  free(line);
  return fflush(stdout) == 0 ? 0 : 1;
}
