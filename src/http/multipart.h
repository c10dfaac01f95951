/* multipart/form-data (RFC 7578 over RFC 2046): an incremental, pure parser
 * for streamed uploads (bytes in, events out, no I/O, no allocation), and
 * helpers for the Content-Type boundary and the Content-Disposition header.
 *
 * Part data is never copied: each piece handed to on_data points into the
 * buffer given to multipart_feed. The one exception is a delimiter prefix
 * cut by the end of a buffer ("...\r\n--boun" | "dary" or | "X"): those
 * bytes are held back until the next buffer decides whether they start a
 * delimiter. A delimiter contains CR only at its first byte, so held-back
 * bytes are always a prefix of the delimiter itself; the parser keeps their
 * count, not a copy, and when they turn out to be data they are delivered
 * from its copy of the delimiter. At most boundary length + 3 bytes are ever
 * held back.
 *
 * Accepted syntax (RFC 2046 5.1.1):
 *   [preamble CRLF] "--" boundary *(SP/HT) CRLF part
 *   *(CRLF "--" boundary *(SP/HT) CRLF part)
 *   CRLF "--" boundary "--" [anything: epilogue]
 *   part = *(header CRLF) CRLF data
 * A line starting with "--" boundary ends the part before it, as RFC 2046
 * says ("it is sufficient that the boundary appear in its entirety"); if
 * it is then followed by anything but padding and CRLF, or "--", the body
 * is malformed (MULTIPART_EDELIMITER) - also in the preamble. Header lines
 * end in CRLF (a bare CR or LF is an error), are at most
 * MULTIPART_HEADER_MAX bytes, at most MULTIPART_MAX_HEADERS per part, and
 * may not be folded. The CRLF of the blank line ending the headers may
 * double as the CRLF of the next delimiter, so a part with no data needs no
 * second CRLF: "--b\r\nH: v\r\n\r\n--b" and "--b\r\n\r\n--b" are parts with
 * empty data, as the grammar's optional [CRLF *OCTET] allows. */
#ifndef TANDEM_MULTIPART_H
#define TANDEM_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest boundary RFC 2046 allows. */
#define MULTIPART_BOUNDARY_MAX 70
/* Longest part header line (name, colon and value, without CRLF). */
#define MULTIPART_HEADER_MAX 1024
/* Most header lines in one part. */
#define MULTIPART_MAX_HEADERS 16

/* Results. Every error is sticky: once multipart_feed has returned one,
 * every later call returns it again. */
enum multipart_error {
  MULTIPART_STOPPED = -1,           /* a callback returned non-zero */
  MULTIPART_EBOUNDARY = -2,         /* boundary missing, empty, over 70 characters,
                                       with characters RFC 2046 forbids, or repeated */
  MULTIPART_ENOT_MULTIPART = -3,    /* Content-Type is not multipart/... */
  MULTIPART_EDELIMITER = -4,        /* boundary followed by other than padding CRLF or "--" */
  MULTIPART_EHEADER = -5,           /* header line without colon, bad name, control
                                       character, bare CR or LF, or folded */
  MULTIPART_EHEADER_TOO_LONG = -6,  /* header line over MULTIPART_HEADER_MAX */
  MULTIPART_ETOO_MANY_HEADERS = -7, /* more than MULTIPART_MAX_HEADERS in a part */
  MULTIPART_ETRUNCATED = -8,        /* input ended before the close delimiter */
  MULTIPART_EDISPOSITION = -9,      /* malformed Content-Disposition value */
};

/* Events. Any pointer may be NULL. Each returns 0 to go on, non-zero to
 * make multipart_feed stop and return MULTIPART_STOPPED. Pointers passed
 * are valid only during the call. A body yields, in order:
 *   for each part: on_part_begin, on_header*, on_headers_end, on_data*,
 *                  on_part_end
 *   then on_end, once the close delimiter has been seen.
 * on_data is never called with n == 0; how a part's data is cut into
 * pieces depends on how the input was split, nothing else does. */
typedef struct multipart_callbacks {
  int (*on_part_begin)(void *ctx);
  /* name and value are not NUL-terminated; the value has surrounding
   * spaces and tabs removed. */
  int (*on_header)(void *ctx, const char *name, size_t name_len, const char *value,
                   size_t value_len);
  int (*on_headers_end)(void *ctx);
  int (*on_data)(void *ctx, const uint8_t *data, size_t n);
  int (*on_part_end)(void *ctx);
  int (*on_end)(void *ctx);
} multipart_callbacks;

/* Parser state: about 1.1 KiB, most of it the header line buffer. Owns no
 * memory; nothing to free. */
typedef struct multipart_parser {
  uint8_t delim[4 + MULTIPART_BOUNDARY_MAX]; /* "\r\n--" boundary */
  uint8_t delim_len;
  uint8_t state;
  uint8_t matched;      /* bytes of delim held back (matched at the end of a feed) */
  uint8_t virtual_crlf; /* the first 2 matched bytes are the CRLF ending the
                           previous line, not input to hold back (see .c) */
  uint8_t in_part;      /* a part has begun and not ended */
  uint8_t padded;       /* transport padding seen after the current boundary */
  uint8_t header_count;
  int8_t error;                    /* sticky error, 0 if none */
  uint16_t line_len;               /* bytes in line */
  char line[MULTIPART_HEADER_MAX]; /* current header line */
} multipart_parser;

/* Extracts the boundary parameter of a Content-Type value such as
 * `multipart/form-data; boundary="abc"` (quoted or not; parameter names and
 * the type are case-insensitive). Writes it NUL-terminated into out
 * (outlen >= MULTIPART_BOUNDARY_MAX + 1 always suffices) and returns its
 * length, or MULTIPART_ENOT_MULTIPART, or MULTIPART_EBOUNDARY (also when
 * out is too small). */
int multipart_boundary(const char *content_type, size_t len, char *out, size_t outlen);

/* Resets the parser for a body delimited by `boundary` (copied; the caller
 * keeps its own). Returns 0, or MULTIPART_EBOUNDARY for a boundary that
 * multipart_boundary would not return. */
int multipart_init(multipart_parser *p, const char *boundary, size_t boundary_len);

/* Feeds the next len bytes of the body. Returns the bytes consumed (len)
 * and sets *consumed likewise; MULTIPART_STOPPED when a callback returned
 * non-zero, with *consumed the bytes taken up to that event - feed the rest
 * (data + *consumed, even if zero bytes remain: events may be pending)
 * later; or a negative error. `consumed` may be NULL. Bytes after the
 * close delimiter (the epilogue) are consumed and ignored. */
int64_t multipart_feed(multipart_parser *p, const uint8_t *data, size_t len,
                       const multipart_callbacks *cb, void *ctx, size_t *consumed);

/* Call at the end of the body: 0 when the close delimiter was seen (and
 * on_end delivered), else the sticky error or MULTIPART_ETRUNCATED. */
int multipart_finish(const multipart_parser *p);

/* A static, human-readable description of a result code. */
const char *multipart_strerror(int code);

/* Content-Disposition of a part, decoded. Fixed buffers, nothing to free;
 * the values may contain any byte (including NUL, via filename*), so use
 * the lengths, and pass a file name through filename_sanitize before use. */
typedef struct multipart_disp {
  bool form_data; /* the disposition type is "form-data" */
  bool has_name;
  bool has_filename; /* filename or a usable filename* was present */
  size_t name_len;
  size_t filename_len;
  char name[MULTIPART_HEADER_MAX + 1];     /* NUL-terminated too */
  char filename[MULTIPART_HEADER_MAX + 1]; /* NUL-terminated too */
} multipart_disp;

/* Parses a Content-Disposition value: `form-data; name="f"; filename="a.txt"`.
 * Values are tokens or quoted strings. In a quoted string a backslash
 * escapes only a following '"' or '\', otherwise it is kept, so the
 * Windows paths old browsers sent stay intact. `filename*=UTF-8''a%20b`
 * (RFC 8187; charset UTF-8 only) is percent-decoded and wins over
 * `filename`; a filename* in another charset or badly encoded is ignored.
 * Plain `filename` is taken literally (browsers send %22 for a quote; it is
 * not decoded). Returns 0, or MULTIPART_EDISPOSITION for a malformed value
 * or a parameter given twice. */
int multipart_disposition(const char *value, size_t len, multipart_disp *out);

#endif
