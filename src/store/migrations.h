/* The schema's numbered migrations (src/store/migrations/NNN_name.sql),
 * embedded at build time and applied in order at start-up. */
#ifndef TANDEM_MIGRATIONS_H
#define TANDEM_MIGRATIONS_H

struct migration {
  int version;
  const char *name;
  const char *sql;
};

extern const struct migration migrations[];
extern const int migration_count;

#endif
