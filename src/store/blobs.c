#include "store/blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/rand.h"

/* Writes go to disk in pieces this large; more than twice this waiting
 * makes the uploader pause its reads (backpressure, bounded memory). */
#define WRITE_CHUNK (256 * 1024)

static char blob_dir[4096];
static char tmp_dir[4200];

int blobs_path(const char *item_id, char *out, size_t outlen) {
  int n = snprintf(out, outlen, "%s/%s", blob_dir, item_id);
  return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void blobs_remove(const char *item_id) {
  char path[4200];
  if (blobs_path(item_id, path, sizeof path) == 0 && unlink(path) < 0 && errno != ENOENT)
    log_msg(LOG_WARN, "blobs.remove", "%s: %s", path, strerror(errno));
}

int64_t blobs_free_space(void) {
  struct statvfs sv;
  if (statvfs(blob_dir, &sv) < 0)
    return -1;
  return (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}

static int make_dir(const char *path, char *err, size_t errlen) {
  if (mkdir(path, 0750) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* True when no process holds the upload lock of the file at path. */
static bool unlocked(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool free_to_go = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return free_to_go;
}

/* A file renamed into place this recently may be waiting for its row,
 * committed by another tandem on the same data directory. */
#define ORPHAN_MIN_AGE_S 600

/* A crash may leave a half-written upload in tmp/, or (between the rename
 * and the commit) a whole file with no row: both go, unless another tandem
 * on this data directory is still at work on them (an upload it holds
 * locked, a file younger than ORPHAN_MIN_AGE_S). */
static void clean_up(struct store *store) {
  DIR *d = opendir(tmp_dir);
  struct dirent *e;
  char path[8400];
  int removed = 0;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
    if (unlocked(path) && unlink(path) == 0)
      removed++;
  }
  if (d)
    closedir(d);
  d = opendir(blob_dir);
  time_t young = time(NULL) - ORPHAN_MIN_AGE_S;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "tmp") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", blob_dir, e->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_mtime < young && store_item_exists(store, e->d_name) == 0 &&
        unlink(path) == 0)
      removed++;
  }
  if (d)
    closedir(d);
  if (removed)
    log_msg(LOG_INFO, "blobs.cleanup", "removed %d files left by an interrupted upload", removed);
}

int blobs_init(const char *data_dir, struct store *store, char *err, size_t errlen) {
  int n = snprintf(blob_dir, sizeof blob_dir, "%s/blobs", data_dir);
  if (n < 0 || (size_t)n >= sizeof blob_dir) {
    snprintf(err, errlen, "data directory path too long");
    return -1;
  }
  snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", blob_dir);
  if (make_dir(blob_dir, err, errlen) < 0 || make_dir(tmp_dir, err, errlen) < 0)
    return -1;
  clean_up(store);
  return 0;
}

struct blob_upload {
  uv_loop_t *loop;
  uv_fs_t req;    /* the fsync */
  uv_work_t work; /* a write */
  ssize_t work_result;
  uv_file fd;
  /* OpenSSL's SHA-256 (SHA-NI / AVX2 where the CPU has them: ~2 GB/s here,
   * against libsodium's portable ~0.3 GB/s that showed in upload profiles).
   * Touched by one write at a time, then at the end. */
  EVP_MD_CTX *sha;
  uint8_t *pending, *writing;
  size_t pending_len, writing_len;
  int64_t size;
  int error;
  bool in_flight, aborted, finishing, paused;
  blob_ready_cb on_ready;
  blob_done_cb done;
  void *ctx;
  char tmp_path[4300];
  char final_path[4200];
};

static void upload_free(struct blob_upload *u) {
  EVP_MD_CTX_free(u->sha);
  free(u->pending);
  free(u->writing);
  free(u);
}

static void discard(struct blob_upload *u) {
  uv_fs_t req;
  if (u->fd >= 0) {
    uv_fs_close(u->loop, &req, u->fd, NULL);
    uv_fs_req_cleanup(&req);
  }
  unlink(u->tmp_path);
  upload_free(u);
}

struct blob_upload *blob_upload_start(uv_loop_t *loop, const char *item_id, void *ctx) {
  struct blob_upload *u = calloc(1, sizeof *u);
  if (!u)
    return NULL;
  u->loop = loop;
  u->ctx = ctx;
  u->fd = -1;
  char name[24];
  rand_base62(name, 16);
  snprintf(u->tmp_path, sizeof u->tmp_path, "%s/%s.part", tmp_dir, name);
  if (blobs_path(item_id, u->final_path, sizeof u->final_path) < 0 ||
      !(u->pending = malloc(2 * WRITE_CHUNK)) || !(u->sha = EVP_MD_CTX_new()) ||
      EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1) {
    upload_free(u);
    return NULL;
  }
  /* Opening is quick and rare next to the writes, which go to the pool. */
  uv_fs_t req;
  int fd = uv_fs_open(loop, &req, u->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640, NULL);
  uv_fs_req_cleanup(&req);
  if (fd < 0) {
    log_msg(LOG_ERROR, "blobs.open", "%s: %s", u->tmp_path, uv_strerror(fd));
    upload_free(u);
    return NULL;
  }
  /* Held while the upload is written: another tandem starting on this data
   * directory (an upgrade beside this one) leaves a locked file alone. */
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    log_msg(LOG_ERROR, "blobs.lock", "%s: %s", u->tmp_path, strerror(errno));
    uv_fs_close(loop, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    unlink(u->tmp_path);
    upload_free(u);
    return NULL;
  }
  u->fd = fd;
  return u;
}

static void flush(struct blob_upload *u);
static void finish_step(struct blob_upload *u);

/* On a pool thread: hash and write one buffer. Only one is in flight at a
 * time, so the hash state sees the bytes in order, and the loop thread
 * spends nothing on either. */
static void write_work(uv_work_t *w) {
  struct blob_upload *u = w->data;
  size_t done = 0;
  u->work_result = 0;
  if (EVP_DigestUpdate(u->sha, u->writing, u->writing_len) != 1) {
    u->work_result = -EIO;
    return;
  }
  while (done < u->writing_len) {
    ssize_t n = write(u->fd, u->writing + done, u->writing_len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      u->work_result = -errno;
      return;
    }
    done += (size_t)n;
  }
}

static void write_done(uv_work_t *w, int status) {
  struct blob_upload *u = w->data;
  u->in_flight = false;
  if (u->aborted) {
    discard(u);
    return;
  }
  if (status < 0 || u->work_result < 0)
    u->error = status < 0 ? status : u->work_result;
  u->writing_len = 0;
  if (!u->error && u->pending_len)
    flush(u);
  if (u->finishing) {
    if (!u->in_flight)
      finish_step(u);
    return;
  }
  if (u->paused && !u->in_flight) {
    u->paused = false;
    if (u->on_ready)
      u->on_ready(u->ctx);
  }
}

static void flush(struct blob_upload *u) {
  if (u->in_flight || u->pending_len == 0)
    return;
  if (!u->writing && !(u->writing = malloc(2 * WRITE_CHUNK))) {
    u->error = UV_ENOMEM;
    return;
  }
  uint8_t *t = u->writing;
  u->writing = u->pending;
  u->pending = t;
  u->writing_len = u->pending_len;
  u->pending_len = 0;
  u->work.data = u;
  int rc = uv_queue_work(u->loop, &u->work, write_work, write_done);
  if (rc < 0) {
    u->error = rc;
    return;
  }
  u->in_flight = true;
}

int blob_upload_write(struct blob_upload *u, const uint8_t *data, size_t len,
                      blob_ready_cb on_ready) {
  if (u->error)
    return u->error;
  u->size += (int64_t)len;
  u->on_ready = on_ready;
  while (len) {
    size_t room = 2 * WRITE_CHUNK - u->pending_len;
    if (room == 0) {
      /* Both buffers are full: the caller hands over at most one read
       * (64 KiB) after being told to pause, so this cannot grow. */
      uint8_t *bigger = realloc(u->pending, u->pending_len + len);
      if (!bigger)
        return u->error = UV_ENOMEM;
      u->pending = bigger;
      room = len;
    }
    size_t n = len < room ? len : room;
    memcpy(u->pending + u->pending_len, data, n);
    u->pending_len += n;
    data += n;
    len -= n;
  }
  if (!u->in_flight && u->pending_len >= WRITE_CHUNK)
    flush(u);
  if (u->in_flight && u->pending_len >= WRITE_CHUNK) {
    u->paused = true;
    return 1;
  }
  return 0;
}

/* After the last write: fsync, close, rename, report. The fsync runs on
 * the pool; close and rename are quick. */
static void on_synced(uv_fs_t *req) {
  struct blob_upload *u = req->data;
  int rc = (int)req->result;
  uv_fs_req_cleanup(req);
  u->in_flight = false;
  if (u->aborted) {
    discard(u);
    return;
  }
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_len = 0;
  char hex[65] = "";
  if (EVP_DigestFinal_ex(u->sha, digest, &digest_len) == 1 && digest_len == 32)
    sodium_bin2hex(hex, sizeof hex, digest, digest_len);
  else if (rc == 0)
    rc = -EIO;
  uv_fs_t sync_req;
  uv_fs_close(u->loop, &sync_req, u->fd, NULL);
  uv_fs_req_cleanup(&sync_req);
  u->fd = -1;
  if (rc == 0 && rename(u->tmp_path, u->final_path) < 0)
    rc = -errno;
  if (rc < 0)
    unlink(u->tmp_path);
  blob_done_cb done = u->done;
  void *ctx = u->ctx;
  int64_t size = u->size;
  upload_free(u);
  done(ctx, rc, size, hex);
}

static void finish_step(struct blob_upload *u) {
  if (u->pending_len && !u->error) {
    flush(u);
    if (u->in_flight)
      return; /* write_done comes back here */
  }
  if (u->error) {
    blob_done_cb done = u->done;
    void *ctx = u->ctx;
    int err = u->error;
    discard(u);
    done(ctx, err, 0, "");
    return;
  }
  u->req.data = u;
  int rc = uv_fs_fsync(u->loop, &u->req, u->fd, on_synced);
  if (rc < 0) {
    u->error = rc;
    finish_step(u);
    return;
  }
  u->in_flight = true;
}

void blob_upload_finish(struct blob_upload *u, blob_done_cb done) {
  u->done = done;
  u->finishing = true;
  if (!u->in_flight)
    finish_step(u);
}

void blob_upload_abort(struct blob_upload *u) {
  if (!u)
    return;
  u->aborted = true;
  if (!u->in_flight)
    discard(u); /* else the write or fsync in flight comes back to discard it */
}
