#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

buf *buf_new(size_t cap) {
  if (cap > BUF_MAX)
    return NULL;
  buf *b = malloc(sizeof *b + cap);
  if (!b)
    return NULL;
  b->refs = 1;
  b->len = 0;
  b->cap = (uint32_t)cap;
  return b;
}

buf *buf_from(const void *p, size_t n) {
  buf *b = buf_new(n);
  if (!b)
    return NULL;
  if (n)
    memcpy(b->data, p, n);
  b->len = (uint32_t)n;
  return b;
}

buf *buf_ref(buf *b) {
  b->refs++;
  return b;
}

void buf_unref(buf *b) {
  if (b && --b->refs == 0)
    free(b);
}
