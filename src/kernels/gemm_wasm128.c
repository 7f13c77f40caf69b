/* gemm_wasm128.c - the packed SGEMM (gemm_vec.inc) for WebAssembly SIMD128: 4-float vectors, 4 rows x NV vectors per
 * register tile (NV from vec.h's TDM_GEMM_NV where gemm_vec.inc honours it, else its own 3). Built only by emcc with
 * -msimd128 (mk/wasm.mk); elsewhere this file is empty. */
#if defined(__wasm_simd128__)
#define TDM_VEC_WASM128
#define GEMM_FN tdm_sgemm__wasm_simd128
#define GEMM_PACKED_FN tdm_sgemm_packed__wasm_simd128
#define GEMM_EP_FN tdm_sgemm_ep__wasm_simd128
#define GEMM_EP_PA_FN tdm_sgemm_ep_pa__wasm_simd128
#define GEMM_PB_FN tdm_sgemm_pb__wasm_simd128
#define GEMM_PACK_B_FN tdm_sgemm_pack_b__wasm_simd128
#include "gemm_vec.inc"

/* The panel width the packed GEMM expects, for the Winograd transforms that pack its B (dispatch.c's table). */
_Static_assert(NR == TDM_WASM128_PACKED_NR, "kernels.h's TDM_WASM128_PACKED_NR must be gemm_vec.inc's NR");
#endif
