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

static void done_status(void *ctx, int status) {
  *(int *)ctx = status;
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

struct title_probe {
  const char *title;
  const char *except_id;
  int taken;
  int status;
};

static void probe_title(void *ctx, int status, const struct room_row *room) {
  struct title_probe *p = ctx;
  if (!room) {
    p->status = status;
    return;
  }
  if (room->title && strcmp(room->title, p->title) == 0 &&
      (!p->except_id || strcmp(room->id, p->except_id) != 0))
    p->taken = 1;
}

/* 1 when another of the owner's rooms has this title, 0 when not, -1 on a
 * storage failure. An owner has few rooms; the unique index backs this. */
static int title_taken(struct app *app, int64_t owner_id, const char *title,
                       const char *except_id) {
  struct title_probe p = {title, except_id, 0, STORE_FAILED};
  store_rooms_of_owner(app->store, owner_id, probe_title, &p);
  return p.status < 0 ? -1 : p.taken;
}

static bool answered_title_taken(struct http_req *r, int64_t owner_id, const char *title,
                                 const char *except_id) {
  int taken = title ? title_taken(app_of(r), owner_id, title, except_id) : 0;
  if (taken < 0)
    http_respond_error(r, 503, "storage_unavailable", "Storage is not answering; try again.");
  else if (taken)
    http_respond_error(r, 409, "title_taken", "You already have a room with this title.");
  return taken != 0;
}

/* Hashes the body's password on the thread pool, then calls `done`,
 * which runs the route again with the hash (job->hash). */
static void hash_then(struct http_req *r, json_t *in, const char *room_id, pw_job_done done) {
  json_t *pw = json_object_get(in, "password");
  struct pw_job *job = pw_job_new(json_string_value(pw), json_string_length(pw), done);
  if (!job) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  job->body = json_incref(in);
  if (room_id)
    memcpy(job->room_id, room_id, STORE_ID_LEN + 1);
  pw_job_start(r, job);
}

static void create_hashed(struct http_req *r, struct pw_job *job);

/* Creates the room; `hash` is the password's once hashed (NULL before). */
static void create_with(struct http_req *r, json_t *in, const char *hash) {
  struct api_account me;
  if (!auth_require(r, &me))
    return;
  struct app *app = app_of(r);
  struct room_row room = {.owner_id = me.id, .created_at = time_now_ms(), .kind = "chat"};
  if (!json_object_get(in, "title") || !json_object_get(in, "opens_at") ||
      !json_object_get(in, "closes_at")) {
    http_respond_error(r, 400, "bad_request", "A chat room needs title, opens_at and closes_at.");
    return;
  }
  int pw = read_room_fields(r, in, &room);
  if (pw < 0 || answered_title_taken(r, me.id, room.title, NULL))
    return;
  if (pw == PW_SET && !hash) {
    hash_then(r, in, NULL, create_hashed);
    return;
  }
  /* The owner acts by cookie; the owner token is drawn only because every
   * room row has one, and is never handed out. */
  char token[ROOM_TOKEN_LEN + 1];
  room_new_id(room.id);
  room_new_owner_token(token, room.owner_token_hash);
  room.password_hash = pw == PW_SET ? hash : NULL;
  room.expires_at = room.closes_at;
  int status = STORE_CONFLICT;
  for (int i = 0; i < CODE_ATTEMPTS && status == STORE_CONFLICT; i++) {
    room_new_code(room.code);
    store_room_insert(app->store, &room, done_status, &status);
  }
  if (status < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Could not create the room; try again.");
    return;
  }
  struct log_field f[] = {LOG_STR("room", room.id), LOG_NUM("account", me.id)};
  log_fields(LOG_INFO, "room.created", f, 2);
  char location[96];
  snprintf(location, sizeof location, "Location: /api/rooms/%s\r\nCache-Control: no-store\r\n",
           room.id);
  api_respond_json(r, 201, chat_room_json(r, &room), location);
}

static void create_hashed(struct http_req *r, struct pw_job *job) {
  if (!job->ok)
    http_respond_error(r, 500, "internal", "Could not hash the password.");
  else
    create_with(r, job->body, job->hash);
}

void chat_create(struct http_req *r, json_t *in) {
  create_with(r, in, NULL);
}

/* The owner of an owned room, by cookie; answers 404/401/403 itself. */
static bool owner_only(struct http_req *r, const struct room_row *room, struct api_account *me) {
  if (!room->owner_id) {
    http_respond_error(r, 404, "not_a_chat_room", "This is not a facilitator's chat room.");
    return false;
  }
  if (!auth_require(r, me))
    return false;
  if (me->id != room->owner_id) {
    http_respond_error(r, 403, "not_owner", "Only the room's owner may do this.");
    return false;
  }
  return true;
}

void chat_delete(struct http_req *r, const struct room_row *room) {
  struct api_account me;
  if (!owner_only(r, room, &me))
    return;
  rooms_delete(r, room, me.id);
}

/* A route with a JSON body and a :room: the body is parsed before the room
 * is looked up, so it is freed however the lookup ends; the room callback
 * takes it with body_of (NULL when absent or not an object). The request
 * may be gone once the callback answered: only the local is touched. */
static void with_room_and_body(struct http_req *r, api_room_cb found) {
  json_t *in = api_body_json(r);
  r->handler_state = in;
  api_with_room(r, found);
  json_decref(in);
}

static json_t *body_of(struct http_req *r) {
  json_t *in = r->handler_state;
  r->handler_state = NULL;
  return in;
}

static void patch_hashed(struct http_req *r, struct pw_job *job);

/* PATCH: {title?, opens_at?, closes_at?, password? (null removes),
 * rotate_code?: true}; `hash` as for create_with. */
static void patch_with(struct http_req *r, const struct room_row *found, json_t *in,
                       const char *hash) {
  struct api_account me;
  if (!owner_only(r, found, &me))
    return;
  if (!in) {
    http_respond_error(r, 400, "bad_request", "The body is a JSON object of the fields to change.");
    return;
  }
  struct app *app = app_of(r);
  struct room_row room = *found;
  int pw = read_room_fields(r, in, &room);
  if (pw < 0 || answered_title_taken(r, me.id, room.title, room.id))
    return;
  if (pw == PW_SET && !hash) {
    hash_then(r, in, room.id, patch_hashed);
    return;
  }
  if (pw != PW_KEEP)
    room.password_hash = pw == PW_SET ? hash : NULL;
  room.expires_at = room.closes_at;
  bool rotate = json_is_true(json_object_get(in, "rotate_code"));
  int status = STORE_CONFLICT;
  for (int i = 0; i < CODE_ATTEMPTS && status == STORE_CONFLICT; i++) {
    if (rotate)
      room_new_code(room.code);
    store_room_update(app->store, &room, done_status, &status);
    if (!rotate)
      break;
  }
  if (status < 0) {
    http_respond_error(r, status == STORE_CONFLICT ? 409 : 503, "update_failed",
                       "Could not change the room; try again.");
    return;
  }
  chat_ws_rescheduled(app, room.id, room.closes_at);
  api_respond_json(r, 200, chat_room_json(r, &room), "Cache-Control: no-store\r\n");
}

struct patch_resume {
  struct http_req *r;
  struct pw_job *job;
};

static void patch_found(void *ctx, int status, const struct room_row *room) {
  struct patch_resume *p = ctx;
  if (room)
    patch_with(p->r, room, p->job->body, p->job->hash);
  else if (status == STORE_NOT_FOUND)
    http_respond_error(p->r, 404, "room_not_found", "There is no such room.");
  else
    http_respond_error(p->r, 503, "storage_unavailable", "Storage is not answering; try again.");
}

/* The password is hashed: the room is read again (it may have changed
 * meanwhile) and the change applied. */
static void patch_hashed(struct http_req *r, struct pw_job *job) {
  if (!job->ok) {
    http_respond_error(r, 500, "internal", "Could not hash the password.");
    return;
  }
  struct patch_resume p = {r, job};
  store_room_get(app_of(r)->store, job->room_id, STORE_ID_LEN, patch_found, &p);
}

static void patch_room(struct http_req *r, const struct room_row *found) {
  patch_with(r, found, body_of(r), NULL);
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

static void unlock_room(struct http_req *r, const struct room_row *room) {
  json_t *in = body_of(r);
  json_t *pw = in ? json_object_get(in, "password") : NULL;
  struct app *app = app_of(r);
  size_t klen;
  const uint8_t *k = api_addr_key(r, &klen);
  struct pw_job *job = NULL;
  if (!room->owner_id || !room->password_hash) {
    http_respond_error(r, 404, "no_password", "This room has no password.");
  } else if (!json_is_string(pw) || json_string_length(pw) > PASSWORD_MAX_BYTES) {
    http_respond_error(r, 400, "bad_request", "The body is {\"password\": ...}.");
  } else if (api_rate_limited(r, &app->unlock_addr, k, klen,
                              "Too many password attempts; try again later.")) {
  } else if (!(job = pw_job_new(json_string_value(pw), json_string_length(pw), unlock_checked))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
  } else {
    job->verify = true;
    snprintf(job->hash, sizeof job->hash, "%s", room->password_hash);
    memcpy(job->room_id, room->id, sizeof job->room_id);
    pw_job_start(r, job);
  }
}

static void unlock(struct http_req *r) {
  with_room_and_body(r, unlock_room);
}

/* The owner (cookie), or while the room is open anyone who may join it
 * (the unlock token as ?token= for a password room). Answers itself when
 * not. */
static bool may_read(struct http_req *r, const struct room_row *room) {
  struct api_account me;
  if (!room->owner_id) {
    http_respond_error(r, 404, "not_a_chat_room", "This is not a facilitator's chat room.");
    return false;
  }
  int signed_in = auth_session(r, &me);
  if (signed_in > 0 && me.id == room->owner_id)
    return true;
  if (schedule_state(room->opens_at, room->closes_at, time_now_ms()) != ROOM_OPEN) {
    http_respond_error(r, 403, "room_not_open",
                       "The history is for the owner outside opening hours.");
    return false;
  }
  char token[CHAT_UNLOCK_TOKEN_LEN + 2];
  int tlen = query_param(r->query, r->query_len, "token", token, sizeof token);
  if (room->password_hash &&
      (tlen < 0 || !chat_unlock_valid(app_of(r)->unlock_key, room, token, (size_t)tlen))) {
    http_respond_error(r, 403, "locked", "This room has a password: unlock it first.");
    return false;
  }
  return true;
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

static void prepend_message(void *ctx, int status, const struct message_row *m) {
  json_t *list = ctx;
  json_t *j = m ? chat_message_json(m) : NULL;
  if (j)
    json_array_insert_new(list, 0, j); /* newest first from the store; oldest first out */
}

static void list_messages(struct http_req *r, const struct room_row *room) {
  if (!may_read(r, room))
    return;
  int64_t before = INT64_MAX, limit = PAGE_DEFAULT;
  if (query_int(r, "before", 1, INT64_MAX, &before) < 0 ||
      query_int(r, "limit", 1, PAGE_MAX, &limit) < 0) {
    http_respond_error(r, 400, "bad_query", "before is a message id; limit is 1 to 500.");
    return;
  }
  json_t *list = json_array();
  if (!list) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  store_messages_before(app_of(r)->store, room->id, before, (int)limit, prepend_message, list);
  api_respond_json(r, 200, json_pack("{s:o}", "messages", list), "Cache-Control: no-store\r\n");
}

static void get_messages(struct http_req *r) {
  api_with_room(r, list_messages);
}

static void delete_message(struct http_req *r, const struct room_row *room) {
  struct api_account me;
  if (!owner_only(r, room, &me))
    return;
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
  int status = STORE_NOT_FOUND;
  if (id > 0)
    store_message_delete(app_of(r)->store, room->id, id, done_status, &status);
  if (status == STORE_NOT_FOUND) {
    http_respond_error(r, 404, "message_not_found", "There is no such message in this room.");
    return;
  }
  if (status < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Could not delete the message.");
    return;
  }
  chat_ws_message_deleted(room->id, id);
  http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
}

static void delete_msg(struct http_req *r) {
  api_with_room(r, delete_message);
}

static void remove_member(struct http_req *r, const struct room_row *room) {
  struct api_account me;
  json_t *in = body_of(r);
  json_t *alias = in ? json_object_get(in, "alias") : NULL;
  if (!owner_only(r, room, &me)) {
  } else if (!json_is_string(alias) || json_string_length(alias) > ALIAS_MAX) {
    http_respond_error(r, 400, "bad_request", "The body is {\"alias\": ...}.");
  } else {
    int rc = chat_ws_remove(app_of(r), room->id, json_string_value(alias));
    if (rc == 0)
      http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
    else if (rc == STORE_NOT_FOUND)
      http_respond_error(r, 404, "alias_not_found", "Nobody with this alias is in the room.");
    else
      http_respond_error(r, 503, "storage_unavailable", "Could not remove the member.");
  }
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

struct transcript {
  struct out o;
  bool csv;
  bool truncated; /* over TRANSCRIPT_BYTES_MAX: the rest is left out */
  int64_t last_id;
  int status;
};

static void transcript_line(void *ctx, int status, const struct message_row *m) {
  struct transcript *t = ctx;
  if (!m) {
    t->status = status;
    return;
  }
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

static void export_transcript(struct http_req *r, const struct room_row *room) {
  struct api_account me;
  if (!owner_only(r, room, &me))
    return;
  char format[8] = "md";
  int n = query_param(r->query, r->query_len, "format", format, sizeof format);
  bool csv = n > 0 && strcmp(format, "csv") == 0;
  if (n != -1 && !csv && strcmp(format, "md") != 0) {
    http_respond_error(r, 400, "bad_query", "format is md or csv.");
    return;
  }
  struct transcript t = {.csv = csv, .status = STORE_FAILED};
  if (csv) {
    out_str(&t.o, "id,created_at,alias,text\r\n");
  } else {
    out_str(&t.o, "# ");
    md_escape(&t.o, room->title ? room->title : "", room->title ? strlen(room->title) : 0);
    out_str(&t.o, "\n\n");
  }
  store_messages_after(app_of(r)->store, room->id, 0, TRANSCRIPT_MAX, transcript_line, &t);
  if (t.status < 0 || t.o.failed) {
    free(t.o.p);
    http_respond_error(r, t.o.failed ? 500 : 503, "transcript_failed",
                       "Could not make the transcript.");
    return;
  }
  char headers[256], more[64] = "";
  if (t.truncated)
    snprintf(more, sizeof more, "X-Transcript-Truncated-After: %lld\r\n", (long long)t.last_id);
  snprintf(headers, sizeof headers,
           "Content-Disposition: attachment; filename=\"transcript-%s.%s\"\r\n"
           "Cache-Control: no-store\r\n%s",
           room->id, csv ? "csv" : "md", more);
  http_respond(r, 200, csv ? "text/csv; charset=utf-8" : "text/markdown; charset=utf-8", t.o.p,
               t.o.len, NULL, false, headers);
  free(t.o.p);
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
    .on_abort = api_body_abort,
    .max_body = CHAT_BODY_MAX,
};
const http_handler chat_transcript_handler = {.on_complete = transcript,
                                              .on_abort = api_pending_abort};
