/* What other devices see of a peer: a display name and a device label.
 *
 * Neither costs memory per connection: the default name is derived from
 * the peer id (the same id always reads the same), and the device is two
 * small codes parsed once from the User-Agent; both are rendered on demand. */
#ifndef TANDEM_PEER_INFO_H
#define TANDEM_PEER_INFO_H

#include <stddef.h>
#include <stdint.h>

#define PEER_NAME_MAX 40 /* a name a user sets, in bytes */

/* "Amber Otter": written into out (at least 32 bytes); returns its length. */
size_t peer_default_name(const char *peer_id, size_t id_len, char *out, size_t outlen);

/* Device codes from a User-Agent header value. */
struct peer_device {
  uint8_t browser; /* index into the browser names; 0 unknown */
  uint8_t os;      /* index into the system names; 0 unknown */
};

struct peer_device peer_device_from_ua(const char *ua, size_t len);

/* "Firefox on Linux", "Safari on iPhone", "Unknown device". */
size_t peer_device_label(struct peer_device d, char *out, size_t outlen);

/* A name a user chose: trimmed, 1..PEER_NAME_MAX bytes, valid UTF-8, no
 * control characters. Returns 0 and the trimmed span, or -1. */
int peer_name_check(const char *name, size_t len, size_t *start, size_t *trimmed_len);

#endif
