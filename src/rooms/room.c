#include "rooms/room.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/rand.h"

void room_new_id(char out[STORE_ID_LEN + 1]) {
  rand_base62(out, STORE_ID_LEN);
}

void room_new_code(char out[STORE_CODE_LEN + 1]) {
  snprintf(out, STORE_CODE_LEN + 1, "%06u", (unsigned)randombytes_uniform(1000000));
}

void room_new_owner_token(char token[ROOM_TOKEN_LEN + 1], uint8_t hash[32]) {
  rand_base62(token, ROOM_TOKEN_LEN);
  crypto_hash_sha256(hash, (const unsigned char *)token, ROOM_TOKEN_LEN);
}

bool room_owner_token_matches(const char *token, size_t len, const uint8_t hash[32]) {
  uint8_t h[32];
  crypto_hash_sha256(h, (const unsigned char *)token, len);
  return sodium_memcmp(h, hash, 32) == 0;
}

static bool all_of(const char *s, size_t len, bool digits_only) {
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool digit = c >= '0' && c <= '9';
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!(digit || (!digits_only && alpha)))
      return false;
  }
  return true;
}

bool room_key_is_id(const char *key, size_t len) {
  return len == STORE_ID_LEN && all_of(key, len, false);
}

bool room_key_is_code(const char *key, size_t len) {
  return len == STORE_CODE_LEN && all_of(key, len, true);
}

int64_t room_expires_at(int64_t created_at, uint64_t ttl_ms) {
  if (ttl_ms > (uint64_t)(INT64_MAX - created_at))
    return INT64_MAX;
  return created_at + (int64_t)ttl_ms;
}

bool room_expired(const struct room_row *room, int64_t now) {
  /* A facilitator's room keeps its history until its owner deletes it. */
  return !room->owner_id && now >= room->expires_at;
}

static size_t text_size(const char *s) {
  return s ? strlen(s) + 1 : 0;
}

/* Copies s to *at (when given) and moves *at past it; NULL stays NULL. */
static const char *place(char **at, const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *out = memcpy(*at, s, n);
  *at += n;
  return out;
}

struct room_row *room_row_dup(const struct room_row *room) {
  size_t extra = text_size(room->title) + text_size(room->password_hash) +
                 text_size(room->language) + text_size(room->kind);
  struct room_row *copy = malloc(sizeof *copy + extra);
  if (!copy)
    return NULL;
  *copy = *room;
  char *at = (char *)(copy + 1);
  copy->title = place(&at, room->title);
  copy->password_hash = place(&at, room->password_hash);
  copy->language = place(&at, room->language);
  copy->kind = place(&at, room->kind);
  return copy;
}
