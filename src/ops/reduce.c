/* reduce.c - reductions over axes (ReduceSum, ReduceMean, ReduceMax, ...), ArgMax/ArgMin, and the normalisations
 * along one axis (Softmax, LogSoftmax, Hardmax). One generic reduction loop drives small typed kernels. */
#include <float.h>
#include <math.h>

#include "ops.h"

/* ---- element types ---------------------------------------------------------------------------------------------- */

enum { RS_F32, RS_F64, RS_I32, RS_I64, RS_I8, RS_U8, RS_COUNT };

static int reduce_slot(tdm_dtype t) {
    switch (t) {
    case TDM_FLOAT: return RS_F32;
    case TDM_DOUBLE: return RS_F64;
    case TDM_INT32: return RS_I32;
    case TDM_INT64: return RS_I64;
    case TDM_INT8: return RS_I8;
    case TDM_UINT8: return RS_U8;
    default: return -1;
    }
}

/* ---- reduction kernels ------------------------------------------------------------------------------------------- */

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LSE, R_SUMSQ, R_COUNT };

/* A reduction is init / map / combine / finish per element. map and finish see m, the per-output shift of
 * ReduceLogSumExp (its max); the other reductions ignore it. The kernels built from them:
 *   init(y, n)          y[0..n) = identity
 *   accum(acc, x, n, m) acc[j] = comb(acc[j], map(x[j]))  - the innermost axis is kept: vector accumulation
 *   fold(acc, x, n, m)  *acc = comb(*acc, map(x[0..n)))   - the innermost axis is reduced: a horizontal sum
 *   fin(y, n, cnt, m)   y[j] = finish(y[j]) with cnt elements reduced into each */
typedef struct rkern {
    void (*init)(void *y, size_t n);
    void (*accum)(void *acc, const void *x, size_t n, const void *m);
    void (*fold)(void *acc, const void *x, size_t n, const void *m);
    void (*fin)(void *y, size_t n, double cnt, const void *m);
} rkern;

#define RED_FLOAT_ELEMS(S, T, F)                                                                                     \
    static inline T sum_init_##S(void) { return 0; }                                                                 \
    static inline T sum_map_##S(T x, const T *m, size_t i) { return x; }                                             \
    static inline T sum_comb_##S(T a, T v) { return a + v; }                                                         \
    static inline T sum_fin_##S(T a, double c, const T *m, size_t i) { return a; }                                   \
    static inline T mean_fin_##S(T a, double c, const T *m, size_t i) { return (T)(a / c); }                         \
    static inline T max_init_##S(void) { return -(T)INFINITY; }                                                      \
    static inline T max_comb_##S(T a, T v) { return (a < v || v != v) ? v : a; }                                    \
    static inline T min_init_##S(void) { return (T)INFINITY; }                                                       \
    static inline T min_comb_##S(T a, T v) { return (v < a || v != v) ? v : a; }                                    \
    static inline T prod_init_##S(void) { return 1; }                                                                \
    static inline T prod_comb_##S(T a, T v) { return a * v; }                                                        \
    static inline T l1_map_##S(T x, const T *m, size_t i) { return F(fabs)(x); }                                     \
    static inline T sq_map_##S(T x, const T *m, size_t i) { return x * x; }                                          \
    static inline T l2_fin_##S(T a, double c, const T *m, size_t i) { return F(sqrt)(a); }                           \
    static inline T log_fin_##S(T a, double c, const T *m, size_t i) { return F(log)(a); }                           \
    static inline T lse_map_##S(T x, const T *m, size_t i) { return F(exp)(x - m[i]); }                              \
    static inline T lse_fin_##S(T a, double c, const T *m, size_t i) { return F(log)(a) + m[i]; }

/* Integer sums and products wrap (through uint64) instead of overflowing into undefined behaviour. */
#define RED_INT_ELEMS(S, T, LO, HI)                                                                                  \
    static inline T sum_init_##S(void) { return 0; }                                                                 \
    static inline T sum_map_##S(T x, const T *m, size_t i) { return x; }                                             \
    static inline T sum_comb_##S(T a, T v) { return (T)((uint64_t)a + (uint64_t)v); }                                \
    static inline T sum_fin_##S(T a, double c, const T *m, size_t i) { return a; }                                   \
    static inline T mean_fin_##S(T a, double c, const T *m, size_t i) { return c >= 1 ? (T)(a / (T)c) : (T)0; }      \
    static inline T max_init_##S(void) { return LO; }                                                                \
    static inline T max_comb_##S(T a, T v) { return a < v ? v : a; }                                                 \
    static inline T min_init_##S(void) { return HI; }                                                                \
    static inline T min_comb_##S(T a, T v) { return v < a ? v : a; }                                                 \
    static inline T prod_init_##S(void) { return 1; }                                                                \
    static inline T prod_comb_##S(T a, T v) { return (T)((uint64_t)a * (uint64_t)v); }                               \
    static inline T l1_map_##S(T x, const T *m, size_t i) { return x < 0 ? (T)(0 - (uint64_t)x) : x; }               \
    static inline T sq_map_##S(T x, const T *m, size_t i) { return (T)((uint64_t)x * (uint64_t)x); }

#define MF(fn) fn##f
#define MD(fn) fn
RED_FLOAT_ELEMS(f32, float, MF)
RED_FLOAT_ELEMS(f64, double, MD)
RED_INT_ELEMS(i32, int32_t, INT32_MIN, INT32_MAX)
RED_INT_ELEMS(i64, int64_t, INT64_MIN, INT64_MAX)
/* 8-bit types: only ReduceMax/ReduceMin (quantised pipelines), which cannot overflow. */
#define RED_MINMAX_ELEMS(S, T, LO, HI)                                                                               \
    static inline T max_init_##S(void) { return LO; }                                                                \
    static inline T max_comb_##S(T a, T v) { return a < v ? v : a; }                                                 \
    static inline T min_init_##S(void) { return HI; }                                                                \
    static inline T min_comb_##S(T a, T v) { return v < a ? v : a; }                                                 \
    static inline T sum_map_##S(T x, const T *m, size_t i) { return x; }                                             \
    static inline T sum_fin_##S(T a, double c, const T *m, size_t i) { return a; }
RED_MINMAX_ELEMS(i8, int8_t, INT8_MIN, INT8_MAX)
RED_MINMAX_ELEMS(u8, uint8_t, 0, UINT8_MAX)

/* The four kernels of one reduction on one type, from its element functions. fold keeps four partial results so
 * the loop is not one long dependency chain. */
#define RKERN(NAME, S, T, INIT, MAP, COMB, FIN)                                                                      \
    static void rk_init_##NAME##_##S(void *y_, size_t n) {                                                           \
        T *y = y_;                                                                                                   \
        for (size_t i = 0; i < n; i++) y[i] = INIT##_##S();                                                          \
    }                                                                                                                \
    static void rk_accum_##NAME##_##S(void *a_, const void *x_, size_t n, const void *m_) {                          \
        T *a = a_;                                                                                                   \
        const T *x = x_, *m = m_;                                                                                    \
        size_t b = 0;                                                                                                \
        for (; b + 8 <= n; b += 8) { /* blocks of 8 through a temporary: vectorizable by GCC at -O2 too */           \
            T t[8];                                                                                                  \
            for (size_t i = b; i < b + 8; i++) t[i - b] = COMB##_##S(a[i], MAP##_##S(x[i], m, i));                   \
            for (size_t k = 0; k < 8; k++) a[b + k] = t[k];                                                          \
        }                                                                                                            \
        for (size_t i = b; i < n; i++) a[i] = COMB##_##S(a[i], MAP##_##S(x[i], m, i));                               \
    }                                                                                                                \
    static void rk_fold_##NAME##_##S(void *a_, const void *x_, size_t n, const void *m_) {                           \
        T *a = a_;                                                                                                   \
        const T *x = x_, *m = m_;                                                                                    \
        T s0 = INIT##_##S(), s1 = s0, s2 = s0, s3 = s0;                                                              \
        size_t i = 0;                                                                                                \
        for (; i + 4 <= n; i += 4) {                                                                                 \
            s0 = COMB##_##S(s0, MAP##_##S(x[i], m, 0));                                                              \
            s1 = COMB##_##S(s1, MAP##_##S(x[i + 1], m, 0));                                                          \
            s2 = COMB##_##S(s2, MAP##_##S(x[i + 2], m, 0));                                                          \
            s3 = COMB##_##S(s3, MAP##_##S(x[i + 3], m, 0));                                                          \
        }                                                                                                            \
        for (; i < n; i++) s0 = COMB##_##S(s0, MAP##_##S(x[i], m, 0));                                               \
        *a = COMB##_##S(*a, COMB##_##S(COMB##_##S(s0, s1), COMB##_##S(s2, s3)));                                     \
    }                                                                                                                \
    static void rk_fin_##NAME##_##S(void *y_, size_t n, double c, const void *m_) {                                  \
        T *y = y_;                                                                                                   \
        const T *m = m_;                                                                                             \
        for (size_t i = 0; i < n; i++) y[i] = FIN##_##S(y[i], c, m, i);                                              \
    }

#define RK_INT(S, T)                                                                                                 \
    RKERN(sum, S, T, sum_init, sum_map, sum_comb, sum_fin)                                                           \
    RKERN(mean, S, T, sum_init, sum_map, sum_comb, mean_fin)                                                         \
    RKERN(max, S, T, max_init, sum_map, max_comb, sum_fin)                                                           \
    RKERN(min, S, T, min_init, sum_map, min_comb, sum_fin)                                                           \
    RKERN(prod, S, T, prod_init, sum_map, prod_comb, sum_fin)                                                        \
    RKERN(l1, S, T, sum_init, l1_map, sum_comb, sum_fin)                                                             \
    RKERN(sumsq, S, T, sum_init, sq_map, sum_comb, sum_fin)
#define RK_FLOAT(S, T)                                                                                               \
    RK_INT(S, T)                                                                                                     \
    RKERN(l2, S, T, sum_init, sq_map, sum_comb, l2_fin)                                                              \
    RKERN(logsum, S, T, sum_init, sum_map, sum_comb, log_fin)                                                        \
    RKERN(lse, S, T, sum_init, lse_map, sum_comb, lse_fin)
RK_FLOAT(f32, float)
RK_FLOAT(f64, double)
RK_INT(i32, int32_t)
RK_INT(i64, int64_t)
RKERN(max, i8, int8_t, max_init, sum_map, max_comb, sum_fin)
RKERN(min, i8, int8_t, min_init, sum_map, min_comb, sum_fin)
RKERN(max, u8, uint8_t, max_init, sum_map, max_comb, sum_fin)
RKERN(min, u8, uint8_t, min_init, sum_map, min_comb, sum_fin)

#define RK(NAME, S) {rk_init_##NAME##_##S, rk_accum_##NAME##_##S, rk_fold_##NAME##_##S, rk_fin_##NAME##_##S}
#define RK_ROW_INT(NAME) [RS_F32] = RK(NAME, f32), [RS_F64] = RK(NAME, f64), [RS_I32] = RK(NAME, i32), \
                         [RS_I64] = RK(NAME, i64)
#define RK_ROW_FLOAT(NAME) [RS_F32] = RK(NAME, f32), [RS_F64] = RK(NAME, f64)

static const rkern rkerns[R_COUNT][RS_COUNT] = {
    [R_SUM] = {RK_ROW_INT(sum)},
    [R_MEAN] = {RK_ROW_INT(mean)},
    [R_MAX] = {RK_ROW_INT(max), [RS_I8] = RK(max, i8), [RS_U8] = RK(max, u8)},
    [R_MIN] = {RK_ROW_INT(min), [RS_I8] = RK(min, i8), [RS_U8] = RK(min, u8)},
    [R_PROD] = {RK_ROW_INT(prod)},
    [R_L1] = {RK_ROW_INT(l1)},
    [R_L2] = {RK_ROW_FLOAT(l2)},
    [R_LOGSUM] = {RK_ROW_FLOAT(logsum)},
    [R_LSE] = {RK_ROW_FLOAT(lse)},
    [R_SUMSQ] = {RK_ROW_INT(sumsq)},
};

static const struct {
    const char *name;
    int op;
} reduce_names[] = {
    {"ReduceSum", R_SUM},   {"ReduceMean", R_MEAN}, {"ReduceMax", R_MAX},       {"ReduceMin", R_MIN},
    {"ReduceProd", R_PROD}, {"ReduceL1", R_L1},     {"ReduceL2", R_L2},         {"ReduceLogSum", R_LOGSUM},
    {"ReduceLogSumExp", R_LSE},                     {"ReduceSumSquare", R_SUMSQ},
};

/* ---- the reduction loop ------------------------------------------------------------------------------------------ */

/* The input seen as groups of adjacent dims that are all kept or all reduced (size-1 dims dropped). The last group is
 * the contiguous inner run. Kept groups index the output in order, since the output is the input minus the reduced
 * dims. */
typedef struct red_plan {
    int nk, nr;                                 /* outer kept groups, outer reduced groups             */
    int64_t kd[TDM_MAX_RANK], ks[TDM_MAX_RANK]; /* their sizes and element strides in the input        */
    int64_t rd[TDM_MAX_RANK], rs[TDM_MAX_RANK];
    int64_t inner;                              /* length of the innermost group                        */
    int inner_kept;
    size_t nout_outer, nred_outer;              /* products of kd and rd                                */
} red_plan;

static void red_make(red_plan *p, int rank, const int64_t *dims, const int *reduced) {
    int64_t gd[TDM_MAX_RANK], gs[TDM_MAX_RANK];
    int gr[TDM_MAX_RANK], ng = 0;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) { /* groups innermost first */
        if (dims[d] != 1) {
            if (ng > 0 && gr[ng - 1] == reduced[d]) {
                gd[ng - 1] *= dims[d];
            } else {
                gd[ng] = dims[d], gs[ng] = stride, gr[ng] = reduced[d];
                ng++;
            }
        }
        stride *= dims[d];
    }
    memset(p, 0, sizeof *p);
    p->inner = 1;
    p->inner_kept = 1;
    if (ng > 0) p->inner = gd[0], p->inner_kept = !gr[0];
    for (int g = ng - 1; g >= 1; g--) { /* outer groups, outermost first */
        if (gr[g]) p->rd[p->nr] = gd[g], p->rs[p->nr++] = gs[g];
        else p->kd[p->nk] = gd[g], p->ks[p->nk++] = gs[g];
    }
    p->nout_outer = p->nred_outer = 1;
    for (int i = 0; i < p->nk; i++) p->nout_outer *= (size_t)p->kd[i];
    for (int i = 0; i < p->nr; i++) p->nred_outer *= (size_t)p->rd[i];
}

/* Element offset in the input of index i over the groups (dims d, strides s). */
static int64_t red_offset(size_t i, int ng, const int64_t *d, const int64_t *s) {
    int64_t off = 0;
    for (int g = ng - 1; g >= 0; g--) {
        off += (int64_t)(i % (size_t)d[g]) * s[g];
        i /= (size_t)d[g];
    }
    return off;
}

typedef struct red_job {
    const red_plan *p;
    const rkern *k;
    const char *x;
    char *y;
    const char *m; /* ReduceLogSumExp shift per output, or NULL */
    size_t esz;
    double cnt;
    size_t per_task; /* outer output positions per task */
} red_job;

/* Outer output positions [o0, o1): each is one output element (inner reduced) or one row of inner outputs. */
static void red_task(void *ctx, size_t t) {
    const red_job *j = ctx;
    const red_plan *p = j->p;
    size_t o0 = t * j->per_task, o1 = o0 + j->per_task < p->nout_outer ? o0 + j->per_task : p->nout_outer;
    size_t row = p->inner_kept ? (size_t)p->inner : 1, esz = j->esz;
    char *y = j->y + o0 * row * esz;
    const char *m = j->m ? j->m + o0 * row * esz : NULL;
    j->k->init(y, (o1 - o0) * row);
    for (size_t o = o0; o < o1; o++) {
        const char *xo = j->x + red_offset(o, p->nk, p->kd, p->ks) * (int64_t)esz;
        char *yo = j->y + o * row * esz;
        const char *mo = j->m ? j->m + o * row * esz : NULL;
        for (size_t r = 0; r < p->nred_outer; r++) {
            const char *xr = xo + red_offset(r, p->nr, p->rd, p->rs) * (int64_t)esz;
            if (p->inner_kept) j->k->accum(yo, xr, row, mo);
            else j->k->fold(yo, xr, (size_t)p->inner, mo);
        }
    }
    j->k->fin(y, (o1 - o0) * row, j->cnt, m);
}

static void red_run(tdm_ctx *c, const red_plan *p, const rkern *k, const void *x, void *y, const void *m, size_t esz,
                    double cnt) {
    red_job j = {p, k, x, y, m, esz, cnt, p->nout_outer};
    size_t total = p->nout_outer * p->nred_outer * (size_t)p->inner, ntask = 1;
    if (p->nout_outer == 0) return;
    if (tdm_pool_threads(c->pool) > 1 && total >= 65536 && p->nout_outer > 1) {
        size_t per_out = total / p->nout_outer, want = 16384 / (per_out ? per_out : 1);
        j.per_task = want > 1 ? want : 1;
        ntask = (p->nout_outer + j.per_task - 1) / j.per_task;
    }
    tdm_parallelize_1d(c->pool, red_task, &j, ntask);
}

/* ---- Reduce* ops ------------------------------------------------------------------------------------------------- */

typedef struct reduce_params {
    int op;
    int keepdims, noop_empty;
    int axes_input;          /* axes come from input 1 (ReduceSum-13, all reductions from opset 18) */
    int naxes;
    int64_t axes[TDM_MAX_RANK];
} reduce_params;

/* Axes come from the attribute, or from input 1 (ReduceSum from opset 13, every reduction from opset 18); they are
 * validated against the rank at shape time. */
tdm_status reduce_check(tdm_ctx *c, tdm_node *n) {
    int op = -1;
    for (size_t i = 0; i < sizeof reduce_names / sizeof reduce_names[0]; i++)
        if (strcmp(reduce_names[i].name, n->op_type) == 0) op = reduce_names[i].op;
    if (op < 0) return tdm_node_error(n, TDM_INTERNAL, "not a reduction");
    if (n->n_in < 1 || n->in[0] < 0 || n->n_in > 2)
        return tdm_node_error(n, TDM_INVALID_MODEL, "%d inputs, expected 1 or 2", n->n_in);
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    reduce_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    p->op = op;
    int64_t keep, noop;
    tdm_status st;
    if ((st = tdm_attr_int(n, "keepdims", 1, &keep)) || (st = tdm_attr_int(n, "noop_with_empty_axes", 0, &noop)) ||
        (st = tdm_attr_ints(n, "axes", p->axes, TDM_MAX_RANK, &p->naxes)))
        return st;
    p->keepdims = keep != 0;
    p->noop_empty = noop != 0;
    p->axes_input = n->n_in == 2 && n->in[1] >= 0;
    if (p->axes_input && p->naxes)
        return tdm_node_error(n, TDM_INVALID_MODEL, "axes given both as attribute and as input");
    return TDM_OK;
}

/* Which dims of x are reduced. *noop is set when the axes are empty and noop_with_empty_axes asks for identity. */
static tdm_status reduce_mask(tdm_ctx *c, const tdm_node *n, const tdm_value *x, int *mask, int *noop) {
    const reduce_params *p = n->params;
    int64_t axes[TDM_MAX_RANK];
    int naxes = p->naxes;
    memcpy(axes, p->axes, sizeof axes);
    if (p->axes_input) {
        const tdm_value *a = tdm_in(c, n, 1);
        if (!tdm_is_const(a))
            return tdm_node_error(n, TDM_UNSUPPORTED, "axes input '%s' must be a constant", a->name);
        tdm_status st = tdm_const_ints(n, a, axes, TDM_MAX_RANK, &naxes);
        if (st) return st;
    }
    *noop = naxes == 0 && p->noop_empty;
    for (int d = 0; d < x->rank; d++) mask[d] = naxes == 0 && !p->noop_empty;
    for (int i = 0; i < naxes; i++) {
        int ax = tdm_axis(axes[i], x->rank);
        if (ax < 0)
            return tdm_node_error(n, TDM_INVALID_MODEL, "axis %lld out of range for rank %d", (long long)axes[i],
                                  x->rank);
        if (mask[ax]) return tdm_node_error(n, TDM_INVALID_MODEL, "axis %lld repeated", (long long)axes[i]);
        mask[ax] = 1;
    }
    return TDM_OK;
}

/* Batch splitting (split.c): the reduction leaves axis 0 alone. */
static int reduce_keeps_axis0(tdm_ctx *c, const tdm_node *n) {
    int mask[TDM_MAX_RANK], noop;
    const tdm_value *x = tdm_in(c, n, 0);
    return x && x->rank >= 1 && !reduce_mask(c, n, x, mask, &noop) && (noop || !mask[0]);
}
const tdm_op_hooks reduce_reduce_hooks = {.keeps_axis0 = reduce_keeps_axis0};

/* Reduced dims become 1 (keepdims) or disappear. ReduceLogSumExp keeps its per-output max in the workspace. */
tdm_status reduce_shape(tdm_ctx *c, tdm_node *n) {
    const reduce_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    int s = reduce_slot(x->dtype);
    if (s < 0 || !rkerns[p->op][s].init)
        return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(x->dtype));
    int mask[TDM_MAX_RANK], noop;
    tdm_status st = reduce_mask(c, n, x, mask, &noop);
    if (st) return st;
    int64_t dims[TDM_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!mask[d]) dims[r++] = x->dims[d];
        else if (p->keepdims) dims[r++] = 1;
    }
    tdm_value *y = tdm_out(c, n, 0);
    tdm_set_shape(y, x->dtype, r, dims);
    n->workspace = p->op == R_LSE ? (size_t)tdm_numel(y) * tdm_dtype_size(x->dtype) : 0;
    n->macs = 0;
    return TDM_OK;
}

/* The axes input is constant (shape() insists), so recomputing the mask here reads plan-time data. */
tdm_status reduce_run(tdm_ctx *c, const tdm_node *n) {
    const reduce_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_value *y = tdm_out(c, n, 0);
    int s = reduce_slot(x->dtype);
    size_t esz = tdm_dtype_size(x->dtype);
    int mask[TDM_MAX_RANK], noop;
    tdm_status st = reduce_mask(c, n, x, mask, &noop);
    if (st) return st;
    int64_t nout = tdm_numel(y), nin = tdm_numel(x);
    if (noop) {
        if (y->data != x->data) memcpy(y->data, x->data, (size_t)nin * esz);
        return TDM_OK;
    }
    red_plan pl;
    red_make(&pl, x->rank, x->dims, mask);
    double cnt = nout > 0 ? (double)nin / (double)nout : 0;
    if (nout > 0 && nin == 0) { /* reducing empty axes: every output is the identity, finished */
        rkerns[p->op][s].init(y->data, (size_t)nout);
        if (p->op != R_LSE) rkerns[p->op][s].fin(y->data, (size_t)nout, 0, NULL);
        else rkerns[R_LOGSUM][s].fin(y->data, (size_t)nout, 0, NULL);
        return TDM_OK;
    }
    if (p->op != R_LSE) {
        red_run(c, &pl, &rkerns[p->op][s], x->data, y->data, NULL, esz, cnt);
        return TDM_OK;
    }
    /* log(sum(exp(x - m))) + m with m the max: a max pass into the workspace, then the shifted sum. An infinite
     * max shifts by 0 so that all -inf gives -inf and any +inf gives +inf, rather than NaN. */
    red_run(c, &pl, &rkerns[R_MAX][s], x->data, c->workspace, NULL, esz, cnt);
    if (s == RS_F32) {
        float *m = c->workspace;
        for (int64_t i = 0; i < nout; i++)
            if (!isfinite(m[i])) m[i] = 0;
    } else {
        double *m = c->workspace;
        for (int64_t i = 0; i < nout; i++)
            if (!isfinite(m[i])) m[i] = 0;
    }
    red_run(c, &pl, &rkerns[R_LSE][s], x->data, y->data, c->workspace, esz, cnt);
    return TDM_OK;
}

/* ---- ArgMax, ArgMin ---------------------------------------------------------------------------------------------- */

typedef struct arg_params {
    int64_t axis;
    int keepdims, last, is_max;
} arg_params;

tdm_status reduce_arg_check(tdm_ctx *c, tdm_node *n) {
    if (n->n_in != 1 || n->in[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "expects 1 input, has %d", n->n_in);
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    arg_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    int64_t keep, last;
    tdm_status st;
    if ((st = tdm_attr_int(n, "axis", 0, &p->axis)) || (st = tdm_attr_int(n, "keepdims", 1, &keep)) ||
        (st = tdm_attr_int(n, "select_last_index", 0, &last)))
        return st;
    p->keepdims = keep != 0;
    p->last = last != 0;
    p->is_max = strcmp(n->op_type, "ArgMax") == 0;
    return TDM_OK;
}

/* int64 indices; the axis must be non-empty, since an empty one has no index to return. */
tdm_status reduce_arg_shape(tdm_ctx *c, tdm_node *n) {
    const arg_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    if (reduce_slot(x->dtype) < 0)
        return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(x->dtype));
    int ax = tdm_axis(p->axis, x->rank);
    if (ax < 0 || x->dims[ax] == 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "axis %lld invalid for an input of rank %d", (long long)p->axis,
                              x->rank);
    int64_t dims[TDM_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != ax) dims[r++] = x->dims[d];
        else if (p->keepdims) dims[r++] = 1;
    }
    tdm_set_shape(tdm_out(c, n, 0), TDM_INT64, r, dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Index along the middle axis of [outer, A, inner] of the best element. For each outer block, every inner column's
 * best index is kept in the output and the best value is read back through it, so rows are walked contiguously. */
#define ARG_KERNEL(S, T)                                                                                             \
    static void arg_##S(const void *x_, int64_t *y, size_t outer, size_t A, size_t inner, int is_max, int last) {    \
        const T *x = x_;                                                                                             \
        for (size_t o = 0; o < outer; o++, x += A * inner, y += inner) {                                             \
            for (size_t j = 0; j < inner; j++) y[j] = 0;                                                             \
            for (size_t a = 1; a < A; a++) {                                                                         \
                const T *row = x + a * inner;                                                                        \
                for (size_t j = 0; j < inner; j++) {                                                                 \
                    T b = x[(size_t)y[j] * inner + j], v = row[j];                                                   \
                    int better = is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);                         \
                    if (better) y[j] = (int64_t)a;                                                                   \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }
ARG_KERNEL(f32, float)
ARG_KERNEL(f64, double)
ARG_KERNEL(i32, int32_t)
ARG_KERNEL(i64, int64_t)
ARG_KERNEL(i8, int8_t)
ARG_KERNEL(u8, uint8_t)

typedef void (*arg_fn)(const void *x, int64_t *y, size_t outer, size_t A, size_t inner, int is_max, int last);
static const arg_fn arg_fns[RS_COUNT] = {[RS_F32] = arg_f32, [RS_F64] = arg_f64, [RS_I32] = arg_i32,
                                         [RS_I64] = arg_i64, [RS_I8] = arg_i8,   [RS_U8] = arg_u8};

/* outer, axis length and inner of x split at axis ax */
static void split_at(const tdm_value *x, int ax, size_t *outer, size_t *A, size_t *inner) {
    *outer = *inner = 1;
    for (int d = 0; d < ax; d++) *outer *= (size_t)x->dims[d];
    *A = (size_t)x->dims[ax];
    for (int d = ax + 1; d < x->rank; d++) *inner *= (size_t)x->dims[d];
}

tdm_status reduce_arg_run(tdm_ctx *c, const tdm_node *n) {
    const arg_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    size_t outer, A, inner;
    split_at(x, tdm_axis(p->axis, x->rank), &outer, &A, &inner);
    arg_fns[reduce_slot(x->dtype)](x->data, tdm_out(c, n, 0)->data, outer, A, inner, p->is_max, p->last);
    return TDM_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax -------------------------------------------------------------------------------- */

enum { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX };

typedef struct softmax_params {
    int64_t axis;
    int mode;
    int coerce_2d; /* before opset 13: the input is flattened to 2-D at axis and normalised over the whole tail */
} softmax_params;

/* The axis default changes with the semantics: 1 before opset 13, -1 from 13. */
tdm_status reduce_softmax_check(tdm_ctx *c, tdm_node *n) {
    if (n->n_in != 1 || n->in[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "expects 1 input, has %d", n->n_in);
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    softmax_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    p->coerce_2d = c->opset < 13;
    p->mode = strcmp(n->op_type, "Softmax") == 0      ? SM_SOFTMAX
              : strcmp(n->op_type, "LogSoftmax") == 0 ? SM_LOGSOFTMAX
                                                      : SM_HARDMAX;
    return tdm_attr_int(n, "axis", p->coerce_2d ? 1 : -1, &p->axis);
}

/* Batch splitting: normalised along an axis other than 0 (before opset 13, over the tail from that axis). */
static int softmax_keeps_axis0(tdm_ctx *c, const tdm_node *n) {
    const softmax_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    return x && x->rank >= 2 && tdm_axis(p->axis, x->rank) > 0;
}
const tdm_op_hooks reduce_softmax_hooks = {.keeps_axis0 = softmax_keeps_axis0};

/* outer, axis length and inner of the normalisation, per the opset's semantics */
static tdm_status softmax_split(const tdm_node *n, const tdm_value *x, size_t *outer, size_t *A, size_t *inner) {
    const softmax_params *p = n->params;
    int rank = x->rank > 0 ? x->rank : 1;
    int ax = tdm_axis(p->axis, rank);
    if (ax < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "axis %lld out of range for rank %d", (long long)p->axis,
                              x->rank);
    if (x->rank == 0) {
        *outer = *A = *inner = 1;
        return TDM_OK;
    }
    split_at(x, ax, outer, A, inner);
    if (p->coerce_2d) *A *= *inner, *inner = 1;
    return TDM_OK;
}

tdm_status reduce_softmax_shape(tdm_ctx *c, tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0);
    if (x->dtype != TDM_FLOAT && x->dtype != TDM_DOUBLE)
        return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(x->dtype));
    size_t outer, A, inner;
    tdm_status st = softmax_split(n, x, &outer, &A, &inner);
    if (st) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    /* strided case: a max and a sum per inner column */
    n->workspace = inner > 1 ? 2 * inner * tdm_dtype_size(x->dtype) : 0;
    n->macs = 0;
    return TDM_OK;
}

/* Normalise blocks [A, inner] (inner == 1: one contiguous row). The max is subtracted before exp so that large inputs
 * cannot overflow. ws holds 2 * inner scratch elements when inner > 1. Hardmax marks the first maximum. */
#define SOFTMAX_KERNEL(S, T, F)                                                                                      \
    static void softmax_block_##S(const T *x, T *y, size_t A, size_t inner, int mode, T *ws) {                       \
        T *mx = ws, *sum = ws ? ws + inner : NULL; /* no workspace when inner == 1 */                          \
        if (inner == 1) {                                                                                            \
            T m = x[0], s = 0;                                                                                       \
            size_t arg = 0;                                                                                          \
            for (size_t a = 1; a < A; a++)                                                                           \
                if (x[a] > m) m = x[a], arg = a;                                                                     \
            if (mode == SM_HARDMAX) {                                                                                \
                for (size_t a = 0; a < A; a++) y[a] = a == arg ? (T)1 : (T)0;                                        \
            } else if (mode == SM_SOFTMAX) {                                                                         \
                for (size_t a = 0; a < A; a++) s += (y[a] = F(exp)(x[a] - m));                                       \
                T r = (T)1 / s;                                                                                      \
                for (size_t a = 0; a < A; a++) y[a] *= r;                                                            \
            } else {                                                                                                 \
                for (size_t a = 0; a < A; a++) s += F(exp)(x[a] - m);                                                \
                T l = m + F(log)(s);                                                                                 \
                for (size_t a = 0; a < A; a++) y[a] = x[a] - l;                                                      \
            }                                                                                                        \
            return;                                                                                                  \
        }                                                                                                            \
        for (size_t j = 0; j < inner; j++) mx[j] = x[j], sum[j] = 0;                                                 \
        for (size_t a = 1; a < A; a++)                                                                               \
            for (size_t j = 0; j < inner; j++)                                                                       \
                if (x[a * inner + j] > mx[j]) mx[j] = x[a * inner + j];                                              \
        if (mode == SM_HARDMAX) {                                                                                    \
            for (size_t j = 0; j < inner; j++) sum[j] = 0; /* 1 once the first max of column j is marked */          \
            for (size_t a = 0; a < A; a++)                                                                           \
                for (size_t j = 0; j < inner; j++) {                                                                 \
                    int hit = sum[j] == 0 && x[a * inner + j] == mx[j];                                              \
                    y[a * inner + j] = hit ? (T)1 : (T)0;                                                            \
                    if (hit) sum[j] = 1;                                                                             \
                }                                                                                                    \
            return;                                                                                                  \
        }                                                                                                            \
        for (size_t a = 0; a < A; a++)                                                                               \
            for (size_t j = 0; j < inner; j++) {                                                                     \
                T e = F(exp)(x[a * inner + j] - mx[j]);                                                              \
                sum[j] += e;                                                                                         \
                if (mode == SM_SOFTMAX) y[a * inner + j] = e;                                                        \
            }                                                                                                        \
        if (mode == SM_SOFTMAX) {                                                                                    \
            for (size_t j = 0; j < inner; j++) sum[j] = (T)1 / sum[j];                                               \
            for (size_t a = 0; a < A; a++)                                                                           \
                for (size_t j = 0; j < inner; j++) y[a * inner + j] *= sum[j];                                       \
        } else {                                                                                                     \
            for (size_t j = 0; j < inner; j++) sum[j] = mx[j] + F(log)(sum[j]);                                      \
            for (size_t a = 0; a < A; a++)                                                                           \
                for (size_t j = 0; j < inner; j++) y[a * inner + j] = x[a * inner + j] - sum[j];                     \
        }                                                                                                            \
    }
SOFTMAX_KERNEL(f32, float, MF)
SOFTMAX_KERNEL(f64, double, MD)

typedef struct softmax_job {
    const void *x;
    void *y, *ws;
    size_t A, inner, per_task, outer;
    int mode, is_f64;
} softmax_job;

static void softmax_task(void *ctx, size_t t) {
    const softmax_job *j = ctx;
    size_t o0 = t * j->per_task, o1 = o0 + j->per_task < j->outer ? o0 + j->per_task : j->outer;
    size_t blk = j->A * j->inner;
    for (size_t o = o0; o < o1; o++) {
        if (j->is_f64)
            softmax_block_f64((const double *)j->x + o * blk, (double *)j->y + o * blk, j->A, j->inner, j->mode, j->ws);
        else
            softmax_block_f32((const float *)j->x + o * blk, (float *)j->y + o * blk, j->A, j->inner, j->mode, j->ws);
    }
}

tdm_status reduce_softmax_run(tdm_ctx *c, const tdm_node *n) {
    const softmax_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    softmax_job j;
    tdm_status st = softmax_split(n, x, &j.outer, &j.A, &j.inner);
    if (st) return st;
    if (j.outer == 0 || j.A == 0 || j.inner == 0) return TDM_OK;
    j.x = x->data;
    j.y = tdm_out(c, n, 0)->data;
    j.ws = c->workspace;
    j.mode = p->mode;
    j.is_f64 = x->dtype == TDM_DOUBLE;
    j.per_task = j.outer;
    size_t ntask = 1;
    /* rows in parallel when they are contiguous (the workspace is for one block at a time) */
    if (j.inner == 1 && tdm_pool_threads(c->pool) > 1 && j.outer * j.A >= 32768 && j.outer > 1) {
        j.per_task = 8192 / j.A > 1 ? 8192 / j.A : 1;
        ntask = (j.outer + j.per_task - 1) / j.per_task;
    }
    tdm_parallelize_1d(c->pool, softmax_task, &j, ntask);
    return TDM_OK;
}
