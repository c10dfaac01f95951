/* File names given by users: made safe to store and show, and encoded for
 * Content-Disposition. Pure functions over caller buffers; no allocation.
 *
 * The blob store never uses these names as paths (blobs are named by id);
 * the sanitizing is for what people see and what browsers save as. */
#ifndef TANDEM_FILENAME_H
#define TANDEM_FILENAME_H

#include <stddef.h>

/* Longest sanitized name, in bytes (the usual file system limit). */
#define FILENAME_MAX_BYTES 255
/* The name used when nothing usable is left. */
#define FILENAME_FALLBACK "file"

/* Writes a safe version of the name in[0..len) into out, NUL-terminated:
 *   - only the part after the last '/' or '\' is kept (a path's base name);
 *   - control characters (U+0000-U+001F, U+007F, U+0080-U+009F) are dropped,
 *     and so are the invisible bidirectional and line-separator characters
 *     (U+200E, U+200F, U+2028-U+202E, U+2066-U+2069) that can make
 *     "evil\u202Etxt.exe" display as "evilexe.txt";
 *   - each byte that is not part of valid UTF-8 (overlongs, surrogates and
 *     code points past U+10FFFF included) becomes '_';
 *   - dots and spaces are trimmed from both ends, so ".", ".." and hidden
 *     dot-files cannot result;
 *   - the result is cut to FILENAME_MAX_BYTES (or outlen - 1 if smaller)
 *     on a character boundary;
 *   - an empty result becomes FILENAME_FALLBACK.
 * Returns the length written, or -1 when outlen < sizeof FILENAME_FALLBACK. */
int filename_sanitize(const char *in, size_t len, char *out, size_t outlen);

/* Room for filename_content_disposition of any name of up to
 * FILENAME_MAX_BYTES bytes, NUL included. */
#define FILENAME_DISPOSITION_MAX                                                                   \
  (sizeof "attachment; filename=\"" - 1 + 2 * FILENAME_MAX_BYTES +                                 \
   sizeof "\"; filename*=UTF-8''" - 1 + 3 * FILENAME_MAX_BYTES + 1)

/* Writes a Content-Disposition value for downloading `name` (NUL-terminated
 * UTF-8, normally from filename_sanitize) into out:
 *   attachment; filename="<fallback>"; filename*=UTF-8''<encoded>
 * The fallback, for clients without RFC 8187 support, is ASCII: '"' and '\'
 * are backslash-escaped, each non-ASCII character (and any control
 * character or invalid byte) becomes '_', and so does '%', which some
 * clients would percent-decode (RFC 6266 appendix D). The filename* value
 * percent-encodes every byte that is not an RFC 8187 attr-char. Returns the
 * length written, or -1 when it does not fit in outlen. */
int filename_content_disposition(const char *name, char *out, size_t outlen);

#endif
