#include "api/privydrop.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/app.h"
#include "api/privydrop_redis.h"
#include "api/scaleout.h"
#include "api/socketio.h"
#include "bus/bus.h"
#include "config.h"
#include "hub/hub.h"
#include "net/addr_table.h"
#include "net/server.h"
#include "store/store.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/ratelimit.h"
#include "util/timefmt.h"

/* Room ids share the hub's alphabet; the hub room adds a 3-byte prefix. */
#define ROOM_ID_MAX (HUB_ROOM_NAME_MAX - 3)
/* Request bodies here are a few small fields. */
#define BODY_MAX 8192
/* Longest client debug line kept, in bytes. */
#define DEBUG_LINE_MAX 512
/* Client debug lines per address per minute. */
#define DEBUG_LINES_PER_MINUTE 30
#define TRACKS_PER_MINUTE 60   /* set_track calls per address */
#define REF_MAX 100            /* bytes of a referrer name */
#define REFERRERS_PER_DAY 1000 /* distinct names a day; the rest count as "(other)" */

struct pd_room {
  uint64_t expires_ms; /* loop time */
  uint8_t len;
  char id[ROOM_ID_MAX + 1];
};

static hmap rooms;
static ratelimit debug_lines, tracks;
static bool debug_ready, tracks_ready;

static bool room_id_valid(const char *id, size_t len) {
  return len <= ROOM_ID_MAX && hub_room_name_valid(id, len);
}

/* The live room, or NULL; an expired one is dropped on the way. */
static struct pd_room *room_get(const char *id, size_t len, uint64_t now_ms) {
  struct pd_room *r = hmap_get(&rooms, id, len);
  if (r && r->expires_ms <= now_ms) {
    hmap_del(&rooms, r->id, r->len);
    free(r);
    r = NULL;
  }
  return r;
}

static void sweep(uint64_t now_ms) {
  size_t pos = 0;
  struct pd_room *r;
  while ((r = hmap_next(&rooms, &pos))) {
    if (r->expires_ms <= now_ms) {
      hmap_del(&rooms, r->id, r->len);
      free(r);
    }
  }
}

/* Returns 0, -1 when taken, -2 when the registry is full or out of memory. */
static int room_create(const char *id, size_t len, uint64_t now_ms, uint64_t ttl_ms) {
  if (room_get(id, len, now_ms))
    return -1;
  if (rooms.count >= PRIVYDROP_MAX_ROOMS)
    sweep(now_ms);
  if (rooms.count >= PRIVYDROP_MAX_ROOMS)
    return -2;
  struct pd_room *r = calloc(1, sizeof *r);
  if (!r)
    return -2;
  memcpy(r->id, id, len);
  r->len = (uint8_t)len;
  r->expires_ms = now_ms + ttl_ms;
  if (hmap_put(&rooms, r->id, r->len, r) < 0) {
    free(r);
    return -2;
  }
  return 0;
}

bool privydrop_room_join(const char *id, size_t len, uint64_t now_ms, uint64_t ttl_ms) {
  struct pd_room *r = room_get(id, len, now_ms);
  if (r)
    r->expires_ms = now_ms + ttl_ms;
  return r != NULL;
}

void privydrop_room_emptied(const char *id, size_t len, uint64_t now_ms) {
  struct pd_room *r = room_get(id, len, now_ms);
  if (r && r->expires_ms > now_ms + PRIVYDROP_EMPTY_ROOM_MS)
    r->expires_ms = now_ms + PRIVYDROP_EMPTY_ROOM_MS;
}

void privydrop_free(void) {
  size_t pos = 0;
  struct pd_room *r;
  while ((r = hmap_next(&rooms, &pos)))
    free(r);
  hmap_free(&rooms);
  if (debug_ready)
    ratelimit_free(&debug_lines);
  if (tracks_ready)
    ratelimit_free(&tracks);
  debug_ready = tracks_ready = false;
}

/* ------------------------------------------------------------------------
 * HTTP: small JSON bodies, CORS as configured */

struct body {
  size_t len;
  char data[BODY_MAX];
};

static void on_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct body *b = r->handler_state;
  if (!b && !(b = r->handler_state = calloc(1, sizeof *b))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  if (len > BODY_MAX - b->len)
    return; /* max_body makes the HTTP layer refuse it first */
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

static void on_abort(struct http_req *r) {
  if (r->completed) { /* waiting for Redis: the answer's callback frees */
    api_pending_abort(r);
    return;
  }
  free(r->handler_state);
  r->handler_state = NULL;
}

/* A request waiting for Redis (several instances, privydrop_redis.h). */
struct redis_wait {
  struct api_pending pending;
  uint64_t ttl_ms;
  int tries; /* get_room: fresh ids left to try */
  uint8_t len;
  char id[ROOM_ID_MAX + 1];
};

static struct redis_wait *redis_wait_new(struct http_req *r, const char *id, size_t len) {
  struct redis_wait *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->ttl_ms = r->app->cfg->room_ttl_ms;
  w->len = (uint8_t)len;
  memcpy(w->id, id, len);
  return w;
}

static void respond(struct http_req *r, int status, json_t *body);

static void respond_redis_failed(struct http_req *r) {
  respond(r, 503, json_pack("{sbss}", "success", 0, "message", "Rooms are unavailable; try later"));
}

static void redis_created(void *ctx, int rc) {
  struct redis_wait *w = ctx;
  struct http_req *r = api_pending_end(&w->pending);
  if (r && rc < 0)
    respond_redis_failed(r);
  else if (r)
    respond(r, 200,
            json_pack("{sbss}", "success", rc == 1, "message",
                      rc == 1 ? "Room created" : "Room already exists"));
  free(w);
}

static void redis_checked(void *ctx, int rc) {
  struct redis_wait *w = ctx;
  struct http_req *r = api_pending_end(&w->pending);
  if (r && rc < 0)
    respond_redis_failed(r);
  else if (r)
    respond(r, 200, json_pack("{sb}", "available", rc == 0));
  free(w);
}

static void redis_got_room(void *ctx, int rc);

/* 8 base62 characters: 47 bits, so a free one is found at once. */
static bool redis_try_room(struct redis_wait *w) {
  rand_base62(w->id, 8);
  w->len = 8;
  w->tries--;
  return pdr_create(w->id, w->len, w->ttl_ms, redis_got_room, w);
}

static void redis_got_room(void *ctx, int rc) {
  struct redis_wait *w = ctx;
  if (rc == 0 && w->tries > 0 && redis_try_room(w))
    return;
  struct http_req *r = api_pending_end(&w->pending);
  if (r && rc == 1)
    respond(r, 200, json_pack("{ss}", "roomId", w->id));
  else if (r)
    respond_redis_failed(r);
  free(w);
}

/* With Redis, create_room (check false) and check_room (check true) ask
 * it; false when Redis is not in use (the caller answers from memory). */
static bool redis_room(struct http_req *r, const char *id, size_t len, bool check) {
  struct redis_wait *w = bus_up() ? redis_wait_new(r, id, len) : NULL;
  if (!w)
    return false;
  bool asked = check ? pdr_exists(id, len, redis_checked, w)
                     : pdr_create(id, len, w->ttl_ms, redis_created, w);
  if (!asked) {
    free(w);
    return false;
  }
  if (!check)
    room_create(id, len, uv_now(r->c->srv->loop), w->ttl_ms); /* for a later Redis outage */
  api_pending_start(r, &w->pending);
  return true;
}

/* The body as a JSON object (new reference), or NULL after answering 400. */
static json_t *body_json(struct http_req *r) {
  struct body *b = r->handler_state;
  r->handler_state = NULL;
  json_t *j = b ? json_loadb(b->data, b->len, 0, NULL) : NULL;
  free(b);
  if (!json_is_object(j)) {
    json_decref(j);
    http_respond_error(r, 400, "bad_json", "The body is a JSON object.");
    return NULL;
  }
  return j;
}

static void respond(struct http_req *r, int status, json_t *body) {
  char extra[384];
  http_cors_headers(r, extra, sizeof extra - 32);
  strcat(extra, "Cache-Control: no-store\r\n");
  api_respond_json(r, status, body, extra);
}

/* The preflight of a cross-origin JSON POST. */
static void on_options(struct http_req *r) {
  char extra[512];
  http_cors_headers(r, extra, sizeof extra - 160);
  strcat(extra, "Access-Control-Allow-Methods: GET, POST\r\n"
                "Access-Control-Allow-Headers: Content-Type\r\nAccess-Control-Max-Age: 600\r\n");
  http_respond(r, 204, NULL, NULL, 0, NULL, true, extra);
}

/* Every PrivyDrop POST route also answers the CORS preflight: NULL after
 * answering it (or a bad body), otherwise the request's JSON body. */
static json_t *preflight_or_body(struct http_req *r) {
  if (r->method == METHOD_OPTIONS) {
    on_options(r);
    return NULL;
  }
  return body_json(r);
}

static uint64_t now_ms(struct http_req *r) {
  return uv_now(r->c->srv->loop);
}

/* The roomId field, or NULL after answering 400. */
static const char *room_id_field(struct http_req *r, json_t *j, size_t *len) {
  json_t *v = json_object_get(j, "roomId");
  if (!json_is_string(v) || !room_id_valid(json_string_value(v), json_string_length(v))) {
    respond(r, 400,
            json_pack("{sbss}", "success", 0, "message",
                      "roomId is required: 1-61 characters of A-Z, a-z, 0-9, _ and -"));
    return NULL;
  }
  *len = json_string_length(v);
  return json_string_value(v);
}

static void on_create_room(struct http_req *r) {
  json_t *j = preflight_or_body(r);
  size_t len;
  const char *id = j ? room_id_field(r, j, &len) : NULL;
  if (id && !redis_room(r, id, len, false)) {
    int rc = room_create(id, len, now_ms(r), r->app->cfg->room_ttl_ms);
    if (rc == -2)
      respond(r, 503, json_pack("{sbss}", "success", 0, "message", "Too many rooms; try later"));
    else
      respond(r, 200,
              json_pack("{sbss}", "success", rc == 0, "message",
                        rc == 0 ? "Room created" : "Room already exists"));
  }
  json_decref(j);
}

static void on_get_room(struct http_req *r) {
  struct redis_wait *w = bus_up() ? redis_wait_new(r, "", 0) : NULL;
  if (w && (w->tries = 8, redis_try_room(w))) {
    api_pending_start(r, &w->pending);
    return;
  }
  free(w);
  char id[9];
  /* 8 base62 characters: 47 bits, so a free one is found at once. */
  for (int tries = 0; tries < 8; tries++) {
    rand_base62(id, 8);
    int rc = room_create(id, 8, now_ms(r), r->app->cfg->room_ttl_ms);
    if (rc == 0) {
      respond(r, 200, json_pack("{ss}", "roomId", id));
      return;
    }
    if (rc == -2)
      break;
  }
  respond(r, 503, json_pack("{sbss}", "success", 0, "message", "Too many rooms; try later"));
}

static void on_check_room(struct http_req *r) {
  json_t *j = preflight_or_body(r);
  size_t len;
  const char *id = j ? room_id_field(r, j, &len) : NULL;
  if (id && !redis_room(r, id, len, true))
    respond(r, 200, json_pack("{sb}", "available", room_get(id, len, now_ms(r)) == NULL));
  json_decref(j);
}

static void respond_left(struct http_req *r, bool left) {
  respond(r, 200,
          json_pack("{sbss}", "success", left, "message",
                    left ? "Left the room" : "No such socket in the room"));
}

static void left_elsewhere(void *ctx, bool told) {
  struct redis_wait *w = ctx;
  struct http_req *r = api_pending_end(&w->pending);
  if (r)
    respond_left(r, told);
  free(w);
}

/* The socket may be on another instance: it is told there. */
static bool leave_through_redis(struct http_req *r, const char *id, size_t len,
                                const char *socket_id) {
  struct redis_wait *w = bus_up() ? redis_wait_new(r, id, len) : NULL;
  if (!w)
    return false;
  api_pending_start(r, &w->pending);
  if (scaleout_leave_remote(id, len, socket_id, left_elsewhere, w))
    return true;
  api_pending_end(&w->pending);
  free(w);
  return false;
}

static void on_leave_room(struct http_req *r) {
  json_t *j = preflight_or_body(r);
  size_t len;
  const char *id = j ? room_id_field(r, j, &len) : NULL;
  if (id) {
    json_t *sock = json_object_get(j, "socketId");
    if (!json_is_string(sock)) {
      respond(r, 400, json_pack("{sbss}", "success", 0, "message", "socketId is required"));
    } else {
      bool left = socketio_leave(id, len, json_string_value(sock), json_string_length(sock)) == 0;
      if (left || !leave_through_redis(r, id, len, json_string_value(sock)))
        respond_left(r, left);
    }
  }
  json_decref(j);
}

/* One more call from this client address (an IPv6 client counts by its
 * /64); true after answering 429 when it is one too many. */
static bool limited(struct http_req *r, ratelimit *rl, const char *message) {
  const struct addr_entry *a = r->c->addr;
  size_t klen = a->key[0] == AF_INET6 ? 1 + 8 : a->key_len;
  uint64_t retry_ms = 0;
  if (ratelimit_hit(rl, a->key, klen, now_ms(r), &retry_ms) != RATELIMIT_LIMITED)
    return false;
  char extra[64];
  snprintf(extra, sizeof extra, "Retry-After: %llu\r\n",
           (unsigned long long)((retry_ms + 999) / 1000));
  api_respond_json(r, 429, json_pack("{sbss}", "success", 0, "message", message), extra);
  return true;
}

/* A visit being counted. */
struct track {
  struct api_pending pending; /* first */
};

static void tracked(void *ctx, int status) {
  struct http_req *r = api_pending_end(ctx);
  free(ctx);
  if (!r)
    return; /* the client went away; the visit counts all the same */
  if (status == STORE_OK)
    respond(r, 200, json_pack("{sb}", "success", 1));
  else
    respond(r, 503, json_pack("{sbss}", "success", 0, "message", "Could not count the visit"));
}

static void count_visit(struct http_req *r, const char *ref) {
  struct track *t = malloc(sizeof *t);
  if (!t) {
    respond(r, 500, json_pack("{sbss}", "success", 0, "message", "Out of memory"));
    return;
  }
  char day[TIME_DAY_LEN + 1];
  time_day(time_now_ms(), day);
  pdr_referrer_visit(day, ref); /* PrivyDrop's key too, with --redis */
  api_pending_start(r, &t->pending);
  store_referrer_visit(app_of(r)->store, day, ref, REFERRERS_PER_DAY, tracked, t);
}

/* A visit from a referrer, counted per UTC day (the server's day: the
 * client's timestamp is not trusted). */
static void on_set_track(struct http_req *r) {
  json_t *j = preflight_or_body(r);
  if (!j)
    return;
  json_t *ref = json_object_get(j, "ref");
  const char *s = json_string_value(ref);
  size_t len = json_string_length(ref);
  bool ok = s && len >= 1 && len <= REF_MAX && strlen(s) == len;
  for (size_t i = 0; ok && i < len; i++)
    ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
  if (!ok) {
    respond(r, 400,
            json_pack("{sbss}", "success", 0, "message",
                      "ref is required: 1-100 bytes without control characters"));
  } else {
    if (!tracks_ready)
      tracks_ready = ratelimit_init(&tracks, TRACKS_PER_MINUTE, 60000) == 0;
    if (!tracks_ready || !limited(r, &tracks, "Too many visits counted"))
      count_visit(r, s); /* the store copies the name: j may go after */
  }
  json_decref(j);
}

/* A client's debug line, logged bounded and with control characters
 * replaced, so it cannot forge log lines. */
static void on_logs_debug(struct http_req *r) {
  json_t *j = preflight_or_body(r);
  if (!j)
    return;
  const char *msg = json_string_value(json_object_get(j, "message"));
  if (!msg) {
    respond(r, 400, json_pack("{sbss}", "success", 0, "message", "message is required"));
    json_decref(j);
    return;
  }
  if (!debug_ready)
    debug_ready = ratelimit_init(&debug_lines, DEBUG_LINES_PER_MINUTE, 60000) == 0;
  if (debug_ready && limited(r, &debug_lines, "Too many log lines")) {
    json_decref(j);
    return;
  }
  const struct addr_entry *a = r->c->addr;
  char line[DEBUG_LINE_MAX + 1];
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)msg; *p && n < DEBUG_LINE_MAX; p++)
    line[n++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
  line[n] = 0;
  struct log_field f[] = {LOG_STR("addr", a->text), LOG_STRN("message", line, n)};
  log_fields(LOG_INFO, "client.debug", f, 2);
  json_decref(j);
  respond(r, 200, json_pack("{sb}", "success", 1));
}

const http_handler privydrop_create_room_handler = {
    .on_body = on_body, .on_complete = on_create_room, .on_abort = on_abort, .max_body = BODY_MAX};
const http_handler privydrop_get_room_handler = {.on_complete = on_get_room, .on_abort = on_abort};
const http_handler privydrop_check_room_handler = {
    .on_body = on_body, .on_complete = on_check_room, .on_abort = on_abort, .max_body = BODY_MAX};
const http_handler privydrop_leave_room_handler = {
    .on_body = on_body, .on_complete = on_leave_room, .on_abort = on_abort, .max_body = BODY_MAX};
const http_handler privydrop_set_track_handler = {
    .on_body = on_body,
    .on_complete = on_set_track,
    .on_abort = api_pending_abort, /* the body (a plain allocation), or the visit being counted */
    .max_body = BODY_MAX};
const http_handler privydrop_logs_debug_handler = {
    .on_body = on_body, .on_complete = on_logs_debug, .on_abort = on_abort, .max_body = BODY_MAX};
