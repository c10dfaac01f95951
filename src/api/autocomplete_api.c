/* POST /api/autocomplete {code, cursor, language}: the editor asks what the
 * word at its cursor may become (src/rooms/autocomplete.h does the work).
 * The cursor is a UTF-16 offset, as CodeMirror counts; `from` and `to` in
 * the answer are too, so the editor replaces exactly the typed prefix. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "bus/bus.h"
#include "api/autocomplete_api.h"
#include "config.h"
#include "rooms/autocomplete.h"

/* A 1 MiB document still fits once JSON escapes its newlines, quotes and
 * astral characters; the document itself is then held to AC_CODE_MAX. */
#define AUTOCOMPLETE_BODY_MAX (4u << 20)
/* The part of an unknown language name repeated in the error. */
#define LANGUAGE_ECHO_MAX 40

struct body {
  char *data;
  size_t len, cap;
};

#define LIMITED_MESSAGE "Too many autocomplete requests from this address; try again later."

/* Alone, the limit is checked before the body is read. Shared with other
 * instances (--redis) it is checked once the body is in, since Redis
 * answers later (see on_complete). */
static void on_headers(struct http_req *r) {
  if (!bus_up())
    api_addr_rate_limited(r, &app_of(r)->autocompletes, LIMITED_MESSAGE);
}

static void on_body(struct http_req *r, const uint8_t *data, size_t len) {
  struct body *b = r->handler_state;
  if (!b && !(b = r->handler_state = calloc(1, sizeof *b)))
    goto oom;
  if (b->len + len > b->cap) { /* max_body bounds the total */
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
      goto oom;
    b->data = grown, b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return;
oom:
  http_respond_error(r, 500, "internal", "Out of memory.");
}

static void free_body(struct body *b) {
  if (b)
    free(b->data);
  free(b);
}

static void on_abort(struct http_req *r) {
  if (r->completed) { /* waiting for the shared limit: the gate holds the body */
    api_pending_abort(r);
    return;
  }
  free_body(r->handler_state);
  r->handler_state = NULL;
}

/* An error whose message quotes the client (a language name, the JSON
 * parser's view of the body): escaped by jansson, unlike http_respond_error. */
static void respond_quoting_client(struct http_req *r, const char *code, const char *message) {
  api_respond_json(r, 400, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message),
                   NULL);
}

static json_t *completion_json(const struct ac_completion *c) {
  static const char *const kinds[] = {"keyword", "builtin", "identifier", "snippet"};
  return json_pack("{s:s, s:s, s:s, s:s}", "label", c->label, "kind", kinds[c->kind], "insert",
                   c->insert, "detail", c->detail);
}

static json_t *result_json(const struct ac_result *res, enum ac_lang lang) {
  json_t *items = json_array();
  for (int i = 0; i < res->count; i++)
    json_array_append_new(items, completion_json(&res->items[i]));
  json_t *suggestion = res->count ? json_string(res->items[0].insert) : json_null();
  return json_pack("{s:o, s:f, s:o, s:I, s:I, s:s, s:s}", "suggestion", suggestion, "confidence",
                   res->confidence, "completions", items, "from", (json_int_t)res->from_utf16, "to",
                   (json_int_t)res->to_utf16, "prefix", res->prefix, "language",
                   ac_lang_name(lang));
}

/* The language field, or -1 after answering 400. */
static int language_of(struct http_req *r, json_t *in) {
  json_t *v = json_object_get(in, "language");
  if (!json_is_string(v)) {
    http_respond_error(r, 400, v ? "bad_language" : "missing_language",
                       "language is required: one of python, javascript, typescript, c, go, "
                       "rust, java.");
    return -1;
  }
  int lang = ac_lang_from_name(json_string_value(v), json_string_length(v));
  if (lang < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "Unknown language \"%.*s\"; supported: %s.", LANGUAGE_ECHO_MAX,
             json_string_value(v), ac_lang_list());
    respond_quoting_client(r, "unknown_language", msg);
  }
  return lang;
}

/* Answers 400 or 413 for an ac_error. */
static void respond_ac_error(struct http_req *r, int rc, json_int_t cursor, const char *code,
                             size_t len) {
  char msg[160];
  switch (rc) {
  case AC_ERR_TOO_LARGE:
    http_respond_error(r, 413, "code_too_large", "code is larger than 1 MiB.");
    return;
  case AC_ERR_CURSOR_RANGE:
    snprintf(msg, sizeof msg, "cursor %lld is past the end of code (%zu UTF-16 code units long).",
             (long long)cursor, ac_utf16_length(code, len));
    http_respond_error(r, 400, "cursor_out_of_range", msg);
    return;
  case AC_ERR_CURSOR_SPLIT:
    http_respond_error(r, 400, "cursor_splits_character",
                       "cursor falls between the two halves of a surrogate pair.");
    return;
  case AC_ERR_NO_MEMORY: http_respond_error(r, 500, "internal", "Out of memory."); return;
  default: http_respond_error(r, 400, "bad_code", ac_error_text(rc)); return;
  }
}

static void complete(struct http_req *r, json_t *in) {
  json_t *code = json_object_get(in, "code"), *cursor = json_object_get(in, "cursor");
  if (!json_is_string(code)) {
    http_respond_error(r, 400, code ? "bad_code" : "missing_code",
                       "code is required: the document, as a string.");
    return;
  }
  if (!json_is_integer(cursor) || json_integer_value(cursor) < 0) {
    http_respond_error(r, 400, cursor ? "bad_cursor" : "missing_cursor",
                       "cursor is required: an integer offset into code, in UTF-16 code units "
                       "(as editors count), from 0 to its length.");
    return;
  }
  int lang = language_of(r, in);
  if (lang < 0)
    return;
  const char *text = json_string_value(code);
  size_t len = json_string_length(code);
  json_int_t at = json_integer_value(cursor);
  struct ac_result *res = malloc(sizeof *res);
  if (!res) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  int rc = ac_complete_utf16(text, len, (size_t)at, (enum ac_lang)lang, res);
  if (rc < 0)
    respond_ac_error(r, rc, at, text, len);
  else
    api_respond_json(r, 200, result_json(res, (enum ac_lang)lang), "Cache-Control: no-store\r\n");
  free(res);
}

static void answer(struct http_req *r, void *body) {
  struct body *b = body;
  json_error_t jerr;
  json_t *in = b && b->len ? json_loadb(b->data, b->len, 0, &jerr) : NULL;
  if (!json_is_object(in)) {
    char msg[256];
    if (!b || !b->len)
      snprintf(msg, sizeof msg, "The body is a JSON object: {code, cursor, language}.");
    else if (!in)
      snprintf(msg, sizeof msg, "The body is not valid JSON: %s (line %d, column %d).", jerr.text,
               jerr.line, jerr.column);
    else
      snprintf(msg, sizeof msg, "The body must be a JSON object: {code, cursor, language}.");
    respond_quoting_client(r, "bad_json", msg);
  } else {
    complete(r, in);
  }
  json_decref(in);
  free_body(b);
}

static void drop_body(void *body) {
  free_body(body);
}

static void on_complete(struct http_req *r) {
  struct body *b = r->handler_state;
  r->handler_state = NULL;
  if (!bus_up()) {
    answer(r, b); /* the limit was checked at the headers */
    return;
  }
  size_t klen;
  const uint8_t *k = api_addr_key(r, &klen);
  struct api_limit limit = {&app_of(r)->autocompletes, "autocomplete", k, klen, LIMITED_MESSAGE};
  api_limit_gate(r, &limit, 1, answer, drop_body, b);
}

const http_handler autocomplete_handler = {
    .on_headers = on_headers,
    .on_body = on_body,
    .on_complete = on_complete,
    .on_abort = on_abort,
    .max_body = AUTOCOMPLETE_BODY_MAX,
};
