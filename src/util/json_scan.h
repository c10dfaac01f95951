/* A validating JSON scanner that builds nothing: it checks a message is
 * well-formed JSON (RFC 8259) and points at the raw bytes of the top-level
 * members a handler asks for. The signal relay forwards `data` as written,
 * so the hottest message type never becomes a tree and back again. */
#ifndef TANDEM_JSON_SCAN_H
#define TANDEM_JSON_SCAN_H

#include <stddef.h>

/* Deeper nesting is refused: no message tandem relays needs more. */
#define JSON_SCAN_MAX_DEPTH 64

/* The bytes of one value, exactly as they appear in the input. */
struct json_span {
  const char *p;
  size_t len;
};

/* A member to look for; `value.p` is NULL when the object has no such key.
 * With a key given twice, the last one counts (as the JSON parser does). */
struct json_field {
  const char *key;
  struct json_span value;
};

enum json_scan_result {
  JSON_SCAN_OK = 0,
  JSON_SCAN_INVALID = -1,    /* not JSON, or nested too deep */
  JSON_SCAN_NOT_OBJECT = -2, /* valid JSON, but not an object */
};

/* Validates text[0..len) as one JSON value (surrounding whitespace allowed)
 * and, when it is an object, fills in the fields named. Strings are assumed
 * to be UTF-8 already (the WebSocket codec checked every text frame); what is
 * checked here is the grammar, escapes and surrogate pairs. */
enum json_scan_result json_scan_object(const char *text, size_t len, struct json_field *fields,
                                       size_t nfields);

/* Decodes a span holding a JSON string into out (NUL-terminated), escapes
 * resolved. Returns the decoded length, or -1 when the span is not a string
 * or it does not fit in cap - 1 bytes. */
long json_span_string(struct json_span v, char *out, size_t cap);

#endif
