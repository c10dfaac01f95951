/* What autocomplete knows of each language before it reads a document:
 * keywords, built-ins, snippets and how the language is tokenized.
 * Internal to src/rooms/autocomplete.c. */
#ifndef TANDEM_AC_WORDS_H
#define TANDEM_AC_WORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "rooms/autocomplete.h"

/* Templates: '\n' starts a new line at the cursor line's indentation, '\t'
 * adds one indentation unit (the document's own when it has indented lines). */
struct ac_snippet {
  const char *trigger; /* the keyword whose prefix offers it */
  const char *label;
  const char *detail;
  const char *body;
};

/* A snippet for a line such as `def name`: offered for the name being typed
 * after `lead`, it completes the definition (body follows the name). */
struct ac_line_snippet {
  const char *lead;
  const char *label_suffix; /* shown after the name: "(…):" */
  const char *detail;
  const char *body;
};

enum ac_family {
  AC_FAMILY_C,      /* // and block comments, "" and '' literals */
  AC_FAMILY_PYTHON, /* # comments, '' "" and triple-quoted strings */
};

struct ac_words {
  const char *name;
  enum ac_family family;
  bool dollar_in_words;  /* JavaScript and TypeScript: $ is a word character */
  bool backtick_strings; /* JS template literals, Go raw strings */
  bool nested_comments;  /* Rust */
  bool rust_literals;    /* Rust: 'a lifetimes, r#"raw"# strings */
  const char *indent;    /* indentation unit when the document shows none */
  const char *const *keywords;
  size_t keyword_count;
  const char *const *builtins; /* a trailing '!' marks a Rust macro */
  size_t builtin_count;
  const struct ac_snippet *snippets;
  size_t snippet_count;
  const struct ac_line_snippet *line_snippets;
  size_t line_snippet_count;
};

extern const struct ac_words ac_languages[AC_LANG_COUNT];

#endif
