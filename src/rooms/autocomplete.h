/* Autocomplete for the code rooms' editor: the word being typed at the
 * cursor and what it may become, ranked.
 *
 * Pure: text in, completions out; no I/O, no globals that change. One call
 * makes one linear pass over the document (a tokenizer per language family
 * that skips strings and comments) and keeps its working set bounded, so a
 * 10,000-line document is completed in well under a millisecond.
 *
 * Candidates come from the language's keywords and built-ins, the
 * identifiers of the document (ranked by how well they match the prefix,
 * how often they occur and how near the cursor they are) and snippets (a
 * `for` header, a function skeleton, a Python `def` line's `():` and body). */
#ifndef TANDEM_AUTOCOMPLETE_H
#define TANDEM_AUTOCOMPLETE_H

#include <stddef.h>

/* Limits of one call. */
#define AC_CODE_MAX (1u << 20) /* bytes of document */
#define AC_RESULTS_MAX 20      /* completions returned */
#define AC_WORD_MAX 64         /* longest word (bytes) completed or offered */
#define AC_INSERT_MAX 512      /* longest text a completion inserts */

enum ac_lang {
  AC_LANG_PYTHON,
  AC_LANG_JAVASCRIPT,
  AC_LANG_TYPESCRIPT,
  AC_LANG_C,
  AC_LANG_GO,
  AC_LANG_RUST,
  AC_LANG_JAVA,
  AC_LANG_COUNT
};

enum ac_kind { AC_KIND_KEYWORD, AC_KIND_BUILTIN, AC_KIND_IDENTIFIER, AC_KIND_SNIPPET };

enum ac_error {
  AC_OK = 0,
  AC_ERR_TOO_LARGE = -1,    /* the document is over AC_CODE_MAX */
  AC_ERR_UTF8 = -2,         /* the document is not valid UTF-8 */
  AC_ERR_CURSOR_RANGE = -3, /* the cursor is past the end of the document */
  AC_ERR_CURSOR_SPLIT = -4, /* the cursor falls between the two halves of a surrogate pair */
  AC_ERR_NO_MEMORY = -5,
  AC_ERR_LANGUAGE = -6, /* not one of enum ac_lang */
};

struct ac_completion {
  enum ac_kind kind;
  char label[AC_WORD_MAX + 16]; /* what the list shows */
  char insert[AC_INSERT_MAX];   /* replaces the prefix (from..to) */
  char detail[48];              /* "keyword", "builtin", "for loop", "3 uses in this document" */
  double score;
};

struct ac_result {
  /* The prefix being completed: the word characters before the cursor. */
  size_t from, to;             /* byte offsets into the document (to = the cursor) */
  size_t from_utf16, to_utf16; /* the same as UTF-16 code unit offsets */
  char prefix[AC_WORD_MAX + 1];
  int count; /* completions, best first */
  struct ac_completion items[AC_RESULTS_MAX];
  /* How sure the first completion is what the user means, in [0, 1]:
   * high when the prefix matches it strongly and nothing else comes close,
   * low for a short or empty prefix or several near equals; 0 with none. */
  double confidence;
};

/* The language for a name ("python", "py", "javascript", "js", "typescript",
 * "ts", "c", "go", "rust", "rs", "java"; case-insensitive), or -1. */
int ac_lang_from_name(const char *name, size_t len);
/* The canonical name of a language ("python"). */
const char *ac_lang_name(enum ac_lang lang);
/* "python, javascript, typescript, c, go, rust, java", for error messages. */
const char *ac_lang_list(void);

/* A message for an ac_error (static). */
const char *ac_error_text(int err);

/* Converts a UTF-16 code unit offset (as editors count) into a byte offset
 * of the UTF-8 document. Returns AC_OK, AC_ERR_UTF8, AC_ERR_CURSOR_RANGE or
 * AC_ERR_CURSOR_SPLIT. */
int ac_utf16_to_byte(const char *code, size_t len, size_t offset16, size_t *byte);

/* The length in UTF-16 code units of UTF-8 text made of whole characters. */
size_t ac_utf16_length(const char *code, size_t len);

/* Completes the word at `cursor` (a byte offset on a character boundary)
 * into `out`. Returns AC_OK or a negative ac_error; allocates only a
 * working table it frees before returning. */
int ac_complete(const char *code, size_t len, size_t cursor, enum ac_lang lang,
                struct ac_result *out);

/* ac_utf16_to_byte, then ac_complete: the editor's view of the call. */
int ac_complete_utf16(const char *code, size_t len, size_t cursor16, enum ac_lang lang,
                      struct ac_result *out);

#endif
