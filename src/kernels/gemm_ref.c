/* gemm_ref.c - the reference SGEMM: the obvious triple loop with double accumulation, the ground truth that faster
 * variants are tested against. Not used on hot paths. */
#include "kernels.h"

void tdm_sgemm_ref(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                   const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < k; p++) {
                float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                acc += (double)av * (double)bv;
            }
            double r = (double)alpha * acc;
            if (beta != 0.0f) r += (double)beta * (double)c[i * ldc + j];
            c[i * ldc + j] = (float)r;
        }
    }
}
