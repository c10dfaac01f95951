/* Building responses: status line, the headers every response carries,
 * and the body, written as one or two buffers. */
#include <stdio.h>
#include <string.h>
#include <time.h>

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

void http_respond(struct http_req *r, int status, const char *content_type,
                  const void *body, size_t len, buf *owner, bool is_static,
                  const char *extra_headers) {
  if (r->responded)
    return;
  r->responded = true;
  r->status = status;
  bool send_body = r->method != METHOD_HEAD && status != 204 && status != 304;
  bool inline_body = send_body && len <= INLINE_BODY_MAX && !is_static && !owner;
  buf *head = buf_new(HEAD_MAX + (inline_body ? len : 0));
  if (!head) {
    conn_close(r->c);
    return;
  }
  /* 204 and 304 carry no body and so no Content-Length (RFC 9110 8.6). */
  char length[40] = "";
  if (status != 204 && status != 304)
    snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
  int k = snprintf((char *)head->data, HEAD_MAX,
                   "HTTP/1.1 %d %s\r\n%s%s%s%s%sConnection: %s\r\n%s%s\r\n", status,
                   http_status_text(status), date_header(), content_type ? "Content-Type: " : "",
                   content_type ? content_type : "", content_type ? "\r\n" : "", length,
                   r->keep_alive ? "keep-alive" : "close", http_security_headers,
                   extra_headers ? extra_headers : "");
  if (k < 0 || k >= HEAD_MAX) {
    log_msg(LOG_ERROR, "http.response", "response head too large for %d", status);
    buf_unref(head);
    conn_close(r->c);
    return;
  }
  head->len = (uint32_t)k;
  if (inline_body && len) {
    memcpy(head->data + head->len, body, len);
    head->len += (uint32_t)len;
  }
  r->response_bytes = head->len;
  conn_send(r->c, head, UINT64_MAX);
  buf_unref(head);
  if (send_body && !inline_body && len) {
    buf *copy = NULL;
    if (!owner && !is_static) {
      copy = buf_from(body, len);
      if (!copy) {
        conn_close(r->c);
        return;
      }
      owner = copy;
    }
    conn_write(r->c, body, len, owner, UINT64_MAX);
    buf_unref(copy);
    r->response_bytes += len;
  }
  http_response_done(r);
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
