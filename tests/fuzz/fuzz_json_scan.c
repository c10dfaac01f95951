/* libFuzzer harness for the validating JSON scanner, checked against jansson.
 *
 * On UTF-8 input (all a WebSocket text frame can carry) the scanner and
 * jansson must agree on what is JSON, except where jansson is stricter for
 * reasons of its own (numbers it cannot represent, NUL in keys) or the scanner is
 * (nesting beyond JSON_SCAN_MAX_DEPTH). Every span the scanner reports must
 * itself be a valid JSON value. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_scan.h"
#include "ws/ws_codec.h"

#include "fuzz_check.h"

static int depth_of(const json_t *v) {
  int deepest = 0;
  if (json_is_object(v)) {
    const char *k;
    json_t *child;
    json_object_foreach((json_t *)v, k, child) {
      int d = depth_of(child);
      deepest = d > deepest ? d : deepest;
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *child;
    json_array_foreach(v, i, child) {
      int d = depth_of(child);
      deepest = d > deepest ? d : deepest;
    }
  } else {
    return 0;
  }
  return deepest + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  struct json_field f[] = {{.key = "type"}, {.key = "to"}, {.key = "data"}};
  enum json_scan_result r = json_scan_object(text, size, f, 3);
  for (size_t i = 0; i < 3; i++) {
    if (!f[i].value.p)
      continue;
    CHECK(r == JSON_SCAN_OK);
    CHECK(f[i].value.p >= text && f[i].value.p + f[i].value.len <= text + size);
    CHECK(json_scan_object(f[i].value.p, f[i].value.len, NULL, 0) != JSON_SCAN_INVALID);
    char out[64];
    long n = json_span_string(f[i].value, out, sizeof out);
    CHECK(n < (long)sizeof out);
  }
  /* jansson stops reading at a NUL byte; the scanner refuses one outside a
   * string, as RFC 8259 does. */
  if (!utf8_valid(data, size) || memchr(data, 0, size))
    return 0;
  json_error_t err;
  json_t *v = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (v) {
    if (depth_of(v) < JSON_SCAN_MAX_DEPTH)
      CHECK(r != JSON_SCAN_INVALID);
    CHECK((r == JSON_SCAN_OK) == (json_is_object(v) != 0) || r == JSON_SCAN_INVALID);
    json_decref(v);
  } else if (r != JSON_SCAN_INVALID) {
    /* Valid JSON that jansson declines for reasons of its own: numbers it
     * cannot hold, and \u0000 in a key (it keeps keys as C strings). */
    CHECK(strstr(err.text, "too big") || strstr(err.text, "overflow") ||
          strstr(err.text, "NUL byte in object key"));
  }
  return 0;
}
