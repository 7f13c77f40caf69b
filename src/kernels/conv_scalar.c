/* conv_scalar.c - the direct stride-1 convolution (conv_vec.inc) in portable C (one-lane vectors): the fallback that
 * every target builds, and the variant the kernel tests compare the SIMD ones against, together with im2col + GEMM. */
#define CONV_FN tdm_conv2d_direct__scalar
#include "conv_vec.inc"
