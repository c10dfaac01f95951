#include "http/multipart.h"
#include "util/hex.h"

#include <string.h>

enum {
  S_PREAMBLE,       /* looking for the first delimiter; bytes are dropped */
  S_BODY,           /* part data; looking for the next delimiter */
  S_AFTER_BOUNDARY, /* right after "--" boundary: "--", padding or CR */
  S_DELIM_LF,       /* CR seen after a boundary, LF must follow */
  S_CLOSE_DASH,     /* "-" seen right after a boundary, "-" must follow */
  S_BEGIN_PENDING,  /* a delimiter line ended: on_part_begin is due */
  S_END_PENDING,    /* the close delimiter ended: on_end is due */
  S_HEADER,         /* inside a header line */
  S_HEADER_LF,      /* CR seen in a header line, LF must follow */
  S_DONE,           /* epilogue: everything is ignored */
};

/* ------------------------------------------------------------------------
 * Character classes */

/* RFC 2046 bcharsnospace, plus space (allowed but not last). */
static bool is_bchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(unsigned char c) {
  return c == ' ' || c == '\t';
}

static bool valid_boundary(const char *b, size_t n) {
  if (n == 0 || n > MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_bchar((unsigned char)b[i]))
      return false;
  return true;
}

static bool ieq(const char *a, size_t alen, const char *lit) {
  size_t n = strlen(lit);
  if (alen != n)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)lit[i];
    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x + 32);
    if (x != y)
      return false;
  }
  return true;
}

/* ------------------------------------------------------------------------
 * Header parameters (Content-Type and Content-Disposition share the
 * `token *( OWS ";" OWS token "=" ( token / quoted-string ) )` shape) */

struct cursor {
  const char *s;
  size_t len, pos;
};

static void skip_ows(struct cursor *c) {
  while (c->pos < c->len && is_ows((unsigned char)c->s[c->pos]))
    c->pos++;
}

/* A token at the cursor; returns its length (0 if none). */
static size_t take_token(struct cursor *c, const char **tok) {
  size_t start = c->pos;
  while (c->pos < c->len && is_tchar((unsigned char)c->s[c->pos]))
    c->pos++;
  *tok = c->s + start;
  return c->pos - start;
}

/* A parameter value: token or quoted-string, unescaped into out (NUL-
 * terminated). In a quoted string a backslash escapes only '"' and '\'
 * and is kept before anything else (see multipart_disposition). Returns
 * the length, or -1 for a malformed value or one that does not fit. */
static int take_value(struct cursor *c, char *out, size_t outlen, bool *quoted) {
  size_t n = 0;
  *quoted = false;
  if (c->pos < c->len && c->s[c->pos] == '"') {
    *quoted = true;
    c->pos++;
    for (;;) {
      if (c->pos >= c->len)
        return -1; /* unterminated */
      unsigned char ch = (unsigned char)c->s[c->pos++];
      if (ch == '"')
        break;
      if (ch == '\\' && c->pos < c->len && (c->s[c->pos] == '"' || c->s[c->pos] == '\\'))
        ch = (unsigned char)c->s[c->pos++];
      else if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
        return -1;
      if (n + 1 >= outlen)
        return -1;
      out[n++] = (char)ch;
    }
  } else {
    const char *tok;
    n = take_token(c, &tok);
    if (n == 0 || n + 1 > outlen)
      return -1;
    memcpy(out, tok, n);
  }
  out[n] = '\0';
  return (int)n;
}

/* Skips a parameter value (token or quoted-string) without storing it.
 * Returns 0, or -1 when it is malformed. */
static int skip_value(struct cursor *c) {
  if (c->pos < c->len && c->s[c->pos] == '"') {
    for (c->pos++; c->pos < c->len; c->pos++) {
      if (c->s[c->pos] == '"') {
        c->pos++;
        return 0;
      }
      if (c->s[c->pos] == '\\')
        c->pos++;
    }
    return -1;
  }
  const char *tok;
  return take_token(c, &tok) ? 0 : -1;
}

/* Moves to the next parameter: OWS ";" OWS (empty parameters are skipped).
 * Returns 1 when a parameter follows, 0 at the end, -1 on junk. */
static int next_param(struct cursor *c) {
  skip_ows(c);
  if (c->pos == c->len)
    return 0;
  if (c->s[c->pos] != ';')
    return -1;
  while (c->pos < c->len && (c->s[c->pos] == ';' || is_ows((unsigned char)c->s[c->pos])))
    c->pos++;
  return c->pos < c->len ? 1 : 0;
}

/* The name of the parameter at the cursor and its "="; returns its length,
 * or 0 when there is no name or no "=". */
static size_t take_param_name(struct cursor *c, const char **name) {
  size_t n = take_token(c, name);
  if (n == 0 || c->pos >= c->len || c->s[c->pos] != '=')
    return 0;
  c->pos++;
  return n;
}

/* ------------------------------------------------------------------------
 * Boundary */

int multipart_boundary(const char *content_type, size_t len, char *out, size_t outlen) {
  struct cursor c = {content_type, len, 0};
  const char *type, *subtype;
  skip_ows(&c);
  size_t tlen = take_token(&c, &type);
  if (tlen == 0 || c.pos >= len || content_type[c.pos] != '/')
    return MULTIPART_ENOT_MULTIPART;
  c.pos++;
  if (!ieq(type, tlen, "multipart") || take_token(&c, &subtype) == 0)
    return MULTIPART_ENOT_MULTIPART;

  /* One byte more than the longest valid boundary, so a longer one is
   * caught by take_value rather than cut. */
  char value[MULTIPART_BOUNDARY_MAX + 2];
  int found = -1;
  int more;
  while ((more = next_param(&c)) == 1) {
    const char *name;
    size_t nlen = take_param_name(&c, &name);
    if (nlen == 0)
      return MULTIPART_EBOUNDARY;
    if (!ieq(name, nlen, "boundary")) {
      if (skip_value(&c) < 0)
        return MULTIPART_EBOUNDARY;
      continue;
    }
    bool quoted;
    if (found >= 0 || (found = take_value(&c, value, sizeof value, &quoted)) < 0)
      return MULTIPART_EBOUNDARY;
  }
  if (more < 0 || found < 0 || !valid_boundary(value, (size_t)found) || (size_t)found + 1 > outlen)
    return MULTIPART_EBOUNDARY;
  memcpy(out, value, (size_t)found + 1);
  return found;
}

/* ------------------------------------------------------------------------
 * Parser */

int multipart_init(multipart_parser *p, const char *boundary, size_t boundary_len) {
  memset(p, 0, sizeof *p);
  if (!boundary || !valid_boundary(boundary, boundary_len)) {
    p->error = MULTIPART_EBOUNDARY;
    return MULTIPART_EBOUNDARY;
  }
  memcpy(p->delim, "\r\n--", 4);
  memcpy(p->delim + 4, boundary, boundary_len);
  p->delim_len = (uint8_t)(boundary_len + 4);
  /* The first boundary may open the body with no CRLF before it: act as if
   * one had just been seen. Those two bytes were never input, so should the
   * match fail they are not data (and in the preamble nothing is). */
  p->state = S_PREAMBLE;
  p->matched = 2;
  p->virtual_crlf = 1;
  return 0;
}

static int call0(int (*fn)(void *), void *ctx) {
  return fn ? fn(ctx) : 0;
}

static int call_data(const multipart_callbacks *cb, void *ctx, const uint8_t *d, size_t n) {
  return cb && cb->on_data && n ? cb->on_data(ctx, d, n) : 0;
}

#define CB(name) (cb ? cb->name : NULL)

static void found_delimiter(multipart_parser *p) {
  p->matched = 0;
  p->virtual_crlf = 0;
  p->padded = 0;
  p->state = S_AFTER_BOUNDARY;
}

/* Looks for the delimiter in PREAMBLE and BODY, delivering the bytes before
 * it as data in BODY. *ppos is advanced before any callback, so a stop
 * leaves the parser ready for the next unconsumed byte. */
static int scan(multipart_parser *p, const uint8_t *data, size_t len, size_t *ppos,
                const multipart_callbacks *cb, void *ctx) {
  const uint8_t *d = p->delim;
  size_t dl = p->delim_len;
  size_t pos = *ppos;
  bool emit = p->state == S_BODY;

  if (p->matched) {
    /* A delimiter prefix held back from the previous buffer. */
    size_t held = p->matched, k = held, i = pos;
    while (i < len && k < dl && data[i] == d[k]) {
      i++;
      k++;
    }
    if (k == dl) {
      *ppos = i;
      found_delimiter(p);
      return 0;
    }
    if (i == len) {
      *ppos = len;
      p->matched = (uint8_t)k;
      return 0;
    }
    /* No delimiter after all: the held bytes were data. The bytes of this
     * buffer are scanned again from pos; none of those that matched is a
     * CR (only d[0] is), so none can start another delimiter. */
    size_t from = p->virtual_crlf ? 2 : 0;
    p->matched = 0;
    p->virtual_crlf = 0;
    return emit ? call_data(cb, ctx, d + from, held - from) : 0;
  }

  size_t i = pos;
  while (i < len) {
    const uint8_t *cr = memchr(data + i, '\r', len - i);
    if (!cr)
      break;
    size_t j = (size_t)(cr - data), avail = len - j, k = 1;
    while (k < dl && k < avail && data[j + k] == d[k])
      k++;
    if (k == dl || k == avail) {
      if (k == dl) {
        *ppos = j + dl;
        found_delimiter(p);
      } else {
        *ppos = len;
        p->matched = (uint8_t)k;
      }
      return emit ? call_data(cb, ctx, data + pos, j - pos) : 0;
    }
    i = j + k;
  }
  *ppos = len;
  return emit ? call_data(cb, ctx, data + pos, len - pos) : 0;
}

/* A complete header line in p->line: checks it and reports it. Returns 0,
 * MULTIPART_STOPPED or an error. */
static int header_line(multipart_parser *p, const multipart_callbacks *cb, void *ctx) {
  const char *s = p->line;
  size_t n = p->line_len, colon = 0;
  while (colon < n && is_tchar((unsigned char)s[colon]))
    colon++;
  /* No name, a name with a space or other separator in it (which also
   * rules out obsolete line folding), or no colon. */
  if (colon == 0 || colon == n || s[colon] != ':')
    return MULTIPART_EHEADER;
  if (p->header_count == MULTIPART_MAX_HEADERS)
    return MULTIPART_ETOO_MANY_HEADERS;
  size_t vs = colon + 1, ve = n;
  while (vs < ve && is_ows((unsigned char)s[vs]))
    vs++;
  while (ve > vs && is_ows((unsigned char)s[ve - 1]))
    ve--;
  p->header_count++;
  p->line_len = 0;
  p->state = S_HEADER;
  /* The line stays in p->line for the callback; the next byte overwrites it. */
  if (cb && cb->on_header && cb->on_header(ctx, s, colon, s + vs, ve - vs) != 0)
    return MULTIPART_STOPPED;
  return 0;
}

/* One step: consumes some bytes of the current state and makes at most one
 * callback. Returns 0, MULTIPART_STOPPED or an error. */
static int step(multipart_parser *p, const uint8_t *data, size_t len, size_t *ppos,
                const multipart_callbacks *cb, void *ctx) {
  size_t pos = *ppos;
  uint8_t c;
  int rc = 0;

  switch (p->state) {
  case S_PREAMBLE:
  case S_BODY: rc = scan(p, data, len, ppos, cb, ctx); return rc ? MULTIPART_STOPPED : 0;

  case S_AFTER_BOUNDARY:
    c = data[pos++];
    if (c == '-' && !p->padded)
      p->state = S_CLOSE_DASH;
    else if (is_ows(c))
      p->padded = 1;
    else if (c == '\r')
      p->state = S_DELIM_LF;
    else
      return MULTIPART_EDELIMITER;
    break;

  case S_DELIM_LF:
    if (data[pos++] != '\n')
      return MULTIPART_EDELIMITER;
    p->state = S_BEGIN_PENDING;
    if (p->in_part) {
      p->in_part = 0;
      *ppos = pos;
      rc = call0(CB(on_part_end), ctx);
    }
    break;

  case S_CLOSE_DASH:
    if (data[pos++] != '-')
      return MULTIPART_EDELIMITER;
    p->state = S_END_PENDING;
    if (p->in_part) {
      p->in_part = 0;
      *ppos = pos;
      rc = call0(CB(on_part_end), ctx);
    }
    break;

  case S_HEADER:
    while (pos < len) {
      c = data[pos];
      if (c == '\r') {
        pos++;
        p->state = S_HEADER_LF;
        break;
      }
      if ((c < 0x20 && c != '\t') || c == 0x7F)
        return MULTIPART_EHEADER; /* includes a bare LF */
      if (p->line_len == MULTIPART_HEADER_MAX)
        return MULTIPART_EHEADER_TOO_LONG;
      p->line[p->line_len++] = (char)c;
      pos++;
    }
    break;

  case S_HEADER_LF:
    if (data[pos++] != '\n')
      return MULTIPART_EHEADER;
    *ppos = pos;
    if (p->line_len) {
      rc = header_line(p, cb, ctx);
      if (rc != MULTIPART_STOPPED)
        return rc;
    } else {
      /* The blank line's CRLF may also begin the next delimiter, when the
       * part has no data (see multipart.h). */
      p->state = S_BODY;
      p->matched = 2;
      p->virtual_crlf = 1;
      rc = call0(CB(on_headers_end), ctx);
    }
    break;

  case S_DONE: pos = len; break;
  }
  *ppos = pos;
  return rc ? MULTIPART_STOPPED : 0;
}

int64_t multipart_feed(multipart_parser *p, const uint8_t *data, size_t len,
                       const multipart_callbacks *cb, void *ctx, size_t *consumed) {
  size_t pos = 0;
  int rc = p->error;
  while (rc == 0) {
    if (p->state == S_BEGIN_PENDING) {
      p->state = S_HEADER;
      p->in_part = 1;
      p->header_count = 0;
      p->line_len = 0;
      rc = call0(CB(on_part_begin), ctx) ? MULTIPART_STOPPED : 0;
    } else if (p->state == S_END_PENDING) {
      p->state = S_DONE;
      rc = call0(CB(on_end), ctx) ? MULTIPART_STOPPED : 0;
    } else if (pos < len) {
      rc = step(p, data, len, &pos, cb, ctx);
    } else {
      break;
    }
  }
  if (rc < 0 && rc != MULTIPART_STOPPED)
    p->error = (int8_t)rc;
  if (consumed)
    *consumed = pos;
  return rc ? rc : (int64_t)pos;
}

int multipart_finish(const multipart_parser *p) {
  if (p->error)
    return p->error;
  return p->state == S_DONE ? 0 : MULTIPART_ETRUNCATED;
}

const char *multipart_strerror(int code) {
  switch (code) {
  case 0: return "success";
  case MULTIPART_STOPPED: return "stopped by a callback";
  case MULTIPART_EBOUNDARY: return "missing or invalid multipart boundary";
  case MULTIPART_ENOT_MULTIPART: return "content type is not multipart";
  case MULTIPART_EDELIMITER: return "malformed multipart boundary line";
  case MULTIPART_EHEADER: return "malformed part header";
  case MULTIPART_EHEADER_TOO_LONG: return "part header line too long";
  case MULTIPART_ETOO_MANY_HEADERS: return "too many part headers";
  case MULTIPART_ETRUNCATED: return "multipart body ended before the final boundary";
  case MULTIPART_EDISPOSITION: return "malformed Content-Disposition";
  default: return "unknown multipart error";
  }
}

/* ------------------------------------------------------------------------
 * Content-Disposition */

/* RFC 8187 attr-char */
static bool is_attr_char(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

/* Decodes an RFC 8187 ext-value (charset'language'value-chars) in place.
 * Returns the decoded length, or -1 when it is malformed or not UTF-8. */
static int decode_ext_value(char *s, size_t n) {
  const char *q1 = memchr(s, '\'', n);
  if (!q1 || !ieq(s, (size_t)(q1 - s), "utf-8"))
    return -1;
  const char *q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - s));
  if (!q2)
    return -1;
  size_t in = (size_t)(q2 + 1 - s), out = 0;
  while (in < n) {
    unsigned char c = (unsigned char)s[in];
    if (c == '%') {
      if (n - in < 3)
        return -1;
      int h = hex_digit_value((unsigned char)s[in + 1]),
          l = hex_digit_value((unsigned char)s[in + 2]);
      if (h < 0 || l < 0)
        return -1;
      s[out++] = (char)(h * 16 + l);
      in += 3;
    } else if (is_attr_char(c)) {
      s[out++] = (char)c;
      in++;
    } else {
      return -1;
    }
  }
  s[out] = '\0';
  return (int)out;
}

int multipart_disposition(const char *value, size_t len, multipart_disp *out) {
  struct cursor c = {value, len, 0};
  const char *type;
  bool seen_filename = false, seen_ext = false, ext_ok = false;
  char buf[MULTIPART_HEADER_MAX + 1];
  bool quoted;

  out->form_data = out->has_name = out->has_filename = false;
  out->name_len = out->filename_len = 0;
  out->name[0] = out->filename[0] = '\0';
  skip_ows(&c);
  size_t tlen = take_token(&c, &type);
  if (tlen == 0)
    return MULTIPART_EDISPOSITION;
  out->form_data = ieq(type, tlen, "form-data");

  int more;
  while ((more = next_param(&c)) == 1) {
    const char *name;
    size_t nlen = take_param_name(&c, &name);
    if (nlen == 0)
      return MULTIPART_EDISPOSITION;
    if (ieq(name, nlen, "name")) {
      int n = take_value(&c, out->name, sizeof out->name, &quoted);
      if (out->has_name || n < 0)
        return MULTIPART_EDISPOSITION;
      out->has_name = true;
      out->name_len = (size_t)n;
    } else if (ieq(name, nlen, "filename")) {
      int n = take_value(&c, buf, sizeof buf, &quoted);
      if (seen_filename || n < 0)
        return MULTIPART_EDISPOSITION;
      seen_filename = true;
      if (!ext_ok) { /* filename* wins, whichever comes first */
        memcpy(out->filename, buf, (size_t)n + 1);
        out->filename_len = (size_t)n;
        out->has_filename = true;
      }
    } else if (ieq(name, nlen, "filename*")) {
      int n = take_value(&c, buf, sizeof buf, &quoted);
      if (seen_ext || n < 0)
        return MULTIPART_EDISPOSITION;
      seen_ext = true;
      n = decode_ext_value(buf, (size_t)n);
      if (n >= 0) {
        ext_ok = true;
        memcpy(out->filename, buf, (size_t)n + 1);
        out->filename_len = (size_t)n;
        out->has_filename = true;
      }
    } else if (skip_value(&c) < 0) {
      return MULTIPART_EDISPOSITION;
    }
  }
  return more < 0 ? MULTIPART_EDISPOSITION : 0;
}
