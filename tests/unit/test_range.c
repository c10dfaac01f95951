/* Unit tests for Range header parsing (src/http/range.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http/range.h"

static range_spec r;

static enum range_result parse(const char *v, uint64_t size) {
  return range_parse(v, strlen(v), size, &r);
}

static void assert_range(const char *v, uint64_t size, uint64_t start, uint64_t end) {
  assert_int_equal(parse(v, size), RANGE_OK);
  assert_int_equal(r.start, start);
  assert_int_equal(r.end, end);
  assert_int_equal(r.size, size);
}

static void test_range_absent_header_serves_whole(void **state) {
  assert_int_equal(range_parse(NULL, 0, 100, &r), RANGE_NONE);
  assert_int_equal(r.size, 100);
}

static void test_range_first_and_last(void **state) {
  assert_range("bytes=0-99", 1000, 0, 99);
}

static void test_range_single_byte(void **state) {
  assert_range("bytes=5-5", 10, 5, 5);
}

static void test_range_open_ended(void **state) {
  assert_range("bytes=990-", 1000, 990, 999);
}

static void test_range_suffix(void **state) {
  assert_range("bytes=-10", 1000, 990, 999);
}

static void test_range_suffix_longer_than_resource_is_whole(void **state) {
  assert_range("bytes=-5000", 1000, 0, 999);
}

static void test_range_last_past_end_is_clamped(void **state) {
  assert_range("bytes=500-5000", 1000, 500, 999);
}

static void test_range_last_byte_exactly(void **state) {
  assert_range("bytes=999-999", 1000, 999, 999);
}

static void test_range_first_at_size_is_unsatisfiable(void **state) {
  assert_int_equal(parse("bytes=1000-", 1000), RANGE_UNSATISFIABLE);
  assert_int_equal(parse("bytes=1000-2000", 1000), RANGE_UNSATISFIABLE);
  assert_int_equal(r.size, 1000);
}

static void test_range_zero_suffix_is_unsatisfiable(void **state) {
  assert_int_equal(parse("bytes=-0", 1000), RANGE_UNSATISFIABLE);
}

static void test_range_empty_resource_first_pos_is_unsatisfiable(void **state) {
  assert_int_equal(parse("bytes=0-", 0), RANGE_UNSATISFIABLE);
  assert_int_equal(parse("bytes=0-0", 0), RANGE_UNSATISFIABLE);
  assert_int_equal(parse("bytes=-0", 0), RANGE_UNSATISFIABLE);
}

static void test_range_empty_resource_suffix_serves_whole(void **state) {
  assert_int_equal(parse("bytes=-1", 0), RANGE_NONE);
}

static void test_range_huge_first_pos_saturates_to_unsatisfiable(void **state) {
  assert_int_equal(parse("bytes=99999999999999999999999999-", 1000), RANGE_UNSATISFIABLE);
  assert_int_equal(parse("bytes=18446744073709551615-", UINT64_MAX), RANGE_UNSATISFIABLE);
}

static void test_range_huge_last_pos_saturates_to_end(void **state) {
  assert_range("bytes=10-99999999999999999999999999", 1000, 10, 999);
}

static void test_range_huge_suffix_saturates_to_whole(void **state) {
  assert_range("bytes=-99999999999999999999999999", 1000, 0, 999);
}

static void test_range_largest_resource(void **state) {
  assert_range("bytes=18446744073709551613-", UINT64_MAX, UINT64_MAX - 2, UINT64_MAX - 1);
}

static void test_range_unit_is_case_insensitive(void **state) {
  assert_range("Bytes=1-2", 10, 1, 2);
}

static void test_range_allows_whitespace_around_value_and_elements(void **state) {
  assert_range(" \tbytes= 1-2 \t", 10, 1, 2);
  assert_range("bytes=1-2 ,", 10, 1, 2);
}

static void test_range_empty_list_elements_are_skipped(void **state) {
  assert_range("bytes=,, 3-4 ,", 10, 3, 4);
}

static void test_range_multiple_ranges_serve_whole(void **state) {
  assert_int_equal(parse("bytes=0-1,5-6", 10), RANGE_NONE);
  assert_int_equal(parse("bytes=0-1, -2", 10), RANGE_NONE);
  assert_int_equal(parse("bytes=50-60,70-80", 10), RANGE_NONE); /* even if unsatisfiable */
}

static void test_range_invalid_syntax_serves_whole(void **state) {
  const char *bad[] = {"",           "bytes",       "bytes=",     "bytes=-",     "bytes=a-b",
                       "bytes=1",    "bytes=1-2-3", "bytes=1 -2", "bytes=1- 2",  "bytes = 1-2",
                       "bytes =1-2", "items=1-2",   "bytes=+1-2", "bytes=0x1-2", "bytes=--1",
                       "bytes=1-2;", "bytesx=1-2",  "byte=1-2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(parse(bad[i], 100), RANGE_NONE);
}

static void test_range_last_before_first_serves_whole(void **state) {
  assert_int_equal(parse("bytes=5-4", 10), RANGE_NONE);
}

static void test_range_reads_only_len_bytes(void **state) {
  assert_int_equal(range_parse("bytes=1-23", 9, 100, &r), RANGE_OK);
  assert_int_equal(r.end, 2);
}

static void test_range_content_range_for_partial(void **state) {
  char out[RANGE_CONTENT_RANGE_MAX];
  parse("bytes=0-99", 1000);
  assert_int_equal(range_content_range(RANGE_OK, &r, out, sizeof out), 15);
  assert_string_equal(out, "bytes 0-99/1000");
}

static void test_range_content_range_for_unsatisfiable(void **state) {
  char out[RANGE_CONTENT_RANGE_MAX];
  assert_int_equal(parse("bytes=2000-", 1000), RANGE_UNSATISFIABLE);
  assert_int_equal(range_content_range(RANGE_UNSATISFIABLE, &r, out, sizeof out), 12);
  assert_string_equal(out, "bytes */1000");
}

static void test_range_content_range_longest_fits_max(void **state) {
  char out[RANGE_CONTENT_RANGE_MAX];
  range_spec big = {UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX};
  int n = range_content_range(RANGE_OK, &big, out, sizeof out);
  assert_int_equal(n, (int)strlen("bytes 18446744073709551614-18446744073709551614/"
                                  "18446744073709551615"));
  assert_true(n < RANGE_CONTENT_RANGE_MAX);
}

static void test_range_content_range_refuses_small_buffer_and_none(void **state) {
  char out[8];
  range_spec x = {0, 99, 1000};
  assert_int_equal(range_content_range(RANGE_OK, &x, out, sizeof out), -1);
  assert_int_equal(range_content_range(RANGE_NONE, &x, out, sizeof out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_range_absent_header_serves_whole),
      cmocka_unit_test(test_range_first_and_last),
      cmocka_unit_test(test_range_single_byte),
      cmocka_unit_test(test_range_open_ended),
      cmocka_unit_test(test_range_suffix),
      cmocka_unit_test(test_range_suffix_longer_than_resource_is_whole),
      cmocka_unit_test(test_range_last_past_end_is_clamped),
      cmocka_unit_test(test_range_last_byte_exactly),
      cmocka_unit_test(test_range_first_at_size_is_unsatisfiable),
      cmocka_unit_test(test_range_zero_suffix_is_unsatisfiable),
      cmocka_unit_test(test_range_empty_resource_first_pos_is_unsatisfiable),
      cmocka_unit_test(test_range_empty_resource_suffix_serves_whole),
      cmocka_unit_test(test_range_huge_first_pos_saturates_to_unsatisfiable),
      cmocka_unit_test(test_range_huge_last_pos_saturates_to_end),
      cmocka_unit_test(test_range_huge_suffix_saturates_to_whole),
      cmocka_unit_test(test_range_largest_resource),
      cmocka_unit_test(test_range_unit_is_case_insensitive),
      cmocka_unit_test(test_range_allows_whitespace_around_value_and_elements),
      cmocka_unit_test(test_range_empty_list_elements_are_skipped),
      cmocka_unit_test(test_range_multiple_ranges_serve_whole),
      cmocka_unit_test(test_range_invalid_syntax_serves_whole),
      cmocka_unit_test(test_range_last_before_first_serves_whole),
      cmocka_unit_test(test_range_reads_only_len_bytes),
      cmocka_unit_test(test_range_content_range_for_partial),
      cmocka_unit_test(test_range_content_range_for_unsatisfiable),
      cmocka_unit_test(test_range_content_range_longest_fits_max),
      cmocka_unit_test(test_range_content_range_refuses_small_buffer_and_none),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
