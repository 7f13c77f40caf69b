/* cast.c - ops that convert or generate values of a given dtype: Cast, CastLike, ConstantOfShape, Range, EyeLike.
 * Numeric types: float, double, int8/16/32/64, uint8/16/32/64, bool; string and float16 are not supported. */
#include <math.h>

#include "shape_util.h"

static int cast_supported(tdm_dtype dt) {
    switch (dt) {
    case TDM_FLOAT: case TDM_DOUBLE: case TDM_INT8: case TDM_INT16: case TDM_INT32: case TDM_INT64:
    case TDM_UINT8: case TDM_UINT16: case TDM_UINT32: case TDM_UINT64: case TDM_BOOL:
        return 1;
    default:
        return 0;
    }
}

static const char *dtype_label(int64_t dt) {
    if (dt == 16) return "bfloat16"; /* not in tdm_dtype */
    const char *s = tdm_dtype_name((tdm_dtype)dt);
    return s ? s : "unknown";
}

static tdm_status unsupported_dtype(const tdm_node *n, const char *what, int64_t dt) {
    return tdm_node_error(n, TDM_UNSUPPORTED, "%s dtype %s (%lld) is not supported (numeric and bool types only)",
                          what, dtype_label(dt), (long long)dt);
}

/* ---- conversions --------------------------------------------------------------------------------------------- */

/* Float to integer: truncate toward zero; NaN gives 0 and values beyond int64 saturate (C leaves them undefined).
 * Narrower targets then wrap like numpy's astype on the int64 value. */
static inline int64_t f2i(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static inline uint64_t f2u(double v) {
    if (v >= 9223372036854775808.0) return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
    return (uint64_t)f2i(v);
}

#define CVT_LOOP(DT, ST, EXPR)                                                                                     \
    do {                                                                                                           \
        DT *d_ = dst;                                                                                              \
        const ST *s_ = src;                                                                                        \
        for (int64_t i_ = 0; i_ < count; i_++) {                                                                   \
            ST x = s_[i_];                                                                                         \
            d_[i_] = (DT)(EXPR);                                                                                   \
        }                                                                                                          \
    } while (0)

/* FEXPR converts a float/double source `x`, IEXPR an integer or bool source `x`. */
#define CVT_FROM(DT, FEXPR, IEXPR)                                                                                 \
    switch (st) {                                                                                                  \
    case TDM_FLOAT: CVT_LOOP(DT, float, FEXPR); break;                                                             \
    case TDM_DOUBLE: CVT_LOOP(DT, double, FEXPR); break;                                                           \
    case TDM_INT8: CVT_LOOP(DT, int8_t, IEXPR); break;                                                             \
    case TDM_INT16: CVT_LOOP(DT, int16_t, IEXPR); break;                                                           \
    case TDM_INT32: CVT_LOOP(DT, int32_t, IEXPR); break;                                                           \
    case TDM_INT64: CVT_LOOP(DT, int64_t, IEXPR); break;                                                           \
    case TDM_UINT8: CVT_LOOP(DT, uint8_t, IEXPR); break;                                                           \
    case TDM_UINT16: CVT_LOOP(DT, uint16_t, IEXPR); break;                                                         \
    case TDM_UINT32: CVT_LOOP(DT, uint32_t, IEXPR); break;                                                         \
    case TDM_UINT64: CVT_LOOP(DT, uint64_t, IEXPR); break;                                                         \
    case TDM_BOOL: CVT_LOOP(DT, uint8_t, x != 0); break;                                                           \
    default: return 0;                                                                                             \
    }

/* Convert count elements; 0 if either dtype is unsupported. Bool sources are read as 0/1, bool targets as x != 0. */
static int convert(void *dst, tdm_dtype dt, const void *src, tdm_dtype st, int64_t count) {
    if (dt == st) {
        if (count > 0 && dst != src) memcpy(dst, src, (size_t)count * tdm_dtype_size(dt));
        return cast_supported(dt);
    }
    switch (dt) {
    case TDM_FLOAT: CVT_FROM(float, x, x); break;
    case TDM_DOUBLE: CVT_FROM(double, x, x); break;
    case TDM_INT8: CVT_FROM(int8_t, f2i(x), x); break;
    case TDM_INT16: CVT_FROM(int16_t, f2i(x), x); break;
    case TDM_INT32: CVT_FROM(int32_t, f2i(x), x); break;
    case TDM_INT64: CVT_FROM(int64_t, f2i(x), x); break;
    case TDM_UINT8: CVT_FROM(uint8_t, f2i(x), x); break;
    case TDM_UINT16: CVT_FROM(uint16_t, f2i(x), x); break;
    case TDM_UINT32: CVT_FROM(uint32_t, f2i(x), x); break;
    case TDM_UINT64: CVT_FROM(uint64_t, f2u(x), x); break;
    case TDM_BOOL: CVT_FROM(uint8_t, x != 0, x != 0); break;
    default: return 0;
    }
    return 1;
}

/* ---- Cast, CastLike ------------------------------------------------------------------------------------------ */

typedef struct cast_params {
    int64_t to;
} cast_params;

tdm_status cast_check(tdm_ctx *c, tdm_node *n) {
    cast_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    const tdm_attr *a = tdm_attr_find(n, "to");
    if (!a) return tdm_node_error(n, TDM_INVALID_MODEL, "missing required attribute `to`");
    if (a->type == TDM_ATTR_STRING && c->opset < 6) {
        /* opset 1 spells the type as a string */
        static const struct { const char *name; tdm_dtype dt; } names[] = {
            {"FLOAT", TDM_FLOAT}, {"DOUBLE", TDM_DOUBLE}, {"INT8", TDM_INT8}, {"INT16", TDM_INT16},
            {"INT32", TDM_INT32}, {"INT64", TDM_INT64}, {"UINT8", TDM_UINT8}, {"UINT16", TDM_UINT16},
            {"UINT32", TDM_UINT32}, {"UINT64", TDM_UINT64}, {"BOOL", TDM_BOOL}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(a->s, names[i].name)) p->to = names[i].dt;
        if (!p->to) return tdm_node_error(n, TDM_UNSUPPORTED, "target type '%s' is not supported", a->s);
        return TDM_OK;
    }
    tdm_status st = tdm_attr_int(n, "to", 0, &p->to);
    if (st) return st;
    if (!cast_supported((tdm_dtype)p->to)) return unsupported_dtype(n, "target", p->to);
    return TDM_OK;
}

tdm_status cast_shape(tdm_ctx *c, tdm_node *n) {
    const cast_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    if (!cast_supported(x->dtype)) return unsupported_dtype(n, "input", x->dtype);
    tdm_set_shape(tdm_out(c, n, 0), (tdm_dtype)p->to, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Shared by Cast and CastLike: the target is the output's dtype. */
tdm_status cast_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    if (!convert(y->data, y->dtype, x->data, x->dtype, tdm_numel(x)))
        return tdm_node_error(n, TDM_UNSUPPORTED, "cannot convert %s to %s", tdm_dtype_name(x->dtype),
                              tdm_dtype_name(y->dtype));
    return TDM_OK;
}

tdm_status cast_like_check(tdm_ctx *c, tdm_node *n) {
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `input` and `target_type`");
    return TDM_OK;
}

tdm_status cast_like_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *t = tdm_in(c, n, 1);
    if (!cast_supported(x->dtype)) return unsupported_dtype(n, "input", x->dtype);
    if (!cast_supported(t->dtype)) return unsupported_dtype(n, "target", t->dtype);
    tdm_set_shape(tdm_out(c, n, 0), t->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* ---- ConstantOfShape ----------------------------------------------------------------------------------------- */

tdm_status cast_constant_of_shape_check(tdm_ctx *c, tdm_node *n) {
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing `input`");
    const tdm_attr *a = tdm_attr_find(n, "value");
    if (!a) return TDM_OK;
    if (a->type != TDM_ATTR_TENSOR || !a->t)
        return tdm_node_error(n, TDM_INVALID_MODEL, "attribute `value` must be a tensor");
    if (tdm_tensor_numel(a->t) != 1)
        return tdm_node_error(n, TDM_INVALID_MODEL, "attribute `value` must hold one element, not %lld",
                              (long long)tdm_tensor_numel(a->t));
    if (tdm_dtype_size(a->t->dtype) == 0) return unsupported_dtype(n, "value", a->t->dtype);
    return TDM_OK;
}

tdm_status cast_constant_of_shape_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *s = tdm_in(c, n, 0);
    const tdm_attr *a = tdm_attr_find(n, "value");
    int64_t d[TDM_MAX_RANK];
    int cnt;
    if (!tdm_is_const(s))
        return tdm_node_error(n, TDM_UNSUPPORTED,
                              "needs a constant `input` (the shape; data-dependent shapes are not supported)");
    tdm_status st = tdm_const_ints(n, s, d, TDM_MAX_RANK, &cnt);
    if (st) return st;
    for (int i = 0; i < cnt; i++)
        if (d[i] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "shape[%d] = %lld is negative", i, (long long)d[i]);
    if ((st = shape_check_size(n, cnt, d, tdm_dtype_size(a ? a->t->dtype : TDM_FLOAT)))) return st;
    tdm_set_shape(tdm_out(c, n, 0), a ? a->t->dtype : TDM_FLOAT, cnt, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status cast_constant_of_shape_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *y = tdm_out(c, n, 0);
    const tdm_attr *a = tdm_attr_find(n, "value");
    size_t es = tdm_dtype_size(y->dtype);
    int64_t total = tdm_numel(y);
    if (!a) {
        if (total) memset(y->data, 0, (size_t)total * es);
        return TDM_OK;
    }
    char *d = y->data;
    for (int64_t i = 0; i < total; i++) memcpy(d + (size_t)i * es, a->t->data, es);
    return TDM_OK;
}

/* ---- Range --------------------------------------------------------------------------------------------------- */

tdm_status cast_range_check(tdm_ctx *c, tdm_node *n) {
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_in(c, n, 2) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `start`, `limit` and `delta`");
    return TDM_OK;
}

/* Element count max(ceil((limit - start) / delta), 0), computed in the input type as the reference does. */
static tdm_status range_count(const tdm_node *n, const tdm_value *s, const tdm_value *l, const tdm_value *dl,
                              int64_t *count) {
    double cnt;
    switch (s->dtype) {
    case TDM_FLOAT: {
        float a = *(const float *)s->data, b = *(const float *)l->data, d = *(const float *)dl->data;
        if (d == 0) return tdm_node_error(n, TDM_INVALID_MODEL, "delta is 0");
        cnt = ceilf((b - a) / d);
        break;
    }
    case TDM_DOUBLE: {
        double a = *(const double *)s->data, b = *(const double *)l->data, d = *(const double *)dl->data;
        if (d == 0) return tdm_node_error(n, TDM_INVALID_MODEL, "delta is 0");
        cnt = ceil((b - a) / d);
        break;
    }
    case TDM_INT16: case TDM_INT32: case TDM_INT64: {
        int64_t a, b, d;
        int k;
        tdm_status st;
        if (s->dtype == TDM_INT16) {
            a = *(const int16_t *)s->data;
            b = *(const int16_t *)l->data;
            d = *(const int16_t *)dl->data;
        } else if ((st = tdm_const_ints(n, s, &a, 1, &k)) || (st = tdm_const_ints(n, l, &b, 1, &k)) ||
                   (st = tdm_const_ints(n, dl, &d, 1, &k))) {
            return st;
        }
        if (d == 0) return tdm_node_error(n, TDM_INVALID_MODEL, "delta is 0");
        cnt = ceil(((double)b - (double)a) / (double)d);
        break;
    }
    default:
        return tdm_node_error(n, TDM_UNSUPPORTED, "dtype %s; supported: float, double, int16, int32, int64",
                              tdm_dtype_name(s->dtype));
    }
    if (!(cnt >= 0)) cnt = 0; /* also NaN */
    if (cnt > 1e12) return tdm_node_error(n, TDM_UNSUPPORTED, "range of %.0f elements is too large", cnt);
    *count = (int64_t)cnt;
    return TDM_OK;
}

tdm_status cast_range_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *s = tdm_in(c, n, 0), *l = tdm_in(c, n, 1), *dl = tdm_in(c, n, 2);
    static const char *names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++) {
        tdm_value *v = tdm_in(c, n, i);
        if (!tdm_is_const(v))
            return tdm_node_error(n, TDM_UNSUPPORTED,
                                  "needs a constant `%s` input (data-dependent shapes are not supported)", names[i]);
        if (v->dtype != s->dtype || tdm_numel(v) != 1)
            return tdm_node_error(n, TDM_INVALID_MODEL, "`%s` must be one %s value", names[i],
                                  tdm_dtype_name(s->dtype));
    }
    int64_t count;
    tdm_status st = range_count(n, s, l, dl, &count);
    if (st) return st;
    tdm_set_shape(tdm_out(c, n, 0), s->dtype, 1, &count);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status cast_range_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *s = tdm_in(c, n, 0), *dl = tdm_in(c, n, 2), *y = tdm_out(c, n, 0);
    int64_t count = y->dims[0];
    switch (y->dtype) {
    case TDM_FLOAT: {
        float a = *(const float *)s->data, d = *(const float *)dl->data, *o = y->data;
        for (int64_t i = 0; i < count; i++) o[i] = a + (float)i * d;
        break;
    }
    case TDM_DOUBLE: {
        double a = *(const double *)s->data, d = *(const double *)dl->data, *o = y->data;
        for (int64_t i = 0; i < count; i++) o[i] = a + (double)i * d;
        break;
    }
    case TDM_INT16: {
        int16_t a = *(const int16_t *)s->data, d = *(const int16_t *)dl->data, *o = y->data;
        for (int64_t i = 0; i < count; i++) o[i] = (int16_t)(a + i * d);
        break;
    }
    case TDM_INT32: {
        int32_t a = *(const int32_t *)s->data, d = *(const int32_t *)dl->data, *o = y->data;
        for (int64_t i = 0; i < count; i++) o[i] = (int32_t)(a + i * d);
        break;
    }
    case TDM_INT64: {
        int64_t a = *(const int64_t *)s->data, d = *(const int64_t *)dl->data, *o = y->data;
        for (int64_t i = 0; i < count; i++) o[i] = (int64_t)((uint64_t)a + (uint64_t)i * (uint64_t)d);
        break;
    }
    default:
        return tdm_node_error(n, TDM_UNSUPPORTED, "dtype %s", tdm_dtype_name(y->dtype));
    }
    return TDM_OK;
}

/* ---- EyeLike ------------------------------------------------------------------------------------------------- */

typedef struct eyelike_params {
    int64_t dtype; /* 0: the input's */
    int64_t k;
} eyelike_params;

tdm_status cast_eyelike_check(tdm_ctx *c, tdm_node *n) {
    eyelike_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    tdm_status st = tdm_attr_int(n, "dtype", 0, &p->dtype);
    if (st || (st = tdm_attr_int(n, "k", 0, &p->k))) return st;
    if (p->dtype && !cast_supported((tdm_dtype)p->dtype)) return unsupported_dtype(n, "output", p->dtype);
    return TDM_OK;
}

tdm_status cast_eyelike_shape(tdm_ctx *c, tdm_node *n) {
    const eyelike_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    tdm_dtype dt = p->dtype ? (tdm_dtype)p->dtype : x->dtype;
    if (!cast_supported(dt)) return unsupported_dtype(n, "output", dt);
    if (x->rank != 2) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input rank %d, expected 2", x->rank);
    tdm_set_shape(tdm_out(c, n, 0), dt, 2, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status cast_eyelike_run(tdm_ctx *c, const tdm_node *n) {
    const eyelike_params *p = n->params;
    tdm_value *y = tdm_out(c, n, 0);
    size_t es = tdm_dtype_size(y->dtype);
    int64_t R = y->dims[0], C = y->dims[1];
    if (R * C == 0) return TDM_OK;
    memset(y->data, 0, (size_t)(R * C) * es);
    union { double d; uint64_t u; unsigned char b[8]; } one;
    const uint8_t one_u8 = 1;
    if (!convert(&one, y->dtype, &one_u8, TDM_UINT8, 1))
        return tdm_node_error(n, TDM_UNSUPPORTED, "dtype %s", tdm_dtype_name(y->dtype));
    int64_t k = p->k > C ? C : p->k < -R ? -R : p->k;
    for (int64_t i = 0; i < R; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < C) memcpy((char *)y->data + (size_t)(i * C + j) * es, one.b, es);
    }
    return TDM_OK;
}
