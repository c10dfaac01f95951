#include "api/privydrop_redis.h"

#include <stdlib.h>

#include "bus/bus.h"
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

/* PEXPIRE answers 1 when the key exists (and renews it), 0 when not. */
bool pdr_join(const char *id, size_t len, uint64_t ttl_ms, pdr_fn done, void *ctx) {
  return ask(done, ctx, "PEXPIRE", id, len, ttl_ms);
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
