#include "api/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "config.h"
#include "http/cookie.h"
#include "util/timefmt.h"

void auth_token_hash(const char *token, size_t len, uint8_t out[32]) {
  crypto_hash_sha256(out, (const unsigned char *)token, len);
}

struct found {
  struct api_account *out;
  int result;
};

static void on_account(void *ctx, int status, const struct account_row *a) {
  struct found *f = ctx;
  if (status == STORE_OK && a) {
    f->out->id = a->id;
    snprintf(f->out->email, sizeof f->out->email, "%s", a->email ? a->email : "");
    f->result = 1;
  } else {
    f->result = status == STORE_NOT_FOUND ? 0 : -1;
  }
}

int auth_session(struct http_req *r, struct api_account *out) {
  size_t hlen, vlen;
  const char *h = http_header(r, "cookie", &hlen);
  const char *token = h ? cookie_get(h, hlen, COOKIE_SESSION_NAME, &vlen) : NULL;
  if (!token || vlen != SESSION_TOKEN_LEN)
    return 0;
  uint8_t hash[32];
  auth_token_hash(token, vlen, hash);
  /* The SQLite engine answers before returning; see store.h. */
  struct found f = {out, -1};
  store_session_account(app_of(r)->store, hash, time_now_ms(), on_account, &f);
  return f.result;
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

bool auth_require(struct http_req *r, struct api_account *out) {
  bool mutation = !(r->method & (METHOD_GET | METHOD_HEAD));
  if (mutation && auth_foreign_origin(r))
    return false;
  int rc = auth_session(r, out);
  if (rc < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Storage is not answering; try again.");
    return false;
  }
  if (rc == 0) {
    http_respond_error(r, 401, "not_signed_in", "Sign in first.");
    return false;
  }
  return true;
}

bool auth_cookie_secure(struct http_req *r) {
  const char *pub = r->app->cfg->public_url;
  if (pub && strncasecmp(pub, "https://", 8) == 0)
    return true;
  size_t plen;
  const char *proto = http_header(r, "x-forwarded-proto", &plen);
  return proto && plen == 5 && strncasecmp(proto, "https", 5) == 0;
}
