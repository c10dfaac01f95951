/* Unit tests for the Engine.IO v4 / Socket.IO v5 packet codec (src/ws/engineio.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ws/engineio.h"

static int eio(const char *s, struct eio_packet *pk) {
  return eio_decode((const uint8_t *)s, strlen(s), pk);
}

static int sio(const char *s, struct sio_packet *pk) {
  return sio_decode(s, strlen(s), pk);
}

static void assert_data(const char *data, size_t len, const char *want) {
  assert_int_equal(len, strlen(want));
  assert_memory_equal(data, want, len);
}

static void test_eio_decodes_every_packet_type(void **state) {
  struct eio_packet pk;
  const char types[] = "0123456";
  for (int t = 0; t < 7; t++) {
    char s[2] = {types[t], 0};
    assert_int_equal(eio(s, &pk), 0);
    assert_int_equal(pk.type, t);
    assert_null(pk.data);
    assert_int_equal(pk.len, 0);
  }
}

static void test_eio_keeps_the_data_after_the_type(void **state) {
  struct eio_packet pk;
  assert_int_equal(eio("2probe", &pk), 0);
  assert_int_equal(pk.type, EIO_PING);
  assert_data((const char *)pk.data, pk.len, "probe");
  assert_int_equal(eio("42[\"a\"]", &pk), 0);
  assert_int_equal(pk.type, EIO_MESSAGE);
  assert_data((const char *)pk.data, pk.len, "2[\"a\"]");
}

static void test_eio_rejects_empty_and_unknown_types(void **state) {
  struct eio_packet pk;
  assert_int_equal(eio("", &pk), EIO_ERR_EMPTY);
  assert_int_equal(eio("7", &pk), EIO_ERR_TYPE);
  assert_int_equal(eio("x4", &pk), EIO_ERR_TYPE);
  assert_int_equal(eio("b4AQID", &pk), EIO_ERR_TYPE);
}

static void test_eio_payload_splits_on_record_separator(void **state) {
  const char body[] = "4hello\x1e"
                      "2\x1e"
                      "bAQI=";
  size_t pos = 0, len;
  const uint8_t *rec;
  const uint8_t *p = (const uint8_t *)body;
  size_t n = sizeof body - 1;
  assert_int_equal(eio_payload_next(p, n, &pos, &rec, &len), 1);
  assert_data((const char *)rec, len, "4hello");
  assert_int_equal(eio_payload_next(p, n, &pos, &rec, &len), 1);
  assert_data((const char *)rec, len, "2");
  assert_int_equal(eio_payload_next(p, n, &pos, &rec, &len), 1);
  assert_data((const char *)rec, len, "bAQI=");
  assert_int_equal(eio_payload_next(p, n, &pos, &rec, &len), 0);
}

static void test_eio_payload_of_one_record_and_empty_payload(void **state) {
  size_t pos = 0, len;
  const uint8_t *rec;
  assert_int_equal(eio_payload_next((const uint8_t *)"3", 1, &pos, &rec, &len), 1);
  assert_data((const char *)rec, len, "3");
  assert_int_equal(eio_payload_next((const uint8_t *)"3", 1, &pos, &rec, &len), 0);
  pos = 0;
  assert_int_equal(eio_payload_next((const uint8_t *)"", 0, &pos, &rec, &len), 0);
}

static void test_base64_round_trips_every_length(void **state) {
  uint8_t in[10], dec[16];
  char enc[16];
  for (size_t i = 0; i < sizeof in; i++)
    in[i] = (uint8_t)(i * 37 + 250);
  for (size_t n = 0; n <= sizeof in; n++) {
    size_t e = eio_base64_encode(in, n, enc);
    assert_int_equal(e, eio_base64_encoded_len(n));
    long d = eio_base64_decode((const uint8_t *)enc, e, dec);
    assert_int_equal(d, (long)n);
    assert_memory_equal(dec, in, n);
  }
}

static void test_base64_matches_the_rfc_vectors(void **state) {
  char enc[16];
  assert_int_equal(eio_base64_encode((const uint8_t *)"foob", 4, enc), 8);
  assert_memory_equal(enc, "Zm9vYg==", 8);
  assert_int_equal(eio_base64_encode((const uint8_t *)"fooba", 5, enc), 8);
  assert_memory_equal(enc, "Zm9vYmE=", 8);
}

static void test_base64_rejects_bad_input(void **state) {
  uint8_t out[16];
  assert_int_equal(eio_base64_decode((const uint8_t *)"abc", 3, out), EIO_ERR_BASE64);
  assert_int_equal(eio_base64_decode((const uint8_t *)"ab!d", 4, out), EIO_ERR_BASE64);
  assert_int_equal(eio_base64_decode((const uint8_t *)"a===", 4, out), EIO_ERR_BASE64);
  assert_int_equal(eio_base64_decode((const uint8_t *)"ab=c", 4, out), EIO_ERR_BASE64);
  assert_int_equal(eio_base64_decode((const uint8_t *)"ab==abcd", 8, out), EIO_ERR_BASE64);
}

static void test_sio_decodes_connect_with_and_without_auth(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("0", &pk), 0);
  assert_int_equal(pk.type, SIO_CONNECT);
  assert_data(pk.nsp, pk.nsp_len, "/");
  assert_null(pk.data);
  assert_int_equal(pk.id, -1);
  assert_int_equal(sio("0{\"token\":\"x\"}", &pk), 0);
  assert_data(pk.data, pk.data_len, "{\"token\":\"x\"}");
  assert_int_equal(sio("0/admin,{\"a\":1}", &pk), 0);
  assert_data(pk.nsp, pk.nsp_len, "/admin");
  assert_data(pk.data, pk.data_len, "{\"a\":1}");
}

static void test_sio_decodes_namespace_without_comma_at_the_end(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("0/admin", &pk), 0);
  assert_data(pk.nsp, pk.nsp_len, "/admin");
  assert_null(pk.data);
  assert_int_equal(sio("1/admin,", &pk), 0);
  assert_int_equal(pk.type, SIO_DISCONNECT);
  assert_data(pk.nsp, pk.nsp_len, "/admin");
}

static void test_sio_decodes_event_with_ack_id(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("212[\"join\",{\"roomId\":\"r\"}]", &pk), 0);
  assert_int_equal(pk.type, SIO_EVENT);
  assert_int_equal(pk.id, 12);
  assert_data(pk.data, pk.data_len, "[\"join\",{\"roomId\":\"r\"}]");
  assert_int_equal(sio("2/chat,7[\"x\"]", &pk), 0);
  assert_data(pk.nsp, pk.nsp_len, "/chat");
  assert_int_equal(pk.id, 7);
}

static void test_sio_decodes_ack_and_requires_its_id(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("30[]", &pk), 0);
  assert_int_equal(pk.type, SIO_ACK);
  assert_int_equal(pk.id, 0);
  assert_int_equal(sio("3[\"x\"]", &pk), EIO_ERR_ID);
}

static void test_sio_decodes_binary_packets_with_attachments(void **state) {
  struct sio_packet pk;
  assert_int_equal(
      sio("52-[\"up\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", &pk),
      0);
  assert_int_equal(pk.type, SIO_BINARY_EVENT);
  assert_int_equal(pk.attachments, 2);
  assert_int_equal(sio("61-/x,4[{\"_placeholder\":true,\"num\":0}]", &pk), 0);
  assert_int_equal(pk.type, SIO_BINARY_ACK);
  assert_int_equal(pk.attachments, 1);
  assert_data(pk.nsp, pk.nsp_len, "/x");
  assert_int_equal(pk.id, 4);
}

static void test_sio_rejects_bad_attachment_counts(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("5[\"x\"]", &pk), EIO_ERR_ATTACHMENTS);
  assert_int_equal(sio("5-[\"x\"]", &pk), EIO_ERR_ATTACHMENTS);
  assert_int_equal(sio("51", &pk), EIO_ERR_ATTACHMENTS);
  assert_int_equal(sio("565-[\"x\"]", &pk), EIO_ERR_ATTACHMENTS);
  assert_int_equal(sio("599999999999-[\"x\"]", &pk), EIO_ERR_ATTACHMENTS);
}

static void test_sio_rejects_payloads_of_the_wrong_shape(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("2", &pk), EIO_ERR_PAYLOAD);
  assert_int_equal(sio("2{\"a\":1}", &pk), EIO_ERR_PAYLOAD);
  assert_int_equal(sio("0[1]", &pk), EIO_ERR_PAYLOAD);
  assert_int_equal(sio("1{}", &pk), EIO_ERR_PAYLOAD);
  assert_int_equal(sio("4[]", &pk), EIO_ERR_PAYLOAD);
  assert_int_equal(sio("2x", &pk), EIO_ERR_PAYLOAD);
}

static void test_sio_rejects_unknown_types_and_long_ids(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("", &pk), EIO_ERR_EMPTY);
  assert_int_equal(sio("7[]", &pk), EIO_ERR_TYPE);
  assert_int_equal(sio("a", &pk), EIO_ERR_TYPE);
  assert_int_equal(sio("21234567890123456[\"x\"]", &pk), EIO_ERR_ID);
}

static void test_sio_decodes_connect_error(void **state) {
  struct sio_packet pk;
  assert_int_equal(sio("4/admin,{\"message\":\"Invalid namespace\"}", &pk), 0);
  assert_int_equal(pk.type, SIO_CONNECT_ERROR);
  assert_int_equal(sio("4\"nope\"", &pk), 0);
}

static void assert_encodes(const struct sio_packet *pk, const char *want) {
  char out[128];
  size_t n = sio_encode(pk, out, sizeof out);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(out, want, n);
}

static void test_sio_encodes_every_packet_type(void **state) {
  struct sio_packet pk = {.type = SIO_CONNECT,
                          .nsp = "/",
                          .nsp_len = 1,
                          .id = -1,
                          .data = "{\"sid\":\"abc\"}",
                          .data_len = 13};
  assert_encodes(&pk, "40{\"sid\":\"abc\"}");
  pk = (struct sio_packet){.type = SIO_DISCONNECT, .id = -1};
  assert_encodes(&pk, "41");
  pk = (struct sio_packet){.type = SIO_EVENT, .id = -1, .data = "[\"ready\"]", .data_len = 9};
  assert_encodes(&pk, "42[\"ready\"]");
  pk = (struct sio_packet){.type = SIO_ACK, .id = 42, .data = "[1]", .data_len = 3};
  assert_encodes(&pk, "4342[1]");
  pk = (struct sio_packet){.type = SIO_CONNECT_ERROR,
                           .nsp = "/admin",
                           .nsp_len = 6,
                           .id = -1,
                           .data = "{\"message\":\"Invalid namespace\"}",
                           .data_len = 31};
  assert_encodes(&pk, "44/admin,{\"message\":\"Invalid namespace\"}");
  pk = (struct sio_packet){.type = SIO_BINARY_EVENT,
                           .attachments = 1,
                           .id = -1,
                           .data = "[\"b\",{\"_placeholder\":true,\"num\":0}]",
                           .data_len = 35};
  assert_encodes(&pk, "451-[\"b\",{\"_placeholder\":true,\"num\":0}]");
  pk = (struct sio_packet){
      .type = SIO_BINARY_ACK, .attachments = 2, .id = 9, .data = "[]", .data_len = 2};
  assert_encodes(&pk, "462-9[]");
}

static void test_sio_encode_reports_the_length_it_needs(void **state) {
  struct sio_packet pk = {.type = SIO_EVENT, .id = 123, .data = "[\"abcdef\"]", .data_len = 10};
  char small[4];
  assert_int_equal(sio_encode(&pk, small, sizeof small), strlen("42123[\"abcdef\"]"));
}

static void test_sio_encode_then_decode_round_trips(void **state) {
  struct sio_packet pk = {.type = SIO_BINARY_ACK,
                          .attachments = 3,
                          .nsp = "/n",
                          .nsp_len = 2,
                          .id = 77,
                          .data = "[true]",
                          .data_len = 6};
  char out[64];
  size_t n = sio_encode(&pk, out, sizeof out);
  struct sio_packet back;
  assert_int_equal(sio_decode(out + 1, n - 1, &back), 0);
  assert_int_equal(back.type, pk.type);
  assert_int_equal(back.attachments, 3);
  assert_data(back.nsp, back.nsp_len, "/n");
  assert_int_equal(back.id, 77);
  assert_data(back.data, back.data_len, "[true]");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eio_decodes_every_packet_type),
      cmocka_unit_test(test_eio_keeps_the_data_after_the_type),
      cmocka_unit_test(test_eio_rejects_empty_and_unknown_types),
      cmocka_unit_test(test_eio_payload_splits_on_record_separator),
      cmocka_unit_test(test_eio_payload_of_one_record_and_empty_payload),
      cmocka_unit_test(test_base64_round_trips_every_length),
      cmocka_unit_test(test_base64_matches_the_rfc_vectors),
      cmocka_unit_test(test_base64_rejects_bad_input),
      cmocka_unit_test(test_sio_decodes_connect_with_and_without_auth),
      cmocka_unit_test(test_sio_decodes_namespace_without_comma_at_the_end),
      cmocka_unit_test(test_sio_decodes_event_with_ack_id),
      cmocka_unit_test(test_sio_decodes_ack_and_requires_its_id),
      cmocka_unit_test(test_sio_decodes_binary_packets_with_attachments),
      cmocka_unit_test(test_sio_rejects_bad_attachment_counts),
      cmocka_unit_test(test_sio_rejects_payloads_of_the_wrong_shape),
      cmocka_unit_test(test_sio_rejects_unknown_types_and_long_ids),
      cmocka_unit_test(test_sio_decodes_connect_error),
      cmocka_unit_test(test_sio_encodes_every_packet_type),
      cmocka_unit_test(test_sio_encode_reports_the_length_it_needs),
      cmocka_unit_test(test_sio_encode_then_decode_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
