#include "rooms/alias.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "rooms/peer_info.h"

static const char *const adjectives[] = {
    "Amber", "Azure",  "Brave",  "Bright", "Calm",  "Clever", "Coral",  "Crimson",
    "Dusky", "Eager",  "Gentle", "Golden", "Happy", "Hazel",  "Indigo", "Jolly",
    "Kind",  "Lively", "Lucky",  "Mellow", "Misty", "Nimble", "Olive",  "Quiet",
    "Rapid", "Rosy",   "Silver", "Sunny",  "Swift", "Teal",   "Velvet", "Witty",
};
static const char *const animals[] = {
    "Badger", "Beaver", "Crane", "Dolphin", "Falcon", "Ferret", "Finch", "Fox",
    "Gecko",  "Heron",  "Ibis",  "Jaguar",  "Koala",  "Lark",   "Lemur", "Lynx",
    "Marten", "Moose",  "Newt",  "Ocelot",  "Orca",   "Otter",  "Owl",   "Panda",
    "Puffin", "Quail",  "Raven", "Robin",   "Seal",   "Swan",   "Tapir", "Wren",
};

#define COUNT(a) (sizeof a / sizeof a[0])

int alias_device_hash(const char *key, size_t len, const char *room_id,
                      uint8_t out[DEVICE_HASH_LEN]) {
  if (len < DEVICE_KEY_MIN || len > DEVICE_KEY_MAX)
    return -1;
  for (size_t i = 0; i < len; i++) {
    char c = key[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return -1;
  }
  crypto_generichash_state st;
  if (crypto_generichash_init(&st, NULL, 0, DEVICE_HASH_LEN) != 0 ||
      crypto_generichash_update(&st, (const unsigned char *)room_id, strlen(room_id)) != 0 ||
      crypto_generichash_update(&st, (const unsigned char *)"/", 1) != 0 ||
      crypto_generichash_update(&st, (const unsigned char *)key, len) != 0 ||
      crypto_generichash_final(&st, out, DEVICE_HASH_LEN) != 0)
    return -1;
  return 0;
}

void alias_generate(const uint8_t h[DEVICE_HASH_LEN], char out[ALIAS_MAX + 1]) {
  snprintf(out, ALIAS_MAX + 1, "%s %s", adjectives[h[0] % COUNT(adjectives)],
           animals[h[1] % COUNT(animals)]);
}

int alias_choose(const char *in, size_t len, char out[ALIAS_BASE_MAX + 1]) {
  size_t start, n;
  _Static_assert(PEER_NAME_MAX == ALIAS_BASE_MAX, "aliases follow the peer name rules");
  if (peer_name_check(in, len, &start, &n) < 0)
    return -1;
  memcpy(out, in + start, n);
  out[n] = 0;
  return 0;
}

int alias_resolve(const char *base, alias_taken_fn taken, void *ctx, char out[ALIAS_MAX + 1]) {
  snprintf(out, ALIAS_MAX + 1, "%.*s", ALIAS_BASE_MAX, base);
  if (!taken(ctx, out))
    return 0;
  for (int n = 2; n <= ALIAS_SUFFIX_MAX; n++) {
    snprintf(out, ALIAS_MAX + 1, "%.*s %d", ALIAS_BASE_MAX, base, n);
    if (!taken(ctx, out))
      return 0;
  }
  out[0] = 0;
  return -1;
}
