/* Facilitator accounts: sign up, sign in (a session cookie), sign out, and
 * who am I. Passwords are read from the body, hashed or verified, and
 * never logged or kept in memory longer than the request. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/accounts_api.h"
#include "api/app.h"
#include "api/auth.h"
#include "api/chat_api.h"
#include "api/pwjob.h"
#include "config.h"
#include "http/cookie.h"
#include "rooms/password.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timefmt.h"

#define CREDENTIALS_BODY_MAX 4096

/* {email, password} from the body; answers 400 itself and returns -1. */
static int read_credentials(struct http_req *r, json_t **in, const char **email, size_t *elen,
                            const char **pw, size_t *pwlen) {
  *in = api_body_json(r);
  json_t *e = *in ? json_object_get(*in, "email") : NULL;
  json_t *p = *in ? json_object_get(*in, "password") : NULL;
  if (!json_is_string(e) || !json_is_string(p)) {
    json_decref(*in);
    *in = NULL;
    http_respond_error(r, 400, "bad_request", "The body is {\"email\": ..., \"password\": ...}.");
    return -1;
  }
  *email = json_string_value(e);
  *elen = json_string_length(e);
  *pw = json_string_value(p);
  *pwlen = json_string_length(p);
  return 0;
}

static void done_status(void *ctx, int status) {
  *(int *)ctx = status;
}

struct made_id {
  int status;
  int64_t id;
};

static void made_id(void *ctx, int status, int64_t id) {
  struct made_id *out = ctx;
  *out = (struct made_id){status, id};
}

/* The password is hashed (off the loop): store the account. */
static void account_hashed(struct http_req *r, struct pw_job *job) {
  if (!job->ok) {
    http_respond_error(r, 500, "internal", "Could not hash the password.");
    return;
  }
  struct account_row a = {
      .email = job->email, .password_hash = job->hash, .created_at = time_now_ms()};
  struct made_id made = {STORE_FAILED, 0};
  store_account_insert(app_of(r)->store, &a, made_id, &made);
  int status = made.status;
  a.id = made.id;
  if (status == STORE_CONFLICT) {
    http_respond_error(r, 409, "email_taken", "An account with this email exists.");
    return;
  }
  if (status < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Could not create the account.");
    return;
  }
  struct log_field f[] = {LOG_NUM("account", a.id), LOG_STR("addr", conn_peer_text(r->c))};
  log_fields(LOG_INFO, "account.created", f, 2);
  char created[32];
  time_iso8601(a.created_at, created, sizeof created);
  api_respond_json(r, 201,
                   json_pack("{s:I, s:s, s:s}", "id", (json_int_t)a.id, "email", job->email,
                             "created_at", created),
                   "Cache-Control: no-store\r\n");
}

static void create_account(struct http_req *r) {
  json_t *in;
  const char *email, *pw;
  size_t elen, pwlen;
  if (read_credentials(r, &in, &email, &elen, &pw, &pwlen) < 0)
    return;
  struct app *app = app_of(r);
  char normal[EMAIL_MAX + 1];
  size_t klen;
  const uint8_t *k = api_addr_key(r, &klen);
  struct pw_job *job = NULL;
  if (email_normalise(email, elen, normal) < 0) {
    http_respond_error(r, 400, "bad_email", "That is not an email address.");
  } else if (password_check(pw, pwlen) < 0) {
    http_respond_error(r, 400, "weak_password",
                       "A password is 10 to 1024 bytes long (at least 10 characters).");
  } else if (api_rate_limited(r, &app->login_addr, k, klen,
                              "Too many attempts from this address; try again later.")) {
  } else if (!(job = pw_job_new(pw, pwlen, account_hashed))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
  } else {
    memcpy(job->email, normal, sizeof normal);
    pw_job_start(r, job);
  }
  json_decref(in);
}

struct login_lookup {
  char hash[PASSWORD_HASH_MAX];
  int64_t id;
  int status;
};

static void on_login_account(void *ctx, int status, const struct account_row *a) {
  struct login_lookup *l = ctx;
  l->status = status;
  if (a) {
    l->id = a->id;
    snprintf(l->hash, sizeof l->hash, "%s", a->password_hash ? a->password_hash : "");
  }
}

/* A new session for the account: the token goes to the cookie, its hash
 * to the database. */
static void start_session(struct http_req *r, int64_t account_id, const char *email) {
  struct app *app = app_of(r);
  char token[SESSION_TOKEN_LEN + 1];
  uint8_t th[32];
  rand_base62(token, SESSION_TOKEN_LEN);
  auth_token_hash(token, SESSION_TOKEN_LEN, th);
  int64_t now = time_now_ms();
  int status = STORE_FAILED;
  store_session_insert(app->store, th, account_id, now + (int64_t)app->cfg->session_ttl_ms,
                       done_status, &status);
  if (status < 0) {
    http_respond_error(r, 503, "storage_unavailable", "Could not sign in; try again.");
    return;
  }
  char headers[256];
  if (cookie_build(headers, sizeof headers, COOKIE_SESSION_NAME, token,
                   app->cfg->session_ttl_ms / 1000, auth_cookie_secure(r)) < 0) {
    http_respond_error(r, 500, "internal", "Could not build the cookie.");
    return;
  }
  strcat(headers, "Cache-Control: no-store\r\n"); /* sized for it */
  struct log_field f[] = {LOG_NUM("account", account_id), LOG_STR("addr", conn_peer_text(r->c))};
  log_fields(LOG_INFO, "session.created", f, 2);
  api_respond_json(r, 200, json_pack("{s:I, s:s}", "id", (json_int_t)account_id, "email", email),
                   headers);
}

/* The password was checked (off the loop): a session, or 401. */
static void session_checked(struct http_req *r, struct pw_job *job) {
  if (!job->ok || !job->found) {
    struct log_field f = LOG_STR("addr", conn_peer_text(r->c));
    log_fields(LOG_INFO, "session.refused", &f, 1);
    http_respond_error(r, 401, "bad_credentials", "The email or the password is wrong.");
    return;
  }
  start_session(r, job->id, job->email);
}

static void create_session(struct http_req *r) {
  json_t *in;
  const char *email, *pw;
  size_t elen, pwlen;
  if (auth_foreign_origin(r) || read_credentials(r, &in, &email, &elen, &pw, &pwlen) < 0)
    return;
  struct app *app = app_of(r);
  size_t klen;
  const uint8_t *k = api_addr_key(r, &klen);
  char normal[EMAIL_MAX + 1];
  uint8_t email_key[32];
  bool valid = email_normalise(email, elen, normal) == 0;
  crypto_hash_sha256(email_key, (const unsigned char *)(valid ? normal : ""),
                     valid ? strlen(normal) : 0);
  struct login_lookup l = {.status = STORE_NOT_FOUND};
  struct pw_job *job = NULL;
  if (api_rate_limited(r, &app->login_addr, k, klen,
                       "Too many sign-in attempts from this address; try again later.") ||
      (valid && api_rate_limited(r, &app->login_email, email_key, sizeof email_key,
                                 "Too many sign-in attempts for this account; try again later."))) {
    goto out;
  }
  if (valid)
    store_account_by_email(app->store, normal, on_login_account, &l);
  if (l.status < 0 && l.status != STORE_NOT_FOUND) {
    http_respond_error(r, 503, "storage_unavailable", "Storage is not answering; try again.");
    goto out;
  }
  if (!(job = pw_job_new(pw, pwlen, session_checked))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    goto out;
  }
  /* An unknown email costs the same verification as a wrong password, so
   * the time of the answer does not tell whether the account exists. */
  job->verify = true;
  job->found = l.status == STORE_OK;
  job->id = l.id;
  snprintf(job->hash, sizeof job->hash, "%s", job->found ? l.hash : app->dummy_hash);
  snprintf(job->email, sizeof job->email, "%s", valid ? normal : "");
  pw_job_start(r, job);
out:
  sodium_memzero(l.hash, sizeof l.hash);
  json_decref(in);
}

static void delete_session(struct http_req *r) {
  if (auth_foreign_origin(r))
    return;
  size_t hlen, vlen;
  const char *h = http_header(r, "cookie", &hlen);
  const char *token = h ? cookie_get(h, hlen, COOKIE_SESSION_NAME, &vlen) : NULL;
  if (token && vlen == SESSION_TOKEN_LEN) {
    uint8_t th[32];
    auth_token_hash(token, vlen, th);
    int status = STORE_FAILED;
    store_session_delete(app_of(r)->store, th, done_status, &status);
    if (status < 0 && status != STORE_NOT_FOUND) {
      http_respond_error(r, 503, "storage_unavailable", "Could not sign out; try again.");
      return;
    }
  }
  char headers[160];
  cookie_build(headers, sizeof headers, COOKIE_SESSION_NAME, "", 0, auth_cookie_secure(r));
  http_respond(r, 204, NULL, NULL, 0, NULL, true, headers);
}

static void get_me(struct http_req *r) {
  struct api_account me;
  if (!auth_require(r, &me))
    return;
  api_respond_json(r, 200, json_pack("{s:I, s:s}", "id", (json_int_t)me.id, "email", me.email),
                   "Cache-Control: no-store\r\n");
}

struct room_list {
  struct http_req *r;
  json_t *rooms;
  int status;
};

static void add_room(void *ctx, int status, const struct room_row *room) {
  struct room_list *l = ctx;
  if (!room) {
    l->status = status;
    return;
  }
  json_t *j = chat_room_json(l->r, room);
  if (j)
    json_array_append_new(l->rooms, j);
}

static void get_my_rooms(struct http_req *r) {
  struct api_account me;
  if (!auth_require(r, &me))
    return;
  struct room_list l = {r, json_array(), STORE_FAILED};
  if (!l.rooms) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  store_rooms_of_owner(app_of(r)->store, me.id, add_room, &l);
  if (l.status < 0) {
    json_decref(l.rooms);
    http_respond_error(r, 503, "storage_unavailable", "Storage is not answering; try again.");
    return;
  }
  api_respond_json(r, 200, json_pack("{s:o}", "rooms", l.rooms), "Cache-Control: no-store\r\n");
}

const http_handler accounts_create_handler = {
    .on_body = api_body_collect,
    .on_complete = create_account,
    .on_abort = pw_job_abort,
    .max_body = CREDENTIALS_BODY_MAX,
};
const http_handler session_create_handler = {
    .on_body = api_body_collect,
    .on_complete = create_session,
    .on_abort = pw_job_abort,
    .max_body = CREDENTIALS_BODY_MAX,
};
const http_handler session_delete_handler = {.on_complete = delete_session};
const http_handler me_handler = {.on_complete = get_me};
const http_handler me_rooms_handler = {.on_complete = get_my_rooms};
