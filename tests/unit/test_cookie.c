/* Cookies and the cross-site (Origin) check for cookie-authenticated mutations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"
#include "http/cookie.h"

static void test_cookie_found_among_others(void **state) {
  const char *h = "theme=dark; tandem_session=abc123; other=1";
  size_t len;
  const char *v = cookie_get(h, strlen(h), "tandem_session", &len);
  assert_non_null(v);
  assert_int_equal(len, 6);
  assert_memory_equal(v, "abc123", 6);
}

static void test_cookie_name_must_match_whole(void **state) {
  const char *h = "xtandem_session=evil; tandem_session_old=evil2";
  size_t len;
  assert_null(cookie_get(h, strlen(h), "tandem_session", &len));
}

static void test_cookie_spaces_and_quotes_are_removed(void **state) {
  const char *h = "  a = 1 ;b=\"quoted\"";
  size_t len;
  const char *v = cookie_get(h, strlen(h), "a", &len);
  assert_non_null(v);
  assert_int_equal(len, 1);
  assert_memory_equal(v, "1", 1);
  v = cookie_get(h, strlen(h), "b", &len);
  assert_int_equal(len, 6);
  assert_memory_equal(v, "quoted", 6);
}

static void test_cookie_pairs_without_a_value_are_skipped(void **state) {
  const char *h = "flag; a=2;;";
  size_t len;
  const char *v = cookie_get(h, strlen(h), "a", &len);
  assert_non_null(v);
  assert_memory_equal(v, "2", 1);
  assert_null(cookie_get(h, strlen(h), "flag", &len));
  assert_null(cookie_get("", 0, "a", &len));
}

static void test_cookie_is_bounded_by_the_header_length(void **state) {
  const char *h = "a=12345";
  size_t len;
  const char *v = cookie_get(h, 4, "a", &len); /* "a=12" */
  assert_int_equal(len, 2);
  assert_memory_equal(v, "12", 2);
}

static void test_set_cookie_has_the_safe_attributes(void **state) {
  char out[256];
  assert_true(cookie_build(out, sizeof out, "s", "tok", 3600, false) > 0);
  assert_string_equal(out, "Set-Cookie: s=tok; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax\r\n");
  assert_true(cookie_build(out, sizeof out, "s", "tok", 0, true) > 0);
  assert_string_equal(out,
                      "Set-Cookie: s=tok; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure\r\n");
}

static void test_set_cookie_too_small_a_buffer_fails(void **state) {
  char out[16];
  assert_int_equal(cookie_build(out, sizeof out, "s", "tok", 3600, false), -1);
}

#define ORIGIN(s) s, strlen(s)
#define HOST(s) s, strlen(s)

static void test_csrf_no_origin_is_not_a_browser_page(void **state) {
  struct config cfg = {0};
  assert_true(csrf_origin_ok(&cfg, NULL, 0, HOST("tandem.example")));
}

static void test_csrf_same_host_allowed_when_no_list(void **state) {
  struct config cfg = {0};
  assert_true(csrf_origin_ok(&cfg, ORIGIN("http://127.0.0.1:8080"), HOST("127.0.0.1:8080")));
  assert_false(csrf_origin_ok(&cfg, ORIGIN("http://evil.example"), HOST("127.0.0.1:8080")));
  assert_false(csrf_origin_ok(&cfg, ORIGIN("http://127.0.0.1:8081"), HOST("127.0.0.1:8080")));
  assert_false(csrf_origin_ok(&cfg, ORIGIN("null"), HOST("127.0.0.1:8080")));
  assert_false(csrf_origin_ok(&cfg, ORIGIN("http://127.0.0.1:8080"), NULL, 0));
}

static void test_csrf_listed_origins_only_when_a_list_is_given(void **state) {
  struct config cfg = {.origins = {"https://app.example"}, .origin_count = 1};
  assert_true(csrf_origin_ok(&cfg, ORIGIN("https://app.example"), HOST("api.example")));
  assert_true(csrf_origin_ok(&cfg, ORIGIN("HTTPS://APP.EXAMPLE"), HOST("api.example")));
  assert_false(csrf_origin_ok(&cfg, ORIGIN("https://app.example.evil"), HOST("api.example")));
  assert_false(csrf_origin_ok(&cfg, ORIGIN("https://api.example"), HOST("api.example")));
}

static void test_csrf_star_allows_any_origin(void **state) {
  struct config cfg = {.origins = {"*"}, .origin_count = 1};
  assert_true(csrf_origin_ok(&cfg, ORIGIN("https://anything.example"), HOST("x")));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cookie_found_among_others),
      cmocka_unit_test(test_cookie_name_must_match_whole),
      cmocka_unit_test(test_cookie_spaces_and_quotes_are_removed),
      cmocka_unit_test(test_cookie_pairs_without_a_value_are_skipped),
      cmocka_unit_test(test_cookie_is_bounded_by_the_header_length),
      cmocka_unit_test(test_set_cookie_has_the_safe_attributes),
      cmocka_unit_test(test_set_cookie_too_small_a_buffer_fails),
      cmocka_unit_test(test_csrf_no_origin_is_not_a_browser_page),
      cmocka_unit_test(test_csrf_same_host_allowed_when_no_list),
      cmocka_unit_test(test_csrf_listed_origins_only_when_a_list_is_given),
      cmocka_unit_test(test_csrf_star_allows_any_origin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
