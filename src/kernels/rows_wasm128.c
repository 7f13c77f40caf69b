/* rows_wasm128.c - the row kernels (rows_vec.inc) for WebAssembly SIMD128, 4 lanes. Built only by emcc with -msimd128
 * (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define ROWS_SUFFIX _wasm_simd128
#include "rows_vec.inc"
#endif
