#include "util/rand.h"

#include <sodium.h>

int rand_init(void) {
  return sodium_init() < 0 ? -1 : 0;
}

void rand_base62(char *out, size_t n) {
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  /* One system call for a batch of bytes rather than one per character.
   * Bytes of 248 and above are skipped, so every character is equally
   * likely (248 = 4 x 62). */
  unsigned char pool[64];
  size_t used = sizeof pool;
  for (size_t i = 0; i < n;) {
    if (used == sizeof pool) {
      randombytes_buf(pool, sizeof pool);
      used = 0;
    }
    unsigned char b = pool[used++];
    if (b < 248)
      out[i++] = alphabet[b % 62];
  }
  sodium_memzero(pool, sizeof pool);
  out[n] = '\0';
}
