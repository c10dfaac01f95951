/* What the routes share: the store, the code-lookup limiter, the sweeper,
 * and the helpers that turn domain rows into JSON responses. */
#include "api/app.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api/chat_ws.h"
#include "api/scaleout.h"
#include "bus/bus.h"
#include "config.h"
#include "hub/hub.h"
#include "net/addr_table.h"
#include "rooms/lifecycle.h"
#include "rooms/password.h"
#include "rooms/room.h"
#include "store/blobs.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/secret.h"
#include <sodium.h>
#include "util/timefmt.h"

int app_init(struct app *app, uv_loop_t *loop, const struct config *cfg, struct store *store,
             char *err, size_t errlen) {
  app->cfg = cfg;
  app->store = store;
  app->loop = loop;
  if (ratelimit_init(&app->code_lookups, (uint32_t)cfg->code_lookups_per_minute, 60000) < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (ratelimit_init(&app->autocompletes, (uint32_t)cfg->autocomplete_per_minute, 60000) < 0) {
    snprintf(err, errlen, "--autocomplete-per-minute must be at least 1");
    return -1;
  }
  uint32_t logins = (uint32_t)cfg->login_attempts, unlocks = (uint32_t)cfg->unlock_attempts;
  if (ratelimit_init(&app->login_addr, logins, 60000) < 0 ||
      ratelimit_init(&app->login_email, logins, 60000) < 0 ||
      ratelimit_init(&app->unlock_addr, unlocks, 60000) < 0) {
    snprintf(err, errlen, "bad sign-in limits");
    return -1;
  }
  char random_pw[33];
  rand_base62(random_pw, 32);
  /* Shared by every instance on this data directory, and kept over restarts. */
  if (secret_load_or_create(cfg->data_dir, "unlock.key", app->unlock_key, err, errlen) < 0)
    return -1;
  if (password_hash(random_pw, 32, app->dummy_hash) < 0) {
    snprintf(err, errlen, "out of memory (password hashing)");
    return -1;
  }
  if (blobs_init(cfg->data_dir, store, err, errlen) < 0)
    return -1;
  struct doc_limits doc_limits = {.max_bytes = cfg->max_doc_bytes,
                                  .snapshot_every = cfg->doc_snapshot_every};
  docs_init(&app->docs, store, &doc_limits);
  if (scaleout_start(loop, app, cfg, err, errlen) < 0)
    return -1;
  return lifecycle_start(app, err, errlen);
}

void app_stop(struct app *app) {
  lifecycle_stop(app);
  chat_ws_stop();
  scaleout_stop();
}

void app_free(struct app *app) {
  ratelimit_free(&app->code_lookups);
  docs_free(&app->docs);
  ratelimit_free(&app->autocompletes);
  ratelimit_free(&app->login_addr);
  ratelimit_free(&app->login_email);
  ratelimit_free(&app->unlock_addr);
  bus_free();
}

static bool loopback_peer(const struct addr_entry *a) {
  static const uint8_t v6_loopback[16] = {[15] = 1};
  if (a->key[0] == AF_INET)
    return a->key[1] == 127;
  return a->key[0] == AF_INET6 && memcmp(a->key + 1, v6_loopback, 16) == 0;
}

/* The client's address as a proxy on this host says it (X-Real-IP, which
 * the shipped nginx file sets), in the connection table's key form: the
 * family, then the address. 0 when absent or not an address. */
static size_t forwarded_key(struct http_req *r, uint8_t out[17]) {
  size_t len;
  const char *v = http_header(r, "x-real-ip", &len);
  char text[INET6_ADDRSTRLEN];
  if (!v || len == 0 || len >= sizeof text)
    return 0;
  memcpy(text, v, len);
  text[len] = 0;
  if (inet_pton(AF_INET, text, out + 1) == 1) {
    out[0] = AF_INET;
    return 1 + 4;
  }
  if (inet_pton(AF_INET6, text, out + 1) == 1) {
    out[0] = AF_INET6;
    return 1 + 8; /* an IPv6 client counts by its /64, as below */
  }
  return 0;
}

const uint8_t *api_addr_key(struct http_req *r, size_t *len) {
  /* One loop thread, and callers copy the key before the next call. */
  static uint8_t forwarded[17];
  const struct addr_entry *a = r->c->addr;
  if (app_of(r)->cfg->trust_proxy_loopback && loopback_peer(a) &&
      (*len = forwarded_key(r, forwarded)) > 0)
    return forwarded;
  *len = a->key[0] == AF_INET6 ? 1 + 8 : a->key_len;
  return a->key;
}

void api_respond_limited(struct http_req *r, uint64_t retry_ms, const char *message) {
  char extra[64];
  snprintf(extra, sizeof extra, "Retry-After: %llu\r\n",
           (unsigned long long)((retry_ms + 999) / 1000));
  json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", "rate_limited", "message", message);
  api_respond_json(r, 429, body, extra);
}

bool api_rate_limited(struct http_req *r, ratelimit *rl, const void *key, size_t klen,
                      const char *message) {
  uint64_t retry_ms = 0;
  /* Out of memory fails open: a limiter must not lock everyone out. */
  if (ratelimit_hit(rl, key, klen, uv_now(app_of(r)->loop), &retry_ms) != RATELIMIT_LIMITED)
    return false;
  api_respond_limited(r, retry_ms, message);
  return true;
}

/* A shared limit's answer on its way back from Redis. */
struct limit_hit {
  struct app *app;
  ratelimit *rl;
  api_limit_fn then;
  void *ctx;
  size_t klen;
  uint8_t key[RATELIMIT_KEY_MAX];
};

static uint64_t local_hit(struct app *app, ratelimit *rl, const void *key, size_t klen) {
  uint64_t retry_ms = 0;
  if (ratelimit_hit(rl, key, klen, uv_now(app->loop), &retry_ms) != RATELIMIT_LIMITED)
    return 0; /* out of memory fails open, as above */
  return retry_ms ? retry_ms : 1;
}

static void limit_answered(void *ctx, long long n) {
  struct limit_hit h = *(struct limit_hit *)ctx;
  free(ctx);
  /* Redis went away meanwhile: this instance decides, as when alone. */
  h.then(h.ctx, n < 0 ? local_hit(h.app, h.rl, h.key, h.klen) : (uint64_t)n);
}

void api_limit_hit(struct app *app, ratelimit *rl, const char *name, const void *key, size_t klen,
                   api_limit_fn then, void *ctx) {
  struct limit_hit *h = bus_up() && klen <= RATELIMIT_KEY_MAX ? malloc(sizeof *h) : NULL;
  if (h) {
    *h = (struct limit_hit){app, rl, then, ctx, klen, {0}};
    memcpy(h->key, key, klen);
    if (bus_rate_hit(name, key, klen, rl->max_events, rl->window_ms, limit_answered, h))
      return;
    free(h);
  }
  then(ctx, local_hit(app, rl, key, klen));
}

/* A request on its way through api_limit_gate. */
struct limit_gate {
  struct api_pending pending; /* first */
  struct api_limit limits[4];
  uint8_t keys[4][RATELIMIT_KEY_MAX];
  size_t count, next;
  api_gate_fn pass;
  void (*drop)(void *arg);
  void *arg;
};

static void gate_step(struct limit_gate *g);

static void gate_answered(void *ctx, uint64_t retry_ms) {
  struct limit_gate *g = ctx;
  struct http_req *r = api_pending_end(&g->pending);
  if (r && !retry_ms && ++g->next < g->count) {
    api_pending_start(r, &g->pending);
    gate_step(g);
    return;
  }
  struct limit_gate done = *g;
  free(g);
  if (!r)
    done.drop(done.arg);
  else if (retry_ms) {
    api_respond_limited(r, retry_ms, done.limits[done.next].message);
    done.drop(done.arg);
  } else
    done.pass(r, done.arg);
}

static void gate_step(struct limit_gate *g) {
  const struct api_limit *l = &g->limits[g->next];
  api_limit_hit(app_of(g->pending.r), l->rl, l->name, l->key, l->klen, gate_answered, g);
}

void api_limit_gate(struct http_req *r, const struct api_limit *limits, size_t count,
                    api_gate_fn pass, void (*drop)(void *arg), void *arg) {
  struct limit_gate *g = count <= 4 ? calloc(1, sizeof *g) : NULL;
  if (!g) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    drop(arg);
    return;
  }
  g->count = count;
  g->pass = pass;
  g->drop = drop;
  g->arg = arg;
  for (size_t i = 0; i < count; i++) {
    g->limits[i] = limits[i];
    g->limits[i].klen = limits[i].klen < RATELIMIT_KEY_MAX ? limits[i].klen : RATELIMIT_KEY_MAX;
    memcpy(g->keys[i], limits[i].key, g->limits[i].klen);
    g->limits[i].key = g->keys[i];
  }
  if (!count) {
    free(g);
    pass(r, arg);
    return;
  }
  api_pending_start(r, &g->pending);
  gate_step(g); /* the answer may come before this returns, or later */
}

struct body {
  size_t len;
  char data[];
};

void api_body_collect(struct http_req *r, const uint8_t *data, size_t len) {
  struct body *b = r->handler_state;
  size_t have = b ? b->len : 0;
  struct body *grown = realloc(b, sizeof *b + have + len);
  if (!grown)
    return; /* the body is then incomplete and fails to parse: 400 */
  memcpy(grown->data + have, data, len);
  grown->len = have + len;
  r->handler_state = grown;
}

json_t *api_body_json(struct http_req *r) {
  struct body *b = r->handler_state;
  r->handler_state = NULL;
  if (!b)
    return NULL;
  json_error_t jerr;
  json_t *j = json_loadb(b->data, b->len, 0, &jerr);
  free(b);
  if (j && !json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  return j;
}

void api_pending_start(struct http_req *r, struct api_pending *p) {
  p->r = r;
  r->handler_state = p;
}

struct http_req *api_pending_end(struct api_pending *p) {
  struct http_req *r = p->r;
  if (r)
    r->handler_state = NULL;
  p->r = NULL;
  return r;
}

void api_pending_abort(struct http_req *r) {
  api_room_abort(r);
  if (!r->completed) {
    api_body_abort(r); /* the body was still being collected */
    return;
  }
  struct api_pending *p = r->handler_state;
  r->handler_state = NULL;
  if (p)
    p->r = NULL;
}

void api_respond_store_error(struct http_req *r, int status) {
  if (status == STORE_UNAVAILABLE)
    http_respond_error(r, 503, "storage_unavailable",
                       "The database cannot be reached; try again shortly.");
  else
    http_respond_error(r, 500, "internal", "The database failed.");
}

void api_body_abort(struct http_req *r) {
  api_room_abort(r);
  free(r->handler_state);
  r->handler_state = NULL;
}

void api_respond_json(struct http_req *r, int status, json_t *body, const char *extra_headers) {
  /* 15 digits: 0.9 reads 0.9, not 0.90000000000000002. */
  char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
  json_decref(body);
  if (!text) {
    http_respond_error(r, 500, "internal", "Could not build the response.");
    return;
  }
  http_respond(r, status, "application/json", text, strlen(text), NULL, false, extra_headers);
  free(text);
}

static json_t *time_json(int64_t ms) {
  char t[32];
  time_iso8601(ms, t, sizeof t);
  return json_string(t);
}

static json_t *nullable(const char *s) {
  return s ? json_string(s) : json_null();
}

bool api_owner_authorised(struct http_req *r, const struct room_row *room) {
  size_t len;
  const char *auth = http_header(r, "authorization", &len);
  if (!auth || len < 8 || strncasecmp(auth, "Bearer ", 7) != 0)
    return false;
  return room_owner_token_matches(auth + 7, len - 7, room->owner_token_hash);
}

void api_respond_unauthorised(struct http_req *r) {
  static const char body[] = "{\"error\":{\"code\":\"unauthorized\",\"message\":"
                             "\"Only the room's owner token may do this.\"}}";
  http_respond(r, 401, "application/json", body, sizeof body - 1, NULL, true,
               "WWW-Authenticate: Bearer\r\n");
}

json_t *api_room_json(struct http_req *r, const struct room_row *room, int members_online) {
  char origin[300], url[400], qr[96];
  api_origin(r, origin, sizeof origin);
  snprintf(url, sizeof url, "%s/r/%s", origin, room->id);
  snprintf(qr, sizeof qr, "/api/rooms/%s/qr.svg", room->id);
  json_t *o =
      json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:i, s:s}", "id", room->id, "code", room->code,
                "title", nullable(room->title), "url", url, "qr_url", qr, "created_at",
                time_json(room->created_at), "expires_at", time_json(room->expires_at),
                "members_online", members_online, "kind", room->kind ? room->kind : "drop");
  if (o && room->kind && strcmp(room->kind, "code") == 0)
    json_object_set_new(o, "language",
                        json_string(room->language ? room->language : DOC_DEFAULT_LANGUAGE));
  return o;
}

json_t *api_item_json(const struct item_row *it) {
  json_t *o = json_pack("{s:s, s:I, s:s, s:o, s:o}", "id", it->id, "seq", (json_int_t)it->seq,
                        "kind", it->kind == ITEM_FILE ? "file" : "text", "alias",
                        nullable(it->alias), "created_at", time_json(it->created_at));
  if (!o)
    return NULL;
  if (it->kind == ITEM_TEXT) {
    json_object_set_new(o, "text", json_stringn(it->text ? it->text : "", it->text_len));
  } else {
    char url[128];
    snprintf(url, sizeof url, "/api/rooms/%s/items/%s/file", it->room_id, it->id);
    json_object_set_new(o, "file_name", nullable(it->file_name));
    json_object_set_new(o, "size", json_integer(it->size));
    json_object_set_new(o, "content_type", nullable(it->content_type));
    json_object_set_new(o, "sha256", nullable(it->sha256));
    json_object_set_new(o, "url", json_string(url));
  }
  return o;
}

void api_origin(struct http_req *r, char *out, size_t outlen) {
  const char *public_url = app_of(r)->cfg->public_url;
  if (public_url) {
    /* Configured: a phone scanning the QR code needs an address it can
       reach, which the laptop's "localhost" is not. */
    size_t n = strlen(public_url);
    while (n && public_url[n - 1] == '/')
      n--;
    snprintf(out, outlen, "%.*s", (int)n, public_url);
    return;
  }
  size_t hlen, plen;
  const char *host = http_header(r, "host", &hlen);
  const char *proto = http_header(r, "x-forwarded-proto", &plen);
  bool https = proto && plen == 5 && strncasecmp(proto, "https", 5) == 0;
  /* A Host with anything but host[:port] characters is not echoed back. */
  for (size_t i = 0; host && i < hlen; i++) {
    char c = host[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == ':' || c == '[' || c == ']'))
      host = NULL;
  }
  if (!host || hlen == 0 || hlen > 255)
    snprintf(out, outlen, "%s://localhost", https ? "https" : "http");
  else
    snprintf(out, outlen, "%s://%.*s", https ? "https" : "http", (int)hlen, host);
}

/* A room lookup in flight. It keeps its request apart from handler_state,
 * which stays the route's (a body may arrive before the store answers), so
 * a request that goes away is found here by its address (api_room_abort);
 * few lookups wait at once, so a list will do. */
struct room_lookup {
  struct api_pending pending; /* first: the request, NULL once it went away */
  api_room_cb found;
  void (*refused)(struct http_req *r);
  bool drop_only;
  struct room_lookup *prev, *next;
  char key[STORE_ID_LEN + 1]; /* the room's id or code */
  size_t key_len;
};

static struct room_lookup *lookups;

static void lookup_unlink(struct room_lookup *l) {
  if (l->prev)
    l->prev->next = l->next;
  else
    lookups = l->next;
  if (l->next)
    l->next->prev = l->prev;
}

void api_room_abort(struct http_req *r) {
  for (struct room_lookup *l = lookups; l; l = l->next)
    if (l->pending.r == r)
      l->pending.r = NULL;
}

/* The lookup answers the request itself. The route's state goes first:
 * an answer given from a later turn may end (and free) the request. Before
 * the body's end the rest of it is not wanted: the connection closes after
 * the answer (and reads again, in case the route paused them). */
static void refuse_room(struct http_req *r, int status, const char *code, const char *message,
                        void (*refused)(struct http_req *r)) {
  if (refused)
    refused(r);
  if (!r->completed) {
    r->keep_alive = false;
    http_body_resume(r);
  }
  if (status < 0)
    api_respond_store_error(r, status);
  else
    http_respond_error(r, status, code, message);
}

static void on_room_row(void *ctx, int status, const struct room_row *room) {
  struct room_lookup *l = ctx;
  lookup_unlink(l);
  struct room_lookup w = *l;
  free(l);
  struct http_req *r = w.pending.r;
  if (!r || r->responded)
    return; /* the request went away, or its route answered, meanwhile */
  if (status == STORE_NOT_FOUND) {
    refuse_room(r, 404, "room_not_found", "There is no such room.", w.refused);
  } else if (status < 0) {
    refuse_room(r, status, NULL, NULL, w.refused);
  } else if (w.drop_only && room->owner_id) {
    /* A chat room keeps no items: its password must not be walked around. */
    refuse_room(r, 404, "not_a_drop_room", "This room takes no items.", w.refused);
  } else if (room_expired(room, time_now_ms())) {
    refuse_room(r, 410, "room_expired", "This room has expired.", w.refused);
  } else {
    w.found(r, room);
  }
}

bool api_addr_rate_limited(struct http_req *r, ratelimit *rl, const char *message) {
  /* Keyed by address bytes; an IPv6 client counts by its /64, which it
   * could otherwise rotate through. */
  size_t klen;
  const uint8_t *k = api_addr_key(r, &klen);
  return api_rate_limited(r, rl, k, klen, message);
}

static void code_limit_checked(void *ctx, uint64_t retry_ms) {
  struct room_lookup *l = ctx;
  struct http_req *r = l->pending.r;
  if (r && !r->responded && !retry_ms) {
    store_room_get(app_of(r)->store, l->key, l->key_len, on_room_row, l);
    return;
  }
  lookup_unlink(l);
  struct room_lookup w = *l;
  free(l);
  if (!r || r->responded)
    return; /* the request went away, or its route answered, meanwhile */
  if (w.refused)
    w.refused(r);
  if (!r->completed) { /* as refuse_room: the rest of the body is not wanted */
    r->keep_alive = false;
    http_body_resume(r);
  }
  api_respond_limited(r, retry_ms, "Too many code lookups from this address; try again later.");
}

static void with_room(struct http_req *r, api_room_cb found, bool drop_only,
                      void (*refused)(struct http_req *r)) {
  size_t len;
  const char *key = route_param(&r->match, "room", &len);
  if (!key) {
    key = route_param(&r->match, "code", &len);
  }
  if (!key || !(room_key_is_id(key, len) || room_key_is_code(key, len))) {
    refuse_room(r, 404, "room_not_found", "There is no such room.", refused);
    return;
  }
  struct room_lookup *l = malloc(sizeof *l);
  if (!l) {
    refuse_room(r, 500, "internal", "Out of memory.", refused);
    return;
  }
  *l = (struct room_lookup){.pending = {r}, found, refused, drop_only, NULL, lookups, {0}, len};
  memcpy(l->key, key, len);
  if (lookups)
    lookups->prev = l;
  lookups = l;
  if (room_key_is_code(key, len)) { /* codes are few: guessing them is limited */
    size_t klen;
    const uint8_t *k = api_addr_key(r, &klen);
    api_limit_hit(app_of(r), &app_of(r)->code_lookups, "code", k, klen, code_limit_checked, l);
    return;
  }
  /* The answer may come before this returns (SQLite) or later. */
  store_room_get(app_of(r)->store, l->key, l->key_len, on_room_row, l);
}

void api_with_room(struct http_req *r, api_room_cb found) {
  with_room(r, found, false, NULL);
}

void api_with_drop_room(struct http_req *r, api_room_cb found) {
  with_room(r, found, true, NULL);
}

void api_with_drop_room_or(struct http_req *r, api_room_cb found,
                           void (*refused)(struct http_req *r)) {
  with_room(r, found, true, refused);
}
