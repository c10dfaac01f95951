/* Unit tests for file-name sanitizing and Content-Disposition encoding
 * (src/util/filename.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/filename.h"

static char out[FILENAME_MAX_BYTES + 1];

static const char *clean_n(const char *in, size_t len) {
  int n = filename_sanitize(in, len, out, sizeof out);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(out));
  return out;
}

static const char *clean(const char *in) {
  return clean_n(in, strlen(in));
}

static void test_filename_keeps_an_ordinary_name(void **state) {
  assert_string_equal(clean("report 2024 (final).pdf"), "report 2024 (final).pdf");
}

static void test_filename_keeps_valid_utf8(void **state) {
  assert_string_equal(clean("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80.txt"),
                      "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80.txt");
}

static void test_filename_strips_unix_directories(void **state) {
  assert_string_equal(clean("../../etc/passwd"), "passwd");
  assert_string_equal(clean("/abs/path/a.txt"), "a.txt");
}

static void test_filename_strips_windows_directories(void **state) {
  assert_string_equal(clean("C:\\Users\\me\\a.txt"), "a.txt");
  assert_string_equal(clean("..\\..\\boot.ini"), "boot.ini");
}

static void test_filename_dot_and_dotdot_become_fallback(void **state) {
  assert_string_equal(clean("."), FILENAME_FALLBACK);
  assert_string_equal(clean(".."), FILENAME_FALLBACK);
  assert_string_equal(clean("a/.."), FILENAME_FALLBACK);
  assert_string_equal(clean(" . . "), FILENAME_FALLBACK);
}

static void test_filename_trims_dots_and_spaces_at_both_ends(void **state) {
  assert_string_equal(clean("  .hidden file. . "), "hidden file");
  assert_string_equal(clean("a.tar.gz"), "a.tar.gz");
}

static void test_filename_drops_control_characters_and_nul(void **state) {
  assert_string_equal(clean_n("a\0b\r\nc\td\x7F"
                              "e",
                              10),
                      "abcde");
}

static void test_filename_drops_c1_controls(void **state) {
  assert_string_equal(clean("a\xC2\x85"
                            "b\xC2\x9F"
                            "c\xC2\xA0"
                            "d"),
                      "abc\xC2\xA0"
                      "d");
}

static void test_filename_drops_bidi_overrides(void **state) {
  /* "evil<RLO>txt.exe" would display as "evilexe.txt". */
  assert_string_equal(clean("evil\xE2\x80\xAEtxt.exe"), "eviltxt.exe");
  assert_string_equal(clean("a\xE2\x80\x8F"
                            "b\xE2\x81\xA6"
                            "c\xE2\x80\xA8"
                            "d"),
                      "abcd");
}

static void test_filename_replaces_each_invalid_byte(void **state) {
  assert_string_equal(clean("a\xFF"
                            "b\xC3"
                            "c\x80"
                            "d"),
                      "a_b_c_d");
}

static void test_filename_replaces_overlongs_and_surrogates(void **state) {
  assert_string_equal(clean("\xC0\xAE\xC0\xAE"), "____");   /* overlong ".." */
  assert_string_equal(clean("x\xE0\x80\xAF"), "x___");      /* overlong "/" */
  assert_string_equal(clean("x\xED\xA0\x80"), "x___");      /* surrogate */
  assert_string_equal(clean("x\xF4\x90\x80\x80"), "x____"); /* past U+10FFFF */
}

static void test_filename_replaces_truncated_sequence_at_end(void **state) {
  assert_string_equal(clean("ab\xE2\x82"), "ab__");
}

static void test_filename_empty_becomes_fallback(void **state) {
  assert_string_equal(clean(""), FILENAME_FALLBACK);
  assert_string_equal(clean("dir/"), FILENAME_FALLBACK);
  assert_string_equal(clean("\x01\x02"), FILENAME_FALLBACK);
}

static void test_filename_caps_at_255_bytes(void **state) {
  char in[400];
  memset(in, 'a', sizeof in);
  assert_int_equal(filename_sanitize(in, sizeof in, out, sizeof out), FILENAME_MAX_BYTES);
  assert_int_equal(strlen(out), FILENAME_MAX_BYTES);
}

static void test_filename_caps_on_a_character_boundary(void **state) {
  char in[400];
  /* 254 ASCII bytes, then a 3-byte character that would end at 257. */
  memset(in, 'a', 254);
  memcpy(in + 254, "\xE2\x82\xAC\xE2\x82\xAC", 6);
  assert_int_equal(filename_sanitize(in, 260, out, sizeof out), 254);
  /* 253 bytes leave room for 2 of them: a 2-byte character fits exactly. */
  memset(in, 'a', 253);
  memcpy(in + 253, "\xC3\xA9\xC3\xA9", 4);
  assert_int_equal(filename_sanitize(in, 257, out, sizeof out), 255);
  assert_memory_equal(out + 253, "\xC3\xA9", 2);
}

static void test_filename_trims_after_cutting(void **state) {
  char in[300];
  memset(in, 'a', 250);
  memcpy(in + 250, "    .xyz", 8);
  assert_int_equal(filename_sanitize(in, 258, out, sizeof out), 250);
}

static void test_filename_respects_a_small_output_buffer(void **state) {
  char small[8];
  assert_int_equal(filename_sanitize("abcdefghij", 10, small, sizeof small), 7);
  assert_string_equal(small, "abcdefg");
  assert_int_equal(filename_sanitize("abc", 3, small, 4), -1);
  assert_int_equal(filename_sanitize("..", 2, small, 5), 4);
  assert_string_equal(small, FILENAME_FALLBACK);
}

static char cd[FILENAME_DISPOSITION_MAX];

static void test_filename_disposition_for_ascii_name(void **state) {
  assert_int_equal(filename_content_disposition("a b.txt", cd, sizeof cd),
                   (int)strlen("attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt"));
  assert_string_equal(cd, "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt");
}

static void test_filename_disposition_escapes_quote_and_backslash(void **state) {
  filename_content_disposition("say \"hi\"\\.txt", cd, sizeof cd);
  assert_string_equal(cd, "attachment; filename=\"say \\\"hi\\\"\\\\.txt\"; "
                          "filename*=UTF-8''say%20%22hi%22%5C.txt");
}

static void test_filename_disposition_replaces_non_ascii_in_fallback(void **state) {
  filename_content_disposition("\xE2\x82\xAC rates \xC3\xA9t\xC3\xA9.txt", cd, sizeof cd);
  assert_string_equal(cd, "attachment; filename=\"_ rates _t_.txt\"; "
                          "filename*=UTF-8''%E2%82%AC%20rates%20%C3%A9t%C3%A9.txt");
}

static void test_filename_disposition_keeps_percent_out_of_fallback(void **state) {
  filename_content_disposition("100%.txt", cd, sizeof cd);
  assert_string_equal(cd, "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt");
}

static void test_filename_disposition_encodes_every_non_attr_char(void **state) {
  filename_content_disposition("a;b,c'd*e=f(g)h/i:j?k@l[m]n{o}p<q>r!#$&+-.^_`|~", cd, sizeof cd);
  assert_string_equal(strstr(cd, "UTF-8''"),
                      "UTF-8''a%3Bb%2Cc%27d%2Ae%3Df%28g%29h%2Fi%3Aj%3Fk%40l%5Bm%5Dn%7Bo%7Dp"
                      "%3Cq%3Er!#$&+-.^_`|~");
}

static void test_filename_disposition_fits_the_longest_name(void **state) {
  char name[FILENAME_MAX_BYTES + 1];
  memset(name, '"', FILENAME_MAX_BYTES);
  name[FILENAME_MAX_BYTES] = '\0';
  int n = filename_content_disposition(name, cd, sizeof cd);
  assert_int_equal(n, FILENAME_DISPOSITION_MAX - 1);
}

static void test_filename_disposition_refuses_small_buffer(void **state) {
  char buf[64];
  assert_int_equal(filename_content_disposition("a.txt", buf, 40), -1);
  size_t need = strlen("attachment; filename=\"a\"; filename*=UTF-8''a");
  assert_int_equal(filename_content_disposition("a", buf, need), -1);
  assert_int_equal(filename_content_disposition("a", buf, need + 1), (int)need);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filename_keeps_an_ordinary_name),
      cmocka_unit_test(test_filename_keeps_valid_utf8),
      cmocka_unit_test(test_filename_strips_unix_directories),
      cmocka_unit_test(test_filename_strips_windows_directories),
      cmocka_unit_test(test_filename_dot_and_dotdot_become_fallback),
      cmocka_unit_test(test_filename_trims_dots_and_spaces_at_both_ends),
      cmocka_unit_test(test_filename_drops_control_characters_and_nul),
      cmocka_unit_test(test_filename_drops_c1_controls),
      cmocka_unit_test(test_filename_drops_bidi_overrides),
      cmocka_unit_test(test_filename_replaces_each_invalid_byte),
      cmocka_unit_test(test_filename_replaces_overlongs_and_surrogates),
      cmocka_unit_test(test_filename_replaces_truncated_sequence_at_end),
      cmocka_unit_test(test_filename_empty_becomes_fallback),
      cmocka_unit_test(test_filename_caps_at_255_bytes),
      cmocka_unit_test(test_filename_caps_on_a_character_boundary),
      cmocka_unit_test(test_filename_trims_after_cutting),
      cmocka_unit_test(test_filename_respects_a_small_output_buffer),
      cmocka_unit_test(test_filename_disposition_for_ascii_name),
      cmocka_unit_test(test_filename_disposition_escapes_quote_and_backslash),
      cmocka_unit_test(test_filename_disposition_replaces_non_ascii_in_fallback),
      cmocka_unit_test(test_filename_disposition_keeps_percent_out_of_fallback),
      cmocka_unit_test(test_filename_disposition_encodes_every_non_attr_char),
      cmocka_unit_test(test_filename_disposition_fits_the_longest_name),
      cmocka_unit_test(test_filename_disposition_refuses_small_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
