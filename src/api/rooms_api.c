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

static void created(void *ctx, int status) {
  *(int *)ctx = status;
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
  struct app *app = app_of(r);
  char token[ROOM_TOKEN_LEN + 1];
  room_new_id(room.id);
  room_new_owner_token(token, room.owner_token_hash);
  room.created_at = time_now_ms();
  room.expires_at = room_expires_at(room.created_at, app->cfg->room_ttl_ms);
  int status = STORE_CONFLICT;
  for (int i = 0; i < CODE_ATTEMPTS && status == STORE_CONFLICT; i++) {
    room_new_code(room.code);
    store_room_insert(app->store, &room, created, &status);
  }
  if (status < 0) {
    json_decref(in);
    http_respond_error(r, 503, "storage_unavailable", "Could not create the room; try again.");
    return;
  }
  json_t *out = api_room_json(r, &room, 0);
  json_object_del(out, "members_online");
  json_object_set_new(out, "owner_token", json_string(token));
  json_object_set_new(out, "roomId", json_string(room.id)); /* what simple editor clients read */
  json_decref(in);
  struct log_field f[] = {LOG_STR("room", room.id), LOG_STR("addr", conn_peer_text(r->c))};
  log_fields(LOG_INFO, "room.created", f, 2);
  char location[96];
  snprintf(location, sizeof location, "Location: /api/rooms/%s\r\nCache-Control: no-store\r\n",
           room.id);
  api_respond_json(r, 201, out, location);
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

void rooms_delete(struct http_req *r, const struct room_row *room, int64_t account) {
  char id[STORE_ID_LEN + 1];
  memcpy(id, room->id, sizeof id);
  if (room_close(app_of(r), id, "deleted") < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Could not delete the room; try again.");
    return;
  }
  struct log_field f[] = {LOG_STR("room", id), LOG_NUM("account", account)};
  log_fields(LOG_INFO, "room.deleted", f, account ? 2 : 1);
  http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
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
