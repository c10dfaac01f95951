/* Two tandem instances on one database (src/rooms/doc.h): each keeps its
 * own copy of a code room's document, the store decides which push takes
 * a version, and the instance that lost catches up from the store and
 * answers its client stale. Two `struct docs` on one SQLite store stand
 * for the two instances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rooms/doc.h"
#include "rooms/room.h"
#include "store/store.h"
#include "temp_store.h"

struct fixture {
  struct temp_store tmp;
  struct store *s; /* tmp.s */
  struct docs one, two;
  struct room_row room;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f || !temp_store_open(&f->tmp, NULL))
    return -1;
  f->s = f->tmp.s;
  struct doc_limits limits = {.max_bytes = 1024, .snapshot_every = 100};
  docs_init(&f->one, f->s, &limits);
  docs_init(&f->two, f->s, &limits);
  *state = f;
  return temp_code_room(f->s, &f->room, "654321");
}

static int teardown(void **state) {
  struct fixture *f = *state;
  docs_free(&f->one);
  docs_free(&f->two);
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

static struct doc *open_on(struct docs *docs, const char *room_id) {
  struct opened o = {0};
  doc_open_async(docs, room_id, NULL, on_open, &o);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, DOC_OK);
  return o.doc;
}

struct pushed {
  int calls, status;
  int64_t from, caught_up_from;
  size_t applied, caught_up;
  char *caught_up_json;
};

static void on_push(void *ctx, struct doc *d, const struct doc_push_result *res) {
  (void)d;
  struct pushed *p = ctx;
  p->calls++;
  p->status = res->status;
  p->from = res->from;
  p->applied = json_array_size(res->applied);
  p->caught_up = json_array_size(res->caught_up);
  p->caught_up_from = res->caught_up_from;
  p->caught_up_json = res->caught_up ? json_dumps(res->caught_up, JSON_COMPACT) : NULL;
}

static struct pushed push_at(struct docs *docs, struct doc *d, int64_t version,
                             const char *changes) {
  json_t *j = json_loads(changes, JSON_DECODE_ANY, NULL);
  struct doc_update u = {"client", j};
  struct pushed p = {0};
  doc_push_async(docs, d, version, &u, 1, on_push, &p);
  json_decref(j);
  assert_int_equal(p.calls, 1);
  return p;
}

static void test_doc_push_lost_to_another_instance_catches_up_and_is_stale(void **state) {
  struct fixture *f = *state;
  struct doc *a = open_on(&f->one, f->room.id), *b = open_on(&f->two, f->room.id);
  assert_ptr_not_equal(a, b);

  struct pushed won = push_at(&f->one, a, 0, "[[0,\"hello\"]]");
  assert_int_equal(won.status, DOC_OK);
  assert_int_equal(won.from, 0);
  assert_int_equal(won.applied, 1);
  free(won.caught_up_json);

  /* The second instance still believes the document is at 0. */
  assert_int_equal(b->version, 0);
  struct pushed lost = push_at(&f->two, b, 0, "[[0,\"world\"]]");
  assert_int_equal(lost.status, DOC_STALE);
  assert_int_equal(lost.caught_up, 1);
  assert_int_equal(lost.caught_up_from, 0);
  assert_string_equal(lost.caught_up_json,
                      "[{\"clientID\":\"client\",\"changes\":[[0,\"hello\"]]}]");
  free(lost.caught_up_json);
  assert_int_equal(b->version, 1);
  assert_string_equal(b->text, "hello");

  /* Rebased on what won, the push is taken by either instance's copy. */
  struct pushed rebased = push_at(&f->two, b, 1, "[5,[0,\" world\"]]");
  assert_int_equal(rebased.status, DOC_OK);
  free(rebased.caught_up_json);
  assert_string_equal(b->text, "hello world");
  doc_close(&f->one, a);
  doc_close(&f->two, b);

  struct doc *again = open_on(&f->one, f->room.id);
  assert_int_equal(again->version, 2);
  assert_string_equal(again->text, "hello world");
  doc_close(&f->one, again);
}

static void test_doc_replace_lost_to_another_instance_is_stale_then_applies(void **state) {
  struct fixture *f = *state;
  struct doc *a = open_on(&f->one, f->room.id), *b = open_on(&f->two, f->room.id);
  struct pushed won = push_at(&f->one, a, 0, "[[0,\"abc\"]]");
  assert_int_equal(won.status, DOC_OK);
  free(won.caught_up_json);

  struct pushed p = {0};
  doc_replace_async(&f->two, b, "abcd", 4, "rest", on_push, &p);
  assert_int_equal(p.status, DOC_STALE);
  free(p.caught_up_json);
  assert_string_equal(b->text, "abc");
  struct pushed q = {0};
  doc_replace_async(&f->two, b, "abcd", 4, "rest", on_push, &q);
  assert_int_equal(q.status, DOC_OK);
  assert_int_equal(q.from, 1);
  free(q.caught_up_json);
  assert_string_equal(b->text, "abcd");
  doc_close(&f->one, a);
  doc_close(&f->two, b);
}

static void test_doc_refresh_takes_in_what_another_instance_stored(void **state) {
  struct fixture *f = *state;
  struct doc *a = open_on(&f->one, f->room.id), *b = open_on(&f->two, f->room.id);
  struct pushed won = push_at(&f->one, a, 0, "[[0,\"shared\"]]");
  assert_int_equal(won.status, DOC_OK);
  free(won.caught_up_json);

  struct pushed p = {0};
  doc_refresh_async(&f->two, b, on_push, &p);
  assert_int_equal(p.calls, 1);
  assert_int_equal(p.status, DOC_OK);
  assert_int_equal(p.caught_up, 1);
  assert_int_equal(p.caught_up_from, 0);
  free(p.caught_up_json);
  assert_int_equal(b->version, 1);
  assert_string_equal(b->text, "shared");

  struct pushed again = {0}; /* nothing new: nothing caught up */
  doc_refresh_async(&f->two, b, on_push, &again);
  assert_int_equal(again.status, DOC_OK);
  assert_int_equal(again.caught_up, 0);
  free(again.caught_up_json);
  doc_close(&f->one, a);
  doc_close(&f->two, b);
}

/* What another instance broadcast (its doc.updates): taken in memory when
 * it comes next, ignored when known, and a gap is read from the store. */
static void test_doc_follows_what_another_instance_broadcast(void **state) {
  struct fixture *f = *state;
  struct doc *a = open_on(&f->one, f->room.id), *b = open_on(&f->two, f->room.id);
  struct pushed p = push_at(&f->one, a, 0, "[[0,\"hello\"]]");
  assert_int_equal(p.status, DOC_OK);
  free(p.caught_up_json);

  json_t *first = json_loads("[{\"clientID\":\"client\",\"changes\":[[0,\"hello\"]]}]", 0, NULL);
  assert_int_equal(doc_follow(&f->two, b, 0, 1, first), DOC_OK);
  assert_int_equal(b->version, 1);
  assert_string_equal(b->text, "hello");
  assert_int_equal(doc_follow(&f->two, b, 0, 1, first), DOC_UNCHANGED); /* heard twice */
  assert_string_equal(b->text, "hello");
  json_decref(first);

  /* Two more updates, of which only the second is heard: a gap. */
  p = push_at(&f->one, a, 1, "[5,[0,\" big\"]]");
  free(p.caught_up_json);
  p = push_at(&f->one, a, 2, "[9,[0,\" world\"]]");
  free(p.caught_up_json);
  json_t *third = json_loads("[{\"clientID\":\"client\",\"changes\":[9,[0,\" world\"]]}]", 0, NULL);
  assert_int_equal(doc_follow(&f->two, b, 2, 3, third), DOC_PENDING);
  json_decref(third);
  assert_int_equal(b->version, 3); /* SQLite answered at once */
  assert_string_equal(b->text, "hello big world");

  /* Updates that do not apply to this text are not trusted: the store is read. */
  json_t *bad = json_loads("[{\"clientID\":\"x\",\"changes\":[99,[0,\"!\"]]}]", 0, NULL);
  assert_int_equal(doc_follow(&f->two, b, 3, 4, bad), DOC_PENDING);
  json_decref(bad);
  assert_int_equal(b->version, 3);

  /* Following left b where the store is: its next push is taken. */
  p = push_at(&f->two, b, 3, "[15,[0,\"!\"]]");
  assert_int_equal(p.status, DOC_OK);
  free(p.caught_up_json);
  assert_string_equal(b->text, "hello big world!");

  doc_follow_language(b, "python", 6);
  assert_string_equal(b->language, "python");
  doc_follow_language(b, "no way", 6); /* not a language: ignored */
  assert_string_equal(b->language, "python");
  doc_close(&f->one, a);
  doc_close(&f->two, b);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_doc_push_lost_to_another_instance_catches_up_and_is_stale),
      T(test_doc_replace_lost_to_another_instance_is_stale_then_applies),
      T(test_doc_refresh_takes_in_what_another_instance_stored),
      T(test_doc_follows_what_another_instance_broadcast),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
