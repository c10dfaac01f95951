/* Code room documents (src/rooms/doc.h) with a store that answers on a
 * later turn, as PostgreSQL does: the document's store calls are held (the
 * link wraps them, see CMakeLists.txt) and answered by the test, by the
 * real SQLite engine or with a failure, when it chooses. Opens while a
 * load is under way share it; a push while an append is in flight waits
 * behind it; a store that cannot be reached applies nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rooms/doc.h"
#include "rooms/room.h"
#include "store/store.h"
#include "temp_store.h"

enum call_kind { CALL_SNAPSHOT, CALL_UPDATES_LIST, CALL_APPEND };

#define HELD_ROWS 4

/* A held call, with copies of what it was given (the store copies its
 * inputs before returning; so must this stand-in). */
struct call {
  enum call_kind kind;
  struct store *s;
  void *cb, *ctx;
  char room_id[STORE_ID_LEN + 1];
  int64_t after;
  int limit;
  size_t count;
  struct doc_update_row rows[HELD_ROWS];
  char client_ids[HELD_ROWS][DOC_CLIENT_ID_MAX + 1];
  char changes[HELD_ROWS][256];
  struct call *next;
};

static struct call *held, **held_tail = &held;
static int held_count;

void __real_store_doc_snapshot_latest(struct store *s, const char *room_id,
                                      store_doc_snapshot_cb cb, void *ctx);
void __real_store_doc_updates_list(struct store *s, const char *room_id, int64_t after, int limit,
                                   store_doc_update_cb each, void *ctx);
void __real_store_doc_updates_append(struct store *s, const char *room_id,
                                     const struct doc_update_row *rows, size_t count,
                                     store_done_cb cb, void *ctx);

static struct call *hold(enum call_kind kind, struct store *s, const char *room_id, void *cb,
                         void *ctx) {
  struct call *c = calloc(1, sizeof *c);
  assert_non_null(c);
  *c = (struct call){.kind = kind, .s = s, .cb = cb, .ctx = ctx};
  snprintf(c->room_id, sizeof c->room_id, "%s", room_id);
  *held_tail = c;
  held_tail = &c->next;
  held_count++;
  return c;
}

void __wrap_store_doc_snapshot_latest(struct store *s, const char *room_id,
                                      store_doc_snapshot_cb cb, void *ctx) {
  hold(CALL_SNAPSHOT, s, room_id, (void *)cb, ctx);
}

void __wrap_store_doc_updates_list(struct store *s, const char *room_id, int64_t after, int limit,
                                   store_doc_update_cb each, void *ctx) {
  struct call *c = hold(CALL_UPDATES_LIST, s, room_id, (void *)each, ctx);
  c->after = after;
  c->limit = limit;
}

void __wrap_store_doc_updates_append(struct store *s, const char *room_id,
                                     const struct doc_update_row *rows, size_t count,
                                     store_done_cb cb, void *ctx) {
  struct call *c = hold(CALL_APPEND, s, room_id, (void *)cb, ctx);
  assert_true(count <= HELD_ROWS);
  c->count = count;
  for (size_t i = 0; i < count; i++) {
    assert_true(rows[i].changes_len < sizeof c->changes[i]);
    c->rows[i] = rows[i];
    snprintf(c->client_ids[i], sizeof c->client_ids[i], "%s", rows[i].client_id);
    memcpy(c->changes[i], rows[i].changes, rows[i].changes_len);
    c->rows[i].client_id = c->client_ids[i];
    c->rows[i].changes = c->changes[i];
  }
}

static struct call *take(void) {
  struct call *c = held;
  assert_non_null(c);
  held = c->next;
  if (!held)
    held_tail = &held;
  held_count--;
  return c;
}

/* Answers the oldest held call as the real engine does. */
static void answer_next(void) {
  struct call *c = take();
  switch (c->kind) {
  case CALL_SNAPSHOT:
    __real_store_doc_snapshot_latest(c->s, c->room_id, (store_doc_snapshot_cb)c->cb, c->ctx);
    break;
  case CALL_UPDATES_LIST:
    __real_store_doc_updates_list(c->s, c->room_id, c->after, c->limit, (store_doc_update_cb)c->cb,
                                  c->ctx);
    break;
  case CALL_APPEND:
    __real_store_doc_updates_append(c->s, c->room_id, c->rows, c->count, (store_done_cb)c->cb,
                                    c->ctx);
    break;
  }
  free(c);
}

/* Answers the oldest held call: the database cannot be reached. */
static void fail_next(void) {
  struct call *c = take();
  switch (c->kind) {
  case CALL_SNAPSHOT: ((store_doc_snapshot_cb)c->cb)(c->ctx, STORE_UNAVAILABLE, NULL); break;
  case CALL_UPDATES_LIST: ((store_doc_update_cb)c->cb)(c->ctx, STORE_UNAVAILABLE, NULL); break;
  case CALL_APPEND: ((store_done_cb)c->cb)(c->ctx, STORE_UNAVAILABLE); break;
  }
  free(c);
}

struct fixture {
  struct temp_store tmp;
  struct store *s; /* tmp.s */
  struct docs docs;
  struct room_row room;
};

static void note(void *ctx, int status) {
  *(int *)ctx = status;
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f || !temp_store_open(&f->tmp, NULL))
    return -1;
  f->s = f->tmp.s;
  struct doc_limits limits = {.max_bytes = 1024, .snapshot_every = 100};
  docs_init(&f->docs, f->s, &limits);
  *state = f;
  return temp_code_room(f->s, &f->room, "246810");
}

static int teardown(void **state) {
  struct fixture *f = *state;
  assert_int_equal(held_count, 0);
  docs_free(&f->docs);
  int rc = temp_store_close(&f->tmp);
  free(f);
  return rc;
}

struct opened {
  int calls, status;
  struct doc *doc;
};

static void on_open(void *ctx, int status, struct doc *d) {
  struct opened *o = ctx;
  o->calls++;
  o->status = status;
  o->doc = d;
}

/* The order answers came in, across requests. */
static int answer_order;

struct pushed {
  int calls, status, order;
  int64_t version_then;
};

static void on_push(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct pushed *p = ctx;
  p->calls++;
  p->status = res->status;
  p->order = ++answer_order;
  p->version_then = d->version;
}

static struct doc *open_loaded(struct fixture *f) {
  struct opened o = {0};
  doc_open_async(&f->docs, f->room.id, NULL, on_open, &o);
  while (held_count)
    answer_next();
  assert_int_equal(o.status, DOC_OK);
  return o.doc;
}

static void push_at(struct fixture *f, struct doc *d, int64_t version, const char *changes,
                    struct pushed *out) {
  json_t *j = json_loads(changes, JSON_DECODE_ANY, NULL);
  struct doc_update u = {"client", j};
  doc_push_async(&f->docs, d, version, &u, 1, on_push, out);
  json_decref(j);
}

static void test_doc_opens_while_loading_share_one_load(void **state) {
  struct fixture *f = *state;
  struct opened first = {0}, second = {0};
  doc_open_async(&f->docs, f->room.id, NULL, on_open, &first);
  doc_open_async(&f->docs, f->room.id, NULL, on_open, &second);
  assert_int_equal(held_count, 1); /* one snapshot read for both */
  assert_int_equal(first.calls + second.calls, 0);
  answer_next();                   /* the snapshot: none yet */
  assert_int_equal(held_count, 1); /* then the updates after it */
  answer_next();
  assert_int_equal(held_count, 0);
  assert_int_equal(first.status, DOC_OK);
  assert_int_equal(second.status, DOC_OK);
  assert_ptr_equal(first.doc, second.doc);
  assert_int_equal(first.doc->users, 2);
  doc_close(&f->docs, first.doc);
  doc_close(&f->docs, second.doc);
  assert_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
}

static void test_doc_load_that_fails_tells_every_opener(void **state) {
  struct fixture *f = *state;
  struct opened first = {0}, second = {0};
  doc_open_async(&f->docs, f->room.id, NULL, on_open, &first);
  doc_open_async(&f->docs, f->room.id, NULL, on_open, &second);
  fail_next();
  assert_int_equal(first.status, DOC_STORE_FAILED);
  assert_int_equal(second.status, DOC_STORE_FAILED);
  assert_null(first.doc);
  assert_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
}

static void test_doc_push_while_an_append_is_in_flight_waits_behind_it(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_loaded(f);
  struct pushed first = {0}, second = {0};
  push_at(f, d, 0, "[[0,\"one\"]]", &first);
  push_at(f, d, 0, "[[0,\"two\"]]", &second);
  assert_int_equal(held_count, 1); /* only the first append is in flight */
  assert_int_equal(d->version, 0); /* nothing counts before the store took it */
  assert_string_equal(d->text, "");
  answer_next();
  assert_int_equal(held_count, 0); /* the second was stale once its turn came */
  assert_int_equal(first.status, DOC_OK);
  assert_int_equal(second.status, DOC_STALE);
  assert_true(first.order < second.order);
  assert_int_equal(d->version, 1);
  assert_string_equal(d->text, "one");
  doc_close(&f->docs, d);
}

static void test_doc_push_rebased_while_in_flight_applies_after_it(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_loaded(f);
  struct pushed first = {0}, second = {0};
  push_at(f, d, 0, "[[0,\"ab\"]]", &first);
  push_at(f, d, 1, "[2,[0,\"c\"]]", &second); /* made on top of the first */
  answer_next();
  assert_int_equal(first.status, DOC_OK);
  assert_int_equal(second.calls, 0);
  assert_int_equal(held_count, 1);
  answer_next();
  assert_int_equal(second.status, DOC_OK);
  assert_int_equal(second.version_then, 2);
  assert_string_equal(d->text, "abc");
  doc_close(&f->docs, d);
}

static void test_doc_push_the_store_cannot_take_applies_nothing(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_loaded(f);
  struct pushed p = {0};
  push_at(f, d, 0, "[[0,\"lost\"]]", &p);
  fail_next();
  assert_int_equal(p.status, DOC_STORE_FAILED);
  assert_int_equal(d->version, 0);
  assert_string_equal(d->text, "");
  struct pushed again = {0}; /* the same push, once the store is back */
  push_at(f, d, 0, "[[0,\"kept\"]]", &again);
  answer_next();
  assert_int_equal(again.status, DOC_OK);
  assert_string_equal(d->text, "kept");
  doc_close(&f->docs, d);
}

static void test_doc_closed_by_its_users_while_an_append_is_in_flight_waits_for_it(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_loaded(f);
  struct pushed p = {0};
  push_at(f, d, 0, "[[0,\"last words\"]]", &p);
  doc_close(&f->docs, d); /* its member left: the push holds the document */
  assert_non_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
  answer_next();
  assert_int_equal(p.status, DOC_OK);
  assert_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
  struct doc *again = open_loaded(f);
  assert_string_equal(again->text, "last words");
  doc_close(&f->docs, again);
}

/* Another instance tells of an update while this one loads, after the
 * load's read missed it: the load reads once more before openers hear. */
static void test_doc_loading_told_of_an_update_reads_once_more(void **state) {
  struct fixture *f = *state;
  struct opened o = {0};
  doc_open_async(&f->docs, f->room.id, NULL, on_open, &o);
  answer_next(); /* the snapshot: none yet; the updates' read is held */
  struct doc *loading = docs_find(&f->docs, f->room.id, STORE_ID_LEN);
  assert_non_null(loading);
  json_t *told = json_loads("[{\"clientID\":\"other\",\"changes\":[[0,\"hi\"]]}]", 0, NULL);
  assert_int_equal(doc_follow(&f->docs, loading, 0, 1, told), DOC_UNCHANGED);
  json_decref(told);
  answer_next(); /* read before the other instance's update was stored */
  assert_int_equal(o.calls, 0);
  assert_int_equal(held_count, 1); /* once more */
  struct doc_update_row row = {
      .version = 1, .client_id = "other", .changes = "[[0,\"hi\"]]", .changes_len = 10};
  int status = 1;
  __real_store_doc_updates_append(f->s, f->room.id, &row, 1, note, &status);
  assert_int_equal(status, STORE_OK);
  while (held_count)
    answer_next();
  assert_int_equal(o.status, DOC_OK);
  assert_int_equal(o.doc->version, 1);
  assert_string_equal(o.doc->text, "hi");
  doc_close(&f->docs, o.doc);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_doc_opens_while_loading_share_one_load),
      T(test_doc_load_that_fails_tells_every_opener),
      T(test_doc_push_while_an_append_is_in_flight_waits_behind_it),
      T(test_doc_push_rebased_while_in_flight_applies_after_it),
      T(test_doc_push_the_store_cannot_take_applies_nothing),
      T(test_doc_closed_by_its_users_while_an_append_is_in_flight_waits_for_it),
      T(test_doc_loading_told_of_an_update_reads_once_more),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
