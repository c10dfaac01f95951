/* A hash map from byte-string keys to pointers, with open addressing.
 *
 * Keys come from clients (room names, addresses), so they are hashed with
 * SipHash under a per-process random key: a client cannot choose keys that
 * collide. The map stores the key pointer, not a copy: the key must live as
 * long as its entry (it usually sits inside the value). */
#ifndef TANDEM_HMAP_H
#define TANDEM_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot;

typedef struct hmap {
  struct hmap_slot *slots;
  size_t cap;   /* power of two, or 0 */
  size_t count; /* live entries */
  size_t used;  /* live entries + tombstones */
} hmap;

/* The value for key, or NULL. */
void *hmap_get(const hmap *m, const void *key, size_t klen);
/* Inserts or replaces; returns 0 or -1 when out of memory. */
int hmap_put(hmap *m, const void *key, size_t klen, void *val);
/* Removes key; returns its value or NULL when absent. */
void *hmap_del(hmap *m, const void *key, size_t klen);
/* Frees the table (not the values). */
void hmap_free(hmap *m);

/* Iteration: *pos starts at 0; returns the next value or NULL at the end. */
void *hmap_next(const hmap *m, size_t *pos);

#endif
