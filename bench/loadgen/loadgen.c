/* tandem's load generator: opens WebSocket connections at a bounded rate,
 * runs one workload, and prints what it measured as one JSON object.
 *
 *   fanout    1 room: 1 publisher + N subscribers; one phase per --rates
 *             entry (messages/s, 0 = full speed with --window in flight);
 *             deliveries/s and publish-to-delivery latency.
 *   pingpong  N/2 rooms of 2 peers: the first sends a signal `to` the
 *             second, which sends it back; round trips/s and RTT.
 *   idle      N connections in rooms of --room-size; the server's RSS per
 *             connection, then all close and its fds and RSS come back.
 *
 * Every phase is bounded in time and the whole run by --max-time. Only
 * loopback addresses are accepted. Timestamps are uv_hrtime() nanoseconds
 * carried in the signal's data, read back by the same process. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loadgen.h"
#include "scan.h"

#define NS 1000000000.0
#define QUIET_NS 300000000ull /* no message for this long: settled */
#define SETTLE_MAX_S 90.0
#define DRAIN_MAX_S 15.0
#define CLOSE_MAX_S 20.0
#define RELEASE_MAX_S 20.0
#define RELEASE_AFTER_S 1.5 /* wait after the fds came back, then read RSS */
#define BURST_MAX 20000     /* fixed-rate messages sent in one tick at most */
#define MAX_CONNECTIONS 1000000u

static struct run R;
static char padding[65536];

/* ---- the server process ------------------------------------------------- */

static long read_rss_kb_of(int pid) {
  if (pid <= 0)
    return -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

static long count_fds_of(int pid) {
  if (pid <= 0)
    return -1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* The server's CPU time (user + system, all threads) in seconds, from
 * /proc/PID/stat; 0 when it cannot be read. */
static double server_cpu_of(int pid) {
  if (pid <= 0)
    return 0;
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  /* Fields after the command name (which may hold spaces) in parentheses:
   * state is field 3, utime 14 and stime 15. */
  const char *p = strrchr(text, ')');
  if (!p)
    return 0;
  unsigned long long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return 0;
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? (double)(utime + stime) / (double)hz : 0;
}

/* The readings of every instance (--server-pid P1,P2,...) added up; -1
 * when none could be read. */
static long sum_over_servers(const struct options *o, long (*read_one)(int pid)) {
  long sum = -1;
  for (int i = 0; i < o->npids; i++) {
    long v = read_one(o->server_pids[i]);
    if (v >= 0)
      sum = (sum < 0 ? 0 : sum) + v;
  }
  return sum;
}

static long read_rss_kb(const struct options *o) {
  return sum_over_servers(o, read_rss_kb_of);
}

static long count_fds(const struct options *o) {
  return sum_over_servers(o, count_fds_of);
}

static double server_cpu(const struct options *o) {
  double sum = 0;
  for (int i = 0; i < o->npids; i++)
    sum += server_cpu_of(o->server_pids[i]);
  return sum;
}

/* "A,B,C": up to MAX_SERVERS numbers in 1..max. */
static int parse_int_list(const char *v, int *out, int *n, uint32_t max) {
  *n = 0;
  while (*v) {
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || x == 0 || x > max || *n == MAX_SERVERS || (*end && *end != ','))
      return -1;
    out[(*n)++] = (int)x;
    v = *end ? end + 1 : end;
  }
  return *n ? 0 : -1;
}

/* ---- phases ------------------------------------------------------------- */

static double secs(uint64_t from, uint64_t to) {
  return (double)(to - from) / NS;
}

/* This process's CPU time (user + system) in seconds. */
static double cpu_now(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) < 0)
    return 0;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void enter(struct run *r, enum phase ph) {
  r->phase = ph;
  r->t_phase = uv_hrtime();
  r->quiet_since = r->t_phase;
  r->last_msgs_in = r->msgs_in;
}

static void finish(struct run *r) {
  enter(r, PH_DONE);
  uv_timer_stop(&r->tick);
  uv_timer_stop(&r->deadline);
  uv_close((uv_handle_t *)&r->tick, NULL);
  uv_close((uv_handle_t *)&r->deadline, NULL);
}

static void abort_all(struct run *r) {
  for (uint32_t i = 0; i < r->nclients; i++)
    client_abort(&r->clients[i]);
}

/* Idle connections leave with the close handshake, as a browser tab would:
 * that is what the release figures measure. After fan-out and ping-pong the
 * sockets are simply closed: a close handshake in a 10,000-member room
 * makes the server announce every departure to everyone left (N^2 peer.left
 * messages), which is not what those workloads measure. */
static void close_all(struct run *r) {
  r->sending = false;
  r->measuring = false;
  enter(r, PH_CLOSE);
  if (r->o.mode != MODE_IDLE) {
    abort_all(r);
    return;
  }
  for (uint32_t i = 0; i < r->nclients; i++)
    client_close_ws(&r->clients[i]);
}

static bool is_fanout_publisher(const struct client *c) {
  return c->id == 0;
}

/* Builds one signal message; returns its length or 0. */
static size_t build_signal(struct run *r, char *out, size_t cap, const char *to, uint64_t t,
                           uint64_t seq) {
  const bool sio = r->o.proto == PROTO_SOCKETIO;
  if (r->o.proto == PROTO_CHAT) { /* the time rides in the text, which the server echoes */
    int n = snprintf(out, cap, "{\"type\":\"chat\",\"text\":\"t:%llu s:%llu\"}",
                     (unsigned long long)t, (unsigned long long)seq);
    return (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
  }
  char to_field[PEER_ID_MAX + 16] = "";
  if (to)
    snprintf(to_field, sizeof to_field, "\"to\":\"%s\",", to);
  int n = snprintf(out, cap, "%s{\"type\":\"signal\",%s\"data\":{\"t\":%llu,\"s\":%llu%s%.*s%s}}%s",
                   sio ? "42[\"signal\"," : "", to_field, (unsigned long long)t,
                   (unsigned long long)seq, r->o.payload ? ",\"p\":\"" : "", (int)r->o.payload,
                   padding, r->o.payload ? "\"" : "", sio ? "]" : "");
  return (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
}

static void send_signal(struct client *c, const char *to, uint64_t t, uint64_t seq) {
  static char out[sizeof padding + 256];
  size_t n = build_signal(c->run, out, sizeof out, to, t, seq);
  if (n)
    client_send_text(c, out, n);
}

/* Fan-out, full speed: keep --window messages in flight, a message being in
 * flight until as many deliveries as there are subscribers came back. */
static void publisher_pump(struct run *r) {
  struct client *pub = &r->clients[0];
  if (!r->sending || pub->state != C_READY || !r->subscribers)
    return;
  double rate = r->o.rates[r->rate_index];
  uint64_t now = uv_hrtime();
  if (rate > 0) {
    uint64_t due = (uint64_t)(rate * secs(r->t_phase_send, now)) + 1;
    for (int burst = 0; r->phase_sent < due && burst < BURST_MAX; burst++)
      send_signal(pub, NULL, uv_hrtime(), r->phase_sent++);
    return;
  }
  while (r->phase_sent - r->phase_delivered / r->subscribers < r->o.window)
    send_signal(pub, NULL, uv_hrtime(), r->phase_sent++);
}

static void pingpong_start(struct run *r) {
  uint64_t now = uv_hrtime();
  for (uint32_t i = 0; i + 1 < r->nclients; i += 2) {
    struct client *a = &r->clients[i];
    if (a->state != C_READY)
      continue;
    if (!a->partner_len) {
      r->err.protocol++;
      continue;
    }
    for (uint32_t d = 0; d < r->o.depth; d++)
      send_signal(a, a->partner, now, d);
  }
}

static void start_rate_phase(struct run *r) {
  struct phase_result *res = &r->results[r->nresults];
  memset(res, 0, sizeof *res);
  hist_reset(&res->lat);
  res->rate = r->o.mode == MODE_FANOUT ? r->o.rates[r->rate_index] : 0;
  r->phase_sent = 0;
  r->phase_delivered = 0;
  r->sending = true;
  r->measuring = false;
  enter(r, PH_WARMUP);
  r->t_phase_send = r->t_phase;
  if (r->o.mode == MODE_PINGPONG)
    pingpong_start(r);
  else
    publisher_pump(r);
}

static void after_settle(struct run *r) {
  r->rss_loaded_kb = read_rss_kb(&r->o);
  r->fds_loaded = count_fds(&r->o);
  if (r->o.mode == MODE_IDLE) {
    enter(r, PH_HOLD);
    return;
  }
  if (r->o.mode == MODE_FANOUT) {
    r->subscribers = 0;
    for (uint32_t i = 1; i < r->nclients; i++)
      if (r->clients[i].state == C_READY)
        r->subscribers++;
  }
  r->rate_index = 0;
  r->nresults = 0;
  start_rate_phase(r);
}

static void end_rate_phase(struct run *r) {
  struct phase_result *res = &r->results[r->nresults++];
  res->sent = r->phase_sent;
  res->delivered = r->phase_delivered;
  if (r->o.mode == MODE_FANOUT) {
    res->expected = r->phase_sent * r->subscribers;
    if (res->delivered < res->expected)
      r->err.lost += res->expected - res->delivered;
  }
  r->rate_index++;
  if (r->o.mode == MODE_FANOUT && r->rate_index < r->o.nrates)
    start_rate_phase(r);
  else
    close_all(r);
}

static void open_more(struct run *r, uint64_t now) {
  double elapsed = secs(r->t_connect_start, now);
  uint64_t due = (uint64_t)(r->o.connect_rate * elapsed) + 1;
  while (r->started < r->nclients && r->started < due && r->inflight < r->o.connect_concurrency) {
    struct client *c = &r->clients[r->started++];
    r->inflight++;
    client_start(c);
  }
}

static void tick(uv_timer_t *t) {
  struct run *r = t->data;
  uint64_t now = uv_hrtime();
  if (r->msgs_in != r->last_msgs_in) {
    r->last_msgs_in = r->msgs_in;
    r->quiet_since = now;
  }
  bool quiet = now - r->quiet_since >= QUIET_NS;
  double in_phase = secs(r->t_phase, now);
  switch (r->phase) {
  case PH_CONNECT:
    open_more(r, now);
    if (r->ready + r->failed >= r->nclients) {
      enter(r, PH_SETTLE);
    } else if (in_phase > r->o.connect_timeout) {
      /* Not everyone got in: what follows would measure a partial room. */
      r->err.timeout += r->nclients - r->ready - r->failed;
      r->incomplete = true;
      close_all(r);
    }
    break;
  case PH_SETTLE:
    if (quiet || in_phase > SETTLE_MAX_S) {
      if (!quiet)
        r->err.timeout++;
      after_settle(r);
    }
    break;
  case PH_HOLD:
    if (in_phase >= r->o.hold) {
      r->rss_loaded_kb = read_rss_kb(&r->o);
      r->fds_loaded = count_fds(&r->o);
      close_all(r);
    }
    break;
  case PH_WARMUP:
    publisher_pump(r);
    if (in_phase >= r->o.warmup) {
      enter(r, PH_MEASURE);
      r->measuring = true;
      r->results[r->nresults].cpu_seconds = -cpu_now();
      r->results[r->nresults].server_cpu_seconds = -server_cpu(&r->o);
    }
    break;
  case PH_MEASURE:
    publisher_pump(r);
    if (in_phase >= r->o.duration) {
      r->results[r->nresults].seconds = in_phase;
      r->results[r->nresults].cpu_seconds += cpu_now();
      r->results[r->nresults].server_cpu_seconds += server_cpu(&r->o);
      r->measuring = false;
      r->sending = false;
      enter(r, PH_DRAIN);
    }
    break;
  case PH_DRAIN:
    if (quiet || in_phase > DRAIN_MAX_S)
      end_rate_phase(r);
    break;
  case PH_CLOSE:
    if (r->closed >= r->started) {
      if (r->o.mode == MODE_IDLE && r->o.server_pid > 0) {
        enter(r, PH_RELEASE);
        r->release_seconds = -1;
      } else {
        finish(r);
      }
    } else if (in_phase > CLOSE_MAX_S) {
      r->err.timeout++;
      abort_all(r);
    }
    break;
  case PH_RELEASE: {
    /* Poll the server's fds every 100 ms until they are back to where they
     * were before the first connection, then give it a moment to trim. */
    static uint64_t last_poll;
    if (now - last_poll < 100000000ull)
      break;
    last_poll = now;
    if (r->release_seconds < 0) {
      long fds = count_fds(&r->o);
      if (fds >= 0 && fds <= r->fds_base) {
        r->release_seconds = in_phase;
        r->fds_closed = fds;
      } else if (in_phase > RELEASE_MAX_S) {
        r->err.timeout++;
        r->release_seconds = in_phase;
        r->fds_closed = fds;
      }
    } else if (in_phase >= r->release_seconds + RELEASE_AFTER_S) {
      r->rss_closed_kb = read_rss_kb(&r->o);
      finish(r);
    }
    break;
  }
  case PH_DONE: break;
  }
}

static void on_deadline(uv_timer_t *t) {
  struct run *r = t->data;
  r->aborted = true;
  r->abort_reason = "max-time";
  abort_all(r);
  finish(r);
}

/* ---- what the protocol layer reports ------------------------------------ */

void on_client_ready(struct client *c) {
  struct run *r = c->run;
  uint64_t now = uv_hrtime();
  r->inflight--;
  r->ready++;
  hist_record(&r->connect_lat, now - c->t_start);
  r->t_connect_end = now;
}

void on_client_closed(struct client *c) {
  struct run *r = c->run;
  if (!c->counted_ready) {
    r->inflight--;
    r->failed++;
    c->counted_ready = 1; /* counted once, as failed */
  }
}

void on_peer_joined(struct client *c, const char *peer_id, size_t len) {
  if (c->run->o.mode != MODE_PINGPONG || c->partner_len || len >= PEER_ID_MAX)
    return;
  memcpy(c->partner, peer_id, len);
  c->partner[len] = '\0';
  c->partner_len = (uint8_t)len;
}

/* A fan-out message sent at t reached a subscriber. */
static void fanout_delivered(struct client *c, uint64_t t) {
  struct run *r = c->run;
  struct phase_result *res = &r->results[r->nresults];
  uint64_t now = uv_hrtime();
  if (is_fanout_publisher(c))
    return;
  r->phase_delivered++;
  if (r->measuring) {
    hist_record(&res->lat, now > t ? now - t : 0);
    res->window_count++;
  }
  publisher_pump(r);
}

void on_chat_message(struct client *c, const char *msg, size_t len) {
  long at = scan_find(msg, len, "\"text\":\"t:", 10);
  char *end;
  unsigned long long t = at >= 0 ? strtoull(msg + at + 10, &end, 10) : 0;
  if (at < 0 || end >= msg + len || *end != ' ' || c->run->o.mode != MODE_FANOUT) {
    c->run->err.protocol++;
    return;
  }
  fanout_delivered(c, t);
}

void on_signal(struct client *c, const char *msg, size_t len) {
  struct run *r = c->run;
  uint64_t t;
  long data = scan_find(msg, len, "\"data\":", 7);
  if (data < 0 || scan_u64(msg + data, len - (size_t)data, "t", &t) < 0) {
    r->err.protocol++;
    return;
  }
  uint64_t now = uv_hrtime();
  struct phase_result *res = &r->results[r->nresults];
  if (r->o.mode == MODE_FANOUT) {
    fanout_delivered(c, t);
    return;
  }
  if (r->o.mode != MODE_PINGPONG)
    return;
  if (!c->partner_len) {
    r->err.protocol++;
    return;
  }
  if (c->id % 2 == 1) { /* the responder sends it straight back */
    send_signal(c, c->partner, t, 0);
    return;
  }
  r->phase_delivered++;
  if (r->measuring) {
    hist_record(&res->lat, now > t ? now - t : 0);
    res->window_count++;
  }
  if (r->sending) {
    r->phase_sent++;
    send_signal(c, c->partner, now, r->phase_sent);
  }
}

/* ---- options and report ------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: loadgen --mode fanout|pingpong|idle --port PORT[,PORT...] [options]\n"
          "  (several ports: instances of one server sharing rooms; client i connects\n"
          "   to port i mod n, the fan-out publisher to the first)\n"
          "  --host ADDR            server address, loopback only (127.0.0.1)\n"
          "  --proto native|socketio|chat  /ws/<room> JSON, Socket.IO v5 at /socket.io/, or\n"
          "                         a chat room (fanout; --room-prefix is the room's id)\n"
          "  --connections N        fanout: subscribers; pingpong: peers (2 per room);\n"
          "                         idle: connections (default 1000)\n"
          "  --room-size K          idle: peers per room (default 20)\n"
          "  --rates R1,R2,...      fanout: messages/s per phase, 0 = full speed (default 100,0)\n"
          "  --window W             fanout full speed: messages in flight (default 8)\n"
          "  --depth D              pingpong: pings in flight per room (default 1)\n"
          "  --payload BYTES        padding in each signal's data (default 0, max 65536)\n"
          "  --duration S           seconds measured per phase (default 5)\n"
          "  --warmup S             seconds before each measured phase (default 1)\n"
          "  --connect-rate C       new connections per second (default 5000)\n"
          "  --connect-concurrency K  handshakes in flight (default 256)\n"
          "  --connect-timeout S    to open them all (default 120)\n"
          "  --hold S               idle: seconds held before the RSS reading (default 2)\n"
          "  --max-time S           hard cap on the whole run (default 600)\n"
          "  --server-pid PID[,PID] read the server's RSS, fds and CPU from /proc (summed over\n"
          "                         the instances given)\n"
          "  --src-first A --src-last B  source addresses 127.0.0.A..B (default 2..254)\n"
          "  --room-prefix S        room names S-<n> (default bench)\n"
          "  --label S              copied into the report\n"
          "The report is one JSON object on stdout. Exit status: 0 done, 1 bad usage,\n"
          "3 stopped by --max-time, 4 not all connections opened within --connect-timeout.\n");
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < 0)
    return -1;
  *out = v;
  return 0;
}

static int parse_u32(const char *s, uint32_t *out, uint32_t max) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v > max)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

static int parse_rates(const char *s, struct options *o) {
  char tmp[256];
  if (strlen(s) >= sizeof tmp)
    return -1;
  strcpy(tmp, s);
  o->nrates = 0;
  char *save = NULL;
  for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (o->nrates == MAX_RATES || parse_double(tok, &o->rates[o->nrates]) < 0)
      return -1;
    o->nrates++;
  }
  return o->nrates ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->mode = MODE_FANOUT;
  o->proto = PROTO_NATIVE;
  strcpy(o->host, "127.0.0.1");
  o->connections = 1000;
  o->room_size = 20;
  o->rates[0] = 100;
  o->rates[1] = 0;
  o->nrates = 2;
  o->window = 8;
  o->depth = 1;
  o->duration = 5;
  o->warmup = 1;
  o->connect_rate = 5000;
  o->connect_concurrency = 256;
  o->connect_timeout = 120;
  o->hold = 2;
  o->max_time = 600;
  o->src_first = 2;
  o->src_last = 254;
  strcpy(o->room_prefix, "bench");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "loadgen: %s needs a value\n", a);
      return -1;
    }
    const char *v = argv[++i];
    uint32_t u;
    int bad = 0;
    if (strcmp(a, "--mode") == 0) {
      if (strcmp(v, "fanout") == 0)
        o->mode = MODE_FANOUT;
      else if (strcmp(v, "pingpong") == 0)
        o->mode = MODE_PINGPONG;
      else if (strcmp(v, "idle") == 0)
        o->mode = MODE_IDLE;
      else
        bad = 1;
    } else if (strcmp(a, "--proto") == 0) {
      if (strcmp(v, "native") == 0)
        o->proto = PROTO_NATIVE;
      else if (strcmp(v, "socketio") == 0)
        o->proto = PROTO_SOCKETIO;
      else if (strcmp(v, "chat") == 0)
        o->proto = PROTO_CHAT;
      else
        bad = 1;
    } else if (strcmp(a, "--host") == 0) {
      bad = strlen(v) >= sizeof o->host;
      if (!bad)
        strcpy(o->host, v);
    } else if (strcmp(a, "--port") == 0) {
      bad = parse_int_list(v, o->ports, &o->nports, 65535) < 0;
      o->port = o->ports[0];
    } else if (strcmp(a, "--connections") == 0) {
      bad = parse_u32(v, &o->connections, MAX_CONNECTIONS) < 0 || o->connections == 0;
    } else if (strcmp(a, "--room-size") == 0) {
      bad = parse_u32(v, &o->room_size, MAX_CONNECTIONS) < 0 || o->room_size == 0;
    } else if (strcmp(a, "--rates") == 0) {
      bad = parse_rates(v, o) < 0;
    } else if (strcmp(a, "--window") == 0) {
      bad = parse_u32(v, &o->window, 1u << 20) < 0 || o->window == 0;
    } else if (strcmp(a, "--depth") == 0) {
      bad = parse_u32(v, &o->depth, 1024) < 0 || o->depth == 0;
    } else if (strcmp(a, "--payload") == 0) {
      bad = parse_u32(v, &o->payload, sizeof padding) < 0;
    } else if (strcmp(a, "--duration") == 0) {
      bad = parse_double(v, &o->duration) < 0 || o->duration <= 0 || o->duration > 3600;
    } else if (strcmp(a, "--warmup") == 0) {
      bad = parse_double(v, &o->warmup) < 0 || o->warmup > 3600;
    } else if (strcmp(a, "--connect-rate") == 0) {
      bad = parse_double(v, &o->connect_rate) < 0 || o->connect_rate < 1;
    } else if (strcmp(a, "--connect-concurrency") == 0) {
      bad = parse_u32(v, &o->connect_concurrency, 65536) < 0 || o->connect_concurrency == 0;
    } else if (strcmp(a, "--connect-timeout") == 0) {
      bad = parse_double(v, &o->connect_timeout) < 0 || o->connect_timeout > 3600;
    } else if (strcmp(a, "--hold") == 0) {
      bad = parse_double(v, &o->hold) < 0 || o->hold > 3600;
    } else if (strcmp(a, "--max-time") == 0) {
      bad = parse_double(v, &o->max_time) < 0 || o->max_time < 1 || o->max_time > 7200;
    } else if (strcmp(a, "--server-pid") == 0) {
      bad = parse_int_list(v, o->server_pids, &o->npids, 1 << 30) < 0;
      o->server_pid = o->server_pids[0];
    } else if (strcmp(a, "--src-first") == 0) {
      bad = parse_u32(v, &u, 254) < 0 || u < 1;
      o->src_first = (int)u;
    } else if (strcmp(a, "--src-last") == 0) {
      bad = parse_u32(v, &u, 254) < 0 || u < 1;
      o->src_last = (int)u;
    } else if (strcmp(a, "--room-prefix") == 0) {
      bad = strlen(v) >= 24 || strlen(v) == 0;
      for (const char *p = v; !bad && *p; p++)
        bad = !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_');
      if (!bad)
        strcpy(o->room_prefix, v);
    } else if (strcmp(a, "--label") == 0) {
      bad = strlen(v) >= sizeof o->label || strpbrk(v, "\"\\") != NULL;
      if (!bad)
        strcpy(o->label, v);
    } else {
      fprintf(stderr, "loadgen: unknown option %s\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "loadgen: bad value for %s: %s\n", a, v);
      return -1;
    }
  }
  if (!o->port) {
    fprintf(stderr, "loadgen: --port is required\n");
    return -1;
  }
  if (o->src_first > o->src_last) {
    fprintf(stderr, "loadgen: --src-first is above --src-last\n");
    return -1;
  }
  if (o->mode == MODE_PINGPONG && o->connections % 2) {
    fprintf(stderr, "loadgen: pingpong needs an even --connections (2 per room)\n");
    return -1;
  }
  return 0;
}

static void print_hist_us(FILE *f, const char *name, const hist *h, double div) {
  fprintf(f,
          "\"%s\":{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
          "\"max\":%.1f,\"mean\":%.1f}",
          name, (unsigned long long)h->count, (double)hist_percentile(h, 50) / div,
          (double)hist_percentile(h, 90) / div, (double)hist_percentile(h, 99) / div,
          (double)hist_percentile(h, 99.9) / div, (double)hist_percentile(h, 100) / div,
          h->count ? h->sum / (double)h->count / div : 0.0);
}

static const char *mode_name(enum mode m) {
  return m == MODE_FANOUT ? "fanout" : m == MODE_PINGPONG ? "pingpong" : "idle";
}

static void report(struct run *r) {
  FILE *f = stdout;
  uint64_t now = uv_hrtime();
  double connect_s = r->ready ? secs(r->t_connect_start, r->t_connect_end) : 0;
  fprintf(f, "{\"mode\":\"%s\",\"proto\":\"%s\",\"label\":\"%s\",", mode_name(r->o.mode),
          r->o.proto == PROTO_SOCKETIO ? "socketio"
          : r->o.proto == PROTO_CHAT   ? "chat"
                                       : "native",
          r->o.label);
  fprintf(f, "\"connections\":%u,\"connected\":%u,\"failed\":%u,", r->nclients, r->ready,
          r->failed);
  fprintf(f, "\"connect\":{\"seconds\":%.3f,\"per_s\":%.1f,", connect_s,
          connect_s > 0 ? r->ready / connect_s : 0.0);
  print_hist_us(f, "latency_ms", &r->connect_lat, 1e6);
  fprintf(f, "},\"phases\":[");
  for (int i = 0; i < r->nresults; i++) {
    const struct phase_result *p = &r->results[i];
    double per_s = p->seconds > 0 ? (double)p->window_count / p->seconds : 0;
    fprintf(f,
            "%s{\"rate\":%.1f,\"seconds\":%.3f,\"loadgen_cpu_pct\":%.1f,"
            "\"server_cpu_pct\":%.1f,\"sent\":%llu,\"delivered\":%llu,",
            i ? "," : "", p->rate, p->seconds,
            p->seconds > 0 ? p->cpu_seconds / p->seconds * 100 : 0.0,
            p->seconds > 0 ? p->server_cpu_seconds / p->seconds * 100 : 0.0,
            (unsigned long long)p->sent, (unsigned long long)p->delivered);
    if (r->o.mode == MODE_FANOUT)
      fprintf(f, "\"expected\":%llu,\"subscribers\":%u,\"msgs_per_s\":%.1f,",
              (unsigned long long)p->expected, r->subscribers, per_s);
    else
      fprintf(f, "\"roundtrips_per_s\":%.1f,", per_s);
    print_hist_us(f, "latency_us", &p->lat, 1e3);
    fprintf(f, "}");
  }
  long per_conn = -1;
  if (r->rss_loaded_kb >= 0 && r->rss_base_kb >= 0 && r->ready)
    per_conn = (long)((double)(r->rss_loaded_kb - r->rss_base_kb) * 1024.0 / r->ready);
  fprintf(f,
          "],\"server\":{\"pid\":%d,\"rss_base_kb\":%ld,\"rss_loaded_kb\":%ld,"
          "\"rss_per_conn_bytes\":%ld,\"fds_base\":%ld,\"fds_loaded\":%ld,"
          "\"rss_closed_kb\":%ld,\"fds_closed\":%ld,\"release_seconds\":%.2f},",
          r->o.server_pid, r->rss_base_kb, r->rss_loaded_kb, per_conn, r->fds_base, r->fds_loaded,
          r->rss_closed_kb, r->fds_closed, r->release_seconds);
  const struct errors *e = &r->err;
  fprintf(f,
          "\"errors\":{\"connect\":%llu,\"handshake\":%llu,\"closed\":%llu,\"protocol\":%llu,"
          "\"server_error\":%llu,\"write\":%llu,\"timeout\":%llu,\"lost\":%llu},",
          (unsigned long long)e->connect, (unsigned long long)e->handshake,
          (unsigned long long)e->closed, (unsigned long long)e->protocol,
          (unsigned long long)e->server_error, (unsigned long long)e->write,
          (unsigned long long)e->timeout, (unsigned long long)e->lost);
  fprintf(f, "\"msgs_in\":%llu,\"msgs_out\":%llu,\"bytes_in\":%llu,",
          (unsigned long long)r->msgs_in, (unsigned long long)r->msgs_out,
          (unsigned long long)r->bytes_in);
  fprintf(f, "\"incomplete\":%s,\"aborted\":%s,\"elapsed_s\":%.3f}\n",
          r->incomplete ? "true" : "false", r->aborted ? "true" : "false", secs(r->t_begin, now));
  fflush(f);
}

int main(int argc, char **argv) {
  struct run *r = &R;
  if (parse_args(argc, argv, &r->o) < 0) {
    usage(stderr);
    return 1;
  }
  for (int i = 0; i < r->o.nports; i++) {
    if (uv_ip4_addr(r->o.host, r->o.ports[i], &r->dest[i]) < 0 ||
        (ntohl(r->dest[i].sin_addr.s_addr) >> 24) != 127) {
      fprintf(stderr, "loadgen: --host must be an IPv4 loopback address (127.x.x.x)\n");
      return 1;
    }
  }
  memset(padding, 'x', sizeof padding);
  switch (r->o.mode) {
  case MODE_FANOUT:
    r->nclients = r->o.connections + 1; /* + the publisher */
    break;
  case MODE_PINGPONG:
  case MODE_IDLE: r->nclients = r->o.connections; break;
  }
  r->clients = calloc(r->nclients, sizeof *r->clients);
  if (!r->clients) {
    fprintf(stderr, "loadgen: out of memory for %u connections\n", r->nclients);
    return 1;
  }
  r->loop = uv_default_loop();
  client_init_all(r);
  for (uint32_t i = 0; i < r->nclients; i++) {
    struct client *c = &r->clients[i];
    c->room = r->o.mode == MODE_FANOUT     ? 0
              : r->o.mode == MODE_PINGPONG ? i / 2
                                           : i / r->o.room_size;
  }
  hist_reset(&r->connect_lat);
  r->rss_base_kb = read_rss_kb(&r->o);
  r->fds_base = count_fds(&r->o);
  r->rss_loaded_kb = r->rss_closed_kb = -1;
  r->fds_loaded = r->fds_closed = -1;
  r->release_seconds = -1;
  r->t_begin = uv_hrtime();
  r->t_connect_start = r->t_begin;
  enter(r, PH_CONNECT);

  if (uv_timer_init(r->loop, &r->tick) < 0 || uv_timer_init(r->loop, &r->deadline) < 0) {
    fprintf(stderr, "loadgen: timers\n");
    return 1;
  }
  r->tick.data = r;
  r->deadline.data = r;
  if (uv_timer_start(&r->tick, tick, 1, 1) < 0 ||
      uv_timer_start(&r->deadline, on_deadline, (uint64_t)(r->o.max_time * 1000), 0) < 0) {
    fprintf(stderr, "loadgen: timers\n");
    return 1;
  }
  int rc = uv_run(r->loop, UV_RUN_DEFAULT);
  if (rc != 0)
    fprintf(stderr, "loadgen: loop ended with active handles\n");
  report(r);
  if (uv_loop_close(r->loop) != 0)
    fprintf(stderr, "loadgen: loop not closed cleanly\n");
  free(r->clients);
  return r->aborted ? 3 : r->incomplete ? 4 : 0;
}
