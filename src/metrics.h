/* Process-wide counters, rendered in Prometheus text format at /metrics.
 * The loop thread owns them, so plain integers suffice. */
#ifndef TANDEM_METRICS_H
#define TANDEM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum reject_reason {
  REJECT_MAX_CONNECTIONS,
  REJECT_PER_ADDR,
  REJECT_HEADER_TIMEOUT,
  REJECT_IDLE_TIMEOUT,
  REJECT_BODY_TIMEOUT,
  REJECT_BAD_REQUEST,
  REJECT_WS_QUEUE_FULL,
  REJECT_WS_PING_TIMEOUT,
  REJECT_WS_PROTOCOL,
  REJECT_COUNT
};

struct metrics {
  int64_t http_connections; /* open, not upgraded */
  int64_t ws_connections;   /* open WebSockets */
  int64_t rooms;            /* rooms with members */
  uint64_t connections_accepted;
  uint64_t http_requests[6]; /* by status class: [1]=1xx .. [5]=5xx */
  uint64_t ws_messages_in, ws_messages_out;
  uint64_t ws_bytes_in, ws_bytes_out;
  uint64_t http_bytes_in, http_bytes_out;
  uint64_t signals_relayed;
  uint64_t relay_messages, relay_bytes; /* binary WebSocket relay, apart from signaling */
  uint64_t rejected[REJECT_COUNT];
  /* --redis only (bus/redis.c): */
  uint8_t redis_configured;
  uint8_t redis_up;                     /* both connections answer */
  uint64_t redis_connects;              /* connections Redis answered on */
  uint64_t bus_published, bus_received; /* envelopes */
};

extern struct metrics metrics;

/* The metrics page as a new buffer (one reference), or NULL. */
buf *metrics_render(void);

#endif
