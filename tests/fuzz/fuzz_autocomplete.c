/* libFuzzer harness for autocomplete (src/rooms/autocomplete.h).
 *
 * The first byte picks the language, the next two the cursor (a UTF-16
 * offset, as the API takes it), the rest is the document. Whatever is
 * answered must hold together: the range is the typed prefix and ends at
 * the cursor, completions are bounded, terminated and ranked, and the
 * confidence is in [0, 1]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/autocomplete.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3)
    return 0;
  enum ac_lang lang = (enum ac_lang)(data[0] % AC_LANG_COUNT);
  size_t cursor16 = (size_t)data[1] | (size_t)data[2] << 8;
  const char *code = (const char *)data + 3;
  size_t len = size - 3;
  static struct ac_result res;
  int rc = ac_complete_utf16(code, len, cursor16, lang, &res);
  if (rc != AC_OK) {
    CHECK(rc == AC_ERR_UTF8 || rc == AC_ERR_CURSOR_RANGE || rc == AC_ERR_CURSOR_SPLIT);
    return 0;
  }
  size_t byte;
  CHECK(ac_utf16_to_byte(code, len, cursor16, &byte) == AC_OK);
  CHECK(res.to == byte && res.to_utf16 == cursor16);
  CHECK(res.from <= res.to && res.from_utf16 <= res.to_utf16);
  CHECK(res.to_utf16 - res.from_utf16 == ac_utf16_length(code + res.from, res.to - res.from));
  CHECK(res.count >= 0 && res.count <= AC_RESULTS_MAX);
  CHECK(res.confidence >= 0 && res.confidence <= 1);
  CHECK(res.count > 0 || res.confidence == 0);
  if (res.prefix[0])
    CHECK(strlen(res.prefix) == res.to - res.from &&
          memcmp(res.prefix, code + res.from, res.to - res.from) == 0);
  for (int i = 0; i < res.count; i++) {
    CHECK(memchr(res.items[i].label, 0, sizeof res.items[i].label) != NULL);
    CHECK(memchr(res.items[i].insert, 0, sizeof res.items[i].insert) != NULL);
    CHECK(memchr(res.items[i].detail, 0, sizeof res.items[i].detail) != NULL);
    CHECK(res.items[i].kind <= AC_KIND_SNIPPET);
    if (i > 0)
      CHECK(res.items[i - 1].score >= res.items[i].score);
  }
  return 0;
}
