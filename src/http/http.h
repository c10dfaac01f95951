/* HTTP/1.1 on a connection: http-parser glue, limits, keep-alive and
 * pipelining, and the handler contract.
 *
 * A route's handler sees a request as it arrives: headers first, then the
 * body in pieces (never buffered here, so a 2 GiB upload costs no memory),
 * then completion, when it must respond, at once or later. Requests on one
 * connection are answered in order: the parser pauses while a response is
 * outstanding. */
#ifndef TANDEM_HTTP_H
#define TANDEM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "net/conn.h"
#include "util/buf.h"

struct http_req;
struct http_app;

typedef struct http_handler {
  /* Headers are complete; the route was matched. May respond (e.g. 401)
   * to refuse the request before its body. Optional. */
  void (*on_headers)(struct http_req *r);
  /* A piece of the body. NULL: the route takes no body (413 for one). */
  void (*on_body)(struct http_req *r, const uint8_t *data, size_t len);
  /* The request is whole: respond now or later (http_respond*). */
  void (*on_complete)(struct http_req *r);
  /* Called once when the handler took the request (its on_headers, on_body
   * or on_complete may have run) but it ends otherwise than by on_complete
   * followed by a response: the client went away, the body was refused
   * (too large, malformed, too slow), or the handler answered early itself.
   * Releases handler_state. Never called from inside another callback of
   * the same request. Optional. */
  void (*on_abort)(struct http_req *r);
  uint64_t max_body;    /* 0: the server's --max-body */
  bool length_required; /* 411 without Content-Length */
} http_handler;

/* The application the HTTP layer serves: its routes and shared context. */
struct http_app {
  const struct route *routes;
  size_t route_count;
  const struct config *cfg;
  void *ctx; /* application state (hub, storage) */
};

struct http_header {
  uint32_t name_off, name_len, value_off, value_len;
};

struct http_req {
  conn *c;
  struct http_app *app;
  unsigned method; /* METHOD_* bit */
  const char *method_name;
  const char *path; /* into `text`, not NUL-terminated */
  size_t path_len;
  const char *query; /* after '?', or NULL */
  size_t query_len;
  struct route_match match;
  const http_handler *handler; /* set once the request passed the checks */
  uint64_t content_length;     /* from the header; UINT64_MAX when absent */
  uint64_t body_received;
  uint64_t started_ns;
  uint64_t response_bytes;
  int status;
  bool keep_alive;
  bool responded;
  bool chunked;
  bool body_refused; /* an error was sent before the body: skip it */
  bool completed;    /* on_complete was called */
  bool streaming;    /* http_stream_begin was called, http_stream_end not yet */
  void (*stream_drain)(struct http_req *r); /* the stream's queue emptied */
  void *handler_state;                      /* for the handler's own use */
  /* Request target and header fields, copied as they arrive (bounded). */
  char *text;
  uint32_t text_len, text_cap;
  struct http_header *headers;
  uint32_t header_count, header_cap;
  uint32_t url_len;
  /* Set by http_upgrade: what runs once the 101 has been queued. */
  void (*upgrade)(conn *c, void *arg, uint8_t *rest, size_t rest_len);
  unsigned char upgrade_arg[112];
};

/* The value of a request header (case-insensitive name), or NULL. */
const char *http_header(const struct http_req *r, const char *name, size_t *len);

/* True when the header's comma-separated tokens include `token` (case-insensitive). */
bool http_header_has_token(const struct http_req *r, const char *name, const char *token);

/* Responds with a status, headers and a body. The body is copied unless
 * `owner` is given (a buf that holds it) or `is_static` (it lives forever).
 * `extra_headers` is NULL or lines each ending in "\r\n". HEAD gets the
 * headers only. */
void http_respond(struct http_req *r, int status, const char *content_type, const void *body,
                  size_t len, buf *owner, bool is_static, const char *extra_headers);

/* A response whose body follows in pieces: the head goes now, with the
 * Content-Length the pieces will add up to; `on_drain` (may be NULL) is
 * called whenever everything queued has been written, so the handler can
 * produce more without holding the whole body. The request stays open
 * until http_stream_end; http_stream_abort closes the connection instead
 * (the length can no longer be met). The chunk is shared by reference. */
void http_stream_begin(struct http_req *r, int status, const char *content_type, uint64_t length,
                       const char *extra_headers, void (*on_drain)(struct http_req *r));
void http_stream_write(struct http_req *r, buf *chunk);
/* Sends file bytes of the stream with sendfile (see conn_sendfile). */
ssize_t http_stream_sendfile(struct http_req *r, int fd, int64_t *offset, size_t len);
void http_stream_end(struct http_req *r);
void http_stream_abort(struct http_req *r);

/* Stops and restarts reading the request body (backpressure: the handler
 * cannot take more yet, e.g. while the disk catches up). */
void http_body_pause(struct http_req *r);
void http_body_resume(struct http_req *r);

/* {"error":{"code":...,"message":...}} with the status. */
void http_respond_error(struct http_req *r, int status, const char *code, const char *message);

/* A 101 (or any bodiless head) followed by switching the connection to
 * another protocol: `start` runs after the HTTP state is released, with a
 * copy of arg (at most sizeof upgrade_arg bytes) and the bytes that followed
 * the request. */
void http_upgrade(struct http_req *r, const char *response_head,
                  void (*start)(conn *c, void *arg, uint8_t *rest, size_t rest_len),
                  const void *arg, size_t arg_len);

/* The protocol table for new connections, and its set-up. */
extern const struct conn_proto http_proto;
void http_conn_init(conn *c);
/* The app that new connections serve (one per process). */
void http_set_app(struct http_app *app);

/* The reason phrase for a status code. */
const char *http_status_text(int status);

/* CORS for a page whose Origin is listed in --allowed-origins (or "*"):
 * the header lines that let it read the answer, into out; empty for any
 * other origin. */
void http_cors_headers(struct http_req *r, char *out, size_t cap);

/* True when the origin is listed in --allowed-origins (or "*" is). */
bool http_origin_listed(const struct config *cfg, const char *origin, size_t olen);
/* Listed, or, when no origins are listed, the same host[:port] as the
 * request's Host header (host may be NULL). */
bool http_origin_allowed(const struct config *cfg, const char *origin, size_t olen,
                         const char *host, size_t hlen);

/* Security headers sent with every response. */
extern const char http_security_headers[];

#endif
