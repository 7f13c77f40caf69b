/* pool.c - MaxPool (float32, int8, uint8; optional int64 Indices), AveragePool, LpPool and their Global forms, for 1-D,
 * 2-D and 3-D inputs: one generic windowed loop over 3-D geometry, parallel over (image, channel) planes. */
#include <math.h>

#include "../kernels/kernels.h"
#include "ops.h"

enum { POOL_MAX = 0, POOL_AVG, POOL_LP };

#define PSP 3 /* spatial dims handled; lower ranks run as 3-D with leading unit dims */

/* Attributes as written in the model; per-plan geometry is recomputed from them (params are shared by sessions). */
typedef struct pool_params {
    int kind, global;
    int n_kshape, n_strides, n_dil, n_pads;
    int64_t kshape[PSP], strides[PSP], dil[PSP], pads[2 * PSP];
    int auto_pad;
    int64_t ceil_mode, count_include_pad, storage_order;
    float p; /* LpPool exponent */
} pool_params;

typedef struct pool_geom {
    int nsp;
    int64_t planes; /* N * C */
    int64_t in[PSP], out[PSP], k[PSP], s[PSP], d[PSP], pb[PSP], pe[PSP];
    int64_t in_sz, out_sz;
} pool_geom;

/* ---- attributes ---------------------------------------------------------------------------------------------- */


/* The Lp exponent: an int since opset 2, a float in opset 1. */
static tdm_status pool_parse_p(const tdm_node *n, float *p) {
    const tdm_attr *a = tdm_attr_find(n, "p");
    *p = 2.0f;
    if (a && a->type == TDM_ATTR_INT) *p = (float)a->i;
    else if (a && a->type == TDM_ATTR_FLOAT) *p = a->f;
    else if (a) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute p must be an int");
    if (!(*p > 0.0f)) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute p = %g, must be positive", (double)*p);
    return TDM_OK;
}

static tdm_status pool_parse(tdm_ctx *c, tdm_node *n, int kind, int global) {
    pool_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    p->kind = kind;
    p->global = global;
    tdm_status st;
    if (n->n_in < 1 || !tdm_in(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "needs input X");
    if (kind == POOL_LP && (st = pool_parse_p(n, &p->p))) return st;
    if (global) return TDM_OK;

    if ((st = tdm_attr_auto_pad(n, &p->auto_pad))) return st;
    if ((st = tdm_attr_ints_min(n, "kernel_shape", p->kshape, PSP, &p->n_kshape, 1))) return st;
    if (!p->n_kshape) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute kernel_shape is required");
    if ((st = tdm_attr_ints_min(n, "strides", p->strides, PSP, &p->n_strides, 1))) return st;
    if ((st = tdm_attr_ints_min(n, "dilations", p->dil, PSP, &p->n_dil, 1))) return st;
    if ((st = tdm_attr_ints_min(n, "pads", p->pads, 2 * PSP, &p->n_pads, 0))) return st;
    if ((st = tdm_attr_int(n, "ceil_mode", 0, &p->ceil_mode))) return st;
    if ((st = tdm_attr_int(n, "count_include_pad", 0, &p->count_include_pad))) return st;
    if ((st = tdm_attr_int(n, "storage_order", 0, &p->storage_order))) return st;
    if (p->storage_order != 0 && p->storage_order != 1)
        return tdm_node_error(n, TDM_INVALID_MODEL, "storage_order = %lld, must be 0 or 1",
                              (long long)p->storage_order);
    if (p->n_strides && p->n_strides != p->n_kshape)
        return tdm_node_error(n, TDM_INVALID_MODEL, "strides has %d entries, kernel_shape %d", p->n_strides,
                              p->n_kshape);
    if (p->n_dil && p->n_dil != p->n_kshape)
        return tdm_node_error(n, TDM_INVALID_MODEL, "dilations has %d entries, kernel_shape %d", p->n_dil, p->n_kshape);
    if (p->n_pads && p->n_pads != 2 * p->n_kshape)
        return tdm_node_error(n, TDM_INVALID_MODEL, "pads has %d entries, expected %d", p->n_pads, 2 * p->n_kshape);
    if (kind != POOL_MAX && n->n_out > 1 && tdm_out(c, n, 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "has %d outputs, expected 1", n->n_out);
    return TDM_OK;
}

/* ---- geometry ------------------------------------------------------------------------------------------------ */

/* Checks X against the attributes and computes the output extent and effective padding of each spatial axis. */
static tdm_status pool_geometry(tdm_ctx *c, const tdm_node *n, pool_geom *g) {
    const pool_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    memset(g, 0, sizeof *g);
    int minrank = p->global ? 2 : 3;
    if (x->rank < minrank || x->rank > PSP + 2)
        return tdm_node_error(n, x->rank < minrank ? TDM_SHAPE_MISMATCH : TDM_UNSUPPORTED,
                              "input X has rank %d, expected %d to %d", x->rank, minrank, PSP + 2);
    int nsp = g->nsp = x->rank - 2;
    if (!p->global && p->n_kshape != nsp)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "kernel_shape has %d entries but X has %d spatial dims",
                              p->n_kshape, nsp);
    g->planes = x->dims[0] * x->dims[1];
    g->in_sz = g->out_sz = 1;
    for (int a = 0; a < PSP; a++) {
        g->in[a] = g->out[a] = g->k[a] = g->s[a] = g->d[a] = 1;
        g->pb[a] = g->pe[a] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        int a = PSP - nsp + i;
        int64_t in = x->dims[2 + i];
        if (in < 1) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "spatial dim %d of X is empty", i);
        int64_t k = in, s = 1, d = 1, pb = 0, pe = 0, out = 1;
        if (!p->global) {
            k = p->kshape[i];
            s = p->n_strides ? p->strides[i] : 1;
            d = p->n_dil ? p->dil[i] : 1;
            int64_t dk = (k - 1) * d + 1;
            if (p->auto_pad == TDM_AUTO_PAD_SAME_UPPER || p->auto_pad == TDM_AUTO_PAD_SAME_LOWER) {
                tdm_same_pad(in, s, dk, p->auto_pad == TDM_AUTO_PAD_SAME_UPPER, &out, &pb, &pe);
            } else {
                if (p->auto_pad == TDM_AUTO_PAD_NOTSET && p->n_pads) {
                    pb = p->pads[i];
                    pe = p->pads[i + nsp];
                }
                int64_t span = in + pb + pe - dk;
                if (span < 0)
                    return tdm_node_error(n, TDM_SHAPE_MISMATCH,
                                          "spatial dim %d: input %lld (padded %lld) is smaller than the window %lld", i,
                                          (long long)in, (long long)(in + pb + pe), (long long)dk);
                out = (p->ceil_mode && p->auto_pad == TDM_AUTO_PAD_NOTSET ? (span + s - 1) / s : span / s) + 1;
                /* ceil_mode: a last window that would start inside the end padding is dropped */
                if (p->ceil_mode && out > 1 && (out - 1) * s >= in + pb) out--;
            }
        }
        g->in[a] = in;
        g->out[a] = out;
        g->k[a] = k;
        g->s[a] = s;
        g->d[a] = d;
        g->pb[a] = pb;
        g->pe[a] = pe;
        g->in_sz *= in;
        g->out_sz *= out;
    }
    return TDM_OK;
}

/* ---- windowed pooling ---------------------------------------------------------------------------------------- */

typedef struct pool_job {
    const pool_params *p;
    const pool_geom *g;
    const void *x;
    void *y;
    int64_t *idx; /* MaxPool Indices, or NULL */
    tdm_dtype dt;
} pool_job;


/* Flat spatial index of an input position as MaxPool's Indices report it: row-major, or column-major over the
 * model's spatial axes with storage_order 1. */
static int64_t pool_spatial_index(const pool_geom *g, int col_major, int64_t i0, int64_t i1, int64_t i2) {
    if (!col_major) return (i0 * g->in[1] + i1) * g->in[2] + i2;
    return i0 + i1 * g->in[0] + i2 * g->in[0] * g->in[1];
}

#define POOL_MAX_PLANE(NAME, T)                                                                                      \
    static void NAME(const pool_job *j, size_t plane) {                                                              \
        const pool_geom *g = j->g;                                                                                   \
        const T *x = (const T *)j->x + plane * (size_t)g->in_sz;                                                     \
        T *y = (T *)j->y + plane * (size_t)g->out_sz;                                                                \
        int64_t *idx = j->idx ? j->idx + plane * (size_t)g->out_sz : NULL;                                           \
        int col_major = (int)j->p->storage_order;                                                                    \
        size_t o = 0;                                                                                                \
        for (int64_t o0 = 0; o0 < g->out[0]; o0++) {                                                                 \
            int64_t s0 = o0 * g->s[0] - g->pb[0], l0, h0;                                                            \
            tdm_valid_range(s0, g->d[0], g->k[0], g->in[0], &l0, &h0);                                                     \
            for (int64_t o1 = 0; o1 < g->out[1]; o1++) {                                                             \
                int64_t s1 = o1 * g->s[1] - g->pb[1], l1, h1;                                                        \
                tdm_valid_range(s1, g->d[1], g->k[1], g->in[1], &l1, &h1);                                                 \
                for (int64_t o2 = 0; o2 < g->out[2]; o2++, o++) {                                                    \
                    int64_t s2 = o2 * g->s[2] - g->pb[2], l2, h2;                                                    \
                    tdm_valid_range(s2, g->d[2], g->k[2], g->in[2], &l2, &h2);                                             \
                    T best = 0;                                                                                      \
                    int64_t bi0 = 0, bi1 = 0, bi2 = 0;                                                               \
                    int found = 0;                                                                                   \
                    for (int64_t t0 = l0; t0 < h0; t0++) {                                                           \
                        int64_t i0 = s0 + t0 * g->d[0];                                                              \
                        for (int64_t t1 = l1; t1 < h1; t1++) {                                                       \
                            int64_t i1 = s1 + t1 * g->d[1];                                                          \
                            const T *row = x + (i0 * g->in[1] + i1) * g->in[2];                                      \
                            for (int64_t t2 = l2; t2 < h2; t2++) {                                                   \
                                int64_t i2 = s2 + t2 * g->d[2];                                                      \
                                T v = row[i2];                                                                       \
                                if (!found || v > best) {                                                            \
                                    best = v;                                                                        \
                                    bi0 = i0, bi1 = i1, bi2 = i2;                                                    \
                                    found = 1;                                                                       \
                                }                                                                                    \
                            }                                                                                        \
                        }                                                                                            \
                    }                                                                                                \
                    y[o] = best;                                                                                     \
                    if (idx)                                                                                         \
                        idx[o] = (int64_t)plane * g->in_sz + pool_spatial_index(g, col_major, bi0, bi1, bi2);        \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

POOL_MAX_PLANE(pool_max_plane_f32, float)
POOL_MAX_PLANE(pool_max_plane_u8, uint8_t)
POOL_MAX_PLANE(pool_max_plane_i8, int8_t)

/* AveragePool / LpPool over one plane. Average divides by the taps inside the input, or with count_include_pad by
 * the taps inside the padded extent [-pad_begin, in + pad_end). */
static void pool_avg_lp_plane(const pool_job *j, size_t plane) {
    const pool_geom *g = j->g;
    const pool_params *p = j->p;
    const float *x = (const float *)j->x + plane * (size_t)g->in_sz;
    float *y = (float *)j->y + plane * (size_t)g->out_sz;
    const int lp = p->kind == POOL_LP;
    const float pw = p->p;
    size_t o = 0;
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
        int64_t s0 = o0 * g->s[0] - g->pb[0], l0, h0, c0l, c0h;
        tdm_valid_range(s0, g->d[0], g->k[0], g->in[0], &l0, &h0);
        tdm_valid_range(s0 + g->pb[0], g->d[0], g->k[0], g->in[0] + g->pb[0] + g->pe[0], &c0l, &c0h);
        for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
            int64_t s1 = o1 * g->s[1] - g->pb[1], l1, h1, c1l, c1h;
            tdm_valid_range(s1, g->d[1], g->k[1], g->in[1], &l1, &h1);
            tdm_valid_range(s1 + g->pb[1], g->d[1], g->k[1], g->in[1] + g->pb[1] + g->pe[1], &c1l, &c1h);
            for (int64_t o2 = 0; o2 < g->out[2]; o2++, o++) {
                int64_t s2 = o2 * g->s[2] - g->pb[2], l2, h2, c2l, c2h;
                tdm_valid_range(s2, g->d[2], g->k[2], g->in[2], &l2, &h2);
                tdm_valid_range(s2 + g->pb[2], g->d[2], g->k[2], g->in[2] + g->pb[2] + g->pe[2], &c2l, &c2h);
                double acc = 0.0;
                for (int64_t t0 = l0; t0 < h0; t0++) {
                    int64_t i0 = s0 + t0 * g->d[0];
                    for (int64_t t1 = l1; t1 < h1; t1++) {
                        const float *row = x + (i0 * g->in[1] + s1 + t1 * g->d[1]) * g->in[2];
                        for (int64_t t2 = l2; t2 < h2; t2++) {
                            float v = row[s2 + t2 * g->d[2]];
                            if (!lp) acc += v;
                            else if (pw == 2.0f) acc += (double)v * v;
                            else if (pw == 1.0f) acc += fabsf(v);
                            else acc += pow(fabs((double)v), pw);
                        }
                    }
                }
                if (lp) {
                    y[o] = (float)(pw == 2.0f ? sqrt(acc) : pw == 1.0f ? acc : pow(acc, 1.0 / pw));
                } else {
                    int64_t cnt = p->count_include_pad ? (c0h - c0l) * (c1h - c1l) * (c2h - c2l)
                                                       : (h0 - l0) * (h1 - l1) * (h2 - l2);
                    y[o] = cnt > 0 ? (float)(acc / (double)cnt) : 0.0f;
                }
            }
        }
    }
}

static void pool_plane_task(void *ctx, size_t plane) {
    const pool_job *j = ctx;
    if (j->p->kind != POOL_MAX) pool_avg_lp_plane(j, plane);
    else if (j->dt == TDM_FLOAT) pool_max_plane_f32(j, plane);
    else if (j->dt == TDM_UINT8) pool_max_plane_u8(j, plane);
    else pool_max_plane_i8(j, plane);
}

/* Global pooling: one reduction over each whole plane. */
static void pool_global_task(void *ctx, size_t plane) {
    const pool_job *j = ctx;
    const pool_geom *g = j->g;
    size_t sz = (size_t)g->in_sz;
    const float *x = (const float *)j->x + plane * sz;
    float *y = (float *)j->y + plane;
    if (j->p->kind == POOL_MAX) {
        *y = tdm_kernels()->row_max(x, sz);
    } else if (j->p->kind == POOL_AVG) {
        *y = tdm_kernels()->row_sum(x, sz) / (float)sz;
    } else {
        double acc = 0.0, pw = j->p->p;
        for (size_t i = 0; i < sz; i++) acc += pw == 2.0 ? (double)x[i] * x[i] : pow(fabs((double)x[i]), pw);
        *y = (float)(pw == 2.0 ? sqrt(acc) : pow(acc, 1.0 / pw));
    }
}

/* ---- the SIMD path: 2-D float max and average pooling (kernels.h, tdm_pool2d) -----------------------------------
 * For the pools of CNNs: 2-D, float, dilation 1, stride 1 or 2 along the rows, no Indices output. The planes are cut
 * into one run per thread, each padding its planes into a scratch slot of its own; averages get 1 / (taps counted)
 * per output row and column, computed once per run into the workspace ahead of the slots. */
static int pool_simd(const tdm_node *n, const pool_geom *g, const tdm_value *x, int has_indices) {
    const pool_params *p = n->params;
    return !p->global && p->kind != POOL_LP && x->dtype == TDM_FLOAT && !has_indices && g->nsp == 2 && g->d[1] == 1 &&
           g->d[2] == 1 && (g->s[2] == 1 || g->s[2] == 2);
}

/* Padded extent every window lies in. */
static void pool_padded(const pool_geom *g, int64_t *hp, int64_t *wp) {
    int64_t h = (g->out[1] - 1) * g->s[1] + g->k[1], w = (g->out[2] - 1) * g->s[2] + g->k[2];
    *hp = h > g->pb[1] + g->in[1] ? h : g->pb[1] + g->in[1];
    *wp = w > g->pb[2] + g->in[2] ? w : g->pb[2] + g->in[2];
}

static int pool_slots(tdm_pool *pool) { return tdm_pool_threads(pool) > 32 ? 32 : tdm_pool_threads(pool); }

static size_t pool_slot_floats(const pool_geom *g) {
    int64_t hp, wp;
    pool_padded(g, &hp, &wp);
    (void)hp;
    return TDM_PAD(TDM_POOL_SCRATCH((size_t)g->in[1], (size_t)g->in[2], (size_t)g->out[1], (size_t)g->out[2], (size_t)wp),
                   16);
}

static size_t pool_simd_workspace(const pool_geom *g, int slots) {
    return (TDM_PAD((size_t)(g->out[1] + g->out[2]), 16) + (size_t)slots * pool_slot_floats(g)) * sizeof(float);
}

typedef struct pool_simd_job {
    tdm_pool2d_args a; /* shared fields; each part sets its planes and scratch */
    float *slots;
    size_t slot_floats, planes;
} pool_simd_job;

static void pool_simd_part(void *ctx, size_t part, size_t parts) {
    const pool_simd_job *j = ctx;
    size_t p0 = j->planes * part / parts, p1 = j->planes * (part + 1) / parts;
    if (p0 == p1) return;
    tdm_pool2d_args a = j->a;
    a.x += p0 * a.h * a.w;
    a.y += p0 * a.ho * a.wo;
    a.nch = p1 - p0;
    a.scratch = j->slots + part * j->slot_floats;
    tdm_kernels()->pool2d(&a);
}

/* 1 / taps counted along one axis, per output: inside the input, or with count_include_pad inside the padded extent. */
static void pool_inv_counts(const pool_params *p, const pool_geom *g, int a, float *out) {
    for (int64_t o = 0; o < g->out[a]; o++) {
        int64_t s = o * g->s[a] - g->pb[a], lo, hi;
        if (p->count_include_pad) tdm_valid_range(s + g->pb[a], 1, g->k[a], g->in[a] + g->pb[a] + g->pe[a], &lo, &hi);
        else tdm_valid_range(s, 1, g->k[a], g->in[a], &lo, &hi);
        out[o] = hi > lo ? 1.0f / (float)(hi - lo) : 0.0f;
    }
}

static void pool_simd_run(tdm_ctx *c, const tdm_node *n, const pool_geom *g, const float *x, float *y) {
    const pool_params *p = n->params;
    int64_t hp, wp;
    pool_padded(g, &hp, &wp);
    float *ws = c->workspace, *inv_rows = ws, *inv_cols = ws + g->out[1];
    if (p->kind == POOL_AVG) {
        pool_inv_counts(p, g, 1, inv_rows);
        pool_inv_counts(p, g, 2, inv_cols);
    }
    pool_simd_job j = {
        .a = {.x = x, .y = y, .h = (size_t)g->in[1], .w = (size_t)g->in[2], .pt = (size_t)g->pb[1],
              .pl = (size_t)g->pb[2], .hp = (size_t)hp, .wp = (size_t)wp, .kh = (size_t)g->k[1], .kw = (size_t)g->k[2],
              .sh = (size_t)g->s[1], .sw = (size_t)g->s[2], .ho = (size_t)g->out[1], .wo = (size_t)g->out[2],
              .avg = p->kind == POOL_AVG, .inv_rows = inv_rows, .inv_cols = inv_cols},
        .slots = ws + TDM_PAD((size_t)(g->out[1] + g->out[2]), 16),
        .slot_floats = pool_slot_floats(g),
        .planes = (size_t)g->planes};
    tdm_parallelize_static(tdm_pool_threads(c->pool) <= 32 ? c->pool : NULL, pool_simd_part, &j);
}

/* ---- op entry points ----------------------------------------------------------------------------------------- */

/* Shared by every pooling op: the row in pool.def decides the kind through check(). */
tdm_status pool_pool_shape(tdm_ctx *c, tdm_node *n) {
    const pool_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    int ok = x->dtype == TDM_FLOAT || (p->kind == POOL_MAX && !p->global &&
                                        (x->dtype == TDM_UINT8 || x->dtype == TDM_INT8));
    if (!ok) return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(x->dtype));
    pool_geom g;
    tdm_status st = pool_geometry(c, n, &g);
    if (st) return st;
    int64_t dims[PSP + 2] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.out[PSP - g.nsp + i];
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, dims);
    tdm_value *ind = tdm_out(c, n, 1);
    if (ind) tdm_set_shape(ind, TDM_INT64, x->rank, dims);
    int64_t window = 1;
    for (int a = 0; a < PSP; a++) window *= g.k[a];
    n->workspace = pool_simd(n, &g, x, ind != NULL) ? pool_simd_workspace(&g, pool_slots(c->pool)) : 0;
    n->macs = g.planes * g.out_sz * window;
    return TDM_OK;
}

tdm_status pool_pool_run(tdm_ctx *c, const tdm_node *n) {
    pool_geom g;
    tdm_status st = pool_geometry(c, n, &g);
    if (st) return st;
    const pool_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_value *ind = tdm_out(c, n, 1);
    if (pool_simd(n, &g, x, ind != NULL)) {
        pool_simd_run(c, n, &g, x->data, tdm_out(c, n, 0)->data);
        return TDM_OK;
    }
    pool_job j = {.p = p, .g = &g, .x = x->data, .y = tdm_out(c, n, 0)->data, .idx = ind ? ind->data : NULL,
                  .dt = x->dtype};
    tdm_parallelize_1d(c->pool, p->global ? pool_global_task : pool_plane_task, &j, (size_t)g.planes);
    return TDM_OK;
}

tdm_status pool_maxpool_check(tdm_ctx *c, tdm_node *n) {
    if (n->n_out > 2) return tdm_node_error(n, TDM_INVALID_MODEL, "has %d outputs, expected 1 or 2", n->n_out);
    return pool_parse(c, n, POOL_MAX, 0);
}
tdm_status pool_averagepool_check(tdm_ctx *c, tdm_node *n) { return pool_parse(c, n, POOL_AVG, 0); }
tdm_status pool_lppool_check(tdm_ctx *c, tdm_node *n) { return pool_parse(c, n, POOL_LP, 0); }
tdm_status pool_globalmaxpool_check(tdm_ctx *c, tdm_node *n) { return pool_parse(c, n, POOL_MAX, 1); }
tdm_status pool_globalaveragepool_check(tdm_ctx *c, tdm_node *n) { return pool_parse(c, n, POOL_AVG, 1); }
tdm_status pool_globallppool_check(tdm_ctx *c, tdm_node *n) { return pool_parse(c, n, POOL_LP, 1); }
