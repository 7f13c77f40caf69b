/* srv_client.c - a small KServe v2 client for tests/server/run.sh: sends ONNX test-data tensors to `tandem serve` as
 * JSON or with Triton's binary tensor extension, and checks the outputs against the golden TensorProto (within 1e-4
 * relative or 1e-5 absolute, the tolerance of tests/test_models.c). The batch mode splits a batch into single-image
 * requests, sends them from many threads at once and checks every answer against the same request answered alone, so
 * dynamic batching is proven not to change results.
 *
 *   srv_client infer PORT MODEL INPUT.pb GOLDEN.pb MODE [INPUT_NAME]   MODE: json | binary | binary-in | binary-out
 *   srv_client batch PORT MODEL INPUT.pb GOLDEN.pb THREADS ROUNDS
 *   srv_client budget PORT PATH HOLD SECOND   holds a request with HOLD of its body bytes sent, then sends one with
 *                                SECOND bytes on another connection and prints that one's status
 *   srv_client ready2 PORT MS    on one keep-alive connection: GET /v2/health/ready, wait MS, again; prints both
 *                                statuses (the SIGTERM test: ready, then not ready while draining)
 *   srv_client conns PORT N      opens N connections at once, then asks GET /v2/health/live on each; prints how
 *                                many were answered (the server's --max-connections caps it)
 * Exit 0 when every check passes; messages on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tandem.h"

typedef struct resp {
    int status;
    char *headers; /* NUL-terminated header block */
    char *body;
    size_t body_len;
} resp;

static int port_g;
static const char *in_name_g = "input";

static void resp_free(resp *r) {
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Value of header `name` in r (copied into out), or NULL. */
static const char *resp_header(const resp *r, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol) break;
        if ((size_t)(eol - p) > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(eol - v) < cap - 1 ? (size_t)(eol - v) : cap - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

/* One HTTP/1.1 request on a fresh connection (Connection: close), reading the response to EOF. */
static int http_post(const char *path, const char *extra_headers, const void *body, size_t len, resp *r) {
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port_g);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", path,
                      len, extra_headers ? extra_headers : "");
    size_t total = (size_t)hn + len;
    char *req = malloc(total);
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, body, len);
    size_t off = 0;
    while (off < total) {
        ssize_t w = send(fd, req + off, total - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(req);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? cap * 2 : 131072;
            buf = realloc(buf, cap);
        }
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (!buf) return -1;
    buf[n] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
        free(buf);
        return -1;
    }
    size_t hl = (size_t)(sep - buf) + 2;
    r->headers = malloc(hl + 1);
    memcpy(r->headers, buf, hl);
    r->headers[hl] = 0;
    r->body_len = n - (hl + 2);
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = 0;
    free(buf);
    return 0;
}

/* A request for rows [row, row+nrows) of t (nrows = 0: the whole tensor). */
static int make_request(const char *in_name, const tdm_tensor *t, int64_t row, int64_t nrows, int bin_in, int bin_out,
                        char **body, size_t *len, char *hdr, size_t hcap) {
    int64_t numel = tdm_tensor_numel(t);
    int64_t per = numel / t->dims[0];
    int64_t n0 = nrows ? nrows : t->dims[0];
    const float *data = (const float *)t->data + row * per;
    int64_t cnt = n0 * per;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", "srv_client");
    cJSON *ins = cJSON_AddArrayToObject(root, "inputs");
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "name", in_name);
    cJSON_AddStringToObject(in, "datatype", "FP32");
    cJSON *shape = cJSON_AddArrayToObject(in, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)n0));
    for (int d = 1; d < t->rank; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[d]));
    if (bin_in) {
        cJSON *p = cJSON_AddObjectToObject(in, "parameters");
        cJSON_AddNumberToObject(p, "binary_data_size", (double)cnt * 4);
    } else {
        cJSON *a = cJSON_AddArrayToObject(in, "data");
        for (int64_t i = 0; i < cnt; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)data[i]));
    }
    cJSON_AddItemToArray(ins, in);
    if (bin_out) {
        cJSON *p = cJSON_AddObjectToObject(root, "parameters");
        cJSON_AddTrueToObject(p, "binary_data_output");
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t jl = strlen(json);
    *len = jl + (bin_in ? (size_t)cnt * 4 : 0);
    *body = malloc(*len);
    memcpy(*body, json, jl);
    if (bin_in) memcpy(*body + jl, data, (size_t)cnt * 4);
    free(json);
    hdr[0] = 0;
    if (bin_in)
        snprintf(hdr, hcap, "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: %zu\r\n", jl);
    else snprintf(hdr, hcap, "Content-Type: application/json\r\n");
    return 0;
}

/* Extract the first output as floats (malloc'd) from a JSON or binary response. */
static float *parse_output(const resp *r, int64_t *count, int64_t *dim0, char *why, size_t wl) {
    char hv[64];
    size_t jl = r->body_len;
    int binary = resp_header(r, "Inference-Header-Content-Length", hv, sizeof hv) != NULL;
    if (binary) jl = (size_t)strtoull(hv, NULL, 10);
    if (jl > r->body_len) {
        snprintf(why, wl, "header length %zu > body %zu", jl, r->body_len);
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength(r->body, jl);
    const cJSON *outs = root ? cJSON_GetObjectItem(root, "outputs") : NULL;
    const cJSON *o = outs ? cJSON_GetArrayItem(outs, 0) : NULL;
    const cJSON *shape = o ? cJSON_GetObjectItem(o, "shape") : NULL;
    const cJSON *dt = o ? cJSON_GetObjectItem(o, "datatype") : NULL;
    if (!shape || !cJSON_IsString(dt) || strcmp(dt->valuestring, "FP32") != 0) {
        snprintf(why, wl, "response has no FP32 output: %.200s", r->body);
        cJSON_Delete(root);
        return NULL;
    }
    int64_t n = 1;
    for (const cJSON *e = shape->child; e; e = e->next) n *= (int64_t)e->valuedouble;
    *dim0 = (int64_t)shape->child->valuedouble;
    float *v = malloc((size_t)n * sizeof *v);
    const cJSON *p = cJSON_GetObjectItem(o, "parameters");
    const cJSON *bs = p ? cJSON_GetObjectItem(p, "binary_data_size") : NULL;
    if (bs) {
        if (!binary || (size_t)bs->valuedouble != (size_t)n * 4 || r->body_len - jl != (size_t)n * 4) {
            snprintf(why, wl, "binary output size mismatch");
            free(v);
            cJSON_Delete(root);
            return NULL;
        }
        memcpy(v, r->body + jl, (size_t)n * 4);
    } else {
        const cJSON *d = cJSON_GetObjectItem(o, "data");
        if (!cJSON_IsArray(d) || cJSON_GetArraySize(d) != n) {
            snprintf(why, wl, "data has %d elements, shape says %lld", d ? cJSON_GetArraySize(d) : -1, (long long)n);
            free(v);
            cJSON_Delete(root);
            return NULL;
        }
        int64_t i = 0;
        for (const cJSON *e = d->child; e; e = e->next) v[i++] = (float)e->valuedouble;
    }
    cJSON_Delete(root);
    *count = n;
    return v;
}

static double compare(const float *got, const float *want, int64_t n, int *ok) {
    double worst = 0;
    *ok = 1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > worst) worst = d;
        if (!(d <= 1e-5 + 1e-4 * fabs((double)want[i]))) *ok = 0;
    }
    return worst;
}

static int cmd_infer(const char *model, const char *inp, const char *gold, const char *mode) {
    tdm_tensor *in = NULL, *g = NULL;
    if (tdm_tensor_read_file(inp, &in) || tdm_tensor_read_file(gold, &g)) {
        printf("cannot read %s or %s\n", inp, gold);
        return 1;
    }
    int bin_in = !strcmp(mode, "binary") || !strcmp(mode, "binary-in");
    int bin_out = !strcmp(mode, "binary") || !strcmp(mode, "binary-out");
    char *body, hdr[256], path[512], why[512];
    size_t len;
    make_request(in_name_g, in, 0, 0, bin_in, bin_out, &body, &len, hdr, sizeof hdr);
    snprintf(path, sizeof path, "/v2/models/%s/infer", model);
    resp r;
    int rc = 1;
    if (http_post(path, hdr, body, len, &r) != 0) {
        printf("request failed: %s\n", strerror(errno));
    } else if (r.status != 200) {
        printf("status %d: %.300s\n", r.status, r.body);
    } else {
        int64_t n = 0, d0 = 0;
        float *v = parse_output(&r, &n, &d0, why, sizeof why);
        char st[256];
        if (!v) printf("%s\n", why);
        else if (n != tdm_tensor_numel(g)) printf("output has %lld elements, golden %lld\n", (long long)n,
                                                  (long long)tdm_tensor_numel(g));
        else if (!resp_header(&r, "Server-Timing", st, sizeof st) || !strstr(st, "infer;dur="))
            printf("no Server-Timing header with infer;dur\n");
        else {
            int ok;
            double worst = compare(v, g->data, n, &ok);
            printf("%s: %lld values, max |diff| %.3g vs golden (%s); Server-Timing: %s\n", mode, (long long)n, worst,
                   ok ? "within tolerance" : "OUT OF TOLERANCE", st);
            rc = ok ? 0 : 1;
        }
        free(v);
    }
    resp_free(&r);
    free(body);
    tdm_tensor_free(in);
    tdm_tensor_free(g);
    return rc;
}

typedef struct bjob {
    const char *model;
    const tdm_tensor *in;
    const float *single; /* [rows][per_out] answers of lone requests */
    int64_t per_out, rows;
    int rounds, tid, failures, max_batch;
    int64_t checks;
} bjob;

static void *batch_thread(void *arg) {
    bjob *b = arg;
    char path[512], hdr[256], why[512], hv[32];
    snprintf(path, sizeof path, "/v2/models/%s/infer", b->model);
    for (int k = 0; k < b->rounds; k++) {
        int64_t row = (b->tid + k) % b->rows;
        char *body;
        size_t len;
        make_request(in_name_g, b->in, row, 1, (b->tid + k) % 2, 0, &body, &len, hdr, sizeof hdr);
        resp r;
        if (http_post(path, hdr, body, len, &r) != 0 || r.status != 200) {
            printf("thread %d row %lld: status %d %.200s\n", b->tid, (long long)row, r.status, r.body ? r.body : "");
            b->failures++;
        } else {
            int64_t n = 0, d0 = 0;
            float *v = parse_output(&r, &n, &d0, why, sizeof why);
            int ok = 0;
            if (v && n == b->per_out && d0 == 1) compare(v, b->single + row * b->per_out, n, &ok);
            if (!ok) {
                printf("thread %d row %lld: batched answer differs from the lone answer (%s)\n", b->tid,
                       (long long)row, v ? "values" : why);
                b->failures++;
            }
            b->checks++;
            if (resp_header(&r, "X-Tandem-Batch", hv, sizeof hv) && atoi(hv) > b->max_batch) b->max_batch = atoi(hv);
            free(v);
        }
        resp_free(&r);
        free(body);
    }
    return NULL;
}

static int cmd_batch(const char *model, const char *inp, const char *gold, int threads, int rounds) {
    tdm_tensor *in = NULL, *g = NULL;
    if (tdm_tensor_read_file(inp, &in) || tdm_tensor_read_file(gold, &g)) {
        printf("cannot read %s or %s\n", inp, gold);
        return 1;
    }
    int64_t rows = in->dims[0], per_out = tdm_tensor_numel(g) / rows;
    float *single = malloc((size_t)(rows * per_out) * sizeof *single);
    char path[512], hdr[256], why[512], hv[32];
    snprintf(path, sizeof path, "/v2/models/%s/infer", model);
    int fails = 0;
    for (int64_t row = 0; row < rows; row++) { /* one at a time: each runs alone (batch 1) */
        char *body;
        size_t len;
        make_request(in_name_g, in, row, 1, 0, 0, &body, &len, hdr, sizeof hdr);
        resp r;
        int64_t n = 0, d0 = 0;
        float *v = NULL;
        if (http_post(path, hdr, body, len, &r) == 0 && r.status == 200) v = parse_output(&r, &n, &d0, why, sizeof why);
        int ok = 0;
        if (v && n == per_out) compare(v, (const float *)g->data + row * per_out, n, &ok);
        if (!ok || !resp_header(&r, "X-Tandem-Batch", hv, sizeof hv) || atoi(hv) != 1) {
            printf("lone request for row %lld: wrong answer or not run alone\n", (long long)row);
            fails++;
        } else {
            memcpy(single + row * per_out, v, (size_t)per_out * sizeof *v);
        }
        free(v);
        free(body);
        resp_free(&r);
    }
    if (fails) return 1;
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    bjob *jobs = calloc((size_t)threads, sizeof *jobs);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (bjob){model, in, single, per_out, rows, rounds, t, 0, 0, 0};
        pthread_create(&th[t], NULL, batch_thread, &jobs[t]);
    }
    int max_batch = 0;
    int64_t checks = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        fails += jobs[t].failures;
        checks += jobs[t].checks;
        if (jobs[t].max_batch > max_batch) max_batch = jobs[t].max_batch;
    }
    printf("%d threads x %d requests: %lld answers checked against lone runs, %d failures, largest batch %d\n",
           threads, rounds, (long long)checks, fails, max_batch);
    if (max_batch < 2) {
        printf("no request was ever batched with another: dynamic batching did not happen\n");
        fails++;
    }
    free(th);
    free(jobs);
    free(single);
    tdm_tensor_free(in);
    tdm_tensor_free(g);
    return fails ? 1 : 0;
}

static int cmd_conns(int n) {
    int *fd = calloc((size_t)n, sizeof *fd), answered = 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port_g);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fd[i] >= 0 && connect(fd[i], (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd[i]);
            fd[i] = -1;
        }
    }
    nanosleep(&(struct timespec){0, 200000000L}, NULL); /* let the server accept (or refuse) every one of them */
    static const char req[] = "GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < n; i++) {
        if (fd[i] < 0) continue;
        struct timeval tv = {2, 0};
        setsockopt(fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[512];
        if (send(fd[i], req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
            ssize_t got = recv(fd[i], buf, sizeof buf - 1, 0);
            if (got > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0) answered++;
        }
    }
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0) close(fd[i]);
    free(fd);
    printf("%d\n", answered);
    return 0;
}

static int connect_local(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port_g);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int cmd_budget(const char *path, size_t hold, size_t second) {
    int fd = connect_local();
    if (fd < 0) return 1;
    char head[512];
    int hn = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", path,
                      hold + 100);
    char *zeros = calloc(1, hold > second ? hold : second);
    if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn) return 1;
    size_t off = 0;
    while (off < hold) {
        ssize_t w = send(fd, zeros + off, hold - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    nanosleep(&(struct timespec){0, 300000000L}, NULL); /* the server has buffered what was sent */
    resp r;
    int rc = http_post(path, NULL, zeros, second, &r);
    printf("%d\n", rc == 0 ? r.status : 0);
    resp_free(&r);
    close(fd);
    free(zeros);
    return 0;
}

static int ready_once(int fd) {
    static const char req[] = "GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[1024];
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) return 0;
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0); /* empty bodies: the whole response fits one read */
    int status = 0;
    if (got > 12) {
        buf[got] = 0;
        sscanf(buf, "HTTP/1.1 %d", &status);
    }
    return status;
}

static int cmd_ready2(long ms) {
    int fd = connect_local();
    if (fd < 0) return 1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int a = ready_once(fd);
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    int b = ready_once(fd);
    close(fd);
    printf("%d %d\n", a, b);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "infer")) {
        port_g = atoi(argv[2]);
        if (argc >= 8) in_name_g = argv[7];
        return cmd_infer(argv[3], argv[4], argv[5], argv[6]);
    }
    if (argc >= 8 && !strcmp(argv[1], "batch")) {
        port_g = atoi(argv[2]);
        return cmd_batch(argv[3], argv[4], argv[5], atoi(argv[6]), atoi(argv[7]));
    }
    if (argc >= 6 && !strcmp(argv[1], "budget")) {
        port_g = atoi(argv[2]);
        return cmd_budget(argv[3], (size_t)atoll(argv[4]), (size_t)atoll(argv[5]));
    }
    if (argc >= 4 && !strcmp(argv[1], "ready2")) {
        port_g = atoi(argv[2]);
        return cmd_ready2(atol(argv[3]));
    }
    if (argc >= 4 && !strcmp(argv[1], "conns")) {
        port_g = atoi(argv[2]);
        return cmd_conns(atoi(argv[3]));
    }
    fprintf(stderr, "usage: srv_client infer PORT MODEL INPUT.pb GOLDEN.pb json|binary|binary-in|binary-out\n"
                    "       srv_client batch PORT MODEL INPUT.pb GOLDEN.pb THREADS ROUNDS\n");
    return 2;
}
