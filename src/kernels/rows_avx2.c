/* rows_avx2.c - the row kernels (rows_vec.inc) with AVX2+FMA, 8 lanes. Only the *_avx2.c files get -mavx2 -mfma;
 * dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define ROWS_SUFFIX _avx2_fma
#include "rows_vec.inc"
#endif
