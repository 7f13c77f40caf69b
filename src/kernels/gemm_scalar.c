/* gemm_scalar.c - the packed-B GEMM of gemm_vec.inc in portable C (one-lane vectors, panels 3 floats wide), for the
 * Winograd path on targets without a SIMD variant. The general-purpose portable GEMM is gemm_blocked.c. */
#define GEMM_FN tdm_sgemm_4x3__scalar
#define GEMM_PACKED_FN tdm_sgemm_packed_4x3__scalar
#define GEMM_EP_FN tdm_sgemm_ep__scalar
#define GEMM_EP_PA_FN tdm_sgemm_ep_pa__scalar
#define GEMM_PB_FN tdm_sgemm_pb__scalar
#define GEMM_PACK_B_FN tdm_sgemm_pack_b__scalar
#include "gemm_vec.inc"
