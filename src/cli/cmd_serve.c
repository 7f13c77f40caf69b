/* cmd_serve.c - `tandem serve`: loads a model repository, opens the results store, starts the inference workers and
 * the HTTP front end, then waits for SIGTERM/SIGINT and drains: stop accepting, finish every request received, exit
 * 0. The signals are blocked in every thread and taken synchronously here with sigwait, so no handler runs in the
 * middle of a request. */
#include "cli.h"
#include "../server/server.h"
#include "../server/store.h"
#include "../server/swarm.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct serve_opts {
    const char *models, *host, *db, *web, *samples, *admin_token;
    int64_t port, threads, workers, io_threads, max_conns, max_body_mb, max_header_kb, max_elems, timeout_s,
        drain_s, max_buffered_mb, max_queue, lease_timeout_s, client_rate, max_lease_items;
} serve_opts;

#define T serve_opts
static const opt_spec serve_options[] = {
    OPT_STR(T, models, "models", "DIR", "model repository: DIR/<name>/model.onnx [+ config.json]"),
    OPT_INT(T, port, "port", 0, 65535, "P", "TCP port (default 8000; 0 picks a free one, printed at start)"),
    OPT_STR(T, host, "host", "H", "address to listen on (default: every interface)"),
    OPT_INT(T, threads, "threads", 1, 256, "N", "engine threads per inference worker (default 1)"),
    OPT_INT(T, workers, "workers", 1, 256, "W", "inference workers (default: cores / threads)"),
    OPT_INT(T, io_threads, "io-threads", 1, 64, "N", "HTTP I/O threads (default 2)"),
    OPT_STR(T, db, "db", "URL", "results store: sqlite:PATH, PATH.db or postgresql://... (default tandem-results.db)"),
    OPT_STR(T, web, "web", "DIR", "static files at / (default: web/ beside the binary)"),
    OPT_STR(T, samples, "samples", "DIR", "PNG/JPEG images listed at /api/samples (cat_3.png is labelled cat)"),
    OPT_INT(T, max_body_mb, "max-body-mb", 1, 4096, "M", "request body limit (default 32)"),
    OPT_INT(T, max_header_kb, "max-header-kb", 8, 1024, "K", "request line + headers limit (default 64)"),
    OPT_INT(T, max_elems, "max-elements", 1, (int64_t)1 << 32, "N", "elements per input tensor (default 16777216)"),
    OPT_INT(T, max_conns, "max-connections", 1, 100000, "N", "open connections (default 512)"),
    OPT_INT(T, max_buffered_mb, "max-buffered-mb", 1, 1 << 20, "M",
            "request bodies held at once, over all connections (default 512; 503 beyond)"),
    OPT_INT(T, max_queue, "max-queue", 1, 1 << 20, "N", "queued requests per model (default 1024; 503 beyond)"),
    OPT_INT(T, timeout_s, "timeout", 1, 3600, "S", "idle connection timeout in seconds (default 30)"),
    OPT_INT(T, drain_s, "drain-timeout", 0, 3600, "S",
            "on SIGTERM, wait at most S seconds for requests in flight (default 30)"),
    OPT_STR(T, admin_token, "admin-token", "T",
            "enables the swarm's job endpoints (/v2/jobs), which need 'Authorization: Bearer T' (default: "
            "$TANDEM_ADMIN_TOKEN; without either they answer 403)"),
    OPT_INT(T, lease_timeout_s, "lease-timeout", 1, 86400, "S", "a swarm lease's deadline is at least S seconds away (default 10)"),
    OPT_INT(T, client_rate, "client-rate", 0, 100000, "R",
            "swarm lease/submit requests per second per worker, bursts of 4 s (default 20, 0: no limit)"),
    OPT_INT(T, max_lease_items, "max-lease-items", 1, 10000000, "N", "items per swarm lease at most (default 100000)"),
    OPT_END,
};
#undef T

/* build/web beside the binary (build/tandem), when it exists. */
static char *serve_default_web(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = 0;
    size_t len = strlen(exe) + 8;
    char *dir = malloc(len);
    if (!dir) return NULL;
    snprintf(dir, len, "%s/web", exe);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* The folders exist; *web_out is the static folder (malloc'd) or NULL; workers default to cores / threads. */
static int serve_check(serve_opts *o, char **web_out) {
    struct stat sb;
    *web_out = NULL;
    if (!o->models) return cli_usage_error("serve: --models DIR is required");
    if (!o->admin_token) o->admin_token = getenv("TANDEM_ADMIN_TOKEN");
    if (o->web && (stat(o->web, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return cli_error("--web '%s' is not a folder", o->web);
    if (o->samples && (stat(o->samples, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return cli_error("--samples '%s' is not a folder", o->samples);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (!o->workers) o->workers = cores / o->threads > 0 ? cores / o->threads : 1;
    if (o->workers * o->threads > cores)
        fprintf(stderr, "tandem serve: warning: %lld workers x %lld threads oversubscribe the %ld cores\n",
                (long long)o->workers, (long long)o->threads, cores);
    *web_out = o->web ? strdup(o->web) : serve_default_web();
    return CLI_OK;
}

/* What serve_start started, for serve_stop. */
typedef struct serve_state {
    srv_repo repo;
    tdm_store *store;
    int batcher, http, port, swarm;
} serve_state;

/* Models, metrics, the store, the inference workers, then the HTTP front end. */
static int serve_start(const serve_opts *o, const char *web, serve_state *sv) {
    char err[512];
    if (srv_repo_load(o->models, o->max_elems, &sv->repo) != 0) return CLI_ERR;
    if (srv_metrics_init(&sv->repo) != 0) return cli_error("out of memory");
    if (store_open(o->db, &sv->store, err, sizeof err) != 0) {
        sv->store = NULL;
        return cli_error("cannot open the results store%s%s: %s", o->db ? " " : "", o->db ? o->db : "", err);
    }
    swarm_opts so = {o->admin_token, o->db, (double)o->lease_timeout_s, 2.0, (double)o->client_rate,
                     o->max_lease_items, 1};
    if (swarm_start(&sv->repo, &so, err, sizeof err) != 0) return cli_error("%s", err);
    sv->swarm = 1;
    srv_batcher_opts bo = {(int)o->workers, (int)o->threads, (int)o->max_queue};
    if (srv_batcher_start(&sv->repo, &bo, err, sizeof err) != 0) return cli_error("%s", err);
    sv->batcher = 1;
    srv_http_opts ho = {o->host, (int)o->port, (int)o->io_threads, (unsigned)o->max_conns,
                        (size_t)o->max_body_mb << 20, (size_t)o->max_buffered_mb << 20,
                        (size_t)o->max_header_kb << 10, (unsigned)o->timeout_s, web, o->samples};
    if (srv_http_start(&sv->repo, sv->store, &ho, &sv->port, err, sizeof err) != 0) return cli_error("%s", err);
    sv->http = 1;
    return CLI_OK;
}

/* Wait for SIGTERM or SIGINT, then drain: stop accepting, finish what is in flight (at most drain_s seconds). */
static void serve_wait_and_drain(const serve_opts *o, sigset_t *sigs, serve_state *sv) {
    int sig = 0;
    while (sigwait(sigs, &sig) != 0) {
    }
    fprintf(stderr, "tandem serve: %s: draining %lld requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            (long long)srv_metrics_inflight_now());
    srv_http_quiesce();
    int64_t left = srv_http_drain((double)o->drain_s);
    srv_batcher_stop(); /* answers whatever is still queued */
    sv->batcher = 0;
    if (left) left = srv_http_drain(5.0);
    srv_http_stop();
    sv->http = 0;
    fprintf(stderr, "tandem serve: stopped%s\n", left ? " (some requests were still in flight)" : "");
}

static void serve_stop(serve_state *sv) {
    if (sv->http || sv->batcher) {
        srv_http_stop();
        srv_batcher_stop();
    }
    if (sv->swarm) swarm_stop();
    if (sv->store) store_close(sv->store);
    srv_metrics_free(&sv->repo);
    srv_repo_free(&sv->repo);
}

static int cmd_serve(const cli_command *self, int argc, char **argv) {
    serve_opts o = {.port = 8000, .threads = 1, .io_threads = 2, .max_conns = 512, .max_body_mb = 32,
                    .max_header_kb = 64, .max_elems = (int64_t)16 << 20, .timeout_s = 30, .drain_s = 30,
                    .max_buffered_mb = 512, .max_queue = 1024, .lease_timeout_s = 10, .client_rate = 20,
                    .max_lease_items = 100000};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    char *web = NULL;
    int rc = serve_check(&o, &web);
    if (rc != CLI_OK) return rc;
    /* every thread started from here on inherits this mask; only sigwait takes the signals */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    serve_state sv;
    memset(&sv, 0, sizeof sv);
    rc = serve_start(&o, web, &sv);
    if (rc == CLI_OK) {
        fprintf(stderr,
                "tandem serve: listening on http://%s:%d/ (%d models, %lld workers x %lld engine threads, %lld I/O "
                "threads, web %s, store %s, jobs %s)\n",
                o.host ? o.host : "0.0.0.0", sv.port, sv.repo.count, (long long)o.workers, (long long)o.threads,
                (long long)o.io_threads, web ? web : "none", o.db ? o.db : "default SQLite",
                o.admin_token && *o.admin_token ? "on" : "off (no --admin-token)");
        fflush(stderr);
        serve_wait_and_drain(&o, &sigs, &sv);
    }
    serve_stop(&sv);
    free(web);
    return rc;
}

const cli_command cli_cmd_serve = {
    "serve", cmd_serve, serve_options,
    "serve --models DIR [--port P] [--host H] [--threads N] [--workers W] [--db URL] [--web DIR]",
    "KServe v2 inference server with dynamic batching, /metrics, the client page and the results store"};
