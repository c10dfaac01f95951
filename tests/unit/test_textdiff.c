/* Unit tests for whole-text diffs (src/rooms/textdiff.h): the change set
 * is exactly toJSON's form, turns the old text into the new one, and is
 * minimal (checked against a plain LCS table on random texts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rooms/changeset.h"
#include "rooms/textdiff.h"

static const struct changeset_limits limits = {.max_sections = 1 << 20,
                                               .max_insert_bytes = 1 << 24};

static void assert_diff_json(const char *old, const char *new_text, const char *expected) {
  json_t *d = textdiff(old, strlen(old), new_text, strlen(new_text), TEXTDIFF_MAX_EDITS);
  assert_non_null(d);
  char *got = json_dumps(d, JSON_COMPACT);
  assert_string_equal(got, expected);
  free(got);
  json_decref(d);
}

/* Applies the diff of old -> new to old; it must give new. Returns the
 * characters deleted plus inserted (code points), the edit distance. */
static size_t assert_diff_applies(const char *old, size_t old_len, const char *new_text,
                                  size_t new_len, uint32_t max_edits) {
  json_t *d = textdiff(old, old_len, new_text, new_len, max_edits);
  assert_non_null(d);
  struct changeset cs;
  assert_int_equal(changeset_parse(d, &limits, &cs), CHANGESET_OK);
  char *out;
  size_t out_len;
  assert_int_equal(changeset_apply(&cs, old, old_len, &out, &out_len), CHANGESET_OK);
  assert_int_equal(out_len, new_len);
  assert_memory_equal(out, new_text, new_len);
  size_t edits = 0;
  for (size_t i = 0; i < cs.count; i++) {
    if (!cs.sections[i].change)
      continue;
    /* The tests' alphabets are one unit per code point, except 😀 (two):
     * count code points from the bytes. */
    int64_t from = 0, kept = 0;
    for (size_t k = 0; k < i; k++)
      from += (int64_t)cs.sections[k].len;
    int64_t start = text_utf16_to_byte(old, old_len, (uint64_t)from);
    int64_t end = text_utf16_to_byte(old, old_len, (uint64_t)from + cs.sections[i].len);
    assert_true(start >= 0 && end >= start);
    for (int64_t b = start; b < end; b++)
      kept += ((unsigned char)old[b] & 0xC0) != 0x80;
    edits += (size_t)kept;
    for (size_t b = 0; b < cs.sections[i].ins_len; b++)
      edits += ((unsigned char)cs.inserts[cs.sections[i].ins_at + b] & 0xC0) != 0x80;
  }
  free(out);
  changeset_free(&cs);
  json_decref(d);
  return edits;
}

static void test_textdiff_same_text_keeps_all(void **state) {
  assert_diff_json("hello", "hello", "[5]");
  assert_diff_json("", "", "[]");
}

static void test_textdiff_insertion(void **state) {
  assert_diff_json("hello world", "hello brave world", "[6,[0,\"brave \"],5]");
}

static void test_textdiff_deletion(void **state) {
  assert_diff_json("hello brave world", "hello world", "[6,[6],5]");
}

static void test_textdiff_from_and_to_empty(void **state) {
  assert_diff_json("", "x\ny", "[[0,\"x\",\"y\"]]");
  assert_diff_json("x\ny", "", "[[3]]");
}

static void test_textdiff_inserted_newlines_become_lines(void **state) {
  assert_diff_json("ab", "a\n\nb", "[1,[0,\"\",\"\",\"\"],1]");
}

static void test_textdiff_crlf_to_lf(void **state) {
  assert_diff_json("a\r\nb", "a\nb", "[1,[1],2]");
}

static void test_textdiff_never_splits_a_character(void **state) {
  /* 😀 and 😃 share their first three bytes; the change is the whole
   * character, two units. */
  assert_diff_json("a😀b", "a😃b", "[1,[2,\"😃\"],1]");
  /* é (C3 A9) and è (C3 A8) share their first byte. */
  assert_diff_json("é", "è", "[[1,\"è\"]]");
  assert_diff_json("x😀", "x😀😀", "[3,[0,\"😀\"]]");
}

static void test_textdiff_separate_changes_are_separate_sections(void **state) {
  assert_diff_json("one two three", "One two threE", "[[1,\"O\"],11,[1,\"E\"]]");
}

static void test_textdiff_minimal_on_myers_example(void **state) {
  /* The example of Myers' paper: the shortest edit script is 5 long. */
  assert_int_equal(assert_diff_applies("abcabba", 7, "cbabac", 6, TEXTDIFF_MAX_EDITS), 5);
}

static void test_textdiff_past_the_limit_replaces_the_middle(void **state) {
  const char *a = "x0a1b2c3d4e5y", *b = "x5e4d3c2b1a0y";
  json_t *d = textdiff(a, strlen(a), b, strlen(b), 3);
  char *got = json_dumps(d, JSON_COMPACT);
  assert_string_equal(got, "[1,[11,\"5e4d3c2b1a0\"],1]");
  free(got);
  json_decref(d);
  assert_int_equal(assert_diff_applies(a, strlen(a), b, strlen(b), 3), 22);
}

/* Edit distance (insertions and deletions only) of two code point arrays. */
static size_t lcs_distance(const uint32_t *a, size_t n, const uint32_t *b, size_t m) {
  size_t *row = calloc(m + 1, sizeof *row), *prev = calloc(m + 1, sizeof *prev);
  assert_non_null(row);
  assert_non_null(prev);
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++)
      row[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : row[j - 1] > prev[j] ? row[j - 1] : prev[j];
    memcpy(prev, row, (m + 1) * sizeof *row);
  }
  size_t lcs = prev[m];
  free(row);
  free(prev);
  return n + m - 2 * lcs;
}

static const char *const alphabet[] = {"a", "b", "\n", "é", "😀", "\r"};
static const uint32_t alphabet_cp[] = {'a', 'b', '\n', 0xE9, 0x1F600, '\r'};

static size_t random_text(char *out, uint32_t *cps, size_t max_chars) {
  size_t n = (size_t)rand() % (max_chars + 1), len = 0;
  for (size_t i = 0; i < n; i++) {
    int k = rand() % 6;
    memcpy(out + len, alphabet[k], strlen(alphabet[k]));
    len += strlen(alphabet[k]);
    cps[i] = alphabet_cp[k];
  }
  out[len] = '\0';
  return n;
}

static void test_textdiff_random_texts_round_trip_minimally(void **state) {
  srand(42);
  char a[40 * 4 + 1], b[40 * 4 + 1];
  uint32_t acp[40], bcp[40];
  for (int round = 0; round < 3000; round++) {
    size_t n = random_text(a, acp, 40);
    size_t m = random_text(b, bcp, 40);
    /* Half the time b is a mutation of a, so prefixes and suffixes meet. */
    if (round % 2 && n > 2) {
      memcpy(bcp, acp, n * sizeof *acp);
      size_t cut = (size_t)rand() % n, len = 0;
      for (size_t i = 0; i < n; i++) {
        if (i == cut)
          continue;
        int k = 0;
        while (alphabet_cp[k] != acp[i])
          k++;
        memcpy(b + len, alphabet[k], strlen(alphabet[k]));
        len += strlen(alphabet[k]);
      }
      b[len] = '\0';
      memmove(bcp + cut, bcp + cut + 1, (n - cut - 1) * sizeof *bcp);
      m = n - 1;
    }
    size_t edits = assert_diff_applies(a, strlen(a), b, strlen(b), TEXTDIFF_MAX_EDITS);
    assert_int_equal(edits, lcs_distance(acp, n, bcp, m));
  }
}

static void test_textdiff_large_texts_within_the_work_bound(void **state) {
  /* 200,000 characters each, nothing in common in the middle: the search
   * gives up and replaces the middle, and the result still applies. */
  size_t n = 200000;
  char *a = malloc(n + 1), *b = malloc(n + 1);
  assert_non_null(a);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++) {
    a[i] = (char)('a' + (i * 7) % 13);
    b[i] = (char)('n' + (i * 5) % 11);
  }
  a[n] = b[n] = '\0';
  assert_int_equal(assert_diff_applies(a, n, b, n, TEXTDIFF_MAX_EDITS), 2 * n);
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_textdiff_same_text_keeps_all),
      cmocka_unit_test(test_textdiff_insertion),
      cmocka_unit_test(test_textdiff_deletion),
      cmocka_unit_test(test_textdiff_from_and_to_empty),
      cmocka_unit_test(test_textdiff_inserted_newlines_become_lines),
      cmocka_unit_test(test_textdiff_crlf_to_lf),
      cmocka_unit_test(test_textdiff_never_splits_a_character),
      cmocka_unit_test(test_textdiff_separate_changes_are_separate_sections),
      cmocka_unit_test(test_textdiff_minimal_on_myers_example),
      cmocka_unit_test(test_textdiff_past_the_limit_replaces_the_middle),
      cmocka_unit_test(test_textdiff_random_texts_round_trip_minimally),
      cmocka_unit_test(test_textdiff_large_texts_within_the_work_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
