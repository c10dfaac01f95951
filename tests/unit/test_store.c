/* The SQLite store: migrations, unique codes, per-room seqs, cascades. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rooms/room.h"
#include "store/store.h"
#include "util/rand.h"

struct fixture {
  char dir[64];
  struct store *s;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/tandem-store-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  char err[256];
  f->s = store_open(f->dir, err, sizeof err);
  if (!f->s)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  store_close(f->s);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

static void note(void *ctx, int status) {
  *(int *)ctx = status;
}

static struct room_row make_room(const char *code) {
  struct room_row r = {.created_at = 1, .expires_at = 1000};
  room_new_id(r.id);
  snprintf(r.code, sizeof r.code, "%s", code);
  return r;
}

static int insert_room(struct store *s, struct room_row *r) {
  int status = 1;
  store_room_insert(s, r, note, &status);
  return status;
}

static void test_store_refuses_a_code_already_taken(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("123456"), b = make_room("123456");
  assert_int_equal(insert_room(f->s, &a), STORE_OK);
  assert_int_equal(insert_room(f->s, &b), STORE_CONFLICT);
}

struct found {
  int status;
  char id[STORE_ID_LEN + 1];
};

static void got_room(void *ctx, int status, const struct room_row *r) {
  struct found *fd = ctx;
  fd->status = status;
  if (r)
    memcpy(fd->id, r->id, sizeof fd->id);
}

static void test_store_finds_a_room_by_id_and_by_code(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("654321");
  insert_room(f->s, &a);
  struct found byid = {.status = 1}, bycode = {.status = 1}, none = {.status = 1};
  store_room_get(f->s, a.id, strlen(a.id), got_room, &byid);
  store_room_get(f->s, "654321", 6, got_room, &bycode);
  store_room_get(f->s, "000001", 6, got_room, &none);
  assert_int_equal(byid.status, STORE_OK);
  assert_string_equal(bycode.id, a.id);
  assert_int_equal(none.status, STORE_NOT_FOUND);
}

static int insert_text(struct store *s, const char *room_id, int64_t *seq) {
  struct item_row it = {.kind = ITEM_TEXT, .text = "hi", .text_len = 2, .created_at = 5};
  room_new_id(it.id);
  memcpy(it.room_id, room_id, sizeof it.room_id);
  int status = 1;
  store_item_insert(s, &it, note, &status);
  *seq = it.seq;
  return status;
}

static void test_store_numbers_items_per_room(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("111111"), b = make_room("222222");
  insert_room(f->s, &a);
  insert_room(f->s, &b);
  int64_t s1, s2, s3;
  assert_int_equal(insert_text(f->s, a.id, &s1), STORE_OK);
  assert_int_equal(insert_text(f->s, a.id, &s2), STORE_OK);
  assert_int_equal(insert_text(f->s, b.id, &s3), STORE_OK);
  assert_int_equal(s1, 1);
  assert_int_equal(s2, 2);
  assert_int_equal(s3, 1);
}

static void count_item(void *ctx, int status, const struct item_row *it) {
  if (it)
    (*(int *)ctx)++;
}

static void test_store_deleting_a_room_deletes_its_items(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("333333");
  insert_room(f->s, &a);
  int64_t seq;
  insert_text(f->s, a.id, &seq);
  insert_text(f->s, a.id, &seq);
  int status = 1;
  store_room_delete(f->s, a.id, note, &status);
  assert_int_equal(status, STORE_OK);
  int n = 0;
  store_items_list(f->s, a.id, 0, 100, count_item, &n);
  assert_int_equal(n, 0);
  store_room_delete(f->s, a.id, note, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
}

struct expired {
  int count, final_status;
  char ids[4][STORE_ID_LEN + 1];
};

static void collect_expired(void *ctx, int status, const struct room_row *r) {
  struct expired *e = ctx;
  if (!r) {
    e->final_status = status;
    return;
  }
  if (e->count < 4)
    memcpy(e->ids[e->count], r->id, STORE_ID_LEN + 1);
  e->count++;
}

static void test_store_lists_expired_rooms_only(void **state) {
  struct fixture *f = *state;
  struct room_row old = make_room("444444"), young = make_room("555555");
  old.expires_at = 100;
  young.expires_at = 10000;
  insert_room(f->s, &old);
  insert_room(f->s, &young);
  struct expired e = {.final_status = 1};
  store_rooms_expired(f->s, 5000, 10, collect_expired, &e);
  assert_int_equal(e.final_status, STORE_OK);
  assert_int_equal(e.count, 1);
  assert_string_equal(e.ids[0], old.id);
  struct expired at_edge = {.final_status = 1};
  store_rooms_expired(f->s, 10000, 10, collect_expired, &at_edge);
  assert_int_equal(at_edge.count, 2); /* expires_at == now counts as expired */
}

static void test_store_reopens_an_existing_database_without_migrating_again(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("777777");
  insert_room(f->s, &a);
  store_close(f->s);
  char err[256];
  f->s = store_open(f->dir, err, sizeof err);
  assert_non_null(f->s);
  struct found fd = {.status = 1};
  store_room_get(f->s, "777777", 6, got_room, &fd);
  assert_string_equal(fd.id, a.id);
}

struct referrers {
  char rows[8][64]; /* "day ref visits" */
  int count, status;
};

static void got_referrer(void *ctx, int status, const char *day, const char *ref, int64_t visits) {
  struct referrers *r = ctx;
  if (!day) {
    r->status = status;
    return;
  }
  if (r->count < 8)
    snprintf(r->rows[r->count++], sizeof r->rows[0], "%s %s %lld", day, ref, (long long)visits);
}

static void visit(struct store *s, const char *day, const char *ref, int max_refs) {
  int status = 1;
  store_referrer_visit(s, day, ref, max_refs, note, &status);
  assert_int_equal(status, STORE_OK);
}

static void test_store_counts_referrer_visits_per_day_with_a_cap(void **state) {
  struct fixture *f = *state;
  visit(f->s, "2026-11-23", "twitter", 2);
  visit(f->s, "2026-11-24", "twitter", 2);
  visit(f->s, "2026-11-24", "twitter", 2);
  visit(f->s, "2026-11-24", "news", 2);
  visit(f->s, "2026-11-24", "spam-1", 2); /* a third name on a day capped at two */
  visit(f->s, "2026-11-24", "spam-2", 2);
  visit(f->s, "2026-11-24", "news", 2); /* a known one still counts as itself */
  struct referrers r = {.status = 1};
  store_referrers_since(f->s, "2026-11-24", got_referrer, &r);
  assert_int_equal(r.status, STORE_OK);
  assert_int_equal(r.count, 3);
  assert_string_equal(r.rows[0], "2026-11-24 (other) 2");
  assert_string_equal(r.rows[1], "2026-11-24 news 2");
  assert_string_equal(r.rows[2], "2026-11-24 twitter 2");

  int status = 1;
  store_referrers_prune(f->s, "2026-11-24", note, &status);
  assert_int_equal(status, STORE_OK);
  struct referrers all = {.status = 1};
  store_referrers_since(f->s, "2000-01-01", got_referrer, &all);
  assert_int_equal(all.count, 3); /* 2026-11-23 is gone */
}

int main(void) {
  if (rand_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_store_refuses_a_code_already_taken, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_finds_a_room_by_id_and_by_code, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_numbers_items_per_room, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_deleting_a_room_deletes_its_items, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_store_lists_expired_rooms_only, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_store_reopens_an_existing_database_without_migrating_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_counts_referrer_visits_per_day_with_a_cap, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
