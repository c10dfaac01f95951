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

/* Opens the room's document, answering the errors itself; NULL then. */
static struct doc *open_doc(struct http_req *r, const struct room_row *room) {
  if (!is_code_room(room)) {
    http_respond_error(r, 409, "not_code_room", "Only a code room has a document.");
    return NULL;
  }
  struct doc *d;
  int rc = doc_open(&app_of(r)->docs, room->id, room->language, &d);
  if (rc != DOC_OK) {
    http_respond_error(r, 503, "storage_unavailable", "Could not load the document; try again.");
    return NULL;
  }
  return d;
}

static void show_doc(struct http_req *r, const struct room_row *room) {
  struct doc *d = open_doc(r, room);
  if (!d)
    return;
  respond_doc(r, d);
  doc_close(&app_of(r)->docs, d);
}

static void get_doc(struct http_req *r) {
  api_with_room(r, show_doc);
}

/* A PUT from its headers on: the room, checked before the body comes, and
 * the body gathered as it arrives. */
struct put_state {
  char room_id[STORE_ID_LEN + 1];
  char language[DOC_LANGUAGE_MAX + 1];
  char *data;
  size_t len, cap;
};

static void put_free(struct http_req *r) {
  struct put_state *p = r->handler_state;
  if (p)
    free(p->data);
  free(p);
  r->handler_state = NULL;
}

/* Refuses the rest of the body: the answer goes now and the connection
 * closes after it. */
static void put_refuse(struct http_req *r, int status, const char *code, const char *message) {
  put_free(r);
  r->keep_alive = false;
  http_respond_error(r, status, code, message);
}

static void put_start(struct http_req *r, const struct room_row *room) {
  if (!is_code_room(room)) {
    http_respond_error(r, 409, "not_code_room", "Only a code room has a document.");
    return;
  }
  if (!api_owner_authorised(r, room)) {
    api_respond_unauthorised(r);
    return;
  }
  if (r->content_length != UINT64_MAX && r->content_length > put_body_max(app_of(r)->cfg)) {
    http_respond_error(r, 413, "doc_too_large", "The document is larger than this server keeps.");
    return;
  }
  struct put_state *p = calloc(1, sizeof *p);
  if (!p) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  snprintf(p->room_id, sizeof p->room_id, "%s", room->id);
  snprintf(p->language, sizeof p->language, "%s", room->language ? room->language : "");
  r->handler_state = p;
}

static void put_headers(struct http_req *r) {
  api_with_room(r, put_start);
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
  else
    http_respond_error(r, 503, "storage_unavailable", "Could not store the document; try again.");
}

static void put_complete(struct http_req *r) {
  struct put_state *p = r->handler_state;
  if (!p)
    return;
  json_error_t jerr;
  json_t *in = p->len ? json_loadb(p->data, p->len, 0, &jerr) : NULL;
  json_t *text = json_object_get(in, "text");
  struct app *app = app_of(r);
  struct doc *d = NULL;
  if (!json_is_string(text)) {
    http_respond_error(r, 400, "bad_request",
                       "The body is a JSON object with the text as a string.");
  } else if (doc_open(&app->docs, p->room_id, p->language[0] ? p->language : NULL, &d) != DOC_OK) {
    http_respond_error(r, 503, "storage_unavailable", "Could not load the document; try again.");
    d = NULL;
  } else {
    int64_t from = d->version;
    json_t *changes;
    int rc = doc_replace(&app->docs, d, json_string_value(text), json_string_length(text), "rest",
                         &changes);
    if (rc == DOC_OK) {
      json_t *updates = json_pack("[{s:s, s:o}]", "clientID", "rest", "changes", changes);
      if (updates)
        ws_doc_broadcast(&app->docs, d, from, updates, NULL);
      json_decref(updates);
    }
    if (rc == DOC_OK || rc == DOC_UNCHANGED)
      respond_doc(r, d);
    else
      respond_not_replaced(r, rc);
  }
  if (d)
    doc_close(&app->docs, d);
  json_decref(in);
  put_free(r);
}

const http_handler doc_get_handler = {.on_complete = get_doc, .on_abort = api_pending_abort};
const http_handler doc_put_handler = {
    .on_headers = put_headers,
    .on_body = put_body,
    .on_complete = put_complete,
    .on_abort = put_free,
    .max_body = UINT64_MAX / 2, /* bounded by --max-doc-bytes as it arrives */
};
