/* GET /api/config: what a browser needs for direct transfers: the ICE
 * servers (STUN from --stun, TURN from --turn-url with credentials that
 * expire after --turn-ttl) and the limits it must respect. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/app.h"
#include "api/config_api.h"
#include "config.h"
#include "rooms/turn.h"
#include "util/rand.h"
#include "util/timefmt.h"

/* A comma-separated list as a JSON array of its trimmed entries. */
static json_t *url_list(const char *list) {
  json_t *a = json_array();
  const char *p = list;
  while (p && *p) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n && (*p == ' '))
      p++, n--;
    while (n && p[n - 1] == ' ')
      n--;
    if (n)
      json_array_append_new(a, json_stringn(p, n));
    p = end ? end + 1 : NULL;
  }
  return a;
}

static void get_config(struct http_req *r) {
  const struct config *cfg = app_of(r)->cfg;
  json_t *ice = json_array();
  if (cfg->stun)
    json_array_append_new(ice, json_pack("{s:o}", "urls", url_list(cfg->stun)));
  if (cfg->turn_url && cfg->turn_secret) {
    char user[24], username[96], credential[64];
    rand_base62(user, 12);
    int64_t expires = time_now_ms() / 1000 + (int64_t)(cfg->turn_ttl_ms / 1000);
    if (turn_credentials(cfg->turn_secret, expires, user, username, sizeof username, credential,
                         sizeof credential) == 0)
      json_array_append_new(ice, json_pack("{s:o, s:s, s:s}", "urls", url_list(cfg->turn_url),
                                           "username", username, "credential", credential));
  }
  json_t *body =
      json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "ice_servers", ice, "limits",
                "max_file_size", (json_int_t)cfg->max_file_size, "max_text",
                (json_int_t)cfg->max_text, "ws_max_message", (json_int_t)cfg->ws_max_message,
                "signal_max_bytes", (json_int_t)cfg->signal_max_bytes, "relay_max_message",
                (json_int_t)cfg->relay_max_message, "relay_rate", (json_int_t)cfg->relay_rate);
  /* Credentials are per request and short-lived: never cached. */
  api_respond_json(r, 200, body, "Cache-Control: no-store\r\n");
}

const http_handler config_handler = {.on_complete = get_config};
