/* Anonymous aliases in chat rooms: generated ("Amber Otter") or chosen,
 * unique among a room's live members ("Amber Otter 2" on a clash), and the
 * same again when the same device comes back.
 *
 * A device is known by a key the client makes up once and keeps (local
 * storage). tandem never stores the key itself: only a hash keyed by the
 * room, so one device cannot be followed from room to room. */
#ifndef TANDEM_ALIAS_H
#define TANDEM_ALIAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALIAS_BASE_MAX 40 /* a chosen alias, bytes (as peer names) */
#define ALIAS_MAX 48      /* with a clash suffix: " 9999" */
#define ALIAS_SUFFIX_MAX 9999
#define DEVICE_KEY_MIN 16
#define DEVICE_KEY_MAX 64
#define DEVICE_HASH_LEN 16

/* Hashes a device key (16..64 characters of A-Z, a-z, 0-9, _ and -) with
 * the room id into out. Returns 0, or -1 for a malformed key. */
int alias_device_hash(const char *key, size_t len, const char *room_id,
                      uint8_t out[DEVICE_HASH_LEN]);

/* An adjective and an animal picked by the device hash: the same device
 * gets the same alias in the same room. */
void alias_generate(const uint8_t device_hash[DEVICE_HASH_LEN], char out[ALIAS_MAX + 1]);

/* A chosen alias, trimmed and checked (1..40 bytes of UTF-8 text, no
 * control characters) into out. Returns 0 or -1. */
int alias_choose(const char *in, size_t len, char out[ALIAS_BASE_MAX + 1]);

/* The first of base, "base 2", "base 3", ... that `taken` says is free,
 * into out. Returns 0, or -1 when all ALIAS_SUFFIX_MAX are taken. */
typedef bool (*alias_taken_fn)(void *ctx, const char *alias);
int alias_resolve(const char *base, alias_taken_fn taken, void *ctx, char out[ALIAS_MAX + 1]);

#endif
