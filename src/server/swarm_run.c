/* swarm_run.c - a swarm chunk computed natively (swarm_run.h): the job description, the CIFAR normalisation, the
 * engine runs and the output layout that the server's checks and `tandem worker` share. */
#include "swarm_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int desc_fail(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int swarm_desc_parse(const char *format, const cJSON *item_shape, const cJSON *outputs, const cJSON *prep,
                     int batch_any, swarm_desc *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->batch_any = batch_any;
    if (!format || (strcmp(format, "cifar") && strcmp(format, "tensor")))
        return desc_fail(err, errlen, "the job's format is neither cifar nor tensor");
    d->cifar = !strcmp(format, "cifar");
    if (!cJSON_IsArray(item_shape)) return desc_fail(err, errlen, "the job has no item_shape array");
    d->item_numel = 1;
    for (const cJSON *e = item_shape->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 1e9 || d->item_rank >= TDM_MAX_RANK - 1)
            return desc_fail(err, errlen, "the job's item_shape is not a list of positive sizes");
        d->item_dims[d->item_rank++] = (int64_t)e->valuedouble;
        d->item_numel *= (int64_t)e->valuedouble;
        if (d->item_numel > ((int64_t)1 << 32)) return desc_fail(err, errlen, "the job's items are too large");
    }
    if (d->cifar && (d->item_rank != 3 || d->item_dims[0] != 3 || d->item_dims[1] != 32 || d->item_dims[2] != 32))
        return desc_fail(err, errlen, "a cifar job's items must be [3, 32, 32]");
    d->item_bytes = d->cifar ? SWARM_CIFAR_RECORD : d->item_numel * 4;
    if (!cJSON_IsArray(outputs)) return desc_fail(err, errlen, "the job has no outputs array");
    for (const cJSON *o = outputs->child; o; o = o->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "numel");
        if (d->nout >= SWARM_MAX_OUT || !cJSON_IsNumber(n) || n->valuedouble < 1 || n->valuedouble > 1e9)
            return desc_fail(err, errlen, "the job's outputs are not a list of {\"numel\": N}");
        d->out_numel[d->nout++] = (int64_t)n->valuedouble;
        d->out_item += (int64_t)n->valuedouble;
    }
    if (!d->nout) return desc_fail(err, errlen, "the job lists no output");
    if (d->cifar) {
        const cJSON *mean = cJSON_GetObjectItemCaseSensitive(prep, "mean");
        const cJSON *std = cJSON_GetObjectItemCaseSensitive(prep, "std");
        if (cJSON_GetArraySize(mean) != 3 || cJSON_GetArraySize(std) != 3)
            return desc_fail(err, errlen, "a cifar job needs 3 mean and 3 std values");
        for (int c = 0; c < 3; c++) {
            const cJSON *m = cJSON_GetArrayItem(mean, c), *s = cJSON_GetArrayItem(std, c);
            if (!cJSON_IsNumber(m) || !cJSON_IsNumber(s) || !(s->valuedouble != 0) || !isfinite(m->valuedouble))
                return desc_fail(err, errlen, "the job's mean and std are not finite numbers (std nonzero)");
            float fm = (float)m->valuedouble, fs = (float)s->valuedouble;
            for (int x = 0; x < 256; x++) d->lut[c][x] = ((float)x / 255.0f - fm) / fs;
        }
    }
    return 0;
}

int swarm_desc_parse_text(const char *format, const char *item_shape, const char *outputs, const char *prep,
                          int batch_any, swarm_desc *d, char *err, size_t errlen) {
    cJSON *a = cJSON_Parse(item_shape ? item_shape : ""), *b = cJSON_Parse(outputs ? outputs : "");
    cJSON *c = cJSON_Parse(prep ? prep : "");
    int rc = swarm_desc_parse(format, a, b, c, batch_any, d, err, errlen);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    return rc;
}

void swarm_items_to_float(const swarm_desc *d, const unsigned char *items, int64_t n, float *x) {
    if (!d->cifar) {
        memcpy(x, items, (size_t)(n * d->item_numel) * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *px = items + i * SWARM_CIFAR_RECORD + 1;
        float *dst = x + i * d->item_numel;
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 1024; k++) dst[c * 1024 + k] = d->lut[c][px[c * 1024 + k]];
    }
}

/* Run `count` items (already floats) as one batch and copy their outputs to out at item offset `at` of n. */
static int run_batch(tdm_session *s, const swarm_desc *d, const float *x, int64_t count, int64_t at, int64_t n,
                     float *out, char *err, size_t errlen) {
    int64_t dims[TDM_MAX_RANK];
    dims[0] = count;
    for (int k = 0; k < d->item_rank; k++) dims[k + 1] = d->item_dims[k];
    tdm_status st = tdm_session_set_input_shape(s, 0, dims, d->item_rank + 1);
    if (st == TDM_OK) st = tdm_session_set_input(s, 0, x, (size_t)(count * d->item_numel) * sizeof(float));
    if (st == TDM_OK) st = tdm_session_run(s);
    if (st != TDM_OK) {
        snprintf(err, errlen, "the model failed: %s", tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
        return -1;
    }
    int64_t base = 0;
    for (int o = 0; o < d->nout; o++) {
        tdm_tensor_info info;
        const void *data;
        if (tdm_session_output(s, o, &info, &data) != TDM_OK || info.dtype != TDM_FLOAT) {
            snprintf(err, errlen, "output %d is not float32", o);
            return -1;
        }
        int64_t numel = 1;
        for (int k = 0; k < info.rank; k++) numel *= info.dims[k];
        if (numel != count * d->out_numel[o]) {
            snprintf(err, errlen, "output %d has %lld values for %lld items; the job expects %lld per item", o,
                     (long long)numel, (long long)count, (long long)d->out_numel[o]);
            return -1;
        }
        memcpy(out + base + at * d->out_numel[o], data, (size_t)numel * sizeof(float));
        base += n * d->out_numel[o];
    }
    return 0;
}

int swarm_run_chunk(tdm_session *s, const swarm_desc *d, const unsigned char *items, int64_t n, float *out, char *err,
                    size_t errlen) {
    int64_t per = d->batch_any ? n : 1;
    float *x = malloc((size_t)(per * d->item_numel) * sizeof(float));
    if (!x) return desc_fail(err, errlen, "out of memory");
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i += per) {
        swarm_items_to_float(d, items + i * d->item_bytes, per, x);
        rc = run_batch(s, d, x, per, i, n, out, err, errlen);
    }
    free(x);
    return rc;
}

int64_t swarm_top1(const float *scores, int64_t k, double *prob_out) {
    int64_t best = -1;
    for (int64_t i = 0; i < k; i++)
        if (!isnan(scores[i]) && (best < 0 || scores[i] > scores[best])) best = i;
    if (best < 0) {
        if (prob_out) *prob_out = NAN;
        return 0;
    }
    if (prob_out) {
        double sum = 0;
        for (int64_t i = 0; i < k; i++)
            if (!isnan(scores[i])) sum += exp((double)scores[i] - (double)scores[best]);
        *prob_out = sum > 0 ? 1.0 / sum : NAN;
    }
    return best;
}
