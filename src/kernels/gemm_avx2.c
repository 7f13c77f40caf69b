/* gemm_avx2.c - the packed SGEMM (gemm_vec.inc) for x86-64 with AVX2 and FMA: a 6 x 16 register tile (12 accumulators,
 * two B vectors and a broadcast: 15 of the 16 ymm registers). Measured against a 4 x 24 tile on the shapes of CIFAR
 * nets (bench: 1x1 convolutions, im2col GEMMs, Winograd's 16 GEMMs), it is 1.1x to 3.6x faster: 4 x 24 needs all 16
 * registers and spills, and its 24-wide panels waste columns on n = 16, 64 and 256. Only this file is compiled with
 * -mavx2 -mfma; dispatch.c calls it only when the CPU has both. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define TDM_GEMM_MR 6
#define TDM_GEMM_NV 2
#define GEMM_FN tdm_sgemm_6x16__avx2_fma
#define GEMM_PACKED_FN tdm_sgemm_packed_6x16__avx2_fma
#define GEMM_EP_FN tdm_sgemm_ep__avx2_fma
#define GEMM_EP_PA_FN tdm_sgemm_ep_pa__avx2_fma
#define GEMM_PB_FN tdm_sgemm_pb__avx2_fma
#define GEMM_PACK_B_FN tdm_sgemm_pack_b__avx2_fma
#include "gemm_vec.inc"
#endif
