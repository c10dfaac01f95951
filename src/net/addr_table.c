#include "net/addr_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"

static hmap table;

/* IPv4-mapped IPv6 addresses count as their IPv4 address, so a dual-stack
 * listener cannot double a client's allowance. */
static void make_key(const struct sockaddr_storage *sa, struct addr_entry *e) {
  if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      e->key[0] = AF_INET;
      memcpy(e->key + 1, a6->sin6_addr.s6_addr + 12, 4);
      e->key_len = 5;
      inet_ntop(AF_INET, e->key + 1, e->text, sizeof e->text);
      return;
    }
    e->key[0] = AF_INET6;
    memcpy(e->key + 1, &a6->sin6_addr, 16);
    e->key_len = 17;
    inet_ntop(AF_INET6, &a6->sin6_addr, e->text, sizeof e->text);
  } else if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
    e->key[0] = AF_INET;
    memcpy(e->key + 1, &a4->sin_addr, 4);
    e->key_len = 5;
    inet_ntop(AF_INET, &a4->sin_addr, e->text, sizeof e->text);
  } else {
    e->key[0] = 0;
    e->key_len = 1;
    strcpy(e->text, "unknown");
  }
}

struct addr_entry *addr_table_acquire(const struct sockaddr_storage *sa) {
  struct addr_entry probe = {0};
  make_key(sa, &probe);
  struct addr_entry *e = hmap_get(&table, probe.key, probe.key_len);
  if (!e) {
    e = malloc(sizeof *e);
    if (!e)
      return NULL;
    *e = probe;
    if (hmap_put(&table, e->key, e->key_len, e) < 0) {
      free(e);
      return NULL;
    }
  }
  e->count++;
  return e;
}

void addr_table_release(struct addr_entry *e) {
  if (!e || --e->count > 0)
    return;
  hmap_del(&table, e->key, e->key_len);
  free(e);
}

void addr_table_free(void) {
  size_t pos = 0;
  struct addr_entry *e;
  while ((e = hmap_next(&table, &pos)))
    free(e);
  hmap_free(&table);
}
