/* gemm_n16_avx512.c - the packed GEMM of gemm_vec.inc with AVX-512 on one-vector panels: a 12 x 16 tile. Winograd
 * takes it where its tiles fill 16-wide panels but not 32-wide ones (the 7x7 and 14x14 maps of ImageNet nets: 16 tiles
 * of F(2x2) on a 7x7 map would leave half of a 32-wide panel empty). Only the packed entry point is used; the file
 * builds the others too, as gemm_vec.inc defines them all. Compiled with the AVX-512 flags; dispatch.c checks first. */
#if defined(__x86_64__)
#define TDM_VEC_AVX512
#define TDM_GEMM_MR 12
#define TDM_GEMM_NV 1
#define GEMM_FN tdm_sgemm_12x16__avx512
#define GEMM_PACKED_FN tdm_sgemm_packed_12x16__avx512
#define GEMM_EP_FN tdm_sgemm_ep_12x16__avx512
#define GEMM_EP_PA_FN tdm_sgemm_ep_pa_12x16__avx512
#include "gemm_vec.inc"
#endif
