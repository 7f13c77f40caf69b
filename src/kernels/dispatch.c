/* dispatch.c - picks the kernel variants for this CPU and forwards to them; the one place SIMD variants plug in. */
#include <math.h>

#include "../engine/internal.h"
#include "kernels.h"

/* Today every target gets the portable blocked GEMM; per-ISA variants will be chosen here at start-up. */
static const tdm_sgemm_fn sgemm_impl = tdm_sgemm_blocked;

const char *tdm_kernel_isa(void) { return "scalar"; }

tdm_sgemm_fn tdm_sgemm_selected(void) { return sgemm_impl; }

void tdm_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
               const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    sgemm_impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void tdm_act(float *y, size_t n, int act, float alpha, float beta) {
    switch (act) {
    case TDM_ACT_NONE:
        break;
    case TDM_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case TDM_ACT_CLIP:
        for (size_t i = 0; i < n; i++) {
            float v = y[i] < alpha ? alpha : y[i];
            y[i] = v > beta ? beta : v;
        }
        break;
    case TDM_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? alpha * y[i] : y[i];
        break;
    case TDM_ACT_HARD_SWISH:
        /* ONNX HardSwish: x * max(0, min(1, x/6 + 1/2)) */
        for (size_t i = 0; i < n; i++) {
            float t = y[i] * (1.0f / 6.0f) + 0.5f;
            t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
            y[i] = y[i] * t;
        }
        break;
    case TDM_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    default:
        break;
    }
}

void tdm_bias_act(float *y, size_t n, float bias, int act, float alpha, float beta) {
    if (bias != 0.0f)
        for (size_t i = 0; i < n; i++) y[i] += bias;
    tdm_act(y, n, act, alpha, beta);
}
