/* Facilitators' chat rooms over REST. Every owner action is authenticated
 * by the session cookie (auth.c), mutations with the Origin check. */
#include "api/chat_api.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/auth.h"
#include "api/chat_ws.h"
#include "api/pwjob.h"
#include "api/rooms_api.h"
#include "hub/hub.h"
#include "http/query.h"
#include "rooms/alias.h"
#include "rooms/lifecycle.h"
#include "rooms/password.h"
#include "rooms/room.h"
#include "rooms/schedule.h"
#include "util/log.h"
#include "util/timefmt.h"

#define CHAT_BODY_MAX 4096
#define ROOM_PASSWORD_MIN 4 /* said aloud in a classroom: short is fine, it is rate limited */
#define CODE_ATTEMPTS 16
#define PAGE_DEFAULT 50
#define PAGE_MAX 500
#define TRANSCRIPT_MAX 100000            /* messages in one export */
#define TRANSCRIPT_BYTES_MAX (32u << 20) /* and bytes: it is built in memory */

static json_t *time_json(int64_t ms) {
  char t[32];
  time_iso8601(ms, t, sizeof t);
  return json_string(t);
}

json_t *chat_room_json(struct http_req *r, const struct room_row *room) {
  struct hub_room *live = hub_find_room(room->id, STORE_ID_LEN);
  json_t *j = api_room_json(r, room, live ? (int)live->count : 0);
  if (!j)
    return NULL;
  json_object_del(j, "expires_at");
  enum room_state st = schedule_state(room->opens_at, room->closes_at, time_now_ms());
  json_object_set_new(j, "kind", json_string("chat"));
  json_object_set_new(j, "opens_at", time_json(room->opens_at));
  json_object_set_new(j, "closes_at", time_json(room->closes_at));
  json_object_set_new(j, "state", json_string(schedule_state_name(st)));
  json_object_set_new(j, "has_password", json_boolean(room->password_hash != NULL));
  return j;
}

json_t *chat_message_json(const struct message_row *m) {
  return json_pack("{s:I, s:s, s:s%, s:o}", "id", (json_int_t)m->id, "alias",
                   m->alias ? m->alias : "", "text", m->text ? m->text : "", m->text_len,
                   "created_at", time_json(m->created_at));
}

static void unlock_mac(const uint8_t key[32], const struct room_row *room, uint8_t mac[32]) {
  crypto_auth_hmacsha256_state st;
  const char *pw = room->password_hash ? room->password_hash : "";
  crypto_auth_hmacsha256_init(&st, key, 32);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)room->id, STORE_ID_LEN);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)pw, strlen(pw) + 1);
  crypto_auth_hmacsha256_final(&st, mac);
}

void chat_unlock_token(const uint8_t key[32], const struct room_row *room,
                       char out[CHAT_UNLOCK_TOKEN_LEN + 1]) {
  uint8_t mac[32];
  unlock_mac(key, room, mac);
  sodium_bin2hex(out, CHAT_UNLOCK_TOKEN_LEN + 1, mac, sizeof mac);
}

bool chat_unlock_valid(const uint8_t key[32], const struct room_row *room, const char *token,
                       size_t len) {
  char want[CHAT_UNLOCK_TOKEN_LEN + 1];
  if (len != CHAT_UNLOCK_TOKEN_LEN)
    return false;
  chat_unlock_token(key, room, want);
  return sodium_memcmp(want, token, CHAT_UNLOCK_TOKEN_LEN) == 0;
}

/* A time field: an ISO 8601 UTC string or unix milliseconds. */
static int read_time(json_t *v, int64_t *ms) {
  if (json_is_integer(v)) {
    *ms = json_integer_value(v);
    return 0;
  }
  if (json_is_string(v))
    return schedule_parse_time(json_string_value(v), json_string_length(v), ms);
  return -1;
}

/* What a body does to the room's password. */
enum pw_field { PW_KEEP, PW_REMOVE, PW_SET };

/* The password field: absent keeps it, null removes it, a string sets it
 * (hashed later, off the loop). Returns the effect, or -1 with a 400 sent. */
static int read_room_password(struct http_req *r, json_t *v) {
  if (!v)
    return PW_KEEP;
  if (json_is_null(v))
    return PW_REMOVE;
  size_t len = json_string_length(v);
  if (!json_is_string(v) || len < ROOM_PASSWORD_MIN || len > PASSWORD_MAX_BYTES) {
    http_respond_error(r, 400, "bad_password", "A room password is 4 to 1024 bytes, or null.");
    return -1;
  }
  return PW_SET;
}

static int read_title(struct http_req *r, json_t *v, const char **title) {
  if (!v)
    return 0;
  size_t len = json_string_length(v);
  if (!json_is_string(v) || len == 0 || len > ROOM_TITLE_MAX) {
    http_respond_error(r, 400, "bad_title", "A chat room's title is 1 to 200 bytes.");
    return -1;
  }
  *title = json_string_value(v);
  return 0;
}

/* Reads title and schedule over `room`, and what happens to the password:
 * a pw_field, or -1 with a 400 sent. */
static int read_room_fields(struct http_req *r, json_t *in, struct room_row *room) {
  json_t *o = json_object_get(in, "opens_at"), *c = json_object_get(in, "closes_at");
  if ((o && read_time(o, &room->opens_at) < 0) || (c && read_time(c, &room->closes_at) < 0)) {
    http_respond_error(r, 400, "bad_time",
                       "opens_at and closes_at are UTC times (2026-11-24T18:00:00Z) or unix ms.");
    return -1;
  }
  if (schedule_check(room->opens_at, room->closes_at) < 0) {
    http_respond_error(r, 400, "bad_schedule",
                       "A room closes after it opens, and is open for at most a year.");
    return -1;
  }
  if (read_title(r, json_object_get(in, "title"), &room->title) < 0)
    return -1;
  return read_room_password(r, json_object_get(in, "password"));
}

/* A chat room being created or changed, while the store answers: first
 * whether another of the owner's rooms has the title (an owner has few
 * rooms; the unique index backs this), then the write. */
struct room_change {
  struct api_pending pending; /* first */
  struct app *app;
  struct room_row *room; /* what is written (room_row_dup) */
  bool create;           /* an insert; else an update */
  bool rotate;           /* each write draws a new code */
  bool taken;            /* the title is another room's */
  int attempts;          /* writes that met a taken code */
};

static void change_free(struct room_change *st) {
  free(st->room);
  free(st);
}

/* The room was written: what follows whether or not the client stayed. */
static void change_done(struct room_change *st) {
  if (st->create) {
    struct log_field f[] = {LOG_STR("room", st->room->id), LOG_NUM("account", st->room->owner_id)};
    log_fields(LOG_INFO, "room.created", f, 2);
  } else {
    chat_ws_rescheduled(st->app, st->room->id, st->room->closes_at);
  }
}

static void change_respond(struct http_req *r, struct room_change *st) {
  char headers[96] = "Cache-Control: no-store\r\n";
  if (st->create)
    snprintf(headers, sizeof headers, "Location: /api/rooms/%s\r\nCache-Control: no-store\r\n",
             st->room->id);
  api_respond_json(r, st->create ? 201 : 200, chat_room_json(r, st->room), headers);
}

static void change_write(struct http_req *r, struct room_change *st);

static void change_written(void *ctx, int status) {
  struct room_change *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  bool retry =
      status == STORE_CONFLICT && (st->create || st->rotate) && ++st->attempts < CODE_ATTEMPTS;
  if (r && retry) {
    change_write(r, st);
    return;
  }
  if (status == STORE_OK)
    change_done(st);
  if (!r) {
  } else if (status == STORE_CONFLICT && st->create) {
    /* Sixteen taken codes are all but impossible: another request took
     * the title since the probe. */
    http_respond_error(r, 409, "title_taken", "You already have a room with this title.");
  } else if (status == STORE_CONFLICT) {
    http_respond_error(r, 409, "update_failed", "Could not change the room; try again.");
  } else if (status == STORE_NOT_FOUND) {
    http_respond_error(r, 404, "room_not_found", "There is no such room.");
  } else if (status < 0) {
    api_respond_store_error(r, status);
  } else {
    change_respond(r, st);
  }
  change_free(st);
}

/* A new code is drawn for an insert and for a rotation. */
static void change_write(struct http_req *r, struct room_change *st) {
  struct store *store = st->app->store;
  if (st->create || st->rotate)
    room_new_code(st->room->code);
  api_pending_start(r, &st->pending);
  if (st->create)
    store_room_insert(store, st->room, change_written, st);
  else
    store_room_update(store, st->room, change_written, st);
}

static void probe_title(void *ctx, int status, const struct room_row *room) {
  struct room_change *st = ctx;
  if (room) {
    if (room->title && strcmp(room->title, st->room->title) == 0 &&
        strcmp(room->id, st->room->id) != 0)
      st->taken = true;
    return;
  }
  struct http_req *r = api_pending_end(&st->pending);
  if (r && status == STORE_OK && !st->taken) {
    change_write(r, st);
    return;
  }
  if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    http_respond_error(r, 409, "title_taken", "You already have a room with this title.");
  change_free(st);
}

/* Writes `room` (copied) after the title probe, and answers with it. */
static void change_start(struct http_req *r, const struct room_row *room, bool create,
                         bool rotate) {
  struct room_change *st = calloc(1, sizeof *st);
  if (!st || !(st->room = room_row_dup(room))) {
    free(st);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  st->app = app_of(r);
  st->create = create;
  st->rotate = rotate;
  if (!room->title) {
    change_write(r, st);
    return;
  }
  api_pending_start(r, &st->pending);
  store_rooms_of_owner(st->app->store, room->owner_id, probe_title, st);
}

/* Hashes the body's password on the thread pool, then calls `done`,
 * which runs the route again with the hash (job->hash), the owner
 * (job->id) and the room (job->room_id). */
static void hash_then(struct http_req *r, json_t *in, const char *room_id, int64_t owner_id,
                      pw_job_done done) {
  json_t *pw = json_object_get(in, "password");
  struct pw_job *job = pw_job_new(json_string_value(pw), json_string_length(pw), done);
  if (!job) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  job->body = json_incref(in);
  job->id = owner_id;
  if (room_id)
    memcpy(job->room_id, room_id, STORE_ID_LEN + 1);
  pw_job_start(r, job);
}

static void create_hashed(struct http_req *r, struct pw_job *job);

/* Creates the owner's room; `hash` is the password's once hashed (NULL
 * before). */
static void create_with(struct http_req *r, json_t *in, int64_t owner_id, const char *hash) {
  struct room_row room = {.owner_id = owner_id, .created_at = time_now_ms(), .kind = "chat"};
  if (!json_object_get(in, "title") || !json_object_get(in, "opens_at") ||
      !json_object_get(in, "closes_at")) {
    http_respond_error(r, 400, "bad_request", "A chat room needs title, opens_at and closes_at.");
    return;
  }
  int pw = read_room_fields(r, in, &room);
  if (pw < 0)
    return;
  if (pw == PW_SET && !hash) {
    hash_then(r, in, NULL, owner_id, create_hashed);
    return;
  }
  /* The owner acts by cookie; the owner token is drawn only because every
   * room row has one, and is never handed out. */
  char token[ROOM_TOKEN_LEN + 1];
  room_new_id(room.id);
  room_new_owner_token(token, room.owner_token_hash);
  room.password_hash = pw == PW_SET ? hash : NULL;
  room.expires_at = room.closes_at;
  change_start(r, &room, true, false);
}

static void create_hashed(struct http_req *r, struct pw_job *job) {
  if (!job->ok)
    http_respond_error(r, 500, "internal", "Could not hash the password.");
  else
    create_with(r, job->body, job->id, job->hash);
}

static void create_signed_in(struct http_req *r, const struct api_account *me, void *in) {
  create_with(r, in, me->id, NULL);
  json_decref(in);
}

static void release_json(void *in) {
  json_decref(in);
}

void chat_create(struct http_req *r, json_t *in) {
  auth_require(r, create_signed_in, json_incref(in), release_json);
}

/* What an owner's action goes on with once the cookie proved the owner:
 * the room and the body (NULL when none), both valid during the call. */
typedef void (*owner_cb)(struct http_req *r, const struct room_row *room, json_t *in);

struct owner_wait {
  owner_cb next;
  struct room_row *room; /* room_row_dup */
  json_t *in;
};

static void owner_wait_free(void *ctx) {
  struct owner_wait *w = ctx;
  free(w->room);
  json_decref(w->in);
  free(w);
}

static void owner_signed_in(struct http_req *r, const struct api_account *me, void *ctx) {
  struct owner_wait *w = ctx;
  if (me->id != w->room->owner_id)
    http_respond_error(r, 403, "not_owner", "Only the room's owner may do this.");
  else
    w->next(r, w->room, w->in);
  owner_wait_free(w);
}

/* The owner of an owned room, by cookie, goes on with `next`; answers
 * 404/401/403 itself. */
static void owner_only(struct http_req *r, const struct room_row *room, json_t *in, owner_cb next) {
  if (!room->owner_id) {
    http_respond_error(r, 404, "not_a_chat_room", "This is not a facilitator's chat room.");
    return;
  }
  struct owner_wait *w = calloc(1, sizeof *w);
  if (!w || !(w->room = room_row_dup(room))) {
    free(w);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  w->next = next;
  w->in = json_incref(in);
  auth_require(r, owner_signed_in, w, owner_wait_free);
}

static void delete_owned(struct http_req *r, const struct room_row *room, json_t *in) {
  (void)in;
  rooms_delete(r, room, room->owner_id);
}

void chat_delete(struct http_req *r, const struct room_row *room) {
  owner_only(r, room, NULL, delete_owned);
}

/* A route with a JSON body and a :room. The body is parsed before the
 * room is looked up and waits with the lookup; `found` gets both, valid
 * during the call (in is NULL when absent or not an object). */
typedef void (*body_room_cb)(struct http_req *r, const struct room_row *room, json_t *in);

struct body_lookup {
  struct api_pending pending; /* first */
  body_room_cb found;
  json_t *in;
};

static void body_room_found(void *ctx, int status, const struct room_row *room) {
  struct body_lookup *l = ctx;
  struct http_req *r = api_pending_end(&l->pending);
  if (!r) {
  } else if (status == STORE_NOT_FOUND) {
    http_respond_error(r, 404, "room_not_found", "There is no such room.");
  } else if (status < 0) {
    api_respond_store_error(r, status);
  } else if (room_expired(room, time_now_ms())) {
    http_respond_error(r, 410, "room_expired", "This room has expired.");
  } else {
    l->found(r, room, l->in);
  }
  json_decref(l->in);
  free(l);
}

static void with_room_and_body(struct http_req *r, body_room_cb found) {
  json_t *in = api_body_json(r);
  size_t len;
  const char *key = route_param(&r->match, "room", &len);
  struct body_lookup *l = NULL;
  if (!key || !(room_key_is_id(key, len) || room_key_is_code(key, len))) {
    http_respond_error(r, 404, "room_not_found", "There is no such room.");
  } else if (room_key_is_code(key, len) &&
             api_addr_rate_limited(r, &app_of(r)->code_lookups,
                                   "Too many code lookups from this address; try again later.")) {
  } else if (!(l = malloc(sizeof *l))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
  } else {
    *l = (struct body_lookup){{NULL}, found, in};
    api_pending_start(r, &l->pending);
    store_room_get(app_of(r)->store, key, len, body_room_found, l);
    return;
  }
  json_decref(in);
}

static void patch_hashed(struct http_req *r, struct pw_job *job);

/* PATCH: {title?, opens_at?, closes_at?, password? (null removes),
 * rotate_code?: true} by the owner; `hash` as for create_with. */
static void patch_with(struct http_req *r, const struct room_row *found, json_t *in,
                       const char *hash) {
  if (!in) {
    http_respond_error(r, 400, "bad_request", "The body is a JSON object of the fields to change.");
    return;
  }
  struct room_row room = *found;
  int pw = read_room_fields(r, in, &room);
  if (pw < 0)
    return;
  if (pw == PW_SET && !hash) {
    hash_then(r, in, room.id, room.owner_id, patch_hashed);
    return;
  }
  if (pw != PW_KEEP)
    room.password_hash = pw == PW_SET ? hash : NULL;
  room.expires_at = room.closes_at;
  change_start(r, &room, false, json_is_true(json_object_get(in, "rotate_code")));
}

/* The room is read again once the password is hashed (it may have
 * changed meanwhile). */
struct patch_reread {
  struct api_pending pending; /* first */
  int64_t owner_id;
  json_t *in;
  char hash[PASSWORD_HASH_MAX];
};

static void patch_refound(void *ctx, int status, const struct room_row *room) {
  struct patch_reread *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  if (!r) {
  } else if (status == STORE_NOT_FOUND) {
    http_respond_error(r, 404, "room_not_found", "There is no such room.");
  } else if (status < 0) {
    api_respond_store_error(r, status);
  } else if (room->owner_id != st->owner_id) {
    http_respond_error(r, 403, "not_owner", "Only the room's owner may do this.");
  } else {
    patch_with(r, room, st->in, st->hash);
  }
  json_decref(st->in);
  sodium_memzero(st->hash, sizeof st->hash);
  free(st);
}

static void patch_hashed(struct http_req *r, struct pw_job *job) {
  if (!job->ok) {
    http_respond_error(r, 500, "internal", "Could not hash the password.");
    return;
  }
  struct patch_reread *st = calloc(1, sizeof *st);
  if (!st) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  st->owner_id = job->id;
  st->in = json_incref(job->body);
  memcpy(st->hash, job->hash, sizeof st->hash);
  api_pending_start(r, &st->pending);
  store_room_get(app_of(r)->store, job->room_id, STORE_ID_LEN, patch_refound, st);
}

static void patch_owned(struct http_req *r, const struct room_row *room, json_t *in) {
  patch_with(r, room, in, NULL);
}

static void patch_room(struct http_req *r, const struct room_row *room, json_t *in) {
  owner_only(r, room, in, patch_owned);
}

static void patch(struct http_req *r) {
  with_room_and_body(r, patch_room);
}

/* The room password was checked (off the loop): the token, or 403. */
static void unlock_checked(struct http_req *r, struct pw_job *job) {
  if (!job->ok) {
    http_respond_error(r, 403, "wrong_password", "That is not the room's password.");
    return;
  }
  struct room_row room = {.password_hash = job->hash};
  memcpy(room.id, job->room_id, sizeof room.id);
  char token[CHAT_UNLOCK_TOKEN_LEN + 1];
  chat_unlock_token(app_of(r)->unlock_key, &room, token);
  api_respond_json(r, 200, json_pack("{s:s}", "token", token), "Cache-Control: no-store\r\n");
}

static void unlock_room(struct http_req *r, const struct room_row *room, json_t *in) {
  json_t *pw = in ? json_object_get(in, "password") : NULL;
  struct app *app = app_of(r);
  size_t klen;
  const uint8_t *k = api_addr_key(r, &klen);
  struct pw_job *job = NULL;
  if (!room->owner_id || !room->password_hash) {
    http_respond_error(r, 404, "no_password", "This room has no password.");
  } else if (!json_is_string(pw) || json_string_length(pw) > PASSWORD_MAX_BYTES) {
    http_respond_error(r, 400, "bad_request", "The body is {\"password\": ...}.");
  } else if (!(job = pw_job_new(json_string_value(pw), json_string_length(pw), unlock_checked))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
  } else {
    job->verify = true;
    snprintf(job->hash, sizeof job->hash, "%s", room->password_hash);
    memcpy(job->room_id, room->id, sizeof job->room_id);
    struct api_limit limit = {&app->unlock_addr, "unlock", k, klen,
                              "Too many password attempts; try again later."};
    api_limit_gate(r, &limit, 1, pw_job_pass, pw_job_drop, job);
  }
}

static void unlock(struct http_req *r) {
  with_room_and_body(r, unlock_room);
}

/* An integer query parameter: 0 when absent (v untouched), -1 when bad. */
static int query_int(struct http_req *r, const char *name, int64_t min, int64_t max, int64_t *v) {
  char s[24];
  int n = query_param(r->query, r->query_len, name, s, sizeof s);
  if (n == -1)
    return 0;
  char *end;
  long long x = n > 0 ? strtoll(s, &end, 10) : 0;
  if (n <= 0 || *end || x < min || x > max)
    return -1;
  *v = x;
  return 0;
}

/* A page of the history, gathered as the store hands it over. */
struct message_page {
  struct api_pending pending; /* first */
  json_t *list;
};

static void prepend_message(void *ctx, int status, const struct message_row *m) {
  struct message_page *p = ctx;
  if (m) {
    json_t *j = chat_message_json(m);
    if (j)
      json_array_insert_new(p->list, 0, j); /* newest first from the store; oldest first out */
    return;
  }
  struct http_req *r = api_pending_end(&p->pending);
  if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    api_respond_json(r, 200, json_pack("{s:O}", "messages", p->list),
                     "Cache-Control: no-store\r\n");
  json_decref(p->list);
  free(p);
}

static void list_messages(struct http_req *r, const struct room_row *room) {
  int64_t before = INT64_MAX, limit = PAGE_DEFAULT;
  if (query_int(r, "before", 1, INT64_MAX, &before) < 0 ||
      query_int(r, "limit", 1, PAGE_MAX, &limit) < 0) {
    http_respond_error(r, 400, "bad_query", "before is a message id; limit is 1 to 500.");
    return;
  }
  struct message_page *p = calloc(1, sizeof *p);
  if (!p || !(p->list = json_array())) {
    free(p);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  api_pending_start(r, &p->pending);
  store_messages_before(app_of(r)->store, room->id, before, (int)limit, prepend_message, p);
}

/* The owner, or while the room is open anyone who may join it (the
 * unlock token as ?token= for a password room); others get 403. */
static void read_signed_in(struct http_req *r, const struct api_account *me, void *ctx) {
  struct room_row *room = ctx;
  char token[CHAT_UNLOCK_TOKEN_LEN + 2];
  int tlen = query_param(r->query, r->query_len, "token", token, sizeof token);
  if (me && me->id == room->owner_id)
    list_messages(r, room);
  else if (schedule_state(room->opens_at, room->closes_at, time_now_ms()) != ROOM_OPEN)
    http_respond_error(r, 403, "room_not_open",
                       "The history is for the owner outside opening hours.");
  else if (room->password_hash &&
           (tlen < 0 || !chat_unlock_valid(app_of(r)->unlock_key, room, token, (size_t)tlen)))
    http_respond_error(r, 403, "locked", "This room has a password: unlock it first.");
  else
    list_messages(r, room);
  free(room);
}

static void read_history(struct http_req *r, const struct room_row *room) {
  struct room_row *copy = NULL;
  if (!room->owner_id)
    http_respond_error(r, 404, "not_a_chat_room", "This is not a facilitator's chat room.");
  else if (!(copy = room_row_dup(room)))
    http_respond_error(r, 500, "internal", "Out of memory.");
  else
    auth_session(r, read_signed_in, copy, free);
}

static void get_messages(struct http_req *r) {
  api_with_room(r, read_history);
}

/* A message being deleted. */
struct message_delete {
  struct api_pending pending; /* first */
  char room_id[STORE_ID_LEN + 1];
  int64_t id;
};

static void message_deleted(void *ctx, int status) {
  struct message_delete *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  if (status == STORE_OK)
    chat_ws_message_deleted(st->room_id, st->id); /* the members see it whoever asked */
  if (!r) {
  } else if (status == STORE_NOT_FOUND) {
    http_respond_error(r, 404, "message_not_found", "There is no such message in this room.");
  } else if (status < 0) {
    api_respond_store_error(r, status);
  } else {
    http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
  }
  free(st);
}

/* The :id of the route: a message id, or 0 when it is not one. */
static int64_t message_id(struct http_req *r) {
  size_t len;
  const char *idp = route_param(&r->match, "id", &len);
  char s[24];
  char *end;
  long long id = 0;
  if (idp && len > 0 && len < sizeof s) {
    memcpy(s, idp, len);
    s[len] = 0;
    id = strtoll(s, &end, 10);
    if (*end)
      id = 0;
  }
  return id > 0 ? id : 0;
}

static void delete_owned_message(struct http_req *r, const struct room_row *room, json_t *in) {
  (void)in;
  int64_t id = message_id(r);
  if (!id) {
    http_respond_error(r, 404, "message_not_found", "There is no such message in this room.");
    return;
  }
  struct message_delete *st = calloc(1, sizeof *st);
  if (!st) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  memcpy(st->room_id, room->id, sizeof st->room_id);
  st->id = id;
  api_pending_start(r, &st->pending);
  store_message_delete(app_of(r)->store, st->room_id, id, message_deleted, st);
}

static void delete_message(struct http_req *r, const struct room_row *room) {
  owner_only(r, room, NULL, delete_owned_message);
}

static void delete_msg(struct http_req *r) {
  api_with_room(r, delete_message);
}

/* A removal waiting for the member's ban to be stored. */
struct removing {
  struct api_pending pending; /* first: api_pending_abort finds it */
};

static void member_removed(void *ctx, int rc) {
  struct removing *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  free(st);
  if (!r)
    return;
  if (rc == 0)
    http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
  else if (rc == STORE_NOT_FOUND)
    http_respond_error(r, 404, "alias_not_found", "Nobody with this alias is in the room.");
  else
    api_respond_store_error(r, rc);
}

static void remove_owned(struct http_req *r, const struct room_row *room, json_t *in) {
  json_t *alias = in ? json_object_get(in, "alias") : NULL;
  if (!json_is_string(alias) || json_string_length(alias) > ALIAS_MAX) {
    http_respond_error(r, 400, "bad_request", "The body is {\"alias\": ...}.");
    return;
  }
  struct removing *st = calloc(1, sizeof *st);
  if (!st) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  api_pending_start(r, &st->pending);
  chat_ws_remove(app_of(r), room->id, json_string_value(alias), member_removed, st);
}

static void remove_member(struct http_req *r, const struct room_row *room, json_t *in) {
  owner_only(r, room, in, remove_owned);
}

static void remove_post(struct http_req *r) {
  with_room_and_body(r, remove_member);
}

/* A growable text (the transcript). */
struct out {
  char *p;
  size_t len, cap;
  bool failed;
};

static void out_add(struct out *o, const char *s, size_t n) {
  if (o->failed)
    return;
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + n)
      cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
      o->failed = true;
      return;
    }
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void out_str(struct out *o, const char *s) {
  out_add(o, s, strlen(s));
}

/* Markdown that renders as the text itself: every ASCII punctuation
 * character is backslash-escaped (CommonMark allows it for all of them),
 * so no heading, link, image, emphasis or HTML can come out of a message;
 * a line break becomes a hard break that stays inside the list item. */
static void md_escape(struct out *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\r')
      continue;
    if (c == '\n') {
      out_str(o, "\\\n  ");
    } else if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
               (c >= '{' && c <= '~')) {
      char e[2] = {'\\', c};
      out_add(o, e, 2);
    } else {
      out_add(o, &c, 1);
    }
  }
}

/* RFC 4180: a field is quoted, its quotes doubled. A field that a
 * spreadsheet would take for a formula (=, +, -, @, tab, CR first) gets a
 * leading apostrophe, so opening the export runs nothing. */
static void csv_field(struct out *o, const char *s, size_t n) {
  out_str(o, "\"");
  if (n &&
      (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
    out_str(o, "'");
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"')
      out_str(o, "\"\"");
    else
      out_add(o, &s[i], 1);
  }
  out_str(o, "\"");
}

/* A transcript being built as the store hands the messages over. */
struct transcript {
  struct api_pending pending; /* first */
  struct out o;
  bool csv;
  bool truncated; /* over TRANSCRIPT_BYTES_MAX: the rest is left out */
  int64_t last_id;
  char room_id[STORE_ID_LEN + 1];
};

static void transcript_add(struct transcript *t, const struct message_row *m) {
  if (t->o.len > TRANSCRIPT_BYTES_MAX) {
    t->truncated = true;
    return;
  }
  t->last_id = m->id;
  char when[32], id[24];
  time_iso8601(m->created_at, when, sizeof when);
  const char *alias = m->alias ? m->alias : "";
  if (t->csv) {
    snprintf(id, sizeof id, "%lld,", (long long)m->id);
    out_str(&t->o, id);
    out_str(&t->o, when);
    out_str(&t->o, ",");
    csv_field(&t->o, alias, strlen(alias));
    out_str(&t->o, ",");
    csv_field(&t->o, m->text ? m->text : "", m->text_len);
    out_str(&t->o, "\r\n");
  } else {
    out_str(&t->o, "- ");
    out_str(&t->o, when);
    out_str(&t->o, " **");
    md_escape(&t->o, alias, strlen(alias));
    out_str(&t->o, "**: ");
    md_escape(&t->o, m->text ? m->text : "", m->text_len);
    out_str(&t->o, "\n");
  }
}

static void transcript_respond(struct http_req *r, const struct transcript *t) {
  char headers[256], more[64] = "";
  if (t->truncated)
    snprintf(more, sizeof more, "X-Transcript-Truncated-After: %lld\r\n", (long long)t->last_id);
  snprintf(headers, sizeof headers,
           "Content-Disposition: attachment; filename=\"transcript-%s.%s\"\r\n"
           "Cache-Control: no-store\r\n%s",
           t->room_id, t->csv ? "csv" : "md", more);
  http_respond(r, 200, t->csv ? "text/csv; charset=utf-8" : "text/markdown; charset=utf-8", t->o.p,
               t->o.len, NULL, false, headers);
}

static void transcript_line(void *ctx, int status, const struct message_row *m) {
  struct transcript *t = ctx;
  if (m) {
    if (t->pending.r) /* nobody to send it to otherwise */
      transcript_add(t, m);
    return;
  }
  struct http_req *r = api_pending_end(&t->pending);
  if (r && (status < 0 || t->o.failed))
    http_respond_error(r, t->o.failed ? 500 : 503, "transcript_failed",
                       "Could not make the transcript.");
  else if (r)
    transcript_respond(r, t);
  free(t->o.p);
  free(t);
}

static void export_owned(struct http_req *r, const struct room_row *room, json_t *in) {
  (void)in;
  char format[8] = "md";
  int n = query_param(r->query, r->query_len, "format", format, sizeof format);
  bool csv = n > 0 && strcmp(format, "csv") == 0;
  if (n != -1 && !csv && strcmp(format, "md") != 0) {
    http_respond_error(r, 400, "bad_query", "format is md or csv.");
    return;
  }
  struct transcript *t = calloc(1, sizeof *t);
  if (!t) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  t->csv = csv;
  memcpy(t->room_id, room->id, sizeof t->room_id);
  if (csv) {
    out_str(&t->o, "id,created_at,alias,text\r\n");
  } else {
    out_str(&t->o, "# ");
    md_escape(&t->o, room->title ? room->title : "", room->title ? strlen(room->title) : 0);
    out_str(&t->o, "\n\n");
  }
  api_pending_start(r, &t->pending);
  store_messages_after(app_of(r)->store, t->room_id, 0, TRANSCRIPT_MAX, transcript_line, t);
}

static void export_transcript(struct http_req *r, const struct room_row *room) {
  owner_only(r, room, NULL, export_owned);
}

static void transcript(struct http_req *r) {
  api_with_room(r, export_transcript);
}

const http_handler chat_patch_handler = {
    .on_body = api_body_collect,
    .on_complete = patch,
    .on_abort = pw_job_abort,
    .max_body = CHAT_BODY_MAX,
};
const http_handler chat_unlock_handler = {
    .on_body = api_body_collect,
    .on_complete = unlock,
    .on_abort = pw_job_abort,
    .max_body = CHAT_BODY_MAX,
};
const http_handler chat_messages_handler = {.on_complete = get_messages,
                                            .on_abort = api_pending_abort};
const http_handler chat_delete_msg_handler = {.on_complete = delete_msg,
                                              .on_abort = api_pending_abort};
const http_handler chat_remove_handler = {
    .on_body = api_body_collect,
    .on_complete = remove_post,
    .on_abort = api_pending_abort,
    .max_body = CHAT_BODY_MAX,
};
const http_handler chat_transcript_handler = {.on_complete = transcript,
                                              .on_abort = api_pending_abort};
