/* gemm_avx512.c - the packed SGEMM (gemm_vec.inc) for x86-64 with AVX-512 (F, with BW/VL/DQ checked too): a 12 x 32
 * register tile, 24 of the 32 zmm accumulators, two B vectors and a broadcast; partial rows through masked loads and
 * stores. Only the *_avx512.c files are compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma; dispatch.c
 * calls them only when the CPU reports those and the OS saves the ZMM state (XCR0). */
#if defined(__x86_64__)
#define TDM_VEC_AVX512
#define TDM_GEMM_MR 12
#define TDM_GEMM_NV 2
#define GEMM_FN tdm_sgemm_12x32__avx512
#define GEMM_PACKED_FN tdm_sgemm_packed_12x32__avx512
#define GEMM_EP_FN tdm_sgemm_ep__avx512
#define GEMM_EP_PA_FN tdm_sgemm_ep_pa__avx512
#define GEMM_PB_FN tdm_sgemm_pb__avx512
#define GEMM_PACK_B_FN tdm_sgemm_pack_b__avx512
#include "gemm_vec.inc"
#endif
