/* winograd_wasm128.c - Winograd F(2x2,3x3) transforms (winograd_vec.inc) for WebAssembly SIMD128: 4 tiles per
 * vector. Built only by emcc with -msimd128 (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define WINO_SUFFIX __wasm_simd128
#include "winograd_vec.inc"
#endif
