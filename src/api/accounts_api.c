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

/* A new account waits for its id. */
struct signup {
  struct api_pending pending; /* first */
  int64_t created_at;
  char email[EMAIL_MAX + 1];
};

static void account_stored(void *ctx, int status, int64_t id) {
  struct signup *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  if (!r) {
  } else if (status == STORE_CONFLICT) {
    http_respond_error(r, 409, "email_taken", "An account with this email exists.");
  } else if (status < 0) {
    api_respond_store_error(r, status);
  } else {
    struct log_field f[] = {LOG_NUM("account", id), LOG_STR("addr", conn_peer_text(r->c))};
    log_fields(LOG_INFO, "account.created", f, 2);
    char created[32];
    time_iso8601(st->created_at, created, sizeof created);
    api_respond_json(r, 201,
                     json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "email", st->email,
                               "created_at", created),
                     "Cache-Control: no-store\r\n");
  }
  free(st);
}

/* The password is hashed (off the loop): store the account. */
static void account_hashed(struct http_req *r, struct pw_job *job) {
  if (!job->ok) {
    http_respond_error(r, 500, "internal", "Could not hash the password.");
    return;
  }
  struct signup *st = calloc(1, sizeof *st);
  if (!st) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  st->created_at = time_now_ms();
  memcpy(st->email, job->email, sizeof st->email);
  struct account_row a = {
      .email = st->email, .password_hash = job->hash, .created_at = st->created_at};
  api_pending_start(r, &st->pending);
  store_account_insert(app_of(r)->store, &a, account_stored, st);
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
  } else if (!(job = pw_job_new(pw, pwlen, account_hashed))) {
    http_respond_error(r, 500, "internal", "Out of memory.");
  } else {
    memcpy(job->email, normal, sizeof normal);
    struct api_limit limit = {&app->login_addr, "login_addr", k, klen,
                              "Too many attempts from this address; try again later."};
    api_limit_gate(r, &limit, 1, pw_job_pass, pw_job_drop, job);
  }
  json_decref(in);
}

/* A new session waits for its row: the token goes to the cookie once the
 * database holds its hash. */
struct session_start {
  struct api_pending pending; /* first */
  int64_t account_id;
  char token[SESSION_TOKEN_LEN + 1];
  char email[EMAIL_MAX + 1];
};

static void session_stored(void *ctx, int status) {
  struct session_start *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  char headers[256];
  if (!r) {
  } else if (status < 0) {
    api_respond_store_error(r, status);
  } else if (cookie_build(headers, sizeof headers, COOKIE_SESSION_NAME, st->token,
                          app_of(r)->cfg->session_ttl_ms / 1000, auth_cookie_secure(r)) < 0) {
    http_respond_error(r, 500, "internal", "Could not build the cookie.");
  } else {
    strcat(headers, "Cache-Control: no-store\r\n"); /* sized for it */
    struct log_field f[] = {LOG_NUM("account", st->account_id),
                            LOG_STR("addr", conn_peer_text(r->c))};
    log_fields(LOG_INFO, "session.created", f, 2);
    api_respond_json(r, 200,
                     json_pack("{s:I, s:s}", "id", (json_int_t)st->account_id, "email", st->email),
                     headers);
  }
  sodium_memzero(st->token, sizeof st->token);
  free(st);
}

/* A new session for the account: the token for the cookie, its hash for
 * the database. */
static void start_session(struct http_req *r, int64_t account_id, const char *email) {
  struct app *app = app_of(r);
  struct session_start *st = calloc(1, sizeof *st);
  if (!st) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  st->account_id = account_id;
  snprintf(st->email, sizeof st->email, "%s", email);
  rand_base62(st->token, SESSION_TOKEN_LEN);
  uint8_t th[32];
  auth_token_hash(st->token, SESSION_TOKEN_LEN, th);
  int64_t expires_at = time_now_ms() + (int64_t)app->cfg->session_ttl_ms;
  api_pending_start(r, &st->pending);
  store_session_insert(app->store, th, account_id, expires_at, session_stored, st);
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

/* Checks the password against the account's hash, off the loop. An
 * unknown email (account NULL) costs the same verification as a wrong
 * password, so the time of the answer does not tell whether it exists. */
static void verify_password(struct http_req *r, json_t *in, const char *email,
                            const struct account_row *account) {
  json_t *pw = json_object_get(in, "password");
  struct pw_job *job = pw_job_new(json_string_value(pw), json_string_length(pw), session_checked);
  if (!job) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  const char *hash = account && account->password_hash ? account->password_hash : NULL;
  job->verify = true;
  job->found = hash != NULL;
  job->id = account ? account->id : 0;
  snprintf(job->hash, sizeof job->hash, "%s", hash ? hash : app_of(r)->dummy_hash);
  snprintf(job->email, sizeof job->email, "%s", email);
  pw_job_start(r, job);
}

/* A sign-in waits for the account of its email. */
struct signin {
  struct api_pending pending; /* first */
  json_t *in;                 /* the body, with the password */
  char email[EMAIL_MAX + 1];
};

static void login_account_found(void *ctx, int status, const struct account_row *a) {
  struct signin *st = ctx;
  struct http_req *r = api_pending_end(&st->pending);
  if (!r) {
  } else if (status < 0 && status != STORE_NOT_FOUND) {
    api_respond_store_error(r, status);
  } else {
    verify_password(r, st->in, st->email, status == STORE_OK ? a : NULL);
  }
  json_decref(st->in);
  free(st);
}

/* Looks the account up, then checks the password; takes `in`. */
static void look_up_login(struct http_req *r, json_t *in, const char *email) {
  struct signin *st = calloc(1, sizeof *st);
  if (!st) {
    json_decref(in);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  st->in = in;
  snprintf(st->email, sizeof st->email, "%s", email);
  api_pending_start(r, &st->pending);
  store_account_by_email(app_of(r)->store, st->email, login_account_found, st);
}

/* A sign-in on its way through the limits (per address, per account). */
struct login_gate {
  json_t *in;
  bool valid;
  char normal[EMAIL_MAX + 1];
};

static void login_dropped(void *arg) {
  struct login_gate *g = arg;
  json_decref(g->in);
  free(g);
}

static void login_passed(struct http_req *r, void *arg) {
  struct login_gate *g = arg;
  if (g->valid) {
    look_up_login(r, g->in, g->normal); /* takes the body */
  } else {
    verify_password(r, g->in, "", NULL);
    json_decref(g->in);
  }
  free(g);
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
  struct login_gate *g = malloc(sizeof *g);
  if (!g) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    json_decref(in);
    return;
  }
  *g = (struct login_gate){in, valid, {0}};
  memcpy(g->normal, normal, sizeof normal);
  struct api_limit limits[2] = {{&app->login_addr, "login_addr", k, klen,
                                 "Too many sign-in attempts from this address; try again later."},
                                {&app->login_email, "login_email", email_key, sizeof email_key,
                                 "Too many sign-in attempts for this account; try again later."}};
  api_limit_gate(r, limits, valid ? 2 : 1, login_passed, login_dropped, g);
}

/* Clears the cookie: 204. */
static void signed_out(struct http_req *r) {
  char headers[160];
  cookie_build(headers, sizeof headers, COOKIE_SESSION_NAME, "", 0, auth_cookie_secure(r));
  http_respond(r, 204, NULL, NULL, 0, NULL, true, headers);
}

static void session_deleted(void *ctx, int status) {
  struct api_pending *pending = ctx;
  struct http_req *r = api_pending_end(pending);
  if (r && status < 0 && status != STORE_NOT_FOUND)
    api_respond_store_error(r, status);
  else if (r)
    signed_out(r);
  free(pending);
}

static void delete_session(struct http_req *r) {
  if (auth_foreign_origin(r))
    return;
  size_t hlen, vlen;
  const char *h = http_header(r, "cookie", &hlen);
  const char *token = h ? cookie_get(h, hlen, COOKIE_SESSION_NAME, &vlen) : NULL;
  if (!token || vlen != SESSION_TOKEN_LEN) {
    signed_out(r);
    return;
  }
  struct api_pending *pending = calloc(1, sizeof *pending);
  if (!pending) {
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  uint8_t th[32];
  auth_token_hash(token, vlen, th);
  api_pending_start(r, pending);
  store_session_delete(app_of(r)->store, th, session_deleted, pending);
}

static void me_signed_in(struct http_req *r, const struct api_account *me, void *ctx) {
  (void)ctx;
  api_respond_json(r, 200, json_pack("{s:I, s:s}", "id", (json_int_t)me->id, "email", me->email),
                   "Cache-Control: no-store\r\n");
}

static void get_me(struct http_req *r) {
  auth_require(r, me_signed_in, NULL, NULL);
}

/* The owner's rooms, gathered as the store hands them over. */
struct room_list {
  struct api_pending pending; /* first */
  json_t *rooms;
};

static void add_room(void *ctx, int status, const struct room_row *room) {
  struct room_list *l = ctx;
  if (room) {
    json_t *j = l->pending.r ? chat_room_json(l->pending.r, room) : NULL;
    if (j)
      json_array_append_new(l->rooms, j);
    return;
  }
  struct http_req *r = api_pending_end(&l->pending);
  if (r && status < 0)
    api_respond_store_error(r, status);
  else if (r)
    api_respond_json(r, 200, json_pack("{s:O}", "rooms", l->rooms), "Cache-Control: no-store\r\n");
  json_decref(l->rooms);
  free(l);
}

static void list_my_rooms(struct http_req *r, const struct api_account *me, void *ctx) {
  (void)ctx;
  struct room_list *l = calloc(1, sizeof *l);
  if (!l || !(l->rooms = json_array())) {
    free(l);
    http_respond_error(r, 500, "internal", "Out of memory.");
    return;
  }
  api_pending_start(r, &l->pending);
  store_rooms_of_owner(app_of(r)->store, me->id, add_room, l);
}

static void get_my_rooms(struct http_req *r) {
  auth_require(r, list_my_rooms, NULL, NULL);
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
/* The routes below wait on the store: the client may go away meanwhile. */
const http_handler session_delete_handler = {.on_complete = delete_session,
                                             .on_abort = api_pending_abort};
const http_handler me_handler = {.on_complete = get_me, .on_abort = api_pending_abort};
const http_handler me_rooms_handler = {.on_complete = get_my_rooms, .on_abort = api_pending_abort};
