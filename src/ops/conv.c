/* conv.c - Conv and ConvTranspose, float32, 1-D/2-D/3-D: im2col (or nothing, for 1x1) + GEMM with a fused
 * bias+activation epilogue, a direct path for depthwise convolution, and GEMM + col2im for ConvTranspose. */
#include <limits.h>
#include <stdlib.h>
#include <stdatomic.h>

#include "../kernels/kernels.h"
#include "ops.h"


#define SP 3 /* spatial dims handled; 1-D and 2-D are run as 3-D with leading unit dims */
/* im2col buffers planned for Conv, so that up to this many images of a batch run at once, one per thread; bounded
 * by CONV_SLOT_BYTES of extra scratch. (shape() does not know the thread count, so it plans for a typical one.) */
#define CONV_SLOTS 4
#define CONV_SLOT_BYTES ((size_t)16 << 20)

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
    int packed;                            /* pointwise with its weights packed for the GEMM in input 3   */
    int depthwise;                         /* Conv: one input channel per group, several groups       */
    int direct;                            /* Conv: 2-D, stride 1 or 2, dilation 1: SIMD direct kernel on a padded
                                            * copy of the input, no im2col (see kernels/conv_vec.inc)    */
    int64_t hp, wp;                        /* direct: padded input height and width                   */
    int dw_cb;                             /* dw_simd on a small map: channels interleaved (kernels.h)     */
    int dw_simd;                           /* Conv: depthwise 2-D, stride 1 or 2, dilation 1: SIMD kernel
                                            * on a padded copy of each plane (kernels/dw_vec.inc)       */
    int tgemm;                             /* Conv: a small output map computed as C^T = X^T W^T (pixels x
                                            * channels) on W^T packed at load (input 3, form 2), then
                                            * transposed into place with the epilogue: no panel half empty
                                            * for 49 or 196 pixels                                          */
    int dw_blk;                            /* dw_simd with one output per channel, run on blocks of VW channels
                                            * moved to the NCHWc layout and back (kernels/nchwc_vec.inc)  */
    int winograd;                          /* Conv: 3x3 stride 1 with load-time transformed weights in
                                            * input 3 (graph.c): Winograd with this many points (16:
                                            * F(2x2,3x3), 36: F(4x4,3x3)), or 0                         */
    tdm_wino_geom wg;                      /* winograd: tile geometry of one image                    */
} conv_geom;

/* ---- attributes ---------------------------------------------------------------------------------------------- */

static tdm_status conv_parse(tdm_ctx *c, tdm_node *n, int transpose) {
    conv_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st;
    if ((st = tdm_attr_auto_pad(n, &p->auto_pad))) return st;
    if ((st = tdm_attr_ints_min(n, "kernel_shape", p->kshape, SP, &p->n_kshape, 1))) return st;
    if ((st = tdm_attr_ints_min(n, "strides", p->strides, SP, &p->n_strides, 1))) return st;
    if ((st = tdm_attr_ints_min(n, "dilations", p->dil, SP, &p->n_dil, 1))) return st;
    if ((st = tdm_attr_ints_min(n, "pads", p->pads, 2 * SP, &p->n_pads, 0))) return st;
    if ((st = tdm_attr_int(n, "group", 1, &p->group))) return st;
    if (p->group < 1) return tdm_node_error(n, TDM_INVALID_MODEL, "group = %lld, must be >= 1", (long long)p->group);
    if (p->n_pads % 2) return tdm_node_error(n, TDM_INVALID_MODEL, "pads has an odd number (%d) of entries", p->n_pads);
    if (transpose) {
        if ((st = tdm_attr_ints_min(n, "output_padding", p->out_pad, SP, &p->n_out_pad, 0))) return st;
        if ((st = tdm_attr_ints_min(n, "output_shape", p->out_shape, SP + 2, &p->n_out_shape, 1))) return st;
    }
    if (n->n_in < 2 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs X and W");
    if (n->n_in > 3) return tdm_node_error(n, TDM_INVALID_MODEL, "has %d inputs, expected 2 or 3", n->n_in);
    return TDM_OK;
}

/* ---- geometry ------------------------------------------------------------------------------------------------ */

/* Depthwise on NCHWc blocks (TDM_DW_BLOCKED=0 turns it off, for comparisons). */
static int conv_dw_blocked_on(void) {
    const char *e = getenv("TDM_DW_BLOCKED");
    return !(e && e[0] == '0');
}

/* Depthwise maps at most this wide run channel-interleaved (dw cb kernel), where rows are short enough that the plane
 * kernel's padding and part-empty vectors cost more than the cb kernel's block transposes; per ISA (dispatch.c). */
static size_t conv_dw_cb_max_wo(void) { return tdm_dw_selected()->cb_max_wo; }

/* Winograd for a 3x3 stride-1 convolution whose output map is ho x wo: the first of F(4x4,3x3) wide, F(4x4,3x3)
 * narrow, F(2x2,3x3) wide, F(2x2,3x3) narrow whose tiles fill the GEMM panels to 3/4 or better, trying the set's
 * panel width and then its narrower one (AVX-512: 32, then 16); its transform points (36 or 16) and geometry in *wg;
 * 0 where none does (maps smaller than 8x8: they run direct). The narrow transforms serve maps whose rows hold few
 * tiles (F(4x4) on 16x16, F(2x2) on 8x8). */
static int conv_wino_pick(size_t c, size_t k, size_t h, size_t w, size_t pt, size_t pl, size_t ho, size_t wo,
                          tdm_wino_geom *wg) {
    const tdm_wino_kernels *wk = tdm_wino_selected();
    const size_t rn = wk->rows_narrow ? wk->rows_narrow : 1;
    const size_t cand[4][3] = {{4, wk->vw, 1}, {4, wk->vw_narrow, rn}, {2, wk->vw, 1}, {2, wk->vw_narrow, rn}};
    const size_t nrs[2] = {wk->nr, wk->gemm_small ? wk->nr_small : 0};
    for (int i = 0; i < 4; i++)
        for (int q = 0; q < 2 && nrs[q]; q++) {
            size_t m = cand[i][0], v = cand[i][1], r = cand[i][2], nr = nrs[q]; /* tile size, tiles per vector row,
                                                                                 * rows, panel width */
            if (m > wk->max_m) continue;
            size_t ty = (ho + m - 1) / m, tx = (wo + m - 1) / m, t = (ty + r - 1) / r * r * ((tx + v - 1) / v * v);
            size_t tp = (t + nr - 1) / nr * nr;
            if (4 * ty * tx >= 3 * tp) {
                tdm_wino_geometry(wg, c, k, h, w, pt, pl, ho, wo, v, r, nr, m);
                return (int)wg->pts;
            }
        }
    return 0;
}

static int conv_wino_choose(conv_geom *g) {
    if (g->nsp != 2 || g->G != 1 || g->k[1] != 3 || g->k[2] != 3 || g->s[1] != 1 || g->s[2] != 1 || g->d[1] != 1 ||
        g->d[2] != 1)
        return 0;
    return conv_wino_pick((size_t)g->C, (size_t)g->M, (size_t)g->in[1], (size_t)g->in[2], (size_t)g->pb[1],
                          (size_t)g->pb[2], (size_t)g->out[1], (size_t)g->out[2], &g->wg);
}

/* The transposed GEMM for dense 2-D convolutions on small output maps (up to 20x20), where the GEMM's pixel panels
 * would run part empty (49 pixels in two 32-wide panels): C^T[pixels x channels] = col^T (the im2col, read by
 * columns) times W^T, channels across the vector lanes. Needs the SIMD kernels and enough work per pixel. Up to
 * 14x14 at first; Inception-v3's 17x17 layers (1x7 and 7x1 on 128-192 channels, the 3x3 stride-2 reduction) ran the
 * direct kernel, 2.2x onnxruntime's time each: at 400 pixels the model takes 0.77-0.80 of its time at 1 thread
 * (alternating runs, AVX-512 EPYC). 1024 and 4096 measured no better on ResNet-18/50, Inception-v3, SqueezeNet. */
#define CONV_TGEMM_MAX_PIXELS 400
static int conv_tgemm_choose(const conv_geom *g) {
    if (g->nsp != 2 || g->G != 1 || g->depthwise || g->d[1] != 1 || g->d[2] != 1 || !tdm_kernels()->simd) return 0;
    return g->out_sz <= CONV_TGEMM_MAX_PIXELS && g->M >= 16 && g->Cg * g->ksz >= 16 &&
           (double)(g->Cg * g->ksz + g->M + 64) * (double)g->out_sz <= 4e6;
}

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
        return tdm_node_error(n, TDM_INVALID_MODEL, "kernel_shape has %d entries for %d spatial dims", p->n_kshape,
                              nsp);
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
            return tdm_node_error(n, TDM_SHAPE_MISMATCH,
                                  "W is [%lld, %lld, ...] but X has %lld channels in %lld groups",
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
            if (p->auto_pad == TDM_AUTO_PAD_SAME_UPPER || p->auto_pad == TDM_AUTO_PAD_SAME_LOWER) {
                tdm_same_pad(in, s, dk, p->auto_pad == TDM_AUTO_PAD_SAME_UPPER, &out, &pb, &pe);
            } else {
                if (p->auto_pad == TDM_AUTO_PAD_NOTSET && p->n_pads) {
                    pb = p->pads[i];
                    pe = p->pads[i + nsp];
                }
                if (in + pb + pe < dk)
                    return tdm_node_error(n, TDM_SHAPE_MISMATCH,
                                          "spatial dim %d: input %lld (padded %lld) is smaller than the kernel "
                                          "extent %lld",
                                          i, (long long)in, (long long)(in + pb + pe), (long long)dk);
                out = (in + pb + pe - dk) / s + 1;
            }
        } else {
            int64_t opad = p->n_out_pad ? p->out_pad[i] : 0;
            int64_t full = s * (in - 1) + opad + dk; /* output length before removing any padding */
            if (p->n_out_shape || p->auto_pad == TDM_AUTO_PAD_SAME_UPPER || p->auto_pad == TDM_AUTO_PAD_SAME_LOWER) {
                out = p->n_out_shape ? p->out_shape[p->n_out_shape - nsp + i] : in * s;
                int64_t total = full - out; /* may be negative: the output then extends past the full result */
                if (p->auto_pad == TDM_AUTO_PAD_SAME_UPPER) {
                    pb = conv_floor_div(total, 2);
                    pe = total - pb;
                } else {
                    pe = conv_floor_div(total, 2);
                    pb = total - pe;
                }
            } else {
                if (p->auto_pad == TDM_AUTO_PAD_NOTSET && p->n_pads) {
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
    /* keep every later product (workspace bytes, MACs) far from int64/size_t overflow */
    double cols = (double)(transpose ? g->Mg : g->Cg) * (double)g->ksz * (double)(transpose ? g->in_sz : g->out_sz);
    if (g->in_sz > (INT64_C(1) << 40) || g->out_sz > (INT64_C(1) << 40) || g->ksz > (INT64_C(1) << 30) ||
        cols > 1e12 || (double)g->N * (double)g->M * (double)g->out_sz > 1e15)
        return tdm_node_error(n, TDM_UNSUPPORTED, "tensor sizes too large");
    if (!transpose) {
        g->pointwise = 1;
        for (int a = 0; a < SP; a++)
            if (g->k[a] != 1 || g->s[a] != 1 || g->pb[a] != 0 || g->pe[a] != 0) g->pointwise = 0;
        g->depthwise = g->Cg == 1 && g->G > 1;
        g->direct = g->nsp == 2 && !g->pointwise && !g->depthwise && g->s[1] == g->s[2] &&
                    (g->s[1] == 1 || (g->s[1] == 2 && g->ksz > 1)) && g->d[1] == 1 && g->d[2] == 1 &&
                    tdm_conv2d_direct_selected() != tdm_conv2d_direct__scalar;
        g->hp = g->in[1] + g->pb[1] + g->pe[1];
        g->wp = g->in[2] + g->pb[2] + g->pe[2];
        if (g->direct && g->s[2] == 2) g->wp += g->wp & 1; /* even: the row splits into even and odd halves */
        g->dw_simd = g->depthwise && g->nsp == 2 && g->s[1] == g->s[2] && (g->s[1] == 1 || g->s[1] == 2) &&
                     g->d[1] == 1 && g->d[2] == 1 && tdm_dw_selected()->plane != tdm_dwconv__scalar;
        /* small maps, one output channel per input channel: several channels per vector (the cb kernel) */
        g->dw_cb = g->dw_simd && g->Mg == 1 && (size_t)g->out[2] <= conv_dw_cb_max_wo();
        /* NCHWc blocks where bench/kernels.c measured them faster than the plane kernel with their two layout
         * changes included: stride 2, kernels larger than 3x3, and maps up to 28 wide (the plane kernel keeps 3x3
         * stride-1 layers on larger maps) */
        g->dw_blk = g->dw_simd && g->Mg == 1 && tdm_kernels()->cvw > 1 && conv_dw_blocked_on() &&
                    (g->s[2] == 2 || g->k[2] > 3 || g->out[2] <= 28);
        g->winograd = conv_wino_choose(g);
        const tdm_value *u = tdm_in(c, n, 3);
        if (!u || tdm_numel(u) != (int64_t)g->winograd * g->M * g->C) g->winograd = 0; /* U is not there (yet) */
        if (g->winograd) g->direct = 0;
        /* the transposed GEMM, when its form of the weights is there (input 3, [2, M, C]) */
        g->tgemm = !g->winograd && conv_tgemm_choose(g) && u && u->rank == 3 && u->dims[0] == 2 && u->data;
        if (g->tgemm) g->direct = 0;
        /* 1x1 with its weights packed at load in the GEMM's row blocks (input 3, [1, M, C]) */
        g->packed = g->pointwise && g->G == 1 && u && u->rank == 3 && u->dims[0] == 1 && tdm_numel(u) == g->M * g->C;
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
        size_t rows = (m * ntiles + want - 1) / want, mr = tdm_sgemm_mr(); /* whole row blocks of the GEMM */
        rows = (rows + mr - 1) / mr * mr;
        if (rows < 8) rows = (8 + mr - 1) / mr * mr;
        if (rows < m) *tm = rows;
    }
}

/* ---- Conv ---------------------------------------------------------------------------------------------------- */

tdm_status conv_conv_check(tdm_ctx *c, tdm_node *n) { return conv_parse(c, n, 0); }

/* Floats of one im2col buffer (one image, one group); 0 when the input is used in place or not at all. */
static size_t conv_slot_floats(const conv_geom *g) {
    if (g->pointwise || g->depthwise) return 0;
    size_t f = g->direct ? (size_t)(g->Cg * g->hp * g->wp) + TDM_CONV_SLACK : (size_t)(g->Cg * g->ksz * g->out_sz);
    return (f + 15) / 16 * 16; /* keep every slot 64-byte aligned */
}

/* How many im2col buffers to plan: one per concurrently processed image, within the CONV_SLOT_BYTES budget. */
static int conv_slots(const conv_geom *g) {
    size_t one = conv_slot_floats(g) * sizeof(float);
    if (one == 0) return 0;
    int64_t s = g->N < CONV_SLOTS ? g->N : CONV_SLOTS;
    while (s > 1 && (size_t)s * one > CONV_SLOT_BYTES) s--;
    return (int)s;
}

static size_t conv_wino_slot_floats(const conv_geom *g);

/* Scratch slots of the SIMD depthwise path: one padded plane per thread. */
static int conv_dw_slots(int threads) { return threads < 1 ? 1 : threads > 32 ? 32 : threads; }
/* Channels per call of a depthwise kernel: vw for cb; for the plane kernel a run of channels (it pads the first plane
 * and then only copies the interior of the next ones), or one plane when channels have several outputs (Mg > 1). */
static size_t conv_dw_unit(const conv_geom *g) {
    return g->dw_blk ? tdm_kernels()->cvw : g->dw_cb ? tdm_dw_selected()->vw : g->Mg == 1 ? 16 : 1;
}

static size_t conv_dw_slot_floats(const conv_geom *g) {
    size_t vw = tdm_dw_selected()->vw;
    size_t f = g->dw_cb ? (size_t)(g->hp * g->wp + g->out_sz + g->ksz) * vw
                        : (size_t)(g->hp * (g->wp + 1)) + TDM_CONV_SLACK; /* + 1: rows made even at stride 2 */
    if (g->dw_blk) { /* a block of input and of output in NCHWc, its weights and biases; or the plane path's */
        size_t cv = tdm_kernels()->cvw, fb = cv * (size_t)(g->in_sz + g->out_sz + g->ksz + 1);
        f = fb > f ? fb : f;
    }
    return (f + 15) & ~(size_t)15;
}

/* Winograd scratch slots: one per thread. */
static int conv_wino_slots(int threads) { return threads < 1 ? 1 : threads; }

/* The transposed GEMM's scratch: the im2col of one image (none for a 1x1 stride-1 unpadded convolution: the input is
 * read in place) and C^T, pixels x channels rounded up to the GEMM's panels. */
static size_t conv_tgemm_ldct(const conv_geom *g) {
    size_t nr = tdm_kernels()->nr;
    return ((size_t)g->M + nr - 1) / nr * nr;
}
static size_t conv_tgemm_col_floats(const conv_geom *g) {
    return g->pointwise ? 0 : TDM_PAD((size_t)(g->Cg * g->ksz * g->out_sz), 16);
}
static size_t conv_tgemm_floats(const conv_geom *g) {
    return conv_tgemm_col_floats(g) + (size_t)g->out_sz * conv_tgemm_ldct(g);
}

tdm_status conv_conv_shape(tdm_ctx *c, tdm_node *n) {
    conv_geom g;
    tdm_status st = conv_geometry(c, n, 0, &g);
    if (st) return st;
    int64_t dims[SP + 2] = {g.N, g.M};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.out[SP - g.nsp + i];
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, g.nsp + 2, dims);
    size_t slots = (size_t)conv_slots(&g), threads = (size_t)tdm_pool_threads(c->pool);
    if (g.direct && slots < threads) slots = threads; /* one image split over the threads: a padded copy each */
    n->workspace = slots * conv_slot_floats(&g) * sizeof(float);
    if (g.dw_simd)
        n->workspace = (size_t)conv_dw_slots(tdm_pool_threads(c->pool)) * conv_dw_slot_floats(&g) * sizeof(float);
    if (g.winograd)
        n->workspace = (size_t)conv_wino_slots(tdm_pool_threads(c->pool)) * conv_wino_slot_floats(&g) * sizeof(float);
    if (g.tgemm) n->workspace = conv_tgemm_floats(&g) * sizeof(float);
    n->macs = g.N * g.M * g.out_sz * g.Cg * g.ksz;
    return TDM_OK;
}

typedef struct conv_job {
    const conv_geom *g;
    const float *x, *w, *bias;
    float *y, *col;
    int act;
    float act_a, act_b;
    const float *res;      /* fused residual Add: a tensor shaped like y added before the activation, or NULL */
    /* the (image, group) being computed */
    const float *xg, *wg, *bg, *bmat, *resg;
    float *yg;
    tdm_conv2d_direct_args da; /* direct path: the arguments for the current (image, group) */
    const float *u;            /* winograd: transformed weights [P][M][C], P = 16 or 36                    */
    float *planes;             /* winograd: the slots (padded copy, V and M) in the workspace              */
    /* image-parallel mode: which of the im2col slots (of slot_floats each) are in use */
    atomic_uint *busy;
    int nslots;
    size_t slot_floats;
    size_t per_task;           /* depthwise: planes per task                                              */
    size_t tn;                 /* column parts: the output columns (pixels) of one part                  */
    int fused;                 /* column parts: each builds its own im2col columns first                 */
} conv_job;


/* im2col of input channels [ci0, ci1) of the current group, restricted to output columns [c0, c1): fills those
 * columns of rows ci*ksz .. (ci+1)*ksz-1 of the K x out_sz matrix. The row order (channel, k0, k1, k2) matches the
 * flattened ONNX weight layout [M, C/group, k0, k1, k2]; padding taps become zeros. */
static void conv_im2col(const conv_geom *g, const float *xg, float *col, size_t ci0, size_t ci1, int64_t c0,
                        int64_t c1) {
    const int64_t O1 = g->out[1], O2 = g->out[2], s2 = g->s[2];
    const int64_t r_first = c0 / O2, r_last = (c1 - 1) / O2; /* output rows (o0, o1 flattened) touched */
    for (size_t ci = ci0; ci < ci1; ci++) {
        const float *xc = xg + ci * (size_t)g->in_sz;
        float *dst = col + ci * (size_t)(g->ksz * g->out_sz);
        for (int64_t t0 = 0; t0 < g->k[0]; t0++)
            for (int64_t t1 = 0; t1 < g->k[1]; t1++)
                for (int64_t t2 = 0; t2 < g->k[2]; t2++, dst += g->out_sz) {
                    int64_t off2 = t2 * g->d[2] - g->pb[2], lo, hi;
                    tdm_valid_range(off2, s2, O2, g->in[2], &lo, &hi);
                    for (int64_t r = r_first; r <= r_last; r++) {
                        int64_t o0 = r / O1, o1 = r % O1, base = r * O2;
                        int64_t a = c0 > base ? c0 - base : 0, b = c1 < base + O2 ? c1 - base : O2;
                        float *d = dst + base;
                        int64_t i0 = o0 * g->s[0] - g->pb[0] + t0 * g->d[0];
                        int64_t i1 = o1 * g->s[1] - g->pb[1] + t1 * g->d[1];
                        if (i0 < 0 || i0 >= g->in[0] || i1 < 0 || i1 >= g->in[1]) {
                            memset(d + a, 0, (size_t)(b - a) * sizeof(float));
                            continue;
                        }
                        const float *src = xc + (i0 * g->in[1] + i1) * g->in[2];
                        /* zeros on [a, l), input on [l, h), zeros on [h, b) */
                        int64_t l = lo > a ? lo : a, h;
                        if (l > b) l = b;
                        h = hi > l ? hi : l;
                        if (h > b) h = b;
                        for (int64_t o = a; o < l; o++) d[o] = 0.0f;
                        if (s2 == 1 && h > l)
                            memcpy(d + l, src + l + off2, (size_t)(h - l) * sizeof(float));
                        else
                            for (int64_t o = l; o < h; o++) d[o] = src[o * s2 + off2];
                        for (int64_t o = h; o < b; o++) d[o] = 0.0f;
                    }
                }
    }
}

static void conv_im2col_task(void *ctx, size_t ci) {
    const conv_job *j = ctx;
    conv_im2col(j->g, j->xg, j->col, ci, ci + 1, 0, j->g->out_sz);
}

/* d[i] += s[i] (the fused residual Add), in blocks of 8 so that it vectorises at -O2. */
static void conv_add_row(float *restrict d, const float *restrict s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int q = 0; q < 8; q++) d[i + q] += s[i + q];
    for (; i < n; i++) d[i] += s[i];
}

/* One tile of Y_g = W_g * B, with bias, residual and activation fused into the GEMM's stores. */
static void conv_gemm_tile(void *ctx, size_t i, size_t jj, size_t ti, size_t tj) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    size_t K = (size_t)(g->Cg * g->ksz), ldo = (size_t)g->out_sz;
    tdm_gemm_ep ep = {.bias = j->bg ? j->bg + i : NULL, .res = j->resg ? j->resg + i * ldo + jj : NULL, .ldr = ldo,
                      .act = j->act, .alpha = j->act_a, .beta = j->act_b};
    if (g->packed) /* one group (G == 1), rows i.. a whole number of row blocks (conv_tiles) */
        tdm_sgemm_ep_pa(i, ti, tj, K, j->u, j->bmat + jj, ldo, j->yg + i * ldo + jj, ldo, &ep);
    else
        tdm_sgemm_ep(ti, tj, K, j->wg + i * K, K, j->bmat + jj, ldo, j->yg + i * ldo + jj, ldo, &ep);
}

/* A full-height column tile that builds its own slice of the im2col matrix first: one parallel call per
 * (image, group) instead of two, and the slice is still in cache for the GEMM. */
static void conv_fused_tile(void *ctx, size_t i, size_t jj, size_t ti, size_t tj) {
    const conv_job *j = ctx;
    conv_im2col(j->g, j->xg, j->col, 0, (size_t)j->g->Cg, (int64_t)jj, (int64_t)(jj + tj));
    conv_gemm_tile(ctx, i, jj, ti, tj);
}

/* Part `part` of the output columns (pixels) with every output channel: parts are runs of tn pixels in order, so
 * with tdm_parallelize_parts each thread keeps the same rows of the image from one layer to the next (the
 * activations it wrote stay in its own cache), which dynamic tile claiming did not. */
static void conv_cols_part(void *ctx, size_t part, size_t parts, size_t slot) {
    const conv_job *j = ctx;
    size_t n = (size_t)j->g->out_sz, c0 = parts == 1 ? 0 : part * j->tn, c1 = parts == 1 ? n : c0 + j->tn;
    (void)slot;
    if (c1 > n) c1 = n;
    if (c0 >= c1) return;
    (j->fused ? conv_fused_tile : conv_gemm_tile)(ctx, 0, c0, (size_t)j->g->Mg, c1 - c0);
}

/* d[i] += w * s[i], in blocks of 8 with a fixed trip count so that it vectorises at -O2. */
static void conv_axpy(float *restrict d, const float *restrict s, float w, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int q = 0; q < 8; q++) d[i + q] += w * s[i + q];
    for (; i < n; i++) d[i] += w * s[i];
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
                tdm_valid_range(off2, s2, O2, g->in[2], &lo, &hi);
                for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
                    int64_t i0 = o0 * g->s[0] - g->pb[0] + t0 * g->d[0];
                    if (i0 < 0 || i0 >= g->in[0]) continue;
                    for (int64_t o1 = 0; o1 < O1; o1++) {
                        int64_t i1 = o1 * g->s[1] - g->pb[1] + t1 * g->d[1];
                        if (i1 < 0 || i1 >= g->in[1]) continue;
                        const float *src = xc + (i0 * g->in[1] + i1) * g->in[2];
                        float *d = y + (o0 * O1 + o1) * O2;
                        if (s2 == 1)
                            conv_axpy(d + lo, src + lo + off2, wv, (size_t)(hi - lo));
                        else
                            for (int64_t o = lo; o < hi; o++) d[o] += wv * src[o * s2 + off2];
                    }
                }
            }
    if (j->res) conv_add_row(y, j->res + plane * (size_t)g->out_sz, (size_t)g->out_sz);
    tdm_act(y, (size_t)g->out_sz, j->act, j->act_a, j->act_b);
}

/* Copy rows [r0, r1) of the padded version of one plane src (h x w) into d (hp x wp), the padding as zeros; for the
 * stride-2 direct kernel, each row as its even columns and then its odd columns (kernels.h). */
static void conv_pad_plane(const conv_geom *g, const float *src, float *d, size_t r0, size_t r1) {
    size_t wp = (size_t)g->wp, top = (size_t)g->pb[1], left = (size_t)g->pb[2];
    size_t h = (size_t)g->in[1], w = (size_t)g->in[2], half = wp / 2;
    /* one memset for the rows (contiguous and short: a call per pad cost more than the zeros), then the image rows */
    if (r0 < r1) memset(d + r0 * wp, 0, (r1 - r0) * wp * sizeof(float));
    size_t i0 = r0 > top ? r0 : top, i1 = r1 < top + h ? r1 : top + h;
    for (size_t r = i0; r < i1; r++) {
        float *dr = d + r * wp;
        const float *sr = src + (r - top) * w;
        if (g->s[2] == 2) { /* padded column col goes to (col & 1) * half + col / 2; two branch-free strided loops */
            const float *s0 = sr - left; /* s0[col] for col in [left, left + w) */
            for (size_t col = left + (left & 1); col < left + w; col += 2) dr[col / 2] = s0[col];
            for (size_t col = left + !(left & 1); col < left + w; col += 2) dr[half + col / 2] = s0[col];
            continue;
        }
        memcpy(dr + left, sr, w * sizeof(float));
    }
}

/* Direct path: copy padded rows [r0, r1) of one group's input channels into xp. */
static void conv_direct_pad_rows(const conv_job *j, float *xp, size_t r0, size_t r1) {
    const conv_geom *g = j->g;
    size_t hp = (size_t)g->hp, plane = hp * (size_t)g->wp, in_sz = (size_t)(g->in[1] * g->in[2]);
    for (size_t ch = 0; ch < (size_t)g->Cg; ch++) conv_pad_plane(g, j->xg + ch * in_sz, xp + ch * plane, r0, r1);
    if (r1 == hp) memset(xp + (size_t)g->Cg * plane, 0, TDM_CONV_SLACK * sizeof(float));
}

/* Point the job at (image, group): its input channels, weights, bias, output and residual planes. Winograd runs with
 * one group, where this is the whole image. */
static void conv_job_at(conv_job *j, size_t img, size_t grp) {
    const conv_geom *g = j->g;
    size_t K = (size_t)(g->Cg * g->ksz);
    j->xg = j->x + (img * (size_t)g->C + grp * (size_t)g->Cg) * (size_t)g->in_sz;
    j->wg = j->w + grp * (size_t)g->Mg * K;
    j->bg = j->bias ? j->bias + grp * (size_t)g->Mg : NULL;
    j->yg = j->y + (img * (size_t)g->M + grp * (size_t)g->Mg) * (size_t)g->out_sz;
    j->resg = j->res ? j->res + (j->yg - j->y) : NULL;
}

static int conv_slot_claim(atomic_uint *busy, int nslots);

/* Depthwise with the SIMD kernels: units [blk * per_task, ...) of one image's planes (plane = image * M + m, from input
 * channel m / Mg), a unit being one plane, or vw planes for the cb kernel, padded in a scratch slot of this task's
 * own. Blocks of units rather than single planes keep the per-task costs (slot claim, pool hand-out) off the small
 * maps, where a plane is a few hundred MACs. */
/* Depthwise channels [m0, m0 + nch) of one image (nch <= VW) on the NCHWc kernel: the planes interleaved into one
 * block, the weights and biases packed, the block computed (taps as vector loads, borders skipped, no padded copy),
 * and the planes taken apart again. A fused residual goes through the plane path instead. */
static void conv_dw_block(const conv_job *j, float *scratch, size_t img, size_t m0, size_t nch) {
    const conv_geom *g = j->g;
    const tdm_kernel_set *k = tdm_kernels();
    const size_t cv = k->cvw, in = (size_t)g->in_sz, out = (size_t)g->out_sz, kk = (size_t)g->ksz;
    float *xb = scratch, *yb = xb + cv * in, *wb = yb + cv * out, *bb = wb + cv * kk;
    k->to_blocked(j->x + (img * (size_t)g->C + m0) * in, xb, nch, in);
    k->cconv_pack(j->w + m0 * kk, wb, nch, 1, kk);
    for (size_t c = 0; c < cv; c++) bb[c] = j->bias && c < nch ? j->bias[m0 + c] : 0.0f;
    tdm_cconv_args a = {.x = xb, .C = cv, .H = (size_t)g->in[1], .W = (size_t)g->in[2], .xbin = cv, .w = wb, .bias = bb,
                        .y = yb, .M = cv, .KH = (size_t)g->k[1], .KW = (size_t)g->k[2], .sh = (size_t)g->s[1],
                        .sw = (size_t)g->s[2], .pt = (size_t)g->pb[1], .pl = (size_t)g->pb[2],
                        .Ho = (size_t)g->out[1], .Wo = (size_t)g->out[2], .act = j->act, .alpha = j->act_a,
                        .beta = j->act_b};
    k->cdw(&a, 0, 1, 0, a.Ho);
    k->from_blocked(yb, j->y + (img * (size_t)g->M + m0) * out, nch, out);
}

static void conv_dw_simd_task(void *ctx, size_t blk) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    const tdm_dw_kernels *k = tdm_dw_selected();
    size_t M = (size_t)g->M, bc = conv_dw_unit(g), per_img = (M + bc - 1) / bc, total = (size_t)g->N * per_img;
    size_t u0 = blk * j->per_task, u1 = u0 + j->per_task < total ? u0 + j->per_task : total;
    int slot = conv_slot_claim(j->busy, j->nslots);
    tdm_dwconv_args a = {.scratch = j->col + (size_t)slot * j->slot_floats,
                         .h = (size_t)g->in[1], .w = (size_t)g->in[2], .pt = (size_t)g->pb[1], .pl = (size_t)g->pb[2],
                         .hp = (size_t)g->hp, .wp = (size_t)g->wp, .kh = (size_t)g->k[1], .kw = (size_t)g->k[2],
                         .stride = (size_t)g->s[1], .ho = (size_t)g->out[1], .wo = (size_t)g->out[2],
                         .alpha = j->act_a, .beta = j->act_b, .act = j->act};
    for (size_t u = u0; u < u1; u++) {
        size_t img = u / per_img, m0 = (u % per_img) * bc, nch = M - m0 < bc ? M - m0 : bc;
        if (g->dw_blk && !j->res) {
            conv_dw_block(j, a.scratch, img, m0, nch);
            continue;
        }
        a.x = j->x + (img * (size_t)g->C + m0 / (size_t)g->Mg) * (size_t)g->in_sz;
        a.wt = j->w + m0 * (size_t)g->ksz;
        a.bias = j->bias ? j->bias + m0 : NULL;
        a.y = j->y + (img * M + m0) * (size_t)g->out_sz;
        a.res = j->res ? j->res + (img * M + m0) * (size_t)g->out_sz : NULL;
        a.nch = nch;
        (g->dw_cb ? k->cb : k->plane)(&a);
    }
    atomic_fetch_and_explicit(j->busy, ~(1u << slot), memory_order_release);
}

/* Fill the kernel arguments for the current (image, group), the padded input in xp. */
static void conv_direct_args(conv_job *j, float *xp) {
    const conv_geom *g = j->g;
    tdm_conv2d_direct_args a = {xp, (size_t)g->Cg, (size_t)g->hp, (size_t)g->wp, (size_t)g->k[1], (size_t)g->k[2],
                                (size_t)g->out[1], (size_t)g->out[2], j->wg, j->bg, j->resg, j->yg, j->act, j->act_a,
                                j->act_b, (size_t)g->s[2]};
    j->da = a;
}

static void conv_direct_prepare(conv_job *j, float *xp) {
    conv_direct_pad_rows(j, xp, 0, (size_t)j->g->hp);
    conv_direct_args(j, xp);
}

/* One image and group on `parts` threads, one call per part: the part pads the input rows that its output rows read
 * into its own slot (no barrier between padding and computing), then computes those rows. */
static void conv_direct_part_task(void *ctx, size_t part, size_t parts, size_t slot) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    size_t ho = (size_t)g->out[1], h0 = ho * part / parts, h1 = ho * (part + 1) / parts;
    if (h0 >= h1) return;
    size_t s = (size_t)g->s[1], hp = (size_t)g->hp, r1 = (h1 - 1) * s + (size_t)g->k[1];
    tdm_conv2d_direct_args a = j->da;
    float *xp = j->col + slot * j->slot_floats;
    a.xp = xp;
    conv_direct_pad_rows(j, xp, h0 * s, r1 < hp ? r1 : hp);
    if (r1 < hp) memset(xp + (size_t)g->Cg * hp * (size_t)g->wp, 0, TDM_CONV_SLACK * sizeof(float));
    tdm_conv2d_direct_selected()(&a, 0, (size_t)g->Mg, h0, h1);
}

static void conv_direct_tile(void *ctx, size_t m0, size_t h0, size_t tm, size_t th) {
    const conv_job *j = ctx;
    tdm_conv2d_direct_selected()(&j->da, m0, m0 + tm, h0, h0 + th);
}


/* Tiles per chunk: whole GEMM panels, as many as keep one chunk's V and M within WINO_CHUNK_BYTES (at least one
 * panel), so that the input transform, the 16 GEMMs and the output transform of a chunk run in cache. */
#define WINO_CHUNK_BYTES ((size_t)96 << 10)
static size_t conv_wino_chunk(const tdm_wino_geom *w) {
    size_t panel = (tdm_wino_v_floats(w, w->nr) + tdm_wino_m_floats(w, w->nr)) * sizeof(float);
    size_t panels = WINO_CHUNK_BYTES / panel;
    if (panels < 1) panels = 1;
    return panels * w->nr < w->tp ? panels * w->nr : w->tp;
}

/* Floats of one chunk's V and M, and of one padded copy of an image's input, rounded to keep buffers 64-byte
 * aligned. A slot (one per thread) is a padded copy followed by a chunk buffer. */
static size_t conv_wino_chunk_floats(const tdm_wino_geom *w) {
    size_t t = conv_wino_chunk(w);
    return (tdm_wino_v_floats(w, t) + tdm_wino_m_floats(w, t) + 15) & ~(size_t)15;
}
static size_t conv_wino_x_floats(const conv_geom *g) { return (tdm_wino_x_floats(&g->wg) + 15) & ~(size_t)15; }
static size_t conv_wino_slot_floats(const conv_geom *g) { return conv_wino_x_floats(g) + conv_wino_chunk_floats(&g->wg); }

/* Tiles [t0, t1) and output channels [k0, k1) of the current image, chunk by chunk in this slot's V and M: the input
 * transform (of every input channel), the 16 GEMMs for those output channels and the output transform. */
static void conv_wino_run(const conv_job *j, const float *planes, float *V, size_t t0, size_t t1, size_t k0,
                          size_t k1) {
    const tdm_wino_geom *w = &j->g->wg;
    const tdm_wino_kernels *k = tdm_wino_selected();
    const tdm_wino_input_fn input = w->vw == k->vw ? k->input : k->input_narrow;
    const tdm_wino_output_fn output = w->vw == k->vw ? k->output : k->output_narrow;
    const tdm_sgemm_packed_fn gemm = w->nr == k->nr ? k->gemm : k->gemm_small;
    tdm_wino_geom wk = *w; /* the output transform sees only channels [k0, k1) */
    wk.k = k1 - k0;
    size_t chunk = conv_wino_chunk(w), plane = w->ho * w->wo, K = w->k, C = w->c;
    float *M = V + tdm_wino_v_floats(w, chunk);
    for (size_t c0 = t0; c0 < t1; c0 += chunk) {
        size_t c1 = c0 + chunk < t1 ? c0 + chunk : t1, span = (c1 - c0 + w->nr - 1) / w->nr * w->nr;
        size_t vs = tdm_wino_v_stride(w, c1 - c0), ms = tdm_wino_m_stride(&wk, c1 - c0);
        input(w, planes, V, c0, c1);
        for (size_t xi = 0; xi < w->pts; xi++)
            gemm(wk.k, c1 - c0, C, j->u + (xi * K + k0) * C, C, V + xi * vs, M + xi * ms, span);
        output(&wk, M, j->bias ? j->bias + k0 : NULL, j->resg ? j->resg + k0 * plane : NULL, j->yg + k0 * plane,
               j->act, j->act_a, j->act_b, c0, c1);
    }
}

/* The tile rows of one unit of work (a whole number of panels, and of the vectors' tile rows), and the units of a map. */
static size_t conv_wino_units(const tdm_wino_geom *w, size_t *unit_out) {
    size_t a = w->txp, bq = w->nr;
    while (bq) { /* gcd(txp, nr) */
        size_t t = a % bq;
        a = bq;
        bq = t;
    }
    size_t unit = w->nr / a;
    if (unit % w->rows) unit *= w->rows;
    *unit_out = unit;
    return (w->ty + unit - 1) / unit;
}

/* Parts per pool thread where a layer has work enough (tdm_parallelize_parts; Winograd, direct and transposed-GEMM
 * layers of one image): a worker that the system deschedules then holds up a quarter of its share, not all of it,
 * while the other thread takes the rest. The cost: a few rows of input padded or transformed again per part. */
#define CONV_PARTS_PER_THREAD 4
/* The parts of a layer whose work splits into `units` (tile-row units, output rows, pixel ranges): one per thread at
 * least (fewer units than threads: the op splits otherwise), CONV_PARTS_PER_THREAD per thread at most. */
static size_t conv_parts(tdm_pool *pool, size_t units) {
    size_t t = (size_t)tdm_pool_threads(pool);
    return units < t ? t : units < t * CONV_PARTS_PER_THREAD ? units : t * CONV_PARTS_PER_THREAD;
}

/* One image in `parts` parts with no barrier in between: each part pads the input rows it needs into its thread's
 * slot and runs its tiles (split by tile rows, at whole units), or, on maps with fewer units than parts (8x8: one
 * panel), transforms every tile and runs its share of the output channels. */
static void conv_wino_part_task(void *ctx, size_t part, size_t parts, size_t slot) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    const tdm_wino_geom *w = &g->wg;
    float *planes = j->planes + slot * conv_wino_slot_floats(g), *V = planes + conv_wino_x_floats(g);
    size_t unit, units = conv_wino_units(w, &unit);
    if (units >= parts) {
        size_t u0 = units * part / parts, u1 = units * (part + 1) / parts;
        size_t b = u0 * unit < w->ty ? u0 * unit : w->ty, e = part + 1 == parts || u1 * unit > w->ty ? w->ty : u1 * unit;
        if (b >= e) return;
        /* tile row ty reads the padded rows m*ty .. m*ty + m + 1 */
        size_t r1 = part + 1 == parts || w->m * e + 2 > w->hq ? w->hq : w->m * e + 2;
        tdm_wino_pack_rows(w, j->xg, planes, 0, w->c, w->m * b, r1);
        conv_wino_run(j, planes, V, b * w->txp, part + 1 == parts ? w->tp : e * w->txp, 0, w->k);
        return;
    }
    size_t k0 = w->k * part / parts, k1 = w->k * (part + 1) / parts;
    if (k0 >= k1) return;
    tdm_wino_pack_rows(w, j->xg, planes, 0, w->c, 0, w->hq);
    conv_wino_run(j, planes, V, 0, w->tp, k0, k1);
}

/* Batches with at least one image per thread: each task runs whole images, serially, in its own slot. */
static void conv_wino_image_task(void *ctx, size_t img) {
    const conv_job *shared = ctx;
    const conv_geom *g = shared->g;
    conv_job j = *shared;
    int slot = conv_slot_claim(shared->busy, shared->nslots);
    float *planes = shared->planes + (size_t)slot * conv_wino_slot_floats(g);
    conv_job_at(&j, img, 0);
    tdm_wino_pack_rows(&g->wg, j.xg, planes, 0, g->wg.c, 0, g->wg.hq);
    conv_wino_run(&j, planes, planes + conv_wino_x_floats(g), 0, g->wg.tp, 0, g->wg.k);
    atomic_fetch_and_explicit(shared->busy, ~(1u << slot), memory_order_release);
}

/* The transposed GEMM of one image (conv_tgemm_choose): part i takes pixels [p0, p1), builds their im2col columns
 * (a 1x1 stride-1 unpadded convolution reads its input in place) and computes their rows of C^T = col^T W^T; then, after
 * the pool's barrier, part i moves channels [j0, j1) of C^T into the output with the epilogue. */
static void conv_tgemm_part(void *ctx, size_t part, size_t parts, size_t slot) {
    (void)slot;
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    const size_t n = (size_t)g->out_sz, p0 = n * part / parts, p1 = n * (part + 1) / parts;
    if (p0 == p1) return;
    float *col = j->col, *ct = col + conv_tgemm_col_floats(g);
    const float *a = j->xg;
    if (!g->pointwise) {
        conv_im2col(g, j->xg, col, 0, (size_t)g->Cg, (int64_t)p0, (int64_t)p1);
        a = col;
    }
    size_t ldct = conv_tgemm_ldct(g);
    tdm_kernels()->sgemm_pb(p1 - p0, (size_t)g->M, (size_t)(g->Cg * g->ksz), a + p0, 1, n, j->u, ct + p0 * ldct, ldct,
                            NULL);
}

/* The transposed GEMM by output channels, for layers whose weights outweigh their pixels (ResNet's 7x7 and 14x14
 * stages: 49 pixels against 2.4 MB of weights in layer4's 3x3): part i computes C^T's columns for its run of whole
 * panels of W^T, every pixel, and moves those channels into place with the epilogue. Split by pixel ranges, every
 * thread streamed all the weights for a few rows of C^T and two threads ran little faster than one. The im2col of
 * the image comes first, in a call of its own. */
static void conv_tgemm_cols_part(void *ctx, size_t part, size_t parts, size_t slot) {
    (void)slot;
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    const tdm_kernel_set *ks = tdm_kernels();
    const size_t n = (size_t)g->out_sz, M = (size_t)g->M, panels = (M + ks->nr - 1) / ks->nr;
    size_t j0 = panels * part / parts * ks->nr, j1 = panels * (part + 1) / parts * ks->nr;
    if (j1 > M) j1 = M;
    if (j0 >= j1) return;
    float *ct = j->col + conv_tgemm_col_floats(g);
    const float *a = g->pointwise ? j->xg : j->col;
    size_t ldct = conv_tgemm_ldct(g);
    ks->sgemm_pb_cols(n, M, (size_t)(g->Cg * g->ksz), j0, j1, a, 1, n, j->u, ct, ldct, NULL);
    ks->tstore(ct, ldct, n, j0, j1, j->yg, n, j->bias, j->resg, j->act, j->act_a, j->act_b);
}

/* Column parts for the transposed GEMM on this pool, or 0 to split by pixels: with two threads or more, at least as
 * many output channels as pixels, weights beyond L2's share (512 KiB) and two panels per thread. */
static size_t conv_tgemm_col_parts(tdm_pool *pool, const conv_geom *g) {
    const tdm_kernel_set *ks = tdm_kernels();
    size_t t = (size_t)tdm_pool_threads(pool), panels = ((size_t)g->M + ks->nr - 1) / ks->nr;
    double wbytes = (double)g->Cg * (double)g->ksz * (double)g->M * sizeof(float);
    if (t < 2 || g->M < g->out_sz || panels < 2 * t || wbytes <= (double)(512 << 10)) return 0;
    return panels < 4 * t ? panels : 4 * t;
}

static void conv_tgemm_store(void *ctx, size_t part, size_t parts) {
    const conv_job *j = ctx;
    const conv_geom *g = j->g;
    const size_t vw = tdm_kernels()->cvw, blocks = ((size_t)g->M + vw - 1) / vw;
    size_t j0 = blocks * part / parts * vw, j1 = blocks * (part + 1) / parts * vw;
    if (j1 > (size_t)g->M) j1 = (size_t)g->M;
    if (j0 >= j1) return;
    const float *ct = j->col + conv_tgemm_col_floats(g);
    tdm_kernels()->tstore(ct, conv_tgemm_ldct(g), (size_t)g->out_sz, j0, j1, j->yg, (size_t)g->out_sz, j->bias,
                          j->resg, j->act, j->act_a, j->act_b);
}

/* Claims a free im2col slot. At most one task per pool thread runs at a time and there are at least as many slots as
 * threads, so a free slot always exists; the loop only retries lost races. */
static int conv_slot_claim(atomic_uint *busy, int nslots) {
    for (;;) {
        unsigned cur = atomic_load_explicit(busy, memory_order_relaxed);
        for (int s = 0; s < nslots; s++)
            if (!(cur & (1u << s)) &&
                atomic_compare_exchange_weak_explicit(busy, &cur, cur | (1u << s), memory_order_acquire,
                                                      memory_order_relaxed))
                return s;
    }
}

/* One whole image (all groups), serially, in its own im2col slot: the batch is spread over threads with a single
 * pool call per layer instead of one or two per image. */
static void conv_image_task(void *ctx, size_t img) {
    const conv_job *shared = ctx;
    const conv_geom *g = shared->g;
    conv_job j = *shared;
    int slot = g->pointwise ? -1 : conv_slot_claim(shared->busy, shared->nslots);
    if (slot >= 0) j.col = shared->col + (size_t)slot * shared->slot_floats;
    for (int64_t grp = 0; grp < g->G; grp++) {
        conv_job_at(&j, img, (size_t)grp);
        if (g->direct) {
            conv_direct_prepare(&j, j.col);
            conv_direct_tile(&j, 0, 0, (size_t)g->Mg, (size_t)g->out[1]);
            continue;
        }
        if (g->pointwise) {
            j.bmat = j.xg;
        } else {
            conv_im2col(g, j.xg, j.col, 0, (size_t)g->Cg, 0, g->out_sz);
            j.bmat = j.col;
        }
        conv_gemm_tile(&j, 0, 0, (size_t)g->Mg, (size_t)g->out_sz);
    }
    if (slot >= 0) atomic_fetch_and_explicit(shared->busy, ~(1u << slot), memory_order_release);
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
                  .y = n->fused_out >= 0 ? c->values[n->fused_out].data : tdm_out(c, n, 0)->data,
                  .res = n->residual >= 0 ? c->values[n->residual].data : NULL,
                  .col = c->workspace,
                  .act = n->act,
                  .act_a = n->act_alpha,
                  .act_b = n->act_beta};
    if (g.dw_simd) {
        atomic_uint busy;
        atomic_init(&busy, 0u);
        j.busy = &busy;
        j.nslots = conv_dw_slots(tdm_pool_threads(c->pool));
        j.slot_floats = conv_dw_slot_floats(&g);
        size_t bc = conv_dw_unit(&g), threads = (size_t)tdm_pool_threads(c->pool);
        size_t total = (size_t)g.N * (((size_t)g.M + bc - 1) / bc);
        j.per_task = threads > 1 ? (total + 8 * threads - 1) / (8 * threads) : total;
        tdm_parallelize_1d(c->pool, conv_dw_simd_task, &j, (total + j.per_task - 1) / j.per_task);
        return TDM_OK;
    }
    if (g.depthwise) {
        tdm_parallelize_1d(c->pool, conv_depthwise_task, &j, (size_t)(g.N * g.M));
        return TDM_OK;
    }
    if (g.tgemm) {
        j.u = tdm_in(c, n, 3)->data;
        size_t cparts = conv_tgemm_col_parts(c->pool, &g);
        if (cparts) {
            for (size_t img = 0; img < (size_t)g.N; img++) {
                conv_job_at(&j, img, 0);
                if (!g.pointwise) tdm_parallelize_1d(c->pool, conv_im2col_task, &j, (size_t)g.Cg);
                tdm_parallelize_parts(c->pool, conv_tgemm_cols_part, &j, cparts);
            }
            return TDM_OK;
        }
        size_t parts = conv_parts(c->pool, (size_t)g.out_sz / (2 * tdm_kernels()->mr)); /* two row blocks at least */
        for (size_t img = 0; img < (size_t)g.N; img++) {
            conv_job_at(&j, img, 0);
            tdm_parallelize_parts(c->pool, conv_tgemm_part, &j, parts); /* im2col and GEMM by pixel ranges */
            tdm_parallelize_static(c->pool, conv_tgemm_store, &j);  /* transposed into place by channel ranges */
        }
        return TDM_OK;
    }
    if (g.winograd) {
        int threads = conv_wino_slots(tdm_pool_threads(c->pool));
        j.u = tdm_in(c, n, 3)->data;
        j.planes = c->workspace;
        if (threads > 1 && g.N >= threads && threads <= 32) { /* whole images per thread (a 32-slot bitmask) */
            atomic_uint busy;
            atomic_init(&busy, 0u);
            j.busy = &busy;
            j.nslots = threads;
            tdm_parallelize_1d(c->pool, conv_wino_image_task, &j, (size_t)g.N);
            return TDM_OK;
        }
        size_t unit, parts = conv_parts(c->pool, conv_wino_units(&g.wg, &unit));
        for (int64_t img = 0; img < g.N; img++) { /* one image at a time, split over the threads */
            conv_job_at(&j, (size_t)img, 0);
            tdm_parallelize_parts(c->pool, conv_wino_part_task, &j, parts);
        }
        return TDM_OK;
    }
    if (g.packed) j.u = tdm_in(c, n, 3)->data;
    size_t tm, tn, threads = (size_t)tdm_pool_threads(c->pool);
    int nslots = conv_slots(&g);
    if (threads > 1 && (size_t)g.N >= threads && (g.pointwise || (size_t)nslots >= threads)) {
        atomic_uint busy;
        atomic_init(&busy, 0u);
        j.busy = &busy;
        j.nslots = nslots;
        j.slot_floats = conv_slot_floats(&g);
        tdm_parallelize_1d(c->pool, conv_image_task, &j, (size_t)g.N);
        return TDM_OK;
    }
    if (g.direct) { /* one image at a time, split by output rows over the threads, each with its own padded copy */
        j.slot_floats = conv_slot_floats(&g);
        size_t parts = conv_parts(c->pool, (size_t)g.out[1] / 2); /* two output rows at least: a part pads again */
        for (int64_t img = 0; img < g.N; img++)
            for (int64_t grp = 0; grp < g.G; grp++) {
                conv_job_at(&j, (size_t)img, (size_t)grp);
                conv_direct_args(&j, j.col);
                tdm_parallelize_parts(c->pool, conv_direct_part_task, &j, parts);
            }
        return TDM_OK;
    }
    conv_tiles(c->pool, (size_t)g.Mg, (size_t)g.out_sz, &tm, &tn);
    /* Column tiles that each do their own im2col, when there are enough of them to share out; otherwise im2col by
     * channel, then a GEMM tiled over rows and columns. */
    size_t ntn = ((size_t)g.out_sz + tn - 1) / tn;
    int by_cols = threads > 1 && tm == (size_t)g.Mg && ntn >= threads && ntn <= 64;
    j.fused = !g.pointwise && by_cols;
    j.tn = tn;
    for (int64_t img = 0; img < g.N; img++)
        for (int64_t grp = 0; grp < g.G; grp++) {
            conv_job_at(&j, (size_t)img, (size_t)grp);
            j.bmat = g.pointwise ? j.xg : j.col;
            if (by_cols) { /* column runs, each thread its own part of the image first */
                tdm_parallelize_parts(c->pool, conv_cols_part, &j, ntn);
                continue;
            }
            if (!g.pointwise) tdm_parallelize_1d(c->pool, conv_im2col_task, &j, (size_t)g.Cg);
            tdm_parallelize_2d_tile(c->pool, conv_gemm_tile, &j, (size_t)g.Mg, (size_t)g.out_sz, tm, tn);
        }
    return TDM_OK;
}

/* ---- the weights' derived forms (tdm_op_hooks) ----------------------------------------------------------------
 * A Conv keeps one form of its weights at a time, chosen by the planner per plan (plan.c owns the blocks): the
 * plain [M][C][KH][KW] weights in input 1, and, in input 3 (the slot), either U = G g G^T of Winograd F(2x2,3x3) (16
 * points) or F(4x4,3x3) (36), shaped [P][M][C], or the 1x1 weights packed in the GEMM's row blocks (tdm_sgemm_pack_a),
 * shaped [1][M][C] and read as one sequential stream, or W^T packed in the GEMM's B panels for the transposed GEMM
 * of small maps (tdm_sgemm_pack_b), marked [2][M][C] (its size is K x M rounded up to panels). Slots go only to convolutions whose GEMMs in the transformed
 * domain are big enough to pay for the transforms (8+ channels in and out); a plan computes a form only for the
 * convolutions that pick it at its shapes, so small maps that run direct never carry 16/9 of their weights again. */

static tdm_status conv_weight_slot(tdm_graph_env *env, tdm_node *n) {
    if (n->n_in < 2 || n->n_in > 3 || n->in[1] < 0) return TDM_OK;
    const tdm_value *w = &env->ctx->values[n->in[1]];
    if (w->kind != TDM_V_CONST || w->dtype != TDM_FLOAT || w->rank != 4 || w->dims[0] < 8) return TDM_OK;
    int64_t group = 1, v[4], kk = w->dims[2] * w->dims[3];
    int cnt, s1 = 1, ok = 1;
    if (tdm_attr_int(n, "group", 1, &group) || group != 1 || w->dims[1] * kk < 8) return TDM_OK;
    if (tdm_attr_ints(n, "strides", v, 4, &cnt)) return TDM_OK;
    for (int k = 0; k < cnt; k++) s1 &= v[k] == 1;
    if (tdm_attr_ints(n, "dilations", v, 4, &cnt)) return TDM_OK;
    for (int k = 0; k < cnt; k++) ok &= v[k] == 1;
    if (!ok) return TDM_OK;
    /* the form the slot starts with: Winograd's for 3x3 stride 1 (8+ channels in), packed rows for 1x1 stride 1,
     * W^T packed for the transposed GEMM otherwise; each plan makes the form it needs (plan.c) */
    int k3 = w->dims[2] == 3 && w->dims[3] == 3 && s1 && w->dims[1] >= 8, k1 = kk == 1 && s1;
    int64_t ud[3] = {k3 ? 16 : k1 ? 1 : 2, w->dims[0], w->dims[1]};
    if (env->add_slot(env, n, 3, k3 ? "_winograd" : k1 ? "_packed" : "_transposed", 3, ud) < 0)
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    return TDM_OK;
}

/* The form this Conv takes at its current input shapes: the Winograd points (16 or 36), 2 for the transposed GEMM
 * (W^T packed in the GEMM's B panels), 1 for a 1x1 convolution (the weights packed in the GEMM's row blocks), or 0
 * for none. */
static int conv_weight_form(tdm_ctx *c, const tdm_node *n) {
    conv_geom g;
    if (n->n_in < 2 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1) || conv_geometry(c, n, 0, &g)) return 0;
    if (g.depthwise) return 0;
    int w = conv_wino_choose(&g);
    if (w) return w;
    if (conv_tgemm_choose(&g)) return 2;
    return g.pointwise && g.G == 1 ? 1 : 0;
}

/* K = C x KH x KW: the depth of the GEMMs */
static size_t conv_weight_k(const tdm_value *w) { return (size_t)(w->dims[1] * w->dims[2] * w->dims[3]); }

static size_t conv_weight_floats(const tdm_value *w, int form) {
    if (form == 2) {
        size_t nr = tdm_kernels()->nr, m = (size_t)w->dims[0];
        return conv_weight_k(w) * ((m + nr - 1) / nr * nr);
    }
    return (size_t)form * (size_t)(w->dims[0] * w->dims[1]);
}

static void conv_weight_make(const tdm_value *w, const float *plain, int form, float *slot, int plain_dies) {
    size_t k = (size_t)w->dims[0], c = (size_t)w->dims[1];
    if (form == 2) tdm_pack_b_consuming(plain, conv_weight_k(w), 1, conv_weight_k(w), k, slot, plain_dies);
    else if (form == 1) tdm_sgemm_pack_a(plain, k, c, tdm_sgemm_mr(), slot);
    else tdm_wino_weights(plain, k, c, slot, form == 36 ? 4 : 2);
}

static void conv_weight_restore(const tdm_value *w, const float *slot, int form, float *plain) {
    size_t k = (size_t)w->dims[0], c = (size_t)w->dims[1];
    if (form == 2) tdm_sgemm_unpack_b(slot, conv_weight_k(w), k, plain);
    else if (form == 1) tdm_sgemm_unpack_a(slot, k, c, tdm_sgemm_mr(), plain);
    else tdm_wino_restore(slot, k, c, plain, form == 36 ? 4 : 2);
}

const tdm_op_hooks conv_conv_hooks = {
    .weight_slot = conv_weight_slot,
    .weight_input = 1,
    .slot_input = 3,
    .weight_form = conv_weight_form,
    .weight_floats = conv_weight_floats,
    .weight_make = conv_weight_make,
    .weight_restore = conv_weight_restore,
};

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
