/* Unit tests for autocomplete (src/rooms/autocomplete.h). Documents are
 * written with a '|' where the cursor is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/autocomplete.h"

static struct ac_result res;

/* Completes `doc` at its '|' (removed); returns ac_complete's result. */
static int complete(const char *doc, enum ac_lang lang) {
  const char *bar = strchr(doc, '|');
  assert_non_null(bar);
  size_t len = strlen(doc) - 1, cursor = (size_t)(bar - doc);
  char *code = malloc(len + 1);
  assert_non_null(code);
  memcpy(code, doc, cursor);
  memcpy(code + cursor, bar + 1, len - cursor + 1);
  int rc = ac_complete(code, len, cursor, lang, &res);
  free(code);
  return rc;
}

/* The position of `label` of `kind` in the list, or -1. */
static int find(const char *label, enum ac_kind kind) {
  for (int i = 0; i < res.count; i++)
    if (res.items[i].kind == kind && strcmp(res.items[i].label, label) == 0)
      return i;
  return -1;
}

static int find_any(const char *label) {
  for (int i = 0; i < res.count; i++)
    if (strcmp(res.items[i].label, label) == 0)
      return i;
  return -1;
}

static void assert_first(const char *label, enum ac_kind kind) {
  assert_true(res.count > 0);
  assert_string_equal(res.items[0].label, label);
  assert_int_equal(res.items[0].kind, kind);
}

/* ------------------------------------------------------------ languages */

static void test_ac_language_names_and_aliases(void **state) {
  assert_int_equal(ac_lang_from_name("python", 6), AC_LANG_PYTHON);
  assert_int_equal(ac_lang_from_name("Py", 2), AC_LANG_PYTHON);
  assert_int_equal(ac_lang_from_name("JavaScript", 10), AC_LANG_JAVASCRIPT);
  assert_int_equal(ac_lang_from_name("ts", 2), AC_LANG_TYPESCRIPT);
  assert_int_equal(ac_lang_from_name("c", 1), AC_LANG_C);
  assert_int_equal(ac_lang_from_name("go", 2), AC_LANG_GO);
  assert_int_equal(ac_lang_from_name("rust", 4), AC_LANG_RUST);
  assert_int_equal(ac_lang_from_name("java", 4), AC_LANG_JAVA);
  assert_int_equal(ac_lang_from_name("cobol", 5), -1);
  assert_int_equal(ac_lang_from_name("javas", 5), -1);
  assert_int_equal(ac_lang_from_name("", 0), -1);
  assert_non_null(strstr(ac_lang_list(), "rust"));
}

static void test_ac_unknown_language_is_refused(void **state) {
  assert_int_equal(ac_complete("x", 1, 1, AC_LANG_COUNT, &res), AC_ERR_LANGUAGE);
  assert_int_equal(ac_complete_utf16("x", 1, 1, (enum ac_lang)99, &res), AC_ERR_LANGUAGE);
  assert_non_null(strstr(ac_error_text(AC_ERR_LANGUAGE), "python"));
}

/* --------------------------------------------------------------- Python */

static void test_ac_python_keyword_and_builtin(void **state) {
  assert_int_equal(complete("x = 1\nretu|", AC_LANG_PYTHON), AC_OK);
  assert_first("return", AC_KIND_KEYWORD);
  assert_string_equal(res.prefix, "retu");
  assert_int_equal(res.from, 6);
  assert_int_equal(res.to, 10);
  assert_int_equal(complete("isinst|", AC_LANG_PYTHON), AC_OK);
  assert_first("isinstance", AC_KIND_BUILTIN);
  assert_true(res.confidence > 0.9);
}

static void test_ac_python_identifiers_ranked_by_use_and_nearness(void **state) {
  const char *doc = "total_count = 0\n"
                    "total_size = 0\n"
                    "for item in items:\n"
                    "    total_size += item.size\n"
                    "    total_size += 1\n"
                    "    print(total_size)\n"
                    "    tot|\n";
  assert_int_equal(complete(doc, AC_LANG_PYTHON), AC_OK);
  assert_first("total_size", AC_KIND_IDENTIFIER);
  assert_true(find("total_count", AC_KIND_IDENTIFIER) > 0);
  assert_string_equal(res.items[0].detail, "4 uses in this document");
}

static void test_ac_python_nearer_identifier_wins_at_equal_use(void **state) {
  const char *doc = "alpha_far = 1\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
                    "alpha_near = 2\nalp|";
  assert_int_equal(complete(doc, AC_LANG_PYTHON), AC_OK);
  assert_first("alpha_near", AC_KIND_IDENTIFIER);
  assert_int_equal(find("alpha_far", AC_KIND_IDENTIFIER), 1);
}

static void test_ac_python_def_line_gets_parentheses_and_indented_body(void **state) {
  assert_int_equal(complete("class Shop:\n    def checkout|\n", AC_LANG_PYTHON), AC_OK);
  assert_first("checkout(…):", AC_KIND_SNIPPET);
  /* The body one level deeper than the def line, in the document's unit. */
  assert_string_equal(res.items[0].insert, "checkout():\n        pass");
  assert_true(res.confidence >= 0.9);
  assert_int_equal(complete("def main|", AC_LANG_PYTHON), AC_OK);
  assert_string_equal(res.items[0].insert, "main():\n    pass");
  assert_int_equal(complete("async def fetch|", AC_LANG_PYTHON), AC_OK);
  assert_first("fetch(…):", AC_KIND_SNIPPET);
}

static void test_ac_python_def_line_with_text_after_cursor_is_no_definition(void **state) {
  assert_int_equal(complete("def ma|(x):\n    pass\n", AC_LANG_PYTHON), AC_OK);
  assert_int_equal(find_any("ma(…):"), -1);
}

static void test_ac_python_class_line_and_keyword_snippets(void **state) {
  assert_int_equal(complete("class Order|", AC_LANG_PYTHON), AC_OK);
  assert_first("Order:", AC_KIND_SNIPPET);
  assert_string_equal(res.items[0].insert, "Order:\n    pass");
  assert_int_equal(complete("if x:\n  whi|", AC_LANG_PYTHON), AC_OK);
  int i = find("while", AC_KIND_SNIPPET);
  assert_true(i >= 0);
  /* The document indents by two: the body follows it. */
  assert_string_equal(res.items[i].insert, "while condition:\n    pass");
  assert_int_equal(complete("for|", AC_LANG_PYTHON), AC_OK);
  assert_first("for", AC_KIND_SNIPPET);
  assert_string_equal(res.items[0].insert, "for item in items:\n    pass");
}

static void test_ac_python_strings_and_comments_are_skipped(void **state) {
  const char *doc = "# secret_comment here\n"
                    "s = 'secret_single'\n"
                    "t = \"secret_double\"\n"
                    "u = \"\"\"secret_triple\n secret_lines\"\"\"\n"
                    "v = f'secret_f'\n"
                    "secret_code = 1\n"
                    "secr|";
  assert_int_equal(complete(doc, AC_LANG_PYTHON), AC_OK);
  assert_int_equal(res.count, 1);
  assert_first("secret_code", AC_KIND_IDENTIFIER);
  assert_true(res.confidence > 0.9);
}

/* ----------------------------------------------------------- JavaScript */

static void test_ac_javascript_keywords_globals_and_dollar(void **state) {
  assert_int_equal(complete("const $el = 1;\nfunc|", AC_LANG_JAVASCRIPT), AC_OK);
  assert_true(find("function", AC_KIND_KEYWORD) >= 0);
  assert_true(find("function", AC_KIND_SNIPPET) >= 0);
  assert_int_equal(complete("JSO|", AC_LANG_JAVASCRIPT), AC_OK);
  assert_first("JSON", AC_KIND_BUILTIN);
  assert_int_equal(complete("const $el = 1;\n$|", AC_LANG_JAVASCRIPT), AC_OK);
  assert_first("$el", AC_KIND_IDENTIFIER);
}

static void test_ac_javascript_template_and_comments_skipped(void **state) {
  const char *doc = "const a = `hidden_template ${x}`;\n"
                    "/* hidden_block\n hidden_block */\n"
                    "// hidden_line\n"
                    "const hidden_real = 'hidden_quote';\n"
                    "hidd|";
  assert_int_equal(complete(doc, AC_LANG_JAVASCRIPT), AC_OK);
  assert_int_equal(res.count, 1);
  assert_first("hidden_real", AC_KIND_IDENTIFIER);
}

static void test_ac_javascript_fuzzy_below_prefix(void **state) {
  const char *doc = "document.getElementById('x');\nconst gerbil = 1;\ngEBI|";
  assert_int_equal(complete(doc, AC_LANG_JAVASCRIPT), AC_OK);
  assert_first("getElementById", AC_KIND_IDENTIFIER);
  assert_true(res.confidence <= 0.5); /* a subsequence only */
  assert_int_equal(complete("const gerbil = 1;\nconst Gecko = 2;\nGe|", AC_LANG_JAVASCRIPT), AC_OK);
  /* Case-sensitive prefix first, then any case. */
  assert_first("Gecko", AC_KIND_IDENTIFIER);
  assert_true(find("gerbil", AC_KIND_IDENTIFIER) > 0);
}

static void test_ac_javascript_member_after_dot_is_identifiers_only(void **state) {
  assert_int_equal(complete("list.forEach(f);\nother.fo|", AC_LANG_JAVASCRIPT), AC_OK);
  assert_first("forEach", AC_KIND_IDENTIFIER);
  assert_int_equal(find("for", AC_KIND_KEYWORD), -1);
  assert_int_equal(find("for", AC_KIND_SNIPPET), -1);
}

/* ----------------------------------------------------------- TypeScript */

static void test_ac_typescript_keywords_and_types(void **state) {
  assert_int_equal(complete("interf|", AC_LANG_TYPESCRIPT), AC_OK);
  assert_true(find("interface", AC_KIND_KEYWORD) >= 0);
  assert_true(find("interface", AC_KIND_SNIPPET) >= 0);
  assert_int_equal(complete("type A = Parti|", AC_LANG_TYPESCRIPT), AC_OK);
  assert_first("Partial", AC_KIND_BUILTIN);
}

/* -------------------------------------------------------------------- C */

static void test_ac_c_for_snippet_gets_its_header(void **state) {
  assert_int_equal(complete("int main(void) {\n    for|\n}\n", AC_LANG_C), AC_OK);
  assert_first("for", AC_KIND_SNIPPET);
  assert_string_equal(res.items[0].insert, "for (int i = 0; i < n; i++) {\n        \n    }");
  assert_int_equal(complete("int main(void) {\n    if|\n}\n", AC_LANG_C), AC_OK);
  assert_first("if", AC_KIND_SNIPPET);
  assert_string_equal(res.items[0].insert, "if (condition) {\n        \n    }");
}

static void test_ac_c_libc_and_identifiers(void **state) {
  const char *doc = "static int buffer_len;\n"
                    "char *s = \"buffer_in_string\";\n"
                    "/* buffer_in_comment */\n"
                    "void f(void) { buffer_len = strl|; }\n";
  assert_int_equal(complete(doc, AC_LANG_C), AC_OK);
  assert_first("strlen", AC_KIND_BUILTIN);
  assert_int_equal(complete("static int buffer_len;\nint x = buf|", AC_LANG_C), AC_OK);
  assert_first("buffer_len", AC_KIND_IDENTIFIER);
  assert_int_equal(res.count, 1);
}

static void test_ac_c_void_line_gets_function_skeleton(void **state) {
  assert_int_equal(complete("static void reset|", AC_LANG_C), AC_OK);
  assert_first("reset(void) {…}", AC_KIND_SNIPPET);
  assert_string_equal(res.items[0].insert, "reset(void) {\n    \n}");
}

/* ------------------------------------------------------------------- Go */

static void test_ac_go_keywords_predeclared_and_snippets(void **state) {
  const char *doc = "package main\n\nfunc main() {\n\tfor|\n}\n";
  assert_int_equal(complete(doc, AC_LANG_GO), AC_OK);
  assert_first("for", AC_KIND_SNIPPET);
  /* Go indents with tabs. */
  assert_string_equal(res.items[0].insert, "for i := 0; i < n; i++ {\n\t\t\n\t}");
  assert_int_equal(complete("x := mak|", AC_LANG_GO), AC_OK);
  assert_first("make", AC_KIND_BUILTIN);
  assert_int_equal(complete("func handle|", AC_LANG_GO), AC_OK);
  assert_first("handle() {…}", AC_KIND_SNIPPET);
  assert_int_equal(complete("s := `raw_hidden`\nraw_real := 1\nraw|", AC_LANG_GO), AC_OK);
  assert_int_equal(res.count, 1);
  assert_first("raw_real", AC_KIND_IDENTIFIER);
}

/* ----------------------------------------------------------------- Rust */

static void test_ac_rust_prelude_macros_and_literals(void **state) {
  assert_int_equal(complete("fn main() {\n    printl|\n}", AC_LANG_RUST), AC_OK);
  assert_first("println!", AC_KIND_BUILTIN);
  assert_string_equal(res.items[0].detail, "macro");
  const char *doc = "/* outer_hidden /* nested_hidden */ still_hidden */\n"
                    "let s = r#\"raw_hidden \"quoted\" \"#;\n"
                    "fn keep<'a>(x: &'a str) -> &'a str { let c = 'q'; x }\n"
                    "let still_real = 1;\n"
                    "sti|";
  assert_int_equal(complete(doc, AC_LANG_RUST), AC_OK);
  assert_first("still_real", AC_KIND_IDENTIFIER);
  assert_int_equal(find_any("still_hidden"), -1);
  assert_int_equal(complete("fn parse|", AC_LANG_RUST), AC_OK);
  assert_first("parse() {…}", AC_KIND_SNIPPET);
  assert_int_equal(complete("Opt|", AC_LANG_RUST), AC_OK);
  assert_first("Option", AC_KIND_BUILTIN);
}

/* ----------------------------------------------------------------- Java */

static void test_ac_java_keywords_lang_and_snippets(void **state) {
  assert_int_equal(complete("String s = new StringBui|", AC_LANG_JAVA), AC_OK);
  assert_first("StringBuilder", AC_KIND_BUILTIN);
  assert_int_equal(complete("class A {\n    void run() {\n        for|\n    }\n}", AC_LANG_JAVA),
                   AC_OK);
  assert_first("for", AC_KIND_SNIPPET);
  assert_string_equal(res.items[0].insert,
                      "for (int i = 0; i < n; i++) {\n            \n        }");
  assert_int_equal(complete("synchr|", AC_LANG_JAVA), AC_OK);
  assert_first("synchronized", AC_KIND_KEYWORD);
}

/* ---------------------------------------------------- the word at the cursor */

static void test_ac_word_being_typed_is_not_suggested(void **state) {
  assert_int_equal(complete("uniqueword|", AC_LANG_PYTHON), AC_OK);
  assert_int_equal(find_any("uniqueword"), -1);
  assert_int_equal(res.count, 0);
  assert_true(res.confidence == 0);
}

static void test_ac_cursor_in_the_middle_of_a_word(void **state) {
  const char *doc = "counter = 1\ncountdown = 2\ncoun|ter\n";
  assert_int_equal(complete(doc, AC_LANG_PYTHON), AC_OK);
  assert_string_equal(res.prefix, "coun");
  assert_int_equal(res.from, 26);
  assert_int_equal(res.to, 30);
  /* "counter" occurs elsewhere, so it is offered; the word at the cursor
   * itself does not count. */
  int i = find("counter", AC_KIND_IDENTIFIER);
  assert_true(i >= 0);
  assert_string_equal(res.items[i].detail, "1 use in this document");
}

static void test_ac_complete_word_lowers_confidence(void **state) {
  assert_int_equal(complete("counter = 1\ncounters = []\ncounter|", AC_LANG_PYTHON), AC_OK);
  assert_first("counters", AC_KIND_IDENTIFIER);
  assert_true(res.confidence < 0.6);
}

static void test_ac_confidence_low_for_ambiguity_and_empty_prefix(void **state) {
  const char *doc = "value_a = 1\nvalue_b = 2\nvalue_c = 3\nvalue_|";
  assert_int_equal(complete(doc, AC_LANG_PYTHON), AC_OK);
  assert_int_equal(res.count, 3);
  double ambiguous = res.confidence;
  assert_int_equal(complete("value_alpha = 1\nvalue_a|", AC_LANG_PYTHON), AC_OK);
  assert_true(res.confidence > ambiguous + 0.3);
  assert_int_equal(complete("value_alpha = 1\n|", AC_LANG_PYTHON), AC_OK);
  assert_true(res.count > 0);
  assert_int_equal(res.from, res.to);
  assert_true(res.confidence <= 0.15);
}

static void test_ac_number_at_cursor_offers_nothing(void **state) {
  assert_int_equal(complete("x = 12|", AC_LANG_PYTHON), AC_OK);
  assert_int_equal(res.count, 0);
  assert_true(res.confidence == 0);
}

static void test_ac_results_are_bounded(void **state) {
  char doc[8192];
  size_t n = 0;
  for (int i = 0; i < 100; i++)
    n += (size_t)snprintf(doc + n, sizeof doc - n, "name_%d = %d\n", i, i);
  snprintf(doc + n, sizeof doc - n, "name|");
  assert_int_equal(complete(doc, AC_LANG_PYTHON), AC_OK);
  assert_int_equal(res.count, AC_RESULTS_MAX);
  for (int i = 1; i < res.count; i++)
    assert_true(res.items[i - 1].score >= res.items[i].score);
}

/* --------------------------------------------------------------- UTF-16 */

static void test_ac_utf16_cursor_after_astral_characters(void **state) {
  /* "😀" is 4 bytes and 2 UTF-16 units; "é" 2 bytes and 1 unit. */
  const char *code = "s = \"😀é\"\nmy_value = 1\nmy_v";
  size_t len = strlen(code);
  /* Units: 's = "' 5 + 2 + 1 + '"\n' 2 = 10; "my_value = 1\n" 13; "my_v" 4. */
  size_t cursor16 = 10 + 13 + 4;
  assert_int_equal(ac_complete_utf16(code, len, cursor16, AC_LANG_PYTHON, &res), AC_OK);
  assert_int_equal(res.to, len);
  assert_int_equal(res.to_utf16, cursor16);
  assert_int_equal(res.from_utf16, cursor16 - 4);
  assert_first("my_value", AC_KIND_IDENTIFIER);
}

static void test_ac_utf16_non_ascii_prefix(void **state) {
  const char *code = "größe = 1\ngrö";
  size_t len = strlen(code);
  size_t cursor16 = 10 + 3;
  assert_int_equal(ac_complete_utf16(code, len, cursor16, AC_LANG_PYTHON, &res), AC_OK);
  assert_string_equal(res.prefix, "grö");
  assert_int_equal(res.from_utf16, 10);
  assert_int_equal(res.from, 12); /* "größe = 1\n" is 12 bytes */
  assert_first("größe", AC_KIND_IDENTIFIER);
}

static void test_ac_utf16_conversion_edges(void **state) {
  const char *code = "a😀b";
  size_t byte = 99;
  assert_int_equal(ac_utf16_to_byte(code, 6, 0, &byte), AC_OK);
  assert_int_equal(byte, 0);
  assert_int_equal(ac_utf16_to_byte(code, 6, 1, &byte), AC_OK);
  assert_int_equal(byte, 1);
  assert_int_equal(ac_utf16_to_byte(code, 6, 2, &byte), AC_ERR_CURSOR_SPLIT);
  assert_int_equal(ac_utf16_to_byte(code, 6, 3, &byte), AC_OK);
  assert_int_equal(byte, 5);
  assert_int_equal(ac_utf16_to_byte(code, 6, 4, &byte), AC_OK);
  assert_int_equal(byte, 6);
  assert_int_equal(ac_utf16_to_byte(code, 6, 5, &byte), AC_ERR_CURSOR_RANGE);
  assert_int_equal(ac_utf16_to_byte("\xff", 1, 1, &byte), AC_ERR_UTF8);
  assert_int_equal(ac_utf16_to_byte("\xe2\x82", 2, 1, &byte), AC_ERR_UTF8);
  /* A long ASCII run goes through the eight-byte path. */
  const char *ascii = "abcdefghijklmnopqrstuvwxyz";
  assert_int_equal(ac_utf16_to_byte(ascii, 26, 19, &byte), AC_OK);
  assert_int_equal(byte, 19);
}

/* ------------------------------------------------------------ bad input */

static void test_ac_empty_document(void **state) {
  assert_int_equal(ac_complete("", 0, 0, AC_LANG_C, &res), AC_OK);
  assert_int_equal(res.from, 0);
  assert_int_equal(res.to, 0);
  assert_string_equal(res.prefix, "");
  assert_true(res.confidence <= 0.15);
  assert_int_equal(ac_complete_utf16("", 0, 1, AC_LANG_C, &res), AC_ERR_CURSOR_RANGE);
}

static void test_ac_bad_cursor_and_size(void **state) {
  assert_int_equal(ac_complete("abc", 3, 4, AC_LANG_C, &res), AC_ERR_CURSOR_RANGE);
  assert_int_equal(ac_complete("é", 2, 1, AC_LANG_C, &res), AC_ERR_CURSOR_SPLIT);
  assert_int_equal(ac_complete_utf16("abc", 3, 4, AC_LANG_C, &res), AC_ERR_CURSOR_RANGE);
  char *big = malloc(AC_CODE_MAX + 1);
  assert_non_null(big);
  memset(big, 'a', AC_CODE_MAX + 1);
  assert_int_equal(ac_complete(big, AC_CODE_MAX + 1, 0, AC_LANG_C, &res), AC_ERR_TOO_LARGE);
  assert_int_equal(ac_complete_utf16(big, AC_CODE_MAX + 1, 0, AC_LANG_C, &res), AC_ERR_TOO_LARGE);
  free(big);
}

static void test_ac_overlong_word_and_unterminated_literals(void **state) {
  char doc[256];
  memset(doc, 'w', 100);
  strcpy(doc + 100, "|");
  assert_int_equal(complete(doc, AC_LANG_C), AC_OK);
  assert_int_equal(res.count, 0);
  /* A string being typed ends at the line's end, not the document's. */
  assert_int_equal(complete("char *s = \"unterminated\nint later_name;\nlat|", AC_LANG_C), AC_OK);
  assert_first("later_name", AC_KIND_IDENTIFIER);
  assert_int_equal(complete("/* never closed\nlate|", AC_LANG_C), AC_OK);
  assert_int_equal(find_any("later_name"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ac_language_names_and_aliases),
      cmocka_unit_test(test_ac_unknown_language_is_refused),
      cmocka_unit_test(test_ac_python_keyword_and_builtin),
      cmocka_unit_test(test_ac_python_identifiers_ranked_by_use_and_nearness),
      cmocka_unit_test(test_ac_python_nearer_identifier_wins_at_equal_use),
      cmocka_unit_test(test_ac_python_def_line_gets_parentheses_and_indented_body),
      cmocka_unit_test(test_ac_python_def_line_with_text_after_cursor_is_no_definition),
      cmocka_unit_test(test_ac_python_class_line_and_keyword_snippets),
      cmocka_unit_test(test_ac_python_strings_and_comments_are_skipped),
      cmocka_unit_test(test_ac_javascript_keywords_globals_and_dollar),
      cmocka_unit_test(test_ac_javascript_template_and_comments_skipped),
      cmocka_unit_test(test_ac_javascript_fuzzy_below_prefix),
      cmocka_unit_test(test_ac_javascript_member_after_dot_is_identifiers_only),
      cmocka_unit_test(test_ac_typescript_keywords_and_types),
      cmocka_unit_test(test_ac_c_for_snippet_gets_its_header),
      cmocka_unit_test(test_ac_c_libc_and_identifiers),
      cmocka_unit_test(test_ac_c_void_line_gets_function_skeleton),
      cmocka_unit_test(test_ac_go_keywords_predeclared_and_snippets),
      cmocka_unit_test(test_ac_rust_prelude_macros_and_literals),
      cmocka_unit_test(test_ac_java_keywords_lang_and_snippets),
      cmocka_unit_test(test_ac_word_being_typed_is_not_suggested),
      cmocka_unit_test(test_ac_cursor_in_the_middle_of_a_word),
      cmocka_unit_test(test_ac_complete_word_lowers_confidence),
      cmocka_unit_test(test_ac_confidence_low_for_ambiguity_and_empty_prefix),
      cmocka_unit_test(test_ac_number_at_cursor_offers_nothing),
      cmocka_unit_test(test_ac_results_are_bounded),
      cmocka_unit_test(test_ac_utf16_cursor_after_astral_characters),
      cmocka_unit_test(test_ac_utf16_non_ascii_prefix),
      cmocka_unit_test(test_ac_utf16_conversion_edges),
      cmocka_unit_test(test_ac_empty_document),
      cmocka_unit_test(test_ac_bad_cursor_and_size),
      cmocka_unit_test(test_ac_overlong_word_and_unterminated_literals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
