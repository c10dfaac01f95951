/* Passwords and email addresses of facilitator accounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <sodium.h>

#include "rooms/password.h"

static void test_password_needs_ten_characters(void **state) {
  assert_int_equal(password_check("123456789", 9), -1);
  assert_int_equal(password_check("1234567890", 10), 0);
}

static void test_password_length_counts_characters_not_bytes(void **state) {
  /* Nine two-byte characters are 18 bytes but still too short. */
  const char *nine = "ééééééééé";
  assert_int_equal(password_check(nine, strlen(nine)), -1);
  const char *ten = "éééééééééé";
  assert_int_equal(password_check(ten, strlen(ten)), 0);
}

static void test_password_over_the_maximum_is_refused(void **state) {
  char pw[PASSWORD_MAX_BYTES + 1];
  memset(pw, 'a', sizeof pw);
  assert_int_equal(password_check(pw, PASSWORD_MAX_BYTES), 0);
  assert_int_equal(password_check(pw, PASSWORD_MAX_BYTES + 1), -1);
}

static void test_password_with_invalid_utf8_or_nul_is_refused(void **state) {
  assert_int_equal(password_check("abcdefghij\xff", 11), -1);
  assert_int_equal(password_check("abcde\0fghij", 11), -1);
}

static void test_password_hash_is_argon2id_and_verifies(void **state) {
  char hash[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash("correct horse", 13, hash), 0);
  assert_memory_equal(hash, "$argon2id$", 10);
  assert_non_null(strstr(hash, "m=19456,t=2,p=1"));
  assert_true(password_verify(hash, "correct horse", 13));
  assert_false(password_verify(hash, "correct horsf", 13));
  assert_false(password_verify(hash, "correct hors", 12));
  assert_false(password_verify(NULL, "correct horse", 13));
}

static void test_password_hashes_of_one_password_differ_by_salt(void **state) {
  char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash("same password", 13, a), 0);
  assert_int_equal(password_hash("same password", 13, b), 0);
  assert_string_not_equal(a, b);
}

static void test_email_is_trimmed_and_lower_cased(void **state) {
  char out[EMAIL_MAX + 1];
  const char *in = "  Ada.Lovelace@Example.ORG ";
  assert_int_equal(email_normalise(in, strlen(in), out), 0);
  assert_string_equal(out, "ada.lovelace@example.org");
}

static void test_email_malformed_addresses_are_refused(void **state) {
  const char *bad[] = {
      "",           "a",          "@example.org", "ada@",       "ada@example", "a@b@c.org",
      "ada @x.org", "ada@.x.org", "ada@x.org.",   "ada@x..org", "ada@x_y.org", "<ada@x.org>",
      "ada\n@x.org"};
  char out[EMAIL_MAX + 1];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(email_normalise(bad[i], strlen(bad[i]), out), -1);
}

static void test_email_length_limits(void **state) {
  char in[300], out[EMAIL_MAX + 1];
  memset(in, 'a', 65);
  memcpy(in + 65, "@example.org", 13);
  assert_int_equal(email_normalise(in, strlen(in), out), -1); /* local part of 65 */
  memset(in, 'a', 64);
  memcpy(in + 64, "@example.org", 13);
  assert_int_equal(email_normalise(in, strlen(in), out), 0);
  memset(in, 'a', 254);
  in[5] = '@';
  memcpy(in + 250, ".org", 5);
  assert_int_equal(email_normalise(in, strlen(in), out), 0); /* 254 bytes */
  memset(in, 'a', 255);
  in[5] = '@';
  memcpy(in + 251, ".org", 5);
  assert_int_equal(email_normalise(in, strlen(in), out), -1); /* 255 bytes */
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_password_needs_ten_characters),
      cmocka_unit_test(test_password_length_counts_characters_not_bytes),
      cmocka_unit_test(test_password_over_the_maximum_is_refused),
      cmocka_unit_test(test_password_with_invalid_utf8_or_nul_is_refused),
      cmocka_unit_test(test_password_hash_is_argon2id_and_verifies),
      cmocka_unit_test(test_password_hashes_of_one_password_differ_by_salt),
      cmocka_unit_test(test_email_is_trimmed_and_lower_cased),
      cmocka_unit_test(test_email_malformed_addresses_are_refused),
      cmocka_unit_test(test_email_length_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
