/* Random ids: room ids, item ids, peer ids, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/rand.h"

static int index_of(char c) {
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const char *p = strchr(alphabet, c);
  return c && p ? (int)(p - alphabet) : -1;
}

static void test_ids_are_base62_of_the_length_asked(void **state) {
  char id[200];
  for (size_t n = 0; n < 150; n += 7) {
    memset(id, 'x' + 1, sizeof id);
    rand_base62(id, n);
    assert_int_equal(strlen(id), n);
    for (size_t i = 0; i < n; i++)
      assert_true(index_of(id[i]) >= 0);
  }
}

static void test_every_character_is_about_equally_likely(void **state) {
  /* 620,000 characters, 10,000 expected of each (standard deviation about
   * 100): 700 off is 7 deviations, which a fair source never is, and a
   * plain `byte % 62` would put the first 8 characters near 12,400. */
  unsigned counts[62] = {0};
  char id[101];
  for (int k = 0; k < 6200; k++) {
    rand_base62(id, 100);
    for (int i = 0; i < 100; i++)
      counts[index_of(id[i])]++;
  }
  for (int c = 0; c < 62; c++)
    assert_in_range(counts[c], 9300, 10700);
}

static void test_two_ids_differ(void **state) {
  char a[23], b[23];
  rand_base62(a, 22);
  rand_base62(b, 22);
  assert_string_not_equal(a, b);
}

int main(void) {
  if (rand_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_are_base62_of_the_length_asked),
      cmocka_unit_test(test_every_character_is_about_equally_likely),
      cmocka_unit_test(test_two_ids_differ),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
