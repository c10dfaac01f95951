/* Account credentials: email addresses and passwords, checked and hashed.
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str) at
 * PASSWORD_OPSLIMIT passes over PASSWORD_MEMLIMIT bytes: the OWASP baseline
 * (t=2, m=19 MiB). That costs about 20-40 ms on one core of a small server,
 * so a login stays well under a second even on a loaded machine, while a
 * stolen hash costs an attacker 19 MiB of memory per guess, which is what
 * defeats GPUs. libsodium's INTERACTIVE preset (64 MiB) would triple the
 * time and the memory of every sign-in (the API runs these on libuv's
 * thread pool, 4 threads by default: 4 x 64 MiB in flight) for little gain. */
#ifndef TANDEM_PASSWORD_H
#define TANDEM_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MIN_CHARS 10   /* Unicode characters */
#define PASSWORD_MAX_BYTES 1024 /* longer is refused, not truncated */
#define PASSWORD_OPSLIMIT 2
#define PASSWORD_MEMLIMIT (19u << 20)
#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define EMAIL_MAX 254         /* RFC 5321 path limit */

/* 0 when the password is long enough and not too long, valid UTF-8;
 * -1 otherwise. */
int password_check(const char *pw, size_t len);

/* Writes the Argon2id string ("$argon2id$v=19$...") into out
 * (PASSWORD_HASH_MAX bytes). Returns 0, or -1 when out of memory. */
int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX]);

/* True when pw matches the stored hash. Costs as much as hashing. */
bool password_verify(const char *hash, const char *pw, size_t len);

/* Normalises an email address into out (EMAIL_MAX + 1 bytes): surrounding
 * spaces trimmed, lower-cased. Returns 0, or -1 when it is not a plausible
 * address (one @, a local part of 1..64 bytes, a dotted domain of
 * letters, digits and hyphens, no spaces or control characters). */
int email_normalise(const char *in, size_t len, char out[EMAIL_MAX + 1]);

#endif
