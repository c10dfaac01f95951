#include "util/rand.h"

#include <sodium.h>

int rand_init(void) { return sodium_init() < 0 ? -1 : 0; }

void rand_base62(char *out, size_t n) {
  static const char alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (size_t i = 0; i < n; i++)
    out[i] = alphabet[randombytes_uniform(62)];
  out[n] = '\0';
}
