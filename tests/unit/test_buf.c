/* Refcounted buffers: shared by every recipient of a broadcast, freed by
 * the last. Leaks and double frees show up under ASan/LSan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/buf.h"

static void test_buf_new_starts_with_one_reference_and_no_bytes(void **state) {
  buf *b = buf_new(100);
  assert_non_null(b);
  assert_int_equal(b->refs, 1);
  assert_int_equal(b->len, 0);
  assert_int_equal(b->cap, 100);
  buf_unref(b);
}

static void test_buf_from_copies_the_bytes(void **state) {
  char src[] = "hello";
  buf *b = buf_from(src, 5);
  src[0] = 'j';
  assert_int_equal(b->len, 5);
  assert_memory_equal(b->data, "hello", 5);
  buf_unref(b);
}

static void test_buf_lives_until_the_last_reference_goes(void **state) {
  buf *b = buf_from("shared", 6);
  assert_ptr_equal(buf_ref(b), b);
  buf_ref(b);
  assert_int_equal(b->refs, 3);
  buf_unref(b);
  buf_unref(b);
  assert_int_equal(b->refs, 1);
  assert_memory_equal(b->data, "shared", 6); /* still readable */
  buf_unref(b);                              /* freed: ASan would flag any later use */
}

static void test_buf_refuses_sizes_over_the_bound(void **state) {
  assert_null(buf_new(BUF_MAX + 1));
}

static void test_buf_unref_ignores_null(void **state) {
  buf_unref(NULL);
}

static void test_buf_of_zero_bytes_is_valid(void **state) {
  buf *b = buf_from(NULL, 0);
  assert_non_null(b);
  assert_int_equal(b->len, 0);
  buf_unref(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_new_starts_with_one_reference_and_no_bytes),
      cmocka_unit_test(test_buf_from_copies_the_bytes),
      cmocka_unit_test(test_buf_lives_until_the_last_reference_goes),
      cmocka_unit_test(test_buf_refuses_sizes_over_the_bound),
      cmocka_unit_test(test_buf_unref_ignores_null),
      cmocka_unit_test(test_buf_of_zero_bytes_is_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
