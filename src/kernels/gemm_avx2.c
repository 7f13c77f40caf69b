/* gemm_avx2.c - the packed SGEMM (gemm_vec.inc) for x86-64 with AVX2 and FMA: a 4 x 24 register tile. Only this
 * file is compiled with -mavx2 -mfma; dispatch.c calls it only when the CPU has both. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define GEMM_FN tdm_sgemm_4x24__avx2_fma
#define GEMM_PACKED_FN tdm_sgemm_packed_4x24__avx2_fma
#include "gemm_vec.inc"
#endif
