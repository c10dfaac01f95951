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
  struct api_pending pending; /* first: the request, NULL once it went away */
  struct app *app;
  char room_id[STORE_ID_LEN + 1];
  enum post_mode mode;
  char alias[ALIAS_MAX + 1];
  bool has_alias;
  /* Until the room is known and checked, reads pause and the body bytes
   * that came with the headers wait here (one read at most). */
  uint8_t *early;
  size_t early_len;
  bool ready;      /* the room is known: the body is taken as it comes */
  bool complete;   /* the whole body arrived (on_complete) */
  int store_calls; /* answers the store owes: the post lives until they come */
  /* text */
  char *text;
  size_t text_len, text_cap;
  json_t *in;                     /* the parsed text item, while its row is written */
  char text_id[STORE_ID_LEN + 1]; /* its id */
  /* files */
  struct pending_file files[MAX_FILES_PER_POST];
  int file_count;
  int finishing; /* uploads whose fsync and rename are under way */
  int64_t room_bytes, received, next_disk_check;
  bool body_paused;
  json_t *items; /* the rows written so far, as the response lists them */
  int committed; /* files whose row was written (or is being written) */
  int64_t now;   /* the items' created_at */
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
  json_decref(p->in);
  json_decref(p->items);
  free(p->early);
  free(p->text);
  free(p->mp);
  free(p);
}

/* The request, if still there, handed back for the answer. Refused
 * before its end, the rest of the body is not wanted: the connection
 * closes after the answer (reads resume, if paused, so it gets there). */
static struct http_req *post_detach(struct post *p) {
  struct http_req *r = p->pending.r;
  p->pending.r = NULL;
  if (r) {
    r->handler_state = NULL;
    if (!p->complete) {
      r->keep_alive = false;
      http_body_resume(r);
    }
  }
  return r;
}

/* Refuses the upload: the response goes now and the post is freed. */
static void post_fail(struct post *p, int status, const char *code, const char *msg) {
  struct http_req *r = post_detach(p);
  if (r)
    http_respond_error(r, status, code, msg);
  post_discard(p);
}

static void post_fail_store(struct post *p, int status) {
  struct http_req *r = post_detach(p);
  if (r)
    api_respond_store_error(r, status);
  post_discard(p);
}

static void resume_body(void *ctx) {
  struct post *p = ((struct pending_file *)ctx)->post;
  if (p->body_paused && p->pending.r) {
    p->body_paused = false;
    http_body_resume(p->pending.r);
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
  if (rc == 1 && !p->body_paused && p->pending.r) {
    p->body_paused = true;
    http_body_pause(p->pending.r);
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

/* A file's row, as it is written and announced. */
static struct item_row file_row(const struct post *p, const struct pending_file *f) {
  struct item_row it = {.kind = ITEM_FILE,
                        .alias = p->has_alias ? p->alias : NULL,
                        .file_name = f->name,
                        .size = f->size,
                        .content_type = f->content_type,
                        .sha256 = f->sha256,
                        .created_at = p->now};
  memcpy(it.id, f->id, sizeof it.id);
  memcpy(it.room_id, p->room_id, sizeof it.room_id);
  return it;
}

static void respond_files(struct post *p) {
  struct http_req *r = post_detach(p);
  if (r) {
    json_t *body = p->mode == POST_MULTIPART
                       ? json_pack("{s:O}", "items", p->items)
                       : json_pack("{s:O}", "item", json_array_get(p->items, 0));
    api_respond_json(r, 201, body, "Cache-Control: no-store\r\n");
  }
  post_discard(p);
}

static void insert_next_file(struct post *p);

/* A file's row is in (or not: then this file and the ones after it are
 * removed by post_discard, and the rows before stay, each whole). The
 * rows are written even when the client went away meanwhile. */
static void file_inserted(void *ctx, int status, int64_t seq) {
  struct post *p = ctx;
  p->store_calls--;
  struct pending_file *f = &p->files[p->committed++];
  if (status < 0) {
    post_fail_store(p, status);
    return;
  }
  f->finished = false; /* the file is the row's now */
  struct item_row it = file_row(p, f);
  it.seq = seq;
  announce(p, &it);
  json_array_append_new(p->items, api_item_json(&it));
  struct log_field lf[] = {LOG_STR("room", p->room_id), LOG_STR("item", it.id),
                           LOG_NUM("size", it.size)};
  log_fields(LOG_INFO, "item.file", lf, 3);
  insert_next_file(p);
}

/* One row after another, so their seqs follow the files' order. */
static void insert_next_file(struct post *p) {
  if (p->committed == p->file_count) {
    respond_files(p);
    return;
  }
  struct item_row it = file_row(p, &p->files[p->committed]);
  p->store_calls++;
  store_item_insert(p->app->store, &it, file_inserted, p);
}

/* Every file is whole: one row each, announced, then the response. */
static void commit(struct post *p) {
  p->items = json_array();
  if (!p->items) {
    post_fail(p, 500, "internal", "Out of memory.");
    return;
  }
  p->now = time_now_ms();
  insert_next_file(p);
}

/* The text item's row; its strings point into p->in. */
static struct item_row text_row(const struct post *p) {
  json_t *text = json_object_get(p->in, "text"), *alias = json_object_get(p->in, "alias");
  struct item_row it = {
      .kind = ITEM_TEXT,
      .text = json_string_value(text),
      .text_len = json_string_length(text),
      .alias = json_is_string(alias) && json_string_length(alias) ? json_string_value(alias) : NULL,
      .created_at = p->now};
  memcpy(it.id, p->text_id, sizeof it.id);
  memcpy(it.room_id, p->room_id, sizeof it.room_id);
  return it;
}

static void text_inserted(void *ctx, int status, int64_t seq) {
  struct post *p = ctx;
  p->store_calls--;
  if (status < 0) {
    post_fail_store(p, status);
    return;
  }
  struct item_row it = text_row(p);
  it.seq = seq;
  announce(p, &it);
  struct http_req *r = post_detach(p);
  if (r)
    api_respond_json(r, 201, json_pack("{s:o}", "item", api_item_json(&it)),
                     "Cache-Control: no-store\r\n");
  post_discard(p);
}

/* The body as a text item: 0, or -1 having refused it (p is freed). */
static int read_text(struct post *p) {
  json_error_t jerr;
  p->in = json_loadb(p->text ? p->text : "", p->text_len, 0, &jerr);
  json_t *text = p->in ? json_object_get(p->in, "text") : NULL;
  json_t *alias = p->in ? json_object_get(p->in, "alias") : NULL;
  if (!json_is_object(p->in) || !json_is_string(text) ||
      (alias && !json_is_string(alias) && !json_is_null(alias))) {
    post_fail(p, 400, "bad_request",
              "Send a JSON object with a text string and an optional alias.");
    return -1;
  }
  size_t text_len = json_string_length(text);
  if (text_len == 0)
    post_fail(p, 400, "empty_text", "The text is empty.");
  else if (json_is_string(alias) && json_string_length(alias) > ALIAS_MAX)
    post_fail(p, 400, "bad_alias", "An alias is at most 64 bytes.");
  else if (text_len > p->app->cfg->max_text)
    post_fail(p, 413, "text_too_long", "The text is longer than this server accepts.");
  else
    return 0;
  return -1;
}

static void commit_text(struct post *p) {
  if (read_text(p) < 0)
    return;
  room_new_id(p->text_id);
  p->now = time_now_ms();
  struct item_row it = text_row(p);
  p->store_calls++;
  store_item_insert(p->app->store, &it, text_inserted, p);
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

/* A piece of the body, once the room is known: 0, or -1 when the upload
 * was refused (p is freed). */
static int post_take(struct post *p, const uint8_t *data, size_t len) {
  if (p->mode == POST_RAW)
    return write_file(p, data, len);
  if (p->mode == POST_MULTIPART) {
    int64_t rc = multipart_feed(p->mp, data, len, &mp_callbacks, p, NULL);
    if (rc == MULTIPART_STOPPED)
      return -1; /* a callback refused the upload */
    if (rc < 0) {
      post_fail(p, 400, "bad_multipart", multipart_strerror((int)rc));
      return -1;
    }
    return 0;
  }
  if (p->text_len + len > p->text_cap) {
    size_t cap = p->text_cap ? p->text_cap * 2 : 1024;
    while (cap < p->text_len + len)
      cap *= 2;
    char *t = realloc(p->text, cap);
    if (!t) {
      post_fail(p, 500, "internal", "Out of memory.");
      return -1;
    }
    p->text = t;
    p->text_cap = cap;
  }
  memcpy(p->text + p->text_len, data, len);
  p->text_len += len;
  return 0;
}

/* Bytes that came before the room was known: reads are paused, so this
 * is what one read brought at most. */
#define EARLY_MAX (256 * 1024)

static void keep_early(struct post *p, const uint8_t *data, size_t len) {
  uint8_t *grown = p->early_len + len <= EARLY_MAX ? realloc(p->early, p->early_len + len) : NULL;
  if (!grown) {
    post_fail(p, 500, "internal", "Out of memory.");
    return;
  }
  memcpy(grown + p->early_len, data, len);
  p->early = grown;
  p->early_len += len;
}

static void post_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct post *p = r->handler_state;
  if (!p)
    return;
  if (p->ready)
    post_take(p, data, len);
  else
    keep_early(p, data, len);
}

/* The whole body is in: the text's row, or the files' rows once they are
 * whole on disk. */
static void post_finish(struct post *p) {
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
  if (p->finishing == 0)
    commit(p);
  /* else the last file_done commits and responds */
}

static void post_complete(struct http_req *r) {
  struct post *p = r->handler_state;
  if (!p)
    return;
  p->complete = true;
  if (p->ready)
    post_finish(p);
  /* else post_ready finishes it */
}

/* The room is known and the body's mode set: what came early is taken,
 * then the rest as it comes. */
static void post_ready(struct post *p) {
  p->ready = true;
  uint8_t *early = p->early;
  size_t early_len = p->early_len;
  p->early = NULL;
  p->early_len = 0;
  int rc = early_len ? post_take(p, early, early_len) : 0;
  free(early);
  if (rc < 0)
    return;
  if (p->complete)
    post_finish(p);
  else if (!p->body_paused)
    http_body_resume(p->pending.r);
}

/* The client went away: a post that waits on the store is freed when the
 * answer comes (its rows are still written); any other now. */
static void post_abort(struct http_req *r) {
  api_room_abort(r);
  struct post *p = r->handler_state;
  r->handler_state = NULL;
  if (!p)
    return;
  p->pending.r = NULL;
  if (p->store_calls == 0)
    post_discard(p);
}

/* The room lookup answered the request itself (404, 410, ...). */
static void post_refused(struct http_req *r) {
  struct post *p = r->handler_state;
  r->handler_state = NULL;
  if (p)
    post_discard(p);
}

/* A raw file: its name and alias from the headers. 0, or -1 having
 * refused it. */
static int raw_start(struct post *p, struct http_req *r, const char *type, size_t tlen) {
  p->mode = POST_RAW;
  size_t alen;
  const char *alias = http_header(r, "x-alias", &alen);
  if (alias && alen) {
    if (percent_decode(alias, alen, p->alias, sizeof p->alias, 0) < 0) {
      post_fail(p, 400, "bad_alias", "An alias is at most 64 bytes.");
      return -1;
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
    return -1;
  }
  return begin_file(p, n > 0 ? name : "", n > 0 ? (size_t)n : 0, type ? type : "", type ? tlen : 0);
}

/* What the body declares is checked now; what it turns out to be, as it
 * arrives (chunked bodies declare nothing). A form carries a little more
 * than its files. 0, or -1 having refused it. */
static int check_declared(struct post *p, struct http_req *r, bool form) {
  const struct config *cfg = p->app->cfg;
  uint64_t declared = r->content_length == UINT64_MAX ? 0 : r->content_length;
  uint64_t slack = form ? 65536 : 0;
  int64_t free_bytes = blobs_free_space();
  if (free_bytes >= 0 && (uint64_t)free_bytes < cfg->min_free_disk + declared)
    post_fail(p, 507, "disk_full", "The server is out of disk space.");
  else if (!form && declared > cfg->max_file_size)
    post_fail(p, 413, "file_too_large", "The file is larger than this server accepts.");
  else if ((uint64_t)p->room_bytes + declared > cfg->max_room_bytes + slack)
    post_fail(p, 413, "room_full", "This room holds as many bytes as it may.");
  else
    return 0;
  return -1;
}

/* Files: the room's bytes are known; check what is declared and get the
 * first file (raw) or the form's parser ready. */
static void got_room_bytes(void *ctx, int status, int64_t bytes) {
  struct post *p = ctx;
  p->store_calls--;
  struct http_req *r = p->pending.r;
  if (!r) {
    post_discard(p); /* the client went away meanwhile */
    return;
  }
  if (status < 0) {
    post_fail_store(p, status);
    return;
  }
  p->room_bytes = bytes;
  p->next_disk_check = DISK_CHECK_EVERY;
  size_t tlen;
  const char *type = http_header(r, "content-type", &tlen);
  char boundary[MULTIPART_BOUNDARY_MAX + 1];
  int blen =
      type ? multipart_boundary(type, tlen, boundary, sizeof boundary) : MULTIPART_ENOT_MULTIPART;
  if (check_declared(p, r, blen > 0) < 0)
    return;
  if (blen > 0) {
    p->mode = POST_MULTIPART;
    p->mp = malloc(sizeof *p->mp);
    if (!p->mp || multipart_init(p->mp, boundary, (size_t)blen) < 0) {
      post_fail(p, 400, "bad_multipart", "The multipart boundary is not valid.");
      return;
    }
  } else if (raw_start(p, r, type, tlen) < 0) {
    return;
  }
  post_ready(p);
}

/* The room is live: decide what the body is and get ready for it. */
static void post_start(struct http_req *r, const struct room_row *room) {
  struct post *p = r->handler_state;
  const struct config *cfg = p->app->cfg;
  memcpy(p->room_id, room->id, sizeof p->room_id);
  size_t tlen;
  const char *type = http_header(r, "content-type", &tlen);
  char boundary[MULTIPART_BOUNDARY_MAX + 1];
  if (type && tlen >= 16 && strncasecmp(type, "application/json", 16) == 0) {
    p->mode = POST_TEXT;
    /* JSON escapes may take six bytes for one: bound the body, not the text. */
    if (r->content_length != UINT64_MAX && r->content_length > cfg->max_text * 6 + 1024)
      post_fail(p, 413, "text_too_long", "The text is longer than this server accepts.");
    else
      post_ready(p);
    return;
  }
  if (type && multipart_boundary(type, tlen, boundary, sizeof boundary) == MULTIPART_EBOUNDARY) {
    post_fail(p, 400, "bad_multipart", "The multipart boundary is missing or not valid.");
    return;
  }
  p->store_calls++;
  store_room_bytes(p->app->store, room->id, got_room_bytes, p);
}

/* The post's state lives from the headers on, so the body may arrive
 * while the room is looked up; reads pause until it is known. */
static void post_headers(struct http_req *r) {
  struct post *p = calloc(1, sizeof *p);
  if (!p) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  p->app = app_of(r);
  api_pending_start(r, &p->pending);
  http_body_pause(r);
  api_with_drop_room_or(r, post_start, post_refused);
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
  struct api_pending pending; /* first */
  json_t *items;
  int64_t limit;
};

static void respond_list(struct http_req *r, struct list_state *ls) {
  json_t *next = json_null();
  if ((int64_t)json_array_size(ls->items) > ls->limit) {
    json_array_remove(ls->items, (size_t)ls->limit);
    json_t *last = json_array_get(ls->items, (size_t)ls->limit - 1);
    next = json_integer(json_integer_value(json_object_get(last, "seq")));
  }
  api_respond_json(r, 200, json_pack("{s:O, s:o}", "items", ls->items, "next_after", next),
                   "Cache-Control: no-store\r\n");
}

static void collect_item(void *ctx, int status, const struct item_row *it) {
  struct list_state *ls = ctx;
  if (it) {
    json_array_append_new(ls->items, api_item_json(it));
    return;
  }
  struct http_req *r = api_pending_end(&ls->pending);
  if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    respond_list(r, ls);
  json_decref(ls->items);
  free(ls);
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
  struct list_state *ls = calloc(1, sizeof *ls);
  if (ls)
    ls->items = json_array();
  if (!ls || !ls->items) {
    free(ls);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  ls->limit = limit;
  api_pending_start(r, &ls->pending);
  /* One more than asked says whether there is a next page. */
  store_items_list(app_of(r)->store, room->id, after, (int)limit + 1, collect_item, ls);
}

static void get_list(struct http_req *r) {
  api_with_drop_room(r, list_items);
}

/* One item of the room, for showing, deleting or sending. */
struct one_item {
  struct api_pending pending; /* first */
  void (*then)(struct http_req *r, const struct item_row *it);
};

static void on_item(void *ctx, int status, const struct item_row *it) {
  struct one_item *o = ctx;
  struct http_req *r = api_pending_end(&o->pending);
  void (*then)(struct http_req * r, const struct item_row *it) = o->then;
  free(o);
  if (!r)
    return;
  if (status == STORE_NOT_FOUND)
    http_respond_error(r, 404, "item_not_found", "There is no such item in this room.");
  else if (status < 0)
    api_respond_store_error(r, status);
  else
    then(r, it);
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
  struct one_item *o = malloc(sizeof *o);
  if (!o) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  o->then = then;
  api_pending_start(r, &o->pending);
  store_item_get(app_of(r)->store, room->id, id, on_item, o);
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

/* An item being deleted: what the answer needs of its row. */
struct item_removal {
  struct api_pending pending; /* first */
  char room_id[STORE_ID_LEN + 1];
  char id[STORE_ID_LEN + 1];
  int64_t seq;
  bool is_file;
};

/* The row is gone (even when the client went away meanwhile): its file
 * goes, and the room hears it. */
static void item_removed(struct item_removal *d) {
  if (d->is_file)
    blobs_remove(d->id);
  if (!hub_room_anywhere(d->room_id, STORE_ID_LEN)) /* members may be on other instances */
    return;
  char text[128];
  int n = snprintf(text, sizeof text, "{\"type\":\"item.deleted\",\"id\":\"%s\",\"seq\":%lld}",
                   d->id, (long long)d->seq);
  buf *b = ws_frame_build(WS_OP_TEXT, text, (size_t)n);
  if (b)
    hub_broadcast_named(d->room_id, STORE_ID_LEN, b, NULL, 0);
  buf_unref(b);
}

static void deleted(void *ctx, int status) {
  struct item_removal *d = ctx;
  struct http_req *r = api_pending_end(&d->pending);
  if (status == STORE_OK)
    item_removed(d);
  free(d);
  if (r && status == STORE_NOT_FOUND)
    http_respond_error(r, 404, "item_not_found", "There is no such item in this room.");
  else if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    http_respond(r, 204, NULL, NULL, 0, NULL, true, NULL);
}

static void remove_item(struct http_req *r, const struct item_row *it) {
  struct item_removal *d = malloc(sizeof *d);
  if (!d) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  memcpy(d->room_id, it->room_id, sizeof d->room_id);
  memcpy(d->id, it->id, sizeof d->id);
  d->seq = it->seq;
  d->is_file = it->kind == ITEM_FILE;
  api_pending_start(r, &d->pending);
  store_item_delete(app_of(r)->store, d->room_id, d->id, deleted, d);
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
  if (!r->streaming) {
    api_pending_abort(r); /* the room or the item was still being looked up */
    return;
  }
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

/* api_pending_abort tells the lookup or the store call under way that
 * the request went away. */
const http_handler items_list_handler = {.on_complete = get_list, .on_abort = api_pending_abort};
const http_handler items_get_handler = {.on_complete = get_item, .on_abort = api_pending_abort};
const http_handler items_delete_handler = {.on_complete = delete_item,
                                           .on_abort = api_pending_abort};
const http_handler items_file_handler = {.on_complete = get_file, .on_abort = send_abort};
