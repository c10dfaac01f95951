/* Peer names and device labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rooms/peer_info.h"

static const char *label(const char *ua) {
  static char out[48];
  peer_device_label(peer_device_from_ua(ua, ua ? strlen(ua) : 0), out, sizeof out);
  return out;
}

static void test_peer_device_labels_common_browsers(void **state) {
  assert_string_equal(
      label("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
      "Firefox on Linux");
  assert_string_equal(label("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                            "Chrome/131.0 Mobile Safari/537.36"),
                      "Chrome on Android");
  assert_string_equal(label("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 "
                            "Version/17.1 Safari/605.1.15"),
                      "Safari on macOS");
  assert_string_equal(label("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                            "Chrome/131.0 Safari/537.36 Edg/131.0"),
                      "Edge on Windows");
  assert_string_equal(label("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                            "CriOS/131.0 Mobile/15E148 Safari/604.1"),
                      "Chrome on iPad");
  assert_string_equal(label("curl/8.5.0"), "curl");
  assert_string_equal(label(NULL), "Unknown device");
}

static void test_peer_default_name_is_stable_for_an_id(void **state) {
  char a[48], b[48], c[48];
  peer_default_name("AbCdEfGhIjKl", 12, a, sizeof a);
  peer_default_name("AbCdEfGhIjKl", 12, b, sizeof b);
  peer_default_name("AbCdEfGhIjKm", 12, c, sizeof c);
  assert_string_equal(a, b);
  assert_non_null(strchr(a, ' '));
  assert_string_not_equal(a, c); /* these two ids happen to differ; most do */
}

static void test_peer_name_check_trims_and_bounds(void **state) {
  size_t start, len;
  assert_int_equal(peer_name_check("  Kitchen ", 10, &start, &len), 0);
  assert_int_equal(start, 2);
  assert_int_equal(len, 7);
  assert_int_equal(peer_name_check("   ", 3, &start, &len), -1);
  assert_int_equal(peer_name_check("a\nb", 3, &start, &len), -1);
  assert_int_equal(peer_name_check("\xc3\x28", 2, &start, &len), -1);
  char long_name[42];
  memset(long_name, 'x', 41);
  assert_int_equal(peer_name_check(long_name, 41, &start, &len), -1);
  assert_int_equal(peer_name_check(long_name, 40, &start, &len), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_peer_device_labels_common_browsers),
      cmocka_unit_test(test_peer_default_name_is_stable_for_an_id),
      cmocka_unit_test(test_peer_name_check_trims_and_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
