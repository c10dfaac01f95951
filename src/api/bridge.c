#include "api/bridge.h"

#include <stdlib.h>
#include <string.h>

#include "api/socketio.h"
#include "api/ws_room.h"
#include "metrics.h"
#include "ws/ws_conn.h"

void bridge_native_presence(struct hub_member *m, bool joined) {
  if (!m->room || !hub_room_may_have(m->room, HUB_SOCKETIO))
    return;
  json_t *payload = json_pack("{ss}", "peerId", m->peer_id);
  if (payload)
    socketio_room_emit(m->room, m, joined ? "ready" : "peer-disconnected", payload);
  json_decref(payload);
}

/* The PrivyDrop event for native signal data, with its payload (a new
 * reference), or NULL when the data has no PrivyDrop equivalent. */
static json_t *privydrop_event(json_t *data, const char *from, const char **event) {
  json_t *description = json_object_get(data, "description");
  json_t *candidate = json_object_get(data, "candidate");
  const char *kind = json_string_value(json_object_get(description, "type"));
  if (kind && (strcmp(kind, "offer") == 0 || strcmp(kind, "answer") == 0)) {
    *event = strcmp(kind, "offer") == 0 ? "offer" : "answer";
    return json_pack("{sssOss}", "peerId", from, *event, description, "from", from);
  }
  if (json_is_object(candidate)) {
    *event = "ice-candidate";
    return json_pack("{sssOss}", "peerId", from, "candidate", candidate, "from", from);
  }
  return NULL;
}

void bridge_signal_to_socketio(struct hub_room *room, struct hub_member *target, const char *from,
                               struct json_span data) {
  if (!room || !hub_room_may_have(room, HUB_SOCKETIO))
    return;
  json_t *parsed = json_loadb(data.p, data.len, JSON_DECODE_ANY, NULL);
  const char *event = NULL;
  json_t *payload = parsed ? privydrop_event(parsed, from, &event) : NULL;
  json_decref(parsed);
  if (!payload)
    return;
  if (target)
    socketio_emit_to(target, event, payload);
  else
    socketio_room_emit(room, hub_find_peer(from, strlen(from)), event, payload);
  json_decref(payload);
}

/* The native signal for a PrivyDrop event (a new reference), or NULL. */
static json_t *native_signal(const char *from, const char *event, json_t *payload) {
  json_t *data = NULL;
  if (strcmp(event, "offer") == 0 || strcmp(event, "answer") == 0)
    data = json_pack("{sO}", "description", json_object_get(payload, event));
  else if (strcmp(event, "ice-candidate") == 0)
    data = json_pack("{sO}", "candidate", json_object_get(payload, "candidate"));
  json_t *msg = data ? json_pack("{sssssO}", "type", "signal", "from", from, "data", data) : NULL;
  json_decref(data);
  return msg;
}

void bridge_signal_to_native(struct hub_member *target, const char *from, const char *event,
                             json_t *payload) {
  json_t *msg = native_signal(from, event, payload);
  if (!msg)
    return;
  metrics.signals_relayed++;
  ws_room_emit_json(msg, target->c, NULL, NULL);
}

buf *bridge_native_frame(const char *from, const char *event, json_t *payload) {
  json_t *msg = native_signal(from, event, payload);
  char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  json_decref(msg);
  buf *f = text ? ws_frame_build(WS_OP_TEXT, text, strlen(text)) : NULL;
  free(text);
  return f;
}

buf *bridge_socketio_packet(const char *from, struct json_span data) {
  json_t *parsed = json_loadb(data.p, data.len, JSON_DECODE_ANY, NULL);
  const char *event = NULL;
  json_t *payload = parsed ? privydrop_event(parsed, from, &event) : NULL;
  json_decref(parsed);
  buf *b = payload ? socketio_event_packet(event, payload) : NULL;
  json_decref(payload);
  return b;
}
