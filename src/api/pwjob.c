#include "api/pwjob.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"

struct pw_job *pw_job_new(const char *pw, size_t len, pw_job_done done) {
  struct pw_job *j = calloc(1, sizeof *j);
  char *copy = j ? malloc(len + 1) : NULL;
  if (!copy) {
    free(j);
    return NULL;
  }
  memcpy(copy, pw, len);
  copy[len] = 0;
  j->pw = copy;
  j->pw_len = len;
  j->done = done;
  return j;
}

void pw_job_free(struct pw_job *j) {
  json_decref(j->body);
  sodium_memzero(j->pw, j->pw_len);
  free(j->pw);
  sodium_memzero(j->hash, sizeof j->hash);
  free(j);
}

/* On a pool thread: touches only the job. */
static void work(uv_work_t *w) {
  struct pw_job *j = w->data;
  if (j->verify)
    j->ok = password_verify(j->hash, j->pw, j->pw_len);
  else
    j->ok = password_hash(j->pw, j->pw_len, j->hash) == 0;
}

static void after_work(uv_work_t *w, int status) {
  struct pw_job *j = w->data;
  struct http_req *r = api_pending_end(&j->pending);
  if (r) {
    if (status < 0)
      http_respond_error(r, 500, "internal", "Could not check the password.");
    else
      j->done(r, j);
  }
  pw_job_free(j);
}

void pw_job_start(struct http_req *r, struct pw_job *job) {
  job->work.data = job;
  if (uv_queue_work(app_of(r)->loop, &job->work, work, after_work) < 0) {
    pw_job_free(job);
    http_respond_error(r, 500, "internal", "Could not check the password.");
    return;
  }
  api_pending_start(r, &job->pending);
}

void pw_job_pass(struct http_req *r, void *job) {
  pw_job_start(r, job);
}

void pw_job_drop(void *job) {
  pw_job_free(job);
}
