/* TURN REST credentials, checked against a vector computed independently
 * (Python's hmac module: base64(HMAC-SHA1(b"north", b"1700000000:alice"))). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rooms/turn.h"

static void test_turn_credentials_match_the_known_vector(void **state) {
  char username[64], credential[64];
  assert_int_equal(turn_credentials("north", 1700000000, "alice", username, sizeof username,
                                    credential, sizeof credential),
                   0);
  assert_string_equal(username, "1700000000:alice");
  assert_string_equal(credential, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
}

static void test_turn_credentials_refuse_buffers_too_small(void **state) {
  char username[8], credential[64];
  assert_int_equal(turn_credentials("north", 1700000000, "alice", username, sizeof username,
                                    credential, sizeof credential),
                   -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_turn_credentials_match_the_known_vector),
      cmocka_unit_test(test_turn_credentials_refuse_buffers_too_small),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
