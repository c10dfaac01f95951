/* Chat aliases: generated, chosen, clash suffixes, device keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <sodium.h>

#include "rooms/alias.h"

/* A set of live aliases for alias_resolve. */
struct live {
  const char *names[8];
  int count;
};

static bool live_has(void *ctx, const char *alias) {
  struct live *l = ctx;
  for (int i = 0; i < l->count; i++)
    if (strcmp(l->names[i], alias) == 0)
      return true;
  return false;
}

static bool always_taken(void *ctx, const char *alias) {
  return true;
}

static void test_alias_free_name_is_kept(void **state) {
  struct live l = {{"Bob"}, 1};
  char out[ALIAS_MAX + 1];
  assert_int_equal(alias_resolve("Amber Otter", live_has, &l, out), 0);
  assert_string_equal(out, "Amber Otter");
}

static void test_alias_clash_gets_the_first_free_suffix(void **state) {
  struct live l = {{"Amber Otter", "Amber Otter 2", "Amber Otter 4"}, 3};
  char out[ALIAS_MAX + 1];
  assert_int_equal(alias_resolve("Amber Otter", live_has, &l, out), 0);
  assert_string_equal(out, "Amber Otter 3");
}

static void test_alias_runs_out_after_the_last_suffix(void **state) {
  char out[ALIAS_MAX + 1];
  assert_int_equal(alias_resolve("X", always_taken, NULL, out), -1);
}

static void test_alias_longest_base_with_suffix_fits(void **state) {
  char base[ALIAS_BASE_MAX + 1];
  memset(base, 'a', ALIAS_BASE_MAX);
  base[ALIAS_BASE_MAX] = 0;
  struct live l = {{base}, 1};
  char out[ALIAS_MAX + 1];
  assert_int_equal(alias_resolve(base, live_has, &l, out), 0);
  assert_int_equal(strlen(out), ALIAS_BASE_MAX + 2);
  assert_string_equal(out + ALIAS_BASE_MAX, " 2");
}

static void test_alias_same_device_same_room_same_generated_alias(void **state) {
  uint8_t a[DEVICE_HASH_LEN], b[DEVICE_HASH_LEN];
  const char *key = "device-key-0123456789";
  assert_int_equal(alias_device_hash(key, strlen(key), "room1", a), 0);
  assert_int_equal(alias_device_hash(key, strlen(key), "room1", b), 0);
  assert_memory_equal(a, b, DEVICE_HASH_LEN);
  char x[ALIAS_MAX + 1], y[ALIAS_MAX + 1];
  alias_generate(a, x);
  alias_generate(b, y);
  assert_string_equal(x, y);
  assert_non_null(strchr(x, ' ')); /* "Adjective Animal" */
}

static void test_alias_device_hash_differs_between_rooms(void **state) {
  uint8_t a[DEVICE_HASH_LEN], b[DEVICE_HASH_LEN];
  const char *key = "device-key-0123456789";
  assert_int_equal(alias_device_hash(key, strlen(key), "room1", a), 0);
  assert_int_equal(alias_device_hash(key, strlen(key), "room2", b), 0);
  assert_memory_not_equal(a, b, DEVICE_HASH_LEN);
}

static void test_alias_malformed_device_keys_are_refused(void **state) {
  uint8_t h[DEVICE_HASH_LEN];
  char long_key[DEVICE_KEY_MAX + 2];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = 0;
  assert_int_equal(alias_device_hash("short", 5, "r", h), -1);
  assert_int_equal(alias_device_hash(long_key, DEVICE_KEY_MAX + 1, "r", h), -1);
  assert_int_equal(alias_device_hash(long_key, DEVICE_KEY_MAX, "r", h), 0);
  assert_int_equal(alias_device_hash("has a space 0123456", 19, "r", h), -1);
}

static void test_alias_chosen_is_trimmed_and_checked(void **state) {
  char out[ALIAS_MAX + 1];
  assert_int_equal(alias_choose("  Ada  ", 7, out), 0);
  assert_string_equal(out, "Ada");
  assert_int_equal(alias_choose("   ", 3, out), -1);
  assert_int_equal(alias_choose("a\nb", 3, out), -1);
  char longer[ALIAS_BASE_MAX + 1];
  memset(longer, 'a', sizeof longer);
  assert_int_equal(alias_choose(longer, sizeof longer, out), -1);
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alias_free_name_is_kept),
      cmocka_unit_test(test_alias_clash_gets_the_first_free_suffix),
      cmocka_unit_test(test_alias_runs_out_after_the_last_suffix),
      cmocka_unit_test(test_alias_longest_base_with_suffix_fits),
      cmocka_unit_test(test_alias_same_device_same_room_same_generated_alias),
      cmocka_unit_test(test_alias_device_hash_differs_between_rooms),
      cmocka_unit_test(test_alias_malformed_device_keys_are_refused),
      cmocka_unit_test(test_alias_chosen_is_trimmed_and_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
