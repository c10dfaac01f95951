/* Who is signed in: the session cookie of a facilitator, checked against
 * auth_sessions, and the Origin check on the mutations it authenticates. */
#ifndef TANDEM_AUTH_H
#define TANDEM_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "rooms/password.h"

#define SESSION_TOKEN_LEN 43 /* base62 of 256 random bits */

struct api_account {
  int64_t id;
  char email[EMAIL_MAX + 1];
};

/* Who is behind a request is known only once the store answered, maybe
 * after the call returned. What the route carries to its next step (ctx)
 * belongs to the call from then on: it goes to `signed_in`, or to
 * `release` (when not NULL) once the request was answered here or went
 * away. A route that calls these has api_pending_abort as (or in) its
 * handler's on_abort. */
typedef void (*auth_cb)(struct http_req *r, const struct api_account *me, void *ctx);
typedef void (*auth_release)(void *ctx);

/* The signed-in account of the request: signed_in gets it, or NULL when
 * there is no valid session. A storage failure is answered (503/500). */
void auth_session(struct http_req *r, auth_cb signed_in, void *ctx, auth_release release);

/* The account behind a request that needs one: signed_in gets it (never
 * NULL). A mutation (not GET/HEAD) from a foreign Origin gets 403 first;
 * no session gets 401, a storage failure 503/500. */
void auth_require(struct http_req *r, auth_cb signed_in, void *ctx, auth_release release);

/* True when the request came from another origin than tandem allows
 * (see csrf_origin_ok); answers 403 itself. */
bool auth_foreign_origin(struct http_req *r);

/* True when cookies must be Secure: --public-url is https, or a proxy says
 * the request came over https. */
bool auth_cookie_secure(struct http_req *r);

/* The SHA-256 of a session token (what auth_sessions keeps). */
void auth_token_hash(const char *token, size_t len, uint8_t out[32]);

#endif
