/* HTTP Range requests (RFC 9110 14.1-14.4) for a resource of known size:
 * parsing a `Range: bytes=...` header into the one byte range to send, and
 * formatting the matching Content-Range. Pure functions; no allocation.
 *
 * Policy, all allowed by RFC 9110 14.2 ("a server MAY ignore the Range
 * header field"):
 *   - exactly one range is served. A header with several ranges is ignored
 *     (RANGE_NONE: 200 with the whole body), which spares us
 *     multipart/byteranges and the overlapping-ranges abuse it invites.
 *     Empty list elements ("bytes=, 0-1") do not count as ranges.
 *   - anything syntactically invalid is ignored (RANGE_NONE): another unit,
 *     a missing "=", whitespace inside a range or around "=", a non-digit,
 *     last-pos < first-pos.
 *   - numbers too large for 64 bits are not errors: they saturate, so
 *     "bytes=99999999999999999999999-" is unsatisfiable (416) and
 *     "bytes=0-99999999999999999999999" is the whole body from 0 (206).
 *   - a zero-length resource can satisfy no range that 206 can express
 *     (Content-Range has no form for 0 bytes): a first-pos range, or
 *     "bytes=-0", is RANGE_UNSATISFIABLE; a suffix range "bytes=-N" (N > 0)
 *     is RANGE_NONE, i.e. 200 with the empty body.
 * If-Range, and whether ranges apply to the response at all (only to 200
 * GET), are the caller's business. */
#ifndef TANDEM_RANGE_H
#define TANDEM_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum range_result {
  RANGE_NONE,          /* no usable Range header: send 200 with the whole body */
  RANGE_OK,            /* send 206 with bytes start..end (inclusive) */
  RANGE_UNSATISFIABLE, /* send 416 with Content-Range: bytes * / size */
};

typedef struct range_spec {
  uint64_t start; /* first byte, inclusive (RANGE_OK only) */
  uint64_t end;   /* last byte, inclusive, < size (RANGE_OK only) */
  uint64_t size;  /* size of the whole resource (always) */
} range_spec;

/* Parses a Range header value (not NUL-terminated; `value` may be NULL when
 * the request had none) for a resource of `size` bytes. Fills *out and
 * says what to send. Leading and trailing whitespace around the value and
 * around list elements is allowed. */
enum range_result range_parse(const char *value, size_t len, uint64_t size, range_spec *out);

/* Longest Content-Range value plus NUL: "bytes " and three 20-digit numbers. */
#define RANGE_CONTENT_RANGE_MAX 72

/* Writes the Content-Range value for a result: "bytes 0-99/1000" for
 * RANGE_OK, "bytes * /1000" (without the space) for RANGE_UNSATISFIABLE.
 * Returns its length, or -1 for RANGE_NONE (there is none) or when outlen is
 * too small (RANGE_CONTENT_RANGE_MAX always suffices). */
int range_content_range(enum range_result result, const range_spec *r, char *out, size_t outlen);

#endif
