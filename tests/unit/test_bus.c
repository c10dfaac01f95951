/* The in-process bus: presence of chat members per room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus/bus.h"

struct listing {
  char seen[8][64];
  int count;
};

static void list_one(void *ctx, const char *peer_id, const char *alias) {
  struct listing *l = ctx;
  if (l->count < 8)
    strcpy(l->seen[l->count], alias);
  l->count++;
}

static void test_bus_presence_add_has_remove(void **state) {
  assert_int_equal(bus_presence_add("room-a", "Ada", "peer00000001"), 0);
  assert_true(bus_presence_has("room-a", "Ada"));
  assert_false(bus_presence_has("room-b", "Ada"));
  assert_false(bus_presence_has("room-a", "ada"));
  bus_presence_remove("room-a", "Ada");
  assert_false(bus_presence_has("room-a", "Ada"));
  bus_presence_remove("room-a", "Ada"); /* absent: nothing happens */
}

static void test_bus_presence_alias_taken_once_per_room(void **state) {
  assert_int_equal(bus_presence_add("room-a", "Ada", "peer00000001"), 0);
  assert_int_equal(bus_presence_add("room-a", "Ada", "peer00000002"), -EEXIST);
  assert_int_equal(bus_presence_add("room-b", "Ada", "peer00000003"), 0);
  bus_presence_remove("room-a", "Ada");
  bus_presence_remove("room-b", "Ada");
}

static void test_bus_presence_lists_the_live_members(void **state) {
  const char *names[] = {"Ada", "Ada 2", "Amber Otter"};
  for (int i = 0; i < 3; i++)
    assert_int_equal(bus_presence_add("room-c", names[i], "peer"), 0);
  bus_presence_remove("room-c", "Ada 2");
  struct listing l = {0};
  bus_presence_each("room-c", list_one, &l);
  assert_int_equal(l.count, 2);
  assert_true((strcmp(l.seen[0], "Ada") == 0 && strcmp(l.seen[1], "Amber Otter") == 0) ||
              (strcmp(l.seen[1], "Ada") == 0 && strcmp(l.seen[0], "Amber Otter") == 0));
  bus_presence_remove("room-c", "Ada");
  bus_presence_remove("room-c", "Amber Otter");
  struct listing empty = {0};
  bus_presence_each("room-c", list_one, &empty);
  assert_int_equal(empty.count, 0);
}

static void test_bus_presence_many_members(void **state) {
  char alias[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(alias, sizeof alias, "member %d", i);
    assert_int_equal(bus_presence_add("big", alias, "peer"), 0);
  }
  for (int i = 0; i < 1000; i++) {
    snprintf(alias, sizeof alias, "member %d", i);
    assert_true(bus_presence_has("big", alias));
    bus_presence_remove("big", alias);
  }
  assert_false(bus_presence_has("big", "member 0"));
}

static int teardown(void **state) {
  bus_free();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bus_presence_add_has_remove),
      cmocka_unit_test(test_bus_presence_alias_taken_once_per_room),
      cmocka_unit_test(test_bus_presence_lists_the_live_members),
      cmocka_unit_test(test_bus_presence_many_members),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
