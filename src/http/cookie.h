/* Cookies for signed-in facilitators, and the cross-site check that keeps
 * another site from using them.
 *
 * A session cookie is HttpOnly (scripts cannot read it), SameSite=Lax (a
 * cross-site POST does not carry it in current browsers) and Secure when
 * tandem is reached over https. SameSite alone is not enough (older
 * browsers, same-site but cross-origin pages), so every mutation that a
 * cookie authenticates also has its Origin checked. */
#ifndef TANDEM_COOKIE_H
#define TANDEM_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

#define COOKIE_SESSION_NAME "tandem_session"

/* The value of cookie `name` in a Cookie header ("a=1; b=2"), or NULL;
 * *len is set to the value's length. Quotes around a value are removed. */
const char *cookie_get(const char *header, size_t header_len, const char *name, size_t *len);

/* A Set-Cookie header line (ending in "\r\n") into out. max_age_s 0 clears
 * the cookie. Returns the length, or -1 when out is too small. */
int cookie_build(char *out, size_t cap, const char *name, const char *value, uint64_t max_age_s,
                 bool secure);

/* The Origin check for a cookie-authenticated mutation: true when the
 * request has no Origin (not a browser page: no ambient cookie to abuse),
 * or its Origin is listed in --allowed-origins, or, when none are listed,
 * names the same host[:port] as the Host header. */
bool csrf_origin_ok(const struct config *cfg, const char *origin, size_t olen, const char *host,
                    size_t hlen);

#endif
