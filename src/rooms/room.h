/* Drop rooms: identifiers, codes, owner tokens and expiry. The domain
 * knows nothing of HTTP; the API turns these into responses. */
#ifndef TANDEM_ROOM_H
#define TANDEM_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ROOM_TOKEN_LEN 43 /* base62 of 256 random bits */
#define ROOM_TITLE_MAX 200

/* A new 22-character base62 id (128 random bits and a little more). */
void room_new_id(char out[STORE_ID_LEN + 1]);

/* A new 6-digit code, uniformly drawn. */
void room_new_code(char out[STORE_CODE_LEN + 1]);

/* A new owner token and its SHA-256 (what is stored). */
void room_new_owner_token(char token[ROOM_TOKEN_LEN + 1], uint8_t hash[32]);

/* True when the token hashes to `hash` (constant time). */
bool room_owner_token_matches(const char *token, size_t len, const uint8_t hash[32]);

/* True when `key` has the shape of a room id (22 base62 characters). */
bool room_key_is_id(const char *key, size_t len);
/* True when `key` is 6 digits. */
bool room_key_is_code(const char *key, size_t len);

/* A copy of a room row in one allocation (its strings included), for an
 * answer that must outlive the store's callback; free() releases it.
 * NULL when out of memory. */
struct room_row *room_row_dup(const struct room_row *room);

/* Expiry arithmetic: a room made at `created_at` lives `ttl_ms`. */
int64_t room_expires_at(int64_t created_at, uint64_t ttl_ms);
bool room_expired(const struct room_row *room, int64_t now);

#endif
