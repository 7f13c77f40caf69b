/* conv_avx512.c - the direct convolution (conv_vec.inc) with AVX-512: up to 6 output channels x 32 output pixels per
 * register tile (12 x 16 on rows no wider than a vector). Compiled with the AVX-512 flags; dispatch.c checks first. */
#if defined(__x86_64__)
#define TDM_VEC_AVX512
#define CONV_FN tdm_conv2d_direct__avx512
#include "conv_vec.inc"
#endif
