#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* Reads exactly SECRET_KEY_LEN bytes: 0, -1 (errno), or -2 (other size). */
static int read_key(const char *path, uint8_t key[SECRET_KEY_LEN]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  uint8_t extra[SECRET_KEY_LEN + 1];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof extra && (n = read(fd, extra + got, sizeof extra - got)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    got += (size_t)n;
  }
  close(fd);
  if (got != SECRET_KEY_LEN)
    return -2;
  memcpy(key, extra, SECRET_KEY_LEN);
  return 0;
}

/* Writes the key under tmp, fsynced, and links it to path (fails with
 * EEXIST when another instance got there first). */
static int create_key(const char *tmp, const char *path, const uint8_t key[SECRET_KEY_LEN]) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  ssize_t n;
  do
    n = write(fd, key, SECRET_KEY_LEN);
  while (n < 0 && errno == EINTR);
  int rc = n == SECRET_KEY_LEN && fsync(fd) == 0 ? 0 : -1;
  int saved = errno;
  close(fd);
  if (rc == 0 && link(tmp, path) < 0) {
    saved = errno;
    rc = -1;
  }
  unlink(tmp);
  errno = saved;
  return rc;
}

int secret_load_or_create(const char *dir, const char *name, uint8_t key[SECRET_KEY_LEN], char *err,
                          size_t errlen) {
  char path[4096], tmp[4200];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
      snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp) {
    snprintf(err, errlen, "%s/%s: path too long", dir, name);
    return -1;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    int rc = read_key(path, key);
    if (rc == 0)
      return 0;
    if (rc == -2) {
      snprintf(err, errlen, "%s: not a %d-byte key (delete it to make a new one)", path,
               SECRET_KEY_LEN);
      return -1;
    }
    if (errno != ENOENT)
      break;
    uint8_t fresh[SECRET_KEY_LEN];
    randombytes_buf(fresh, sizeof fresh);
    if (create_key(tmp, path, fresh) == 0) {
      memcpy(key, fresh, SECRET_KEY_LEN);
      return 0;
    }
    if (errno != EEXIST)
      break;
    /* Another instance made it meanwhile: read theirs. */
  }
  snprintf(err, errlen, "%s: %s", path, strerror(errno));
  return -1;
}
