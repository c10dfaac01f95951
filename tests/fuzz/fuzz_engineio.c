/* libFuzzer harness for the Engine.IO / Socket.IO packet codec.
 *
 * The input is treated as a polling payload: each record is decoded as an
 * Engine.IO packet (or base64 for "b" records), and each message's data as
 * a Socket.IO packet. Whatever decodes must encode back to the same bytes
 * (the codec keeps everything it reads), and re-decode to the same packet;
 * base64 that decodes must re-encode to the same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws/engineio.h"

#include "fuzz_check.h"

static void check_sio(const char *p, size_t n) {
  struct sio_packet pk;
  if (sio_decode(p, n, &pk) != 0)
    return;
  CHECK(pk.attachments <= SIO_MAX_ATTACHMENTS);
  CHECK(pk.nsp_len >= 1 && pk.nsp[0] == '/');
  size_t need = sio_encode(&pk, NULL, 0);
  char *out = malloc(need);
  CHECK(out);
  CHECK(sio_encode(&pk, out, need) == need);
  CHECK(out[0] == '4');
  struct sio_packet back;
  CHECK(sio_decode(out + 1, need - 1, &back) == 0);
  CHECK(back.type == pk.type && back.attachments == pk.attachments && back.id == pk.id);
  CHECK(back.nsp_len == pk.nsp_len && memcmp(back.nsp, pk.nsp, pk.nsp_len) == 0);
  CHECK(back.data_len == pk.data_len);
  CHECK(pk.data_len == 0 || memcmp(back.data, pk.data, pk.data_len) == 0);
  free(out);
}

static void check_base64(const uint8_t *p, size_t n) {
  uint8_t *dec = malloc(eio_base64_decoded_max(n));
  CHECK(dec);
  long d = eio_base64_decode(p, n, dec);
  if (d >= 0) {
    CHECK((size_t)d <= eio_base64_decoded_max(n));
    char *enc = malloc(eio_base64_encoded_len((size_t)d) + 1);
    CHECK(enc);
    size_t e = eio_base64_encode(dec, (size_t)d, enc);
    CHECK(e == n && memcmp(enc, p, n) == 0);
    free(enc);
  }
  free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0, len;
  const uint8_t *rec;
  check_sio((const char *)data, size);
  while (eio_payload_next(data, size, &pos, &rec, &len)) {
    CHECK(len <= size);
    if (len && rec[0] == 'b') {
      check_base64(rec + 1, len - 1);
      continue;
    }
    struct eio_packet pk;
    if (eio_decode(rec, len, &pk) != 0)
      continue;
    CHECK(pk.len == len - 1);
    if (pk.type == EIO_MESSAGE && pk.len)
      check_sio((const char *)pk.data, pk.len);
  }
  return 0;
}
