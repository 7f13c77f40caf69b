/* winograd4_avx2.c - Winograd F(2x2,3x3) transforms (winograd_vec.inc) with 4-wide x86 vectors: 4 tiles per vector,
 * for maps of 8x8 outputs or less, where a row holds 4 tiles and the 8-wide transforms would compute as many tiles
 * again for nothing. Compiled with -mavx2 -mfma like the other *_avx2.c files; dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_X86_128
#define WINO_SUFFIX __avx2_fma_128
#include "winograd_vec.inc"
#endif
