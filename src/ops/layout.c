/* layout.c - ops that move elements to new positions through strided copies: Transpose, Slice, Pad, Expand, Tile,
 * DepthToSpace, SpaceToDepth. Type-agnostic (elements are copied by size); the engine lives in shape_ops.c. */
#include "shape_util.h"

/* ---- Transpose ----------------------------------------------------------------------------------------------- */

typedef struct transpose_params {
    int count; /* 0: reverse the dims */
    int64_t perm[TDM_MAX_RANK];
} transpose_params;

tdm_status shape_transpose_check(tdm_ctx *c, tdm_node *n) {
    transpose_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    tdm_status st = tdm_attr_ints(n, "perm", p->perm, TDM_MAX_RANK, &p->count);
    if (st) return st;
    int seen[TDM_MAX_RANK] = {0};
    for (int i = 0; i < p->count; i++) {
        if (p->perm[i] < 0 || p->perm[i] >= p->count || seen[p->perm[i]]++)
            return tdm_node_error(n, TDM_INVALID_MODEL, "perm is not a permutation of 0..%d", p->count - 1);
    }
    return TDM_OK;
}

static void transpose_perm(const transpose_params *p, int rank, int *perm) {
    for (int i = 0; i < rank; i++) perm[i] = p->count ? (int)p->perm[i] : rank - 1 - i;
}

tdm_status shape_transpose_shape(tdm_ctx *c, tdm_node *n) {
    const transpose_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st) return st;
    if (p->count && p->count != x->rank)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "perm has %d entries but the input has rank %d", p->count,
                              x->rank);
    int perm[TDM_MAX_RANK];
    int64_t d[TDM_MAX_RANK];
    transpose_perm(p, x->rank, perm);
    for (int i = 0; i < x->rank; i++) d[i] = x->dims[perm[i]];
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Output dim i reads input dim perm[i]: the strided copy merges contiguous runs and tiles transposing layouts. */
tdm_status shape_transpose_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int perm[TDM_MAX_RANK];
    int64_t ist[TDM_MAX_RANK], sstr[TDM_MAX_RANK], dstr[TDM_MAX_RANK];
    transpose_perm(n->params, x->rank, perm);
    shape_strides(x->rank, x->dims, ist);
    shape_strides(y->rank, y->dims, dstr);
    for (int i = 0; i < x->rank; i++) sstr[i] = ist[perm[i]];
    shape_strided_copy(c->pool, y->rank, y->dims, sstr, dstr, x->data, y->data, tdm_dtype_size(x->dtype));
    return TDM_OK;
}

/* ---- Slice --------------------------------------------------------------------------------------------------- */

typedef struct slice_params {
    int ns, ne, na; /* opset < 10: attributes */
    int64_t starts[TDM_MAX_RANK], ends[TDM_MAX_RANK], axes[TDM_MAX_RANK];
} slice_params;

tdm_status shape_slice_check(tdm_ctx *c, tdm_node *n) {
    slice_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing data input");
    if (c->opset >= 10) {
        if (!tdm_in(c, n, 1) || !tdm_in(c, n, 2))
            return tdm_node_error(n, TDM_INVALID_MODEL, "missing `starts` or `ends` input");
        return TDM_OK;
    }
    tdm_status st = tdm_attr_ints(n, "starts", p->starts, TDM_MAX_RANK, &p->ns);
    if (st || (st = tdm_attr_ints(n, "ends", p->ends, TDM_MAX_RANK, &p->ne)) ||
        (st = tdm_attr_ints(n, "axes", p->axes, TDM_MAX_RANK, &p->na)))
        return st;
    if (!tdm_attr_find(n, "starts") || !tdm_attr_find(n, "ends"))
        return tdm_node_error(n, TDM_INVALID_MODEL, "missing required attribute `starts` or `ends`");
    return TDM_OK;
}

/* Effective per-axis start, step and output size, with the spec's clamping. Shared by shape() and run(). */
static tdm_status slice_resolve(tdm_ctx *c, const tdm_node *n, const tdm_value *x, int64_t *start, int64_t *step,
                                int64_t *out) {
    const slice_params *p = n->params;
    int64_t st_[TDM_MAX_RANK], en[TDM_MAX_RANK], ax[TDM_MAX_RANK], sp[TDM_MAX_RANK];
    int ns, ne, na, nsp = 0;
    tdm_status st;
    if (c->opset < 10) {
        ns = p->ns;
        ne = p->ne;
        na = p->na;
        memcpy(st_, p->starts, sizeof st_);
        memcpy(en, p->ends, sizeof en);
        memcpy(ax, p->axes, sizeof ax);
    } else {
        const tdm_value *vs = tdm_in(c, n, 1), *ve = tdm_in(c, n, 2);
        if ((st = shape_need_const(n, vs, "starts")) || (st = shape_need_const(n, ve, "ends"))) return st;
        if ((st = tdm_const_ints(n, vs, st_, TDM_MAX_RANK, &ns)) || (st = tdm_const_ints(n, ve, en, TDM_MAX_RANK, &ne)))
            return st;
        if ((st = shape_opt_const_ints(n, tdm_in(c, n, 3), "axes", ax, TDM_MAX_RANK, &na)) ||
            (st = shape_opt_const_ints(n, tdm_in(c, n, 4), "steps", sp, TDM_MAX_RANK, &nsp)))
            return st;
        if (!tdm_in(c, n, 3)) na = 0;
    }
    if (ne != ns || (na && na != ns) || (nsp && nsp != ns))
        return tdm_node_error(n, TDM_INVALID_MODEL, "starts, ends, axes and steps differ in length (%d, %d, %d, %d)",
                              ns, ne, na, nsp);
    int seen[TDM_MAX_RANK] = {0};
    for (int i = 0; i < x->rank; i++) {
        start[i] = 0;
        step[i] = 1;
        out[i] = x->dims[i];
    }
    for (int i = 0; i < ns; i++) {
        int a = na ? tdm_axis(ax[i], x->rank) : (i < x->rank ? i : -1);
        if (a < 0)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "slice axis %lld is out of range for rank %d",
                                  (long long)(na ? ax[i] : i), x->rank);
        if (seen[a]++) return tdm_node_error(n, TDM_INVALID_MODEL, "axis %d is repeated", a);
        int64_t d = x->dims[a], s = st_[i], e = en[i], k = nsp ? sp[i] : 1;
        if (k == 0) return tdm_node_error(n, TDM_INVALID_MODEL, "step for axis %d is 0", a);
        if (s < 0) s += d;
        if (e < 0) e += d;
        int64_t cnt;
        if (k > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            cnt = e > s ? (e - s - 1) / k + 1 : 0;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            cnt = s > e ? (int64_t)((uint64_t)(s - e - 1) / (0 - (uint64_t)k)) + 1 : 0;
        }
        if (d == 0 || cnt < 0) cnt = 0;
        start[a] = cnt ? s : 0;
        step[a] = k;
        out[a] = cnt;
    }
    return TDM_OK;
}

/* Batch splitting (split.c): the Slice leaves axis 0 whole and in order. */
static int slice_keeps_axis0(tdm_ctx *c, const tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0);
    int64_t start[TDM_MAX_RANK], step[TDM_MAX_RANK], out[TDM_MAX_RANK];
    if (!x || x->rank < 1 || slice_resolve(c, n, x, start, step, out)) return 0;
    return start[0] == 0 && step[0] == 1 && out[0] == x->dims[0];
}

const tdm_op_hooks shape_slice_hooks = {.keeps_axis0 = slice_keeps_axis0};

tdm_status shape_slice_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0);
    int64_t start[TDM_MAX_RANK], step[TDM_MAX_RANK], out[TDM_MAX_RANK];
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st || (st = slice_resolve(c, n, x, start, step, out))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, out);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_slice_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int64_t start[TDM_MAX_RANK], step[TDM_MAX_RANK], out[TDM_MAX_RANK], ist[TDM_MAX_RANK], sstr[TDM_MAX_RANK],
        dstr[TDM_MAX_RANK];
    tdm_status st = slice_resolve(c, n, x, start, step, out);
    if (st) return st;
    if (tdm_numel(y) == 0) return TDM_OK;
    size_t es = tdm_dtype_size(x->dtype);
    shape_strides(x->rank, x->dims, ist);
    shape_strides(y->rank, y->dims, dstr);
    int64_t base = 0;
    for (int i = 0; i < x->rank; i++) {
        base += start[i] * ist[i];
        sstr[i] = ist[i] * step[i];
    }
    shape_strided_copy(c->pool, y->rank, y->dims, sstr, dstr, (const char *)x->data + base * (int64_t)es, y->data, es);
    return TDM_OK;
}

/* ---- Pad ----------------------------------------------------------------------------------------------------- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct pad_params {
    int mode;
    int npads; /* opset < 11: attribute */
    int64_t pads[2 * TDM_MAX_RANK];
    float value;
} pad_params;

tdm_status shape_pad_check(tdm_ctx *c, tdm_node *n) {
    pad_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing data input");
    const char *mode;
    tdm_status st = tdm_attr_string(n, "mode", "constant", &mode);
    if (st) return st;
    if (!strcmp(mode, "constant")) p->mode = PAD_CONSTANT;
    else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
    else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
    else if (!strcmp(mode, "wrap")) p->mode = PAD_WRAP;
    else return tdm_node_error(n, TDM_UNSUPPORTED, "unknown mode '%s'", mode);
    if (c->opset >= 11) {
        if (!tdm_in(c, n, 1)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing `pads` input");
        return TDM_OK;
    }
    const char *name = c->opset < 2 ? "paddings" : "pads";
    if (!tdm_attr_find(n, name)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing required attribute `%s`", name);
    if ((st = tdm_attr_ints(n, name, p->pads, 2 * TDM_MAX_RANK, &p->npads))) return st;
    return tdm_attr_float(n, "value", 0.0f, &p->value);
}

/* Per-axis begin/end pads (negative crops), from the attribute or the constant `pads` (+ optional `axes`). */
static tdm_status pad_resolve(tdm_ctx *c, const tdm_node *n, const tdm_value *x, int64_t *b, int64_t *e) {
    const pad_params *p = n->params;
    int r = x->rank, np, na = 0;
    int64_t pads[2 * TDM_MAX_RANK], axes[TDM_MAX_RANK];
    tdm_status st;
    if (c->opset < 11) {
        np = p->npads;
        memcpy(pads, p->pads, sizeof pads);
    } else {
        const tdm_value *pv = tdm_in(c, n, 1);
        if ((st = shape_need_const(n, pv, "pads")) || (st = tdm_const_ints(n, pv, pads, 2 * TDM_MAX_RANK, &np))) return st;
        if ((st = shape_opt_const_ints(n, tdm_in(c, n, 3), "axes", axes, TDM_MAX_RANK, &na))) return st;
    }
    int cnt = tdm_in(c, n, 3) && c->opset >= 11 ? na : r;
    if (np != 2 * cnt)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "pads has %d values, expected %d", np, 2 * cnt);
    for (int i = 0; i < r; i++) b[i] = e[i] = 0;
    for (int i = 0; i < cnt; i++) {
        int a = (tdm_in(c, n, 3) && c->opset >= 11) ? tdm_axis(axes[i], r) : i;
        if (a < 0) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "pad axis %lld is out of range", (long long)axes[i]);
        b[a] = pads[i];
        e[a] = pads[i + cnt];
        if (b[a] > ((int64_t)1 << 40) || e[a] > ((int64_t)1 << 40) || b[a] < -x->dims[a] || e[a] < -x->dims[a])
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "pads %lld, %lld are out of range for axis %d of size %lld",
                                  (long long)b[a], (long long)e[a], a, (long long)x->dims[a]);
        if (x->dims[a] + b[a] + e[a] < 0)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "pads crop axis %d of size %lld below zero", a,
                                  (long long)x->dims[a]);
        if (p->mode != PAD_CONSTANT && x->dims[a] + (b[a] < 0 ? b[a] : 0) + (e[a] < 0 ? e[a] : 0) <= 0 &&
            x->dims[a] + b[a] + e[a] > 0)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot pad empty axis %d in this mode", a);
    }
    return TDM_OK;
}

/* Batch splitting (split.c): no padding on axis 0. */
static int pad_keeps_axis0(tdm_ctx *c, const tdm_node *n) {
    const tdm_value *x = tdm_in(c, n, 0);
    int64_t b[TDM_MAX_RANK], e[TDM_MAX_RANK];
    if (!x || x->rank < 1 || pad_resolve(c, n, x, b, e)) return 0;
    return b[0] == 0 && e[0] == 0;
}

const tdm_op_hooks shape_pad_hooks = {.keeps_axis0 = pad_keeps_axis0};

tdm_status shape_pad_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *cv = tdm_in(c, n, 2);
    const pad_params *p = n->params;
    int64_t b[TDM_MAX_RANK], e[TDM_MAX_RANK], d[TDM_MAX_RANK];
    size_t es;
    tdm_status st = shape_elem_size(n, x, "data", &es);
    if (st || (st = pad_resolve(c, n, x, b, e))) return st;
    if (c->opset >= 11 && cv) {
        if (cv->dtype != x->dtype)
            return tdm_node_error(n, TDM_INVALID_MODEL, "constant_value is %s but data is %s",
                                  tdm_dtype_name(cv->dtype), tdm_dtype_name(x->dtype));
        if (tdm_numel(cv) < 1) cv = NULL;
    }
    if (c->opset < 11 && p->value != 0 && x->dtype == TDM_FLOAT16)
        return tdm_node_error(n, TDM_UNSUPPORTED, "a non-zero pad value for float16 is not supported");
    for (int i = 0; i < x->rank; i++) d[i] = x->dims[i] + b[i] + e[i];
    if ((st = shape_check_size(n, x->rank, d, es))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Source index of output position i on an axis of size d padded by b in front (reflect/edge/wrap). */
static int64_t pad_map(int mode, int64_t i, int64_t d, int64_t b) {
    int64_t j = i - b;
    if (j >= 0 && j < d) return j;
    if (mode == PAD_EDGE || d == 1) return j < 0 ? 0 : d - 1;
    if (mode == PAD_WRAP) return ((j % d) + d) % d;
    int64_t period = 2 * (d - 1);
    j = ((j % period) + period) % period;
    return j < d ? j : period - j;
}

tdm_status shape_pad_run(tdm_ctx *c, const tdm_node *n) {
    const pad_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int64_t b[TDM_MAX_RANK], e[TDM_MAX_RANK];
    tdm_status st = pad_resolve(c, n, x, b, e);
    if (st) return st;
    int r = x->rank;
    size_t es = tdm_dtype_size(x->dtype);
    int64_t ny = tdm_numel(y);
    if (ny == 0) return TDM_OK;
    int64_t ist[TDM_MAX_RANK], ost[TDM_MAX_RANK];
    shape_strides(r, x->dims, ist);
    shape_strides(r, y->dims, ost);
    if (r == 0) {
        shape_copy_bytes(y->data, x->data, es);
        return TDM_OK;
    }
    if (p->mode == PAD_CONSTANT) {
        unsigned char val[16] = {0};
        const tdm_value *cv = tdm_in(c, n, 2);
        if (c->opset >= 11) {
            if (cv && cv->data && tdm_numel(cv) >= 1) memcpy(val, cv->data, es);
        } else {
            shape_put_scalar(val, x->dtype, p->value);
        }
        shape_fill_pattern(y->data, ny, val, es);
        /* The kept box: output from max(b,0), input from max(-b,0), size d - crop_begin - crop_end. */
        int64_t box[TDM_MAX_RANK], soff = 0, doff = 0;
        for (int i = 0; i < r; i++) {
            int64_t cb = b[i] < 0 ? -b[i] : 0, ce = e[i] < 0 ? -e[i] : 0;
            box[i] = x->dims[i] - cb - ce;
            if (box[i] <= 0) return TDM_OK;
            soff += cb * ist[i];
            doff += (b[i] > 0 ? b[i] : 0) * ost[i];
        }
        shape_strided_copy(c->pool, r, box, ist, ost, (const char *)x->data + soff * (int64_t)es,
               (char *)y->data + doff * (int64_t)es, es);
        return TDM_OK;
    }
    /* reflect / edge / wrap: negative pads crop first, then the cropped extent is padded. Map each output row to its
     * source row, then the last axis: the interior in one memcpy, the borders element by element. */
    int64_t org[TDM_MAX_RANK], ext[TDM_MAX_RANK], pb[TDM_MAX_RANK]; /* crop origin, cropped size, front pad */
    for (int i = 0; i < r; i++) {
        org[i] = b[i] < 0 ? -b[i] : 0;
        ext[i] = x->dims[i] - org[i] - (e[i] < 0 ? -e[i] : 0);
        pb[i] = b[i] > 0 ? b[i] : 0;
        if (ext[i] <= 0) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot pad axis %d cropped to nothing", i);
    }
    int last = r - 1;
    int64_t L = y->dims[last], rows = ny / L, idx[TDM_MAX_RANK] = {0}, dl = ext[last], bl = pb[last];
    int64_t lo = bl, hi = bl + dl; /* output range copied straight */
    char *dst = y->data;
    const char *src = x->data;
    for (int64_t row = 0; row < rows; row++, dst += L * (int64_t)es) {
        int64_t so = org[last];
        for (int k = 0; k < last; k++) so += (org[k] + pad_map(p->mode, idx[k], ext[k], pb[k])) * ist[k];
        const char *s = src + so * (int64_t)es;
        memcpy(dst + lo * (int64_t)es, s, (size_t)dl * es);
        for (int64_t i = 0; i < lo; i++) memcpy(dst + i * (int64_t)es, s + pad_map(p->mode, i, dl, bl) * (int64_t)es, es);
        for (int64_t i = hi; i < L; i++) memcpy(dst + i * (int64_t)es, s + pad_map(p->mode, i, dl, bl) * (int64_t)es, es);
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < y->dims[k]) break;
            idx[k] = 0;
        }
    }
    return TDM_OK;
}

/* ---- Expand, Tile -------------------------------------------------------------------------------------------- */

tdm_status shape_expand_check(tdm_ctx *c, tdm_node *n) {
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs `input` and `shape`");
    return TDM_OK;
}

tdm_status shape_expand_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *s = tdm_in(c, n, 1);
    int64_t shp[TDM_MAX_RANK], d[TDM_MAX_RANK];
    int cnt, r;
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st || (st = shape_need_const(n, s, "shape")) || (st = tdm_const_ints(n, s, shp, TDM_MAX_RANK, &cnt))) return st;
    for (int i = 0; i < cnt; i++)
        if (shp[i] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "shape[%d] = %lld is negative", i, (long long)shp[i]);
    if ((st = tdm_broadcast_shape(n, x->rank, x->dims, cnt, shp, &r, d)) || (st = shape_check_size(n, r, d, es)))
        return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, r, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

tdm_status shape_expand_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int64_t ist[TDM_MAX_RANK], sstr[TDM_MAX_RANK], dstr[TDM_MAX_RANK];
    shape_strides(x->rank, x->dims, ist);
    shape_strides(y->rank, y->dims, dstr);
    int lead = y->rank - x->rank;
    for (int i = 0; i < y->rank; i++) {
        int k = i - lead;
        sstr[i] = (k < 0 || x->dims[k] == 1) ? 0 : ist[k];
    }
    shape_strided_copy(c->pool, y->rank, y->dims, sstr, dstr, x->data, y->data, tdm_dtype_size(x->dtype));
    return TDM_OK;
}

tdm_status shape_tile_check(tdm_ctx *c, tdm_node *n) {
    if (!tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_out(c, n, 0) || (c->opset < 6 && !tdm_in(c, n, 2)))
        return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    return TDM_OK;
}

/* Repeats per axis: input `repeats` (opset >= 6), or `tiles` along `axis` (opset 1). */
static tdm_status tile_repeats(tdm_ctx *c, const tdm_node *n, const tdm_value *x, int64_t *rep) {
    tdm_status st;
    int cnt;
    if (c->opset >= 6) {
        const tdm_value *rv = tdm_in(c, n, 1);
        if ((st = shape_need_const(n, rv, "repeats")) || (st = tdm_const_ints(n, rv, rep, TDM_MAX_RANK, &cnt))) return st;
        if (cnt != x->rank)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "repeats has %d values for rank %d", cnt, x->rank);
    } else {
        int64_t tiles, axis;
        if ((st = shape_need_const(n, tdm_in(c, n, 1), "tiles")) || (st = shape_need_const(n, tdm_in(c, n, 2), "axis")) ||
            (st = tdm_const_ints(n, tdm_in(c, n, 1), &tiles, 1, &cnt)) ||
            (st = tdm_const_ints(n, tdm_in(c, n, 2), &axis, 1, &cnt)))
            return st;
        int a = tdm_axis(axis, x->rank);
        if (a < 0) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range", (long long)axis);
        for (int i = 0; i < x->rank; i++) rep[i] = i == a ? tiles : 1;
    }
    for (int i = 0; i < x->rank; i++)
        if (rep[i] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "repeats[%d] = %lld is negative", i, (long long)rep[i]);
    return TDM_OK;
}

tdm_status shape_tile_shape(tdm_ctx *c, tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0);
    int64_t rep[TDM_MAX_RANK], d[TDM_MAX_RANK];
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st || (st = tile_repeats(c, n, x, rep))) return st;
    for (int i = 0; i < x->rank; i++) {
        if (rep[i] && x->dims[i] > ((int64_t)1 << 47) / rep[i])
            return tdm_node_error(n, TDM_UNSUPPORTED, "output of more than 2^47 elements is not supported");
        d[i] = x->dims[i] * rep[i];
    }
    if ((st = shape_check_size(n, x->rank, d, es))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Output axis i viewed as (repeat, dim): a rank-2r copy with stride 0 on the repeat dims. */
tdm_status shape_tile_run(tdm_ctx *c, const tdm_node *n) {
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int64_t rep[TDM_MAX_RANK], ist[TDM_MAX_RANK], d[SC_MAX], sstr[SC_MAX], dstr[SC_MAX];
    tdm_status st = tile_repeats(c, n, x, rep);
    if (st) return st;
    shape_strides(x->rank, x->dims, ist);
    for (int i = 0; i < x->rank; i++) {
        d[2 * i] = rep[i];
        d[2 * i + 1] = x->dims[i];
        sstr[2 * i] = 0;
        sstr[2 * i + 1] = ist[i];
    }
    shape_strides(2 * x->rank, d, dstr);
    shape_strided_copy(c->pool, 2 * x->rank, d, sstr, dstr, x->data, y->data, tdm_dtype_size(x->dtype));
    return TDM_OK;
}

/* ---- DepthToSpace, SpaceToDepth ------------------------------------------------------------------------------ */

typedef struct d2s_params {
    int64_t bs;
    int crd;
} d2s_params;

tdm_status shape_d2s_check(tdm_ctx *c, tdm_node *n) {
    d2s_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "missing input");
    if (!tdm_attr_find(n, "blocksize"))
        return tdm_node_error(n, TDM_INVALID_MODEL, "missing required attribute `blocksize`");
    tdm_status st = tdm_attr_int(n, "blocksize", 0, &p->bs);
    if (st) return st;
    if (p->bs < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "blocksize %lld must be positive", (long long)p->bs);
    if (strcmp(n->op_type, "DepthToSpace") == 0) {
        const char *mode;
        if ((st = tdm_attr_string(n, "mode", "DCR", &mode))) return st;
        if (!strcmp(mode, "CRD")) p->crd = 1;
        else if (strcmp(mode, "DCR")) return tdm_node_error(n, TDM_INVALID_MODEL, "unknown mode '%s'", mode);
    }
    return TDM_OK;
}

tdm_status shape_d2s_shape(tdm_ctx *c, tdm_node *n) {
    const d2s_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st) return st;
    if (x->rank != 4) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input rank %d, expected 4", x->rank);
    int64_t bs = p->bs, d[4];
    if (x->dims[1] % (bs * bs))
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "channels %lld not divisible by blocksize^2 = %lld",
                              (long long)x->dims[1], (long long)(bs * bs));
    d[0] = x->dims[0];
    d[1] = x->dims[1] / (bs * bs);
    d[2] = x->dims[2] * bs;
    d[3] = x->dims[3] * bs;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, 4, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Output viewed as [N, C', H, bs, W, bs]; the source strides encode the DCR or CRD channel split. */
tdm_status shape_d2s_run(tdm_ctx *c, const tdm_node *n) {
    const d2s_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int64_t bs = p->bs, C = x->dims[1], H = x->dims[2], W = x->dims[3], Co = C / (bs * bs), HW = H * W;
    int64_t d[6] = {x->dims[0], Co, H, bs, W, bs}, dstr[6], sstr[6];
    sstr[0] = C * HW;
    sstr[2] = W;
    sstr[4] = 1;
    if (p->crd) {
        sstr[1] = bs * bs * HW;
        sstr[3] = bs * HW;
        sstr[5] = HW;
    } else {
        sstr[1] = HW;
        sstr[3] = bs * Co * HW;
        sstr[5] = Co * HW;
    }
    shape_strides(6, d, dstr);
    shape_strided_copy(c->pool, 6, d, sstr, dstr, x->data, y->data, tdm_dtype_size(x->dtype));
    return TDM_OK;
}

tdm_status shape_s2d_shape(tdm_ctx *c, tdm_node *n) {
    const d2s_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    size_t es;
    tdm_status st = shape_elem_size(n, x, "input", &es);
    if (st) return st;
    if (x->rank != 4) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "input rank %d, expected 4", x->rank);
    int64_t bs = p->bs, d[4];
    if (x->dims[2] % bs || x->dims[3] % bs)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "spatial dims %lldx%lld not divisible by blocksize %lld",
                              (long long)x->dims[2], (long long)x->dims[3], (long long)bs);
    d[0] = x->dims[0];
    d[1] = x->dims[1] * bs * bs;
    d[2] = x->dims[2] / bs;
    d[3] = x->dims[3] / bs;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, 4, d);
    n->workspace = 0;
    n->macs = 0;
    return TDM_OK;
}

/* Output viewed as [N, bs, bs, C, H/bs, W/bs] reading input [N, C, H/bs, bs, W/bs, bs]. */
tdm_status shape_s2d_run(tdm_ctx *c, const tdm_node *n) {
    const d2s_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    int64_t bs = p->bs, C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t d[6] = {x->dims[0], bs, bs, C, H / bs, W / bs}, dstr[6];
    int64_t sstr[6] = {C * H * W, W, 1, H * W, bs * W, bs};
    shape_strides(6, d, dstr);
    shape_strided_copy(c->pool, 6, d, sstr, dstr, x->data, y->data, tdm_dtype_size(x->dtype));
    return TDM_OK;
}
