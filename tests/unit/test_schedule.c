/* The state of a scheduled room at a given time, at its boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rooms/schedule.h"

static void test_schedule_is_scheduled_until_the_millisecond_before_opening(void **state) {
  assert_int_equal(schedule_state(1000, 2000, 0), ROOM_SCHEDULED);
  assert_int_equal(schedule_state(1000, 2000, 999), ROOM_SCHEDULED);
}

static void test_schedule_opens_at_opens_at_inclusive(void **state) {
  assert_int_equal(schedule_state(1000, 2000, 1000), ROOM_OPEN);
  assert_int_equal(schedule_state(1000, 2000, 1999), ROOM_OPEN);
}

static void test_schedule_closes_at_closes_at_inclusive(void **state) {
  assert_int_equal(schedule_state(1000, 2000, 2000), ROOM_CLOSED);
  assert_int_equal(schedule_state(1000, 2000, INT64_MAX), ROOM_CLOSED);
}

static void test_schedule_state_names(void **state) {
  assert_string_equal(schedule_state_name(ROOM_SCHEDULED), "scheduled");
  assert_string_equal(schedule_state_name(ROOM_OPEN), "open");
  assert_string_equal(schedule_state_name(ROOM_CLOSED), "closed");
}

static void test_schedule_check_needs_opening_before_closing(void **state) {
  assert_int_equal(schedule_check(1000, 2000), 0);
  assert_int_equal(schedule_check(1000, 1001), 0);
  assert_int_equal(schedule_check(1000, 1000), -1);
  assert_int_equal(schedule_check(2000, 1000), -1);
  assert_int_equal(schedule_check(-1, 1000), -1);
  assert_int_equal(schedule_check(0, SCHEDULE_MAX_LENGTH_MS), 0);
  assert_int_equal(schedule_check(0, SCHEDULE_MAX_LENGTH_MS + 1), -1);
}

static void test_schedule_parses_utc_times(void **state) {
  int64_t ms;
  assert_int_equal(schedule_parse_time("1970-01-01T00:00:00Z", 20, &ms), 0);
  assert_int_equal(ms, 0);
  assert_int_equal(schedule_parse_time("2026-11-24T21:00:00.250Z", 24, &ms), 0);
  assert_int_equal(ms, 1795554000250ll);
  assert_int_equal(schedule_parse_time("2024-02-29T12:00:00Z", 20, &ms), 0);
  assert_int_equal(ms, 1709208000000ll);
}

static void test_schedule_refuses_malformed_times(void **state) {
  int64_t ms;
  const char *bad[] = {
      "2026-11-24 21:00:00Z",      "2026-11-24T21:00:00",  "2026-13-01T00:00:00Z",
      "2026-11-31T00:00:00Z",      "2025-02-29T00:00:00Z", "2026-11-24T24:00:00Z",
      "2026-11-24T21:00:00+01:00", "1969-12-31T23:59:59Z", "2026-11-24T21:00:00.2Z"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(schedule_parse_time(bad[i], strlen(bad[i]), &ms), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schedule_is_scheduled_until_the_millisecond_before_opening),
      cmocka_unit_test(test_schedule_opens_at_opens_at_inclusive),
      cmocka_unit_test(test_schedule_closes_at_closes_at_inclusive),
      cmocka_unit_test(test_schedule_state_names),
      cmocka_unit_test(test_schedule_check_needs_opening_before_closing),
      cmocka_unit_test(test_schedule_parses_utc_times),
      cmocka_unit_test(test_schedule_refuses_malformed_times),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
