/* kernels.h - the engine's compute kernels: single-threaded, allocation-free float32 routines (GEMM variants, the
 * dispatcher that picks one for this CPU, and the bias+activation epilogue). Ops own threading and scratch memory. */
#ifndef TDM_KERNELS_H
#define TDM_KERNELS_H

#include <stddef.h>

/* Activations that ops fuse into the kernels' epilogues (graph.c sets them on nodes; the kernels apply them). */
enum {
    TDM_ACT_NONE = 0,
    TDM_ACT_RELU,
    TDM_ACT_CLIP,       /* clamp to [alpha, beta]                 */
    TDM_ACT_LEAKY_RELU, /* slope alpha below zero                 */
    TDM_ACT_HARD_SWISH, /* x * clamp(x / 6 + 1/2, 0, 1)           */
    TDM_ACT_SIGMOID,
    TDM_ACT_SILU,         /* x * sigmoid(x)                       */
    TDM_ACT_GELU,         /* x/2 (1 + erf(x / sqrt 2))            */
    TDM_ACT_HARD_SIGMOID, /* clamp(alpha x + beta, 0, 1)          */
    TDM_ACT_GELU_TANH,    /* x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): GPT-2's gelu_new */
    TDM_ACT_COUNT
};
/* "+Relu", "+Sigmoid", ...: the suffix a fused node's name gets for act ("" for NONE or an unknown code). */
const char *tdm_act_suffix(int act);

/* Row-major single-precision GEMM:  C[m x n] = alpha * op(A) * op(B) + beta * C
 *   op(A) is A[m x k] (row stride lda), or with trans_a the transpose of A[k x m] (row stride lda);
 *   op(B) is B[k x n] (row stride ldb), or with trans_b the transpose of B[n x k] (row stride ldb);
 *   C has row stride ldc. When beta == 0, C is only written (never read, so it may hold garbage or NaN).
 * k == 0 gives C = beta * C. Every variant has exactly this contract, so they can be swapped freely. */
typedef void (*tdm_sgemm_fn)(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                             size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* The plain reference: obvious loops, double accumulation. Always built; the tests compare everything against it. */
void tdm_sgemm_ref(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                   const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* Portable cache-blocked version: packs small panels of op(B) on the stack and runs a register-tiled microkernel whose
 * inner loops have fixed trip counts, so compilers vectorise them at -O2 without intrinsics. */
void tdm_sgemm_blocked(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                       size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* The convolution GEMM with its epilogue fused into the tile stores: C[m x n] = act(A[m x k] * B[k x n] + bias + res),
 * row-major, nothing transposed; bias per row of C, res shaped like C (row stride ldr); act a TDM_ACT_* code with
 * alpha/beta as in tdm_act. */
typedef struct tdm_gemm_ep {
    const float *bias; /* m values, or NULL */
    const float *res;  /* NULL, or added before the activation */
    size_t ldr;
    int act;
    float alpha, beta;
    const float *bias_col; /* n values added per column (a Linear layer's bias), or NULL */
} tdm_gemm_ep;
typedef void (*tdm_sgemm_ep_fn)(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep__scalar(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                          size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep__avx2_fma(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                            float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep__wasm_simd128(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep__avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                          float *c, size_t ldc, const tdm_gemm_ep *ep);
/* The same with A packed by tdm_sgemm_pack_a (the weights of a 1x1 convolution, packed once at load): each block of
 * MR rows (fewer in the last) stored k-major, [k][MR], so the tiles read A as one sequential stream. m0 is the first
 * row of C to compute, a multiple of MR; ap is the start of the whole packed matrix. */
typedef void (*tdm_sgemm_ep_pa_fn)(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b,
                                   size_t ldb, float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep_pa__scalar(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb,
                             float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep_pa__avx2_fma(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb,
                               float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep_pa__wasm_simd128(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b,
                                   size_t ldb, float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep_pa__avx512(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb,
                             float *c, size_t ldc, const tdm_gemm_ep *ep);
/* B packed once (weights that are B of every call): tdm_sgemm_pack_b stores op(B) [k x n] (trans_b: B is [n x k],
 * row stride ldb) as the set's GEMM packs it per call, KC-deep slices of NR-wide panels, k * ceil(n / NR) * NR floats
 * (tdm_kernel_set.nr); tdm_sgemm_pb then computes C[m x n] = A[m x k] * B, A's element (i, p) at a[i * rsa + p *
 * csa] (rows: rsa = lda, csa = 1; or the transpose of a [k x m] matrix: rsa = 1, csa = its row stride), with the
 * epilogue (bias per row of C) when ep is not NULL. */
typedef void (*tdm_sgemm_pack_b_fn)(const float *b, size_t ldb, int trans_b, size_t k, size_t n, float *bp);
#define TDM_SGEMM_KC 256 /* the depth of every set's B slices */
/* The inverse of tdm_sgemm_pack_b(b, k, 1, k, n) for the selected set: B^T [n x k] back from its packed form. */
void tdm_sgemm_unpack_b(const float *bp, size_t k, size_t n, float *bt);
typedef void (*tdm_sgemm_pb_fn)(size_t m, size_t n, size_t k, const float *a, size_t rsa, size_t csa,
                                const float *bp, float *c, size_t ldc, const tdm_gemm_ep *ep);
/* The same on C's columns [j0, j1) only (j0 a multiple of NR, j1 one or n): the packed B of all n columns, C, the
 * bias per column and the residual indexed as for the whole product. Threads then split a dense layer by columns, each
 * reading its own part of the weights once, where splitting rows had every thread stream all of them. */
typedef void (*tdm_sgemm_pb_cols_fn)(size_t m, size_t n, size_t k, size_t j0, size_t j1, const float *a, size_t rsa,
                                     size_t csa, const float *bp, float *c, size_t ldc, const tdm_gemm_ep *ep);
#define TDM_SGEMM_PB_DECL(SUF)                                                                                       \
    void tdm_sgemm_pack_b__##SUF(const float *b, size_t ldb, int trans_b, size_t k, size_t n, float *bp);            \
    void tdm_sgemm_pb__##SUF(size_t m, size_t n, size_t k, const float *a, size_t rsa, size_t csa,                   \
                             const float *bp, float *c, size_t ldc, const tdm_gemm_ep *ep);                          \
    void tdm_sgemm_pb__##SUF##_cols(size_t m, size_t n, size_t k, size_t j0, size_t j1, const float *a, size_t rsa,  \
                                    size_t csa, const float *bp, float *c, size_t ldc, const tdm_gemm_ep *ep);
TDM_SGEMM_PB_DECL(scalar)
TDM_SGEMM_PB_DECL(avx2_fma)
TDM_SGEMM_PB_DECL(avx512)
TDM_SGEMM_PB_DECL(wasm_simd128)
/* The packing: a [m x k] row-major -> out (m * k floats), in blocks of mr rows; and back. */
void tdm_sgemm_pack_a(const float *a, size_t m, size_t k, size_t mr, float *out);
void tdm_sgemm_unpack_a(const float *ap, size_t m, size_t k, size_t mr, float *a);
/* The variants for this CPU, and the row block (MR) its packed A must have. */
void tdm_sgemm_ep_pa(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb, float *c,
                     size_t ldc, const tdm_gemm_ep *ep);
size_t tdm_sgemm_mr(void);
/* The variant for this CPU. */
void tdm_sgemm_ep(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                  size_t ldc, const tdm_gemm_ep *ep);

/* SIMD variants of the same contract (gemm_vec.inc compiled per ISA). Call only where the CPU supports the ISA. */
void tdm_sgemm_6x16__avx2_fma(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
void tdm_sgemm_packed_6x16__avx2_fma(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *bp,
                                     float *c, size_t ldc);
void tdm_sgemm_12x32__avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                             size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
void tdm_sgemm_packed_12x32__avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *bp, float *c,
                                    size_t ldc);
void tdm_sgemm_12x16__avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                             size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
void tdm_sgemm_packed_12x16__avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *bp, float *c,
                                    size_t ldc);
void tdm_sgemm_ep_12x16__avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm_ep_pa_12x16__avx512(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b,
                                   size_t ldb, float *c, size_t ldc, const tdm_gemm_ep *ep);
void tdm_sgemm__wasm_simd128(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                             size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* Direct 2-D convolution, stride 1 or 2, dilation 1, one image and one group (conv_vec.inc).
 *   xp:   the input padded on every side, [C][Hp][Wp], with TDM_CONV_SLACK readable floats after its end (tiles read
 *         whole vectors past the last pixel of a row; the extra results are not stored). With stride 2, each padded
 *         row holds its even columns and then its odd columns, Wp / 2 each (Wp even), so that every tap of a vector of
 *         outputs is one contiguous load, as at stride 1;
 *   w:    weights [M][C][KH][KW]; bias: [M] or NULL;
 *   y:    output [M][Ho][Wo], Ho = (Hp - KH) / stride + 1, Wo likewise (over the padded width before the split);
 *   res:  NULL, or a tensor shaped like y added before the activation (a fused residual Add);
 *   act:  TDM_ACT_* with alpha/beta as in tdm_act.
 * A call computes output channels [m0, m1) and output rows [h0, h1), so callers can split the work over threads. */
#define TDM_CONV_SLACK 64
typedef struct tdm_conv2d_direct_args {
    const float *xp;
    size_t C, Hp, Wp, KH, KW, Ho, Wo;
    const float *w, *bias, *res;
    float *y;
    int act;
    float alpha, beta;
    size_t stride; /* 1 or 2 */
} tdm_conv2d_direct_args;
typedef void (*tdm_conv2d_direct_fn)(const tdm_conv2d_direct_args *a, size_t m0, size_t m1, size_t h0, size_t h1);
void tdm_conv2d_direct__scalar(const tdm_conv2d_direct_args *a, size_t m0, size_t m1, size_t h0, size_t h1);
void tdm_conv2d_direct__avx2_fma(const tdm_conv2d_direct_args *a, size_t m0, size_t m1, size_t h0, size_t h1);
void tdm_conv2d_direct__wasm_simd128(const tdm_conv2d_direct_args *a, size_t m0, size_t m1, size_t h0, size_t h1);
void tdm_conv2d_direct__avx512(const tdm_conv2d_direct_args *a, size_t m0, size_t m1, size_t h0, size_t h1);
/* The best direct-convolution variant for this CPU. */
tdm_conv2d_direct_fn tdm_conv2d_direct_selected(void);

/* Winograd F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1 convolutions (winograd.c, winograd_vec.inc): tiles of m x m
 * outputs (m = 2 or 4) read (m+2) x (m+2) inputs; the input is padded, transformed to V[P][C][T] (P = (m+2)^2 points),
 * multiplied by the load-time transformed weights U[P][K][C] (P GEMMs: M[xi] = U[xi] * V[xi]), and transformed back
 * with bias, residual and activation fused. F(4x4) does 2.25 multiplies per output and input channel against
 * F(2x2)'s 4 and direct's 9, for heavier transforms; conv.c picks m by how well the tiles fill the GEMM panels. */
/* F(4x4, 3x3)'s interpolation points: 0, +-A, +-B and infinity. The usual 0, +-1, +-2 give twice the rounding error
 * of these (relative RMS 1.0e-6 against 5.1e-7, worst element 4x, float against double on 32-channel sums of
 * ReLU-like inputs); both are dyadic, so every coefficient of B^T and A^T is exact in float. */
#define TDM_WINO4_A 1.5
#define TDM_WINO4_B 0.75
typedef struct tdm_wino_geom {
    size_t c, k, h, w, pt, pl, ho, wo; /* channels in/out, input size, top/left padding, output size            */
    size_t m, pts;                     /* output tile size (2 or 4) and transform points (m+2)^2              */
    size_t ty, tx, txp;                /* tile rows, tile columns, and columns rounded up to the vector width  */
    size_t nr, tp;                     /* GEMM panel width, and tiles rounded up to whole panels             */
    size_t vw;                         /* tiles per tile row of a vector of the transforms this is for      */
    size_t rows;                       /* tile rows per vector (2: rows of vw tiles in half a vector), and ty
                                        * is then rounded up to a multiple of it                              */
    size_t hq, wq;                     /* padded input rows and row length                                   */
} tdm_wino_geom;
void tdm_wino_geometry(tdm_wino_geom *g, size_t c, size_t k, size_t h, size_t w, size_t pad_top, size_t pad_left,
                       size_t ho, size_t wo, size_t vw, size_t rows, size_t nr, size_t m);
size_t tdm_wino_x_floats(const tdm_wino_geom *g);
/* Floats of V and M for a chunk of `tiles` tiles (the transforms below work chunk by chunk), and the distance between
 * two transform points' slices of them: their C x S (K x S) floats, S = tiles rounded up to nr, plus one cache line,
 * so that the transforms' 16 or 36 accesses of a vector, one per point, do not fall into the same few L1 sets (with
 * S and C powers of two, a plain C x S apart they shared 4 of the 64 sets). */
size_t tdm_wino_v_floats(const tdm_wino_geom *g, size_t tiles);
size_t tdm_wino_m_floats(const tdm_wino_geom *g, size_t tiles);
size_t tdm_wino_v_stride(const tdm_wino_geom *g, size_t tiles);
size_t tdm_wino_m_stride(const tdm_wino_geom *g, size_t tiles); /* for g->k output channels */
/* w: [k][c][3][3] -> u: [(m+2)^2][k][c], in double; and back (exact for the taps the transform copies, within a
 * rounding of the others), for a plan that needs the 3x3 weights of a model that kept only u. */
void tdm_wino_weights(const float *w, size_t k, size_t c, float *u, size_t m);
void tdm_wino_restore(const float *u, size_t k, size_t c, float *w, size_t m);
/* x: one image's [c][h][w] -> the padded copy X, for channels [c0, c1) and padded rows [r0, r1). */
void tdm_wino_pack_rows(const tdm_wino_geom *g, const float *x, float *X, size_t c0, size_t c1, size_t r0, size_t r1);
/* The transforms work on a chunk of tiles [t0, t1) (t0 a multiple of vw) across every channel: V and M hold only
 * that chunk (V from its first panel, M from column 0, row stride t1 - t0 rounded up to nr), so that a chunk's
 * input transform, 16 GEMMs and output transform run in cache, and threads can split one image by chunks. */
typedef void (*tdm_wino_input_fn)(const tdm_wino_geom *g, const float *X, float *V, size_t t0, size_t t1);
typedef void (*tdm_wino_output_fn)(const tdm_wino_geom *g, const float *M, const float *bias, const float *res,
                                   float *y, int act, float alpha, float beta, size_t t0, size_t t1);
/* C[m x n] = A[m x k] (row stride lda) * B, where B is packed in panels of k x NR (gemm_vec.inc). */
typedef void (*tdm_sgemm_packed_fn)(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *bp,
                                    float *c, size_t ldc);
void tdm_wino_input__scalar(const tdm_wino_geom *g, const float *X, float *V, size_t t0, size_t t1);
void tdm_wino_output__scalar(const tdm_wino_geom *g, const float *M, const float *bias, const float *res, float *y,
                             int act, float alpha, float beta, size_t t0, size_t t1);
void tdm_wino_input__avx2_fma(const tdm_wino_geom *g, const float *X, float *V, size_t t0, size_t t1);
void tdm_wino_output__avx2_fma(const tdm_wino_geom *g, const float *M, const float *bias, const float *res, float *y,
                               int act, float alpha, float beta, size_t t0, size_t t1);
void tdm_wino_input__avx2_fma_rows2(const tdm_wino_geom *g, const float *X, float *V, size_t t0, size_t t1);
void tdm_wino_output__avx2_fma_rows2(const tdm_wino_geom *g, const float *M, const float *bias, const float *res,
                                   float *y, int act, float alpha, float beta, size_t t0, size_t t1);
void tdm_wino_input__wasm_simd128(const tdm_wino_geom *g, const float *X, float *V, size_t t0, size_t t1);
void tdm_wino_output__wasm_simd128(const tdm_wino_geom *g, const float *M, const float *bias, const float *res,
                                   float *y, int act, float alpha, float beta, size_t t0, size_t t1);
void tdm_sgemm_packed_4x3__scalar(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *bp,
                                  float *c, size_t ldc);
void tdm_sgemm_packed__wasm_simd128(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *bp,
                                    float *c, size_t ldc);
#define TDM_WASM128_PACKED_NR 8 /* its panel width NR: 2 vectors of 4 (gemm_wasm128.c checks it) */
void tdm_sgemm_4x3__scalar(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                           size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
/* The selected Winograd kernels: transforms, packed GEMM, vector width (tiles per vector) and panel width; and
 * transforms of a narrower vector width for maps whose rows hold fewer tiles than vw (the same as the others where
 * the ISA has no narrower vectors). */
typedef struct tdm_wino_kernels {
    tdm_wino_input_fn input;
    tdm_wino_output_fn output;
    tdm_sgemm_packed_fn gemm;
    size_t vw, nr;
    tdm_wino_input_fn input_narrow;
    tdm_wino_output_fn output_narrow;
    size_t vw_narrow;
    size_t max_m;       /* the largest output tile to use: 4 (F(4x4,3x3)) or 2 */
    size_t rows_narrow; /* tile rows per vector of the narrow transforms (0 or 1: one) */
    tdm_sgemm_packed_fn gemm_small; /* a packed GEMM on narrower panels, for maps with few tiles, or NULL */
    size_t nr_small;                /* its panel width                                                      */
} tdm_wino_kernels;
const tdm_wino_kernels *tdm_wino_selected(void);

/* Depthwise convolution, stride 1 or 2, dilation 1, of `nch` channels (dw_vec.inc), each output channel reading the
 * input channel of the same index; output planes are ho x wo with ho = (hp - kh) / stride + 1 (likewise wo), where
 * hp = pt + h + bottom padding and wp = pl + w + right padding. Two ways to run it, both with bias, residual and
 * activation fused:
 *   plane: channel by channel; each plane is padded into scratch (hp * (wp + 1) + TDM_CONV_SLACK floats: at stride 2
 *          the rows are made even and split into even and odd columns) and every output
 *          vector is VW pixels of a row. For wide maps.
 *   cb:    up to VW channels at once (nch <= vw of tdm_dw_kernels); the planes are interleaved into scratch
 *          ((hp * wp + ho * wo) * vw floats), so a vector holds one pixel of VW channels. For small maps (4x4, 8x8),
 *          where a row is shorter than a vector. */
typedef struct tdm_dwconv_args {
    const float *x;      /* nch input planes, h x w each, contiguous                                       */
    const float *wt;     /* nch filters, kh x kw each                                                      */
    const float *bias;   /* nch biases or NULL                                                             */
    const float *res;    /* NULL, or nch planes shaped like y, added before the activation                 */
    float *y;            /* nch output planes, contiguous                                                  */
    float *scratch;
    size_t nch, h, w, pt, pl, hp, wp, kh, kw, stride, ho, wo;
    float alpha, beta;
    int act;
} tdm_dwconv_args;
typedef void (*tdm_dwconv_fn)(const tdm_dwconv_args *a);
void tdm_dwconv__scalar(const tdm_dwconv_args *a);
void tdm_dwconv__avx2_fma(const tdm_dwconv_args *a);
void tdm_dwconv__wasm_simd128(const tdm_dwconv_args *a);
void tdm_dwconv_cb__scalar(const tdm_dwconv_args *a);
void tdm_dwconv_cb__avx2_fma(const tdm_dwconv_args *a);
void tdm_dwconv_cb__wasm_simd128(const tdm_dwconv_args *a);
void tdm_dwconv__avx512(const tdm_dwconv_args *a);
void tdm_dwconv_cb__avx512(const tdm_dwconv_args *a);
typedef struct tdm_dw_kernels {
    tdm_dwconv_fn plane, cb;
    size_t vw;        /* channels per cb call at most */
    size_t cb_max_wo; /* cb for output maps at most this wide (measured per ISA), plane for wider ones */
} tdm_dw_kernels;
const tdm_dw_kernels *tdm_dw_selected(void);

/* 2-D max or average pooling of nch planes, dilation 1, stride 1 or 2 along the rows (any stride across them), float
 * (rows_vec.inc). Output planes are ho x wo; hp x wp is the padded extent every window lies in (padding, plus the
 * overhang of ceil_mode windows), pt/pl the top/left padding; scratch holds TDM_POOL_SCRATCH floats: a row, or on
 * maps TDM_POOL_BLOCKED calls small, VW planes in the blocked layout (nchwc_vec.inc) and their output. avg:
 * y = sum over the window * inv_rows[oh] * inv_cols[ow] (1 / taps counted along each axis); else y = max. */
#define TDM_POOL_SLACK 64
#define TDM_POOL_BLOCKED(wo) ((wo) <= 40)
/* 16: the widest set's VW (AVX-512), so one size serves every set */
#define TDM_POOL_SCRATCH(h, w, ho, wo, wp)                                                                          \
    (TDM_POOL_BLOCKED(wo) && ((h) * (w) + (ho) * (wo)) * 16 > (wp) + TDM_POOL_SLACK ? ((h) * (w) + (ho) * (wo)) * 16 \
                                                                                    : (wp) + TDM_POOL_SLACK)
typedef struct tdm_pool2d_args {
    const float *x;
    float *y, *scratch;
    size_t nch, h, w, pt, pl, hp, wp, kh, kw, sh, sw, ho, wo;
    int avg;
    const float *inv_rows, *inv_cols;
} tdm_pool2d_args;
typedef void (*tdm_pool2d_fn)(const tdm_pool2d_args *a);
void tdm_pool2d__scalar(const tdm_pool2d_args *a);
void tdm_pool2d__avx2_fma(const tdm_pool2d_args *a);
void tdm_pool2d__avx512(const tdm_pool2d_args *a);
void tdm_pool2d__wasm_simd128(const tdm_pool2d_args *a);

/* Sum and maximum of a contiguous row of n floats (rows_vec.inc); the sum in float with several accumulators. */
typedef float (*tdm_row_reduce_fn)(const float *x, size_t n);
float tdm_row_sum__scalar(const float *x, size_t n);
float tdm_row_sum__avx2_fma(const float *x, size_t n);
float tdm_row_sum__avx512(const float *x, size_t n);
float tdm_row_sum__wasm_simd128(const float *x, size_t n);
float tdm_row_max__scalar(const float *x, size_t n);
float tdm_row_max__avx2_fma(const float *x, size_t n);
float tdm_row_max__avx512(const float *x, size_t n);
float tdm_row_max__wasm_simd128(const float *x, size_t n);

/* Element-wise math on n floats, y = f(x) (y may be x): the functions below, vectorised (vmath.h); a and b are
 * HARD_SIGMOID's alpha and beta. */
enum {
    TDM_VOP_EXP = 0,
    TDM_VOP_SIGMOID,
    TDM_VOP_TANH,
    TDM_VOP_ERF,
    TDM_VOP_GELU,
    TDM_VOP_SILU,
    TDM_VOP_HARD_SIGMOID,
    TDM_VOP_HARD_SWISH,
    TDM_VOP_GELU_TANH
};
typedef void (*tdm_vunary_fn)(int op, const float *x, float *y, size_t n, float a, float b);
void tdm_vunary__scalar(int op, const float *x, float *y, size_t n, float a, float b);
void tdm_vunary__avx2_fma(int op, const float *x, float *y, size_t n, float a, float b);
void tdm_vunary__avx512(int op, const float *x, float *y, size_t n, float a, float b);
void tdm_vunary__wasm_simd128(int op, const float *x, float *y, size_t n, float a, float b);

/* y[j][i] = act(ct[i][j] + bias[j] (+ res[j][i])) for i < n, j in [j0, j1): the transpose of a pixels x channels
 * result (rows ldct apart) into channels x pixels (rows ldy apart), with the convolution epilogue (rows_vec.inc). */
typedef void (*tdm_tstore_fn)(const float *ct, size_t ldct, size_t n, size_t j0, size_t j1, float *y, size_t ldy,
                              const float *bias, const float *res, int act, float alpha, float beta);
#define TDM_TSTORE_DECL(SUF)                                                                                         \
    void tdm_tstore__##SUF(const float *ct, size_t ldct, size_t n, size_t j0, size_t j1, float *y, size_t ldy,       \
                           const float *bias, const float *res, int act, float alpha, float beta);
TDM_TSTORE_DECL(scalar)
TDM_TSTORE_DECL(avx2_fma)
TDM_TSTORE_DECL(avx512)
TDM_TSTORE_DECL(wasm_simd128)

/* ---- transformer kernels --------------------------------------------------------------------------------------
 * Dense layers (MatMul and Gemm on constant weights) run on weights packed once at load (tdm_sgemm_pack_b, with the
 * bias per column in tdm_gemm_ep.bias_col), and attention per block of query rows on keys and values packed per head
 * (src/ops/attention.c); both on the register tiles of gemm_vec.inc. */
/* One row of attention scores or of a Softmax, in place or not: y = softmax(scale * x + mask) over n floats, mask
 * NULL (none), one value per element (mask_step 1) or one for the whole row (mask_step 0). The maximum is subtracted
 * before exp, so masks of the lowest float (-3.4e38) give exact zeros and a row masked whole comes out uniform. */
typedef void (*tdm_softmax_row_fn)(const float *x, float *y, size_t n, float scale, const float *mask, size_t mask_step);
void tdm_softmax_row__scalar(const float *x, float *y, size_t n, float scale, const float *mask, size_t mask_step);
void tdm_softmax_row__avx2_fma(const float *x, float *y, size_t n, float scale, const float *mask, size_t mask_step);
void tdm_softmax_row__avx512(const float *x, float *y, size_t n, float scale, const float *mask, size_t mask_step);
void tdm_softmax_row__wasm_simd128(const float *x, float *y, size_t n, float scale, const float *mask,
                                   size_t mask_step);
/* One row of LayerNormalization: y = (x - mean) / sqrt(var + eps) * gamma + beta over n floats (beta may be NULL),
 * mean and variance in float with vector accumulators, the variance from a second pass over x - mean. */
typedef void (*tdm_layernorm_row_fn)(const float *x, float *y, size_t n, const float *gamma, const float *beta,
                                     float eps);
void tdm_layernorm_row__scalar(const float *x, float *y, size_t n, const float *gamma, const float *beta, float eps);
void tdm_layernorm_row__avx2_fma(const float *x, float *y, size_t n, const float *gamma, const float *beta, float eps);
void tdm_layernorm_row__avx512(const float *x, float *y, size_t n, const float *gamma, const float *beta, float eps);
void tdm_layernorm_row__wasm_simd128(const float *x, float *y, size_t n, const float *gamma, const float *beta,
                                     float eps);
/* The transformer entries of a kernel set (tdm_kernel_set.tfm). */
typedef struct tdm_tfm_kernels {
    tdm_sgemm_packed_fn gemm_packed;  /* attention: C = A * B on B packed in panels of packed_nr (gemm_vec.inc) */
    size_t packed_nr;
    size_t mr;                        /* rows of the register tile                                              */
    tdm_softmax_row_fn softmax_row;
    tdm_layernorm_row_fn layernorm_row;
} tdm_tfm_kernels;
/* Convolution on the blocked channel layout NCHWc (nchwc_vec.inc): a tensor [C][H][W] of one image stored as
 * [C/VW][H][W][VW], VW = the set's vector width (tdm_kernel_set.cvw), channels padded to a multiple of VW.
 *   cconv: a dense convolution (any kernel, stride and padding, dilation 1, one group) of an input in the plain
 *          layout (xbin 1) or blocked (xbin VW) into a blocked output; weights packed by cconv_pack into
 *          [M/VW][C][KH][KW][VW]; bias (M padded to blocks) or NULL; res a blocked tensor like y, or NULL.
 *          Computes output channel blocks [b0, b1) and output rows [r0, r1).
 *   cdw:   a depthwise convolution, blocked input to blocked output (M = C), weights packed [C/VW][KH][KW][VW]
 *          (cconv_pack with C = 1); channel blocks [b0, b1), rows [r0, r1).
 *   to_blocked / from_blocked: one image's [C][P] <-> [C/VW][P][VW] (P pixels); padding channels written as 0. */
typedef struct tdm_cconv_args {
    const float *x;
    size_t C, H, W, xbin;
    const float *w, *bias, *res;
    float *y;
    size_t M, KH, KW, sh, sw, pt, pl, Ho, Wo;
    int act;
    float alpha, beta;
} tdm_cconv_args;
typedef void (*tdm_cconv_fn)(const tdm_cconv_args *a, size_t b0, size_t b1, size_t r0, size_t r1);
typedef void (*tdm_relayout_fn)(const float *x, float *y, size_t C, size_t P);
typedef void (*tdm_cconv_pack_fn)(const float *w, float *out, size_t M, size_t C, size_t KK);
#define TDM_NCHWC_DECL(SUF)                                                                                          \
    void tdm_cconv_##SUF(const tdm_cconv_args *a, size_t b0, size_t b1, size_t r0, size_t r1);                       \
    void tdm_cdw_##SUF(const tdm_cconv_args *a, size_t b0, size_t b1, size_t r0, size_t r1);                         \
    void tdm_to_blocked_##SUF(const float *x, float *y, size_t C, size_t P);                                         \
    void tdm_from_blocked_##SUF(const float *x, float *y, size_t C, size_t P);                                       \
    void tdm_cconv_pack_##SUF(const float *w, float *out, size_t M, size_t C, size_t KK);
TDM_NCHWC_DECL(_scalar)
TDM_NCHWC_DECL(_avx2_fma)
TDM_NCHWC_DECL(_avx512)
TDM_NCHWC_DECL(_wasm_simd128)

/* A kernel set: every entry point of one ISA's kernels with its tile geometry and measured thresholds, one const
 * table per ISA (dispatch.c). Ops call through the selected set (or the wrappers below); tests walk every set. */
typedef struct tdm_kernel_set {
    const char *name;                /* "scalar", "avx2_fma", "avx512", "wasm_simd128": tdm_kernel_isa()         */
    int simd;                        /* 0 for the portable set: ops then skip the SIMD-only paths (direct, ...)   */
    tdm_sgemm_fn sgemm;
    tdm_sgemm_ep_fn sgemm_ep;
    tdm_sgemm_ep_pa_fn sgemm_ep_pa;
    size_t mr;                       /* rows of the GEMM tile: the row block of a packed A                        */
    size_t nr;                       /* columns of the GEMM tile: the panel width of a packed B                  */
    tdm_sgemm_pack_b_fn sgemm_pack_b;
    tdm_sgemm_pb_fn sgemm_pb;
    tdm_sgemm_pb_cols_fn sgemm_pb_cols;
    tdm_conv2d_direct_fn conv_direct;
    tdm_dw_kernels dw;
    tdm_wino_kernels wino;
    tdm_pool2d_fn pool2d;
    tdm_row_reduce_fn row_sum, row_max;
    tdm_vunary_fn vunary;
    tdm_tstore_fn tstore;
    tdm_tfm_kernels tfm;             /* dense layers and attention (transformer kernels, above)                    */
    size_t cvw;                      /* channels per block of the NCHWc kernels (the vector width)               */
    tdm_cconv_fn cconv, cdw;
    tdm_relayout_fn to_blocked, from_blocked;
    tdm_cconv_pack_fn cconv_pack;
} tdm_kernel_set;
/* The set in use (chosen once: the best the CPU and OS support, or TDM_KERNELS=NAME). */
const tdm_kernel_set *tdm_kernels(void);
/* A set by name ("scalar", "avx2"/"avx2_fma", "avx512", "wasm_simd128"), or NULL when this build or CPU lacks it, with the
 * reason in *why_not (a static string). For tests and benchmarks that compare sets. */
const tdm_kernel_set *tdm_kernels_named(const char *name, const char **why_not);
/* The name of the set in use (also declared in tandem.h). */
const char *tdm_kernel_isa(void);

/* The dispatcher every op calls: forwards to the selected set's variant. */
void tdm_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
               const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* The variant tdm_sgemm forwards to, for benchmarks and tests. */
tdm_sgemm_fn tdm_sgemm_selected(void);

/* Fused epilogue over one row of n outputs: y = act(y + bias). act is a TDM_ACT_* code (above) (NONE, RELU,
 * CLIP with [alpha, beta] = [min, max], LEAKY_RELU with slope alpha, HARD_SWISH, SIGMOID). */
void tdm_bias_act(float *y, size_t n, float bias, int act, float alpha, float beta);

/* Apply act(y) in place (no bias), same codes as tdm_bias_act. */
void tdm_act(float *y, size_t n, int act, float alpha, float beta);

#endif /* TDM_KERNELS_H */
