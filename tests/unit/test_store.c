/* The SQLite store: migrations, unique codes, per-room seqs, cascades. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rooms/room.h"
#include "store/migrations.h"
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

struct noted_id {
  int status;
  int64_t id;
};

static void note_id(void *ctx, int status, int64_t id) {
  struct noted_id *out = ctx;
  *out = (struct noted_id){status, id};
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
  struct noted_id got = {1, 0};
  store_item_insert(s, &it, note_id, &got);
  *seq = got.id;
  return got.status;
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

static int64_t make_account(struct store *s, const char *email) {
  struct account_row a = {.email = email, .password_hash = "$argon2id$x", .created_at = 1};
  struct noted_id got = {1, 0};
  store_account_insert(s, &a, note_id, &got);
  assert_int_equal(got.status, STORE_OK);
  return got.id;
}

struct account_found {
  int status;
  int64_t id;
  char email[64];
};

static void got_account(void *ctx, int status, const struct account_row *a) {
  struct account_found *f = ctx;
  f->status = status;
  if (a) {
    f->id = a->id;
    snprintf(f->email, sizeof f->email, "%s", a->email);
  }
}

static void test_store_account_emails_are_unique(void **state) {
  struct fixture *f = *state;
  int64_t id = make_account(f->s, "ada@example.org");
  struct account_row dup = {.email = "ada@example.org", .password_hash = "h", .created_at = 2};
  struct noted_id made = {1, 0};
  store_account_insert(f->s, &dup, note_id, &made);
  assert_int_equal(made.status, STORE_CONFLICT);
  struct account_found got = {0};
  store_account_by_email(f->s, "ada@example.org", got_account, &got);
  assert_int_equal(got.status, STORE_OK);
  assert_int_equal(got.id, id);
}

static void test_store_sessions_end_at_their_expiry(void **state) {
  struct fixture *f = *state;
  int64_t id = make_account(f->s, "grace@example.org");
  uint8_t token[32] = {1, 2, 3};
  int status = 1;
  store_session_insert(f->s, token, id, 1000, note, &status);
  assert_int_equal(status, STORE_OK);
  struct account_found before = {0}, at = {0};
  store_session_account(f->s, token, 999, got_account, &before);
  assert_int_equal(before.status, STORE_OK);
  assert_string_equal(before.email, "grace@example.org");
  store_session_account(f->s, token, 1000, got_account, &at);
  assert_int_equal(at.status, STORE_NOT_FOUND);
  store_sessions_expired_delete(f->s, 1000, note, &status);
  assert_int_equal(status, STORE_OK);
  store_session_delete(f->s, token, note, &status);
  assert_int_equal(status, STORE_NOT_FOUND); /* the sweep took it already */
}

static void test_store_owned_rooms_never_expire_and_titles_are_unique_per_owner(void **state) {
  struct fixture *f = *state;
  int64_t owner = make_account(f->s, "host@example.org");
  struct room_row chat = make_room("121212"), same_title = make_room("131313");
  chat.owner_id = same_title.owner_id = owner;
  chat.title = same_title.title = "Workshop";
  chat.opens_at = 10;
  chat.closes_at = chat.expires_at = 20;
  assert_int_equal(insert_room(f->s, &chat), STORE_OK);
  assert_int_equal(insert_room(f->s, &same_title), STORE_CONFLICT);
  struct expired e = {.final_status = 1};
  store_rooms_expired(f->s, 1000000, 10, collect_expired, &e);
  assert_int_equal(e.count, 0);
  struct found fd = {.status = 1};
  store_room_get(f->s, chat.id, STORE_ID_LEN, got_room, &fd);
  assert_int_equal(fd.status, STORE_OK);
}

struct texts {
  char text[4][16];
  int64_t ids[4];
  int count, final_status;
};

static void collect_message(void *ctx, int status, const struct message_row *m) {
  struct texts *t = ctx;
  if (!m) {
    t->final_status = status;
    return;
  }
  if (t->count < 4) {
    snprintf(t->text[t->count], sizeof t->text[0], "%.*s", (int)m->text_len, m->text);
    t->ids[t->count] = m->id;
  }
  t->count++;
}

static void test_store_messages_page_both_ways_and_delete(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("141414");
  insert_room(f->s, &room);
  int64_t ids[3];
  const char *texts[] = {"one", "two", "three"};
  for (int i = 0; i < 3; i++) {
    struct message_row m = {.alias = "Ada", .text = texts[i], .text_len = strlen(texts[i])};
    memcpy(m.room_id, room.id, sizeof m.room_id);
    struct noted_id got = {1, 0};
    store_message_insert(f->s, &m, note_id, &got);
    assert_int_equal(got.status, STORE_OK);
    ids[i] = got.id;
  }
  assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
  struct texts after = {0}, before = {0};
  store_messages_after(f->s, room.id, ids[0], 10, collect_message, &after);
  assert_int_equal(after.count, 2);
  assert_string_equal(after.text[0], "two");
  store_messages_before(f->s, room.id, ids[2], 10, collect_message, &before);
  assert_int_equal(before.count, 2);
  assert_string_equal(before.text[0], "two"); /* newest first */
  int status = 1;
  store_message_delete(f->s, room.id, ids[1], note, &status);
  assert_int_equal(status, STORE_OK);
  store_message_delete(f->s, "another-room-id-000000", ids[0], note, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
  struct texts left = {0};
  store_messages_after(f->s, room.id, 0, 10, collect_message, &left);
  assert_int_equal(left.count, 2);
  assert_string_equal(left.text[1], "three");
}

static void test_store_bans_are_per_room_and_go_with_it(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("151515");
  insert_room(f->s, &room);
  uint8_t device[16] = {9};
  int status = 1;
  store_ban_exists(f->s, room.id, device, note, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
  store_ban_insert(f->s, room.id, device, note, &status);
  assert_int_equal(status, STORE_OK);
  store_ban_insert(f->s, room.id, device, note, &status);
  assert_int_equal(status, STORE_OK); /* twice is once */
  store_ban_exists(f->s, room.id, device, note, &status);
  assert_int_equal(status, STORE_OK);
  store_room_delete(f->s, room.id, note, &status);
  store_ban_exists(f->s, room.id, device, note, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
}

/* How many rows a query counts, on the database file directly. */
static int count_rows(const char *dir, const char *sql) {
  char path[128];
  snprintf(path, sizeof path, "%s/tandem.db", dir);
  sqlite3 *db;
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

static void test_store_records_each_migration_by_version(void **state) {
  struct fixture *f = *state;
  store_close(f->s);
  f->s = NULL;
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM schema_migrations"), migration_count);
  /* One missing (as when a branch brings an older number later): here the
   * referrers migration, 004. It runs on the next start, and only it (any
   * other would fail on its tables being there already). */
  char path[128];
  snprintf(path, sizeof path, "%s/tandem.db", f->dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db, "DROP TABLE referrers; DELETE FROM schema_migrations WHERE version = 4",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  char err[256];
  f->s = store_open(f->dir, err, sizeof err);
  assert_non_null(f->s);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM schema_migrations"), migration_count);
}

static void test_store_takes_a_database_of_user_version_only_as_migrated_that_far(void **state) {
  struct fixture *f = *state;
  store_close(f->s);
  f->s = NULL;
  char path[128];
  snprintf(path, sizeof path, "%s/tandem.db", f->dir);
  unlink(path);
  /* A database made before schema_migrations: the first migration, and
   * PRAGMA user_version saying so. */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, migrations[0].sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  char err[256];
  f->s = store_open(f->dir, err, sizeof err);
  assert_non_null(f->s);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM schema_migrations"), migration_count);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM referrers"), 0);
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
      cmocka_unit_test_setup_teardown(test_store_records_each_migration_by_version, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_store_takes_a_database_of_user_version_only_as_migrated_that_far, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_account_emails_are_unique, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_sessions_end_at_their_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_store_owned_rooms_never_expire_and_titles_are_unique_per_owner, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_messages_page_both_ways_and_delete, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_store_bans_are_per_room_and_go_with_it, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
