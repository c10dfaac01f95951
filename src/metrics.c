#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>

struct metrics metrics;

static const char *const reject_names[REJECT_COUNT] = {
    "max_connections", "per_addr_limit", "header_timeout",  "idle_timeout",     "body_timeout",
    "bad_request",     "ws_queue_full",  "ws_ping_timeout", "ws_protocol_error"};

struct out {
  buf *b;
  int overflow;
};

static void emit(struct out *o, const char *fmt, ...) {
  size_t room = o->b->cap - o->b->len;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf((char *)o->b->data + o->b->len, room, fmt, ap);
  va_end(ap);
  if (k < 0 || (size_t)k >= room)
    o->overflow = 1;
  else
    o->b->len += (uint32_t)k;
}

static void family(struct out *o, const char *name, const char *type, const char *help) {
  emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

buf *metrics_render(void) {
  struct out o = {buf_new(8192), 0};
  if (!o.b)
    return NULL;
  family(&o, "tandem_open_connections", "gauge", "Open connections by protocol.");
  emit(&o, "tandem_open_connections{protocol=\"http\"} %lld\n",
       (long long)metrics.http_connections);
  emit(&o, "tandem_open_connections{protocol=\"ws\"} %lld\n", (long long)metrics.ws_connections);
  family(&o, "tandem_connections_accepted_total", "counter", "TCP connections accepted.");
  emit(&o, "tandem_connections_accepted_total %llu\n",
       (unsigned long long)metrics.connections_accepted);
  family(&o, "tandem_rooms_live", "gauge", "Rooms with at least one member online.");
  emit(&o, "tandem_rooms_live %lld\n", (long long)metrics.rooms);
  family(&o, "tandem_http_requests_total", "counter", "HTTP responses by status class.");
  for (int i = 1; i <= 5; i++)
    emit(&o, "tandem_http_requests_total{class=\"%dxx\"} %llu\n", i,
         (unsigned long long)metrics.http_requests[i]);
  family(&o, "tandem_messages_total", "counter", "WebSocket messages.");
  emit(&o, "tandem_messages_total{direction=\"in\"} %llu\n",
       (unsigned long long)metrics.ws_messages_in);
  emit(&o, "tandem_messages_total{direction=\"out\"} %llu\n",
       (unsigned long long)metrics.ws_messages_out);
  family(&o, "tandem_bytes_total", "counter", "Bytes read and written.");
  emit(&o, "tandem_bytes_total{protocol=\"http\",direction=\"in\"} %llu\n",
       (unsigned long long)metrics.http_bytes_in);
  emit(&o, "tandem_bytes_total{protocol=\"http\",direction=\"out\"} %llu\n",
       (unsigned long long)metrics.http_bytes_out);
  emit(&o, "tandem_bytes_total{protocol=\"ws\",direction=\"in\"} %llu\n",
       (unsigned long long)metrics.ws_bytes_in);
  emit(&o, "tandem_bytes_total{protocol=\"ws\",direction=\"out\"} %llu\n",
       (unsigned long long)metrics.ws_bytes_out);
  family(&o, "tandem_signals_relayed_total", "counter",
         "Signaling messages relayed between peers.");
  emit(&o, "tandem_signals_relayed_total %llu\n", (unsigned long long)metrics.signals_relayed);
  family(&o, "tandem_relay_messages_total", "counter",
         "Binary frames relayed peer to peer (the fallback when no direct path exists).");
  emit(&o, "tandem_relay_messages_total %llu\n", (unsigned long long)metrics.relay_messages);
  family(&o, "tandem_relay_bytes_total", "counter", "Payload bytes relayed peer to peer.");
  emit(&o, "tandem_relay_bytes_total %llu\n", (unsigned long long)metrics.relay_bytes);
  family(&o, "tandem_rejected_connections_total", "counter",
         "Connections refused or cut, by reason.");
  for (int i = 0; i < REJECT_COUNT; i++)
    emit(&o, "tandem_rejected_connections_total{reason=\"%s\"} %llu\n", reject_names[i],
         (unsigned long long)metrics.rejected[i]);
  if (metrics.redis_configured) {
    family(&o, "tandem_redis_up", "gauge",
           "1 while Redis answers (rooms shared with other instances), else 0.");
    emit(&o, "tandem_redis_up %u\n", (unsigned)metrics.redis_up);
    family(&o, "tandem_redis_connects_total", "counter", "Connections to Redis that it answered.");
    emit(&o, "tandem_redis_connects_total %llu\n", (unsigned long long)metrics.redis_connects);
    family(&o, "tandem_bus_messages_total", "counter",
           "Room events and directed frames published to Redis / received from it.");
    emit(&o, "tandem_bus_messages_total{direction=\"published\"} %llu\n",
         (unsigned long long)metrics.bus_published);
    emit(&o, "tandem_bus_messages_total{direction=\"received\"} %llu\n",
         (unsigned long long)metrics.bus_received);
  }
  if (o.overflow) {
    buf_unref(o.b);
    return NULL;
  }
  return o.b;
}
