/* The hash map behind rooms, peers and per-address counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/hmap.h"
#include "util/rand.h"

static void test_hmap_finds_what_was_put(void **state) {
  hmap m = {0};
  int a = 1, b = 2;
  assert_int_equal(hmap_put(&m, "alpha", 5, &a), 0);
  assert_int_equal(hmap_put(&m, "beta", 4, &b), 0);
  assert_ptr_equal(hmap_get(&m, "alpha", 5), &a);
  assert_ptr_equal(hmap_get(&m, "beta", 4), &b);
  assert_null(hmap_get(&m, "gamma", 5));
  assert_null(hmap_get(&m, "alph", 4)); /* a prefix is another key */
  hmap_free(&m);
}

static void test_hmap_put_replaces_the_value_of_an_existing_key(void **state) {
  hmap m = {0};
  int a = 1, b = 2;
  hmap_put(&m, "k", 1, &a);
  hmap_put(&m, "k", 1, &b);
  assert_int_equal(m.count, 1);
  assert_ptr_equal(hmap_get(&m, "k", 1), &b);
  hmap_free(&m);
}

static void test_hmap_del_removes_and_returns_the_value(void **state) {
  hmap m = {0};
  int a = 1;
  hmap_put(&m, "k", 1, &a);
  assert_ptr_equal(hmap_del(&m, "k", 1), &a);
  assert_null(hmap_get(&m, "k", 1));
  assert_null(hmap_del(&m, "k", 1));
  assert_int_equal(m.count, 0);
  hmap_free(&m);
}

/* Many inserts and deletes: growth, tombstones and rebuilds keep every
 * live key findable and the table bounded. */
static void test_hmap_survives_churn(void **state) {
  enum { N = 5000 };
  static char keys[N][16];
  static int vals[N];
  hmap m = {0};
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < N; i++) {
      snprintf(keys[i], sizeof keys[i], "r%d-%d", round, i);
      vals[i] = i;
      assert_int_equal(hmap_put(&m, keys[i], strlen(keys[i]), &vals[i]), 0);
    }
    for (int i = 0; i < N; i += 2)
      assert_ptr_equal(hmap_del(&m, keys[i], strlen(keys[i])), &vals[i]);
    for (int i = 1; i < N; i += 2)
      assert_ptr_equal(hmap_get(&m, keys[i], strlen(keys[i])), &vals[i]);
    for (int i = 1; i < N; i += 2)
      hmap_del(&m, keys[i], strlen(keys[i]));
    assert_int_equal(m.count, 0);
  }
  assert_true(m.cap <= 4 * 8192);
  hmap_free(&m);
}

static void test_hmap_iterates_every_live_value_once(void **state) {
  hmap m = {0};
  int v[3] = {0, 1, 2};
  hmap_put(&m, "a", 1, &v[0]);
  hmap_put(&m, "b", 1, &v[1]);
  hmap_put(&m, "c", 1, &v[2]);
  hmap_del(&m, "b", 1);
  int seen = 0;
  size_t pos = 0;
  int *p;
  while ((p = hmap_next(&m, &pos)))
    seen |= 1 << *p;
  assert_int_equal(seen, 0x5);
  hmap_free(&m);
}

int main(void) {
  if (rand_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hmap_finds_what_was_put),
      cmocka_unit_test(test_hmap_put_replaces_the_value_of_an_existing_key),
      cmocka_unit_test(test_hmap_del_removes_and_returns_the_value),
      cmocka_unit_test(test_hmap_survives_churn),
      cmocka_unit_test(test_hmap_iterates_every_live_value_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
