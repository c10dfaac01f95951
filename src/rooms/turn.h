/* TURN REST credentials (draft-uberti-behave-turn-rest, as coturn's
 * use-auth-secret expects): username "<expiry unix seconds>:<user>",
 * password base64(HMAC-SHA1(secret, username)). */
#ifndef TANDEM_TURN_H
#define TANDEM_TURN_H

#include <stddef.h>
#include <stdint.h>

/* Writes username and credential; returns 0, or -1 when they do not fit. */
int turn_credentials(const char *secret, int64_t expires_unix, const char *user, char *username,
                     size_t ulen, char *credential, size_t clen);

#endif
