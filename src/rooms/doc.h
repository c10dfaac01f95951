/* The document of a code room, with tandem as its authority.
 *
 * CodeMirror's collab clients push updates made at a version; the document
 * takes a push only at its current version, applies every change set to
 * its own copy of the text (all or none), stores the updates, and only
 * then counts them: the version is the number of updates ever applied. A
 * client behind pulls what it missed and rebases (@codemirror/collab).
 *
 * A live document stays in memory while someone uses it (doc_open and
 * doc_close count them) and is loaded from the latest snapshot and the
 * updates after it. Every `snapshot_every` updates the whole text is
 * stored, and history older than DOC_HISTORY_KEPT updates behind it goes.
 *
 * The store may answer on a later turn of the loop, so the operations
 * that touch it answer through a callback (the _async functions). A
 * document is loaded once however many open it meanwhile; one append of
 * a document is in flight at a time, and pushes that come meanwhile wait
 * behind it, so no update is applied at a version the store has not
 * taken. When the store refuses a version (STORE_CONFLICT: another
 * tandem on the same database took it), the document reads what that
 * instance stored, applies it, and the push is answered DOC_STALE with
 * those updates for the caller to pass on to its members.
 *
 * Line breaks are "\n" only: CodeMirror splits lines at "\r\n" and "\r"
 * too and would count them differently, so whole texts are normalised and
 * change sets that insert "\r" are refused. */
#ifndef TANDEM_DOC_H
#define TANDEM_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/hmap.h"

#define DOC_LANGUAGE_MAX 32    /* "javascript", "c", "python"... */
#define DOC_CLIENT_ID_MAX 64   /* collab's clientID */
#define DOC_PUSH_MAX 1000      /* updates in one push */
#define DOC_PULL_MAX 500       /* updates in one answer to a pull */
#define DOC_SECTIONS_MAX 65536 /* sections of one change set */
#define DOC_HISTORY_KEPT 1000  /* updates kept behind the latest snapshot, for pulls */
#define DOC_DEFAULT_LANGUAGE "plaintext"

enum doc_status {
  DOC_OK = 0,
  DOC_UNCHANGED = 1,     /* a whole text equal to the current one: no update */
  DOC_STALE = -1,        /* pushed at another version than the current one */
  DOC_BAD_UPDATE = -2,   /* an update is malformed (see doc_error) */
  DOC_TOO_LARGE = -3,    /* the text would pass max_bytes */
  DOC_GONE = -4,         /* a pull from before the history kept */
  DOC_STORE_FAILED = -5, /* storage failed: nothing changed */
  DOC_NO_MEMORY = -6,
  DOC_BAD_VERSION = -7, /* a pull from a version that is not 0..current */
  DOC_PENDING = -8,     /* the store answers later (the synchronous wrappers) */
};

struct doc_limits {
  uint64_t max_bytes;      /* of the text, UTF-8 */
  uint64_t snapshot_every; /* updates */
};

struct doc {
  char room_id[STORE_ID_LEN + 1];
  char *text; /* owned, NUL-terminated, valid UTF-8 */
  size_t len;
  int64_t version;
  int64_t snapshot_version;
  int64_t heard; /* the latest version other instances told of while loading */
  char language[DOC_LANGUAGE_MAX + 1];
  uint32_t users; /* doc_open calls not yet closed, and operations in flight */
  bool loading;   /* being read from the store: openers wait in `openers` */
  bool appending; /* an append is in flight: requests wait in `queue` */
  bool saving;    /* a snapshot is being stored */
  struct doc_opener *openers;
  struct doc_request *queue, *queue_tail;
};

/* Every live document, by room id. */
struct docs {
  hmap by_room;
  struct store *store;
  struct doc_limits limits;
};

/* Why an update was refused: which one, and the change set's status
 * (changeset.h) or 0 for a field that is missing or of the wrong kind. */
struct doc_error {
  size_t index;
  int changeset_status;
  const char *message;
};

/* One pushed update: collab's {clientID, changes}. */
struct doc_update {
  const char *client_id;
  const json_t *changes; /* ChangeSet JSON */
};

/* What a push (or a whole-text replacement) came to. */
struct doc_push_result {
  int status;             /* DOC_OK, DOC_UNCHANGED, or a negative DOC_* */
  struct doc_error err;   /* DOC_BAD_UPDATE */
  int64_t from;           /* DOC_OK: the version before the updates */
  json_t *applied;        /* DOC_OK: [{clientID, changes}...] as applied; NULL otherwise */
  int64_t caught_up_from; /* the version before `caught_up` */
  /* Updates another instance stored first (STORE_CONFLICT), now applied
   * here: the caller tells its members. NULL when none. */
  json_t *caught_up;
};

typedef void (*doc_open_cb)(void *ctx, int status, struct doc *doc);
typedef void (*doc_push_cb)(void *ctx, struct doc *doc, const struct doc_push_result *res);
typedef void (*doc_done_cb)(void *ctx, int status, struct doc *doc);
/* A pull's answer: status, the updates [{clientID, changes}...] and the
 * version they lead to (valid during the call). */
typedef void (*doc_pull_cb)(void *ctx, int status, json_t *updates, int64_t version);

void docs_init(struct docs *docs, struct store *store, const struct doc_limits *limits);
/* Frees every document (all users gone). */
void docs_free(struct docs *docs);

/* The live document of a code room, loaded on first use (opens while it
 * loads wait for that load). `language` is the room's (NULL: the
 * default). `done` gets DOC_OK with the document, counted as a use that
 * one doc_close ends, or a negative status and NULL; perhaps before this
 * returns. */
void doc_open_async(struct docs *docs, const char *room_id, const char *language, doc_open_cb done,
                    void *ctx);
void doc_close(struct docs *docs, struct doc *doc);
/* The document if it is live, else NULL. */
struct doc *docs_find(struct docs *docs, const char *room_id, size_t len);

/* Applies updates pushed at `version`: all or none, stored before they
 * count. `done` gets DOC_OK, DOC_STALE, DOC_BAD_UPDATE (with err),
 * DOC_TOO_LARGE, DOC_STORE_FAILED (STORE_UNAVAILABLE included: nothing
 * applied) or DOC_NO_MEMORY. The updates are copied before this returns;
 * the document is held until `done` has run. */
void doc_push_async(struct docs *docs, struct doc *doc, int64_t version,
                    const struct doc_update *updates, size_t count, doc_push_cb done, void *ctx);

/* Replaces the whole text (valid UTF-8; line breaks normalised to "\n") as
 * one update by `client_id`: the minimal change against the text the
 * document has when its turn comes. DOC_OK (res->applied holds the
 * change), DOC_UNCHANGED when the text is the same, or a push's errors. */
void doc_replace_async(struct docs *docs, struct doc *doc, const char *text, size_t len,
                       const char *client_id, doc_push_cb done, void *ctx);

/* Brings the document up to what the store holds, in its turn after the
 * pushes submitted before: updates other instances stored are applied and
 * given in res->caught_up for the caller to pass on. DOC_OK or
 * DOC_STORE_FAILED. A read after a write then sees it, on any instance.
 * The document is held until `done` ran. */
void doc_refresh_async(struct docs *docs, struct doc *doc, doc_push_cb done, void *ctx);

/* Updates another instance stored (from `from` to `version`, as its
 * doc.updates told them), so this instance's document follows the store:
 * applied in memory when they come right after the current version and
 * nothing is in flight (DOC_OK), nothing when already here
 * (DOC_UNCHANGED), else a refresh from the store is queued (DOC_PENDING).
 * Nothing is stored, snapshots are left to the instance that stored. */
int doc_follow(struct docs *docs, struct doc *doc, int64_t from, int64_t version,
               const json_t *updates);
/* Another instance stored a new language: set it here too (when valid). */
void doc_follow_language(struct doc *doc, const char *language, size_t len);

/* Updates after version `from` up to the document's version now (at most
 * DOC_PULL_MAX), oldest first. DOC_OK, DOC_GONE (history dropped),
 * DOC_BAD_VERSION, DOC_STORE_FAILED or DOC_NO_MEMORY. */
void doc_pull_async(struct docs *docs, struct doc *doc, int64_t from, doc_pull_cb done, void *ctx);

/* True for 1..DOC_LANGUAGE_MAX characters of [A-Za-z0-9+#._-]. */
bool doc_language_valid(const char *language, size_t len);
/* Stores and sets the language (valid): DOC_OK or DOC_STORE_FAILED, with
 * the document held until `done` has run. */
void doc_set_language_async(struct docs *docs, struct doc *doc, const char *language, size_t len,
                            doc_done_cb done, void *ctx);

/* The same, for a store that answers before the call returns (SQLite,
 * and the unit tests): the answer is returned, or DOC_PENDING when the
 * store has not answered yet (never with SQLite; servers use the _async
 * calls). */
int doc_open(struct docs *docs, const char *room_id, const char *language, struct doc **out);
int doc_push(struct docs *docs, struct doc *doc, int64_t version, const struct doc_update *updates,
             size_t count, struct doc_error *err);
/* On DOC_OK *changes is the change set (a new reference). */
int doc_replace(struct docs *docs, struct doc *doc, const char *text, size_t len,
                const char *client_id, json_t **changes);
/* Rows after `from` to `each`, then once with row NULL. */
int doc_pull(struct docs *docs, struct doc *doc, int64_t from, store_doc_update_cb each, void *ctx);
int doc_set_language(struct docs *docs, struct doc *doc, const char *language, size_t len);

#endif
