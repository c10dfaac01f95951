/* The account and chat routes with a store that answers on a later turn of
 * the loop, as PostgreSQL does. The link wraps the store calls these routes
 * make (see CMakeLists.txt): each is held, its arguments copied as the
 * store's contract says, until the test answers it with the real SQLite
 * engine, or with a failure, when it chooses: after the client went away
 * at any step. LeakSanitizer (the sanitizer build) checks that every
 * route's state is freed on every path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/app.h"
#include "api/auth.h"
#include "http/cookie.h"
#include "http_harness.h"
#include "rooms/password.h"
#include "rooms/room.h"
#include "store/store.h"
#include "temp_store.h"
#include "util/timefmt.h"

/* ------------------------------------------------------------------------
 * Held store calls: each remembers how to answer itself. */

struct held {
  const char *name;
  struct store *s;
  void (*answer)(struct held *h, int failure); /* failure 0: the real engine answers */
  struct held *next;
};

static struct held *queue, **queue_tail = &queue;
static int calls; /* store calls made by the routes */

static void *hold(size_t size, const char *name, struct store *s,
                  void (*answer)(struct held *, int)) {
  struct held *h = calloc(1, size);
  assert_non_null(h);
  *h = (struct held){name, s, answer, NULL};
  *queue_tail = h;
  queue_tail = &h->next;
  calls++;
  return h;
}

/* Answers the oldest held call (the real engine, or `failure`). */
static void answer_oldest(int failure) {
  struct held *h = queue;
  assert_non_null(h);
  queue = h->next;
  if (!queue)
    queue_tail = &queue;
  h->answer(h, failure);
  free(h);
}

void __real_store_session_account(struct store *s, const uint8_t th[32], int64_t now,
                                  store_account_cb cb, void *ctx);
struct held_session {
  struct held base; /* first */
  uint8_t th[32];
  int64_t now;
  store_account_cb cb;
  void *ctx;
};
static void answer_session(struct held *h, int failure) {
  struct held_session *c = (struct held_session *)h;
  if (failure)
    c->cb(c->ctx, failure, NULL);
  else
    __real_store_session_account(h->s, c->th, c->now, c->cb, c->ctx);
}
void __wrap_store_session_account(struct store *s, const uint8_t th[32], int64_t now,
                                  store_account_cb cb, void *ctx) {
  struct held_session *c = hold(sizeof *c, "session_account", s, answer_session);
  memcpy(c->th, th, 32);
  c->now = now;
  c->cb = cb;
  c->ctx = ctx;
}

void __real_store_session_insert(struct store *s, const uint8_t th[32], int64_t account_id,
                                 int64_t expires_at, store_done_cb cb, void *ctx);
void __real_store_session_delete(struct store *s, const uint8_t th[32], store_done_cb cb,
                                 void *ctx);
struct held_token {
  struct held base; /* first */
  uint8_t th[32];
  int64_t account_id, expires_at;
  bool insert;
  store_done_cb cb;
  void *ctx;
};
static void answer_token(struct held *h, int failure) {
  struct held_token *c = (struct held_token *)h;
  if (failure)
    c->cb(c->ctx, failure);
  else if (c->insert)
    __real_store_session_insert(h->s, c->th, c->account_id, c->expires_at, c->cb, c->ctx);
  else
    __real_store_session_delete(h->s, c->th, c->cb, c->ctx);
}
void __wrap_store_session_insert(struct store *s, const uint8_t th[32], int64_t account_id,
                                 int64_t expires_at, store_done_cb cb, void *ctx) {
  struct held_token *c = hold(sizeof *c, "session_insert", s, answer_token);
  memcpy(c->th, th, 32);
  c->account_id = account_id;
  c->expires_at = expires_at;
  c->insert = true;
  c->cb = cb;
  c->ctx = ctx;
}
void __wrap_store_session_delete(struct store *s, const uint8_t th[32], store_done_cb cb,
                                 void *ctx) {
  struct held_token *c = hold(sizeof *c, "session_delete", s, answer_token);
  memcpy(c->th, th, 32);
  c->cb = cb;
  c->ctx = ctx;
}

void __real_store_account_insert(struct store *s, const struct account_row *a, store_id_cb cb,
                                 void *ctx);
void __real_store_account_by_email(struct store *s, const char *email, store_account_cb cb,
                                   void *ctx);
struct held_account {
  struct held base; /* first */
  char email[EMAIL_MAX + 1];
  char hash[PASSWORD_HASH_MAX];
  int64_t created_at;
  store_id_cb made;
  store_account_cb found;
  void *ctx;
};
static void answer_account(struct held *h, int failure) {
  struct held_account *c = (struct held_account *)h;
  struct account_row a = {.email = c->email, .password_hash = c->hash, .created_at = c->created_at};
  if (c->made && failure)
    c->made(c->ctx, failure, 0);
  else if (c->made)
    __real_store_account_insert(h->s, &a, c->made, c->ctx);
  else if (failure)
    c->found(c->ctx, failure, NULL);
  else
    __real_store_account_by_email(h->s, c->email, c->found, c->ctx);
}
void __wrap_store_account_insert(struct store *s, const struct account_row *a, store_id_cb cb,
                                 void *ctx) {
  struct held_account *c = hold(sizeof *c, "account_insert", s, answer_account);
  snprintf(c->email, sizeof c->email, "%s", a->email);
  snprintf(c->hash, sizeof c->hash, "%s", a->password_hash);
  c->created_at = a->created_at;
  c->made = cb;
  c->ctx = ctx;
}
void __wrap_store_account_by_email(struct store *s, const char *email, store_account_cb cb,
                                   void *ctx) {
  struct held_account *c = hold(sizeof *c, "account_by_email", s, answer_account);
  snprintf(c->email, sizeof c->email, "%s", email);
  c->found = cb;
  c->ctx = ctx;
}

void __real_store_room_get(struct store *s, const char *key, size_t len, store_room_cb cb,
                           void *ctx);
void __real_store_rooms_of_owner(struct store *s, int64_t owner_id, store_room_cb each, void *ctx);
struct held_room_read {
  struct held base; /* first */
  char key[STORE_ID_LEN + 1];
  size_t len;
  int64_t owner_id;
  store_room_cb cb;
  void *ctx;
};
static void answer_room_read(struct held *h, int failure) {
  struct held_room_read *c = (struct held_room_read *)h;
  if (failure)
    c->cb(c->ctx, failure, NULL);
  else if (c->len)
    __real_store_room_get(h->s, c->key, c->len, c->cb, c->ctx);
  else
    __real_store_rooms_of_owner(h->s, c->owner_id, c->cb, c->ctx);
}
void __wrap_store_room_get(struct store *s, const char *key, size_t len, store_room_cb cb,
                           void *ctx) {
  struct held_room_read *c = hold(sizeof *c, "room_get", s, answer_room_read);
  assert_in_range(len, 1, STORE_ID_LEN);
  memcpy(c->key, key, len);
  c->len = len;
  c->cb = cb;
  c->ctx = ctx;
}
void __wrap_store_rooms_of_owner(struct store *s, int64_t owner_id, store_room_cb each, void *ctx) {
  struct held_room_read *c = hold(sizeof *c, "rooms_of_owner", s, answer_room_read);
  c->owner_id = owner_id;
  c->cb = each;
  c->ctx = ctx;
}

void __real_store_room_insert(struct store *s, const struct room_row *room, store_done_cb cb,
                              void *ctx);
void __real_store_room_update(struct store *s, const struct room_row *room, store_done_cb cb,
                              void *ctx);
struct held_room_write {
  struct held base; /* first */
  struct room_row *room;
  bool insert;
  store_done_cb cb;
  void *ctx;
};
static void answer_room_write(struct held *h, int failure) {
  struct held_room_write *c = (struct held_room_write *)h;
  if (failure)
    c->cb(c->ctx, failure);
  else if (c->insert)
    __real_store_room_insert(h->s, c->room, c->cb, c->ctx);
  else
    __real_store_room_update(h->s, c->room, c->cb, c->ctx);
  free(c->room);
}
static void hold_room_write(struct store *s, const struct room_row *room, bool insert,
                            store_done_cb cb, void *ctx) {
  struct held_room_write *c =
      hold(sizeof *c, insert ? "room_insert" : "room_update", s, answer_room_write);
  c->room = room_row_dup(room);
  assert_non_null(c->room);
  c->insert = insert;
  c->cb = cb;
  c->ctx = ctx;
}
void __wrap_store_room_insert(struct store *s, const struct room_row *room, store_done_cb cb,
                              void *ctx) {
  hold_room_write(s, room, true, cb, ctx);
}
void __wrap_store_room_update(struct store *s, const struct room_row *room, store_done_cb cb,
                              void *ctx) {
  hold_room_write(s, room, false, cb, ctx);
}

void __real_store_messages_before(struct store *s, const char *room_id, int64_t before, int limit,
                                  store_message_cb each, void *ctx);
void __real_store_messages_after(struct store *s, const char *room_id, int64_t after, int limit,
                                 store_message_cb each, void *ctx);
void __real_store_message_delete(struct store *s, const char *room_id, int64_t id, store_done_cb cb,
                                 void *ctx);
struct held_messages {
  struct held base; /* first */
  char room_id[STORE_ID_LEN + 1];
  int64_t mark;
  int limit;
  bool before;
  store_message_cb each;
  store_done_cb done;
  void *ctx;
};
static void answer_messages(struct held *h, int failure) {
  struct held_messages *c = (struct held_messages *)h;
  if (c->done && failure)
    c->done(c->ctx, failure);
  else if (c->done)
    __real_store_message_delete(h->s, c->room_id, c->mark, c->done, c->ctx);
  else if (failure)
    c->each(c->ctx, failure, NULL);
  else if (c->before)
    __real_store_messages_before(h->s, c->room_id, c->mark, c->limit, c->each, c->ctx);
  else
    __real_store_messages_after(h->s, c->room_id, c->mark, c->limit, c->each, c->ctx);
}
static struct held_messages *hold_messages(struct store *s, const char *name, const char *room_id,
                                           int64_t mark, void *ctx) {
  struct held_messages *c = hold(sizeof *c, name, s, answer_messages);
  snprintf(c->room_id, sizeof c->room_id, "%s", room_id);
  c->mark = mark;
  c->ctx = ctx;
  return c;
}
void __wrap_store_messages_before(struct store *s, const char *room_id, int64_t before, int limit,
                                  store_message_cb each, void *ctx) {
  struct held_messages *c = hold_messages(s, "messages_before", room_id, before, ctx);
  c->limit = limit;
  c->before = true;
  c->each = each;
}
void __wrap_store_messages_after(struct store *s, const char *room_id, int64_t after, int limit,
                                 store_message_cb each, void *ctx) {
  struct held_messages *c = hold_messages(s, "messages_after", room_id, after, ctx);
  c->limit = limit;
  c->each = each;
}
void __wrap_store_message_delete(struct store *s, const char *room_id, int64_t id, store_done_cb cb,
                                 void *ctx) {
  hold_messages(s, "message_delete", room_id, id, ctx)->done = cb;
}

/* ------------------------------------------------------------------------
 * A tandem on the harness, with a facilitator signed in and a chat room. */

#define EMAIL "host@example.org"
#define PASSWORD "a long enough password"

struct fixture {
  struct harness h;
  struct app app;
  struct temp_store tmp; /* the store (app.store) and the data directory */
  int64_t account_id;
  char cookie[80]; /* "tandem_session=..." */
  char room_id[STORE_ID_LEN + 1];
  int64_t message_id;
};

static void got_id(void *ctx, int status, int64_t id) {
  assert_int_equal(status, STORE_OK);
  *(int64_t *)ctx = id;
}

static void got_status(void *ctx, int status) {
  *(int *)ctx = status;
}

/* The facilitator, its session and an open chat room with one message,
 * written straight to the engine. */
static void seed(struct fixture *f) {
  char hash[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash(PASSWORD, strlen(PASSWORD), hash), 0);
  int64_t now = time_now_ms();
  struct account_row a = {.email = EMAIL, .password_hash = hash, .created_at = now};
  __real_store_account_insert(f->app.store, &a, got_id, &f->account_id);
  char token[SESSION_TOKEN_LEN + 1] = "tokentokentokentokentokentokentokentokentok";
  uint8_t th[32];
  auth_token_hash(token, SESSION_TOKEN_LEN, th);
  int status = STORE_FAILED;
  __real_store_session_insert(f->app.store, th, f->account_id, now + 3600000, got_status, &status);
  assert_int_equal(status, STORE_OK);
  snprintf(f->cookie, sizeof f->cookie, "%s=%s", COOKIE_SESSION_NAME, token);
  struct room_row room = {.kind = "chat",
                          .title = "seeded",
                          .owner_id = f->account_id,
                          .created_at = now,
                          .opens_at = now - 1000,
                          .closes_at = now + 3600000};
  room.expires_at = room.closes_at;
  char owner_token[ROOM_TOKEN_LEN + 1];
  room_new_id(room.id);
  room_new_code(room.code);
  room_new_owner_token(owner_token, room.owner_token_hash);
  __real_store_room_insert(f->app.store, &room, got_status, &status);
  assert_int_equal(status, STORE_OK);
  memcpy(f->room_id, room.id, sizeof f->room_id);
  struct message_row m = {.alias = "Ada", .text = "hello", .text_len = 5, .created_at = now};
  memcpy(m.room_id, room.id, sizeof m.room_id);
  store_message_insert(f->app.store, &m, got_id, &f->message_id);
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  char err[256];
  if (!f)
    return -1;
  if (harness_init(&f->h) < 0 || !temp_store_open(&f->tmp, &f->h.loop))
    return -1;
  f->app.store = f->tmp.s;
  f->h.cfg.data_dir = f->tmp.dir;
  f->h.cfg.min_free_disk = 0;
  if (app_init(&f->app, &f->h.loop, &f->h.cfg, f->app.store, err, sizeof err))
    return -1;
  if (harness_start(&f->h, app_routes, app_route_count, &f->app) < 0)
    return -1;
  seed(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  int rc = queue ? -1 : 0; /* every held call was answered */
  while (queue)
    answer_oldest(STORE_UNAVAILABLE);
  app_stop(&f->app);
  if (harness_free(&f->h) < 0)
    rc = -1;
  app_free(&f->app);
  if (temp_store_close(&f->tmp) < 0)
    rc = -1;
  free(f);
  calls = 0;
  return rc;
}

static void send_request(struct fixture *f, const char *method, const char *path, bool cookie,
                         const char *json) {
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
                   method, path, cookie ? "Cookie: " : "", cookie ? f->cookie : "",
                   cookie ? "\r\n" : "", json ? strlen(json) : 0, json ? json : "");
  assert_in_range(n, 1, sizeof req - 1);
  assert_int_equal(harness_feed(&f->h, req, (size_t)n), (size_t)n);
}

/* Runs the loop (the thread pool hashes passwords meanwhile) until the
 * oldest held call is `name`. */
static void wait_for(struct fixture *f, const char *name) {
  for (int i = 0; i < 1000 && !queue; i++)
    harness_run_for(&f->h, 5);
  assert_non_null(queue);
  assert_string_equal(queue->name, name);
}

/* Answers held calls, in order, with the real engine: these names. */
static void answer(struct fixture *f, const char *const *names) {
  for (; *names; names++) {
    wait_for(f, *names);
    answer_oldest(0);
    harness_run(&f->h);
  }
}

/* The response so far ("" when none). */
static const char *response(struct fixture *f) {
  static char out[8192];
  harness_run(&f->h);
  harness_read_all(&f->h, out, sizeof out);
  return out;
}

/* The request goes away while it waits. A connection whose request waits
 * reads nothing more, so the client's close would be seen only later: the
 * server drops the connection itself, as at shutdown. */
static void go_away(struct fixture *f) {
  harness_close_client(&f->h);
  for (int cls = 0; cls < TIMEOUT_CLASSES; cls++)
    while (f->h.srv.list_head[cls])
      conn_close(f->h.srv.list_head[cls]);
  harness_run(&f->h);
}

/* Answers everything still held, and whatever that leads to. */
static void answer_rest(struct fixture *f) {
  for (int i = 0; i < 100 && queue; i++) {
    answer_oldest(0);
    harness_run(&f->h);
  }
  assert_null(queue);
}

static void count_room(void *ctx, int status, const struct room_row *room) {
  (void)status;
  if (room)
    (*(int *)ctx)++;
}

static int rooms_of_host(struct fixture *f) {
  int n = 0;
  __real_store_rooms_of_owner(f->app.store, f->account_id, count_room, &n);
  return n;
}

static void session_of_cookie(void *ctx, int status, const struct account_row *a) {
  (void)a;
  *(int *)ctx = status;
}

static int cookie_session_status(struct fixture *f) {
  uint8_t th[32];
  const char *token = strchr(f->cookie, '=') + 1;
  auth_token_hash(token, strlen(token), th);
  int status = STORE_FAILED;
  __real_store_session_account(f->app.store, th, time_now_ms(), session_of_cookie, &status);
  return status;
}

static const char *const SESSION[] = {"session_account", NULL};

/* ------------------------------------------------------------------------
 * Who is signed in */

static void test_me_is_answered_once_the_session_comes(void **state) {
  struct fixture *f = *state;
  send_request(f, "GET", "/api/me", true, NULL);
  assert_string_equal(response(f), "");
  answer(f, SESSION);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, "\"email\":\"" EMAIL "\""));
}

static void test_me_left_while_the_session_is_looked_up_is_dropped(void **state) {
  struct fixture *f = *state;
  send_request(f, "GET", "/api/me", true, NULL);
  wait_for(f, "session_account");
  go_away(f);
  answer_rest(f);
  assert_int_equal(calls, 1);
}

static void test_unreachable_database_answers_503_for_the_session(void **state) {
  struct fixture *f = *state;
  send_request(f, "GET", "/api/me", true, NULL);
  wait_for(f, "session_account");
  answer_oldest(STORE_UNAVAILABLE);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 503 "));
  assert_non_null(strstr(out, "storage_unavailable"));
}

static void test_no_cookie_is_401_without_asking_the_store(void **state) {
  struct fixture *f = *state;
  send_request(f, "GET", "/api/me", false, NULL);
  assert_non_null(strstr(response(f), "HTTP/1.1 401 "));
  assert_int_equal(calls, 0);
}

static void test_my_rooms_left_while_listed_is_dropped(void **state) {
  struct fixture *f = *state;
  send_request(f, "GET", "/api/me/rooms", true, NULL);
  answer(f, SESSION);
  wait_for(f, "rooms_of_owner");
  go_away(f);
  answer_rest(f);
}

static void test_my_rooms_are_listed_once_the_store_answers(void **state) {
  struct fixture *f = *state;
  send_request(f, "GET", "/api/me/rooms", true, NULL);
  answer(f, (const char *const[]){"session_account", "rooms_of_owner", NULL});
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, f->room_id));
}

/* ------------------------------------------------------------------------
 * Sign-up, sign-in, sign-out */

static const char credentials[] = "{\"email\":\"new@example.org\",\"password\":\"" PASSWORD "\"}";
static const char host_credentials[] = "{\"email\":\"" EMAIL "\",\"password\":\"" PASSWORD "\"}";

static void test_sign_up_is_answered_once_the_account_is_stored(void **state) {
  struct fixture *f = *state;
  send_request(f, "POST", "/api/accounts", false, credentials);
  wait_for(f, "account_insert");
  assert_string_equal(response(f), "");
  answer(f, (const char *const[]){"account_insert", NULL});
  assert_non_null(strstr(response(f), "HTTP/1.1 201 "));
}

static void test_sign_up_taken_email_is_409_when_the_store_says_so(void **state) {
  struct fixture *f = *state;
  send_request(f, "POST", "/api/accounts", false, host_credentials);
  answer(f, (const char *const[]){"account_insert", NULL});
  assert_non_null(strstr(response(f), "HTTP/1.1 409 "));
}

static void test_sign_up_left_while_stored_still_makes_the_account(void **state) {
  struct fixture *f = *state;
  send_request(f, "POST", "/api/accounts", false, credentials);
  wait_for(f, "account_insert");
  go_away(f);
  answer_rest(f);
  int status = STORE_FAILED;
  __real_store_account_by_email(f->app.store, "new@example.org", session_of_cookie, &status);
  assert_int_equal(status, STORE_OK);
}

static void test_sign_in_looks_up_checks_and_stores_the_session(void **state) {
  struct fixture *f = *state;
  send_request(f, "POST", "/api/session", false, host_credentials);
  answer(f, (const char *const[]){"account_by_email", "session_insert", NULL});
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, "Set-Cookie: tandem_session="));
}

static void test_sign_in_left_during_the_lookup_checks_nothing(void **state) {
  struct fixture *f = *state;
  send_request(f, "POST", "/api/session", false, host_credentials);
  wait_for(f, "account_by_email");
  go_away(f);
  answer_rest(f);
  assert_int_equal(calls, 1); /* no password check, no session */
}

static void test_sign_in_left_while_the_session_is_stored_is_dropped(void **state) {
  struct fixture *f = *state;
  send_request(f, "POST", "/api/session", false, host_credentials);
  answer(f, (const char *const[]){"account_by_email", NULL});
  wait_for(f, "session_insert");
  go_away(f);
  answer_rest(f);
}

static void test_sign_out_left_while_waiting_still_ends_the_session(void **state) {
  struct fixture *f = *state;
  send_request(f, "DELETE", "/api/session", true, NULL);
  wait_for(f, "session_delete");
  go_away(f);
  answer_rest(f);
  assert_int_equal(cookie_session_status(f), STORE_NOT_FOUND);
}

static void test_sign_out_with_the_database_away_is_503_and_keeps_the_session(void **state) {
  struct fixture *f = *state;
  send_request(f, "DELETE", "/api/session", true, NULL);
  wait_for(f, "session_delete");
  answer_oldest(STORE_UNAVAILABLE);
  assert_non_null(strstr(response(f), "HTTP/1.1 503 "));
  assert_int_equal(cookie_session_status(f), STORE_OK);
}

/* ------------------------------------------------------------------------
 * Chat rooms: create, change, delete */

static void send_create(struct fixture *f, bool password) {
  char body[512];
  int64_t now = time_now_ms();
  snprintf(body, sizeof body,
           "{\"kind\":\"chat\",\"title\":\"made\",\"opens_at\":%lld,\"closes_at\":%lld%s}",
           (long long)now, (long long)now + 3600000, password ? ",\"password\":\"sesame\"" : "");
  send_request(f, "POST", "/api/rooms", true, body);
}

static const char *const CREATE[] = {"session_account", "rooms_of_owner", "room_insert", NULL};

static void test_chat_room_is_created_after_session_probe_and_insert(void **state) {
  struct fixture *f = *state;
  send_create(f, true);
  answer(f, CREATE);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 201 "));
  assert_non_null(strstr(out, "\"has_password\":true"));
  assert_int_equal(rooms_of_host(f), 2);
}

/* Goes away when the `step`th call of CREATE is held. */
static void create_and_leave_at(struct fixture *f, int step) {
  send_create(f, false);
  for (int i = 0; i < step; i++)
    answer(f, (const char *const[]){CREATE[i], NULL});
  wait_for(f, CREATE[step]);
  go_away(f);
  answer_rest(f);
}

static void test_chat_room_create_left_at_the_session_makes_nothing(void **state) {
  struct fixture *f = *state;
  create_and_leave_at(f, 0);
  assert_int_equal(rooms_of_host(f), 1);
}

static void test_chat_room_create_left_at_the_title_probe_makes_nothing(void **state) {
  struct fixture *f = *state;
  create_and_leave_at(f, 1);
  assert_int_equal(rooms_of_host(f), 1);
}

static void test_chat_room_create_left_at_the_insert_makes_the_room(void **state) {
  struct fixture *f = *state;
  create_and_leave_at(f, 2);
  assert_int_equal(rooms_of_host(f), 2);
}

static void test_chat_room_create_draws_a_new_code_when_taken(void **state) {
  struct fixture *f = *state;
  send_create(f, false);
  answer(f, (const char *const[]){"session_account", "rooms_of_owner", NULL});
  wait_for(f, "room_insert");
  answer_oldest(STORE_CONFLICT);
  answer(f, (const char *const[]){"room_insert", NULL});
  assert_non_null(strstr(response(f), "HTTP/1.1 201 "));
}

static void test_chat_room_create_with_a_taken_title_is_409(void **state) {
  struct fixture *f = *state;
  int64_t now = time_now_ms();
  char body[256];
  snprintf(body, sizeof body,
           "{\"kind\":\"chat\",\"title\":\"seeded\",\"opens_at\":%lld,\"closes_at\":%lld}",
           (long long)now, (long long)now + 3600000);
  send_request(f, "POST", "/api/rooms", true, body);
  answer(f, (const char *const[]){"session_account", "rooms_of_owner", NULL});
  assert_non_null(strstr(response(f), "HTTP/1.1 409 "));
}

static void send_patch(struct fixture *f, const char *json) {
  char path[96];
  snprintf(path, sizeof path, "/api/rooms/%s", f->room_id);
  send_request(f, "PATCH", path, true, json);
}

static void test_patch_with_a_password_reads_the_room_again_after_hashing(void **state) {
  struct fixture *f = *state;
  send_patch(f, "{\"title\":\"renamed\",\"password\":\"sesame\"}");
  answer(f, (const char *const[]){"room_get", "session_account", "room_get", "rooms_of_owner",
                                  "room_update", NULL});
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, "\"title\":\"renamed\""));
  assert_non_null(strstr(out, "\"has_password\":true"));
}

static void test_patch_left_during_the_room_lookup_frees_its_body(void **state) {
  struct fixture *f = *state;
  send_patch(f, "{\"title\":\"renamed\"}");
  wait_for(f, "room_get");
  go_away(f);
  answer_rest(f);
  assert_int_equal(calls, 1);
}

static void test_patch_left_while_hashing_changes_nothing(void **state) {
  struct fixture *f = *state;
  send_patch(f, "{\"password\":\"sesame\"}");
  answer(f, (const char *const[]){"room_get", "session_account", NULL});
  go_away(f); /* the hash is on the thread pool */
  /* Until the thread pool's work is back (libuv counts it as a request). */
  for (int i = 0; i < 1000 && f->h.loop.active_reqs.count; i++)
    harness_run_for(&f->h, 5);
  assert_int_equal(f->h.loop.active_reqs.count, 0);
  answer_rest(f);
  assert_int_equal(calls, 2);
}

static void title_of(void *ctx, int status, const struct room_row *room) {
  assert_int_equal(status, STORE_OK);
  snprintf(ctx, 64, "%s", room->title);
}

static void test_patch_left_at_the_update_still_changes_the_room(void **state) {
  struct fixture *f = *state;
  send_patch(f, "{\"title\":\"renamed\",\"rotate_code\":true}");
  answer(f, (const char *const[]){"room_get", "session_account", "rooms_of_owner", NULL});
  wait_for(f, "room_update");
  go_away(f);
  answer_rest(f);
  char title[64] = "";
  __real_store_room_get(f->app.store, f->room_id, STORE_ID_LEN, title_of, title);
  assert_string_equal(title, "renamed");
}

static void test_patch_of_a_taken_code_without_rotation_is_409(void **state) {
  struct fixture *f = *state;
  send_patch(f, "{\"title\":\"renamed\"}");
  answer(f, (const char *const[]){"room_get", "session_account", "rooms_of_owner", NULL});
  wait_for(f, "room_update");
  answer_oldest(STORE_CONFLICT);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 409 "));
  assert_non_null(strstr(out, "update_failed"));
}

static void test_room_delete_left_at_the_session_keeps_the_room(void **state) {
  struct fixture *f = *state;
  char path[96];
  snprintf(path, sizeof path, "/api/rooms/%s", f->room_id);
  send_request(f, "DELETE", path, true, NULL);
  answer(f, (const char *const[]){"room_get", NULL});
  wait_for(f, "session_account");
  go_away(f);
  answer_rest(f);
  assert_int_equal(rooms_of_host(f), 1);
}

/* ------------------------------------------------------------------------
 * History: listing, transcripts, deleting a message */

static void send_room_get(struct fixture *f, const char *method, const char *tail) {
  char path[128];
  snprintf(path, sizeof path, "/api/rooms/%s/%s", f->room_id, tail);
  send_request(f, method, path, true, NULL);
}

static void test_history_is_answered_once_the_messages_come(void **state) {
  struct fixture *f = *state;
  send_room_get(f, "GET", "messages");
  answer(f, (const char *const[]){"room_get", "session_account", "messages_before", NULL});
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, "\"text\":\"hello\""));
}

static void test_history_left_while_listed_is_dropped(void **state) {
  struct fixture *f = *state;
  send_room_get(f, "GET", "messages");
  answer(f, (const char *const[]){"room_get", "session_account", NULL});
  wait_for(f, "messages_before");
  go_away(f);
  answer_rest(f);
}

static void test_history_with_the_database_away_is_503(void **state) {
  struct fixture *f = *state;
  send_room_get(f, "GET", "messages");
  answer(f, (const char *const[]){"room_get", "session_account", NULL});
  wait_for(f, "messages_before");
  answer_oldest(STORE_UNAVAILABLE);
  assert_non_null(strstr(response(f), "HTTP/1.1 503 "));
}

static void test_transcript_is_answered_once_the_messages_come(void **state) {
  struct fixture *f = *state;
  send_room_get(f, "GET", "transcript?format=csv");
  answer(f, (const char *const[]){"room_get", "session_account", "messages_after", NULL});
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, "\"Ada\",\"hello\""));
}

static void test_transcript_left_while_gathered_is_dropped(void **state) {
  struct fixture *f = *state;
  send_room_get(f, "GET", "transcript");
  answer(f, (const char *const[]){"room_get", "session_account", NULL});
  wait_for(f, "messages_after");
  go_away(f);
  answer_rest(f);
}

static void test_message_delete_left_while_waiting_still_deletes(void **state) {
  struct fixture *f = *state;
  char tail[64];
  snprintf(tail, sizeof tail, "messages/%lld", (long long)f->message_id);
  send_room_get(f, "DELETE", tail);
  answer(f, (const char *const[]){"room_get", "session_account", NULL});
  wait_for(f, "message_delete");
  go_away(f);
  answer_rest(f);
  int status = STORE_FAILED;
  __real_store_message_delete(f->app.store, f->room_id, f->message_id, got_status, &status);
  assert_int_equal(status, STORE_NOT_FOUND); /* already gone */
}

static void test_message_delete_of_no_message_is_404_when_the_store_says_so(void **state) {
  struct fixture *f = *state;
  send_room_get(f, "DELETE", "messages/999999");
  answer(f, (const char *const[]){"room_get", "session_account", "message_delete", NULL});
  assert_non_null(strstr(response(f), "HTTP/1.1 404 "));
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_me_is_answered_once_the_session_comes),
      T(test_me_left_while_the_session_is_looked_up_is_dropped),
      T(test_unreachable_database_answers_503_for_the_session),
      T(test_no_cookie_is_401_without_asking_the_store),
      T(test_my_rooms_left_while_listed_is_dropped),
      T(test_my_rooms_are_listed_once_the_store_answers),
      T(test_sign_up_is_answered_once_the_account_is_stored),
      T(test_sign_up_taken_email_is_409_when_the_store_says_so),
      T(test_sign_up_left_while_stored_still_makes_the_account),
      T(test_sign_in_looks_up_checks_and_stores_the_session),
      T(test_sign_in_left_during_the_lookup_checks_nothing),
      T(test_sign_in_left_while_the_session_is_stored_is_dropped),
      T(test_sign_out_left_while_waiting_still_ends_the_session),
      T(test_sign_out_with_the_database_away_is_503_and_keeps_the_session),
      T(test_chat_room_is_created_after_session_probe_and_insert),
      T(test_chat_room_create_left_at_the_session_makes_nothing),
      T(test_chat_room_create_left_at_the_title_probe_makes_nothing),
      T(test_chat_room_create_left_at_the_insert_makes_the_room),
      T(test_chat_room_create_draws_a_new_code_when_taken),
      T(test_chat_room_create_with_a_taken_title_is_409),
      T(test_patch_with_a_password_reads_the_room_again_after_hashing),
      T(test_patch_left_during_the_room_lookup_frees_its_body),
      T(test_patch_left_while_hashing_changes_nothing),
      T(test_patch_left_at_the_update_still_changes_the_room),
      T(test_patch_of_a_taken_code_without_rotation_is_409),
      T(test_room_delete_left_at_the_session_keeps_the_room),
      T(test_history_is_answered_once_the_messages_come),
      T(test_history_left_while_listed_is_dropped),
      T(test_history_with_the_database_away_is_503),
      T(test_transcript_is_answered_once_the_messages_come),
      T(test_transcript_left_while_gathered_is_dropped),
      T(test_message_delete_left_while_waiting_still_deletes),
      T(test_message_delete_of_no_message_is_404_when_the_store_says_so),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
