/* The change between two whole texts, as a CodeMirror change set.
 *
 * Whole-text clients (`code_update`) send the entire document; tandem
 * turns it into the smallest change against its own copy, so collab
 * clients receive an edit they can rebase over, not a replaced document.
 * The common prefix and suffix are trimmed, then Myers' O(ND) algorithm
 * finds the fewest characters to delete and insert in the middle. It is
 * bounded: past `max_edits` edits, or a fixed amount of work, the middle
 * is sent as one replacement (still correct, just not minimal).
 *
 * Characters are whole code points, so no change ever splits a UTF-8
 * sequence or a surrogate pair; lengths in the result are UTF-16 units. */
#ifndef TANDEM_TEXTDIFF_H
#define TANDEM_TEXTDIFF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for the typing, pasting and reformatting a whole-text client sends
 * between two updates; the search's memory grows with its square. */
#define TEXTDIFF_MAX_EDITS 1000

/* The change set (JSON, ChangeSet.toJSON form) turning `old` into `new`,
 * both valid UTF-8. Returns a new reference, or NULL when out of memory. */
json_t *textdiff(const char *old, size_t old_len, const char *new_text, size_t new_len,
                 uint32_t max_edits);

#endif
