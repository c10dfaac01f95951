/* The PostgreSQL engine's connections (pg_pool.h). */
#include "store/pg_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define PG_STARTUP_CONNECT_TIMEOUT "10" /* seconds, libpq's connect_timeout */
#define PG_CONNECT_TIMEOUT_MS 5000      /* a reconnect on the loop */
#define PG_QUERY_TIMEOUT_MS 30000       /* a query with no answer: the link is dead */
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000

enum pg_conn_state { PG_DOWN, PG_CONNECTING, PG_IDLE, PG_BUSY };

struct pg_conn {
  struct pg_pool *pool;
  PGconn *conn;
  enum pg_conn_state state;
  uv_poll_t *poll; /* on PQsocket; its own allocation, freed by its close callback */
  int poll_fd;
  int poll_events;
  uv_timer_t *timer; /* backoff while down, connect and query timeouts */
  struct pg_query *query;
  PGresult *result;
  uint64_t backoff_ms;
  bool flushing;
};

struct pg_pool {
  uv_loop_t *loop;
  char *url;
  char hostaddr[64]; /* resolved at start-up, so a reconnect needs no DNS */
  char where[192];   /* host:port/db for the log (never the URL: it may hold a password) */
  struct pg_conn *conns;
  int nconns;
  struct pg_query *head, *tail;
  bool available;
  bool closing;
};

/* ---- connections ---- */

static void free_handle(uv_handle_t *h) {
  free(h);
}

bool pg_pool_up(const struct pg_pool *s) {
  for (int i = 0; i < s->nconns; i++)
    if (s->conns[i].state == PG_IDLE || s->conns[i].state == PG_BUSY)
      return true;
  return false;
}

static void finish_query(struct pg_query *q, int status, const PGresult *res) {
  q->deliver(q, status, status == STORE_OK ? res : NULL);
  free(q);
}

/* Every waiting query fails: nothing can answer it now. */
static void fail_queue(struct pg_pool *s) {
  while (s->head) {
    struct pg_query *q = s->head;
    s->head = q->next;
    if (!s->head)
      s->tail = NULL;
    finish_query(q, STORE_UNAVAILABLE, NULL);
  }
}

/* Logs once per change between "some connection is up" and "none is". */
static void note_availability(struct pg_pool *s) {
  bool up = pg_pool_up(s);
  if (up && !s->available)
    log_msg(LOG_INFO, "store.available", "PostgreSQL at %s answers again", s->where);
  else if (!up && s->available)
    log_msg(LOG_WARN, "store.unavailable",
            "PostgreSQL at %s cannot be reached; storage answers 503 until it is back", s->where);
  s->available = up;
  if (!up)
    fail_queue(s);
}

static void conn_unwatch(struct pg_conn *c) {
  if (!c->poll)
    return;
  uv_poll_stop(c->poll);
  uv_close((uv_handle_t *)c->poll, free_handle);
  c->poll = NULL;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Polls the connection's socket for events (it may change while
 * connecting). The poll keeps the loop alive only while a query is out. */
static int conn_watch(struct pg_conn *c, int events) {
  int fd = PQsocket(c->conn);
  if (fd < 0)
    return -1;
  if (c->poll && c->poll_fd != fd)
    conn_unwatch(c);
  if (!c->poll) {
    c->poll = malloc(sizeof *c->poll);
    if (!c->poll)
      return -1;
    if (uv_poll_init(c->pool->loop, c->poll, fd) < 0) {
      free(c->poll);
      c->poll = NULL;
      return -1;
    }
    c->poll->data = c;
    c->poll_fd = fd;
    c->poll_events = 0;
  }
  if (c->poll_events != events && uv_poll_start(c->poll, events, on_poll) < 0)
    return -1;
  c->poll_events = events;
  if (c->state == PG_BUSY)
    uv_ref((uv_handle_t *)c->poll);
  else
    uv_unref((uv_handle_t *)c->poll);
  return 0;
}

static void on_timer(uv_timer_t *t);

static void conn_timer(struct pg_conn *c, uint64_t ms) {
  uv_timer_start(c->timer, on_timer, ms, 0);
}

/* The connection is gone: its query fails, and it tries again later. */
static void conn_down(struct pg_conn *c) {
  struct pg_pool *s = c->pool;
  struct pg_query *q = c->query;
  c->query = NULL;
  PQclear(c->result);
  c->result = NULL;
  conn_unwatch(c);
  PQfinish(c->conn);
  c->conn = NULL;
  c->state = PG_DOWN;
  c->flushing = false;
  uv_timer_stop(c->timer);
  if (!s->closing) {
    conn_timer(c, c->backoff_ms);
    c->backoff_ms = c->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : c->backoff_ms * 2;
  }
  note_availability(s);
  if (q)
    finish_query(q, STORE_UNAVAILABLE, NULL);
}

static void notice(void *arg, const char *message) {
  log_msg(LOG_DEBUG, "store.notice", "%.*s", (int)strcspn(message, "\n"), message);
}

static void dispatch(struct pg_pool *s);

static void conn_ready(struct pg_conn *c) {
  PQsetNoticeProcessor(c->conn, notice, NULL);
  c->state = PG_IDLE;
  c->backoff_ms = PG_BACKOFF_MIN_MS;
  uv_timer_stop(c->timer);
  if (PQsetnonblocking(c->conn, 1) < 0 || conn_watch(c, UV_READABLE) < 0) {
    conn_down(c);
    return;
  }
  note_availability(c->pool);
  dispatch(c->pool);
}

/* The keywords of every connection: ours first, then the URL's (which win),
 * then the address resolved at start-up. */
static PGconn *conn_begin(struct pg_pool *s, bool blocking) {
  const char *kw[] = {"connect_timeout",
                      "keepalives",
                      "keepalives_idle",
                      "keepalives_interval",
                      "keepalives_count",
                      "application_name",
                      "dbname",
                      s->hostaddr[0] ? "hostaddr" : NULL,
                      NULL};
  const char *val[] = {
      PG_STARTUP_CONNECT_TIMEOUT, "1", "30", "10", "3", "tandem", s->url, s->hostaddr, NULL};
  return blocking ? PQconnectdbParams(kw, val, 1) : PQconnectStartParams(kw, val, 1);
}

/* libpq may close and open its socket while connecting (another address,
 * SSL refused), even under the same number: each step polls afresh. */
static void connect_step(struct pg_conn *c) {
  PostgresPollingStatusType step = PQconnectPoll(c->conn);
  conn_unwatch(c);
  switch (step) {
  case PGRES_POLLING_READING:
    if (conn_watch(c, UV_READABLE) < 0)
      conn_down(c);
    return;
  case PGRES_POLLING_WRITING:
    if (conn_watch(c, UV_WRITABLE) < 0)
      conn_down(c);
    return;
  case PGRES_POLLING_OK: conn_ready(c); return;
  default:
    log_msg(LOG_DEBUG, "store.reconnect", "PostgreSQL at %s: %.*s", c->pool->where,
            (int)strcspn(PQerrorMessage(c->conn), "\n"), PQerrorMessage(c->conn));
    conn_down(c);
    return;
  }
}

static void conn_start(struct pg_conn *c) {
  c->conn = conn_begin(c->pool, false);
  if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
    conn_down(c);
    return;
  }
  c->state = PG_CONNECTING;
  conn_timer(c, PG_CONNECT_TIMEOUT_MS);
  /* libpq: before the first PQconnectPoll, wait as if it said WRITING. */
  if (conn_watch(c, UV_WRITABLE) < 0)
    conn_down(c);
}

static void on_timer(uv_timer_t *t) {
  struct pg_conn *c = t->data;
  switch (c->state) {
  case PG_DOWN: conn_start(c); return;
  case PG_CONNECTING: conn_down(c); return;
  case PG_BUSY:
    log_msg(LOG_WARN, "store.timeout", "PostgreSQL at %s: no answer to %s in %d ms", c->pool->where,
            c->query ? c->query->what : "a query", PG_QUERY_TIMEOUT_MS);
    conn_down(c);
    return;
  case PG_IDLE: return;
  }
}

/* ---- queries ---- */

static const char *sqlstate_of(const PGresult *res) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  return state ? state : "";
}

/* A unique key taken, a foreign key gone, a check refused: STORE_CONFLICT
 * as SQLite's SQLITE_CONSTRAINT. A connection that broke, or a server
 * shutting down: STORE_UNAVAILABLE. */
static int result_status(struct pg_conn *c, const struct pg_query *q, const PGresult *res) {
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    return STORE_OK;
  const char *state = sqlstate_of(res);
  if (strncmp(state, "23", 2) == 0)
    return STORE_CONFLICT;
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
      PQstatus(c->conn) == CONNECTION_BAD)
    return STORE_UNAVAILABLE;
  const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->conn);
  log_msg(LOG_ERROR, "store.error", "%s: %s %.*s", q->what, state, (int)strcspn(msg, "\n"), msg);
  return STORE_FAILED;
}

/* A unique violation on the constraint the query may retry on: another
 * tandem wrote first, and running the statement again sees its row. */
static bool race_lost(const struct pg_query *q, const PGresult *res) {
  const char *name = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
  return q->retry_on && strcmp(sqlstate_of(res), "23505") == 0 && name &&
         strcmp(name, q->retry_on) == 0;
}

static void enqueue(struct pg_pool *s, struct pg_query *q, bool front) {
  if (front) {
    q->next = s->head;
    s->head = q;
    if (!s->tail)
      s->tail = q;
    return;
  }
  q->next = NULL;
  if (s->tail)
    s->tail->next = q;
  else
    s->head = q;
  s->tail = q;
}

static void query_done(struct pg_conn *c) {
  struct pg_pool *s = c->pool;
  struct pg_query *q = c->query;
  PGresult *res = c->result;
  c->query = NULL;
  c->result = NULL;
  c->state = PG_IDLE;
  uv_timer_stop(c->timer);
  int status = result_status(c, q, res);
  if (PQstatus(c->conn) == CONNECTION_BAD)
    conn_down(c);
  else if (conn_watch(c, UV_READABLE) < 0)
    conn_down(c);
  if (status == STORE_CONFLICT && q->retries > 0 && race_lost(q, res) && pg_pool_up(s)) {
    q->retries--;
    enqueue(s, q, true);
  } else {
    finish_query(q, status, res);
  }
  PQclear(res);
  dispatch(s);
}

static void flush_out(struct pg_conn *c) {
  int r = PQflush(c->conn);
  if (r < 0) {
    conn_down(c);
    return;
  }
  c->flushing = r == 1;
  if (conn_watch(c, c->flushing ? UV_READABLE | UV_WRITABLE : UV_READABLE) < 0)
    conn_down(c);
}

static void conn_send(struct pg_conn *c, struct pg_query *q) {
  c->query = q;
  c->state = PG_BUSY;
  if (!PQsendQueryParams(c->conn, q->sql, q->nparams, NULL, q->values, q->lengths, q->formats, 0)) {
    if (PQstatus(c->conn) == CONNECTION_BAD) {
      conn_down(c);
      return;
    }
    const char *msg = PQerrorMessage(c->conn);
    log_msg(LOG_ERROR, "store.error", "%s: %.*s", q->what, (int)strcspn(msg, "\n"), msg);
    c->query = NULL;
    c->state = PG_IDLE;
    finish_query(q, STORE_FAILED, NULL);
    return;
  }
  conn_timer(c, PG_QUERY_TIMEOUT_MS);
  flush_out(c);
}

static void dispatch(struct pg_pool *s) {
  for (int i = 0; i < s->nconns && s->head; i++) {
    struct pg_conn *c = &s->conns[i];
    if (c->state != PG_IDLE)
      continue;
    struct pg_query *q = s->head;
    s->head = q->next;
    if (!s->head)
      s->tail = NULL;
    conn_send(c, q);
  }
}

/* Reads what the server sent: the query's results, or (idle) the notice
 * that it is shutting down and the end of the connection. */
static void read_input(struct pg_conn *c) {
  if (!PQconsumeInput(c->conn)) {
    conn_down(c);
    return;
  }
  PGnotify *n;
  while ((n = PQnotifies(c->conn)))
    PQfreemem(n);
  if (c->state == PG_IDLE) {
    if (PQstatus(c->conn) == CONNECTION_BAD)
      conn_down(c);
    return;
  }
  while (!PQisBusy(c->conn)) {
    PGresult *res = PQgetResult(c->conn);
    if (!res) {
      query_done(c);
      return;
    }
    if (!c->result)
      c->result = res;
    else
      PQclear(res);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct pg_conn *c = h->data;
  if (status < 0)
    events = UV_READABLE | UV_WRITABLE; /* let libpq find what went wrong */
  if (c->state == PG_CONNECTING) {
    connect_step(c);
    return;
  }
  if ((events & UV_READABLE) && c->state != PG_DOWN)
    read_input(c);
  if ((events & UV_WRITABLE) && c->flushing && c->state == PG_BUSY)
    flush_out(c);
}

/* Copies the parameters into one allocation with the query and queues it;
 * with no connection up it fails at once. */
void pg_pool_submit(struct pg_pool *s, struct pg_params *p, const char *sql, const char *what,
                    pg_deliver_fn deliver, union pg_cb cb, void *ctx) {
  size_t size = sizeof(struct pg_query);
  for (int i = 0; i < p->n; i++)
    size += p->v[i] ? p->len[i] + 1 : 0;
  struct pg_query *q = calloc(1, size);
  if (q) {
    *q = (struct pg_query){.sql = sql, .what = what, .deliver = deliver, .cb = cb, .ctx = ctx};
    q->nparams = p->n;
    q->retries = p->retries;
    q->retry_on = p->retry_on;
    char *at = q->data;
    for (int i = 0; i < p->n; i++) {
      q->formats[i] = p->fmt[i];
      if (!p->v[i])
        continue;
      memcpy(at, p->v[i], p->len[i]);
      at[p->len[i]] = '\0';
      q->values[i] = at;
      q->lengths[i] = (int)p->len[i];
      at += p->len[i] + 1;
    }
  }
  for (int i = 0; i < p->nheap; i++)
    free(p->heap[i]);
  if (!q) {
    struct pg_query failed = {.deliver = deliver, .cb = cb, .ctx = ctx};
    log_msg(LOG_ERROR, "store.error", "%s: out of memory", what);
    deliver(&failed, STORE_FAILED, NULL);
    return;
  }
  if (s->closing || !pg_pool_up(s)) {
    finish_query(q, STORE_UNAVAILABLE, NULL);
    return;
  }
  enqueue(s, q, false);
  dispatch(s);
}

/* ---- start-up and close ---- */

/* Where the database is, for the log, and the address a reconnect dials
 * (one host only: a list of hosts is resolved by libpq each time). */
static void remember_server(struct pg_pool *s, PGconn *conn) {
  snprintf(s->where, sizeof s->where, "%s:%s/%s", PQhost(conn), PQport(conn), PQdb(conn));
  const char *addr = PQhostaddr(conn);
  if (addr && *addr && !strchr(PQhost(conn), ',') && strlen(addr) < sizeof s->hostaddr)
    snprintf(s->hostaddr, sizeof s->hostaddr, "%s", addr);
}

void pg_pool_close(struct pg_pool *s) {
  if (!s)
    return;
  s->closing = true;
  for (int i = 0; i < s->nconns; i++) {
    struct pg_conn *c = &s->conns[i];
    struct pg_query *q = c->query;
    c->query = NULL;
    PQclear(c->result);
    conn_unwatch(c);
    PQfinish(c->conn);
    c->conn = NULL;
    c->state = PG_DOWN;
    if (c->timer) {
      uv_timer_stop(c->timer);
      uv_close((uv_handle_t *)c->timer, free_handle);
    }
    if (q)
      finish_query(q, STORE_UNAVAILABLE, NULL);
  }
  fail_queue(s);
  free(s->conns);
  free(s->url);
  free(s);
}

int pg_pool_start(struct pg_pool *s, int pool_size, char *err, size_t errlen) {
  s->conns = calloc((size_t)pool_size, sizeof *s->conns);
  if (!s->conns) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->nconns = pool_size;
  for (int i = 0; i < pool_size; i++) {
    struct pg_conn *c = &s->conns[i];
    c->pool = s;
    c->backoff_ms = PG_BACKOFF_MIN_MS;
    c->timer = malloc(sizeof *c->timer);
    if (!c->timer || uv_timer_init(s->loop, c->timer) < 0) {
      free(c->timer);
      c->timer = NULL;
      snprintf(err, errlen, "cannot make a timer");
      return -1;
    }
    c->timer->data = c;
    uv_unref((uv_handle_t *)c->timer);
    c->conn = conn_begin(s, true);
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
      snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s",
               c->conn ? (int)strcspn(PQerrorMessage(c->conn), "\n") : 13,
               c->conn ? PQerrorMessage(c->conn) : "out of memory");
      return -1;
    }
    conn_ready(c);
    if (c->state != PG_IDLE) {
      snprintf(err, errlen, "cannot watch a PostgreSQL connection");
      return -1;
    }
  }
  return 0;
}

struct pg_pool *pg_pool_new(uv_loop_t *loop, const char *url) {
  struct pg_pool *s = calloc(1, sizeof *s);
  if (!s || !(s->url = strdup(url))) {
    free(s);
    return NULL;
  }
  s->loop = loop;
  s->available = true; /* logged as unavailable only after having been up */
  return s;
}

PGconn *pg_pool_connect(struct pg_pool *s, char *err, size_t errlen) {
  PGconn *conn = conn_begin(s, true);
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s",
             conn ? (int)strcspn(PQerrorMessage(conn), "\n") : 13,
             conn ? PQerrorMessage(conn) : "out of memory");
    PQfinish(conn);
    return NULL;
  }
  PQsetNoticeProcessor(conn, notice, NULL);
  if (!s->where[0])
    remember_server(s, conn);
  return conn;
}

const char *pg_pool_where(const struct pg_pool *s) {
  return s->where;
}

PGconn *pg_pool_idle(struct pg_pool *s) {
  for (int i = 0; i < s->nconns; i++)
    if (s->conns[i].state == PG_IDLE)
      return s->conns[i].conn;
  return NULL;
}
