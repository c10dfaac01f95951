/* Code room documents: the OT authority (see doc.h). */
#include "rooms/doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/changeset.h"
#include "rooms/textdiff.h"
#include "util/log.h"
#include "util/timefmt.h"

void docs_init(struct docs *docs, struct store *store, const struct doc_limits *limits) {
  memset(docs, 0, sizeof *docs);
  docs->store = store;
  docs->limits = *limits;
}

static void doc_free(struct doc *d) {
  free(d->text);
  free(d);
}

void docs_free(struct docs *docs) {
  size_t pos = 0;
  struct doc *d;
  while ((d = hmap_next(&docs->by_room, &pos)))
    doc_free(d);
  hmap_free(&docs->by_room);
}

struct doc *docs_find(struct docs *docs, const char *room_id, size_t len) {
  return hmap_get(&docs->by_room, room_id, len);
}

static struct changeset_limits changeset_limits_of(const struct docs *docs) {
  return (struct changeset_limits){.max_sections = DOC_SECTIONS_MAX,
                                   .max_insert_bytes = (size_t)docs->limits.max_bytes};
}

/* CodeMirror counts "\r\n" as one line break; a "\r" the server kept would
 * make its lengths and the editor's disagree. */
static bool inserts_carriage_return(const struct changeset *cs) {
  return cs->inserts_len && memchr(cs->inserts, '\r', cs->inserts_len) != NULL;
}

/* Applies one change set (JSON) to text, giving a new text. */
static int apply_json(const struct docs *docs, const json_t *changes, const char *text, size_t len,
                      char **out, size_t *out_len, struct doc_error *err) {
  struct changeset_limits limits = changeset_limits_of(docs);
  struct changeset cs;
  int rc = changeset_parse(changes, &limits, &cs);
  if (rc == CHANGESET_OK && inserts_carriage_return(&cs)) {
    changeset_free(&cs);
    err->changeset_status = CHANGESET_OK;
    err->message = "Inserted text may not contain \\r: line breaks are \\n.";
    return DOC_BAD_UPDATE;
  }
  if (rc == CHANGESET_OK)
    rc = changeset_apply(&cs, text, len, out, out_len);
  changeset_free(&cs);
  if (rc == CHANGESET_NO_MEMORY)
    return DOC_NO_MEMORY;
  if (rc != CHANGESET_OK) {
    err->changeset_status = rc;
    err->message = changeset_status_message(rc);
    return DOC_BAD_UPDATE;
  }
  if (*out_len > docs->limits.max_bytes) {
    free(*out);
    *out = NULL;
    return DOC_TOO_LARGE;
  }
  return DOC_OK;
}

/* Loading: the latest snapshot, then each update after it. */
struct loading {
  const struct docs *docs;
  struct doc *doc;
  int status;
};

static void got_snapshot(void *ctx, int status, const struct doc_snapshot_row *snap) {
  struct loading *l = ctx;
  if (status == STORE_NOT_FOUND)
    return; /* a new document: empty at version 0 */
  if (status < 0) {
    l->status = DOC_STORE_FAILED;
    return;
  }
  char *text = malloc(snap->text_len + 1);
  if (!text) {
    l->status = DOC_NO_MEMORY;
    return;
  }
  memcpy(text, snap->text, snap->text_len);
  text[snap->text_len] = '\0';
  free(l->doc->text);
  l->doc->text = text;
  l->doc->len = snap->text_len;
  l->doc->version = l->doc->snapshot_version = snap->version;
}

static void replay_update(void *ctx, int status, const struct doc_update_row *u) {
  struct loading *l = ctx;
  if (status < 0)
    l->status = DOC_STORE_FAILED;
  if (!u || l->status != DOC_OK)
    return;
  if (u->version != l->doc->version + 1) {
    l->status = DOC_STORE_FAILED; /* a gap: the history is not whole */
    return;
  }
  json_error_t jerr;
  json_t *changes = json_loadb(u->changes, u->changes_len, 0, &jerr);
  struct doc_error err = {0};
  char *text = NULL;
  size_t len = 0;
  int rc = changes ? apply_json(l->docs, changes, l->doc->text, l->doc->len, &text, &len, &err)
                   : DOC_BAD_UPDATE;
  json_decref(changes);
  if (rc != DOC_OK) {
    l->status = rc == DOC_NO_MEMORY ? rc : DOC_STORE_FAILED;
    return;
  }
  free(l->doc->text);
  l->doc->text = text;
  l->doc->len = len;
  l->doc->version = u->version;
}

static void set_language(struct doc *d, const char *language) {
  snprintf(d->language, sizeof d->language, "%s",
           language && doc_language_valid(language, strlen(language)) ? language
                                                                      : DOC_DEFAULT_LANGUAGE);
}

/* Reads the document from the store; replays at most DOC_PULL_MAX updates
 * a round until none are left (snapshots keep that short). */
static int load(struct docs *docs, struct doc *d) {
  struct loading l = {docs, d, DOC_OK};
  store_doc_snapshot_latest(docs->store, d->room_id, got_snapshot, &l);
  for (int64_t before = -1; l.status == DOC_OK && before != d->version;) {
    before = d->version;
    store_doc_updates_list(docs->store, d->room_id, d->version, DOC_PULL_MAX, replay_update, &l);
  }
  if (l.status != DOC_OK) {
    struct log_field f = LOG_STR("room", d->room_id);
    log_fields(LOG_ERROR, "doc.load_failed", &f, 1);
  }
  return l.status;
}

int doc_open(struct docs *docs, const char *room_id, const char *language, struct doc **out) {
  struct doc *d = docs_find(docs, room_id, strlen(room_id));
  if (d) {
    d->users++;
    *out = d;
    return DOC_OK;
  }
  d = calloc(1, sizeof *d);
  if (!d || !(d->text = calloc(1, 1))) {
    free(d);
    return DOC_NO_MEMORY;
  }
  snprintf(d->room_id, sizeof d->room_id, "%s", room_id);
  set_language(d, language);
  int rc = load(docs, d);
  if (rc == DOC_OK && hmap_put(&docs->by_room, d->room_id, strlen(d->room_id), d) < 0)
    rc = DOC_NO_MEMORY;
  if (rc != DOC_OK) {
    doc_free(d);
    return rc;
  }
  d->users = 1;
  *out = d;
  return DOC_OK;
}

void doc_close(struct docs *docs, struct doc *d) {
  if (--d->users > 0)
    return;
  hmap_del(&docs->by_room, d->room_id, strlen(d->room_id));
  doc_free(d);
}

static void note_status(void *ctx, int status) {
  *(int *)ctx = status;
}

/* Every snapshot_every updates the whole text is stored, so loading
 * replays little; a failure costs only a longer replay next time. */
static void maybe_snapshot(struct docs *docs, struct doc *d) {
  if ((uint64_t)(d->version - d->snapshot_version) < docs->limits.snapshot_every)
    return;
  struct doc_snapshot_row snap = {.version = d->version, .text = d->text, .text_len = d->len};
  int status = STORE_FAILED;
  store_doc_snapshot_save(docs->store, d->room_id, &snap, time_now_ms(),
                          d->version - DOC_HISTORY_KEPT, note_status, &status);
  if (status == STORE_OK)
    d->snapshot_version = d->version;
}

/* Stores the updates as versions doc->version + 1... and makes `text` the
 * document's (taking it). */
static int commit(struct docs *docs, struct doc *d, struct doc_update_row *rows, size_t count,
                  char *text, size_t len) {
  int status = STORE_FAILED;
  store_doc_updates_append(docs->store, d->room_id, rows, count, note_status, &status);
  if (status != STORE_OK) {
    free(text);
    /* A taken version means another writer got there first. */
    return status == STORE_CONFLICT ? DOC_STALE : DOC_STORE_FAILED;
  }
  free(d->text);
  d->text = text;
  d->len = len;
  d->version += (int64_t)count;
  maybe_snapshot(docs, d);
  return DOC_OK;
}

static bool client_id_valid(const char *id) {
  size_t n = id ? strlen(id) : 0;
  return n > 0 && n <= DOC_CLIENT_ID_MAX;
}

/* Applies the updates one after another to a copy of the text; the rows
 * get their JSON (owned by the caller, freed with free_rows). */
static int apply_all(struct docs *docs, struct doc *d, const struct doc_update *updates,
                     size_t count, struct doc_update_row *rows, char **out, size_t *out_len,
                     struct doc_error *err) {
  char *text = NULL;
  size_t len = d->len;
  int64_t now = time_now_ms();
  for (size_t i = 0; i < count; i++) {
    err->index = i;
    if (!client_id_valid(updates[i].client_id) || !updates[i].changes) {
      err->message = "An update is {clientID: 1 to 64 bytes of text, changes: a ChangeSet}.";
      free(text);
      return DOC_BAD_UPDATE;
    }
    char *next;
    size_t next_len;
    int rc =
        apply_json(docs, updates[i].changes, text ? text : d->text, len, &next, &next_len, err);
    free(text);
    if (rc != DOC_OK)
      return rc;
    text = next;
    len = next_len;
    char *json = json_dumps(updates[i].changes, JSON_COMPACT);
    if (!json) {
      free(text);
      return DOC_NO_MEMORY;
    }
    rows[i] = (struct doc_update_row){.version = d->version + 1 + (int64_t)i,
                                      .client_id = updates[i].client_id,
                                      .changes = json,
                                      .changes_len = strlen(json),
                                      .created_at = now};
  }
  *out = text;
  *out_len = len;
  return DOC_OK;
}

static void free_rows(struct doc_update_row *rows, size_t count) {
  for (size_t i = 0; i < count; i++)
    free((char *)rows[i].changes);
  free(rows);
}

int doc_push(struct docs *docs, struct doc *d, int64_t version, const struct doc_update *updates,
             size_t count, struct doc_error *err) {
  memset(err, 0, sizeof *err);
  if (version != d->version)
    return DOC_STALE;
  if (count == 0)
    return DOC_OK;
  if (count > DOC_PUSH_MAX) {
    err->message = "At most 1000 updates in one push.";
    return DOC_BAD_UPDATE;
  }
  struct doc_update_row *rows = calloc(count, sizeof *rows);
  if (!rows)
    return DOC_NO_MEMORY;
  char *text = NULL;
  size_t len = 0;
  int rc = apply_all(docs, d, updates, count, rows, &text, &len, err);
  if (rc == DOC_OK)
    rc = commit(docs, d, rows, count, text, len);
  free_rows(rows, count);
  return rc;
}

/* "\r\n" and lone "\r" become "\n", as CodeMirror reads them. Returns a
 * new text (the caller frees it) or NULL. */
static char *normalise_line_breaks(const char *text, size_t len, size_t *out_len) {
  char *out = malloc(len + 1);
  if (!out)
    return NULL;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\r') {
      out[n++] = '\n';
      if (i + 1 < len && text[i + 1] == '\n')
        i++;
    } else {
      out[n++] = text[i];
    }
  }
  out[n] = '\0';
  *out_len = n;
  return out;
}

int doc_replace(struct docs *docs, struct doc *d, const char *text, size_t len,
                const char *client_id, json_t **changes) {
  *changes = NULL;
  size_t n;
  char *normal = normalise_line_breaks(text, len, &n);
  if (!normal)
    return DOC_NO_MEMORY;
  int rc = DOC_OK;
  if (n > docs->limits.max_bytes)
    rc = DOC_TOO_LARGE;
  else if (n == d->len && memcmp(normal, d->text, n) == 0)
    rc = DOC_UNCHANGED;
  else if (!(*changes = textdiff(d->text, d->len, normal, n, TEXTDIFF_MAX_EDITS)))
    rc = DOC_NO_MEMORY;
  if (rc == DOC_OK) {
    struct doc_update update = {client_id, *changes};
    struct doc_error err;
    rc = doc_push(docs, d, d->version, &update, 1, &err);
  }
  free(normal);
  if (rc != DOC_OK) {
    json_decref(*changes);
    *changes = NULL;
  }
  return rc;
}

struct pulling {
  int64_t expect; /* the version the next row must have */
  bool gone;
  int status;
  store_doc_update_cb each;
  void *ctx;
};

static void pulled(void *ctx, int status, const struct doc_update_row *u) {
  struct pulling *p = ctx;
  if (!u) {
    p->status = status;
    return;
  }
  /* The first row must follow `from` at once, or that history is gone. */
  if (p->gone || u->version != p->expect) {
    p->gone = true;
    return;
  }
  p->expect++;
  p->each(p->ctx, status, u);
}

int doc_pull(struct docs *docs, struct doc *d, int64_t from, store_doc_update_cb each, void *ctx) {
  if (from < 0 || from > d->version)
    return DOC_BAD_VERSION;
  struct pulling p = {.expect = from + 1, .each = each, .ctx = ctx};
  if (from < d->version)
    store_doc_updates_list(docs->store, d->room_id, from, DOC_PULL_MAX, pulled, &p);
  if (p.gone)
    return DOC_GONE;
  if (p.status < 0)
    return DOC_STORE_FAILED;
  each(ctx, STORE_OK, NULL);
  return DOC_OK;
}

bool doc_language_valid(const char *language, size_t len) {
  if (len == 0 || len > DOC_LANGUAGE_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = language[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '#' || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

int doc_set_language(struct docs *docs, struct doc *d, const char *language, size_t len) {
  char copy[DOC_LANGUAGE_MAX + 1];
  snprintf(copy, sizeof copy, "%.*s", (int)len, language);
  int status = STORE_FAILED;
  store_room_set_language(docs->store, d->room_id, copy, note_status, &status);
  if (status != STORE_OK)
    return DOC_STORE_FAILED;
  memcpy(d->language, copy, sizeof copy);
  return DOC_OK;
}
