/* tandem: rooms that devices and people join with a code, a link or a QR
 * code. `tandem serve` runs the server. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/app.h"
#include "api/socketio.h"
#include "api/privydrop.h"
#include "config.h"
#include "hub/hub.h"
#include "net/addr_table.h"
#include "net/server.h"
#include "util/log.h"
#include "util/rand.h"

#define EXIT_USAGE 2

static void usage(FILE *out, const char *prog) {
  fprintf(out,
          "Usage: %s serve [flags]   run the server (%s serve --help for the flags)\n"
          "       %s routes          list the HTTP routes, one \"METHOD /pattern\" a line\n",
          prog, prog, prog);
}

/* The route table as the router sees it, so docs/openapi.json can be
 * checked against it (tests/e2e/openapi.test.mjs). HEAD, which every GET
 * route answers, is not listed on its own. */
static int print_routes(void) {
  static const struct {
    unsigned bit;
    const char *name;
  } methods[] = {{METHOD_GET, "GET"},     {METHOD_POST, "POST"},     {METHOD_PUT, "PUT"},
                 {METHOD_PATCH, "PATCH"}, {METHOD_DELETE, "DELETE"}, {METHOD_OPTIONS, "OPTIONS"},
                 {METHOD_HEAD, "HEAD"}};
  for (size_t i = 0; i < app_route_count; i++)
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
      unsigned bit = methods[m].bit;
      bool implied_head = bit == METHOD_HEAD && (app_routes[i].methods & METHOD_GET);
      if ((app_routes[i].methods & bit) && !implied_head)
        printf("%s %s\n", methods[m].name, app_routes[i].pattern);
    }
  return fflush(stdout) == 0 ? 0 : 1;
}

/* Creates the data directory (and its parents) and proves it writable. */
static int prepare_data_dir(const char *dir, char *err, size_t errlen) {
  char path[4096];
  if (strlen(dir) >= sizeof path - 32) {
    snprintf(err, errlen, "--data-dir: path too long");
    return -1;
  }
  strcpy(path, dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0750) < 0 && errno != EEXIST) {
      snprintf(err, errlen, "--data-dir %s: cannot create %s: %s", dir, path, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(path, 0750) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "--data-dir %s: cannot create it: %s", dir, strerror(errno));
    return -1;
  }
  struct stat st;
  if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "--data-dir %s: not a directory", dir);
    return -1;
  }
  snprintf(path, sizeof path, "%s/.tandem-write-test", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "--data-dir %s: not writable: %s", dir, strerror(errno));
    return -1;
  }
  close(fd);
  unlink(path);
  return 0;
}

/* Each connection is a descriptor: take every one the system allows. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
      log_msg(LOG_WARN, "server.fd_limit", "cannot raise the descriptor limit: %s",
              strerror(errno));
  }
}

static void on_signal(uv_signal_t *s, int signum) {
  struct server *srv = s->data;
  log_msg(LOG_INFO, "server.signal", "received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  server_shutdown(srv);
}

static uv_signal_t sigterm_handle, sigint_handle;

/* A network engine's handles close on the loop: one more turn frees them. */
static void close_store(struct store *store, uv_loop_t *loop) {
  store_close(store);
  uv_run(loop, UV_RUN_NOWAIT);
}

static void on_stopped(struct server *srv) {
  server_close(srv);
  app_stop(srv->app);
  uv_close((uv_handle_t *)&sigterm_handle, NULL);
  uv_close((uv_handle_t *)&sigint_handle, NULL);
}

static int serve(int argc, char **argv, const char *prog) {
  static struct config cfg;
  char err[512];
  int rc = config_load(&cfg, argc, argv, err, sizeof err);
  if (rc == 1) {
    config_usage(prog);
    return 0;
  }
  if (rc < 0) {
    fprintf(stderr, "tandem: %s\n", err);
    return EXIT_USAGE;
  }
  log_setup((enum log_level)cfg.log_level, (enum log_format)cfg.log_format);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  if (rand_init() < 0) {
    fprintf(stderr, "tandem: cannot initialise the random number generator\n");
    return 1;
  }
  if (prepare_data_dir(cfg.data_dir, err, sizeof err) < 0) {
    fprintf(stderr, "tandem: %s\n", err);
    return EXIT_USAGE;
  }
  static struct app app;
  uv_loop_t *loop = uv_default_loop();
  app.store = store_open(loop, cfg.data_dir, cfg.database, (int)cfg.database_pool, err, sizeof err);
  if (!app.store) {
    fprintf(stderr, "tandem: storage: %s\n", err);
    return EXIT_USAGE;
  }
  app.http = (struct http_app){app_routes, app_route_count, &cfg, &app};
  http_set_app(&app.http);

  if (app_init(&app, loop, &cfg, app.store, err, sizeof err) < 0) {
    fprintf(stderr, "tandem: %s\n", err);
    close_store(app.store, loop);
    return EXIT_USAGE;
  }
  static struct server srv;
  int exit_code = 0;
  if (server_init(&srv, loop, &cfg, &http_proto, http_conn_init) < 0) {
    fprintf(stderr, "tandem: cannot start the event loop\n");
    close_store(app.store, loop);
    return 1;
  }
  srv.on_stopped = on_stopped;
  srv.app = &app;
  uv_signal_init(loop, &sigterm_handle);
  uv_signal_init(loop, &sigint_handle);
  sigterm_handle.data = sigint_handle.data = &srv;
  uv_signal_start(&sigterm_handle, on_signal, SIGTERM);
  uv_signal_start(&sigint_handle, on_signal, SIGINT);
  if (server_listen(&srv, err, sizeof err) < 0) {
    fprintf(stderr, "tandem: %s\n", err);
    exit_code = EXIT_USAGE;
    srv.shutting_down = true;
    on_stopped(&srv);
  } else {
    log_msg(LOG_INFO, "server.ready", "tandem is serving; data in %s", cfg.data_dir);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  hub_free();
  socketio_free();
  privydrop_free();
  addr_table_free();
  app_free(&app);
  close_store(app.store, loop);
  uv_loop_close(loop);
  if (exit_code == 0)
    log_msg(LOG_INFO, "server.stopped", "goodbye");
  return exit_code;
}

int main(int argc, char **argv) {
  const char *prog = "tandem";
  if (argc < 2) {
    usage(stderr, prog);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "serve") == 0)
    return serve(argc - 2, argv + 2, prog);
  if (strcmp(argv[1], "routes") == 0)
    return print_routes();
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout, prog);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("tandem 0.1.0\n");
    return 0;
  }
  fprintf(stderr, "tandem: unknown command '%s'\n", argv[1]);
  usage(stderr, prog);
  return EXIT_USAGE;
}
