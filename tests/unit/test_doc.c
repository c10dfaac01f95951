/* The code room document authority (src/rooms/doc.h) over a real SQLite
 * store: versions, all-or-none pushes, whole texts, pulls, snapshots and
 * loading again after the document was let go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rooms/changeset.h"
#include "rooms/doc.h"
#include "rooms/room.h"
#include "store/store.h"
#include "temp_store.h"

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
  struct doc_limits limits = {.max_bytes = 64, .snapshot_every = 3};
  docs_init(&f->docs, f->s, &limits);
  *state = f;
  return temp_code_room(f->s, &f->room, "123456");
}

static int teardown(void **state) {
  struct fixture *f = *state;
  docs_free(&f->docs);
  int rc = temp_store_close(&f->tmp);
  free(f);
  return rc;
}

static struct doc *open_doc(struct fixture *f) {
  struct doc *d = NULL;
  assert_int_equal(doc_open(&f->docs, f->room.id, NULL, &d), DOC_OK);
  return d;
}

/* Pushes one update (changes as JSON text) at `version`. */
static int push(struct fixture *f, struct doc *d, int64_t version, const char *changes) {
  json_t *j = json_loads(changes, JSON_DECODE_ANY, NULL);
  struct doc_update u = {"client", j};
  struct doc_error err;
  int rc = doc_push(&f->docs, d, version, &u, 1, &err);
  json_decref(j);
  return rc;
}

static void test_doc_starts_empty_at_version_zero(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  assert_int_equal(d->version, 0);
  assert_string_equal(d->text, "");
  assert_string_equal(d->language, DOC_DEFAULT_LANGUAGE);
  doc_close(&f->docs, d);
}

static void test_doc_push_at_current_version_only(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  assert_int_equal(push(f, d, 0, "[[0,\"hello\"]]"), DOC_OK);
  assert_int_equal(d->version, 1);
  assert_int_equal(push(f, d, 0, "[[0,\"x\"]]"), DOC_STALE);
  assert_int_equal(push(f, d, 2, "[5,[0,\"x\"]]"), DOC_STALE);
  assert_string_equal(d->text, "hello");
  doc_close(&f->docs, d);
}

static void test_doc_push_is_all_or_none(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  json_t *good = json_loads("[[0,\"ab\"]]", 0, NULL), *bad = json_loads("[5]", 0, NULL);
  struct doc_update u[2] = {{"c", good}, {"c", bad}};
  struct doc_error err;
  assert_int_equal(doc_push(&f->docs, d, 0, u, 2, &err), DOC_BAD_UPDATE);
  assert_int_equal(err.index, 1);
  assert_int_equal(err.changeset_status, CHANGESET_LENGTH_MISMATCH);
  assert_int_equal(d->version, 0);
  assert_string_equal(d->text, "");
  json_decref(good);
  json_decref(bad);
  doc_close(&f->docs, d);
}

static void test_doc_refuses_carriage_returns_and_oversize(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  assert_int_equal(push(f, d, 0, "[[0,\"a\\rb\"]]"), DOC_BAD_UPDATE);
  char big[128];
  snprintf(big, sizeof big, "[[0,\"%065d\"]]", 0);      /* 65 bytes > 64 */
  assert_int_equal(push(f, d, 0, big), DOC_BAD_UPDATE); /* inserts more than the limit */
  assert_int_equal(push(f, d, 0, "[[0,\"0123456789012345678901234567890123456789\"]]"), DOC_OK);
  assert_int_equal(push(f, d, 1, "[40,[0,\"01234567890123456789012345\"]]"), DOC_TOO_LARGE);
  assert_int_equal(d->version, 1);
  doc_close(&f->docs, d);
}

static void test_doc_replace_makes_the_smallest_change(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  json_t *changes;
  assert_int_equal(doc_replace(&f->docs, d, "a\r\nb\rc", 6, "w", &changes), DOC_OK);
  assert_string_equal(d->text, "a\nb\nc");
  json_decref(changes);
  assert_int_equal(doc_replace(&f->docs, d, "a\nB\nc", 5, "w", &changes), DOC_OK);
  char *s = json_dumps(changes, JSON_COMPACT);
  assert_string_equal(s, "[2,[1,\"B\"],2]");
  free(s);
  json_decref(changes);
  assert_int_equal(doc_replace(&f->docs, d, "a\nB\nc", 5, "w", &changes), DOC_UNCHANGED);
  assert_null(changes);
  assert_int_equal(d->version, 2);
  doc_close(&f->docs, d);
}

struct pulled {
  int64_t versions[16];
  int count;
  bool ended;
};

static void on_pulled(void *ctx, int status, const struct doc_update_row *u) {
  struct pulled *p = ctx;
  if (!u) {
    p->ended = true;
    return;
  }
  p->versions[p->count++] = u->version;
}

static void test_doc_pull_gives_what_was_missed(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  assert_int_equal(push(f, d, 0, "[[0,\"a\"]]"), DOC_OK);
  assert_int_equal(push(f, d, 1, "[1,[0,\"b\"]]"), DOC_OK);
  struct pulled p = {0};
  assert_int_equal(doc_pull(&f->docs, d, 0, on_pulled, &p), DOC_OK);
  assert_int_equal(p.count, 2);
  assert_int_equal(p.versions[0], 1);
  assert_int_equal(p.versions[1], 2);
  assert_true(p.ended);
  struct pulled none = {0};
  assert_int_equal(doc_pull(&f->docs, d, 2, on_pulled, &none), DOC_OK);
  assert_int_equal(none.count, 0);
  assert_int_equal(doc_pull(&f->docs, d, 3, on_pulled, &none), DOC_BAD_VERSION);
  assert_int_equal(doc_pull(&f->docs, d, -1, on_pulled, &none), DOC_BAD_VERSION);
  doc_close(&f->docs, d);
}

static void test_doc_loads_again_from_snapshot_and_updates(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  /* Seven updates: snapshots at 3 and 6, one update after. */
  const char *changes[] = {"[[0,\"a\"]]",   "[1,[0,\"b\"]]",     "[2,[0,\"c\"]]", "[3,[0,\"😀\"]]",
                           "[[1,\"A\"],4]", "[5,[0,\"\",\"\"]]", "[6,[0,\"z\"]]"};
  for (int i = 0; i < 7; i++)
    assert_int_equal(push(f, d, i, changes[i]), DOC_OK);
  assert_int_equal(d->snapshot_version, 6);
  assert_string_equal(d->text, "Abc😀\nz");
  assert_int_equal(doc_set_language(&f->docs, d, "rust", 4), DOC_OK);
  doc_close(&f->docs, d); /* the last user: the document is let go */
  assert_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
  struct doc *again;
  assert_int_equal(doc_open(&f->docs, f->room.id, "rust", &again), DOC_OK);
  assert_int_equal(again->version, 7);
  assert_int_equal(again->snapshot_version, 6);
  assert_string_equal(again->text, "Abc😀\nz");
  assert_string_equal(again->language, "rust");
  doc_close(&f->docs, again);
}

static void test_doc_history_behind_the_snapshot_is_dropped(void **state) {
  struct fixture *f = *state;
  struct doc *d = open_doc(f);
  /* Alternately insert and delete one character, past the history kept. */
  int64_t n = DOC_HISTORY_KEPT + 10;
  for (int64_t v = 0; v < n; v++)
    assert_int_equal(push(f, d, v, v % 2 ? "[[1]]" : "[[0,\"x\"]]"), DOC_OK);
  /* The last snapshot is at a multiple of 3; history before it less
   * DOC_HISTORY_KEPT is gone, and so is a pull from version 0. */
  assert_int_equal(d->snapshot_version, n - n % 3);
  struct pulled p = {0};
  assert_int_equal(doc_pull(&f->docs, d, 0, on_pulled, &p), DOC_GONE);
  assert_int_equal(p.count, 0);
  struct pulled recent = {0};
  assert_int_equal(doc_pull(&f->docs, d, n - 5, on_pulled, &recent), DOC_OK);
  assert_int_equal(recent.count, 5);
  assert_int_equal(recent.versions[0], n - 4);
  doc_close(&f->docs, d);
}

static void test_doc_open_twice_shares_one_document(void **state) {
  struct fixture *f = *state;
  struct doc *a = open_doc(f), *b = open_doc(f);
  assert_ptr_equal(a, b);
  assert_int_equal(a->users, 2);
  doc_close(&f->docs, a);
  assert_non_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
  doc_close(&f->docs, b);
  assert_null(docs_find(&f->docs, f->room.id, STORE_ID_LEN));
}

static void test_doc_language_rule(void **state) {
  assert_true(doc_language_valid("c++", 3));
  assert_true(doc_language_valid("c#", 2));
  assert_true(doc_language_valid("objective-c", 11));
  assert_false(doc_language_valid("", 0));
  assert_false(doc_language_valid("no spaces", 9));
  assert_false(doc_language_valid("abcdefghijklmnopqrstuvwxyz0123456", 33));
}

static void test_store_refuses_an_unknown_room_kind(void **state) {
  struct fixture *f = *state;
  struct room_row r = {.created_at = 1, .expires_at = 1000, .kind = "chess"};
  room_new_id(r.id);
  strcpy(r.code, "654321");
  int status = 1;
  store_room_insert(f->s, &r, note, &status);
  assert_true(status < 0); /* the trigger's abort */
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_doc_starts_empty_at_version_zero),
      T(test_doc_push_at_current_version_only),
      T(test_doc_push_is_all_or_none),
      T(test_doc_refuses_carriage_returns_and_oversize),
      T(test_doc_replace_makes_the_smallest_change),
      T(test_doc_pull_gives_what_was_missed),
      T(test_doc_loads_again_from_snapshot_and_updates),
      T(test_doc_history_behind_the_snapshot_is_dropped),
      T(test_doc_open_twice_shares_one_document),
      cmocka_unit_test(test_doc_language_rule),
      T(test_store_refuses_an_unknown_room_kind),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
