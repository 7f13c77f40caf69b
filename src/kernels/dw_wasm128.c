/* dw_wasm128.c - the depthwise convolution (dw_vec.inc) for WebAssembly SIMD128: 4 output pixels per vector. Built
 * only by emcc with -msimd128 (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define DW_FN tdm_dwconv__wasm_simd128
#define DWCB_FN tdm_dwconv_cb__wasm_simd128
#include "dw_vec.inc"
#endif
