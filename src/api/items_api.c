/* /api/rooms/:room/items: drop text and files, list, fetch and delete them.
 *
 * An upload streams to disk as it arrives (store/blobs.c); the reads from
 * the client pause while the disk catches up, so a 2 GiB upload holds a few
 * hundred KiB at most. Only a whole, fsynced, renamed file gets its row,
 * and only a committed row is announced to the room. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/app.h"
#include "api/items_api.h"
#include "config.h"
#include "http/multipart.h"
#include "http/query.h"
#include "http/range.h"
#include "hub/hub.h"
#include "rooms/room.h"
#include "store/blobs.h"
#include "util/filename.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timefmt.h"
#include "ws/ws_conn.h"

#define MAX_FILES_PER_POST 32
#define ALIAS_MAX 64
#define CONTENT_TYPE_MAX 127
#define FILE_NAME_MAX 255
/* Free space is checked again every this many bytes of an upload. */
#define DISK_CHECK_EVERY (16 << 20)

enum post_mode { POST_TEXT, POST_RAW, POST_MULTIPART };

struct post;

struct pending_file {
  struct post *post;
  char id[STORE_ID_LEN + 1];
  char name[FILE_NAME_MAX + 1];
  char content_type[CONTENT_TYPE_MAX + 1];
  struct blob_upload *up; /* NULL once finished or never started */
  int64_t size;
  char sha256[65];
  bool finished; /* the file is whole and in place */
};

struct post {
  struct http_req *r; /* NULL once the request is gone */
  struct app *app;
  char room_id[STORE_ID_LEN + 1];
  enum post_mode mode;
  char alias[ALIAS_MAX + 1];
  bool has_alias;
  /* text */
  char *text;
  size_t text_len, text_cap;
  /* files */
  struct pending_file files[MAX_FILES_PER_POST];
  int file_count;
  int finishing; /* uploads whose fsync and rename are under way */
  int64_t room_bytes, received, next_disk_check;
  bool body_paused, complete;
  /* multipart */
  multipart_parser *mp;
  int part; /* what the current part is */
  char part_type[CONTENT_TYPE_MAX + 1];
};

enum { PART_SKIP, PART_FILE, PART_ALIAS };

/* Frees the post, removing any file that did not make it into a row. */
static void post_discard(struct post *p) {
  for (int i = 0; i < p->file_count; i++) {
    struct pending_file *f = &p->files[i];
    if (f->up)
      blob_upload_abort(f->up);
    else if (f->finished)
      blobs_remove(f->id);
  }
  free(p->text);
  free(p->mp);
  free(p);
}

/* Refuses the upload mid-way: the response goes now and the connection
 * closes after it (the rest of the body is not read). */
static void post_fail(struct post *p, int status, const char *code, const char *msg) {
  struct http_req *r = p->r;
  if (r) {
    r->handler_state = NULL;
    /* Refused before its end, the rest of the body is not read: close. */
    if (!p->complete)
      r->keep_alive = false;
    http_respond_error(r, status, code, msg);
  }
  post_discard(p);
}

static void resume_body(void *ctx) {
  struct post *p = ((struct pending_file *)ctx)->post;
  if (p->body_paused && p->r) {
    p->body_paused = false;
    http_body_resume(p->r);
  }
}

/* The current file's upload, started on its first bytes. */
static struct pending_file *current_file(struct post *p) {
  return p->file_count ? &p->files[p->file_count - 1] : NULL;
}

static int begin_file(struct post *p, const char *name, size_t name_len, const char *type,
                      size_t type_len) {
  if (p->file_count == MAX_FILES_PER_POST) {
    post_fail(p, 413, "too_many_files", "At most 32 files in one upload.");
    return -1;
  }
  struct pending_file *f = &p->files[p->file_count++];
  memset(f, 0, sizeof *f);
  room_new_id(f->id);
  filename_sanitize(name, name_len, f->name, sizeof f->name);
  /* A content type is kept only when it is plain: token/token. */
  size_t k = 0;
  for (size_t i = 0; i < type_len && k < CONTENT_TYPE_MAX; i++) {
    char c = type[i];
    if (c == ';' || c == ' ')
      break;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("/.+-_", c);
    if (!ok) {
      k = 0;
      break;
    }
    f->content_type[k++] = c;
  }
  if (!k || !memchr(f->content_type, '/', k))
    snprintf(f->content_type, sizeof f->content_type, "application/octet-stream");
  f->post = p;
  f->up = blob_upload_start(p->app->loop, f->id, f);
  if (!f->up) {
    post_fail(p, 500, "storage_failed", "Could not store the file.");
    return -1;
  }
  return 0;
}

static int write_file(struct post *p, const uint8_t *data, size_t len) {
  struct pending_file *f = current_file(p);
  const struct config *cfg = p->app->cfg;
  p->received += (int64_t)len;
  f->size += (int64_t)len;
  if ((uint64_t)f->size > cfg->max_file_size) {
    post_fail(p, 413, "file_too_large", "The file is larger than this server accepts.");
    return -1;
  }
  if ((uint64_t)(p->room_bytes + p->received) > cfg->max_room_bytes) {
    post_fail(p, 413, "room_full", "This room holds as many bytes as it may.");
    return -1;
  }
  if (p->received >= p->next_disk_check) {
    p->next_disk_check = p->received + DISK_CHECK_EVERY;
    int64_t free_bytes = blobs_free_space();
    if (free_bytes >= 0 && (uint64_t)free_bytes < cfg->min_free_disk) {
      post_fail(p, 507, "disk_full", "The server is out of disk space.");
      return -1;
    }
  }
  int rc = blob_upload_write(f->up, data, len, resume_body);
  if (rc < 0) {
    post_fail(p, 500, "storage_failed", "Could not store the file.");
    return -1;
  }
  if (rc == 1 && !p->body_paused && p->r) {
    p->body_paused = true;
    http_body_pause(p->r);
  }
  return 0;
}

static void commit(struct post *p);

static void file_done(void *ctx, int status, int64_t size, const char sha256[65]) {
  struct pending_file *f = ctx;
  struct post *p = f->post;
  f->up = NULL;
  p->finishing--;
  if (status < 0) {
    log_msg(LOG_ERROR, "items.upload", "storing %s failed: %s", f->id, uv_strerror(status));
    post_fail(p, 500, "storage_failed", "Could not store the file.");
    return;
  }
  f->finished = true;
  f->size = size;
  memcpy(f->sha256, sha256, 65);
  if (p->complete && p->finishing == 0)
    commit(p);
}

/* Ends the current file: its fsync and rename run while the rest of the
 * body (more parts) keeps arriving. */
static void end_file(struct post *p) {
  struct pending_file *f = current_file(p);
  if (!f || !f->up)
    return;
  p->finishing++;
  blob_upload_finish(f->up, file_done);
}

static void announce(struct post *p, const struct item_row *it) {
  if (!hub_room_anywhere(p->room_id, STORE_ID_LEN)) /* members may be on other instances */
    return;
  json_t *frame = json_pack("{s:s, s:o}", "type", "item", "item", api_item_json(it));
  char *text = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
  json_decref(frame);
  buf *b = text ? ws_frame_build(WS_OP_TEXT, text, strlen(text)) : NULL;
  free(text);
  if (b)
    hub_broadcast_named(p->room_id, STORE_ID_LEN, b, NULL, 0);
  buf_unref(b);
}

struct inserted {
  int status;
  int64_t seq;
};

static void inserted(void *ctx, int status, int64_t seq) {
  struct inserted *out = ctx;
  *out = (struct inserted){status, seq};
}

/* Every file is whole: one row each, announced, then the response. */
static void commit(struct post *p) {
  struct http_req *r = p->r;
  json_t *items = json_array();
  int64_t now = time_now_ms();
  for (int i = 0; i < p->file_count; i++) {
    struct pending_file *f = &p->files[i];
    struct item_row it = {.kind = ITEM_FILE,
                          .alias = p->has_alias ? p->alias : NULL,
                          .file_name = f->name,
                          .size = f->size,
                          .content_type = f->content_type,
                          .sha256 = f->sha256,
                          .created_at = now};
    memcpy(it.id, f->id, sizeof it.id);
    memcpy(it.room_id, p->room_id, sizeof it.room_id);
    struct inserted ins = {STORE_FAILED, 0};
    store_item_insert(p->app->store, &it, inserted, &ins);
    it.seq = ins.seq;
    if (ins.status < 0) {
      json_decref(items);
      post_fail(p, 503, "storage_unavailable", "Could not save the item; try again.");
      return;
    }
    f->finished = false; /* the file is the row's now */
    announce(p, &it);
    json_array_append_new(items, api_item_json(&it));
    struct log_field lf[] = {LOG_STR("room", p->room_id), LOG_STR("item", it.id),
                             LOG_NUM("size", it.size)};
    log_fields(LOG_INFO, "item.file", lf, 3);
  }
  if (r) {
    r->handler_state = NULL;
    json_t *body = p->mode == POST_MULTIPART ? json_pack("{s:o}", "items", items)
                                             : json_pack("{s:O}", "item", json_array_get(items, 0));
    if (p->mode != POST_MULTIPART)
      json_decref(items);
    api_respond_json(r, 201, body, "Cache-Control: no-store\r\n");
  } else {
    json_decref(items);
  }
  post_discard(p);
}

static void commit_text(struct post *p) {
  struct http_req *r = p->r;
  json_error_t jerr;
  json_t *in = json_loadb(p->text ? p->text : "", p->text_len, 0, &jerr);
  json_t *text = in ? json_object_get(in, "text") : NULL;
  json_t *alias = in ? json_object_get(in, "alias") : NULL;
  if (!json_is_object(in) || !json_is_string(text) ||
      (alias && !json_is_string(alias) && !json_is_null(alias))) {
    json_decref(in);
    post_fail(p, 400, "bad_request",
              "Send a JSON object with a text string and an optional alias.");
    return;
  }
  size_t text_len = json_string_length(text);
  bool alias_too_long = json_is_string(alias) && json_string_length(alias) > ALIAS_MAX;
  if (text_len == 0 || text_len > p->app->cfg->max_text || alias_too_long) {
    json_decref(in);
    if (text_len == 0)
      post_fail(p, 400, "empty_text", "The text is empty.");
    else if (alias_too_long)
      post_fail(p, 400, "bad_alias", "An alias is at most 64 bytes.");
    else
      post_fail(p, 413, "text_too_long", "The text is longer than this server accepts.");
    return;
  }
  struct item_row it = {
      .kind = ITEM_TEXT,
      .text = json_string_value(text),
      .text_len = json_string_length(text),
      .alias = json_is_string(alias) && json_string_length(alias) ? json_string_value(alias) : NULL,
      .created_at = time_now_ms()};
  room_new_id(it.id);
  memcpy(it.room_id, p->room_id, sizeof it.room_id);
  struct inserted ins = {STORE_FAILED, 0};
  store_item_insert(p->app->store, &it, inserted, &ins);
  it.seq = ins.seq;
  if (ins.status < 0) {
    json_decref(in);
    post_fail(p, 503, "storage_unavailable", "Could not save the item; try again.");
    return;
  }
  announce(p, &it);
  r->handler_state = NULL;
  api_respond_json(r, 201, json_pack("{s:o}", "item", api_item_json(&it)),
                   "Cache-Control: no-store\r\n");
  json_decref(in);
  post_discard(p);
}

/* multipart: a part is a file (has a filename), the alias, or skipped. */
static int mp_part_begin(void *ctx) {
  struct post *p = ctx;
  p->part = PART_SKIP;
  p->part_type[0] = '\0';
  return 0;
}

static int mp_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen) {
  struct post *p = ctx;
  if (nlen == 19 && strncasecmp(name, "content-disposition", 19) == 0) {
    multipart_disp *d = malloc(sizeof *d);
    if (!d || multipart_disposition(value, vlen, d) < 0) {
      free(d);
      return 0; /* a part we cannot read is skipped */
    }
    if (d->has_filename && d->has_name && strcmp(d->name, "file") == 0) {
      p->part = PART_FILE;
      int rc = begin_file(p, d->filename, d->filename_len, "", 0);
      free(d);
      return rc < 0 ? 1 : 0;
    }
    if (d->has_name && strcmp(d->name, "alias") == 0 && !d->has_filename)
      p->part = PART_ALIAS;
    free(d);
  } else if (nlen == 12 && strncasecmp(name, "content-type", 12) == 0) {
    size_t n = vlen < CONTENT_TYPE_MAX ? vlen : CONTENT_TYPE_MAX;
    memcpy(p->part_type, value, n);
    p->part_type[n] = '\0';
  }
  return 0;
}

static int mp_headers_end(void *ctx) {
  struct post *p = ctx;
  struct pending_file *f = current_file(p);
  if (p->part == PART_FILE && f && p->part_type[0]) {
    /* The type arrives after the disposition: settle it now. */
    size_t k = 0;
    for (const char *c = p->part_type; *c && *c != ';' && *c != ' ' && k < CONTENT_TYPE_MAX; c++)
      f->content_type[k++] = *c;
    f->content_type[k] = '\0';
    if (!memchr(f->content_type, '/', k))
      snprintf(f->content_type, sizeof f->content_type, "application/octet-stream");
  }
  return 0;
}

static int mp_data(void *ctx, const uint8_t *data, size_t n) {
  struct post *p = ctx;
  if (p->part == PART_FILE)
    return write_file(p, data, n) < 0 ? 1 : 0;
  if (p->part == PART_ALIAS) {
    size_t have = strlen(p->alias);
    if (have + n > ALIAS_MAX) {
      post_fail(p, 400, "bad_alias", "An alias is at most 64 bytes.");
      return 1;
    }
    memcpy(p->alias + have, data, n);
    p->alias[have + n] = '\0';
    p->has_alias = true;
  }
  return 0;
}

static int mp_part_end(void *ctx) {
  struct post *p = ctx;
  if (p->part == PART_FILE)
    end_file(p);
  return 0;
}

static const multipart_callbacks mp_callbacks = {
    .on_part_begin = mp_part_begin,
    .on_header = mp_header,
    .on_headers_end = mp_headers_end,
    .on_data = mp_data,
    .on_part_end = mp_part_end,
};

static void post_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct post *p = r->handler_state;
  if (!p)
    return;
  if (p->mode == POST_TEXT) {
    if (p->text_len + len > p->text_cap) {
      size_t cap = p->text_cap ? p->text_cap * 2 : 1024;
      while (cap < p->text_len + len)
        cap *= 2;
      char *t = realloc(p->text, cap);
      if (!t) {
        post_fail(p, 500, "internal", "Out of memory.");
        return;
      }
      p->text = t;
      p->text_cap = cap;
    }
    memcpy(p->text + p->text_len, data, len);
    p->text_len += len;
  } else if (p->mode == POST_RAW) {
    write_file(p, data, len);
  } else {
    int64_t rc = multipart_feed(p->mp, data, len, &mp_callbacks, p, NULL);
    if (rc < 0 && rc != MULTIPART_STOPPED && r->handler_state == p)
      post_fail(p, 400, "bad_multipart", multipart_strerror((int)rc));
  }
}

static void post_complete(struct http_req *r) {
  struct post *p = r->handler_state;
  if (!p)
    return;
  if (p->mode == POST_TEXT) {
    commit_text(p);
    return;
  }
  if (p->mode == POST_RAW) {
    if (p->file_count == 0 && begin_file(p, "", 0, "", 0) < 0)
      return;
    end_file(p);
  } else if (multipart_finish(p->mp) < 0 || p->file_count == 0) {
    post_fail(p, 400, "bad_multipart",
              p->file_count ? multipart_strerror(multipart_finish(p->mp))
                            : "The form has no file field.");
    return;
  }
  p->complete = true;
  if (p->finishing == 0)
    commit(p);
  /* else the last file_done commits and responds */
}

static void post_abort(struct http_req *r) {
  struct post *p = r->handler_state;
  r->handler_state = NULL;
  if (p) {
    p->r = NULL;
    post_discard(p);
  }
}

static void got_room_bytes(void *ctx, int status, int64_t bytes) {
  *(int64_t *)ctx = status < 0 ? -1 : bytes;
}

/* The room is live: decide what the body is and get ready for it. */
static void post_start(struct http_req *r, const struct room_row *room) {
  struct app *app = app_of(r);
  const struct config *cfg = app->cfg;
  struct post *p = calloc(1, sizeof *p);
  if (!p) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  p->r = r;
  p->app = app;
  memcpy(p->room_id, room->id, sizeof p->room_id);
  r->handler_state = p;
  size_t tlen;
  const char *type = http_header(r, "content-type", &tlen);
  char boundary[MULTIPART_BOUNDARY_MAX + 1];
  if (type && tlen >= 16 && strncasecmp(type, "application/json", 16) == 0) {
    p->mode = POST_TEXT;
    /* JSON escapes may take six bytes for one: bound the body, not the text. */
    if (r->content_length != UINT64_MAX && r->content_length > cfg->max_text * 6 + 1024)
      post_fail(p, 413, "text_too_long", "The text is longer than this server accepts.");
    return;
  }
  int blen =
      type ? multipart_boundary(type, tlen, boundary, sizeof boundary) : MULTIPART_ENOT_MULTIPART;
  if (blen == MULTIPART_EBOUNDARY) {
    post_fail(p, 400, "bad_multipart", "The multipart boundary is missing or not valid.");
    return;
  }
  int64_t room_bytes = 0;
  store_room_bytes(app->store, room->id, got_room_bytes, &room_bytes);
  p->room_bytes = room_bytes < 0 ? 0 : room_bytes;
  p->next_disk_check = DISK_CHECK_EVERY;
  /* What the body declares is checked now; what it turns out to be, as it
   * arrives (chunked bodies declare nothing). A form carries a little more
   * than its files. */
  uint64_t declared = r->content_length == UINT64_MAX ? 0 : r->content_length;
  uint64_t slack = blen > 0 ? 65536 : 0;
  int64_t free_bytes = blobs_free_space();
  if (free_bytes >= 0 && (uint64_t)free_bytes < cfg->min_free_disk + declared) {
    post_fail(p, 507, "disk_full", "The server is out of disk space.");
    return;
  }
  if (blen <= 0 && declared > cfg->max_file_size) {
    post_fail(p, 413, "file_too_large", "The file is larger than this server accepts.");
    return;
  }
  if ((uint64_t)p->room_bytes + declared > cfg->max_room_bytes + slack) {
    post_fail(p, 413, "room_full", "This room holds as many bytes as it may.");
    return;
  }
  if (blen > 0) {
    p->mode = POST_MULTIPART;
    p->mp = malloc(sizeof *p->mp);
    if (!p->mp || multipart_init(p->mp, boundary, (size_t)blen) < 0)
      post_fail(p, 400, "bad_multipart", "The multipart boundary is not valid.");
    return;
  }
  p->mode = POST_RAW;
  size_t alen;
  const char *alias = http_header(r, "x-alias", &alen);
  if (alias && alen) {
    if (percent_decode(alias, alen, p->alias, sizeof p->alias, 0) < 0) {
      post_fail(p, 400, "bad_alias", "An alias is at most 64 bytes.");
      return;
    }
    p->has_alias = true;
  }
  char name[FILE_NAME_MAX * 3 + 1];
  size_t nlen;
  const char *xname = http_header(r, "x-filename", &nlen);
  int n = xname ? percent_decode(xname, nlen, name, sizeof name, 0)
                : query_param(r->query, r->query_len, "name", name, sizeof name);
  if (n == -2) {
    post_fail(p, 400, "bad_filename", "The file name is too long or badly encoded.");
    return;
  }
  begin_file(p, n > 0 ? name : "", n > 0 ? (size_t)n : 0, type ? type : "", type ? tlen : 0);
}

static void post_headers(struct http_req *r) {
  api_with_drop_room(r, post_start);
}

const http_handler items_post_handler = {
    .on_headers = post_headers,
    .on_body = post_body,
    .on_complete = post_complete,
    .on_abort = post_abort,
    .max_body = UINT64_MAX / 2, /* bounded per mode above: text, file and room limits */
};

/* Reading: the list, one item, its file; and deleting. */

struct list_state {
  json_t *items;
  int64_t last_seq;
  int count;
};

static void collect_item(void *ctx, int status, const struct item_row *it) {
  struct list_state *ls = ctx;
  if (!it)
    return;
  json_array_append_new(ls->items, api_item_json(it));
  ls->last_seq = it->seq;
  ls->count++;
}

static int64_t query_int(struct http_req *r, const char *name, int64_t dflt, int64_t min,
                         int64_t max) {
  char v[24];
  if (query_param(r->query, r->query_len, name, v, sizeof v) <= 0)
    return dflt;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (*end || n < min)
    return -1;
  return n > max ? max : n;
}

static void list_items(struct http_req *r, const struct room_row *room) {
  int64_t after = query_int(r, "after", 0, 0, INT64_MAX);
  int64_t limit = query_int(r, "limit", 100, 1, 500);
  if (after < 0 || limit < 0) {
    http_respond_error(r, 400, "bad_query", "after is a seq (0 or more), limit 1 to 500.");
    return;
  }
  struct list_state ls = {.items = json_array()};
  /* One more than asked says whether there is a next page. */
  store_items_list(app_of(r)->store, room->id, after, (int)limit + 1, collect_item, &ls);
  json_t *next = json_null();
  if (ls.count > limit) {
    json_array_remove(ls.items, (size_t)limit);
    json_t *last = json_array_get(ls.items, (size_t)limit - 1);
    next = json_integer(json_integer_value(json_object_get(last, "seq")));
  }
  api_respond_json(r, 200, json_pack("{s:o, s:o}", "items", ls.items, "next_after", next),
                   "Cache-Control: no-store\r\n");
}

static void get_list(struct http_req *r) {
  api_with_drop_room(r, list_items);
}

struct one_item {
  struct http_req *r;
  void (*then)(struct http_req *r, const struct item_row *it);
};

static void on_item(void *ctx, int status, const struct item_row *it) {
  struct one_item *o = ctx;
  if (status == STORE_NOT_FOUND)
    http_respond_error(o->r, 404, "item_not_found", "There is no such item in this room.");
  else if (status < 0)
    http_respond_error(o->r, 503, "storage_unavailable", "Storage is not answering; try again.");
  else
    o->then(o->r, it);
}

static void with_item(struct http_req *r, const struct room_row *room,
                      void (*then)(struct http_req *r, const struct item_row *it)) {
  size_t len;
  const char *item = route_param(&r->match, "item", &len);
  char id[STORE_ID_LEN + 1];
  if (!item || len != STORE_ID_LEN) {
    http_respond_error(r, 404, "item_not_found", "There is no such item in this room.");
    return;
  }
  memcpy(id, item, len);
  id[len] = '\0';
  struct one_item o = {r, then};
  store_item_get(app_of(r)->store, room->id, id, on_item, &o);
}

static void show_item(struct http_req *r, const struct item_row *it) {
  api_respond_json(r, 200, json_pack("{s:o}", "item", api_item_json(it)),
                   "Cache-Control: no-store\r\n");
}
static void get_item_in(struct http_req *r, const struct room_row *room) {
  with_item(r, room, show_item);
}
static void get_item(struct http_req *r) {
  api_with_drop_room(r, get_item_in);
}

static void deleted(void *ctx, int status) {
  *(int *)ctx = status;
}

static void remove_item(struct http_req *r, const struct item_row *it) {
  int status = STORE_FAILED;
  store_item_delete(app_of(r)->store, it->room_id, it->id, deleted, &status);
  if (status < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Could not delete the item; try again.");
    return;
  }
  if (it->kind == ITEM_FILE)
    blobs_remove(it->id);
  if (hub_room_anywhere(it->room_id, STORE_ID_LEN)) {
    char text[128];
    int n = snprintf(text, sizeof text, "{\"type\":\"item.deleted\",\"id\":\"%s\",\"seq\":%lld}",
                     it->id, (long long)it->seq);
    buf *b = ws_frame_build(WS_OP_TEXT, text, (size_t)n);
    if (b)
      hub_broadcast_named(it->room_id, STORE_ID_LEN, b, NULL, 0);
    buf_unref(b);
  }
  http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
}
static void delete_item_in(struct http_req *r, const struct room_row *room) {
  with_item(r, room, remove_item);
}
static void delete_item(struct http_req *r) {
  api_with_drop_room(r, delete_item_in);
}

/* The file, as an attachment so a browser never renders what a user
 * uploaded. It goes with sendfile, page cache to socket, for as long as the
 * socket takes it; when the socket is full, one chunk read on the thread
 * pool is queued behind, and its drain says when to go on. Never more than
 * a chunk or two in memory, whatever the file's size. */
#define SEND_CHUNK (256 * 1024)
#define SEND_AHEAD (1024 * 1024)

struct send {
  struct http_req *r;
  uv_fs_t req;
  uv_file fd;
  int64_t next, end; /* bytes [next, end) are still to read */
  buf *chunk;
  bool reading;
  bool no_sendfile; /* the socket or file refused sendfile: read instead */
};

static void send_free(struct send *s) {
  if (s->fd >= 0) {
    uv_fs_t c;
    uv_fs_close(s->req.loop ? s->req.loop : uv_default_loop(), &c, s->fd, NULL);
    uv_fs_req_cleanup(&c);
  }
  buf_unref(s->chunk);
  free(s);
}

static void send_more(struct send *s);

static void on_chunk(uv_fs_t *req) {
  struct send *s = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  s->reading = false;
  if (!s->r) { /* the client went away meanwhile */
    send_free(s);
    return;
  }
  if (n <= 0) {
    log_msg(LOG_ERROR, "items.read", "reading a file failed: %s",
            n < 0 ? uv_strerror((int)n) : "short file");
    struct http_req *r = s->r;
    r->handler_state = NULL;
    send_free(s);
    http_stream_abort(r);
    return;
  }
  s->chunk->len = (uint32_t)n;
  s->next += n;
  http_stream_write(s->r, s->chunk);
  buf_unref(s->chunk);
  s->chunk = NULL;
  send_more(s);
}

static void send_more(struct send *s) {
  struct http_req *r = s->r;
  if (s->reading || !r)
    return;
  if (s->next >= s->end) {
    r->handler_state = NULL;
    send_free(s);
    http_stream_end(r);
    return;
  }
  if (r->c->queued_bytes > SEND_AHEAD)
    return; /* on_drain comes back */
  while (!s->no_sendfile && s->next < s->end) {
    ssize_t n = http_stream_sendfile(r, s->fd, &s->next, (size_t)(s->end - s->next));
    if (n == UV_EAGAIN)
      break; /* full: queue a read chunk to hear when it drains */
    if (n <= 0) {
      s->no_sendfile = true;
      break;
    }
  }
  if (s->next >= s->end) {
    r->handler_state = NULL;
    send_free(s);
    http_stream_end(r);
    return;
  }
  size_t want = (size_t)(s->end - s->next < SEND_CHUNK ? s->end - s->next : SEND_CHUNK);
  s->chunk = buf_new(want);
  if (!s->chunk) {
    r->handler_state = NULL;
    send_free(s);
    http_stream_abort(r);
    return;
  }
  uv_buf_t b = uv_buf_init((char *)s->chunk->data, (unsigned)want);
  s->req.data = s;
  s->reading = true;
  int rc = uv_fs_read(app_of(r)->loop, &s->req, s->fd, &b, 1, s->next, on_chunk);
  if (rc < 0) {
    s->reading = false;
    r->handler_state = NULL;
    send_free(s);
    http_stream_abort(r);
  }
}

static void send_drained(struct http_req *r) {
  struct send *s = r->handler_state;
  if (s)
    send_more(s);
}

static bool etag_matches(struct http_req *r, const char *etag) {
  size_t len;
  const char *v = http_header(r, "if-none-match", &len);
  return v && len >= strlen(etag) && memmem(v, len, etag, strlen(etag)) != NULL;
}

static void send_file(struct http_req *r, const struct item_row *it) {
  if (it->kind != ITEM_FILE) {
    http_respond_error(r, 404, "not_a_file", "This item is text, not a file.");
    return;
  }
  char etag[72], disposition[1200], headers[1600];
  snprintf(etag, sizeof etag, "\"%.64s\"", it->sha256 ? it->sha256 : "");
  filename_content_disposition(it->file_name ? it->file_name : "file", disposition,
                               sizeof disposition);
  int hk = snprintf(headers, sizeof headers,
                    "ETag: %s\r\nContent-Disposition: %s\r\nAccept-Ranges: bytes\r\n"
                    "Cache-Control: private, max-age=86400\r\n"
                    "Content-Security-Policy: sandbox\r\n",
                    etag, disposition);
  if (etag_matches(r, etag)) {
    http_respond(r, 304, NULL, NULL, 0, NULL, true, headers);
    return;
  }
  range_spec rg;
  size_t rlen;
  const char *range = http_header(r, "range", &rlen);
  enum range_result rr = range ? range_parse(range, rlen, (uint64_t)it->size, &rg) : RANGE_NONE;
  if (rr == RANGE_UNSATISFIABLE) {
    snprintf(headers + hk, sizeof headers - (size_t)hk, "Content-Range: bytes */%lld\r\n",
             (long long)it->size);
    static const char body[] = "{\"error\":{\"code\":\"range_not_satisfiable\","
                               "\"message\":\"The range lies outside the file.\"}}";
    http_respond(r, 416, "application/json", body, sizeof body - 1, NULL, true, headers);
    return;
  }
  int64_t start = 0, end = it->size; /* [start, end) */
  int status = 200;
  if (rr == RANGE_OK) {
    start = (int64_t)rg.start;
    end = (int64_t)rg.end + 1;
    status = 206;
    snprintf(headers + hk, sizeof headers - (size_t)hk, "Content-Range: bytes %lld-%lld/%lld\r\n",
             (long long)start, (long long)end - 1, (long long)it->size);
  }
  char path[4200];
  uv_fs_t o;
  int fd = UV_ENAMETOOLONG;
  if (blobs_path(it->id, path, sizeof path) == 0) {
    /* Opening is quick next to the reads, which go to the thread pool. */
    fd = uv_fs_open(app_of(r)->loop, &o, path, O_RDONLY | O_CLOEXEC, 0, NULL);
    uv_fs_req_cleanup(&o);
  }
  if (fd < 0) {
    log_msg(LOG_ERROR, "items.open", "item %s: %s", it->id, uv_strerror(fd));
    http_respond_error(r, 500, "file_missing", "The file could not be read.");
    return;
  }
  struct send *s = calloc(1, sizeof *s);
  if (!s) {
    uv_fs_close(app_of(r)->loop, &o, fd, NULL);
    uv_fs_req_cleanup(&o);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  s->r = r;
  s->fd = fd;
  s->next = start;
  s->end = end;
  s->req.loop = app_of(r)->loop;
  r->handler_state = s;
  http_stream_begin(r, status, "application/octet-stream", (uint64_t)(end - start), headers,
                    send_drained);
  if (r->method == METHOD_HEAD) {
    r->handler_state = NULL;
    send_free(s);
    http_stream_end(r);
    return;
  }
  send_more(s);
}

static void send_abort(struct http_req *r) {
  struct send *s = r->handler_state;
  r->handler_state = NULL;
  if (!s)
    return;
  s->r = NULL;
  if (!s->reading)
    send_free(s);
}

static void get_file_in(struct http_req *r, const struct room_row *room) {
  with_item(r, room, send_file);
}
static void get_file(struct http_req *r) {
  api_with_drop_room(r, get_file_in);
}

const http_handler items_list_handler = {.on_complete = get_list};
const http_handler items_get_handler = {.on_complete = get_item};
const http_handler items_delete_handler = {.on_complete = delete_item};
const http_handler items_file_handler = {.on_complete = get_file, .on_abort = send_abort};
