/* Refcounted byte buffers.
 *
 * A frame sent to many connections is built once into a buf; every
 * recipient's write queue holds a reference, and the last buf_unref frees
 * it. The bytes live in the same allocation as the header, so a broadcast
 * costs one malloc however many members a room has. */
#ifndef TANDEM_BUF_H
#define TANDEM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
  uint32_t refs;
  uint32_t len;   /* bytes in use */
  uint32_t cap;   /* bytes allocated after the header */
  uint8_t data[]; /* cap bytes */
} buf;

/* A new buffer with one reference, room for cap bytes and len 0.
 * Returns NULL when out of memory or cap exceeds BUF_MAX. */
buf *buf_new(size_t cap);

/* A new buffer holding a copy of n bytes at p (len == cap == n). */
buf *buf_from(const void *p, size_t n);

/* Takes one more reference; returns b for convenience. */
buf *buf_ref(buf *b);

/* Drops one reference; frees the buffer when it was the last. NULL is ignored. */
void buf_unref(buf *b);

/* Largest buffer we ever allocate (a bound, not a target). */
#define BUF_MAX ((size_t)1 << 30)

#endif
