/* tandem's settings: defaults, TANDEM_* environment variables and flags.
 *
 * Every limit that protects the server is a named default here and a flag
 * there, so an operator can tune it and a test can hit it. */
#ifndef TANDEM_CONFIG_H
#define TANDEM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTEN 4
#define CONFIG_MAX_ORIGINS 16

/* Defaults */
#define DEFAULT_LISTEN "0.0.0.0:8080"
#define DEFAULT_DATA_DIR "./data"
#define DEFAULT_SHUTDOWN_TIMEOUT_MS 10000
#define DEFAULT_MAX_URL 8192            /* request line target -> 414 */
#define DEFAULT_MAX_HEADER_BYTES 16384  /* whole header block -> 431 */
#define DEFAULT_MAX_HEADERS 64          /* header count -> 431 */
#define DEFAULT_MAX_BODY 1048576        /* body of routes that take one -> 413 */
#define DEFAULT_HEADER_TIMEOUT_MS 10000 /* headers must arrive within */
#define DEFAULT_IDLE_TIMEOUT_MS 60000   /* idle keep-alive */
#define DEFAULT_BODY_TIMEOUT_MS 30000   /* a body that stalls this long is dropped */
#define DEFAULT_MAX_CONNECTIONS 100000
#define DEFAULT_MAX_CONNECTIONS_PER_ADDR 4096
#define DEFAULT_WS_MAX_MESSAGE 1048576 /* -> close 1009 */
#define DEFAULT_WS_MAX_QUEUE 4194304   /* unsent bytes per socket -> close 1013 */
#define DEFAULT_WS_PING_INTERVAL_MS 30000
#define DEFAULT_WS_CLOSE_TIMEOUT_MS 5000 /* wait for the peer's close frame */
#define DEFAULT_WS_MAX_ERRORS 20         /* bad messages before close 1008 */
#define DEFAULT_ROOM_TTL_MS (24ull * 3600 * 1000)
#define DEFAULT_CODE_LOOKUPS_PER_MINUTE 20       /* per client address -> 429 */
#define DEFAULT_AUTOCOMPLETE_PER_MINUTE 1200     /* per client address -> 429 */
#define DEFAULT_MAX_FILE_SIZE (2ull << 30)       /* -> 413 */
#define DEFAULT_MAX_ROOM_BYTES (10ull << 30)     /* files in one room -> 413 */
#define DEFAULT_MIN_FREE_DISK (256ull << 20)     /* uploads refused below -> 507 */
#define DEFAULT_MAX_TEXT 65536                   /* a text item -> 413 */
#define DEFAULT_SIGNAL_RATE 50                   /* signals a second per socket (burst: twice) */
#define DEFAULT_SIGNAL_MAX_BYTES 65536           /* a signal's data (an SDP is a few KiB) */
#define DEFAULT_RELAY_RATE (32ull << 20)         /* relayed bytes a second per socket */
#define DEFAULT_RELAY_MAX_MESSAGE (256ull << 10) /* one relayed binary frame */
#define DEFAULT_TURN_TTL_MS (3600ull * 1000)     /* lifetime of TURN credentials */
#define DEFAULT_SIO_PING_INTERVAL_MS 25000       /* Engine.IO pingInterval */
#define DEFAULT_SIO_PING_TIMEOUT_MS 20000        /* Engine.IO pingTimeout: no pong -> drop */
#define DEFAULT_SIO_MAX_PAYLOAD 1000000          /* Engine.IO maxPayload -> close */
#define DEFAULT_SIO_JOINS 2                      /* PrivyDrop joins per window per address */
#define DEFAULT_SIO_JOIN_WINDOW_MS 5000
#define DEFAULT_SESSION_TTL_MS (14ull * 24 * 3600 * 1000) /* a facilitator's sign-in */
#define DEFAULT_LOGIN_ATTEMPTS 10          /* a minute, per address and per account -> 429 */
#define DEFAULT_UNLOCK_ATTEMPTS 10         /* room password tries a minute per address -> 429 */
#define CHAT_TEXT_MAX 4096                 /* bytes of one chat message */
#define DEFAULT_CHAT_RATE 5                /* chat messages a second per member (burst: twice) */
#define DEFAULT_MAX_DOC_BYTES (1ull << 20) /* a code room's document, UTF-8 */
#define DEFAULT_DOC_SNAPSHOT_EVERY 100     /* updates between stored snapshots */

struct config {
  const char *listen[CONFIG_MAX_LISTEN];
  int listen_count;
  const char *data_dir;
  const char
      *database; /* postgres://..., postgresql://... or sqlite:PATH; NULL: SQLite in data_dir */
  uint64_t database_pool; /* PostgreSQL connections; 0: STORE_DEFAULT_POOL */
  const char *public_url; /* how devices reach tandem, for room links; NULL: from Host */
  int log_format;         /* enum log_format */
  int log_level;          /* enum log_level */
  const char *origins[CONFIG_MAX_ORIGINS]; /* "*" allows any */
  int origin_count;
  uint64_t shutdown_timeout_ms;
  uint64_t max_url;
  uint64_t max_header_bytes;
  uint64_t max_headers;
  uint64_t max_body;
  uint64_t header_timeout_ms;
  uint64_t idle_timeout_ms;
  uint64_t body_timeout_ms;
  uint64_t max_connections;
  uint64_t max_connections_per_addr;
  uint64_t ws_max_message;
  uint64_t ws_max_queue;
  uint64_t ws_ping_interval_ms;
  uint64_t ws_close_timeout_ms;
  uint64_t ws_max_errors;
  uint64_t room_ttl_ms;
  uint64_t code_lookups_per_minute;
  uint64_t autocomplete_per_minute;
  uint64_t max_file_size;
  uint64_t max_room_bytes;
  uint64_t min_free_disk;
  uint64_t max_text;
  uint64_t signal_rate;
  uint64_t signal_max_bytes;
  uint64_t relay_rate;
  uint64_t relay_max_message;
  const char *stun;        /* comma-separated stun: URLs, or NULL */
  const char *turn_url;    /* comma-separated turn:/turns: URLs, or NULL */
  const char *turn_secret; /* coturn's static-auth-secret (use-auth-secret) */
  uint64_t turn_ttl_ms;
  uint64_t sio_ping_interval_ms;
  uint64_t sio_ping_timeout_ms;
  uint64_t sio_max_payload;
  uint64_t sio_joins;
  uint64_t sio_join_window_ms;
  uint64_t max_doc_bytes;
  uint64_t doc_snapshot_every;
  const char *admin_token; /* reads GET /api/stats/...; NULL: those routes are off */
  uint64_t session_ttl_ms;
  uint64_t login_attempts;
  uint64_t unlock_attempts;
  uint64_t chat_rate;
  const char *redis_url;      /* --redis: rooms shared with other instances; NULL: alone */
  bool trust_proxy_loopback;  /* --trust-proxy loopback: X-Real-IP from a proxy on this host */
  const char *instance_id;    /* NULL: a random one */
  char origins_storage[1024]; /* backing store for split origin lists */
};

/* Fills defaults, then TANDEM_* variables, then flags (argv after the
 * sub-command). On a bad value writes a clear message to err and returns
 * -1; returns 1 when --help was asked (usage printed to stdout). */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Prints the flags and their environment variables. */
void config_usage(const char *prog);

#endif
