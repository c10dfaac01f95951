/* Random identifiers from libsodium's CSPRNG. */
#ifndef TANDEM_RAND_H
#define TANDEM_RAND_H

#include <stddef.h>

/* Initialises libsodium; returns 0 or -1. Call once before anything else. */
int rand_init(void);

/* Writes n random base62 characters and a NUL into out (n + 1 bytes). */
void rand_base62(char *out, size_t n);

#endif
