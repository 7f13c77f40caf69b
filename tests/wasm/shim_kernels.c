/* shim_kernels.c - links tests/test_kernels.c for WebAssembly. The test names the AVX2 GEMM, and calls it only when
 * tdm_kernel_isa() says "avx2_fma", which a wasm build never does (it says "wasm_simd128"); the wasm build has no AVX2
 * kernels, so this definition only satisfies the linker and aborts loudly if it is ever reached. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernels.h"

void tdm_sgemm_4x24__avx2_fma(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
    (void)beta, (void)c, (void)ldc;
    fprintf(stderr, "test_kernels (wasm): the AVX2 GEMM was called in a WebAssembly build\n");
    abort();
}
