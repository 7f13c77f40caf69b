/* swarm.c - the swarm coordinator's HTTP side (swarm.h): the admin's job endpoints (create a job from CIFAR records or
 * a TensorProto batch, read its progress, read its results as CSV or one TensorProto) and the workers' endpoints
 * (join, lease, submit), with the checks that keep bad input out of the store: the admin's Bearer token, the body's
 * layout against the model, size limits per route, a token bucket per client and per joining address. The durable
 * state is swarm_store.c's; the native checks are swarm_verify.c's. docs/SWARM.md documents the endpoints. */
#include "swarm.h"
#include "swarm_run.h"
#include "swarm_store.h"
#include "swarm_wire.h"
#include "../common/json.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#define SW_SMALL_BODY 4096                  /* join and lease requests */
#define SW_SUBMIT_BODY ((size_t)64 << 20)   /* a submission: a lease's outputs */
#define SW_LEASE_BYTES ((size_t)16 << 20)   /* input bytes per lease at most */
#define SW_MAX_ITEMS 10000000               /* items per job */
#define SW_MAX_CHUNK 65536
#define SW_RETRY_MS 500                     /* a worker without work asks again after this */

enum {
    SW_R_CREATE = 1, SW_R_JOBS, SW_R_JOB, SW_R_RESULTS, SW_R_JOIN, SW_R_LEASE, SW_R_SUBMIT, SW_R_CLIENTS,
};

static struct {
    srv_repo *repo;
    swarm_store *store;
    swarm_opts o;
    char *token;
    int started;
    atomic_llong jobs, joins, leases, chunks_leased, no_work, submits, accepted, late, errors, limited, refused;
} SW;

int64_t swarm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- rate limits: a token bucket per key (a client id, or "join " + an address) --------------------------------- */

#define RL_SLOTS 4096
#define RL_PROBE 8

typedef struct rl_slot {
    char key[48];
    double tokens, last;
} rl_slot;

static rl_slot rl_table[RL_SLOTS];
static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;

static double sw_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Take one token for key from a bucket of `burst` refilled at `rate` per second: 1 if allowed. A full table (many
 * idle keys hashed together) lets the request through rather than refusing a stranger's neighbour. */
static int rl_take(const char *key, double rate, double burst) {
    if (rate <= 0) return 1;
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    double now = sw_mono_s();
    int allowed = 1;
    pthread_mutex_lock(&rl_mu);
    rl_slot *slot = NULL;
    for (int k = 0; k < RL_PROBE && !slot; k++) {
        rl_slot *s = &rl_table[(h + (uint32_t)k) % RL_SLOTS];
        if (!strncmp(s->key, key, sizeof s->key - 1)) slot = s;
    }
    for (int k = 0; k < RL_PROBE && !slot; k++) {
        rl_slot *s = &rl_table[(h + (uint32_t)k) % RL_SLOTS];
        if (!s->key[0] || now - s->last > burst / rate + 60) { /* empty, or full again and idle: reuse */
            snprintf(s->key, sizeof s->key, "%s", key);
            s->tokens = burst;
            s->last = now;
            slot = s;
        }
    }
    if (slot) {
        slot->tokens += (now - slot->last) * rate;
        if (slot->tokens > burst) slot->tokens = burst;
        slot->last = now;
        if (slot->tokens >= 1) slot->tokens -= 1;
        else allowed = 0;
    }
    pthread_mutex_unlock(&rl_mu);
    return allowed;
}

/* ---- responses -------------------------------------------------------------------------------------------------- */

static void sw_reply(swarm_exchange *x, int status, char *body, size_t len, const char *ctype) {
    free(x->out);
    x->status = status;
    x->out = body;
    x->out_len = body ? len : 0;
    x->ctype = ctype;
    if (!body && len) x->status = 500;
}

static void sw_error(swarm_exchange *x, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void sw_error(swarm_exchange *x, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = proto_error_json(msg, &len);
    sw_reply(x, status, body, len, "application/json");
}

/* Close the document and answer it; with `line`, a newline ends the JSON (a lease's header, before its payload). */
static int sw_doc_end(json_doc *d, swarm_exchange *x, int status, int line) {
    char *buf;
    size_t len;
    if (line) fputc('\n', d->f);
    if (json_doc_end(d, &buf, &len)) {
        sw_error(x, 500, "out of memory");
        return -1;
    }
    sw_reply(x, status, buf, len, "application/json");
    return 0;
}

static void sw_store_error(swarm_exchange *x, const char *what, const char *err) {
    fprintf(stderr, "tandem serve: swarm: %s: %s\n", what, err);
    sw_error(x, 500, "job store: %s: %s", what, err);
}

/* ---- routing ---------------------------------------------------------------------------------------------------- */

static int sw_is_id(const char *s, size_t n) {
    if (n != SWS_JOB_ID) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int swarm_route(const char *method, const char *url, size_t *body_cap, const char **allow) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    *body_cap = 0;
    if (!strcmp(url, "/v2/jobs")) {
        *allow = "GET, HEAD, POST";
        if (post) *body_cap = SIZE_MAX;
        return post ? SW_R_CREATE : get ? SW_R_JOBS : -1;
    }
    if (!strncmp(url, "/v2/jobs/", 9)) {
        *allow = "GET, HEAD";
        const char *rest = strchr(url + 9, '/');
        if (!rest) return get ? SW_R_JOB : -1;
        return !strcmp(rest, "/results") ? (get ? SW_R_RESULTS : -1) : 0;
    }
    static const struct { const char *url; int route; size_t cap; } worker[] = {
        {"/v2/swarm/join", SW_R_JOIN, SW_SMALL_BODY},
        {"/v2/swarm/lease", SW_R_LEASE, SW_SMALL_BODY},
        {"/v2/swarm/submit", SW_R_SUBMIT, SW_SUBMIT_BODY},
    };
    for (size_t i = 0; i < sizeof worker / sizeof worker[0]; i++)
        if (!strcmp(url, worker[i].url)) {
            *allow = "POST";
            if (!post) return -1;
            *body_cap = worker[i].cap;
            return worker[i].route;
        }
    if (!strcmp(url, "/v2/swarm/clients")) {
        *allow = "GET, HEAD";
        return get ? SW_R_CLIENTS : -1;
    }
    return 0;
}

/* The admin's Bearer token: 0 when it matches; otherwise the answer is set (403 when no token is configured, 401
 * when it is missing or wrong). The comparison takes the same time wherever the first difference is. */
static int sw_auth(swarm_exchange *x) {
    if (!SW.token) {
        sw_error(x, 403, "the job endpoints are off: start tandem serve with --admin-token TOKEN (or "
                         "TANDEM_ADMIN_TOKEN)");
        return -1;
    }
    const char *h = x->header(x->conn, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7)) {
        x->unauthorized = 1;
        sw_error(x, 401, "this endpoint needs the header 'Authorization: Bearer TOKEN'");
        return -1;
    }
    const char *given = h + 7;
    size_t a = strlen(given), b = strlen(SW.token);
    unsigned diff = (unsigned)(a != b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned char)SW.token[i] ^ (unsigned char)(i < a ? given[i] : 0);
    if (diff) {
        x->unauthorized = 1;
        sw_error(x, 401, "the Bearer token is wrong");
        return -1;
    }
    return 0;
}

/* ---- POST /v2/jobs ---------------------------------------------------------------------------------------------- */

/* A query parameter as an integer in [lo, hi] (absent: def). 0, or -1 with the answer set. */
static int sw_arg_int(swarm_exchange *x, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out) {
    const char *v = x->arg(x->conn, key);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        sw_error(x, 400, "%s must be an integer in %lld..%lld, not '%.40s'", key, (long long)lo, (long long)hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* What a job needs of its model, checked before anything is stored: one float32 input, float32 outputs, a batch
 * dimension that is symbolic or 1, and outputs per item found by one batch-1 run over zeros. */
typedef struct sw_job_model {
    char item_shape[256], *outputs;
    int64_t item_numel, out_bytes;
} sw_job_model;

static int sw_model_outputs(swarm_exchange *x, srv_model *m, const int64_t *item, int rank, sw_job_model *jm) {
    int64_t dims[TDM_MAX_RANK];
    dims[0] = 1;
    memcpy(dims + 1, item, (size_t)rank * sizeof *item);
    tdm_session *s = NULL;
    tdm_status st = tdm_session_create(m->model, NULL, &s);
    if (st == TDM_OK) st = tdm_session_set_input_shape(s, 0, dims, rank + 1);
    void *data = NULL;
    if (st == TDM_OK) st = tdm_session_input_data(s, 0, NULL, &data);
    if (st == TDM_OK) {
        memset(data, 0, (size_t)jm->item_numel * sizeof(float));
        st = tdm_session_run(s);
    }
    if (st != TDM_OK) {
        sw_error(x, 400, "model '%s' cannot run items of shape %s: %s", m->name, jm->item_shape,
                 tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
        tdm_session_free(s);
        return -1;
    }
    json_doc d;
    if (json_doc_begin(&d)) {
        tdm_session_free(s);
        sw_error(x, 500, "out of memory");
        return -1;
    }
    json_array_begin(&d.w);
    jm->out_bytes = 0;
    int bad = 0;
    for (int o = 0; o < m->nout && !bad; o++) {
        tdm_tensor_info info;
        const void *out;
        if (tdm_session_output(s, o, &info, &out) != TDM_OK || info.rank < 1 || info.dims[0] != 1) {
            bad = 1;
            break;
        }
        int64_t numel = 1;
        for (int k = 1; k < info.rank; k++) numel *= info.dims[k];
        jm->out_bytes += numel * 4;
        json_object_begin(&d.w);
        json_kv_string(&d.w, "name", m->out[o].name);
        json_key(&d.w, "dims");
        json_array_begin(&d.w);
        for (int k = 1; k < info.rank; k++) json_int(&d.w, info.dims[k]);
        json_array_end(&d.w);
        json_kv_int(&d.w, "numel", numel);
        json_object_end(&d.w);
    }
    json_array_end(&d.w);
    tdm_session_free(s);
    if (fclose(d.f) != 0 || bad) {
        free(d.buf);
        if (bad) sw_error(x, 400, "model '%s': its outputs do not follow the batch dimension", m->name);
        else sw_error(x, 500, "out of memory");
        return -1;
    }
    jm->outputs = d.buf;
    return 0;
}

/* The model's side of a job: one float32 input of rank 1 + item rank whose batch dimension is symbolic or 1, and
 * float32 outputs. 0, or -1 with the answer set. */
static int sw_model_fits(swarm_exchange *x, srv_model *m) {
    if (m->nin != 1 || m->in[0].dtype != TDM_FLOAT || m->in[0].rank < 1) {
        sw_error(x, 400, "model '%s' cannot run a job: jobs take models with one float32 input", m->name);
        return -1;
    }
    if (m->in[0].dims[0] > 1) {
        sw_error(x, 400, "model '%s' cannot run a job: its input's batch dimension is fixed at %lld", m->name,
                 (long long)m->in[0].dims[0]);
        return -1;
    }
    for (int o = 0; o < m->nout; o++)
        if (m->out[o].dtype != TDM_FLOAT) {
            sw_error(x, 400, "model '%s' cannot run a job: output '%s' is not float32", m->name, m->out[o].name);
            return -1;
        }
    return 0;
}

/* "[3,32,32]" */
static void sw_shape_json(const int64_t *dims, int rank, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < rank && n < cap; k++) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", k ? "," : "", (long long)dims[k]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static void sw_job_create(swarm_exchange *x) {
    if (sw_auth(x)) return;
    const char *name = x->arg(x->conn, "model"), *format = x->arg(x->conn, "format");
    if (!name || !*name) return sw_error(x, 400, "the query needs model=NAME");
    srv_model *m = srv_repo_find(SW.repo, name, strlen(name));
    if (!m) return sw_error(x, 404, "unknown model '%.200s'", name);
    if (!format || (strcmp(format, "cifar") && strcmp(format, "tensor")))
        return sw_error(x, 400, "the query needs format=cifar or format=tensor");
    int64_t chunk, speculate;
    if (sw_arg_int(x, "chunk", 0, 1, SW_MAX_CHUNK, &chunk) || sw_arg_int(x, "speculate", 1, 0, 1, &speculate)) return;
    double verify = 0.05;
    const char *vs = x->arg(x->conn, "verify");
    if (vs) {
        char *end;
        errno = 0;
        verify = strtod(vs, &end);
        if (!*vs || *end || errno || !(verify >= 0 && verify <= 1))
            return sw_error(x, 400, "verify must be a share between 0 and 1, not '%.40s'", vs);
    }
    if (sw_model_fits(x, m)) return;
    if (!x->body || x->len == 0) return sw_error(x, 400, "the body is empty: it must hold the job's items");

    const srv_io *in = &m->in[0];
    int64_t item[TDM_MAX_RANK] = {0}, items = 0, item_bytes = 0;
    int rank = in->rank - 1;
    const unsigned char *data = NULL;
    tdm_tensor *t = NULL;
    char prep[512] = "{}";
    if (!strcmp(format, "cifar")) {
        static const int64_t cifar_item[3] = {3, 32, 32};
        if (in->rank != 4) return sw_error(x, 400, "model '%s' does not take [N, 3, 32, 32] images", m->name);
        for (int k = 0; k < 3; k++)
            if (in->dims[k + 1] >= 0 && in->dims[k + 1] != cifar_item[k])
                return sw_error(x, 400, "model '%s' does not take [N, 3, 32, 32] images", m->name);
        if (x->len % SWARM_CIFAR_RECORD)
            return sw_error(x, 400, "the body of %zu bytes is not a whole number of %d-byte CIFAR records (%zu bytes "
                            "left over)", x->len, SWARM_CIFAR_RECORD, x->len % SWARM_CIFAR_RECORD);
        memcpy(item, cifar_item, sizeof cifar_item);
        items = (int64_t)(x->len / SWARM_CIFAR_RECORD);
        item_bytes = SWARM_CIFAR_RECORD;
        data = (const unsigned char *)x->body;
        if (m->nstats > 1 && m->nstats != 3)
            return sw_error(x, 400, "model '%s': its config has %d mean/std values for 3 channels", m->name, m->nstats);
        int n = 0;
        n += snprintf(prep + n, sizeof prep - (size_t)n, "{\"mean\":[");
        for (int c = 0; c < 3; c++)
            n += snprintf(prep + n, sizeof prep - (size_t)n, "%s%.9g", c ? "," : "", m->mean[m->nstats > 1 ? c : 0]);
        n += snprintf(prep + n, sizeof prep - (size_t)n, "],\"std\":[");
        for (int c = 0; c < 3; c++)
            n += snprintf(prep + n, sizeof prep - (size_t)n, "%s%.9g", c ? "," : "", m->std[m->nstats > 1 ? c : 0]);
        snprintf(prep + n, sizeof prep - (size_t)n, "]}");
    } else {
        tdm_status st = tdm_tensor_read_memory(x->body, x->len, &t);
        if (st != TDM_OK)
            return sw_error(x, 400, "the body is not a TensorProto: %s",
                            tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
        int bad = t->dtype != TDM_FLOAT || t->rank != in->rank || t->dims[0] < 1;
        for (int k = 1; k < t->rank && !bad; k++) {
            if (t->dims[k] < 1 || (in->dims[k] >= 0 && in->dims[k] != t->dims[k])) bad = 1;
            item[k - 1] = t->dims[k];
        }
        if (bad) {
            char want[128], got[128];
            const char *type = tdm_dtype_name(t->dtype) ? tdm_dtype_name(t->dtype) : "?";
            sw_shape_json(in->dims, in->rank, want, sizeof want);
            sw_shape_json(t->dims, t->rank, got, sizeof got);
            tdm_tensor_free(t);
            return sw_error(x, 400, "the tensor is %s %s; model '%s' takes float32 %s (-1: any size)", type, got,
                            m->name, want);
        }
        items = t->dims[0];
        item_bytes = tdm_tensor_numel(t) / items * 4;
        data = t->data;
    }
    if (items > SW_MAX_ITEMS) {
        tdm_tensor_free(t);
        return sw_error(x, 413, "the job has %lld items; the limit is %d", (long long)items, SW_MAX_ITEMS);
    }
    sw_job_model jm = {{0}, NULL, 1, 0};
    for (int k = 0; k < rank; k++) jm.item_numel *= item[k];
    if (jm.item_numel > m->proto.max_elems) {
        tdm_tensor_free(t);
        return sw_error(x, 413, "an item has %lld values; the server's limit is %lld", (long long)jm.item_numel,
                        (long long)m->proto.max_elems);
    }
    sw_shape_json(item, rank, jm.item_shape, sizeof jm.item_shape);
    if (sw_model_outputs(x, m, item, rank, &jm)) {
        tdm_tensor_free(t);
        return;
    }
    if (!chunk) { /* about 250 chunks, each at most 64 items: a lease adds chunks until it fills ~2 s */
        chunk = (items + 249) / 250;
        if (chunk > 64) chunk = 64;
    }
    sws_job_spec spec = {{0}, m->name, format, jm.item_shape, jm.outputs, prep, m->batchable, items, chunk,
                         item_bytes, jm.out_bytes, verify, (int)speculate, swarm_now_ms(), data};
    sws_random_hex(spec.id, SWS_JOB_ID);
    int64_t chunks = 0;
    char err[512];
    int rc = sws_job_create(SW.store, &spec, &chunks, err, sizeof err);
    tdm_tensor_free(t);
    free(jm.outputs);
    if (rc) return sw_store_error(x, "creating a job", err);
    atomic_fetch_add(&SW.jobs, 1);
    fprintf(stderr, "tandem serve: swarm: job %s: %lld items of %s in %lld chunks (verify %.3g)\n", spec.id,
            (long long)items, m->name, (long long)chunks, verify);
    json_doc d;
    if (json_doc_begin(&d)) return sw_error(x, 500, "out of memory");
    json_object_begin(&d.w);
    json_kv_string(&d.w, "id", spec.id);
    json_kv_int(&d.w, "items", items);
    json_kv_int(&d.w, "chunks", chunks);
    json_object_end(&d.w);
    sw_doc_end(&d, x, 201, 0);
}

/* ---- GET /v2/jobs, /v2/jobs/ID ------------------------------------------------------------------------------------ */

static void sw_job_fields(json_writer *w, const sws_job_info *j) {
    int64_t end = j->finished_ms ? j->finished_ms : swarm_now_ms();
    double secs = j->started_ms ? (double)(end - j->started_ms) / 1000.0 : 0;
    json_object_begin(w);
    json_kv_string(w, "id", j->id);
    json_kv_string(w, "model", j->model);
    json_kv_string(w, "state", j->state);
    json_kv_int(w, "items", j->items);
    json_kv_int(w, "done_items", j->done_items);
    json_kv_int(w, "chunks", j->chunks);
    json_kv_int(w, "done_chunks", j->done_chunks);
    json_kv_int(w, "clients", j->clients);
    json_kv_int(w, "reissued", j->reissued);
    json_kv_int(w, "rejected_results", j->rejected_results);
    json_kv_double(w, "items_per_s", secs > 0 ? (double)j->done_items / secs : 0, 6);
    json_object_end(w);
}

static void sw_job_get(swarm_exchange *x) {
    if (sw_auth(x)) return;
    const char *id = x->url + 9;
    if (!sw_is_id(id, strlen(id))) return sw_error(x, 404, "no job '%.40s'", id);
    sws_job_info j;
    char err[512];
    int rc = sws_job_get(SW.store, id, &j, err, sizeof err);
    if (rc == SWS_NOT_FOUND) return sw_error(x, 404, "no job '%s'", id);
    if (rc) return sw_store_error(x, "reading a job", err);
    json_doc d;
    if (json_doc_begin(&d)) {
        sws_job_info_free(&j);
        return sw_error(x, 500, "out of memory");
    }
    sw_job_fields(&d.w, &j);
    sws_job_info_free(&j);
    sw_doc_end(&d, x, 200, 0);
}

static int sw_list_one(void *ctx, const sws_job_info *j) {
    sw_job_fields(ctx, j);
    return 0;
}

/* A listing for the admin: {"<key>": [...]}, the array filled by list(). */
static void sw_list(swarm_exchange *x, const char *key, int (*list)(json_writer *w, char *err, size_t errlen)) {
    if (sw_auth(x)) return;
    json_doc d;
    if (json_doc_begin(&d)) return sw_error(x, 500, "out of memory");
    json_object_begin(&d.w);
    json_key(&d.w, key);
    json_array_begin(&d.w);
    char err[512];
    int rc = list(&d.w, err, sizeof err);
    json_array_end(&d.w);
    json_object_end(&d.w);
    if (rc) {
        fclose(d.f);
        free(d.buf);
        return sw_store_error(x, key, err);
    }
    sw_doc_end(&d, x, 200, 0);
}

static int sw_list_jobs(json_writer *w, char *err, size_t errlen) {
    return sws_job_list(SW.store, sw_list_one, w, err, errlen);
}

/* ---- GET /v2/jobs/ID/results ------------------------------------------------------------------------------------ */

typedef struct sw_results {
    FILE *f;
    int tensor, output;
    swarm_desc desc;
    int64_t next;  /* the item the next row must start at */
    int bad;
} sw_results;

static int sw_result_chunk(void *ctx, int64_t first, int64_t n, const void *result, size_t len, const char *worker) {
    sw_results *r = ctx;
    const swarm_desc *d = &r->desc;
    if (first != r->next || !result || len != (size_t)(n * d->out_item) * 4) {
        r->bad = 1;
        return 1;
    }
    r->next = first + n;
    const float *out = result;
    if (r->tensor) {
        int64_t off = 0;
        for (int o = 0; o < r->output; o++) off += n * d->out_numel[o];
        fwrite(out + off, sizeof(float), (size_t)(n * d->out_numel[r->output]), r->f);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        double p;
        int64_t top = swarm_top1(out + i * d->out_numel[0], d->out_numel[0], &p);
        fprintf(r->f, "%lld,%lld,%.6g,%s\n", (long long)(first + i), (long long)top, p, worker ? worker : "");
    }
    return 0;
}

static void pb_varint(FILE *f, uint64_t v) {
    while (v >= 0x80) {
        fputc((int)(v & 0x7f) | 0x80, f);
        v >>= 7;
    }
    fputc((int)v, f);
}

static void sw_job_results(swarm_exchange *x) {
    if (sw_auth(x)) return;
    char id[SWS_JOB_ID + 1];
    const char *p = x->url + 9;
    size_t n = strcspn(p, "/");
    if (!sw_is_id(p, n)) return sw_error(x, 404, "no job '%.*s'", (int)(n < 40 ? n : 40), p);
    memcpy(id, p, n);
    id[n] = 0;
    const char *format = x->arg(x->conn, "format");
    if (format && strcmp(format, "csv") && strcmp(format, "tensor"))
        return sw_error(x, 400, "format must be csv or tensor");
    int64_t output;
    if (sw_arg_int(x, "output", 0, 0, SWARM_MAX_OUT - 1, &output)) return;
    sws_job_info j;
    char err[512];
    int rc = sws_job_get(SW.store, id, &j, err, sizeof err);
    if (rc == SWS_NOT_FOUND) return sw_error(x, 404, "no job '%s'", id);
    if (rc) return sw_store_error(x, "reading a job", err);
    if (strcmp(j.state, "done")) {
        if (!strcmp(j.state, "failed")) sw_error(x, 409, "job %s failed: %s", id, j.error ? j.error : "no reason kept");
        else sw_error(x, 409, "job %s is %s: %lld of %lld items done", id, j.state, (long long)j.done_items,
                      (long long)j.items);
        sws_job_info_free(&j);
        return;
    }
    sw_results r = {NULL, format && !strcmp(format, "tensor"), (int)output, {0}, 0, 0};
    char *buf = NULL;
    size_t len = 0;
    if (swarm_desc_parse_text(j.format, j.item_shape, j.outputs, j.prep, j.batch_any, &r.desc, err, sizeof err)) {
        sws_job_info_free(&j);
        return sw_error(x, 500, "job %s: %s", id, err);
    }
    if (output >= r.desc.nout) {
        sws_job_info_free(&j);
        return sw_error(x, 400, "the model has %d outputs; output=%lld does not exist", r.desc.nout, (long long)output);
    }
    r.f = open_memstream(&buf, &len);
    if (!r.f) {
        sws_job_info_free(&j);
        return sw_error(x, 500, "out of memory");
    }
    char *raw = NULL;
    size_t raw_len = 0;
    FILE *rf = NULL;
    if (r.tensor) { /* the outputs gather in their own buffer: the TensorProto's raw_data field needs its length */
        rf = open_memstream(&raw, &raw_len);
        if (!rf) r.bad = 1;
        else {
            FILE *head = r.f;
            r.f = rf;
            rc = r.bad ? 0 : sws_job_results(SW.store, id, sw_result_chunk, &r, err, sizeof err);
            fclose(rf);
            r.f = head;
        }
    } else {
        fputs("item,top1,score,worker\n", r.f);
        rc = sws_job_results(SW.store, id, sw_result_chunk, &r, err, sizeof err);
    }
    if (!rc && !r.bad && r.next != j.items) r.bad = 1;
    if (!rc && !r.bad && r.tensor) {
        cJSON *outs = cJSON_Parse(j.outputs);
        const cJSON *o = cJSON_GetArrayItem(outs, (int)output);
        const cJSON *dims = cJSON_GetObjectItemCaseSensitive(o, "dims");
        const cJSON *oname = cJSON_GetObjectItemCaseSensitive(o, "name");
        pb_varint(r.f, 1 << 3); /* dims: the items, then the output's own */
        pb_varint(r.f, (uint64_t)j.items);
        for (const cJSON *e = dims ? dims->child : NULL; e; e = e->next) {
            pb_varint(r.f, 1 << 3);
            pb_varint(r.f, (uint64_t)e->valuedouble);
        }
        pb_varint(r.f, 2 << 3); /* data_type FLOAT */
        pb_varint(r.f, 1);
        const char *on = cJSON_IsString(oname) ? oname->valuestring : "";
        pb_varint(r.f, (8 << 3) | 2); /* name */
        pb_varint(r.f, strlen(on));
        fputs(on, r.f);
        pb_varint(r.f, (9 << 3) | 2); /* raw_data */
        pb_varint(r.f, raw_len);
        fwrite(raw, 1, raw_len, r.f);
        cJSON_Delete(outs);
    }
    free(raw);
    int closed = fclose(r.f);
    sws_job_info_free(&j);
    if (rc || r.bad || closed) {
        free(buf);
        if (rc) return sw_store_error(x, "reading results", err);
        return sw_error(x, 500, "job %s: its stored results are incomplete", id);
    }
    sw_reply(x, 200, buf, len, r.tensor ? "application/octet-stream" : "text/csv; charset=utf-8");
}

/* ---- workers: join, lease, submit -------------------------------------------------------------------------------- */

/* The JSON object of a small worker request, or NULL with the answer set. */
static cJSON *sw_small_json(swarm_exchange *x) {
    cJSON *j = x->len ? cJSON_ParseWithLength(x->body, x->len) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        sw_error(x, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* The client id of a worker request: a string of the issued form, and within its rate. NULL with the answer set. */
static const char *sw_client(swarm_exchange *x, const cJSON *j) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "client");
    const char *id = cJSON_IsString(c) ? c->valuestring : NULL;
    int ok = id && strlen(id) == SWS_CLIENT_ID && id[0] == 'c';
    for (int i = 1; ok && i < SWS_CLIENT_ID; i++) ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok) {
        sw_error(x, 400, "the body needs \"client\": the id POST /v2/swarm/join gave");
        return NULL;
    }
    if (!rl_take(id, SW.o.client_rate, SW.o.client_rate * 4)) {
        atomic_fetch_add(&SW.limited, 1);
        x->retry_after_s = 1;
        sw_error(x, 429, "too many requests from this client: at most %.3g per second", SW.o.client_rate);
        return NULL;
    }
    return id;
}

static void sw_join(swarm_exchange *x) {
    char key[96];
    snprintf(key, sizeof key, "join %s", x->peer ? x->peer : "?");
    if (!rl_take(key, 2, 60)) { /* 60 joins at once, then 2 per second from one address */
        atomic_fetch_add(&SW.limited, 1);
        x->retry_after_s = 1;
        return sw_error(x, 429, "too many joins from this address");
    }
    cJSON *j = sw_small_json(x);
    if (!j) return;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const char *kind = cJSON_IsString(k) ? k->valuestring : "browser";
    if (strcmp(kind, "browser") && strcmp(kind, "native")) {
        cJSON_Delete(j);
        return sw_error(x, 400, "kind must be browser or native");
    }
    char id[SWS_CLIENT_ID + 1], label[64], err[512];
    id[0] = 'c';
    sws_random_hex(id + 1, SWS_CLIENT_ID - 1);
    snprintf(label, sizeof label, "%s-%.8s", kind, id + 1);
    int rc = sws_client_join(SW.store, id, label, kind, swarm_now_ms(), err, sizeof err);
    cJSON_Delete(j);
    if (rc) return sw_store_error(x, "adding a client", err);
    atomic_fetch_add(&SW.joins, 1);
    json_doc d;
    if (json_doc_begin(&d)) return sw_error(x, 500, "out of memory");
    json_object_begin(&d.w);
    json_kv_string(&d.w, "client", id);
    json_kv_string(&d.w, "worker", label);
    json_kv_double(&d.w, "target_s", SW.o.target_s, 6);
    json_kv_double(&d.w, "rate_per_s", SW.o.client_rate, 6);
    json_object_end(&d.w);
    sw_doc_end(&d, x, 201, 0);
}

static void sw_client_refusal(swarm_exchange *x, int rc, const char *err) {
    if (rc == SWS_UNKNOWN_CLIENT) return sw_error(x, 404, "unknown client: join first (POST /v2/swarm/join)");
    if (rc == SWS_REFUSED) {
        atomic_fetch_add(&SW.refused, 1);
        return sw_error(x, 403, "this client returned a result that failed the server's check; it gets no more work");
    }
    sw_store_error(x, "a worker request", err);
}

static void sw_lease(swarm_exchange *x) {
    cJSON *j = sw_small_json(x);
    if (!j) return;
    const char *client = sw_client(x, j);
    if (!client) {
        cJSON_Delete(j);
        return;
    }
    sws_lease_req q = {client, swarm_now_ms(), SW.o.target_s, (int64_t)(SW.o.lease_timeout_s * 1000),
                       SW.o.max_lease_items, SW_LEASE_BYTES};
    sws_lease l;
    char err[512];
    int rc = sws_take_lease(SW.store, &q, &l, err, sizeof err);
    cJSON_Delete(j);
    if (rc != 0 && rc != SWS_NO_WORK) {
        sws_lease_free(&l);
        return sw_client_refusal(x, rc, err);
    }
    json_doc d;
    if (json_doc_begin(&d)) {
        sws_lease_free(&l);
        return sw_error(x, 500, "out of memory");
    }
    json_object_begin(&d.w);
    if (rc == SWS_NO_WORK) {
        atomic_fetch_add(&SW.no_work, 1);
        json_key(&d.w, "lease");
        json_null(&d.w);
        json_kv_int(&d.w, "active_jobs", l.active_jobs);
        json_kv_int(&d.w, "retry_ms", SW_RETRY_MS);
        json_object_end(&d.w);
        sws_lease_free(&l);
        sw_doc_end(&d, x, 200, 1);
        return;
    }
    srv_model *m = srv_repo_find(SW.repo, l.job.model, strlen(l.job.model));
    char url[512];
    snprintf(url, sizeof url, "/v2/models/%s/file", l.job.model);
    size_t payload = 0;
    for (int i = 0; i < l.nchunks; i++) payload += l.chunks[i].len;
    json_kv_string(&d.w, "lease", l.id);
    json_kv_string(&d.w, "job", l.job.id);
    json_kv_string(&d.w, "model", l.job.model);
    json_kv_string(&d.w, "model_url", url);
    json_kv_int(&d.w, "model_bytes", m ? m->file_bytes : 0);
    json_kv_string(&d.w, "format", l.job.format);
    fprintf(d.f, ",\"item_shape\":%s,\"outputs\":%s,\"prep\":%s", l.job.item_shape, l.job.outputs, l.job.prep);
    json_kv_bool(&d.w, "batch_any", l.job.batch_any);
    json_kv_int(&d.w, "item_bytes", l.job.item_bytes);
    json_kv_int(&d.w, "expires_in_ms", l.deadline_ms - q.now_ms);
    json_key(&d.w, "chunks");
    json_array_begin(&d.w);
    size_t off = 0;
    for (int i = 0; i < l.nchunks; i++) {
        json_object_begin(&d.w);
        json_kv_int(&d.w, "index", l.chunks[i].idx);
        json_kv_int(&d.w, "first", l.chunks[i].first);
        json_kv_int(&d.w, "items", l.chunks[i].n);
        json_kv_bool(&d.w, "speculative", l.chunks[i].kind == SWS_SPECULATIVE);
        json_kv_int(&d.w, "offset", (int64_t)off);
        json_kv_int(&d.w, "bytes", (int64_t)l.chunks[i].len);
        json_object_end(&d.w);
        off += l.chunks[i].len;
    }
    json_array_end(&d.w);
    json_kv_int(&d.w, "payload_bytes", (int64_t)payload);
    json_object_end(&d.w);
    fputc('\n', d.f);
    for (int i = 0; i < l.nchunks; i++) fwrite(l.chunks[i].input, 1, l.chunks[i].len, d.f);
    atomic_fetch_add(&SW.leases, 1);
    atomic_fetch_add(&SW.chunks_leased, l.nchunks);
    sws_lease_free(&l);
    if (fclose(d.f) != 0) {
        free(d.buf);
        return sw_error(x, 500, "out of memory");
    }
    sw_reply(x, 200, d.buf, d.len, "application/octet-stream");
}

static void sw_submit(swarm_exchange *x) {
    cJSON *h = NULL;
    sws_submit sub;
    char err[512];
    if (!x->body || swarm_parse_submit(x->body, x->len, &h, &sub, err, sizeof err))
        return sw_error(x, 400, "%s", x->body ? err : "the body is empty");
    cJSON *idobj = cJSON_CreateObject();
    if (idobj) cJSON_AddStringToObject(idobj, "client", sub.client);
    const char *client = idobj ? sw_client(x, idobj) : NULL;
    if (!client) {
        if (!idobj) sw_error(x, 500, "out of memory");
        cJSON_Delete(idobj);
        cJSON_Delete(h);
        free(sub.chunks);
        return;
    }
    sub.now_ms = swarm_now_ms();
    int rc = sws_store_submit(SW.store, &sub, err, sizeof err);
    cJSON_Delete(idobj);
    if (rc == SWS_NOT_HELD || rc == SWS_BAD) {
        sw_error(x, rc == SWS_NOT_HELD ? 409 : 400, "%s; nothing of this submission was stored", err);
    } else if (rc) {
        sw_client_refusal(x, rc, err);
    } else {
        atomic_fetch_add(&SW.submits, 1);
        int verifying = 0;
        json_doc d;
        if (json_doc_begin(&d)) {
            sw_error(x, 500, "out of memory");
        } else {
            static const char *const keys[] = {"accepted", "late", "errors"};
            json_object_begin(&d.w);
            for (int kind = SWS_ACCEPTED; kind <= SWS_ERROR_NOTED; kind++) {
                json_key(&d.w, keys[kind - 1]);
                json_array_begin(&d.w);
                for (int i = 0; i < sub.nchunks; i++)
                    if (sub.chunks[i].outcome == kind) json_int(&d.w, sub.chunks[i].idx);
                json_array_end(&d.w);
            }
            for (int i = 0; i < sub.nchunks; i++) {
                verifying += sub.chunks[i].verifying;
                atomic_fetch_add(&SW.accepted, sub.chunks[i].outcome == SWS_ACCEPTED);
                atomic_fetch_add(&SW.late, sub.chunks[i].outcome == SWS_LATE);
                atomic_fetch_add(&SW.errors, sub.chunks[i].outcome == SWS_ERROR_NOTED);
            }
            json_kv_int(&d.w, "checking", verifying);
            json_kv_bool(&d.w, "job_done", sub.job_done);
            json_object_end(&d.w);
            sw_doc_end(&d, x, 200, 0);
        }
        if (verifying) swarm_verify_wake();
        if (sub.job_done) fprintf(stderr, "tandem serve: swarm: job %s is done\n", sub.job);
    }
    cJSON_Delete(h);
    free(sub.chunks);
}

static int sw_client_one(void *ctx, const sws_client_info *c) {
    json_writer *w = ctx;
    json_object_begin(w);
    json_kv_string(w, "id", c->id);
    json_kv_string(w, "worker", c->label);
    json_kv_string(w, "kind", c->kind);
    json_kv_bool(w, "refused", c->refused);
    json_kv_double(w, "items_per_s", c->items_per_s, 6);
    json_kv_int(w, "leases", c->leases);
    json_kv_int(w, "accepted_chunks", c->accepted_chunks);
    json_kv_int(w, "late_chunks", c->late_chunks);
    json_kv_int(w, "outstanding", c->outstanding);
    json_kv_int(w, "checks_passed", c->checks_passed);
    json_kv_int(w, "rejected_items", c->rejected_items);
    json_object_end(w);
    return 0;
}

static int sw_list_clients(json_writer *w, char *err, size_t errlen) {
    return sws_client_list(SW.store, swarm_now_ms(), sw_client_one, w, err, errlen);
}

void swarm_handle(int route, swarm_exchange *x) {
    x->status = 500;
    x->out = NULL;
    x->out_len = 0;
    x->ctype = NULL;
    if (!SW.started) return sw_error(x, 503, "the swarm is not running");
    switch (route) {
    case SW_R_CREATE: return sw_job_create(x);
    case SW_R_JOBS: return sw_list(x, "jobs", sw_list_jobs);
    case SW_R_JOB: return sw_job_get(x);
    case SW_R_RESULTS: return sw_job_results(x);
    case SW_R_JOIN: return sw_join(x);
    case SW_R_LEASE: return sw_lease(x);
    case SW_R_SUBMIT: return sw_submit(x);
    case SW_R_CLIENTS: return sw_list(x, "clients", sw_list_clients);
    default: return sw_error(x, 404, "not found");
    }
}

/* ---- start, stop, metrics ---------------------------------------------------------------------------------------- */

int swarm_start(srv_repo *repo, const swarm_opts *o, char *err, size_t errlen) {
    memset(&SW, 0, sizeof SW);
    SW.repo = repo;
    SW.o = *o;
    if (o->admin_token && *o->admin_token && !(SW.token = strdup(o->admin_token))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char e[512];
    if (sws_open(o->db, &SW.store, e, sizeof e)) {
        snprintf(err, errlen, "cannot open the job store: %s", e);
        free(SW.token);
        SW.token = NULL;
        return -1;
    }
    /* one SQLite server owns every check: those a killed predecessor had claimed are free again */
    if (!strcmp(sws_kind(SW.store), "sqlite") && sws_release_claims(SW.store, e, sizeof e))
        fprintf(stderr, "tandem serve: swarm: releasing old check claims: %s\n", e);
    if (swarm_verify_start(repo, SW.store, o->verify_threads, err, errlen)) {
        sws_close(SW.store);
        free(SW.token);
        SW.store = NULL;
        SW.token = NULL;
        return -1;
    }
    SW.started = 1;
    return 0;
}

void swarm_stop(void) {
    if (!SW.started) return;
    SW.started = 0;
    swarm_verify_stop();
    sws_close(SW.store);
    SW.store = NULL;
    free(SW.token);
    SW.token = NULL;
}

char *swarm_metrics_render(size_t *len) {
    char *buf = NULL;
    *len = 0;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    int64_t passed = 0, failed = 0, rejected = 0;
    if (SW.started) swarm_verify_counts(&passed, &failed, &rejected);
    const struct { const char *name, *help; long long v; } c[] = {
        {"tandem_swarm_jobs_created_total", "swarm jobs created here", atomic_load(&SW.jobs)},
        {"tandem_swarm_joins_total", "workers that joined here", atomic_load(&SW.joins)},
        {"tandem_swarm_leases_total", "leases handed out here", atomic_load(&SW.leases)},
        {"tandem_swarm_chunks_leased_total", "chunks in those leases", atomic_load(&SW.chunks_leased)},
        {"tandem_swarm_no_work_total", "lease requests answered with no work", atomic_load(&SW.no_work)},
        {"tandem_swarm_submits_total", "submissions stored here", atomic_load(&SW.submits)},
        {"tandem_swarm_chunks_accepted_total", "chunk results accepted", atomic_load(&SW.accepted)},
        {"tandem_swarm_chunks_late_total", "chunk results dropped: another copy came first", atomic_load(&SW.late)},
        {"tandem_swarm_chunk_errors_total", "chunks a worker could not run", atomic_load(&SW.errors)},
        {"tandem_swarm_rate_limited_total", "worker requests answered 429", atomic_load(&SW.limited)},
        {"tandem_swarm_refused_total", "requests of refused workers", atomic_load(&SW.refused)},
        {"tandem_swarm_checks_passed_total", "chunks whose native check passed", (long long)passed},
        {"tandem_swarm_checks_failed_total", "chunks whose native check failed", (long long)failed},
        {"tandem_swarm_rejected_items_total", "item results discarded after failed checks", (long long)rejected},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", c[i].name, c[i].help, c[i].name, c[i].name, c[i].v);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
