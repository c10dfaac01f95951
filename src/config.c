#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

enum opt_kind {
  OPT_STRING,
  OPT_LISTEN,
  OPT_ORIGINS,
  OPT_TRUST_PROXY, /* loopback or none */
  OPT_COUNT,
  OPT_SIZE,
  OPT_DURATION,
  OPT_LOG_FORMAT,
  OPT_LOG_LEVEL
};

struct option_spec {
  const char *flag; /* without the leading "--" */
  enum opt_kind kind;
  size_t offset;
  const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct option_spec options[] = {
    {"listen", OPT_LISTEN, OFF(listen),
     "host:port to listen on; may be given twice ([::]:8080 for IPv6)"},
    {"data-dir", OPT_STRING, OFF(data_dir),
     "directory for the database and files (created if missing)"},
    {"database", OPT_STRING, OFF(database),
     "postgres://user:pass@host:port/db for PostgreSQL (several tandems may share it), or "
     "sqlite:PATH; default: SQLite at <data-dir>/tandem.db"},
    {"database-pool", OPT_COUNT, OFF(database_pool),
     "connections to PostgreSQL (default 4, at most 64)"},
    {"public-url", OPT_STRING, OFF(public_url),
     "base of room links and QR codes, e.g. http://192.168.1.20:8080; default: the request's Host"},
    {"log-format", OPT_LOG_FORMAT, OFF(log_format), "text or json"},
    {"log-level", OPT_LOG_LEVEL, OFF(log_level), "debug, info, warn or error"},
    {"allowed-origins", OPT_ORIGINS, OFF(origins),
     "comma-separated origins allowed to open WebSockets and to send cookie-authenticated "
     "requests, or *; default: same host"},
    {"shutdown-timeout", OPT_DURATION, OFF(shutdown_timeout_ms),
     "how long in-flight requests may finish after SIGTERM"},
    {"max-url", OPT_SIZE, OFF(max_url), "longest request target (414)"},
    {"max-header-bytes", OPT_SIZE, OFF(max_header_bytes), "largest request header block (431)"},
    {"max-headers", OPT_COUNT, OFF(max_headers), "most request header fields (431)"},
    {"max-body", OPT_SIZE, OFF(max_body), "largest request body on routes that take one (413)"},
    {"header-timeout", OPT_DURATION, OFF(header_timeout_ms),
     "time for a request's headers to arrive"},
    {"idle-timeout", OPT_DURATION, OFF(idle_timeout_ms),
     "idle keep-alive connections are closed after"},
    {"body-timeout", OPT_DURATION, OFF(body_timeout_ms),
     "a request body that stalls this long is dropped"},
    {"max-connections", OPT_COUNT, OFF(max_connections), "open connections in all (more get 503)"},
    {"max-connections-per-addr", OPT_COUNT, OFF(max_connections_per_addr),
     "open connections from one client address (more get 503)"},
    {"ws-max-message", OPT_SIZE, OFF(ws_max_message), "largest WebSocket message (close 1009)"},
    {"ws-max-queue", OPT_SIZE, OFF(ws_max_queue),
     "unsent bytes queued for one WebSocket (close 1013)"},
    {"ws-ping-interval", OPT_DURATION, OFF(ws_ping_interval_ms),
     "idle WebSockets are pinged, and dropped if silent for as long again"},
    {"ws-close-timeout", OPT_DURATION, OFF(ws_close_timeout_ms),
     "wait for the client's close frame"},
    {"ws-max-errors", OPT_COUNT, OFF(ws_max_errors),
     "bad messages on one WebSocket before close 1008"},
    {"room-ttl", OPT_DURATION, OFF(room_ttl_ms), "how long a drop room lives"},
    {"code-lookups-per-minute", OPT_COUNT, OFF(code_lookups_per_minute),
     "room lookups by code from one address (429)"},
    {"autocomplete-per-minute", OPT_COUNT, OFF(autocomplete_per_minute),
     "autocomplete requests from one address (429)"},
    {"max-file-size", OPT_SIZE, OFF(max_file_size), "largest uploaded file (413)"},
    {"max-room-bytes", OPT_SIZE, OFF(max_room_bytes), "all files in one room together (413)"},
    {"min-free-disk", OPT_SIZE, OFF(min_free_disk),
     "free space kept on the data directory's disk (507)"},
    {"max-text", OPT_SIZE, OFF(max_text), "longest text item (413)"},
    {"signal-rate", OPT_COUNT, OFF(signal_rate),
     "signals a second one socket may send (bursts of twice that)"},
    {"signal-max-bytes", OPT_SIZE, OFF(signal_max_bytes), "largest signal data"},
    {"relay-rate", OPT_SIZE, OFF(relay_rate), "bytes a second one socket may relay through tandem"},
    {"relay-max-message", OPT_SIZE, OFF(relay_max_message), "largest relayed binary frame"},
    {"stun", OPT_STRING, OFF(stun),
     "comma-separated STUN URLs for browsers (none by default: nothing leaves the LAN)"},
    {"turn-url", OPT_STRING, OFF(turn_url),
     "comma-separated TURN URLs (turn:host:3478?transport=udp, ...)"},
    {"turn-secret", OPT_STRING, OFF(turn_secret),
     "the TURN server's shared secret (coturn use-auth-secret)"},
    {"turn-ttl", OPT_DURATION, OFF(turn_ttl_ms), "lifetime of the TURN credentials handed out"},
    {"sio-ping-interval", OPT_DURATION, OFF(sio_ping_interval_ms),
     "Socket.IO (Engine.IO) server pings at this interval"},
    {"sio-ping-timeout", OPT_DURATION, OFF(sio_ping_timeout_ms),
     "a Socket.IO client that does not answer a ping within this is dropped"},
    {"sio-max-payload", OPT_SIZE, OFF(sio_max_payload),
     "largest Engine.IO packet or polling body (session closed)"},
    {"sio-joins", OPT_COUNT, OFF(sio_joins),
     "PrivyDrop joins one address may make per --sio-join-window"},
    {"sio-join-window", OPT_DURATION, OFF(sio_join_window_ms), "the window of --sio-joins"},
    {"max-doc-bytes", OPT_SIZE, OFF(max_doc_bytes),
     "largest document of a code room (edits past it are refused)"},
    {"doc-snapshot-every", OPT_COUNT, OFF(doc_snapshot_every),
     "a code room's text is stored whole after this many updates"},
    {"admin-token", OPT_STRING, OFF(admin_token),
     "the operator's token (Authorization: Bearer) for GET /api/stats/referrers; none: off"},
    {"session-ttl", OPT_DURATION, OFF(session_ttl_ms),
     "how long a facilitator stays signed in (the session cookie's life)"},
    {"login-attempts", OPT_COUNT, OFF(login_attempts),
     "sign-in attempts a minute per address and per account (429)"},
    {"unlock-attempts", OPT_COUNT, OFF(unlock_attempts),
     "room password attempts a minute per address (429)"},
    {"chat-rate", OPT_COUNT, OFF(chat_rate),
     "chat messages a second one member may send (bursts of twice that)"},
    {"redis", OPT_STRING, OFF(redis_url),
     "redis://host:port[/db] shared by several tandem instances (rooms span them); none: alone"},
    {"trust-proxy", OPT_TRUST_PROXY, OFF(trust_proxy_loopback),
     "loopback: a proxy on this host (nginx) says the client's address in X-Real-IP, which "
     "per-address limits then count; none (default): the connection's address"},
    {"instance-id", OPT_STRING, OFF(instance_id),
     "this instance's name among several (1-32 of A-Z, a-z, 0-9, _ -); default: random"},
};

#define NOPTIONS (sizeof options / sizeof options[0])

static void set_defaults(struct config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->data_dir = DEFAULT_DATA_DIR;
  cfg->log_format = LOG_TEXT;
  cfg->log_level = LOG_INFO;
  cfg->shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS;
  cfg->max_url = DEFAULT_MAX_URL;
  cfg->max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
  cfg->max_headers = DEFAULT_MAX_HEADERS;
  cfg->max_body = DEFAULT_MAX_BODY;
  cfg->header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
  cfg->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  cfg->body_timeout_ms = DEFAULT_BODY_TIMEOUT_MS;
  cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
  cfg->max_connections_per_addr = DEFAULT_MAX_CONNECTIONS_PER_ADDR;
  cfg->ws_max_message = DEFAULT_WS_MAX_MESSAGE;
  cfg->ws_max_queue = DEFAULT_WS_MAX_QUEUE;
  cfg->ws_ping_interval_ms = DEFAULT_WS_PING_INTERVAL_MS;
  cfg->ws_close_timeout_ms = DEFAULT_WS_CLOSE_TIMEOUT_MS;
  cfg->ws_max_errors = DEFAULT_WS_MAX_ERRORS;
  cfg->room_ttl_ms = DEFAULT_ROOM_TTL_MS;
  cfg->code_lookups_per_minute = DEFAULT_CODE_LOOKUPS_PER_MINUTE;
  cfg->autocomplete_per_minute = DEFAULT_AUTOCOMPLETE_PER_MINUTE;
  cfg->max_file_size = DEFAULT_MAX_FILE_SIZE;
  cfg->max_room_bytes = DEFAULT_MAX_ROOM_BYTES;
  cfg->min_free_disk = DEFAULT_MIN_FREE_DISK;
  cfg->max_text = DEFAULT_MAX_TEXT;
  cfg->signal_rate = DEFAULT_SIGNAL_RATE;
  cfg->signal_max_bytes = DEFAULT_SIGNAL_MAX_BYTES;
  cfg->relay_rate = DEFAULT_RELAY_RATE;
  cfg->relay_max_message = DEFAULT_RELAY_MAX_MESSAGE;
  cfg->turn_ttl_ms = DEFAULT_TURN_TTL_MS;
  cfg->sio_ping_interval_ms = DEFAULT_SIO_PING_INTERVAL_MS;
  cfg->sio_ping_timeout_ms = DEFAULT_SIO_PING_TIMEOUT_MS;
  cfg->sio_max_payload = DEFAULT_SIO_MAX_PAYLOAD;
  cfg->sio_joins = DEFAULT_SIO_JOINS;
  cfg->sio_join_window_ms = DEFAULT_SIO_JOIN_WINDOW_MS;
  cfg->session_ttl_ms = DEFAULT_SESSION_TTL_MS;
  cfg->login_attempts = DEFAULT_LOGIN_ATTEMPTS;
  cfg->unlock_attempts = DEFAULT_UNLOCK_ATTEMPTS;
  cfg->chat_rate = DEFAULT_CHAT_RATE;
  cfg->max_doc_bytes = DEFAULT_MAX_DOC_BYTES;
  cfg->doc_snapshot_every = DEFAULT_DOC_SNAPSHOT_EVERY;
}

/* Parses a whole number with an optional unit; `units` lists suffixes and
 * their multipliers. A bare number uses `bare`. */
struct unit {
  const char *suffix;
  uint64_t mult;
};

static int parse_number(const char *s, const struct unit *units, uint64_t bare, uint64_t *out) {
  errno = 0;
  char *end;
  if (*s < '0' || *s > '9')
    return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return -1;
  uint64_t mult = bare;
  if (*end) {
    mult = 0;
    for (const struct unit *u = units; u && u->suffix; u++)
      if (strcasecmp(end, u->suffix) == 0)
        mult = u->mult;
    if (!mult)
      return -1;
  }
  if (mult && v > UINT64_MAX / mult)
    return -1;
  *out = v * mult;
  return 0;
}

static const struct unit size_units[] = {{"b", 1},           {"k", 1024},       {"kib", 1024},
                                         {"kb", 1000},       {"m", 1048576},    {"mib", 1048576},
                                         {"mb", 1000000},    {"g", 1073741824}, {"gib", 1073741824},
                                         {"gb", 1000000000}, {NULL, 0}};
static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};

/* Splits a comma list into the config's storage; entries keep pointing there. */
static int split_origins(struct config *cfg, const char *value, char *err, size_t errlen) {
  size_t n = strlen(value);
  if (n >= sizeof cfg->origins_storage) {
    snprintf(err, errlen, "--allowed-origins: list too long (at most %zu bytes)",
             sizeof cfg->origins_storage - 1);
    return -1;
  }
  memcpy(cfg->origins_storage, value, n + 1);
  cfg->origin_count = 0;
  for (char *save = NULL, *tok = strtok_r(cfg->origins_storage, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    if (!*tok)
      continue;
    if (cfg->origin_count == CONFIG_MAX_ORIGINS) {
      snprintf(err, errlen, "--allowed-origins: at most %d origins", CONFIG_MAX_ORIGINS);
      return -1;
    }
    cfg->origins[cfg->origin_count++] = tok;
  }
  return 0;
}

static int apply(struct config *cfg, const struct option_spec *o, const char *value,
                 const char *source, char *err, size_t errlen) {
  void *field = (char *)cfg + o->offset;
  uint64_t num;
  int v;
  switch (o->kind) {
  case OPT_STRING:
    if (!*value)
      goto bad;
    *(const char **)field = value;
    return 0;
  case OPT_LISTEN:
    if (!*value)
      goto bad;
    if (cfg->listen_count == CONFIG_MAX_LISTEN) {
      snprintf(err, errlen, "%s: at most %d listen addresses", source, CONFIG_MAX_LISTEN);
      return -1;
    }
    cfg->listen[cfg->listen_count++] = value;
    return 0;
  case OPT_ORIGINS: return split_origins(cfg, value, err, errlen);
  case OPT_TRUST_PROXY:
    if (strcmp(value, "loopback") != 0 && strcmp(value, "none") != 0) {
      snprintf(err, errlen, "%s: loopback or none, not '%s'", source, value);
      return -1;
    }
    *(bool *)field = strcmp(value, "loopback") == 0;
    return 0;
  case OPT_COUNT:
    if (parse_number(value, NULL, 1, &num) < 0 || num == 0)
      goto bad;
    *(uint64_t *)field = num;
    return 0;
  case OPT_SIZE:
    if (parse_number(value, size_units, 1, &num) < 0 || num == 0 || num > (1ull << 40))
      goto bad;
    *(uint64_t *)field = num;
    return 0;
  case OPT_DURATION:
    if (parse_number(value, duration_units, 1000, &num) < 0 || num == 0)
      goto bad;
    *(uint64_t *)field = num;
    return 0;
  case OPT_LOG_FORMAT:
    if ((v = log_format_parse(value)) < 0)
      goto bad;
    *(int *)field = v;
    return 0;
  case OPT_LOG_LEVEL:
    if ((v = log_level_parse(value)) < 0)
      goto bad;
    *(int *)field = v;
    return 0;
  }
bad:
  snprintf(err, errlen, "%s: invalid value '%s' (%s)", source, value, o->help);
  return -1;
}

/* TANDEM_FOO_BAR for --foo-bar */
static void env_name(const char *flag, char *out, size_t outlen) {
  size_t k = (size_t)snprintf(out, outlen, "TANDEM_");
  for (const char *p = flag; *p && k + 1 < outlen; p++)
    out[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  out[k] = '\0';
}

static const struct option_spec *find_option(const char *name, size_t len) {
  for (size_t i = 0; i < NOPTIONS; i++)
    if (strlen(options[i].flag) == len && strncmp(options[i].flag, name, len) == 0)
      return &options[i];
  return NULL;
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen) {
  set_defaults(cfg);
  for (size_t i = 0; i < NOPTIONS; i++) {
    char name[64];
    env_name(options[i].flag, name, sizeof name);
    const char *value = getenv(name);
    if (value && *value && apply(cfg, &options[i], value, name, err, errlen) < 0)
      return -1;
  }
  /* Flags override the environment; --listen on the command line replaces
   * TANDEM_LISTEN rather than adding to it. */
  int listen_from_flags = 0;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
      return 1;
    if (strncmp(arg, "--", 2) != 0) {
      snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
      return -1;
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct option_spec *o = find_option(name, len);
    if (!o) {
      snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)len, name);
      return -1;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
      if (i + 1 >= argc) {
        snprintf(err, errlen, "--%s needs a value", o->flag);
        return -1;
      }
      value = argv[++i];
    }
    if (o->kind == OPT_LISTEN && !listen_from_flags) {
      cfg->listen_count = 0;
      listen_from_flags = 1;
    }
    char source[80];
    snprintf(source, sizeof source, "--%s", o->flag);
    if (apply(cfg, o, value, source, err, errlen) < 0)
      return -1;
  }
  if (cfg->listen_count == 0)
    cfg->listen[cfg->listen_count++] = DEFAULT_LISTEN;
  return 0;
}

void config_usage(const char *prog) {
  printf("Usage: %s serve [flags]\n\n"
         "Runs the tandem server. Every flag can also be set with the environment\n"
         "variable named after it (--data-dir -> TANDEM_DATA_DIR); flags win.\n"
         "Durations take ms, s, m or h (a bare number is seconds); sizes take\n"
         "K, M or G (KiB, MiB, GiB).\n\n",
         prog);
  for (size_t i = 0; i < NOPTIONS; i++) {
    char env[64];
    env_name(options[i].flag, env, sizeof env);
    printf("  --%-26s %s\n  %-28s [%s]\n", options[i].flag, options[i].help, "", env);
  }
}
