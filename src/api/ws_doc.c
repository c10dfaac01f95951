/* Code rooms over WebSocket: the collab protocol of @codemirror/collab
 * (push at the current version, pull what was missed) and the whole-text
 * compatibility messages (init, code_update). */
#include "api/ws_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "config.h"
#include "api/ws_wait.h"
#include "bus/bus.h"
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
  /* By name: with --redis the members may all be on other instances (a
   * PUT doc reaching one with nobody in the room). */
  size_t len = strlen(d->room_id);
  bool anyone = hub_find_room(d->room_id, len) || bus_up();
  buf *f = anyone ? frame_of(json_pack("{s:s, s:I, s:I, s:O}", "type", "doc.updates", "from",
                                       (json_int_t)from, "version", (json_int_t)d->version,
                                       "updates", updates))
                  : NULL;
  if (f)
    hub_broadcast_named(d->room_id, len, f, NULL, 0);
  buf_unref(f);
  /* Slow members cut by the first broadcast may have emptied the room. */
  anyone = hub_find_room(d->room_id, len) || bus_up();
  buf *whole =
      anyone ? frame_of(json_pack("{s:s, s:s%}", "type", "code_update", "code", d->text, d->len))
             : NULL;
  if (whole) /* whole-text clients: the text */
    hub_broadcast_named(d->room_id, len, whole, except, WS_DOC_COLLAB);
  buf_unref(whole);
  doc_close(docs, d);
}

void ws_doc_broadcast_caught_up(struct docs *docs, struct doc *d,
                                const struct doc_push_result *res) {
  if (res->caught_up && json_array_size(res->caught_up) > 0 && !bus_up())
    ws_doc_broadcast(docs, d, res->caught_up_from, res->caught_up, NULL);
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

/* A member's doc.* message waiting on the store: the frames it sends
 * meanwhile are held (api/ws_wait.h), so its answers come in order. */
struct doc_wait {
  struct app *app;
  struct ws_wait *w;
  char peer_id[HUB_PEER_ID_LEN + 1];
  int64_t pull_from; /* doc.pull's version */
  json_t *code;      /* code_update's text, for another try */
  int tries;         /* code_update's tries so far */
};

static struct doc_wait *doc_wait_begin(conn *c, struct hub_member *m, struct ws_wait *w) {
  struct doc_wait *dw = malloc(sizeof *dw);
  if (!dw) {
    send_doc_error(c, "internal", "Out of memory.", -1, false);
    return NULL;
  }
  dw->app = c->srv->app;
  dw->w = ws_wait_begin(w);
  dw->code = NULL;
  dw->tries = 0;
  memcpy(dw->peer_id, m->peer_id, sizeof dw->peer_id);
  return dw;
}

static void doc_wait_end(struct doc_wait *dw) {
  json_decref(dw->code);
  ws_wait_end(dw->w);
  free(dw);
}

/* A push's answer. Updates another instance stored first reach every
 * member here, whoever pushed; the pusher, if still connected, hears why
 * its push was refused (stale_version: it pulls, rebases, pushes again). */
static void pushed(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct doc_wait *dw = ctx;
  conn *c = ws_wait_conn(dw->w);
  ws_doc_broadcast_caught_up(&dw->app->docs, d, res);
  if (res->status == DOC_OK && res->applied && d->version > res->from) {
    /* A whole-text member hears its own code_update back only if it left. */
    const struct hub_member *except = c ? ws_app_state(c) : NULL;
    ws_doc_broadcast(&dw->app->docs, d, res->from, res->applied, except);
  } else if (c && res->status != DOC_OK && res->status != DOC_UNCHANGED) {
    refuse(c, d, res->status, &res->err);
  }
  doc_wait_end(dw);
}

/* {"type":"doc.push","version":N,"updates":[{"clientID","changes"}...]} */
static void push(conn *c, struct hub_member *m, struct ws_wait *w, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *version = json_object_get(msg, "version"), *updates = json_object_get(msg, "updates");
  if (!json_is_integer(version) || !json_is_array(updates)) {
    send_doc_error(c, "bad_message", "doc.push needs a version and an array of updates.", -1, true);
    return;
  }
  size_t count = json_array_size(updates);
  struct doc_update *list = calloc(count ? count : 1, sizeof *list);
  if (!list) {
    send_doc_error(c, "internal", "Out of memory.", -1, false);
    return;
  }
  /* Only what collab reads is taken, never other fields. */
  for (size_t i = 0; i < count; i++) {
    json_t *u = json_array_get(updates, i);
    list[i].client_id = json_string_value(json_object_get(u, "clientID"));
    list[i].changes = json_object_get(u, "changes");
  }
  struct doc_wait *dw = doc_wait_begin(c, m, w);
  if (dw)
    doc_push_async(&app->docs, d, json_integer_value(version), list, count, pushed, dw);
  free(list);
}

static void pulled(void *ctx, int status, json_t *updates, int64_t version) {
  struct doc_wait *dw = ctx;
  conn *c = ws_wait_conn(dw->w);
  struct hub_member *m = c ? ws_app_state(c) : NULL;
  struct doc *d = m ? doc_of(dw->app, m) : NULL;
  int64_t from = version - (int64_t)json_array_size(updates);
  if (!d) {
    /* gone, or no longer in the room: nobody to answer */
  } else if (status == DOC_OK) {
    send_json(c, json_pack("{s:s, s:I, s:I, s:O}", "type", "doc.updates", "from", (json_int_t)from,
                           "version", (json_int_t)version, "updates", updates));
  } else if (status == DOC_BAD_VERSION) {
    send_doc_error(c, "bad_version", "A pull is from a version between 0 and the current one.",
                   d->version, true);
  } else if (status == DOC_GONE) {
    send_doc_error(c, "version_gone", "That history is gone: reconnect for the whole document.",
                   d->version, false);
  } else {
    refuse(c, d, status, NULL);
  }
  doc_wait_end(dw);
}

/* First what other instances stored: every member here hears it, the
 * puller too (collab clients take the part they lack), then the pull is
 * answered. */
static void pull_refreshed(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct doc_wait *dw = ctx;
  conn *c = ws_wait_conn(dw->w);
  ws_doc_broadcast_caught_up(&dw->app->docs, d, res);
  if (res->status == DOC_OK && c) {
    doc_pull_async(&dw->app->docs, d, dw->pull_from, pulled, dw);
    return;
  }
  if (c)
    refuse(c, d, res->status, NULL);
  doc_wait_end(dw);
}

/* {"type":"doc.pull","version":N} -> doc.updates from N (at most
 * DOC_PULL_MAX; the client pulls again while `version` grows). */
static void pull(conn *c, struct hub_member *m, struct ws_wait *w, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *version = json_object_get(msg, "version");
  if (!json_is_integer(version)) {
    send_doc_error(c, "bad_message", "doc.pull needs the version the client has.", -1, true);
    return;
  }
  struct doc_wait *dw = doc_wait_begin(c, m, w);
  if (!dw)
    return;
  dw->pull_from = json_integer_value(version);
  doc_refresh_async(&app->docs, d, pull_refreshed, dw);
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

static void language_set(void *ctx, int status, struct doc *d) {
  struct doc_wait *dw = ctx;
  conn *c = ws_wait_conn(dw->w);
  struct hub_room *room = hub_find_room(d->room_id, strlen(d->room_id));
  if (status == DOC_OK && room) {
    buf *f = frame_of(json_pack("{s:s, s:s, s:s}", "type", "doc.language", "language", d->language,
                                "peer_id", dw->peer_id));
    if (f)
      hub_broadcast(room, f, NULL);
    buf_unref(f);
  } else if (status != DOC_OK && c) {
    refuse(c, d, status, NULL);
  }
  doc_wait_end(dw);
}

/* {"type":"doc.language","language":"python"} -> stored, and everyone
 * (the sender too) hears it. */
static void language(conn *c, struct hub_member *m, struct ws_wait *w, struct doc *d, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *lang = json_object_get(msg, "language");
  if (!json_is_string(lang) ||
      !doc_language_valid(json_string_value(lang), json_string_length(lang))) {
    send_doc_error(c, "bad_language", "A language is 1 to 32 characters of A-Z a-z 0-9 + # . _ -.",
                   -1, true);
    return;
  }
  struct doc_wait *dw = doc_wait_begin(c, m, w);
  if (dw)
    doc_set_language_async(&app->docs, d, json_string_value(lang), json_string_length(lang),
                           language_set, dw);
}

#define CODE_UPDATE_TRIES 3

static void replace_code(struct docs *docs, struct doc *d, struct doc_wait *dw);

/* Another instance took the version first (with several on one
 * database): the document has caught up, and the whole text is diffed
 * again against what is there now, as a PUT doc is, so the edit is kept. */
static void code_replaced(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct doc_wait *dw = ctx;
  if (res->status == DOC_STALE && ++dw->tries < CODE_UPDATE_TRIES && ws_wait_conn(dw->w)) {
    ws_doc_broadcast_caught_up(&dw->app->docs, d, res);
    replace_code(&dw->app->docs, d, dw);
    return;
  }
  pushed(ctx, d, res);
}

static void replace_code(struct docs *docs, struct doc *d, struct doc_wait *dw) {
  doc_replace_async(docs, d, json_string_value(dw->code), json_string_length(dw->code), dw->peer_id,
                    code_replaced, dw);
}

/* {"type":"code_update","code":"..."}: the whole text, turned into the
 * smallest change and applied like a push by this member. */
static void code_update(conn *c, struct hub_member *m, struct ws_wait *w, struct doc *d,
                        json_t *msg) {
  struct app *app = c->srv->app;
  json_t *code = json_object_get(msg, "code");
  if (!json_is_string(code)) {
    send_doc_error(c, "bad_message", "code_update needs the code as a string.", -1, true);
    return;
  }
  struct doc_wait *dw = doc_wait_begin(c, m, w);
  if (!dw)
    return;
  dw->code = json_incref(code);
  replace_code(&app->docs, d, dw);
}

bool ws_doc_message(conn *c, struct hub_member *m, struct ws_wait *w, const char *type,
                    json_t *msg) {
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
    push(c, m, w, d, msg);
  else if (strcmp(type, "doc.pull") == 0)
    pull(c, m, w, d, msg);
  else if (strcmp(type, "doc.cursor") == 0)
    cursor(c, m, d, msg);
  else if (strcmp(type, "doc.language") == 0)
    language(c, m, w, d, msg);
  else if (!collab)
    code_update(c, m, w, d, msg);
  else
    return false;
  return true;
}

/* The payload of a text frame this server built (unmasked), or NULL. */
static const char *frame_text(const uint8_t *frame, size_t len, size_t *text_len) {
  if (len < 2 || frame[0] != 0x81 || (frame[1] & 0x80))
    return NULL;
  size_t n = frame[1] & 0x7f, head = 2;
  if (n == 126) {
    head = 4;
    n = len >= 4 ? (size_t)frame[2] << 8 | frame[3] : 0;
  } else if (n == 127) {
    head = 10;
    n = 0;
    for (size_t i = 2; i < 10 && len >= 10; i++)
      n = n << 8 | frame[i];
  }
  if (len < head || len - head != n)
    return NULL;
  *text_len = n;
  return (const char *)frame + head;
}

static bool starts_with(const char *text, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(text, prefix, n) == 0;
}

void ws_doc_follow_frame(struct app *app, const char *room, size_t room_len, const uint8_t *frame,
                         size_t frame_len) {
  struct doc *d = docs_find(&app->docs, room, room_len);
  size_t len = 0;
  const char *text = d ? frame_text(frame, frame_len, &len) : NULL;
  /* Only the two kinds that change the document; jansson keeps "type" first. */
  if (!text || !(starts_with(text, len, "{\"type\":\"doc.updates\"") ||
                 starts_with(text, len, "{\"type\":\"doc.language\"")))
    return;
  json_error_t jerr;
  json_t *msg = json_loadb(text, len, 0, &jerr);
  json_t *from = json_object_get(msg, "from"), *version = json_object_get(msg, "version");
  json_t *language = json_object_get(msg, "language");
  if (json_is_integer(from) && json_is_integer(version))
    doc_follow(&app->docs, d, json_integer_value(from), json_integer_value(version),
               json_object_get(msg, "updates"));
  else if (json_is_string(language))
    doc_follow_language(d, json_string_value(language), json_string_length(language));
  json_decref(msg);
}
