/* The PostgreSQL engine of store.h, for several tandems sharing one
 * database: the SQL of each call, the rows it answers, and the migrations.
 * The connections are pg_pool.c's. A call copies its inputs into the query
 * it queues and returns; the callback runs on a later turn of the loop,
 * with rows read from the PGresult (valid during the callback only).
 *
 * Every write that touches several rows is one statement (a CTE or unnest
 * of arrays), so it is atomic without a transaction spanning turns.
 * Only start-up (connecting, migrating) and store_item_exists block. */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/engine.h"
#include "store/migrations.h"
#include "store/pg_pool.h"
#include "util/log.h"

#define PG_SEQ_RETRIES 32                /* item inserts losing the race for a seq */
#define PG_MIGRATION_LOCK 7306916183745L /* pg_advisory_lock key: "tandem" */
#define PG_MIGRATION_WAIT "120s"         /* for another instance's migrations */
#define PG_ITEMS_SEQ_CONSTRAINT "items_room_seq"

struct pg_store {
  struct store base; /* first: store.c forwards calls here */
  struct pg_pool *pool;
};

static const struct store_ops postgres_ops;

static void p_textn(struct pg_params *p, const char *s, size_t len) {
  p->v[p->n] = s;
  p->len[p->n] = s ? len : 0;
  p->fmt[p->n++] = 0;
}

static void p_text(struct pg_params *p, const char *s) {
  p_textn(p, s, s ? strlen(s) : 0);
}

static void p_int(struct pg_params *p, int64_t v) {
  int n = snprintf(p->nums[p->n], sizeof p->nums[0], "%lld", (long long)v);
  p_textn(p, p->nums[p->n], (size_t)n);
}

/* An owned room's column, NULL for a drop room (owner 0). */
static void p_owned(struct pg_params *p, int64_t owner_id, int64_t v) {
  if (owner_id)
    p_int(p, v);
  else
    p_text(p, NULL);
}

/* Bytes go in binary format: bytea as they are. */
static void p_bytes(struct pg_params *p, const uint8_t *b, size_t n) {
  p->v[p->n] = (const char *)b;
  p->len[p->n] = n;
  p->fmt[p->n++] = 1;
}

/* ---- rows ---- */

static const char *col(const PGresult *res, int row, int i) {
  return PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
}

static int64_t col_int(const PGresult *res, int row, int i) {
  return PQgetisnull(res, row, i) ? 0 : strtoll(PQgetvalue(res, row, i), NULL, 10);
}

static int hex_digit(char ch) {
  return ch >= '0' && ch <= '9'   ? ch - '0'
         : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                  : -1;
}

/* A bytea column in text format ("\x" and hex) into exactly n bytes;
 * anything else leaves out zeroed. */
static void col_bytes(const PGresult *res, int row, int i, uint8_t *out, size_t n) {
  memset(out, 0, n);
  const char *v = col(res, row, i);
  if (!v || strncmp(v, "\\x", 2) != 0 || strlen(v + 2) != 2 * n)
    return;
  for (size_t k = 0; k < n; k++) {
    int hi = hex_digit(v[2 + 2 * k]), lo = hex_digit(v[3 + 2 * k]);
    if (hi < 0 || lo < 0) {
      memset(out, 0, n);
      return;
    }
    out[k] = (uint8_t)(hi << 4 | lo);
  }
}

static void copy_id(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

#define ROOM_COLUMNS                                                                               \
  "id, code, title, created_at, expires_at, password_hash, owner_token_hash, language, owner_id, " \
  "opens_at, closes_at, kind"
#define ITEM_COLUMNS                                                                               \
  "id, room_id, seq, kind, alias, text, file_name, size, content_type, sha256, created_at"
#define MESSAGE_COLUMNS "id, room_id, alias, text, created_at"
#define ACCOUNT_COLUMNS "id, email, password_hash, created_at"

static void read_room(const PGresult *res, int row, struct room_row *r) {
  memset(r, 0, sizeof *r);
  copy_id(r->id, sizeof r->id, col(res, row, 0));
  copy_id(r->code, sizeof r->code, col(res, row, 1));
  r->title = col(res, row, 2);
  r->created_at = col_int(res, row, 3);
  r->expires_at = col_int(res, row, 4);
  r->password_hash = col(res, row, 5);
  col_bytes(res, row, 6, r->owner_token_hash, sizeof r->owner_token_hash);
  r->language = col(res, row, 7);
  r->owner_id = col_int(res, row, 8);
  r->opens_at = col_int(res, row, 9);
  r->closes_at = col_int(res, row, 10);
  r->kind = col(res, row, 11);
}

static void read_item(const PGresult *res, int row, struct item_row *it) {
  memset(it, 0, sizeof *it);
  copy_id(it->id, sizeof it->id, col(res, row, 0));
  copy_id(it->room_id, sizeof it->room_id, col(res, row, 1));
  it->seq = col_int(res, row, 2);
  const char *kind = col(res, row, 3);
  it->kind = kind && strcmp(kind, "file") == 0 ? ITEM_FILE : ITEM_TEXT;
  it->alias = col(res, row, 4);
  it->text = col(res, row, 5);
  it->text_len = it->text ? (size_t)PQgetlength(res, row, 5) : 0;
  it->file_name = col(res, row, 6);
  it->size = col_int(res, row, 7);
  it->content_type = col(res, row, 8);
  it->sha256 = col(res, row, 9);
  it->created_at = col_int(res, row, 10);
}

static void read_account(const PGresult *res, int row, struct account_row *a) {
  a->id = col_int(res, row, 0);
  a->email = col(res, row, 1);
  a->password_hash = col(res, row, 2);
  a->created_at = col_int(res, row, 3);
}

static void read_message(const PGresult *res, int row, struct message_row *m) {
  memset(m, 0, sizeof *m);
  m->id = col_int(res, row, 0);
  copy_id(m->room_id, sizeof m->room_id, col(res, row, 1));
  m->alias = col(res, row, 2);
  m->text = col(res, row, 3);
  m->text_len = m->text ? (size_t)PQgetlength(res, row, 3) : 0;
  m->created_at = col_int(res, row, 4);
}

/* ---- deliveries: one per shape of answer ---- */

static void deliver_status(struct pg_query *q, int status, const PGresult *res) {
  q->cb.done(q->ctx, status);
}

/* A write that must change a row: none changed is STORE_NOT_FOUND. */
static void deliver_changed(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && atoll(PQcmdTuples((PGresult *)res)) == 0)
    status = STORE_NOT_FOUND;
  q->cb.done(q->ctx, status);
}

static void deliver_exists(struct pg_query *q, int status, const PGresult *res) {
  q->cb.done(q->ctx, status == STORE_OK && PQntuples(res) == 0 ? STORE_NOT_FOUND : status);
}

static void deliver_id(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && PQntuples(res) != 1)
    status = STORE_FAILED;
  q->cb.id(q->ctx, status, status == STORE_OK ? col_int(res, 0, 0) : 0);
}

static void deliver_bytes(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && PQntuples(res) != 1)
    status = STORE_FAILED;
  q->cb.bytes(q->ctx, status, status == STORE_OK ? col_int(res, 0, 0) : 0);
}

static void deliver_room(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && PQntuples(res) == 0)
    status = STORE_NOT_FOUND;
  if (status != STORE_OK) {
    q->cb.room(q->ctx, status, NULL);
    return;
  }
  struct room_row r;
  read_room(res, 0, &r);
  q->cb.room(q->ctx, STORE_OK, &r);
}

static void deliver_rooms(struct pg_query *q, int status, const PGresult *res) {
  for (int i = 0; status == STORE_OK && i < PQntuples(res); i++) {
    struct room_row r;
    read_room(res, i, &r);
    q->cb.room(q->ctx, STORE_OK, &r);
  }
  q->cb.room(q->ctx, status, NULL);
}

static void deliver_item(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && PQntuples(res) == 0)
    status = STORE_NOT_FOUND;
  if (status != STORE_OK) {
    q->cb.item(q->ctx, status, NULL);
    return;
  }
  struct item_row it;
  read_item(res, 0, &it);
  q->cb.item(q->ctx, STORE_OK, &it);
}

static void deliver_items(struct pg_query *q, int status, const PGresult *res) {
  for (int i = 0; status == STORE_OK && i < PQntuples(res); i++) {
    struct item_row it;
    read_item(res, i, &it);
    q->cb.item(q->ctx, STORE_OK, &it);
  }
  q->cb.item(q->ctx, status, NULL);
}

static void deliver_doc_updates(struct pg_query *q, int status, const PGresult *res) {
  for (int i = 0; status == STORE_OK && i < PQntuples(res); i++) {
    struct doc_update_row u = {
        .version = col_int(res, i, 0),
        .client_id = col(res, i, 1),
        .changes = col(res, i, 2),
        .changes_len = (size_t)PQgetlength(res, i, 2),
        .created_at = col_int(res, i, 3),
    };
    q->cb.doc_update(q->ctx, STORE_OK, &u);
  }
  q->cb.doc_update(q->ctx, status, NULL);
}

static void deliver_snapshot(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && PQntuples(res) == 0)
    status = STORE_NOT_FOUND;
  if (status != STORE_OK) {
    q->cb.snapshot(q->ctx, status, NULL);
    return;
  }
  const char *text = col(res, 0, 1);
  struct doc_snapshot_row snap = {
      .version = col_int(res, 0, 0),
      .text = text ? text : "",
      .text_len = (size_t)PQgetlength(res, 0, 1),
  };
  q->cb.snapshot(q->ctx, STORE_OK, &snap);
}

static void deliver_referrers(struct pg_query *q, int status, const PGresult *res) {
  for (int i = 0; status == STORE_OK && i < PQntuples(res); i++)
    q->cb.referrers(q->ctx, STORE_OK, col(res, i, 0), col(res, i, 1), col_int(res, i, 2));
  q->cb.referrers(q->ctx, status, NULL, NULL, 0);
}

static void deliver_account(struct pg_query *q, int status, const PGresult *res) {
  if (status == STORE_OK && PQntuples(res) == 0)
    status = STORE_NOT_FOUND;
  if (status != STORE_OK) {
    q->cb.account(q->ctx, status, NULL);
    return;
  }
  struct account_row a;
  read_account(res, 0, &a);
  q->cb.account(q->ctx, STORE_OK, &a);
}

static void deliver_messages(struct pg_query *q, int status, const PGresult *res) {
  for (int i = 0; status == STORE_OK && i < PQntuples(res); i++) {
    struct message_row m;
    read_message(res, i, &m);
    q->cb.message(q->ctx, STORE_OK, &m);
  }
  q->cb.message(q->ctx, status, NULL);
}

/* ---- the calls of store.h ---- */

#define PG(s) ((struct pg_store *)(s))
#define CB(field, fn) ((union pg_cb){.field = (fn)})

static int postgres_ping(struct store *base) {
  return pg_pool_up(PG(base)->pool) ? 0 : -1;
}

static void postgres_room_insert(struct store *s, const struct room_row *room, store_done_cb cb,
                                 void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room->id);
  p_text(&p, room->code);
  p_text(&p, room->title);
  p_int(&p, room->created_at);
  p_int(&p, room->expires_at);
  p_text(&p, room->password_hash);
  p_bytes(&p, room->owner_token_hash, sizeof room->owner_token_hash);
  p_text(&p, room->language);
  p_owned(&p, room->owner_id, room->owner_id);
  p_owned(&p, room->owner_id, room->opens_at);
  p_owned(&p, room->owner_id, room->closes_at);
  p_text(&p, room->kind ? room->kind : "drop");
  pg_pool_submit(PG(s)->pool, &p,
                 "INSERT INTO rooms (" ROOM_COLUMNS ") VALUES "
                 "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                 "room insert", deliver_status, CB(done, cb), ctx);
}

static void postgres_room_get(struct store *s, const char *key, size_t len, store_room_cb cb,
                              void *ctx) {
  struct pg_params p = {0};
  p_textn(&p, key, len);
  pg_pool_submit(PG(s)->pool, &p,
                 len == STORE_CODE_LEN ? "SELECT " ROOM_COLUMNS " FROM rooms WHERE code = $1"
                                       : "SELECT " ROOM_COLUMNS " FROM rooms WHERE id = $1",
                 "room get", deliver_room, CB(room, cb), ctx);
}

/* Its items, document, messages and bans go with it (ON DELETE CASCADE,
 * in the same statement). */
static void postgres_room_delete(struct store *s, const char *id, store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, id);
  pg_pool_submit(PG(s)->pool, &p, "DELETE FROM rooms WHERE id = $1", "room delete", deliver_changed,
                 CB(done, cb), ctx);
}

static void postgres_rooms_expired(struct store *s, int64_t now, int limit, store_room_cb each,
                                   void *ctx) {
  struct pg_params p = {0};
  p_int(&p, now);
  p_int(&p, limit);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT " ROOM_COLUMNS " FROM rooms WHERE expires_at <= $1 AND owner_id IS NULL "
                 "ORDER BY expires_at LIMIT $2",
                 "expired rooms", deliver_rooms, CB(room, each), ctx);
}

/* The next seq is read and taken in one statement; when another tandem
 * took the same one first, the unique (room_id, seq) refuses this one and
 * the query runs again (query_done). */
static void postgres_item_insert(struct store *s, const struct item_row *it, store_id_cb cb,
                                 void *ctx) {
  struct pg_params p = {.retry_on = PG_ITEMS_SEQ_CONSTRAINT, .retries = PG_SEQ_RETRIES};
  p_text(&p, it->id);
  p_text(&p, it->room_id);
  p_text(&p, it->kind == ITEM_FILE ? "file" : "text");
  p_text(&p, it->alias);
  p_textn(&p, it->text, it->text_len);
  p_text(&p, it->file_name);
  p_int(&p, it->size);
  p_text(&p, it->content_type);
  p_text(&p, it->sha256);
  p_int(&p, it->created_at);
  pg_pool_submit(
      PG(s)->pool, &p,
      "INSERT INTO items (" ITEM_COLUMNS ") "
      "SELECT $1::text, $2::text, COALESCE(MAX(seq), 0) + 1, $3::text, $4::text, $5::text, "
      "$6::text, $7::bigint, $8::text, $9::text, $10::bigint FROM items WHERE room_id = $2 "
      "RETURNING seq",
      "item insert", deliver_id, CB(id, cb), ctx);
}

static void postgres_item_get(struct store *s, const char *room_id, const char *item_id,
                              store_item_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_text(&p, item_id);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT " ITEM_COLUMNS " FROM items WHERE room_id = $1 AND id = $2", "item get",
                 deliver_item, CB(item, cb), ctx);
}

static void postgres_item_delete(struct store *s, const char *room_id, const char *item_id,
                                 store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_text(&p, item_id);
  pg_pool_submit(PG(s)->pool, &p, "DELETE FROM items WHERE room_id = $1 AND id = $2", "item delete",
                 deliver_changed, CB(done, cb), ctx);
}

static void postgres_items_list(struct store *s, const char *room_id, int64_t after, int limit,
                                store_items_cb each, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_int(&p, after);
  p_int(&p, limit);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT " ITEM_COLUMNS " FROM items WHERE room_id = $1 AND seq > $2 ORDER BY seq "
                 "LIMIT $3",
                 "items list", deliver_items, CB(item, each), ctx);
}

static void postgres_room_bytes(struct store *s, const char *room_id,
                                void (*cb)(void *ctx, int status, int64_t bytes), void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT COALESCE(SUM(size), 0)::bigint FROM items WHERE room_id = $1",
                 "room bytes", deliver_bytes, CB(bytes, cb), ctx);
}

/* An array literal's quoted element: "..." with " and \ escaped. */
static char *put_quoted(char *at, const char *v, size_t len) {
  *at++ = '"';
  for (size_t i = 0; i < len; i++) {
    if (v[i] == '"' || v[i] == '\\')
      *at++ = '\\';
    *at++ = v[i];
  }
  *at++ = '"';
  return at;
}

/* The updates as four array literals ({1,2}, {"a","b"}, ...), so one
 * INSERT ... unnest() writes them all or none. */
static int doc_update_arrays(struct pg_params *p, const struct doc_update_row *rows, size_t count) {
  size_t ints = 2 + count * 22, clients = 2, changes = 2;
  for (size_t i = 0; i < count; i++) {
    clients += 3 + 2 * strlen(rows[i].client_id);
    changes += 3 + 2 * rows[i].changes_len;
  }
  char *versions = malloc(ints), *created = malloc(ints), *client_ids = malloc(clients),
       *changesets = malloc(changes);
  p->heap[p->nheap++] = versions;
  p->heap[p->nheap++] = created;
  p->heap[p->nheap++] = client_ids;
  p->heap[p->nheap++] = changesets;
  if (!versions || !created || !client_ids || !changesets)
    return -1;
  char *v = versions, *t = created, *c = client_ids, *ch = changesets;
  *v++ = *t++ = *c++ = *ch++ = '{';
  for (size_t i = 0; i < count; i++) {
    if (i) {
      *v++ = *t++ = *c++ = *ch++ = ',';
    }
    v += sprintf(v, "%lld", (long long)rows[i].version);
    t += sprintf(t, "%lld", (long long)rows[i].created_at);
    c = put_quoted(c, rows[i].client_id, strlen(rows[i].client_id));
    ch = put_quoted(ch, rows[i].changes, rows[i].changes_len);
  }
  *v++ = *t++ = *c++ = *ch++ = '}';
  p_textn(p, versions, (size_t)(v - versions));
  p_textn(p, client_ids, (size_t)(c - client_ids));
  p_textn(p, changesets, (size_t)(ch - changesets));
  p_textn(p, created, (size_t)(t - created));
  return 0;
}

static void postgres_doc_updates_append(struct store *s, const char *room_id,
                                        const struct doc_update_row *rows, size_t count,
                                        store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  if (doc_update_arrays(&p, rows, count) < 0) {
    for (int i = 0; i < p.nheap; i++)
      free(p.heap[i]);
    log_msg(LOG_ERROR, "store.error", "doc updates: out of memory");
    cb(ctx, STORE_FAILED);
    return;
  }
  pg_pool_submit(PG(s)->pool, &p,
                 "INSERT INTO doc_updates (room_id, version, client_id, changes, created_at) "
                 "SELECT $1::text, u.version, u.client_id, u.changes, u.created_at "
                 "FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[]) "
                 "AS u(version, client_id, changes, created_at)",
                 "doc updates", deliver_status, CB(done, cb), ctx);
}

static void postgres_doc_updates_list(struct store *s, const char *room_id, int64_t after,
                                      int limit, store_doc_update_cb each, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_int(&p, after);
  p_int(&p, limit);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT version, client_id, changes, created_at FROM doc_updates "
                 "WHERE room_id = $1 AND version > $2 ORDER BY version LIMIT $3",
                 "doc updates list", deliver_doc_updates, CB(doc_update, each), ctx);
}

static void postgres_doc_snapshot_latest(struct store *s, const char *room_id,
                                         store_doc_snapshot_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT version, text FROM doc_snapshots WHERE room_id = $1 "
                 "ORDER BY version DESC LIMIT 1",
                 "doc snapshot", deliver_snapshot, CB(snapshot, cb), ctx);
}

/* The snapshot, and the history it makes unneeded, in one statement. */
static void postgres_doc_snapshot_save(struct store *s, const char *room_id,
                                       const struct doc_snapshot_row *snap, int64_t created_at,
                                       int64_t prune_to, store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_int(&p, snap->version);
  p_textn(&p, snap->text, snap->text_len);
  p_int(&p, created_at);
  p_int(&p, prune_to);
  pg_pool_submit(
      PG(s)->pool, &p,
      "WITH saved AS (INSERT INTO doc_snapshots (room_id, version, text, created_at) "
      "VALUES ($1::text, $2::bigint, $3::text, $4::bigint) ON CONFLICT (room_id, version) "
      "DO UPDATE SET text = EXCLUDED.text, created_at = EXCLUDED.created_at RETURNING 1), "
      "older AS (DELETE FROM doc_snapshots WHERE room_id = $1::text AND version < $2::bigint "
      "RETURNING 1), "
      "history AS (DELETE FROM doc_updates WHERE room_id = $1::text AND version <= $5::bigint "
      "RETURNING 1) "
      "SELECT (SELECT COUNT(*) FROM saved), (SELECT COUNT(*) FROM older), "
      "(SELECT COUNT(*) FROM history)",
      "doc snapshot save", deliver_status, CB(done, cb), ctx);
}

static void postgres_room_set_language(struct store *s, const char *room_id, const char *language,
                                       store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, language);
  p_text(&p, room_id);
  pg_pool_submit(PG(s)->pool, &p, "UPDATE rooms SET language = $1 WHERE id = $2", "room language",
                 deliver_changed, CB(done, cb), ctx);
}

/* The day's cap is read and the visit counted in one statement. Two
 * tandems counting a new name at once may both see room under the cap, so
 * a day can pass it by the number of instances, never more. */
static void postgres_referrer_visit(struct store *s, const char *day, const char *ref, int max_refs,
                                    store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, day);
  p_text(&p, ref);
  p_int(&p, max_refs);
  pg_pool_submit(
      PG(s)->pool, &p,
      "INSERT INTO referrers AS r (day, ref, visits) "
      "SELECT $1::text, CASE WHEN EXISTS (SELECT 1 FROM referrers WHERE day = $1::text AND "
      "ref = $2::text) OR (SELECT COUNT(*) FROM referrers WHERE day = $1::text) < $3::bigint "
      "THEN $2::text ELSE '" STORE_REFERRER_OTHER "' END, 1 "
      "ON CONFLICT (day, ref) DO UPDATE SET visits = r.visits + 1",
      "referrer visit", deliver_status, CB(done, cb), ctx);
}

static void postgres_referrers_since(struct store *s, const char *since, store_referrers_cb each,
                                     void *ctx) {
  struct pg_params p = {0};
  p_text(&p, since);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT day, ref, visits FROM referrers WHERE day >= $1 "
                 "ORDER BY day DESC, visits DESC, ref COLLATE \"C\"",
                 "referrers", deliver_referrers, CB(referrers, each), ctx);
}

static void postgres_referrers_prune(struct store *s, const char *before, store_done_cb cb,
                                     void *ctx) {
  struct pg_params p = {0};
  p_text(&p, before);
  pg_pool_submit(PG(s)->pool, &p, "DELETE FROM referrers WHERE day < $1", "referrers prune",
                 deliver_status, CB(done, cb), ctx);
}

/* Start-up only (the orphan sweep of blobs.c): runs on an idle connection,
 * blocking. */
static int postgres_item_exists(struct store *base, const char *item_id) {
  PGconn *conn = pg_pool_idle(PG(base)->pool);
  if (!conn)
    return -1;
  const char *values[1] = {item_id};
  PGresult *res =
      PQexecParams(conn, "SELECT 1 FROM items WHERE id = $1", 1, NULL, values, NULL, NULL, 0);
  int found = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) > 0 : -1;
  if (found < 0)
    log_msg(LOG_ERROR, "store.error", "item exists: %.*s", (int)strcspn(PQerrorMessage(conn), "\n"),
            PQerrorMessage(conn));
  PQclear(res);
  return found;
}

static void postgres_account_insert(struct store *s, const struct account_row *a, store_id_cb cb,
                                    void *ctx) {
  struct pg_params p = {0};
  p_text(&p, a->email);
  p_text(&p, a->password_hash);
  p_int(&p, a->created_at);
  pg_pool_submit(PG(s)->pool, &p,
                 "INSERT INTO accounts (email, password_hash, created_at) VALUES ($1, $2, $3) "
                 "RETURNING id",
                 "account insert", deliver_id, CB(id, cb), ctx);
}

static void postgres_account_by_email(struct store *s, const char *email, store_account_cb cb,
                                      void *ctx) {
  struct pg_params p = {0};
  p_text(&p, email);
  pg_pool_submit(PG(s)->pool, &p, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE email = $1",
                 "account by email", deliver_account, CB(account, cb), ctx);
}

static void postgres_session_insert(struct store *s, const uint8_t token_hash[32],
                                    int64_t account_id, int64_t expires_at, store_done_cb cb,
                                    void *ctx) {
  struct pg_params p = {0};
  p_bytes(&p, token_hash, 32);
  p_int(&p, account_id);
  p_int(&p, expires_at);
  pg_pool_submit(
      PG(s)->pool, &p,
      "INSERT INTO auth_sessions (token_hash, account_id, expires_at) VALUES ($1, $2, $3)",
      "session insert", deliver_changed, CB(done, cb), ctx);
}

static void postgres_session_account(struct store *s, const uint8_t token_hash[32], int64_t now,
                                     store_account_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_bytes(&p, token_hash, 32);
  p_int(&p, now);
  pg_pool_submit(
      PG(s)->pool, &p,
      "SELECT a.id, a.email, a.password_hash, a.created_at FROM auth_sessions s "
      "JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2",
      "session account", deliver_account, CB(account, cb), ctx);
}

static void postgres_session_delete(struct store *s, const uint8_t token_hash[32], store_done_cb cb,
                                    void *ctx) {
  struct pg_params p = {0};
  p_bytes(&p, token_hash, 32);
  pg_pool_submit(PG(s)->pool, &p, "DELETE FROM auth_sessions WHERE token_hash = $1",
                 "session delete", deliver_changed, CB(done, cb), ctx);
}

static void postgres_sessions_expired_delete(struct store *s, int64_t now, store_done_cb cb,
                                             void *ctx) {
  struct pg_params p = {0};
  p_int(&p, now);
  pg_pool_submit(PG(s)->pool, &p, "DELETE FROM auth_sessions WHERE expires_at <= $1",
                 "expired sessions", deliver_changed, CB(done, cb), ctx);
}

static void postgres_rooms_of_owner(struct store *s, int64_t owner_id, store_room_cb each,
                                    void *ctx) {
  struct pg_params p = {0};
  p_int(&p, owner_id);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT " ROOM_COLUMNS
                 " FROM rooms WHERE owner_id = $1 ORDER BY opens_at, id COLLATE "
                 "\"C\"",
                 "rooms of owner", deliver_rooms, CB(room, each), ctx);
}

static void postgres_room_update(struct store *s, const struct room_row *room, store_done_cb cb,
                                 void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room->code);
  p_text(&p, room->title);
  p_text(&p, room->password_hash);
  p_owned(&p, room->owner_id, room->opens_at);
  p_owned(&p, room->owner_id, room->closes_at);
  p_int(&p, room->expires_at);
  p_text(&p, room->id);
  pg_pool_submit(PG(s)->pool, &p,
                 "UPDATE rooms SET code = $1, title = $2, password_hash = $3, opens_at = $4, "
                 "closes_at = $5, expires_at = $6 WHERE id = $7",
                 "room update", deliver_changed, CB(done, cb), ctx);
}

static void postgres_message_insert(struct store *s, const struct message_row *m, store_id_cb cb,
                                    void *ctx) {
  struct pg_params p = {0};
  p_text(&p, m->room_id);
  p_text(&p, m->alias);
  p_textn(&p, m->text, m->text_len);
  p_int(&p, m->created_at);
  pg_pool_submit(PG(s)->pool, &p,
                 "INSERT INTO messages (room_id, alias, text, created_at) VALUES ($1, $2, $3, $4) "
                 "RETURNING id",
                 "message insert", deliver_id, CB(id, cb), ctx);
}

static void postgres_messages_after(struct store *s, const char *room_id, int64_t after, int limit,
                                    store_message_cb each, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_int(&p, after);
  p_int(&p, limit);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT " MESSAGE_COLUMNS " FROM messages WHERE room_id = $1 AND id > $2 "
                 "ORDER BY id LIMIT $3",
                 "messages after", deliver_messages, CB(message, each), ctx);
}

static void postgres_messages_before(struct store *s, const char *room_id, int64_t before,
                                     int limit, store_message_cb each, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_int(&p, before);
  p_int(&p, limit);
  pg_pool_submit(PG(s)->pool, &p,
                 "SELECT " MESSAGE_COLUMNS " FROM messages WHERE room_id = $1 AND id < $2 "
                 "ORDER BY id DESC LIMIT $3",
                 "messages before", deliver_messages, CB(message, each), ctx);
}

static void postgres_message_delete(struct store *s, const char *room_id, int64_t id,
                                    store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_int(&p, id);
  pg_pool_submit(PG(s)->pool, &p, "DELETE FROM messages WHERE room_id = $1 AND id = $2",
                 "message delete", deliver_changed, CB(done, cb), ctx);
}

static void postgres_ban_insert(struct store *s, const char *room_id, const uint8_t device_hash[16],
                                store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_bytes(&p, device_hash, 16);
  pg_pool_submit(
      PG(s)->pool, &p,
      "INSERT INTO room_bans (room_id, device_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      "ban insert", deliver_status, CB(done, cb), ctx);
}

static void postgres_ban_exists(struct store *s, const char *room_id, const uint8_t device_hash[16],
                                store_done_cb cb, void *ctx) {
  struct pg_params p = {0};
  p_text(&p, room_id);
  p_bytes(&p, device_hash, 16);
  pg_pool_submit(PG(s)->pool, &p, "SELECT 1 FROM room_bans WHERE room_id = $1 AND device_hash = $2",
                 "ban", deliver_exists, CB(done, cb), ctx);
}

/* ---- start-up and close ---- */

/* Runs one statement at start-up (blocking); on failure the reason in err. */
static int startup_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
                        char *err, size_t errlen) {
  PGresult *res = PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(res);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? (int)PQntuples(res) : -1;
  if (rc < 0)
    snprintf(err, errlen, "%.*s", (int)strcspn(PQerrorMessage(conn), "\n"), PQerrorMessage(conn));
  PQclear(res);
  return rc;
}

/* A migration's whole text (several statements) in its own transaction. */
static int apply_migration(PGconn *conn, const struct migration *m, char *err, size_t errlen) {
  char version[16], why[256];
  snprintf(version, sizeof version, "%d", m->version);
  const char *values[1] = {version};
  if (startup_exec(conn, "BEGIN", 0, NULL, why, sizeof why) < 0)
    goto fail;
  PGresult *res = PQexec(conn, m->sql);
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
  if (!ok)
    snprintf(why, sizeof why, "%.*s", (int)strcspn(PQerrorMessage(conn), "\n"),
             PQerrorMessage(conn));
  PQclear(res);
  if (!ok ||
      startup_exec(conn,
                   "INSERT INTO schema_migrations (version, applied_at) "
                   "VALUES ($1::integer, EXTRACT(EPOCH FROM now())::bigint)",
                   1, values, why, sizeof why) < 0 ||
      startup_exec(conn, "COMMIT", 0, NULL, why, sizeof why) < 0) {
    char ignored[64];
    startup_exec(conn, "ROLLBACK", 0, NULL, ignored, sizeof ignored);
    goto fail;
  }
  log_msg(LOG_INFO, "store.migrated", "applied %s", m->name);
  return 0;
fail:
  snprintf(err, errlen, "migration %s failed: %.180s", m->name, why);
  return -1;
}

/* Applies the migrations the database lacks, in order, one transaction
 * each. An advisory lock makes a second tandem starting at the same time
 * wait, then find them applied. */
static int migrate(PGconn *conn, char *err, size_t errlen) {
  char lock[32];
  snprintf(lock, sizeof lock, "%ld", PG_MIGRATION_LOCK);
  const char *values[1] = {lock};
  if (startup_exec(conn, "SET statement_timeout = '" PG_MIGRATION_WAIT "'", 0, NULL, err, errlen) <
          0 ||
      startup_exec(conn, "SELECT pg_advisory_lock($1::bigint)", 1, values, err, errlen) < 0)
    return -1;
  int rc = startup_exec(conn,
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                        "KEY, applied_at BIGINT NOT NULL)",
                        0, NULL, err, errlen);
  for (int i = 0; rc >= 0 && i < pg_migration_count; i++) {
    char version[16];
    snprintf(version, sizeof version, "%d", pg_migrations[i].version);
    const char *v[1] = {version};
    int have = startup_exec(conn, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1,
                            v, err, errlen);
    rc = have < 0 ? -1 : have > 0 ? 0 : apply_migration(conn, &pg_migrations[i], err, errlen);
  }
  char ignored[64];
  startup_exec(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, values, ignored, sizeof ignored);
  return rc < 0 ? -1 : 0;
}

static void postgres_close(struct store *base) {
  struct pg_store *s = PG(base);
  if (!s)
    return;
  pg_pool_close(s->pool);
  free(s);
}

struct store *postgres_store_open(uv_loop_t *loop, const char *url, int pool_size, char *err,
                                  size_t errlen) {
  struct pg_store *s = calloc(1, sizeof *s);
  if (!s || !(s->pool = pg_pool_new(loop, url))) {
    free(s);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->base.ops = &postgres_ops;
  PGconn *conn = pg_pool_connect(s->pool, err, errlen);
  if (!conn) {
    postgres_close(&s->base);
    return NULL;
  }
  char why[256];
  int rc = migrate(conn, why, sizeof why);
  PQfinish(conn);
  if (rc < 0) {
    snprintf(err, errlen, "PostgreSQL at %.150s: %.300s", pg_pool_where(s->pool), why);
    postgres_close(&s->base);
    return NULL;
  }
  if (pg_pool_start(s->pool, pool_size, err, errlen) < 0) {
    postgres_close(&s->base);
    return NULL;
  }
  log_msg(LOG_INFO, "store.connected", "PostgreSQL at %s, %d connections", pg_pool_where(s->pool),
          pool_size);
  return &s->base;
}

static const struct store_ops postgres_ops = {
    .close = postgres_close,
    .ping = postgres_ping,
    .room_insert = postgres_room_insert,
    .room_get = postgres_room_get,
    .room_delete = postgres_room_delete,
    .rooms_expired = postgres_rooms_expired,
    .item_insert = postgres_item_insert,
    .item_get = postgres_item_get,
    .item_delete = postgres_item_delete,
    .items_list = postgres_items_list,
    .room_bytes = postgres_room_bytes,
    .doc_updates_append = postgres_doc_updates_append,
    .doc_updates_list = postgres_doc_updates_list,
    .doc_snapshot_latest = postgres_doc_snapshot_latest,
    .doc_snapshot_save = postgres_doc_snapshot_save,
    .room_set_language = postgres_room_set_language,
    .referrer_visit = postgres_referrer_visit,
    .referrers_since = postgres_referrers_since,
    .referrers_prune = postgres_referrers_prune,
    .item_exists = postgres_item_exists,
    .account_insert = postgres_account_insert,
    .account_by_email = postgres_account_by_email,
    .session_insert = postgres_session_insert,
    .session_account = postgres_session_account,
    .session_delete = postgres_session_delete,
    .sessions_expired_delete = postgres_sessions_expired_delete,
    .rooms_of_owner = postgres_rooms_of_owner,
    .room_update = postgres_room_update,
    .message_insert = postgres_message_insert,
    .messages_after = postgres_messages_after,
    .messages_before = postgres_messages_before,
    .message_delete = postgres_message_delete,
    .ban_insert = postgres_ban_insert,
    .ban_exists = postgres_ban_exists,
};
