/* A code room's document over REST: read it whole, or replace it whole
 * (the room's owner), which reaches live editors as one update. */
#include "api/docs_api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/ws_doc.h"
#include "config.h"
#include "rooms/doc.h"
#include "util/log.h"

/* JSON may spend six bytes escaping one: the body bound is that of the
 * largest document's text, escaped, plus room for the rest. */
static uint64_t put_body_max(const struct config *cfg) {
  return cfg->max_doc_bytes * 6 + 1024;
}

static bool is_code_room(const struct room_row *room) {
  return room->kind && strcmp(room->kind, "code") == 0;
}

static void respond_doc(struct http_req *r, const struct doc *d) {
  json_t *body = json_pack("{s:I, s:s%, s:s}", "version", (json_int_t)d->version, "text", d->text,
                           d->len, "language", d->language);
  api_respond_json(r, 200, body, "Cache-Control: no-store\r\n");
}

static void respond_not_loaded(struct http_req *r, int status) {
  if (status == DOC_NO_MEMORY)
    http_respond_error(r, 500, "internal", "Out of memory.");
  else
    http_respond_error(r, 503, "storage_unavailable", "Could not load the document; try again.");
}

/* A GET waiting for the document to be loaded. */
struct get_state {
  struct api_pending pending; /* first: api_pending_abort finds it */
  struct app *app;
};

static void doc_refreshed(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct get_state *st = ctx;
  ws_doc_broadcast_caught_up(&st->app->docs, d, res);
  struct http_req *r = api_pending_end(&st->pending);
  if (r && res->status == DOC_OK)
    respond_doc(r, d);
  else if (r)
    respond_not_loaded(r, res->status);
  doc_close(&st->app->docs, d); /* the open's use */
  free(st);
}

/* Loaded: the answer waits for pushes already under way, so a client
 * reads what it wrote on its socket, and takes in what other instances
 * stored, so every instance answers the same. */
static void doc_shown(void *ctx, int status, struct doc *d) {
  struct get_state *st = ctx;
  if (status == DOC_OK) {
    doc_refresh_async(&st->app->docs, d, doc_refreshed, st);
    return;
  }
  struct http_req *r = api_pending_end(&st->pending);
  if (r)
    respond_not_loaded(r, status);
  free(st);
}

static void show_doc(struct http_req *r, const struct room_row *room) {
  if (!is_code_room(room)) {
    http_respond_error(r, 409, "not_code_room", "Only a code room has a document.");
    return;
  }
  struct get_state *st = calloc(1, sizeof *st);
  if (!st) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  st->app = app_of(r);
  api_pending_start(r, &st->pending);
  doc_open_async(&st->app->docs, room->id, room->language, doc_shown, st);
}

static void get_doc(struct http_req *r) {
  api_with_room(r, show_doc);
}

/* A PUT from its headers on: the room, checked before the body comes, and
 * the body gathered as it arrives. */
struct put_state {
  struct api_pending pending; /* first; waiting once the body is whole */
  struct app *app;
  json_t *in;      /* the parsed body, holding the text */
  struct doc *doc; /* while the replacement is under way */
  int tries;       /* replacements lost to another instance's push */
  bool room_known; /* the lookup answered: a code room, and the owner's token */
  bool body_whole; /* on_complete ran */
  char room_id[STORE_ID_LEN + 1];
  char language[DOC_LANGUAGE_MAX + 1];
  char *data;
  size_t len, cap;
};

static void put_state_free(struct put_state *p) {
  if (p->doc)
    doc_close(&p->app->docs, p->doc);
  json_decref(p->in);
  free(p->data);
  free(p);
}

static void put_free(struct http_req *r) {
  struct put_state *p = r->handler_state;
  if (p)
    put_state_free(p);
  r->handler_state = NULL;
}

/* The client went away: while the body comes its state goes with it;
 * once the document is waited on, the answer's callback frees it. */
static void put_abort(struct http_req *r) {
  api_room_abort(r); /* a room lookup in flight forgets it */
  struct put_state *p = r->handler_state;
  if (p && p->pending.r)
    api_pending_abort(r);
  else
    put_free(r);
}

/* Refuses the rest of the body: the answer goes now and the connection
 * closes after it. */
static void put_refuse(struct http_req *r, int status, const char *code, const char *message) {
  put_free(r);
  r->keep_alive = false;
  http_respond_error(r, status, code, message);
}

static void put_finish(struct http_req *r, struct put_state *p);

/* The room is known: refused now, or the body (whole already, or still
 * coming) goes on to the document. */
static void put_room_found(struct http_req *r, const struct room_row *room) {
  struct put_state *p = r->handler_state;
  if (!p)
    return;
  const char *code = NULL;
  if (!is_code_room(room))
    code = "not_code_room";
  else if (!api_owner_authorised(r, room))
    code = "unauthorized";
  if (code) {
    put_free(r); /* answered here: nothing else releases it once the body is whole */
    if (strcmp(code, "unauthorized") == 0)
      api_respond_unauthorised(r);
    else
      http_respond_error(r, 409, code, "Only a code room has a document.");
    return;
  }
  p->room_known = true;
  snprintf(p->room_id, sizeof p->room_id, "%s", room->id);
  snprintf(p->language, sizeof p->language, "%s", room->language ? room->language : "");
  if (p->body_whole)
    put_finish(r, p);
}

/* The body is gathered from the headers on, while the room is looked up
 * (the store may answer after the body is whole). */
static void put_headers(struct http_req *r) {
  if (r->content_length != UINT64_MAX && r->content_length > put_body_max(app_of(r)->cfg)) {
    http_respond_error(r, 413, "doc_too_large", "The document is larger than this server keeps.");
    return;
  }
  struct put_state *p = calloc(1, sizeof *p);
  if (!p) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  p->app = app_of(r);
  r->handler_state = p;
  api_with_room(r, put_room_found);
}

static void put_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct put_state *p = r->handler_state;
  if (!p)
    return;
  if (p->len + len > put_body_max(app_of(r)->cfg)) {
    put_refuse(r, 413, "doc_too_large", "The document is larger than this server keeps.");
    return;
  }
  if (p->len + len > p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 4096;
    while (cap < p->len + len)
      cap *= 2;
    char *grown = realloc(p->data, cap);
    if (!grown) {
      put_refuse(r, 500, "internal", "Out of memory.");
      return;
    }
    p->data = grown;
    p->cap = cap;
  }
  memcpy(p->data + p->len, data, len);
  p->len += len;
}

static void respond_not_replaced(struct http_req *r, int rc) {
  if (rc == DOC_TOO_LARGE)
    http_respond_error(r, 413, "doc_too_large", "The document is larger than this server keeps.");
  else if (rc == DOC_NO_MEMORY)
    http_respond_error(r, 500, "internal", "Out of memory.");
  else
    http_respond_error(r, 503, "storage_unavailable", "Could not store the document; try again.");
}

/* A push of another instance may take the version first: the document
 * catches up and the whole text is diffed again, a few times at most. */
#define PUT_TRIES 3

static void replace(struct put_state *p);

static void replaced(void *ctx, struct doc *d, const struct doc_push_result *res) {
  struct put_state *p = ctx;
  ws_doc_broadcast_caught_up(&p->app->docs, d, res);
  if (res->status == DOC_OK && res->applied)
    ws_doc_broadcast(&p->app->docs, d, res->from, res->applied, NULL);
  if (res->status == DOC_STALE && ++p->tries < PUT_TRIES && p->pending.r) {
    replace(p);
    return;
  }
  struct http_req *r = api_pending_end(&p->pending);
  if (r && (res->status == DOC_OK || res->status == DOC_UNCHANGED))
    respond_doc(r, d);
  else if (r)
    respond_not_replaced(r, res->status);
  put_state_free(p);
}

static void replace(struct put_state *p) {
  json_t *text = json_object_get(p->in, "text");
  doc_replace_async(&p->app->docs, p->doc, json_string_value(text), json_string_length(text),
                    "rest", replaced, p);
}

static void put_opened(void *ctx, int status, struct doc *d) {
  struct put_state *p = ctx;
  p->doc = d;
  if (!p->pending.r || status != DOC_OK) { /* gone: nothing is replaced */
    struct http_req *r = api_pending_end(&p->pending);
    if (r)
      respond_not_loaded(r, status);
    put_state_free(p);
    return;
  }
  replace(p);
}

static void put_complete(struct http_req *r) {
  struct put_state *p = r->handler_state;
  if (!p)
    return;
  p->body_whole = true;
  if (p->room_known)
    put_finish(r, p);
}

static void put_finish(struct http_req *r, struct put_state *p) {
  json_error_t jerr;
  p->in = p->len ? json_loadb(p->data, p->len, 0, &jerr) : NULL;
  free(p->data);
  p->data = NULL;
  if (!json_is_string(json_object_get(p->in, "text"))) {
    put_free(r); /* first: the answer may free the request */
    http_respond_error(r, 400, "bad_request",
                       "The body is a JSON object with the text as a string.");
    return;
  }
  api_pending_start(r, &p->pending);
  doc_open_async(&p->app->docs, p->room_id, p->language[0] ? p->language : NULL, put_opened, p);
}

const http_handler doc_get_handler = {.on_complete = get_doc, .on_abort = api_pending_abort};
const http_handler doc_put_handler = {
    .on_headers = put_headers,
    .on_body = put_body,
    .on_complete = put_complete,
    .on_abort = put_abort,
    .max_body = UINT64_MAX / 2, /* bounded by --max-doc-bytes as it arrives */
};
