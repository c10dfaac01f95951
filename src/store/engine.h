/* What an engine of store.h provides: one table of operations, one entry
 * per call of store.h, and the struct store every engine's state starts
 * with. Only src/store/ includes this. */
#ifndef TANDEM_STORE_ENGINE_H
#define TANDEM_STORE_ENGINE_H

#include <uv.h>

#include "store/store.h"

struct store_ops {
  void (*close)(struct store *s);
  int (*ping)(struct store *s);
  void (*room_insert)(struct store *s, const struct room_row *room, store_done_cb cb, void *ctx);
  void (*room_get)(struct store *s, const char *key, size_t len, store_room_cb cb, void *ctx);
  void (*room_delete)(struct store *s, const char *id, store_done_cb cb, void *ctx);
  void (*rooms_expired)(struct store *s, int64_t now, int limit, store_room_cb each, void *ctx);
  void (*item_insert)(struct store *s, const struct item_row *item, store_id_cb cb, void *ctx);
  void (*item_get)(struct store *s, const char *room_id, const char *item_id, store_item_cb cb,
                   void *ctx);
  void (*item_delete)(struct store *s, const char *room_id, const char *item_id, store_done_cb cb,
                      void *ctx);
  void (*items_list)(struct store *s, const char *room_id, int64_t after, int limit,
                     store_items_cb each, void *ctx);
  void (*room_bytes)(struct store *s, const char *room_id,
                     void (*cb)(void *ctx, int status, int64_t bytes), void *ctx);
  void (*doc_updates_append)(struct store *s, const char *room_id,
                             const struct doc_update_row *rows, size_t count, store_done_cb cb,
                             void *ctx);
  void (*doc_updates_list)(struct store *s, const char *room_id, int64_t after, int limit,
                           store_doc_update_cb each, void *ctx);
  void (*doc_snapshot_latest)(struct store *s, const char *room_id, store_doc_snapshot_cb cb,
                              void *ctx);
  void (*doc_snapshot_save)(struct store *s, const char *room_id,
                            const struct doc_snapshot_row *snap, int64_t created_at,
                            int64_t prune_to, store_done_cb cb, void *ctx);
  void (*room_set_language)(struct store *s, const char *room_id, const char *language,
                            store_done_cb cb, void *ctx);
  void (*referrer_visit)(struct store *s, const char *day, const char *ref, int max_refs,
                         store_done_cb cb, void *ctx);
  void (*referrers_since)(struct store *s, const char *since, store_referrers_cb each, void *ctx);
  void (*referrers_prune)(struct store *s, const char *before, store_done_cb cb, void *ctx);
  int (*item_exists)(struct store *s, const char *item_id);
  void (*account_insert)(struct store *s, const struct account_row *account, store_id_cb cb,
                         void *ctx);
  void (*account_by_email)(struct store *s, const char *email, store_account_cb cb, void *ctx);
  void (*session_insert)(struct store *s, const uint8_t token_hash[32], int64_t account_id,
                         int64_t expires_at, store_done_cb cb, void *ctx);
  void (*session_account)(struct store *s, const uint8_t token_hash[32], int64_t now,
                          store_account_cb cb, void *ctx);
  void (*session_delete)(struct store *s, const uint8_t token_hash[32], store_done_cb cb,
                         void *ctx);
  void (*sessions_expired_delete)(struct store *s, int64_t now, store_done_cb cb, void *ctx);
  void (*rooms_of_owner)(struct store *s, int64_t owner_id, store_room_cb each, void *ctx);
  void (*room_update)(struct store *s, const struct room_row *room, store_done_cb cb, void *ctx);
  void (*message_insert)(struct store *s, const struct message_row *message, store_id_cb cb,
                         void *ctx);
  void (*messages_after)(struct store *s, const char *room_id, int64_t after, int limit,
                         store_message_cb each, void *ctx);
  void (*messages_before)(struct store *s, const char *room_id, int64_t before, int limit,
                          store_message_cb each, void *ctx);
  void (*message_delete)(struct store *s, const char *room_id, int64_t id, store_done_cb cb,
                         void *ctx);
  void (*ban_insert)(struct store *s, const char *room_id, const uint8_t device_hash[16],
                     store_done_cb cb, void *ctx);
  void (*ban_exists)(struct store *s, const char *room_id, const uint8_t device_hash[16],
                     store_done_cb cb, void *ctx);
};

/* The first member of every engine's state. */
struct store {
  const struct store_ops *ops;
};

/* SQLite: the database file at path (created if needed), migrated. */
struct store *sqlite_store_open(const char *path, char *err, size_t errlen);
/* PostgreSQL: connects (blocking, with a timeout) pool_size connections to
 * url, migrated first; afterwards everything runs on the loop. */
struct store *postgres_store_open(uv_loop_t *loop, const char *url, int pool_size, char *err,
                                  size_t errlen);

#endif
