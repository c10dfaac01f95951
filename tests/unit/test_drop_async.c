/* The drop routes with a store that answers on a later turn of the loop,
 * as PostgreSQL does: the store calls they make are held in a queue (the
 * link wraps them, see CMakeLists.txt) and answered by the test, by the
 * real SQLite engine, when it chooses: after the client went away, or
 * with the database unreachable. LeakSanitizer checks that every state is
 * freed on every path. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/app.h"
#include "http_harness.h"
#include "rooms/room.h"
#include "store/blobs.h"
#include "store/store.h"
#include "temp_store.h"
#include "util/timefmt.h"

/* ------------------------------------------------------------------------
 * The held store calls */

enum call_kind {
  CALL_ROOM_GET,
  CALL_ROOM_BYTES,
  CALL_ITEM_INSERT,
  CALL_ITEMS_LIST,
  CALL_ITEM_GET,
  CALL_ITEM_DELETE,
  CALL_ROOM_DELETE,
  CALL_ROOM_INSERT,
  CALL_SESSIONS_EXPIRED,
  CALL_REFERRERS_PRUNE,
  CALL_ROOMS_EXPIRED,
  CALL_REFERRER_VISIT,
  CALL_REFERRERS_SINCE,
  CALL_KINDS
};

struct call {
  enum call_kind kind;
  struct store *s;
  void *cb, *ctx;
  char key[STORE_ID_LEN + 1], item_id[STORE_ID_LEN + 1];
  size_t key_len;
  int64_t after;
  int limit;
  struct item_row item; /* its strings copied below */
  char alias[80], text[256], file_name[256], content_type[128], sha256[65];
  struct room_row room; /* its strings copied below */
  char title[256], kind_name[16], language[40];
  struct call *next;
};

static struct call *held, **held_tail = &held;
static int calls[CALL_KINDS]; /* made, by kind */
/* The next fail_count calls of kind fail_kind answer fail_status instead. */
static int fail_kind = -1, fail_status, fail_count;

static void fail_next(enum call_kind kind, int status, int count) {
  fail_kind = (int)kind;
  fail_status = status;
  fail_count = count;
}

void __real_store_room_get(struct store *s, const char *key, size_t len, store_room_cb cb,
                           void *ctx);
void __real_store_room_bytes(struct store *s, const char *room_id,
                             void (*cb)(void *ctx, int status, int64_t bytes), void *ctx);
void __real_store_item_insert(struct store *s, const struct item_row *item, store_id_cb cb,
                              void *ctx);
void __real_store_items_list(struct store *s, const char *room_id, int64_t after, int limit,
                             store_items_cb each, void *ctx);
void __real_store_item_get(struct store *s, const char *room_id, const char *item_id,
                           store_item_cb cb, void *ctx);
void __real_store_item_delete(struct store *s, const char *room_id, const char *item_id,
                              store_done_cb cb, void *ctx);
void __real_store_room_delete(struct store *s, const char *id, store_done_cb cb, void *ctx);
void __real_store_room_insert(struct store *s, const struct room_row *room, store_done_cb cb,
                              void *ctx);
void __real_store_sessions_expired_delete(struct store *s, int64_t now, store_done_cb cb,
                                          void *ctx);
void __real_store_referrers_prune(struct store *s, const char *before, store_done_cb cb, void *ctx);
void __real_store_rooms_expired(struct store *s, int64_t now, int limit, store_room_cb each,
                                void *ctx);
void __real_store_referrer_visit(struct store *s, const char *day, const char *ref, int max_refs,
                                 store_done_cb cb, void *ctx);
void __real_store_referrers_since(struct store *s, const char *since, store_referrers_cb each,
                                  void *ctx);

static struct call *hold(enum call_kind kind, struct store *s, void *cb, void *ctx, const char *key,
                         size_t key_len) {
  struct call *c = calloc(1, sizeof *c);
  assert_non_null(c);
  assert_true(key_len < sizeof c->key);
  *c = (struct call){.kind = kind, .s = s, .cb = cb, .ctx = ctx, .key_len = key_len};
  memcpy(c->key, key, key_len);
  calls[kind]++;
  *held_tail = c;
  held_tail = &c->next;
  return c;
}

static void copy_text(char *out, size_t cap, const char *in, size_t len) {
  assert_true(len < cap);
  memcpy(out, in, len);
  out[len] = '\0';
}

/* A copy of a string the call was given (NULL stays NULL). */
#define KEEP(field, in) keep(field, sizeof field, in)
static const char *keep(char *out, size_t cap, const char *in) {
  if (!in)
    return NULL;
  copy_text(out, cap, in, strlen(in));
  return out;
}

void __wrap_store_room_get(struct store *s, const char *key, size_t len, store_room_cb cb,
                           void *ctx) {
  hold(CALL_ROOM_GET, s, (void *)cb, ctx, key, len);
}

void __wrap_store_room_bytes(struct store *s, const char *room_id,
                             void (*cb)(void *ctx, int status, int64_t bytes), void *ctx) {
  hold(CALL_ROOM_BYTES, s, (void *)cb, ctx, room_id, strlen(room_id));
}

void __wrap_store_item_insert(struct store *s, const struct item_row *it, store_id_cb cb,
                              void *ctx) {
  struct call *c = hold(CALL_ITEM_INSERT, s, (void *)cb, ctx, "", 0);
  c->item = *it;
  c->item.alias = KEEP(c->alias, it->alias);
  c->item.file_name = KEEP(c->file_name, it->file_name);
  c->item.content_type = KEEP(c->content_type, it->content_type);
  c->item.sha256 = KEEP(c->sha256, it->sha256);
  if (it->text) {
    copy_text(c->text, sizeof c->text, it->text, it->text_len);
    c->item.text = c->text;
  }
}

void __wrap_store_items_list(struct store *s, const char *room_id, int64_t after, int limit,
                             store_items_cb each, void *ctx) {
  struct call *c = hold(CALL_ITEMS_LIST, s, (void *)each, ctx, room_id, strlen(room_id));
  c->after = after;
  c->limit = limit;
}

void __wrap_store_item_get(struct store *s, const char *room_id, const char *item_id,
                           store_item_cb cb, void *ctx) {
  struct call *c = hold(CALL_ITEM_GET, s, (void *)cb, ctx, room_id, strlen(room_id));
  copy_text(c->item_id, sizeof c->item_id, item_id, strlen(item_id));
}

void __wrap_store_item_delete(struct store *s, const char *room_id, const char *item_id,
                              store_done_cb cb, void *ctx) {
  struct call *c = hold(CALL_ITEM_DELETE, s, (void *)cb, ctx, room_id, strlen(room_id));
  copy_text(c->item_id, sizeof c->item_id, item_id, strlen(item_id));
}

void __wrap_store_room_delete(struct store *s, const char *id, store_done_cb cb, void *ctx) {
  hold(CALL_ROOM_DELETE, s, (void *)cb, ctx, id, strlen(id));
}

void __wrap_store_room_insert(struct store *s, const struct room_row *room, store_done_cb cb,
                              void *ctx) {
  struct call *c = hold(CALL_ROOM_INSERT, s, (void *)cb, ctx, "", 0);
  c->room = *room;
  c->room.title = KEEP(c->title, room->title);
  c->room.kind = KEEP(c->kind_name, room->kind);
  c->room.language = KEEP(c->language, room->language);
  assert_null(room->password_hash);
}

void __wrap_store_sessions_expired_delete(struct store *s, int64_t now, store_done_cb cb,
                                          void *ctx) {
  hold(CALL_SESSIONS_EXPIRED, s, (void *)cb, ctx, "", 0)->after = now;
}

void __wrap_store_referrers_prune(struct store *s, const char *before, store_done_cb cb,
                                  void *ctx) {
  hold(CALL_REFERRERS_PRUNE, s, (void *)cb, ctx, before, strlen(before));
}

void __wrap_store_rooms_expired(struct store *s, int64_t now, int limit, store_room_cb each,
                                void *ctx) {
  struct call *c = hold(CALL_ROOMS_EXPIRED, s, (void *)each, ctx, "", 0);
  c->after = now;
  c->limit = limit;
}

void __wrap_store_referrer_visit(struct store *s, const char *day, const char *ref, int max_refs,
                                 store_done_cb cb, void *ctx) {
  struct call *c = hold(CALL_REFERRER_VISIT, s, (void *)cb, ctx, day, strlen(day));
  copy_text(c->text, sizeof c->text, ref, strlen(ref));
  c->limit = max_refs;
}

void __wrap_store_referrers_since(struct store *s, const char *since, store_referrers_cb each,
                                  void *ctx) {
  hold(CALL_REFERRERS_SINCE, s, (void *)each, ctx, since, strlen(since));
}

/* A failure (the database unreachable, a code taken): the callback hears
 * so at once. */
static void answer_failed(struct call *c, int st) {
  switch (c->kind) {
  case CALL_ROOM_GET:
  case CALL_ROOMS_EXPIRED: ((store_room_cb)c->cb)(c->ctx, st, NULL); break;
  case CALL_ROOM_BYTES: ((void (*)(void *, int, int64_t))c->cb)(c->ctx, st, 0); break;
  case CALL_ITEM_INSERT: ((store_id_cb)c->cb)(c->ctx, st, 0); break;
  case CALL_ITEMS_LIST:
  case CALL_ITEM_GET: ((store_item_cb)c->cb)(c->ctx, st, NULL); break;
  case CALL_REFERRERS_SINCE: ((store_referrers_cb)c->cb)(c->ctx, st, NULL, NULL, 0); break;
  default: ((store_done_cb)c->cb)(c->ctx, st); break;
  }
}

static void answer(struct call *c) {
  switch (c->kind) {
  case CALL_ROOM_GET:
    __real_store_room_get(c->s, c->key, c->key_len, (store_room_cb)c->cb, c->ctx);
    break;
  case CALL_ROOM_BYTES:
    __real_store_room_bytes(c->s, c->key, (void (*)(void *, int, int64_t))c->cb, c->ctx);
    break;
  case CALL_ITEM_INSERT:
    __real_store_item_insert(c->s, &c->item, (store_id_cb)c->cb, c->ctx);
    break;
  case CALL_ITEMS_LIST:
    __real_store_items_list(c->s, c->key, c->after, c->limit, (store_items_cb)c->cb, c->ctx);
    break;
  case CALL_ITEM_GET:
    __real_store_item_get(c->s, c->key, c->item_id, (store_item_cb)c->cb, c->ctx);
    break;
  case CALL_ITEM_DELETE:
    __real_store_item_delete(c->s, c->key, c->item_id, (store_done_cb)c->cb, c->ctx);
    break;
  case CALL_ROOM_DELETE:
    __real_store_room_delete(c->s, c->key, (store_done_cb)c->cb, c->ctx);
    break;
  case CALL_ROOM_INSERT:
    __real_store_room_insert(c->s, &c->room, (store_done_cb)c->cb, c->ctx);
    break;
  case CALL_SESSIONS_EXPIRED:
    __real_store_sessions_expired_delete(c->s, c->after, (store_done_cb)c->cb, c->ctx);
    break;
  case CALL_REFERRERS_PRUNE:
    __real_store_referrers_prune(c->s, c->key, (store_done_cb)c->cb, c->ctx);
    break;
  case CALL_ROOMS_EXPIRED:
    __real_store_rooms_expired(c->s, c->after, c->limit, (store_room_cb)c->cb, c->ctx);
    break;
  case CALL_REFERRER_VISIT:
    __real_store_referrer_visit(c->s, c->key, c->text, c->limit, (store_done_cb)c->cb, c->ctx);
    break;
  case CALL_REFERRERS_SINCE:
    __real_store_referrers_since(c->s, c->key, (store_referrers_cb)c->cb, c->ctx);
    break;
  case CALL_KINDS: break;
  }
}

/* Answers the oldest held call (which may make new ones). */
static void answer_one(void) {
  struct call *c = held;
  held = c->next;
  if (!held)
    held_tail = &held;
  if ((int)c->kind == fail_kind && fail_count > 0) {
    fail_count--;
    answer_failed(c, fail_status);
  } else {
    answer(c);
  }
  free(c);
}

/* ------------------------------------------------------------------------
 * A server with the real routes, app and SQLite store */

struct fixture {
  struct harness h;
  struct app app;
  struct temp_store tmp; /* the store (app.store) and the data directory */
  char room_id[STORE_ID_LEN + 1];
  char token[ROOM_TOKEN_LEN + 1];
};

static void room_made(void *ctx, int status) {
  *(int *)ctx = status;
}

static void room_found(void *ctx, int status, const struct room_row *room) {
  *(int *)ctx = status;
}

static int setup_with_ttl(void **state, uint64_t room_ttl_ms) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f)
    return -1;
  char err[256];
  if (harness_init(&f->h) < 0 || !temp_store_open(&f->tmp, &f->h.loop))
    return -1;
  f->app.store = f->tmp.s;
  f->h.cfg.data_dir = f->tmp.dir;
  f->h.cfg.min_free_disk = 0;
  f->h.cfg.room_ttl_ms = room_ttl_ms;
  f->h.cfg.admin_token = "secret";
  if (app_init(&f->app, &f->h.loop, &f->h.cfg, f->app.store, err, sizeof err))
    return -1;
  if (harness_start(&f->h, app_routes, app_route_count, &f->app) < 0)
    return -1;
  struct room_row room = {.kind = "drop", .created_at = time_now_ms()};
  room.expires_at = room.created_at + 3600000;
  room_new_id(room.id);
  room_new_code(room.code);
  room_new_owner_token(f->token, room.owner_token_hash);
  memcpy(f->room_id, room.id, sizeof f->room_id);
  int status = STORE_FAILED;
  __real_store_room_insert(f->app.store, &room, room_made, &status);
  *state = f;
  return status;
}

static int setup(void **state) {
  return setup_with_ttl(state, 3600000);
}

/* Rooms live a second: the sweeper ticks every 250 ms. */
static int setup_fast_sweep(void **state) {
  return setup_with_ttl(state, 1000);
}

static int teardown(void **state) {
  struct fixture *f = *state;
  int rc = held ? -1 : 0; /* every call was answered */
  while (held)
    answer_one();
  app_stop(&f->app);
  if (harness_free(&f->h) < 0)
    rc = -1;
  app_free(&f->app);
  if (temp_store_close(&f->tmp) < 0)
    rc = -1;
  free(f);
  fail_count = 0;
  memset(calls, 0, sizeof calls);
  return rc;
}

/* Runs the loop, answering held calls, until the oldest held call is of
 * this kind (files reach the disk on the thread pool meanwhile). */
static void answer_until(struct fixture *f, enum call_kind kind) {
  for (int i = 0; i < 2000 && !(held && held->kind == kind); i++) {
    if (held) {
      answer_one();
      harness_run(&f->h);
    } else {
      harness_run_for(&f->h, 5);
    }
  }
  assert_non_null(held);
  assert_int_equal(held->kind, kind);
}

static void answer_all(struct fixture *f) {
  for (int i = 0; i < 2000 && held; i++) {
    answer_one();
    harness_run(&f->h);
  }
  assert_null(held);
}

/* The request goes away while it waits. A waiting request's connection
 * reads nothing (the answer comes first), so the client closing its end is
 * not seen: the server drops the connection instead, as at shutdown. */
static void drop_connection(struct fixture *f) {
  harness_close_client(&f->h);
  for (int cls = 0; cls < TIMEOUT_CLASSES; cls++)
    while (f->h.srv.list_head[cls])
      conn_close(f->h.srv.list_head[cls]);
  harness_run(&f->h);
}

static void send_text(struct fixture *f, const char *text) {
  assert_int_equal(harness_feed(&f->h, text, strlen(text)), strlen(text));
}

static void post_text(struct fixture *f, const char *json) {
  char req[512];
  snprintf(req, sizeof req,
           "POST /api/rooms/%s/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           f->room_id, strlen(json), json);
  send_text(f, req);
}

static const char two_files[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "AAAA\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\n"
    "BBBBBB\r\n"
    "--XyZ--\r\n";

static void post_two_files(struct fixture *f) {
  char req[1024];
  snprintf(req, sizeof req,
           "POST /api/rooms/%s/items HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %zu\r\n\r\n%s",
           f->room_id, sizeof two_files - 1, two_files);
  send_text(f, req);
}

static const char *response(struct fixture *f) {
  static char out[8192];
  harness_read_all(&f->h, out, sizeof out);
  return out;
}

/* Answers held calls and runs the loop (files reach the disk on the thread
 * pool meanwhile) until the server wrote `want`; returns what it wrote. */
static const char *answer_until_reply(struct fixture *f, const char *want) {
  static char out[8192];
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < 2000 && !strstr(out, want); i++) {
    if (held) {
      answer_one();
      harness_run(&f->h);
    } else {
      harness_run_for(&f->h, 5);
    }
    len += harness_read_all(&f->h, out + len, sizeof out - len);
  }
  assert_non_null(strstr(out, want));
  return out;
}

struct rows {
  int count, files;
  char ids[8][STORE_ID_LEN + 1];
};

static void count_row(void *ctx, int status, const struct item_row *it) {
  struct rows *rows = ctx;
  if (!it)
    return;
  if (rows->count < 8)
    memcpy(rows->ids[rows->count], it->id, STORE_ID_LEN + 1);
  rows->count++;
  rows->files += it->kind == ITEM_FILE;
}

static struct rows rows_of(struct fixture *f) {
  struct rows rows = {0};
  __real_store_items_list(f->app.store, f->room_id, 0, 100, count_row, &rows);
  return rows;
}

static bool blob_exists(const char *id) {
  char path[4200];
  return blobs_path(id, path, sizeof path) == 0 && access(path, F_OK) == 0;
}

/* Files under blobs/ and blobs/tmp/. */
static int blob_files(struct fixture *f) {
  int n = 0;
  const char *sub[] = {"blobs", "blobs/tmp"};
  for (int i = 0; i < 2; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->tmp.dir, sub[i]);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));)
      n += e->d_type == DT_REG;
    if (d)
      closedir(d);
  }
  return n;
}

/* ------------------------------------------------------------------------
 * The tests */

static void test_text_item_is_answered_when_the_store_answers_later(void **state) {
  struct fixture *f = *state;
  post_text(f, "{\"text\":\"hello\"}");
  assert_string_equal(response(f), ""); /* the room is still being looked up */
  answer_until(f, CALL_ITEM_INSERT);
  assert_string_equal(response(f), "");
  answer_all(f);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 201 "));
  assert_non_null(strstr(out, "\"seq\":1"));
  assert_non_null(strstr(out, "\"text\":\"hello\""));
  assert_int_equal(rows_of(f).count, 1);
}

static void test_files_are_answered_once_every_row_is_in(void **state) {
  struct fixture *f = *state;
  post_two_files(f);
  answer_until(f, CALL_ITEM_INSERT);
  answer_one(); /* the first row */
  harness_run(&f->h);
  assert_string_equal(response(f), "");
  answer_all(f);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 201 "));
  assert_non_null(strstr(out, "\"file_name\":\"a.txt\""));
  assert_non_null(strstr(out, "\"file_name\":\"b.txt\""));
  struct rows rows = rows_of(f);
  assert_int_equal(rows.files, 2);
  assert_true(blob_exists(rows.ids[0]) && blob_exists(rows.ids[1]));
}

static void test_files_get_their_rows_after_the_client_went_away(void **state) {
  struct fixture *f = *state;
  post_two_files(f);
  answer_until(f, CALL_ITEM_INSERT); /* both files are whole on disk */
  drop_connection(f);
  answer_all(f);
  struct rows rows = rows_of(f);
  assert_int_equal(rows.files, 2);
  assert_true(blob_exists(rows.ids[0]) && blob_exists(rows.ids[1]));
  assert_int_equal(blob_files(f), 2);
}

static void test_a_failed_row_takes_its_file_and_the_next_ones_away(void **state) {
  struct fixture *f = *state;
  post_two_files(f);
  answer_until(f, CALL_ITEM_INSERT);
  answer_one(); /* a.txt's row is in */
  harness_run(&f->h);
  fail_next(CALL_ITEM_INSERT, STORE_UNAVAILABLE, 1);
  answer_all(f);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 503 "));
  assert_non_null(strstr(out, "storage_unavailable"));
  struct rows rows = rows_of(f);
  assert_int_equal(rows.files, 1);
  assert_true(blob_exists(rows.ids[0]));
  assert_int_equal(blob_files(f), 1); /* b.txt's file went with its row */
}

static void test_body_that_came_with_the_headers_waits_for_the_room(void **state) {
  struct fixture *f = *state;
  char req[512];
  snprintf(req, sizeof req,
           "POST /api/rooms/%s/items HTTP/1.1\r\nHost: x\r\nX-Filename: raw.bin\r\n"
           "Content-Length: 10\r\n\r\n0123456789",
           f->room_id);
  send_text(f, req);
  answer_until_reply(f, "HTTP/1.1 201 ");
  struct rows rows = rows_of(f);
  assert_int_equal(rows.files, 1);
  char path[4200];
  assert_int_equal(blobs_path(rows.ids[0], path, sizeof path), 0);
  FILE *file = fopen(path, "rb");
  assert_non_null(file);
  char got[32] = {0};
  assert_int_equal(fread(got, 1, sizeof got, file), 10);
  fclose(file);
  assert_string_equal(got, "0123456789");
}

static void test_upload_left_during_the_room_lookup_leaves_nothing(void **state) {
  struct fixture *f = *state;
  char req[512];
  snprintf(req, sizeof req,
           "POST /api/rooms/%s/items HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123",
           f->room_id);
  send_text(f, req);
  assert_int_equal(held->kind, CALL_ROOM_GET);
  drop_connection(f);
  answer_all(f);
  assert_int_equal(rows_of(f).count, 0);
  assert_int_equal(blob_files(f), 0);
}

static void test_upload_to_no_room_is_refused_when_the_lookup_answers(void **state) {
  struct fixture *f = *state;
  char req[512];
  snprintf(req, sizeof req,
           "POST /api/rooms/AAAAAAAAAAAAAAAAAAAAAA/items HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 100000\r\n\r\n0123");
  send_text(f, req);
  answer_all(f);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 404 "));
  assert_non_null(strstr(out, "room_not_found"));
  assert_non_null(strstr(out, "Connection: close"));
}

/* A room with one text item, and a request for its list. */
static void list_after_one_item(struct fixture *f, const char *query) {
  post_text(f, "{\"text\":\"one\"}");
  answer_until_reply(f, "HTTP/1.1 201 ");
  char req[256];
  snprintf(req, sizeof req, "GET /api/rooms/%s/items%s HTTP/1.1\r\nHost: x\r\n\r\n", f->room_id,
           query);
  send_text(f, req);
}

static void test_list_whose_client_went_away_is_dropped(void **state) {
  struct fixture *f = *state;
  list_after_one_item(f, "");
  answer_until(f, CALL_ITEMS_LIST); /* the room was found */
  drop_connection(f);
  answer_all(f);
}

static void test_list_is_answered_when_the_store_answers_later(void **state) {
  struct fixture *f = *state;
  list_after_one_item(f, "?limit=1");
  answer_all(f);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 200 "));
  assert_non_null(strstr(out, "\"text\":\"one\""));
  assert_non_null(strstr(out, "\"next_after\":null"));
}

static void test_item_delete_removes_the_file_after_the_client_went_away(void **state) {
  struct fixture *f = *state;
  post_two_files(f);
  answer_until_reply(f, "HTTP/1.1 201 ");
  struct rows rows = rows_of(f);
  assert_int_equal(rows.files, 2);
  char req[256];
  snprintf(req, sizeof req, "DELETE /api/rooms/%s/items/%s HTTP/1.1\r\nHost: x\r\n\r\n", f->room_id,
           rows.ids[0]);
  send_text(f, req);
  answer_until(f, CALL_ITEM_DELETE);
  drop_connection(f);
  answer_all(f);
  assert_int_equal(rows_of(f).files, 1);
  assert_false(blob_exists(rows.ids[0]));
  assert_true(blob_exists(rows.ids[1]));
}

static void test_room_delete_answers_once_files_and_rows_are_gone(void **state) {
  struct fixture *f = *state;
  post_two_files(f);
  answer_until_reply(f, "HTTP/1.1 201 ");
  char req[256];
  snprintf(req, sizeof req,
           "DELETE /api/rooms/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
           f->room_id, f->token);
  send_text(f, req);
  answer_until(f, CALL_ROOM_DELETE);
  assert_int_equal(blob_files(f), 0); /* files first */
  assert_string_equal(response(f), "");
  answer_all(f);
  assert_non_null(strstr(response(f), "HTTP/1.1 204 "));
  assert_int_equal(rows_of(f).count, 0);
}

static void test_room_delete_goes_on_after_the_client_went_away(void **state) {
  struct fixture *f = *state;
  char req[256];
  snprintf(req, sizeof req,
           "DELETE /api/rooms/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
           f->room_id, f->token);
  send_text(f, req);
  answer_until(f, CALL_ITEMS_LIST);
  drop_connection(f);
  answer_all(f);
  int status = STORE_OK;
  __real_store_room_get(f->app.store, f->room_id, STORE_ID_LEN, room_found, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
}

static void test_unreachable_store_answers_503_for_a_room(void **state) {
  struct fixture *f = *state;
  char req[256];
  snprintf(req, sizeof req, "GET /api/rooms/%s HTTP/1.1\r\nHost: x\r\n\r\n", f->room_id);
  send_text(f, req);
  fail_next(CALL_ROOM_GET, STORE_UNAVAILABLE, 1);
  answer_all(f);
  const char *out = response(f);
  assert_non_null(strstr(out, "HTTP/1.1 503 "));
  assert_non_null(strstr(out, "storage_unavailable"));
}

static void test_room_create_draws_a_new_code_when_taken(void **state) {
  struct fixture *f = *state;
  send_text(f, "POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  fail_next(CALL_ROOM_INSERT, STORE_CONFLICT, 2);
  const char *out = answer_until_reply(f, "HTTP/1.1 201 ");
  assert_int_equal(calls[CALL_ROOM_INSERT], 3);
  const char *id = strstr(out, "\"id\":\"");
  assert_non_null(id);
  int status = STORE_FAILED;
  __real_store_room_get(f->app.store, id + 6, STORE_ID_LEN, room_found, &status);
  assert_int_equal(status, STORE_OK);
}

static void test_room_create_draws_no_more_once_the_client_went_away(void **state) {
  struct fixture *f = *state;
  send_text(f, "POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(held->kind, CALL_ROOM_INSERT);
  drop_connection(f);
  fail_next(CALL_ROOM_INSERT, STORE_CONFLICT, 1);
  answer_all(f);
  assert_int_equal(calls[CALL_ROOM_INSERT], 1);
}

static void test_a_sweep_still_under_way_is_not_doubled(void **state) {
  struct fixture *f = *state;
  struct room_row room = {.kind = "drop", .created_at = time_now_ms() - 5000};
  room.expires_at = room.created_at + 1000;
  room_new_id(room.id);
  room_new_code(room.code);
  int status = STORE_FAILED;
  __real_store_room_insert(f->app.store, &room, room_made, &status);
  assert_int_equal(status, STORE_OK);
  harness_run_for(&f->h, 800); /* three ticks while the first sweep waits */
  assert_int_equal(calls[CALL_SESSIONS_EXPIRED], 1);
  answer_all(f);
  assert_int_equal(calls[CALL_ROOM_DELETE], 1);
  __real_store_room_get(f->app.store, room.id, STORE_ID_LEN, room_found, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
  __real_store_room_get(f->app.store, f->room_id, STORE_ID_LEN, room_found, &status);
  assert_int_equal(status, STORE_OK); /* the live room stays */
  harness_run_for(&f->h, 400);
  assert_true(calls[CALL_SESSIONS_EXPIRED] >= 2); /* the next tick sweeps again */
  answer_all(f);
}

static void post_visit(struct fixture *f) {
  static const char body[] = "{\"ref\":\"news\"}";
  char req[256];
  snprintf(req, sizeof req,
           "POST /api/set_track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           sizeof body - 1, body);
  send_text(f, req);
}

static void add_visits(void *ctx, int status, const char *day, const char *ref, int64_t visits) {
  if (day)
    *(int64_t *)ctx += visits;
}

static void test_a_visit_counts_after_the_client_went_away(void **state) {
  struct fixture *f = *state;
  post_visit(f);
  assert_int_equal(held->kind, CALL_REFERRER_VISIT);
  drop_connection(f);
  answer_all(f);
  int64_t visits = 0;
  __real_store_referrers_since(f->app.store, "2000-01-01", add_visits, &visits);
  assert_int_equal(visits, 1);
}

static void test_stats_are_answered_when_the_store_answers_later(void **state) {
  struct fixture *f = *state;
  post_visit(f);
  assert_non_null(strstr(answer_until_reply(f, "HTTP/1.1 200 "), "\"success\":true"));
  send_text(f, "GET /api/stats/referrers HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer secret\r\n\r\n");
  assert_int_equal(held->kind, CALL_REFERRERS_SINCE);
  assert_string_equal(response(f), "");
  const char *out = answer_until_reply(f, "HTTP/1.1 200 ");
  assert_non_null(strstr(out, "\"ref\":\"news\""));
  assert_non_null(strstr(out, "\"visits\":1"));
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_text_item_is_answered_when_the_store_answers_later),
      T(test_files_are_answered_once_every_row_is_in),
      T(test_files_get_their_rows_after_the_client_went_away),
      T(test_a_failed_row_takes_its_file_and_the_next_ones_away),
      T(test_body_that_came_with_the_headers_waits_for_the_room),
      T(test_upload_left_during_the_room_lookup_leaves_nothing),
      T(test_upload_to_no_room_is_refused_when_the_lookup_answers),
      T(test_list_whose_client_went_away_is_dropped),
      T(test_list_is_answered_when_the_store_answers_later),
      T(test_item_delete_removes_the_file_after_the_client_went_away),
      T(test_room_delete_answers_once_files_and_rows_are_gone),
      T(test_room_delete_goes_on_after_the_client_went_away),
      T(test_unreachable_store_answers_503_for_a_room),
      T(test_room_create_draws_a_new_code_when_taken),
      T(test_room_create_draws_no_more_once_the_client_went_away),
      cmocka_unit_test_setup_teardown(test_a_sweep_still_under_way_is_not_doubled, setup_fast_sweep,
                                      teardown),
      T(test_a_visit_counts_after_the_client_went_away),
      T(test_stats_are_answered_when_the_store_answers_later),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
