/* norm.c - normalisation ops, float32: BatchNormalization (inference), InstanceNormalization, LRN,
 * LayerNormalization (opset 17) and MeanVarianceNormalization. Statistics are accumulated in double. */
#include <math.h>

#include "ops.h"

typedef struct norm_params {
    float epsilon;
    int64_t spatial;        /* BatchNormalization before opset 9                                                 */
    int64_t axis;           /* LayerNormalization                                                               */
    int64_t size;           /* LRN                                                                              */
    float alpha, beta, bias; /* LRN                                                                             */
    int n_axes;             /* MeanVarianceNormalization                                                        */
    int64_t axes[TDM_MAX_RANK];
} norm_params;

static norm_params *norm_new_params(tdm_ctx *c, tdm_node *n) { return tdm_node_params(c, n, sizeof(norm_params)); }

static tdm_status norm_require_float(const tdm_node *n, const tdm_value *v, const char *what) {
    if (v->dtype != TDM_FLOAT)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%s has type %s; only float32 is supported", what,
                              tdm_dtype_name(v->dtype));
    return TDM_OK;
}

/* ---- BatchNormalization -------------------------------------------------------------------------------------- */

tdm_status norm_batchnorm_check(tdm_ctx *c, tdm_node *n) {
    norm_params *p = norm_new_params(c, n);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st;
    int64_t training = 0;
    if ((st = tdm_attr_float(n, "epsilon", 1e-5f, &p->epsilon))) return st;
    if ((st = tdm_attr_int(n, "training_mode", 0, &training))) return st;
    if ((st = tdm_attr_int(n, "spatial", 1, &p->spatial))) return st;
    if (training)
        return tdm_node_error(n, TDM_UNSUPPORTED, "training_mode=1 is not supported (inference only)");
    for (int i = 1; i < n->n_out; i++)
        if (tdm_out(c, n, i))
            return tdm_node_error(n, TDM_UNSUPPORTED,
                                  "output %d (running/saved statistics) is only produced in training, which is not "
                                  "supported", i);
    if (n->n_in != 5)
        return tdm_node_error(n, TDM_INVALID_MODEL, "has %d inputs, expected 5 (X, scale, B, mean, var)", n->n_in);
    for (int i = 0; i < 5; i++)
        if (!tdm_in(c, n, i)) return tdm_node_error(n, TDM_INVALID_MODEL, "input %d is missing", i);
    return TDM_OK;
}

/* Elements covered by one scale/bias/mean/var entry (spatial) or the per-activation parameter count (non-spatial). */
tdm_status norm_batchnorm_shape(tdm_ctx *c, tdm_node *n) {
    const norm_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_status st;
    if ((st = norm_require_float(n, x, "X"))) return st;
    if (x->rank < 2) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "X has rank %d, expected at least 2", x->rank);
    int64_t want = x->dims[1];
    if (!p->spatial)
        for (int i = 2; i < x->rank; i++) want *= x->dims[i];
    static const char *names[] = {"X", "scale", "B", "mean", "var"};
    for (int i = 1; i < 5; i++) {
        const tdm_value *v = tdm_in(c, n, i);
        if ((st = norm_require_float(n, v, names[i]))) return st;
        if (tdm_numel(v) != want || (p->spatial && v->rank != 1))
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "%s has %lld elements, expected [%lld]", names[i],
                                  (long long)tdm_numel(v), (long long)want);
    }
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, x->rank, x->dims);
    n->workspace = 0;
    n->macs = tdm_numel(x);
    return TDM_OK;
}

typedef struct bn_job {
    const float *x, *scale, *bias, *mean, *var;
    float *y;
    float eps;
    size_t C, inner; /* per-plane: C channels of `inner` elements; non-spatial: C = parameter count, inner = 1 */
} bn_job;

/* One (image, channel) plane: y = x * a + b with a = scale / sqrt(var + eps), b = bias - mean * a. */
static void bn_plane(void *ctx, size_t plane) {
    const bn_job *j = ctx;
    size_t ch = plane % j->C;
    float a = j->scale[ch] / sqrtf(j->var[ch] + j->eps);
    float b = j->bias[ch] - j->mean[ch] * a;
    const float *x = j->x + plane * j->inner;
    float *y = j->y + plane * j->inner;
    for (size_t i = 0; i < j->inner; i++) y[i] = x[i] * a + b;
}

/* Non-spatial (opset < 9, spatial=0): one parameter per activation; an image at a time. */
static void bn_image_nonspatial(void *ctx, size_t img) {
    const bn_job *j = ctx;
    const float *x = j->x + img * j->C;
    float *y = j->y + img * j->C;
    for (size_t i = 0; i < j->C; i++)
        y[i] = (x[i] - j->mean[i]) * (j->scale[i] / sqrtf(j->var[i] + j->eps)) + j->bias[i];
}

tdm_status norm_batchnorm_run(tdm_ctx *c, const tdm_node *n) {
    const norm_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    bn_job j = {.x = x->data,
                .scale = tdm_in(c, n, 1)->data,
                .bias = tdm_in(c, n, 2)->data,
                .mean = tdm_in(c, n, 3)->data,
                .var = tdm_in(c, n, 4)->data,
                .y = tdm_out(c, n, 0)->data,
                .eps = p->epsilon};
    size_t N = (size_t)x->dims[0], inner = 1;
    for (int i = 2; i < x->rank; i++) inner *= (size_t)x->dims[i];
    if (p->spatial) {
        j.C = (size_t)x->dims[1];
        j.inner = inner;
        tdm_parallelize_1d(c->pool, bn_plane, &j, N * j.C);
    } else {
        j.C = (size_t)x->dims[1] * inner;
        tdm_parallelize_1d(c->pool, bn_image_nonspatial, &j, N);
    }
    return TDM_OK;
}

/* ---- InstanceNormalization ----------------------------------------------------------------------------------- */

tdm_status norm_instancenorm_check(tdm_ctx *c, tdm_node *n) {
    norm_params *p = norm_new_params(c, n);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st = tdm_attr_float(n, "epsilon", 1e-5f, &p->epsilon);
    if (st) return st;
    if (n->n_in != 3 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_in(c, n, 2))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs input, scale and B");
    return TDM_OK;
}

tdm_status norm_instancenorm_shape(tdm_ctx *c, tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0), *s = tdm_in(c, n, 1), *b = tdm_in(c, n, 2);
    tdm_status st;
    if ((st = norm_require_float(n, x, "input")) || (st = norm_require_float(n, s, "scale")) ||
        (st = norm_require_float(n, b, "B")))
        return st;
    if (x->rank < 3) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input has rank %d, expected at least 3", x->rank);
    if (s->rank != 1 || s->dims[0] != x->dims[1] || b->rank != 1 || b->dims[0] != x->dims[1])
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "scale and B must be [%lld]", (long long)x->dims[1]);
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 2 * tdm_numel(x);
    return TDM_OK;
}

typedef struct inorm_job {
    const float *x, *scale, *bias;
    float *y;
    float eps;
    size_t C, inner;
} inorm_job;

static void inorm_plane(void *ctx, size_t plane) {
    const inorm_job *j = ctx;
    const float *x = j->x + plane * j->inner;
    float *y = j->y + plane * j->inner;
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < j->inner; i++) sum += x[i];
    double mean = j->inner ? sum / (double)j->inner : 0.0;
    for (size_t i = 0; i < j->inner; i++) sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    double var = j->inner ? sq / (double)j->inner : 0.0;
    size_t ch = plane % j->C;
    float a = (float)(j->scale[ch] / sqrt(var + j->eps));
    float b = (float)(j->bias[ch] - mean * a);
    for (size_t i = 0; i < j->inner; i++) y[i] = x[i] * a + b;
}

tdm_status norm_instancenorm_run(tdm_ctx *c, const tdm_node *n) {
    const norm_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    inorm_job j = {.x = x->data,
                   .scale = tdm_in(c, n, 1)->data,
                   .bias = tdm_in(c, n, 2)->data,
                   .y = tdm_out(c, n, 0)->data,
                   .eps = p->epsilon,
                   .C = (size_t)x->dims[1],
                   .inner = 1};
    for (int i = 2; i < x->rank; i++) j.inner *= (size_t)x->dims[i];
    tdm_parallelize_1d(c->pool, inorm_plane, &j, (size_t)x->dims[0] * j.C);
    return TDM_OK;
}

/* ---- LRN ----------------------------------------------------------------------------------------------------- */

tdm_status norm_lrn_check(tdm_ctx *c, tdm_node *n) {
    norm_params *p = norm_new_params(c, n);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st;
    if ((st = tdm_attr_float(n, "alpha", 1e-4f, &p->alpha)) || (st = tdm_attr_float(n, "beta", 0.75f, &p->beta)) ||
        (st = tdm_attr_float(n, "bias", 1.0f, &p->bias)) || (st = tdm_attr_int(n, "size", 0, &p->size)))
        return st;
    if (!tdm_attr_find(n, "size")) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute size is required");
    if (p->size < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "size = %lld, must be >= 1", (long long)p->size);
    if (n->n_in != 1 || !tdm_in(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "needs exactly one input X");
    return TDM_OK;
}

tdm_status norm_lrn_shape(tdm_ctx *c, tdm_node *n) {
    const norm_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_status st = norm_require_float(n, x, "X");
    if (st) return st;
    if (x->rank < 2) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "X has rank %d, expected at least 2", x->rank);
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, x->rank, x->dims);
    n->workspace = 0;
    n->macs = tdm_numel(x) * p->size;
    return TDM_OK;
}

typedef struct lrn_job {
    const norm_params *p;
    const float *x;
    float *y;
    size_t C, inner;
} lrn_job;

/* Output plane (image, c): the square sum over channels [c - (size-1)/2, c + ceil((size-1)/2)] is accumulated in the
 * output plane itself, then turned into x / (bias + alpha/size * sum)^beta. */
static void lrn_plane(void *ctx, size_t plane) {
    const lrn_job *j = ctx;
    const norm_params *p = j->p;
    size_t img = plane / j->C, ch = plane % j->C;
    int64_t lo = (int64_t)ch - (p->size - 1) / 2, hi = (int64_t)ch + p->size / 2; /* ceil((size-1)/2) = size/2 */
    if (lo < 0) lo = 0;
    if (hi > (int64_t)j->C - 1) hi = (int64_t)j->C - 1;
    float *y = j->y + plane * j->inner;
    const float *x = j->x + plane * j->inner;
    for (size_t i = 0; i < j->inner; i++) y[i] = 0.0f;
    for (int64_t cc = lo; cc <= hi; cc++) {
        const float *xc = j->x + (img * j->C + (size_t)cc) * j->inner;
        for (size_t i = 0; i < j->inner; i++) y[i] += xc[i] * xc[i];
    }
    float scale = p->alpha / (float)p->size;
    for (size_t i = 0; i < j->inner; i++) y[i] = x[i] / powf(p->bias + scale * y[i], p->beta);
}

tdm_status norm_lrn_run(tdm_ctx *c, const tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0);
    lrn_job j = {.p = n->params, .x = x->data, .y = tdm_out(c, n, 0)->data, .C = (size_t)x->dims[1], .inner = 1};
    for (int i = 2; i < x->rank; i++) j.inner *= (size_t)x->dims[i];
    tdm_parallelize_1d(c->pool, lrn_plane, &j, (size_t)x->dims[0] * j.C);
    return TDM_OK;
}

/* ---- LayerNormalization -------------------------------------------------------------------------------------- */

tdm_status norm_layernorm_check(tdm_ctx *c, tdm_node *n) {
    norm_params *p = norm_new_params(c, n);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st;
    int64_t stash = 1;
    if ((st = tdm_attr_float(n, "epsilon", 1e-5f, &p->epsilon)) || (st = tdm_attr_int(n, "axis", -1, &p->axis)) ||
        (st = tdm_attr_int(n, "stash_type", 1, &stash)))
        return st;
    if (stash != 1)
        return tdm_node_error(n, TDM_UNSUPPORTED, "stash_type %lld is not supported (only 1, float)", (long long)stash);
    if (n->n_in < 2 || n->n_in > 3 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs X, Scale and optionally B");
    if (n->n_out > 3) return tdm_node_error(n, TDM_INVALID_MODEL, "has %d outputs, expected at most 3", n->n_out);
    return TDM_OK;
}

/* Scale and B may be any shape that broadcasts onto the normalised shape X.shape[axis:] by repetition: after
 * dropping leading 1s, their dims must equal the trailing dims of X. Returns the element count (the period). */
static tdm_status layernorm_param(const tdm_node *n, const tdm_value *x, int axis, const tdm_value *v,
                                  const char *what, size_t *period) {
    tdm_status st = norm_require_float(n, v, what);
    if (st) return st;
    int r = v->rank, lead = 0;
    while (lead < r && v->dims[lead] == 1) lead++;
    int tail = r - lead;
    if (tail > x->rank - axis) goto bad;
    for (int i = 0; i < tail; i++)
        if (v->dims[lead + i] != x->dims[x->rank - tail + i]) goto bad;
    *period = (size_t)tdm_numel(v);
    return TDM_OK;
bad:
    return tdm_node_error(n, TDM_SHAPE_MISMATCH, "%s (rank %d) does not match the normalised trailing dims of X", what,
                          r);
}

tdm_status norm_layernorm_shape(tdm_ctx *c, tdm_node *n) {
    const norm_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_status st = norm_require_float(n, x, "X");
    if (st) return st;
    int axis = tdm_axis(p->axis, x->rank);
    if (x->rank < 1 || axis < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)p->axis,
                              x->rank);
    size_t per;
    if ((st = layernorm_param(n, x, axis, tdm_in(c, n, 1), "Scale", &per))) return st;
    if (tdm_in(c, n, 2) && (st = layernorm_param(n, x, axis, tdm_in(c, n, 2), "B", &per))) return st;
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, x->rank, x->dims);
    int64_t sdims[TDM_MAX_RANK];
    for (int i = 0; i < x->rank; i++) sdims[i] = i < axis ? x->dims[i] : 1;
    for (int o = 1; o < 3; o++)
        if (tdm_out(c, n, o)) tdm_set_shape(tdm_out(c, n, o), TDM_FLOAT, x->rank, sdims);
    n->workspace = 0;
    n->macs = 3 * tdm_numel(x);
    return TDM_OK;
}

typedef struct layernorm_job {
    const float *x, *scale, *bias;
    float *y, *mean_out, *inv_out;
    size_t inner, sper, bper;
    float eps;
} layernorm_job;

static void layernorm_row(void *ctx, size_t row) {
    const layernorm_job *j = ctx;
    const float *x = j->x + row * j->inner;
    float *y = j->y + row * j->inner;
    if (j->sper == j->inner && (!j->bias || j->bper == j->inner) && !j->mean_out && !j->inv_out) {
        tdm_kernels()->tfm.layernorm_row(x, y, j->inner, j->scale, j->bias, j->eps); /* the common case, in SIMD */
        return;
    }
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < j->inner; i++) sum += x[i];
    double mean = sum / (double)j->inner;
    for (size_t i = 0; i < j->inner; i++) sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    double inv = 1.0 / sqrt(sq / (double)j->inner + j->eps);
    for (size_t i = 0; i < j->inner; i++) {
        float v = (float)(((double)x[i] - mean) * inv) * j->scale[i % j->sper];
        y[i] = j->bias ? v + j->bias[i % j->bper] : v;
    }
    if (j->mean_out) j->mean_out[row] = (float)mean;
    if (j->inv_out) j->inv_out[row] = (float)inv;
}

tdm_status norm_layernorm_run(tdm_ctx *c, const tdm_node *n) {
    const norm_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0), *b = tdm_in(c, n, 2);
    const tdm_value *mo = tdm_out(c, n, 1), *io = tdm_out(c, n, 2);
    int axis = tdm_axis(p->axis, x->rank);
    size_t outer = 1, inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) outer *= (size_t)x->dims[i];
        else inner *= (size_t)x->dims[i];
    }
    layernorm_job j = {.x = x->data,
                       .scale = tdm_in(c, n, 1)->data,
                       .bias = b ? b->data : NULL,
                       .y = tdm_out(c, n, 0)->data,
                       .mean_out = mo ? mo->data : NULL,
                       .inv_out = io ? io->data : NULL,
                       .inner = inner,
                       .sper = (size_t)tdm_numel(tdm_in(c, n, 1)),
                       .bper = b ? (size_t)tdm_numel(b) : 1,
                       .eps = p->epsilon};
    if (inner == 0 || j.sper == 0 || j.bper == 0) return TDM_OK;
    tdm_parallelize_1d(c->pool, layernorm_row, &j, outer);
    return TDM_OK;
}

/* ---- MeanVarianceNormalization ------------------------------------------------------------------------------- */

tdm_status norm_mvn_check(tdm_ctx *c, tdm_node *n) {
    norm_params *p = norm_new_params(c, n);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st = tdm_attr_ints(n, "axes", p->axes, TDM_MAX_RANK, &p->n_axes);
    if (st) return st;
    if (!tdm_attr_find(n, "axes")) {
        p->n_axes = 3;
        p->axes[0] = 0;
        p->axes[1] = 2;
        p->axes[2] = 3;
    }
    if (n->n_in != 1 || !tdm_in(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "needs exactly one input X");
    return TDM_OK;
}

/* Marks the reduced axes in red[] (rank entries); fails on an axis out of range. */
static tdm_status mvn_axes(const tdm_node *n, const tdm_value *x, int *red) {
    const norm_params *p = n->params;
    for (int i = 0; i < x->rank; i++) red[i] = 0;
    for (int i = 0; i < p->n_axes; i++) {
        int a = tdm_axis(p->axes[i], x->rank);
        if (a < 0)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d",
                                  (long long)p->axes[i], x->rank);
        red[a] = 1;
    }
    return TDM_OK;
}

tdm_status norm_mvn_shape(tdm_ctx *c, tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_status st = norm_require_float(n, x, "X");
    if (st) return st;
    int red[TDM_MAX_RANK];
    if ((st = mvn_axes(n, x, red))) return st;
    size_t groups = 1;
    for (int i = 0; i < x->rank; i++)
        if (!red[i]) groups *= (size_t)x->dims[i];
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, x->rank, x->dims);
    n->workspace = 2 * groups * sizeof(double);
    n->macs = 3 * tdm_numel(x);
    return TDM_OK;
}

/* Y = (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9), the statistics taken over the given axes, as in the ONNX
 * function body. One odometer walk over X maps each element to its group (its index over the kept axes). */
tdm_status norm_mvn_run(tdm_ctx *c, const tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0);
    int red[TDM_MAX_RANK];
    tdm_status st = mvn_axes(n, x, red);
    if (st) return st;
    int r = x->rank;
    size_t gstride[TDM_MAX_RANK], groups = 1, total = (size_t)tdm_numel(x);
    for (int i = r - 1; i >= 0; i--) {
        gstride[i] = red[i] ? 0 : groups;
        if (!red[i]) groups *= (size_t)x->dims[i];
    }
    if (total == 0) return TDM_OK;
    size_t count = total / groups;
    double *sum = c->workspace, *sq = sum + groups;
    for (size_t g = 0; g < groups; g++) sum[g] = sq[g] = 0.0;
    const float *xd = x->data;
    float *y = tdm_out(c, n, 0)->data;
    for (int pass = 0; pass < 2; pass++) {
        int64_t idx[TDM_MAX_RANK] = {0};
        size_t g = 0;
        for (size_t e = 0; e < total; e++) {
            if (pass == 0) {
                sum[g] += xd[e];
                sq[g] += (double)xd[e] * xd[e];
            } else {
                y[e] = (float)(((double)xd[e] - sum[g]) / sq[g]);
            }
            for (int i = r - 1; i >= 0; i--) { /* advance the odometer and the group index with it */
                g += gstride[i];
                if (++idx[i] < x->dims[i]) break;
                g -= gstride[i] * (size_t)x->dims[i];
                idx[i] = 0;
            }
        }
        if (pass == 0)
            for (size_t k = 0; k < groups; k++) {
                double mean = sum[k] / (double)count, var = sq[k] / (double)count - mean * mean;
                sum[k] = mean;
                sq[k] = sqrt(var > 0.0 ? var : 0.0) + 1e-9; /* the divisor */
            }
    }
    return TDM_OK;
}
