/* Drop rooms: identifiers, codes, owner tokens and expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/room.h"
#include "util/rand.h"

static void test_room_ids_are_22_base62_characters_and_differ(void **state) {
  char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
  room_new_id(a);
  room_new_id(b);
  assert_int_equal(strlen(a), 22);
  assert_true(room_key_is_id(a, strlen(a)));
  assert_string_not_equal(a, b);
}

static void test_room_codes_are_six_digits_spread_over_the_whole_range(void **state) {
  int low = 0, high = 0, seen_leading_zero = 0;
  for (int i = 0; i < 20000; i++) {
    char code[STORE_CODE_LEN + 1];
    room_new_code(code);
    assert_int_equal(strlen(code), 6);
    assert_true(room_key_is_code(code, 6));
    if (code[0] < '5')
      low++;
    else
      high++;
    if (code[0] == '0')
      seen_leading_zero = 1;
  }
  /* Uniform: each half gets about 10,000; far outside 9,000..11,000 means bias. */
  assert_in_range(low, 9000, 11000);
  assert_in_range(high, 9000, 11000);
  assert_true(seen_leading_zero); /* zero-padded, not dropped */
}

static void test_room_keys_are_told_apart(void **state) {
  assert_true(room_key_is_code("012345", 6));
  assert_false(room_key_is_code("01234a", 6));
  assert_false(room_key_is_code("01234", 5));
  assert_true(room_key_is_id("abcdefghijABCDEFGHIJ01", 22));
  assert_false(room_key_is_id("abcdefghijABCDEFGHIJ0-", 22));
  assert_false(room_key_is_id("abcdefghijABCDEFGHIJ0", 21));
}

static void test_room_owner_token_matches_only_itself(void **state) {
  char token[ROOM_TOKEN_LEN + 1];
  uint8_t hash[32];
  room_new_owner_token(token, hash);
  assert_int_equal(strlen(token), ROOM_TOKEN_LEN);
  assert_true(room_owner_token_matches(token, strlen(token), hash));
  char wrong[ROOM_TOKEN_LEN + 1];
  memcpy(wrong, token, sizeof wrong);
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  assert_false(room_owner_token_matches(wrong, strlen(wrong), hash));
  assert_false(room_owner_token_matches(token, strlen(token) - 1, hash));
  assert_false(room_owner_token_matches("", 0, hash));
}

static void test_room_expiry_is_creation_plus_ttl(void **state) {
  struct room_row r = {.created_at = 1000};
  r.expires_at = room_expires_at(r.created_at, 24ull * 3600 * 1000);
  assert_int_equal(r.expires_at, 1000 + 86400000);
  assert_false(room_expired(&r, r.expires_at - 1));
  assert_true(room_expired(&r, r.expires_at)); /* gone at the instant, not after */
  assert_true(room_expired(&r, r.expires_at + 1));
}

static void test_room_expiry_saturates_instead_of_overflowing(void **state) {
  assert_int_equal(room_expires_at(INT64_MAX - 5, 100), INT64_MAX);
  assert_int_equal(room_expires_at(0, UINT64_MAX), INT64_MAX);
}

static void test_room_row_dup_copies_strings_and_keeps_nulls(void **state) {
  (void)state;
  char title[] = "Standup";
  struct room_row r = {.id = "abc",
                       .code = "123456",
                       .title = title,
                       .language = NULL,
                       .kind = "chat",
                       .owner_id = 7,
                       .opens_at = 10,
                       .closes_at = 20};
  struct room_row *copy = room_row_dup(&r);
  assert_non_null(copy);
  title[0] = 'X'; /* the copy must not see the caller's memory */
  assert_string_equal(copy->title, "Standup");
  assert_string_equal(copy->kind, "chat");
  assert_string_equal(copy->id, "abc");
  assert_null(copy->language);
  assert_null(copy->password_hash);
  assert_int_equal(copy->owner_id, 7);
  assert_int_equal(copy->closes_at, 20);
  free(copy);
}

int main(void) {
  if (rand_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_room_ids_are_22_base62_characters_and_differ),
      cmocka_unit_test(test_room_codes_are_six_digits_spread_over_the_whole_range),
      cmocka_unit_test(test_room_keys_are_told_apart),
      cmocka_unit_test(test_room_owner_token_matches_only_itself),
      cmocka_unit_test(test_room_expiry_is_creation_plus_ttl),
      cmocka_unit_test(test_room_expiry_saturates_instead_of_overflowing),
      cmocka_unit_test(test_room_row_dup_copies_strings_and_keeps_nulls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
