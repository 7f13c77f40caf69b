/* kernels.h - the engine's compute kernels: single-threaded, allocation-free float32 routines (GEMM variants, the
 * dispatcher that picks one for this CPU, and the bias+activation epilogue). Ops own threading and scratch memory. */
#ifndef TDM_KERNELS_H
#define TDM_KERNELS_H

#include <stddef.h>

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

/* The dispatcher every op calls: forwards to the best variant available for this CPU (today: tdm_sgemm_blocked;
 * SIMD microkernels will slot in here). */
void tdm_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
               const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* The variant tdm_sgemm forwards to, for benchmarks and tests. */
tdm_sgemm_fn tdm_sgemm_selected(void);

/* Fused epilogue over one row of n outputs: y = act(y + bias). act is a TDM_ACT_* code from internal.h (NONE, RELU,
 * CLIP with [alpha, beta] = [min, max], LEAKY_RELU with slope alpha, HARD_SWISH, SIGMOID). */
void tdm_bias_act(float *y, size_t n, float bias, int act, float alpha, float beta);

/* Apply act(y) in place (no bias), same codes as tdm_bias_act. */
void tdm_act(float *y, size_t n, int act, float alpha, float beta);

#endif /* TDM_KERNELS_H */
