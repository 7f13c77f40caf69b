/* conv_avx2.c - the direct stride-1 convolution (conv_vec.inc) for x86-64 with AVX2 and FMA: 6 output channels x 16
 * output pixels per register tile. Only this file is compiled with -mavx2 -mfma; dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define CONV_FN tdm_conv2d_direct__avx2_fma
#include "conv_vec.inc"
#endif
