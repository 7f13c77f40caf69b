/* nchwc_avx2.c - the blocked-layout kernels (nchwc_vec.inc) with AVX2+FMA: blocks of 8 channels, dense tiles of 16
 * channels x 6 pixels. Only the *_avx2.c files get -mavx2 -mfma; dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define NCHWC_SUFFIX _avx2_fma
#include "nchwc_vec.inc"
#endif
