/* Code rooms over WebSocket: the collab protocol of @codemirror/collab
 * (push at the current version, pull what was missed) and the whole-text
 * compatibility messages (init, code_update). */
#include "api/ws_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "config.h"
#include "net/server.h"
#include "rooms/changeset.h"
#include "rooms/peer_info.h"
#include "util/bucket.h"
#include "util/log.h"
#include "ws/ws_conn.h"

static struct doc *doc_of(struct app *app, const struct hub_member *m) {
  if (!(m->doc_flags & WS_DOC_OPEN) || !m->room)
    return NULL;
  return docs_find(&app->docs, m->room->name, m->room->name_len);
}

int ws_doc_join(struct app *app, struct hub_member *m, const char *language) {
  struct doc *d;
  char room_id[STORE_ID_LEN + 1];
  snprintf(room_id, sizeof room_id, "%.*s", (int)m->room->name_len, m->room->name);
  if (doc_open(&app->docs, room_id, language, &d) != DOC_OK)
    return -1;
  m->doc_flags |= WS_DOC_OPEN;
  return 0;
}

void ws_doc_leave(struct app *app, struct hub_member *m) {
  struct doc *d = doc_of(app, m);
  if (d)
    doc_close(&app->docs, d);
  m->doc_flags = 0;
}

json_t *ws_doc_state(struct app *app, const struct hub_member *m) {
  struct doc *d = doc_of(app, m);
  if (!d)
    return NULL;
  return json_pack("{s:I, s:s%, s:s}", "version", (json_int_t)d->version, "text", d->text, d->len,
                   "language", d->language);
}

/* Serialises once and sends to one connection. */
static void send_json(conn *c, json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (text)
    ws_send_text(c, text, strlen(text));
  free(text);
}

static buf *frame_of(json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  buf *f = text ? ws_frame_build(WS_OP_TEXT, text, strlen(text)) : NULL;
  free(text);
  return f;
}

void ws_doc_send_init(struct app *app, struct hub_member *m) {
  struct doc *d = doc_of(app, m);
  if (d)
    send_json(m->c, json_pack("{s:s, s:s%, s:s}", "type", "init", "code", d->text, d->len,
                              "language", d->language));
}

/* {"type":"error",...} with the document's version when it helps the
 * client recover (stale_version, version_gone). */
static void send_doc_error(conn *c, const char *code, const char *message, int64_t version,
                           bool counts) {
  json_t *o = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
  if (o && version >= 0)
    json_object_set_new(o, "version", json_integer(version));
  send_json(c, o);
  if (counts)
    ws_count_error(c);
}

void ws_doc_broadcast(struct docs *docs, struct doc *d, int64_t from, json_t *updates,
                      const struct hub_member *except) {
  /* A send that cuts the last slow member would close the document under
   * us: hold a use of it until done. */
  d->users++;
  struct hub_room *room = hub_find_room(d->room_id, strlen(d->room_id));
  buf *f = room ? frame_of(json_pack("{s:s, s:I, s:I, s:O}", "type", "doc.updates", "from",
                                     (json_int_t)from, "version", (json_int_t)d->version, "updates",
                                     updates))
                : NULL;
  if (f)
    hub_broadcast(room, f, NULL);
  buf_unref(f);
  /* Found again: slow members cut by the first broadcast may have emptied it. */
  room = hub_find_room(d->room_id, strlen(d->room_id));
  buf *whole =
      room ? frame_of(json_pack("{s:s, s:s%}", "type", "code_update", "code", d->text, d->len))
           : NULL;
  if (whole)
    hub_broadcast_if(room, whole, except, WS_DOC_COLLAB); /* whole-text clients: the text */
  buf_unref(whole);
  doc_close(docs, d);
}

static void refuse(conn *c, struct doc *d, int status, const struct doc_error *err) {
  switch (status) {
  case DOC_STALE:
    send_doc_error(c, "stale_version", "The document has moved on: pull, rebase and push again.",
                   d->version, false);
    break;
  case DOC_BAD_UPDATE:
    send_doc_error(
        c,
        err && err->changeset_status ? changeset_status_code(err->changeset_status) : "bad_changes",
        err && err->message ? err->message : "The update is not valid.", d->version, true);
    break;
  case DOC_TOO_LARGE:
    send_doc_error(c, "doc_too_large", "The document would be larger than this server keeps.",
                   d->version, true);
    break;
  case DOC_NO_MEMORY: send_doc_error(c, "internal", "Out of memory.", -1, false); break;
  default:
    send_doc_error(c, "storage_unavailable", "Storage is not answering; try again.", -1, false);
  }
}

/* {"type":"doc.push","version":N,"updates":[{"clientID","changes"}...]} */
static void push(conn *c, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *version = json_object_get(msg, "version"), *updates = json_object_get(msg, "updates");
  if (!json_is_integer(version) || !json_is_array(updates)) {
    send_doc_error(c, "bad_message", "doc.push needs a version and an array of updates.", -1, true);
    return;
  }
  size_t count = json_array_size(updates);
  struct doc_update *list = calloc(count ? count : 1, sizeof *list);
  json_t *out = json_array();
  if (!list || !out) {
    free(list);
    json_decref(out);
    send_doc_error(c, "internal", "Out of memory.", -1, false);
    return;
  }
  for (size_t i = 0; i < count; i++) {
    json_t *u = json_array_get(updates, i);
    list[i].client_id = json_string_value(json_object_get(u, "clientID"));
    list[i].changes = json_object_get(u, "changes");
    /* Only what collab reads is passed on, never other fields. */
    json_array_append_new(out, json_pack("{s:O?, s:O?}", "clientID", json_object_get(u, "clientID"),
                                         "changes", json_object_get(u, "changes")));
  }
  int64_t from = d->version;
  struct doc_error err;
  int status = doc_push(&app->docs, d, json_integer_value(version), list, count, &err);
  free(list);
  if (status == DOC_OK && d->version > from)
    ws_doc_broadcast(&app->docs, d, from, out, NULL);
  else if (status != DOC_OK)
    refuse(c, d, status, &err);
  json_decref(out);
}

struct pull_answer {
  json_t *updates;
  bool failed;
};

static void pulled(void *ctx, int status, const struct doc_update_row *u) {
  struct pull_answer *a = ctx;
  if (!u)
    return;
  json_error_t jerr;
  json_t *changes = json_loadb(u->changes, u->changes_len, 0, &jerr);
  json_t *o =
      changes ? json_pack("{s:s, s:o}", "clientID", u->client_id, "changes", changes) : NULL;
  if (!o || json_array_append_new(a->updates, o) < 0)
    a->failed = true;
}

/* {"type":"doc.pull","version":N} -> doc.updates from N (at most
 * DOC_PULL_MAX; the client pulls again while `version` grows). */
static void pull(conn *c, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *version = json_object_get(msg, "version");
  if (!json_is_integer(version)) {
    send_doc_error(c, "bad_message", "doc.pull needs the version the client has.", -1, true);
    return;
  }
  int64_t from = json_integer_value(version);
  struct pull_answer a = {.updates = json_array()};
  int status = a.updates ? doc_pull(&app->docs, d, from, pulled, &a) : DOC_NO_MEMORY;
  if (status == DOC_OK && !a.failed) {
    size_t n = json_array_size(a.updates);
    send_json(c, json_pack("{s:s, s:I, s:I, s:O}", "type", "doc.updates", "from", (json_int_t)from,
                           "version", (json_int_t)(from + (int64_t)n), "updates", a.updates));
  } else if (status == DOC_BAD_VERSION) {
    send_doc_error(c, "bad_version", "A pull is from a version between 0 and the current one.",
                   d->version, true);
  } else if (status == DOC_GONE) {
    send_doc_error(c, "version_gone", "That history is gone: reconnect for the whole document.",
                   d->version, false);
  } else {
    refuse(c, d, status == DOC_OK ? DOC_NO_MEMORY : status, NULL);
  }
  json_decref(a.updates);
}

/* Cursor positions are whole numbers within what any document may hold. */
static bool position_valid(const json_t *v) {
  return json_is_integer(v) && json_integer_value(v) >= 0 &&
         (uint64_t)json_integer_value(v) <= CHANGESET_LENGTH_MAX;
}

/* {"type":"doc.cursor","anchor":N,"head":N} -> the others, with who it is
 * and the version the server is at. Cursors share --signal-rate. */
static void cursor(conn *c, struct hub_member *m, struct doc *d, json_t *msg) {
  json_t *anchor = json_object_get(msg, "anchor"), *head = json_object_get(msg, "head");
  if (!position_valid(anchor) || !position_valid(head)) {
    send_doc_error(c, "bad_message", "A cursor is an anchor and a head, positions of 0 or more.",
                   -1, true);
    return;
  }
  uint32_t rate = (uint32_t)c->srv->cfg->signal_rate;
  if (!bucket_take(&m->signals, uv_now(c->srv->loop), rate, rate * 2, 1)) {
    send_doc_error(c, "rate_limited", "Too many cursor updates; slow down.", -1, false);
    return;
  }
  char name[48];
  if (!m->name)
    peer_default_name(m->peer_id, HUB_PEER_ID_LEN, name, sizeof name);
  buf *f = frame_of(json_pack("{s:s, s:s, s:s, s:O, s:O, s:I}", "type", "doc.cursor", "peer_id",
                              m->peer_id, "name", m->name ? m->name : name, "anchor", anchor,
                              "head", head, "version", (json_int_t)d->version));
  if (f)
    hub_broadcast(m->room, f, m);
  buf_unref(f);
}

/* {"type":"doc.language","language":"python"} -> stored, and everyone
 * (the sender too) hears it. */
static void language(conn *c, struct hub_member *m, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *lang = json_object_get(msg, "language");
  if (!json_is_string(lang) ||
      !doc_language_valid(json_string_value(lang), json_string_length(lang))) {
    send_doc_error(c, "bad_language", "A language is 1 to 32 characters of A-Z a-z 0-9 + # . _ -.",
                   -1, true);
    return;
  }
  if (doc_set_language(&app->docs, d, json_string_value(lang), json_string_length(lang)) !=
      DOC_OK) {
    refuse(c, d, DOC_STORE_FAILED, NULL);
    return;
  }
  buf *f = frame_of(json_pack("{s:s, s:s, s:s}", "type", "doc.language", "language", d->language,
                              "peer_id", m->peer_id));
  if (f)
    hub_broadcast(m->room, f, NULL);
  buf_unref(f);
}

/* {"type":"code_update","code":"..."}: the whole text, turned into the
 * smallest change and applied like a push by this member. */
static void code_update(conn *c, struct hub_member *m, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *code = json_object_get(msg, "code");
  if (!json_is_string(code)) {
    send_doc_error(c, "bad_message", "code_update needs the code as a string.", -1, true);
    return;
  }
  int64_t from = d->version;
  json_t *changes;
  int status = doc_replace(&app->docs, d, json_string_value(code), json_string_length(code),
                           m->peer_id, &changes);
  if (status == DOC_UNCHANGED)
    return;
  if (status != DOC_OK) {
    refuse(c, d, status, NULL);
    return;
  }
  json_t *updates = json_pack("[{s:s, s:o}]", "clientID", m->peer_id, "changes", changes);
  if (updates)
    ws_doc_broadcast(&app->docs, d, from, updates, m);
  json_decref(updates);
}

bool ws_doc_message(conn *c, struct hub_member *m, const char *type, json_t *msg) {
  bool collab = strncmp(type, "doc.", 4) == 0;
  if (!collab && strcmp(type, "code_update") != 0)
    return false;
  struct doc *d = doc_of(c->srv->app, m);
  if (!d) {
    send_doc_error(c, "not_code_room", "Only a code room has a document.", -1, true);
    return true;
  }
  if (collab)
    m->doc_flags |= WS_DOC_COLLAB;
  if (strcmp(type, "doc.push") == 0)
    push(c, d, msg);
  else if (strcmp(type, "doc.pull") == 0)
    pull(c, d, msg);
  else if (strcmp(type, "doc.cursor") == 0)
    cursor(c, m, d, msg);
  else if (strcmp(type, "doc.language") == 0)
    language(c, m, d, msg);
  else if (!collab)
    code_update(c, m, d, msg);
  else
    return false;
  return true;
}
