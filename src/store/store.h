/* Storage: rooms and items, behind one interface with one file per engine
 * (sqlite.c, postgres.c; store.c picks one and forwards every call).
 *
 * Calls answer through a callback so an engine may answer later (a network
 * database on the loop); SQLite answers before the call returns. Callers
 * must be right either way: nothing after a call may assume the answer has
 * come. What a call is given (rows, strings) is copied before it returns;
 * rows passed to a callback are valid only during the callback. Status
 * codes: 0, or a negative STORE_* error. */
#ifndef TANDEM_STORE_H
#define TANDEM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define STORE_ID_LEN 22  /* base62 of 128 random bits */
#define STORE_CODE_LEN 6 /* digits */

enum store_status {
  STORE_OK = 0,
  STORE_NOT_FOUND = -1,
  STORE_CONFLICT = -2,    /* a unique key is taken (a room code, an item seq) */
  STORE_FAILED = -3,      /* the database failed; logged by the engine */
  STORE_UNAVAILABLE = -4, /* the database cannot be reached now (callers answer 503) */
};

struct store;

struct room_row {
  char id[STORE_ID_LEN + 1];
  char code[STORE_CODE_LEN + 1];
  const char *title;         /* NULL when none */
  int64_t created_at;        /* unix ms */
  int64_t expires_at;        /* unix ms */
  const char *password_hash; /* NULL when none */
  uint8_t owner_token_hash[32];
  const char *language; /* NULL when none */
  int64_t owner_id;     /* the facilitator's account; 0: an anonymous drop room */
  int64_t opens_at;     /* unix ms; owned rooms only */
  int64_t closes_at;
  const char *kind; /* "drop" (NULL on insert means "drop"), "code" or "chat" */
};

struct account_row {
  int64_t id;
  const char *email;
  const char *password_hash;
  int64_t created_at;
};

struct message_row {
  int64_t id; /* written by store_message_insert */
  char room_id[STORE_ID_LEN + 1];
  const char *alias;
  const char *text;
  size_t text_len;
  int64_t created_at;
};

enum item_kind { ITEM_TEXT, ITEM_FILE };

struct item_row {
  char id[STORE_ID_LEN + 1];
  char room_id[STORE_ID_LEN + 1];
  int64_t seq;
  enum item_kind kind;
  const char *alias; /* NULL when none */
  const char *text;  /* text items */
  size_t text_len;
  const char *file_name; /* file items */
  int64_t size;
  const char *content_type;
  const char *sha256; /* 64 hex characters, file items */
  int64_t created_at;
};

/* Opens the database and applies pending migrations. database_url picks
 * the engine: NULL or "sqlite:PATH" is SQLite (NULL: <data_dir>/tandem.db,
 * created if needed); "postgres://..." or "postgresql://..." is PostgreSQL
 * with pool_size connections (0: STORE_DEFAULT_POOL) answering on the
 * loop. Start-up may block (connecting, migrating), never longer than a
 * timeout. On failure writes the reason into err and returns NULL. */
#define STORE_DEFAULT_POOL 4
#define STORE_MAX_POOL 64
struct store *store_open(uv_loop_t *loop, const char *data_dir, const char *database_url,
                         int pool_size, char *err, size_t errlen);
void store_close(struct store *s);

/* 0 when the database can answer now, -1 otherwise. Never blocks: a
 * network engine answers from what it knows of its connections. */
int store_ping(struct store *s);

typedef void (*store_room_cb)(void *ctx, int status, const struct room_row *room);
typedef void (*store_item_cb)(void *ctx, int status, const struct item_row *item);
typedef void (*store_done_cb)(void *ctx, int status);
/* A write that makes a number (an item's seq, an account's or a message's
 * id): the number, valid when status is STORE_OK. */
typedef void (*store_id_cb)(void *ctx, int status, int64_t id);
/* Called once per row, then once with row NULL and the final status. */
typedef void (*store_items_cb)(void *ctx, int status, const struct item_row *item);

/* Inserts a room; STORE_CONFLICT when its id or code is taken. */
void store_room_insert(struct store *s, const struct room_row *room, store_done_cb cb, void *ctx);
/* A live or expired room by id (22 chars) or by code (6 digits). */
void store_room_get(struct store *s, const char *key, size_t len, store_room_cb cb, void *ctx);
/* Deletes a room and its items (their files are the caller's). */
void store_room_delete(struct store *s, const char *id, store_done_cb cb, void *ctx);
/* Rooms whose expires_at <= now, at most `limit`, oldest first. */
void store_rooms_expired(struct store *s, int64_t now, int limit, store_room_cb each, void *ctx);

/* Inserts an item under the room's next seq (item->seq is ignored; the
 * callback gets the seq). */
void store_item_insert(struct store *s, const struct item_row *item, store_id_cb cb, void *ctx);
void store_item_get(struct store *s, const char *room_id, const char *item_id, store_item_cb cb,
                    void *ctx);
void store_item_delete(struct store *s, const char *room_id, const char *item_id, store_done_cb cb,
                       void *ctx);
/* Items with seq > after, oldest first, at most limit. */
void store_items_list(struct store *s, const char *room_id, int64_t after, int limit,
                      store_items_cb each, void *ctx);
/* Bytes of files in the room (for the per-room limit). */
void store_room_bytes(struct store *s, const char *room_id,
                      void (*cb)(void *ctx, int status, int64_t bytes), void *ctx);

/* A code room's document (src/rooms/doc.h): its updates, one row per
 * version, and snapshots of its whole text. */
struct doc_update_row {
  int64_t version; /* the document's version after this update */
  const char *client_id;
  const char *changes; /* ChangeSet JSON */
  size_t changes_len;
  int64_t created_at;
};

struct doc_snapshot_row {
  int64_t version;
  const char *text;
  size_t text_len;
};

typedef void (*store_doc_update_cb)(void *ctx, int status, const struct doc_update_row *row);
typedef void (*store_doc_snapshot_cb)(void *ctx, int status, const struct doc_snapshot_row *row);

/* Inserts the rows (in version order) in one transaction: all or none.
 * STORE_CONFLICT when a version is taken. */
void store_doc_updates_append(struct store *s, const char *room_id,
                              const struct doc_update_row *rows, size_t count, store_done_cb cb,
                              void *ctx);
/* Updates with version > after, oldest first, at most limit; then once
 * with row NULL and the final status. */
void store_doc_updates_list(struct store *s, const char *room_id, int64_t after, int limit,
                            store_doc_update_cb each, void *ctx);
/* The latest snapshot, or STORE_NOT_FOUND. */
void store_doc_snapshot_latest(struct store *s, const char *room_id, store_doc_snapshot_cb cb,
                               void *ctx);
/* Saves a snapshot and, in the same transaction, drops older snapshots and
 * the updates with version <= prune_to (history no pull needs any more). */
void store_doc_snapshot_save(struct store *s, const char *room_id,
                             const struct doc_snapshot_row *snap, int64_t created_at,
                             int64_t prune_to, store_done_cb cb, void *ctx);
/* Sets (or clears, with NULL) a room's language. */
void store_room_set_language(struct store *s, const char *room_id, const char *language,
                             store_done_cb cb, void *ctx);
/* Referrer counts: one more visit of `ref` on `day` (YYYY-MM-DD). A day
 * holds at most max_refs referrers; visits of any further one count under
 * STORE_REFERRER_OTHER, so a flood of made-up names cannot grow the table. */
#define STORE_REFERRER_OTHER "(other)"
#define STORE_REFERRER_DAYS 30 /* days kept (the sweeper prunes older ones) */
void store_referrer_visit(struct store *s, const char *day, const char *ref, int max_refs,
                          store_done_cb cb, void *ctx);
/* Called per (day, ref, visits) with day >= since, newest day first and the
 * most visited first within a day; then once with day NULL and the status. */
typedef void (*store_referrers_cb)(void *ctx, int status, const char *day, const char *ref,
                                   int64_t visits);
void store_referrers_since(struct store *s, const char *since, store_referrers_cb each, void *ctx);
/* Forgets the days before `before`. */
void store_referrers_prune(struct store *s, const char *before, store_done_cb cb, void *ctx);

/* 1 when an item with this id exists, 0 when not, -1 on failure. For
 * start-up checks only: it answers synchronously on every engine. */
int store_item_exists(struct store *s, const char *item_id);

/* Accounts and their sessions (facilitators). */
typedef void (*store_account_cb)(void *ctx, int status, const struct account_row *account);
/* Inserts an account (the callback gets its id); STORE_CONFLICT when the
 * email is taken. */
void store_account_insert(struct store *s, const struct account_row *account, store_id_cb cb,
                          void *ctx);
void store_account_by_email(struct store *s, const char *email, store_account_cb cb, void *ctx);
/* A session's token hash -> its account, while the session has not expired at now. */
void store_session_insert(struct store *s, const uint8_t token_hash[32], int64_t account_id,
                          int64_t expires_at, store_done_cb cb, void *ctx);
void store_session_account(struct store *s, const uint8_t token_hash[32], int64_t now,
                           store_account_cb cb, void *ctx);
void store_session_delete(struct store *s, const uint8_t token_hash[32], store_done_cb cb,
                          void *ctx);
/* Forgets sessions that expired by now. */
void store_sessions_expired_delete(struct store *s, int64_t now, store_done_cb cb, void *ctx);

/* The owner's rooms, by opens_at. */
void store_rooms_of_owner(struct store *s, int64_t owner_id, store_room_cb each, void *ctx);
/* Rewrites a room's code, title, password, schedule and expiry;
 * STORE_CONFLICT when the code or (owner, title) is taken. */
void store_room_update(struct store *s, const struct room_row *room, store_done_cb cb, void *ctx);

/* Chat messages. */
typedef void (*store_message_cb)(void *ctx, int status, const struct message_row *message);
/* The callback gets the message's id. */
void store_message_insert(struct store *s, const struct message_row *message, store_id_cb cb,
                          void *ctx);
/* Messages with id > after, oldest first, at most limit; then row NULL. */
void store_messages_after(struct store *s, const char *room_id, int64_t after, int limit,
                          store_message_cb each, void *ctx);
/* Messages with id < before, newest first, at most limit; then row NULL. */
void store_messages_before(struct store *s, const char *room_id, int64_t before, int limit,
                           store_message_cb each, void *ctx);
void store_message_delete(struct store *s, const char *room_id, int64_t id, store_done_cb cb,
                          void *ctx);

/* Devices removed from a room (hashes of their keys). store_ban_exists
 * answers STORE_OK when banned, STORE_NOT_FOUND when not. */
void store_ban_insert(struct store *s, const char *room_id, const uint8_t device_hash[16],
                      store_done_cb cb, void *ctx);
void store_ban_exists(struct store *s, const char *room_id, const uint8_t device_hash[16],
                      store_done_cb cb, void *ctx);

#endif
