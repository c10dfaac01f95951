#include "ws/ws_codec.h"

#include <string.h>

#include <openssl/evp.h>

/* ------------------------------------------------------------------------
 * UTF-8
 *
 * A DFA over byte classes. The states beyond ACCEPT/REJECT remember how many
 * continuation bytes are still owed and, right after the lead bytes E0, ED,
 * F0 and F4, the narrower range the next byte must fall in: that is where
 * overlongs, surrogates and code points past U+10FFFF are ruled out, so no
 * code point ever has to be decoded. */

enum {
  U_ACCEPT = UTF8_ACCEPT,
  U_REJECT = UTF8_REJECT,
  U_NEED1, /* one continuation byte (80..BF) to go */
  U_NEED2,
  U_NEED3,
  U_E0, /* next in A0..BF, or it would be an overlong 3-byte form */
  U_ED, /* next in 80..9F, or it would be a surrogate */
  U_F0, /* next in 90..BF, or it would be an overlong 4-byte form */
  U_F4, /* next in 80..8F, or it would be past U+10FFFF */
  U_STATES
};

enum {
  C_ASCII, /* 00..7F */
  C_C8,    /* 80..8F */
  C_C9,    /* 90..9F */
  C_CA,    /* A0..BF */
  C_BAD,   /* C0, C1, F5..FF: can never appear */
  C_L2,    /* C2..DF */
  C_E0,
  C_L3, /* E1..EC, EE, EF */
  C_ED,
  C_F0,
  C_L4, /* F1..F3 */
  C_F4,
  C_CLASSES
};

static unsigned utf8_class(uint8_t b) {
  if (b < 0x80)
    return C_ASCII;
  if (b < 0x90)
    return C_C8;
  if (b < 0xA0)
    return C_C9;
  if (b < 0xC0)
    return C_CA;
  if (b < 0xC2)
    return C_BAD;
  if (b < 0xE0)
    return C_L2;
  if (b == 0xE0)
    return C_E0;
  if (b == 0xED)
    return C_ED;
  if (b < 0xF0)
    return C_L3;
  if (b == 0xF0)
    return C_F0;
  if (b < 0xF4)
    return C_L4;
  if (b == 0xF4)
    return C_F4;
  return C_BAD;
}

#define R U_REJECT
static const uint8_t utf8_next[U_STATES][C_CLASSES] = {
    /* columns: ASCII, C8, C9, CA, BAD, L2, E0, L3, ED, F0, L4, F4 */
    [U_ACCEPT] = {U_ACCEPT, R, R, R, R, U_NEED1, U_E0, U_NEED2, U_ED, U_F0, U_NEED3, U_F4},
    [U_REJECT] = {R, R, R, R, R, R, R, R, R, R, R, R},
    [U_NEED1] = {R, U_ACCEPT, U_ACCEPT, U_ACCEPT, R, R, R, R, R, R, R, R},
    [U_NEED2] = {R, U_NEED1, U_NEED1, U_NEED1, R, R, R, R, R, R, R, R},
    [U_NEED3] = {R, U_NEED2, U_NEED2, U_NEED2, R, R, R, R, R, R, R, R},
    [U_E0] = {R, R, R, U_NEED1, R, R, R, R, R, R, R, R},
    [U_ED] = {R, U_NEED1, U_NEED1, R, R, R, R, R, R, R, R, R},
    [U_F0] = {R, R, U_NEED2, U_NEED2, R, R, R, R, R, R, R, R},
    [U_F4] = {R, U_NEED2, R, R, R, R, R, R, R, R, R, R},
};
#undef R

uint32_t utf8_step(uint32_t state, const uint8_t *s, size_t n) {
  size_t i = 0;
  /* A state we never hand out cannot be resumed from. */
  if (state >= U_STATES)
    return UTF8_REJECT;
  while (i < n) {
    if (state == U_ACCEPT) {
      /* Chat text is mostly ASCII: skip it a word at a time. */
      while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
          break;
        i += 8;
      }
      if (i == n)
        break;
    }
    state = utf8_next[state][utf8_class(s[i++])];
    if (state == U_REJECT)
      break;
  }
  return state;
}

bool utf8_valid(const uint8_t *s, size_t n) {
  return utf8_step(UTF8_ACCEPT, s, n) == UTF8_ACCEPT;
}

/* ------------------------------------------------------------------------
 * Masking */

/* XOR is its own inverse, so this both masks and unmasks. Returns the mask
 * position for the byte after the run, which is what lets a frame's payload
 * arrive in arbitrary pieces. */
static uint8_t mask_bytes(uint8_t *d, size_t n, const uint8_t mask[4], uint8_t pos) {
  size_t i = 0;
  if (n >= 16) {
    /* Eight bytes are two whole mask periods, so one rotated word serves the
     * whole run; memcpy keeps unaligned access defined. */
    uint8_t mb[8];
    for (unsigned k = 0; k < 8; k++)
      mb[k] = mask[(pos + k) & 3];
    uint64_t m;
    memcpy(&m, mb, 8);
    for (; n - i >= 8; i += 8) {
      uint64_t w;
      memcpy(&w, d + i, 8);
      w ^= m;
      memcpy(d + i, &w, 8);
    }
  }
  for (; i < n; i++)
    d[i] ^= mask[(pos + i) & 3];
  return (uint8_t)((pos + n) & 3);
}

/* ------------------------------------------------------------------------
 * Parser */

#define ERR_PROTOCOL (-(int64_t)WS_CLOSE_PROTOCOL_ERROR)
#define ERR_PAYLOAD (-(int64_t)WS_CLOSE_INVALID_PAYLOAD)
#define ERR_TOO_BIG (-(int64_t)WS_CLOSE_TOO_BIG)

static bool is_control(unsigned opcode) {
  return (opcode & 0x8) != 0;
}

void ws_parser_init(ws_parser *p, uint64_t max_message, bool require_mask) {
  memset(p, 0, sizeof *p);
  p->max_message = max_message;
  p->utf8_state = UTF8_ACCEPT;
  p->require_mask = require_mask ? 1 : 0;
}

/* Length bytes following the two fixed header bytes. */
static unsigned ext_len_bytes(const ws_parser *p) {
  unsigned len7 = p->hdr[1] & 0x7Fu;
  return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
}

static int64_t check_first_byte(ws_parser *p) {
  uint8_t b = p->hdr[0];
  unsigned op = b & 0x0Fu;
  bool fin = (b & 0x80u) != 0;
  /* No extension is ever negotiated, so any RSV bit is a protocol error. */
  if (b & 0x70u)
    return ERR_PROTOCOL;
  switch (op) {
  case WS_OP_CONTINUATION:
    if (!p->message_opcode)
      return ERR_PROTOCOL;
    break;
  case WS_OP_TEXT:
  case WS_OP_BINARY:
    if (p->message_opcode)
      return ERR_PROTOCOL;
    p->message_len = 0;
    p->utf8_state = UTF8_ACCEPT;
    if (!fin)
      p->message_opcode = (uint8_t)op;
    break;
  case WS_OP_CLOSE:
  case WS_OP_PING:
  case WS_OP_PONG:
    if (!fin)
      return ERR_PROTOCOL;
    break;
  default: return ERR_PROTOCOL;
  }
  p->frame_opcode = (uint8_t)op;
  p->frame_fin = fin;
  return 0;
}

static int64_t check_second_byte(const ws_parser *p) {
  bool masked = (p->hdr[1] & 0x80u) != 0;
  unsigned len7 = p->hdr[1] & 0x7Fu;
  if (masked != (p->require_mask != 0))
    return ERR_PROTOCOL;
  if (is_control(p->frame_opcode)) {
    if (len7 > WS_CONTROL_MAX)
      return ERR_PROTOCOL;
    /* A close body is a 2-byte code plus reason; one byte cannot be either. */
    if (p->frame_opcode == WS_OP_CLOSE && len7 == 1)
      return ERR_PROTOCOL;
  }
  return 0;
}

static int64_t set_frame_length(ws_parser *p, unsigned ext) {
  uint64_t len = p->hdr[1] & 0x7Fu;
  if (ext) {
    len = 0;
    for (unsigned i = 0; i < ext; i++)
      len = (len << 8) | p->hdr[2 + i];
    if (ext == 8 && (len >> 63))
      return ERR_PROTOCOL;
  }
  if (!is_control(p->frame_opcode)) {
    /* Subtract rather than add so a huge length cannot wrap the sum. */
    if (len > p->max_message - p->message_len)
      return ERR_TOO_BIG;
    p->message_len += len;
  }
  p->frame_left = len;
  return 0;
}

/* Takes one header byte. Each rule is checked as soon as the byte it depends
 * on arrives, and only then, so an error surfaces at the same stream offset
 * however the input was split. Returns 1 once the header is complete. */
static int64_t header_byte(ws_parser *p, uint8_t b) {
  int64_t rc;
  p->hdr[p->hdr_len++] = b;
  if (p->hdr_len == 1)
    return check_first_byte(p);
  if (p->hdr_len == 2 && (rc = check_second_byte(p)) != 0)
    return rc;
  unsigned ext = ext_len_bytes(p);
  unsigned need = 2 + ext + ((p->hdr[1] & 0x80u) ? 4u : 0u);
  if (p->hdr_len == 2 + ext && (rc = set_frame_length(p, ext)) != 0)
    return rc;
  if (p->hdr_len < need)
    return 0;
  if (p->hdr[1] & 0x80u)
    memcpy(p->mask, p->hdr + 2 + ext, 4);
  p->mask_pos = 0;
  return 1;
}

/* Hands one piece of payload (already unmasked, frame_left already reduced)
 * to the callback. State is settled before the call so that a callback that
 * stops the parser leaves it ready to resume at the next byte. */
static int64_t deliver(ws_parser *p, const uint8_t *data, size_t n, ws_payload_cb cb, void *ctx) {
  unsigned op = p->frame_opcode ? p->frame_opcode : p->message_opcode;
  unsigned flags = 0;
  if (p->frame_left == 0) {
    flags |= WS_FRAME_END;
    if (p->frame_fin)
      flags |= WS_MESSAGE_END;
  }
  if (op == WS_OP_TEXT) {
    p->utf8_state = utf8_step(p->utf8_state, data, n);
    if (p->utf8_state == UTF8_REJECT)
      return ERR_PAYLOAD;
    if ((flags & WS_MESSAGE_END) && p->utf8_state != UTF8_ACCEPT)
      return ERR_PAYLOAD;
  }
  if (flags & WS_FRAME_END) {
    p->in_payload = 0;
    p->hdr_len = 0;
    if ((flags & WS_MESSAGE_END) && !is_control(op)) {
      p->message_opcode = 0;
      p->message_len = 0;
    }
  }
  if (cb && cb(ctx, (enum ws_opcode)op, data, n, flags) != 0)
    return WS_PARSE_STOPPED;
  return 0;
}

int64_t ws_parser_feed(ws_parser *p, uint8_t *data, size_t len, ws_payload_cb cb, void *ctx,
                       size_t *consumed) {
  size_t pos = 0;
  int64_t rc = 0;
  while (pos < len) {
    if (!p->in_payload) {
      rc = header_byte(p, data[pos]);
      if (rc < 0)
        break;
      pos++;
      if (rc == 0)
        continue;
      p->in_payload = 1;
      rc = 0;
      /* An empty frame has no payload bytes to trigger delivery later. */
      if (p->frame_left == 0 && (rc = deliver(p, data + pos, 0, cb, ctx)) != 0)
        break;
      continue;
    }
    size_t n = len - pos;
    if (n > p->frame_left)
      n = (size_t)p->frame_left;
    if (p->hdr[1] & 0x80u)
      p->mask_pos = mask_bytes(data + pos, n, p->mask, p->mask_pos);
    p->frame_left -= n;
    rc = deliver(p, data + pos, n, cb, ctx);
    if (rc != 0 && rc != WS_PARSE_STOPPED)
      break;
    pos += n;
    if (rc != 0)
      break;
  }
  if (consumed)
    *consumed = pos;
  return rc != 0 ? rc : (int64_t)pos;
}

/* ------------------------------------------------------------------------
 * Close payloads */

static bool close_code_allowed(unsigned code) {
  if (code < 1000 || code >= 5000)
    return false;
  /* 1004 is reserved, 1005/1006 are local-only and 1015 is TLS-local; below
   * 3000 only the IANA-registered codes (through 1014) may be sent. */
  if (code >= 1004 && code <= 1006)
    return false;
  if (code >= 1015 && code < 3000)
    return false;
  return true;
}

int ws_close_payload_check(const uint8_t *payload, size_t n) {
  if (n == 0)
    return WS_CLOSE_NO_STATUS;
  if (n == 1 || n > WS_CONTROL_MAX)
    return -WS_CLOSE_PROTOCOL_ERROR;
  unsigned code = ((unsigned)payload[0] << 8) | payload[1];
  if (!close_code_allowed(code))
    return -WS_CLOSE_PROTOCOL_ERROR;
  if (!utf8_valid(payload + 2, n - 2))
    return -WS_CLOSE_INVALID_PAYLOAD;
  return (int)code;
}

/* ------------------------------------------------------------------------
 * Writers */

size_t ws_frame_header(uint8_t out[WS_HEADER_MAX], enum ws_opcode opcode, bool fin, uint64_t len) {
  out[0] = (uint8_t)((fin ? 0x80u : 0u) | ((unsigned)opcode & 0x0Fu));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (unsigned i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

buf *ws_frame_build(enum ws_opcode opcode, const void *payload, size_t len) {
  struct ws_part whole = {payload, len};
  return ws_frame_gather(opcode, &whole, 1);
}

buf *ws_frame_gather(enum ws_opcode opcode, const struct ws_part *parts, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    if (parts[i].len > BUF_MAX - WS_HEADER_MAX - len)
      return NULL;
    len += parts[i].len;
  }
  uint8_t hdr[WS_HEADER_MAX];
  size_t h = ws_frame_header(hdr, opcode, true, len);
  buf *b = buf_new(h + len);
  if (!b)
    return NULL;
  memcpy(b->data, hdr, h);
  size_t at = h;
  for (size_t i = 0; i < n; i++) {
    if (parts[i].len)
      memcpy(b->data + at, parts[i].p, parts[i].len);
    at += parts[i].len;
  }
  b->len = (uint32_t)at;
  return b;
}

buf *ws_close_frame_build(uint16_t code, const char *reason) {
  uint8_t body[WS_CONTROL_MAX];
  size_t max_reason = WS_CONTROL_MAX - 2;
  size_t n = reason ? strnlen(reason, max_reason + 1) : 0;
  if (n > max_reason) {
    /* Cut before a continuation byte would split a character, which would
     * make the peer fail the close with 1007. */
    n = max_reason;
    while (n > 0 && ((uint8_t)reason[n] & 0xC0u) == 0x80u)
      n--;
  }
  body[0] = (uint8_t)(code >> 8);
  body[1] = (uint8_t)code;
  if (n)
    memcpy(body + 2, reason, n);
  return ws_frame_build(WS_OP_CLOSE, body, n + 2);
}

size_t ws_client_frame_write(uint8_t *out, enum ws_opcode opcode, bool fin, const uint8_t mask[4],
                             const void *payload, size_t len) {
  size_t h = ws_frame_header(out, opcode, fin, len);
  out[1] |= 0x80u;
  memcpy(out + h, mask, 4);
  h += 4;
  if (len) {
    memcpy(out + h, payload, len);
    mask_bytes(out + h, len, mask, 0);
  }
  return h + len;
}

/* ------------------------------------------------------------------------
 * Handshake */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

int ws_accept_key(const char *key, size_t key_len, char out[29]) {
  /* 16 bytes encode to 22 significant characters and "==". The unused low
   * bits of the last character are not checked, as in other servers: the
   * key is only ever hashed, never decoded. */
  if (!key || key_len != 24 || key[22] != '=' || key[23] != '=')
    return -1;
  for (size_t i = 0; i < 22; i++)
    if (!is_base64_char(key[i]))
      return -1;

  uint8_t input[24 + sizeof ws_guid - 1];
  memcpy(input, key, 24);
  memcpy(input + 24, ws_guid, sizeof ws_guid - 1);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  if (!EVP_Digest(input, sizeof input, digest, &dlen, EVP_sha1(), NULL) || dlen != 20)
    return -1;
  /* 20 bytes give 28 characters; EVP_EncodeBlock adds the NUL. */
  if (EVP_EncodeBlock((unsigned char *)out, digest, 20) != 28)
    return -1;
  return 0;
}
