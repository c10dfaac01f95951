/* The store on each engine: migrations, unique codes, per-room seqs,
 * cascades, all-or-none writes. The whole suite runs on SQLite, and again
 * on PostgreSQL when TANDEM_TEST_DATABASE_URL names a database (ctest's
 * unit_store_postgres starts a cluster for it: tests/e2e/lib/with_postgres.mjs).
 * PostgreSQL answers on a later turn of the loop, so every call is
 * followed by wait_for() until its callback came. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "rooms/room.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/rand.h"

#define PENDING 1000 /* no STORE_* status: the callback has not come */
#define WAIT_NS (10ull * 1000 * 1000 * 1000)

static const char *pg_url; /* the PostgreSQL group's database; NULL: SQLite */
static PGconn *pg_admin;   /* resets the database between tests, reads it directly */

struct fixture {
  char dir[64];
  uv_loop_t loop;
  struct store *s;
};

static struct store *open_store(struct fixture *f) {
  char err[256];
  struct store *s = store_open(&f->loop, f->dir, pg_url, 0, err, sizeof err);
  if (!s)
    fprintf(stderr, "store_open: %s\n", err);
  return s;
}

/* Closes a store and lets the loop free its handles. */
static void close_store(struct fixture *f, struct store *s) {
  store_close(s);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void tick(uv_timer_t *t) {}

/* Runs the loop until done(arg) holds, for at most WAIT_NS. The store's
 * own handles do not keep a loop alive (a server's listeners do), so a
 * ticking timer keeps this one turning meanwhile. */
static bool run_until(struct fixture *f, bool (*done)(struct fixture *, const void *),
                      const void *arg) {
  uv_timer_t ticker;
  uv_timer_init(&f->loop, &ticker);
  uv_timer_start(&ticker, tick, 2, 2);
  uint64_t start = uv_hrtime();
  while (!done(f, arg) && uv_hrtime() - start < WAIT_NS)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&ticker, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return done(f, arg);
}

static bool answered(struct fixture *f, const void *status) {
  return *(const int *)status != PENDING;
}

/* Waits for *status to be answered (SQLite answered already). */
static void wait_for(struct fixture *f, const int *status) {
  assert_true(run_until(f, answered, status));
}

/* Runs a statement on the PostgreSQL database directly; -1 on failure,
 * else the first column of the first row (0 when none). */
static int pg_exec(const char *sql) {
  PGresult *res = PQexec(pg_admin, sql);
  ExecStatusType st = PQresultStatus(res);
  int n = st == PGRES_COMMAND_OK  ? 0
          : st == PGRES_TUPLES_OK ? (PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : 0)
                                  : -1;
  if (n < 0)
    fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg_admin));
  PQclear(res);
  return n;
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f)
    return -1;
  strcpy(f->dir, "/tmp/tandem-store-XXXXXX");
  if (!mkdtemp(f->dir) || uv_loop_init(&f->loop) < 0)
    return -1;
  if (pg_url && pg_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public") < 0)
    return -1;
  f->s = open_store(f);
  if (!f->s)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  close_store(f, f->s);
  if (uv_run(&f->loop, UV_RUN_DEFAULT) != 0 || uv_loop_close(&f->loop) != 0)
    return -1;
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

static int insert_room(struct fixture *f, struct room_row *r) {
  int status = PENDING;
  store_room_insert(f->s, r, note, &status);
  wait_for(f, &status);
  return status;
}

static void test_store_refuses_a_code_already_taken(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("123456"), b = make_room("123456");
  assert_int_equal(insert_room(f, &a), STORE_OK);
  assert_int_equal(insert_room(f, &b), STORE_CONFLICT);
}

struct found {
  int status;
  char id[STORE_ID_LEN + 1];
  uint8_t owner_token_hash[32];
  char title[32];
};

static void got_room(void *ctx, int status, const struct room_row *r) {
  struct found *fd = ctx;
  if (r) {
    memcpy(fd->id, r->id, sizeof fd->id);
    memcpy(fd->owner_token_hash, r->owner_token_hash, sizeof fd->owner_token_hash);
    snprintf(fd->title, sizeof fd->title, "%s", r->title ? r->title : "(none)");
  }
  fd->status = status;
}

static struct found get_room(struct fixture *f, const char *key) {
  struct found fd = {.status = PENDING};
  store_room_get(f->s, key, strlen(key), got_room, &fd);
  wait_for(f, &fd.status);
  return fd;
}

static void test_store_finds_a_room_by_id_and_by_code(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("654321");
  for (int i = 0; i < 32; i++)
    a.owner_token_hash[i] = (uint8_t)(i * 7 + 1);
  insert_room(f, &a);
  struct found byid = get_room(f, a.id), bycode = get_room(f, "654321"),
               none = get_room(f, "000001");
  assert_int_equal(byid.status, STORE_OK);
  assert_memory_equal(byid.owner_token_hash, a.owner_token_hash, 32);
  assert_string_equal(byid.title, "(none)");
  assert_string_equal(bycode.id, a.id);
  assert_int_equal(none.status, STORE_NOT_FOUND);
}

static int insert_text(struct fixture *f, const char *room_id, int64_t *seq) {
  struct item_row it = {.kind = ITEM_TEXT, .text = "hi", .text_len = 2, .created_at = 5};
  room_new_id(it.id);
  memcpy(it.room_id, room_id, sizeof it.room_id);
  struct noted_id got = {PENDING, 0};
  store_item_insert(f->s, &it, note_id, &got);
  wait_for(f, &got.status);
  *seq = got.id;
  return got.status;
}

static void test_store_numbers_items_per_room(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("111111"), b = make_room("222222");
  insert_room(f, &a);
  insert_room(f, &b);
  int64_t s1, s2, s3;
  assert_int_equal(insert_text(f, a.id, &s1), STORE_OK);
  assert_int_equal(insert_text(f, a.id, &s2), STORE_OK);
  assert_int_equal(insert_text(f, b.id, &s3), STORE_OK);
  assert_int_equal(s1, 1);
  assert_int_equal(s2, 2);
  assert_int_equal(s3, 1);
}

struct counted {
  int count, status;
  char text[16];
};

static void count_item(void *ctx, int status, const struct item_row *it) {
  struct counted *n = ctx;
  if (!it) {
    n->status = status;
    return;
  }
  if (!n->count)
    snprintf(n->text, sizeof n->text, "%.*s", (int)it->text_len, it->text);
  n->count++;
}

static struct counted list_items(struct fixture *f, const char *room_id) {
  struct counted n = {.status = PENDING};
  store_items_list(f->s, room_id, 0, 100, count_item, &n);
  wait_for(f, &n.status);
  return n;
}

static void test_store_deleting_a_room_deletes_its_items(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("333333");
  insert_room(f, &a);
  int64_t seq;
  insert_text(f, a.id, &seq);
  insert_text(f, a.id, &seq);
  struct counted before = list_items(f, a.id);
  assert_int_equal(before.count, 2);
  assert_string_equal(before.text, "hi");
  int status = PENDING;
  store_room_delete(f->s, a.id, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  struct counted after = list_items(f, a.id);
  assert_int_equal(after.status, STORE_OK);
  assert_int_equal(after.count, 0);
  status = PENDING;
  store_room_delete(f->s, a.id, note, &status);
  wait_for(f, &status);
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

static struct expired expired_at(struct fixture *f, int64_t now) {
  struct expired e = {.final_status = PENDING};
  store_rooms_expired(f->s, now, 10, collect_expired, &e);
  wait_for(f, &e.final_status);
  return e;
}

static void test_store_lists_expired_rooms_only(void **state) {
  struct fixture *f = *state;
  struct room_row old = make_room("444444"), young = make_room("555555");
  old.expires_at = 100;
  young.expires_at = 10000;
  insert_room(f, &old);
  insert_room(f, &young);
  struct expired e = expired_at(f, 5000);
  assert_int_equal(e.final_status, STORE_OK);
  assert_int_equal(e.count, 1);
  assert_string_equal(e.ids[0], old.id);
  struct expired at_edge = expired_at(f, 10000);
  assert_int_equal(at_edge.count, 2); /* expires_at == now counts as expired */
}

static void test_store_reopens_an_existing_database_without_migrating_again(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("777777");
  insert_room(f, &a);
  close_store(f, f->s);
  f->s = open_store(f);
  assert_non_null(f->s);
  struct found fd = get_room(f, "777777");
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

static void visit(struct fixture *f, const char *day, const char *ref, int max_refs) {
  int status = PENDING;
  store_referrer_visit(f->s, day, ref, max_refs, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
}

static struct referrers referrers_since(struct fixture *f, const char *since) {
  struct referrers r = {.status = PENDING};
  store_referrers_since(f->s, since, got_referrer, &r);
  wait_for(f, &r.status);
  return r;
}

static void test_store_counts_referrer_visits_per_day_with_a_cap(void **state) {
  struct fixture *f = *state;
  visit(f, "2026-11-23", "twitter", 2);
  visit(f, "2026-11-24", "twitter", 2);
  visit(f, "2026-11-24", "twitter", 2);
  visit(f, "2026-11-24", "news", 2);
  visit(f, "2026-11-24", "spam-1", 2); /* a third name on a day capped at two */
  visit(f, "2026-11-24", "spam-2", 2);
  visit(f, "2026-11-24", "news", 2); /* a known one still counts as itself */
  struct referrers r = referrers_since(f, "2026-11-24");
  assert_int_equal(r.status, STORE_OK);
  assert_int_equal(r.count, 3);
  assert_string_equal(r.rows[0], "2026-11-24 (other) 2");
  assert_string_equal(r.rows[1], "2026-11-24 news 2");
  assert_string_equal(r.rows[2], "2026-11-24 twitter 2");

  int status = PENDING;
  store_referrers_prune(f->s, "2026-11-24", note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  struct referrers all = referrers_since(f, "2000-01-01");
  assert_int_equal(all.count, 3); /* 2026-11-23 is gone */
}

static int64_t make_account(struct fixture *f, const char *email) {
  struct account_row a = {.email = email, .password_hash = "$argon2id$x", .created_at = 1};
  struct noted_id got = {PENDING, 0};
  store_account_insert(f->s, &a, note_id, &got);
  wait_for(f, &got.status);
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
  if (a) {
    f->id = a->id;
    snprintf(f->email, sizeof f->email, "%s", a->email);
  }
  f->status = status;
}

static void test_store_account_emails_are_unique(void **state) {
  struct fixture *f = *state;
  int64_t id = make_account(f, "ada@example.org");
  struct account_row dup = {.email = "ada@example.org", .password_hash = "h", .created_at = 2};
  struct noted_id made = {PENDING, 0};
  store_account_insert(f->s, &dup, note_id, &made);
  wait_for(f, &made.status);
  assert_int_equal(made.status, STORE_CONFLICT);
  struct account_found got = {.status = PENDING};
  store_account_by_email(f->s, "ada@example.org", got_account, &got);
  wait_for(f, &got.status);
  assert_int_equal(got.status, STORE_OK);
  assert_int_equal(got.id, id);
}

static struct account_found session_account(struct fixture *f, const uint8_t token[32],
                                            int64_t now) {
  struct account_found got = {.status = PENDING};
  store_session_account(f->s, token, now, got_account, &got);
  wait_for(f, &got.status);
  return got;
}

static void test_store_sessions_end_at_their_expiry(void **state) {
  struct fixture *f = *state;
  int64_t id = make_account(f, "grace@example.org");
  uint8_t token[32] = {1, 2, 3};
  int status = PENDING;
  store_session_insert(f->s, token, id, 1000, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  struct account_found before = session_account(f, token, 999);
  assert_int_equal(before.status, STORE_OK);
  assert_string_equal(before.email, "grace@example.org");
  struct account_found at = session_account(f, token, 1000);
  assert_int_equal(at.status, STORE_NOT_FOUND);
  status = PENDING;
  store_sessions_expired_delete(f->s, 1000, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  status = PENDING;
  store_session_delete(f->s, token, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_NOT_FOUND); /* the sweep took it already */
}

static void test_store_owned_rooms_never_expire_and_titles_are_unique_per_owner(void **state) {
  struct fixture *f = *state;
  int64_t owner = make_account(f, "host@example.org");
  struct room_row chat = make_room("121212"), same_title = make_room("131313");
  chat.owner_id = same_title.owner_id = owner;
  chat.title = same_title.title = "Workshop";
  chat.kind = same_title.kind = "chat";
  chat.opens_at = 10;
  chat.closes_at = chat.expires_at = 20;
  assert_int_equal(insert_room(f, &chat), STORE_OK);
  assert_int_equal(insert_room(f, &same_title), STORE_CONFLICT);
  struct expired e = expired_at(f, 1000000);
  assert_int_equal(e.count, 0);
  struct found fd = get_room(f, chat.id);
  assert_int_equal(fd.status, STORE_OK);
  assert_string_equal(fd.title, "Workshop");
  struct expired mine = {.final_status = PENDING};
  store_rooms_of_owner(f->s, owner, collect_expired, &mine);
  wait_for(f, &mine.final_status);
  assert_int_equal(mine.count, 1);
  assert_string_equal(mine.ids[0], chat.id);
}

static void test_store_refuses_a_room_of_an_unknown_kind(void **state) {
  struct fixture *f = *state;
  struct room_row odd = make_room("161616");
  odd.kind = "poll";
  assert_int_equal(insert_room(f, &odd), STORE_CONFLICT);
  assert_int_equal(get_room(f, "161616").status, STORE_NOT_FOUND);
}

static void test_store_updates_a_room_and_refuses_a_taken_code(void **state) {
  struct fixture *f = *state;
  struct room_row a = make_room("171717"), b = make_room("181818");
  insert_room(f, &a);
  insert_room(f, &b);
  a.title = "Renamed";
  snprintf(a.code, sizeof a.code, "191919");
  int status = PENDING;
  store_room_update(f->s, &a, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  assert_string_equal(get_room(f, "191919").title, "Renamed");
  snprintf(a.code, sizeof a.code, "181818");
  status = PENDING;
  store_room_update(f->s, &a, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_CONFLICT);
  status = PENDING;
  store_room_set_language(f->s, "no-such-room-000000000", "go", note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
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
  insert_room(f, &room);
  int64_t ids[3];
  const char *texts[] = {"one", "two", "three"};
  for (int i = 0; i < 3; i++) {
    struct message_row m = {.alias = "Ada", .text = texts[i], .text_len = strlen(texts[i])};
    memcpy(m.room_id, room.id, sizeof m.room_id);
    struct noted_id got = {PENDING, 0};
    store_message_insert(f->s, &m, note_id, &got);
    wait_for(f, &got.status);
    assert_int_equal(got.status, STORE_OK);
    ids[i] = got.id;
  }
  assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
  struct texts after = {.final_status = PENDING}, before = {.final_status = PENDING};
  store_messages_after(f->s, room.id, ids[0], 10, collect_message, &after);
  wait_for(f, &after.final_status);
  assert_int_equal(after.count, 2);
  assert_string_equal(after.text[0], "two");
  store_messages_before(f->s, room.id, ids[2], 10, collect_message, &before);
  wait_for(f, &before.final_status);
  assert_int_equal(before.count, 2);
  assert_string_equal(before.text[0], "two"); /* newest first */
  int status = PENDING;
  store_message_delete(f->s, room.id, ids[1], note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  status = PENDING;
  store_message_delete(f->s, "another-room-id-000000", ids[0], note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_NOT_FOUND);
  struct texts left = {.final_status = PENDING};
  store_messages_after(f->s, room.id, 0, 10, collect_message, &left);
  wait_for(f, &left.final_status);
  assert_int_equal(left.count, 2);
  assert_string_equal(left.text[1], "three");
}

static int ban_status(struct fixture *f, const char *room_id, const uint8_t device[16],
                      void (*call)(struct store *, const char *, const uint8_t *, store_done_cb,
                                   void *)) {
  int status = PENDING;
  call(f->s, room_id, device, note, &status);
  wait_for(f, &status);
  return status;
}

static void test_store_bans_are_per_room_and_go_with_it(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("151515");
  insert_room(f, &room);
  uint8_t device[16] = {9};
  assert_int_equal(ban_status(f, room.id, device, store_ban_exists), STORE_NOT_FOUND);
  assert_int_equal(ban_status(f, room.id, device, store_ban_insert), STORE_OK);
  assert_int_equal(ban_status(f, room.id, device, store_ban_insert), STORE_OK); /* twice is once */
  assert_int_equal(ban_status(f, room.id, device, store_ban_exists), STORE_OK);
  int status = PENDING;
  store_room_delete(f->s, room.id, note, &status);
  wait_for(f, &status);
  assert_int_equal(ban_status(f, room.id, device, store_ban_exists), STORE_NOT_FOUND);
}

/* A code room's document. */
struct updates {
  int64_t versions[8];
  char changes[8][32];
  int count, status;
};

static void got_update(void *ctx, int status, const struct doc_update_row *u) {
  struct updates *up = ctx;
  if (!u) {
    up->status = status;
    return;
  }
  if (up->count < 8) {
    up->versions[up->count] = u->version;
    snprintf(up->changes[up->count], sizeof up->changes[0], "%.*s", (int)u->changes_len,
             u->changes);
  }
  up->count++;
}

static struct updates updates_after(struct fixture *f, const char *room_id, int64_t after) {
  struct updates up = {.status = PENDING};
  store_doc_updates_list(f->s, room_id, after, 100, got_update, &up);
  wait_for(f, &up.status);
  return up;
}

static int append(struct fixture *f, const char *room_id, const struct doc_update_row *rows,
                  size_t n) {
  int status = PENDING;
  store_doc_updates_append(f->s, room_id, rows, n, note, &status);
  wait_for(f, &status);
  return status;
}

static void test_store_doc_updates_are_all_or_none(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("202020");
  room.kind = "code";
  insert_room(f, &room);
  /* Quotes and backslashes, as a ChangeSet's JSON has them. */
  struct doc_update_row first[2] = {
      {.version = 1, .client_id = "c\"1", .changes = "[\"a\\\\\"]", .changes_len = 7},
      {.version = 2, .client_id = "c1", .changes = "[1,\"b\"]", .changes_len = 7},
  };
  assert_int_equal(append(f, room.id, first, 2), STORE_OK);
  /* Version 2 is taken: version 3 of the same push is not stored either. */
  struct doc_update_row racing[2] = {
      {.version = 2, .client_id = "c2", .changes = "[\"x\"]", .changes_len = 5},
      {.version = 3, .client_id = "c2", .changes = "[\"y\"]", .changes_len = 5},
  };
  assert_int_equal(append(f, room.id, racing, 2), STORE_CONFLICT);
  struct updates up = updates_after(f, room.id, 0);
  assert_int_equal(up.status, STORE_OK);
  assert_int_equal(up.count, 2);
  assert_int_equal(up.versions[1], 2);
  assert_string_equal(up.changes[0], "[\"a\\\\\"]");
  assert_string_equal(up.changes[1], "[1,\"b\"]");
}

struct snapshot {
  int status;
  int64_t version;
  char text[32];
};

static void got_snapshot(void *ctx, int status, const struct doc_snapshot_row *snap) {
  struct snapshot *out = ctx;
  if (snap) {
    out->version = snap->version;
    snprintf(out->text, sizeof out->text, "%.*s", (int)snap->text_len, snap->text);
  }
  out->status = status;
}

static struct snapshot latest(struct fixture *f, const char *room_id) {
  struct snapshot snap = {.status = PENDING};
  store_doc_snapshot_latest(f->s, room_id, got_snapshot, &snap);
  wait_for(f, &snap.status);
  return snap;
}

static void test_store_a_snapshot_prunes_the_history_before_it(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("212121");
  room.kind = "code";
  insert_room(f, &room);
  assert_int_equal(latest(f, room.id).status, STORE_NOT_FOUND);
  struct doc_update_row rows[3] = {
      {.version = 1, .client_id = "c", .changes = "[\"a\"]", .changes_len = 5},
      {.version = 2, .client_id = "c", .changes = "[1,\"b\"]", .changes_len = 7},
      {.version = 3, .client_id = "c", .changes = "[2,\"c\"]", .changes_len = 7},
  };
  assert_int_equal(append(f, room.id, rows, 3), STORE_OK);
  for (int64_t v = 1; v <= 2; v++) {
    struct doc_snapshot_row snap = {
        .version = v, .text = v == 1 ? "a" : "ab", .text_len = (size_t)v};
    int status = PENDING;
    store_doc_snapshot_save(f->s, room.id, &snap, 10, v - 1, note, &status);
    wait_for(f, &status);
    assert_int_equal(status, STORE_OK);
  }
  struct snapshot snap = latest(f, room.id);
  assert_int_equal(snap.version, 2);
  assert_string_equal(snap.text, "ab");
  struct updates up = updates_after(f, room.id, 0);
  assert_int_equal(up.count, 2); /* version 1 went with the second snapshot */
  assert_int_equal(up.versions[0], 2);
  /* Deleting the room takes its document. */
  int status = PENDING;
  store_room_delete(f->s, room.id, note, &status);
  wait_for(f, &status);
  assert_int_equal(latest(f, room.id).status, STORE_NOT_FOUND);
  assert_int_equal(updates_after(f, room.id, 0).count, 0);
}

struct bytes {
  int status;
  int64_t bytes;
};

static void got_bytes(void *ctx, int status, int64_t bytes) {
  struct bytes *b = ctx;
  b->bytes = bytes;
  b->status = status;
}

struct item_found {
  int status;
  char name[32], sha256[65];
  int64_t size;
  enum item_kind kind;
};

static void got_item(void *ctx, int status, const struct item_row *it) {
  struct item_found *out = ctx;
  if (it) {
    snprintf(out->name, sizeof out->name, "%s", it->file_name ? it->file_name : "");
    snprintf(out->sha256, sizeof out->sha256, "%s", it->sha256 ? it->sha256 : "");
    out->size = it->size;
    out->kind = it->kind;
  }
  out->status = status;
}

static void test_store_files_count_towards_the_room_bytes(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("222333");
  insert_room(f, &room);
  char sha[65];
  memset(sha, 'a', 64);
  sha[64] = '\0';
  struct item_row file = {.kind = ITEM_FILE,
                          .file_name = "notes.txt",
                          .size = 1500,
                          .content_type = "text/plain",
                          .sha256 = sha,
                          .created_at = 7};
  room_new_id(file.id);
  memcpy(file.room_id, room.id, sizeof file.room_id);
  struct noted_id made = {PENDING, 0};
  store_item_insert(f->s, &file, note_id, &made);
  wait_for(f, &made.status);
  assert_int_equal(made.status, STORE_OK);
  assert_int_equal(store_item_exists(f->s, file.id), 1);
  assert_int_equal(store_item_exists(f->s, "no-such-item-000000000"), 0);
  struct bytes b = {.status = PENDING};
  store_room_bytes(f->s, room.id, got_bytes, &b);
  wait_for(f, &b.status);
  assert_int_equal(b.bytes, 1500);
  struct item_found got = {.status = PENDING};
  store_item_get(f->s, room.id, file.id, got_item, &got);
  wait_for(f, &got.status);
  assert_int_equal(got.status, STORE_OK);
  assert_int_equal(got.kind, ITEM_FILE);
  assert_string_equal(got.name, "notes.txt");
  assert_string_equal(got.sha256, sha);
  int status = PENDING;
  store_item_delete(f->s, room.id, file.id, note, &status);
  wait_for(f, &status);
  assert_int_equal(status, STORE_OK);
  struct item_found gone = {.status = PENDING};
  store_item_get(f->s, room.id, file.id, got_item, &gone);
  wait_for(f, &gone.status);
  assert_int_equal(gone.status, STORE_NOT_FOUND);
}

/* Two stores on one database (two tandems) inserting into one room at the
 * same time: every item gets its own seq, 1 to n. */
#define RACERS 24
static void test_store_two_stores_number_one_room_without_gaps_or_twins(void **state) {
  struct fixture *f = *state;
  struct store *other = open_store(f);
  assert_non_null(other);
  struct room_row room = make_room("232323");
  insert_room(f, &room);
  struct noted_id got[RACERS];
  for (int i = 0; i < RACERS; i++) {
    struct item_row it = {.kind = ITEM_TEXT, .text = "x", .text_len = 1, .created_at = i};
    room_new_id(it.id);
    memcpy(it.room_id, room.id, sizeof it.room_id);
    got[i] = (struct noted_id){PENDING, 0};
    store_item_insert(i % 2 ? other : f->s, &it, note_id, &got[i]);
  }
  bool seen[RACERS + 1] = {false};
  for (int i = 0; i < RACERS; i++) {
    wait_for(f, &got[i].status);
    assert_int_equal(got[i].status, STORE_OK);
    assert_in_range(got[i].id, 1, RACERS);
    assert_false(seen[got[i].id]);
    seen[got[i].id] = true;
  }
  close_store(f, other);
}

/* How many rows a query counts, on the database directly. */
static int count_rows(const char *dir, const char *sql) {
  if (pg_url)
    return pg_exec(sql);
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

static int exec_directly(const char *dir, const char *sql) {
  if (pg_url)
    return pg_exec(sql) < 0 ? -1 : 0;
  char path[128];
  snprintf(path, sizeof path, "%s/tandem.db", dir);
  sqlite3 *db;
  int rc =
      sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
          ? 0
          : -1;
  sqlite3_close(db);
  return rc;
}

static void test_store_records_each_migration_by_version(void **state) {
  struct fixture *f = *state;
  close_store(f, f->s);
  f->s = NULL;
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM schema_migrations"), migration_count);
  /* One missing (as when a branch brings an older number later): here the
   * referrers migration, 004. It runs on the next start, and only it (any
   * other would fail on its tables being there already). */
  assert_int_equal(
      exec_directly(f->dir,
                    "DROP TABLE referrers; DELETE FROM schema_migrations WHERE version = 4"),
      0);
  f->s = open_store(f);
  assert_non_null(f->s);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM schema_migrations"), migration_count);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM referrers"), 0);
}

/* Each engine has the same migrations, by number and name. */
static void test_store_migrations_are_the_same_in_both_dialects(void **state) {
  assert_int_equal(pg_migration_count, migration_count);
  for (int i = 0; i < migration_count; i++) {
    assert_int_equal(pg_migrations[i].version, migrations[i].version);
    assert_string_equal(pg_migrations[i].name, migrations[i].name);
  }
}

/* sqlite:PATH puts the database anywhere; an unknown scheme is refused
 * without echoing the URL (it may hold a password). */
static void test_store_picks_the_engine_from_the_database_url(void **state) {
  struct fixture *f = *state;
  char err[256], path[128];
  snprintf(path, sizeof path, "sqlite:%s/elsewhere.db", f->dir);
  struct store *s = store_open(&f->loop, f->dir, path, 0, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(store_ping(s), 0);
  close_store(f, s);
  assert_true(access(path + 7, F_OK) == 0);
  assert_null(store_open(&f->loop, f->dir, "mysql://root:hunter2@db/x", 0, err, sizeof err));
  assert_non_null(strstr(err, "--database"));
  assert_null(strstr(err, "hunter2"));
  assert_null(store_open(&f->loop, f->dir, "postgres://127.0.0.1:1/x", 65, err, sizeof err));
  assert_non_null(strstr(err, "--database-pool"));
  /* Nothing listens on port 1: start-up says so rather than waiting. */
  assert_null(store_open(&f->loop, f->dir, "postgres://127.0.0.1:1/x", 1, err, sizeof err));
  assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
}

static void test_store_takes_a_database_of_user_version_only_as_migrated_that_far(void **state) {
  struct fixture *f = *state;
  close_store(f, f->s);
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
  f->s = open_store(f);
  assert_non_null(f->s);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM schema_migrations"), migration_count);
  assert_int_equal(count_rows(f->dir, "SELECT COUNT(*) FROM referrers"), 0);
}

static bool ping_is(struct fixture *f, const void *want) {
  return store_ping(f->s) == *(const int *)want;
}

static void wait_ping(struct fixture *f, int want) {
  assert_true(run_until(f, ping_is, &want));
}

/* PostgreSQL drops every connection of tandem's (as when it restarts): the
 * store says so at once, answers STORE_UNAVAILABLE without waiting, and is
 * back by itself within seconds. */
static void test_store_answers_unavailable_while_postgres_is_away_then_recovers(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("242424");
  assert_int_equal(insert_room(f, &room), STORE_OK);
  assert_int_equal(store_ping(f->s), 0);
  assert_true(pg_exec("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()") >= 1);
  wait_ping(f, -1);
  /* Asked while no connection is up: answered before the call returns. */
  struct found fd = {.status = PENDING};
  store_room_get(f->s, room.id, STORE_ID_LEN, got_room, &fd);
  assert_int_equal(fd.status, STORE_UNAVAILABLE);
  wait_ping(f, 0);
  assert_string_equal(get_room(f, room.id).id, room.id);
}

static void quiet(void *arg, const char *message) {}

/* A query PostgreSQL is working on when its connection is cut fails with
 * STORE_UNAVAILABLE; it does not wait for an answer that will not come.
 * (The admin connection holds a lock, so the query is surely in flight.) */
static void test_store_fails_the_query_in_flight_when_the_connection_drops(void **state) {
  struct fixture *f = *state;
  struct room_row room = make_room("252525");
  assert_int_equal(insert_room(f, &room), STORE_OK);
  assert_int_equal(pg_exec("BEGIN; LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE"), 0);
  struct found fd = {.status = PENDING};
  store_room_get(f->s, room.id, STORE_ID_LEN, got_room, &fd);
  int waiting = 0;
  for (int i = 0; i < 500 && waiting < 1; i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    waiting = pg_exec("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                      "AND datname = current_database()");
    if (waiting < 1)
      usleep(10000);
  }
  assert_int_equal(waiting, 1);
  assert_int_equal(fd.status, PENDING);
  assert_true(pg_exec("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()") >= 1);
  wait_for(f, &fd.status);
  assert_int_equal(fd.status, STORE_UNAVAILABLE);
  assert_int_equal(pg_exec("ROLLBACK"), 0);
  wait_ping(f, -1); /* every connection has seen its end */
  wait_ping(f, 0);
  assert_int_equal(get_room(f, room.id).status, STORE_OK);
}

#define BOTH(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void) {
  if (rand_init() < 0)
    return 1;
  const struct CMUnitTest both[] = {
      BOTH(test_store_refuses_a_code_already_taken),
      BOTH(test_store_finds_a_room_by_id_and_by_code),
      BOTH(test_store_numbers_items_per_room),
      BOTH(test_store_deleting_a_room_deletes_its_items),
      BOTH(test_store_lists_expired_rooms_only),
      BOTH(test_store_reopens_an_existing_database_without_migrating_again),
      BOTH(test_store_counts_referrer_visits_per_day_with_a_cap),
      BOTH(test_store_records_each_migration_by_version),
      BOTH(test_store_account_emails_are_unique),
      BOTH(test_store_sessions_end_at_their_expiry),
      BOTH(test_store_owned_rooms_never_expire_and_titles_are_unique_per_owner),
      BOTH(test_store_refuses_a_room_of_an_unknown_kind),
      BOTH(test_store_updates_a_room_and_refuses_a_taken_code),
      BOTH(test_store_messages_page_both_ways_and_delete),
      BOTH(test_store_bans_are_per_room_and_go_with_it),
      BOTH(test_store_doc_updates_are_all_or_none),
      BOTH(test_store_a_snapshot_prunes_the_history_before_it),
      BOTH(test_store_files_count_towards_the_room_bytes),
      BOTH(test_store_two_stores_number_one_room_without_gaps_or_twins),
  };
  const struct CMUnitTest sqlite_only[] = {
      cmocka_unit_test(test_store_migrations_are_the_same_in_both_dialects),
      BOTH(test_store_takes_a_database_of_user_version_only_as_migrated_that_far),
      BOTH(test_store_picks_the_engine_from_the_database_url),
  };
  const struct CMUnitTest postgres_only[] = {
      BOTH(test_store_answers_unavailable_while_postgres_is_away_then_recovers),
      BOTH(test_store_fails_the_query_in_flight_when_the_connection_drops),
  };
  int failed = cmocka_run_group_tests_name("sqlite", both, NULL, NULL);
  failed += cmocka_run_group_tests_name("sqlite_only", sqlite_only, NULL, NULL);
  pg_url = getenv("TANDEM_TEST_DATABASE_URL");
  if (!pg_url || !*pg_url)
    return failed;
  pg_admin = PQconnectdb(pg_url);
  if (PQstatus(pg_admin) != CONNECTION_OK) {
    fprintf(stderr, "cannot connect to %s: %s", pg_url, PQerrorMessage(pg_admin));
    PQfinish(pg_admin);
    return 1;
  }
  PQsetNoticeProcessor(pg_admin, quiet, NULL);
  failed += cmocka_run_group_tests_name("postgres", both, NULL, NULL);
  failed += cmocka_run_group_tests_name("postgres_only", postgres_only, NULL, NULL);
  PQfinish(pg_admin);
  return failed;
}
