/* A WebSocket member waiting on the store (src/api/ws_wait.h): answers
 * after the connection went see none, frames sent meanwhile are handled in
 * order once the wait ends, and a held frame that waits again keeps the
 * rest behind it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/ws_wait.h"

/* The connection is never written to in these tests: a stand-in address. */
static conn *const fake_conn = (conn *)&fake_conn;

static char handled[16][8];
static int handled_count;
static struct ws_wait *current;
static struct ws_wait *waits_again_on; /* a frame "wait" begins a wait kept here */

static void record(conn *c, enum ws_opcode op, const uint8_t *data, size_t len) {
  assert_ptr_equal(c, fake_conn);
  assert_int_equal(op, WS_OP_TEXT);
  memcpy(handled[handled_count], data, len);
  handled[handled_count++][len] = '\0';
  if (len == 4 && memcmp(data, "wait", 4) == 0)
    waits_again_on = ws_wait_begin(current);
}

static void hold(struct ws_wait *w, const char *text) {
  ws_wait_hold(w, WS_OP_TEXT, (const uint8_t *)text, strlen(text));
}

static int reset(void **state) {
  (void)state;
  handled_count = 0;
  waits_again_on = NULL;
  return 0;
}

static void test_ws_wait_handles_held_frames_in_order_when_it_ends(void **state) {
  (void)state;
  struct ws_wait *w = current = ws_wait_new(fake_conn, record);
  assert_false(ws_wait_busy(w));
  struct ws_wait *answer = ws_wait_begin(w);
  assert_true(ws_wait_busy(w));
  hold(w, "a");
  hold(w, "b");
  assert_int_equal(handled_count, 0);
  assert_ptr_equal(ws_wait_conn(answer), fake_conn);
  ws_wait_end(answer);
  assert_int_equal(handled_count, 2);
  assert_string_equal(handled[0], "a");
  assert_string_equal(handled[1], "b");
  assert_false(ws_wait_busy(w));
  ws_wait_closed(w);
}

static void test_ws_wait_a_held_frame_that_waits_keeps_the_rest_behind(void **state) {
  (void)state;
  struct ws_wait *w = current = ws_wait_new(fake_conn, record);
  struct ws_wait *answer = ws_wait_begin(w);
  hold(w, "wait");
  hold(w, "c");
  ws_wait_end(answer);
  assert_int_equal(handled_count, 1);
  assert_true(ws_wait_busy(w));
  ws_wait_end(waits_again_on);
  assert_int_equal(handled_count, 2);
  assert_string_equal(handled[1], "c");
  ws_wait_closed(w);
}

static void test_ws_wait_answer_after_close_sees_no_connection(void **state) {
  (void)state;
  struct ws_wait *w = current = ws_wait_new(fake_conn, record);
  struct ws_wait *answer = ws_wait_begin(w);
  hold(w, "lost with the connection");
  ws_wait_closed(w); /* the handle outlives the connection for the answer */
  assert_null(ws_wait_conn(answer));
  ws_wait_end(answer); /* frees it: LeakSanitizer checks */
  assert_int_equal(handled_count, 0);
}

static void test_ws_wait_two_waits_hold_frames_until_both_end(void **state) {
  (void)state;
  struct ws_wait *w = current = ws_wait_new(fake_conn, record);
  struct ws_wait *first = ws_wait_begin(w), *second = ws_wait_begin(w);
  hold(w, "x");
  ws_wait_end(first);
  assert_int_equal(handled_count, 0);
  ws_wait_end(second);
  assert_int_equal(handled_count, 1);
  ws_wait_closed(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_ws_wait_handles_held_frames_in_order_when_it_ends, reset),
      cmocka_unit_test_setup(test_ws_wait_a_held_frame_that_waits_keeps_the_rest_behind, reset),
      cmocka_unit_test_setup(test_ws_wait_answer_after_close_sees_no_connection, reset),
      cmocka_unit_test_setup(test_ws_wait_two_waits_hold_frames_until_both_end, reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
