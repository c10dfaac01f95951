#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

struct store {
  sqlite3 *db;
  sqlite3_stmt *ping;
};

struct store *store_open(const char *data_dir, char *err, size_t errlen) {
  struct store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/tandem.db", data_dir);
  if (n < 0 || (size_t)n >= sizeof path) {
    snprintf(err, errlen, "data directory path too long");
    goto fail;
  }
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
    goto fail;
  }
  /* WAL lets readers go on while a writer commits; a short busy timeout
   * rides out a checkpoint instead of failing the request. */
  char *msg = NULL;
  if (sqlite3_busy_timeout(s->db, 2000) != SQLITE_OK ||
      sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                          "PRAGMA synchronous=NORMAL;", NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "cannot set up %s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    goto fail;
  }
  if (sqlite3_prepare_v2(s->db, "SELECT 1", -1, &s->ping, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot query %s: %s", path, sqlite3_errmsg(s->db));
    goto fail;
  }
  return s;
fail:
  store_close(s);
  return NULL;
}

int store_ping(struct store *s) {
  if (!s || !s->ping)
    return -1;
  int rc = sqlite3_step(s->ping);
  sqlite3_reset(s->ping);
  return rc == SQLITE_ROW ? 0 : -1;
}

void store_close(struct store *s) {
  if (!s)
    return;
  sqlite3_finalize(s->ping);
  sqlite3_close(s->db);
  free(s);
}
