/* RFC 6455 WebSocket codec: an incremental, pure frame parser (bytes in,
 * events out, no I/O, no allocation), the server-side frame writer, the
 * client-side (masked) frame writer used by tests and the load generator,
 * and the handshake accept key.
 *
 * The parser keeps only a few dozen bytes of state per connection: a frame
 * header split across reads is kept in the parser, but payload bytes are
 * never copied. They are unmasked in place and handed to the caller in
 * pieces; the caller decides whether a message must be assembled. */
#ifndef TANDEM_WS_CODEC_H
#define TANDEM_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum ws_opcode {
  WS_OP_CONTINUATION = 0x0,
  WS_OP_TEXT = 0x1,
  WS_OP_BINARY = 0x2,
  WS_OP_CLOSE = 0x8,
  WS_OP_PING = 0x9,
  WS_OP_PONG = 0xA,
};

/* Close codes the codec itself produces or checks. */
enum ws_close_code {
  WS_CLOSE_NORMAL = 1000,
  WS_CLOSE_GOING_AWAY = 1001,
  WS_CLOSE_PROTOCOL_ERROR = 1002,
  WS_CLOSE_UNSUPPORTED = 1003,
  WS_CLOSE_NO_STATUS = 1005, /* never sent on the wire */
  WS_CLOSE_INVALID_PAYLOAD = 1007,
  WS_CLOSE_POLICY = 1008,
  WS_CLOSE_TOO_BIG = 1009,
  WS_CLOSE_INTERNAL = 1011,
  WS_CLOSE_TRY_AGAIN = 1013,
};

/* Largest control frame payload (RFC 6455 5.5). */
#define WS_CONTROL_MAX 125
/* Largest server frame header: 2 + 8 bytes of length. */
#define WS_HEADER_MAX 10

/* Flags passed with each payload piece. */
#define WS_FRAME_END 0x1u   /* last piece of this frame's payload */
#define WS_MESSAGE_END 0x2u /* last piece of the message (FIN frame ended) */

/* Called for every piece of payload, already unmasked. `opcode` is the
 * message's opcode (TEXT or BINARY for data, also for continuation frames;
 * CLOSE, PING or PONG for control frames). Empty frames produce one call
 * with n == 0 and WS_FRAME_END set. For text, the bytes have been UTF-8
 * validated up to this point. Return 0 to go on, non-zero to make
 * ws_parser_feed stop and return WS_PARSE_STOPPED. */
typedef int (*ws_payload_cb)(void *ctx, enum ws_opcode opcode, const uint8_t *data, size_t n,
                             unsigned flags);

typedef struct ws_parser {
  uint64_t max_message; /* largest data message in bytes (sum of fragments) */
  uint64_t message_len; /* bytes of the current data message so far */
  uint64_t frame_left;  /* payload bytes of the current frame still to come */
  uint32_t utf8_state;  /* incremental UTF-8 validator state across fragments */
  uint8_t mask[4];
  uint8_t mask_pos; /* index into mask for the next payload byte */
  uint8_t hdr[14];  /* header bytes seen so far */
  uint8_t hdr_len;
  uint8_t frame_opcode; /* opcode of the frame being read (0 for continuation) */
  uint8_t frame_fin;
  uint8_t message_opcode; /* TEXT/BINARY while a fragmented message is open, else 0 */
  uint8_t in_payload;     /* 1 while reading payload of the current frame */
  uint8_t require_mask;   /* 1 on the server side: unmasked frames are a 1002 */
} ws_parser;

/* Resets the parser. `max_message` bounds data messages (1009 past it);
 * `require_mask` is true for a server reading client frames, false for a
 * client reading server frames (which must then be unmasked). */
void ws_parser_init(ws_parser *p, uint64_t max_message, bool require_mask);

/* Result of ws_parser_feed: >= 0 is bytes consumed (always all of len when
 * no error); WS_PARSE_STOPPED when a callback returned non-zero (the
 * consumed count is then in *consumed); any other negative value is the
 * negated close code the connection must close with:
 *   -1002 reserved bits, unknown opcode, unmasked client frame (or masked
 *         server frame), fragmented or oversized (>125) control frame,
 *         continuation with no message open, a new data frame while a
 *         fragmented message is open, 64-bit length with the top bit set,
 *         a close payload of exactly 1 byte;
 *   -1007 invalid UTF-8 in a text message (checked across fragments and
 *         frame splits; a message ending mid-sequence is invalid too);
 *   -1009 a data message larger than max_message (detected from the
 *         header, before the payload is read).
 * `data` is modified: payload bytes are unmasked in place. */
#define WS_PARSE_STOPPED (-1)
int64_t ws_parser_feed(ws_parser *p, uint8_t *data, size_t len, ws_payload_cb cb, void *ctx,
                       size_t *consumed);

/* Checks a complete close frame payload (0 or 2..125 bytes). Returns the
 * peer's close code (1005 when the payload is empty), or -1002 for a code
 * that must not appear on the wire (<1000, 1004-1006, 1015, 1016-2999
 * except 1012-1014 that are registered, >= 5000), or -1007 when the reason
 * is not valid UTF-8. */
int ws_close_payload_check(const uint8_t *payload, size_t n);

/* Writes a server (unmasked) frame header for a single FIN frame of
 * `opcode` with `len` payload bytes into out; returns header length (2..10). */
size_t ws_frame_header(uint8_t out[WS_HEADER_MAX], enum ws_opcode opcode, bool fin, uint64_t len);

/* A refcounted buffer holding one complete server frame (header + payload)
 * with a single reference; NULL when out of memory. */
buf *ws_frame_build(enum ws_opcode opcode, const void *payload, size_t len);

/* One piece of a payload given in parts. */
struct ws_part {
  const void *p;
  size_t len;
};

/* The same, with the payload the concatenation of n parts: a relayed message
 * is written straight into its frame, with one allocation and no copy before. */
buf *ws_frame_gather(enum ws_opcode opcode, const struct ws_part *parts, size_t n);

/* A close frame carrying `code` and an optional short reason (truncated to
 * fit 125 bytes on a UTF-8 boundary). */
buf *ws_close_frame_build(uint16_t code, const char *reason);

/* Client side: writes a masked frame (header + masked copy of the payload)
 * into out, which must have room for len + 14 bytes; returns bytes written.
 * `fin` false leaves the frame open for continuation frames. */
size_t ws_client_frame_write(uint8_t *out, enum ws_opcode opcode, bool fin, const uint8_t mask[4],
                             const void *payload, size_t len);

/* Validates the Sec-WebSocket-Key (base64 of 16 bytes: 24 chars) and
 * writes the Sec-WebSocket-Accept value (28 chars + NUL) into out.
 * Returns 0, or -1 for a malformed key. */
int ws_accept_key(const char *key, size_t key_len, char out[29]);

/* Whole-buffer UTF-8 check (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_valid(const uint8_t *s, size_t n);

/* Incremental UTF-8 check: state starts at UTF8_ACCEPT; returns the new
 * state, UTF8_REJECT once invalid. A message is valid when it ends in
 * UTF8_ACCEPT. */
#define UTF8_ACCEPT 0u
#define UTF8_REJECT 1u
uint32_t utf8_step(uint32_t state, const uint8_t *s, size_t n);

#endif
