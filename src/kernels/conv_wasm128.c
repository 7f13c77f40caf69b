/* conv_wasm128.c - the direct stride-1 convolution (conv_vec.inc) for WebAssembly SIMD128: 4 output pixels per
 * vector. Built only by emcc with -msimd128 (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define CONV_FN tdm_conv2d_direct__wasm_simd128
#include "conv_vec.inc"
#endif
