/* The application: what the routes share. */
#ifndef TANDEM_APP_H
#define TANDEM_APP_H

#include <jansson.h>
#include <uv.h>

#include "http/http.h"
#include "rooms/doc.h"
#include "store/store.h"
#include "util/ratelimit.h"

struct app {
  struct http_app http;
  const struct config *cfg;
  struct store *store;
  uv_loop_t *loop;
  uv_timer_t sweeper;      /* deletes expired rooms */
  ratelimit code_lookups;  /* per client address */
  ratelimit autocompletes; /* per client address */
  ratelimit login_addr;    /* sign-in attempts per client address */
  ratelimit login_email;   /* sign-in attempts per account (hash of the email) */
  ratelimit unlock_addr;   /* room password attempts per client address */
  /* A hash of a random password: a sign-in for an unknown email verifies
   * against it, so the answer takes as long as for a wrong password. */
  char dummy_hash[128];
  uint8_t unlock_key[32]; /* signs room unlock tokens; <data-dir>/unlock.key */
  struct docs docs;       /* the live documents of code rooms */
  char blob_dir[4096];    /* <data-dir>/blobs */
};

/* The route table of tandem. */
extern const struct route app_routes[];
extern const size_t app_route_count;

/* Sets up what the routes need (after the store is open); 0 or -1. */
int app_init(struct app *app, uv_loop_t *loop, const struct config *cfg, struct store *store,
             char *err, size_t errlen);
/* Stops the app's timers (before the loop's last run). */
void app_stop(struct app *app);
void app_free(struct app *app);

static inline struct app *app_of(struct http_req *r) {
  return r->app->ctx;
}

/* Sends a JSON body (takes the reference to `body`). */
void api_respond_json(struct http_req *r, int status, json_t *body, const char *extra_headers);

/* Looks the `:room` parameter up (id or code, codes rate limited per
 * address) and calls `found` with a live room (the row is valid during the
 * call only); answers 404/410/429/503 itself. The store may answer later:
 * the handler's on_abort must then tell the lookup (api_pending_abort and
 * api_body_abort do; any other on_abort calls api_room_abort). The lookup
 * leaves handler_state to the route. An answer given before the request's
 * body is whole closes the connection after it. */
typedef void (*api_room_cb)(struct http_req *r, const struct room_row *room);
void api_with_room(struct http_req *r, api_room_cb found);
/* The same for routes of drop rooms only: a chat room is 404 not_a_drop_room. */
void api_with_drop_room(struct http_req *r, api_room_cb found);
/* api_with_drop_room for a route that holds state before the room is known
 * (it looks up from on_headers): `refused` runs after the lookup answered
 * the request itself, to release that state. */
void api_with_drop_room_or(struct http_req *r, api_room_cb found,
                           void (*refused)(struct http_req *r));
/* Tells a room lookup in flight for r that r went away (from on_abort). */
void api_room_abort(struct http_req *r);

/* The client's address as a rate-limit key (an IPv6 client by its /64). */
const uint8_t *api_addr_key(struct http_req *r, size_t *len);

/* Counts an attempt against a limiter; when over the limit answers 429 with
 * Retry-After and `message`, and returns true. */
bool api_rate_limited(struct http_req *r, ratelimit *rl, const void *key, size_t klen,
                      const char *message);
/* The same, keyed by the client's address (IPv6: its /64). */
bool api_addr_rate_limited(struct http_req *r, ratelimit *rl, const char *message);

/* 429 rate_limited with Retry-After (rounded up to whole seconds). */
void api_respond_limited(struct http_req *r, uint64_t retry_ms, const char *message);

/* Limits every instance of a deployment shares: with --redis the window of
 * (name, key) lives in Redis (bus_rate_hit), so a client spreading its
 * attempts over instances behind a load balancer gets no more; alone, or
 * while Redis is away, this instance's limiter decides at once. then(ctx,
 * retry_ms) runs once: 0 allowed, else refused for that long. */
typedef void (*api_limit_fn)(void *ctx, uint64_t retry_ms);
void api_limit_hit(struct app *app, ratelimit *rl, const char *name, const void *key, size_t klen,
                   api_limit_fn then, void *ctx);

/* A request passing limits in order: pass(r, arg) when it is within all,
 * else 429 with the message of the one it is over and drop(arg); drop(arg)
 * too when the request goes away meanwhile. The request waits through
 * api_pending: its handler_state must be free and its on_abort must be
 * api_pending_abort. Keys are copied (at most RATELIMIT_KEY_MAX bytes). */
struct api_limit {
  ratelimit *rl;
  const char *name; /* the limiter's name in Redis */
  const void *key;
  size_t klen;
  const char *message;
};
typedef void (*api_gate_fn)(struct http_req *r, void *arg);
void api_limit_gate(struct http_req *r, const struct api_limit *limits, size_t count,
                    api_gate_fn pass, void (*drop)(void *arg), void *arg);

/* JSON request bodies: on_body collects (bounded by the handler's
 * max_body), api_body_json parses and releases them (NULL when absent or
 * not a JSON object), api_body_abort releases them. */
void api_body_collect(struct http_req *r, const uint8_t *data, size_t len);
json_t *api_body_json(struct http_req *r);
void api_body_abort(struct http_req *r);

/* Waiting for the store (or the thread pool) on behalf of a request.
 *
 * The client may go away before the answer comes; the request is freed
 * then. A route that waits keeps its state in a struct whose first member
 * is a `struct api_pending`, marks the request with api_pending_start, and
 * has api_pending_abort as (or called from) its on_abort. The answer's
 * callback calls api_pending_end first: NULL means the request went away,
 * and the callback only frees its state. */
struct api_pending {
  struct http_req *r; /* NULL once the request went away */
};
void api_pending_start(struct http_req *r, struct api_pending *p);
/* The request still waiting on p, or NULL; the wait is over either way. */
struct http_req *api_pending_end(struct api_pending *p);
/* on_abort: a JSON body still being collected is released; a request that
 * waits is forgotten by its pending state (which its callback frees) and
 * by a room lookup in flight. */
void api_pending_abort(struct http_req *r);
/* Answers a failed store call: 503 storage_unavailable when the database
 * cannot be reached (STORE_UNAVAILABLE), 500 otherwise. */
void api_respond_store_error(struct http_req *r, int status);

/* True when the request carries the room's owner token
 * (Authorization: Bearer). */
bool api_owner_authorised(struct http_req *r, const struct room_row *room);
/* 401 unauthorized with WWW-Authenticate: Bearer. */
void api_respond_unauthorised(struct http_req *r);

/* The public JSON of a room / an item. */
json_t *api_room_json(struct http_req *r, const struct room_row *room, int members_online);
json_t *api_item_json(const struct item_row *item);

/* The base of room links: --public-url, or "http://host" from the request
 * (Host, and X-Forwarded-Proto when https). */
void api_origin(struct http_req *r, char *out, size_t outlen);

#endif
