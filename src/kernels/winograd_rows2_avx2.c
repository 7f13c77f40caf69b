/* winograd_rows2_avx2.c - Winograd transforms (winograd_vec.inc) with AVX2 for maps whose rows hold 4 tiles or fewer
 * (F(2x2) on 8x8 outputs, F(4x4) on 16x16): each 8-wide vector covers 4 tiles of two tile rows (WINO_ROWS 2), where
 * the 8-wide transforms would compute as many tiles again for nothing. Compiled with -mavx2 -mfma like the other
 * *_avx2.c files; dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define WINO_ROWS 2
#define WINO_SUFFIX __avx2_fma_rows2
#include "winograd_vec.inc"
#endif
