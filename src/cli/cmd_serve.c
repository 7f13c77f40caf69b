/* cmd_serve.c - `tandem serve`: loads a model repository, opens the results store, starts the inference workers and
 * the HTTP front end, then waits for SIGTERM/SIGINT and drains: stop accepting, finish every request received, exit
 * 0. The signals are blocked in every thread and taken synchronously here with sigwait, so no handler runs in the
 * middle of a request. */
#include "cli.h"
#include "../server/server.h"
#include "../server/store.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct serve_opts {
    const char *models, *host, *db, *web, *samples;
    int64_t port, threads, workers, io_threads, max_conns, max_body_mb, max_header_kb, max_elems, timeout_s,
        drain_s, max_buffered_mb, max_queue;
} serve_opts;

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

int cmd_serve(int argc, char **argv) {
    serve_opts o = {NULL, NULL, NULL, NULL, NULL, 8000, 1, 0, 2, 512, 32, 64, (int64_t)16 << 20, 30, 30, 512, 1024};
    cli_args a;
    const char *opt, *pos;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        const char *v;
        if (!opt) return cli_usage_error("serve: unexpected argument '%s'", pos);
        if (!strcmp(opt, "models") || !strcmp(opt, "host") || !strcmp(opt, "db") || !strcmp(opt, "web") ||
            !strcmp(opt, "samples")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            *(!strcmp(opt, "models")  ? &o.models
              : !strcmp(opt, "host")  ? &o.host
              : !strcmp(opt, "db")    ? &o.db
              : !strcmp(opt, "web")   ? &o.web
                                      : &o.samples) = v;
            continue;
        }
        static const struct { const char *name; size_t off; int64_t lo, hi; } nums[] = {
            {"port", offsetof(serve_opts, port), 0, 65535},
            {"threads", offsetof(serve_opts, threads), 1, 256},
            {"workers", offsetof(serve_opts, workers), 1, 256},
            {"io-threads", offsetof(serve_opts, io_threads), 1, 64},
            {"max-connections", offsetof(serve_opts, max_conns), 1, 100000},
            {"max-body-mb", offsetof(serve_opts, max_body_mb), 1, 4096},
            {"max-header-kb", offsetof(serve_opts, max_header_kb), 8, 1024},
            {"max-elements", offsetof(serve_opts, max_elems), 1, (int64_t)1 << 32},
            {"timeout", offsetof(serve_opts, timeout_s), 1, 3600},
            {"drain-timeout", offsetof(serve_opts, drain_s), 0, 3600},
            {"max-buffered-mb", offsetof(serve_opts, max_buffered_mb), 1, 1 << 20},
            {"max-queue", offsetof(serve_opts, max_queue), 1, 1 << 20},
        };
        size_t k = 0;
        while (k < sizeof nums / sizeof nums[0] && strcmp(opt, nums[k].name) != 0) k++;
        if (k == sizeof nums / sizeof nums[0]) return cli_usage_error("serve: unknown option '--%s'", opt);
        if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
        if (!cli_parse_int(opt, v, nums[k].lo, nums[k].hi, (int64_t *)((char *)&o + nums[k].off))) return CLI_USAGE;
    }
    if (!o.models) return cli_usage_error("serve: --models DIR is required");
    char *web = NULL;
    if (o.web) {
        struct stat sb;
        if (stat(o.web, &sb) != 0 || !S_ISDIR(sb.st_mode)) return cli_error("--web '%s' is not a folder", o.web);
        web = strdup(o.web);
    } else {
        web = serve_default_web();
    }
    if (o.samples) {
        struct stat sb;
        if (stat(o.samples, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            free(web);
            return cli_error("--samples '%s' is not a folder", o.samples);
        }
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (!o.workers) o.workers = cores / o.threads > 0 ? cores / o.threads : 1;
    if (o.workers * o.threads > cores)
        fprintf(stderr, "tandem serve: warning: %lld workers x %lld threads oversubscribe the %ld cores\n",
                (long long)o.workers, (long long)o.threads, cores);

    /* every thread started from here on inherits this mask; only sigwait below takes the signals */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = CLI_ERR;
    srv_repo repo;
    memset(&repo, 0, sizeof repo);
    tdm_store *store = NULL;
    int batcher = 0;
    char err[512];
    if (srv_repo_load(o.models, o.max_elems, &repo) != 0) goto out;
    if (srv_metrics_init(&repo) != 0) {
        cli_error("out of memory");
        goto out;
    }
    if (store_open(o.db, &store, err, sizeof err) != 0) {
        cli_error("cannot open the results store%s%s: %s", o.db ? " " : "", o.db ? o.db : "", err);
        store = NULL;
        goto out;
    }
    srv_batcher_opts bo = {(int)o.workers, (int)o.threads, (int)o.max_queue};
    if (srv_batcher_start(&repo, &bo, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto out;
    }
    batcher = 1;
    srv_http_opts ho = {o.host,
                        (int)o.port,
                        (int)o.io_threads,
                        (unsigned)o.max_conns,
                        (size_t)o.max_body_mb << 20,
                        (size_t)o.max_buffered_mb << 20,
                        (size_t)o.max_header_kb << 10,
                        (unsigned)o.timeout_s,
                        web,
                        o.samples};
    int port = 0;
    if (srv_http_start(&repo, store, &ho, &port, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto out;
    }
    fprintf(stderr,
            "tandem serve: listening on http://%s:%d/ (%d models, %lld workers x %lld engine threads, %lld I/O "
            "threads, web %s, store %s)\n",
            o.host ? o.host : "0.0.0.0", port, repo.count, (long long)o.workers, (long long)o.threads,
            (long long)o.io_threads, web ? web : "none", o.db ? o.db : "default SQLite");
    fflush(stderr);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    fprintf(stderr, "tandem serve: %s: draining %lld requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            (long long)srv_metrics_inflight_now());
    srv_http_quiesce();
    int64_t left = srv_http_drain((double)o.drain_s);
    srv_batcher_stop(); /* answers whatever is still queued */
    batcher = 0;
    if (left) left = srv_http_drain(5.0);
    srv_http_stop();
    fprintf(stderr, "tandem serve: stopped%s\n", left ? " (some requests were still in flight)" : "");
    rc = CLI_OK;
out:
    if (batcher) {
        srv_http_stop();
        srv_batcher_stop();
    }
    if (store) store_close(store);
    srv_metrics_free(&repo);
    srv_repo_free(&repo);
    free(web);
    return rc;
}
