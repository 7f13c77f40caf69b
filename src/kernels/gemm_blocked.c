/* gemm_blocked.c - portable cache-blocked SGEMM in plain C11. The microkernel keeps an MR x NR tile of C in local
 * arrays and its inner loops have compile-time trip counts, which GCC and Clang turn into SIMD code at -O2 for any
 * target (SSE2, NEON, wasm simd128) without intrinsics. Panels of op(B) are packed into a small stack buffer (8 KiB),
 * so the routine needs no workspace. */
#include <string.h>

#include "kernels.h"

#define MR 4   /* rows of C per microkernel call                                                   */
#define NR 8   /* columns of C per microkernel call (two 4-float vectors)                           */
#define KC 256 /* depth of one packed B panel: KC x NR floats = 8 KiB, stays in L1                  */

/* Copy op(B)[p0:p0+kc, j0:j0+nr] into bp as kc rows of NR floats, zero-padding columns beyond nr, so the microkernel
 * reads one contiguous, aligned stream whatever the layout of B. */
static void pack_b(float *restrict bp, const float *b, size_t ldb, int trans_b, size_t p0, size_t kc, size_t j0,
                   size_t nr) {
    if (!trans_b) {
        const float *src = b + p0 * ldb + j0;
        if (nr == NR) {
            for (size_t p = 0; p < kc; p++) memcpy(bp + p * NR, src + p * ldb, NR * sizeof(float));
        } else {
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                for (; j < nr; j++) bp[p * NR + j] = src[p * ldb + j];
                for (; j < NR; j++) bp[p * NR + j] = 0.0f;
            }
        }
    } else {
        /* op(B)[p][j] = B[j][p]: walk each source row contiguously. */
        const float *src = b + j0 * ldb + p0;
        for (size_t j = 0; j < nr; j++)
            for (size_t p = 0; p < kc; p++) bp[p * NR + j] = src[j * ldb + p];
        for (size_t j = nr; j < NR; j++)
            for (size_t p = 0; p < kc; p++) bp[p * NR + j] = 0.0f;
    }
}

/* acc[MR][NR] = sum over p < kc of a_i[p * csa] * bp[p * ldbp + j]. Rows are passed as pointers so that a short last
 * block of rows can repeat a valid row (its results are then discarded by the caller). */
static inline void micro_kernel(size_t kc, const float *a0, const float *a1, const float *a2, const float *a3,
                                size_t csa, const float *restrict bp, size_t ldbp, float acc[MR][NR]) {
    float c0[NR] = {0}, c1[NR] = {0}, c2[NR] = {0}, c3[NR] = {0};
    for (size_t p = 0; p < kc; p++) {
        const float *restrict bb = bp + p * ldbp;
        const float x0 = a0[p * csa], x1 = a1[p * csa], x2 = a2[p * csa], x3 = a3[p * csa];
        /* Fully unrolled, the four accumulator rows stay in registers (GCC otherwise keeps them on the stack). */
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            c0[j] += x0 * bb[j];
            c1[j] += x1 * bb[j];
            c2[j] += x2 * bb[j];
            c3[j] += x3 * bb[j];
        }
    }
    memcpy(acc[0], c0, sizeof c0);
    memcpy(acc[1], c1, sizeof c1);
    memcpy(acc[2], c2, sizeof c2);
    memcpy(acc[3], c3, sizeof c3);
}

/* C tile (mr x nr) = alpha * acc + beta * C, with beta == 0 meaning C is not read. */
static void store_tile(float acc[MR][NR], float *c, size_t ldc, size_t mr, size_t nr, float alpha, float beta) {
    for (size_t i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        if (beta == 0.0f)
            for (size_t j = 0; j < nr; j++) cr[j] = alpha * acc[i][j];
        else if (beta == 1.0f)
            for (size_t j = 0; j < nr; j++) cr[j] += alpha * acc[i][j];
        else
            for (size_t j = 0; j < nr; j++) cr[j] = alpha * acc[i][j] + beta * cr[j];
    }
}

/* One KC-deep slice of the product over all of C. The loop over rows is innermost so each packed B panel is reused
 * across the whole height of A; A is read in place through (rsa, csa) strides. */
static void gemm_slice(int trans_a, int trans_b, size_t m, size_t n, size_t p0, size_t kc, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
                       float *restrict bp) {
    const size_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    const float *abase = trans_a ? a + p0 * lda : a + p0;
    for (size_t j0 = 0; j0 < n; j0 += NR) {
        size_t nr = n - j0 < NR ? n - j0 : NR;
        /* Packing pays off when the panel is reused by many row blocks; for short A (few output channels) a full
         * panel of plain B is read in place instead. */
        const float *panel = bp;
        size_t ldp = NR;
        if (!trans_b && nr == NR && m <= 8 * MR) {
            panel = b + p0 * ldb + j0;
            ldp = ldb;
        } else {
            pack_b(bp, b, ldb, trans_b, p0, kc, j0, nr);
        }
        for (size_t i0 = 0; i0 < m; i0 += MR) {
            size_t mr = m - i0 < MR ? m - i0 : MR;
            const float *r0 = abase + i0 * rsa;
            const float *r1 = r0 + (mr > 1 ? 1 : 0) * rsa;
            const float *r2 = r0 + (mr > 2 ? 2 : 0) * rsa;
            const float *r3 = r0 + (mr > 3 ? 3 : 0) * rsa;
            float acc[MR][NR];
            if (csa == 1)
                micro_kernel(kc, r0, r1, r2, r3, 1, panel, ldp, acc);
            else
                micro_kernel(kc, r0, r1, r2, r3, csa, panel, ldp, acc);
            store_tile(acc, c + i0 * ldc + j0, ldc, mr, nr, alpha, beta);
        }
    }
}

void tdm_sgemm_blocked(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                       size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == 0.0f) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    _Alignas(64) float bp[KC * NR];
    for (size_t p0 = 0; p0 < k; p0 += KC) {
        size_t kc = k - p0 < KC ? k - p0 : KC;
        gemm_slice(trans_a, trans_b, m, n, p0, kc, alpha, a, lda, b, ldb, p0 == 0 ? beta : 1.0f, c, ldc, bp);
    }
}
