#include "rooms/turn.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int turn_credentials(const char *secret, int64_t expires_unix, const char *user, char *username,
                     size_t ulen, char *credential, size_t clen) {
  int n = snprintf(username, ulen, "%lld:%s", (long long)expires_unix, user);
  if (n < 0 || (size_t)n >= ulen || clen < 29)
    return -1;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username, (size_t)n,
            mac, &mac_len))
    return -1;
  EVP_EncodeBlock((unsigned char *)credential, mac, (int)mac_len); /* 20 bytes -> 28 chars */
  return 0;
}
