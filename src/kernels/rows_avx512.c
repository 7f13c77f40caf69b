/* rows_avx512.c - the row kernels (rows_vec.inc) with AVX-512, 16 lanes and masked tails. Compiled with the AVX-512
 * flags; dispatch.c checks the CPU and the OS first. */
#if defined(__x86_64__)
#define TDM_VEC_AVX512
#define ROWS_SUFFIX _avx512
#include "rows_vec.inc"
#endif
