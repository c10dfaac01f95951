/* The connections of the PostgreSQL engine (postgres.c): a small pool on
 * the libuv loop, each connection with at most one query in flight, and
 * one FIFO of queries waiting for a free one. libpq's asynchronous API
 * only: a uv_poll_t on each connection's socket, PQsendQueryParams,
 * PQflush, PQconsumeInput, PQisBusy, PQgetResult.
 *
 * When PostgreSQL goes away, the query in flight on a broken connection
 * and every query asked for while no connection is up fail at once with
 * STORE_UNAVAILABLE; each connection dials again on its own, with backoff
 * (100 ms doubling to 5 s). The change between "some connection is up"
 * and "none is" is logged once each way. */
#ifndef TANDEM_PG_POOL_H
#define TANDEM_PG_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "store/store.h"

#define PG_MAX_PARAMS 12

struct pg_query;
/* Turns a query's result into its callback's arguments; res is NULL when
 * status is not STORE_OK, and valid only during the call. */
typedef void (*pg_deliver_fn)(struct pg_query *q, int status, const PGresult *res);

/* The store.h callback a query answers. */
union pg_cb {
  store_done_cb done;
  store_room_cb room;
  store_item_cb item;
  store_id_cb id;
  void (*bytes)(void *ctx, int status, int64_t bytes);
  store_doc_update_cb doc_update;
  store_doc_snapshot_cb snapshot;
  store_referrers_cb referrers;
  store_account_cb account;
  store_message_cb message;
};

/* One query, its parameters copied into the same allocation. */
struct pg_query {
  struct pg_query *next;
  const char *sql; /* static text */
  const char *what;
  pg_deliver_fn deliver;
  union pg_cb cb;
  void *ctx;
  const char *retry_on; /* a unique constraint whose violation means "run again" */
  int retries;
  int nparams;
  const char *values[PG_MAX_PARAMS];
  int lengths[PG_MAX_PARAMS];
  int formats[PG_MAX_PARAMS];
  char data[];
};

/* Parameters as a call is given them, before pg_pool_submit copies them:
 * text (NULL for SQL NULL), or bytes in binary format. */
struct pg_params {
  int n;
  const char *v[PG_MAX_PARAMS];
  size_t len[PG_MAX_PARAMS];
  int fmt[PG_MAX_PARAMS];
  char nums[PG_MAX_PARAMS][24]; /* integers as text */
  char *heap[4];                /* values built on the heap, freed by pg_pool_submit */
  int nheap;
  const char *retry_on; /* see struct pg_query */
  int retries;
};

struct pg_pool;

/* A pool for url (copied); no connection yet. NULL when out of memory. */
struct pg_pool *pg_pool_new(uv_loop_t *loop, const char *url);
/* A blocking connection with the pool's settings (10 s timeout), for
 * start-up work; the first one also learns where the server is (for the
 * log, and its address, so a reconnect needs no DNS). NULL with the reason
 * in err. */
PGconn *pg_pool_connect(struct pg_pool *p, char *err, size_t errlen);
/* Opens size connections (blocking, at start-up) and watches them on the
 * loop. -1 with the reason in err. */
int pg_pool_start(struct pg_pool *p, int size, char *err, size_t errlen);
/* Fails what is queued or in flight (STORE_UNAVAILABLE), closes every
 * connection; the loop frees the handles on its next turn. */
void pg_pool_close(struct pg_pool *p);
/* Whether some connection is up: never blocks. */
bool pg_pool_up(const struct pg_pool *p);
/* host:port/db, for the log. */
const char *pg_pool_where(const struct pg_pool *p);
/* An idle connection for a blocking start-up query, or NULL. */
PGconn *pg_pool_idle(struct pg_pool *p);
/* Copies the parameters (and frees params->heap) and queues the query; with
 * no connection up it fails at once, before returning. */
void pg_pool_submit(struct pg_pool *p, struct pg_params *params, const char *sql, const char *what,
                    pg_deliver_fn deliver, union pg_cb cb, void *ctx);

#endif
