/* dispatch.c - picks the kernel variants for this CPU and forwards to them; the one place SIMD variants plug in. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/internal.h"
#include "kernels.h"

/* The variant set is chosen once, on first use: AVX2+FMA where the CPU has both (checked at run time, since the
 * binary is built for baseline x86-64), WebAssembly SIMD128 when emcc builds with -msimd128 (a wasm engine that
 * lacks SIMD rejects the whole module, so there is nothing to check at run time), else the portable blocked GEMM.
 * TDM_KERNELS=scalar forces the portable path, for comparisons and for tests of the fallback. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TDM_HAVE_AVX2_KERNELS 1
#endif
#if defined(__wasm_simd128__)
#define TDM_HAVE_WASM128_KERNELS 1
#endif

static tdm_sgemm_fn sgemm_impl = tdm_sgemm_blocked;
static tdm_sgemm_ep_fn sgemm_ep_impl = tdm_sgemm_ep__scalar;
static tdm_sgemm_ep_pa_fn sgemm_ep_pa_impl = tdm_sgemm_ep_pa__scalar;
static size_t sgemm_mr = 4; /* rows of the GEMM tile of the variant above */
static tdm_conv2d_direct_fn conv_impl = tdm_conv2d_direct__scalar;
static tdm_dw_kernels dw = {tdm_dwconv__scalar, tdm_dwconv_cb__scalar, 1, 0};
static tdm_wino_kernels wino = {tdm_wino_input__scalar,  tdm_wino_output__scalar, tdm_sgemm_packed_4x3__scalar, 1, 3,
                                tdm_wino_input__scalar, tdm_wino_output__scalar, 1, 2, 1};
static const char *isa_name = "scalar";
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void) {
#ifdef TDM_HAVE_AVX2_KERNELS
    const char *force = getenv("TDM_KERNELS");
    __builtin_cpu_init();
    if (!(force && strcmp(force, "scalar") == 0) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        sgemm_impl = tdm_sgemm_6x16__avx2_fma;
        sgemm_ep_impl = tdm_sgemm_ep__avx2_fma;
        sgemm_ep_pa_impl = tdm_sgemm_ep_pa__avx2_fma;
        sgemm_mr = 6;
        conv_impl = tdm_conv2d_direct__avx2_fma;
        dw.plane = tdm_dwconv__avx2_fma;
        dw.cb = tdm_dwconv_cb__avx2_fma;
        dw.vw = 8;
        dw.cb_max_wo = 8; /* 8x8 maps too: 10-15 % less time than a vector per row (MobileNetV2, per layer) */
        wino.input = tdm_wino_input__avx2_fma;
        wino.output = tdm_wino_output__avx2_fma;
        wino.gemm = tdm_sgemm_packed_6x16__avx2_fma;
        wino.vw = 8;
        wino.nr = 16;
        wino.input_narrow = tdm_wino_input__avx2_fma_rows2;
        wino.output_narrow = tdm_wino_output__avx2_fma_rows2;
        wino.vw_narrow = 4;
        wino.rows_narrow = 2;
        /* F(4x4,3x3) where its tiles fill the panels (32x32 and 16x16 maps), with the points 0, +-3/2, +-3/4: the
         * usual 0, +-1, +-2 doubled the rounding error (cifar10_resnet20's worst golden element at 1.29 of the
         * tolerance); these leave it at 0.26 against F(2x2)'s 0.58 (test_models prints it). */
        wino.max_m = 4;
        isa_name = "avx2_fma";
    }
#endif
#ifdef TDM_HAVE_WASM128_KERNELS
    const char *force = getenv("TDM_KERNELS");
    if (!(force && strcmp(force, "scalar") == 0)) {
        sgemm_impl = tdm_sgemm__wasm_simd128;
        sgemm_ep_impl = tdm_sgemm_ep__wasm_simd128;
        sgemm_ep_pa_impl = tdm_sgemm_ep_pa__wasm_simd128;
        sgemm_mr = 4;
        conv_impl = tdm_conv2d_direct__wasm_simd128;
        dw.plane = tdm_dwconv__wasm_simd128;
        dw.cb = tdm_dwconv_cb__wasm_simd128;
        dw.vw = 4;
        dw.cb_max_wo = 2; /* 4x4 maps fill the plane path's vectors */
        wino.input = tdm_wino_input__wasm_simd128;
        wino.output = tdm_wino_output__wasm_simd128;
        wino.gemm = tdm_sgemm_packed__wasm_simd128;
        wino.vw = 4;
        wino.nr = tdm_sgemm_packed_nr__wasm_simd128;
        wino.input_narrow = tdm_wino_input__wasm_simd128;
        wino.output_narrow = tdm_wino_output__wasm_simd128;
        wino.vw_narrow = 4;
        /* F(4x4) as natively: ResNet-20 runs 15-20 % faster under Node (bench/browser/node-profile.cjs), for a
         * larger heap (F(4x4) keeps 36/9 of the 3x3 weights against F(2x2)'s 16/9: ResNet-56's heap +0.35x of the
         * model file, now 2.91x in all). */
        wino.max_m = 4;
        isa_name = "wasm_simd128";
    }
#endif
}

/* pthread_once publishes the choice to every thread that passes through it. */
static inline tdm_sgemm_fn sgemm_variant(void) {
    pthread_once(&chosen, choose);
    return sgemm_impl;
}

const char *tdm_kernel_isa(void) {
    sgemm_variant();
    return isa_name;
}

tdm_sgemm_fn tdm_sgemm_selected(void) { return sgemm_variant(); }

const tdm_wino_kernels *tdm_wino_selected(void) {
    pthread_once(&chosen, choose);
    return &wino;
}

const tdm_dw_kernels *tdm_dw_selected(void) {
    pthread_once(&chosen, choose);
    return &dw;
}

tdm_conv2d_direct_fn tdm_conv2d_direct_selected(void) {
    sgemm_variant(); /* makes the choice, conv_impl included, before the first use */
    return conv_impl;
}

void tdm_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
               const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    sgemm_variant()(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void tdm_sgemm_ep(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                  size_t ldc, const tdm_gemm_ep *ep) {
    sgemm_variant();
    sgemm_ep_impl(m, n, k, a, lda, b, ldb, c, ldc, ep);
}

void tdm_sgemm_ep_pa(size_t m0, size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb, float *c,
                     size_t ldc, const tdm_gemm_ep *ep) {
    sgemm_variant();
    sgemm_ep_pa_impl(m0, m, n, k, ap, b, ldb, c, ldc, ep);
}

size_t tdm_sgemm_mr(void) {
    sgemm_variant();
    return sgemm_mr;
}

void tdm_sgemm_pack_a(const float *a, size_t m, size_t k, size_t mr, float *out) {
    for (size_t i0 = 0; i0 < m; i0 += mr) {
        size_t rows = m - i0 < mr ? m - i0 : mr;
        float *blk = out + i0 * k;
        for (size_t p = 0; p < k; p++)
            for (size_t r = 0; r < rows; r++) blk[p * rows + r] = a[(i0 + r) * k + p];
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
    case TDM_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    default: /* TDM_ACT_NONE */
        break;
    }
}

void tdm_bias_act(float *y, size_t n, float bias, int act, float alpha, float beta) {
    if (bias != 0.0f) ACT_LOOP(v + bias);
    tdm_act(y, n, act, alpha, beta);
}
