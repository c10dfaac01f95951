#include "util/hmap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct hmap_slot {
  uint64_t hash; /* 0: empty; 1: tombstone; else the key's hash | 2 */
  const void *key;
  size_t klen;
  void *val;
};

#define SLOT_EMPTY 0
#define SLOT_TOMB 1

static uint8_t hash_key[crypto_shorthash_KEYBYTES];
static int hash_key_ready;

static uint64_t hash_bytes(const void *key, size_t klen) {
  if (!hash_key_ready) {
    randombytes_buf(hash_key, sizeof hash_key);
    hash_key_ready = 1;
  }
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, key, klen, hash_key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return h | 2; /* never collides with the empty and tombstone markers */
}

static struct hmap_slot *find(const hmap *m, const void *key, size_t klen,
                              uint64_t h) {
  if (m->cap == 0)
    return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct hmap_slot *s = &m->slots[i];
    if (s->hash == SLOT_EMPTY)
      return NULL;
    if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
      return s;
  }
}

static int grow(hmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  /* Many tombstones and few live entries: rebuild at the same size. */
  if (m->cap && m->count * 4 < m->cap)
    cap = m->cap;
  struct hmap_slot *slots = calloc(cap, sizeof *slots);
  if (!slots)
    return -1;
  for (size_t i = 0; i < m->cap; i++) {
    struct hmap_slot *s = &m->slots[i];
    if (s->hash <= SLOT_TOMB)
      continue;
    size_t j = s->hash & (cap - 1);
    while (slots[j].hash != SLOT_EMPTY)
      j = (j + 1) & (cap - 1);
    slots[j] = *s;
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  m->used = m->count;
  return 0;
}

void *hmap_get(const hmap *m, const void *key, size_t klen) {
  if (m->count == 0)
    return NULL;
  struct hmap_slot *s = find(m, key, klen, hash_bytes(key, klen));
  return s ? s->val : NULL;
}

int hmap_put(hmap *m, const void *key, size_t klen, void *val) {
  uint64_t h = hash_bytes(key, klen);
  struct hmap_slot *s = find(m, key, klen, h);
  if (s) {
    s->key = key;
    s->val = val;
    return 0;
  }
  if ((m->used + 1) * 4 > m->cap * 3 && grow(m) < 0)
    return -1;
  size_t mask = m->cap - 1;
  size_t i = h & mask;
  while (m->slots[i].hash > SLOT_TOMB)
    i = (i + 1) & mask;
  if (m->slots[i].hash == SLOT_EMPTY)
    m->used++;
  m->slots[i] = (struct hmap_slot){h, key, klen, val};
  m->count++;
  return 0;
}

void *hmap_del(hmap *m, const void *key, size_t klen) {
  if (m->count == 0)
    return NULL;
  struct hmap_slot *s = find(m, key, klen, hash_bytes(key, klen));
  if (!s)
    return NULL;
  void *val = s->val;
  s->hash = SLOT_TOMB;
  s->key = NULL;
  s->val = NULL;
  m->count--;
  return val;
}

void hmap_free(hmap *m) {
  free(m->slots);
  *m = (hmap){0};
}

void *hmap_next(const hmap *m, size_t *pos) {
  while (*pos < m->cap) {
    struct hmap_slot *s = &m->slots[(*pos)++];
    if (s->hash > SLOT_TOMB)
      return s->val;
  }
  return NULL;
}
