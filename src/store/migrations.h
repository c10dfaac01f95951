/* The schema's numbered migrations (src/store/migrations/NNN_name.sql for
 * SQLite, src/store/migrations/postgres/NNN_name.sql for PostgreSQL: the
 * same numbers and names in each dialect), embedded at build time and
 * applied in order at start-up. */
#ifndef TANDEM_MIGRATIONS_H
#define TANDEM_MIGRATIONS_H

struct migration {
  int version;
  const char *name;
  const char *sql;
};

extern const struct migration migrations[];
extern const int migration_count;
extern const struct migration pg_migrations[];
extern const int pg_migration_count;

#endif
