/* /api/rooms: create, look up, delete, and the QR code of a room's link. */
#include <jansson.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/chat_api.h"
#include "api/pwjob.h"
#include "api/rooms_api.h"
#include "config.h"
#include "hub/hub.h"
#include "rooms/doc.h"
#include "rooms/lifecycle.h"
#include "rooms/room.h"
#include "util/log.h"
#include "util/timefmt.h"

/* A code collides with a live room's about once in a million tries per
 * thousand rooms; a few retries make failure practically impossible. */
#define CODE_ATTEMPTS 16
#define CREATE_BODY_MAX 4096

struct create_state {
  char body[CREATE_BODY_MAX];
  size_t len;
};

static void create_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct create_state *st = r->handler_state;
  if (!st) {
    st = r->handler_state = calloc(1, sizeof *st);
    if (!st)
      return;
  }
  memcpy(st->body + st->len, data, len); /* max_body bounds the total */
  st->len += len;
}

/* The optional body: {"title", "kind": "drop"|"code", "language"}. A
 * language alone asks for a code room (what simple editor clients send).
 * Returns 0, or -1 having answered 400. */
static int read_create_body(struct http_req *r, json_t *in, struct room_row *room) {
  json_t *t = json_object_get(in, "title"), *k = json_object_get(in, "kind"),
         *l = json_object_get(in, "language");
  if (!json_is_object(in) || (t && !json_is_string(t) && !json_is_null(t)) ||
      (json_is_string(t) && json_string_length(t) > ROOM_TITLE_MAX)) {
    http_respond_error(r, 400, "bad_request",
                       "The body is optional: a JSON object with a title of at most 200 bytes.");
    return -1;
  }
  const char *kind = json_string_value(k);
  if ((k && !json_is_null(k) && !kind) ||
      (kind && strcmp(kind, "drop") != 0 && strcmp(kind, "code") != 0)) {
    http_respond_error(r, 400, "bad_kind", "A room's kind is drop or code.");
    return -1;
  }
  if ((l && !json_is_null(l) && !json_is_string(l)) ||
      (json_is_string(l) && !doc_language_valid(json_string_value(l), json_string_length(l)))) {
    http_respond_error(r, 400, "bad_language",
                       "A language is 1 to 32 characters of A-Z a-z 0-9 + # . _ -.");
    return -1;
  }
  room->title = json_is_string(t) && json_string_length(t) ? json_string_value(t) : NULL;
  room->kind = kind ? kind : json_is_string(l) ? "code" : "drop";
  if (strcmp(room->kind, "code") == 0)
    room->language = json_is_string(l) ? json_string_value(l) : DOC_DEFAULT_LANGUAGE;
  return 0;
}

/* A new room waiting for its row: a code taken by a live room is drawn
 * again (STORE_CONFLICT), up to CODE_ATTEMPTS times. */
struct create {
  struct api_pending pending; /* first */
  json_t *in;                 /* the body: the row's title, kind and language point into it */
  struct room_row room;
  char token[ROOM_TOKEN_LEN + 1];
  int attempts;
};

static void insert_room(struct create *c);

static void respond_created(struct http_req *r, struct create *c) {
  json_t *out = api_room_json(r, &c->room, 0);
  json_object_del(out, "members_online");
  json_object_set_new(out, "owner_token", json_string(c->token));
  json_object_set_new(out, "roomId", json_string(c->room.id)); /* what simple editor clients read */
  struct log_field f[] = {LOG_STR("room", c->room.id), LOG_STR("addr", conn_peer_text(r->c))};
  log_fields(LOG_INFO, "room.created", f, 2);
  char location[96];
  snprintf(location, sizeof location, "Location: /api/rooms/%s\r\nCache-Control: no-store\r\n",
           c->room.id);
  api_respond_json(r, 201, out, location);
}

static void room_inserted(void *ctx, int status) {
  struct create *c = ctx;
  if (status == STORE_CONFLICT && c->pending.r && ++c->attempts < CODE_ATTEMPTS) {
    insert_room(c);
    return;
  }
  struct http_req *r = api_pending_end(&c->pending);
  if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    respond_created(r, c);
  json_decref(c->in);
  free(c);
}

static void insert_room(struct create *c) {
  room_new_code(c->room.code);
  store_room_insert(app_of(c->pending.r)->store, &c->room, room_inserted, c);
}

/* A drop or code room (the body was read by read_create_body). */
static void create_drop_room(struct http_req *r, json_t *in, const struct room_row *room) {
  struct create *c = calloc(1, sizeof *c);
  if (!c) {
    json_decref(in);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  c->in = in;
  c->room = *room;
  room_new_id(c->room.id);
  room_new_owner_token(c->token, c->room.owner_token_hash);
  c->room.created_at = time_now_ms();
  c->room.expires_at = room_expires_at(c->room.created_at, app_of(r)->cfg->room_ttl_ms);
  api_pending_start(r, &c->pending);
  insert_room(c);
}

static void create_room(struct http_req *r) {
  struct create_state *st = r->handler_state;
  r->handler_state = NULL;
  json_t *in = NULL;
  struct room_row room = {.kind = "drop"};
  if (st && st->len) {
    json_error_t jerr;
    in = json_loadb(st->body, st->len, 0, &jerr);
    const char *kind = json_string_value(json_object_get(in, "kind"));
    if (kind && strcmp(kind, "chat") == 0) { /* a facilitator's room: src/api/chat_api.c */
      free(st);
      chat_create(r, in);
      json_decref(in);
      return;
    }
    if (read_create_body(r, in, &room) < 0) {
      free(st);
      json_decref(in);
      return;
    }
  }
  free(st);
  create_drop_room(r, in, &room);
}

static void show_room(struct http_req *r, const struct room_row *room) {
  if (room->owner_id) {
    api_respond_json(r, 200, chat_room_json(r, room), "Cache-Control: no-store\r\n");
    return;
  }
  struct hub_room *live = hub_find_room(room->id, STORE_ID_LEN);
  api_respond_json(r, 200, api_room_json(r, room, live ? (int)live->count : 0),
                   "Cache-Control: no-store\r\n");
}

static void get_room(struct http_req *r) {
  api_with_room(r, show_room);
}

static void remove_room(struct http_req *r, const struct room_row *room) {
  if (room->owner_id) {
    chat_delete(r, room);
    return;
  }
  if (!api_owner_authorised(r, room)) {
    api_respond_unauthorised(r);
    return;
  }
  rooms_delete(r, room, 0);
}

/* A room being deleted for a request. */
struct removal {
  struct api_pending pending; /* first */
  char id[STORE_ID_LEN + 1];
  int64_t account;
};

static void room_removed(void *ctx, int status) {
  struct removal *d = ctx;
  struct http_req *r = api_pending_end(&d->pending);
  if (status == STORE_OK) {
    struct log_field f[] = {LOG_STR("room", d->id), LOG_NUM("account", d->account)};
    log_fields(LOG_INFO, "room.deleted", f, d->account ? 2 : 1);
  }
  free(d);
  if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
}

void rooms_delete(struct http_req *r, const struct room_row *room, int64_t account) {
  struct removal *d = malloc(sizeof *d);
  if (!d) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  memcpy(d->id, room->id, sizeof d->id);
  d->account = account;
  api_pending_start(r, &d->pending);
  room_close(app_of(r), d->id, "deleted", room_removed, d);
}

static void delete_room(struct http_req *r) {
  api_with_room(r, remove_room);
}

/* The QR code as SVG: one path of unit squares, crisp at any size, with
 * the quiet zone the standard asks for. */
static void qr_svg(struct http_req *r, const struct room_row *room) {
  char origin[300], url[400];
  api_origin(r, origin, sizeof origin);
  snprintf(url, sizeof url, "%s/r/%s", origin, room->id);
  QRcode *qr = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!qr) {
    http_respond_error(r, 500, "internal", "Could not make the QR code.");
    return;
  }
  int w = qr->width, quiet = 4, size = w + 2 * quiet;
  size_t cap = 512 + (size_t)w * (size_t)w * 16;
  char *svg = malloc(cap);
  if (!svg) {
    QRcode_free(qr);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  size_t k =
      (size_t)snprintf(svg, cap,
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                       "shape-rendering=\"crispEdges\"><rect width=\"100%%\" height=\"100%%\" "
                       "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                       size, size);
  for (int y = 0; y < w; y++)
    for (int x = 0; x < w; x++)
      if (qr->data[y * w + x] & 1)
        k += (size_t)snprintf(svg + k, cap - k, "M%d %dh1v1h-1z", x + quiet, y + quiet);
  k += (size_t)snprintf(svg + k, cap - k, "\"/></svg>");
  QRcode_free(qr);
  http_respond(r, 200, "image/svg+xml", svg, k, NULL, false,
               "Cache-Control: private, max-age=3600\r\n");
  free(svg);
}

static void get_qr(struct http_req *r) {
  api_with_room(r, qr_svg);
}

const http_handler rooms_create_handler = {
    .on_body = create_body,
    .on_complete = create_room,
    .on_abort = pw_job_abort, /* the body, or a chat room's password being hashed */
    .max_body = CREATE_BODY_MAX,
};
/* api_pending_abort tells the room lookup, or the delete, that the
 * request went away. */
const http_handler rooms_get_handler = {.on_complete = get_room, .on_abort = api_pending_abort};
const http_handler rooms_delete_handler = {.on_complete = delete_room,
                                           .on_abort = api_pending_abort};
const http_handler rooms_qr_handler = {.on_complete = get_qr, .on_abort = api_pending_abort};
