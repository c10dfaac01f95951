/* Flags, TANDEM_* variables and their limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/log.h"

static int load(struct config *cfg, char *err, int argc, ...) {
  char *argv[16];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc; i++)
    argv[i] = va_arg(ap, char *);
  va_end(ap);
  return config_load(cfg, argc, argv, err, 256);
}

static void test_config_defaults_match_the_documented_limits(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 0), 0);
  assert_int_equal(cfg.listen_count, 1);
  assert_string_equal(cfg.listen[0], "0.0.0.0:8080");
  assert_int_equal(cfg.max_header_bytes, 16384);
  assert_int_equal(cfg.header_timeout_ms, 10000);
  assert_int_equal(cfg.idle_timeout_ms, 60000);
  assert_int_equal(cfg.body_timeout_ms, 30000);
  assert_int_equal(cfg.ws_max_message, 1048576);
  assert_int_equal(cfg.ws_max_queue, 4194304);
  assert_int_equal(cfg.shutdown_timeout_ms, 10000);
}

static void test_config_parses_sizes_and_durations_with_units(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 5, "--ws-max-message", "64K", "--shutdown-timeout", "1500ms",
                        "--idle-timeout=2m"),
                   0);
  assert_int_equal(cfg.ws_max_message, 65536);
  assert_int_equal(cfg.shutdown_timeout_ms, 1500);
  assert_int_equal(cfg.idle_timeout_ms, 120000);
  assert_int_equal(load(&cfg, err, 2, "--header-timeout", "3"), 0);
  assert_int_equal(cfg.header_timeout_ms, 3000); /* a bare number is seconds */
}

static void test_config_rejects_bad_values_with_the_flag_named(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 2, "--ws-max-queue", "12 parsecs"), -1);
  assert_non_null(strstr(err, "--ws-max-queue"));
  assert_int_equal(load(&cfg, err, 2, "--max-headers", "0"), -1);
  assert_int_equal(load(&cfg, err, 2, "--max-headers", "-3"), -1);
  assert_int_equal(load(&cfg, err, 2, "--ws-max-message", "99999999999999999999999"), -1);
  assert_int_equal(load(&cfg, err, 1, "--nope"), -1);
  assert_non_null(strstr(err, "unknown flag '--nope'"));
  assert_int_equal(load(&cfg, err, 1, "--data-dir"), -1);
  assert_non_null(strstr(err, "needs a value"));
  assert_int_equal(load(&cfg, err, 1, "stray"), -1);
}

static void test_config_listen_may_be_given_twice(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 4, "--listen", "127.0.0.1:1", "--listen", "[::1]:1"), 0);
  assert_int_equal(cfg.listen_count, 2);
  assert_string_equal(cfg.listen[1], "[::1]:1");
}

static void test_config_environment_sets_and_flags_override(void **state) {
  struct config cfg;
  char err[256];
  setenv("TANDEM_LOG_FORMAT", "json", 1);
  setenv("TANDEM_LISTEN", "127.0.0.1:9", 1);
  assert_int_equal(load(&cfg, err, 0), 0);
  assert_int_equal(cfg.log_format, LOG_JSON);
  assert_string_equal(cfg.listen[0], "127.0.0.1:9");
  assert_int_equal(load(&cfg, err, 4, "--log-format", "text", "--listen", "127.0.0.1:10"), 0);
  assert_int_equal(cfg.log_format, LOG_TEXT);
  assert_int_equal(cfg.listen_count, 1); /* the flag replaces the variable */
  assert_string_equal(cfg.listen[0], "127.0.0.1:10");
  setenv("TANDEM_LOG_FORMAT", "yaml", 1);
  assert_int_equal(load(&cfg, err, 0), -1);
  assert_non_null(strstr(err, "TANDEM_LOG_FORMAT"));
  unsetenv("TANDEM_LOG_FORMAT");
  unsetenv("TANDEM_LISTEN");
}

static void test_config_database_comes_from_the_environment_or_the_flag(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 0), 0);
  assert_null(cfg.database); /* SQLite in the data directory */
  setenv("TANDEM_DATABASE", "postgres://tandem@127.0.0.1/env", 1);
  assert_int_equal(load(&cfg, err, 2, "--database-pool", "8"), 0);
  assert_string_equal(cfg.database, "postgres://tandem@127.0.0.1/env");
  assert_int_equal(cfg.database_pool, 8);
  assert_int_equal(load(&cfg, err, 2, "--database", "sqlite:/tmp/x.db"), 0);
  assert_string_equal(cfg.database, "sqlite:/tmp/x.db");
  assert_int_equal(load(&cfg, err, 2, "--database-pool", "0"), -1);
  assert_non_null(strstr(err, "--database-pool"));
  unsetenv("TANDEM_DATABASE");
}

static void test_config_splits_allowed_origins(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 2, "--allowed-origins", "https://a.example, http://b:3000,,"),
                   0);
  assert_int_equal(cfg.origin_count, 2);
  assert_string_equal(cfg.origins[0], "https://a.example");
  assert_string_equal(cfg.origins[1], "http://b:3000");
}

static void test_config_help_is_reported(void **state) {
  struct config cfg;
  char err[256];
  assert_int_equal(load(&cfg, err, 1, "--help"), 1);
}

static void test_config_trust_proxy_is_loopback_or_none(void **state) {
  (void)state;
  struct config cfg;
  char err[256] = "";
  char *on[] = {"--trust-proxy", "loopback"};
  assert_int_equal(config_load(&cfg, 2, on, err, sizeof err), 0);
  assert_true(cfg.trust_proxy_loopback);
  char *off[] = {"--trust-proxy", "none"};
  assert_int_equal(config_load(&cfg, 2, off, err, sizeof err), 0);
  assert_false(cfg.trust_proxy_loopback);
  char *bad[] = {"--trust-proxy", "10.0.0.1"};
  assert_int_equal(config_load(&cfg, 2, bad, err, sizeof err), -1);
  assert_non_null(strstr(err, "loopback or none"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults_match_the_documented_limits),
      cmocka_unit_test(test_config_parses_sizes_and_durations_with_units),
      cmocka_unit_test(test_config_rejects_bad_values_with_the_flag_named),
      cmocka_unit_test(test_config_listen_may_be_given_twice),
      cmocka_unit_test(test_config_environment_sets_and_flags_override),
      cmocka_unit_test(test_config_database_comes_from_the_environment_or_the_flag),
      cmocka_unit_test(test_config_splits_allowed_origins),
      cmocka_unit_test(test_config_help_is_reported),
      cmocka_unit_test(test_config_trust_proxy_is_loopback_or_none),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
