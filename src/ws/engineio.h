/* Engine.IO v4 and Socket.IO v5-protocol packets: decode and encode.
 *
 * Pure: bytes in, a description out, no I/O and no allocation, so every
 * packet type and every malformed input is unit-tested and fuzzed.
 *
 * Engine.IO (transport level): one packet per WebSocket message, a type
 * digit then the data ("4hello" is a message, "2" a ping). A WebSocket
 * binary message is a binary Engine.IO message with no type byte. Over
 * long-polling several packets share one body, separated by the record
 * separator 0x1e, a binary one written as "b" + base64.
 *
 * Socket.IO (inside an Engine.IO message): type digit, then for binary
 * packets "<attachments>-", then "/nsp," unless the namespace is "/", then
 * the ack id digits, then the JSON payload. Attachments follow as binary
 * Engine.IO messages; the JSON holds {"_placeholder":true,"num":i} where
 * each one goes. The JSON itself is checked only by its first character
 * here: the caller parses it. */
#ifndef TANDEM_ENGINEIO_H
#define TANDEM_ENGINEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum eio_type {
  EIO_OPEN = 0,
  EIO_CLOSE = 1,
  EIO_PING = 2,
  EIO_PONG = 3,
  EIO_MESSAGE = 4,
  EIO_UPGRADE = 5,
  EIO_NOOP = 6,
};

enum sio_type {
  SIO_CONNECT = 0,
  SIO_DISCONNECT = 1,
  SIO_EVENT = 2,
  SIO_ACK = 3,
  SIO_CONNECT_ERROR = 4,
  SIO_BINARY_EVENT = 5,
  SIO_BINARY_ACK = 6,
};

/* Errors of the decoders (negative). */
enum eio_error {
  EIO_ERR_EMPTY = -1,       /* no bytes */
  EIO_ERR_TYPE = -2,        /* unknown packet type */
  EIO_ERR_ATTACHMENTS = -3, /* bad "<n>-" of a binary packet, or too many */
  EIO_ERR_NAMESPACE = -4,   /* a namespace that is not "/..." */
  EIO_ERR_ID = -5,          /* an ack id too long */
  EIO_ERR_PAYLOAD = -6,     /* payload of the wrong shape for the type */
  EIO_ERR_BASE64 = -7,      /* bad base64 in a polling binary packet */
};

/* Most attachments one binary packet may announce. */
#define SIO_MAX_ATTACHMENTS 64
/* Ack ids are JavaScript numbers: at most 2^53 - 1, so 15 digits is safe. */
#define SIO_MAX_ID_DIGITS 15

struct eio_packet {
  enum eio_type type;
  const uint8_t *data; /* into the input; NULL when there is none */
  size_t len;
};

/* Decodes a text Engine.IO packet (a WebSocket text message or one
 * record of a polling payload, not "b..."). Returns 0 or an eio_error. */
int eio_decode(const uint8_t *p, size_t n, struct eio_packet *out);

/* Splits a polling payload: the next record starting at *pos (advanced
 * past it and its separator). Returns 1 with the record, 0 at the end. */
int eio_payload_next(const uint8_t *p, size_t n, size_t *pos, const uint8_t **rec, size_t *rec_len);

/* Base64 (RFC 4648, with padding) for binary packets on polling.
 * eio_base64_decode returns the decoded length or EIO_ERR_BASE64; `out`
 * needs eio_base64_decoded_max(n) bytes. eio_base64_encode writes
 * eio_base64_encoded_len(n) bytes and returns that. */
static inline size_t eio_base64_decoded_max(size_t n) {
  return n / 4 * 3 + 3;
}
static inline size_t eio_base64_encoded_len(size_t n) {
  return (n + 2) / 3 * 4;
}
long eio_base64_decode(const uint8_t *in, size_t n, uint8_t *out);
size_t eio_base64_encode(const uint8_t *in, size_t n, char *out);

struct sio_packet {
  enum sio_type type;
  uint32_t attachments; /* binary packets only */
  const char *nsp;      /* "/" when absent from the wire */
  size_t nsp_len;
  int64_t id;       /* -1: no ack id */
  const char *data; /* JSON, into the input; NULL when none */
  size_t data_len;
};

/* Decodes the Socket.IO packet in an Engine.IO message's data. Checks the
 * payload's shape: CONNECT an object or nothing, DISCONNECT nothing,
 * EVENT/BINARY_EVENT an array, ACK/BINARY_ACK an array, CONNECT_ERROR an
 * object or a string. Returns 0 or an eio_error. */
int sio_decode(const char *p, size_t n, struct sio_packet *out);

/* Writes the packet with its Engine.IO "4" prefix into out (cap bytes)
 * and returns the full length, like snprintf: when it is > cap nothing
 * useful was written and the caller retries with more room. */
size_t sio_encode(const struct sio_packet *pk, char *out, size_t cap);

#endif
