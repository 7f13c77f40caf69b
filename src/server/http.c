/* http.c - the HTTP front end of `tandem serve` on libmicrohttpd: routing of the KServe v2 endpoints, /classify,
 * /metrics, the results API and the static client page.
 *
 * Threading: libmicrohttpd's internal thread pool with epoll (a few I/O threads for any number of connections), and
 * suspend/resume for inference: the I/O thread parses a request, suspends the connection and queues the job; an
 * inference worker (batcher.c) answers it and resumes the connection, and an I/O thread sends the response. So an
 * I/O thread never blocks on a model run, a slow client never holds an inference worker, and open connections cost
 * no threads (thread-per-connection would need 64 threads for 64 clients, each contending for the 2 cores). */
#include "server.h"
#include "store.h"
#include "swarm.h"
#include "../common/image.h"
#include "../common/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

enum {
    R_NONE, R_STATIC, R_V2, R_LIVE, R_READY, R_MODEL_META, R_MODEL_READY, R_INFER, R_CLASSIFY, R_MODEL_FILE,
    R_METRICS, R_API_MODELS, R_RESULTS_POST, R_RESULTS_GET, R_SAMPLES, R_SAMPLE_FILE, R_OPTIONS, R_NOT_FOUND, R_METHOD,
    R_SWARM
};

typedef struct http_req {
    int route;
    srv_model *model;
    char *body;
    size_t len, cap;
    int too_large;            /* 1: over max_body (413); 2: over the server's body budget (503); 3: answered 413 */
    double t_arrival;
    double pre_ms;
    int status;               /* the status sent, for metrics */
    srv_job job;
    atomic_int job_state;     /* 0 none, 1 queued, 2 answered */
    struct MHD_Connection *conn;
    const char *allow;        /* R_METHOD: the Allow header */
    int swarm_route;          /* R_SWARM: swarm.c's route */
    size_t swarm_cap;         /* R_SWARM: its body limit */
} http_req;

static struct {
    struct MHD_Daemon *daemon;
    srv_repo *repo;
    tdm_store *store;
    srv_http_opts o;
    atomic_int ready;
    atomic_llong inflight;
    atomic_llong buffered;    /* bytes of request bodies held right now, against o.max_buffered */
} H;

static void http_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- responses ----------------------------------------------------------------------------------------------------- */

static void http_common_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "Timing-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", "Server-Timing, Inference-Header-Content-Length");
}

static void http_isolation_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Embedder-Policy", "require-corp");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

/* Queue a response that takes ownership of body (malloc'd, may be NULL for an empty body). */
static enum MHD_Result http_send(http_req *rq, int status, char *body, size_t len, const char *ctype,
                                 struct MHD_Response **keep) {
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    http_common_headers(r);
    rq->status = status;
    if (keep) {
        *keep = r;
        return MHD_YES;
    }
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result http_error(http_req *rq, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static enum MHD_Result http_error(http_req *rq, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = proto_error_json(msg, &len);
    return http_send(rq, status, body, body ? len : 0, "application/json", NULL);
}

/* Answer a JSON document built with json_doc_begin (src/common/json.h). */
static enum MHD_Result http_doc_send(http_req *rq, json_doc *d, int status) {
    char *buf;
    size_t len;
    if (json_doc_end(d, &buf, &len)) return http_error(rq, 500, "out of memory");
    return http_send(rq, status, buf, len, "application/json", NULL);
}

static void http_json_shape(json_writer *w, const srv_io *io) {
    json_array_begin(w);
    for (int d = 0; d < io->rank; d++) json_int(w, io->dims[d]);
    json_array_end(w);
}

static void http_json_tensors(json_writer *w, const srv_io *io, int n) {
    json_array_begin(w);
    for (int i = 0; i < n; i++) {
        json_object_begin(w);
        json_kv_string(w, "name", io[i].name);
        json_kv_string(w, "datatype", proto_dtype_name(io[i].dtype));
        json_key(w, "shape");
        http_json_shape(w, &io[i]);
        json_object_end(w);
    }
    json_array_end(w);
}

/* ---- routing ------------------------------------------------------------------------------------------------------- */

/* Match "/v2/models/<name>[/versions/1][/<what>]". Returns 1 with the model (or NULL if unknown, name in *name) and
 * the remaining suffix ("" for metadata); 0 if the URL is not under /v2/models/. */
static int http_model_url(const char *url, const char **name, size_t *name_len, const char **suffix, int *bad_version) {
    static const char pre[] = "/v2/models/";
    *bad_version = 0;
    if (strncmp(url, pre, sizeof pre - 1) != 0) return 0;
    const char *n = url + sizeof pre - 1;
    const char *slash = strchr(n, '/');
    *name = n;
    *name_len = slash ? (size_t)(slash - n) : strlen(n);
    const char *rest = slash ? slash : "";
    if (strncmp(rest, "/versions/", 10) == 0) {
        const char *v = rest + 10;
        const char *vs = strchr(v, '/');
        size_t vl = vs ? (size_t)(vs - v) : strlen(v);
        if (!(vl == 1 && v[0] == '1')) *bad_version = 1;
        rest = vs ? vs : "";
    }
    *suffix = rest[0] == '/' ? rest + 1 : rest;
    return 1;
}

static void http_route(http_req *rq, const char *method, const char *url) {
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    if (strcmp(method, "OPTIONS") == 0) {
        rq->route = R_OPTIONS;
        return;
    }
    const char *name, *suffix;
    size_t nlen;
    int badv;
    rq->allow = "GET, HEAD";
    if (strcmp(url, "/v2") == 0 || strcmp(url, "/v2/") == 0) rq->route = get ? R_V2 : R_METHOD;
    else if (strcmp(url, "/v2/health/live") == 0) rq->route = get ? R_LIVE : R_METHOD;
    else if (strcmp(url, "/v2/health/ready") == 0) rq->route = get ? R_READY : R_METHOD;
    else if (strcmp(url, "/metrics") == 0) rq->route = get ? R_METRICS : R_METHOD;
    else if (strcmp(url, "/api/models") == 0) rq->route = get ? R_API_MODELS : R_METHOD;
    else if (strcmp(url, "/api/results") == 0) {
        rq->allow = "GET, HEAD, POST";
        rq->route = get ? R_RESULTS_GET : post ? R_RESULTS_POST : R_METHOD;
    } else if (strcmp(url, "/api/samples") == 0) {
        rq->route = !H.o.samples_dir ? R_NOT_FOUND : get ? R_SAMPLES : R_METHOD;
    } else if (strncmp(url, "/api/samples/", 13) == 0) {
        rq->route = !H.o.samples_dir ? R_NOT_FOUND : get ? R_SAMPLE_FILE : R_METHOD;
    } else if ((rq->swarm_route = swarm_route(method, url, &rq->swarm_cap, &rq->allow)) != 0) {
        rq->route = rq->swarm_route > 0 ? R_SWARM : R_METHOD;
    } else if (http_model_url(url, &name, &nlen, &suffix, &badv)) {
        rq->model = srv_repo_find(H.repo, name, nlen);
        int what = strcmp(suffix, "") == 0           ? R_MODEL_META
                   : strcmp(suffix, "ready") == 0    ? R_MODEL_READY
                   : strcmp(suffix, "infer") == 0    ? R_INFER
                   : strcmp(suffix, "classify") == 0 ? R_CLASSIFY
                   : strcmp(suffix, "file") == 0     ? R_MODEL_FILE
                                                     : R_NOT_FOUND;
        if (!rq->model || badv || what == R_NOT_FOUND) rq->route = R_NOT_FOUND;
        else if (what == R_INFER || what == R_CLASSIFY) {
            rq->allow = "POST";
            rq->route = post ? what : R_METHOD;
        } else rq->route = get ? what : R_METHOD;
    } else if (strncmp(url, "/v2/", 4) == 0 || strncmp(url, "/api/", 5) == 0) rq->route = R_NOT_FOUND;
    else rq->route = get && H.o.web_dir ? R_STATIC : get ? R_NOT_FOUND : R_METHOD;
}

/* ---- handlers ------------------------------------------------------------------------------------------------------ */

static enum MHD_Result http_v2(http_req *rq) {
    json_doc d;
    if (json_doc_begin(&d)) return http_error(rq, 500, "out of memory");
    json_object_begin(&d.w);
    json_kv_string(&d.w, "name", "tandem");
    json_kv_string(&d.w, "version", TDM_VERSION);
    json_key(&d.w, "extensions");
    json_array_begin(&d.w);
    json_string(&d.w, "binary_tensor_data");
    json_array_end(&d.w);
    json_object_end(&d.w);
    return http_doc_send(rq, &d, 200);
}

static enum MHD_Result http_model_meta(http_req *rq) {
    srv_model *m = rq->model;
    json_doc d;
    if (json_doc_begin(&d)) return http_error(rq, 500, "out of memory");
    json_object_begin(&d.w);
    json_kv_string(&d.w, "name", m->name);
    json_key(&d.w, "versions");
    json_array_begin(&d.w);
    json_string(&d.w, "1");
    json_array_end(&d.w);
    json_kv_string(&d.w, "platform", "onnx");
    json_key(&d.w, "inputs");
    http_json_tensors(&d.w, m->in, m->nin);
    json_key(&d.w, "outputs");
    http_json_tensors(&d.w, m->out, m->nout);
    json_key(&d.w, "parameters");
    json_object_begin(&d.w);
    json_kv_int(&d.w, "max_batch", m->max_batch);
    json_kv_int(&d.w, "max_delay_us", m->max_delay_us);
    json_object_end(&d.w);
    json_object_end(&d.w);
    return http_doc_send(rq, &d, 200);
}

static enum MHD_Result http_api_models(http_req *rq) {
    json_doc d;
    if (json_doc_begin(&d)) return http_error(rq, 500, "out of memory");
    json_object_begin(&d.w);
    json_key(&d.w, "models");
    json_array_begin(&d.w);
    for (int i = 0; i < H.repo->count; i++) {
        srv_model *m = &H.repo->models[i];
        char file[1024];
        snprintf(file, sizeof file, "/v2/models/%s/file", m->name);
        json_object_begin(&d.w);
        json_kv_string(&d.w, "name", m->name);
        json_kv_string(&d.w, "file", file);
        json_kv_int(&d.w, "bytes", m->file_bytes);
        json_key(&d.w, "inputs");
        http_json_tensors(&d.w, m->in, m->nin);
        json_key(&d.w, "outputs");
        http_json_tensors(&d.w, m->out, m->nout);
        json_key(&d.w, "preprocess");
        json_object_begin(&d.w);
        int ch = m->nin > 0 && m->in[0].rank == 4 && m->in[0].dims[1] > 0 ? (int)m->in[0].dims[1] : m->nstats;
        json_key(&d.w, "mean");
        json_array_begin(&d.w);
        for (int c = 0; c < (m->nstats > 1 ? m->nstats : ch); c++) json_double(&d.w, m->mean[m->nstats > 1 ? c : 0], 7);
        json_array_end(&d.w);
        json_key(&d.w, "std");
        json_array_begin(&d.w);
        for (int c = 0; c < (m->nstats > 1 ? m->nstats : ch); c++) json_double(&d.w, m->std[m->nstats > 1 ? c : 0], 7);
        json_array_end(&d.w);
        int64_t h = m->size_h, w = m->size_w;
        if (!h && m->nin > 0 && m->in[0].rank == 4) {
            h = m->in[0].dims[2];
            w = m->in[0].dims[3];
        }
        if (h > 0 && w > 0) {
            json_key(&d.w, "size");
            json_array_begin(&d.w);
            json_int(&d.w, h);
            json_int(&d.w, w);
            json_array_end(&d.w);
        }
        json_object_end(&d.w);
        if (m->nlabels) {
            json_key(&d.w, "labels");
            json_array_begin(&d.w);
            for (int k = 0; k < m->nlabels; k++) json_string(&d.w, m->labels[k]);
            json_array_end(&d.w);
        }
        json_kv_int(&d.w, "max_batch", m->max_batch);
        json_object_end(&d.w);
    }
    json_array_end(&d.w);
    json_object_end(&d.w);
    return http_doc_send(rq, &d, 200);
}

static const char *http_mime(const char *path) {
    static const struct { const char *ext, *type; } t[] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"}, {".mjs", "text/javascript"},
        {".js", "text/javascript"}, {".css", "text/css"}, {".wasm", "application/wasm"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"}, {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"}, {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"}, {".onnx", "application/octet-stream"}, {".csv", "text/csv"},
        {".md", "text/markdown; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            if (strcasecmp(dot, t[i].ext) == 0) return t[i].type;
    return "application/octet-stream";
}

/* Send a file (a regular one) with the isolation headers. */
static enum MHD_Result http_file(http_req *rq, const char *path, const char *ctype) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0) close(fd);
        return http_error(rq, 404, "not found");
    }
    struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return http_error(rq, 500, "cannot send the file");
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    http_common_headers(r);
    http_isolation_headers(r);
    rq->status = 200;
    enum MHD_Result ok = MHD_queue_response(rq->conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result http_static(http_req *rq, const char *url) {
    if (!strcmp(url, "/worker")) url = "/worker.html"; /* the page that contributes a device to the swarm */
    /* no "..", no backslashes, no control bytes: the path stays inside web_dir */
    if (url[0] != '/' || strstr(url, "..") || strchr(url, '\\')) return http_error(rq, 404, "not found");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p < 0x20) return http_error(rq, 404, "not found");
    size_t n = strlen(H.o.web_dir) + strlen(url) + 16;
    char *path = malloc(n);
    if (!path) return http_error(rq, 500, "out of memory");
    snprintf(path, n, "%s%s", H.o.web_dir, url);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (url[strlen(url) - 1] != '/') { /* /dir -> /dir/ so relative URLs in its index resolve */
            free(path);
            char loc[2048];
            snprintf(loc, sizeof loc, "%s/", url);
            struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
            if (!r) return MHD_NO;
            MHD_add_response_header(r, "Location", loc);
            http_common_headers(r);
            rq->status = 301;
            enum MHD_Result ok = MHD_queue_response(rq->conn, 301, r);
            MHD_destroy_response(r);
            return ok;
        }
        snprintf(path, n, "%s%sindex.html", H.o.web_dir, url);
    }
    enum MHD_Result ok = http_file(rq, path, http_mime(path));
    free(path);
    return ok;
}

static enum MHD_Result http_metrics(http_req *rq) {
    size_t len = 0;
    char *body = srv_metrics_render(H.repo, &len);
    if (!body) return http_error(rq, 500, "out of memory");
    size_t slen = 0;
    char *swarm = swarm_metrics_render(&slen), *all = swarm ? realloc(body, len + slen) : NULL;
    if (all) {
        memcpy(all + len, swarm, slen);
        body = all;
        len += slen;
    }
    free(swarm);
    return http_send(rq, 200, body, len, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

static enum MHD_Result http_results_post(http_req *rq) {
    if (!H.store) return http_error(rq, 503, "no results store is configured");
    char err[512] = "";
    int64_t id = 0;
    int rc = store_insert(H.store, rq->body ? rq->body : "", rq->len, &id, err, sizeof err);
    if (rc == -1) return http_error(rq, 400, "%s", err[0] ? err : "bad result document");
    if (rc != 0) return http_error(rq, 500, "results store: %s", err[0] ? err : "failure");
    char *body = malloc(64);
    if (!body) return http_error(rq, 500, "out of memory");
    int n = snprintf(body, 64, "{\"id\": %lld}", (long long)id);
    return http_send(rq, 201, body, (size_t)n, "application/json", NULL);
}

static enum MHD_Result http_results_get(http_req *rq) {
    if (!H.store) return http_error(rq, 503, "no results store is configured");
    store_filter f;
    memset(&f, 0, sizeof f);
    f.source = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "source");
    f.model = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "model");
    f.engine = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "engine");
    f.since = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "since");
    const char *lim = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (lim) {
        char *end;
        errno = 0;
        long long v = strtoll(lim, &end, 10);
        if (!*lim || *end || errno || v < 1 || v > 1000000) return http_error(rq, 400, "limit must be in 1..1000000");
        f.limit = v;
    }
    const char *fmt = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "format");
    const char *accept = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Accept");
    int csv = 0;
    if (fmt) {
        if (strcmp(fmt, "csv") == 0) csv = 1;
        else if (strcmp(fmt, "json") != 0) return http_error(rq, 400, "format must be json or csv");
    } else if (accept && strstr(accept, "text/csv")) {
        csv = 1;
    }
    char err[512] = "", *out = NULL;
    size_t outlen = 0;
    int rc = store_query(H.store, &f, csv ? STORE_CSV : STORE_JSON, &out, &outlen, err, sizeof err);
    if (rc == -1) return http_error(rq, 400, "%s", err[0] ? err : "bad filter");
    if (rc != 0) return http_error(rq, 500, "results store: %s", err[0] ? err : "failure");
    return http_send(rq, 200, out, outlen, csv ? "text/csv; charset=utf-8" : "application/json", NULL);
}

/* Free a request's body and return its bytes to the budget. */
static void http_body_drop(http_req *rq) {
    if (rq->cap) atomic_fetch_sub(&H.buffered, (long long)rq->cap);
    free(rq->body);
    rq->body = NULL;
    rq->len = rq->cap = 0;
}

/* Sample images for the page: the PNG/JPEG files of --samples DIR; "cat_3.png" is labelled "cat". */
static int http_sample_ok(const char *name) {
    if (!name[0] || name[0] == '.' || strchr(name, '/') || strchr(name, '\\')) return 0;
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int http_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum MHD_Result http_samples(http_req *rq) {
    DIR *d = opendir(H.o.samples_dir);
    if (!d) return http_error(rq, 500, "cannot read the samples folder");
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!http_sample_ok(e->d_name) || n >= 10000) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        if ((names[n] = strdup(e->d_name)) != NULL) n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, http_cmp_str);
    json_doc doc;
    enum MHD_Result ok;
    if (json_doc_begin(&doc)) {
        ok = http_error(rq, 500, "out of memory");
    } else {
        json_object_begin(&doc.w);
        json_key(&doc.w, "samples");
        json_array_begin(&doc.w);
        for (size_t i = 0; i < n; i++) {
            char base[512], label[512], url[600];
            snprintf(base, sizeof base, "%s", names[i]);
            char *dot = strrchr(base, '.');
            if (dot) *dot = 0;
            snprintf(label, sizeof label, "%s", base);
            char *us = strrchr(label, '_');
            if (us && us[1] && strspn(us + 1, "0123456789") == strlen(us + 1)) *us = 0;
            snprintf(url, sizeof url, "/api/samples/%s", names[i]);
            json_object_begin(&doc.w);
            json_kv_string(&doc.w, "name", base);
            json_kv_string(&doc.w, "label", label);
            json_kv_string(&doc.w, "url", url);
            json_object_end(&doc.w);
        }
        json_array_end(&doc.w);
        json_object_end(&doc.w);
        ok = http_doc_send(rq, &doc, 200);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return ok;
}

static enum MHD_Result http_sample_file(http_req *rq, const char *url) {
    const char *name = url + 13;
    if (!http_sample_ok(name)) return http_error(rq, 404, "not found");
    size_t len = strlen(H.o.samples_dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (!path) return http_error(rq, 500, "out of memory");
    snprintf(path, len, "%s/%s", H.o.samples_dir, name);
    enum MHD_Result ok = http_file(rq, path, http_mime(path));
    free(path);
    return ok;
}

/* ---- inference ----------------------------------------------------------------------------------------------------- */

static void http_job_done(srv_job *job, void *arg) {
    http_req *rq = arg;
    (void)job;
    atomic_store(&rq->job_state, 2);
    MHD_resume_connection(rq->conn);
}

/* Parse an infer request into rq->job; returns 0 or sends the error. */
static int http_prepare_infer(http_req *rq, enum MHD_Result *ret) {
    srv_model *m = rq->model;
    int64_t hl = -1;
    const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (h) {
        char *end;
        errno = 0;
        long long v = strtoll(h, &end, 10);
        if (!*h || *end || errno || v < 0) {
            *ret = http_error(rq, 400, "Inference-Header-Content-Length '%.40s' is not a byte count", h);
            return -1;
        }
        hl = v;
    }
    char err[1024];
    int rc = proto_parse_infer(rq->body ? rq->body : "", rq->len, hl, &m->proto, &rq->job.req, err, sizeof err);
    if (rc) {
        *ret = http_error(rq, rc, "%s", err);
        return -1;
    }
    if (m->batchable) { /* stacked requests must agree on the batch: every input's leading dim is the same */
        for (int i = 1; i < m->nin; i++)
            if (rq->job.req.in[i].dims[0] != rq->job.req.in[0].dims[0]) {
                *ret = http_error(rq, 400, "inputs '%s' and '%s' have different batch sizes", m->in[0].name,
                                  m->in[i].name);
                return -1;
            }
    }
    rq->job.kind = SRV_JOB_INFER;
    return 0;
}

static int http_prepare_classify(http_req *rq, enum MHD_Result *ret) {
    srv_model *m = rq->model;
    const char *top = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "top");
    int64_t k = 5;
    if (top) {
        char *end;
        errno = 0;
        long long v = strtoll(top, &end, 10);
        if (!*top || *end || errno || v < 1 || v > 100000) {
            *ret = http_error(rq, 400, "top must be an integer in 1..100000");
            return -1;
        }
        k = v;
    }
    if (m->nin != 1 || m->in[0].dtype != TDM_FLOAT || m->in[0].rank != 4) {
        *ret = http_error(rq, 400, "model '%s' does not take one float32 [N, C, H, W] image input", m->name);
        return -1;
    }
    int64_t c = m->in[0].dims[1] > 0 ? m->in[0].dims[1] : 3;
    if (m->nstats > 1 && m->nstats != c) {
        *ret = http_error(rq, 500, "model '%s': config mean/std have %d values for %lld channels", m->name, m->nstats,
                          (long long)c);
        return -1;
    }
    if (!rq->body || !image_is_image((const unsigned char *)rq->body, rq->len)) {
        *ret = http_error(rq, 400, "the body is not a PNG or JPEG image");
        return -1;
    }
    int64_t hh = m->size_h ? m->size_h : m->in[0].dims[2], ww = m->size_w ? m->size_w : m->in[0].dims[3];
    if (hh < 0) hh = 0;
    if (ww < 0) ww = 0;
    float *pix = NULL;
    char err[512];
    if (image_decode((const unsigned char *)rq->body, rq->len, (int)c, &hh, &ww, m->mean, m->std, m->nstats, &pix, err,
                     sizeof err) != 0) {
        *ret = http_error(rq, 400, "%s", err);
        return -1;
    }
    if ((m->in[0].dims[2] > 0 && hh != m->in[0].dims[2]) || (m->in[0].dims[3] > 0 && ww != m->in[0].dims[3]) ||
        c * hh * ww > m->proto.max_elems) {
        free(pix);
        *ret = http_error(rq, 400, "the image size %lld x %lld does not fit the model input", (long long)hh,
                          (long long)ww);
        return -1;
    }
    proto_request *req = &rq->job.req;
    req->ninputs = 1;
    req->in[0].rank = 4;
    req->in[0].dims[0] = 1;
    req->in[0].dims[1] = c;
    req->in[0].dims[2] = hh;
    req->in[0].dims[3] = ww;
    req->in[0].data = pix;
    req->in[0].bytes = (size_t)(c * hh * ww) * sizeof(float);
    rq->job.kind = SRV_JOB_CLASSIFY;
    rq->job.top_k = (int)k;
    return 0;
}

static enum MHD_Result http_infer_start(http_req *rq) {
    double t0 = srv_now();
    enum MHD_Result ret = MHD_YES;
    memset(&rq->job, 0, sizeof rq->job);
    int rc = rq->route == R_INFER ? http_prepare_infer(rq, &ret) : http_prepare_classify(rq, &ret);
    rq->pre_ms = (srv_now() - t0) * 1e3;
    http_body_drop(rq); /* the parsed tensors hold what is needed */
    if (rc) return ret;
    rq->job.model = rq->model;
    rq->job.done = http_job_done;
    rq->job.done_arg = rq;
    atomic_store(&rq->job_state, 1);
    MHD_suspend_connection(rq->conn);
    int sub = srv_batcher_submit(&rq->job);
    if (sub != 0) {
        atomic_store(&rq->job_state, 0);
        MHD_resume_connection(rq->conn);
        if (sub == -2) return http_error(rq, 503, "model '%s': its queue is full; retry later", rq->model->name);
        return http_error(rq, 503, "the server is shutting down");
    }
    return MHD_YES;
}

static enum MHD_Result http_infer_finish(http_req *rq) {
    srv_job *j = &rq->job;
    char timing[256], hl[32];
    snprintf(timing, sizeof timing, "queue;dur=%.3f, preprocess;dur=%.3f, infer;dur=%.3f, postprocess;dur=%.3f",
             j->queue_ms, rq->pre_ms, j->infer_ms, j->post_ms);
    char *body = j->body;
    j->body = NULL;
    struct MHD_Response *r = NULL;
    const char *ctype = j->json_len ? "application/octet-stream" : "application/json";
    if (http_send(rq, j->status, body, body ? j->body_len : 0, ctype, &r) != MHD_YES || !r) return MHD_NO;
    MHD_add_response_header(r, "Server-Timing", timing);
    if (j->json_len) {
        snprintf(hl, sizeof hl, "%zu", j->json_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", hl);
    }
    char bs[32];
    snprintf(bs, sizeof bs, "%lld", (long long)j->batch_run);
    MHD_add_response_header(r, "X-Tandem-Batch", bs);
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)j->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- the swarm (swarm.c answers; this passes the request and sends the answer) ----------------------------------- */

static const char *http_swarm_arg(void *conn, const char *key) {
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

static const char *http_swarm_header(void *conn, const char *key) {
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, key);
}

static enum MHD_Result http_swarm(http_req *rq, const char *url) {
    char peer[INET6_ADDRSTRLEN + 8] = "?";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
                    peer, sizeof peer, NULL, 0, NI_NUMERICHOST);
    swarm_exchange x = {url, rq->body, rq->len, peer, http_swarm_arg, http_swarm_header, rq->conn, 0, NULL, 0, NULL,
                        0, 0};
    double t0 = srv_now();
    swarm_handle(rq->swarm_route, &x);
    char timing[64];
    snprintf(timing, sizeof timing, "swarm;dur=%.3f", (srv_now() - t0) * 1e3);
    http_body_drop(rq);
    struct MHD_Response *r = NULL;
    if (http_send(rq, x.status, x.out, x.out_len, x.ctype, &r) != MHD_YES || !r) return MHD_NO;
    if (x.unauthorized) MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"tandem jobs\"");
    if (x.retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", x.retry_after_s);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Server-Timing", timing);
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)x.status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- the libmicrohttpd callbacks ----------------------------------------------------------------------------------- */

/* The most body bytes a request may send: the server's limit, or a swarm route's smaller one. */
static size_t http_body_limit(const http_req *rq) {
    return rq->route == R_SWARM && rq->swarm_cap < H.o.max_body ? rq->swarm_cap : H.o.max_body;
}

static enum MHD_Result http_dispatch(http_req *rq, const char *url) {
    switch (rq->route) {
    case R_V2: return http_v2(rq);
    case R_LIVE: return http_send(rq, 200, NULL, 0, NULL, NULL);
    case R_READY: /* the protocol: 200 = true, 4xx = false, the body empty */
        return http_send(rq, atomic_load(&H.ready) ? 200 : 400, NULL, 0, NULL, NULL);
    case R_MODEL_META: return http_model_meta(rq);
    case R_MODEL_READY:
        return http_send(rq, atomic_load(&H.ready) ? 200 : 400, NULL, 0, NULL, NULL);
    case R_MODEL_FILE: return http_file(rq, rq->model->path, "application/octet-stream");
    case R_METRICS: return http_metrics(rq);
    case R_API_MODELS: return http_api_models(rq);
    case R_RESULTS_POST: return http_results_post(rq);
    case R_RESULTS_GET: return http_results_get(rq);
    case R_SAMPLES: return http_samples(rq);
    case R_SAMPLE_FILE: return http_sample_file(rq, url);
    case R_STATIC: return http_static(rq, url);
    case R_INFER:
    case R_CLASSIFY: return http_infer_start(rq);
    case R_SWARM: return http_swarm(rq, url);
    case R_OPTIONS: {
        enum MHD_Result ok;
        struct MHD_Response *r = NULL;
        if (http_send(rq, 204, NULL, 0, NULL, &r) != MHD_YES || !r) return MHD_NO;
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                "Content-Type, Inference-Header-Content-Length, Authorization");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        ok = MHD_queue_response(rq->conn, 204, r);
        MHD_destroy_response(r);
        return ok;
    }
    case R_METHOD: {
        struct MHD_Response *r = NULL;
        size_t len = 0;
        char *body = proto_error_json("method not allowed", &len);
        if (http_send(rq, 405, body, body ? len : 0, "application/json", &r) != MHD_YES || !r) return MHD_NO;
        MHD_add_response_header(r, "Allow", rq->allow);
        enum MHD_Result ok = MHD_queue_response(rq->conn, 405, r);
        MHD_destroy_response(r);
        return ok;
    }
    default:
        if (strncmp(url, "/v2/models/", 11) == 0 && !rq->model) {
            size_t n = strcspn(url + 11, "/");
            return http_error(rq, 404, "unknown model '%.*s'", (int)(n < 200 ? n : 200), url + 11);
        }
        return http_error(rq, 404, "not found");
    }
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls) {
    (void)cls;
    (void)version;
    http_req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        rq->conn = conn;
        rq->t_arrival = srv_now();
        *con_cls = rq;
        atomic_fetch_add(&H.inflight, 1);
        srv_metrics_inflight(1);
        http_route(rq, method, url);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (*end == 0 && v > http_body_limit(rq)) {
                rq->too_large = 3; /* answered now; whatever of the body still arrives is dropped */
                return http_error(rq, 413, "the request body of %llu bytes exceeds the limit of %zu", v,
                                  http_body_limit(rq));
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        int wants_body = rq->route == R_INFER || rq->route == R_CLASSIFY || rq->route == R_RESULTS_POST ||
                         (rq->route == R_SWARM && rq->swarm_cap > 0);
        if (!wants_body || rq->too_large) return MHD_YES;
        if (rq->len + n > http_body_limit(rq)) { /* chunked uploads have no Content-Length to check up front */
            http_body_drop(rq);
            rq->too_large = 1;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1) cap *= 2;
            if (cap > H.o.max_body + 1) cap = H.o.max_body + 1;
            /* all bodies together stay under the budget, so many clients cannot exhaust memory */
            long long grow = (long long)(cap - rq->cap);
            if (atomic_fetch_add(&H.buffered, grow) + grow > (long long)H.o.max_buffered) {
                atomic_fetch_sub(&H.buffered, grow);
                http_body_drop(rq);
                rq->too_large = 2;
                return MHD_YES;
            }
            char *nb = realloc(rq->body, cap);
            if (!nb) {
                atomic_fetch_sub(&H.buffered, grow);
                http_body_drop(rq);
                rq->too_large = 2;
                return MHD_YES;
            }
            rq->body = nb;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = 0;
        return MHD_YES;
    }
    if (atomic_load(&rq->job_state) == 2) return http_infer_finish(rq);
    if (atomic_load(&rq->job_state) == 1) return MHD_YES; /* spurious call while suspended */
    if (rq->too_large == 3) return MHD_YES;
    if (rq->too_large == 2) return http_error(rq, 503, "the server holds too many request bodies; retry later");
    if (rq->too_large) return http_error(rq, 413, "the request body exceeds the limit of %zu bytes", http_body_limit(rq));
    return http_dispatch(rq, url);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    http_req *rq = *con_cls;
    if (!rq) return;
    *con_cls = NULL;
    if (rq->route == R_INFER || rq->route == R_CLASSIFY)
        srv_metrics_request(rq->model, rq->status == 0 || rq->status >= 400, srv_now() - rq->t_arrival);
    /* a connection that dies while its job is queued: the job still runs and writes into rq, so wait for it. This
     * cannot happen for a suspended connection (libmicrohttpd does not time those out) but stays safe if it does. */
    while (atomic_load(&rq->job_state) == 1) http_sleep_ms(1);
    srv_job_clear(&rq->job);
    http_body_drop(rq);
    free(rq);
    srv_metrics_inflight(-1);
    atomic_fetch_sub(&H.inflight, 1);
}

int srv_http_start(srv_repo *repo, tdm_store *store, const srv_http_opts *o, int *port_out, char *err, size_t errlen) {
    memset(&H, 0, sizeof H);
    H.repo = repo;
    H.store = store;
    H.o = *o;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int have_addr = 0;
    if (o->host) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        char port[16];
        snprintf(port, sizeof port, "%d", o->port);
        int gr = getaddrinfo(o->host, port, &hints, &res);
        if (gr != 0 || !res) {
            snprintf(err, errlen, "cannot resolve host '%s': %s", o->host, gai_strerror(gr));
            return -1;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        have_addr = 1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (have_addr && ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, o->io_threads > 1 ? o->io_threads : 0, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->max_conns, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->max_header, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->timeout_s, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, NULL},
        {have_addr ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, 0, have_addr ? (void *)&ss : NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    H.daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, http_access, NULL, MHD_OPTION_ARRAY, opts,
                                MHD_OPTION_END);
    if (!H.daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (is the port in use?)", o->host ? o->host : "*", o->port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(H.daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port_out = info ? (int)info->port : o->port;
    atomic_store(&H.ready, 1);
    return 0;
}

void srv_http_quiesce(void) {
    atomic_store(&H.ready, 0);
    if (!H.daemon) return;
    MHD_socket s = MHD_quiesce_daemon(H.daemon);
    if (s != MHD_INVALID_SOCKET) close(s);
}

int64_t srv_http_drain(double timeout_s) {
    double end = srv_now() + timeout_s;
    while (atomic_load(&H.inflight) > 0 && srv_now() < end) http_sleep_ms(2);
    return (int64_t)atomic_load(&H.inflight);
}

void srv_http_stop(void) {
    if (H.daemon) MHD_stop_daemon(H.daemon);
    H.daemon = NULL;
}
