/* nchwc_wasm128.c - the blocked-layout kernels (nchwc_vec.inc) for WebAssembly SIMD128: blocks of 4 channels. Built
 * only by emcc with -msimd128 (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define NCHWC_SUFFIX _wasm_simd128
#include "nchwc_vec.inc"
#endif
