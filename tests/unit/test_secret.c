/* Unit tests for the key kept in the data directory (src/util/secret.h):
 * made once, the same for every later caller (another instance, a
 * restart), private, and a damaged file is an error, never a new key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/secret.h"

struct fixture {
  char dir[64];
  char path[128];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f || sodium_init() < 0)
    return -1;
  strcpy(f->dir, "/tmp/tandem-secret-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->path, sizeof f->path, "%s/unlock.key", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  unlink(f->path);
  rmdir(f->dir);
  free(f);
  return 0;
}

static void test_secret_is_made_once_and_read_back(void **state) {
  struct fixture *f = *state;
  uint8_t a[SECRET_KEY_LEN], b[SECRET_KEY_LEN], zero[SECRET_KEY_LEN] = {0};
  char err[256] = "";
  assert_int_equal(secret_load_or_create(f->dir, "unlock.key", a, err, sizeof err), 0);
  assert_memory_not_equal(a, zero, sizeof a);
  assert_int_equal(secret_load_or_create(f->dir, "unlock.key", b, err, sizeof err), 0);
  assert_memory_equal(a, b, sizeof a);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_size, SECRET_KEY_LEN);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* Nothing left under a temporary name. */
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", f->path, (int)getpid());
  assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_secret_of_wrong_size_is_an_error_not_replaced(void **state) {
  struct fixture *f = *state;
  FILE *fp = fopen(f->path, "w");
  assert_non_null(fp);
  fputs("short", fp);
  fclose(fp);
  uint8_t k[SECRET_KEY_LEN];
  char err[256] = "";
  assert_int_equal(secret_load_or_create(f->dir, "unlock.key", k, err, sizeof err), -1);
  assert_non_null(strstr(err, "not a 32-byte key"));
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_size, 5); /* left as it was for the operator to look at */
}

static void test_secret_in_missing_directory_is_an_error(void **state) {
  (void)state;
  uint8_t k[SECRET_KEY_LEN];
  char err[256] = "";
  assert_int_equal(secret_load_or_create("/nonexistent-tandem-dir", "k", k, err, sizeof err), -1);
  assert_non_null(strstr(err, "No such file"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_secret_is_made_once_and_read_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_secret_of_wrong_size_is_an_error_not_replaced, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_secret_in_missing_directory_is_an_error, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
