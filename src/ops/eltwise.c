/* eltwise.c - element-wise ops: unary activations and math, broadcasting binary arithmetic / comparison / logic /
 * BitShift, Where, and the variadic Max/Min/Sum/Mean. One generic broadcast loop drives small typed kernels from
 * tables (one row per op, one kernel per element type). */
#include <float.h>
#include <math.h>

#include "ops.h"

/* ---- element types ------------------------------------------------------------------------------------------- */

/* Kernel tables are indexed by these slots rather than by tdm_dtype, to keep them dense. */
enum { S_F32, S_F64, S_I8, S_I16, S_I32, S_I64, S_U8, S_U16, S_U32, S_U64, S_BOOL, S_COUNT };

static int eltwise_slot(tdm_dtype t) {
    switch (t) {
    case TDM_FLOAT: return S_F32;
    case TDM_DOUBLE: return S_F64;
    case TDM_INT8: return S_I8;
    case TDM_INT16: return S_I16;
    case TDM_INT32: return S_I32;
    case TDM_INT64: return S_I64;
    case TDM_UINT8: return S_U8;
    case TDM_UINT16: return S_U16;
    case TDM_UINT32: return S_U32;
    case TDM_UINT64: return S_U64;
    case TDM_BOOL: return S_BOOL;
    default: return -1;
    }
}

static int slot_is_float(int s) { return s == S_F32 || s == S_F64; }

/* Element i of a tensor of slot s, converted to double (for mixed-type Pow and scalar bounds). */
static double load_double(const void *p, int s, size_t i) {
    switch (s) {
    case S_F32: return ((const float *)p)[i];
    case S_F64: return ((const double *)p)[i];
    case S_I8: return ((const int8_t *)p)[i];
    case S_I16: return ((const int16_t *)p)[i];
    case S_I32: return ((const int32_t *)p)[i];
    case S_I64: return (double)((const int64_t *)p)[i];
    case S_U8:
    case S_BOOL: return ((const uint8_t *)p)[i];
    case S_U16: return ((const uint16_t *)p)[i];
    case S_U32: return ((const uint32_t *)p)[i];
    case S_U64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* Store v into element i of slot s. Integers truncate toward zero and saturate, so no out-of-range conversion
 * (undefined behaviour in C) can happen; NaN becomes 0. */
static void store_double(void *p, int s, size_t i, double v) {
    if (s != S_F32 && s != S_F64) {
        if (v != v) v = 0;
        v = trunc(v);
    }
#define SAT(T, LO, HI) ((T)(v <= (double)(LO) ? (LO) : v >= (double)(HI) ? (HI) : (T)v))
    switch (s) {
    case S_F32: ((float *)p)[i] = (float)v; break;
    case S_F64: ((double *)p)[i] = v; break;
    case S_I8: ((int8_t *)p)[i] = SAT(int8_t, INT8_MIN, INT8_MAX); break;
    case S_I16: ((int16_t *)p)[i] = SAT(int16_t, INT16_MIN, INT16_MAX); break;
    case S_I32: ((int32_t *)p)[i] = SAT(int32_t, INT32_MIN, INT32_MAX); break;
    case S_I64: ((int64_t *)p)[i] = SAT(int64_t, INT64_MIN, INT64_MAX); break;
    case S_U8: ((uint8_t *)p)[i] = SAT(uint8_t, 0, UINT8_MAX); break;
    case S_U16: ((uint16_t *)p)[i] = SAT(uint16_t, 0, UINT16_MAX); break;
    case S_U32: ((uint32_t *)p)[i] = SAT(uint32_t, 0, UINT32_MAX); break;
    case S_U64: ((uint64_t *)p)[i] = SAT(uint64_t, 0, UINT64_MAX); break;
    case S_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
#undef SAT
}

/* Element 0 of a scalar integer tensor as int64 (Clip bounds on integer inputs). */
static int64_t load_i64(const void *p, int s) {
    switch (s) {
    case S_I8: return ((const int8_t *)p)[0];
    case S_I16: return ((const int16_t *)p)[0];
    case S_I32: return ((const int32_t *)p)[0];
    case S_I64: return ((const int64_t *)p)[0];
    case S_U8: return ((const uint8_t *)p)[0];
    case S_U16: return ((const uint16_t *)p)[0];
    case S_U32: return ((const uint32_t *)p)[0];
    default: return 0;
    }
}

/* y[i] = EXPR (an expression of i) for i in [0, n), in blocks of 8 through a temporary. Every load of a block comes
 * before its stores, so GCC at -O2 (whose cheap cost model refuses loops that would need run-time alias checks)
 * still vectorizes the block; clang vectorizes either form. */
#define ELT_LOOP(TO, n, y, EXPR)                                                                                     \
    do {                                                                                                             \
        size_t blk_ = 0;                                                                                             \
        for (; blk_ + 8 <= (n); blk_ += 8) {                                                                         \
            TO t_[8];                                                                                                \
            for (size_t i = blk_; i < blk_ + 8; i++) t_[i - blk_] = (EXPR);                                          \
            for (size_t k_ = 0; k_ < 8; k_++) (y)[blk_ + k_] = t_[k_];                                               \
        }                                                                                                            \
        for (size_t i = blk_; i < (n); i++) (y)[i] = (EXPR);                                                         \
    } while (0)

/* ---- the broadcast loop ---------------------------------------------------------------------------------------- */

#define BC_MAXIN 3
#define BC_CHUNK 16384    /* elements per parallel task                               */
#define BC_PAR_MIN 65536  /* fewer elements than this stay on the calling thread      */

/* A broadcast reduced to its essentials: output dims of size 1 dropped, and adjacent dims merged wherever every
 * input walks them as one (both contiguous, or both broadcast). The innermost dim then has, per input, a byte stride
 * of either 0 (a fixed operand) or the element size (contiguous): the kernels only need those two cases. Same-shape
 * operands collapse to one flat run; [C,1,1] against [N,C,H,W] becomes [N,C,H*W] with a fixed operand per run. */
typedef struct bc_plan {
    int rank, nin;
    int64_t dims[TDM_MAX_RANK];
    int64_t st[BC_MAXIN][TDM_MAX_RANK]; /* byte strides; 0 where input i is broadcast */
} bc_plan;

/* Build the plan of nin inputs (ranks ir, dims id, element sizes esz) broadcast to the output dims od. The inputs
 * must broadcast to od (checked by shape()). */
static void bc_make(bc_plan *p, int orank, const int64_t *od, int nin, const int *ir, const int64_t *const *id,
                    const size_t *esz) {
    int64_t dims[TDM_MAX_RANK], st[BC_MAXIN][TDM_MAX_RANK];
    int r = 0;
    for (int d = 0; d < orank; d++) {
        if (od[d] == 1) continue;
        dims[r] = od[d];
        for (int i = 0; i < nin; i++) {
            int k = d - (orank - ir[i]);
            int64_t s = 0;
            if (k >= 0 && id[i][k] != 1) {
                s = (int64_t)esz[i];
                for (int kk = k + 1; kk < ir[i]; kk++) s *= id[i][kk];
            }
            st[i][r] = s;
        }
        r++;
    }
    p->nin = nin;
    p->rank = 0;
    for (int d = 0; d < r; d++) {
        int merge = p->rank > 0;
        for (int i = 0; i < nin && merge; i++) merge = p->st[i][p->rank - 1] == st[i][d] * dims[d];
        if (merge) {
            p->dims[p->rank - 1] *= dims[d];
            for (int i = 0; i < nin; i++) p->st[i][p->rank - 1] = st[i][d];
        } else {
            p->dims[p->rank] = dims[d];
            for (int i = 0; i < nin; i++) p->st[i][p->rank] = st[i][d];
            p->rank++;
        }
    }
    if (p->rank == 0) { /* a single element */
        p->rank = 1;
        p->dims[0] = 1;
        for (int i = 0; i < nin; i++) p->st[i][0] = 0;
    }
}

/* A flat plan over n contiguous elements of every input (unary ops). */
static void bc_flat(bc_plan *p, int64_t n, int nin, const size_t *esz) {
    p->rank = 1;
    p->nin = nin;
    p->dims[0] = n;
    for (int i = 0; i < nin; i++) p->st[i][0] = (int64_t)esz[i];
}

/* Computes n output elements at y from the inputs at x[i]; unit[i] is 1 when input i advances with the output, 0
 * when it stays on one element. */
typedef void (*bc_inner_fn)(const void *ctx, char *y, const char *const *x, const int *unit, size_t n);

typedef struct bc_job {
    const bc_plan *pl;
    bc_inner_fn fn;
    const void *fctx;
    char *y;
    size_t ysz;
    const char *x[BC_MAXIN];
    size_t rows, inner, col_chunk, ncol, rows_per_task;
} bc_job;

/* One task: a block of whole rows, or (when rows are long and few) one chunk of one row. */
static void bc_task(void *ctx, size_t t) {
    const bc_job *j = ctx;
    const bc_plan *pl = j->pl;
    const int nin = pl->nin, R = pl->rank - 1; /* R outer dims; dim R is the inner run */
    size_t r0, r1, c0, c1;
    if (j->ncol > 1) {
        r0 = t / j->ncol;
        r1 = r0 + 1;
        c0 = (t % j->ncol) * j->col_chunk;
        c1 = c0 + j->col_chunk < j->inner ? c0 + j->col_chunk : j->inner;
    } else {
        r0 = t * j->rows_per_task;
        r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
        c0 = 0;
        c1 = j->inner;
    }
    int64_t idx[TDM_MAX_RANK];
    const char *px[BC_MAXIN];
    int unit[BC_MAXIN];
    for (int i = 0; i < nin; i++) {
        px[i] = j->x[i];
        unit[i] = pl->st[i][R] != 0;
    }
    size_t rem = r0;
    for (int d = R - 1; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (size_t)pl->dims[d]);
        rem /= (size_t)pl->dims[d];
        for (int i = 0; i < nin; i++) px[i] += idx[d] * pl->st[i][d];
    }
    for (size_t r = r0; r < r1; r++) {
        const char *p[BC_MAXIN];
        for (int i = 0; i < nin; i++) p[i] = px[i] + (int64_t)c0 * pl->st[i][R];
        j->fn(j->fctx, j->y + (r * j->inner + c0) * j->ysz, p, unit, c1 - c0);
        for (int d = R - 1; d >= 0; d--) { /* odometer step */
            for (int i = 0; i < nin; i++) px[i] += pl->st[i][d];
            if (++idx[d] < pl->dims[d]) break;
            for (int i = 0; i < nin; i++) px[i] -= pl->st[i][d] * pl->dims[d];
            idx[d] = 0;
        }
    }
}

/* Run fn over the whole output of the plan, spread over the pool when there is enough work. */
static void bc_run(tdm_ctx *c, const bc_plan *pl, bc_inner_fn fn, const void *fctx, void *y, size_t ysz,
                   const void *const *x) {
    bc_job j;
    j.pl = pl;
    j.fn = fn;
    j.fctx = fctx;
    j.y = y;
    j.ysz = ysz;
    for (int i = 0; i < pl->nin; i++) j.x[i] = x[i];
    j.inner = (size_t)pl->dims[pl->rank - 1];
    j.rows = 1;
    for (int d = 0; d < pl->rank - 1; d++) j.rows *= (size_t)pl->dims[d];
    size_t total = j.rows * j.inner, ntask;
    if (total == 0) return;
    if (tdm_pool_threads(c->pool) <= 1 || total < BC_PAR_MIN) {
        j.ncol = 1, j.col_chunk = j.inner, j.rows_per_task = j.rows, ntask = 1;
    } else if (j.inner >= 2 * BC_CHUNK) {
        j.col_chunk = BC_CHUNK;
        j.ncol = (j.inner + BC_CHUNK - 1) / BC_CHUNK;
        j.rows_per_task = 1;
        ntask = j.rows * j.ncol;
    } else {
        j.ncol = 1, j.col_chunk = j.inner;
        j.rows_per_task = BC_CHUNK / j.inner > 1 ? BC_CHUNK / j.inner : 1;
        ntask = (j.rows + j.rows_per_task - 1) / j.rows_per_task;
    }
    tdm_parallelize_1d(c->pool, bc_task, &j, ntask);
}

/* ---- fused activation epilogue (node->act, set by the optimiser on ops flagged TDM_OPF_FUSE_ACT) ---------------- */

typedef void (*act_fn)(void *y, size_t n, int act, float a, float b);

#define ACT_FLOAT(S, T, F)                                                                                           \
    static void act_##S(void *y_, size_t n, int act, float a, float b) {                                             \
        T *y = y_;                                                                                                   \
        const T lo = (T)a, hi = (T)b;                                                                                \
        switch (act) {                                                                                               \
        case TDM_ACT_RELU:                                                                                           \
            for (size_t i = 0; i < n; i++) y[i] = y[i] < 0 ? (T)0 : y[i];                                            \
            break;                                                                                                   \
        case TDM_ACT_CLIP:                                                                                           \
            for (size_t i = 0; i < n; i++) {                                                                         \
                T v = y[i] < lo ? lo : y[i];                                                                         \
                y[i] = v > hi ? hi : v;                                                                              \
            }                                                                                                        \
            break;                                                                                                   \
        case TDM_ACT_LEAKY_RELU:                                                                                     \
            for (size_t i = 0; i < n; i++) y[i] = y[i] < 0 ? lo * y[i] : y[i];                                       \
            break;                                                                                                   \
        case TDM_ACT_HARD_SWISH:                                                                                     \
            for (size_t i = 0; i < n; i++) {                                                                         \
                T v = y[i] * (T)(1.0 / 6.0) + (T)0.5;                                                                \
                v = v < 0 ? (T)0 : v > 1 ? (T)1 : v;                                                                 \
                y[i] *= v;                                                                                           \
            }                                                                                                        \
            break;                                                                                                   \
        case TDM_ACT_SIGMOID:                                                                                        \
            for (size_t i = 0; i < n; i++) y[i] = (T)1 / ((T)1 + F(exp)(-y[i]));                                     \
            break;                                                                                                   \
        case TDM_ACT_SILU:                                                                                           \
            for (size_t i = 0; i < n; i++) y[i] = y[i] / ((T)1 + F(exp)(-y[i]));                                     \
            break;                                                                                                   \
        case TDM_ACT_GELU:                                                                                           \
            for (size_t i = 0; i < n; i++) y[i] = (T)0.5 * y[i] * ((T)1 + F(erf)(y[i] * (T)0.70710678118654752));    \
            break;                                                                                                   \
        case TDM_ACT_HARD_SIGMOID:                                                                                   \
            for (size_t i = 0; i < n; i++) {                                                                         \
                T v = lo * y[i] + hi;                                                                                \
                y[i] = v < 0 ? (T)0 : v > 1 ? (T)1 : v;                                                              \
            }                                                                                                        \
            break;                                                                                                   \
        default: break;                                                                                              \
        }                                                                                                            \
    }

/* Integer outputs take Relu and Clip only (shape() rejects the others); bounds saturate into int64. */
#define ACT_INT(S, T)                                                                                                \
    static void act_##S(void *y_, size_t n, int act, float a, float b) {                                             \
        T *y = y_;                                                                                                   \
        if (act == TDM_ACT_RELU) {                                                                                   \
            for (size_t i = 0; i < n; i++) y[i] = (int64_t)y[i] < 0 ? (T)0 : y[i];                                   \
        } else if (act == TDM_ACT_CLIP) {                                                                            \
            int64_t lo = a < -9.2e18f ? INT64_MIN : a > 9.2e18f ? INT64_MAX : (int64_t)ceilf(a);                     \
            int64_t hi = b < -9.2e18f ? INT64_MIN : b > 9.2e18f ? INT64_MAX : (int64_t)floorf(b);                    \
            for (size_t i = 0; i < n; i++) {                                                                         \
                int64_t v = (int64_t)y[i];                                                                           \
                v = v < lo ? lo : v;                                                                                 \
                y[i] = (T)(v > hi ? hi : v);                                                                         \
            }                                                                                                        \
        }                                                                                                            \
    }

#define MF(fn) fn##f
#define MD(fn) fn
ACT_FLOAT(f64, double, MD)
/* float: the kernels' epilogue, vectorised */
static void act_f32(void *y, size_t n, int act, float a, float b) { tdm_act(y, n, act, a, b); }
ACT_INT(i8, int8_t)
ACT_INT(i16, int16_t)
ACT_INT(i32, int32_t)
ACT_INT(i64, int64_t)
ACT_INT(u8, uint8_t)
ACT_INT(u16, uint16_t)
ACT_INT(u32, uint32_t)

static const act_fn act_fns[S_COUNT] = {[S_F32] = act_f32, [S_F64] = act_f64, [S_I8] = act_i8,   [S_I16] = act_i16,
                                        [S_I32] = act_i32, [S_I64] = act_i64, [S_U8] = act_u8,   [S_U16] = act_u16,
                                        [S_U32] = act_u32};

/* Whether the node's fused activation (if any) can be applied to outputs of slot s. */
static tdm_status check_act(const tdm_node *n, int s, tdm_dtype dt) {
    if (n->act == TDM_ACT_NONE) return TDM_OK;
    if (!act_fns[s] || (!slot_is_float(s) && n->act != TDM_ACT_RELU && n->act != TDM_ACT_CLIP))
        return tdm_node_error(n, TDM_UNSUPPORTED, "fused activation %d on a %s output", n->act, tdm_dtype_name(dt));
    return TDM_OK;
}

/* ---- unary ops ------------------------------------------------------------------------------------------------- */

/* Attributes of a unary op, parsed: a/b/g are alpha/beta/gamma (Clip: min/max); ia/ib are integer Clip bounds or
 * IsInf's detect_positive/detect_negative. */
typedef struct eltwise_up {
    double a, b, g;
    int64_t ia, ib;
} eltwise_up;

typedef void (*ukern_fn)(const void *x, void *y, size_t n, const eltwise_up *p);

/* Per-element functions of the float types; F(fn) names the libm function of the type (expf or exp). */
#define FLOAT_UNARY_ELEMS(S, T, F)                                                                                   \
    static inline T u_relu_##S(T x, const eltwise_up *p) { return x < 0 ? (T)0 : x; }                                \
    static inline T u_leakyrelu_##S(T x, const eltwise_up *p) { return x < 0 ? (T)p->a * x : x; }                    \
    static inline T u_sigmoid_##S(T x, const eltwise_up *p) { return (T)1 / ((T)1 + F(exp)(-x)); }                   \
    static inline T u_hardsigmoid_##S(T x, const eltwise_up *p) {                                                    \
        T v = (T)p->a * x + (T)p->b;                                                                                 \
        return v < 0 ? (T)0 : v > 1 ? (T)1 : v;                                                                      \
    }                                                                                                                \
    static inline T u_hardswish_##S(T x, const eltwise_up *p) {                                                      \
        T v = x * (T)(1.0 / 6.0) + (T)0.5;                                                                           \
        return x * (v < 0 ? (T)0 : v > 1 ? (T)1 : v);                                                               \
    }                                                                                                                \
    static inline T u_tanh_##S(T x, const eltwise_up *p) { return F(tanh)(x); }                                      \
    static inline T u_elu_##S(T x, const eltwise_up *p) { return x < 0 ? (T)p->a * F(expm1)(x) : x; }                \
    static inline T u_selu_##S(T x, const eltwise_up *p) {                                                           \
        return x <= 0 ? (T)p->g * ((T)p->a * F(exp)(x) - (T)p->a) : (T)p->g * x;                                    \
    }                                                                                                                \
    static inline T u_celu_##S(T x, const eltwise_up *p) { return x > 0 ? x : (T)p->a * F(expm1)(x / (T)p->a); }     \
    static inline T u_softplus_##S(T x, const eltwise_up *p) {                                                       \
        return x > 0 ? x + F(log1p)(F(exp)(-x)) : F(log1p)(F(exp)(x));                                              \
    }                                                                                                                \
    static inline T u_softsign_##S(T x, const eltwise_up *p) { return x / ((T)1 + F(fabs)(x)); }                     \
    static inline T u_thresholdedrelu_##S(T x, const eltwise_up *p) { return x > (T)p->a ? x : (T)0; }               \
    static inline T u_exp_##S(T x, const eltwise_up *p) { return F(exp)(x); }                                        \
    static inline T u_log_##S(T x, const eltwise_up *p) { return F(log)(x); }                                        \
    static inline T u_sqrt_##S(T x, const eltwise_up *p) { return F(sqrt)(x); }                                      \
    static inline T u_neg_##S(T x, const eltwise_up *p) { return -x; }                                               \
    static inline T u_abs_##S(T x, const eltwise_up *p) { return F(fabs)(x); }                                       \
    static inline T u_reciprocal_##S(T x, const eltwise_up *p) { return (T)1 / x; }                                  \
    static inline T u_floor_##S(T x, const eltwise_up *p) { return F(floor)(x); }                                    \
    static inline T u_ceil_##S(T x, const eltwise_up *p) { return F(ceil)(x); }                                      \
    static inline T u_round_##S(T x, const eltwise_up *p) { return F(rint)(x); } /* default mode: half to even */    \
    static inline T u_sign_##S(T x, const eltwise_up *p) { return x > 0 ? (T)1 : x < 0 ? (T)-1 : x; }                \
    static inline T u_erf_##S(T x, const eltwise_up *p) { return F(erf)(x); }                                        \
    static inline T u_sin_##S(T x, const eltwise_up *p) { return F(sin)(x); }                                        \
    static inline T u_cos_##S(T x, const eltwise_up *p) { return F(cos)(x); }                                        \
    static inline T u_tan_##S(T x, const eltwise_up *p) { return F(tan)(x); }                                        \
    static inline T u_asin_##S(T x, const eltwise_up *p) { return F(asin)(x); }                                      \
    static inline T u_acos_##S(T x, const eltwise_up *p) { return F(acos)(x); }                                      \
    static inline T u_atan_##S(T x, const eltwise_up *p) { return F(atan)(x); }                                      \
    static inline T u_sinh_##S(T x, const eltwise_up *p) { return F(sinh)(x); }                                      \
    static inline T u_cosh_##S(T x, const eltwise_up *p) { return F(cosh)(x); }                                      \
    static inline T u_asinh_##S(T x, const eltwise_up *p) { return F(asinh)(x); }                                    \
    static inline T u_acosh_##S(T x, const eltwise_up *p) { return F(acosh)(x); }                                    \
    static inline T u_atanh_##S(T x, const eltwise_up *p) { return F(atanh)(x); }                                    \
    static inline T u_clip_##S(T x, const eltwise_up *p) { /* max(x, lo) then min(., hi): hi wins if lo > hi */      \
        T v = x < (T)p->a ? (T)p->a : x;                                                                             \
        return v > (T)p->b ? (T)p->b : v;                                                                            \
    }                                                                                                                \
    static inline T u_shrink_##S(T x, const eltwise_up *p) { /* a: lambd, b: bias */                               \
        return x < -(T)p->a ? x + (T)p->b : x > (T)p->a ? x - (T)p->b : (T)0;                                        \
    }                                                                                                                \
    static inline uint8_t u_isnan_##S(T x, const eltwise_up *p) { return x != x; }                                   \
    static inline uint8_t u_isinf_##S(T x, const eltwise_up *p) {                                                    \
        return (p->ia && x == (T)INFINITY) || (p->ib && x == -(T)INFINITY);                                          \
    }

FLOAT_UNARY_ELEMS(f32, float, MF)
FLOAT_UNARY_ELEMS(f64, double, MD)

/* Signed integers: the ops that make sense on them. Negation goes through uint64 so INT_MIN wraps instead of being
 * undefined; Clip compares in int64 with bounds that default to the int64 range. */
#define INT_UNARY_ELEMS(S, T)                                                                                        \
    static inline T u_neg_##S(T x, const eltwise_up *p) { return (T)(0 - (uint64_t)x); }                             \
    static inline T u_abs_##S(T x, const eltwise_up *p) { return x < 0 ? (T)(0 - (uint64_t)x) : x; }                 \
    static inline T u_sign_##S(T x, const eltwise_up *p) { return (T)(x > 0 ? 1 : x < 0 ? -1 : 0); }                 \
    static inline T u_relu_##S(T x, const eltwise_up *p) { return x < 0 ? (T)0 : x; }                                \
    static inline T u_clip_##S(T x, const eltwise_up *p) {                                                           \
        int64_t v = x < p->ia ? p->ia : x;                                                                           \
        return (T)(v > p->ib ? p->ib : v);                                                                           \
    }

INT_UNARY_ELEMS(i8, int8_t)
INT_UNARY_ELEMS(i16, int16_t)
INT_UNARY_ELEMS(i32, int32_t)
INT_UNARY_ELEMS(i64, int64_t)

static inline uint8_t u_not_b(uint8_t x, const eltwise_up *p) { return !x; }

/* The loop every unary kernel shares. The parameters are copied to a local so the compiler knows stores to y cannot
 * change them. */
#define UKERN(OP, S, TI, TO)                                                                                         \
    static void uk_##OP##_##S(const void *x_, void *y_, size_t n, const eltwise_up *p_) {                            \
        const TI *x = x_;                                                                                            \
        TO *y = y_;                                                                                                  \
        const eltwise_up P = *p_;                                                                                    \
        ELT_LOOP(TO, n, y, u_##OP##_##S(x[i], &P));                                                                  \
    }

#define UK_F(OP) UKERN(OP, f32, float, float) UKERN(OP, f64, double, double)
#define UK_I(OP) UKERN(OP, i8, int8_t, int8_t) UKERN(OP, i16, int16_t, int16_t) \
                 UKERN(OP, i32, int32_t, int32_t) UKERN(OP, i64, int64_t, int64_t)
#define FLOAT_UNARY_LIST(X)                                                                                          \
    X(relu) X(leakyrelu) X(elu) X(selu) X(celu) X(softplus) X(softsign) X(thresholdedrelu) X(log) X(sqrt) X(neg)     \
    X(abs) X(reciprocal) X(floor) X(ceil) X(round) X(sign) X(sin) X(cos) X(tan) X(asin) X(acos) X(atan) X(sinh)       \
    X(cosh) X(asinh) X(acosh) X(atanh) X(clip) X(shrink)
FLOAT_UNARY_LIST(UK_F)
/* double only: their float kernels are the vectorised ones (uk_v*, below) */
#define UK_D(OP) UKERN(OP, f64, double, double)
UK_D(sigmoid)
UK_D(hardsigmoid)
UK_D(hardswish)
UK_D(tanh)
UK_D(exp)
UK_D(erf)
UK_I(neg)
UK_I(abs)
UK_I(sign)
UK_I(relu)
UK_I(clip)
UKERN(isnan, f32, float, uint8_t)
UKERN(isnan, f64, double, uint8_t)
UKERN(isinf, f32, float, uint8_t)
UKERN(isinf, f64, double, uint8_t)
UKERN(not, b, uint8_t, uint8_t)

/* float: the vectorised kernels of the selected set (kernels.h, tdm_vunary) */
#define UK_V(OP, VOP)                                                                                                \
    static void uk_v##OP(const void *x, void *y, size_t n, const eltwise_up *p) {                                    \
        tdm_kernels()->vunary(VOP, x, y, n, (float)p->a, (float)p->b);                                               \
    }
UK_V(sigmoid, TDM_VOP_SIGMOID)
UK_V(tanh, TDM_VOP_TANH)
UK_V(exp, TDM_VOP_EXP)
UK_V(erf, TDM_VOP_ERF)
UK_V(hardsigmoid, TDM_VOP_HARD_SIGMOID)
UK_V(hardswish, TDM_VOP_HARD_SWISH)
#define KV(OP) [S_F32] = uk_v##OP, [S_F64] = uk_##OP##_f64

enum { U_PLAIN = 0, U_CLIP, U_ISINF, U_SELU, U_SHRINK };

/* One row per unary op: kernels per element type, attribute defaults (alpha, beta, gamma), a bool output flag. */
typedef struct udef {
    const char *name;
    ukern_fn k[S_COUNT];
    float a, b, g;
    int out_bool;
    int kind;
} udef;

#define KF(OP) [S_F32] = uk_##OP##_f32, [S_F64] = uk_##OP##_f64
#define KI(OP) [S_I8] = uk_##OP##_i8, [S_I16] = uk_##OP##_i16, [S_I32] = uk_##OP##_i32, [S_I64] = uk_##OP##_i64

static const udef unary_defs[] = {
    {"Relu", {KF(relu), KI(relu)}, 0, 0, 0, 0, U_PLAIN},
    {"LeakyRelu", {KF(leakyrelu)}, 0.01f, 0, 0, 0, U_PLAIN},
    {"Sigmoid", {KV(sigmoid)}, 0, 0, 0, 0, U_PLAIN},
    {"HardSigmoid", {KV(hardsigmoid)}, 0.2f, 0.5f, 0, 0, U_PLAIN},
    {"HardSwish", {KV(hardswish)}, 0, 0, 0, 0, U_PLAIN},
    {"Tanh", {KV(tanh)}, 0, 0, 0, 0, U_PLAIN},
    {"Elu", {KF(elu)}, 1.0f, 0, 0, 0, U_PLAIN},
    {"Selu", {KF(selu)}, 1.67326319217681884765625f, 0, 1.05070102214813232421875f, 0, U_SELU},
    {"Celu", {KF(celu)}, 1.0f, 0, 0, 0, U_PLAIN},
    {"Softplus", {KF(softplus)}, 0, 0, 0, 0, U_PLAIN},
    {"Softsign", {KF(softsign)}, 0, 0, 0, 0, U_PLAIN},
    {"ThresholdedRelu", {KF(thresholdedrelu)}, 1.0f, 0, 0, 0, U_PLAIN},
    {"Exp", {KV(exp)}, 0, 0, 0, 0, U_PLAIN},
    {"Log", {KF(log)}, 0, 0, 0, 0, U_PLAIN},
    {"Sqrt", {KF(sqrt)}, 0, 0, 0, 0, U_PLAIN},
    {"Neg", {KF(neg), KI(neg)}, 0, 0, 0, 0, U_PLAIN},
    {"Abs", {KF(abs), KI(abs)}, 0, 0, 0, 0, U_PLAIN},
    {"Reciprocal", {KF(reciprocal)}, 0, 0, 0, 0, U_PLAIN},
    {"Floor", {KF(floor)}, 0, 0, 0, 0, U_PLAIN},
    {"Ceil", {KF(ceil)}, 0, 0, 0, 0, U_PLAIN},
    {"Round", {KF(round)}, 0, 0, 0, 0, U_PLAIN},
    {"Sign", {KF(sign), KI(sign)}, 0, 0, 0, 0, U_PLAIN},
    {"Erf", {KV(erf)}, 0, 0, 0, 0, U_PLAIN},
    {"Sin", {KF(sin)}, 0, 0, 0, 0, U_PLAIN},
    {"Cos", {KF(cos)}, 0, 0, 0, 0, U_PLAIN},
    {"Tan", {KF(tan)}, 0, 0, 0, 0, U_PLAIN},
    {"Asin", {KF(asin)}, 0, 0, 0, 0, U_PLAIN},
    {"Acos", {KF(acos)}, 0, 0, 0, 0, U_PLAIN},
    {"Atan", {KF(atan)}, 0, 0, 0, 0, U_PLAIN},
    {"Sinh", {KF(sinh)}, 0, 0, 0, 0, U_PLAIN},
    {"Cosh", {KF(cosh)}, 0, 0, 0, 0, U_PLAIN},
    {"Asinh", {KF(asinh)}, 0, 0, 0, 0, U_PLAIN},
    {"Acosh", {KF(acosh)}, 0, 0, 0, 0, U_PLAIN},
    {"Atanh", {KF(atanh)}, 0, 0, 0, 0, U_PLAIN},
    {"Clip", {KF(clip), KI(clip)}, 0, 0, 0, 0, U_CLIP},
    {"Shrink", {KF(shrink)}, 0.5f, 0, 0, 0, U_SHRINK},
    {"IsNaN", {KF(isnan)}, 0, 0, 0, 1, U_PLAIN},
    {"IsInf", {KF(isinf)}, 0, 0, 0, 1, U_ISINF},
    {"Not", {[S_BOOL] = uk_not_b}, 0, 0, 0, 1, U_PLAIN},
};

typedef struct eltwise_uparams {
    const udef *d;
    eltwise_up p;
    int bound_inputs; /* Clip from opset 11: min and max come from inputs 1 and 2 */
} eltwise_uparams;

static const udef *unary_find(const char *name) {
    for (size_t i = 0; i < sizeof unary_defs / sizeof unary_defs[0]; i++)
        if (strcmp(unary_defs[i].name, name) == 0) return &unary_defs[i];
    return NULL;
}

/* Check of every unary op: finds the op's row and parses its attributes with the ONNX defaults. */
/* The activations a producer can apply in its epilogue (graph.c fuses them): Relu, Sigmoid, HardSwish, HardSigmoid,
 * LeakyRelu and Clip with constant bounds (attributes before opset 11, scalar float inputs since). */
static int eltwise_as_act(tdm_ctx *c, const tdm_node *n, int *act, float *alpha, float *beta) {
    *alpha = 0.0f, *beta = 0.0f;
    switch (n->op->id) {
    case TDM_OP_Relu: *act = TDM_ACT_RELU; return 1;
    case TDM_OP_Sigmoid: *act = TDM_ACT_SIGMOID; return 1;
    case TDM_OP_HardSwish: *act = TDM_ACT_HARD_SWISH; return 1;
    case TDM_OP_HardSigmoid:
        *act = TDM_ACT_HARD_SIGMOID;
        return !tdm_attr_float(n, "alpha", 0.2f, alpha) && !tdm_attr_float(n, "beta", 0.5f, beta);
    case TDM_OP_LeakyRelu: *act = TDM_ACT_LEAKY_RELU; return !tdm_attr_float(n, "alpha", 0.01f, alpha);
    case TDM_OP_Clip:
        *act = TDM_ACT_CLIP;
        *alpha = -INFINITY, *beta = INFINITY;
        if (c->opset < 11) return !tdm_attr_float(n, "min", -INFINITY, alpha) && !tdm_attr_float(n, "max", INFINITY, beta);
        for (int j = 1; j < n->n_in && j < 3; j++) {
            const tdm_value *v = tdm_in(c, n, j);
            if (!v) continue;
            if (!tdm_is_const(v) || v->dtype != TDM_FLOAT || tdm_numel(v) != 1 || !v->data) return 0;
            *(j == 1 ? alpha : beta) = *(const float *)v->data;
        }
        return 1;
    default: return 0;
    }
}
const tdm_op_hooks eltwise_act_hooks = {.as_act = eltwise_as_act};

tdm_status eltwise_unary_check(tdm_ctx *c, tdm_node *n) {
    const udef *d = unary_find(n->op_type);
    if (!d) return tdm_node_error(n, TDM_INTERNAL, "not a unary element-wise op");
    int bound_inputs = d->kind == U_CLIP && c->opset >= 11;
    int max_in = bound_inputs ? 3 : 1;
    if (n->n_in < 1 || n->in[0] < 0 || n->n_in > max_in)
        return tdm_node_error(n, TDM_INVALID_MODEL, "%d inputs, expected %s", n->n_in, max_in == 1 ? "1" : "1 to 3");
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    eltwise_uparams *u = tdm_node_params(c, n, sizeof *u);
    if (!u) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    u->d = d;
    u->bound_inputs = bound_inputs;
    float a = d->a, b = d->b, g = d->g;
    if (d->kind == U_SELU && c->opset < 6) a = 1.6732f, g = 1.0507f; /* Selu-1 had rounder defaults */
    tdm_status st;
    if (d->kind == U_CLIP) {
        a = -FLT_MAX, b = FLT_MAX;
        if (!bound_inputs && ((st = tdm_attr_float(n, "min", a, &a)) || (st = tdm_attr_float(n, "max", b, &b))))
            return st;
    } else if (d->kind == U_SHRINK) {
        if ((st = tdm_attr_float(n, "lambd", a, &a)) || (st = tdm_attr_float(n, "bias", b, &b))) return st;
    } else if (d->kind == U_ISINF) {
        if ((st = tdm_attr_int(n, "detect_positive", 1, &u->p.ia)) ||
            (st = tdm_attr_int(n, "detect_negative", 1, &u->p.ib)))
            return st;
    } else if ((st = tdm_attr_float(n, "alpha", a, &a)) || (st = tdm_attr_float(n, "beta", b, &b)) ||
               (st = tdm_attr_float(n, "gamma", g, &g))) {
        return st;
    }
    if (d->kind == U_PLAIN && strcmp(d->name, "Celu") == 0 && a == 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "alpha must not be 0");
    u->p.a = a, u->p.b = b, u->p.g = g;
    if (d->kind == U_CLIP) u->p.ia = INT64_MIN, u->p.ib = INT64_MAX;
    return TDM_OK;
}

/* Same shape as X (bool for IsNaN/IsInf); Clip's bounds must be scalars of X's type. */
tdm_status eltwise_unary_shape(tdm_ctx *c, tdm_node *n) {
    const eltwise_uparams *u = n->params;
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int s = eltwise_slot(x->dtype);
    if (s < 0 || !u->d->k[s])
        return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(x->dtype));
    for (int i = 1; i < n->n_in; i++) { /* Clip bounds */
        const tdm_value *v = tdm_in(c, n, i);
        if (!v) continue;
        if (v->dtype != x->dtype)
            return tdm_node_error(n, TDM_INVALID_MODEL, "input %d has type %s, expected %s like input 0", i,
                                  tdm_dtype_name(v->dtype), tdm_dtype_name(x->dtype));
        if (tdm_numel(v) != 1)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input %d must be a scalar, has %lld elements", i,
                                  (long long)tdm_numel(v));
    }
    tdm_set_shape(y, u->d->out_bool ? TDM_BOOL : x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

typedef struct unary_ctx {
    ukern_fn k;
    eltwise_up p;
} unary_ctx;

static void unary_inner(const void *ctx, char *y, const char *const *x, const int *unit, size_t n) {
    const unary_ctx *u = ctx;
    u->k(x[0], y, n, &u->p);
}

/* Clip's bound inputs are read here, not at shape time: they may be activations. */
tdm_status eltwise_unary_run(tdm_ctx *c, const tdm_node *n) {
    const eltwise_uparams *u = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    tdm_value *y = tdm_out(c, n, 0);
    int s = eltwise_slot(x->dtype);
    unary_ctx uc;
    uc.k = u->d->k[s];
    uc.p = u->p;
    if (u->bound_inputs) {
        const tdm_value *lo = tdm_in(c, n, 1), *hi = tdm_in(c, n, 2);
        if (slot_is_float(s)) {
            uc.p.a = lo ? load_double(lo->data, s, 0) : -INFINITY;
            uc.p.b = hi ? load_double(hi->data, s, 0) : INFINITY;
        } else {
            uc.p.ia = lo ? load_i64(lo->data, s) : INT64_MIN;
            uc.p.ib = hi ? load_i64(hi->data, s) : INT64_MAX;
        }
    }
    size_t esz[2] = {tdm_dtype_size(x->dtype), tdm_dtype_size(y->dtype)};
    bc_plan pl;
    bc_flat(&pl, tdm_numel(x), 1, esz);
    const void *xs[1] = {x->data};
    bc_run(c, &pl, unary_inner, &uc, y->data, esz[1], xs);
    return TDM_OK;
}

/* ---- binary ops ------------------------------------------------------------------------------------------------ */

/* A binary kernel computes n outputs; sa/sb say whether a/b advance (1) or stay on their first element (0). */
typedef void (*bkern_fn)(const void *a, const void *b, void *y, size_t n, int sa, int sb);

/* Per-element functions. Integer add/sub/mul wrap through uint64 (signed overflow would be undefined); integer
 * division and modulo by zero give 0 rather than trapping, and x / -1 cannot overflow. Mod follows Python (the sign
 * of the divisor), fmod follows C (the sign of the dividend). */
#define INT_BINARY_ELEMS(S, T)                                                                                       \
    static inline T b_add_##S(T x, T z) { return (T)((uint64_t)x + (uint64_t)z); }                                   \
    static inline T b_sub_##S(T x, T z) { return (T)((uint64_t)x - (uint64_t)z); }                                   \
    static inline T b_mul_##S(T x, T z) { return (T)((uint64_t)x * (uint64_t)z); }

#define SIGNED_BINARY_ELEMS(S, T)                                                                                    \
    INT_BINARY_ELEMS(S, T)                                                                                           \
    static inline T b_div_##S(T x, T z) {                                                                            \
        if (z == 0) return 0;                                                                                        \
        if (z == -1) return (T)(0 - (uint64_t)x);                                                                    \
        return (T)(x / z);                                                                                           \
    }                                                                                                                \
    static inline T b_fmod_##S(T x, T z) { return (z == 0 || z == -1) ? (T)0 : (T)(x % z); }                         \
    static inline T b_mod_##S(T x, T z) {                                                                            \
        T r = b_fmod_##S(x, z);                                                                                      \
        if (r != 0 && ((r < 0) != (z < 0))) r = (T)(r + z);                                                          \
        return r;                                                                                                    \
    }                                                                                                                \
    static inline T b_prelu_##S(T x, T z) { return x < 0 ? b_mul_##S(x, z) : x; }

#define UNSIGNED_BINARY_ELEMS(S, T)                                                                                  \
    INT_BINARY_ELEMS(S, T)                                                                                           \
    static inline T b_div_##S(T x, T z) { return z == 0 ? (T)0 : (T)(x / z); }                                      \
    static inline T b_fmod_##S(T x, T z) { return z == 0 ? (T)0 : (T)(x % z); }                                     \
    static inline T b_mod_##S(T x, T z) { return b_fmod_##S(x, z); }                                                 \
    static inline T b_prelu_##S(T x, T z) { return x; }                                                             \
    static inline T b_shl_##S(T x, T z) { return z >= 8 * sizeof(T) ? (T)0 : (T)((uint64_t)x << z); }               \
    static inline T b_shr_##S(T x, T z) { return z >= 8 * sizeof(T) ? (T)0 : (T)(x >> z); }

#define FLOAT_BINARY_ELEMS(S, T, F)                                                                                  \
    static inline T b_add_##S(T x, T z) { return x + z; }                                                            \
    static inline T b_sub_##S(T x, T z) { return x - z; }                                                            \
    static inline T b_mul_##S(T x, T z) { return x * z; }                                                            \
    static inline T b_div_##S(T x, T z) { return x / z; }                                                            \
    static inline T b_fmod_##S(T x, T z) { return F(fmod)(x, z); }                                                   \
    static inline T b_mod_##S(T x, T z) {                                                                            \
        T r = F(fmod)(x, z);                                                                                         \
        if (r != 0 && ((r < 0) != (z < 0))) r += z;                                                                  \
        return r;                                                                                                    \
    }                                                                                                                \
    static inline T b_pow_##S(T x, T z) { return F(pow)(x, z); }                                                    \
    static inline T b_prelu_##S(T x, T z) { return x < 0 ? x * z : x; }

#define COMMON_BINARY_ELEMS(S, T)                                                                                    \
    static inline uint8_t b_eq_##S(T x, T z) { return x == z; }                                                      \
    static inline uint8_t b_lt_##S(T x, T z) { return x < z; }                                                       \
    static inline uint8_t b_gt_##S(T x, T z) { return x > z; }                                                       \
    static inline uint8_t b_le_##S(T x, T z) { return x <= z; }                                                      \
    static inline uint8_t b_ge_##S(T x, T z) { return x >= z; }                                                      \
    static inline T b_max_##S(T x, T z) { return x < z ? z : x; }                                                    \
    static inline T b_min_##S(T x, T z) { return z < x ? z : x; }

FLOAT_BINARY_ELEMS(f32, float, MF)
FLOAT_BINARY_ELEMS(f64, double, MD)
SIGNED_BINARY_ELEMS(i8, int8_t)
SIGNED_BINARY_ELEMS(i16, int16_t)
SIGNED_BINARY_ELEMS(i32, int32_t)
SIGNED_BINARY_ELEMS(i64, int64_t)
UNSIGNED_BINARY_ELEMS(u8, uint8_t)
UNSIGNED_BINARY_ELEMS(u16, uint16_t)
UNSIGNED_BINARY_ELEMS(u32, uint32_t)
UNSIGNED_BINARY_ELEMS(u64, uint64_t)
COMMON_BINARY_ELEMS(f32, float)
COMMON_BINARY_ELEMS(f64, double)
COMMON_BINARY_ELEMS(i8, int8_t)
COMMON_BINARY_ELEMS(i16, int16_t)
COMMON_BINARY_ELEMS(i32, int32_t)
COMMON_BINARY_ELEMS(i64, int64_t)
COMMON_BINARY_ELEMS(u8, uint8_t)
COMMON_BINARY_ELEMS(u16, uint16_t)
COMMON_BINARY_ELEMS(u32, uint32_t)
COMMON_BINARY_ELEMS(u64, uint64_t)
static inline uint8_t b_and_b(uint8_t x, uint8_t z) { return (x != 0) & (z != 0); }
static inline uint8_t b_or_b(uint8_t x, uint8_t z) { return (x != 0) | (z != 0); }
static inline uint8_t b_xor_b(uint8_t x, uint8_t z) { return (x != 0) ^ (z != 0); }
static inline uint8_t b_eq_b(uint8_t x, uint8_t z) { return (x != 0) == (z != 0); }

/* The loop every binary kernel shares, specialised on which operands advance so each case is a simple loop. */
#define BKERN(OP, S, T, TO)                                                                                          \
    static void bk_##OP##_##S(const void *a_, const void *b_, void *y_, size_t n, int sa, int sb) {                  \
        const T *a = a_, *b = b_;                                                                                    \
        TO *y = y_;                                                                                                  \
        if (sa && sb) {                                                                                              \
            ELT_LOOP(TO, n, y, b_##OP##_##S(a[i], b[i]));                                                            \
        } else if (sa) {                                                                                             \
            const T z = b[0];                                                                                        \
            ELT_LOOP(TO, n, y, b_##OP##_##S(a[i], z));                                                               \
        } else if (sb) {                                                                                             \
            const T x = a[0];                                                                                        \
            ELT_LOOP(TO, n, y, b_##OP##_##S(x, b[i]));                                                               \
        } else {                                                                                                     \
            const TO v = b_##OP##_##S(a[0], b[0]);                                                                   \
            for (size_t i = 0; i < n; i++) y[i] = v;                                                                 \
        }                                                                                                            \
    }

#define BK_ALL(OP, TO_SAME)                                                                                          \
    BKERN(OP, f32, float, TO_SAME(float)) BKERN(OP, f64, double, TO_SAME(double))                                    \
    BKERN(OP, i8, int8_t, TO_SAME(int8_t)) BKERN(OP, i16, int16_t, TO_SAME(int16_t))                                 \
    BKERN(OP, i32, int32_t, TO_SAME(int32_t)) BKERN(OP, i64, int64_t, TO_SAME(int64_t))                              \
    BKERN(OP, u8, uint8_t, TO_SAME(uint8_t)) BKERN(OP, u16, uint16_t, TO_SAME(uint16_t))                             \
    BKERN(OP, u32, uint32_t, TO_SAME(uint32_t)) BKERN(OP, u64, uint64_t, TO_SAME(uint64_t))
#define SAME(T) T
#define BOOLOUT(T) uint8_t
BK_ALL(add, SAME)
BK_ALL(sub, SAME)
BK_ALL(mul, SAME)
BK_ALL(div, SAME)
BK_ALL(mod, SAME)
BK_ALL(fmod, SAME)
BK_ALL(prelu, SAME)
BK_ALL(max, SAME)
BK_ALL(min, SAME)
BK_ALL(eq, BOOLOUT)
BK_ALL(lt, BOOLOUT)
BK_ALL(gt, BOOLOUT)
BK_ALL(le, BOOLOUT)
BK_ALL(ge, BOOLOUT)
#define BK_UNSIGNED(OP)                                                                                              \
    BKERN(OP, u8, uint8_t, uint8_t) BKERN(OP, u16, uint16_t, uint16_t) BKERN(OP, u32, uint32_t, uint32_t)            \
    BKERN(OP, u64, uint64_t, uint64_t)
BK_UNSIGNED(shl)
BK_UNSIGNED(shr)
BKERN(pow, f32, float, float)
BKERN(pow, f64, double, double)
BKERN(and, b, uint8_t, uint8_t)
BKERN(or, b, uint8_t, uint8_t)
BKERN(xor, b, uint8_t, uint8_t)
BKERN(eq, b, uint8_t, uint8_t)

/* Pow on float32 with a scalar exponent of 2 (x*x, common in normalisation subgraphs) skips powf. */
static void bk_powfast_f32(const void *a, const void *b, void *y_, size_t n, int sa, int sb) {
    if (sa && !sb && ((const float *)b)[0] == 2.0f) {
        const float *x = a;
        float *y = y_;
        for (size_t i = 0; i < n; i++) y[i] = x[i] * x[i];
        return;
    }
    bk_pow_f32(a, b, y_, n, sa, sb);
}

#define KB(OP)                                                                                                       \
    [S_F32] = bk_##OP##_f32, [S_F64] = bk_##OP##_f64, [S_I8] = bk_##OP##_i8, [S_I16] = bk_##OP##_i16,                \
    [S_I32] = bk_##OP##_i32, [S_I64] = bk_##OP##_i64, [S_U8] = bk_##OP##_u8, [S_U16] = bk_##OP##_u16,                \
    [S_U32] = bk_##OP##_u32, [S_U64] = bk_##OP##_u64

#define KU(OP) [S_U8] = bk_##OP##_u8, [S_U16] = bk_##OP##_u16, [S_U32] = bk_##OP##_u32, [S_U64] = bk_##OP##_u64

enum { B_PLAIN = 0, B_POW, B_PRELU };

/* One row per binary op (and per variadic op's pairwise step): kernels per element type of the inputs. */
typedef struct bdef {
    const char *name;
    bkern_fn k[S_COUNT];
    int out_bool;
    int kind;
} bdef;

static const bdef binary_defs[] = {
    {"Add", {KB(add)}, 0, B_PLAIN},
    {"Sub", {KB(sub)}, 0, B_PLAIN},
    {"Mul", {KB(mul)}, 0, B_PLAIN},
    {"Div", {KB(div)}, 0, B_PLAIN},
    {"Mod", {KB(mod)}, 0, B_PLAIN},
    {"Mod#fmod", {KB(fmod)}, 0, B_PLAIN},
    {"Pow", {[S_F32] = bk_powfast_f32, [S_F64] = bk_pow_f64}, 0, B_POW},
    {"PRelu", {KB(prelu)}, 0, B_PRELU},
    {"Equal", {KB(eq), [S_BOOL] = bk_eq_b}, 1, B_PLAIN},
    {"Less", {KB(lt)}, 1, B_PLAIN},
    {"Greater", {KB(gt)}, 1, B_PLAIN},
    {"LessOrEqual", {KB(le)}, 1, B_PLAIN},
    {"GreaterOrEqual", {KB(ge)}, 1, B_PLAIN},
    {"And", {[S_BOOL] = bk_and_b}, 1, B_PLAIN},
    {"Or", {[S_BOOL] = bk_or_b}, 1, B_PLAIN},
    {"Xor", {[S_BOOL] = bk_xor_b}, 1, B_PLAIN},
    {"BitShift", {KU(shl)}, 0, B_PLAIN},
    {"BitShift#right", {KU(shr)}, 0, B_PLAIN},
    /* pairwise steps of the variadic ops */
    {"Max", {KB(max)}, 0, B_PLAIN},
    {"Min", {KB(min)}, 0, B_PLAIN},
    {"Sum", {KB(add)}, 0, B_PLAIN},
    {"Mean", {[S_F32] = bk_add_f32, [S_F64] = bk_add_f64}, 0, B_PLAIN},
};

static const bdef *binary_find(const char *name) {
    for (size_t i = 0; i < sizeof binary_defs / sizeof binary_defs[0]; i++)
        if (strcmp(binary_defs[i].name, name) == 0) return &binary_defs[i];
    return NULL;
}

typedef struct eltwise_bparams {
    const bdef *d;
    int legacy_axis; /* opset < 7 with broadcast=1 and axis: B aligns at this axis of A; -1 otherwise */
} eltwise_bparams;

/* Picks the op's row (Mod and BitShift pick theirs by attribute) and the legacy broadcast axis of opset < 7. */
tdm_status eltwise_binary_check(tdm_ctx *c, tdm_node *n) {
    const bdef *d = binary_find(n->op_type);
    if (!d) return tdm_node_error(n, TDM_INTERNAL, "not a binary element-wise op");
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "expects 2 inputs, has %d", n->n_in);
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    tdm_status st;
    if (strcmp(d->name, "Mod") == 0) {
        int64_t fm;
        if ((st = tdm_attr_int(n, "fmod", 0, &fm))) return st;
        if (fm != 0 && fm != 1)
            return tdm_node_error(n, TDM_INVALID_MODEL, "fmod must be 0 or 1, is %lld", (long long)fm);
        if (fm) d = binary_find("Mod#fmod");
    } else if (strcmp(d->name, "BitShift") == 0) {
        const char *dir;
        if ((st = tdm_attr_string(n, "direction", "", &dir))) return st;
        if (strcmp(dir, "RIGHT") == 0) d = binary_find("BitShift#right");
        else if (strcmp(dir, "LEFT") != 0)
            return tdm_node_error(n, TDM_INVALID_MODEL, "direction must be LEFT or RIGHT, is '%s'", dir);
    }
    eltwise_bparams *bp = tdm_node_params(c, n, sizeof *bp);
    if (!bp) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    bp->d = d;
    bp->legacy_axis = -1;
    if (c->opset < 7 && d->kind != B_PRELU) {
        int64_t bc, axis;
        if ((st = tdm_attr_int(n, "broadcast", 0, &bc)) || (st = tdm_attr_int(n, "axis", -1, &axis))) return st;
        if (bc && tdm_attr_find(n, "axis")) {
            if (axis < 0 || axis >= TDM_MAX_RANK)
                return tdm_node_error(n, TDM_UNSUPPORTED, "legacy broadcast axis %lld", (long long)axis);
            bp->legacy_axis = (int)axis;
        }
    }
    return TDM_OK;
}

/* B's dims as they broadcast against A: with the legacy (opset < 7) axis attribute, B is padded with trailing 1s so
 * it lines up at that axis. */
static tdm_status binary_b_dims(const tdm_node *n, const tdm_value *a, const tdm_value *b, int *rb, int64_t *db) {
    const eltwise_bparams *bp = n->params;
    *rb = b->rank;
    memcpy(db, b->dims, sizeof(int64_t) * (size_t)(b->rank > 0 ? b->rank : 0));
    if (bp->legacy_axis >= 0) {
        int want = a->rank - bp->legacy_axis;
        if (want < b->rank)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "legacy broadcast of rank %d at axis %d of rank %d", b->rank,
                                  bp->legacy_axis, a->rank);
        for (int i = b->rank; i < want; i++) db[i] = 1;
        *rb = want;
    }
    return TDM_OK;
}

/* Both inputs of one type (Pow excepted), numpy broadcast; comparisons give bool. */
tdm_status eltwise_binary_shape(tdm_ctx *c, tdm_node *n) {
    const eltwise_bparams *bp = n->params;
    const bdef *d = bp->d;
    tdm_value *a = tdm_in(c, n, 0), *b = tdm_in(c, n, 1), *y = tdm_out(c, n, 0);
    int sa = eltwise_slot(a->dtype), sb = eltwise_slot(b->dtype);
    if (d->kind == B_POW) {
        /* Pow's exponent may have another numeric type; the result has the base's type. */
        if (sa < 0 || sb < 0 || sa == S_BOOL || sb == S_BOOL)
            return tdm_node_error(n, TDM_UNSUPPORTED, "Pow of %s by %s is not supported", tdm_dtype_name(a->dtype),
                                  tdm_dtype_name(b->dtype));
    } else {
        if (a->dtype != b->dtype)
            return tdm_node_error(n, TDM_INVALID_MODEL, "input types differ: %s and %s", tdm_dtype_name(a->dtype),
                                  tdm_dtype_name(b->dtype));
        if (sa < 0 || !d->k[sa])
            return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(a->dtype));
    }
    int rb, ry;
    int64_t db[TDM_MAX_RANK], dy[TDM_MAX_RANK];
    tdm_status st = binary_b_dims(n, a, b, &rb, db);
    if (st) return st;
    if ((st = tdm_broadcast_shape(n, a->rank, a->dims, rb, db, &ry, dy))) return st;
    if (d->kind == B_PRELU) { /* slope broadcasts to X, never the other way */
        int same = ry == a->rank;
        for (int i = 0; same && i < ry; i++) same = dy[i] == a->dims[i];
        if (!same) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "slope does not broadcast to the shape of X");
    }
    if (!d->out_bool && (st = check_act(n, sa, a->dtype))) return st;
    tdm_set_shape(y, d->out_bool ? TDM_BOOL : a->dtype, ry, dy);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

typedef struct binary_ctx {
    bkern_fn k;
    act_fn act;
    int act_kind;
    float act_a, act_b;
    size_t ysz;
    int sa, sb, sy; /* slots, for the mixed-type Pow path */
} binary_ctx;

static void binary_inner(const void *ctx, char *y, const char *const *x, const int *unit, size_t n) {
    const binary_ctx *b = ctx;
    b->k(x[0], x[1], y, n, unit[0], unit[1]);
    if (b->act) b->act(y, n, b->act_kind, b->act_a, b->act_b);
}

/* Pow with other type combinations (integer bases, integer exponents): computed in double. Rare, so simple. */
static void pow_any_inner(const void *ctx, char *y, const char *const *x, const int *unit, size_t n) {
    const binary_ctx *b = ctx;
    for (size_t i = 0; i < n; i++)
        store_double(y, b->sy, i,
                     pow(load_double(x[0], b->sa, unit[0] ? i : 0), load_double(x[1], b->sb, unit[1] ? i : 0)));
    if (b->act) b->act(y, n, b->act_kind, b->act_a, b->act_b);
}

/* y = a (op) b, broadcast to y's shape; a and b may have shapes (ra, da) and (rb, db) that differ from their values
 * (legacy broadcast, or y standing in for an earlier partial result in the variadic ops). */
static void binary_exec(tdm_ctx *c, const binary_ctx *bc, bc_inner_fn fn, tdm_value *y, const void *a, int ra,
                        const int64_t *da, size_t asz, const void *b, int rb, const int64_t *db, size_t bsz) {
    bc_plan pl;
    int ir[2] = {ra, rb};
    const int64_t *id[2] = {da, db};
    size_t esz[2] = {asz, bsz};
    bc_make(&pl, y->rank, y->dims, 2, ir, id, esz);
    const void *xs[2] = {a, b};
    bc_run(c, &pl, fn, bc, y->data, tdm_dtype_size(y->dtype), xs);
}

static void binary_ctx_init(binary_ctx *bc, const tdm_node *n, int s) {
    memset(bc, 0, sizeof *bc);
    if (n->act != TDM_ACT_NONE) {
        bc->act = act_fns[s];
        bc->act_kind = n->act;
        bc->act_a = n->act_alpha;
        bc->act_b = n->act_beta;
    }
}

tdm_status eltwise_binary_run(tdm_ctx *c, const tdm_node *n) {
    const eltwise_bparams *bp = n->params;
    const tdm_value *a = tdm_in(c, n, 0), *b = tdm_in(c, n, 1);
    tdm_value *y = tdm_out(c, n, 0);
    int sa = eltwise_slot(a->dtype), sb = eltwise_slot(b->dtype);
    binary_ctx bc;
    binary_ctx_init(&bc, n, sa);
    bc_inner_fn fn = binary_inner;
    if (bp->d->kind == B_POW && (sa != sb || !bp->d->k[sa])) {
        fn = pow_any_inner;
        bc.sa = sa, bc.sb = sb, bc.sy = sa;
    } else {
        bc.k = bp->d->k[sa];
    }
    int rb;
    int64_t db[TDM_MAX_RANK];
    tdm_status st = binary_b_dims(n, a, b, &rb, db);
    if (st) return st;
    binary_exec(c, &bc, fn, y, a->data, a->rank, a->dims, tdm_dtype_size(a->dtype), b->data, rb, db,
                tdm_dtype_size(b->dtype));
    return TDM_OK;
}

/* ---- variadic Max, Min, Sum, Mean -------------------------------------------------------------------------------- */

tdm_status eltwise_variadic_check(tdm_ctx *c, tdm_node *n) {
    const bdef *d = binary_find(n->op_type);
    if (!d) return tdm_node_error(n, TDM_INTERNAL, "not a variadic element-wise op");
    if (n->n_in < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "needs at least one input");
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "input %d is empty", i);
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    eltwise_bparams *bp = tdm_node_params(c, n, sizeof *bp);
    if (!bp) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    bp->d = d;
    bp->legacy_axis = -1;
    return TDM_OK;
}

/* All inputs of one type, broadcast together. */
tdm_status eltwise_variadic_shape(tdm_ctx *c, tdm_node *n) {
    const eltwise_bparams *bp = n->params;
    const tdm_value *a = tdm_in(c, n, 0);
    tdm_value *y = tdm_out(c, n, 0);
    int s = eltwise_slot(a->dtype);
    if (s < 0 || !bp->d->k[s])
        return tdm_node_error(n, TDM_UNSUPPORTED, "input type %s is not supported", tdm_dtype_name(a->dtype));
    int r = a->rank;
    int64_t dims[TDM_MAX_RANK];
    memcpy(dims, a->dims, sizeof dims);
    for (int i = 1; i < n->n_in; i++) {
        const tdm_value *v = tdm_in(c, n, i);
        if (v->dtype != a->dtype)
            return tdm_node_error(n, TDM_INVALID_MODEL, "input %d has type %s, expected %s", i,
                                  tdm_dtype_name(v->dtype), tdm_dtype_name(a->dtype));
        int64_t nd[TDM_MAX_RANK];
        tdm_status st = tdm_broadcast_shape(n, r, dims, v->rank, v->dims, &r, nd);
        if (st) return st;
        memcpy(dims, nd, sizeof dims);
    }
    tdm_set_shape(y, a->dtype, r, dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Fold the inputs pairwise into y: y = in0 op in1, then y = y op in_k. One input is a (broadcasting) copy. */
tdm_status eltwise_variadic_run(tdm_ctx *c, const tdm_node *n) {
    const eltwise_bparams *bp = n->params;
    const tdm_value *a = tdm_in(c, n, 0);
    tdm_value *y = tdm_out(c, n, 0);
    int s = eltwise_slot(a->dtype);
    size_t esz = tdm_dtype_size(a->dtype);
    binary_ctx bc;
    binary_ctx_init(&bc, n, s);
    bc.act = NULL;
    bc.k = bp->d->k[s];
    if (n->n_in == 1) {
        /* max(a, a) == a and a + 0 would do, but a copy is exact for every op */
        if (y->data != a->data) memcpy(y->data, a->data, (size_t)tdm_numel(y) * esz);
    } else {
        const tdm_value *b = tdm_in(c, n, 1);
        binary_exec(c, &bc, binary_inner, y, a->data, a->rank, a->dims, esz, b->data, b->rank, b->dims, esz);
        for (int i = 2; i < n->n_in; i++) {
            b = tdm_in(c, n, i);
            binary_exec(c, &bc, binary_inner, y, y->data, y->rank, y->dims, esz, b->data, b->rank, b->dims, esz);
        }
    }
    if (strcmp(bp->d->name, "Mean") == 0) {
        size_t cnt = (size_t)tdm_numel(y);
        if (s == S_F32) {
            float *p = y->data, k = 1.0f / (float)n->n_in;
            for (size_t i = 0; i < cnt; i++) p[i] *= k;
        } else {
            double *p = y->data, k = 1.0 / (double)n->n_in;
            for (size_t i = 0; i < cnt; i++) p[i] *= k;
        }
    }
    return TDM_OK;
}

/* ---- Where ------------------------------------------------------------------------------------------------------- */

tdm_status eltwise_where_check(tdm_ctx *c, tdm_node *n) {
    if (n->n_in != 3 || n->in[0] < 0 || n->in[1] < 0 || n->in[2] < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "expects 3 inputs, has %d", n->n_in);
    if (n->n_out < 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "missing output");
    return TDM_OK;
}

/* bool condition, X and Y of one type; the three broadcast together. */
tdm_status eltwise_where_shape(tdm_ctx *c, tdm_node *n) {
    const tdm_value *cond = tdm_in(c, n, 0), *x = tdm_in(c, n, 1), *z = tdm_in(c, n, 2);
    if (cond->dtype != TDM_BOOL)
        return tdm_node_error(n, TDM_INVALID_MODEL, "condition has type %s, expected bool",
                              tdm_dtype_name(cond->dtype));
    if (x->dtype != z->dtype)
        return tdm_node_error(n, TDM_INVALID_MODEL, "X and Y types differ: %s and %s", tdm_dtype_name(x->dtype),
                              tdm_dtype_name(z->dtype));
    size_t esz = tdm_dtype_size(x->dtype);
    if (esz != 1 && esz != 2 && esz != 4 && esz != 8)
        return tdm_node_error(n, TDM_UNSUPPORTED, "type %s is not supported", tdm_dtype_name(x->dtype));
    int r1, r2;
    int64_t d1[TDM_MAX_RANK], d2[TDM_MAX_RANK];
    tdm_status st = tdm_broadcast_shape(n, cond->rank, cond->dims, x->rank, x->dims, &r1, d1);
    if (st || (st = tdm_broadcast_shape(n, r1, d1, z->rank, z->dims, &r2, d2))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, r2, d2);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

#define WHERE_LOOP(T)                                                                                                \
    do {                                                                                                             \
        const T *xa = (const T *)x[1], *xb = (const T *)x[2];                                                        \
        T *yy = (T *)y;                                                                                              \
        for (size_t i = 0; i < n; i++) yy[i] = cond[unit[0] ? i : 0] ? xa[unit[1] ? i : 0] : xb[unit[2] ? i : 0];    \
    } while (0)

/* Selection is a copy of elements by size: the element type does not matter. */
static void where_inner(const void *ctx, char *y, const char *const *x, const int *unit, size_t n) {
    const uint8_t *cond = (const uint8_t *)x[0];
    switch (*(const size_t *)ctx) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
    }
}

tdm_status eltwise_where_run(tdm_ctx *c, const tdm_node *n) {
    const tdm_value *v[3] = {tdm_in(c, n, 0), tdm_in(c, n, 1), tdm_in(c, n, 2)};
    tdm_value *y = tdm_out(c, n, 0);
    size_t esz = tdm_dtype_size(y->dtype);
    int ir[3];
    const int64_t *id[3];
    size_t sz[3] = {1, esz, esz};
    const void *xs[3];
    for (int i = 0; i < 3; i++) ir[i] = v[i]->rank, id[i] = v[i]->dims, xs[i] = v[i]->data;
    bc_plan pl;
    bc_make(&pl, y->rank, y->dims, 3, ir, id, sz);
    bc_run(c, &pl, where_inner, &esz, y->data, esz, xs);
    return TDM_OK;
}
