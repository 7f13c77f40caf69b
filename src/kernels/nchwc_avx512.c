/* nchwc_avx512.c - the blocked-layout kernels (nchwc_vec.inc) with AVX-512: blocks of 16 channels, dense tiles of 32
 * channels x 12 pixels (24 of the 32 zmm registers accumulate). Compiled with the AVX-512 flags; dispatch.c checks. */
#if defined(__x86_64__)
#define TDM_VEC_AVX512
#define NCHWC_SUFFIX _avx512
#include "nchwc_vec.inc"
#endif
