#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static enum log_format out_format = LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error", "info"};

void log_setup(enum log_level level, enum log_format format) {
  min_level = level;
  out_format = format;
}

int log_enabled(enum log_level level) {
  return level >= min_level;
}

int log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (strcmp(s, level_names[i]) == 0)
      return i;
  return -1;
}

int log_format_parse(const char *s) {
  if (strcmp(s, "text") == 0)
    return LOG_TEXT;
  if (strcmp(s, "json") == 0)
    return LOG_JSON;
  return -1;
}

/* Appends with a bound: a log line never exceeds its buffer, it is cut. */
struct line {
  char data[2048];
  size_t len;
};

static void put(struct line *l, const char *s, size_t n) {
  size_t room = sizeof l->data - 1 - l->len;
  if (n > room)
    n = room;
  memcpy(l->data + l->len, s, n);
  l->len += n;
}

static void putc_(struct line *l, char c) {
  put(l, &c, 1);
}

/* Escapes for JSON, or for text: quotes values with spaces, and in both
 * formats control bytes become \u00XX so a client cannot forge lines. */
static void put_escaped(struct line *l, const char *s, size_t n, int json) {
  int quote = json;
  for (size_t i = 0; !quote && i < n; i++)
    if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || (unsigned char)s[i] < 0x20)
      quote = 1;
  if (n == 0)
    quote = 1;
  if (quote)
    putc_(l, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      putc_(l, '\\');
      putc_(l, (char)c);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      int k = snprintf(esc, sizeof esc, "\\u%04x", c);
      put(l, esc, (size_t)k);
    } else {
      putc_(l, (char)c);
    }
  }
  if (quote)
    putc_(l, '"');
}

static void put_time(struct line *l) {
  struct timespec ts;
  struct tm tm;
  char t[40];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
  k += (size_t)snprintf(t + k, sizeof t - k, ".%03ldZ", ts.tv_nsec / 1000000);
  put(l, t, k);
}

void log_fields(enum log_level level, const char *event, const struct log_field *fields, size_t n) {
  if (level < min_level)
    return;
  struct line l = {.len = 0};
  int json = out_format == LOG_JSON;
  if (json) {
    put(&l, "{\"time\":\"", 9);
    put_time(&l);
    put(&l, "\",\"level\":\"", 11);
    put(&l, level_names[level], strlen(level_names[level]));
    put(&l, "\",\"event\":", 10);
    put_escaped(&l, event, strlen(event), 1);
  } else {
    put_time(&l);
    putc_(&l, ' ');
    put(&l, level_names[level], strlen(level_names[level]));
    putc_(&l, ' ');
    put(&l, event, strlen(event));
  }
  for (size_t i = 0; i < n; i++) {
    const struct log_field *f = &fields[i];
    if (json) {
      putc_(&l, ',');
      put_escaped(&l, f->key, strlen(f->key), 1);
      putc_(&l, ':');
    } else {
      putc_(&l, ' ');
      put(&l, f->key, strlen(f->key));
      putc_(&l, '=');
    }
    if (f->str) {
      put_escaped(&l, f->str, f->len, json);
    } else {
      char num[24];
      int k = snprintf(num, sizeof num, "%lld", (long long)f->num);
      put(&l, num, (size_t)k);
    }
  }
  if (json)
    putc_(&l, '}');
  l.data[l.len++] = '\n';
  fwrite(l.data, 1, l.len, stderr);
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...) {
  if (level < min_level)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (k < 0)
    k = 0;
  size_t len = (size_t)k < sizeof msg ? (size_t)k : sizeof msg - 1;
  struct log_field f = LOG_STRN("msg", msg, len);
  log_fields(level, event, &f, 1);
}
