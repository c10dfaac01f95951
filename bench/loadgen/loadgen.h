/* The load generator's shared state: the run (options, counters, phase) and
 * its client connections. client.c speaks TCP, the WebSocket handshake and
 * frames, and Engine.IO/Socket.IO framing; loadgen.c drives the workloads. */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hist.h"
#include "ws/ws_codec.h"

#define PEER_ID_MAX 40      /* longest peer id kept (Socket.IO ids are 20) */
#define MSG_MAX (16u << 20) /* largest server message assembled */
#define HS_MAX 4096         /* largest handshake response accepted */
#define MAX_RATES 8         /* fan-out phases in one run */
#define MAX_SERVERS 8       /* instances of one server (--port P1,P2,...) */

enum mode { MODE_FANOUT, MODE_PINGPONG, MODE_IDLE };
enum proto { PROTO_NATIVE, PROTO_SOCKETIO, PROTO_CHAT };

enum cstate {
  C_NEW,        /* not started */
  C_CONNECTING, /* TCP connect in progress */
  C_HANDSHAKE,  /* upgrade request sent, waiting for the 101 */
  C_OPEN,       /* WebSocket open, waiting for welcome */
  C_READY,      /* welcome received: a member of its room */
  C_CLOSING,    /* close frame sent or received, waiting for EOF */
  C_CLOSED,     /* handle closed */
};

struct handshake; /* client.c: the expected accept key and the response so far */

struct client {
  uv_tcp_t tcp;
  struct run *run;
  uint32_t id;
  uint32_t room;
  uint8_t state;
  uint8_t close_sent;
  uint8_t counted_ready;
  uint8_t peer_id_len, partner_len;
  uint8_t ctl_len;
  uint32_t pending_writes;
  uint64_t t_start; /* uv_hrtime() when the connect began */
  ws_parser parser;
  struct handshake *hs; /* only while handshaking */
  uint8_t *msg;         /* a message split across reads, else NULL */
  uint32_t msg_len, msg_cap;
  uint8_t ctl[WS_CONTROL_MAX + 3];
  char peer_id[PEER_ID_MAX];
  char partner[PEER_ID_MAX];
};

struct options {
  enum mode mode;
  enum proto proto;
  char host[64];
  int port;               /* the first of ports */
  int ports[MAX_SERVERS]; /* client i connects to ports[i % nports] */
  int nports;
  uint32_t connections;    /* fanout: subscribers; pingpong: rooms x 2; idle: all */
  uint32_t room_size;      /* idle: peers per room */
  double rates[MAX_RATES]; /* fanout: messages/s per phase; 0 = full speed */
  int nrates;
  uint32_t window;              /* fanout full speed: messages in flight */
  uint32_t depth;               /* pingpong: pings in flight per room */
  uint32_t payload;             /* padding bytes added to each signal's data */
  double duration;              /* seconds measured per phase */
  double warmup;                /* seconds run before each measured phase */
  double connect_rate;          /* new connections per second */
  uint32_t connect_concurrency; /* handshakes in flight */
  double connect_timeout;       /* seconds to open them all */
  double hold;                  /* idle: seconds held before the RSS reading */
  double max_time;              /* hard cap on the whole run, seconds */
  int server_pid;               /* the first of server_pids */
  int server_pids[MAX_SERVERS]; /* readings (RSS, fds, CPU) add these up */
  int npids;
  int src_first, src_last; /* last octet range of 127.0.0.x source addresses */
  char room_prefix[32];
  char label[64];
};

struct errors {
  uint64_t connect, handshake, closed, protocol, server_error, write, timeout, lost;
};

enum phase {
  PH_CONNECT,
  PH_SETTLE,
  PH_HOLD,
  PH_WARMUP,
  PH_MEASURE,
  PH_DRAIN,
  PH_CLOSE,
  PH_RELEASE,
  PH_DONE,
};

struct phase_result {
  double rate;
  uint64_t sent, delivered, expected;
  uint64_t window_count; /* deliveries or round trips inside the measured window */
  double seconds;
  double cpu_seconds;        /* the load generator's own CPU time in the window */
  double server_cpu_seconds; /* the server's (all its threads) in the window */
  hist lat;
};

struct run {
  struct options o;
  uv_loop_t *loop;
  struct client *clients;
  uint32_t nclients;
  struct sockaddr_in dest[MAX_SERVERS]; /* one per port */

  /* connect */
  uint32_t started, inflight, ready, closed, failed;
  uint64_t t_connect_start, t_connect_end;
  hist connect_lat;

  /* traffic */
  uint64_t msgs_in, bytes_in, msgs_out;
  uint64_t last_msgs_in;
  uint64_t quiet_since;
  enum phase phase;
  bool sending;   /* the publisher / initiators may send */
  bool measuring; /* latencies and counts go into the current result */
  int rate_index;
  uint64_t t_phase;      /* when the current phase began */
  uint64_t t_phase_send; /* when the publisher began this rate phase */
  uint64_t phase_sent;   /* fan-out messages sent in this rate phase (warmup included) */
  uint64_t phase_delivered;
  struct phase_result results[MAX_RATES];
  int nresults;
  uint32_t subscribers; /* fan-out: ready subscribers when the phases began */

  /* server readings */
  long rss_base_kb, rss_loaded_kb, rss_closed_kb;
  long fds_base, fds_loaded, fds_closed;
  double release_seconds;

  struct errors err;
  bool incomplete; /* not all connections were open by --connect-timeout */
  bool aborted;
  const char *abort_reason;
  uint64_t t_begin;
  uv_timer_t tick, deadline;
};

/* client.c */
void client_init_all(struct run *r);
int client_start(struct client *c);
int client_send_text(struct client *c, const char *text, size_t len);
void client_close_ws(struct client *c);
void client_abort(struct client *c);
const char *client_room_name(const struct run *r, uint32_t room, char *out, size_t cap);

/* loadgen.c: what the protocol layer hands to the workloads. */
void on_client_ready(struct client *c);
void on_client_closed(struct client *c);
void on_peer_joined(struct client *c, const char *peer_id, size_t len);
void on_signal(struct client *c, const char *msg, size_t len);
/* A chat.message (chat rooms: --proto chat) whose text carries the time. */
void on_chat_message(struct client *c, const char *msg, size_t len);

#endif
