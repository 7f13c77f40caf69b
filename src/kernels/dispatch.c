/* dispatch.c - picks the kernel variants for this CPU and forwards to them; the one place SIMD variants plug in. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* One const table per kernel set (XNNPACK's per-ISA configs): every entry point a set provides, its register-tile
 * geometry and its measured thresholds. choose() picks one once, on first use, from what the CPU and OS support:
 *   avx512:       AVX-512 F, BW, VL and DQ (and FMA) reported by CPUID, and the ZMM state saved by the OS (XCR0 bits
 *                 1-2 and 5-7);
 *   avx2_fma:     AVX2 and FMA reported by CPUID and YMM state saved by the OS (XCR0 bits 1-2);
 *   wasm_simd128: emcc -msimd128 builds (a wasm engine that lacks SIMD rejects the whole module, so there is nothing
 *                 to check at run time);
 *   scalar:       the portable code, always.
 * TDM_KERNELS=NAME forces a set (scalar, avx2 or avx2_fma, ...); a set the CPU lacks falls back to the best one it has,
 * and tdm_kernel_isa() then names the set really in use. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TDM_HAVE_AVX2_KERNELS 1
#endif
#if defined(__wasm_simd128__)
#define TDM_HAVE_WASM128_KERNELS 1
#endif

static const tdm_kernel_set set_scalar = {
    .name = "scalar",
    .simd = 0,
    .sgemm = tdm_sgemm_blocked,
    .sgemm_ep = tdm_sgemm_ep__scalar,
    .sgemm_ep_pa = tdm_sgemm_ep_pa__scalar,
    .mr = 4,
    .nr = 3,
    .sgemm_pack_b = tdm_sgemm_pack_b__scalar,
    .sgemm_pb = tdm_sgemm_pb__scalar,
    .sgemm_pb_cols = tdm_sgemm_pb__scalar_cols,
    .conv_direct = tdm_conv2d_direct__scalar,
    .dw = {tdm_dwconv__scalar, tdm_dwconv_cb__scalar, 1, 0},
    .wino = {tdm_wino_input__scalar, tdm_wino_output__scalar, tdm_sgemm_packed_4x3__scalar, 1, 3,
             tdm_wino_input__scalar, tdm_wino_output__scalar, 1, 2, 1, NULL, 0},
    .pool2d = tdm_pool2d__scalar,
    .row_sum = tdm_row_sum__scalar,
    .row_max = tdm_row_max__scalar,
    .vunary = tdm_vunary__scalar,
    .tstore = tdm_tstore__scalar,
    .tfm = {tdm_sgemm_packed_4x3__scalar, 3, 4, tdm_softmax_row__scalar,
            tdm_layernorm_row__scalar},
    .cvw = 1,
    .cconv = tdm_cconv__scalar,
    .cdw = tdm_cdw__scalar,
    .to_blocked = tdm_to_blocked__scalar,
    .from_blocked = tdm_from_blocked__scalar,
    .cconv_pack = tdm_cconv_pack__scalar,
};

#ifdef TDM_HAVE_AVX2_KERNELS
static const tdm_kernel_set set_avx2 = {
    .name = "avx2_fma",
    .simd = 1,
    .sgemm = tdm_sgemm_6x16__avx2_fma,
    .sgemm_ep = tdm_sgemm_ep__avx2_fma,
    .sgemm_ep_pa = tdm_sgemm_ep_pa__avx2_fma,
    .mr = 6,
    .nr = 16,
    .sgemm_pack_b = tdm_sgemm_pack_b__avx2_fma,
    .sgemm_pb = tdm_sgemm_pb__avx2_fma,
    .sgemm_pb_cols = tdm_sgemm_pb__avx2_fma_cols,
    .conv_direct = tdm_conv2d_direct__avx2_fma,
    /* cb on 8x8 maps too: 10-15 % less time than a vector per row (MobileNetV2, per layer) */
    .dw = {tdm_dwconv__avx2_fma, tdm_dwconv_cb__avx2_fma, 8, 8},
    /* F(4x4,3x3) where its tiles fill the panels (32x32 and 16x16 maps), with the points 0, +-3/2, +-3/4: the usual
     * 0, +-1, +-2 doubled the rounding error (cifar10_resnet20's worst golden element at 1.29 of the tolerance);
     * these leave it at 0.26 against F(2x2)'s 0.58 (test_models prints it). Narrow: two tile rows of 4 per vector. */
    .wino = {tdm_wino_input__avx2_fma, tdm_wino_output__avx2_fma, tdm_sgemm_packed_6x16__avx2_fma, 8, 16,
             tdm_wino_input__avx2_fma_rows2, tdm_wino_output__avx2_fma_rows2, 4, 4, 2, NULL, 0},
    .pool2d = tdm_pool2d__avx2_fma,
    .row_sum = tdm_row_sum__avx2_fma,
    .row_max = tdm_row_max__avx2_fma,
    .vunary = tdm_vunary__avx2_fma,
    .tstore = tdm_tstore__avx2_fma,
    .tfm = {tdm_sgemm_packed_6x16__avx2_fma, 16, 6, tdm_softmax_row__avx2_fma,
            tdm_layernorm_row__avx2_fma},
    .cvw = 8,
    .cconv = tdm_cconv__avx2_fma,
    .cdw = tdm_cdw__avx2_fma,
    .to_blocked = tdm_to_blocked__avx2_fma,
    .from_blocked = tdm_from_blocked__avx2_fma,
    .cconv_pack = tdm_cconv_pack__avx2_fma,
};
#endif

#ifdef TDM_HAVE_AVX2_KERNELS
/* AVX-512 where it has kernels of its own (GEMMs, direct and depthwise convolution), AVX2 where 8-wide vectors fit
 * better: Winograd's transforms, whose 16 lanes would need rows of 16 tiles (64-pixel maps for F(4x4)), keep their
 * 8-wide forms and write panels of the AVX-512 GEMM's width. */
static const tdm_kernel_set set_avx512 = {
    .name = "avx512",
    .simd = 1,
    .sgemm = tdm_sgemm_12x32__avx512,
    .sgemm_ep = tdm_sgemm_ep__avx512,
    .sgemm_ep_pa = tdm_sgemm_ep_pa__avx512,
    .mr = 12,
    .nr = 32,
    .sgemm_pack_b = tdm_sgemm_pack_b__avx512,
    .sgemm_pb = tdm_sgemm_pb__avx512,
    .sgemm_pb_cols = tdm_sgemm_pb__avx512_cols,
    .conv_direct = tdm_conv2d_direct__avx512,
    .dw = {tdm_dwconv__avx512, tdm_dwconv_cb__avx512, 16, 8},
    .wino = {tdm_wino_input__avx2_fma, tdm_wino_output__avx2_fma, tdm_sgemm_packed_12x32__avx512, 8, 32,
             tdm_wino_input__avx2_fma_rows2, tdm_wino_output__avx2_fma_rows2, 4, 4, 2, tdm_sgemm_packed_12x16__avx512,
             16},
    .pool2d = tdm_pool2d__avx512,
    .row_sum = tdm_row_sum__avx512,
    .row_max = tdm_row_max__avx512,
    .vunary = tdm_vunary__avx512,
    .tstore = tdm_tstore__avx512,
    .tfm = {tdm_sgemm_packed_12x32__avx512, 32, 12, tdm_softmax_row__avx512,
            tdm_layernorm_row__avx512},
    .cvw = 16,
    .cconv = tdm_cconv__avx512,
    .cdw = tdm_cdw__avx512,
    .to_blocked = tdm_to_blocked__avx512,
    .from_blocked = tdm_from_blocked__avx512,
    .cconv_pack = tdm_cconv_pack__avx512,
};
#endif

#ifdef TDM_HAVE_WASM128_KERNELS
static const tdm_kernel_set set_wasm128 = {
#ifdef __wasm_relaxed_simd__
    .name = "wasm_relaxed_simd", /* the same kernels, their multiply-adds fused (vec.h) */
#else
    .name = "wasm_simd128",
#endif
    .simd = 1,
    .sgemm = tdm_sgemm__wasm_simd128,
    .sgemm_ep = tdm_sgemm_ep__wasm_simd128,
    .sgemm_ep_pa = tdm_sgemm_ep_pa__wasm_simd128,
    .mr = 4,
    .nr = 8,
    .sgemm_pack_b = tdm_sgemm_pack_b__wasm_simd128,
    .sgemm_pb = tdm_sgemm_pb__wasm_simd128,
    .sgemm_pb_cols = tdm_sgemm_pb__wasm_simd128_cols,
    .conv_direct = tdm_conv2d_direct__wasm_simd128,
    .dw = {tdm_dwconv__wasm_simd128, tdm_dwconv_cb__wasm_simd128, 4, 2}, /* 4x4 maps fill the plane path's vectors */
    /* F(4x4) as natively: ResNet-20 runs 15-20 % faster under Node (bench/browser/node-profile.cjs), for a larger heap
     * (F(4x4) keeps 36/9 of the 3x3 weights against F(2x2)'s 16/9: ResNet-56's heap +0.35x of the model file). */
    .wino = {tdm_wino_input__wasm_simd128, tdm_wino_output__wasm_simd128, tdm_sgemm_packed__wasm_simd128, 4,
             TDM_WASM128_PACKED_NR, tdm_wino_input__wasm_simd128, tdm_wino_output__wasm_simd128, 4, 4, 1, NULL, 0},
    .pool2d = tdm_pool2d__wasm_simd128,
    .row_sum = tdm_row_sum__wasm_simd128,
    .row_max = tdm_row_max__wasm_simd128,
    .vunary = tdm_vunary__wasm_simd128,
    .tstore = tdm_tstore__wasm_simd128,
    .tfm = {tdm_sgemm_packed__wasm_simd128, TDM_WASM128_PACKED_NR,
            4, tdm_softmax_row__wasm_simd128, tdm_layernorm_row__wasm_simd128},
    .cvw = 4,
    .cconv = tdm_cconv__wasm_simd128,
    .cdw = tdm_cdw__wasm_simd128,
    .to_blocked = tdm_to_blocked__wasm_simd128,
    .from_blocked = tdm_from_blocked__wasm_simd128,
    .cconv_pack = tdm_cconv_pack__wasm_simd128,
};
#endif

#ifdef TDM_HAVE_AVX2_KERNELS
/* The OS saves the register state in XCR0's bits `mask` (the CPU's AVX flags alone do not say it does). */
static int xcr0_has(unsigned mask) {
    unsigned a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 27))) return 0; /* OSXSAVE: xgetbv is allowed */
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & mask) == mask;
}
#endif

const tdm_kernel_set *tdm_kernels_named(const char *name, const char **why_not) {
    const char *why = "not built into this binary";
    const tdm_kernel_set *k = NULL;
    if (!name) name = "";
    if (!strcmp(name, "scalar")) return &set_scalar;
#ifdef TDM_HAVE_AVX2_KERNELS
    if (!strcmp(name, "avx2") || !strcmp(name, "avx2_fma")) {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) why = "the CPU lacks AVX2 or FMA";
        else if (!xcr0_has(0x6)) why = "the OS does not save the YMM registers (XCR0)";
        else k = &set_avx2;
    }
#endif
#ifdef TDM_HAVE_AVX2_KERNELS
    if (!strcmp(name, "avx512")) {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
            !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("fma"))
            why = "the CPU lacks AVX-512 F, BW, VL or DQ";
        else if (!xcr0_has(0xE6)) why = "the OS does not save the ZMM registers (XCR0)";
        else k = &set_avx512;
    }
#endif
#ifdef TDM_HAVE_WASM128_KERNELS
    if (!strcmp(name, "wasm_simd128") || !strcmp(name, "wasm")) k = &set_wasm128;
#endif
    if (!k && why_not) *why_not = why;
    return k;
}

/* Best first. */
static const char *const set_order[] = {"avx512", "avx2_fma", "wasm_simd128", "scalar"};

static const tdm_kernel_set *chosen_set = &set_scalar;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void) {
    const char *force = getenv("TDM_KERNELS");
    const tdm_kernel_set *k = force && *force ? tdm_kernels_named(force, NULL) : NULL;
    for (size_t i = 0; !k && i < sizeof set_order / sizeof set_order[0]; i++) k = tdm_kernels_named(set_order[i], NULL);
    chosen_set = k ? k : &set_scalar;
}

/* pthread_once publishes the choice to every thread that passes through it. */
const tdm_kernel_set *tdm_kernels(void) {
    pthread_once(&chosen, choose);
    return chosen_set;
}

const char *tdm_kernel_isa(void) { return tdm_kernels()->name; }

tdm_sgemm_fn tdm_sgemm_selected(void) { return tdm_kernels()->sgemm; }

const tdm_wino_kernels *tdm_wino_selected(void) { return &tdm_kernels()->wino; }

const tdm_dw_kernels *tdm_dw_selected(void) { return &tdm_kernels()->dw; }

tdm_conv2d_direct_fn tdm_conv2d_direct_selected(void) { return tdm_kernels()->conv_direct; }

void tdm_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
               const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    tdm_kernels()->sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void tdm_sgemm_ep(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                  size_t ldc, const tdm_gemm_ep *ep) {
    tdm_kernels()->sgemm_ep(m, n, k, a, lda, b, ldb, c, ldc, ep);
}

void tdm_sgemm_ep_pa(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb, float *c,
                     size_t ldc, const tdm_gemm_ep *ep) {
    tdm_kernels()->sgemm_ep_pa(m0, m, n, k, ap, b, ldb, c, ldc, ep);
}

size_t tdm_sgemm_mr(void) { return tdm_kernels()->mr; }

void tdm_sgemm_pack_a(const float *a, size_t m, size_t k, size_t mr, float *out) {
    for (size_t i0 = 0; i0 < m; i0 += mr) {
        size_t rows = m - i0 < mr ? m - i0 : mr;
        float *blk = out + i0 * k;
        for (size_t p = 0; p < k; p++)
            for (size_t r = 0; r < rows; r++) blk[p * rows + r] = a[(i0 + r) * k + p];
    }
}

void tdm_sgemm_unpack_b(const float *bp, size_t k, size_t n, float *bt) {
    const size_t nr = tdm_kernels()->nr;
    for (size_t p0 = 0; p0 < k; p0 += TDM_SGEMM_KC) {
        size_t kc = k - p0 < TDM_SGEMM_KC ? k - p0 : TDM_SGEMM_KC;
        for (size_t j0 = 0; j0 < n; j0 += nr, bp += kc * nr)
            for (size_t p = 0; p < kc; p++)
                for (size_t j = 0; j < nr && j0 + j < n; j++) bt[(j0 + j) * k + p0 + p] = bp[p * nr + j];
    }
}

void tdm_sgemm_unpack_a(const float *ap, size_t m, size_t k, size_t mr, float *a) {
    for (size_t i0 = 0; i0 < m; i0 += mr) {
        size_t rows = m - i0 < mr ? m - i0 : mr;
        const float *blk = ap + i0 * k;
        for (size_t p = 0; p < k; p++)
            for (size_t r = 0; r < rows; r++) a[(i0 + r) * k + p] = blk[p * rows + r];
    }
}

/* The loops below run in blocks of 8 with a fixed inner trip count: that is what lets GCC and Clang vectorise them at
 * -O2 (their cheap cost model skips loops that would need a scalar remainder), leaving a short scalar tail. */
#define ACT_LOOP(EXPR)                                                                                               \
    do {                                                                                                             \
        size_t i_ = 0;                                                                                               \
        for (; i_ + 8 <= n; i_ += 8)                                                                                 \
            for (int q_ = 0; q_ < 8; q_++) {                                                                         \
                float v = y[i_ + q_];                                                                                \
                y[i_ + q_] = (EXPR);                                                                                 \
            }                                                                                                        \
        for (; i_ < n; i_++) {                                                                                       \
            float v = y[i_];                                                                                         \
            y[i_] = (EXPR);                                                                                          \
        }                                                                                                            \
    } while (0)

static inline float act_clampf(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

void tdm_act(float *y, size_t n, int act, float alpha, float beta) {
    switch (act) {
    case TDM_ACT_RELU:
        ACT_LOOP(v > 0.0f ? v : 0.0f);
        break;
    case TDM_ACT_CLIP:
        ACT_LOOP(act_clampf(v, alpha, beta));
        break;
    case TDM_ACT_LEAKY_RELU:
        ACT_LOOP(v < 0.0f ? alpha * v : v);
        break;
    case TDM_ACT_HARD_SWISH: /* ONNX HardSwish: x * max(0, min(1, x/6 + 1/2)) */
        ACT_LOOP(v * act_clampf(v * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f));
        break;
    case TDM_ACT_SIGMOID: tdm_kernels()->vunary(TDM_VOP_SIGMOID, y, y, n, 0, 0); break;
    case TDM_ACT_SILU: tdm_kernels()->vunary(TDM_VOP_SILU, y, y, n, 0, 0); break;
    case TDM_ACT_GELU: tdm_kernels()->vunary(TDM_VOP_GELU, y, y, n, 0, 0); break;
    case TDM_ACT_HARD_SIGMOID: tdm_kernels()->vunary(TDM_VOP_HARD_SIGMOID, y, y, n, alpha, beta); break;
    case TDM_ACT_GELU_TANH: tdm_kernels()->vunary(TDM_VOP_GELU_TANH, y, y, n, 0, 0); break;
    default: /* TDM_ACT_NONE */
        break;
    }
}

const char *tdm_act_suffix(int act) {
    static const char *const names[TDM_ACT_COUNT] = {"",          "+Relu", "+Clip", "+LeakyRelu", "+HardSwish",
                                                     "+Sigmoid",  "+SiLU", "+Gelu", "+HardSigmoid",
                                                     "+GeluTanh"};
    return act > 0 && act < TDM_ACT_COUNT ? names[act] : "";
}

void tdm_bias_act(float *y, size_t n, float bias, int act, float alpha, float beta) {
    if (bias != 0.0f) ACT_LOOP(v + bias);
    tdm_act(y, n, act, alpha, beta);
}
