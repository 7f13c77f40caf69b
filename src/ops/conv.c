/* conv.c - Conv and ConvTranspose, float32, 1-D/2-D/3-D: im2col (or nothing, for 1x1) + GEMM with a fused
 * bias+activation epilogue, a direct path for depthwise convolution, and GEMM + col2im for ConvTranspose. */
#include <limits.h>

#include "../kernels/kernels.h"
#include "ops.h"

enum { PAD_NOTSET = 0, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

#define SP 3 /* spatial dims handled; 1-D and 2-D are run as 3-D with leading unit dims */

/* Attributes as written in the model (counts are 0 when absent). Per-plan geometry is recomputed from them and the
 * input shapes by conv_geometry(), because the model (and so n->params) is shared by sessions. */
typedef struct conv_params {
    int n_kshape, n_strides, n_dil, n_pads, n_out_pad, n_out_shape;
    int64_t kshape[SP], strides[SP], dil[SP], pads[2 * SP], out_pad[SP], out_shape[SP + 2];
    int auto_pad;
    int64_t group;
} conv_params;

/* Everything run() needs, in 3-D form: axis SP-1 is the innermost (width). */
typedef struct conv_geom {
    int nsp;                               /* spatial rank of the model tensors                       */
    int64_t N, C, M, G, Cg, Mg;            /* batch, in/out channels, groups, channels per group     */
    int64_t in[SP], out[SP], k[SP], s[SP], d[SP], pb[SP], pe[SP];
    int64_t in_sz, out_sz, ksz;            /* products of in, out, k                                  */
    int pointwise;                         /* Conv: 1x1, stride 1, no padding: X is already the GEMM B */
    int depthwise;                         /* Conv: one input channel per group, several groups       */
} conv_geom;

/* ---- attributes ---------------------------------------------------------------------------------------------- */

static tdm_status conv_parse_auto_pad(const tdm_node *n, int *out) {
    const char *s;
    tdm_status st = tdm_attr_string(n, "auto_pad", "NOTSET", &s);
    if (st) return st;
    if (strcmp(s, "NOTSET") == 0) *out = PAD_NOTSET;
    else if (strcmp(s, "SAME_UPPER") == 0) *out = PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0) *out = PAD_SAME_LOWER;
    else if (strcmp(s, "VALID") == 0) *out = PAD_VALID;
    else return tdm_node_error(n, TDM_INVALID_MODEL, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", s);
    return TDM_OK;
}

/* Reads an ints attribute of at most max entries, every one >= lo. */
static tdm_status conv_ints_min(const tdm_node *n, const char *name, int64_t *out, int max, int *count, int64_t lo) {
    const tdm_attr *a = tdm_attr_find(n, name);
    if (a && a->type == TDM_ATTR_INTS && a->n > max)
        return tdm_node_error(n, TDM_UNSUPPORTED, "attribute %s has %d entries; at most %d spatial dims are supported",
                              name, a->n, max);
    tdm_status st = tdm_attr_ints(n, name, out, max, count);
    if (st) return st;
    for (int i = 0; i < *count; i++)
        if (out[i] < lo)
            return tdm_node_error(n, TDM_INVALID_MODEL, "attribute %s[%d] = %lld, must be >= %lld", name, i,
                                  (long long)out[i], (long long)lo);
    return TDM_OK;
}

/* Shared by Conv and ConvTranspose: parse and validate the attributes into n->params. */
static tdm_status conv_parse(tdm_ctx *c, tdm_node *n, int transpose) {
    conv_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st;
    if ((st = conv_parse_auto_pad(n, &p->auto_pad))) return st;
    if ((st = conv_ints_min(n, "kernel_shape", p->kshape, SP, &p->n_kshape, 1))) return st;
    if ((st = conv_ints_min(n, "strides", p->strides, SP, &p->n_strides, 1))) return st;
    if ((st = conv_ints_min(n, "dilations", p->dil, SP, &p->n_dil, 1))) return st;
    if ((st = conv_ints_min(n, "pads", p->pads, 2 * SP, &p->n_pads, 0))) return st;
    if ((st = tdm_attr_int(n, "group", 1, &p->group))) return st;
    if (p->group < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "group = %lld, must be >= 1", (long long)p->group);
    if (p->n_pads % 2) return tdm_node_error(n, TDM_INVALID_MODEL, "pads has an odd number (%d) of entries", p->n_pads);
    if (transpose) {
        if ((st = conv_ints_min(n, "output_padding", p->out_pad, SP, &p->n_out_pad, 0))) return st;
        if ((st = conv_ints_min(n, "output_shape", p->out_shape, SP + 2, &p->n_out_shape, 1))) return st;
    }
    if (n->n_in < 2 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs X and W");
    if (n->n_in > 3) return tdm_node_error(n, TDM_INVALID_MODEL, "has %d inputs, expected 2 or 3", n->n_in);
    return TDM_OK;
}

/* ---- geometry ------------------------------------------------------------------------------------------------ */

static int64_t conv_floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* Validates the input shapes against the attributes and fills g. Used by shape() (which reports errors) and run()
 * (where it cannot fail any more). */
static tdm_status conv_geometry(tdm_ctx *c, const tdm_node *n, int transpose, conv_geom *g) {
    const conv_params *p = n->params;
    const tdm_value *x = tdm_in(c, n, 0), *w = tdm_in(c, n, 1), *b = tdm_in(c, n, 2);
    memset(g, 0, sizeof *g);
    if (x->dtype != TDM_FLOAT || w->dtype != TDM_FLOAT || (b && b->dtype != TDM_FLOAT))
        return tdm_node_error(n, TDM_UNSUPPORTED, "only float32 is supported (X %s, W %s)", tdm_dtype_name(x->dtype),
                              tdm_dtype_name(w->dtype));
    if (x->rank < 3 || x->rank > SP + 2)
        return tdm_node_error(n, x->rank < 3 ? TDM_SHAPE_MISMATCH : TDM_UNSUPPORTED,
                              "input X has rank %d, expected 3 to %d", x->rank, SP + 2);
    int nsp = g->nsp = x->rank - 2;
    if (w->rank != x->rank)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "weight W has rank %d, expected %d like X", w->rank, x->rank);
    if (p->n_kshape && p->n_kshape != nsp)
        return tdm_node_error(n, TDM_INVALID_MODEL, "kernel_shape has %d entries for %d spatial dims", p->n_kshape, nsp);
    if (p->n_strides && p->n_strides != nsp)
        return tdm_node_error(n, TDM_INVALID_MODEL, "strides has %d entries for %d spatial dims", p->n_strides, nsp);
    if (p->n_dil && p->n_dil != nsp)
        return tdm_node_error(n, TDM_INVALID_MODEL, "dilations has %d entries for %d spatial dims", p->n_dil, nsp);
    if (p->n_pads && p->n_pads != 2 * nsp)
        return tdm_node_error(n, TDM_INVALID_MODEL, "pads has %d entries for %d spatial dims", p->n_pads, nsp);
    if (p->n_out_pad && p->n_out_pad != nsp)
        return tdm_node_error(n, TDM_INVALID_MODEL, "output_padding has %d entries for %d spatial dims",
                              p->n_out_pad, nsp);
    if (p->n_out_shape && p->n_out_shape != nsp && p->n_out_shape != nsp + 2)
        return tdm_node_error(n, TDM_INVALID_MODEL, "output_shape has %d entries for %d spatial dims",
                              p->n_out_shape, nsp);
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] < 1 || w->dims[i] < 1)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "empty X or W (dim %d is %lld / %lld)", i,
                                  (long long)x->dims[i], (long long)w->dims[i]);

    g->N = x->dims[0];
    g->C = x->dims[1];
    g->G = p->group;
    if (g->C % g->G)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "X has %lld channels, not divisible by group %lld",
                              (long long)g->C, (long long)g->G);
    g->Cg = g->C / g->G;
    if (!transpose) {
        if (w->dims[1] != g->Cg)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "W is [%lld, %lld, ...] but X has %lld channels in %lld groups",
                                  (long long)w->dims[0], (long long)w->dims[1], (long long)g->C, (long long)g->G);
        g->M = w->dims[0];
        if (g->M % g->G)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "W has %lld output channels, not divisible by group %lld",
                                  (long long)g->M, (long long)g->G);
        g->Mg = g->M / g->G;
    } else {
        if (w->dims[0] != g->C)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "W has %lld input channels, X has %lld",
                                  (long long)w->dims[0], (long long)g->C);
        g->Mg = w->dims[1];
        g->M = g->Mg * g->G;
    }
    if (b && (b->rank != 1 || b->dims[0] != g->M))
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "bias B must be [%lld]", (long long)g->M);

    g->in_sz = g->out_sz = g->ksz = 1;
    for (int a = 0; a < SP; a++) {
        g->in[a] = g->out[a] = g->k[a] = g->s[a] = g->d[a] = 1;
        g->pb[a] = g->pe[a] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        int a = SP - nsp + i;
        int64_t in = x->dims[2 + i], k = w->dims[2 + i];
        if (p->n_kshape && p->kshape[i] != k)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "kernel_shape[%d] = %lld but W has %lld", i,
                                  (long long)p->kshape[i], (long long)k);
        int64_t s = p->n_strides ? p->strides[i] : 1, d = p->n_dil ? p->dil[i] : 1;
        int64_t dk = (k - 1) * d + 1, pb = 0, pe = 0, out;
        if (!transpose) {
            if (p->auto_pad == PAD_SAME_UPPER || p->auto_pad == PAD_SAME_LOWER) {
                out = (in + s - 1) / s;
                int64_t total = (out - 1) * s + dk - in;
                if (total < 0) total = 0;
                pb = p->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
                pe = total - pb;
            } else {
                if (p->auto_pad == PAD_NOTSET && p->n_pads) {
                    pb = p->pads[i];
                    pe = p->pads[i + nsp];
                }
                if (in + pb + pe < dk)
                    return tdm_node_error(n, TDM_SHAPE_MISMATCH,
                                          "spatial dim %d: input %lld (padded %lld) is smaller than the kernel extent %lld",
                                          i, (long long)in, (long long)(in + pb + pe), (long long)dk);
                out = (in + pb + pe - dk) / s + 1;
            }
        } else {
            int64_t opad = p->n_out_pad ? p->out_pad[i] : 0;
            int64_t full = s * (in - 1) + opad + dk; /* output length before removing any padding */
            if (p->n_out_shape || p->auto_pad == PAD_SAME_UPPER || p->auto_pad == PAD_SAME_LOWER) {
                out = p->n_out_shape ? p->out_shape[p->n_out_shape - nsp + i] : in * s;
                int64_t total = full - out; /* may be negative: the output then extends past the full result */
                if (p->auto_pad == PAD_SAME_UPPER) {
                    pb = conv_floor_div(total, 2);
                    pe = total - pb;
                } else {
                    pe = conv_floor_div(total, 2);
                    pb = total - pe;
                }
            } else {
                if (p->auto_pad == PAD_NOTSET && p->n_pads) {
                    pb = p->pads[i];
                    pe = p->pads[i + nsp];
                }
                out = full - pb - pe;
            }
            if (out < 1)
                return tdm_node_error(n, TDM_SHAPE_MISMATCH, "spatial dim %d: output size %lld is not positive", i,
                                      (long long)out);
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
        g->ksz *= k;
    }
    if (g->in_sz > (INT64_C(1) << 40) || g->out_sz > (INT64_C(1) << 40) || g->ksz > (INT64_C(1) << 30))
        return tdm_node_error(n, TDM_UNSUPPORTED, "tensor sizes too large");
    if (!transpose) {
        g->pointwise = 1;
        for (int a = 0; a < SP; a++)
            if (g->k[a] != 1 || g->s[a] != 1 || g->pb[a] != 0 || g->pe[a] != 0) g->pointwise = 0;
        g->depthwise = g->Cg == 1 && g->G > 1;
    }
    return TDM_OK;
}

/* ---- threading helpers --------------------------------------------------------------------------------------- */

/* Tile sizes for an m x n GEMM spread over `threads`: full height, column tiles of a multiple of 16 wide, about four
 * tiles per thread so that uneven tiles balance; rows are split too when there are few columns. */
static void conv_tiles(tdm_pool *pool, size_t m, size_t n, size_t *tm, size_t *tn) {
    size_t t = (size_t)tdm_pool_threads(pool);
    *tm = m;
    *tn = n;
    if (t <= 1) return;
    size_t want = 4 * t;
    size_t w = (n + want - 1) / want;
    w = (w + 15) / 16 * 16;
    if (w < 64) w = 64;
    if (w < n) *tn = w;
    size_t ntiles = (n + *tn - 1) / *tn;
    if (ntiles < 2 * t && m >= 16) {
        size_t rows = (m * ntiles + want - 1) / want;
        rows = (rows + 3) / 4 * 4;
        if (rows < 8) rows = 8;
        if (rows < m) *tm = rows;
    }
}

/* ---- Conv ---------------------------------------------------------------------------------------------------- */

tdm_status conv_conv_check(tdm_ctx *c, tdm_node *n) { return conv_parse(c, n, 0); }

tdm_status conv_conv_shape(tdm_ctx *c, tdm_node *n) {
    conv_geom g;
    tdm_status st = conv_geometry(c, n, 0, &g);
    if (st) return st;
    int64_t dims[SP + 2] = {g.N, g.M};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.out[SP - g.nsp + i];
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, g.nsp + 2, dims);
    n->workspace = (g.pointwise || g.depthwise) ? 0 : (size_t)(g.Cg * g.ksz * g.out_sz) * sizeof(float);
    n->macs = g.N * g.M * g.out_sz * g.Cg * g.ksz;
    return TDM_OK;
}

typedef struct conv_job {
    const conv_geom *g;
    const float *x, *w, *bias;
    float *y, *col;
    int act;
    float act_a, act_b;
    /* the (image, group) being computed */
    const float *xg, *wg, *bg, *bmat;
    float *yg;
} conv_job;

/* Output index range [lo, hi) along one axis for which o * s + off lands inside [0, in). */
static void conv_valid_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = in - 1 - off >= 0 ? (in - 1 - off) / s + 1 : 0;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* im2col for input channel ci of the current group: writes rows ci*ksz .. (ci+1)*ksz-1 of the K x out_sz matrix whose
 * row order (channel, k0, k1, k2) matches the flattened ONNX weight layout [M, C/group, k0, k1, k2]. */
static void conv_im2col_task(void *ctx, size_t ci) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    const float *xc = j->xg + ci * (size_t)g->in_sz;
    float *dst = j->col + ci * (size_t)(g->ksz * g->out_sz);
    const int64_t O1 = g->out[1], O2 = g->out[2];
    for (int64_t t0 = 0; t0 < g->k[0]; t0++)
        for (int64_t t1 = 0; t1 < g->k[1]; t1++)
            for (int64_t t2 = 0; t2 < g->k[2]; t2++, dst += g->out_sz) {
                int64_t off2 = t2 * g->d[2] - g->pb[2], lo, hi;
                conv_valid_range(off2, g->s[2], g->in[2], O2, &lo, &hi);
                for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
                    int64_t i0 = o0 * g->s[0] - g->pb[0] + t0 * g->d[0];
                    for (int64_t o1 = 0; o1 < O1; o1++) {
                        float *d = dst + (o0 * O1 + o1) * O2;
                        int64_t i1 = o1 * g->s[1] - g->pb[1] + t1 * g->d[1];
                        if (i0 < 0 || i0 >= g->in[0] || i1 < 0 || i1 >= g->in[1]) {
                            memset(d, 0, (size_t)O2 * sizeof(float));
                            continue;
                        }
                        const float *src = xc + (i0 * g->in[1] + i1) * g->in[2];
                        for (int64_t o = 0; o < lo; o++) d[o] = 0.0f;
                        if (g->s[2] == 1 && hi > lo)
                            memcpy(d + lo, src + lo + off2, (size_t)(hi - lo) * sizeof(float));
                        else
                            for (int64_t o = lo; o < hi; o++) d[o] = src[o * g->s[2] + off2];
                        for (int64_t o = hi; o < O2; o++) d[o] = 0.0f;
                    }
                }
            }
}

/* One tile of Y_g = W_g * B followed by the bias+activation epilogue while the tile is still in cache. */
static void conv_gemm_tile(void *ctx, size_t i, size_t jj, size_t ti, size_t tj) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    size_t K = (size_t)(g->Cg * g->ksz), ldo = (size_t)g->out_sz;
    float *yt = j->yg + i * ldo + jj;
    tdm_sgemm(0, 0, ti, tj, K, 1.0f, j->wg + i * K, K, j->bmat + jj, ldo, 0.0f, yt, ldo);
    if (j->bg || j->act != TDM_ACT_NONE)
        for (size_t r = 0; r < ti; r++)
            tdm_bias_act(yt + r * ldo, tj, j->bg ? j->bg[i + r] : 0.0f, j->act, j->act_a, j->act_b);
}

/* Depthwise: output plane `plane` (= image * M + m) reads only input channel m / Mg; accumulate tap by tap over
 * contiguous output rows so the inner loop is a vectorisable axpy. */
static void conv_depthwise_task(void *ctx, size_t plane) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    size_t img = plane / (size_t)g->M, m = plane % (size_t)g->M;
    const float *xc = j->x + (img * (size_t)g->C + m / (size_t)g->Mg) * (size_t)g->in_sz;
    const float *wm = j->w + m * (size_t)g->ksz;
    float *y = j->y + plane * (size_t)g->out_sz;
    float bias = j->bias ? j->bias[m] : 0.0f;
    for (int64_t o = 0; o < g->out_sz; o++) y[o] = bias;
    const int64_t O1 = g->out[1], O2 = g->out[2], s2 = g->s[2];
    for (int64_t t0 = 0; t0 < g->k[0]; t0++)
        for (int64_t t1 = 0; t1 < g->k[1]; t1++)
            for (int64_t t2 = 0; t2 < g->k[2]; t2++) {
                float wv = wm[(t0 * g->k[1] + t1) * g->k[2] + t2];
                int64_t off2 = t2 * g->d[2] - g->pb[2], lo, hi;
                conv_valid_range(off2, s2, g->in[2], O2, &lo, &hi);
                for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
                    int64_t i0 = o0 * g->s[0] - g->pb[0] + t0 * g->d[0];
                    if (i0 < 0 || i0 >= g->in[0]) continue;
                    for (int64_t o1 = 0; o1 < O1; o1++) {
                        int64_t i1 = o1 * g->s[1] - g->pb[1] + t1 * g->d[1];
                        if (i1 < 0 || i1 >= g->in[1]) continue;
                        const float *src = xc + (i0 * g->in[1] + i1) * g->in[2];
                        float *d = y + (o0 * O1 + o1) * O2;
                        if (s2 == 1)
                            for (int64_t o = lo; o < hi; o++) d[o] += wv * src[o + off2];
                        else
                            for (int64_t o = lo; o < hi; o++) d[o] += wv * src[o * s2 + off2];
                    }
                }
            }
    tdm_act(y, (size_t)g->out_sz, j->act, j->act_a, j->act_b);
}

tdm_status conv_conv_run(tdm_ctx *c, const tdm_node *n) {
    conv_geom g;
    tdm_status st = conv_geometry(c, n, 0, &g);
    if (st) return st;
    const tdm_value *b = tdm_in(c, n, 2);
    conv_job j = {.g = &g,
                  .x = tdm_in(c, n, 0)->data,
                  .w = tdm_in(c, n, 1)->data,
                  .bias = b ? b->data : NULL,
                  .y = tdm_out(c, n, 0)->data,
                  .col = c->workspace,
                  .act = n->act,
                  .act_a = n->act_alpha,
                  .act_b = n->act_beta};
    if (g.depthwise) {
        tdm_parallelize_1d(c->pool, conv_depthwise_task, &j, (size_t)(g.N * g.M));
        return TDM_OK;
    }
    size_t K = (size_t)(g.Cg * g.ksz), tm, tn;
    conv_tiles(c->pool, (size_t)g.Mg, (size_t)g.out_sz, &tm, &tn);
    for (int64_t img = 0; img < g.N; img++)
        for (int64_t grp = 0; grp < g.G; grp++) {
            j.xg = j.x + (size_t)((img * g.C + grp * g.Cg) * g.in_sz);
            j.wg = j.w + (size_t)(grp * g.Mg) * K;
            j.bg = j.bias ? j.bias + grp * g.Mg : NULL;
            j.yg = j.y + (size_t)((img * g.M + grp * g.Mg) * g.out_sz);
            if (g.pointwise) {
                j.bmat = j.xg;
            } else {
                tdm_parallelize_1d(c->pool, conv_im2col_task, &j, (size_t)g.Cg);
                j.bmat = j.col;
            }
            tdm_parallelize_2d_tile(c->pool, conv_gemm_tile, &j, (size_t)g.Mg, (size_t)g.out_sz, tm, tn);
        }
    return TDM_OK;
}

/* ---- ConvTranspose ------------------------------------------------------------------------------------------- */

tdm_status conv_convtranspose_check(tdm_ctx *c, tdm_node *n) { return conv_parse(c, n, 1); }

tdm_status conv_convtranspose_shape(tdm_ctx *c, tdm_node *n) {
    conv_geom g;
    tdm_status st = conv_geometry(c, n, 1, &g);
    if (st) return st;
    int64_t dims[SP + 2] = {g.N, g.M};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.out[SP - g.nsp + i];
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, g.nsp + 2, dims);
    n->workspace = (size_t)(g.Mg * g.ksz * g.in_sz) * sizeof(float);
    n->macs = g.N * g.C * g.in_sz * g.Mg * g.ksz;
    return TDM_OK;
}

/* col (Mg*ksz x in_sz) = W_g^T * X_g, tile by tile. W_g is stored [Cg, Mg*ksz], hence trans_a. */
static void convt_gemm_tile(void *ctx, size_t i, size_t jj, size_t ti, size_t tj) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    size_t rows = (size_t)(g->Mg * g->ksz), ldx = (size_t)g->in_sz;
    tdm_sgemm(1, 0, ti, tj, (size_t)g->Cg, 1.0f, j->wg + i, rows, j->xg + jj, ldx, 0.0f, j->col + i * ldx + jj, ldx);
}

/* col2im for output channel m of the current group: Y plane = bias + scatter-add of its ksz rows of col. */
static void convt_col2im_task(void *ctx, size_t m) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    float *y = j->yg + m * (size_t)g->out_sz;
    float bias = j->bg ? j->bg[m] : 0.0f;
    for (int64_t o = 0; o < g->out_sz; o++) y[o] = bias;
    const float *row = j->col + m * (size_t)(g->ksz * g->in_sz);
    const int64_t I1 = g->in[1], I2 = g->in[2], s2 = g->s[2];
    for (int64_t t0 = 0; t0 < g->k[0]; t0++)
        for (int64_t t1 = 0; t1 < g->k[1]; t1++)
            for (int64_t t2 = 0; t2 < g->k[2]; t2++, row += g->in_sz) {
                /* input index i maps to output i * s - pb + t * d */
                int64_t off2 = t2 * g->d[2] - g->pb[2], lo, hi;
                /* valid i2: 0 <= i2*s2 + off2 < out2 */
                lo = off2 >= 0 ? 0 : (-off2 + s2 - 1) / s2;
                hi = g->out[2] - 1 - off2 >= 0 ? (g->out[2] - 1 - off2) / s2 + 1 : 0;
                if (hi > I2) hi = I2;
                if (lo > hi) lo = hi;
                for (int64_t i0 = 0; i0 < g->in[0]; i0++) {
                    int64_t o0 = i0 * g->s[0] - g->pb[0] + t0 * g->d[0];
                    if (o0 < 0 || o0 >= g->out[0]) continue;
                    for (int64_t i1 = 0; i1 < I1; i1++) {
                        int64_t o1 = i1 * g->s[1] - g->pb[1] + t1 * g->d[1];
                        if (o1 < 0 || o1 >= g->out[1]) continue;
                        const float *src = row + (i0 * I1 + i1) * I2;
                        float *d = y + (o0 * g->out[1] + o1) * g->out[2];
                        for (int64_t i2 = lo; i2 < hi; i2++) d[i2 * s2 + off2] += src[i2];
                    }
                }
            }
}

tdm_status conv_convtranspose_run(tdm_ctx *c, const tdm_node *n) {
    conv_geom g;
    tdm_status st = conv_geometry(c, n, 1, &g);
    if (st) return st;
    const tdm_value *b = tdm_in(c, n, 2);
    conv_job j = {.g = &g,
                  .x = tdm_in(c, n, 0)->data,
                  .w = tdm_in(c, n, 1)->data,
                  .bias = b ? b->data : NULL,
                  .y = tdm_out(c, n, 0)->data,
                  .col = c->workspace};
    size_t rows = (size_t)(g.Mg * g.ksz), tm, tn;
    conv_tiles(c->pool, rows, (size_t)g.in_sz, &tm, &tn);
    for (int64_t img = 0; img < g.N; img++)
        for (int64_t grp = 0; grp < g.G; grp++) {
            j.xg = j.x + (size_t)((img * g.C + grp * g.Cg) * g.in_sz);
            j.wg = j.w + (size_t)(grp * g.Cg) * rows;
            j.bg = j.bias ? j.bias + grp * g.Mg : NULL;
            j.yg = j.y + (size_t)((img * g.M + grp * g.Mg) * g.out_sz);
            tdm_parallelize_2d_tile(c->pool, convt_gemm_tile, &j, rows, (size_t)g.in_sz, tm, tn);
            tdm_parallelize_1d(c->pool, convt_col2im_task, &j, (size_t)g.Mg);
        }
    return TDM_OK;
}
