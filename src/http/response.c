/* Building responses: status line, the headers every response carries,
 * and the body, written as one or two buffers. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "http/http.h"
#include "util/log.h"

void http_response_done(struct http_req *r);

/* Bodies up to this size are copied behind the headers, so the response
 * goes out in one buffer; larger ones are written by reference. */
#define INLINE_BODY_MAX 16384
#define HEAD_MAX 2048

const char http_security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "connect-src 'self' ws: wss:; img-src 'self' data: blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n";

const char *http_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Unknown";
  }
}

/* The Date header changes once a second; format it once a second. */
static const char *date_header(void) {
  static char cached[64];
  static time_t cached_at = -1;
  time_t now = time(NULL);
  if (now != cached_at) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(cached, sizeof cached, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    cached_at = now;
  }
  return cached;
}

/* Builds the status line and headers (plus a small body copied behind
 * them) into one buffer and queues it. Returns the bytes queued, or 0 when
 * the connection had to be closed. */
static size_t queue_head(struct http_req *r, int status, const char *content_type, uint64_t length,
                         const char *extra_headers, const void *inline_body, size_t inline_len) {
  conn *c = r->c; /* a failed write may take `r` with the connection */
  buf *head = buf_new(HEAD_MAX + inline_len);
  if (!head) {
    conn_close(c);
    return 0;
  }
  /* 204 and 304 carry no body and so no Content-Length (RFC 9110 8.6). */
  char clen[40] = "";
  if (status != 204 && status != 304)
    snprintf(clen, sizeof clen, "Content-Length: %llu\r\n", (unsigned long long)length);
  int k = snprintf((char *)head->data, HEAD_MAX,
                   "HTTP/1.1 %d %s\r\n%s%s%s%s%sConnection: %s\r\n%s%s\r\n", status,
                   http_status_text(status), date_header(), content_type ? "Content-Type: " : "",
                   content_type ? content_type : "", content_type ? "\r\n" : "", clen,
                   r->keep_alive ? "keep-alive" : "close", http_security_headers,
                   extra_headers ? extra_headers : "");
  if (k < 0 || k >= HEAD_MAX) {
    log_msg(LOG_ERROR, "http.response", "response head too large for %d", status);
    buf_unref(head);
    conn_close(c);
    return 0;
  }
  head->len = (uint32_t)k;
  if (inline_len) {
    memcpy(head->data + head->len, inline_body, inline_len);
    head->len += (uint32_t)inline_len;
  }
  size_t n = head->len;
  conn_send(c, head, UINT64_MAX);
  buf_unref(head);
  return (c->flags & CONN_CLOSING) ? 0 : n;
}

void http_respond(struct http_req *r, int status, const char *content_type, const void *body,
                  size_t len, buf *owner, bool is_static, const char *extra_headers) {
  if (r->responded)
    return;
  r->responded = true;
  r->status = status;
  bool send_body = r->method != METHOD_HEAD && status != 204 && status != 304;
  bool inline_body = send_body && len <= INLINE_BODY_MAX && !is_static && !owner;
  /* A failed write closes the connection, and the request may go with it:
   * from here on `r` is touched only while the connection is open. */
  conn *c = r->c;
  size_t head = queue_head(r, status, content_type, len, extra_headers, inline_body ? body : NULL,
                           inline_body ? len : 0);
  if (!head)
    return;
  bool body_apart = send_body && !inline_body && len;
  r->response_bytes = head + (body_apart ? len : 0);
  if (body_apart) {
    /* The caller's body may be freed as soon as we return, while the write
     * waits for the end of this loop turn (corked): the queue must point
     * into the copy it holds, never at the caller's bytes. */
    buf *copy = NULL;
    if (!owner && !is_static) {
      copy = buf_from(body, len);
      if (!copy) {
        conn_close(c);
        return;
      }
      owner = copy;
      body = copy->data;
    }
    conn_write(c, body, len, owner, UINT64_MAX);
    buf_unref(copy);
  }
  if (c->flags & CONN_CLOSING)
    return;
  http_response_done(r);
}

void http_stream_begin(struct http_req *r, int status, const char *content_type, uint64_t length,
                       const char *extra_headers, void (*on_drain)(struct http_req *r)) {
  if (r->responded)
    return;
  r->responded = true;
  r->streaming = true;
  r->status = status;
  r->stream_drain = on_drain;
  conn *c = r->c;
  size_t n = queue_head(r, status, content_type, length, extra_headers, NULL, 0);
  if (c->flags & CONN_CLOSING)
    return; /* the request may have gone with the connection */
  r->response_bytes = n;
}

void http_stream_write(struct http_req *r, buf *chunk) {
  /* HEAD gets the head alone (RFC 9110 9.3.2), as from http_respond. */
  if (!r->streaming || !chunk->len || r->method == METHOD_HEAD)
    return;
  r->response_bytes += chunk->len;
  conn_send(r->c, chunk, UINT64_MAX);
}

ssize_t http_stream_sendfile(struct http_req *r, int fd, int64_t *offset, size_t len) {
  if (!r->streaming)
    return UV_ECANCELED;
  ssize_t n = conn_sendfile(r->c, fd, offset, len);
  if (n > 0)
    r->response_bytes += (uint64_t)n;
  return n;
}

void http_stream_end(struct http_req *r) {
  if (!r->streaming)
    return;
  r->streaming = false;
  r->stream_drain = NULL;
  if (!(r->c->flags & CONN_CLOSING))
    http_response_done(r);
}

void http_stream_abort(struct http_req *r) {
  /* The promised length cannot be met: only closing tells the client. */
  r->streaming = false;
  r->stream_drain = NULL;
  conn_close(r->c);
}

void http_respond_error(struct http_req *r, int status, const char *code, const char *message) {
  char body[512];
  /* code and message are ours, never client text, so no escaping is needed. */
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                   message);
  if (n < 0 || (size_t)n >= sizeof body)
    n = 0;
  http_respond(r, status, "application/json", body, (size_t)n, NULL, false, NULL);
}

void http_cors_headers(struct http_req *r, char *out, size_t cap) {
  const struct config *cfg = r->app->cfg;
  size_t olen;
  const char *origin = http_header(r, "origin", &olen);
  out[0] = '\0';
  if (!origin || olen > 200)
    return;
  for (int i = 0; i < cfg->origin_count; i++) {
    const char *o = cfg->origins[i];
    if (strcmp(o, "*") == 0 || (strlen(o) == olen && strncasecmp(o, origin, olen) == 0)) {
      snprintf(out, cap,
               "Access-Control-Allow-Origin: %.*s\r\nAccess-Control-Allow-Credentials: true\r\n"
               "Vary: Origin\r\n",
               (int)olen, origin);
      return;
    }
  }
}
