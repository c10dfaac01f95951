/* Just enough JSON reading for the load generator: the servers under test
 * write compact JSON in which the fields sought appear as "key":"value" or
 * "key":number, so a bounded substring scan finds them without a parser
 * (a full parse per message would make the load generator the bottleneck). */
#ifndef LOADGEN_SCAN_H
#define LOADGEN_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Finds `needle` (nlen bytes) in s[0..n); returns its offset or -1. */
long scan_find(const char *s, size_t n, const char *needle, size_t nlen);

/* Finds "key":"<value>" from s and returns the value's length (0..cap-1),
 * copied NUL-terminated into out; -1 when absent, unterminated, longer than
 * cap - 1 or holding a backslash. *end (when not NULL) receives the offset
 * just past the closing quote. */
int scan_string(const char *s, size_t n, const char *key, char *out, size_t cap, size_t *end);

/* Finds "key":<unsigned integer> and stores it; 0 on success, -1 otherwise. */
int scan_u64(const char *s, size_t n, const char *key, uint64_t *out);

/* Standard base64 of n bytes into out (room for 4 * ceil(n / 3) + 1). */
size_t base64_encode(const uint8_t *in, size_t n, char *out);

#endif
