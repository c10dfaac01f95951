/* File contents on disk, under <data-dir>/blobs/: one file per item, named
 * by the item's id. An upload is written to blobs/tmp/ while it arrives,
 * fsynced, then renamed into place; only then is its row committed. At
 * start-up, leftovers of a crash are removed: anything in tmp/, and any
 * blob with no item row. */
#ifndef TANDEM_BLOBS_H
#define TANDEM_BLOBS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/store.h"
#include "util/buf.h"

/* Creates the directories and cleans up after a crash. */
int blobs_init(const char *data_dir, struct store *store, char *err, size_t errlen);

/* The path of an item's file into out; returns 0 or -1 if it does not fit. */
int blobs_path(const char *item_id, char *out, size_t outlen);

/* Removes an item's file (missing is fine). */
void blobs_remove(const char *item_id);

/* Free bytes on the data directory's file system, or -1. */
int64_t blobs_free_space(void);

/* An upload in progress: bytes are appended with async writes on libuv's
 * thread pool, one write at a time; `on_ready` says when more may come. */
struct blob_upload;

typedef void (*blob_ready_cb)(void *ctx);
/* status 0: the file is whole, fsynced and renamed to the item's name, and
 * sha256 holds its digest in hex; otherwise a negative errno. */
typedef void (*blob_done_cb)(void *ctx, int status, int64_t size, const char sha256[65]);

/* Starts an upload for item `item_id`; NULL on failure. */
struct blob_upload *blob_upload_start(uv_loop_t *loop, const char *item_id, void *ctx);

/* Appends bytes (copied). Returns 1 when the caller should stop sending
 * until on_ready is called (a write is in flight and the buffer is full),
 * 0 to go on, negative on error. */
int blob_upload_write(struct blob_upload *u, const uint8_t *data, size_t len,
                      blob_ready_cb on_ready);

/* Flushes, fsyncs and renames; calls done once. */
void blob_upload_finish(struct blob_upload *u, blob_done_cb done);

/* Gives up: removes the temporary file. Safe at any point; the upload is
 * freed once no write is in flight. No callback comes after this. */
void blob_upload_abort(struct blob_upload *u);

#endif
