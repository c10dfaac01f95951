/* The SQLite engine of store.h: WAL, foreign keys, prepared statements,
 * migrations in a transaction each. Answers every call before returning. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/engine.h"
#include "store/migrations.h"
#include "util/log.h"

enum stmt_id {
  ST_PING,
  ST_ROOM_INSERT,
  ST_ROOM_BY_ID,
  ST_ROOM_BY_CODE,
  ST_ROOM_DELETE,
  ST_ROOMS_EXPIRED,
  ST_ITEM_NEXT_SEQ,
  ST_ITEM_INSERT,
  ST_ITEM_GET,
  ST_ITEM_DELETE,
  ST_ITEMS_LIST,
  ST_ROOM_BYTES,
  ST_ITEM_EXISTS,
  ST_DOC_UPDATE_INSERT,
  ST_DOC_UPDATES_LIST,
  ST_DOC_SNAPSHOT_LATEST,
  ST_DOC_SNAPSHOT_INSERT,
  ST_DOC_SNAPSHOTS_PRUNE,
  ST_DOC_UPDATES_PRUNE,
  ST_ROOM_SET_LANGUAGE,
  ST_REFERRER_KNOWN,
  ST_REFERRER_COUNT,
  ST_REFERRER_VISIT,
  ST_REFERRERS_SINCE,
  ST_REFERRERS_PRUNE,
  ST_ACCOUNT_INSERT,
  ST_ACCOUNT_BY_EMAIL,
  ST_SESSION_INSERT,
  ST_SESSION_ACCOUNT,
  ST_SESSION_DELETE,
  ST_SESSIONS_EXPIRED,
  ST_ROOMS_OF_OWNER,
  ST_ROOM_UPDATE,
  ST_MESSAGE_INSERT,
  ST_MESSAGES_AFTER,
  ST_MESSAGES_BEFORE,
  ST_MESSAGE_DELETE,
  ST_BAN_INSERT,
  ST_BAN_EXISTS,
  ST_COUNT
};

#define ROOM_COLUMNS                                                                               \
  "id, code, title, created_at, expires_at, password_hash, owner_token_hash, language, owner_id, " \
  "opens_at, closes_at, kind"
#define ITEM_COLUMNS                                                                               \
  "id, room_id, seq, kind, alias, text, file_name, size, content_type, sha256, created_at"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_PING] = "SELECT 1",
    [ST_ROOM_INSERT] =
        "INSERT INTO rooms (" ROOM_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_ROOM_BY_ID] = "SELECT " ROOM_COLUMNS " FROM rooms WHERE id = ?",
    [ST_ROOM_BY_CODE] = "SELECT " ROOM_COLUMNS " FROM rooms WHERE code = ?",
    [ST_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?",
    [ST_ROOMS_EXPIRED] =
        "SELECT " ROOM_COLUMNS " FROM rooms WHERE expires_at <= ? AND owner_id IS NULL "
        "ORDER BY expires_at LIMIT ?",
    [ST_ITEM_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM items WHERE room_id = ?",
    [ST_ITEM_INSERT] =
        "INSERT INTO items (" ITEM_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_ITEM_GET] = "SELECT " ITEM_COLUMNS " FROM items WHERE room_id = ? AND id = ?",
    [ST_ITEM_DELETE] = "DELETE FROM items WHERE room_id = ? AND id = ?",
    [ST_ITEMS_LIST] =
        "SELECT " ITEM_COLUMNS " FROM items WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    [ST_ROOM_BYTES] = "SELECT COALESCE(SUM(size), 0) FROM items WHERE room_id = ?",
    [ST_ITEM_EXISTS] = "SELECT 1 FROM items WHERE id = ?",
    [ST_DOC_UPDATE_INSERT] = "INSERT INTO doc_updates (room_id, version, client_id, changes, "
                             "created_at) VALUES (?, ?, ?, ?, ?)",
    [ST_DOC_UPDATES_LIST] = "SELECT version, client_id, changes, created_at FROM doc_updates "
                            "WHERE room_id = ? AND version > ? ORDER BY version LIMIT ?",
    [ST_DOC_SNAPSHOT_LATEST] = "SELECT version, text FROM doc_snapshots WHERE room_id = ? "
                               "ORDER BY version DESC LIMIT 1",
    [ST_DOC_SNAPSHOT_INSERT] = "INSERT OR REPLACE INTO doc_snapshots (room_id, version, text, "
                               "created_at) VALUES (?, ?, ?, ?)",
    [ST_DOC_SNAPSHOTS_PRUNE] = "DELETE FROM doc_snapshots WHERE room_id = ? AND version < ?",
    [ST_DOC_UPDATES_PRUNE] = "DELETE FROM doc_updates WHERE room_id = ? AND version <= ?",
    [ST_ROOM_SET_LANGUAGE] = "UPDATE rooms SET language = ? WHERE id = ?",
    [ST_REFERRER_KNOWN] = "SELECT 1 FROM referrers WHERE day = ? AND ref = ?",
    [ST_REFERRER_COUNT] = "SELECT COUNT(*) FROM referrers WHERE day = ?",
    [ST_REFERRER_VISIT] = "INSERT INTO referrers (day, ref, visits) VALUES (?, ?, 1) "
                          "ON CONFLICT (day, ref) DO UPDATE SET visits = visits + 1",
    [ST_REFERRERS_SINCE] = "SELECT day, ref, visits FROM referrers WHERE day >= ? "
                           "ORDER BY day DESC, visits DESC, ref",
    [ST_REFERRERS_PRUNE] = "DELETE FROM referrers WHERE day < ?",
    [ST_ACCOUNT_INSERT] =
        "INSERT INTO accounts (email, password_hash, created_at) VALUES (?, ?, ?)",
    [ST_ACCOUNT_BY_EMAIL] =
        "SELECT id, email, password_hash, created_at FROM accounts WHERE email = ?",
    [ST_SESSION_INSERT] =
        "INSERT INTO auth_sessions (token_hash, account_id, expires_at) VALUES (?, ?, ?)",
    [ST_SESSION_ACCOUNT] = "SELECT a.id, a.email, a.password_hash, a.created_at FROM "
                           "auth_sessions s JOIN accounts a ON a.id = s.account_id "
                           "WHERE s.token_hash = ? AND s.expires_at > ?",
    [ST_SESSION_DELETE] = "DELETE FROM auth_sessions WHERE token_hash = ?",
    [ST_SESSIONS_EXPIRED] = "DELETE FROM auth_sessions WHERE expires_at <= ?",
    [ST_ROOMS_OF_OWNER] =
        "SELECT " ROOM_COLUMNS " FROM rooms WHERE owner_id = ? ORDER BY opens_at, id",
    [ST_ROOM_UPDATE] = "UPDATE rooms SET code = ?, title = ?, password_hash = ?, opens_at = ?, "
                       "closes_at = ?, expires_at = ? WHERE id = ?",
    [ST_MESSAGE_INSERT] =
        "INSERT INTO messages (room_id, alias, text, created_at) VALUES (?, ?, ?, ?)",
    [ST_MESSAGES_AFTER] = "SELECT id, room_id, alias, text, created_at FROM messages "
                          "WHERE room_id = ? AND id > ? ORDER BY id LIMIT ?",
    [ST_MESSAGES_BEFORE] = "SELECT id, room_id, alias, text, created_at FROM messages "
                           "WHERE room_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
    [ST_MESSAGE_DELETE] = "DELETE FROM messages WHERE room_id = ? AND id = ?",
    [ST_BAN_INSERT] = "INSERT OR IGNORE INTO room_bans (room_id, device_hash) VALUES (?, ?)",
    [ST_BAN_EXISTS] = "SELECT 1 FROM room_bans WHERE room_id = ? AND device_hash = ?",
};

struct sqlite_store {
  struct store base; /* first: store.c forwards calls here */
  sqlite3 *db;
  sqlite3_stmt *stmt[ST_COUNT];
};

static int fail(struct sqlite_store *s, const char *what) {
  log_msg(LOG_ERROR, "store.error", "%s: %s", what, sqlite3_errmsg(s->db));
  return STORE_FAILED;
}

static int exec(struct sqlite_store *s, const char *sql, char *err, size_t errlen) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* Which migrations a database has is recorded by version in
 * schema_migrations, so one merged out of order (002 after 003 and 004)
 * still runs. A database from before the table existed (PRAGMA
 * user_version only) is taken to have every migration up to that version. */
static int migrations_table(struct sqlite_store *s, char *err, size_t errlen) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
    return -1;
  }
  int legacy = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  char sql[384];
  snprintf(sql, sizeof sql,
           "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
           "applied_at INTEGER NOT NULL);"
           "INSERT OR IGNORE INTO schema_migrations "
           "WITH RECURSIVE v(n) AS (SELECT 1 WHERE %d >= 1 UNION ALL "
           "SELECT n + 1 FROM v WHERE n < %d) "
           "SELECT n, 0 FROM v WHERE NOT EXISTS (SELECT 1 FROM schema_migrations)",
           legacy, legacy);
  return exec(s, sql, err, errlen);
}

static int applied(struct sqlite_store *s, int version) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM schema_migrations WHERE version = ?", -1, &st,
                         NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_int(st, 1, version);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Applies each migration the database lacks, in order, each in its own
 * transaction, so a failure leaves the schema at the last good one. */
static int migrate(struct sqlite_store *s, char *err, size_t errlen) {
  if (migrations_table(s, err, errlen) < 0)
    return -1;
  for (int i = 0; i < migration_count; i++) {
    const struct migration *m = &migrations[i];
    int have = applied(s, m->version);
    if (have < 0) {
      snprintf(err, errlen, "reading schema_migrations: %s", sqlite3_errmsg(s->db));
      return -1;
    }
    if (have)
      continue;
    char record[160], why[256];
    snprintf(record, sizeof record,
             "INSERT INTO schema_migrations VALUES (%d, unixepoch()); PRAGMA user_version = %d",
             m->version, m->version);
    if (exec(s, "BEGIN IMMEDIATE", why, sizeof why) < 0 || exec(s, m->sql, why, sizeof why) < 0 ||
        exec(s, record, why, sizeof why) < 0 || exec(s, "COMMIT", why, sizeof why) < 0) {
      exec(s, "ROLLBACK", record, sizeof record);
      snprintf(err, errlen, "migration %s failed: %.180s", m->name, why);
      return -1;
    }
    log_msg(LOG_INFO, "store.migrated", "applied %s", m->name);
  }
  return 0;
}

static const struct store_ops sqlite_ops;

static void sqlite_close(struct store *base) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  if (!s)
    return;
  for (int i = 0; i < ST_COUNT; i++)
    sqlite3_finalize(s->stmt[i]);
  sqlite3_close(s->db);
  free(s);
}

struct store *sqlite_store_open(const char *path, char *err, size_t errlen) {
  struct sqlite_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->base.ops = &sqlite_ops;
  char why[256];
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
    goto fail;
  }
  /* WAL lets readers go on while a writer commits; a short busy timeout
   * rides out a checkpoint instead of failing the request. */
  if (sqlite3_busy_timeout(s->db, 2000) != SQLITE_OK ||
      exec(s, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", why,
           sizeof why) < 0) {
    snprintf(err, errlen, "cannot set up %.200s: %.200s", path, why);
    goto fail;
  }
  if (migrate(s, why, sizeof why) < 0) {
    snprintf(err, errlen, "%.200s: %.200s", path, why);
    goto fail;
  }
  for (int i = 0; i < ST_COUNT; i++)
    if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) !=
        SQLITE_OK) {
      snprintf(err, errlen, "cannot prepare a query on %s: %s", path, sqlite3_errmsg(s->db));
      goto fail;
    }
  return &s->base;
fail:
  sqlite_close(&s->base);
  return NULL;
}

/* A statement ready to bind: reset from its last use. */
static sqlite3_stmt *prep(struct sqlite_store *s, enum stmt_id id) {
  sqlite3_stmt *st = s->stmt[id];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v) {
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* An owned room's column, NULL for a drop room (owner 0). */
static void bind_owned(sqlite3_stmt *st, int i, int64_t owner_id, int64_t v) {
  if (owner_id)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

static int sqlite_ping(struct store *base) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  if (!s)
    return -1;
  sqlite3_stmt *st = prep(s, ST_PING);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 0 : -1;
}

static const char *column_text(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL
                                                   : (const char *)sqlite3_column_text(st, i);
}

static void copy_id(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

static void read_room(sqlite3_stmt *st, struct room_row *r) {
  memset(r, 0, sizeof *r);
  copy_id(r->id, sizeof r->id, column_text(st, 0));
  copy_id(r->code, sizeof r->code, column_text(st, 1));
  r->title = column_text(st, 2);
  r->created_at = sqlite3_column_int64(st, 3);
  r->expires_at = sqlite3_column_int64(st, 4);
  r->password_hash = column_text(st, 5);
  const void *h = sqlite3_column_blob(st, 6);
  if (h && sqlite3_column_bytes(st, 6) == (int)sizeof r->owner_token_hash)
    memcpy(r->owner_token_hash, h, sizeof r->owner_token_hash);
  r->language = column_text(st, 7);
  r->owner_id = sqlite3_column_int64(st, 8);
  r->opens_at = sqlite3_column_int64(st, 9);
  r->closes_at = sqlite3_column_int64(st, 10);
  r->kind = column_text(st, 11);
}

static void read_item(sqlite3_stmt *st, struct item_row *it) {
  memset(it, 0, sizeof *it);
  copy_id(it->id, sizeof it->id, column_text(st, 0));
  copy_id(it->room_id, sizeof it->room_id, column_text(st, 1));
  it->seq = sqlite3_column_int64(st, 2);
  const char *kind = column_text(st, 3);
  it->kind = kind && strcmp(kind, "file") == 0 ? ITEM_FILE : ITEM_TEXT;
  it->alias = column_text(st, 4);
  it->text = column_text(st, 5);
  it->text_len = it->text ? (size_t)sqlite3_column_bytes(st, 5) : 0;
  it->file_name = column_text(st, 6);
  it->size = sqlite3_column_int64(st, 7);
  it->content_type = column_text(st, 8);
  it->sha256 = column_text(st, 9);
  it->created_at = sqlite3_column_int64(st, 10);
}

static void sqlite_room_insert(struct store *base, const struct room_row *room, store_done_cb cb,
                               void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOM_INSERT);
  sqlite3_bind_text(st, 1, room->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, room->code, -1, SQLITE_STATIC);
  bind_text_or_null(st, 3, room->title);
  sqlite3_bind_int64(st, 4, room->created_at);
  sqlite3_bind_int64(st, 5, room->expires_at);
  bind_text_or_null(st, 6, room->password_hash);
  sqlite3_bind_blob(st, 7, room->owner_token_hash, sizeof room->owner_token_hash, SQLITE_STATIC);
  bind_text_or_null(st, 8, room->language);
  bind_owned(st, 9, room->owner_id, room->owner_id);
  bind_owned(st, 10, room->owner_id, room->opens_at);
  bind_owned(st, 11, room->owner_id, room->closes_at);
  sqlite3_bind_text(st, 12, room->kind ? room->kind : "drop", -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int status = rc == SQLITE_DONE           ? STORE_OK
               : (rc == SQLITE_CONSTRAINT) ? STORE_CONFLICT
                                           : fail(s, "room insert");
  sqlite3_reset(st);
  cb(ctx, status);
}

static void sqlite_room_get(struct store *base, const char *key, size_t len, store_room_cb cb,
                            void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, len == STORE_CODE_LEN ? ST_ROOM_BY_CODE : ST_ROOM_BY_ID);
  sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    struct room_row r;
    read_room(st, &r);
    cb(ctx, STORE_OK, &r);
  } else {
    cb(ctx, rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "room get"), NULL);
  }
  sqlite3_reset(st);
}

static void run_done(struct sqlite_store *s, sqlite3_stmt *st, const char *what, store_done_cb cb,
                     void *ctx) {
  int rc = sqlite3_step(st);
  int status = rc != SQLITE_DONE        ? fail(s, what)
               : sqlite3_changes(s->db) ? STORE_OK
                                        : STORE_NOT_FOUND;
  sqlite3_reset(st);
  cb(ctx, status);
}

static void sqlite_room_delete(struct store *base, const char *id, store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOM_DELETE);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  run_done(s, st, "room delete", cb, ctx);
}

static void sqlite_rooms_expired(struct store *base, int64_t now, int limit, store_room_cb each,
                                 void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOMS_EXPIRED);
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int(st, 2, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct room_row r;
    read_room(st, &r);
    each(ctx, STORE_OK, &r);
  }
  each(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "expired rooms"), NULL);
  sqlite3_reset(st);
}

/* The next seq and the insert run in one transaction: the loop thread is
 * the only writer here, and the UNIQUE (room_id, seq) guards the rest. */
static void sqlite_item_insert(struct store *base, const struct item_row *it, store_id_cb cb,
                               void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  char why[128];
  if (exec(s, "BEGIN IMMEDIATE", why, sizeof why) < 0) {
    cb(ctx, fail(s, "item insert begin"), 0);
    return;
  }
  sqlite3_stmt *st = prep(s, ST_ITEM_NEXT_SEQ);
  sqlite3_bind_text(st, 1, it->room_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW) {
    int status = fail(s, "item seq");
    exec(s, "ROLLBACK", why, sizeof why);
    cb(ctx, status, 0);
    return;
  }
  st = prep(s, ST_ITEM_INSERT);
  sqlite3_bind_text(st, 1, it->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, it->room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, seq);
  sqlite3_bind_text(st, 4, it->kind == ITEM_FILE ? "file" : "text", -1, SQLITE_STATIC);
  bind_text_or_null(st, 5, it->alias);
  if (it->text)
    sqlite3_bind_text(st, 6, it->text, (int)it->text_len, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 6);
  bind_text_or_null(st, 7, it->file_name);
  sqlite3_bind_int64(st, 8, it->size);
  bind_text_or_null(st, 9, it->content_type);
  bind_text_or_null(st, 10, it->sha256);
  sqlite3_bind_int64(st, 11, it->created_at);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    int status = rc == SQLITE_CONSTRAINT ? STORE_CONFLICT : fail(s, "item insert");
    exec(s, "ROLLBACK", why, sizeof why);
    cb(ctx, status, 0);
    return;
  }
  if (exec(s, "COMMIT", why, sizeof why) < 0) {
    int status = fail(s, "item insert commit");
    exec(s, "ROLLBACK", why, sizeof why);
    cb(ctx, status, 0);
    return;
  }
  cb(ctx, STORE_OK, seq);
}

static void sqlite_item_get(struct store *base, const char *room_id, const char *item_id,
                            store_item_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ITEM_GET);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, item_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    struct item_row it;
    read_item(st, &it);
    cb(ctx, STORE_OK, &it);
  } else {
    cb(ctx, rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "item get"), NULL);
  }
  sqlite3_reset(st);
}

static void sqlite_item_delete(struct store *base, const char *room_id, const char *item_id,
                               store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ITEM_DELETE);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, item_id, -1, SQLITE_STATIC);
  run_done(s, st, "item delete", cb, ctx);
}

static void sqlite_items_list(struct store *base, const char *room_id, int64_t after, int limit,
                              store_items_cb each, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ITEMS_LIST);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int(st, 3, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct item_row it;
    read_item(st, &it);
    each(ctx, STORE_OK, &it);
  }
  each(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "items list"), NULL);
  sqlite3_reset(st);
}

static void sqlite_room_bytes(struct store *base, const char *room_id,
                              void (*cb)(void *ctx, int status, int64_t bytes), void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOM_BYTES);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t bytes = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  cb(ctx, rc == SQLITE_ROW ? STORE_OK : fail(s, "room bytes"), bytes);
}

static int sqlite_item_exists(struct store *base, const char *item_id) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ITEM_EXISTS);
  sqlite3_bind_text(st, 1, item_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  fail(s, "item exists");
  return -1;
}

/* Runs `step` inside BEGIN IMMEDIATE ... COMMIT, rolling back when it
 * fails; answers cb with its status. */
static void in_transaction(struct sqlite_store *s, const char *what,
                           int (*step)(struct sqlite_store *, void *), void *arg, store_done_cb cb,
                           void *ctx) {
  char why[128];
  if (exec(s, "BEGIN IMMEDIATE", why, sizeof why) < 0) {
    cb(ctx, fail(s, what));
    return;
  }
  int status = step(s, arg);
  if (status == STORE_OK && exec(s, "COMMIT", why, sizeof why) < 0)
    status = fail(s, what);
  if (status != STORE_OK)
    exec(s, "ROLLBACK", why, sizeof why);
  cb(ctx, status);
}

struct updates_append {
  const char *room_id;
  const struct doc_update_row *rows;
  size_t count;
};

static int append_updates(struct sqlite_store *s, void *arg) {
  const struct updates_append *a = arg;
  for (size_t i = 0; i < a->count; i++) {
    const struct doc_update_row *u = &a->rows[i];
    sqlite3_stmt *st = prep(s, ST_DOC_UPDATE_INSERT);
    sqlite3_bind_text(st, 1, a->room_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, u->version);
    sqlite3_bind_text(st, 3, u->client_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, u->changes, (int)u->changes_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, u->created_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
      return rc == SQLITE_CONSTRAINT ? STORE_CONFLICT : fail(s, "doc update insert");
  }
  return STORE_OK;
}

static void sqlite_doc_updates_append(struct store *base, const char *room_id,
                                      const struct doc_update_row *rows, size_t count,
                                      store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  struct updates_append a = {room_id, rows, count};
  in_transaction(s, "doc updates", append_updates, &a, cb, ctx);
}

static void sqlite_doc_updates_list(struct store *base, const char *room_id, int64_t after,
                                    int limit, store_doc_update_cb each, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_DOC_UPDATES_LIST);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int(st, 3, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct doc_update_row u = {
        .version = sqlite3_column_int64(st, 0),
        .client_id = column_text(st, 1),
        .changes = column_text(st, 2),
        .changes_len = (size_t)sqlite3_column_bytes(st, 2),
        .created_at = sqlite3_column_int64(st, 3),
    };
    each(ctx, STORE_OK, &u);
  }
  each(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "doc updates list"), NULL);
  sqlite3_reset(st);
}

static void sqlite_doc_snapshot_latest(struct store *base, const char *room_id,
                                       store_doc_snapshot_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_DOC_SNAPSHOT_LATEST);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *text = column_text(st, 1);
    struct doc_snapshot_row snap = {
        .version = sqlite3_column_int64(st, 0),
        .text = text ? text : "",
        .text_len = (size_t)sqlite3_column_bytes(st, 1),
    };
    cb(ctx, STORE_OK, &snap);
  } else {
    cb(ctx, rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "doc snapshot"), NULL);
  }
  sqlite3_reset(st);
}

struct snapshot_save {
  const char *room_id;
  const struct doc_snapshot_row *snap;
  int64_t created_at, prune_to;
};

static int run_step(struct sqlite_store *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? STORE_OK : fail(s, what);
}

static int save_snapshot(struct sqlite_store *s, void *arg) {
  const struct snapshot_save *a = arg;
  sqlite3_stmt *st = prep(s, ST_DOC_SNAPSHOT_INSERT);
  sqlite3_bind_text(st, 1, a->room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, a->snap->version);
  sqlite3_bind_text(st, 3, a->snap->text, (int)a->snap->text_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, a->created_at);
  int status = run_step(s, st, "doc snapshot insert");
  if (status != STORE_OK)
    return status;
  st = prep(s, ST_DOC_SNAPSHOTS_PRUNE);
  sqlite3_bind_text(st, 1, a->room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, a->snap->version);
  status = run_step(s, st, "doc snapshots prune");
  if (status != STORE_OK)
    return status;
  st = prep(s, ST_DOC_UPDATES_PRUNE);
  sqlite3_bind_text(st, 1, a->room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, a->prune_to);
  return run_step(s, st, "doc updates prune");
}

static void sqlite_doc_snapshot_save(struct store *base, const char *room_id,
                                     const struct doc_snapshot_row *snap, int64_t created_at,
                                     int64_t prune_to, store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  struct snapshot_save a = {room_id, snap, created_at, prune_to};
  in_transaction(s, "doc snapshot", save_snapshot, &a, cb, ctx);
}

static void sqlite_room_set_language(struct store *base, const char *room_id, const char *language,
                                     store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOM_SET_LANGUAGE);
  bind_text_or_null(st, 1, language);
  sqlite3_bind_text(st, 2, room_id, -1, SQLITE_STATIC);
  run_done(s, st, "room language", cb, ctx);
}

/* 1 when the day already counts this referrer, 0 when not, -1 on failure. */
static int referrer_known(struct sqlite_store *s, const char *day, const char *ref) {
  sqlite3_stmt *st = prep(s, ST_REFERRER_KNOWN);
  sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int64_t referrers_on(struct sqlite_store *s, const char *day) {
  sqlite3_stmt *st = prep(s, ST_REFERRER_COUNT);
  sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

static void sqlite_referrer_visit(struct store *base, const char *day, const char *ref,
                                  int max_refs, store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  int known = referrer_known(s, day, ref);
  int64_t count = known == 0 ? referrers_on(s, day) : 0;
  if (known < 0 || count < 0) {
    cb(ctx, fail(s, "referrer lookup"));
    return;
  }
  if (!known && count >= max_refs)
    ref = STORE_REFERRER_OTHER;
  sqlite3_stmt *st = prep(s, ST_REFERRER_VISIT);
  sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  cb(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "referrer visit"));
}

static void sqlite_referrers_since(struct store *base, const char *since, store_referrers_cb each,
                                   void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_REFERRERS_SINCE);
  sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    each(ctx, STORE_OK, (const char *)sqlite3_column_text(st, 0),
         (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
  sqlite3_reset(st);
  each(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "referrers"), NULL, NULL, 0);
}

static void sqlite_referrers_prune(struct store *base, const char *before, store_done_cb cb,
                                   void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_REFERRERS_PRUNE);
  sqlite3_bind_text(st, 1, before, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  cb(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "referrers prune"));
}

static void read_account(sqlite3_stmt *st, struct account_row *a) {
  a->id = sqlite3_column_int64(st, 0);
  a->email = column_text(st, 1);
  a->password_hash = column_text(st, 2);
  a->created_at = sqlite3_column_int64(st, 3);
}

/* Steps a statement that yields at most one account. */
static void one_account(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
                        store_account_cb cb, void *ctx) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    struct account_row a;
    read_account(st, &a);
    cb(ctx, STORE_OK, &a);
  } else {
    cb(ctx, rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, what), NULL);
  }
  sqlite3_reset(st);
}

static void sqlite_account_insert(struct store *base, const struct account_row *a, store_id_cb cb,
                                  void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ACCOUNT_INSERT);
  sqlite3_bind_text(st, 1, a->email, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, a->password_hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, a->created_at);
  int rc = sqlite3_step(st);
  int status = rc == SQLITE_DONE         ? STORE_OK
               : rc == SQLITE_CONSTRAINT ? STORE_CONFLICT
                                         : fail(s, "account insert");
  int64_t id = status == STORE_OK ? sqlite3_last_insert_rowid(s->db) : 0;
  sqlite3_reset(st);
  cb(ctx, status, id);
}

static void sqlite_account_by_email(struct store *base, const char *email, store_account_cb cb,
                                    void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ACCOUNT_BY_EMAIL);
  sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
  one_account(s, st, "account by email", cb, ctx);
}

static void sqlite_session_insert(struct store *base, const uint8_t token_hash[32],
                                  int64_t account_id, int64_t expires_at, store_done_cb cb,
                                  void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_SESSION_INSERT);
  sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, account_id);
  sqlite3_bind_int64(st, 3, expires_at);
  run_done(s, st, "session insert", cb, ctx);
}

static void sqlite_session_account(struct store *base, const uint8_t token_hash[32], int64_t now,
                                   store_account_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_SESSION_ACCOUNT);
  sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now);
  one_account(s, st, "session account", cb, ctx);
}

static void sqlite_session_delete(struct store *base, const uint8_t token_hash[32],
                                  store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_SESSION_DELETE);
  sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
  run_done(s, st, "session delete", cb, ctx);
}

static void sqlite_sessions_expired_delete(struct store *base, int64_t now, store_done_cb cb,
                                           void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_SESSIONS_EXPIRED);
  sqlite3_bind_int64(st, 1, now);
  run_done(s, st, "expired sessions", cb, ctx);
}

static void sqlite_rooms_of_owner(struct store *base, int64_t owner_id, store_room_cb each,
                                  void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOMS_OF_OWNER);
  sqlite3_bind_int64(st, 1, owner_id);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct room_row r;
    read_room(st, &r);
    each(ctx, STORE_OK, &r);
  }
  each(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, "rooms of owner"), NULL);
  sqlite3_reset(st);
}

static void sqlite_room_update(struct store *base, const struct room_row *room, store_done_cb cb,
                               void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_ROOM_UPDATE);
  sqlite3_bind_text(st, 1, room->code, -1, SQLITE_STATIC);
  bind_text_or_null(st, 2, room->title);
  bind_text_or_null(st, 3, room->password_hash);
  bind_owned(st, 4, room->owner_id, room->opens_at);
  bind_owned(st, 5, room->owner_id, room->closes_at);
  sqlite3_bind_int64(st, 6, room->expires_at);
  sqlite3_bind_text(st, 7, room->id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int status = rc == SQLITE_CONSTRAINT  ? STORE_CONFLICT
               : rc != SQLITE_DONE      ? fail(s, "room update")
               : sqlite3_changes(s->db) ? STORE_OK
                                        : STORE_NOT_FOUND;
  sqlite3_reset(st);
  cb(ctx, status);
}

static void read_message(sqlite3_stmt *st, struct message_row *m) {
  memset(m, 0, sizeof *m);
  m->id = sqlite3_column_int64(st, 0);
  copy_id(m->room_id, sizeof m->room_id, column_text(st, 1));
  m->alias = column_text(st, 2);
  m->text = column_text(st, 3);
  m->text_len = m->text ? (size_t)sqlite3_column_bytes(st, 3) : 0;
  m->created_at = sqlite3_column_int64(st, 4);
}

static void sqlite_message_insert(struct store *base, const struct message_row *m, store_id_cb cb,
                                  void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_MESSAGE_INSERT);
  sqlite3_bind_text(st, 1, m->room_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, m->alias, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, m->text, (int)m->text_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, m->created_at);
  int rc = sqlite3_step(st);
  int status = rc == SQLITE_DONE ? STORE_OK : fail(s, "message insert");
  int64_t id = status == STORE_OK ? sqlite3_last_insert_rowid(s->db) : 0;
  sqlite3_reset(st);
  cb(ctx, status, id);
}

static void each_message(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
                         store_message_cb each, void *ctx) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct message_row m;
    read_message(st, &m);
    each(ctx, STORE_OK, &m);
  }
  each(ctx, rc == SQLITE_DONE ? STORE_OK : fail(s, what), NULL);
  sqlite3_reset(st);
}

static void sqlite_messages_after(struct store *base, const char *room_id, int64_t after, int limit,
                                  store_message_cb each, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_MESSAGES_AFTER);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int(st, 3, limit);
  each_message(s, st, "messages after", each, ctx);
}

static void sqlite_messages_before(struct store *base, const char *room_id, int64_t before,
                                   int limit, store_message_cb each, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_MESSAGES_BEFORE);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, before);
  sqlite3_bind_int(st, 3, limit);
  each_message(s, st, "messages before", each, ctx);
}

static void sqlite_message_delete(struct store *base, const char *room_id, int64_t id,
                                  store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_MESSAGE_DELETE);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, id);
  run_done(s, st, "message delete", cb, ctx);
}

static void sqlite_ban_insert(struct store *base, const char *room_id,
                              const uint8_t device_hash[16], store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_BAN_INSERT);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, device_hash, 16, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int status = rc == SQLITE_DONE ? STORE_OK : fail(s, "ban insert");
  sqlite3_reset(st);
  cb(ctx, status);
}

static void sqlite_ban_exists(struct store *base, const char *room_id,
                              const uint8_t device_hash[16], store_done_cb cb, void *ctx) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st = prep(s, ST_BAN_EXISTS);
  sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, device_hash, 16, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  cb(ctx, rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "ban"));
}

static const struct store_ops sqlite_ops = {
    .close = sqlite_close,
    .ping = sqlite_ping,
    .room_insert = sqlite_room_insert,
    .room_get = sqlite_room_get,
    .room_delete = sqlite_room_delete,
    .rooms_expired = sqlite_rooms_expired,
    .item_insert = sqlite_item_insert,
    .item_get = sqlite_item_get,
    .item_delete = sqlite_item_delete,
    .items_list = sqlite_items_list,
    .room_bytes = sqlite_room_bytes,
    .item_exists = sqlite_item_exists,
    .doc_updates_append = sqlite_doc_updates_append,
    .doc_updates_list = sqlite_doc_updates_list,
    .doc_snapshot_latest = sqlite_doc_snapshot_latest,
    .doc_snapshot_save = sqlite_doc_snapshot_save,
    .room_set_language = sqlite_room_set_language,
    .referrer_visit = sqlite_referrer_visit,
    .referrers_since = sqlite_referrers_since,
    .referrers_prune = sqlite_referrers_prune,
    .account_insert = sqlite_account_insert,
    .account_by_email = sqlite_account_by_email,
    .session_insert = sqlite_session_insert,
    .session_account = sqlite_session_account,
    .session_delete = sqlite_session_delete,
    .sessions_expired_delete = sqlite_sessions_expired_delete,
    .rooms_of_owner = sqlite_rooms_of_owner,
    .room_update = sqlite_room_update,
    .message_insert = sqlite_message_insert,
    .messages_after = sqlite_messages_after,
    .messages_before = sqlite_messages_before,
    .message_delete = sqlite_message_delete,
    .ban_insert = sqlite_ban_insert,
    .ban_exists = sqlite_ban_exists,
};
