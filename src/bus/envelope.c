#include "bus/envelope.h"

#include <string.h>

static const char magic[2] = {'T', '1'};

size_t bus_envelope_size(const struct bus_envelope *e) {
  if (e->count > BUS_PARTS_MAX || e->origin_len > BUS_ID_MAX || e->room_len > BUS_ID_MAX ||
      e->except_len > BUS_ID_MAX || e->target_len > BUS_ID_MAX)
    return 0;
  size_t n = sizeof magic + 3 + 4 + e->origin_len + e->room_len + e->except_len + e->target_len + 1;
  for (uint8_t i = 0; i < e->count; i++)
    n += 5 + (size_t)e->parts[i].len;
  return n;
}

static uint8_t *put_field(uint8_t *o, const char *s, uint8_t len) {
  *o++ = len;
  if (len)
    memcpy(o, s, len);
  return o + len;
}

void bus_envelope_write(const struct bus_envelope *e, uint8_t *o) {
  memcpy(o, magic, sizeof magic);
  o += sizeof magic;
  *o++ = e->kind;
  *o++ = e->proto;
  *o++ = e->skip_flags;
  o = put_field(o, e->origin, e->origin_len);
  o = put_field(o, e->room, e->room_len);
  o = put_field(o, e->except, e->except_len);
  o = put_field(o, e->target, e->target_len);
  *o++ = e->count;
  for (uint8_t i = 0; i < e->count; i++) {
    uint32_t len = e->parts[i].len;
    *o++ = e->parts[i].binary ? 1 : 0;
    *o++ = (uint8_t)(len >> 24);
    *o++ = (uint8_t)(len >> 16);
    *o++ = (uint8_t)(len >> 8);
    *o++ = (uint8_t)len;
    if (len)
      memcpy(o, e->parts[i].p, len);
    o += len;
  }
}

/* A cursor over the bytes that fails once and stays failed. */
struct reader {
  const uint8_t *p;
  size_t left;
  bool bad;
};

static const uint8_t *take(struct reader *r, size_t n) {
  if (r->bad || n > r->left) {
    r->bad = true;
    return NULL;
  }
  const uint8_t *at = r->p;
  r->p += n;
  r->left -= n;
  return at;
}

static uint8_t take_byte(struct reader *r) {
  const uint8_t *b = take(r, 1);
  return b ? *b : 0;
}

static void take_field(struct reader *r, const char **s, uint8_t *len) {
  *len = take_byte(r);
  const uint8_t *at = *len > BUS_ID_MAX ? (r->bad = true, NULL) : take(r, *len);
  *s = at ? (const char *)at : "";
  if (!at)
    *len = 0;
}

int bus_envelope_read(const uint8_t *p, size_t len, struct bus_envelope *e) {
  struct reader r = {p, len, false};
  memset(e, 0, sizeof *e);
  const uint8_t *m = take(&r, sizeof magic);
  if (!m || memcmp(m, magic, sizeof magic) != 0)
    return -1;
  e->kind = take_byte(&r);
  e->proto = take_byte(&r);
  e->skip_flags = take_byte(&r);
  take_field(&r, &e->origin, &e->origin_len);
  take_field(&r, &e->room, &e->room_len);
  take_field(&r, &e->except, &e->except_len);
  take_field(&r, &e->target, &e->target_len);
  e->count = take_byte(&r);
  if (e->count > BUS_PARTS_MAX)
    return -1;
  for (uint8_t i = 0; i < e->count && !r.bad; i++) {
    e->parts[i].binary = take_byte(&r) == 1;
    const uint8_t *b = take(&r, 4);
    uint32_t n = b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
    e->parts[i].len = n;
    e->parts[i].p = take(&r, n);
  }
  return r.bad || r.left ? -1 : 0;
}
