/* One line per event, as text (key=value) or JSON, on stderr.
 *
 * Callers pass named fields; the formatter escapes them. Nothing here knows
 * what a secret is, so callers never pass tokens, passwords or query
 * strings: request lines are logged by path only. */
#ifndef TANDEM_LOG_H
#define TANDEM_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* LOG_START is for the few start-up and stop lines an operator always
 * needs (where tandem listens): printed as "info" whatever the level. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_START };
enum log_format { LOG_TEXT, LOG_JSON };

struct log_field {
  const char *key;
  const char *str; /* string value (may hold any bytes), or NULL for num */
  size_t len;      /* length of str */
  int64_t num;
};

#define LOG_STR(k, s) ((struct log_field){.key = (k), .str = (s), .len = strlen(s)})
#define LOG_STRN(k, s, n) ((struct log_field){.key = (k), .str = (s), .len = (n)})
#define LOG_NUM(k, v) ((struct log_field){.key = (k), .num = (int64_t)(v)})

void log_setup(enum log_level level, enum log_format format);
int log_enabled(enum log_level level);
/* Writes one line: time, level, event, then the fields in order. */
void log_fields(enum log_level level, const char *event, const struct log_field *fields, size_t n);
/* A free-form message for start-up and errors (field "msg"). */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "debug|info|warn|error" and "text|json"; -1 when unknown. */
int log_level_parse(const char *s);
int log_format_parse(const char *s);

#endif
