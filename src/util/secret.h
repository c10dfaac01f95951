/* A key that outlives the process: read from a file in the data directory,
 * made (random) by the first instance that needs it.
 *
 * Room unlock tokens are signed with one. Every tandem instance of a
 * deployment shares the data directory (file contents live there), so they
 * all sign and check with the same key, and a restart keeps tokens valid.
 * Two instances starting at once cannot make two keys: the file is written
 * whole under a temporary name and linked into place, which fails for the
 * second, who then reads the first one's. */
#ifndef TANDEM_SECRET_H
#define TANDEM_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_KEY_LEN 32

/* Reads <dir>/<name>, or creates it (mode 0600) with new random bytes.
 * 0, or -1 with the reason in err (unreadable, wrong size, cannot write). */
int secret_load_or_create(const char *dir, const char *name, uint8_t key[SECRET_KEY_LEN], char *err,
                          size_t errlen);

#endif
