/* CodeMirror 6 change sets, as the editor's collab clients send them.
 *
 * A change set arrives in the JSON form of ChangeSet.toJSON() from
 * @codemirror/state: an array whose elements are a number (that many
 * characters kept), [n] (n characters deleted) or [n, "line", "line", ...]
 * (n characters replaced by the lines joined with "\n"). Lengths count
 * UTF-16 code units, as JavaScript strings do, while tandem keeps the text
 * as UTF-8, so every length is walked character by character: a character
 * outside the Basic Multilingual Plane (an emoji) is 4 bytes and 2 units.
 *
 * The parser is stricter than ChangeSet.fromJSON, never looser: lengths
 * are whole numbers of 0 or more, inserted lines are strings of valid
 * UTF-8, and the counts and sizes have limits. A change may not begin or
 * end inside a surrogate pair (half a character cannot be kept as UTF-8).
 * Applying builds a new text or fails; the old text is never touched.
 *
 * Pure code: no I/O, so it is unit-tested, fuzzed and checked against
 * @codemirror/state itself (tests/e2e/changeset_differential.test.mjs). */
#ifndef TANDEM_CHANGESET_H
#define TANDEM_CHANGESET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No single length may exceed this (far beyond any document tandem keeps),
 * so sums of lengths never overflow. */
#define CHANGESET_LENGTH_MAX ((uint64_t)1 << 40)

enum changeset_status {
  CHANGESET_OK = 0,
  CHANGESET_NOT_ARRAY = -1,         /* the change set is not a JSON array */
  CHANGESET_BAD_SECTION = -2,       /* an element is neither a number nor [number, ...] */
  CHANGESET_BAD_LENGTH = -3,        /* a length is negative, fractional or too large */
  CHANGESET_BAD_INSERT = -4,        /* an inserted line is not a string */
  CHANGESET_BAD_UTF8 = -5,          /* an inserted line is not valid UTF-8 */
  CHANGESET_TOO_MANY_SECTIONS = -6, /* more elements than limits.max_sections */
  CHANGESET_INSERT_TOO_LARGE = -7,  /* inserted text over limits.max_insert_bytes */
  CHANGESET_LENGTH_MISMATCH = -8,   /* the lengths do not add up to the document's */
  CHANGESET_SPLITS_CHARACTER = -9,  /* a change begins or ends inside a surrogate pair */
  CHANGESET_NO_MEMORY = -10,
};

struct changeset_limits {
  size_t max_sections;     /* elements of the JSON array */
  size_t max_insert_bytes; /* all inserted text, UTF-8 bytes, newlines included */
};

/* One run of the old document: kept, or replaced by inserted text. After
 * parsing, neighbouring kept runs are one run, neighbouring changes are one
 * change, and changes that do nothing are gone, so every boundary between
 * sections is a place where the text changes. */
struct changeset_section {
  uint64_t len;  /* UTF-16 units of the old document */
  bool change;   /* false: kept as it is */
  size_t ins_at; /* the replacement: bytes [ins_at, ins_at + ins_len) of inserts */
  size_t ins_len;
  uint64_t ins_units; /* its UTF-16 length */
};

struct changeset {
  struct changeset_section *sections; /* owned */
  size_t count;
  char *inserts; /* owned: every replacement, one after another */
  size_t inserts_len;
  uint64_t length;     /* of the document it applies to, UTF-16 units */
  uint64_t new_length; /* of the document it makes */
};

/* Parses the JSON form into *out (which the caller frees with
 * changeset_free, also after a failure). Returns CHANGESET_OK or a
 * negative changeset_status. */
int changeset_parse(const json_t *json, const struct changeset_limits *limits,
                    struct changeset *out);

void changeset_free(struct changeset *cs);

/* Applies the change set to `text` (valid UTF-8). On success *out is a new
 * malloc'ed text (NUL-terminated, the caller frees it) of *out_len bytes;
 * on failure nothing is allocated and the status says why
 * (CHANGESET_LENGTH_MISMATCH, CHANGESET_SPLITS_CHARACTER,
 * CHANGESET_NO_MEMORY). */
int changeset_apply(const struct changeset *cs, const char *text, size_t len, char **out,
                    size_t *out_len);

/* The length of valid UTF-8 text in UTF-16 code units (JavaScript's
 * String.length). */
uint64_t text_utf16_length(const char *text, size_t len);

/* The byte offset of UTF-16 position `pos` in valid UTF-8 text, or -1 when
 * pos is past the end or inside a surrogate pair. */
int64_t text_utf16_to_byte(const char *text, size_t len, uint64_t pos);

/* The stable code of a status, for error messages ("length_mismatch"), and
 * a sentence for people. */
const char *changeset_status_code(int status);
const char *changeset_status_message(int status);

#endif
