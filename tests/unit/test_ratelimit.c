/* Unit tests for the sliding-window rate limiter (src/util/ratelimit.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/ratelimit.h"

static int hit(ratelimit *rl, const char *key, uint64_t now, uint64_t *retry) {
  return ratelimit_hit(rl, key, strlen(key), now, retry);
}

static void test_ratelimit_init_rejects_zero_limits(void **state) {
  ratelimit rl;
  assert_int_equal(ratelimit_init(&rl, 0, 1000), -EINVAL);
  assert_int_equal(ratelimit_init(&rl, 1, 0), -EINVAL);
  assert_int_equal(ratelimit_init(&rl, 1, 1000), 0);
  assert_int_equal(rl.max_keys, RATELIMIT_MAX_KEYS);
  assert_int_equal(ratelimit_set_max_keys(&rl, 0), -EINVAL);
}

static void test_ratelimit_result_reads_as_allowed(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  assert_true(hit(&rl, "k", 0, NULL));
  assert_false(hit(&rl, "k", 1, NULL));
  ratelimit_free(&rl);
}

static void test_ratelimit_allows_max_events_in_a_window(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 20, 60000);
  uint64_t retry = 99;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(hit(&rl, "1.2.3.4", (uint64_t)i * 1000, &retry), RATELIMIT_ALLOWED);
    assert_int_equal(retry, 0);
  }
  ratelimit_free(&rl);
}

static void test_ratelimit_limits_one_more_in_the_window(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 20, 60000);
  for (int i = 0; i < 20; i++)
    hit(&rl, "1.2.3.4", 0, NULL);
  assert_int_equal(hit(&rl, "1.2.3.4", 59999, NULL), RATELIMIT_LIMITED);
  ratelimit_free(&rl);
}

static void test_ratelimit_event_leaves_window_exactly_at_its_end(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 2, 5000);
  hit(&rl, "k", 1000, NULL);
  hit(&rl, "k", 1000, NULL);
  assert_int_equal(hit(&rl, "k", 5999, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "k", 6000, NULL), RATELIMIT_ALLOWED);
  ratelimit_free(&rl);
}

static void test_ratelimit_window_slides_rather_than_resets(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 2, 5000);
  hit(&rl, "k", 0, NULL);
  hit(&rl, "k", 3000, NULL);
  /* The event at 0 has left; the one at 3000 still counts until 8000. */
  assert_int_equal(hit(&rl, "k", 5000, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(hit(&rl, "k", 5001, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "k", 7999, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "k", 8000, NULL), RATELIMIT_ALLOWED);
  ratelimit_free(&rl);
}

static void test_ratelimit_retry_after_is_when_oldest_event_leaves(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 2, 5000);
  uint64_t retry = 0;
  hit(&rl, "k", 1000, NULL);
  hit(&rl, "k", 2500, NULL);
  assert_int_equal(hit(&rl, "k", 4000, &retry), RATELIMIT_LIMITED);
  assert_int_equal(retry, 2000);
  assert_int_equal(hit(&rl, "k", 4000 + retry - 1, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "k", 4000 + retry, NULL), RATELIMIT_ALLOWED);
  ratelimit_free(&rl);
}

static void test_ratelimit_retry_after_is_at_least_one_ms(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 5000);
  uint64_t retry = 0;
  hit(&rl, "k", 0, NULL);
  assert_int_equal(hit(&rl, "k", 4999, &retry), RATELIMIT_LIMITED);
  assert_int_equal(retry, 1);
  ratelimit_free(&rl);
}

static void test_ratelimit_refused_hits_do_not_count(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  hit(&rl, "k", 0, NULL);
  for (uint64_t t = 1; t < 1000; t++)
    assert_int_equal(hit(&rl, "k", t, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "k", 1000, NULL), RATELIMIT_ALLOWED);
  ratelimit_free(&rl);
}

static void test_ratelimit_keys_are_independent(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  assert_int_equal(hit(&rl, "a", 0, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(hit(&rl, "b", 0, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(hit(&rl, "a", 1, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "b", 1, NULL), RATELIMIT_LIMITED);
  ratelimit_free(&rl);
}

static void test_ratelimit_keys_are_compared_as_bytes(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  const uint8_t v4[5] = {4, 10, 0, 0, 1};
  const uint8_t v4_other[5] = {4, 10, 0, 0, 2};
  assert_int_equal(ratelimit_hit(&rl, v4, 5, 0, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(ratelimit_hit(&rl, v4_other, 5, 0, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(ratelimit_hit(&rl, v4, 4, 0, NULL), RATELIMIT_ALLOWED); /* a prefix */
  assert_int_equal(ratelimit_hit(&rl, v4, 5, 0, NULL), RATELIMIT_LIMITED);
  assert_int_equal(rl.count, 3);
  ratelimit_free(&rl);
}

static void test_ratelimit_copies_the_key(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  char key[8] = "addr";
  hit(&rl, key, 0, NULL);
  strcpy(key, "xxxx");
  assert_int_equal(hit(&rl, "addr", 1, NULL), RATELIMIT_LIMITED);
  ratelimit_free(&rl);
}

static void test_ratelimit_rejects_empty_and_overlong_keys(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  char key[RATELIMIT_KEY_MAX + 1];
  memset(key, 'k', sizeof key);
  uint64_t retry = 7;
  assert_int_equal(ratelimit_hit(&rl, key, 0, 0, &retry), -EINVAL);
  assert_int_equal(ratelimit_hit(&rl, key, RATELIMIT_KEY_MAX + 1, 0, &retry), -EINVAL);
  assert_int_equal(retry, 0);
  assert_int_equal(ratelimit_hit(&rl, key, RATELIMIT_KEY_MAX, 0, &retry), RATELIMIT_ALLOWED);
  ratelimit_free(&rl);
}

static void test_ratelimit_tracks_many_keys(void **state) {
  enum { N = 20000 };
  ratelimit rl;
  ratelimit_init(&rl, 2, 5000);
  ratelimit_set_max_keys(&rl, N);
  char key[16];
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < N; i++) {
      snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
      assert_int_equal(hit(&rl, key, (uint64_t)round, NULL),
                       round < 2 ? RATELIMIT_ALLOWED : RATELIMIT_LIMITED);
    }
  assert_int_equal(rl.count, N);
  ratelimit_free(&rl);
}

static void test_ratelimit_full_table_evicts_an_expired_key_first(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  ratelimit_set_max_keys(&rl, 3);
  hit(&rl, "old", 0, NULL); /* expired by t = 1000 */
  hit(&rl, "b", 500, NULL);
  hit(&rl, "c", 600, NULL);
  hit(&rl, "d", 1000, NULL); /* full: "old" goes */
  assert_int_equal(rl.count, 3);
  assert_int_equal(hit(&rl, "b", 1001, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "c", 1001, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "d", 1001, NULL), RATELIMIT_LIMITED);
  ratelimit_free(&rl);
}

static void test_ratelimit_full_table_evicts_least_recently_allowed(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 2, 10000);
  ratelimit_set_max_keys(&rl, 3);
  hit(&rl, "a", 0, NULL);
  hit(&rl, "b", 1, NULL);
  hit(&rl, "c", 2, NULL);
  hit(&rl, "a", 3, NULL); /* "a" is now the most recently allowed */
  hit(&rl, "d", 4, NULL); /* full, nothing expired: "b" goes */
  assert_int_equal(rl.count, 3);
  assert_int_equal(hit(&rl, "a", 5, NULL), RATELIMIT_LIMITED); /* kept: 2 events */
  assert_int_equal(hit(&rl, "c", 5, NULL), RATELIMIT_ALLOWED); /* kept: 1 + this */
  assert_int_equal(hit(&rl, "c", 5, NULL), RATELIMIT_LIMITED);
  ratelimit_free(&rl);
}

static void test_ratelimit_refused_hits_do_not_protect_from_eviction(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 10000);
  ratelimit_set_max_keys(&rl, 2);
  hit(&rl, "a", 0, NULL);
  hit(&rl, "b", 1, NULL);
  assert_int_equal(hit(&rl, "a", 2, NULL), RATELIMIT_LIMITED);
  hit(&rl, "c", 3, NULL); /* "a" still has the oldest event: it goes */
  assert_int_equal(hit(&rl, "b", 4, NULL), RATELIMIT_LIMITED);
  assert_int_equal(hit(&rl, "a", 4, NULL), RATELIMIT_ALLOWED); /* forgotten, fresh */
  ratelimit_free(&rl);
}

static void test_ratelimit_lowering_max_keys_evicts_at_once(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  hit(&rl, "a", 0, NULL);
  hit(&rl, "b", 1, NULL);
  hit(&rl, "c", 2, NULL);
  assert_int_equal(ratelimit_set_max_keys(&rl, 1), 0);
  assert_int_equal(rl.count, 1);
  assert_int_equal(hit(&rl, "c", 3, NULL), RATELIMIT_LIMITED); /* the newest stays */
  assert_int_equal(hit(&rl, "a", 3, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(rl.count, 1);
  ratelimit_free(&rl);
}

static void test_ratelimit_sweep_drops_only_expired_keys(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 2, 1000);
  hit(&rl, "a", 0, NULL);
  hit(&rl, "b", 0, NULL);
  hit(&rl, "c", 500, NULL);
  hit(&rl, "b", 600, NULL); /* b's newest event is at 600 */
  assert_int_equal(ratelimit_sweep(&rl, 999), 0);
  assert_int_equal(ratelimit_sweep(&rl, 1500), 2); /* a and c */
  assert_int_equal(rl.count, 1);
  assert_int_equal(hit(&rl, "b", 1500, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(hit(&rl, "b", 1500, NULL), RATELIMIT_LIMITED);
  assert_int_equal(ratelimit_sweep(&rl, 2500), 1);
  assert_int_equal(rl.count, 0);
  assert_int_equal(ratelimit_sweep(&rl, 9999), 0);
  ratelimit_free(&rl);
}

static void test_ratelimit_swept_key_starts_fresh(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  hit(&rl, "a", 0, NULL);
  ratelimit_sweep(&rl, 1000);
  assert_int_equal(hit(&rl, "a", 1000, NULL), RATELIMIT_ALLOWED);
  assert_int_equal(hit(&rl, "a", 1001, NULL), RATELIMIT_LIMITED);
  ratelimit_free(&rl);
}

static void test_ratelimit_clock_going_back_still_limits(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  uint64_t retry = 0;
  hit(&rl, "a", 5000, NULL);
  assert_int_equal(hit(&rl, "a", 4000, &retry), RATELIMIT_LIMITED);
  assert_int_equal(retry, 1000);
  ratelimit_free(&rl);
}

static void test_ratelimit_can_be_reused_after_free(void **state) {
  ratelimit rl;
  ratelimit_init(&rl, 1, 1000);
  hit(&rl, "a", 0, NULL);
  ratelimit_free(&rl);
  assert_int_equal(rl.count, 0);
  ratelimit_init(&rl, 1, 1000);
  assert_int_equal(hit(&rl, "a", 1, NULL), RATELIMIT_ALLOWED);
  ratelimit_free(&rl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ratelimit_init_rejects_zero_limits),
      cmocka_unit_test(test_ratelimit_result_reads_as_allowed),
      cmocka_unit_test(test_ratelimit_allows_max_events_in_a_window),
      cmocka_unit_test(test_ratelimit_limits_one_more_in_the_window),
      cmocka_unit_test(test_ratelimit_event_leaves_window_exactly_at_its_end),
      cmocka_unit_test(test_ratelimit_window_slides_rather_than_resets),
      cmocka_unit_test(test_ratelimit_retry_after_is_when_oldest_event_leaves),
      cmocka_unit_test(test_ratelimit_retry_after_is_at_least_one_ms),
      cmocka_unit_test(test_ratelimit_refused_hits_do_not_count),
      cmocka_unit_test(test_ratelimit_keys_are_independent),
      cmocka_unit_test(test_ratelimit_keys_are_compared_as_bytes),
      cmocka_unit_test(test_ratelimit_copies_the_key),
      cmocka_unit_test(test_ratelimit_rejects_empty_and_overlong_keys),
      cmocka_unit_test(test_ratelimit_tracks_many_keys),
      cmocka_unit_test(test_ratelimit_full_table_evicts_an_expired_key_first),
      cmocka_unit_test(test_ratelimit_full_table_evicts_least_recently_allowed),
      cmocka_unit_test(test_ratelimit_refused_hits_do_not_protect_from_eviction),
      cmocka_unit_test(test_ratelimit_lowering_max_keys_evicts_at_once),
      cmocka_unit_test(test_ratelimit_sweep_drops_only_expired_keys),
      cmocka_unit_test(test_ratelimit_swept_key_starts_fresh),
      cmocka_unit_test(test_ratelimit_clock_going_back_still_limits),
      cmocka_unit_test(test_ratelimit_can_be_reused_after_free),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
