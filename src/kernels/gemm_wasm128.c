/* gemm_wasm128.c - the packed SGEMM (gemm_vec.inc) for WebAssembly SIMD128: a 4 x 12 register tile of 4-float
 * vectors. Built only by emcc with -msimd128 (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define GEMM_FN tdm_sgemm_4x12__wasm_simd128
#define GEMM_PACKED_FN tdm_sgemm_packed_4x12__wasm_simd128
#include "gemm_vec.inc"
#endif
