/* The shared bus: Redis through hiredis on the loop (its libuv adapter).
 *
 * Two connections: one for commands and PUBLISH, one in subscriber mode
 * (Redis allows nothing else on it). Each reconnects on its own with a
 * backoff (100 ms doubling to 5 s); the subscriber resubscribes to every
 * channel it had. While either is down the bus is not up: publishes are
 * refused, so the hub delivers locally and this instance keeps serving
 * its own members.
 *
 * Keys (the names say whose they are):
 *   tandem:room:<room>        channel: the room's events
 *   tandem:instance:<id>      channel: events for one member on that instance;
 *                             key: the instance is alive (PX BUS_TTL_MS)
 *   tandem:members:<room>     hash: peer id -> "<instance>\n<proto>\n<info json>"
 *   tandem:aliases:<room>     hash: a chat room's live alias -> "<instance>\n<peer>\n<device>"
 *   tandem:gone:<id>          the others took that instance's members out
 *                             (it was silent); it announces them again
 *
 * A room's channel is subscribed when the room gets its first local member;
 * a publish made before Redis confirmed that subscription waits for it, so
 * the publishing instance hears its own message like everyone else. */
#include <errno.h>
#include <stdarg.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "metrics.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/rand.h"

#define HOST_MAX 256
#define KEY_MAX 128
#define PENDING_MAX 256 /* publishes a channel holds while its subscription is confirmed */
#define STOP_WAIT_MS 1000
/* A connect not done by then is given up (hiredis 0.14's libuv adapter
 * drops the poll error of a refused connect, which would wait forever). */
#define CONNECT_TIMEOUT_MS 1000

struct link {
  redisAsyncContext *ac;
  bool connected; /* TCP is up (hiredis calls on_disconnect when it goes) */
  bool up;        /* and Redis answered on it */
  bool subscriber;
  uint64_t backoff_ms;
  uv_timer_t retry; /* the next attempt, or the current one's deadline */
  const char *name;
};

struct pending_msg {
  struct pending_msg *next;
  size_t len;
  uint8_t data[];
};

struct members_query {
  struct members_query *next; /* waiting for the channel's subscription */
  bus_members_fn done;
  void *ctx;
  char key[KEY_MAX];
};

/* A room channel this instance listens on. */
struct channel {
  bool confirmed; /* Redis said subscribed on the current connection */
  bool local;     /* the room has local members */
  struct pending_msg *first, *last;
  uint32_t pending;
  struct members_query *queries; /* member lists asked before the subscription was confirmed */
  uint32_t unconfirmed_beats;
  uint8_t len;
  char room[BUS_ID_MAX + 1]; /* the map's key */
};

static struct {
  bool shared, stopping, was_up, down_logged;
  bool beat_unanswered; /* the last heartbeat's SET has no reply yet */
  uv_loop_t *loop;
  struct bus_hooks hooks;
  char host[HOST_MAX];
  int port, db;
  char id[BUS_INSTANCE_MAX + 1];
  struct link cmd, sub;
  uv_timer_t heartbeat, stop_timer;
  hmap channels; /* room -> struct channel */
} bus;

static void link_connect(struct link *l);

/* ------------------------------------------------------------------------
 * Configuration */

int bus_redis_url_parse(const char *url, char *host, size_t host_cap, int *port, int *db, char *err,
                        size_t errlen) {
  static const char scheme[] = "redis://";
  if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
    snprintf(err, errlen, "--redis: expected redis://host:port[/db], got %s", url);
    return -1;
  }
  const char *p = url + sizeof scheme - 1, *end;
  if (*p == '[') { /* an IPv6 address */
    end = strchr(p, ']');
    if (!end) {
      snprintf(err, errlen, "--redis: unclosed [ in %s", url);
      return -1;
    }
    p++;
  } else {
    end = p + strcspn(p, ":/");
  }
  size_t n = (size_t)(end - p);
  if (n == 0 || n >= host_cap) {
    snprintf(err, errlen, "--redis: bad host in %s", url);
    return -1;
  }
  memcpy(host, p, n);
  host[n] = 0;
  p = *end == ']' ? end + 1 : end;
  *port = 6379;
  *db = 0;
  char *stop;
  if (*p == ':') {
    long v = strtol(p + 1, &stop, 10);
    if (stop == p + 1 || v < 1 || v > 65535) {
      snprintf(err, errlen, "--redis: bad port in %s", url);
      return -1;
    }
    *port = (int)v;
    p = stop;
  }
  if (*p == '/' && p[1]) {
    long v = strtol(p + 1, &stop, 10);
    if (stop == p + 1 || *stop || v < 0 || v > 1000) {
      snprintf(err, errlen, "--redis: bad database number in %s", url);
      return -1;
    }
    *db = (int)v;
  } else if (*p && strcmp(p, "/") != 0) {
    snprintf(err, errlen, "--redis: unexpected %s in %s", p, url);
    return -1;
  }
  return 0;
}

static bool id_valid(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > BUS_INSTANCE_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  }
  return true;
}

/* ------------------------------------------------------------------------
 * State: logged once per change */

bool bus_shared(void) {
  return bus.shared;
}

bool bus_up(void) {
  return bus.shared && !bus.stopping && bus.cmd.up && bus.sub.up;
}

const char *bus_instance(void) {
  return bus.id;
}

/* One line when Redis comes up, one when it goes away (or is not there
 * at the start), however many retries between. */
static void note_state(bool failed) {
  bool up = bus_up();
  metrics.redis_up = up;
  if (up && !bus.was_up) {
    log_msg(LOG_WARN, "redis.up", "connected to %s:%d; rooms are shared (instance %s)", bus.host,
            bus.port, bus.id);
    bus.down_logged = false;
  } else if (!up && !bus.stopping && (bus.was_up || (failed && !bus.down_logged))) {
    log_msg(LOG_WARN, "redis.down",
            "redis at %s:%d is unreachable; serving local members only, retrying", bus.host,
            bus.port);
    bus.down_logged = true;
  }
  bus.was_up = up;
}

/* ------------------------------------------------------------------------
 * Channels */

static int channel_name(char *out, size_t cap, const char *room, size_t len) {
  int n = snprintf(out, cap, "tandem:room:%.*s", (int)len, room);
  return n > 0 && (size_t)n < cap ? n : -1;
}

static int members_key(char *out, size_t cap, const char *room, size_t len) {
  int n = snprintf(out, cap, "tandem:members:%.*s", (int)len, room);
  return n > 0 && (size_t)n < cap ? n : -1;
}

/* Publishes envelope bytes on a channel over the command link. */
static bool publish_raw(const char *channel, size_t channel_len, const uint8_t *data, size_t len) {
  if (!bus.cmd.up || redisAsyncCommand(bus.cmd.ac, NULL, NULL, "PUBLISH %b %b", channel,
                                       channel_len, data, len) != REDIS_OK)
    return false;
  metrics.bus_published++;
  return true;
}

/* Hands a held publish to the hub for local delivery (Redis went away). */
static void deliver_bytes(const uint8_t *data, size_t len) {
  struct bus_envelope e;
  if (bus_envelope_read(data, len, &e) == 0 && bus.hooks.deliver)
    bus.hooks.deliver(&e);
}

/* Sends (confirmed) or delivers locally (Redis away) what a channel held. */
static void channel_flush(struct channel *ch, bool send) {
  char name[KEY_MAX];
  int n = channel_name(name, sizeof name, ch->room, ch->len);
  struct pending_msg *p = ch->first;
  ch->first = ch->last = NULL;
  ch->pending = 0;
  while (p) {
    struct pending_msg *next = p->next;
    if (!send || n < 0 || !publish_raw(name, (size_t)n, p->data, p->len))
      deliver_bytes(p->data, p->len);
    free(p);
    p = next;
  }
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata);
static void link_ready(struct link *l);

static void subscribe(const char *channel, size_t len) {
  if (bus.sub.connected)
    redisAsyncCommand(bus.sub.ac, on_sub_reply, NULL, "SUBSCRIBE %b", channel, len);
}

static void channel_subscribe(struct channel *ch) {
  char name[KEY_MAX];
  int n = channel_name(name, sizeof name, ch->room, ch->len);
  if (n > 0)
    subscribe(name, (size_t)n);
}

static struct channel *channel_of(const char *room, size_t len) {
  return hmap_get(&bus.channels, room, len);
}

static void channel_queries(struct channel *ch, bool ask);

void bus_room_enter(const char *room, size_t len) {
  if (!bus.shared || bus.stopping || len > BUS_ID_MAX)
    return;
  struct channel *ch = channel_of(room, len);
  if (ch) {
    ch->local = true;
    return;
  }
  ch = calloc(1, sizeof *ch);
  if (!ch)
    return; /* its events are then delivered locally (bus_publish_room) */
  memcpy(ch->room, room, len);
  ch->len = (uint8_t)len;
  ch->local = true;
  if (hmap_put(&bus.channels, ch->room, ch->len, ch) < 0) {
    free(ch);
    return;
  }
  channel_subscribe(ch);
}

void bus_room_leave(const char *room, size_t len) {
  struct channel *ch = bus.shared ? channel_of(room, len) : NULL;
  if (ch)
    ch->local = false; /* let go at the next heartbeat, unless someone returns */
}

static void channel_free(struct channel *ch) {
  channel_flush(ch, false);
  channel_queries(ch, false);
  free(ch);
}

/* Channels whose rooms have had no local member since the last beat. */
static void channels_let_go(void) {
  struct channel *idle[64];
  size_t n = 0, pos = 0;
  struct channel *ch;
  while (n < sizeof idle / sizeof *idle && (ch = hmap_next(&bus.channels, &pos)))
    if (!ch->local)
      idle[n++] = ch;
  for (size_t i = 0; i < n; i++) {
    char name[KEY_MAX];
    int len = channel_name(name, sizeof name, idle[i]->room, idle[i]->len);
    if (len > 0 && bus.sub.connected)
      redisAsyncCommand(bus.sub.ac, on_sub_reply, NULL, "UNSUBSCRIBE %b", name, (size_t)len);
    hmap_del(&bus.channels, idle[i]->room, idle[i]->len);
    channel_free(idle[i]);
  }
}

/* ------------------------------------------------------------------------
 * Publishing */

static uint8_t *envelope_bytes(struct bus_envelope *e, size_t *len) {
  e->origin = bus.id;
  e->origin_len = (uint8_t)strlen(bus.id);
  *len = bus_envelope_size(e);
  uint8_t *out = *len ? malloc(*len) : NULL;
  if (out)
    bus_envelope_write(e, out);
  return out;
}

static bool channel_hold(struct channel *ch, const uint8_t *data, size_t len) {
  if (ch->pending >= PENDING_MAX)
    return false;
  struct pending_msg *p = malloc(sizeof *p + len);
  if (!p)
    return false;
  p->next = NULL;
  p->len = len;
  memcpy(p->data, data, len);
  if (ch->last)
    ch->last->next = p;
  else
    ch->first = p;
  ch->last = p;
  ch->pending++;
  return true;
}

bool bus_publish_room(struct bus_envelope *e) {
  if (!bus_up())
    return false;
  /* No channel here: this instance has no member to hear it (or no memory
   * to listen), the others may. */
  struct channel *ch = channel_of(e->room, e->room_len);
  size_t len;
  uint8_t *data = envelope_bytes(e, &len);
  if (!data)
    return false;
  bool sent;
  if (ch && !ch->confirmed) {
    sent = channel_hold(ch, data, len);
  } else {
    char name[KEY_MAX];
    int n = channel_name(name, sizeof name, e->room, e->room_len);
    sent = n > 0 && publish_raw(name, (size_t)n, data, len);
  }
  free(data);
  return sent;
}

bool bus_publish_instance(const char *instance, struct bus_envelope *e) {
  if (!bus_up())
    return false;
  char name[KEY_MAX];
  int n = snprintf(name, sizeof name, "tandem:instance:%s", instance);
  size_t len;
  uint8_t *data = n > 0 && (size_t)n < sizeof name ? envelope_bytes(e, &len) : NULL;
  bool sent = data && publish_raw(name, (size_t)n, data, len);
  free(data);
  return sent;
}

/* ------------------------------------------------------------------------
 * The subscriber: confirmations and messages */

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  (void)privdata;
  redisReply *reply = r;
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
    return;
  redisReply *kind = reply->element[0], *chan = reply->element[1], *body = reply->element[2];
  if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING)
    return;
  static const char prefix[] = "tandem:room:";
  const char *room = NULL;
  size_t room_len = 0;
  if ((size_t)chan->len > sizeof prefix - 1 && memcmp(chan->str, prefix, sizeof prefix - 1) == 0) {
    room = chan->str + sizeof prefix - 1;
    room_len = (size_t)chan->len - (sizeof prefix - 1);
  }
  struct channel *ch = room ? channel_of(room, room_len) : NULL;
  if (!room && strcmp(kind->str, "subscribe") == 0 && !bus.sub.up) {
    link_ready(&bus.sub); /* this instance's own channel: Redis answers */
    return;
  }
  if (strcmp(kind->str, "message") == 0 && body->type == REDIS_REPLY_STRING) {
    metrics.bus_received++;
    deliver_bytes((const uint8_t *)body->str, (size_t)body->len);
  } else if (strcmp(kind->str, "subscribe") == 0 && ch) {
    ch->confirmed = true;
    channel_flush(ch, true);
    channel_queries(ch, true);
  } else if (strcmp(kind->str, "unsubscribe") == 0 && ch) {
    /* The room came back while its channel was being let go: hiredis
     * forgets the callback with this reply, so subscribe once more. */
    ch->confirmed = false;
    channel_subscribe(ch);
  }
}

static void subscribe_all(void) {
  char name[KEY_MAX];
  int n = snprintf(name, sizeof name, "tandem:instance:%s", bus.id);
  subscribe(name, (size_t)n);
  size_t pos = 0;
  struct channel *ch;
  while ((ch = hmap_next(&bus.channels, &pos)))
    channel_subscribe(ch);
}

/* ------------------------------------------------------------------------
 * Connections */

static struct link *link_of(const redisAsyncContext *ac) {
  return ac->data;
}

static void link_lost(struct link *l);

/* Drops a connection that does not answer; hiredis calls the pending
 * callbacks (with no reply) and, when it was connected, on_disconnect. */
static void link_drop(struct link *l) {
  redisAsyncContext *ac = l->ac;
  bool connected = l->connected;
  if (!ac)
    return;
  redisAsyncFree(ac);
  if (!connected) /* no disconnect callback for a connect that never was */
    link_lost(l);
}

static void on_retry(uv_timer_t *t) {
  struct link *l = t->data;
  if (l->ac && !l->up)
    link_drop(l); /* the connect's deadline */
  else
    link_connect(l);
}

static void retry_later(struct link *l) {
  if (bus.stopping)
    return;
  uint64_t wait = l->backoff_ms;
  l->backoff_ms = l->backoff_ms * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS : l->backoff_ms * 2;
  uv_timer_start(&l->retry, on_retry, wait, 0);
}

/* The link went down: nothing sent on it is confirmed any more; what
 * channels held is delivered locally. */
static void link_lost(struct link *l) {
  l->ac = NULL;
  l->connected = false;
  if (!l->subscriber)
    bus.beat_unanswered = false;
  l->up = false;
  if (l->subscriber) {
    size_t pos = 0;
    struct channel *ch;
    while ((ch = hmap_next(&bus.channels, &pos))) {
      ch->confirmed = false;
      channel_flush(ch, false);
      channel_queries(ch, false);
    }
  }
  note_state(true);
  retry_later(l);
  if (bus.stopping && !bus.cmd.ac && !bus.sub.ac && bus.stop_timer.loop)
    uv_close((uv_handle_t *)&bus.stop_timer, NULL);
}

static void heartbeat(uv_timer_t *t);

/* Redis answered on the link: it is up. */
static void link_ready(struct link *l) {
  if (bus.stopping)
    return;
  l->up = true;
  metrics.redis_connects++;
  l->backoff_ms = BUS_BACKOFF_MIN_MS;
  uv_timer_stop(&l->retry);
  note_state(false);
  if (!l->subscriber) {
    heartbeat(NULL); /* announce this instance at once */
    if (bus.hooks.reconnected)
      bus.hooks.reconnected();
  }
}

static void on_pong(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  if (r && link_of(ac)->connected && !link_of(ac)->up)
    link_ready(link_of(ac));
}

/* Connected is not up yet: a stopped Redis still accepts connections.
 * The connect's deadline runs until Redis answers a PING (commands) or
 * confirms this instance's channel (subscriber). */
static void on_connect(const redisAsyncContext *ac, int status) {
  struct link *l = link_of(ac);
  if (status != REDIS_OK) { /* hiredis frees the context after this */
    link_lost(l);
    return;
  }
  l->connected = true;
  if (l->subscriber)
    subscribe_all();
  else
    redisAsyncCommand(l->ac, on_pong, NULL, "PING");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  (void)status;
  link_lost(link_of(ac));
}

static void link_connect(struct link *l) {
  if (bus.stopping || l->ac)
    return;
  redisAsyncContext *ac = redisAsyncConnect(bus.host, bus.port);
  if (!ac || ac->err) {
    if (ac)
      redisAsyncFree(ac);
    note_state(true);
    retry_later(l);
    return;
  }
  ac->data = l;
  if (redisLibuvAttach(ac, bus.loop) != REDIS_OK) {
    redisAsyncFree(ac);
    retry_later(l);
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  l->ac = ac;
  uv_timer_start(&l->retry, on_retry, CONNECT_TIMEOUT_MS, 0);
  /* Queued until connected; channels are the same in every database. */
  if (!l->subscriber && bus.db)
    redisAsyncCommand(ac, NULL, NULL, "SELECT %d", bus.db);
}

/* ------------------------------------------------------------------------
 * Members across instances */

void bus_member_add(const char *room, size_t len, const char *peer_id, uint8_t proto,
                    const char *info) {
  char key[KEY_MAX];
  if (!bus.cmd.up || members_key(key, sizeof key, room, len) < 0)
    return;
  redisAsyncCommand(bus.cmd.ac, NULL, NULL, "HSET %s %s %s\n%u\n%s", key, peer_id, bus.id,
                    (unsigned)proto, info);
  redisAsyncCommand(bus.cmd.ac, NULL, NULL, "PEXPIRE %s %d", key, BUS_TTL_MS * 4);
}

void bus_member_remove(const char *room, size_t len, const char *peer_id) {
  char key[KEY_MAX];
  if (bus.cmd.up && members_key(key, sizeof key, room, len) > 0)
    redisAsyncCommand(bus.cmd.ac, NULL, NULL, "HDEL %s %s", key, peer_id);
}

/* "<instance>\n<proto>\n<info>" in place: false when malformed. */
static bool member_parse(char *value, const char *peer_id, struct bus_member *m) {
  char *nl1 = strchr(value, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
  if (!nl2)
    return false;
  *nl1 = *nl2 = 0;
  m->peer_id = peer_id;
  m->instance = value;
  m->proto = (uint8_t)atoi(nl1 + 1);
  m->info = nl2 + 1;
  return true;
}

static void on_members(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct members_query *q = privdata;
  redisReply *reply = r;
  size_t cap = reply && reply->type == REDIS_REPLY_ARRAY ? reply->elements / 2 : 0, n = 0;
  struct bus_member *list = cap ? calloc(cap, sizeof *list) : NULL;
  for (size_t i = 0; list && i < cap; i++) {
    redisReply *k = reply->element[2 * i], *v = reply->element[2 * i + 1];
    if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
        member_parse(v->str, k->str, &list[n]) && strcmp(list[n].instance, bus.id) != 0)
      n++;
  }
  q->done(q->ctx, list, n);
  free(list);
  free(q);
}

static void members_ask(struct members_query *q) {
  if (!bus_up() || redisAsyncCommand(bus.cmd.ac, on_members, q, "HGETALL %s", q->key) != REDIS_OK) {
    q->done(q->ctx, NULL, 0);
    free(q);
  }
}

/* Answers the lists asked while the channel's subscription was pending:
 * from Redis once it is confirmed, with none when it will not be. */
static void channel_queries(struct channel *ch, bool ask) {
  struct members_query *q = ch->queries;
  ch->queries = NULL;
  while (q) {
    struct members_query *next = q->next;
    q->next = NULL;
    if (ask) {
      members_ask(q);
    } else {
      q->done(q->ctx, NULL, 0);
      free(q);
    }
    q = next;
  }
}

/* The list is read once this instance hears the room's channel: whatever
 * changes after the read then reaches it as an event, nothing falls in
 * between. */
void bus_members_get(const char *room, size_t len, bus_members_fn done, void *ctx) {
  struct members_query *q = bus_up() ? calloc(1, sizeof *q) : NULL;
  if (!q || members_key(q->key, sizeof q->key, room, len) < 0) {
    free(q);
    done(ctx, NULL, 0);
    return;
  }
  q->done = done;
  q->ctx = ctx;
  struct channel *ch = channel_of(room, len);
  if (ch && !ch->confirmed) {
    q->next = ch->queries;
    ch->queries = q;
    return;
  }
  members_ask(q);
}

struct member_query {
  bus_member_fn done;
  void *ctx;
  char peer_id[BUS_ID_MAX + 1];
};

static void on_member(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct member_query *q = privdata;
  redisReply *reply = r;
  struct bus_member m;
  bool found =
      reply && reply->type == REDIS_REPLY_STRING && member_parse(reply->str, q->peer_id, &m);
  q->done(q->ctx, found ? &m : NULL);
  free(q);
}

void bus_member_find(const char *room, size_t len, const char *peer_id, bus_member_fn done,
                     void *ctx) {
  char key[KEY_MAX];
  struct member_query *q = NULL;
  if (bus_up() && strlen(peer_id) <= BUS_ID_MAX && members_key(key, sizeof key, room, len) > 0 &&
      (q = malloc(sizeof *q))) {
    *q = (struct member_query){done, ctx, {0}};
    strcpy(q->peer_id, peer_id);
    if (redisAsyncCommand(bus.cmd.ac, on_member, q, "HGET %s %s", key, peer_id) == REDIS_OK)
      return;
    free(q);
  }
  done(ctx, NULL);
}

struct int_query {
  bus_int_fn done;
  void *ctx;
};

static void on_int(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct int_query *q = privdata;
  redisReply *reply = r;
  q->done(q->ctx, reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1);
  free(q);
}

bool bus_command(bus_int_fn done, void *ctx, const char *fmt, ...) {
  if (!bus_up())
    return false;
  struct int_query *q = done ? malloc(sizeof *q) : NULL;
  if (done && !q)
    return false;
  if (q)
    *q = (struct int_query){done, ctx};
  va_list ap;
  va_start(ap, fmt);
  int rc = redisvAsyncCommand(bus.cmd.ac, q ? on_int : NULL, q, fmt, ap);
  va_end(ap);
  if (rc != REDIS_OK)
    free(q);
  return rc == REDIS_OK;
}

/* ------------------------------------------------------------------------
 * Heartbeat: this instance is alive, its rooms' lists are kept, and the
 * members of instances that stopped beating are taken out of them. */

struct reap {
  uint8_t proto;
  uint8_t room_len;
  char room[BUS_ID_MAX + 1];
  char peer_id[BUS_ID_MAX + 1];
  char instance[BUS_INSTANCE_MAX + 1];
};

static void on_reaped(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct reap *p = privdata;
  redisReply *reply = r;
  /* Only the instance whose HDEL took the entry tells the room. */
  if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 && bus.hooks.member_gone) {
    log_msg(LOG_INFO, "redis.member_gone", "peer %s of silent instance %s left room %s", p->peer_id,
            p->instance, p->room);
    if (bus.cmd.up) /* if it was only stopped, it will know to announce them again */
      redisAsyncCommand(bus.cmd.ac, NULL, NULL, "SET tandem:gone:%s 1 PX %d", p->instance,
                        BUS_TTL_MS * 240);
    bus.hooks.member_gone(p->room, p->room_len, p->peer_id, p->proto);
  }
  free(p);
}

/* The members one instance has in one room, checked with one EXISTS. */
struct reap_group {
  uint8_t room_len;
  char room[BUS_ID_MAX + 1];
  char instance[BUS_INSTANCE_MAX + 1];
  size_t count;
  struct {
    char peer_id[BUS_ID_MAX + 1];
    uint8_t proto;
  } peers[];
};

static void reap_one(const struct reap_group *g, size_t i) {
  char key[KEY_MAX];
  struct reap *p = calloc(1, sizeof *p);
  if (!p || !bus.cmd.up || members_key(key, sizeof key, g->room, g->room_len) < 0) {
    free(p);
    return;
  }
  p->proto = g->peers[i].proto;
  p->room_len = g->room_len;
  memcpy(p->room, g->room, g->room_len);
  memcpy(p->peer_id, g->peers[i].peer_id, sizeof p->peer_id);
  memcpy(p->instance, g->instance, sizeof p->instance);
  if (redisAsyncCommand(bus.cmd.ac, on_reaped, p, "HDEL %s %s", key, p->peer_id) != REDIS_OK)
    free(p);
}

static void on_instance_alive(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct reap_group *g = privdata;
  redisReply *reply = r;
  if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
    for (size_t i = 0; i < g->count; i++)
      reap_one(g, i);
  free(g);
}

static int by_instance(const void *a, const void *b) {
  const struct bus_member *const *x = a, *const *y = b;
  return strcmp((*x)->instance, (*y)->instance);
}

/* Asks whether the instance of members[0..count) is alive. */
static void check_instance(const char *room, size_t room_len, const struct bus_member *const *m,
                           size_t count) {
  if (strlen(m[0]->instance) > BUS_INSTANCE_MAX)
    return;
  struct reap_group *g = calloc(1, sizeof *g + count * sizeof g->peers[0]);
  if (!g)
    return;
  g->room_len = (uint8_t)room_len;
  memcpy(g->room, room, room_len);
  strcpy(g->instance, m[0]->instance);
  for (size_t i = 0; i < count; i++) {
    if (strlen(m[i]->peer_id) > BUS_ID_MAX)
      continue;
    strcpy(g->peers[g->count].peer_id, m[i]->peer_id);
    g->peers[g->count++].proto = m[i]->proto;
  }
  if (!bus.cmd.up || redisAsyncCommand(bus.cmd.ac, on_instance_alive, g,
                                       "EXISTS tandem:instance:%s", g->instance) != REDIS_OK)
    free(g);
}

struct room_ref {
  uint8_t len;
  char room[BUS_ID_MAX + 1];
};

/* The room's list by instance: one EXISTS each, however many members. */
static void reap_room(void *ctx, const struct bus_member *members, size_t n) {
  struct room_ref *ref = ctx;
  const struct bus_member **sorted = n ? malloc(n * sizeof *sorted) : NULL;
  for (size_t i = 0; sorted && i < n; i++)
    sorted[i] = &members[i];
  if (sorted)
    qsort(sorted, n, sizeof *sorted, by_instance);
  for (size_t i = 0, j; sorted && i < n; i = j) {
    for (j = i + 1; j < n && strcmp(sorted[j]->instance, sorted[i]->instance) == 0; j++)
      ;
    check_instance(ref->room, ref->len, sorted + i, j - i);
  }
  free(sorted);
  free(ref);
}

static void on_beat(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  (void)r;
  (void)privdata;
  bus.beat_unanswered = false;
}

/* GETDEL tandem:gone:<id>: a value means the others took this instance's
 * members out while it was silent. */
static void on_gone_checked(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  (void)privdata;
  redisReply *reply = r;
  if (reply && reply->type == REDIS_REPLY_STRING && bus_up() && bus.hooks.rejoined) {
    log_msg(LOG_WARN, "redis.rejoined",
            "this instance was taken for gone; announcing its members again");
    bus.hooks.rejoined();
  }
}

static void heartbeat(uv_timer_t *t) {
  if (!bus.cmd.up)
    return;
  if (t && bus.beat_unanswered) {
    /* Connected but silent for a whole beat (a stopped or stuck Redis):
     * treated as away, so members here are served and /readyz tells. */
    log_msg(LOG_WARN, "redis.stalled", "no answer for %d ms; reconnecting", BUS_HEARTBEAT_MS);
    link_drop(&bus.cmd);
    link_drop(&bus.sub);
    return;
  }
  bus.beat_unanswered = true;
  redisAsyncCommand(bus.cmd.ac, on_beat, NULL, "SET tandem:instance:%s 1 PX %d", bus.id,
                    BUS_TTL_MS);
  if (bus_up()) /* announcements need both links */
    redisAsyncCommand(bus.cmd.ac, on_gone_checked, NULL, "GETDEL tandem:gone:%s", bus.id);
  channels_let_go();
  size_t pos = 0;
  struct channel *ch;
  while ((ch = hmap_next(&bus.channels, &pos))) {
    char key[KEY_MAX];
    if (members_key(key, sizeof key, ch->room, ch->len) < 0)
      continue;
    if (!ch->confirmed && ch->unconfirmed_beats++ > 0 && bus.sub.connected) {
      /* Redis did not confirm it for a whole beat: what waits on it goes
       * ahead without it (locally), and it is asked for again. */
      channel_flush(ch, false);
      channel_queries(ch, false);
      channel_subscribe(ch);
    }
    if (ch->confirmed)
      ch->unconfirmed_beats = 0;
    redisAsyncCommand(bus.cmd.ac, NULL, NULL, "PEXPIRE %s %d", key, BUS_TTL_MS * 4);
    redisAsyncCommand(bus.cmd.ac, NULL, NULL, "PEXPIRE tandem:aliases:%b %d", ch->room,
                      (size_t)ch->len, BUS_TTL_MS * 4);
    struct room_ref *ref = malloc(sizeof *ref);
    if (!ref)
      continue;
    ref->len = ch->len;
    memcpy(ref->room, ch->room, ch->len);
    bus_members_get(ch->room, ch->len, reap_room, ref);
  }
}

/* ------------------------------------------------------------------------
 * Start and stop */

static void link_init(struct link *l, const char *name, bool subscriber) {
  memset(l, 0, sizeof *l);
  l->name = name;
  l->subscriber = subscriber;
  l->backoff_ms = BUS_BACKOFF_MIN_MS;
  uv_timer_init(bus.loop, &l->retry);
  l->retry.data = l;
}

int bus_start(uv_loop_t *loop, const char *url, const char *instance_id,
              const struct bus_hooks *hooks, char *err, size_t errlen) {
  if (!url)
    return 0;
  if (bus_redis_url_parse(url, bus.host, sizeof bus.host, &bus.port, &bus.db, err, errlen) < 0)
    return -1;
  if (instance_id && !id_valid(instance_id)) {
    snprintf(err, errlen, "--instance-id: 1-%d characters of A-Z, a-z, 0-9, _ and -",
             BUS_INSTANCE_MAX);
    return -1;
  }
  if (instance_id)
    snprintf(bus.id, sizeof bus.id, "%s", instance_id);
  else
    rand_base62(bus.id, 12);
  bus.loop = loop;
  bus.hooks = *hooks;
  bus.shared = true;
  bus.stopping = false;
  metrics.redis_configured = 1;
  link_init(&bus.cmd, "commands", false);
  link_init(&bus.sub, "subscriber", true);
  uv_timer_init(loop, &bus.heartbeat);
  uv_timer_start(&bus.heartbeat, heartbeat, BUS_HEARTBEAT_MS, BUS_HEARTBEAT_MS);
  link_connect(&bus.cmd);
  link_connect(&bus.sub);
  log_msg(LOG_INFO, "redis.start", "instance %s sharing rooms through %s:%d", bus.id, bus.host,
          bus.port);
  return 0;
}

/* Redis did not answer the goodbye in time: drop the connections. */
static void stop_now(uv_timer_t *t) {
  (void)t;
  if (bus.cmd.ac)
    redisAsyncFree(bus.cmd.ac);
  if (bus.sub.ac)
    redisAsyncFree(bus.sub.ac);
}

void bus_stop(void) {
  if (!bus.shared || bus.stopping)
    return;
  bus.stopping = true;
  uv_close((uv_handle_t *)&bus.heartbeat, NULL);
  uv_close((uv_handle_t *)&bus.cmd.retry, NULL);
  uv_close((uv_handle_t *)&bus.sub.retry, NULL);
  size_t pos = 0;
  struct channel *ch;
  while ((ch = hmap_next(&bus.channels, &pos)))
    channel_free(ch);
  hmap_free(&bus.channels);
  if (bus.cmd.up)
    redisAsyncCommand(bus.cmd.ac, NULL, NULL, "DEL tandem:instance:%s", bus.id);
  /* A clean goodbye sends what is queued first; a Redis that does not
   * answer within STOP_WAIT_MS is cut off, so a stop never hangs on it. */
  if (bus.cmd.ac)
    redisAsyncDisconnect(bus.cmd.ac);
  if (bus.sub.ac)
    redisAsyncDisconnect(bus.sub.ac);
  if (bus.cmd.ac || bus.sub.ac) {
    uv_timer_init(bus.loop, &bus.stop_timer);
    uv_unref((uv_handle_t *)&bus.stop_timer);
    uv_timer_start(&bus.stop_timer, stop_now, STOP_WAIT_MS, 0);
  }
}

/* The window as a sorted set of event times (Redis's clock, so instances
 * whose clocks differ still agree); an event that finds it full is refused
 * and not counted, so a client that keeps knocking does not push its own
 * retry time back. Members are made unique by the caller (instance, seq). */
static const char RATE_SCRIPT[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local max, win = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win) "
    "if redis.call('ZCARD', KEYS[1]) >= max then "
    "  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') "
    "  return math.max(1, tonumber(first[2]) + win - now) "
    "end "
    "redis.call('ZADD', KEYS[1], now, ARGV[3]) "
    "redis.call('PEXPIRE', KEYS[1], win) "
    "return 0";

bool bus_rate_hit(const char *name, const void *key, size_t klen, uint32_t max, uint64_t window_ms,
                  bus_int_fn done, void *ctx) {
  static unsigned long long seq;
  char member[BUS_INSTANCE_MAX + 32];
  snprintf(member, sizeof member, "%s:%llu", bus.id, ++seq);
  return bus_command(done, ctx, "EVAL %s 1 tandem:limit:%s:%b %u %llu %s", RATE_SCRIPT, name, key,
                     klen, (unsigned)max, (unsigned long long)window_ms, member);
}

/* ------------------------------------------------------------------------
 * Chat aliases across instances */

/* An entry "<instance>\n<peer>\n<device>" is held while its instance beats
 * (this one always is). The claim answers the alias taken, the instance
 * and peer that held it for the same device elsewhere, then the live
 * aliases with their peers. */
#define ALIAS_ENTRY_LUA                                                                            \
  "local function entry(v) return string.match(v, '^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)$') end "     \
  "local function alive(i) return i == ARGV[2] or "                                                \
  "redis.call('EXISTS', 'tandem:instance:' .. i) == 1 end "

static const char ALIAS_CLAIM_SCRIPT[] = ALIAS_ENTRY_LUA
    "local key, base, max = KEYS[1], ARGV[1], tonumber(ARGV[5]) "
    "local chosen, oi, op = nil, '', '' "
    "for n = 1, max do "
    "  local a = base "
    "  if n > 1 then a = base .. ' ' .. n end "
    "  local v = redis.call('HGET', key, a) "
    "  if not v then chosen = a break end "
    "  local i, p, d = entry(v) "
    "  if not i or not alive(i) then chosen = a break end "
    "  if d == ARGV[4] then "
    "    chosen = a "
    "    if i ~= ARGV[2] then oi, op = i, p end "
    "    break "
    "  end "
    "end "
    "if not chosen then return {} end "
    "redis.call('HSET', key, chosen, ARGV[2] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4]) "
    "redis.call('PEXPIRE', key, ARGV[6]) "
    "local out = {chosen, oi, op} "
    "local all = redis.call('HGETALL', key) "
    "for k = 1, #all, 2 do "
    "  local i, p = entry(all[k + 1]) "
    "  if i and alive(i) then out[#out + 1] = all[k] out[#out + 1] = p end "
    "end "
    "return out";

static const char ALIAS_RELEASE_SCRIPT[] =
    "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if v and string.match(v, '^[^\\n]*\\n([^\\n]*)\\n') == ARGV[2] then "
    "  return redis.call('HDEL', KEYS[1], ARGV[1]) end "
    "return 0";

/* The entry of a live alias, nil when its instance stopped beating. */
static const char ALIAS_FIND_SCRIPT[] =
    ALIAS_ENTRY_LUA "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
                    "if not v then return false end "
                    "local i = entry(v) "
                    "if i and alive(i) then return v end "
                    "return false";

static int aliases_key(char *out, size_t cap, const char *room) {
  int n = snprintf(out, cap, "tandem:aliases:%s", room);
  return n > 0 && (size_t)n < cap ? n : -1;
}

struct alias_query {
  bus_alias_fn claimed;
  bus_alias_found_fn found;
  void *ctx;
};

static bool all_strings(const redisReply *reply) {
  for (size_t i = 0; i < reply->elements; i++)
    if (reply->element[i]->type != REDIS_REPLY_STRING)
      return false;
  return true;
}

static void on_alias_claimed(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct alias_query *q = privdata;
  redisReply *reply = r;
  bool ok = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3 &&
            reply->elements % 2 == 1 && all_strings(reply);
  size_t pairs = ok ? (reply->elements - 3) / 2 : 0;
  const char **live = pairs ? calloc(pairs * 2, sizeof *live) : NULL;
  if (pairs && !live)
    ok = false;
  for (size_t i = 0; ok && i < pairs * 2; i++)
    live[i] = reply->element[3 + i]->str;
  struct bus_alias_claim c = {.live = live, .live_count = pairs};
  if (ok) {
    c.alias = reply->element[0]->str;
    c.old_instance = reply->element[1]->str;
    c.old_peer = reply->element[2]->str;
  }
  q->claimed(q->ctx, ok ? &c : NULL);
  free(live);
  free(q);
}

bool bus_alias_claim(const char *room, const char *base, int suffix_max, const char *peer_id,
                     const char *device_hex, bus_alias_fn done, void *ctx) {
  char key[KEY_MAX];
  if (!bus_up() || aliases_key(key, sizeof key, room) < 0)
    return false;
  struct alias_query *q = malloc(sizeof *q);
  if (!q)
    return false;
  *q = (struct alias_query){.claimed = done, .ctx = ctx};
  if (redisAsyncCommand(bus.cmd.ac, on_alias_claimed, q, "EVAL %s 1 %s %s %s %s %s %d %d",
                        ALIAS_CLAIM_SCRIPT, key, base, bus.id, peer_id, device_hex, suffix_max,
                        BUS_TTL_MS * 4) != REDIS_OK) {
    free(q);
    return false;
  }
  return true;
}

void bus_alias_keep(const char *room, const char *alias, const char *peer_id,
                    const char *device_hex) {
  char key[KEY_MAX];
  if (!bus.cmd.up || aliases_key(key, sizeof key, room) < 0)
    return;
  redisAsyncCommand(bus.cmd.ac, NULL, NULL, "HSETNX %s %s %s\n%s\n%s", key, alias, bus.id, peer_id,
                    device_hex);
  redisAsyncCommand(bus.cmd.ac, NULL, NULL, "PEXPIRE %s %d", key, BUS_TTL_MS * 4);
}

void bus_alias_release(const char *room, const char *alias, const char *peer_id) {
  char key[KEY_MAX];
  if (bus.cmd.up && aliases_key(key, sizeof key, room) > 0)
    redisAsyncCommand(bus.cmd.ac, NULL, NULL, "EVAL %s 1 %s %s %s", ALIAS_RELEASE_SCRIPT, key,
                      alias, peer_id);
}

static void on_alias_found(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  struct alias_query *q = privdata;
  redisReply *reply = r;
  char *v = reply && reply->type == REDIS_REPLY_STRING ? reply->str : NULL;
  char *nl1 = v ? strchr(v, '\n') : NULL, *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
  if (nl2) {
    *nl1 = *nl2 = 0;
    q->found(q->ctx, v, nl1 + 1, nl2 + 1);
  } else {
    q->found(q->ctx, NULL, NULL, NULL);
  }
  free(q);
}

bool bus_alias_find(const char *room, const char *alias, bus_alias_found_fn done, void *ctx) {
  char key[KEY_MAX];
  if (!bus_up() || aliases_key(key, sizeof key, room) < 0)
    return false;
  struct alias_query *q = malloc(sizeof *q);
  if (!q)
    return false;
  *q = (struct alias_query){.found = done, .ctx = ctx};
  if (redisAsyncCommand(bus.cmd.ac, on_alias_found, q, "EVAL %s 1 %s %s %s", ALIAS_FIND_SCRIPT, key,
                        alias, bus.id) != REDIS_OK) {
    free(q);
    return false;
  }
  return true;
}
