/* Unit tests for CodeMirror change sets (src/rooms/changeset.h). The
 * expected texts are what @codemirror/state gives for the same JSON;
 * tests/e2e/changeset_differential.test.mjs checks thousands more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rooms/changeset.h"

static const struct changeset_limits limits = {.max_sections = 64, .max_insert_bytes = 256};

/* Parses `changes` (JSON text) and applies it to `doc`. Returns the status;
 * on success *out is the new text (the caller frees it). */
static int apply(const char *doc, const char *changes, char **out) {
  json_error_t jerr;
  json_t *json = json_loads(changes, JSON_DECODE_ANY, &jerr);
  assert_non_null(json);
  struct changeset cs;
  int rc = changeset_parse(json, &limits, &cs);
  json_decref(json);
  size_t out_len = 0;
  *out = NULL;
  if (rc == CHANGESET_OK)
    rc = changeset_apply(&cs, doc, strlen(doc), out, &out_len);
  if (rc == CHANGESET_OK)
    assert_int_equal(out_len, strlen(*out));
  changeset_free(&cs);
  return rc;
}

static void assert_applies(const char *doc, const char *changes, const char *expected) {
  char *out;
  assert_int_equal(apply(doc, changes, &out), CHANGESET_OK);
  assert_string_equal(out, expected);
  free(out);
}

static void assert_refused(const char *doc, const char *changes, int status) {
  char *out;
  assert_int_equal(apply(doc, changes, &out), status);
  assert_null(out);
}

static void test_changeset_keeps_everything(void **state) {
  assert_applies("hello", "[5]", "hello");
}

static void test_changeset_inserts_in_the_middle(void **state) {
  assert_applies("held", "[3,[0,\"lo wor\"],1]", "hello word");
}

static void test_changeset_deletes(void **state) {
  assert_applies("hello world", "[5,[6]]", "hello");
}

static void test_changeset_replaces(void **state) {
  assert_applies("hello world", "[[5,\"goodbye\"],6]", "goodbye world");
}

static void test_changeset_joins_inserted_lines_with_newlines(void **state) {
  assert_applies("ab", "[1,[0,\"x\",\"\",\"y\"],1]", "ax\n\nyb");
}

static void test_changeset_inserts_one_newline_as_two_empty_lines(void **state) {
  assert_applies("ab", "[1,[0,\"\",\"\"],1]", "a\nb");
}

static void test_changeset_empty_insert_line_changes_nothing(void **state) {
  assert_applies("ab", "[1,[0,\"\"],1]", "ab");
}

static void test_changeset_on_empty_document(void **state) {
  assert_applies("", "[]", "");
  assert_applies("", "[[0,\"first\",\"line\"]]", "first\nline");
}

static void test_changeset_to_empty_document(void **state) {
  assert_applies("gone\ntoo", "[[8]]", "");
}

static void test_changeset_zero_length_kept_sections_are_allowed(void **state) {
  assert_applies("ab", "[0,1,0,[0,\"-\"],0,1,0]", "a-b");
}

static void test_changeset_counts_newlines_as_one_unit(void **state) {
  assert_applies("a\nb\nc", "[2,[1,\"B\"],2]", "a\nB\nc");
}

static void test_changeset_carriage_return_is_a_unit_of_its_own(void **state) {
  /* CRLF is two units, as in a JavaScript string. */
  assert_applies("a\r\nb", "[1,[2,\"\",\"\"],1]", "a\nb");
  assert_applies("a\r\nb", "[2,[0,\"x\"],2]", "a\rx\nb");
}

static void test_changeset_counts_bmp_characters_as_one_unit(void **state) {
  /* é is 2 bytes, € is 3, each one UTF-16 unit. */
  assert_applies("é€x", "[1,[1,\"E\"],1]", "éEx");
}

static void test_changeset_counts_astral_characters_as_two_units(void **state) {
  /* 😀 is 4 bytes, a surrogate pair: 2 units. */
  assert_applies("a😀b", "[3,[1,\"c\"]]", "a😀c");
  assert_applies("a😀b", "[1,[2,\"🎉🎉\"],1]", "a🎉🎉b");
}

static void test_changeset_refuses_to_split_a_surrogate_pair(void **state) {
  assert_refused("a😀b", "[2,[2]]", CHANGESET_SPLITS_CHARACTER);
  assert_refused("a😀b", "[2,[0,\"x\"],2]", CHANGESET_SPLITS_CHARACTER);
  assert_refused("😀", "[[1],1]", CHANGESET_SPLITS_CHARACTER);
}

static void test_changeset_adjacent_deletions_are_one_change(void **state) {
  /* Two halves of one character deleted together split nothing. */
  assert_applies("a😀b", "[1,[1],[1],1]", "ab");
}

static void test_changeset_kept_sections_may_meet_inside_a_pair(void **state) {
  assert_applies("😀", "[1,1]", "😀");
}

static void test_changeset_refuses_wrong_total_length(void **state) {
  assert_refused("hello", "[4]", CHANGESET_LENGTH_MISMATCH);
  assert_refused("hello", "[6]", CHANGESET_LENGTH_MISMATCH);
  assert_refused("", "[1]", CHANGESET_LENGTH_MISMATCH);
  assert_refused("a😀", "[2]", CHANGESET_LENGTH_MISMATCH);
}

static void test_changeset_refuses_what_is_not_an_array(void **state) {
  assert_refused("", "{}", CHANGESET_NOT_ARRAY);
  assert_refused("", "null", CHANGESET_NOT_ARRAY);
  assert_refused("", "\"[]\"", CHANGESET_NOT_ARRAY);
}

static void test_changeset_refuses_bad_sections(void **state) {
  assert_refused("ab", "[\"2\"]", CHANGESET_BAD_SECTION);
  assert_refused("ab", "[[]]", CHANGESET_BAD_SECTION);
  assert_refused("ab", "[[\"x\"]]", CHANGESET_BAD_SECTION);
  assert_refused("ab", "[null]", CHANGESET_BAD_SECTION);
  assert_refused("ab", "[{\"len\":2}]", CHANGESET_BAD_SECTION);
  assert_refused("ab", "[true]", CHANGESET_BAD_SECTION);
}

static void test_changeset_refuses_bad_lengths(void **state) {
  assert_refused("ab", "[-1,3]", CHANGESET_BAD_LENGTH);
  assert_refused("ab", "[1.5,0.5]", CHANGESET_BAD_LENGTH);
  assert_refused("ab", "[2.0]", CHANGESET_BAD_LENGTH);
  assert_refused("ab", "[[-2]]", CHANGESET_BAD_LENGTH);
  assert_refused("ab", "[1099511627777]", CHANGESET_BAD_LENGTH);
}

static void test_changeset_refuses_lines_that_are_not_strings(void **state) {
  assert_refused("ab", "[[2,\"x\",3]]", CHANGESET_BAD_INSERT);
  assert_refused("ab", "[[2,null]]", CHANGESET_BAD_INSERT);
  assert_refused("ab", "[[2,[\"x\"]]]", CHANGESET_BAD_INSERT);
}

static void test_changeset_refuses_invalid_utf8(void **state) {
  /* jansson checks text it parses; a string built without the check can
   * still reach the parser. */
  json_t *cs_json = json_pack("[[i, o]]", 0, json_stringn_nocheck("\xC3\x28", 2));
  struct changeset cs;
  assert_int_equal(changeset_parse(cs_json, &limits, &cs), CHANGESET_BAD_UTF8);
  changeset_free(&cs);
  json_decref(cs_json);
}

static void test_changeset_refuses_too_many_sections(void **state) {
  json_t *many = json_array();
  for (int i = 0; i < 65; i++)
    json_array_append_new(many, json_integer(0));
  struct changeset cs;
  assert_int_equal(changeset_parse(many, &limits, &cs), CHANGESET_TOO_MANY_SECTIONS);
  changeset_free(&cs);
  json_array_remove(many, 0);
  assert_int_equal(changeset_parse(many, &limits, &cs), CHANGESET_OK);
  changeset_free(&cs);
  json_decref(many);
}

static void test_changeset_refuses_too_much_inserted_text(void **state) {
  char line[200];
  memset(line, 'x', sizeof line - 1);
  line[sizeof line - 1] = '\0';
  /* 199 + 1 + 56 = 256 bytes: at the limit; one more is over. */
  json_t *ok = json_pack("[[i, s, s%]]", 0, line, line, (size_t)56);
  json_t *over = json_pack("[[i, s, s%]]", 0, line, line, (size_t)57);
  struct changeset cs;
  assert_int_equal(changeset_parse(ok, &limits, &cs), CHANGESET_OK);
  assert_int_equal(cs.inserts_len, 256);
  changeset_free(&cs);
  assert_int_equal(changeset_parse(over, &limits, &cs), CHANGESET_INSERT_TOO_LARGE);
  changeset_free(&cs);
  json_decref(ok);
  json_decref(over);
}

static void test_changeset_lengths_before_and_after(void **state) {
  json_t *j = json_loads("[1,[2,\"😀\",\"\"],3,[0,\"ab\"]]", 0, NULL);
  struct changeset cs;
  assert_int_equal(changeset_parse(j, &limits, &cs), CHANGESET_OK);
  assert_int_equal(cs.length, 6);
  assert_int_equal(cs.new_length, 1 + 3 + 3 + 2);
  changeset_free(&cs);
  json_decref(j);
}

static void test_changeset_failed_apply_leaves_the_text(void **state) {
  char doc[] = "a😀b";
  json_t *j = json_loads("[2,[2]]", 0, NULL);
  struct changeset cs;
  assert_int_equal(changeset_parse(j, &limits, &cs), CHANGESET_OK);
  char *out = (char *)1;
  size_t out_len = 7;
  assert_int_equal(changeset_apply(&cs, doc, strlen(doc), &out, &out_len),
                   CHANGESET_SPLITS_CHARACTER);
  assert_null(out);
  assert_int_equal(out_len, 0);
  assert_string_equal(doc, "a😀b");
  changeset_free(&cs);
  json_decref(j);
}

static void test_changeset_keeps_nul_characters(void **state) {
  const char doc[] = {'a', '\0', 'b'};
  json_t *j = json_loads("[2,[1,\"c\"]]", 0, NULL);
  struct changeset cs;
  assert_int_equal(changeset_parse(j, &limits, &cs), CHANGESET_OK);
  char *out;
  size_t out_len;
  assert_int_equal(changeset_apply(&cs, doc, sizeof doc, &out, &out_len), CHANGESET_OK);
  assert_int_equal(out_len, 3);
  assert_memory_equal(out, "a\0c", 3);
  free(out);
  changeset_free(&cs);
  json_decref(j);
}

static void test_text_utf16_length(void **state) {
  assert_int_equal(text_utf16_length("", 0), 0);
  assert_int_equal(text_utf16_length("abc", 3), 3);
  assert_int_equal(text_utf16_length("é€", strlen("é€")), 2);
  assert_int_equal(text_utf16_length("😀x", strlen("😀x")), 3);
}

static void test_text_utf16_to_byte(void **state) {
  const char *t = "a😀é";
  size_t n = strlen(t);
  assert_int_equal(text_utf16_to_byte(t, n, 0), 0);
  assert_int_equal(text_utf16_to_byte(t, n, 1), 1);
  assert_int_equal(text_utf16_to_byte(t, n, 2), -1); /* inside the pair */
  assert_int_equal(text_utf16_to_byte(t, n, 3), 5);
  assert_int_equal(text_utf16_to_byte(t, n, 4), 7);
  assert_int_equal(text_utf16_to_byte(t, n, 5), -1); /* past the end */
}

static void test_changeset_status_codes(void **state) {
  assert_string_equal(changeset_status_code(CHANGESET_LENGTH_MISMATCH), "length_mismatch");
  assert_string_equal(changeset_status_code(CHANGESET_SPLITS_CHARACTER), "splits_character");
  assert_string_equal(changeset_status_code(CHANGESET_BAD_LENGTH), "bad_changes");
  assert_string_equal(changeset_status_code(CHANGESET_INSERT_TOO_LARGE), "changes_too_large");
  assert_string_equal(changeset_status_code(-99), "internal");
  assert_non_null(strstr(changeset_status_message(CHANGESET_LENGTH_MISMATCH), "length"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_changeset_keeps_everything),
      cmocka_unit_test(test_changeset_inserts_in_the_middle),
      cmocka_unit_test(test_changeset_deletes),
      cmocka_unit_test(test_changeset_replaces),
      cmocka_unit_test(test_changeset_joins_inserted_lines_with_newlines),
      cmocka_unit_test(test_changeset_inserts_one_newline_as_two_empty_lines),
      cmocka_unit_test(test_changeset_empty_insert_line_changes_nothing),
      cmocka_unit_test(test_changeset_on_empty_document),
      cmocka_unit_test(test_changeset_to_empty_document),
      cmocka_unit_test(test_changeset_zero_length_kept_sections_are_allowed),
      cmocka_unit_test(test_changeset_counts_newlines_as_one_unit),
      cmocka_unit_test(test_changeset_carriage_return_is_a_unit_of_its_own),
      cmocka_unit_test(test_changeset_counts_bmp_characters_as_one_unit),
      cmocka_unit_test(test_changeset_counts_astral_characters_as_two_units),
      cmocka_unit_test(test_changeset_refuses_to_split_a_surrogate_pair),
      cmocka_unit_test(test_changeset_adjacent_deletions_are_one_change),
      cmocka_unit_test(test_changeset_kept_sections_may_meet_inside_a_pair),
      cmocka_unit_test(test_changeset_refuses_wrong_total_length),
      cmocka_unit_test(test_changeset_refuses_what_is_not_an_array),
      cmocka_unit_test(test_changeset_refuses_bad_sections),
      cmocka_unit_test(test_changeset_refuses_bad_lengths),
      cmocka_unit_test(test_changeset_refuses_lines_that_are_not_strings),
      cmocka_unit_test(test_changeset_refuses_invalid_utf8),
      cmocka_unit_test(test_changeset_refuses_too_many_sections),
      cmocka_unit_test(test_changeset_refuses_too_much_inserted_text),
      cmocka_unit_test(test_changeset_lengths_before_and_after),
      cmocka_unit_test(test_changeset_failed_apply_leaves_the_text),
      cmocka_unit_test(test_changeset_keeps_nul_characters),
      cmocka_unit_test(test_text_utf16_length),
      cmocka_unit_test(test_text_utf16_to_byte),
      cmocka_unit_test(test_changeset_status_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
