#include "api/privydrop_redis.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bus/bus.h"
#include "rooms/room.h"
#include "util/timefmt.h"

struct create {
  pdr_fn done;
  void *ctx;
};

/* HSETNX answers 1 for a room made now, 0 for one that existed. */
static void created(void *ctx, long long n) {
  struct create *c = ctx;
  c->done(c->ctx, n < 0 ? -1 : n == 1);
  free(c);
}

bool pdr_create(const char *id, size_t len, uint64_t ttl_ms, pdr_fn done, void *ctx) {
  struct create *c = bus_up() ? malloc(sizeof *c) : NULL;
  if (!c)
    return false;
  *c = (struct create){done, ctx};
  if (!bus_command(created, c, "HSETNX room:%b created_at %lld", id, len,
                   (long long)time_now_ms())) {
    free(c);
    return false;
  }
  /* Sent after the HSETNX on the same connection: the room has its life
   * from the start (a taken room's is renewed, as a join would). */
  bus_command(NULL, NULL, "PEXPIRE room:%b %llu", id, len, (unsigned long long)ttl_ms);
  return true;
}

static void answered(void *ctx, long long n) {
  struct create *c = ctx;
  c->done(c->ctx, n < 0 ? -1 : n > 0);
  free(c);
}

static bool ask(pdr_fn done, void *ctx, const char *cmd, const char *id, size_t len,
                uint64_t ttl_ms) {
  struct create *c = bus_up() ? malloc(sizeof *c) : NULL;
  if (!c)
    return false;
  *c = (struct create){done, ctx};
  bool sent =
      ttl_ms ? bus_command(answered, c, "%s room:%b %llu", cmd, id, len, (unsigned long long)ttl_ms)
             : bus_command(answered, c, "%s room:%b", cmd, id, len);
  if (!sent)
    free(c);
  return sent;
}

bool pdr_exists(const char *id, size_t len, pdr_fn done, void *ctx) {
  return ask(done, ctx, "EXISTS", id, len, 0);
}

/* 1 when the room was made with create_room (its key is renewed) or has
 * members on some instance (a native client may have made it by joining,
 * as on one instance), else 0. */
static const char JOIN_SCRIPT[] =
    "if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then return 1 end "
    "if ARGV[2] == '0' then return 0 end "
    "return redis.call('EXISTS', KEYS[2])";

bool pdr_join(const char *id, size_t len, uint64_t ttl_ms, pdr_fn done, void *ctx) {
  /* A name shaped like one of tandem's stored rooms (an id or a code) is
   * never joined for its members: such a room is not for PrivyDrop. */
  bool by_members = !room_key_is_id(id, len) && !room_key_is_code(id, len);
  struct create *c = bus_up() ? malloc(sizeof *c) : NULL;
  if (!c)
    return false;
  *c = (struct create){done, ctx};
  if (!bus_command(answered, c, "EVAL %s 2 room:%b tandem:members:%b %llu %s", JOIN_SCRIPT, id, len,
                   id, len, (unsigned long long)ttl_ms, by_members ? "1" : "0")) {
    free(c);
    return false;
  }
  return true;
}

void pdr_socket_joined(const char *room, size_t len, const char *socket_id, uint64_t ttl_ms) {
  if (!bus_up())
    return;
  unsigned long long ttl = (unsigned long long)ttl_ms;
  bus_command(NULL, NULL, "SADD room:%b:sockets %s", room, len, socket_id);
  bus_command(NULL, NULL, "PEXPIRE room:%b:sockets %llu", room, len, ttl);
  bus_command(NULL, NULL, "HSET socket:%s roomId %b", socket_id, room, len);
  bus_command(NULL, NULL, "PEXPIRE socket:%s %llu", socket_id, ttl);
}

void pdr_socket_left(const char *room, size_t len, const char *socket_id) {
  if (!bus_up())
    return;
  bus_command(NULL, NULL, "SREM room:%b:sockets %s", room, len, socket_id);
  bus_command(NULL, NULL, "DEL socket:%s", socket_id);
}

void pdr_referrer_visit(const char *day, const char *ref) {
  if (bus_up())
    bus_command(NULL, NULL, "HINCRBY referrers:daily:%s %s 1", day, ref);
}

/* ratelimit:join:<addr>, the address as PrivyDrop's backend writes it
 * (an IPv6 client by its /64 prefix). */
static bool join_key(const uint8_t *addr_key, size_t key_len, char *out, size_t cap) {
  char text[INET6_ADDRSTRLEN];
  uint8_t v6[16] = {0};
  bool ipv6 = key_len >= 1 && addr_key[0] == AF_INET6;
  if (ipv6)
    memcpy(v6, addr_key + 1, key_len - 1 > 8 ? 8 : key_len - 1);
  if (key_len < 5 || !inet_ntop(ipv6 ? AF_INET6 : AF_INET, ipv6 ? (const void *)v6 : addr_key + 1,
                                text, sizeof text))
    return false;
  int n = snprintf(out, cap, "ratelimit:join:%s%s", text, ipv6 ? "/64" : "");
  return n > 0 && (size_t)n < cap;
}

struct window {
  pdr_fn done;
  void *ctx;
};

static void counted(void *ctx, long long n) {
  struct window *w = ctx;
  w->done(w->ctx, n < 0 ? -1 : n > 1000000 ? 1000000 : (int)n);
  free(w);
}

bool pdr_join_window(const uint8_t *addr_key, size_t key_len, uint64_t window_ms, pdr_fn done,
                     void *ctx) {
  static unsigned long long seq; /* two joins in one millisecond are two members */
  char key[96];
  struct window *w =
      bus_up() && join_key(addr_key, key_len, key, sizeof key) ? malloc(sizeof *w) : NULL;
  if (!w)
    return false;
  *w = (struct window){done, ctx};
  long long now = (long long)time_now_ms();
  bus_command(NULL, NULL, "ZREMRANGEBYSCORE %s -inf %lld", key, now - (long long)window_ms);
  bus_command(NULL, NULL, "ZADD %s %lld %s:%lld:%llu", key, now, bus_instance(), now, ++seq);
  bus_command(NULL, NULL, "PEXPIRE %s %llu", key, (unsigned long long)window_ms);
  if (!bus_command(counted, w, "ZCARD %s", key)) {
    free(w);
    return false;
  }
  return true;
}
