#include "api/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "config.h"
#include "http/cookie.h"
#include "util/timefmt.h"

void auth_token_hash(const char *token, size_t len, uint8_t out[32]) {
  crypto_hash_sha256(out, (const unsigned char *)token, len);
}

/* A session lookup on behalf of a request; freed by its callback. */
struct session_wait {
  struct api_pending pending; /* first */
  bool required;              /* no session: 401 instead of signed_in(NULL) */
  auth_cb signed_in;
  void *ctx;
  auth_release release;
};

static void release_ctx(auth_release release, void *ctx) {
  if (release)
    release(ctx);
}

/* Hands the session's account to the route, or answers the request. */
static void finish(struct http_req *r, const struct session_wait *w, int status,
                   const struct account_row *a) {
  if (r && status == STORE_OK && a) {
    struct api_account me = {.id = a->id};
    snprintf(me.email, sizeof me.email, "%s", a->email ? a->email : "");
    w->signed_in(r, &me, w->ctx);
    return;
  }
  if (r && status == STORE_NOT_FOUND && !w->required) {
    w->signed_in(r, NULL, w->ctx);
    return;
  }
  if (r && status == STORE_NOT_FOUND)
    http_respond_error(r, 401, "not_signed_in", "Sign in first.");
  else if (r)
    api_respond_store_error(r, status);
  release_ctx(w->release, w->ctx);
}

static void on_account(void *arg, int status, const struct account_row *a) {
  struct session_wait *w = arg;
  finish(api_pending_end(&w->pending), w, status, a);
  free(w);
}

/* Looks the session cookie up; `required` as in session_wait. */
static void look_up(struct http_req *r, bool required, auth_cb signed_in, void *ctx,
                    auth_release release) {
  struct session_wait given = {{NULL}, required, signed_in, ctx, release};
  size_t hlen, vlen;
  const char *h = http_header(r, "cookie", &hlen);
  const char *token = h ? cookie_get(h, hlen, COOKIE_SESSION_NAME, &vlen) : NULL;
  if (!token || vlen != SESSION_TOKEN_LEN) {
    finish(r, &given, STORE_NOT_FOUND, NULL);
    return;
  }
  struct session_wait *w = malloc(sizeof *w);
  if (!w) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    release_ctx(release, ctx);
    return;
  }
  *w = given;
  uint8_t hash[32];
  auth_token_hash(token, vlen, hash);
  api_pending_start(r, &w->pending);
  store_session_account(app_of(r)->store, hash, time_now_ms(), on_account, w);
}

void auth_session(struct http_req *r, auth_cb signed_in, void *ctx, auth_release release) {
  look_up(r, false, signed_in, ctx, release);
}

bool auth_foreign_origin(struct http_req *r) {
  size_t olen, hlen;
  const char *origin = http_header(r, "origin", &olen);
  const char *host = http_header(r, "host", &hlen);
  if (csrf_origin_ok(r->app->cfg, origin, olen, host, hlen))
    return false;
  http_respond_error(r, 403, "foreign_origin",
                     "This request came from a page tandem does not trust.");
  return true;
}

void auth_require(struct http_req *r, auth_cb signed_in, void *ctx, auth_release release) {
  bool mutation = !(r->method & (METHOD_GET | METHOD_HEAD));
  if (mutation && auth_foreign_origin(r)) {
    release_ctx(release, ctx);
    return;
  }
  look_up(r, true, signed_in, ctx, release);
}

bool auth_cookie_secure(struct http_req *r) {
  const char *pub = r->app->cfg->public_url;
  if (pub && strncasecmp(pub, "https://", 8) == 0)
    return true;
  size_t plen;
  const char *proto = http_header(r, "x-forwarded-proto", &plen);
  return proto && plen == 5 && strncasecmp(proto, "https", 5) == 0;
}
