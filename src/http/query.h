/* Query string parameters: ?after=12&name=caf%C3%A9 */
#ifndef TANDEM_QUERY_H
#define TANDEM_QUERY_H

#include <stddef.h>

/* Finds `name` in the query (without the '?') and writes its value,
 * percent-decoded ('+' as space) and NUL-terminated, into out. Returns the
 * decoded length, -1 when the parameter is absent, -2 when the value does
 * not fit or is malformed (a bad %XX or an embedded NUL). */
int query_param(const char *query, size_t qlen, const char *name, char *out, size_t outlen);

/* Percent-decodes s into out (NUL-terminated); same results as above. */
int percent_decode(const char *s, size_t len, char *out, size_t outlen, int plus_is_space);

#endif
