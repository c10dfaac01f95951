/* The embedded web client: hashed assets cached for a year, the page
 * itself revalidated by ETag, client routes answered with the page. */
#include <stdio.h>
#include <string.h>

#include "api/assets.h"
#include "api/static.h"

static bool etag_matches(struct http_req *r, const char *etag) {
  size_t len;
  const char *inm = http_header(r, "if-none-match", &len);
  if (!inm)
    return false;
  size_t elen = strlen(etag);
  /* A list of tags, possibly weak (W/"..."): any match will do. */
  for (const char *p = inm, *end = inm + len; p + elen <= end; p++)
    if (memcmp(p, etag, elen) == 0)
      return true;
  return false;
}

static void serve_asset(struct http_req *r, const struct asset *a) {
  char extra[160];
  snprintf(extra, sizeof extra, "ETag: %s\r\nCache-Control: %s\r\n", a->etag,
           a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (etag_matches(r, a->etag)) {
    http_respond(r, 304, NULL, NULL, 0, NULL, true, extra);
    return;
  }
  http_respond(r, 200, a->content_type, a->data, a->len, NULL, true, extra);
}

static void on_asset(struct http_req *r) {
  const struct asset *a = assets_find(r->path, r->path_len);
  if (!a) {
    http_respond_error(r, 404, "not_found", "There is nothing here.");
    return;
  }
  serve_asset(r, a);
}

static void on_app_page(struct http_req *r) { serve_asset(r, assets_index()); }

const http_handler static_asset_handler = {.on_complete = on_asset};
const http_handler static_page_handler = {.on_complete = on_app_page};
