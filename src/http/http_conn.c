/* HTTP/1.1 connections: feeds bytes to http-parser, enforces the limits,
 * routes, and keeps pipelined responses in order. */
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "http/http.h"
#include "metrics.h"
#include "net/server.h"
#include "util/log.h"

struct http_state {
  http_parser parser;
  struct http_req *req;
  uint8_t *pending; /* unparsed input kept while a response is outstanding */
  size_t pending_len;
  /* Inside http_parser_execute or a refusal, which end the request
   * themselves: no re-entry, and a close leaves the request for them. */
  bool in_execute;
  bool waiting;        /* parser paused until the current response */
  bool last_was_value; /* header callbacks: the previous piece was a value */
  bool headers_done;   /* later header callbacks are trailers: ignored */
  bool close_after;    /* stop after this response */
};

_Static_assert(sizeof(struct http_state) <= CONN_PROTO_STATE, "http state fits the conn");

static struct http_app *the_app;

void http_set_app(struct http_app *app) {
  the_app = app;
}

static struct http_state *state(conn *c) {
  return (struct http_state *)c->proto_state;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The handler may still hold state unless it saw on_complete and answered. */
static void abort_handler(struct http_req *r) {
  const http_handler *hd = r->handler;
  if (!hd || (r->completed && r->responded && !r->streaming))
    return;
  r->handler = NULL; /* once */
  if (hd->on_abort)
    hd->on_abort(r);
}

static void free_req(struct http_req *r) {
  if (!r)
    return;
  abort_handler(r);
  free(r->text);
  free(r->headers);
  free(r);
}

/* Appends request text within `limit` bytes; returns -1 past it. */
static int text_append(struct http_req *r, const char *at, size_t len, size_t limit) {
  if ((size_t)r->text_len + len > limit)
    return -1;
  if (r->text_len + len > r->text_cap) {
    size_t cap = r->text_cap ? r->text_cap : 512;
    while (cap < r->text_len + len)
      cap *= 2;
    if (cap > limit)
      cap = limit;
    char *t = realloc(r->text, cap);
    if (!t)
      return -1;
    r->text = t;
    r->text_cap = (uint32_t)cap;
  }
  memcpy(r->text + r->text_len, at, len);
  r->text_len += (uint32_t)len;
  return 0;
}

/* Refuses the request with an error and closes after it: the stream may
 * no longer be in step (an unread body, a truncated header). */
static int refuse(struct http_req *r, int status, const char *code, const char *message) {
  struct http_state *h = state(r->c);
  r->keep_alive = false;
  h->close_after = true;
  if (!r->responded)
    http_respond_error(r, status, code, message);
  r->body_refused = true;
  return 1; /* makes http-parser stop */
}

static int on_message_begin(http_parser *p) {
  conn *c = p->data;
  struct http_state *h = state(c);
  struct http_req *r = calloc(1, sizeof *r);
  if (!r)
    return 1;
  r->c = c;
  r->app = the_app;
  r->content_length = UINT64_MAX;
  r->started_ns = now_ns();
  h->req = r;
  h->last_was_value = false;
  h->headers_done = false;
  if (c->tclass != TIMEOUT_HEADERS)
    conn_set_timeout(c, TIMEOUT_HEADERS);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct http_req *r = state(p->data)->req;
  if (text_append(r, at, len, r->app->cfg->max_url) < 0)
    return refuse(r, 414, "uri_too_long", "The request target is too long.");
  r->url_len = r->text_len;
  return 0;
}

static int header_bytes_exceeded(struct http_req *r) {
  return refuse(r, 431, "headers_too_large", "The request headers are too large.");
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct http_state *h = state(p->data);
  struct http_req *r = h->req;
  const struct config *cfg = r->app->cfg;
  /* Trailers would move the text that path, query and headers point into. */
  if (h->headers_done)
    return 0;
  if (r->header_count == 0 || h->last_was_value) {
    if (r->header_count >= cfg->max_headers)
      return refuse(r, 431, "too_many_headers", "The request has too many header fields.");
    if (r->header_count == r->header_cap) {
      uint32_t cap = r->header_cap ? r->header_cap * 2 : 16;
      struct http_header *hs = realloc(r->headers, cap * sizeof *hs);
      if (!hs)
        return 1;
      r->headers = hs;
      r->header_cap = cap;
    }
    r->headers[r->header_count++] = (struct http_header){r->text_len, 0, r->text_len, 0};
    h->last_was_value = false;
  }
  if (text_append(r, at, len, r->url_len + cfg->max_header_bytes) < 0)
    return header_bytes_exceeded(r);
  struct http_header *hd = &r->headers[r->header_count - 1];
  hd->name_len += (uint32_t)len;
  hd->value_off = r->text_len;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct http_state *h = state(p->data);
  struct http_req *r = h->req;
  if (h->headers_done)
    return 0;
  if (r->header_count == 0)
    return 1;
  h->last_was_value = true;
  if (text_append(r, at, len, r->url_len + r->app->cfg->max_header_bytes) < 0)
    return header_bytes_exceeded(r);
  r->headers[r->header_count - 1].value_len += (uint32_t)len;
  return 0;
}

static unsigned method_bit(enum http_method m, const char **name) {
  *name = http_method_str(m);
  switch (m) {
  case HTTP_GET: return METHOD_GET;
  case HTTP_HEAD: return METHOD_HEAD;
  case HTTP_POST: return METHOD_POST;
  case HTTP_PUT: return METHOD_PUT;
  case HTTP_PATCH: return METHOD_PATCH;
  case HTTP_DELETE: return METHOD_DELETE;
  case HTTP_OPTIONS: return METHOD_OPTIONS;
  default: return 0;
  }
}

/* An unknown method (0) matches no route but still finds the path, so it
 * is answered 405 with the methods the path takes, or 404. */
static int route_request(struct http_req *r) {
  enum route_result res =
      router_match(r->app->routes, r->app->route_count, r->method, r->path, r->path_len, &r->match);
  if (res == ROUTE_FOUND)
    return 0;
  if (res == ROUTE_METHOD_NOT_ALLOWED) {
    r->status = 405;
  } else {
    r->status = 404;
  }
  return -1;
}

static void respond_route_error(struct http_req *r) {
  if (r->status == 405) {
    char allow[96], extra[128];
    router_allow_header(r->match.allowed, allow, sizeof allow);
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"This resource does "
                  "not take that method.\"}}";
    http_respond(r, 405, "application/json", body, sizeof body - 1, NULL, false, extra);
  } else {
    http_respond_error(r, 404, "not_found", "There is nothing here.");
  }
}

static int on_headers_complete(http_parser *p) {
  conn *c = p->data;
  struct http_state *h = state(c);
  struct http_req *r = h->req;
  const struct config *cfg = r->app->cfg;
  h->headers_done = true;
  r->keep_alive = http_should_keep_alive(p) != 0 && !c->srv->shutting_down;
  r->method = method_bit((enum http_method)p->method, &r->method_name);
  r->chunked = (p->flags & F_CHUNKED) != 0;
  if (p->flags & F_CONTENTLENGTH)
    r->content_length = p->content_length;
  /* Split the target into path and query; the query never reaches logs. */
  r->path = r->text;
  r->path_len = r->url_len;
  const char *q = memchr(r->text, '?', r->url_len);
  if (q) {
    r->path_len = (size_t)(q - r->text);
    r->query = q + 1;
    r->query_len = r->url_len - r->path_len - 1;
  }
  if (r->path_len == 0 || r->path[0] != '/')
    return refuse(r, 400, "bad_request", "The request target must be an absolute path.");
  bool has_body = r->chunked || (r->content_length != UINT64_MAX && r->content_length > 0);
  if (route_request(r) < 0) {
    if (has_body) {
      r->keep_alive = false;
      h->close_after = true;
      respond_route_error(r);
      r->body_refused = true;
      return 1;
    }
    return 0;
  }
  const http_handler *hd = r->match.route->handler;
  uint64_t max_body = hd->max_body ? hd->max_body : cfg->max_body;
  if (has_body && !hd->on_body)
    return refuse(r, 413, "body_not_allowed", "This resource takes no request body.");
  if (hd->length_required && r->content_length == UINT64_MAX)
    return refuse(r, 411, "length_required", "Send a Content-Length for this request.");
  if (r->content_length != UINT64_MAX && r->content_length > max_body)
    return refuse(r, 413, "body_too_large", "The request body is too large.");
  r->handler = hd;
  if (hd->on_headers) {
    hd->on_headers(r);
    if (r->responded) {
      if (has_body) {
        r->keep_alive = false;
        h->close_after = true;
        r->body_refused = true;
        return 1;
      }
      return 0;
    }
  }
  if (has_body) {
    if (http_header_has_token(r, "expect", "100-continue")) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (conn_write(c, (const uint8_t *)cont, sizeof cont - 1, NULL, UINT64_MAX) < 0)
        return -1; /* the connection is closing: stop parsing */
    }
    conn_set_timeout(c, TIMEOUT_BODY);
  } else {
    conn_set_timeout(c, TIMEOUT_NONE);
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  struct http_req *r = state(c)->req;
  if (r->body_refused || !r->handler)
    return 0;
  /* Counted even after an early answer, so the limit holds for the rest. */
  r->body_received += len;
  uint64_t max_body = r->handler->max_body ? r->handler->max_body : r->app->cfg->max_body;
  if (r->body_received > max_body)
    return refuse(r, 413, "body_too_large", "The request body is too large.");
  if (r->responded)
    return 0;
  r->handler->on_body(r, (const uint8_t *)at, len);
  /* A handler that refused mid-body and asked to close is not fed more. */
  if (r->responded && !r->keep_alive) {
    r->body_refused = true;
    state(c)->close_after = true;
    return 1;
  }
  return (c->flags & CONN_CLOSING) ? 1 : 0;
}

static void finish_request(conn *c);
static void log_request(struct http_req *r);

static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  struct http_state *h = state(c);
  struct http_req *r = h->req;
  /* Whatever the handler waits on now, it is not the client. */
  conn_set_timeout(c, TIMEOUT_NONE);
  if (!r->responded) {
    if (!r->handler) {
      respond_route_error(r);
    } else {
      r->completed = true;
      r->handler->on_complete(r);
    }
  }
  if (!r->keep_alive)
    h->close_after = true;
  /* Pause so that nothing after this request is parsed before its
   * response is on its way; execute returns and the caller decides. */
  http_parser_pause(p, 1);
  h->waiting = true;
  return 0;
}

/* Keeps unparsed bytes for later; bounded by what one read can bring on
 * top of what is already kept, and refused past the header limit. */
static int keep_pending(conn *c, const uint8_t *data, size_t len) {
  struct http_state *h = state(c);
  if (len == 0)
    return 0;
  size_t limit = 2 * (c->srv->cfg->max_header_bytes + c->srv->cfg->max_url) + 65536;
  if (h->pending_len + len > limit)
    return -1;
  uint8_t *p = realloc(h->pending, h->pending_len + len);
  if (!p)
    return -1;
  memcpy(p + h->pending_len, data, len);
  h->pending = p;
  h->pending_len += len;
  return 0;
}

static void log_request(struct http_req *r) {
  if (!log_enabled(LOG_INFO))
    return;
  double ms = (double)(now_ns() - r->started_ns) / 1e6;
  struct log_field f[] = {
      LOG_STR("method", r->method_name ? r->method_name : "-"),
      LOG_STRN("path", r->path ? r->path : "-", r->path ? r->path_len : 1),
      LOG_NUM("status", r->status),
      LOG_NUM("bytes", r->response_bytes),
      LOG_NUM("us", (int64_t)(ms * 1000)),
      LOG_STR("addr", conn_peer_text(r->c)),
  };
  log_fields(LOG_INFO, "http.request", f, sizeof f / sizeof f[0]);
}

static void process(conn *c, uint8_t *data, size_t len);

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Logs and releases the answered request. Returns 1 when the connection
 * changed protocol or is closing, so parsing must stop. */
static int end_request(conn *c, uint8_t *rest, size_t rest_len) {
  struct http_state *h = state(c);
  struct http_req *r = h->req;
  log_request(r);
  h->req = NULL;
  if (r->upgrade) {
    void (*start)(conn *, void *, uint8_t *, size_t) = r->upgrade;
    unsigned char arg[sizeof r->upgrade_arg];
    memcpy(arg, r->upgrade_arg, sizeof arg);
    free_req(r);
    /* The connection changes protocol: its state area is reused. */
    start(c, arg, rest, rest_len);
    return 1;
  }
  free_req(r);
  if (h->close_after) {
    conn_close_after_write(c);
    return 1;
  }
  h->waiting = false;
  http_parser_pause(&h->parser, 0);
  conn_set_timeout(c, TIMEOUT_IDLE);
  /* The handler may have paused the body (http_body_pause) and answered
   * at once: the next request must still be read. */
  conn_read_start(c);
  return 0;
}

/* A close while http-parser or a refusal ran left the request in place
 * (its callbacks were still using it): release it now. */
static bool closed_meanwhile(conn *c) {
  struct http_state *h = state(c);
  if (!(c->flags & CONN_CLOSING))
    return false;
  free_req(h->req);
  h->req = NULL;
  return true;
}

/* Parses as many requests as the bytes hold. A request answered at once
 * is finished here and parsing goes on with the bytes after it, so
 * pipelined requests cost no copies; one answered later parks the rest of
 * the bytes in `pending` until its response (finish_request). */
static void process(conn *c, uint8_t *data, size_t len) {
  struct http_state *h = state(c);
  while (!(c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED))) {
    h->in_execute = true;
    size_t n = http_parser_execute(&h->parser, &settings, (const char *)data, len);
    h->in_execute = false;
    if (closed_meanwhile(c))
      return;
    enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
    data += n;
    len -= n;
    if (err == HPE_OK)
      return; /* all consumed, waiting for more */
    if (err == HPE_PAUSED) {
      if (h->req && h->req->responded && !h->req->streaming) {
        if (end_request(c, data, len))
          return;
        if (len == 0)
          return;
        continue;
      }
      /* The handler answers later: keep the rest and stop reading. */
      if (keep_pending(c, data, len) < 0)
        h->close_after = true;
      conn_read_stop(c);
      return;
    }
    struct http_req *r = h->req;
    if (!r && on_message_begin(&h->parser) == 0)
      r = h->req;
    if (!r) {
      conn_close(c);
      return;
    }
    if (!r->responded) {
      metrics.rejected[REJECT_BAD_REQUEST]++;
      bool big = err == HPE_HEADER_OVERFLOW;
      h->in_execute = true;
      refuse(r, big ? 431 : 400, big ? "headers_too_large" : "bad_request",
             big ? "The request headers are too large." : "The request is not valid HTTP/1.1.");
      h->in_execute = false;
      if (closed_meanwhile(c))
        return;
    }
    h->close_after = true;
    end_request(c, NULL, 0);
    return;
  }
}

/* A response given after on_complete returned: finish the request and
 * parse what arrived meanwhile. */
static void finish_request(conn *c) {
  struct http_state *h = state(c);
  uint8_t *rest = h->pending;
  size_t rest_len = h->pending_len;
  h->pending = NULL;
  h->pending_len = 0;
  if (!end_request(c, rest, rest_len)) {
    if (rest_len)
      process(c, rest, rest_len);
    /* An upgrade in `rest` hands the connection (and its state area) over. */
    if (c->proto == &http_proto && !(c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED)) &&
        !h->waiting)
      conn_read_start(c);
  }
  free(rest);
}

static void http_on_read(conn *c, uint8_t *data, size_t len) {
  struct http_state *h = state(c);
  metrics.http_bytes_in += len;
  if (h->waiting) {
    /* Reading should be stopped; keep what arrived before it took effect. */
    if (keep_pending(c, data, len) < 0)
      conn_close(c);
    return;
  }
  if (c->tclass == TIMEOUT_BODY)
    conn_set_timeout(c, TIMEOUT_BODY); /* the body is still moving */
  process(c, data, len);
}

static void http_on_eof(conn *c) {
  struct http_state *h = state(c);
  if (h->req && !h->req->responded) {
    conn_close(c); /* the request cannot complete; http_on_close aborts it */
    return;
  }
  h->close_after = true;
  if (!h->waiting)
    conn_close_after_write(c);
}

static void http_on_timeout(conn *c, enum timeout_class cls) {
  struct http_state *h = state(c);
  if (cls == TIMEOUT_HEADERS || cls == TIMEOUT_BODY) {
    metrics.rejected[cls == TIMEOUT_HEADERS ? REJECT_HEADER_TIMEOUT : REJECT_BODY_TIMEOUT]++;
    struct http_req *r = h->req;
    if (r && !r->responded && !h->waiting) {
      /* Tell a slow but honest client why; a slowloris gets the same. */
      h->in_execute = true;
      refuse(r, 408, "request_timeout", "The request took too long to arrive.");
      h->in_execute = false;
      if (!closed_meanwhile(c))
        end_request(c, NULL, 0);
      return;
    }
  } else if (cls == TIMEOUT_IDLE) {
    metrics.rejected[REJECT_IDLE_TIMEOUT]++;
  }
  conn_close(c);
}

static void http_on_drain(conn *c) {
  struct http_req *r = state(c)->req;
  if (r && r->streaming && r->stream_drain)
    r->stream_drain(r);
}

void http_body_pause(struct http_req *r) {
  conn_read_stop(r->c);
}

void http_body_resume(struct http_req *r) {
  if (!r->completed && !(r->c->flags & (CONN_CLOSING | CONN_CLOSE_WHEN_DRAINED)))
    conn_read_start(r->c);
}

static void http_on_close(conn *c) {
  struct http_state *h = state(c);
  /* Inside the parser or a refusal the request is still in use up the
   * stack; closed_meanwhile releases it there. */
  if (h->req && !h->in_execute) {
    free_req(h->req);
    h->req = NULL;
  }
  free(h->pending);
  h->pending = NULL;
}

static void http_on_shutdown(conn *c) {
  struct http_state *h = state(c);
  if (h->req) {
    /* Finish the request in flight, say so in its response, then go. */
    h->req->keep_alive = false;
    h->close_after = true;
    return;
  }
  conn_close_after_write(c);
}

const struct conn_proto http_proto = {
    .name = "http",
    .on_read = http_on_read,
    .on_eof = http_on_eof,
    .on_timeout = http_on_timeout,
    .on_drain = http_on_drain,
    .on_close = http_on_close,
    .on_shutdown = http_on_shutdown,
};

void http_conn_init(conn *c) {
  struct http_state *h = state(c);
  memset(h, 0, sizeof *h);
  http_parser_init(&h->parser, HTTP_REQUEST);
  h->parser.data = c;
}

/* Called by response.c after a response has been queued. */
void http_response_done(struct http_req *r);
void http_response_done(struct http_req *r) {
  conn *c = r->c;
  struct http_state *h = state(c);
  if (r->status >= 100 && r->status < 600)
    metrics.http_requests[r->status / 100]++;
  metrics.http_bytes_out += r->response_bytes;
  if (!r->keep_alive)
    h->close_after = true;
  if (h->in_execute || !h->waiting)
    return; /* process() finishes it when the parser returns */
  if (h->req == r)
    finish_request(c);
}

const char *http_header(const struct http_req *r, const char *name, size_t *len) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < r->header_count; i++) {
    const struct http_header *hd = &r->headers[i];
    if (hd->name_len == n && strncasecmp(r->text + hd->name_off, name, n) == 0) {
      *len = hd->value_len;
      return r->text + hd->value_off;
    }
  }
  *len = 0;
  return NULL;
}

bool http_header_has_token(const struct http_req *r, const char *name, const char *token) {
  size_t tlen = strlen(token);
  for (uint32_t i = 0; i < r->header_count; i++) {
    const struct http_header *hd = &r->headers[i];
    if (hd->name_len != strlen(name) || strncasecmp(r->text + hd->name_off, name, hd->name_len))
      continue;
    const char *v = r->text + hd->value_off, *end = v + hd->value_len;
    while (v < end) {
      while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
        v++;
      const char *s = v;
      while (v < end && *v != ',')
        v++;
      const char *e = v;
      while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
      if ((size_t)(e - s) == tlen && strncasecmp(s, token, tlen) == 0)
        return true;
    }
  }
  return false;
}

void http_upgrade(struct http_req *r, const char *response_head,
                  void (*start)(conn *c, void *arg, uint8_t *rest, size_t rest_len),
                  const void *arg, size_t arg_len) {
  if (arg_len > sizeof r->upgrade_arg) {
    http_respond_error(r, 500, "internal", "Upgrade argument too large.");
    return;
  }
  memcpy(r->upgrade_arg, arg, arg_len);
  r->upgrade = start;
  r->status = 101;
  r->responded = true;
  r->keep_alive = true;
  size_t n = strlen(response_head);
  r->response_bytes = n;
  conn *c = r->c;
  buf *b = buf_from(response_head, n);
  if (!b) {
    conn_close(c);
    return;
  }
  conn_send(c, b, UINT64_MAX);
  buf_unref(b);
  if (c->flags & CONN_CLOSING)
    return; /* the request may have gone with the connection */
  http_response_done(r);
}
