/* resize.c - resampling and selection ops: Resize (opsets 10-19, without antialias), Upsample (7, 9) and TopK.
 * Resize builds per-axis tables of source taps and weights in the workspace at run time and applies them one axis at
 * a time; nearest mode is a single gather that works for every fixed-size dtype, linear/cubic run on float/double. */
#include <math.h>

#include "ops.h"

/* ---- shared helpers ------------------------------------------------------------------------------------------- */

#define ALIGN_UP(x) (((x) + (size_t)TDM_ALIGN - 1) & ~((size_t)TDM_ALIGN - 1))

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

/* Guard computed output shapes (from scales/sizes data) before the planner sizes buffers: at most 2^47 bytes. */
static tdm_status check_size(const tdm_node *n, int rank, const int64_t *dims, size_t es) {
    const int64_t limit = (int64_t)1 << 47;
    int64_t bytes = (int64_t)es;
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

static int is_plain_dtype(tdm_dtype dt) {
    return dt != TDM_STRING && dt != TDM_FLOAT16 && tdm_dtype_size(dt) > 0;
}

/* Element i of a float or double tensor. */
static double real_at(const tdm_value *v, int64_t i) {
    return v->dtype == TDM_DOUBLE ? ((const double *)v->data)[i] : (double)((const float *)v->data)[i];
}

/* Store v as one element of dtype dt at dst (any alignment), saturating integers: the extrapolation value of nearest
 * mode. */
static void put_scalar(void *dst, tdm_dtype dt, double v) {
    double lo = 0, hi = 0;
    switch (dt) {
    case TDM_FLOAT: { float f = (float)v; memcpy(dst, &f, sizeof f); return; }
    case TDM_DOUBLE: memcpy(dst, &v, sizeof v); return;
    case TDM_BOOL: *(uint8_t *)dst = v != 0; return;
    case TDM_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case TDM_UINT8: hi = UINT8_MAX; break;
    case TDM_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case TDM_UINT16: hi = UINT16_MAX; break;
    case TDM_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case TDM_UINT32: hi = UINT32_MAX; break;
    case TDM_INT64: lo = -9.2e18; hi = 9.2e18; break;
    case TDM_UINT64: hi = 1.8e19; break;
    default: return;
    }
    v = v != v ? 0 : v < lo ? lo : v > hi ? hi : v;
    union { int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32; int64_t i64; uint64_t u64; } u;
    switch (dt) {
    case TDM_INT8: u.i8 = (int8_t)v; break;
    case TDM_UINT8: u.u8 = (uint8_t)v; break;
    case TDM_INT16: u.i16 = (int16_t)v; break;
    case TDM_UINT16: u.u16 = (uint16_t)v; break;
    case TDM_INT32: u.i32 = (int32_t)v; break;
    case TDM_UINT32: u.u32 = (uint32_t)v; break;
    case TDM_INT64: u.i64 = (int64_t)v; break;
    default: u.u64 = (uint64_t)v; break;
    }
    memcpy(dst, &u, tdm_dtype_size(dt));
}

/* ---- Resize / Upsample: attributes ------------------------------------------------------------------------------ */

enum { RM_NEAREST, RM_LINEAR, RM_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC,
       CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE };
/* NM_SIMPLE is the opset-10 / Upsample rule: floor when upsampling, ceil when downsampling (as onnxruntime does). */
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };
enum { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER };

typedef struct resize_params {
    int mode, coord, nearest, keep_aspect, exclude_outside;
    double cubic_a, extrapolation;
    int n_axes;                        /* opset-18 `axes`; 0: every axis                                     */
    int64_t axes[TDM_MAX_RANK];
    int n_attr_scales;                 /* Upsample-7 `scales` attribute                                       */
    double attr_scales[TDM_MAX_RANK];
    int in_roi, in_scales, in_sizes;   /* input slots; -1 where the opset has no such input                   */
} resize_params;

static int pick(const char *s, const char *const *names, int count) {
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* Parse Resize attributes for the model's opset; opset 10 is nearest/linear on asymmetric coordinates. */
tdm_status resize_check(tdm_ctx *c, tdm_node *n) {
    resize_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "needs input X and output Y");
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                         "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    static const char *const keeps[] = {"stretch", "not_larger", "not_smaller"};
    const char *s;
    tdm_status st = tdm_attr_string(n, "mode", "nearest", &s);
    if (st) return st;
    if ((p->mode = pick(s, modes, 3)) < 0 || (c->opset < 11 && p->mode == RM_CUBIC))
        return tdm_node_error(n, TDM_INVALID_MODEL, "mode '%s' is not one of nearest, linear%s", s,
                              c->opset < 11 ? "" : ", cubic");
    p->in_roi = p->in_sizes = -1;
    p->in_scales = 1;
    if (c->opset < 11) {
        p->coord = CT_ASYMMETRIC;
        p->nearest = NM_SIMPLE;
        p->cubic_a = -0.75;
        return TDM_OK;
    }
    p->in_roi = 1;
    p->in_scales = 2;
    p->in_sizes = 3;
    if ((st = tdm_attr_string(n, "coordinate_transformation_mode", "half_pixel", &s))) return st;
    if ((p->coord = pick(s, coords, 7)) < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "unknown coordinate_transformation_mode '%s'", s);
    if ((st = tdm_attr_string(n, "nearest_mode", "round_prefer_floor", &s))) return st;
    if ((p->nearest = pick(s, nearests, 4)) < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "unknown nearest_mode '%s'", s);
    float a, e;
    int64_t ex;
    if ((st = tdm_attr_float(n, "cubic_coeff_a", -0.75f, &a))) return st;
    if ((st = tdm_attr_float(n, "extrapolation_value", 0.0f, &e))) return st;
    if ((st = tdm_attr_int(n, "exclude_outside", 0, &ex))) return st;
    p->cubic_a = a;
    p->extrapolation = e;
    p->exclude_outside = ex != 0;
    int64_t aa;
    if ((st = tdm_attr_int(n, "antialias", 0, &aa))) return st;
    if (aa != 0 && p->mode != RM_NEAREST)
        return tdm_node_error(n, TDM_UNSUPPORTED, "antialias=1 is not supported");
    if ((st = tdm_attr_string(n, "keep_aspect_ratio_policy", "stretch", &s))) return st;
    if ((p->keep_aspect = pick(s, keeps, 3)) < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "unknown keep_aspect_ratio_policy '%s'", s);
    return tdm_attr_ints(n, "axes", p->axes, TDM_MAX_RANK, &p->n_axes);
}

/* Upsample: opset 7-8 take `scales` as an attribute, 9+ as input 1; asymmetric coordinates, nearest or linear. */
tdm_status resize_upsample_check(tdm_ctx *c, tdm_node *n) {
    resize_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || !tdm_out(c, n, 0)) return tdm_node_error(n, TDM_INVALID_MODEL, "needs input X and output Y");
    if (c->opset < 7)
        return tdm_node_error(n, TDM_UNSUPPORTED, "Upsample before opset 7 (experimental) is not supported");
    const char *s;
    tdm_status st = tdm_attr_string(n, "mode", "nearest", &s);
    if (st) return st;
    if (strcmp(s, "nearest") == 0) p->mode = RM_NEAREST;
    else if (strcmp(s, "linear") == 0 || strcmp(s, "bilinear") == 0) p->mode = RM_LINEAR;
    else return tdm_node_error(n, TDM_INVALID_MODEL, "mode '%s' is not one of nearest, linear", s);
    p->coord = CT_ASYMMETRIC;
    p->nearest = NM_SIMPLE;
    p->cubic_a = -0.75;
    p->in_roi = p->in_sizes = -1;
    p->in_scales = -1;
    if (c->opset >= 9) {
        p->in_scales = 1;
        return TDM_OK;
    }
    const tdm_attr *at = tdm_attr_find(n, "scales");
    if (!at || at->type != TDM_ATTR_FLOATS)
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs the `scales` attribute (a list of floats)");
    if (at->n > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%d scales: rank above %d is not supported", at->n, TDM_MAX_RANK);
    p->n_attr_scales = at->n;
    for (int i = 0; i < at->n; i++) p->attr_scales[i] = at->floats[i];
    return TDM_OK;
}

/* ---- Resize / Upsample: geometry -------------------------------------------------------------------------------- */

/* Everything shape() and run() must agree on: output dims, per-axis scales, the axis pass order and the workspace
 * layout. Derived from constant inputs only, so recomputing it in run() gives the same answer as in shape(). */
typedef struct resize_geom {
    int rank, taps;
    int64_t in[TDM_MAX_RANK], out[TDM_MAX_RANK];
    double scale[TDM_MAX_RANK];
    double lres[TDM_MAX_RANK];       /* length_resized of the coordinate formulas: in * scale, not rounded      */
    int n_pass, pass[TDM_MAX_RANK];  /* linear/cubic: axes that may change, in processing order                */
    size_t off_idx[TDM_MAX_RANK], off_w[TDM_MAX_RANK], off_ext[TDM_MAX_RANK], off_buf[2];
    size_t workspace;
} resize_geom;

/* Expand a per-listed-axis array to full rank using `axes` (or identity); fill with def elsewhere. */
static tdm_status spread_axes(const tdm_node *n, const resize_params *p, int rank, int count, const double *vals,
                              double def, double *full, const char *what) {
    int want = p->n_axes ? p->n_axes : rank;
    if (count != want)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "%s has %d elements, expected %d", what, count, want);
    for (int d = 0; d < rank; d++) full[d] = def;
    int seen[TDM_MAX_RANK] = {0};
    for (int i = 0; i < want; i++) {
        int d = i;
        if (p->n_axes) {
            d = tdm_axis(p->axes[i], rank);
            if (d < 0 || seen[d])
                return tdm_node_error(n, TDM_INVALID_MODEL, "axes[%d] = %lld is out of range or repeated", i,
                                      (long long)p->axes[i]);
        }
        seen[d] = 1;
        full[d] = vals[i];
    }
    return TDM_OK;
}

/* Read roi as full-rank start/end pairs (default 0 and 1); NULL data (run-time roi at shape time) leaves defaults. */
static tdm_status read_roi(const tdm_node *n, const resize_params *p, const tdm_value *roi, int rank, int need_data,
                           double *start, double *end) {
    for (int d = 0; d < rank; d++) start[d] = 0, end[d] = 1;
    if (!roi || tdm_numel(roi) == 0) return TDM_OK;
    if (roi->dtype != TDM_FLOAT && roi->dtype != TDM_DOUBLE)
        return tdm_node_error(n, TDM_UNSUPPORTED, "roi has dtype %s, expected float or double",
                              tdm_dtype_name(roi->dtype));
    int want = p->n_axes ? p->n_axes : rank;
    if (tdm_numel(roi) != 2 * want)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "roi has %lld elements, expected %d", (long long)tdm_numel(roi),
                              2 * want);
    if (!need_data || !roi->data) return TDM_OK;
    double s[TDM_MAX_RANK], e[TDM_MAX_RANK];
    for (int i = 0; i < want; i++) s[i] = real_at(roi, i), e[i] = real_at(roi, want + i);
    tdm_status st = spread_axes(n, p, rank, want, s, 0.0, start, "roi");
    if (!st) st = spread_axes(n, p, rank, want, e, 1.0, end, "roi");
    return st;
}

static void geom_layout(resize_geom *g, int mode, size_t es);

/* Resolve output dims and scales from scales/sizes (constants, or the Upsample-7 attribute). */
static tdm_status resize_geometry(tdm_ctx *c, const tdm_node *n, resize_geom *g) {
    const resize_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0);
    const tdm_value *roi = p->in_roi >= 0 ? tdm_in(c, n, p->in_roi) : NULL;
    const tdm_value *sc = p->in_scales >= 0 ? tdm_in(c, n, p->in_scales) : NULL;
    const tdm_value *sz = p->in_sizes >= 0 ? tdm_in(c, n, p->in_sizes) : NULL;
    if (sc && tdm_numel(sc) == 0) sc = NULL;
    if (sz && tdm_numel(sz) == 0) sz = NULL;
    int r = x->rank;
    tdm_status st;
    memset(g, 0, sizeof *g);
    g->rank = r;
    for (int d = 0; d < r; d++) {
        g->in[d] = x->dims[d];
        if (x->dims[d] > INT32_MAX)
            return tdm_node_error(n, TDM_UNSUPPORTED, "input dim %d (%lld) exceeds 2^31-1", d, (long long)x->dims[d]);
    }
    if (sc && sz) return tdm_node_error(n, TDM_INVALID_MODEL, "both scales and sizes are given; only one may be");
    double rs[TDM_MAX_RANK], re[TDM_MAX_RANK];
    int crop = p->coord == CT_TF_CROP_AND_RESIZE;
    if (p->n_attr_scales || sc) {
        double vals[TDM_MAX_RANK];
        int count;
        if (sc) {
            if (sc->dtype != TDM_FLOAT && sc->dtype != TDM_DOUBLE)
                return tdm_node_error(n, TDM_INVALID_MODEL, "scales has dtype %s, expected float",
                                      tdm_dtype_name(sc->dtype));
            if (!tdm_is_const(sc))
                return tdm_node_error(n, TDM_UNSUPPORTED,
                                      "scales '%s' is computed at run time (a float graph input or a non-constant "
                                      "node): the output shape must be known at plan time, so scales must be constant",
                                      sc->name);
            if (tdm_numel(sc) > TDM_MAX_RANK)
                return tdm_node_error(n, TDM_SHAPE_MISMATCH, "scales has %lld elements, more than rank %d",
                                      (long long)tdm_numel(sc), r);
            count = (int)tdm_numel(sc);
            for (int i = 0; i < count; i++) vals[i] = real_at(sc, i);
        } else {
            count = p->n_attr_scales;
            memcpy(vals, p->attr_scales, sizeof vals);
        }
        if ((st = spread_axes(n, p, r, count, vals, 1.0, g->scale, "scales"))) return st;
        if (crop && roi && tdm_numel(roi) && !tdm_is_const(roi))
            return tdm_node_error(n, TDM_UNSUPPORTED,
                                  "tf_crop_and_resize with scales needs a constant roi to size the output");
        if ((st = read_roi(n, p, roi, r, 1, rs, re))) return st;
        for (int d = 0; d < r; d++) {
            double s = g->scale[d];
            if (!(s > 0) || isinf(s))
                return tdm_node_error(n, TDM_INVALID_MODEL, "scales[%d] = %g, expected a positive number", d, s);
            double o = floor((double)g->in[d] * (crop ? re[d] - rs[d] : 1.0) * s);
            if (!(o >= 0)) o = 0;
            if (o > 9.0e15) return tdm_node_error(n, TDM_UNSUPPORTED, "output dim %d is too large", d);
            g->out[d] = (int64_t)o;
            /* As in the ONNX reference (onnx/onnx#2462, intended): align_corners and friends divide by the
             * unrounded in * scale, so scales 0.6 on 4 pixels gives 2 outputs spaced 3 / 1.4 apart. */
            g->lres[d] = (double)g->in[d] * (crop ? re[d] - rs[d] : 1.0) * s;
        }
    } else if (sz) {
        int64_t v[TDM_MAX_RANK];
        int count;
        if ((st = tdm_const_ints(n, sz, v, TDM_MAX_RANK, &count))) return st;
        double vals[TDM_MAX_RANK], full[TDM_MAX_RANK];
        for (int i = 0; i < count; i++) {
            if (v[i] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "sizes[%d] = %lld is negative", i, (long long)v[i]);
            vals[i] = (double)v[i];
        }
        if ((st = spread_axes(n, p, r, count, vals, -1.0, full, "sizes"))) return st;
        double keep = p->keep_aspect == KA_NOT_LARGER ? INFINITY : 0;
        for (int d = 0; d < r; d++) {
            if (full[d] < 0) continue; /* not a listed axis */
            if (g->in[d] == 0) {
                if (full[d] > 0)
                    return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot resize empty axis %d to %g", d, full[d]);
                continue;
            }
            double s = full[d] / (double)g->in[d];
            if (p->keep_aspect == KA_NOT_LARGER && s < keep) keep = s;
            if (p->keep_aspect == KA_NOT_SMALLER && s > keep) keep = s;
        }
        for (int d = 0; d < r; d++) {
            if (full[d] < 0) {
                g->out[d] = g->in[d];
                g->scale[d] = 1;
                g->lres[d] = (double)g->in[d];
            } else if (p->keep_aspect != KA_STRETCH && g->in[d] > 0 && isfinite(keep)) {
                g->scale[d] = keep;
                g->out[d] = (int64_t)round(keep * (double)g->in[d]);
                g->lres[d] = keep * (double)g->in[d];
            } else {
                g->out[d] = (int64_t)full[d];
                g->scale[d] = g->in[d] ? full[d] / (double)g->in[d] : 1.0;
                g->lres[d] = full[d];
            }
        }
        if ((st = read_roi(n, p, roi, r, 0, rs, re))) return st;
    } else {
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs scales or sizes (non-empty)");
    }
    for (int d = 0; d < r; d++)
        if (g->out[d] > INT32_MAX)
            return tdm_node_error(n, TDM_UNSUPPORTED, "output dim %d (%lld) exceeds 2^31-1", d, (long long)g->out[d]);
    /* Linear/cubic passes: axes that can differ from the identity, most shrinking first so that intermediates stay
     * small; ties take the innermost axis first (the reference interpolates inner axes first). */
    g->taps = p->mode == RM_NEAREST ? 1 : p->mode == RM_LINEAR ? 2 : 4;
    if (p->mode != RM_NEAREST) {
        for (int d = r - 1; d >= 0; d--)
            if (g->out[d] != g->in[d] || g->scale[d] != 1.0 || crop) g->pass[g->n_pass++] = d;
        for (int i = 1; i < g->n_pass; i++) /* stable insertion sort by out/in ratio */
            for (int j = i; j > 0; j--) {
                int a = g->pass[j - 1], b = g->pass[j];
                double ra = g->in[a] ? (double)g->out[a] / (double)g->in[a] : 1;
                double rb = g->in[b] ? (double)g->out[b] / (double)g->in[b] : 1;
                if (rb >= ra) break;
                g->pass[j - 1] = b, g->pass[j] = a;
            }
    }
    geom_layout(g, p->mode, tdm_dtype_size(x->dtype));
    return TDM_OK;
}

/* Workspace: per axis the tap indices (int32), weights (double) and extrapolation flags, then two ping-pong
 * intermediates for the separable passes, each as large as the biggest partial result. */
static void geom_layout(resize_geom *g, int mode, size_t es) {
    size_t off = 0;
    for (int d = 0; d < g->rank; d++) {
        size_t m = (size_t)g->out[d] * (size_t)g->taps;
        g->off_idx[d] = off;
        off += ALIGN_UP(m * sizeof(int32_t));
        g->off_w[d] = off;
        off += mode == RM_NEAREST ? 0 : ALIGN_UP(m * sizeof(double));
        g->off_ext[d] = off;
        off += ALIGN_UP((size_t)g->out[d]);
    }
    int64_t cur[TDM_MAX_RANK], most = 0;
    memcpy(cur, g->in, sizeof cur);
    for (int k = 0; k + 1 < g->n_pass; k++) {
        cur[g->pass[k]] = g->out[g->pass[k]];
        int64_t e = prod(cur, 0, g->rank);
        if (e > most) most = e;
    }
    g->off_buf[0] = off;
    off += ALIGN_UP((size_t)most * es);
    g->off_buf[1] = off;
    off += g->n_pass > 2 ? ALIGN_UP((size_t)most * es) : 0;
    g->workspace = off;
}

static tdm_status resize_shape_common(tdm_ctx *c, tdm_node *n) {
    const resize_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    if (!is_plain_dtype(x->dtype))
        return tdm_node_error(n, TDM_UNSUPPORTED, "X has dtype %s, which is not supported", tdm_dtype_name(x->dtype));
    if (p->mode != RM_NEAREST && x->dtype != TDM_FLOAT && x->dtype != TDM_DOUBLE)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%s mode on %s is not supported (float and double only)",
                              p->mode == RM_LINEAR ? "linear" : "cubic", tdm_dtype_name(x->dtype));
    resize_geom g;
    tdm_status st = resize_geometry(c, n, &g);
    if (st) return st;
    if ((st = check_size(n, g.rank, g.out, tdm_dtype_size(x->dtype)))) return st;
    tdm_set_shape(tdm_out(c, n, 0), x->dtype, g.rank, g.out);
    n->workspace = g.workspace;
    n->macs = p->mode == RM_NEAREST ? 0 : prod(g.out, 0, g.rank) * g.taps * g.n_pass; /* an upper bound */
    return TDM_OK;
}

tdm_status resize_shape(tdm_ctx *c, tdm_node *n) { return resize_shape_common(c, n); }

/* ---- Resize: tables ---------------------------------------------------------------------------------------------- */

/* Map an output coordinate to the input coordinate system (the ONNX coordinate_transformation_mode formulas). */
static double src_coord(int coord, double x, double scale, int64_t lin, int64_t lout, double lres, double rs,
                        double re) {
    switch (coord) {
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adj = (double)lout / lres;
        double center = (double)lin / 2;
        return center * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return lres != 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return lres != 1 ? x * (double)(lin - 1) / (lres - 1) : 0.0;
    case CT_ASYMMETRIC: return x / scale;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
    case CT_TF_CROP_AND_RESIZE:
        return lres != 1 ? rs * (double)(lin - 1) + x * (re - rs) * (double)(lin - 1) / (lres - 1)
                         : 0.5 * (rs + re) * (double)(lin - 1);
    default: return (x + 0.5) / scale - 0.5; /* half_pixel */
    }
}

/* Keys' cubic convolution kernel at distance s with coefficient a. */
static double cubic_w(double s, double a) {
    s = fabs(s);
    if (s <= 1) return ((a + 2) * s - (a + 3)) * s * s + 1;
    if (s < 2) return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
    return 0;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Fill axis d's table: for each output coordinate, taps source indices (edge-clamped) and weights, or ext = 1 when
 * tf_crop_and_resize samples outside the input. Returns 1 when the axis maps every coordinate to itself. */
static int build_table(const resize_params *p, const resize_geom *g, int d, double rs, double re, int32_t *idx,
                       double *w, uint8_t *ext) {
    int64_t lin = g->in[d], lout = g->out[d];
    int T = g->taps, identity = lin == lout;
    for (int64_t j = 0; j < lout; j++) {
        double x = src_coord(p->coord, (double)j, g->scale[d], lin, lout, g->lres[d], rs, re);
        int32_t *ix = idx + j * T;
        double *wt = w ? w + j * T : NULL;
        ext[j] = 0;
        if (p->coord == CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(lin - 1) || x != x)) {
            ext[j] = 1;
            identity = 0;
            for (int t = 0; t < T; t++) {
                ix[t] = 0;
                if (wt) wt[t] = 0;
            }
            continue;
        }
        if (x != x) x = 0;
        if (x < -8) x = -8; /* beyond a few pixels every tap clamps to the edge anyway; keeps floor() in range */
        if (x > (double)lin + 8) x = (double)lin + 8;
        if (p->mode == RM_NEAREST) {
            double k;
            switch (p->nearest) {
            case NM_ROUND_PREFER_CEIL: k = floor(x + 0.5); break;
            case NM_FLOOR: k = floor(x); break;
            case NM_CEIL: k = ceil(x); break;
            case NM_SIMPLE: k = g->scale[d] < 1 ? ceil(x) : floor(x); break;
            default: k = ceil(x - 0.5); break; /* round_prefer_floor */
            }
            ix[0] = (int32_t)clamp64((int64_t)k, 0, lin - 1);
            if (ix[0] != j) identity = 0;
            continue;
        }
        double fl = floor(x), r = x - fl;
        int64_t base = (int64_t)fl - (T == 4 ? 1 : 0);
        if (T == 2) {
            wt[0] = 1 - r;
            wt[1] = r;
        } else {
            wt[0] = cubic_w(1 + r, p->cubic_a);
            wt[1] = cubic_w(r, p->cubic_a);
            wt[2] = cubic_w(1 - r, p->cubic_a);
            wt[3] = cubic_w(2 - r, p->cubic_a);
        }
        if (p->exclude_outside) {
            double sum = 0;
            for (int t = 0; t < T; t++) {
                if (base + t < 0 || base + t >= lin) wt[t] = 0;
                sum += wt[t];
            }
            if (sum != 0)
                for (int t = 0; t < T; t++) wt[t] /= sum;
            else
                wt[0] = 1;
        }
        for (int t = 0; t < T; t++) {
            ix[t] = (int32_t)clamp64(base + t, 0, lin - 1);
            if (wt[t] != 0 && (ix[t] != j || wt[t] != 1)) identity = 0;
        }
    }
    return identity;
}

/* ---- Resize: linear / cubic passes ------------------------------------------------------------------------------ */

typedef struct pass_job {
    const void *src;
    void *dst;
    int64_t lin, lout, inner;
    int taps;
    const int32_t *idx;
    const double *w;
    const uint8_t *ext;
    double extrap;
} pass_job;

/* Output rows j0..j1 of outer slice o of a pass along one axis: dst[o, j, :] = sum_t w[j][t] * src[o, idx[j][t], :].
 * The innermost axis (inner == 1) is a short dot product per element; other axes are vector updates of inner. */
#define DEFINE_PASS_ROWS(NAME, T)                                                                                 \
    static void NAME(const pass_job *p, int64_t o, int64_t j0, int64_t j1) {                                     \
        const int64_t inner = p->inner;                                                                          \
        const int taps = p->taps;                                                                                \
        const T *s = (const T *)p->src + o * p->lin * inner;                                                     \
        T *dst = (T *)p->dst + o * p->lout * inner;                                                              \
        if (inner == 1) {                                                                                        \
            for (int64_t j = j0; j < j1; j++) {                                                                  \
                const int32_t *ix = p->idx + j * taps;                                                           \
                const double *w = p->w + j * taps;                                                               \
                T acc = (T)w[0] * s[ix[0]] + (T)w[1] * s[ix[1]];                                                 \
                if (taps == 4) acc += (T)w[2] * s[ix[2]] + (T)w[3] * s[ix[3]];                                   \
                dst[j] = p->ext[j] ? (T)p->extrap : acc;                                                         \
            }                                                                                                    \
            return;                                                                                              \
        }                                                                                                        \
        for (int64_t j = j0; j < j1; j++) {                                                                      \
            T *d = dst + j * inner;                                                                              \
            if (p->ext[j]) {                                                                                     \
                for (int64_t i = 0; i < inner; i++) d[i] = (T)p->extrap;                                         \
                continue;                                                                                        \
            }                                                                                                    \
            const int32_t *ix = p->idx + j * taps;                                                               \
            const double *w = p->w + j * taps;                                                                   \
            int first = 1;                                                                                       \
            for (int t = 0; t < taps; t++) {                                                                     \
                if (w[t] == 0) continue;                                                                         \
                const T wt = (T)w[t];                                                                            \
                const T *row = s + (int64_t)ix[t] * inner;                                                       \
                if (first)                                                                                       \
                    for (int64_t i = 0; i < inner; i++) d[i] = wt * row[i];                                      \
                else                                                                                             \
                    for (int64_t i = 0; i < inner; i++) d[i] += wt * row[i];                                     \
                first = 0;                                                                                       \
            }                                                                                                    \
            if (first)                                                                                           \
                for (int64_t i = 0; i < inner; i++) d[i] = 0;                                                    \
        }                                                                                                        \
    }

DEFINE_PASS_ROWS(pass_rows_f32, float)
DEFINE_PASS_ROWS(pass_rows_f64, double)

static void pass_task_f32(void *ctx, size_t i0, size_t j0, size_t ti, size_t tj) {
    for (size_t o = i0; o < i0 + ti; o++) pass_rows_f32(ctx, (int64_t)o, (int64_t)j0, (int64_t)(j0 + tj));
}

static void pass_task_f64(void *ctx, size_t i0, size_t j0, size_t ti, size_t tj) {
    for (size_t o = i0; o < i0 + ti; o++) pass_rows_f64(ctx, (int64_t)o, (int64_t)j0, (int64_t)(j0 + tj));
}

/* ---- Resize: nearest gather ------------------------------------------------------------------------------------- */

typedef struct gather_job {
    const char *src;
    char *dst;
    int rank;
    size_t es;
    int64_t out[TDM_MAX_RANK], stride[TDM_MAX_RANK];
    const int32_t *idx[TDM_MAX_RANK];
    const uint8_t *ext[TDM_MAX_RANK];
    int64_t rows, row_len, chunk;
    int any_ext;                       /* tf_crop_and_resize: some coordinates take the extrapolation value   */
    unsigned char extrap[8];
} gather_job;

static inline void copy_elem(char *d, const char *s, size_t es) {
    switch (es) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, es); break;
    }
}

/* Rows [t*chunk, ...) of the output viewed as [rows, row_len]: decode each row's coordinates, then gather along the
 * last axis. */
static void gather_task(void *ctx, size_t t) {
    const gather_job *p = ctx;
    int r = p->rank;
    int64_t r0 = (int64_t)t * p->chunk, r1 = r0 + p->chunk < p->rows ? r0 + p->chunk : p->rows;
    const int32_t *il = p->idx[r - 1];
    const uint8_t *el = p->ext[r - 1];
    size_t es = p->es;
    for (int64_t row = r0; row < r1; row++) {
        int64_t rem = row, base = 0;
        int out_side = 0;
        for (int d = r - 2; d >= 0; d--) {
            int64_t cd = rem % p->out[d];
            rem /= p->out[d];
            if (p->ext[d][cd]) out_side = 1;
            base += (int64_t)p->idx[d][cd] * p->stride[d];
        }
        char *dst = p->dst + (size_t)(row * p->row_len) * es;
        const char *src = p->src + (size_t)base * es;
        if (!p->any_ext && es == 4) {
            for (int64_t j = 0; j < p->row_len; j++) memcpy(dst + j * 4, src + (size_t)il[j] * 4, 4);
            continue;
        }
        if (!p->any_ext && es == 1) {
            for (int64_t j = 0; j < p->row_len; j++) dst[j] = src[il[j]];
            continue;
        }
        for (int64_t j = 0; j < p->row_len; j++)
            copy_elem(dst + (size_t)j * es, (out_side || el[j]) ? (const char *)p->extrap : src + (size_t)il[j] * es,
                      es);
    }
}

/* ---- Resize: run ------------------------------------------------------------------------------------------------ */

tdm_status resize_run(tdm_ctx *c, const tdm_node *n) {
    const resize_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0), *y = tdm_out(c, n, 0);
    const tdm_value *roi = p->in_roi >= 0 ? tdm_in(c, n, p->in_roi) : NULL;
    resize_geom g;
    tdm_status st = resize_geometry(c, n, &g);
    if (st) return st;
    int r = g.rank;
    size_t es = tdm_dtype_size(x->dtype);
    int64_t total = tdm_numel(y);
    if (total == 0) return TDM_OK;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return TDM_OK;
    }
    double rs[TDM_MAX_RANK], re[TDM_MAX_RANK];
    if ((st = read_roi(n, p, p->coord == CT_TF_CROP_AND_RESIZE ? roi : NULL, r, 1, rs, re))) return st;
    char *ws = c->workspace;
    int identity[TDM_MAX_RANK];
    for (int d = 0; d < r; d++)
        identity[d] = build_table(p, &g, d, rs[d], re[d], (int32_t *)(ws + g.off_idx[d]),
                                  p->mode == RM_NEAREST ? NULL : (double *)(ws + g.off_w[d]),
                                  (uint8_t *)(ws + g.off_ext[d]));
    if (p->mode == RM_NEAREST) {
        gather_job j;
        memset(&j, 0, sizeof j);
        j.src = x->data;
        j.dst = y->data;
        j.rank = r;
        j.es = es;
        int64_t s = 1;
        for (int d = r - 1; d >= 0; d--) {
            j.out[d] = g.out[d];
            j.stride[d] = s;
            s *= g.in[d];
            j.idx[d] = (const int32_t *)(ws + g.off_idx[d]);
            j.ext[d] = (const uint8_t *)(ws + g.off_ext[d]);
        }
        put_scalar(j.extrap, x->dtype, p->extrapolation);
        j.any_ext = p->coord == CT_TF_CROP_AND_RESIZE;
        j.row_len = g.out[r - 1];
        j.rows = total / j.row_len;
        j.chunk = 16384 / j.row_len + 1;
        tdm_parallelize_1d(c->pool, gather_task, &j, (size_t)((j.rows + j.chunk - 1) / j.chunk));
        return TDM_OK;
    }
    int order[TDM_MAX_RANK], m = 0;
    for (int k = 0; k < g.n_pass; k++)
        if (!identity[g.pass[k]]) order[m++] = g.pass[k];
    if (m == 0) {
        memcpy(y->data, x->data, (size_t)total * es);
        return TDM_OK;
    }
    int64_t cur[TDM_MAX_RANK];
    memcpy(cur, g.in, sizeof cur);
    const void *src = x->data;
    for (int k = 0; k < m; k++) {
        int a = order[k];
        void *dst = k == m - 1 ? y->data : (void *)(ws + g.off_buf[k & 1]);
        pass_job pj = {src, dst, cur[a], g.out[a], prod(cur, a + 1, r), g.taps,
                       (const int32_t *)(ws + g.off_idx[a]), (const double *)(ws + g.off_w[a]),
                       (const uint8_t *)(ws + g.off_ext[a]), p->extrapolation};
        int64_t outer = prod(cur, 0, a);
        if (outer > 0 && pj.lout > 0) {
            /* Tiles of about 8k multiply-adds. */
            int64_t row = pj.inner * g.taps + 1;
            int64_t tj = 8192 / row + 1;
            if (tj > pj.lout) tj = pj.lout;
            int64_t ti = tj == pj.lout ? 8192 / (row * pj.lout) + 1 : 1;
            tdm_parallelize_2d_tile(c->pool, x->dtype == TDM_DOUBLE ? pass_task_f64 : pass_task_f32, &pj,
                                    (size_t)outer, (size_t)pj.lout, (size_t)ti, (size_t)tj);
        }
        cur[a] = g.out[a];
        src = dst;
    }
    return TDM_OK;
}

/* ---- Upsample --------------------------------------------------------------------------------------------------- */

tdm_status resize_upsample_shape(tdm_ctx *c, tdm_node *n) { return resize_shape_common(c, n); }

tdm_status resize_upsample_run(tdm_ctx *c, const tdm_node *n) { return resize_run(c, n); }

/* ---- TopK ------------------------------------------------------------------------------------------------------- */

typedef struct topk_params {
    int64_t axis, largest, sorted, k_attr;
} topk_params;

/* Parse attributes; before opset 10, k is an attribute, from 10 on the constant input 1. */
tdm_status resize_topk_check(tdm_ctx *c, tdm_node *n) {
    topk_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (!tdm_in(c, n, 0) || (!tdm_out(c, n, 0) && !tdm_out(c, n, 1)))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs input X and output Values or Indices");
    tdm_status st;
    if ((st = tdm_attr_int(n, "axis", -1, &p->axis))) return st;
    if ((st = tdm_attr_int(n, "largest", 1, &p->largest))) return st;
    if ((st = tdm_attr_int(n, "sorted", 1, &p->sorted))) return st;
    if (c->opset < 10) {
        if (!tdm_attr_find(n, "k")) return tdm_node_error(n, TDM_INVALID_MODEL, "needs the `k` attribute");
        if ((st = tdm_attr_int(n, "k", 0, &p->k_attr))) return st;
    } else if (!tdm_in(c, n, 1)) {
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs input K");
    }
    return TDM_OK;
}

static tdm_status topk_k(tdm_ctx *c, const tdm_node *n, int64_t *k) {
    const topk_params *p = n->params;
    if (p->k_attr || !tdm_in(c, n, 1)) {
        *k = p->k_attr;
        return TDM_OK;
    }
    int cnt;
    tdm_status st = tdm_const_ints(n, tdm_in(c, n, 1), k, 1, &cnt);
    if (st) return st;
    if (cnt != 1) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "K has %d elements, expected 1", cnt);
    return TDM_OK;
}

tdm_status resize_topk_shape(tdm_ctx *c, tdm_node *n) {
    const topk_params *p = n->params;
    tdm_value *x = tdm_in(c, n, 0);
    switch (x->dtype) {
    case TDM_FLOAT: case TDM_DOUBLE: case TDM_INT8: case TDM_UINT8: case TDM_INT16: case TDM_UINT16:
    case TDM_INT32: case TDM_UINT32: case TDM_INT64: case TDM_UINT64: break;
    default:
        return tdm_node_error(n, TDM_UNSUPPORTED, "X has dtype %s, which is not supported", tdm_dtype_name(x->dtype));
    }
    int a = tdm_axis(p->axis, x->rank);
    if (a < 0)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "axis %lld is out of range for rank %d", (long long)p->axis,
                              x->rank);
    int64_t k;
    tdm_status st = topk_k(c, n, &k);
    if (st) return st;
    if (k < 0 || k > x->dims[a])
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "k = %lld is outside [0, %lld] (axis %d)", (long long)k,
                              (long long)x->dims[a], a);
    int64_t d[TDM_MAX_RANK];
    memcpy(d, x->dims, sizeof d);
    d[a] = k;
    if (tdm_out(c, n, 0)) tdm_set_shape(tdm_out(c, n, 0), x->dtype, x->rank, d);
    if (tdm_out(c, n, 1)) tdm_set_shape(tdm_out(c, n, 1), TDM_INT64, x->rank, d);
    n->workspace = (size_t)k * sizeof(int64_t);
    n->macs = 0;
    return TDM_OK;
}

/* One TopK kernel per dtype. `better` is a strict total order (value first, then the lower index; NaN ranks above
 * every number), so ties resolve to the lower index whatever the order of processing. Each slice keeps a k-element
 * heap whose root is the worst kept position; it is then heap-sorted best-first. */
#define DEFINE_TOPK(SUF, T, ISNAN)                                                                                \
    static inline int topk_better_##SUF(const T *s, int64_t inner, int64_t a, int64_t b, int largest) {          \
        T va = s[a * inner], vb = s[b * inner];                                                                  \
        int na = ISNAN(va), nb = ISNAN(vb);                                                                      \
        if (na || nb) return (na && nb) ? a < b : largest ? na : nb;                                             \
        if (va == vb) return a < b;                                                                              \
        return largest ? va > vb : va < vb;                                                                      \
    }                                                                                                            \
    static void topk_sift_##SUF(const T *s, int64_t inner, int64_t *h, int64_t cnt, int largest) {               \
        int64_t at = 0;                                                                                          \
        for (;;) {                                                                                               \
            int64_t l = 2 * at + 1, w = at;                                                                      \
            if (l < cnt && topk_better_##SUF(s, inner, h[w], h[l], largest)) w = l;                              \
            if (l + 1 < cnt && topk_better_##SUF(s, inner, h[w], h[l + 1], largest)) w = l + 1;                  \
            if (w == at) return;                                                                                 \
            int64_t t = h[at];                                                                                   \
            h[at] = h[w];                                                                                        \
            h[w] = t;                                                                                            \
            at = w;                                                                                              \
        }                                                                                                        \
    }                                                                                                            \
    static void topk_run_##SUF(const topk_job *j) {                                                              \
        const int64_t dim = j->dim, inner = j->inner, k = j->k;                                                  \
        int64_t *h = j->heap;                                                                                    \
        for (int64_t o = 0; o < j->outer; o++)                                                                   \
            for (int64_t in = 0; in < inner; in++) {                                                             \
                const T *s = (const T *)j->x + o * dim * inner + in;                                             \
                int64_t cnt = 0;                                                                                 \
                for (int64_t e = 0; e < dim && k > 0; e++) {                                                     \
                    if (cnt < k) {                                                                               \
                        int64_t c = cnt++;                                                                       \
                        h[c] = e;                                                                                \
                        while (c > 0 && topk_better_##SUF(s, inner, h[(c - 1) / 2], h[c], j->largest)) {         \
                            int64_t par = (c - 1) / 2, t = h[par];                                               \
                            h[par] = h[c];                                                                       \
                            h[c] = t;                                                                            \
                            c = par;                                                                             \
                        }                                                                                        \
                    } else if (topk_better_##SUF(s, inner, e, h[0], j->largest)) {                               \
                        h[0] = e;                                                                                \
                        topk_sift_##SUF(s, inner, h, cnt, j->largest);                                           \
                    }                                                                                            \
                }                                                                                                \
                for (int64_t end = cnt - 1; end > 0; end--) {                                                    \
                    int64_t t = h[0];                                                                            \
                    h[0] = h[end];                                                                               \
                    h[end] = t;                                                                                  \
                    topk_sift_##SUF(s, inner, h, end, j->largest);                                               \
                }                                                                                                \
                int64_t off = o * k * inner + in;                                                                \
                for (int64_t r = 0; r < cnt && j->vals; r++) ((T *)j->vals)[off + r * inner] = s[h[r] * inner];  \
                for (int64_t r = 0; r < cnt && j->idx; r++) j->idx[off + r * inner] = h[r];                      \
            }                                                                                                    \
    }

typedef struct topk_job {
    const void *x;
    void *vals;
    int64_t *idx, *heap;
    int64_t outer, dim, inner, k;
    int largest;
} topk_job;

#define NO_NAN(v) 0
#define IS_NAN(v) ((v) != (v))
DEFINE_TOPK(f32, float, IS_NAN)
DEFINE_TOPK(f64, double, IS_NAN)
DEFINE_TOPK(i8, int8_t, NO_NAN)
DEFINE_TOPK(u8, uint8_t, NO_NAN)
DEFINE_TOPK(i16, int16_t, NO_NAN)
DEFINE_TOPK(u16, uint16_t, NO_NAN)
DEFINE_TOPK(i32, int32_t, NO_NAN)
DEFINE_TOPK(u32, uint32_t, NO_NAN)
DEFINE_TOPK(i64, int64_t, NO_NAN)
DEFINE_TOPK(u64, uint64_t, NO_NAN)

tdm_status resize_topk_run(tdm_ctx *c, const tdm_node *n) {
    const topk_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0), *v = tdm_out(c, n, 0), *ix = tdm_out(c, n, 1);
    const tdm_value *any = v ? v : ix;
    int a = tdm_axis(p->axis, x->rank);
    topk_job j = {x->data, v ? v->data : NULL, ix ? ix->data : NULL, c->workspace, prod(x->dims, 0, a), x->dims[a],
                  prod(x->dims, a + 1, x->rank), any->dims[a], p->largest != 0};
    if (tdm_numel(any) == 0) return TDM_OK;
    switch (x->dtype) {
    case TDM_FLOAT: topk_run_f32(&j); break;
    case TDM_DOUBLE: topk_run_f64(&j); break;
    case TDM_INT8: topk_run_i8(&j); break;
    case TDM_UINT8: topk_run_u8(&j); break;
    case TDM_INT16: topk_run_i16(&j); break;
    case TDM_UINT16: topk_run_u16(&j); break;
    case TDM_INT32: topk_run_i32(&j); break;
    case TDM_UINT32: topk_run_u32(&j); break;
    case TDM_INT64: topk_run_i64(&j); break;
    case TDM_UINT64: topk_run_u64(&j); break;
    default: return tdm_node_error(n, TDM_INTERNAL, "unexpected dtype %s", tdm_dtype_name(x->dtype));
    }
    return TDM_OK;
}
