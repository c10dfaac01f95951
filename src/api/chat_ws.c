#include "api/chat_ws.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/chat_api.h"
#include "api/ws_room.h"
#include "api/ws_wait.h"
#include "bus/bus.h"
#include "config.h"
#include "http/query.h"
#include "hub/hub.h"
#include "net/server.h"
#include "rooms/alias.h"
#include "rooms/room.h"
#include "rooms/schedule.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timefmt.h"
#include "ws/ws_conn.h"

/* Most messages replayed to a reconnecting member; older ones are a REST
 * page away. */
#define CHAT_REPLAY_MAX 500
#define TYPING_RATE 2 /* typing notices a second per member (burst 4) */

enum refusal { JOIN_OK, JOIN_NOT_OPEN, JOIN_CLOSED, JOIN_LOCKED, JOIN_REMOVED };

/* What the upgrade hands to on_open; the member takes its place there. */
struct chat_join {
  int64_t after_or_opens_at; /* replay after this id (-1: none); opens_at when refused */
  char room[STORE_ID_LEN + 1];
  uint8_t device_hash[DEVICE_HASH_LEN];
  char alias[ALIAS_BASE_MAX + 1]; /* chosen; empty: generated */
  uint8_t refusal;
};

_Static_assert(sizeof(struct chat_join) <= WS_APP_STATE, "chat join fits");
_Static_assert(sizeof(struct ws_member) <= WS_APP_STATE, "member fits");

/* A chat room with members here: its closing timer. */
struct live_room {
  uv_timer_t timer;
  struct live_room *prev, *next; /* all live rooms, for chat_ws_stop */
  int64_t closes_at;
  char id[STORE_ID_LEN + 1];
};

static hmap live_rooms; /* id -> live_room */
static struct live_room *live_list;
static bool stopped; /* no new timers once shutdown began */

static struct ws_member *ws_member(conn *c) {
  return ws_app_state(c);
}

static struct hub_member *member(conn *c) {
  return &ws_member(c)->m;
}

static void live_free(uv_handle_t *h) {
  free(h->data);
}

static void live_drop(struct live_room *l) {
  hmap_del(&live_rooms, l->id, STORE_ID_LEN);
  if (l->prev)
    l->prev->next = l->next;
  else
    live_list = l->next;
  if (l->next)
    l->next->prev = l->prev;
  uv_close((uv_handle_t *)&l->timer, live_free);
}

static void on_closing_time(uv_timer_t *t) {
  struct live_room *l = t->data;
  struct log_field f = LOG_STR("room", l->id);
  log_fields(LOG_INFO, "room.closed", &f, 1);
  /* Members hear room.closed and their sockets close; each on_close then
   * leaves, and the last one releases this entry. */
  hub_room_closed(l->id, STORE_ID_LEN, "closed");
}

static void live_arm(struct live_room *l, int64_t closes_at) {
  int64_t now = time_now_ms();
  l->closes_at = closes_at;
  uv_timer_start(&l->timer, on_closing_time, closes_at > now ? (uint64_t)(closes_at - now) : 0, 0);
}

/* The live entry of a room, made with its timer on the first join. */
static struct live_room *live_get(uv_loop_t *loop, const char *id, int64_t closes_at) {
  struct live_room *l = hmap_get(&live_rooms, id, STORE_ID_LEN);
  if (l)
    return l;
  l = stopped ? NULL : calloc(1, sizeof *l);
  if (!l)
    return NULL;
  memcpy(l->id, id, STORE_ID_LEN);
  if (uv_timer_init(loop, &l->timer) < 0 || hmap_put(&live_rooms, l->id, STORE_ID_LEN, l) < 0) {
    free(l);
    return NULL;
  }
  l->timer.data = l;
  l->next = live_list;
  if (live_list)
    live_list->prev = l;
  live_list = l;
  live_arm(l, closes_at);
  return l;
}

/* Drops the live entry once nobody is left in the room. */
static void live_release(const char *id) {
  /* An emptied room can outlive its last member while a broadcast walks it. */
  struct hub_room *r = hub_find_room(id, STORE_ID_LEN);
  if (r && r->count)
    return;
  struct live_room *l = hmap_get(&live_rooms, id, STORE_ID_LEN);
  if (l)
    live_drop(l);
}

static void peer_event(struct hub_member *m, const char *type, const struct hub_member *except) {
  json_t *o = json_pack("{s:s, s:s, s:s}", "type", type, "peer", m->peer_id, "alias", m->name);
  ws_room_emit_json(o, NULL, m->room, except);
}

/* Takes the member out of the room now (it may still be closing): the
 * others hear peer.left (unless told already) and its alias is free again. */
static void leave_told(struct hub_member *m, bool told) {
  if (!m->room)
    return;
  char id[STORE_ID_LEN + 1];
  memcpy(id, m->room->name, STORE_ID_LEN);
  id[STORE_ID_LEN] = 0;
  if (!told)
    peer_event(m, "peer.left", m);
  bus_presence_remove(id, m->name);
  if (bus_shared())
    bus_alias_release(id, m->name, m->peer_id);
  hub_leave(m);
  free(m->name);
  m->name = NULL;
  live_release(id);
}

static void leave(struct hub_member *m) {
  leave_told(m, false);
}

static void evict_told(struct hub_member *m, const char *code, const char *message, bool told) {
  conn *c = m->c;
  ws_room_send_error(c, code, message);
  leave_told(m, told);
  ws_close(c, WS_CLOSE_POLICY, code);
}

static void evict(struct hub_member *m, const char *code, const char *message) {
  evict_told(m, code, message, false);
}

static void add_member(void *ctx, const char *peer_id, const char *alias) {
  json_array_append_new(ctx, json_pack("{s:s, s:s}", "peer", peer_id, "alias", alias));
}

static void send_presence(conn *c, const char *room_id) {
  json_t *list = json_array();
  if (list)
    bus_presence_each(room_id, add_member, list);
  ws_room_emit_json(json_pack("{s:s, s:o}", "type", "presence", "members", list), c, NULL, NULL);
}

static json_t *message_frame(const struct message_row *msg) {
  json_t *o = chat_message_json(msg);
  if (o)
    json_object_set_new(o, "type", json_string("chat.message"));
  return o;
}

/* {"type":"replay"}: the messages after an id, sent as they are read;
 * what the member sends meanwhile waits behind them. */
static void replay_one(void *ctx, int status, const struct message_row *msg) {
  struct ws_wait *w = ctx;
  conn *c = ws_wait_conn(w);
  if (msg) {
    if (c)
      ws_room_emit_json(message_frame(msg), c, NULL, NULL);
    return;
  }
  if (c && status < 0)
    ws_room_send_error(c, "storage_unavailable", "The messages could not be read; try again.");
  ws_wait_end(w);
}

static void replay(conn *c, const char *room_id, int64_t after) {
  store_messages_after(((struct app *)c->srv->app)->store, room_id, after, CHAT_REPLAY_MAX,
                       replay_one, ws_wait_begin(ws_member(c)->wait));
}

static bool alias_live(void *ctx, const char *alias) {
  return bus_presence_has(ctx, alias);
}

static void refuse(conn *c, const struct chat_join *j) {
  char when[32];
  switch (j->refusal) {
  case JOIN_NOT_OPEN:
    time_iso8601(j->after_or_opens_at, when, sizeof when);
    ws_room_emit_json(json_pack("{s:s, s:s, s:s, s:s}", "type", "error", "code", "room_not_open",
                                "message", "This room is not open yet.", "opens_at", when),
                      c, NULL, NULL);
    break;
  case JOIN_CLOSED: ws_room_send_error(c, "room_closed", "This room has closed."); break;
  case JOIN_LOCKED:
    ws_room_send_error(c, "locked", "This room has a password: unlock it first.");
    break;
  default: ws_room_send_error(c, "removed", "The room's owner removed you from this room.");
  }
  ws_close(c, WS_CLOSE_POLICY, "refused");
}

/* The same device again (a reload, a new tab) replaces its old socket,
 * which frees the alias for the new one. Runs before the new member joins,
 * so it does not hear the old one leave. */
static void replace_same_device(const char *room_id, const uint8_t device_hash[DEVICE_HASH_LEN]) {
  struct hub_room *r = hub_find_room(room_id, STORE_ID_LEN);
  for (uint32_t i = 0; r && i < r->count; i++) {
    struct hub_member *o = r->members[i];
    if (memcmp(o->device_hash, device_hash, DEVICE_HASH_LEN) == 0) {
      evict(o, "replaced", "This device joined the room again elsewhere.");
      return;
    }
  }
}

/* What the welcome tells of the room, read as the member joins. */
struct room_facts {
  int found;
  int64_t opens_at, closes_at;
  char code[STORE_CODE_LEN + 1];
  char title[ROOM_TITLE_MAX + 1];
};

static void read_facts(struct room_facts *f, const struct room_row *room) {
  f->found = 1;
  f->opens_at = room->opens_at;
  f->closes_at = room->closes_at;
  memcpy(f->code, room->code, sizeof f->code);
  snprintf(f->title, sizeof f->title, "%s", room->title ? room->title : "");
}

/* The room's closing timer, started by its first member here. */
static struct live_room *live_for(conn *c, const char *room_id, const struct room_facts *f) {
  struct live_room *l = hmap_get(&live_rooms, room_id, STORE_ID_LEN);
  return l ? l : live_get(((struct app *)c->srv->app)->loop, room_id, f->closes_at);
}

static void send_welcome(conn *c, struct hub_member *m, const char *room_id,
                         const struct room_facts *f) {
  char opens[32], closes[32];
  time_iso8601(f->opens_at, opens, sizeof opens);
  time_iso8601(f->closes_at, closes, sizeof closes);
  ws_room_emit_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "welcome",
                              "peer_id", m->peer_id, "alias", m->name, "room", room_id, "code",
                              f->code, "title", f->title, "opens_at", opens, "closes_at", closes),
                    c, NULL, NULL);
}

/* The alias the member asks for: the chosen one, or one made from its
 * device (so it keeps it across reconnects). */
static void alias_base(const struct chat_join *j, char base[ALIAS_MAX + 1]) {
  if (j->alias[0])
    snprintf(base, ALIAS_MAX + 1, "%s", j->alias);
  else
    alias_generate(j->device_hash, base);
}

/* Gives the member its alias: alias as claimed across instances, or
 * (alone) the base with a suffix when it is live already here. 0 or -1. */
static int take_alias(struct hub_member *m, const struct chat_join *j, const char *claimed) {
  char base[ALIAS_MAX + 1], alias[ALIAS_MAX + 1];
  if (claimed) {
    snprintf(alias, sizeof alias, "%s", claimed);
  } else {
    alias_base(j, base);
    if (alias_resolve(base, alias_live, (void *)j->room, alias) < 0)
      return -1;
  }
  m->name = strdup(alias);
  if (!m->name)
    return -1;
  if (bus_presence_add(j->room, alias, m->peer_id) < 0) {
    free(m->name);
    m->name = NULL;
    return -1;
  }
  return 0;
}

/* A member joining: its ban looked up, the room's facts read, the
 * messages it missed read, before it joins under its alias and hears its
 * welcome, all in one turn. Frames it sends meanwhile are held. */
struct chat_joining {
  struct app *app;
  struct ws_wait *w;
  struct chat_join j;
  struct room_facts facts;
  json_t *replayed; /* frames of the messages missed */
  int replay_status;
  char peer_id[HUB_PEER_ID_LEN + 1]; /* drawn before the alias is claimed in Redis */
};

static void joining_free(struct chat_joining *cj) {
  json_decref(cj->replayed);
  ws_wait_end(cj->w);
  free(cj);
}

static void join_fail(struct chat_joining *cj, const char *code, const char *message) {
  conn *c = ws_wait_conn(cj->w);
  if (c) {
    ws_room_send_error(c, code, message);
    ws_close(c, 1011, "join failed");
  }
  joining_free(cj);
}

static void send_presence_list(conn *c, const struct bus_alias_claim *claim) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < claim->live_count; i++)
    add_member(list, claim->live[2 * i + 1], claim->live[2 * i]);
  ws_room_emit_json(json_pack("{s:s, s:o}", "type", "presence", "members", list), c, NULL, NULL);
}

/* The same device was live on another instance: its room hears it left
 * now (before the new one joins, which does not hear it), and its
 * instance closes its socket quietly. */
static void replace_elsewhere(struct hub_member *m, const struct bus_alias_claim *claim) {
  static const char code[] = "replaced";
  if (!claim || !claim->old_instance[0] || strlen(claim->old_peer) > BUS_ID_MAX)
    return;
  ws_room_emit_json(json_pack("{s:s, s:s, s:s}", "type", "peer.left", "peer", claim->old_peer,
                              "alias", claim->alias),
                    NULL, m->room, m);
  struct bus_envelope e = {.kind = BUS_CHAT_EVICT, .proto = HUB_NATIVE, .count = 1};
  e.room = m->room->name;
  e.room_len = m->room->name_len;
  e.except = "";
  e.target = claim->old_peer;
  e.target_len = (uint8_t)strlen(claim->old_peer);
  e.parts[0] = (struct bus_part){.p = (const uint8_t *)code, .len = sizeof code - 1};
  bus_publish_instance(claim->old_instance, &e);
}

/* Joins under the alias (claimed in Redis, or NULL: chosen here) and
 * hears the welcome, the presence and what it missed, in one turn. */
static void join_enter(struct chat_joining *cj, const struct bus_alias_claim *claim) {
  conn *c = ws_wait_conn(cj->w);
  const struct chat_join *j = &cj->j;
  struct hub_member *m = member(c);
  int joined = claim ? hub_join_as(m, c, j->room, STORE_ID_LEN, cj->peer_id)
                     : hub_join(m, c, j->room, STORE_ID_LEN);
  if (joined < 0) {
    if (claim)
      bus_alias_release(j->room, claim->alias, cj->peer_id);
    join_fail(cj, "join_failed", "Could not join the room; try again.");
    return;
  }
  m->room->stored = 1;
  if (!live_for(c, j->room, &cj->facts) || take_alias(m, j, claim ? claim->alias : NULL) < 0) {
    if (claim)
      bus_alias_release(j->room, claim->alias, cj->peer_id);
    hub_leave(m);
    live_release(j->room);
    join_fail(cj, "join_failed", "Could not join the room; try again.");
    return;
  }
  struct log_field f[] = {LOG_STR("room", j->room), LOG_STR("peer", m->peer_id),
                          LOG_STR("addr", conn_peer_text(c))};
  log_fields(LOG_INFO, "chat.join", f, 3);
  replace_elsewhere(m, claim);
  send_welcome(c, m, j->room, &cj->facts);
  if (claim)
    send_presence_list(c, claim);
  else
    send_presence(c, j->room);
  size_t i;
  json_t *frame;
  json_array_foreach(cj->replayed, i, frame) {
    ws_room_emit_json(json_incref(frame), c, NULL, NULL);
  }
  if (cj->replay_status < 0)
    ws_room_send_error(c, "storage_unavailable",
                       "The messages missed could not be read; send a replay.");
  if (m->room)
    peer_event(m, "peer.joined", m);
  joining_free(cj);
}

static void alias_claimed(void *ctx, const struct bus_alias_claim *claim) {
  struct chat_joining *cj = ctx;
  if (!ws_wait_conn(cj->w)) {
    if (claim)
      bus_alias_release(cj->j.room, claim->alias, cj->peer_id);
    joining_free(cj);
  } else if (!claim && bus_up()) {
    join_fail(cj, "join_failed", "Could not join the room; try again.");
  } else { /* claimed, or Redis went away meanwhile: this instance decides alone */
    join_enter(cj, claim);
  }
}

/* With --redis the alias is claimed across instances first, under the
 * peer id the member will have. */
static bool claim_alias(struct chat_joining *cj) {
  char base[ALIAS_MAX + 1], device[DEVICE_HASH_LEN * 2 + 1];
  if (!bus_up())
    return false;
  alias_base(&cj->j, base);
  sodium_bin2hex(device, sizeof device, cj->j.device_hash, DEVICE_HASH_LEN);
  rand_base62(cj->peer_id, HUB_PEER_ID_LEN);
  cj->peer_id[HUB_PEER_ID_LEN] = 0;
  return bus_alias_claim(cj->j.room, base, ALIAS_SUFFIX_MAX, cj->peer_id, device, alias_claimed,
                         cj);
}

static void join_finish(struct chat_joining *cj) {
  if (!ws_wait_conn(cj->w)) {
    joining_free(cj);
    return;
  }
  replace_same_device(cj->j.room, cj->j.device_hash);
  if (!claim_alias(cj))
    join_enter(cj, NULL);
}

static void replayed_one(void *ctx, int status, const struct message_row *msg) {
  struct chat_joining *cj = ctx;
  if (!msg) {
    cj->replay_status = status;
    join_finish(cj);
    return;
  }
  if (!ws_wait_conn(cj->w))
    return;
  if (!cj->replayed)
    cj->replayed = json_array();
  if (json_array_append_new(cj->replayed, message_frame(msg)) < 0)
    cj->replay_status = STORE_FAILED;
}

static void got_facts(void *ctx, int status, const struct room_row *room) {
  struct chat_joining *cj = ctx;
  if (room)
    read_facts(&cj->facts, room);
  if (!ws_wait_conn(cj->w))
    joining_free(cj);
  else if (status < 0 && status != STORE_NOT_FOUND)
    join_fail(cj, "storage_unavailable", "The room could not be read; try again.");
  else if (!cj->facts.found)
    join_fail(cj, "join_failed", "Could not join the room; try again.");
  else if (cj->j.after_or_opens_at >= 0)
    store_messages_after(cj->app->store, cj->j.room, cj->j.after_or_opens_at, CHAT_REPLAY_MAX,
                         replayed_one, cj);
  else
    join_finish(cj);
}

static void got_ban(void *ctx, int status) {
  struct chat_joining *cj = ctx;
  conn *c = ws_wait_conn(cj->w);
  if (!c) {
    joining_free(cj);
  } else if (status == STORE_OK) {
    cj->j.refusal = JOIN_REMOVED;
    refuse(c, &cj->j);
    joining_free(cj);
  } else if (status != STORE_NOT_FOUND) {
    join_fail(cj, "storage_unavailable", "The room could not be read; try again.");
  } else {
    store_room_get(cj->app->store, cj->j.room, STORE_ID_LEN, got_facts, cj);
  }
}

static void handle_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len);

static void on_open(conn *c) {
  struct chat_join j;
  memcpy(&j, ws_app_state(c), sizeof j);
  struct ws_member *wm = ws_member(c);
  memset(wm, 0, sizeof *wm);
  if (j.refusal != JOIN_OK) {
    refuse(c, &j);
    return;
  }
  memcpy(wm->m.device_hash, j.device_hash, DEVICE_HASH_LEN);
  wm->wait = ws_wait_new(c, handle_message);
  struct chat_joining *cj = wm->wait ? calloc(1, sizeof *cj) : NULL;
  if (!cj) {
    ws_close(c, 1011, "out of memory");
    return;
  }
  cj->app = c->srv->app;
  cj->w = ws_wait_begin(wm->wait);
  cj->j = j;
  store_ban_exists(cj->app->store, j.room, j.device_hash, got_ban, cj);
}

static void on_close(conn *c) {
  struct hub_member *m = member(c);
  ws_wait_closed(ws_member(c)->wait); /* answers still due find no connection */
  ws_member(c)->wait = NULL;
  if (!m->room)
    return;
  struct log_field f[] = {LOG_STRN("room", m->room->name, m->room->name_len),
                          LOG_STR("peer", m->peer_id)};
  log_fields(LOG_INFO, "chat.leave", f, 2);
  leave(m);
}

static void bad(conn *c, const char *code, const char *message) {
  ws_room_send_error(c, code, message);
  ws_count_error(c);
}

/* A chat message being stored: its row (with copies of the alias and the
 * text), to be sent once the store gives its id. */
struct chat_send {
  struct ws_wait *w;
  struct message_row row;
};

static struct chat_send *chat_send_new(conn *c, const struct hub_member *m, const char *text,
                                       size_t len, int64_t now) {
  size_t alias_len = strlen(m->name);
  struct chat_send *cs = malloc(sizeof *cs + alias_len + 1 + len + 1);
  if (!cs)
    return NULL;
  char *alias = (char *)(cs + 1), *copy = alias + alias_len + 1;
  memcpy(alias, m->name, alias_len + 1);
  memcpy(copy, text, len);
  copy[len] = '\0';
  cs->row = (struct message_row){.alias = alias, .text = copy, .text_len = len, .created_at = now};
  memcpy(cs->row.room_id, m->room->name, STORE_ID_LEN);
  cs->row.room_id[STORE_ID_LEN] = '\0';
  cs->w = ws_wait_begin(ws_member(c)->wait);
  return cs;
}

/* Stored: everyone in the room hears it, even if the sender left since.
 * The sender's next frames waited for this, so its messages go out in
 * the order it sent them. */
static void message_stored(void *ctx, int status, int64_t id) {
  struct chat_send *cs = ctx;
  conn *c = ws_wait_conn(cs->w);
  struct hub_room *room = hub_find_room(cs->row.room_id, STORE_ID_LEN);
  if (status == STORE_OK && room) {
    cs->row.id = id;
    ws_room_emit_json(message_frame(&cs->row), NULL, room, NULL);
  } else if (status < 0 && c) {
    ws_room_send_error(c, "storage_unavailable", "The message was not saved; send it again.");
  }
  ws_wait_end(cs->w);
  free(cs);
}

/* {"type":"chat","text":...}: stored first, then sent to everyone (the
 * sender too: its copy carries the id and time). */
static void chat(conn *c, struct hub_member *m, json_t *msg) {
  struct app *app = c->srv->app;
  json_t *text = json_object_get(msg, "text");
  size_t len = json_string_length(text);
  if (!json_is_string(text) || len == 0 || len > CHAT_TEXT_MAX) {
    bad(c, "bad_text", "A chat message is 1 to 4096 bytes of text.");
    return;
  }
  uint32_t rate =
      c->srv->cfg->chat_rate > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)c->srv->cfg->chat_rate;
  if (!bucket_take(&m->chat, uv_now(app->loop), rate, rate * 2, 1)) {
    ws_room_send_error(c, "rate_limited", "Too many messages; slow down.");
    return;
  }
  struct live_room *l = hmap_get(&live_rooms, m->room->name, STORE_ID_LEN);
  int64_t now = time_now_ms();
  if (l && now >= l->closes_at) {
    ws_room_send_error(c, "room_closed", "This room has closed.");
    return;
  }
  struct chat_send *cs = chat_send_new(c, m, json_string_value(text), len, now);
  if (!cs) {
    ws_room_send_error(c, "internal", "Out of memory.");
    return;
  }
  store_message_insert(app->store, &cs->row, message_stored, cs);
}

static void typing(conn *c, struct hub_member *m) {
  if (!bucket_take(&m->signals, uv_now(c->srv->loop), TYPING_RATE, TYPING_RATE * 2, 1))
    return; /* a typing notice more or less is not worth an error */
  peer_event(m, "typing", m);
}

static void handle_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct hub_member *m = member(c);
  if (!m->room)
    return;
  json_error_t jerr;
  json_t *msg = op == WS_OP_TEXT ? json_loadb((const char *)data, len, 0, &jerr) : NULL;
  const char *type = json_string_value(json_object_get(msg, "type"));
  if (!json_is_object(msg) || !type) {
    bad(c, "bad_message", "A message is a JSON object with a type.");
  } else if (strcmp(type, "chat") == 0) {
    chat(c, m, msg);
  } else if (strcmp(type, "typing") == 0) {
    typing(c, m);
  } else if (strcmp(type, "replay") == 0) {
    json_t *after = json_object_get(msg, "after");
    if (!json_is_integer(after) || json_integer_value(after) < 0)
      bad(c, "bad_message", "after is the last message id seen (0 or more).");
    else
      replay(c, m->room->name, json_integer_value(after));
  } else {
    bad(c, "unknown_type", "Unknown message type.");
  }
  json_decref(msg);
}

/* While the member waits on the store (its join, a message being
 * stored), what it sends waits behind, in order. */
static void on_message(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  struct ws_wait *w = ws_member(c)->wait;
  if (w && ws_wait_busy(w))
    ws_wait_hold(w, op, data, len);
  else
    handle_message(c, op, data, len);
}

static const struct ws_handler chat_ws = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* Reads ?device=&alias=&after=; answers 400 itself and returns -1. */
static int read_join_query(struct http_req *r, const struct room_row *room, struct chat_join *j) {
  char device[DEVICE_KEY_MAX + 2], alias[ALIAS_BASE_MAX * 2 + 2], after[24];
  int n = query_param(r->query, r->query_len, "device", device, sizeof device);
  if (n < 0 || alias_device_hash(device, (size_t)n, room->id, j->device_hash) < 0) {
    http_respond_error(r, 400, "bad_device",
                       "device is a key of 16 to 64 characters (A-Z, a-z, 0-9, _ and -) that "
                       "the client keeps.");
    return -1;
  }
  n = query_param(r->query, r->query_len, "alias", alias, sizeof alias);
  if (n == -2 || (n >= 0 && alias_choose(alias, (size_t)n, j->alias) < 0)) {
    http_respond_error(r, 400, "bad_alias", "An alias is 1 to 40 bytes of text.");
    return -1;
  }
  n = query_param(r->query, r->query_len, "after", after, sizeof after);
  if (n != -1) {
    char *end;
    long long v = n > 0 ? strtoll(after, &end, 10) : -1;
    if (n <= 0 || *end || v < 0) {
      http_respond_error(r, 400, "bad_query", "after is the last message id seen (0 or more).");
      return -1;
    }
    j->after_or_opens_at = v;
  }
  return 0;
}

void chat_ws_join(struct http_req *r, const struct room_row *room) {
  struct app *app = app_of(r);
  struct chat_join j = {.after_or_opens_at = -1};
  memcpy(j.room, room->id, STORE_ID_LEN + 1);
  if (read_join_query(r, room, &j) < 0)
    return;
  enum room_state st = schedule_state(room->opens_at, room->closes_at, time_now_ms());
  char token[CHAT_UNLOCK_TOKEN_LEN + 2];
  int tlen = query_param(r->query, r->query_len, "token", token, sizeof token);
  /* Refusals go over the WebSocket, as an error the client can show (with
   * the opening time for a countdown), rather than as a bare HTTP status
   * that browsers hide from scripts. */
  if (st == ROOM_SCHEDULED) {
    j.refusal = JOIN_NOT_OPEN;
    j.after_or_opens_at = room->opens_at;
  } else if (st == ROOM_CLOSED) {
    j.refusal = JOIN_CLOSED;
  } else if (room->password_hash &&
             (tlen < 0 || !chat_unlock_valid(app->unlock_key, room, token, (size_t)tlen))) {
    j.refusal = JOIN_LOCKED;
  }
  /* A removed device is refused once the socket is open (on_open asks
   * the store). */
  ws_accept(r, &chat_ws, &j, sizeof j);
}

void chat_ws_closes_at_local(const char *room_id, int64_t closes_at) {
  struct live_room *l = hmap_get(&live_rooms, room_id, STORE_ID_LEN);
  if (l)
    live_arm(l, closes_at);
}

void chat_ws_rescheduled(struct app *app, const char *room_id, int64_t closes_at) {
  (void)app;
  chat_ws_closes_at_local(room_id, closes_at);
  /* The room may be live on other instances too, each with its timer. */
  char when[24];
  int n = snprintf(when, sizeof when, "%lld", (long long)closes_at);
  if (!bus_up() || n <= 0 || (size_t)n >= sizeof when)
    return;
  struct bus_envelope e = {.kind = BUS_CHAT_CLOSES, .proto = HUB_NATIVE, .count = 1};
  e.room = room_id;
  e.room_len = STORE_ID_LEN;
  e.except = e.target = "";
  e.parts[0] = (struct bus_part){.p = (const uint8_t *)when, .len = (uint32_t)n};
  bus_publish_room(&e);
}

void chat_ws_message_deleted(const char *room_id, int64_t id) {
  char text[96];
  int n = snprintf(text, sizeof text, "{\"type\":\"chat.deleted\",\"id\":%lld}", (long long)id);
  buf *f = hub_room_anywhere(room_id, STORE_ID_LEN) && n > 0 && (size_t)n < sizeof text
               ? ws_frame_build(WS_OP_TEXT, text, (size_t)n)
               : NULL;
  if (f) /* members may be on other instances */
    hub_broadcast_named(room_id, STORE_ID_LEN, f, NULL, 0);
  buf_unref(f);
}

/* A removal waiting for the ban to be stored; the member's frames wait
 * too (it sends nothing more into the room meanwhile). */
struct removal {
  struct ws_wait *w;
  store_done_cb done;
  void *ctx;
  char room_id[STORE_ID_LEN + 1];
};

static void ban_stored(void *ctx, int status) {
  struct removal *rm = ctx;
  conn *c = ws_wait_conn(rm->w);
  if (status == STORE_OK && c && member(c)->room) {
    struct log_field f[] = {LOG_STR("room", rm->room_id), LOG_STR("peer", member(c)->peer_id)};
    log_fields(LOG_INFO, "chat.removed", f, 2);
    evict(member(c), "removed", "The room's owner removed you from this room.");
  }
  rm->done(rm->ctx, status);
  ws_wait_end(rm->w);
  free(rm);
}

void chat_ws_evict_local(const char *room_id, const char *peer_id, size_t peer_len,
                         const char *code, size_t code_len) {
  struct hub_member *m = hub_find_peer(peer_id, peer_len);
  if (!m || !m->room || m->proto != HUB_NATIVE || m->room->name_len != STORE_ID_LEN ||
      memcmp(m->room->name, room_id, STORE_ID_LEN) != 0 || !m->name)
    return;
  if (code_len == 8 && memcmp(code, "replaced", 8) == 0) {
    /* The instance it joined again at announced it left. */
    evict_told(m, "replaced", "This device joined the room again elsewhere.", true);
  } else {
    struct log_field f[] = {LOG_STR("room", m->room->name), LOG_STR("peer", m->peer_id)};
    log_fields(LOG_INFO, "chat.removed", f, 2);
    evict(m, "removed", "The room's owner removed you from this room.");
  }
}

/* A removal of a member live on another instance: its ban stored here
 * (the database is shared, so no instance lets it back), then its
 * instance told to put it out. */
struct remote_removal {
  struct app *app;
  store_done_cb done;
  void *ctx;
  char room_id[STORE_ID_LEN + 1];
  char instance[BUS_INSTANCE_MAX + 1];
  char peer_id[HUB_PEER_ID_LEN + 1];
};

static void remote_ban_stored(void *ctx, int status) {
  static const char code[] = "removed";
  struct remote_removal *rm = ctx;
  if (status == STORE_OK) {
    struct bus_envelope e = {.kind = BUS_CHAT_EVICT, .proto = HUB_NATIVE, .count = 1};
    e.room = rm->room_id;
    e.room_len = STORE_ID_LEN;
    e.except = "";
    e.target = rm->peer_id;
    e.target_len = HUB_PEER_ID_LEN;
    e.parts[0] = (struct bus_part){.p = (const uint8_t *)code, .len = sizeof code - 1};
    if (!bus_publish_instance(rm->instance, &e))
      log_msg(LOG_WARN, "chat.remove_unsent",
              "peer %s of room %s is banned but its instance %s was not told", rm->peer_id,
              rm->room_id, rm->instance);
  }
  rm->done(rm->ctx, status);
  free(rm);
}

static void alias_holder(void *ctx, const char *instance, const char *peer_id,
                         const char *device_hex) {
  struct remote_removal *rm = ctx;
  uint8_t device[DEVICE_HASH_LEN];
  size_t n = 0;
  if (!instance || strlen(instance) > BUS_INSTANCE_MAX || strlen(peer_id) != HUB_PEER_ID_LEN ||
      sodium_hex2bin(device, sizeof device, device_hex, strlen(device_hex), NULL, &n, NULL) != 0 ||
      n != DEVICE_HASH_LEN) {
    rm->done(rm->ctx, STORE_NOT_FOUND);
    free(rm);
    return;
  }
  strcpy(rm->instance, instance);
  strcpy(rm->peer_id, peer_id);
  store_ban_insert(rm->app->store, rm->room_id, device, remote_ban_stored, rm);
}

void chat_ws_remove(struct app *app, const char *room_id, const char *alias, store_done_cb done,
                    void *ctx) {
  struct hub_room *r = hub_find_room(room_id, STORE_ID_LEN);
  for (uint32_t i = 0; r && i < r->count; i++) {
    struct hub_member *m = r->members[i];
    if (!m->name || strcmp(m->name, alias) != 0)
      continue;
    struct ws_wait *w = ws_member(m->c)->wait;
    struct removal *rm = w ? malloc(sizeof *rm) : NULL;
    if (!rm) {
      done(ctx, STORE_FAILED);
      return;
    }
    *rm = (struct removal){.w = ws_wait_begin(w), .done = done, .ctx = ctx};
    memcpy(rm->room_id, room_id, STORE_ID_LEN + 1);
    store_ban_insert(app->store, room_id, m->device_hash, ban_stored, rm);
    return;
  }
  struct remote_removal *rm = bus_up() ? calloc(1, sizeof *rm) : NULL;
  if (rm) {
    *rm = (struct remote_removal){.done = done, .ctx = ctx, .app = app};
    memcpy(rm->room_id, room_id, STORE_ID_LEN + 1);
    if (bus_alias_find(room_id, alias, alias_holder, rm))
      return;
    free(rm);
  }
  done(ctx, STORE_NOT_FOUND);
}

void chat_ws_relist(void) {
  char device[DEVICE_HASH_LEN * 2 + 1];
  for (struct live_room *l = live_list; l; l = l->next) {
    struct hub_room *r = hub_find_room(l->id, STORE_ID_LEN);
    for (uint32_t i = 0; r && i < r->count; i++) {
      struct hub_member *m = r->members[i];
      if (!m->name)
        continue;
      sodium_bin2hex(device, sizeof device, m->device_hash, DEVICE_HASH_LEN);
      bus_alias_keep(l->id, m->name, m->peer_id, device);
    }
  }
}

void chat_ws_stop(void) {
  stopped = true;
  while (live_list)
    live_drop(live_list);
  hmap_free(&live_rooms);
}
