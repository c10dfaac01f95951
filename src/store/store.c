/* The store's front: picks the engine from the database URL and forwards
 * every call of store.h to its table of operations (engine.h). */
#include <stdio.h>
#include <string.h>

#include "store/engine.h"
#include "util/log.h"

static int has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct store *store_open(uv_loop_t *loop, const char *data_dir, const char *database_url,
                         int pool_size, char *err, size_t errlen) {
  if (!database_url) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/tandem.db", data_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
      snprintf(err, errlen, "data directory path too long");
      return NULL;
    }
    return sqlite_store_open(path, err, errlen);
  }
  if (has_prefix(database_url, "sqlite:") && database_url[7])
    return sqlite_store_open(database_url + 7, err, errlen);
  if (has_prefix(database_url, "postgres://") || has_prefix(database_url, "postgresql://")) {
    if (!loop) {
      snprintf(err, errlen, "PostgreSQL needs an event loop");
      return NULL;
    }
    if (pool_size <= 0)
      pool_size = STORE_DEFAULT_POOL;
    if (pool_size > STORE_MAX_POOL) {
      snprintf(err, errlen, "--database-pool: at most %d connections", STORE_MAX_POOL);
      return NULL;
    }
    return postgres_store_open(loop, database_url, pool_size, err, errlen);
  }
  /* Never echo the URL: it may hold a password. */
  snprintf(err, errlen, "--database: expected postgres://..., postgresql://... or sqlite:PATH");
  return NULL;
}

void store_close(struct store *s) {
  if (s)
    s->ops->close(s);
}

int store_ping(struct store *s) {
  return s ? s->ops->ping(s) : -1;
}

void store_room_insert(struct store *s, const struct room_row *room, store_done_cb cb, void *ctx) {
  s->ops->room_insert(s, room, cb, ctx);
}

void store_room_get(struct store *s, const char *key, size_t len, store_room_cb cb, void *ctx) {
  s->ops->room_get(s, key, len, cb, ctx);
}

void store_room_delete(struct store *s, const char *id, store_done_cb cb, void *ctx) {
  s->ops->room_delete(s, id, cb, ctx);
}

void store_rooms_expired(struct store *s, int64_t now, int limit, store_room_cb each, void *ctx) {
  s->ops->rooms_expired(s, now, limit, each, ctx);
}

void store_item_insert(struct store *s, const struct item_row *item, store_id_cb cb, void *ctx) {
  s->ops->item_insert(s, item, cb, ctx);
}

void store_item_get(struct store *s, const char *room_id, const char *item_id, store_item_cb cb,
                    void *ctx) {
  s->ops->item_get(s, room_id, item_id, cb, ctx);
}

void store_item_delete(struct store *s, const char *room_id, const char *item_id, store_done_cb cb,
                       void *ctx) {
  s->ops->item_delete(s, room_id, item_id, cb, ctx);
}

void store_items_list(struct store *s, const char *room_id, int64_t after, int limit,
                      store_items_cb each, void *ctx) {
  s->ops->items_list(s, room_id, after, limit, each, ctx);
}

void store_room_bytes(struct store *s, const char *room_id,
                      void (*cb)(void *ctx, int status, int64_t bytes), void *ctx) {
  s->ops->room_bytes(s, room_id, cb, ctx);
}

void store_doc_updates_append(struct store *s, const char *room_id,
                              const struct doc_update_row *rows, size_t count, store_done_cb cb,
                              void *ctx) {
  s->ops->doc_updates_append(s, room_id, rows, count, cb, ctx);
}

void store_doc_updates_list(struct store *s, const char *room_id, int64_t after, int limit,
                            store_doc_update_cb each, void *ctx) {
  s->ops->doc_updates_list(s, room_id, after, limit, each, ctx);
}

void store_doc_snapshot_latest(struct store *s, const char *room_id, store_doc_snapshot_cb cb,
                               void *ctx) {
  s->ops->doc_snapshot_latest(s, room_id, cb, ctx);
}

void store_doc_snapshot_save(struct store *s, const char *room_id,
                             const struct doc_snapshot_row *snap, int64_t created_at,
                             int64_t prune_to, store_done_cb cb, void *ctx) {
  s->ops->doc_snapshot_save(s, room_id, snap, created_at, prune_to, cb, ctx);
}

void store_room_set_language(struct store *s, const char *room_id, const char *language,
                             store_done_cb cb, void *ctx) {
  s->ops->room_set_language(s, room_id, language, cb, ctx);
}

void store_referrer_visit(struct store *s, const char *day, const char *ref, int max_refs,
                          store_done_cb cb, void *ctx) {
  s->ops->referrer_visit(s, day, ref, max_refs, cb, ctx);
}

void store_referrers_since(struct store *s, const char *since, store_referrers_cb each, void *ctx) {
  s->ops->referrers_since(s, since, each, ctx);
}

void store_referrers_prune(struct store *s, const char *before, store_done_cb cb, void *ctx) {
  s->ops->referrers_prune(s, before, cb, ctx);
}

int store_item_exists(struct store *s, const char *item_id) {
  return s->ops->item_exists(s, item_id);
}

void store_account_insert(struct store *s, const struct account_row *account, store_id_cb cb,
                          void *ctx) {
  s->ops->account_insert(s, account, cb, ctx);
}

void store_account_by_email(struct store *s, const char *email, store_account_cb cb, void *ctx) {
  s->ops->account_by_email(s, email, cb, ctx);
}

void store_session_insert(struct store *s, const uint8_t token_hash[32], int64_t account_id,
                          int64_t expires_at, store_done_cb cb, void *ctx) {
  s->ops->session_insert(s, token_hash, account_id, expires_at, cb, ctx);
}

void store_session_account(struct store *s, const uint8_t token_hash[32], int64_t now,
                           store_account_cb cb, void *ctx) {
  s->ops->session_account(s, token_hash, now, cb, ctx);
}

void store_session_delete(struct store *s, const uint8_t token_hash[32], store_done_cb cb,
                          void *ctx) {
  s->ops->session_delete(s, token_hash, cb, ctx);
}

void store_sessions_expired_delete(struct store *s, int64_t now, store_done_cb cb, void *ctx) {
  s->ops->sessions_expired_delete(s, now, cb, ctx);
}

void store_rooms_of_owner(struct store *s, int64_t owner_id, store_room_cb each, void *ctx) {
  s->ops->rooms_of_owner(s, owner_id, each, ctx);
}

void store_room_update(struct store *s, const struct room_row *room, store_done_cb cb, void *ctx) {
  s->ops->room_update(s, room, cb, ctx);
}

void store_message_insert(struct store *s, const struct message_row *message, store_id_cb cb,
                          void *ctx) {
  s->ops->message_insert(s, message, cb, ctx);
}

void store_messages_after(struct store *s, const char *room_id, int64_t after, int limit,
                          store_message_cb each, void *ctx) {
  s->ops->messages_after(s, room_id, after, limit, each, ctx);
}

void store_messages_before(struct store *s, const char *room_id, int64_t before, int limit,
                           store_message_cb each, void *ctx) {
  s->ops->messages_before(s, room_id, before, limit, each, ctx);
}

void store_message_delete(struct store *s, const char *room_id, int64_t id, store_done_cb cb,
                          void *ctx) {
  s->ops->message_delete(s, room_id, id, cb, ctx);
}

void store_ban_insert(struct store *s, const char *room_id, const uint8_t device_hash[16],
                      store_done_cb cb, void *ctx) {
  s->ops->ban_insert(s, room_id, device_hash, cb, ctx);
}

void store_ban_exists(struct store *s, const char *room_id, const uint8_t device_hash[16],
                      store_done_cb cb, void *ctx) {
  s->ops->ban_exists(s, room_id, device_hash, cb, ctx);
}
