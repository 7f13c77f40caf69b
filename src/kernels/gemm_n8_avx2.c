/* gemm_n8_avx2.c - a second packed GEMM (gemm_vec.inc, GEMM_PACKED_ONLY) for AVX2: a 12 x 8 register tile (12
 * accumulators, one B vector and a broadcast), on panels of 8 columns instead of 16. Winograd runs it on maps whose
 * tiles make one 16-wide panel (16x16 with F(4x4), 8x8 with F(2x2)) when two threads share an image: each thread then
 * takes its own 8 tiles through the input transform, the GEMMs and the output transform, where with 16-wide panels
 * both would transform all 16 tiles and split the output channels. Only *_avx2.c files get -mavx2 -mfma. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define TDM_GEMM_MR 12
#define TDM_GEMM_NV 1
#define GEMM_PACKED_ONLY
#define GEMM_PACKED_FN tdm_sgemm_packed_12x8__avx2_fma
#include "gemm_vec.inc"
#endif
