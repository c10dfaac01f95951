/* tandem's routes: health, metrics, the WebSocket rooms and the web client. */
#include "api/accounts_api.h"
#include "api/app.h"
#include "api/autocomplete_api.h"
#include "api/chat_api.h"
#include "api/config_api.h"
#include "api/docs_api.h"
#include "api/items_api.h"
#include "api/rooms_api.h"
#include "api/static.h"
#include "api/stats_api.h"
#include "api/ws_room.h"
#include "api/socketio.h"
#include "api/privydrop.h"
#include "bus/bus.h"
#include "metrics.h"

static void on_healthz(struct http_req *r) {
  static const char body[] = "{\"status\":\"ok\"}";
  http_respond(r, 200, "application/json", body, sizeof body - 1, NULL, true,
               "Cache-Control: no-store\r\n");
}

static void on_readyz(struct http_req *r) {
  if (store_ping(app_of(r)->store) < 0) {
    static const char body[] = "{\"status\":\"not_ready\",\"storage\":\"unavailable\"}";
    http_respond(r, 503, "application/json", body, sizeof body - 1, NULL, true,
                 "Cache-Control: no-store\r\nRetry-After: 5\r\n");
    return;
  }
  if (bus_shared() && !bus_up()) { /* local members are served; rooms are not shared */
    static const char body[] = "{\"status\":\"degraded\",\"storage\":\"ok\",\"redis\":"
                               "\"unreachable\",\"message\":\"redis is unreachable: rooms "
                               "are not shared with other instances until it is back\"}";
    http_respond(r, 503, "application/json", body, sizeof body - 1, NULL, true,
                 "Cache-Control: no-store\r\nRetry-After: 1\r\n");
    return;
  }
  static const char alone[] = "{\"status\":\"ready\",\"storage\":\"ok\"}",
                    shared[] = "{\"status\":\"ready\",\"storage\":\"ok\",\"redis\":\"ok\"}";
  bool with_redis = bus_shared();
  http_respond(r, 200, "application/json", with_redis ? shared : alone,
               with_redis ? sizeof shared - 1 : sizeof alone - 1, NULL, true,
               "Cache-Control: no-store\r\n");
}

static void on_metrics(struct http_req *r) {
  buf *b = metrics_render();
  if (!b) {
    http_respond_error(r, 500, "internal", "Could not render the metrics.");
    return;
  }
  http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b->data, b->len, b, false,
               "Cache-Control: no-store\r\n");
  buf_unref(b);
}

static const http_handler healthz = {.on_complete = on_healthz};
static const http_handler readyz = {.on_complete = on_readyz};
static const http_handler metrics_page = {.on_complete = on_metrics};

const struct route app_routes[] = {
    {METHOD_GET, "/healthz", &healthz},
    {METHOD_GET, "/readyz", &readyz},
    {METHOD_GET, "/metrics", &metrics_page},
    {METHOD_GET, "/ws/:room", &ws_room_handler},
    {METHOD_GET, "/api/config", &config_handler},
    {METHOD_POST, "/api/rooms", &rooms_create_handler},
    {METHOD_GET, "/api/rooms/:room", &rooms_get_handler},
    {METHOD_DELETE, "/api/rooms/:room", &rooms_delete_handler},
    {METHOD_PATCH, "/api/rooms/:room", &chat_patch_handler},
    {METHOD_POST, "/api/rooms/:room/unlock", &chat_unlock_handler},
    {METHOD_GET, "/api/rooms/:room/messages", &chat_messages_handler},
    {METHOD_DELETE, "/api/rooms/:room/messages/:id", &chat_delete_msg_handler},
    {METHOD_POST, "/api/rooms/:room/remove", &chat_remove_handler},
    {METHOD_GET, "/api/rooms/:room/transcript", &chat_transcript_handler},
    {METHOD_POST, "/api/accounts", &accounts_create_handler},
    {METHOD_POST, "/api/session", &session_create_handler},
    {METHOD_DELETE, "/api/session", &session_delete_handler},
    {METHOD_GET, "/api/me", &me_handler},
    {METHOD_GET, "/api/me/rooms", &me_rooms_handler},
    {METHOD_GET, "/api/rooms/:room/qr.svg", &rooms_qr_handler},
    {METHOD_GET, "/api/rooms/:room/doc", &doc_get_handler},
    {METHOD_PUT, "/api/rooms/:room/doc", &doc_put_handler},
    {METHOD_GET, "/api/rooms/:room/items", &items_list_handler},
    {METHOD_POST, "/api/rooms/:room/items", &items_post_handler},
    {METHOD_GET, "/api/rooms/:room/items/:item", &items_get_handler},
    {METHOD_DELETE, "/api/rooms/:room/items/:item", &items_delete_handler},
    {METHOD_GET, "/api/rooms/:room/items/:item/file", &items_file_handler},
    {METHOD_GET, "/api/sessions/:code/items", &items_list_handler},
    {METHOD_POST, "/api/sessions/:code/items", &items_post_handler},
    {METHOD_POST, "/api/autocomplete", &autocomplete_handler},
    {METHOD_GET, "/assets/*", &static_asset_handler},
    /* The API's description and its viewer live in the asset table too. */
    {METHOD_GET, "/api/openapi.json", &static_asset_handler},
    {METHOD_GET, "/docs", &static_asset_handler},
    {METHOD_GET, "/", &static_page_handler},
    {METHOD_GET, "/r/:room", &static_page_handler},
    {METHOD_GET, "/session/:code", &static_page_handler},
    {METHOD_GET, "/login", &static_page_handler},
    {METHOD_GET, "/signup", &static_page_handler},
    {METHOD_GET, "/dashboard", &static_page_handler},
    {METHOD_GET | METHOD_POST, "/socket.io/", &socketio_handler},
    {METHOD_POST | METHOD_OPTIONS, "/api/create_room", &privydrop_create_room_handler},
    {METHOD_GET, "/api/get_room", &privydrop_get_room_handler},
    {METHOD_POST | METHOD_OPTIONS, "/api/check_room", &privydrop_check_room_handler},
    {METHOD_POST | METHOD_OPTIONS, "/api/leave_room", &privydrop_leave_room_handler},
    {METHOD_POST | METHOD_OPTIONS, "/api/set_track", &privydrop_set_track_handler},
    {METHOD_POST | METHOD_OPTIONS, "/api/logs_debug", &privydrop_logs_debug_handler},
    {METHOD_GET, "/api/stats/referrers", &stats_referrers_handler},
};

const size_t app_route_count = sizeof app_routes / sizeof app_routes[0];
