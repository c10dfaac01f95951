/* The envelope instances exchange through Redis, and the --redis URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "bus/envelope.h"

static const uint8_t frame[] = {0x81, 0x02, '{', '}'};
static const uint8_t attachment[] = {1, 2, 3};

static struct bus_envelope sample(void) {
  struct bus_envelope e = {.kind = BUS_BROADCAST, .proto = 1, .skip_flags = 2};
  e.origin = "A";
  e.origin_len = 1;
  e.room = "spread";
  e.room_len = 6;
  e.except = "abcdefghijkl";
  e.except_len = 12;
  e.target = "";
  e.count = 2;
  e.parts[0] = (struct bus_part){frame, sizeof frame, false};
  e.parts[1] = (struct bus_part){attachment, sizeof attachment, true};
  return e;
}

static void test_envelope_round_trips_every_field(void **state) {
  (void)state;
  struct bus_envelope e = sample(), d;
  size_t n = bus_envelope_size(&e);
  uint8_t *out = malloc(n);
  assert_non_null(out);
  bus_envelope_write(&e, out);
  assert_int_equal(bus_envelope_read(out, n, &d), 0);
  assert_int_equal(d.kind, BUS_BROADCAST);
  assert_int_equal(d.proto, 1);
  assert_int_equal(d.skip_flags, 2);
  assert_int_equal(d.origin_len, 1);
  assert_memory_equal(d.origin, "A", 1);
  assert_int_equal(d.room_len, 6);
  assert_memory_equal(d.room, "spread", 6);
  assert_int_equal(d.except_len, 12);
  assert_memory_equal(d.except, "abcdefghijkl", 12);
  assert_int_equal(d.target_len, 0);
  assert_int_equal(d.count, 2);
  assert_int_equal(d.parts[0].len, sizeof frame);
  assert_memory_equal(d.parts[0].p, frame, sizeof frame);
  assert_false(d.parts[0].binary);
  assert_true(d.parts[1].binary);
  assert_memory_equal(d.parts[1].p, attachment, sizeof attachment);
  free(out);
}

static void test_envelope_refuses_every_truncation_and_trailing_bytes(void **state) {
  (void)state;
  struct bus_envelope e = sample(), d;
  size_t n = bus_envelope_size(&e);
  uint8_t *out = malloc(n + 1);
  assert_non_null(out);
  bus_envelope_write(&e, out);
  for (size_t cut = 0; cut < n; cut++)
    assert_int_equal(bus_envelope_read(out, cut, &d), -1);
  out[n] = 0;
  assert_int_equal(bus_envelope_read(out, n + 1, &d), -1);
  out[0] = 'X';
  assert_int_equal(bus_envelope_read(out, n, &d), -1);
  free(out);
}

static void test_envelope_bounds_its_fields(void **state) {
  (void)state;
  struct bus_envelope e = sample();
  e.room_len = BUS_ID_MAX + 1;
  assert_int_equal(bus_envelope_size(&e), 0);
  e = sample();
  e.count = BUS_PARTS_MAX + 1;
  assert_int_equal(bus_envelope_size(&e), 0);
}

static void test_redis_url_parses_host_port_and_db(void **state) {
  (void)state;
  char host[64], err[128];
  int port, db;
  assert_int_equal(bus_redis_url_parse("redis://127.0.0.1:7001/3", host, sizeof host, &port, &db,
                                       err, sizeof err),
                   0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 7001);
  assert_int_equal(db, 3);
  assert_int_equal(
      bus_redis_url_parse("redis://cache", host, sizeof host, &port, &db, err, sizeof err), 0);
  assert_string_equal(host, "cache");
  assert_int_equal(port, 6379);
  assert_int_equal(db, 0);
  assert_int_equal(
      bus_redis_url_parse("redis://[::1]:7002", host, sizeof host, &port, &db, err, sizeof err), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 7002);
}

static void test_redis_url_refuses_what_it_cannot_use(void **state) {
  (void)state;
  char host[64], err[128];
  int port, db;
  const char *bad[] = {"http://x:1",      "redis://",        "redis://:6379",
                       "redis://x:0",     "redis://x:70000", "redis://x:1/db",
                       "redis://x:1/2/3", "redis://[::1",    "redis://x:12ab"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = 0;
    assert_int_equal(bus_redis_url_parse(bad[i], host, sizeof host, &port, &db, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "--redis"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_envelope_round_trips_every_field),
      cmocka_unit_test(test_envelope_refuses_every_truncation_and_trailing_bytes),
      cmocka_unit_test(test_envelope_bounds_its_fields),
      cmocka_unit_test(test_redis_url_parses_host_port_and_db),
      cmocka_unit_test(test_redis_url_refuses_what_it_cannot_use),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
