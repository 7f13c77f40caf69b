/* cmd_worker.c - `tandem worker --server URL`: the swarm's worker loop run natively, so a server's own cores or any
 * machine join a job the way a browser tab does (web/swarm-worker.mjs): join, lease chunks, compute them with the
 * engine (src/server/swarm_run.c, the same code the server's checks use), submit, repeat until no job is left (or
 * forever with --wait). A server that goes away (restarting after a crash) is waited for, with backoff, for up to
 * --patience seconds; a submission is resent until it is answered, and the server's answer to a repeat is the same.
 * While a lease computes, a helper thread already fetches the next one, so the round trip overlaps the computing.
 * Prints one JSON summary at the end. */
#include "cli.h"
#include "../common/json.h"
#include "../server/swarm_run.h"
#include "../server/swarm_wire.h"
#include "../study/study_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

typedef struct worker_opts {
    const char *server, *log;
    int64_t threads, max_leases, patience_s;
    int wait, quiet;
} worker_opts;

#define T worker_opts
static const opt_spec worker_options[] = {
    OPT_STR(T, server, "server", "URL", "the tandem server (http://HOST:PORT)"),
    OPT_INT(T, threads, "threads", 1, 256, "N", "engine threads (default 1)"),
    OPT_FLAG(T, wait, "wait", "when no job is left, wait for the next one instead of exiting"),
    OPT_INT(T, patience_s, "patience", 0, 1000000000, "S",
            "keep retrying a server that cannot be reached for S seconds (default 60)"),
    OPT_INT(T, max_leases, "max-leases", 0, 1000000000, "N", "stop after N leases"),
    OPT_STR(T, log, "log", "FILE", "append one line per computed chunk: job, chunk, first item, items, outcome"),
    OPT_FLAG(T, quiet, "quiet", "print only the final JSON summary"),
    OPT_END,
};
#undef T

typedef struct worker_state {
    worker_opts o;
    char base[512];             /* the server URL without a trailing slash */
    char client[64], label[64];
    char model_name[256];
    tdm_model *model;
    tdm_session *session;
    FILE *log;
    int64_t leases, chunks, items, accepted, late, refused_chunks;
    double compute_s, t0;
} worker_state;

static void worker_sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void worker_say(const worker_state *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void worker_say(const worker_state *w, const char *fmt, ...) {
    if (w->o.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tandem worker: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One request, retried while the server cannot be reached (or answers 429/502/503/504) for up to --patience
 * seconds. Returns 0 with *r (any other status), or -1 when the server stayed away. */
static int worker_request(worker_state *w, const char *path, const char *method, const char *ctype, const char *body,
                          size_t len, study_http_response *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", w->base, path);
    double give_up = clock_now_ms() + (double)w->o.patience_s * 1000;
    int64_t pause = 100;
    for (;;) {
        int rc = study_http(url, method, ctype, body, len, 120000, r);
        if (rc == 0 && r->status != 429 && r->status != 502 && r->status != 503 && r->status != 504) return 0;
        int64_t wait = rc == 0 && r->status == 429 ? 1000 : pause;
        if (rc == 0) study_http_free(r);
        if (clock_now_ms() + (double)wait > give_up) return -1;
        worker_sleep_ms(wait);
        pause = pause * 2 > 2000 ? 2000 : pause * 2;
    }
}

static const char *worker_error_text(const study_http_response *r) {
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    static _Thread_local char msg[512];
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    snprintf(msg, sizeof msg, "HTTP %d%s%s", r->status, cJSON_IsString(e) ? ": " : "",
             cJSON_IsString(e) ? e->valuestring : "");
    cJSON_Delete(j);
    return msg;
}

static int worker_join(worker_state *w) {
    study_http_response r;
    static const char body[] = "{\"kind\":\"native\"}";
    if (worker_request(w, "/v2/swarm/join", "POST", "application/json", body, sizeof body - 1, &r))
        return cli_error("cannot reach %s to join (waited %lld s)", w->base, (long long)w->o.patience_s);
    cJSON *j = r.status == 201 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "client"), *l = cJSON_GetObjectItemCaseSensitive(j, "worker");
    int ok = cJSON_IsString(c) && cJSON_IsString(l) && strlen(c->valuestring) < sizeof w->client;
    if (ok) {
        snprintf(w->client, sizeof w->client, "%s", c->valuestring);
        snprintf(w->label, sizeof w->label, "%s", l->valuestring);
    }
    int rc = ok ? CLI_OK : cli_error("joining %s: %s", w->base, worker_error_text(&r));
    cJSON_Delete(j);
    study_http_free(&r);
    if (ok) worker_say(w, "joined %s as %s", w->base, w->label);
    return rc;
}

/* Load the lease's model unless it is the one already loaded. */
static int worker_model(worker_state *w, const swarm_lease_msg *m) {
    if (w->session && !strcmp(w->model_name, m->model)) return CLI_OK;
    tdm_session_free(w->session);
    tdm_model_free(w->model);
    w->session = NULL;
    w->model = NULL;
    study_http_response r;
    if (m->model_url[0] != '/') return cli_error("the lease's model_url '%.100s' is not a path", m->model_url);
    if (worker_request(w, m->model_url, "GET", NULL, NULL, 0, &r)) return cli_error("cannot fetch %s", m->model_url);
    if (r.status != 200) {
        int rc = cli_error("fetching %s: %s", m->model_url, worker_error_text(&r));
        study_http_free(&r);
        return rc;
    }
    tdm_status st = tdm_model_load_memory(r.body, r.len, NULL, &w->model);
    study_http_free(&r);
    if (st != TDM_OK) return cli_engine_error(st, "loading the job's model");
    tdm_session_options so = {(int)w->o.threads, 0};
    st = tdm_session_create(w->model, &so, &w->session);
    if (st != TDM_OK) return cli_engine_error(st, "creating a session");
    snprintf(w->model_name, sizeof w->model_name, "%s", m->model);
    worker_say(w, "loaded %s", m->model);
    return CLI_OK;
}

/* Compute a lease and submit it. Returns CLI_OK, or CLI_ERR when the worker must stop. */
static int worker_run_lease(worker_state *w, const swarm_lease_msg *m) {
    swarm_desc d;
    char err[512];
    if (worker_model(w, m) != CLI_OK) return CLI_ERR;
    if (swarm_desc_parse(m->format, m->item_shape, m->outputs, m->prep, m->batch_any, &d, err, sizeof err) ||
        d.item_bytes != m->item_bytes)
        return cli_error("lease %s: %s", m->lease, d.item_bytes != m->item_bytes ? "item sizes disagree" : err);
    int64_t items = 0;
    for (int i = 0; i < m->nchunks; i++) items += m->chunks[i].items;
    size_t out_bytes = (size_t)(items * d.out_item) * sizeof(float);
    float *out = malloc(out_bytes ? out_bytes : 1);
    char *head = NULL, *body = NULL;
    size_t head_len = 0;
    FILE *f = open_memstream(&head, &head_len);
    if (!out || !f) {
        free(out);
        if (f) fclose(f);
        free(head);
        return cli_error("out of memory");
    }
    json_writer jw;
    json_init(&jw, f);
    json_object_begin(&jw);
    json_kv_string(&jw, "client", w->client);
    json_kv_string(&jw, "lease", m->lease);
    json_key(&jw, "chunks");
    json_array_begin(&jw);
    double t0 = clock_now_ms();
    size_t off = 0;
    for (int i = 0; i < m->nchunks; i++) {
        const swarm_wire_chunk *c = &m->chunks[i];
        json_object_begin(&jw);
        json_kv_int(&jw, "index", c->index);
        if (swarm_run_chunk(w->session, &d, c->data, c->items, out + off / sizeof(float), err, sizeof err)) {
            json_kv_string(&jw, "error", err); /* the server counts it; a chunk failing on several workers fails */
        } else {
            json_kv_int(&jw, "items", c->items);
            json_kv_int(&jw, "bytes", c->items * d.out_item * 4);
            off += (size_t)(c->items * d.out_item) * sizeof(float);
        }
        json_object_end(&jw);
    }
    double compute_ms = clock_now_ms() - t0;
    json_array_end(&jw);
    json_kv_double(&jw, "compute_ms", compute_ms, 6);
    json_object_end(&jw);
    fputc('\n', f);
    int closed = fclose(f);
    if (!closed) body = malloc(head_len + off);
    if (closed || !body) {
        free(out);
        free(head);
        return cli_error("out of memory");
    }
    memcpy(body, head, head_len);
    memcpy(body + head_len, out, off);
    free(head);
    free(out);
    w->compute_s += compute_ms / 1000;
    study_http_response r;
    int rc = worker_request(w, "/v2/swarm/submit", "POST", "application/octet-stream", body, head_len + off, &r);
    free(body);
    if (rc) return cli_error("cannot reach %s to submit lease %s", w->base, m->lease);
    w->leases++;
    cJSON *j = r.status == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
    int result = CLI_OK;
    if (r.status == 403) {
        result = cli_error("the server refused this worker: %s", worker_error_text(&r));
    } else if (!j) {
        /* 409: the lease was cancelled or never ours; the work is lost but the server's state is sound */
        worker_say(w, "lease %s: submission not stored: %s", m->lease, worker_error_text(&r));
    } else {
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(j, "accepted");
        const cJSON *late = cJSON_GetObjectItemCaseSensitive(j, "late");
        for (int i = 0; i < m->nchunks; i++) {
            const swarm_wire_chunk *c = &m->chunks[i];
            const char *outcome = "error";
            for (const cJSON *e = acc ? acc->child : NULL; e; e = e->next)
                if ((int64_t)e->valuedouble == c->index) outcome = "accepted";
            for (const cJSON *e = late ? late->child : NULL; e; e = e->next)
                if ((int64_t)e->valuedouble == c->index) outcome = "late";
            w->chunks++;
            w->items += c->items;
            w->accepted += !strcmp(outcome, "accepted");
            w->late += !strcmp(outcome, "late");
            if (w->log)
                fprintf(w->log, "%s %lld %lld %lld %s\n", m->job, (long long)c->index, (long long)c->first,
                        (long long)c->items, outcome);
        }
        if (w->log) fflush(w->log);
    }
    cJSON_Delete(j);
    study_http_free(&r);
    return result;
}

/* A lease request, run on a helper thread while the current lease computes. */
typedef struct worker_fetch {
    worker_state *w;
    char body[128];
    size_t len;
    study_http_response r;
    int rc, running;
    pthread_t thread;
} worker_fetch;

static void *worker_fetch_main(void *arg) {
    worker_fetch *f = arg;
    f->rc = worker_request(f->w, "/v2/swarm/lease", "POST", "application/json", f->body, f->len, &f->r);
    return NULL;
}

/* Start asking for a lease (on a thread when one can be made, else right here). */
static void worker_fetch_start(worker_state *w, worker_fetch *f) {
    memset(f, 0, sizeof *f);
    f->w = w;
    f->len = (size_t)snprintf(f->body, sizeof f->body, "{\"client\":\"%s\"}", w->client);
    f->running = pthread_create(&f->thread, NULL, worker_fetch_main, f) == 0;
    if (!f->running) worker_fetch_main(f);
}

/* Its answer: 0 with f->r (the caller frees f->r.body), or -1 when the server stayed away. */
static int worker_fetch_wait(worker_fetch *f) {
    if (f->running) pthread_join(f->thread, NULL);
    f->running = 0;
    return f->rc;
}

static int worker_loop(worker_state *w) {
    if (worker_join(w) != CLI_OK) return CLI_ERR;
    worker_fetch fetches[2], *cur = &fetches[0], *next = &fetches[1]; /* the thread writes into its own struct */
    worker_fetch_start(w, cur);
    for (;;) {
        if (worker_fetch_wait(cur))
            return cli_error("cannot reach %s for a lease (waited %lld s)", w->base, (long long)w->o.patience_s);
        study_http_response r = cur->r;
        if (r.status == 404) { /* the server forgot this client (a new store): join again */
            study_http_free(&r);
            if (worker_join(w) != CLI_OK) return CLI_ERR;
            worker_fetch_start(w, cur);
            continue;
        }
        if (r.status != 200) {
            int rc = cli_error("asking for a lease: %s", worker_error_text(&r));
            study_http_free(&r);
            return rc;
        }
        swarm_lease_msg m;
        char err[512];
        if (swarm_parse_lease((const unsigned char *)r.body, r.len, &m, err, sizeof err)) {
            swarm_lease_msg_free(&m);
            study_http_free(&r);
            return cli_error("the server's lease is malformed: %s", err);
        }
        int rc = CLI_OK, more = 1;
        if (m.no_work) {
            if (m.active_jobs == 0 && !w->o.wait) {
                worker_say(w, "no job left");
                more = 0;
            } else {
                worker_sleep_ms(m.retry_ms > 0 ? m.retry_ms : 1000);
                worker_fetch_start(w, cur);
            }
        } else {
            int last = w->o.max_leases && w->leases + 1 >= w->o.max_leases;
            if (!last) worker_fetch_start(w, next); /* the next lease comes while this one computes */
            rc = worker_run_lease(w, &m);
            if (last) more = 0;
            else if (rc != CLI_OK) {
                if (!worker_fetch_wait(next)) study_http_free(&next->r); /* its chunks expire and go to others */
            } else {
                worker_fetch *t = cur;
                cur = next;
                next = t;
            }
        }
        swarm_lease_msg_free(&m);
        study_http_free(&r);
        if (rc != CLI_OK || !more) return rc;
    }
}

static int cmd_worker(const cli_command *self, int argc, char **argv) {
    worker_state w;
    memset(&w, 0, sizeof w);
    w.o.threads = 1;
    w.o.patience_s = 60;
    if (cli_parse(self, argc, argv, &w.o) != CLI_OK) return CLI_USAGE;
    if (!w.o.server) return cli_usage_error("worker: --server URL is required");
    char host[256], port[16];
    const char *path;
    if (study_http_parse_url(w.o.server, host, sizeof host, port, sizeof port, &path))
        return cli_usage_error("worker: --server must be http://HOST[:PORT], not '%s'", w.o.server);
    snprintf(w.base, sizeof w.base, "%s", w.o.server);
    size_t bl = strlen(w.base);
    while (bl > 7 && w.base[bl - 1] == '/') w.base[--bl] = 0;
    if (w.o.log && !(w.log = fopen(w.o.log, "a"))) return cli_error("cannot open --log '%s': %s", w.o.log, strerror(errno));
    w.t0 = clock_now_ms();
    int rc = worker_loop(&w);
    double wall = (clock_now_ms() - w.t0) / 1000;
    json_writer jw;
    json_init(&jw, stdout);
    json_object_begin(&jw);
    json_kv_string(&jw, "worker", w.label);
    json_kv_string(&jw, "client", w.client);
    json_kv_int(&jw, "leases", w.leases);
    json_kv_int(&jw, "chunks", w.chunks);
    json_kv_int(&jw, "items", w.items);
    json_kv_int(&jw, "accepted_chunks", w.accepted);
    json_kv_int(&jw, "late_chunks", w.late);
    json_kv_double(&jw, "compute_s", w.compute_s, 6);
    json_kv_double(&jw, "wall_s", wall, 6);
    json_kv_double(&jw, "items_per_s", wall > 0 ? (double)w.items / wall : 0, 6);
    json_kv_double(&jw, "compute_items_per_s", w.compute_s > 0 ? (double)w.items / w.compute_s : 0, 6);
    json_object_end(&jw);
    json_finish(&jw);
    if (w.log) fclose(w.log);
    tdm_session_free(w.session);
    tdm_model_free(w.model);
    return rc;
}

const cli_command cli_cmd_worker = {
    "worker", cmd_worker, worker_options,
    "worker --server URL [--threads N] [--wait] [--patience S] [--max-leases N] [--log FILE]",
    "contribute this machine to a tandem server's swarm jobs: lease chunks, compute them natively, submit"};
