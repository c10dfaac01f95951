#include "ws/engineio.h"

#include <string.h>

int eio_decode(const uint8_t *p, size_t n, struct eio_packet *out) {
  if (n == 0)
    return EIO_ERR_EMPTY;
  if (p[0] < '0' || p[0] > '6')
    return EIO_ERR_TYPE;
  out->type = (enum eio_type)(p[0] - '0');
  out->data = n > 1 ? p + 1 : NULL;
  out->len = n - 1;
  return 0;
}

int eio_payload_next(const uint8_t *p, size_t n, size_t *pos, const uint8_t **rec,
                     size_t *rec_len) {
  if (*pos >= n)
    return 0;
  const uint8_t *start = p + *pos;
  const uint8_t *sep = memchr(start, 0x1e, n - *pos);
  size_t len = sep ? (size_t)(sep - start) : n - *pos;
  *rec = start;
  *rec_len = len;
  *pos += len + (sep ? 1 : 0);
  return 1;
}

static int b64_value(uint8_t ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '+')
    return 62;
  if (ch == '/')
    return 63;
  return -1;
}

long eio_base64_decode(const uint8_t *in, size_t n, uint8_t *out) {
  if (n % 4)
    return EIO_ERR_BASE64;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      if (in[i + k] == '=' && i + 4 == n && k >= 2) {
        v[k] = 0;
        pad++;
      } else if (pad) {
        return EIO_ERR_BASE64; /* data after padding */
      } else if ((v[k] = b64_value(in[i + k])) < 0) {
        return EIO_ERR_BASE64;
      }
    }
    /* Canonical only: the bits padding drops must be zero. */
    if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
      return EIO_ERR_BASE64;
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[o++] = (uint8_t)(w >> 16);
    if (pad < 2)
      out[o++] = (uint8_t)(w >> 8);
    if (pad < 1)
      out[o++] = (uint8_t)w;
  }
  return (long)o;
}

size_t eio_base64_encode(const uint8_t *in, size_t n, char *out) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t w = (uint32_t)in[i] << 16;
    if (i + 1 < n)
      w |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n)
      w |= in[i + 2];
    out[o++] = alphabet[w >> 18 & 63];
    out[o++] = alphabet[w >> 12 & 63];
    out[o++] = i + 1 < n ? alphabet[w >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? alphabet[w & 63] : '=';
  }
  return o;
}

static bool is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

/* The payload's first character decides its JSON type; the caller parses it. */
static int check_payload(enum sio_type type, const char *d, size_t n) {
  char first = n ? d[0] : 0;
  switch (type) {
  case SIO_CONNECT: return n == 0 || first == '{' ? 0 : EIO_ERR_PAYLOAD;
  case SIO_DISCONNECT: return n == 0 ? 0 : EIO_ERR_PAYLOAD;
  case SIO_EVENT:
  case SIO_BINARY_EVENT:
  case SIO_ACK:
  case SIO_BINARY_ACK: return first == '[' ? 0 : EIO_ERR_PAYLOAD;
  case SIO_CONNECT_ERROR: return first == '{' || first == '"' ? 0 : EIO_ERR_PAYLOAD;
  }
  return EIO_ERR_TYPE;
}

int sio_decode(const char *p, size_t n, struct sio_packet *out) {
  if (n == 0)
    return EIO_ERR_EMPTY;
  if (p[0] < '0' || p[0] > '6')
    return EIO_ERR_TYPE;
  memset(out, 0, sizeof *out);
  out->type = (enum sio_type)(p[0] - '0');
  out->id = -1;
  size_t i = 1;
  if (out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK) {
    uint32_t count = 0;
    size_t start = i;
    while (i < n && is_digit(p[i])) {
      count = count * 10 + (uint32_t)(p[i] - '0');
      if (count > SIO_MAX_ATTACHMENTS)
        return EIO_ERR_ATTACHMENTS;
      i++;
    }
    if (i == start || i >= n || p[i] != '-')
      return EIO_ERR_ATTACHMENTS;
    out->attachments = count;
    i++;
  }
  if (i < n && p[i] == '/') {
    size_t start = i;
    while (i < n && p[i] != ',')
      i++;
    out->nsp = p + start;
    out->nsp_len = i - start;
    if (i < n)
      i++; /* the comma */
  } else {
    out->nsp = "/";
    out->nsp_len = 1;
  }
  if (i < n && is_digit(p[i])) {
    int64_t id = 0;
    size_t start = i;
    while (i < n && is_digit(p[i])) {
      if (i - start >= SIO_MAX_ID_DIGITS)
        return EIO_ERR_ID;
      id = id * 10 + (p[i] - '0');
      i++;
    }
    out->id = id;
  }
  if (i < n) {
    out->data = p + i;
    out->data_len = n - i;
  }
  if ((out->type == SIO_ACK || out->type == SIO_BINARY_ACK) && out->id < 0)
    return EIO_ERR_ID;
  return check_payload(out->type, out->data, out->data_len);
}

/* Appends at *o when it fits; always advances *o, so the total is known. */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n) {
  if (*o + n <= cap)
    memcpy(out + *o, s, n);
  *o += n;
}

static void put_uint(char *out, size_t cap, size_t *o, uint64_t v) {
  char digits[24];
  size_t n = 0;
  do {
    digits[sizeof digits - ++n] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(out, cap, o, digits + sizeof digits - n, n);
}

size_t sio_encode(const struct sio_packet *pk, char *out, size_t cap) {
  size_t o = 0;
  char head[2] = {'4', (char)('0' + pk->type)};
  put(out, cap, &o, head, 2);
  if (pk->type == SIO_BINARY_EVENT || pk->type == SIO_BINARY_ACK) {
    put_uint(out, cap, &o, pk->attachments);
    put(out, cap, &o, "-", 1);
  }
  bool nsp = pk->nsp && !(pk->nsp_len == 1 && pk->nsp[0] == '/');
  if (nsp) {
    put(out, cap, &o, pk->nsp, pk->nsp_len);
    put(out, cap, &o, ",", 1);
  }
  if (pk->id >= 0)
    put_uint(out, cap, &o, (uint64_t)pk->id);
  if (pk->data)
    put(out, cap, &o, pk->data, pk->data_len);
  return o;
}
