/* shape_ops.c - data-movement ops that only rearrange bytes: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout,
 * Shape, Size, Concat, Split; plus the helpers and the strided copy engine shared with layout.c. Every dtype works. */
#include "shape_util.h"

/* ---- small helpers ------------------------------------------------------------------------------------------- */

/* Element size of v, or a node error for types whose elements are not fixed-size (string). */
tdm_status shape_elem_size(const tdm_node *n, const tdm_value *v, const char *what, size_t *es) {
    *es = tdm_dtype_size(v->dtype);
    if (*es == 0)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%s has dtype %s, which is not supported", what,
                              tdm_dtype_name(v->dtype));
    return TDM_OK;
}

/* Shape-determining inputs must be known at plan time: the engine does not support data-dependent shapes. */
tdm_status shape_need_const(const tdm_node *n, const tdm_value *v, const char *what) {
    if (!tdm_is_const(v))
        return tdm_node_error(n, TDM_UNSUPPORTED,
                              "needs a constant `%s` input (data-dependent shapes are not supported)", what);
    return TDM_OK;
}

/* Read an optional constant integer input; count 0 when absent. */
tdm_status shape_opt_const_ints(const tdm_node *n, const tdm_value *v, const char *what, int64_t *out, int max,
                                 int *count) {
    *count = 0;
    if (!v) return TDM_OK;
    tdm_status st = shape_need_const(n, v, what);
    if (st) return st;
    return tdm_const_ints(n, v, out, max, count);
}

void shape_strides(int rank, const int64_t *dims, int64_t *st) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

int64_t shape_prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

void shape_copy_bytes(void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src) memcpy(dst, src, bytes);
}

tdm_status shape_check_size(const tdm_node *n, int rank, const int64_t *dims, size_t es) {
    const int64_t limit = (int64_t)1 << 47;
    int64_t bytes = (int64_t)(es ? es : 1);
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "output dim %d is negative", i);
        if (dims[i] == 0) return TDM_OK;
    }
    for (int i = 0; i < rank; i++) {
        if (dims[i] > limit / bytes)
            return tdm_node_error(n, TDM_UNSUPPORTED, "output of more than 2^47 bytes is not supported");
        bytes *= dims[i];
    }
    return TDM_OK;
}

/* Fill count elements of es bytes each with the pattern at val (doubling memcpy; memset when all zero). */
void shape_fill_pattern(void *dst, int64_t count, const void *val, size_t es) {
    if (count <= 0) return;
    const unsigned char *v = val;
    size_t total = (size_t)count * es, k = 0;
    while (k < es && v[k] == 0) k++;
    if (k == es) {
        memset(dst, 0, total);
        return;
    }
    memcpy(dst, val, es);
    size_t done = es;
    while (done < total) {
        size_t chunk = done < total - done ? done : total - done;
        memcpy((char *)dst + done, dst, chunk);
        done += chunk;
    }
}

/* Store the number v as one element of dtype dt (used for attribute values such as Pad's `value`). */
void shape_put_scalar(void *dst, tdm_dtype dt, double v) {
    switch (dt) {
    case TDM_FLOAT: { float x = (float)v; memcpy(dst, &x, 4); break; }
    case TDM_DOUBLE: memcpy(dst, &v, 8); break;
    case TDM_INT8: { int8_t x = (int8_t)v; memcpy(dst, &x, 1); break; }
    case TDM_UINT8: { uint8_t x = (uint8_t)v; memcpy(dst, &x, 1); break; }
    case TDM_BOOL: { uint8_t x = v != 0; memcpy(dst, &x, 1); break; }
    case TDM_INT16: { int16_t x = (int16_t)v; memcpy(dst, &x, 2); break; }
    case TDM_UINT16: { uint16_t x = (uint16_t)v; memcpy(dst, &x, 2); break; }
    case TDM_INT32: { int32_t x = (int32_t)v; memcpy(dst, &x, 4); break; }
    case TDM_UINT32: { uint32_t x = (uint32_t)v; memcpy(dst, &x, 4); break; }
    case TDM_INT64: { int64_t x = (int64_t)v; memcpy(dst, &x, 8); break; }
    case TDM_UINT64: { uint64_t x = (uint64_t)v; memcpy(dst, &x, 8); break; }
    default: memset(dst, 0, tdm_dtype_size(dt)); break; /* float16: only 0 is exact; callers reject others */
    }
}

/* ---- strided copy engine ------------------------------------------------------------------------------------- */
/* Copies an index box of `rank` dims from src to dst, each side with its own element strides (negative and zero
 * strides allowed: negative-step Slice, broadcast). Dims are merged where both sides are contiguous so that the
 * inner loop is one memcpy per row whenever the layout allows. Shared by Transpose, Slice, Expand, Tile, Pad and
 * the depth/space ops. */

typedef struct sc_job {
    int rank;
    int64_t dims[SC_MAX];
    int64_t sstr[SC_MAX], dstr[SC_MAX];
    const char *src;
    char *dst;
    size_t es;
    int64_t rows, rows_per_task; /* work items (rows, or tiles when tile_dim >= 0) */
    int tile_dim;                 /* -1: plain rows */
    int64_t tile;
} sc_job;

/* One row: L elements with strides ss (source) and ds (destination). Fixed-size memcpy compiles to a load/store. */
static void sc_copy_row(char *d, const char *s, int64_t L, int64_t ss, int64_t ds, size_t es) {
    if (ss == 1 && ds == 1) {
        memcpy(d, s, (size_t)L * es);
        return;
    }
    ptrdiff_t sb = (ptrdiff_t)(ss * (int64_t)es), db = (ptrdiff_t)(ds * (int64_t)es);
    switch (es) {
    case 1: for (int64_t i = 0; i < L; i++, d += db, s += sb) *d = *s; break;
    case 2: for (int64_t i = 0; i < L; i++, d += db, s += sb) memcpy(d, s, 2); break;
    case 4: for (int64_t i = 0; i < L; i++, d += db, s += sb) memcpy(d, s, 4); break;
    case 8: for (int64_t i = 0; i < L; i++, d += db, s += sb) memcpy(d, s, 8); break;
    default: for (int64_t i = 0; i < L; i++, d += db, s += sb) memcpy(d, s, es); break;
    }
}

/* Rows [r0, r1) of the job, walking the outer dims as an odometer. */
static void sc_rows(const sc_job *j, int64_t r0, int64_t r1) {
    int outer = j->rank - 1;
    int64_t idx[SC_MAX], so = 0, dof = 0, r = r0;
    for (int k = outer - 1; k >= 0; k--) {
        idx[k] = r % j->dims[k];
        r /= j->dims[k];
        so += idx[k] * j->sstr[k];
        dof += idx[k] * j->dstr[k];
    }
    int64_t L = j->dims[outer], ss = j->sstr[outer], ds = j->dstr[outer];
    ptrdiff_t es = (ptrdiff_t)j->es;
    for (int64_t row = r0; row < r1; row++) {
        sc_copy_row(j->dst + (ptrdiff_t)dof * es, j->src + (ptrdiff_t)so * es, L, ss, ds, j->es);
        for (int k = outer - 1; k >= 0; k--) {
            so += j->sstr[k];
            dof += j->dstr[k];
            if (++idx[k] < j->dims[k]) break;
            so -= j->sstr[k] * j->dims[k];
            dof -= j->dstr[k] * j->dims[k];
            idx[k] = 0;
        }
    }
}

/* Transposing layouts (source contiguous along some outer dim k, destination along the last): rows read with a
 * large stride would touch a new cache line per element, so copy TxT tiles of (k, last) instead. Work item w is one
 * block of T indices of dim k under one combination of the other outer dims. */
static void sc_tiles(const sc_job *j, int64_t w0, int64_t w1) {
    int L = j->rank - 1, k = j->tile_dim;
    int64_t T = j->tile, dk = j->dims[k], dl = j->dims[L], nkb = (dk + T - 1) / T;
    int64_t ssk = j->sstr[k], dsk = j->dstr[k], ssl = j->sstr[L], dsl = j->dstr[L];
    ptrdiff_t es = (ptrdiff_t)j->es;
    for (int64_t w = w0; w < w1; w++) {
        int64_t o = w / nkb, kb = w % nkb, so = 0, dof = 0;
        for (int i = L - 1; i >= 0; i--) {
            if (i == k) continue;
            int64_t q = o % j->dims[i];
            o /= j->dims[i];
            so += q * j->sstr[i];
            dof += q * j->dstr[i];
        }
        int64_t k0 = kb * T, k1 = k0 + T < dk ? k0 + T : dk;
        for (int64_t l0 = 0; l0 < dl; l0 += T) {
            int64_t l1 = l0 + T < dl ? l0 + T : dl;
            for (int64_t i = k0; i < k1; i++)
                sc_copy_row(j->dst + (ptrdiff_t)(dof + i * dsk + l0 * dsl) * es,
                            j->src + (ptrdiff_t)(so + i * ssk + l0 * ssl) * es, l1 - l0, ssl, dsl, j->es);
        }
    }
}

static void sc_task(void *ctx, size_t i) {
    const sc_job *j = ctx;
    int64_t r0 = (int64_t)i * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > j->rows) r1 = j->rows;
    if (j->tile_dim >= 0) sc_tiles(j, r0, r1);
    else sc_rows(j, r0, r1);
}

/* Run the copy: dims/strides as given (rank <= SC_MAX), src/dst already offset to the box origin. */
void shape_strided_copy(tdm_pool *pool, int rank, const int64_t *dims, const int64_t *sstr, const int64_t *dstr,
                   const void *src, void *dst, size_t es) {
    sc_job j;
    j.rank = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) return;
        if (dims[i] == 1) continue;
        if (j.rank > 0 && j.sstr[j.rank - 1] == sstr[i] * dims[i] && j.dstr[j.rank - 1] == dstr[i] * dims[i]) {
            j.dims[j.rank - 1] *= dims[i];
            j.sstr[j.rank - 1] = sstr[i];
            j.dstr[j.rank - 1] = dstr[i];
            continue;
        }
        j.dims[j.rank] = dims[i];
        j.sstr[j.rank] = sstr[i];
        j.dstr[j.rank] = dstr[i];
        j.rank++;
    }
    if (j.rank == 0) {
        j.rank = 1;
        j.dims[0] = 1;
        j.sstr[0] = j.dstr[0] = 1;
    }
    j.src = src;
    j.dst = dst;
    j.es = es;
    j.rows = shape_prod(j.dims, 0, j.rank - 1);
    j.tile_dim = -1;
    j.tile = es <= 2 ? 64 : 32;
    int L = j.rank - 1;
    if (L > 0 && j.sstr[L] != 1 && j.sstr[L] != 0 && j.dstr[L] == 1 && j.dims[L] >= 4)
        for (int k = L - 1; k >= 0; k--)
            if (j.sstr[k] == 1 && j.dims[k] >= 4) {
                j.tile_dim = k;
                j.rows = j.rows / j.dims[k] * ((j.dims[k] + j.tile - 1) / j.tile);
                break;
            }
    int threads = tdm_pool_threads(pool);
    int64_t bytes = shape_prod(j.dims, 0, j.rank) * (int64_t)es;
    if (threads <= 1 || bytes < (1 << 16) || j.rows < 2) {
        if (j.tile_dim >= 0) sc_tiles(&j, 0, j.rows);
        else sc_rows(&j, 0, j.rows);
        return;
    }
    int64_t tasks = (int64_t)threads * 4;
    if (tasks > j.rows) tasks = j.rows;
    j.rows_per_task = (j.rows + tasks - 1) / tasks;
    tdm_parallelize_1d(pool, sc_task, &j, (size_t)((j.rows + j.rows_per_task - 1) / j.rows_per_task));
}

/* ---- plain copies: Reshape, Flatten, Squeeze, Unsqueeze, Identity ---------------------------------------------- */

/* Run of every op whose output holds the input's bytes unchanged (only the shape differs); nothing to do when the
 * input was written in place (view_inputs_in_output). */
tdm_status shape_copy_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    if (x->data != y->data) shape_copy_bytes(y->data, x->data, (size_t)tdm_numel(y) * tdm_dtype_size(y->dtype));
    return TDM_OK;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: input 0 is all of output 0's bytes, so its producer may write it there (the
 * planner's inputs written in place, plan.c); the shape and axes inputs are not. */
static int view_inputs_in_output(tdm_ctx *c, const tdm_node *n, size_t *off) {
    for (int j = 0; j < n->n_in; j++) off[j] = j ? SIZE_MAX : 0;
    return n->n_in >= 1 && tdm_out(c, n, 0) != NULL;
}
const tdm_op_hooks shape_view_hooks = {.inputs_in_output = view_inputs_in_output};

tdm_status shape_identity_check(tdm_ctx *c, tdm_node *n) {
    if (n->n_in < 1 || !tdm_in(c, n, 0) || n->n_out < 1 || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs one input and one output");
    return TDM_OK;
}

static int identity_forwards(tdm_ctx *c, const tdm_node *n) { return n->n_in >= 1 && n->in[0] >= 0; }
const tdm_op_hooks shape_identity_hooks = {.forwards = identity_forwards};

/* Constant nodes become constants when the model loads (graph.c), before any of these could run. */
tdm_status shape_constant_check(tdm_ctx *c, tdm_node *n) {
    return tdm_node_error(n, TDM_INTERNAL, "a Constant node reached the op table");
}
tdm_status shape_constant_shape(tdm_ctx *c, tdm_node *n) { return shape_constant_check(c, n); }
tdm_status shape_constant_run(tdm_ctx *c, const tdm_node *n) {
    return tdm_node_error(n, TDM_INTERNAL, "a Constant node reached the op table");
}

tdm_status shape_identity_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Reshape: opset < 5 carries the shape as an attribute, later opsets as input 1 (constant after folding). */
typedef struct reshape_params {
    int64_t allowzero;
    int attr_count; /* opset < 5 */
    int64_t attr_shape[TDM_MAX_RANK];
} reshape_params;

tdm_status shape_reshape_check(tdm_ctx *c, tdm_node *n) {
    reshape_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing data input");
    tdm_status st = tdm_attr_int(n, "allowzero", 0, &p->allowzero);
    if (st) return st;
    if (c->opset < 5) {
        st = tdm_attr_ints(n, "shape", p->attr_shape, TDM_MAX_RANK, &p->attr_count);
        if (st) return st;
    } else if (!tdm_in(c, n, 1)) {
        return tdm_node_error(n, TDM_INVALID_MODEL, "missing `shape` input");
    }
    return TDM_OK;
}

tdm_status shape_reshape_shape(tdm_ctx *c, tdm_node *n) {
    const reshape_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    int64_t shp[TDM_MAX_RANK], out[TDM_MAX_RANK];
    int cnt;
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st) return st;
    if (c->opset < 5) {
        cnt = p->attr_count;
        memcpy(shp, p->attr_shape, sizeof shp);
    } else {
        tdm_value *s = tdm_in(c, n, 1);
        if ((st = shape_need_const(n, s, "shape"))) return st;
        if ((st = tdm_const_ints(n, s, shp, TDM_MAX_RANK, &cnt))) return st;
    }
    int infer = -1, has_zero = 0;
    int64_t known = 1;
    for (int i = 0; i < cnt; i++) {
        int64_t d = shp[i];
        if (d == -1) {
            if (infer >= 0) return tdm_node_error(n, TDM_INVALID_MODEL, "shape has more than one -1");
            infer = i;
            continue;
        }
        if (d < -1) return tdm_node_error(n, TDM_INVALID_MODEL, "shape[%d] = %lld is negative", i, (long long)d);
        if (d == 0 && !p->allowzero) {
            if (i >= x->rank)
                return tdm_node_error(n, TDM_SHAPE_MISMATCH, "shape[%d] = 0 copies a dimension the rank-%d input lacks",
                                      i, x->rank);
            d = x->dims[i];
        }
        if (d == 0) has_zero = 1;
        out[i] = d;
        known *= d;
    }
    int64_t total = tdm_numel(x);
    if (infer >= 0) {
        if (p->allowzero && has_zero)
            return tdm_node_error(n, TDM_INVALID_MODEL, "shape has both -1 and 0 with allowzero=1");
        if (known == 0 || total % known)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot infer the -1 dimension: %lld elements into %lld",
                                  (long long)total, (long long)known);
        out[infer] = total / known;
        known *= out[infer];
    }
    if (known != total)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot reshape %lld elements into %lld", (long long)total,
                              (long long)known);
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, cnt, out);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

typedef struct flatten_params {
    int64_t axis;
} flatten_params;

tdm_status shape_flatten_check(tdm_ctx *c, tdm_node *n) {
    flatten_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    tdm_status st = tdm_attr_int(n, "axis", 1, &p->axis);
    if (st) return st;
    if (p->axis < 0 && c->opset < 11)
        return tdm_node_error(n, TDM_INVALID_MODEL, "negative axis %lld needs opset 11", (long long)p->axis);
    return TDM_OK;
}

tdm_status shape_flatten_shape(tdm_ctx *c, tdm_node *n) {
    const flatten_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st) return st;
    int64_t axis = p->axis;
    if (axis < -x->rank || axis > x->rank)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)axis,
                              x->rank);
    if (axis < 0) axis += x->rank;
    int64_t d[2] = {shape_prod(x->dims, 0, (int)axis), shape_prod(x->dims, (int)axis, x->rank)};
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, 2, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Squeeze/Unsqueeze: axes are an attribute before opset 13 and a (constant) input from 13 on. */
typedef struct axes_params {
    int count;
    int64_t axes[TDM_MAX_RANK];
} axes_params;

static tdm_status axes_check(tdm_ctx *c, tdm_node *n) {
    axes_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing data input");
    if (c->opset < 13) return tdm_attr_ints(n, "axes", p->axes, TDM_MAX_RANK, &p->count);
    return TDM_OK;
}

/* The axes of this plan: attribute, or the constant input 1. *present says whether any were given. */
static tdm_status axes_get(tdm_ctx *c, const tdm_node *n, int64_t *axes, int *count, int *present) {
    const axes_params *p = n->params;
    if (c->opset < 13) {
        *count = p->count;
        memcpy(axes, p->axes, sizeof p->axes);
        *present = tdm_attr_find(n, "axes") != NULL;
        return TDM_OK;
    }
    tdm_value *a = tdm_in(c, n, 1);
    *present = a != NULL;
    return shape_opt_const_ints(n, a, "axes", axes, TDM_MAX_RANK, count);
}

tdm_status shape_squeeze_check(tdm_ctx *c, tdm_node *n) { return axes_check(c, n); }

tdm_status shape_squeeze_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0);
    int64_t axes[TDM_MAX_RANK], out[TDM_MAX_RANK];
    int cnt, present, drop[TDM_MAX_RANK] = {0};
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st || (st = axes_get(c, n, axes, &cnt, &present))) return st;
    if (!present || cnt == 0) {
        for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < cnt; i++) {
            int a = tdm_axis(axes[i], x->rank);
            if (a < 0)
                return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d",
                                      (long long)axes[i], x->rank);
            if (x->dims[a] != 1)
                return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot squeeze axis %d of size %lld", a,
                                      (long long)x->dims[a]);
            drop[a] = 1;
        }
    }
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) out[r++] = x->dims[i];
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, r, out);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_unsqueeze_check(tdm_ctx *c, tdm_node *n) {
    tdm_status st = axes_check(c, n);
    if (st) return st;
    if (c->opset < 13 && !tdm_attr_find(n, "axes"))
        return tdm_node_error(n, TDM_INVALID_MODEL, "missing required attribute `axes`");
    if (c->opset >= 13 && !tdm_in(c, n, 1)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing `axes` input");
    return TDM_OK;
}

tdm_status shape_unsqueeze_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0);
    int64_t axes[TDM_MAX_RANK], out[TDM_MAX_RANK];
    int cnt, present, ins[TDM_MAX_RANK] = {0};
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st || (st = axes_get(c, n, axes, &cnt, &present))) return st;
    int r = x->rank + cnt;
    if (r > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_UNSUPPORTED, "output rank %d exceeds the maximum %d", r, TDM_MAX_RANK);
    for (int i = 0; i < cnt; i++) {
        int a = tdm_axis(axes[i], r);
        if (a < 0)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for output rank %d",
                                  (long long)axes[i], r);
        if (ins[a]) return tdm_node_error(n, TDM_INVALID_MODEL, "axis %d is repeated", a);
        ins[a] = 1;
    }
    for (int i = 0, k = 0; i < r; i++) out[i] = ins[i] ? 1 : x->dims[k++];
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, r, out);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Dropout in inference: output = input, optional mask of ones (bool from opset 10, the input type before). */
tdm_status shape_dropout_check(tdm_ctx *c, tdm_node *n) {
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing data input");
    return TDM_OK;
}

/* A true training_mode makes the output random, which this engine does not do, except with ratio 0 where training
 * is the identity too (scale 1, nothing dropped). Returns 1 when the node must be refused; ratio may still be
 * unknown (data NULL) at plan time, and then only a known-true training_mode with no ratio input is refused. */
static int dropout_refuse(const tdm_value *tm, const tdm_value *ratio) {
    if (!tm || !tm->data || tdm_numel(tm) < 1 || *(const unsigned char *)tm->data == 0) return 0;
    if (!ratio) return 1; /* default ratio 0.5 */
    if (!ratio->data || tdm_numel(ratio) < 1) return 0;
    double r;
    if (ratio->dtype == TDM_FLOAT) r = *(const float *)ratio->data;
    else if (ratio->dtype == TDM_DOUBLE) r = *(const double *)ratio->data;
    else if (ratio->dtype == TDM_FLOAT16) r = (*(const uint16_t *)ratio->data & 0x7fff) ? 1 : 0;
    else return 1;
    return r != 0;
}

/* At inference Dropout is the identity, unless its mask is read (it would have to be made) or a training_mode input
 * is given (the op decides at run time). Consumer counts are the graph pass's (graph.c counts them first). */
static int dropout_forwards(tdm_ctx *c, const tdm_node *n) {
    if (n->n_in < 1 || n->in[0] < 0) return 0;
    if (n->n_out > 1 && n->out[1] >= 0 && c->values[n->out[1]].consumers) return 0;
    return !(n->n_in > 2 && n->in[2] >= 0);
}
const tdm_op_hooks shape_dropout_hooks = {.forwards = dropout_forwards};

tdm_status shape_dropout_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *mask = tdm_out(c, n, 1), *tm = tdm_in(c, n, 2);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st) return st;
    if (tm && tm->dtype != TDM_BOOL) return tdm_node_error(n, TDM_INVALID_MODEL, "training_mode must be bool");
    if (dropout_refuse(tm, tdm_in(c, n, 1)))
        return tdm_node_error(n, TDM_UNSUPPORTED, "training_mode = true with ratio != 0 is not supported (random)");
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, x->dims);
    if (mask) tdm_set_shape(mask, c->opset >= 10 ? TDM_BOOL : x->dtype, x->rank, x->dims);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_dropout_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0), *mask = tdm_out(c, n, 1);
    if (dropout_refuse(tdm_in(c, n, 2), tdm_in(c, n, 1)))
        return tdm_node_error(n, TDM_UNSUPPORTED, "training_mode = true with ratio != 0 is not supported (random)");
    shape_copy_bytes(y->data, x->data, (size_t)tdm_numel(y) * tdm_dtype_size(y->dtype));
    if (mask) {
        unsigned char one[16];
        shape_put_scalar(one, mask->dtype, 1.0);
        shape_fill_pattern(mask->data, tdm_numel(mask), one, tdm_dtype_size(mask->dtype));
    }
    return TDM_OK;
}

/* ---- Shape, Size (TDM_OPF_SHAPE_ONLY: run reads only input dims; input data may be NULL) ----------------------- */

typedef struct shapeop_params {
    int64_t start, end;
    int has_end;
} shapeop_params;

tdm_status shape_shape_check(tdm_ctx *c, tdm_node *n) {
    shapeop_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    tdm_status st = tdm_attr_int(n, "start", 0, &p->start);
    if (st) return st;
    p->has_end = tdm_attr_find(n, "end") != NULL;
    return tdm_attr_int(n, "end", 0, &p->end);
}

/* The clamped [start, end) range of dims that Shape reports. */
static void shapeop_range(const shapeop_params *p, int rank, int *s, int *e) {
    int64_t a = p->start, b = p->has_end ? p->end : rank;
    if (a < 0) a += rank;
    if (b < 0) b += rank;
    a = a < 0 ? 0 : a > rank ? rank : a;
    b = b < 0 ? 0 : b > rank ? rank : b;
    *s = (int)a;
    *e = (int)(b > a ? b : a);
}

tdm_status shape_shape_shape(tdm_ctx *c, tdm_node *n) {
    int s, e;
    shapeop_range(n->params, tdm_in(c, n, 0)->rank, &s, &e);
    int64_t d = e - s;
    tdm_set_shape(tdm_out(c, n, 0), TDM_INT64, 1, &d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_shape_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int s, e;
    shapeop_range(n->params, x->rank, &s, &e);
    if (e > s) memcpy(y->data, x->dims + s, (size_t)(e - s) * sizeof(int64_t));
    return TDM_OK;
}

tdm_status shape_size_shape(tdm_ctx *c, tdm_node *n) {
    tdm_set_shape(tdm_out(c, n, 0), TDM_INT64, 0, NULL);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_size_run(tdm_ctx *c, const tdm_node *n) {
    int64_t k = tdm_numel(tdm_in(c, n, 0));
    memcpy(tdm_out(c, n, 0)->data, &k, sizeof k);
    return TDM_OK;
}

/* ---- Concat, Split ------------------------------------------------------------------------------------------- */

typedef struct axis_params {
    int64_t axis;
} axis_params;

tdm_status shape_concat_check(tdm_ctx *c, tdm_node *n) {
    axis_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (n->n_in < 1 || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "needs at least one input");
    for (int i = 0; i < n->n_in; i++)
        if (!tdm_in(c, n, i)) return tdm_node_error(n, TDM_INVALID_MODEL, "input %d is missing", i);
    if (c->opset >= 4 && !tdm_attr_find(n, "axis"))
        return tdm_node_error(n, TDM_INVALID_MODEL, "missing required attribute `axis`");
    return tdm_attr_int(n, "axis", 1, &p->axis);
}

/* Batch splitting: Concat and Split along an axis other than 0. */
static int axis_keeps_axis0(tdm_ctx *c, const tdm_node *n, int64_t axis) {
    const tdm_value *x = tdm_in(c, n, 0);
    return x && x->rank >= 1 && tdm_axis(axis, x->rank) > 0;
}
static int concat_keeps_axis0(tdm_ctx *c, const tdm_node *n) {
    return axis_keeps_axis0(c, n, ((const axis_params *)n->params)->axis);
}
/* With only size-1 axes before the concat axis (a batch-1 channel concat), input j is one contiguous run of the output,
 * after the inputs before it. */
static int concat_inputs_in_output(tdm_ctx *c, const tdm_node *n, size_t *off) {
    const tdm_value *y = tdm_out(c, n, 0);
    if (!y || y->rank < 1) return 0;
    int a = tdm_axis(((const axis_params *)n->params)->axis, y->rank);
    if (a < 0 || shape_prod(y->dims, 0, a) != 1) return 0;
    size_t at = 0;
    for (int j = 0; j < n->n_in; j++) {
        const tdm_value *x = tdm_in(c, n, j);
        if (!x) return 0;
        off[j] = at;
        at += (size_t)tdm_numel(x) * tdm_dtype_size(x->dtype);
    }
    return 1;
}
const tdm_op_hooks shape_concat_hooks = {.keeps_axis0 = concat_keeps_axis0, .inputs_in_output = concat_inputs_in_output};

tdm_status shape_concat_shape(tdm_ctx *c, tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *x0 = tdm_in(c, n, 0);
    size_t es;
    tdm_status st = shape_elem_size(n, x0, "input 0", &es);
    if (st) return st;
    int r = x0->rank, a = tdm_axis(p->axis, r);
    if (a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)p->axis, r);
    int64_t d[TDM_MAX_RANK];
    memcpy(d, x0->dims, sizeof d);
    d[a] = 0;
    for (int i = 0; i < n->n_in; i++) {
        tdm_value *x = tdm_in(c, n, i);
        if (x->dtype != x0->dtype)
            return tdm_node_error(n, TDM_INVALID_MODEL, "input %d is %s but input 0 is %s", i,
                                  tdm_dtype_name(x->dtype), tdm_dtype_name(x0->dtype));
        if (x->rank != r)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input %d has rank %d but input 0 has rank %d", i, x->rank,
                                  r);
        for (int k = 0; k < r; k++)
            if (k != a && x->dims[k] != x0->dims[k])
                return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input %d has dim %d = %lld, input 0 has %lld", i, k,
                                      (long long)x->dims[k], (long long)x0->dims[k]);
        d[a] += x->dims[a];
    }
    tdm_set_shape(tdm_out(c, n, 0), x0->dtype, r, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_concat_run(tdm_ctx *c, const tdm_node *n) {
    const axis_params *p = n->params;
    tdm_value *y = tdm_out(c, n, 0);
    int a = tdm_axis(p->axis, y->rank);
    size_t es = tdm_dtype_size(y->dtype);
    int64_t outer = shape_prod(y->dims, 0, a);
    size_t orow = (size_t)shape_prod(y->dims, a, y->rank) * es, off = 0;
    for (int i = 0; i < n->n_in; i++) {
        tdm_value *x = tdm_in(c, n, i);
        size_t irow = (size_t)shape_prod(x->dims, a, x->rank) * es;
        if (!irow) continue;
        char *d = (char *)y->data + off;
        const char *s = x->data;
        if (s == d) { /* its producer wrote it in place (plan.c, alias_inputs): outer is 1 */
            off += irow;
            continue;
        }
        for (int64_t o = 0; o < outer; o++, d += orow, s += irow) memcpy(d, s, irow);
        off += irow;
    }
    return TDM_OK;
}

/* Split: sizes from the `split` attribute (opset < 13; also input 1 at opset 1), input 1 (opset >= 13), or equal
 * parts (num_outputs from opset 18 allows a smaller last part). */
typedef struct split_params {
    int64_t axis, num_outputs;
    int nsplit;
    const int64_t *split; /* attribute array, owned by the model */
} split_params;

static int split_keeps_axis0(tdm_ctx *c, const tdm_node *n) {
    return axis_keeps_axis0(c, n, ((const split_params *)n->params)->axis);
}
const tdm_op_hooks shape_split_hooks = {.keeps_axis0 = split_keeps_axis0};

tdm_status shape_split_check(tdm_ctx *c, tdm_node *n) {
    split_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || n->n_out < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "needs an input and outputs");
    tdm_status st = tdm_attr_int(n, "axis", 0, &p->axis);
    if (st || (st = tdm_attr_int(n, "num_outputs", 0, &p->num_outputs))) return st;
    const tdm_attr *s = tdm_attr_find(n, "split");
    if (s && c->opset < 13) {
        if (s->type != TDM_ATTR_INTS) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute `split` must be ints");
        p->nsplit = s->n;
        p->split = s->ints;
    }
    if (p->num_outputs && p->num_outputs != n->n_out)
        return tdm_node_error(n, TDM_INVALID_MODEL, "num_outputs = %lld but the node has %d outputs",
                              (long long)p->num_outputs, n->n_out);
    return TDM_OK;
}

tdm_status shape_split_shape(tdm_ctx *c, tdm_node *n) {
    const split_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *sv = tdm_in(c, n, 1);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st) return st;
    int a = tdm_axis(p->axis, x->rank);
    if (a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)p->axis,
                              x->rank);
    int no = n->n_out;
    const int64_t *sizes = p->split;
    int ns = p->nsplit;
    const tdm_value *sizes_v = (c->opset >= 13 || (c->opset < 2 && !sizes)) ? sv : NULL;
    if (sizes_v) {
        if ((st = shape_need_const(n, sizes_v, "split"))) return st;
        if (sizes_v->dtype != TDM_INT64)
            return tdm_node_error(n, TDM_INVALID_MODEL, "`split` must be int64, not %s",
                                  tdm_dtype_name(sizes_v->dtype));
        ns = (int)tdm_numel(sizes_v);
        sizes = sizes_v->data;
    }
    int64_t dim = x->dims[a], sum = 0;
    if (ns > 0 && ns != no)
        return tdm_node_error(n, TDM_INVALID_MODEL, "split has %d sizes for %d outputs", ns, no);
    if (ns == 0 && !p->num_outputs && dim % no)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "dim %lld cannot be split into %d equal parts", (long long)dim,
                              no);
    int64_t chunk = (dim + no - 1) / no;
    for (int i = 0; i < no; i++) {
        int64_t part = ns ? sizes[i] : (dim - sum < chunk ? dim - sum : chunk);
        if (part < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "split[%d] = %lld is negative", i, (long long)part);
        sum += part;
        tdm_value *y = tdm_out(c, n, i);
        if (!y) continue;
        int64_t d[TDM_MAX_RANK];
        memcpy(d, x->dims, sizeof d);
        d[a] = part;
        tdm_set_shape(y, x->dtype, x->rank, d);
    }
    if (sum != dim)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "split sizes add up to %lld but the dim is %lld", (long long)sum,
                              (long long)dim);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* The parts are read back from the output shapes, so run needs no copy of the sizes. An absent output still
 * consumes its part: its size is recomputed the way shape() did. */
tdm_status shape_split_run(tdm_ctx *c, const tdm_node *n) {
    const split_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    int a = tdm_axis(p->axis, x->rank);
    size_t es = tdm_dtype_size(x->dtype);
    int64_t outer = shape_prod(x->dims, 0, a), inner = shape_prod(x->dims, a + 1, x->rank);
    size_t irow = (size_t)(x->dims[a] * inner) * es, off = 0;
    int64_t dim = x->dims[a], chunk = (dim + n->n_out - 1) / n->n_out, used = 0;
    const tdm_value *sv = tdm_in(c, n, 1);
    for (int i = 0; i < n->n_out; i++) {
        tdm_value *y = tdm_out(c, n, i);
        int64_t part;
        if (y) {
            part = y->dims[a];
        } else if (p->nsplit && c->opset < 13) {
            part = p->split[i];
        } else if (sv && sv->data && (c->opset >= 13 || c->opset < 2)) {
            part = ((const int64_t *)sv->data)[i];
        } else {
            part = dim - used < chunk ? dim - used : chunk;
        }
        used += part;
        size_t orow = (size_t)(part * inner) * es;
        if (y && orow) {
            char *d = y->data;
            const char *s = (const char *)x->data + off;
            for (int64_t o = 0; o < outer; o++, d += orow, s += irow) memcpy(d, s, orow);
        }
        off += orow;
    }
    return TDM_OK;
}
