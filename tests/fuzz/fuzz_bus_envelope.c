/* libFuzzer harness for the bus envelope (what instances read from Redis).
 *
 * Any bytes: the reader accepts or refuses without reading out of bounds;
 * what it accepts is written back byte for byte, and its parts lie inside
 * the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus/envelope.h"

#include "fuzz_check.h"

static int inside(const uint8_t *p, size_t len, const void *q, size_t n) {
  const uint8_t *b = q;
  return n == 0 || (b >= p && b + n <= p + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct bus_envelope e;
  if (bus_envelope_read(data, size, &e) < 0)
    return 0;
  CHECK(e.count <= BUS_PARTS_MAX);
  CHECK(inside(data, size, e.origin, e.origin_len) && inside(data, size, e.room, e.room_len));
  CHECK(inside(data, size, e.except, e.except_len) && inside(data, size, e.target, e.target_len));
  for (uint8_t i = 0; i < e.count; i++)
    CHECK(inside(data, size, e.parts[i].p, e.parts[i].len));
  size_t n = bus_envelope_size(&e);
  CHECK(n == size);
  uint8_t *out = malloc(n);
  if (!out)
    return 0;
  bus_envelope_write(&e, out);
  /* A binary flag other than 1 reads as 0: compare what the writer means. */
  struct bus_envelope again;
  CHECK(bus_envelope_read(out, n, &again) == 0);
  CHECK(again.count == e.count && again.kind == e.kind && again.proto == e.proto);
  for (uint8_t i = 0; i < e.count; i++)
    CHECK(again.parts[i].len == e.parts[i].len && again.parts[i].binary == e.parts[i].binary &&
          memcmp(again.parts[i].p, e.parts[i].p, e.parts[i].len) == 0);
  free(out);
  return 0;
}
