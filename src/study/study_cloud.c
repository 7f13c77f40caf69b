/* study_cloud.c - `tandem study --cloud URL`: the cloud path against any Open Inference Protocol (KServe v2 REST)
 * server - Triton, KServe, or a tandem serve on another machine - as it really is, over the real network from this
 * machine (no emulation). It asks the server about itself (GET /v2) and each model (GET /v2/models/<name>, the
 * same names as the study's), then sends every sample through POST /v2/models/<name>/infer with Triton's binary
 * tensor extension (images preprocessed here, as the native path does; tensor models their sample files). Each
 * request is split on the client (TCP connect, upload, wait for the first byte, download) and, when the server
 * sends a Server-Timing header, into the server's own parts. The first output's top-1 joins the agreement check.
 * Failures (an unreachable endpoint, a model the server lacks, a request it refuses) are recorded in the results
 * with their reason; they never stop the study, so the local paths still report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "study.h"
#include "study_http.h"

#define CLOUD_TIMEOUT_MS 60000

static const char *kserve_dtype(tdm_dtype t) {
    switch (t) {
    case TDM_FLOAT: return "FP32";
    case TDM_INT64: return "INT64";
    case TDM_INT32: return "INT32";
    case TDM_UINT8: return "UINT8";
    case TDM_INT8: return "INT8";
    case TDM_BOOL: return "BOOL";
    case TDM_DOUBLE: return "FP64";
    case TDM_FLOAT16: return "FP16";
    default: return "BYTES";
    }
}

/* GET url as JSON (NULL with the reason in err). */
static cJSON *get_json(const char *url, char *err, size_t errlen) {
    study_http_response r;
    if (study_http(url, "GET", NULL, NULL, 0, 10000, &r)) {
        err_set(err, errlen, "cannot reach %s", url);
        return NULL;
    }
    cJSON *j = r.status == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
    if (!j) err_set(err, errlen, "%s answered %d: %.200s", url, r.status, r.body ? r.body : "");
    study_http_free(&r);
    return j;
}

/* "queue;dur=0.1, infer;dur=2.5" into {"queue":0.1,"infer":2.5}; the sum in *total. */
static cJSON *server_timing(const char *h, double *total) {
    cJSON *o = cJSON_CreateObject();
    *total = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", h);
    for (char *save = NULL, *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ') e++;
        char *semi = strchr(e, ';'), *dur = strstr(e, "dur=");
        if (!semi || !dur) continue;
        *semi = 0;
        double v = atof(dur + 4);
        cJSON_AddNumberToObject(o, e, v);
        *total += v;
    }
    return o;
}

/* The request body: the JSON header then every input's raw bytes. */
static char *infer_body(const study_plan *p, int m, int k, char **imgs, size_t *len, size_t *hlen, char *err,
                        size_t errlen) {
    const study_model_io *io = &p->io[m];
    void *data[STUDY_MAX_INPUTS] = {0};
    size_t bytes[STUDY_MAX_INPUTS] = {0}, total = 0;
    int ok = 1;
    for (int i = 0; i < io->n_inputs && ok; i++) {
        data[i] = io->image ? (void *)study_image_tensor(p, m, imgs[k], &bytes[i], err, errlen)
                            : study_sample_read(p, m, k, i, &bytes[i]);
        if (!data[i]) {
            if (!io->image) err_set(err, errlen, "cannot read sample %d", k);
            ok = 0;
        }
        total += bytes[i];
    }
    char *body = NULL;
    if (ok) {
        cJSON *h = cJSON_CreateObject(), *ins = cJSON_AddArrayToObject(h, "inputs");
        for (int i = 0; i < io->n_inputs; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", io->in[i].name);
            double d[TDM_MAX_RANK];
            for (int r = 0; r < io->in[i].rank; r++) d[r] = (double)io->in[i].dims[r];
            cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray(d, io->in[i].rank));
            cJSON_AddStringToObject(o, "datatype", kserve_dtype(io->in[i].dtype));
            cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "parameters"), "binary_data_size", (double)bytes[i]);
            cJSON_AddItemToArray(ins, o);
        }
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(h, "parameters"), "binary_data_output", 1);
        char *ht = cJSON_PrintUnformatted(h);
        cJSON_Delete(h);
        if (ht && (body = malloc(strlen(ht) + total + 1))) {
            *hlen = strlen(ht);
            memcpy(body, ht, *hlen);
            size_t off = *hlen;
            for (int i = 0; i < io->n_inputs; i++) memcpy(body + off, data[i], bytes[i]), off += bytes[i];
            *len = off;
        }
        free(ht);
        if (!body) err_set(err, errlen, "out of memory");
    }
    for (int i = 0; i < io->n_inputs; i++) free(data[i]);
    return body;
}

/* The top-1 of the first output of an infer response (binary or JSON data), or -1. */
static int response_top1(const study_http_response *r) {
    char hb[32];
    const char *hl = study_http_header(r, "Inference-Header-Content-Length", hb, sizeof hb);
    size_t jl = hl ? (size_t)atol(hl) : r->len;
    if (jl > r->len) return -1;
    cJSON *j = cJSON_ParseWithLength(r->body, jl);
    const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "outputs"), 0);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape"), *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
    int best = -1, rank = cJSON_GetArraySize(shape);
    int64_t k = rank > 0 ? (int64_t)cJSON_GetArrayItem(shape, rank - 1)->valuedouble : 0;
    if (k > 0 && cJSON_IsString(dt) && !strcmp(dt->valuestring, "FP32")) {
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "parameters"),
                                                           "binary_data_size");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
        float mx = -INFINITY;
        if (cJSON_IsNumber(bs) && hl && jl + (size_t)k * 4 <= r->len) {
            const float *f = (const float *)(const void *)(r->body + jl); /* the first output's bytes come first */
            for (int64_t i = 0; i < k; i++) {
                float v;
                memcpy(&v, f + i, sizeof v);
                if (v > mx) mx = v, best = (int)i;
            }
        } else if (cJSON_GetArraySize(data) >= k) {
            int64_t i = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, data) {
                if (i == k) break;
                if (v->valuedouble > mx) mx = (float)v->valuedouble, best = (int)i;
                i++;
            }
        }
    }
    cJSON_Delete(j);
    return best;
}

/* The study's image files for model m (sorted names img_000.png ...). */
static char **image_list(const study_plan *p, int m) {
    char **v = calloc((size_t)p->images + 1, sizeof *v);
    for (int k = 0; v && k < p->images; k++) {
        size_t n = strlen(p->io[m].image_dir) + 32;
        if ((v[k] = malloc(n))) snprintf(v[k], n, "%s/img_%03d.png", p->io[m].image_dir, k);
    }
    return v;
}

static cJSON *remote_model(const study_plan *p, int m, const char *base) {
    cJSON *row = cJSON_CreateObject();
    char url[2048], err[512] = "";
    snprintf(url, sizeof url, "%s/v2/models/%s", base, p->model_name[m]);
    cJSON *meta = get_json(url, err, sizeof err);
    if (!meta) {
        cJSON_AddStringToObject(row, "error", err);
        return row;
    }
    cJSON_AddItemToObject(row, "metadata", meta);
    snprintf(url, sizeof url, "%s/v2/models/%s/infer", base, p->model_name[m]);
    char **imgs = p->io[m].image ? image_list(p, m) : NULL;
    int n = p->images, okn = 0, errors = 0;
    double *tot = calloc((size_t)n + 1, sizeof *tot), *con = calloc((size_t)n + 1, sizeof *con);
    double *up = calloc((size_t)n + 1, sizeof *up), *wait = calloc((size_t)n + 1, sizeof *wait);
    double *down = calloc((size_t)n + 1, sizeof *down), *srv = calloc((size_t)n + 1, sizeof *srv);
    double req_bytes = 0, resp_bytes = 0;
    int have_st = 0;
    cJSON *top1 = cJSON_AddArrayToObject(row, "top1"), *parts = NULL;
    for (int k = 0; k < n && tot && con && up && wait && down && srv; k++) {
        size_t len = 0, hlen = 0;
        char *body = infer_body(p, m, k, imgs, &len, &hlen, err, sizeof err);
        if (!body) break;
        char extra[96];
        snprintf(extra, sizeof extra, "Inference-Header-Content-Length: %zu\r\n", hlen);
        study_http_response r;
        double t0 = clock_now_ms();
        int rc = study_http_ex(url, "POST", "application/octet-stream", extra, body, len, CLOUD_TIMEOUT_MS, &r);
        double wall = clock_now_ms() - t0;
        free(body);
        if (rc || r.status != 200) {
            errors++;
            if (!rc) snprintf(err, sizeof err, "%s answered %d: %.300s", url, r.status, r.body ? r.body : "");
            else snprintf(err, sizeof err, "no answer from %s", url);
            cJSON_AddItemToArray(top1, cJSON_CreateNumber(-1));
            if (!rc) study_http_free(&r);
            continue;
        }
        char stb[1024];
        const char *sth = study_http_header(&r, "Server-Timing", stb, sizeof stb);
        if (sth) {
            cJSON *pt = server_timing(sth, &srv[okn]);
            have_st = 1;
            if (!parts) parts = pt; /* the first request's parts, as an example of what the server reports */
            else cJSON_Delete(pt);
        }
        tot[okn] = wall, con[okn] = r.connect_ms, up[okn] = r.send_ms, wait[okn] = r.wait_ms, down[okn] = r.download_ms;
        req_bytes = (double)len, resp_bytes = (double)r.len;
        okn++;
        cJSON_AddItemToArray(top1, cJSON_CreateNumber(response_top1(&r)));
        study_http_free(&r);
    }
    cJSON_AddNumberToObject(row, "requests", n);
    cJSON_AddNumberToObject(row, "errors", n - okn);
    if (errors || okn < n) cJSON_AddStringToObject(row, "error", err[0] ? err : "requests failed");
    cJSON_AddNumberToObject(row, "request_bytes", req_bytes);
    cJSON_AddNumberToObject(row, "response_bytes", resp_bytes);
    cJSON_AddItemToObject(row, "total_ms", study_stats(tot, okn));
    cJSON_AddItemToObject(row, "connect_ms", study_stats(con, okn)); /* one TCP handshake: about one RTT */
    cJSON_AddItemToObject(row, "upload_ms", study_stats(up, okn));
    cJSON_AddItemToObject(row, "wait_ms", study_stats(wait, okn));
    cJSON_AddItemToObject(row, "download_ms", study_stats(down, okn));
    if (have_st) {
        cJSON_AddItemToObject(row, "server_ms", study_stats(srv, okn));
        cJSON_AddItemToObject(row, "server_timing_example", parts);
    } else {
        cJSON_AddStringToObject(row, "server_timing", "not sent by this server: client-side split only");
    }
    for (int k = 0; imgs && k < n; k++) free(imgs[k]);
    free(imgs);
    free(tot), free(con), free(up), free(wait), free(down), free(srv);
    return row;
}

void study_remote_cloud(const study_plan *p, cJSON *results) {
    char base[1024], err[512];
    size_t l = strlen(p->cloud_url);
    while (l > 7 && p->cloud_url[l - 1] == '/') l--;
    snprintf(base, sizeof base, "%.*s", (int)l, p->cloud_url);
    cJSON *rc = cJSON_AddObjectToObject(results, "remote_cloud");
    cJSON_AddStringToObject(rc, "endpoint", base);
    char url[1100];
    snprintf(url, sizeof url, "%s/v2", base);
    study_progress("cloud: %s (KServe v2)", base);
    cJSON *srv = get_json(url, err, sizeof err);
    if (!srv) {
        study_progress("cloud: %s: %s; the local paths still report", base, err);
        cJSON_AddStringToObject(rc, "error", err);
        return;
    }
    cJSON_AddItemToObject(rc, "server", srv);
    cJSON *mlist = cJSON_GetObjectItemCaseSensitive(results, "models"), *me;
    cJSON_ArrayForEach(me, mlist) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(me, "name");
        int m = 0;
        while (m < p->n_models && strcmp(p->model_name[m], nm->valuestring)) m++;
        if (m == p->n_models || !p->io[m].ok) continue;
        study_progress("cloud: %s: %d requests to %s", p->model_name[m], p->images, base);
        cJSON *row = remote_model(p, m, base);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "error");
        if (cJSON_IsString(e)) study_progress("cloud: %s: %s", p->model_name[m], e->valuestring);
        cJSON_AddItemToObject(me, "remote_cloud", row);
    }
}
