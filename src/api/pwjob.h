/* Argon2id off the loop. A hash or a check costs tens of milliseconds of
 * CPU and 19 MiB; on the loop thread it would stall every room and socket
 * meanwhile, so sign-up, sign-in and room unlocking run it on libuv's
 * thread pool and answer when it is done.
 *
 * The job is the request's pending state while it runs (api_pending); a
 * request that goes away meanwhile (pw_job_abort as the handler's
 * on_abort) leaves the job to free itself when the work returns. */
#ifndef TANDEM_PWJOB_H
#define TANDEM_PWJOB_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "api/app.h"
#include "http/http.h"
#include "rooms/password.h"
#include "store/store.h"

struct pw_job;
/* Runs on the loop with the request (still there) and the finished job;
 * the job is freed after it returns. */
typedef void (*pw_job_done)(struct http_req *r, struct pw_job *job);

struct pw_job {
  struct api_pending pending; /* first: the request, NULL once it went away */
  uv_work_t work;
  pw_job_done done;
  bool verify;                  /* check pw against hash; else hash pw into hash */
  bool ok;                      /* the check passed / the hash was made */
  char hash[PASSWORD_HASH_MAX]; /* in (verify) or out */
  char *pw;                     /* a copy, wiped when the job ends */
  size_t pw_len;
  /* What the caller carries to `done`. */
  int64_t id;
  bool found;
  char email[EMAIL_MAX + 1];
  char room_id[STORE_ID_LEN + 1];
  json_t *body; /* a reference to the request body, released with the job */
};

/* A new job for the password (copied). NULL when out of memory. */
struct pw_job *pw_job_new(const char *pw, size_t len, pw_job_done done);

/* Queues the job; the request is answered by `done`. On failure answers
 * 500 and frees the job. */
void pw_job_start(struct http_req *r, struct pw_job *job);

/* Frees a job that was never started. */
void pw_job_free(struct pw_job *job);

/* pw_job_start for api_limit_gate: a job that waits for a shared limit,
 * started when the request is within it (pass) or freed (drop). */
void pw_job_pass(struct http_req *r, void *job);
void pw_job_drop(void *job);

/* on_abort for routes that take a JSON body and may start a job. */
#define pw_job_abort api_pending_abort

#endif
