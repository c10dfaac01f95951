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

/* Waiting for a document being loaded. */
struct doc_opener {
  struct doc_opener *next;
  doc_open_cb done;
  void *ctx;
};

static void doc_free(struct doc *d) {
  while (d->openers) { /* only at exit, with a load still in flight */
    struct doc_opener *o = d->openers;
    d->openers = o->next;
    free(o);
  }
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

/* A push or a whole-text replacement, run when the document's previous
 * append has been answered. Inputs are copies: the caller's are gone. */
struct doc_request {
  struct doc_request *next;
  int64_t version;
  size_t count;      /* pushed updates; 0 for a replacement */
  char **client_ids; /* [count] */
  json_t **changes;  /* [count] */
  char *text;        /* a replacement's whole text (normalised), else NULL */
  size_t text_len;
  char client_id[DOC_CLIENT_ID_MAX + 1]; /* a replacement's */
  bool refresh;                          /* reads what other instances stored */
  doc_push_cb done;
  void *ctx;
};

/* Loading: the latest snapshot, then each update after it, DOC_PULL_MAX
 * a round until none are left (snapshots keep that short). */
struct loading {
  struct docs *docs;
  struct doc *doc;
  int status;
  int64_t before; /* the version when the round began */
  bool rechecked; /* read once more for what other instances told meanwhile */
};

static void load_round(struct loading *l);

/* The load is over: every opener hears, the document is live or gone. */
static void load_finish(struct loading *l) {
  struct docs *docs = l->docs;
  struct doc *d = l->doc;
  int status = l->status;
  free(l);
  d->loading = false;
  if (status != DOC_OK) {
    struct log_field f = LOG_STR("room", d->room_id);
    log_fields(LOG_ERROR, "doc.load_failed", &f, 1);
    hmap_del(&docs->by_room, d->room_id, strlen(d->room_id));
  }
  struct doc_opener *o = d->openers;
  d->openers = NULL;
  /* An opener may close at once (its client went away): hold the document
   * while every opener hears. */
  d->users++;
  while (o) {
    struct doc_opener *next = o->next;
    if (status == DOC_OK) {
      o->done(o->ctx, DOC_OK, d);
    } else {
      d->users--;
      o->done(o->ctx, status, NULL);
    }
    free(o);
    o = next;
  }
  if (status == DOC_OK)
    doc_close(docs, d);
  else
    doc_free(d);
}

static void got_snapshot(void *ctx, int status, const struct doc_snapshot_row *snap) {
  struct loading *l = ctx;
  if (status == STORE_OK) {
    char *text = malloc(snap->text_len + 1);
    if (text) {
      memcpy(text, snap->text, snap->text_len);
      text[snap->text_len] = '\0';
      free(l->doc->text);
      l->doc->text = text;
      l->doc->len = snap->text_len;
      l->doc->version = l->doc->snapshot_version = snap->version;
    } else {
      l->status = DOC_NO_MEMORY;
    }
  } else if (status != STORE_NOT_FOUND) { /* not found: a new document, empty at version 0 */
    l->status = DOC_STORE_FAILED;
  }
  if (l->status == DOC_OK)
    load_round(l);
  else
    load_finish(l);
}

/* Applies one stored update to the document; DOC_OK or why not. */
static int apply_stored(const struct docs *docs, struct doc *d, const struct doc_update_row *u) {
  if (u->version != d->version + 1)
    return DOC_STORE_FAILED; /* a gap: the history is not whole */
  json_error_t jerr;
  json_t *changes = json_loadb(u->changes, u->changes_len, 0, &jerr);
  struct doc_error err = {0};
  char *text = NULL;
  size_t len = 0;
  int rc = changes ? apply_json(docs, changes, d->text, d->len, &text, &len, &err) : DOC_BAD_UPDATE;
  json_decref(changes);
  if (rc != DOC_OK)
    return rc == DOC_NO_MEMORY ? rc : DOC_STORE_FAILED;
  free(d->text);
  d->text = text;
  d->len = len;
  d->version = u->version;
  return DOC_OK;
}

static void replay_update(void *ctx, int status, const struct doc_update_row *u) {
  struct loading *l = ctx;
  if (status < 0 && l->status == DOC_OK)
    l->status = DOC_STORE_FAILED;
  if (u && l->status == DOC_OK)
    l->status = apply_stored(l->docs, l->doc, u);
  if (u)
    return;
  if (l->status == DOC_OK && l->doc->version != l->before) {
    load_round(l); /* a full round: there may be more */
  } else if (l->status == DOC_OK && l->doc->heard > l->doc->version && !l->rechecked) {
    /* Another instance stored more after this round read: once more. */
    l->rechecked = true;
    load_round(l);
  } else {
    load_finish(l);
  }
}

static void load_round(struct loading *l) {
  l->before = l->doc->version;
  store_doc_updates_list(l->docs->store, l->doc->room_id, l->doc->version, DOC_PULL_MAX,
                         replay_update, l);
}

static void set_language(struct doc *d, const char *language) {
  snprintf(d->language, sizeof d->language, "%s",
           language && doc_language_valid(language, strlen(language)) ? language
                                                                      : DOC_DEFAULT_LANGUAGE);
}

static int add_opener(struct doc *d, doc_open_cb done, void *ctx) {
  struct doc_opener *o = malloc(sizeof *o);
  if (!o)
    return -1;
  *o = (struct doc_opener){d->openers, done, ctx};
  d->openers = o;
  d->users++;
  return 0;
}

void doc_open_async(struct docs *docs, const char *room_id, const char *language, doc_open_cb done,
                    void *ctx) {
  struct doc *d = docs_find(docs, room_id, strlen(room_id));
  if (d && d->loading) {
    if (add_opener(d, done, ctx) < 0)
      done(ctx, DOC_NO_MEMORY, NULL);
    return;
  }
  if (d) {
    d->users++;
    done(ctx, DOC_OK, d);
    return;
  }
  struct loading *l = calloc(1, sizeof *l);
  d = calloc(1, sizeof *d);
  if (d)
    snprintf(d->room_id, sizeof d->room_id, "%s", room_id);
  if (!l || !d || !(d->text = calloc(1, 1)) || add_opener(d, done, ctx) < 0 ||
      hmap_put(&docs->by_room, d->room_id, strlen(d->room_id), d) < 0) {
    free(l);
    if (d)
      doc_free(d);
    done(ctx, DOC_NO_MEMORY, NULL);
    return;
  }
  set_language(d, language);
  d->loading = true;
  *l = (struct loading){.docs = docs, .doc = d, .status = DOC_OK};
  store_doc_snapshot_latest(docs->store, d->room_id, got_snapshot, l);
}

void doc_close(struct docs *docs, struct doc *d) {
  if (--d->users > 0)
    return;
  hmap_del(&docs->by_room, d->room_id, strlen(d->room_id));
  doc_free(d);
}

/* Saving a snapshot; the document is held until the store answers. */
struct saving {
  struct docs *docs;
  struct doc *doc;
  int64_t version;
};

static void snapshot_saved(void *ctx, int status) {
  struct saving *s = ctx;
  s->doc->saving = false;
  if (status == STORE_OK && s->version > s->doc->snapshot_version)
    s->doc->snapshot_version = s->version;
  doc_close(s->docs, s->doc);
  free(s);
}

/* Every snapshot_every updates the whole text is stored, so loading
 * replays little; a failure costs only a longer replay next time. */
static void maybe_snapshot(struct docs *docs, struct doc *d) {
  if (d->saving || (uint64_t)(d->version - d->snapshot_version) < docs->limits.snapshot_every)
    return;
  struct saving *s = malloc(sizeof *s);
  if (!s)
    return;
  *s = (struct saving){docs, d, d->version};
  d->saving = true;
  d->users++;
  struct doc_snapshot_row snap = {.version = d->version, .text = d->text, .text_len = d->len};
  store_doc_snapshot_save(docs->store, d->room_id, &snap, time_now_ms(),
                          d->version - DOC_HISTORY_KEPT, snapshot_saved, s);
}

static bool client_id_valid(const char *id) {
  size_t n = id ? strlen(id) : 0;
  return n > 0 && n <= DOC_CLIENT_ID_MAX;
}

/* Applies the updates one after another to a copy of the text; the rows
 * get their JSON (owned by the caller, freed with free_rows). */
static int apply_all(struct docs *docs, struct doc *d, const struct doc_request *q,
                     struct doc_update_row *rows, char **out, size_t *out_len,
                     struct doc_error *err) {
  char *text = NULL;
  size_t len = d->len;
  int64_t now = time_now_ms();
  for (size_t i = 0; i < q->count; i++) {
    err->index = i;
    if (!client_id_valid(q->client_ids[i]) || !q->changes[i]) {
      err->message = "An update is {clientID: 1 to 64 bytes of text, changes: a ChangeSet}.";
      free(text);
      return DOC_BAD_UPDATE;
    }
    char *next;
    size_t next_len;
    int rc = apply_json(docs, q->changes[i], text ? text : d->text, len, &next, &next_len, err);
    free(text);
    if (rc != DOC_OK)
      return rc;
    text = next;
    len = next_len;
    char *json = json_dumps(q->changes[i], JSON_COMPACT);
    if (!json) {
      free(text);
      return DOC_NO_MEMORY;
    }
    rows[i] = (struct doc_update_row){.version = d->version + 1 + (int64_t)i,
                                      .client_id = q->client_ids[i],
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

static void request_free(struct doc_request *q) {
  for (size_t i = 0; q->client_ids && i < q->count; i++)
    free(q->client_ids[i]);
  for (size_t i = 0; q->changes && i < q->count; i++)
    json_decref(q->changes[i]);
  free(q->client_ids);
  free(q->changes);
  free(q->text);
  free(q);
}

/* [{clientID, changes}...] of a request, for the caller to broadcast. */
static json_t *request_updates(const struct doc_request *q) {
  json_t *out = json_array();
  for (size_t i = 0; out && i < q->count; i++)
    if (json_array_append_new(out, json_pack("{s:s, s:O}", "clientID", q->client_ids[i], "changes",
                                             q->changes[i])) < 0) {
      json_decref(out);
      return NULL;
    }
  return out;
}

/* An append in flight: the request, its new text and rows. */
struct appending {
  struct docs *docs;
  struct doc *doc;
  struct doc_request *q;
  char *text;
  size_t len;
  struct doc_push_result res;
  bool failed; /* reading what other instances stored failed */
};

static void run_next(struct docs *docs, struct doc *d);

/* The request has its answer: the caller hears, the next request runs. */
static void answer(struct docs *docs, struct doc *d, struct doc_request *q,
                   struct doc_push_result *res) {
  q->done(q->ctx, d, res);
  json_decref(res->applied);
  json_decref(res->caught_up);
  request_free(q);
  d->appending = false;
  run_next(docs, d);
  doc_close(docs, d); /* the request's hold */
}

static void caught_up_row(void *ctx, int status, const struct doc_update_row *u);

/* Reads the updates other instances stored after the document's version
 * and applies them (as loading does), for the caller to pass on. After a
 * STORE_CONFLICT the push it answers is stale; a refresh is DOC_OK. */
static void catch_up(struct appending *a) {
  a->res.caught_up_from = a->doc->version;
  a->res.caught_up = json_array();
  if (!a->res.caught_up) {
    a->res.status = DOC_NO_MEMORY;
    struct doc_request *q = a->q;
    struct docs *docs = a->docs;
    struct doc *d = a->doc;
    struct doc_push_result res = a->res;
    free(a);
    answer(docs, d, q, &res);
    return;
  }
  store_doc_updates_list(a->docs->store, a->doc->room_id, a->doc->version, DOC_PULL_MAX,
                         caught_up_row, a);
}

static void caught_up_row(void *ctx, int status, const struct doc_update_row *u) {
  struct appending *a = ctx;
  if (status < 0)
    a->failed = true;
  if (u) {
    if (a->failed || apply_stored(a->docs, a->doc, u) != DOC_OK) {
      a->failed = true;
      return;
    }
    json_error_t jerr;
    json_t *changes = json_loadb(u->changes, u->changes_len, 0, &jerr);
    json_t *o = changes ? json_pack("{s:s, s:o}", "clientID", u->client_id ? u->client_id : "",
                                    "changes", changes)
                        : NULL;
    if (json_array_append_new(a->res.caught_up, o) < 0)
      a->failed = true;
    return;
  }
  struct docs *docs = a->docs;
  struct doc *d = a->doc;
  struct doc_request *q = a->q;
  struct doc_push_result res = a->res;
  if (a->failed)
    res.status = DOC_STORE_FAILED;
  free(a);
  answer(docs, d, q, &res);
}

static void refresh(struct docs *docs, struct doc *d, struct doc_request *q) {
  struct appending *a = calloc(1, sizeof *a);
  if (!a) {
    struct doc_push_result res = {.status = DOC_NO_MEMORY};
    answer(docs, d, q, &res);
    return;
  }
  *a = (struct appending){.docs = docs, .doc = d, .q = q, .res = {.status = DOC_OK}};
  catch_up(a);
}

static void appended(void *ctx, int status) {
  struct appending *a = ctx;
  struct doc *d = a->doc;
  if (status == STORE_OK) {
    free(d->text);
    d->text = a->text;
    d->len = a->len;
    a->res.from = d->version;
    d->version += (int64_t)a->q->count;
    a->res.status = DOC_OK;
    a->res.applied = request_updates(a->q);
    maybe_snapshot(a->docs, d);
  } else {
    free(a->text);
    a->res.status = status == STORE_CONFLICT ? DOC_STALE : DOC_STORE_FAILED;
  }
  a->text = NULL;
  if (status == STORE_CONFLICT) {
    catch_up(a);
    return;
  }
  struct docs *docs = a->docs;
  struct doc_request *q = a->q;
  struct doc_push_result res = a->res;
  free(a);
  answer(docs, d, q, &res);
}

/* A replacement becomes a push of the minimal change at the version the
 * document has now. */
static int replacement_to_push(struct doc *d, struct doc_request *q) {
  if (q->text_len == d->len && memcmp(q->text, d->text, d->len) == 0)
    return DOC_UNCHANGED;
  json_t *changes = textdiff(d->text, d->len, q->text, q->text_len, TEXTDIFF_MAX_EDITS);
  q->client_ids = calloc(1, sizeof *q->client_ids);
  q->changes = calloc(1, sizeof *q->changes);
  if (!changes || !q->client_ids || !q->changes || !(q->client_ids[0] = strdup(q->client_id))) {
    json_decref(changes);
    return DOC_NO_MEMORY;
  }
  q->changes[0] = changes;
  q->count = 1;
  q->version = d->version;
  return DOC_OK;
}

/* Runs one request: refused at once, or applied to a copy of the text and
 * appended (the answer comes with the store's). */
static void run(struct docs *docs, struct doc *d, struct doc_request *q) {
  struct doc_push_result res = {.status = DOC_OK};
  d->appending = true;
  if (q->refresh) {
    refresh(docs, d, q);
    return;
  }
  if (q->text)
    res.status = replacement_to_push(d, q);
  else if (q->version != d->version)
    res.status = DOC_STALE;
  else if (q->count > DOC_PUSH_MAX) {
    res.err.message = "At most 1000 updates in one push.";
    res.status = DOC_BAD_UPDATE;
  }
  struct doc_update_row *rows = NULL;
  struct appending *a = NULL;
  if (res.status == DOC_OK && q->count > 0) {
    rows = calloc(q->count, sizeof *rows);
    a = calloc(1, sizeof *a);
    if (!rows || !a)
      res.status = DOC_NO_MEMORY;
    else
      res.status = apply_all(docs, d, q, rows, &a->text, &a->len, &res.err);
  }
  if (res.status != DOC_OK || q->count == 0) {
    if (rows)
      free_rows(rows, q->count);
    free(a);
    answer(docs, d, q, &res);
    return;
  }
  *a = (struct appending){
      .docs = docs, .doc = d, .q = q, .text = a->text, .len = a->len, .res = res};
  size_t count = q->count; /* q may be answered and gone when the append returns */
  store_doc_updates_append(docs->store, d->room_id, rows, count, appended, a);
  free_rows(rows, count);
}

static void run_next(struct docs *docs, struct doc *d) {
  struct doc_request *q = d->queue;
  if (!q || d->appending)
    return;
  d->queue = q->next;
  if (!d->queue)
    d->queue_tail = NULL;
  run(docs, d, q);
}

/* Queues a request behind the append in flight (if any) and runs what
 * can run. The document is held until the request is answered. */
static void submit(struct docs *docs, struct doc *d, struct doc_request *q) {
  d->users++;
  if (d->queue_tail)
    d->queue_tail->next = q;
  else
    d->queue = q;
  d->queue_tail = q;
  run_next(docs, d);
}

static void refuse_request(struct doc *d, int status, doc_push_cb done, void *ctx) {
  struct doc_push_result res = {.status = status};
  done(ctx, d, &res);
}

void doc_push_async(struct docs *docs, struct doc *d, int64_t version,
                    const struct doc_update *updates, size_t count, doc_push_cb done, void *ctx) {
  if (count > DOC_PUSH_MAX) {
    struct doc_push_result res = {.status = DOC_BAD_UPDATE};
    res.err.message = "At most 1000 updates in one push.";
    done(ctx, d, &res);
    return;
  }
  struct doc_request *q = calloc(1, sizeof *q);
  if (q) {
    q->client_ids = calloc(count ? count : 1, sizeof *q->client_ids);
    q->changes = calloc(count ? count : 1, sizeof *q->changes);
  }
  if (!q || !q->client_ids || !q->changes) {
    if (q)
      request_free(q);
    refuse_request(d, DOC_NO_MEMORY, done, ctx);
    return;
  }
  q->count = count;
  q->version = version;
  q->done = done;
  q->ctx = ctx;
  for (size_t i = 0; i < count; i++) {
    /* A missing or oversized id is refused when the push runs. */
    if (updates[i].client_id && !(q->client_ids[i] = strdup(updates[i].client_id))) {
      request_free(q);
      refuse_request(d, DOC_NO_MEMORY, done, ctx);
      return;
    }
    q->changes[i] = json_incref((json_t *)updates[i].changes);
  }
  submit(docs, d, q);
}

void doc_refresh_async(struct docs *docs, struct doc *d, doc_push_cb done, void *ctx) {
  struct doc_request *q = calloc(1, sizeof *q);
  if (!q) {
    refuse_request(d, DOC_NO_MEMORY, done, ctx);
    return;
  }
  q->refresh = true;
  q->done = done;
  q->ctx = ctx;
  submit(docs, d, q);
}

/* Applies updates another instance stored (in memory only: they are in
 * the store already) when they follow on from the current version. */
static int follow_apply(struct docs *docs, struct doc *d, const json_t *updates) {
  char *text = NULL;
  size_t len = 0;
  const char *cur = d->text;
  size_t cur_len = d->len;
  size_t i;
  json_t *u;
  int rc = DOC_OK;
  json_array_foreach(updates, i, u) {
    struct doc_error err = {0};
    char *next = NULL;
    size_t next_len = 0;
    rc = apply_json(docs, json_object_get(u, "changes"), cur, cur_len, &next, &next_len, &err);
    if (text)
      free(text);
    if (rc != DOC_OK)
      return rc;
    text = next;
    len = next_len;
    cur = text;
    cur_len = len;
  }
  if (!text)
    return DOC_OK; /* no updates */
  free(d->text);
  d->text = text;
  d->len = len;
  d->version += (int64_t)json_array_size(updates);
  return DOC_OK;
}

static void followed(void *ctx, struct doc *d, const struct doc_push_result *res) {
  (void)ctx;
  (void)d;
  (void)res; /* the members heard these updates from the instance that stored them */
}

int doc_follow(struct docs *docs, struct doc *d, int64_t from, int64_t version,
               const json_t *updates) {
  if (d->loading && version > d->heard)
    d->heard = version; /* the load reads them, perhaps after one more round */
  if (d->loading || version <= d->version)
    return DOC_UNCHANGED; /* a catch-up read them already */
  if (!d->appending && from == d->version && json_is_array(updates) &&
      (int64_t)json_array_size(updates) == version - from &&
      follow_apply(docs, d, updates) == DOC_OK)
    return DOC_OK;
  /* A gap, an append in flight, or updates that do not apply here: read
   * what the store holds, in turn after the pushes waiting. */
  doc_refresh_async(docs, d, followed, NULL);
  return DOC_PENDING;
}

void doc_follow_language(struct doc *d, const char *language, size_t len) {
  if (doc_language_valid(language, len))
    snprintf(d->language, sizeof d->language, "%.*s", (int)len, language);
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

void doc_replace_async(struct docs *docs, struct doc *d, const char *text, size_t len,
                       const char *client_id, doc_push_cb done, void *ctx) {
  struct doc_request *q = calloc(1, sizeof *q);
  if (!q || !(q->text = normalise_line_breaks(text, len, &q->text_len))) {
    free(q);
    refuse_request(d, DOC_NO_MEMORY, done, ctx);
    return;
  }
  if (q->text_len > docs->limits.max_bytes) {
    request_free(q);
    refuse_request(d, DOC_TOO_LARGE, done, ctx);
    return;
  }
  snprintf(q->client_id, sizeof q->client_id, "%s", client_id);
  q->done = done;
  q->ctx = ctx;
  submit(docs, d, q);
}

/* Pulling: rows after `from`, up to the version the document had when
 * asked (never ahead of what this instance has applied). */
struct pulling {
  int64_t expect; /* the version the next row must have */
  int64_t upto;
  bool gone;
  store_doc_update_cb each;
  void (*finish)(struct pulling *p, int status);
  void *ctx;
};

static void pulled(void *ctx, int status, const struct doc_update_row *u) {
  struct pulling *p = ctx;
  if (!u) {
    p->finish(p, p->gone ? DOC_GONE : status < 0 ? DOC_STORE_FAILED : DOC_OK);
    return;
  }
  /* The first row must follow `from` at once, or that history is gone. */
  if (p->gone || u->version > p->upto)
    return;
  if (u->version != p->expect) {
    p->gone = true;
    return;
  }
  p->expect++;
  p->each(p->ctx, status, u);
}

/* Starts a pull; finish is called once, perhaps before this returns. */
static void pull_rows(struct docs *docs, struct doc *d, struct pulling *p, int64_t from) {
  if (from < 0 || from > d->version) {
    p->finish(p, DOC_BAD_VERSION);
    return;
  }
  p->expect = from + 1;
  p->upto = d->version;
  if (from == d->version) {
    p->finish(p, DOC_OK);
    return;
  }
  store_doc_updates_list(docs->store, d->room_id, from, DOC_PULL_MAX, pulled, p);
}

struct pull_async {
  struct pulling p;
  json_t *updates;
  int64_t version;
  bool failed;
  doc_pull_cb done;
  void *ctx;
};

static void pull_async_row(void *ctx, int status, const struct doc_update_row *u) {
  struct pull_async *pa = ctx;
  json_error_t jerr;
  json_t *changes = json_loadb(u->changes, u->changes_len, 0, &jerr);
  json_t *o = changes ? json_pack("{s:s, s:o}", "clientID", u->client_id ? u->client_id : "",
                                  "changes", changes)
                      : NULL;
  if (json_array_append_new(pa->updates, o) < 0)
    pa->failed = true;
  pa->version = u->version;
}

static void pull_async_finish(struct pulling *p, int status) {
  struct pull_async *pa = (struct pull_async *)p;
  if (status == DOC_OK && pa->failed)
    status = DOC_NO_MEMORY;
  pa->done(pa->ctx, status, pa->updates, pa->version);
  json_decref(pa->updates);
  free(pa);
}

void doc_pull_async(struct docs *docs, struct doc *d, int64_t from, doc_pull_cb done, void *ctx) {
  struct pull_async *pa = calloc(1, sizeof *pa);
  json_t *updates = pa ? json_array() : NULL;
  if (!updates) {
    free(pa);
    done(ctx, DOC_NO_MEMORY, NULL, from);
    return;
  }
  *pa = (struct pull_async){.p = {.each = pull_async_row, .finish = pull_async_finish},
                            .updates = updates,
                            .version = from,
                            .done = done,
                            .ctx = ctx};
  pa->p.ctx = pa;
  pull_rows(docs, d, &pa->p, from);
}

/* Setting the language: stored first, then the document's. */
struct language_change {
  struct docs *docs;
  struct doc *doc;
  char language[DOC_LANGUAGE_MAX + 1];
  doc_done_cb done;
  void *ctx;
};

static void language_stored(void *ctx, int status) {
  struct language_change *lc = ctx;
  if (status == STORE_OK)
    memcpy(lc->doc->language, lc->language, sizeof lc->language);
  lc->done(lc->ctx, status == STORE_OK ? DOC_OK : DOC_STORE_FAILED, lc->doc);
  doc_close(lc->docs, lc->doc);
  free(lc);
}

void doc_set_language_async(struct docs *docs, struct doc *d, const char *language, size_t len,
                            doc_done_cb done, void *ctx) {
  struct language_change *lc = calloc(1, sizeof *lc);
  if (!lc) {
    done(ctx, DOC_NO_MEMORY, d);
    return;
  }
  *lc = (struct language_change){.docs = docs, .doc = d, .done = done, .ctx = ctx};
  snprintf(lc->language, sizeof lc->language, "%.*s", (int)len, language);
  d->users++;
  store_room_set_language(docs->store, d->room_id, lc->language, language_stored, lc);
}

/* The synchronous forms: each notes the answer where the caller reads it. */
struct sync_answer {
  bool answered;
  int status;
  struct doc *doc;
  struct doc_error err;
  json_t *changes;
};

static void sync_opened(void *ctx, int status, struct doc *d) {
  struct sync_answer *a = ctx;
  *a = (struct sync_answer){.answered = true, .status = status, .doc = d};
}

int doc_open(struct docs *docs, const char *room_id, const char *language, struct doc **out) {
  struct sync_answer a = {0};
  doc_open_async(docs, room_id, language, sync_opened, &a);
  if (!a.answered)
    return DOC_PENDING;
  *out = a.doc;
  return a.status;
}

static void sync_pushed(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct sync_answer *a = ctx;
  a->answered = true;
  a->status = res->status;
  a->err = res->err;
  json_t *first = json_array_get(res->applied, 0);
  a->changes = json_incref(json_object_get(first, "changes"));
}

int doc_push(struct docs *docs, struct doc *d, int64_t version, const struct doc_update *updates,
             size_t count, struct doc_error *err) {
  struct sync_answer a = {0};
  doc_push_async(docs, d, version, updates, count, sync_pushed, &a);
  json_decref(a.changes);
  *err = a.err;
  return a.answered ? a.status : DOC_PENDING;
}

int doc_replace(struct docs *docs, struct doc *d, const char *text, size_t len,
                const char *client_id, json_t **changes) {
  struct sync_answer a = {0};
  doc_replace_async(docs, d, text, len, client_id, sync_pushed, &a);
  *changes = a.status == DOC_OK ? a.changes : NULL;
  if (a.status != DOC_OK)
    json_decref(a.changes);
  return a.answered ? a.status : DOC_PENDING;
}

struct sync_pull {
  struct pulling p;
  bool answered;
  int status;
  store_doc_update_cb each;
  void *ctx;
};

static void sync_pull_finish(struct pulling *p, int status) {
  struct sync_pull *sp = (struct sync_pull *)p;
  sp->answered = true;
  sp->status = status;
  if (status == DOC_OK)
    sp->each(sp->ctx, STORE_OK, NULL);
}

int doc_pull(struct docs *docs, struct doc *d, int64_t from, store_doc_update_cb each, void *ctx) {
  struct sync_pull sp = {
      .p = {.each = each, .finish = sync_pull_finish, .ctx = ctx}, .each = each, .ctx = ctx};
  pull_rows(docs, d, &sp.p, from);
  return sp.answered ? sp.status : DOC_PENDING;
}

static void sync_done(void *ctx, int status, struct doc *d) {
  struct sync_answer *a = ctx;
  *a = (struct sync_answer){.answered = true, .status = status, .doc = d};
}

int doc_set_language(struct docs *docs, struct doc *d, const char *language, size_t len) {
  struct sync_answer a = {0};
  doc_set_language_async(docs, d, language, len, sync_done, &a);
  return a.answered ? a.status : DOC_PENDING;
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
