/* winograd_avx2.c - Winograd F(2x2,3x3) transforms (winograd_vec.inc) with AVX2: 8 tiles per vector. Only this file is
 * compiled with -mavx2 -mfma; dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define WINO_SUFFIX __avx2_fma
#include "winograd_vec.inc"
#endif
