/* gather.c - indexing ops: Gather, GatherElements, OneHot, Trilu, CumSum. Data is moved by element size, so every
 * fixed-size dtype works; indices are int32 or int64 and an out-of-range index is a run-time error, not a crash. */
#include "shape_util.h"

static tdm_status elem_size(const tdm_node *n, const tdm_value *v, const char *what, size_t *es) {
    *es = tdm_dtype_size(v->dtype);
    if (*es == 0)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%s has dtype %s, which is not supported", what,
                              tdm_dtype_name(v->dtype));
    return TDM_OK;
}

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

/* Element i of an int32/int64 index tensor. */
static inline int64_t index_at(const void *p, tdm_dtype dt, int64_t i) {
    if (dt == TDM_INT32) return ((const int32_t *)p)[i];
    return ((const int64_t *)p)[i];
}

/* Element i of any numeric tensor as int64 (OneHot's indices and depth may be of any numeric type). */
static int64_t numeric_at(const void *p, tdm_dtype dt, int64_t i) {
    switch (dt) {
    case TDM_FLOAT: { double v = ((const float *)p)[i]; return v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v; }
    case TDM_DOUBLE: { double v = ((const double *)p)[i]; return v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v; }
    case TDM_INT8: return ((const int8_t *)p)[i];
    case TDM_UINT8: case TDM_BOOL: return ((const uint8_t *)p)[i];
    case TDM_INT16: return ((const int16_t *)p)[i];
    case TDM_UINT16: return ((const uint16_t *)p)[i];
    case TDM_INT32: return ((const int32_t *)p)[i];
    case TDM_UINT32: return ((const uint32_t *)p)[i];
    case TDM_INT64: return ((const int64_t *)p)[i];
    case TDM_UINT64: { uint64_t v = ((const uint64_t *)p)[i]; return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v; }
    default: return 0;
    }
}

static int is_numeric(tdm_dtype dt) {
    return dt != TDM_STRING && dt != TDM_BOOL && dt != TDM_FLOAT16 && tdm_dtype_size(dt) > 0;
}

typedef struct axis_params {
    int64_t axis;
} axis_params;

/* ---- Gather -------------------------------------------------------------------------------------------------- */

tdm_status gather_check(tdm_ctx *c, tdm_node *n) {
    axis_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `data` and `indices`");
    return tdm_attr_int(n, "axis", 0, &p->axis);
}

tdm_status gather_shape(tdm_ctx *c, tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1);
    size_t es;
    tdm_status st = elem_size(n, x, "data", &es);
    if (st) return st;
    if (ix->dtype != TDM_INT32 && ix->dtype != TDM_INT64)
        return tdm_node_error(n, TDM_INVALID_MODEL, "indices must be int32 or int64, not %s", tdm_dtype_name(ix->dtype));
    int a = tdm_axis(p->axis, x->rank);
    if (a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)p->axis,
                              x->rank);
    int r = x->rank - 1 + ix->rank;
    if (r > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_UNSUPPORTED, "output rank %d exceeds the maximum %d", r, TDM_MAX_RANK);
    int64_t d[TDM_MAX_RANK];
    int k = 0;
    for (int i = 0; i < a; i++) d[k++] = x->dims[i];
    for (int i = 0; i < ix->rank; i++) d[k++] = ix->dims[i];
    for (int i = a + 1; i < x->rank; i++) d[k++] = x->dims[i];
    if ((st = shape_check_size(n, r, d, es))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, r, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status gather_run(tdm_ctx *c, const tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1), *y = tdm_out(c, n, 0);
    int a = tdm_axis(p->axis, x->rank);
    size_t es = tdm_dtype_size(x->dtype);
    int64_t outer = prod(x->dims, 0, a), dim = x->dims[a], nidx = tdm_numel(ix);
    size_t inner = (size_t)prod(x->dims, a + 1, x->rank) * es;
    for (int64_t i = 0; i < nidx; i++) {
        int64_t k = index_at(ix->data, ix->dtype, i);
        if (k < -dim || k >= dim)
            return tdm_node_error(n, TDM_INVALID_ARGUMENT, "index %lld is out of range for axis %d of size %lld",
                                  (long long)k, a, (long long)dim);
    }
    if (!inner || !nidx) return TDM_OK;
    char *d = y->data;
    const char *s = x->data;
    for (int64_t o = 0; o < outer; o++, s += (size_t)dim * inner) {
        for (int64_t i = 0; i < nidx; i++, d += inner) {
            int64_t k = index_at(ix->data, ix->dtype, i);
            if (k < 0) k += dim;
            memcpy(d, s + (size_t)k * inner, inner);
        }
    }
    return TDM_OK;
}

/* ---- GatherElements ------------------------------------------------------------------------------------------ */

tdm_status gather_elements_shape(tdm_ctx *c, tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1);
    size_t es;
    tdm_status st = elem_size(n, x, "data", &es);
    if (st) return st;
    if (ix->dtype != TDM_INT32 && ix->dtype != TDM_INT64)
        return tdm_node_error(n, TDM_INVALID_MODEL, "indices must be int32 or int64, not %s", tdm_dtype_name(ix->dtype));
    if (ix->rank != x->rank || x->rank < 1)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "indices rank %d must equal data rank %d (>= 1)", ix->rank,
                              x->rank);
    int a = tdm_axis(p->axis, x->rank);
    if (a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)p->axis,
                              x->rank);
    for (int i = 0; i < x->rank; i++)
        if (i != a && ix->dims[i] > x->dims[i])
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "indices dim %d = %lld exceeds data dim %lld", i,
                                  (long long)ix->dims[i], (long long)x->dims[i]);
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, ix->rank, ix->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status gather_elements_run(tdm_ctx *c, const tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1), *y = tdm_out(c, n, 0);
    int r = x->rank, a = tdm_axis(p->axis, r);
    size_t es = tdm_dtype_size(x->dtype);
    int64_t total = tdm_numel(y), dim = x->dims[a], xst[TDM_MAX_RANK], idx[TDM_MAX_RANK] = {0}, base = 0;
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = s;
        s *= x->dims[i];
    }
    char *d = y->data;
    const char *src = x->data;
    for (int64_t e = 0; e < total; e++, d += es) {
        int64_t k = index_at(ix->data, ix->dtype, e);
        if (k < -dim || k >= dim)
            return tdm_node_error(n, TDM_INVALID_ARGUMENT, "index %lld is out of range for axis %d of size %lld",
                                  (long long)k, a, (long long)dim);
        if (k < 0) k += dim;
        memcpy(d, src + (size_t)(base + k * xst[a]) * es, es);
        /* advance the odometer over the index shape; base tracks the data offset without the axis term */
        for (int i = r - 1; i >= 0; i--) {
            if (i != a) base += xst[i];
            if (++idx[i] < ix->dims[i]) break;
            if (i != a) base -= xst[i] * ix->dims[i];
            idx[i] = 0;
        }
    }
    return TDM_OK;
}

/* ---- OneHot -------------------------------------------------------------------------------------------------- */

tdm_status gather_onehot_check(tdm_ctx *c, tdm_node *n) {
    axis_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_in(c, n, 2) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `indices`, `depth` and `values`");
    return tdm_attr_int(n, "axis", -1, &p->axis);
}

tdm_status gather_onehot_shape(tdm_ctx *c, tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *ix = tdm_in(c, n, 0), *dv = tdm_in(c, n, 1), *vv = tdm_in(c, n, 2);
    size_t es;
    tdm_status st = elem_size(n, vv, "values", &es);
    if (st) return st;
    if (!is_numeric(ix->dtype) || !is_numeric(dv->dtype))
        return tdm_node_error(n, TDM_UNSUPPORTED, "indices (%s) and depth (%s) must be numeric",
                              tdm_dtype_name(ix->dtype), tdm_dtype_name(dv->dtype));
    if (!tdm_is_const(dv))
        return tdm_node_error(n, TDM_UNSUPPORTED,
                              "needs a constant `depth` input (data-dependent shapes are not supported)");
    if (tdm_numel(dv) != 1) return tdm_node_error(n, TDM_INVALID_MODEL, "depth must hold one value");
    if (tdm_numel(vv) != 2) return tdm_node_error(n, TDM_INVALID_MODEL, "values must hold [off, on]");
    int64_t depth = numeric_at(dv->data, dv->dtype, 0);
    if (depth < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "depth %lld must be positive", (long long)depth);
    int r = ix->rank + 1;
    if (r > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_UNSUPPORTED, "output rank %d exceeds the maximum %d", r, TDM_MAX_RANK);
    int a = tdm_axis(p->axis, r);
    if (a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for output rank %d",
                              (long long)p->axis, r);
    int64_t d[TDM_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) d[i] = i == a ? depth : ix->dims[k++];
    if ((st = shape_check_size(n, r, d, es))) return st;
    tdm_set_shape(tdm_out(c, n, 0), vv->dtype, r, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status gather_onehot_run(tdm_ctx *c, const tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *ix = tdm_in(c, n, 0), *vv = tdm_in(c, n, 2), *y = tdm_out(c, n, 0);
    int a = tdm_axis(p->axis, y->rank);
    size_t es = tdm_dtype_size(y->dtype);
    int64_t depth = y->dims[a], outer = prod(ix->dims, 0, a), inner = prod(ix->dims, a, ix->rank);
    const char *off = vv->data, *on = off + es;
    char *d = y->data;
    int64_t total = tdm_numel(y);
    for (int64_t i = 0; i < total; i++) memcpy(d + (size_t)i * es, off, es);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = numeric_at(ix->data, ix->dtype, o * inner + i);
            if (k < 0) k += depth;
            if (k < 0 || k >= depth) continue;
            memcpy(d + (size_t)((o * depth + k) * inner + i) * es, on, es);
        }
    return TDM_OK;
}

/* ---- Trilu --------------------------------------------------------------------------------------------------- */

typedef struct trilu_params {
    int64_t upper;
} trilu_params;

tdm_status gather_trilu_check(tdm_ctx *c, tdm_node *n) {
    trilu_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    return tdm_attr_int(n, "upper", 1, &p->upper);
}

tdm_status gather_trilu_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *k = tdm_in(c, n, 1);
    size_t es;
    tdm_status st = elem_size(n, x, "input", &es);
    if (st) return st;
    if (x->rank < 2) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input rank %d, expected >= 2", x->rank);
    if (k && (k->dtype != TDM_INT64 || tdm_numel(k) != 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "k must be one int64");
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Copy each matrix row, then zero the columns outside the kept triangle: upper keeps j - i >= k, lower j - i <= k. */
tdm_status gather_trilu_run(tdm_ctx *c, const tdm_node *n) {
    const trilu_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *kv = tdm_in(c, n, 1), *y = tdm_out(c, n, 0);
    size_t es = tdm_dtype_size(x->dtype);
    int64_t M = x->dims[x->rank - 2], N = x->dims[x->rank - 1], batch = prod(x->dims, 0, x->rank - 2);
    int64_t k = kv && kv->data ? *(const int64_t *)kv->data : 0;
    if (k > M + N) k = M + N;
    if (k < -(M + N)) k = -(M + N);
    if (x->data != y->data && tdm_numel(x)) memcpy(y->data, x->data, (size_t)tdm_numel(x) * es);
    char *d = y->data;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < M; i++, d += (size_t)N * es) {
            int64_t lo, hi; /* zeroed column range [lo, hi) */
            if (p->upper) {
                lo = 0;
                hi = i + k;
            } else {
                lo = i + k + 1;
                hi = N;
            }
            if (lo < 0) lo = 0;
            if (hi > N) hi = N;
            if (hi > lo) memset(d + (size_t)lo * es, 0, (size_t)(hi - lo) * es);
        }
    return TDM_OK;
}

/* ---- CumSum -------------------------------------------------------------------------------------------------- */

typedef struct cumsum_params {
    int64_t exclusive, reverse;
} cumsum_params;

tdm_status gather_cumsum_check(tdm_ctx *c, tdm_node *n) {
    cumsum_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `x` and `axis`");
    tdm_status st = tdm_attr_int(n, "exclusive", 0, &p->exclusive);
    if (st) return st;
    return tdm_attr_int(n, "reverse", 0, &p->reverse);
}

/* The axis input is read from its data: constant at plan time, or a run-time value. */
static tdm_status cumsum_axis(const tdm_node *n, const tdm_value *av, int rank, int *a) {
    int64_t v = index_at(av->data, av->dtype, 0);
    *a = tdm_axis(v, rank);
    if (*a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)v, rank);
    return TDM_OK;
}

tdm_status gather_cumsum_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *av = tdm_in(c, n, 1);
    switch (x->dtype) {
    case TDM_FLOAT: case TDM_DOUBLE: case TDM_INT32: case TDM_INT64: case TDM_UINT32: case TDM_UINT64: break;
    default:
        return tdm_node_error(n, TDM_UNSUPPORTED, "x has dtype %s; supported: float, double, (u)int32, (u)int64",
                              tdm_dtype_name(x->dtype));
    }
    if ((av->dtype != TDM_INT32 && av->dtype != TDM_INT64) || tdm_numel(av) != 1)
        return tdm_node_error(n, TDM_INVALID_MODEL, "axis must be one int32 or int64");
    if (x->rank < 1) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "x must have rank >= 1");
    int a;
    tdm_status st;
    if (tdm_is_const(av) && (st = cumsum_axis(n, av, x->rank, &a))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = tdm_numel(x);
    return TDM_OK;
}

/* Unsigned arithmetic for the integer types keeps overflow defined (wraps like the reference). */
#define CUMSUM_LOOP(T, ACC)                                                                                        \
    do {                                                                                                           \
        const T *xs = x->data;                                                                                     \
        T *ys = y->data;                                                                                           \
        for (int64_t o = 0; o < outer; o++)                                                                        \
            for (int64_t i = 0; i < inner; i++) {                                                                  \
                ACC acc = 0;                                                                                       \
                for (int64_t t = 0; t < len; t++) {                                                                \
                    int64_t j = p->reverse ? len - 1 - t : t;                                                      \
                    int64_t at = (o * len + j) * inner + i;                                                        \
                    ACC v = (ACC)xs[at];                                                                           \
                    if (p->exclusive) {                                                                            \
                        ys[at] = (T)acc;                                                                           \
                        acc += v;                                                                                  \
                    } else {                                                                                       \
                        acc += v;                                                                                  \
                        ys[at] = (T)acc;                                                                           \
                    }                                                                                              \
                }                                                                                                  \
            }                                                                                                      \
    } while (0)

tdm_status gather_cumsum_run(tdm_ctx *c, const tdm_node *n) {
    const cumsum_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int a;
    tdm_status st = cumsum_axis(n, tdm_in(c, n, 1), x->rank, &a);
    if (st) return st;
    int64_t outer = prod(x->dims, 0, a), len = x->dims[a], inner = prod(x->dims, a + 1, x->rank);
    switch (x->dtype) {
    case TDM_FLOAT: CUMSUM_LOOP(float, float); break;
    case TDM_DOUBLE: CUMSUM_LOOP(double, double); break;
    case TDM_INT32: CUMSUM_LOOP(int32_t, uint32_t); break;
    case TDM_UINT32: CUMSUM_LOOP(uint32_t, uint32_t); break;
    case TDM_INT64: CUMSUM_LOOP(int64_t, uint64_t); break;
    case TDM_UINT64: CUMSUM_LOOP(uint64_t, uint64_t); break;
    default: return tdm_node_error(n, TDM_UNSUPPORTED, "dtype %s", tdm_dtype_name(x->dtype));
    }
    return TDM_OK;
}

/* ---- GatherND ------------------------------------------------------------------------------------------------ */

typedef struct gathernd_params {
    int64_t batch_dims;
} gathernd_params;

tdm_status gather_nd_check(tdm_ctx *c, tdm_node *n) {
    gathernd_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `data` and `indices`");
    tdm_status st = tdm_attr_int(n, "batch_dims", 0, &p->batch_dims);
    if (st) return st;
    if (p->batch_dims < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "batch_dims %lld is negative", (long long)p->batch_dims);
    return TDM_OK;
}

tdm_status gather_nd_shape(tdm_ctx *c, tdm_node *n) {
    const gathernd_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1);
    size_t es;
    tdm_status st = elem_size(n, x, "data", &es);
    if (st) return st;
    if (ix->dtype != TDM_INT64 && ix->dtype != TDM_INT32)
        return tdm_node_error(n, TDM_INVALID_MODEL, "indices must be int64, not %s", tdm_dtype_name(ix->dtype));
    int r = x->rank, q = ix->rank, b = (int)p->batch_dims;
    if (q < 1 || r < 1 || p->batch_dims >= (q < r ? q : r))
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "batch_dims %d needs data rank %d and indices rank %d above it",
                              b, r, q);
    int64_t k = ix->dims[q - 1];
    if (k < 1 || k > r - b)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "indices last dim %lld must be in [1, %d]", (long long)k, r - b);
    for (int i = 0; i < b; i++)
        if (ix->dims[i] != x->dims[i])
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "batch dim %d: indices %lld, data %lld", i,
                                  (long long)ix->dims[i], (long long)x->dims[i]);
    int orank = q - 1 + r - b - (int)k;
    if (orank > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_UNSUPPORTED, "output rank %d exceeds the maximum %d", orank, TDM_MAX_RANK);
    int64_t d[TDM_MAX_RANK];
    int o = 0;
    for (int i = 0; i < q - 1; i++) d[o++] = ix->dims[i];
    for (int i = b + (int)k; i < r; i++) d[o++] = x->dims[i];
    if ((st = shape_check_size(n, orank, d, es))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, orank, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status gather_nd_run(tdm_ctx *c, const tdm_node *n) {
    const gathernd_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1), *y = tdm_out(c, n, 0);
    int r = x->rank, q = ix->rank, b = (int)p->batch_dims, k = (int)ix->dims[q - 1];
    size_t es = tdm_dtype_size(x->dtype);
    int64_t B = prod(x->dims, 0, b), bsize = prod(x->dims, b, r), M = prod(ix->dims, b, q - 1);
    int64_t slice = prod(x->dims, b + k, r), st[TDM_MAX_RANK];
    for (int j = 0; j < k; j++) st[j] = prod(x->dims, b + j + 1, r);
    char *d = y->data;
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t m = 0; m < M; m++, d += (size_t)slice * es) {
            int64_t off = 0, t = (bi * M + m) * k;
            for (int j = 0; j < k; j++) {
                int64_t v = index_at(ix->data, ix->dtype, t + j), dim = x->dims[b + j];
                if (v < -dim || v >= dim)
                    return tdm_node_error(n, TDM_INVALID_ARGUMENT, "index %lld is out of range for dim %d of size %lld",
                                          (long long)v, b + j, (long long)dim);
                off += (v < 0 ? v + dim : v) * st[j];
            }
            if (slice) memcpy(d, (const char *)x->data + (size_t)(bi * bsize + off) * es, (size_t)slice * es);
        }
    return TDM_OK;
}

/* ---- ScatterElements, Scatter, ScatterND --------------------------------------------------------------------- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

typedef struct scatter_params {
    int64_t axis;
    int reduction;
} scatter_params;

tdm_status gather_scatter_check(tdm_ctx *c, tdm_node *n) {
    scatter_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_in(c, n, 2) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `data`, `indices` and `updates`");
    const char *red;
    tdm_status st = tdm_attr_int(n, "axis", 0, &p->axis);
    if (st || (st = tdm_attr_string(n, "reduction", "none", &red))) return st;
    if (!strcmp(red, "none")) p->reduction = RED_NONE;
    else if (!strcmp(red, "add")) p->reduction = RED_ADD;
    else if (!strcmp(red, "mul")) p->reduction = RED_MUL;
    else if (!strcmp(red, "max")) p->reduction = RED_MAX;
    else if (!strcmp(red, "min")) p->reduction = RED_MIN;
    else return tdm_node_error(n, TDM_INVALID_MODEL, "unknown reduction '%s'", red);
    return TDM_OK;
}

/* Integer reductions go through uint64 so that overflow wraps instead of being undefined. */
#define RED_INT(T, U)                                                                                              \
    do {                                                                                                           \
        T a, b;                                                                                                    \
        memcpy(&a, dst, sizeof a);                                                                                 \
        memcpy(&b, src, sizeof b);                                                                                 \
        uint64_t ua = (U)a, ub = (U)b;                                                                             \
        if (red == RED_ADD) a = (T)(U)(ua + ub);                                                                   \
        else if (red == RED_MUL) a = (T)(U)(ua * ub);                                                              \
        else if (red == RED_MAX) a = b > a ? b : a;                                                                \
        else a = b < a ? b : a;                                                                                    \
        memcpy(dst, &a, sizeof a);                                                                                 \
    } while (0)
#define RED_FLT(T)                                                                                                 \
    do {                                                                                                           \
        T a, b;                                                                                                    \
        memcpy(&a, dst, sizeof a);                                                                                 \
        memcpy(&b, src, sizeof b);                                                                                 \
        if (red == RED_ADD) a = a + b;                                                                             \
        else if (red == RED_MUL) a = a * b;                                                                        \
        else if (red == RED_MAX) a = b > a ? b : a;                                                                \
        else a = b < a ? b : a;                                                                                    \
        memcpy(dst, &a, sizeof a);                                                                                 \
    } while (0)

/* dst = reduce(dst, src) for one element. */
static void reduce_elem(void *dst, const void *src, tdm_dtype dt, int red, size_t es) {
    switch (red == RED_NONE ? TDM_UNDEFINED : dt) {
    case TDM_FLOAT: RED_FLT(float); break;
    case TDM_DOUBLE: RED_FLT(double); break;
    case TDM_INT8: RED_INT(int8_t, uint8_t); break;
    case TDM_UINT8: RED_INT(uint8_t, uint8_t); break;
    case TDM_INT16: RED_INT(int16_t, uint16_t); break;
    case TDM_UINT16: RED_INT(uint16_t, uint16_t); break;
    case TDM_INT32: RED_INT(int32_t, uint32_t); break;
    case TDM_UINT32: RED_INT(uint32_t, uint32_t); break;
    case TDM_INT64: RED_INT(int64_t, uint64_t); break;
    case TDM_UINT64: RED_INT(uint64_t, uint64_t); break;
    default: memcpy(dst, src, es); break;
    }
}

/* Shared shape checks of the scatter ops: the output is the data's shape; updates must match `want_rank/want`. */
static tdm_status scatter_common(tdm_ctx *c, tdm_node *n, int want_rank, const int64_t *want) {
    const scatter_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1), *u = tdm_in(c, n, 2);
    size_t es;
    tdm_status st = elem_size(n, x, "data", &es);
    if (st) return st;
    if (ix->dtype != TDM_INT64 && ix->dtype != TDM_INT32)
        return tdm_node_error(n, TDM_INVALID_MODEL, "indices must be int32 or int64, not %s", tdm_dtype_name(ix->dtype));
    if (u->dtype != x->dtype)
        return tdm_node_error(n, TDM_INVALID_MODEL, "updates are %s but data is %s", tdm_dtype_name(u->dtype),
                              tdm_dtype_name(x->dtype));
    if (p->reduction != RED_NONE && (x->dtype == TDM_BOOL || x->dtype == TDM_FLOAT16))
        return tdm_node_error(n, TDM_UNSUPPORTED, "reduction on %s data is not supported", tdm_dtype_name(x->dtype));
    int same = u->rank == want_rank;
    for (int i = 0; same && i < want_rank; i++) same = u->dims[i] == want[i];
    if (!same) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "updates shape does not match the indices");
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status gather_scatter_elements_shape(tdm_ctx *c, tdm_node *n) {
    const scatter_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1);
    int a = tdm_axis(p->axis, x->rank);
    if (a < 0 || ix->rank != x->rank)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld / indices rank %d do not fit data rank %d",
                              (long long)p->axis, ix->rank, x->rank);
    for (int i = 0; i < x->rank; i++)
        if (i != a && ix->dims[i] > x->dims[i])
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "indices dim %d = %lld exceeds data dim %lld", i,
                                  (long long)ix->dims[i], (long long)x->dims[i]);
    return scatter_common(c, n, ix->rank, ix->dims);
}

tdm_status gather_scatter_elements_run(tdm_ctx *c, const tdm_node *n) {
    const scatter_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1), *u = tdm_in(c, n, 2), *y = tdm_out(c, n, 0);
    int r = x->rank, a = tdm_axis(p->axis, r);
    size_t es = tdm_dtype_size(x->dtype);
    int64_t total = tdm_numel(ix), dim = x->dims[a], xst[TDM_MAX_RANK], idx[TDM_MAX_RANK] = {0}, base = 0;
    if (y->data != x->data && tdm_numel(x)) memcpy(y->data, x->data, (size_t)tdm_numel(x) * es);
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xst[i] = s;
        s *= x->dims[i];
    }
    const char *src = u->data;
    for (int64_t e = 0; e < total; e++, src += es) {
        int64_t k = index_at(ix->data, ix->dtype, e);
        if (k < -dim || k >= dim)
            return tdm_node_error(n, TDM_INVALID_ARGUMENT, "index %lld is out of range for axis %d of size %lld",
                                  (long long)k, a, (long long)dim);
        if (k < 0) k += dim;
        reduce_elem((char *)y->data + (size_t)(base + k * xst[a]) * es, src, x->dtype, p->reduction, es);
        for (int i = r - 1; i >= 0; i--) {
            if (i != a) base += xst[i];
            if (++idx[i] < ix->dims[i]) break;
            if (i != a) base -= xst[i] * ix->dims[i];
            idx[i] = 0;
        }
    }
    return TDM_OK;
}

tdm_status gather_scatter_nd_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1);
    int q = ix->rank, r = x->rank;
    int64_t k = q > 0 ? ix->dims[q - 1] : 0, want[2 * TDM_MAX_RANK];
    if (q < 1 || k < 1 || k > r)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "indices last dim %lld must be in [1, data rank %d]",
                              (long long)k, r);
    int wr = 0;
    for (int i = 0; i < q - 1; i++) want[wr++] = ix->dims[i];
    for (int i = (int)k; i < r; i++) want[wr++] = x->dims[i];
    return scatter_common(c, n, wr, want);
}

tdm_status gather_scatter_nd_run(tdm_ctx *c, const tdm_node *n) {
    const scatter_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *ix = tdm_in(c, n, 1), *u = tdm_in(c, n, 2), *y = tdm_out(c, n, 0);
    int r = x->rank, q = ix->rank, k = (int)ix->dims[q - 1];
    size_t es = tdm_dtype_size(x->dtype);
    int64_t M = prod(ix->dims, 0, q - 1), slice = prod(x->dims, k, r), st[TDM_MAX_RANK];
    for (int j = 0; j < k; j++) st[j] = prod(x->dims, j + 1, r);
    if (y->data != x->data && tdm_numel(x)) memcpy(y->data, x->data, (size_t)tdm_numel(x) * es);
    const char *src = u->data;
    for (int64_t m = 0; m < M; m++, src += (size_t)slice * es) {
        int64_t off = 0;
        for (int j = 0; j < k; j++) {
            int64_t v = index_at(ix->data, ix->dtype, m * k + j), dim = x->dims[j];
            if (v < -dim || v >= dim)
                return tdm_node_error(n, TDM_INVALID_ARGUMENT, "index %lld is out of range for dim %d of size %lld",
                                      (long long)v, j, (long long)dim);
            off += (v < 0 ? v + dim : v) * st[j];
        }
        char *d = (char *)y->data + (size_t)off * es;
        if (p->reduction == RED_NONE) {
            if (slice) memcpy(d, src, (size_t)slice * es);
        } else {
            for (int64_t i = 0; i < slice; i++) reduce_elem(d + (size_t)i * es, src + (size_t)i * es, x->dtype, p->reduction, es);
        }
    }
    return TDM_OK;
}

/* ---- ReverseSequence ----------------------------------------------------------------------------------------- */

typedef struct revseq_params {
    int64_t batch_axis, time_axis;
} revseq_params;

tdm_status gather_revseq_check(tdm_ctx *c, tdm_node *n) {
    revseq_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `input` and `sequence_lens`");
    tdm_status st = tdm_attr_int(n, "batch_axis", 1, &p->batch_axis);
    if (st || (st = tdm_attr_int(n, "time_axis", 0, &p->time_axis))) return st;
    if ((p->batch_axis != 0 && p->batch_axis != 1) || (p->time_axis != 0 && p->time_axis != 1) ||
        p->batch_axis == p->time_axis)
        return tdm_node_error(n, TDM_INVALID_MODEL, "batch_axis and time_axis must be 0 and 1 in some order");
    return TDM_OK;
}

tdm_status gather_revseq_shape(tdm_ctx *c, tdm_node *n) {
    const revseq_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *sl = tdm_in(c, n, 1);
    size_t es;
    tdm_status st = elem_size(n, x, "input", &es);
    if (st) return st;
    if (x->rank < 2) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input rank %d, expected >= 2", x->rank);
    if (sl->dtype != TDM_INT64 || sl->rank != 1 || sl->dims[0] != x->dims[p->batch_axis])
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "sequence_lens must be int64 of shape [%lld]",
                              (long long)x->dims[p->batch_axis]);
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status gather_revseq_run(tdm_ctx *c, const tdm_node *n) {
    const revseq_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *sl = tdm_in(c, n, 1), *y = tdm_out(c, n, 0);
    size_t es = tdm_dtype_size(x->dtype);
    int64_t B = x->dims[p->batch_axis], T = x->dims[p->time_axis], inner = prod(x->dims, 2, x->rank);
    int64_t sb = p->batch_axis == 0 ? T * inner : inner, stt = p->time_axis == 0 ? B * inner : inner;
    size_t row = (size_t)inner * es;
    if (!row) return TDM_OK;
    for (int64_t b = 0; b < B; b++) {
        int64_t len = ((const int64_t *)sl->data)[b];
        if (len < 0 || len > T)
            return tdm_node_error(n, TDM_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                                  (long long)b, (long long)len, (long long)T);
        for (int64_t t = 0; t < T; t++) {
            int64_t from = t < len ? len - 1 - t : t;
            memcpy((char *)y->data + (size_t)(b * sb + t * stt) * es,
                   (const char *)x->data + (size_t)(b * sb + from * stt) * es, row);
        }
    }
    return TDM_OK;
}
