#include "api/stats_api.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "config.h"
#include "http/query.h"
#include "store/store.h"
#include "util/timefmt.h"

/* True when the request carries `Authorization: Bearer <--admin-token>`.
 * Both sides are hashed first, so the comparison takes the same time
 * whatever the length or the first wrong byte. */
static bool admin(struct http_req *r, const char *token) {
  size_t len;
  const char *h = http_header(r, "authorization", &len);
  static const char scheme[] = "Bearer ";
  if (!h || len <= sizeof scheme - 1 || strncasecmp(h, scheme, sizeof scheme - 1) != 0)
    return false;
  uint8_t given[crypto_hash_sha256_BYTES], want[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(given, (const uint8_t *)h + sizeof scheme - 1, len - (sizeof scheme - 1));
  crypto_hash_sha256(want, (const uint8_t *)token, strlen(token));
  return sodium_memcmp(given, want, sizeof want) == 0;
}

struct listing {
  struct api_pending pending; /* first */
  json_t *days;               /* [{day, visits, referrers: [{ref, visits}]}] */
  json_t *current;            /* the day being filled */
  int status;
  char since[TIME_DAY_LEN + 1];
};

static void listed(struct listing *l, int status) {
  struct http_req *r = api_pending_end(&l->pending);
  if (l->status == STORE_OK)
    l->status = status;
  if (r && l->status != STORE_OK)
    http_respond_error(r, 503, "storage", "The statistics could not be read.");
  else if (r)
    api_respond_json(r, 200, json_pack("{sssO}", "since", l->since, "days", l->days), NULL);
  json_decref(l->days);
  free(l);
}

static void add_row(void *ctx, int status, const char *day, const char *ref, int64_t visits) {
  struct listing *l = ctx;
  if (!day) {
    listed(l, status);
    return;
  }
  if (l->status != STORE_OK)
    return;
  const char *last = json_string_value(json_object_get(l->current, "day"));
  if (!last || strcmp(last, day) != 0) {
    l->current = json_pack("{sssIs[]}", "day", day, "visits", (json_int_t)0, "referrers");
    if (!l->current || json_array_append_new(l->days, l->current) < 0) {
      l->status = STORE_FAILED;
      return;
    }
  }
  json_t *total = json_object_get(l->current, "visits");
  json_integer_set(total, json_integer_value(total) + visits);
  json_array_append_new(json_object_get(l->current, "referrers"),
                        json_pack("{sssI}", "ref", ref, "visits", (json_int_t)visits));
}

static void on_referrers(struct http_req *r) {
  const struct config *cfg = app_of(r)->cfg;
  if (!cfg->admin_token || !*cfg->admin_token) {
    http_respond_error(r, 403, "disabled", "Statistics are off: start tandem with --admin-token.");
    return;
  }
  if (!admin(r, cfg->admin_token)) {
    api_respond_json(r, 401,
                     json_pack("{s{ssss}}", "error", "code", "unauthorized", "message",
                               "Send Authorization: Bearer <the --admin-token>."),
                     "WWW-Authenticate: Bearer\r\n");
    return;
  }
  int64_t days = STORE_REFERRER_DAYS;
  char value[16];
  int given = query_param(r->query, r->query_len, "days", value, sizeof value);
  if (given != -1) {
    char *end = value;
    days = given > 0 ? strtoll(value, &end, 10) : 0;
    if (given < 0 || *end || days < 1 || days > STORE_REFERRER_DAYS) {
      http_respond_error(r, 400, "bad_days", "days is a whole number from 1 to 30.");
      return;
    }
  }
  struct listing *l = calloc(1, sizeof *l);
  if (l)
    l->days = json_array();
  if (!l || !l->days) {
    free(l);
    http_respond_error(r, 503, "storage", "The statistics could not be read.");
    return;
  }
  time_day(time_now_ms() - (days - 1) * 86400000LL, l->since);
  api_pending_start(r, &l->pending);
  store_referrers_since(app_of(r)->store, l->since, add_row, l);
}

const http_handler stats_referrers_handler = {.on_complete = on_referrers,
                                              .on_abort = api_pending_abort};
