/* The validating scanner behind the signal relay's fast path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/json_scan.h"

static enum json_scan_result scan(const char *text) {
  return json_scan_object(text, strlen(text), NULL, 0);
}

static void assert_span(struct json_span v, const char *want) {
  assert_non_null(v.p);
  assert_int_equal(v.len, strlen(want));
  assert_memory_equal(v.p, want, v.len);
}

static void test_valid_json_is_accepted(void **state) {
  const char *good[] = {
      "{}",
      " { } ",
      "{\"a\":1}",
      "{\"a\":[1,2.5,-3e10,0,-0.0,1E+2,true,false,null,\"x\",{}]}",
      "{\"a\":{\"b\":{\"c\":[[[]]]}}}",
      "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}",
      "{\"a\":1,\"a\":2}",
      "{\"\\u0000\":\"\\u0000\"}",
      "{\"emoji\":\"\xf0\x9f\x98\x80\"}",
  };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    assert_int_equal(scan(good[i]), JSON_SCAN_OK);
}

static void test_invalid_json_is_refused(void **state) {
  const char *bad[] = {
      "",
      "{",
      "}",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\":1,}",
      "{,}",
      "{a:1}",
      "{'a':1}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":.5}",
      "{\"a\":-}",
      "{\"a\":1e}",
      "{\"a\":+1}",
      "{\"a\":tru}",
      "{\"a\":nul}",
      "{\"a\":[1,]}",
      "{\"a\":[1 2]}",
      "{\"a\":\"unterminated}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\ud800\"}",        /* lone high surrogate */
      "{\"a\":\"\\udc00\"}",        /* lone low surrogate */
      "{\"a\":\"\\ud800\\u0041\"}", /* high surrogate then not a low one */
      "{\"a\":\"tab\there\"}",      /* raw control character */
      "{} {}",
      "{}x",
      "{\"a\":NaN}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (scan(bad[i]) != JSON_SCAN_INVALID)
      fail_msg("accepted: %s", bad[i]);
  }
}

static void test_other_values_are_valid_but_not_objects(void **state) {
  assert_int_equal(scan("[1,2]"), JSON_SCAN_NOT_OBJECT);
  assert_int_equal(scan("\"x\""), JSON_SCAN_NOT_OBJECT);
  assert_int_equal(scan(" 42 "), JSON_SCAN_NOT_OBJECT);
  assert_int_equal(scan("null"), JSON_SCAN_NOT_OBJECT);
}

/* {"a":[[...]]} with `arrays` levels of arrays inside the object. */
static size_t nested(char *out, size_t arrays) {
  size_t n = 0;
  memcpy(out, "{\"a\":", 5);
  n += 5;
  memset(out + n, '[', arrays);
  n += arrays;
  memset(out + n, ']', arrays);
  n += arrays;
  out[n++] = '}';
  return n;
}

static void test_nesting_is_bounded(void **state) {
  char text[2 * JSON_SCAN_MAX_DEPTH + 16];
  size_t n = nested(text, JSON_SCAN_MAX_DEPTH - 1); /* the object is the first level */
  assert_int_equal(json_scan_object(text, n, NULL, 0), JSON_SCAN_OK);
  n = nested(text, JSON_SCAN_MAX_DEPTH);
  assert_int_equal(json_scan_object(text, n, NULL, 0), JSON_SCAN_INVALID);
}

static void test_top_level_fields_are_found_as_written(void **state) {
  const char *msg = "{ \"type\" : \"signal\", \"to\":\"abc\",\"data\": {\"sdp\":\"v=0\\r\\n\","
                    "\"to\":\"nested\"} , \"extra\":[1]}";
  struct json_field f[] = {{.key = "type"}, {.key = "to"}, {.key = "data"}, {.key = "missing"}};
  assert_int_equal(json_scan_object(msg, strlen(msg), f, 4), JSON_SCAN_OK);
  assert_span(f[0].value, "\"signal\"");
  assert_span(f[1].value, "\"abc\""); /* the nested "to" is not top level */
  assert_span(f[2].value, "{\"sdp\":\"v=0\\r\\n\",\"to\":\"nested\"}");
  assert_null(f[3].value.p);
}

static void test_the_last_duplicate_key_wins_and_escaped_keys_match(void **state) {
  const char *msg = "{\"type\":\"a\",\"typ\\u0065\":\"b\"}";
  struct json_field f[] = {{.key = "type"}};
  assert_int_equal(json_scan_object(msg, strlen(msg), f, 1), JSON_SCAN_OK);
  assert_span(f[0].value, "\"b\"");
}

static void test_fields_are_cleared_unless_the_message_is_a_valid_object(void **state) {
  struct json_field f[] = {{"type", {"stale", 5}}};
  assert_int_equal(json_scan_object("[]", 2, f, 1), JSON_SCAN_NOT_OBJECT);
  assert_null(f[0].value.p);
  const char *broken = "{\"type\":\"signal\",\"data\":}";
  assert_int_equal(json_scan_object(broken, strlen(broken), f, 1), JSON_SCAN_INVALID);
  assert_null(f[0].value.p); /* seen before the error, but not to be trusted */
}

static void test_strings_decode_with_escapes_and_bounds(void **state) {
  char out[16];
  struct json_span plain = {"\"signal\"", 8};
  assert_int_equal(json_span_string(plain, out, sizeof out), 6);
  assert_string_equal(out, "signal");

  const char *esc = "\"a\\n\\u00e9\\ud83d\\ude00\"";
  assert_int_equal(json_span_string((struct json_span){esc, strlen(esc)}, out, sizeof out), 8);
  assert_string_equal(out, "a\n\xc3\xa9\xf0\x9f\x98\x80");

  assert_int_equal(json_span_string(plain, out, 6), -1); /* does not fit */
  assert_int_equal(json_span_string(plain, out, 7), 6);  /* just fits with its NUL */
  assert_int_equal(json_span_string((struct json_span){"42", 2}, out, sizeof out), -1);
  assert_int_equal(json_span_string((struct json_span){NULL, 0}, out, sizeof out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_json_is_accepted),
      cmocka_unit_test(test_invalid_json_is_refused),
      cmocka_unit_test(test_other_values_are_valid_but_not_objects),
      cmocka_unit_test(test_nesting_is_bounded),
      cmocka_unit_test(test_top_level_fields_are_found_as_written),
      cmocka_unit_test(test_the_last_duplicate_key_wins_and_escaped_keys_match),
      cmocka_unit_test(test_fields_are_cleared_unless_the_message_is_a_valid_object),
      cmocka_unit_test(test_strings_decode_with_escapes_and_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
