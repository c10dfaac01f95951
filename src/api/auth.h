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

/* The signed-in account of the request, if any: 1 (out filled), 0 (no
 * valid session), -1 (storage failed). */
int auth_session(struct http_req *r, struct api_account *out);

/* The account behind a request that needs one. A mutation (not GET/HEAD)
 * from a foreign Origin gets 403 first; no session gets 401. Returns false
 * when it answered. */
bool auth_require(struct http_req *r, struct api_account *out);

/* True when the request came from another origin than tandem allows
 * (see csrf_origin_ok); answers 403 itself. */
bool auth_foreign_origin(struct http_req *r);

/* True when cookies must be Secure: --public-url is https, or a proxy says
 * the request came over https. */
bool auth_cookie_secure(struct http_req *r);

/* The SHA-256 of a session token (what auth_sessions keeps). */
void auth_token_hash(const char *token, size_t len, uint8_t out[32]);

#endif
