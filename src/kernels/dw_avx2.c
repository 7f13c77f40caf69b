/* dw_avx2.c - the depthwise convolution (dw_vec.inc) with AVX2+FMA: 8 output pixels per vector. Only this file is
 * compiled with -mavx2 -mfma; dispatch.c checks the CPU first. */
#if defined(__x86_64__) || defined(__i386__)
#define TDM_VEC_AVX2
#define DW_FN tdm_dwconv__avx2_fma
#define DWCB_FN tdm_dwconv_cb__avx2_fma
#include "dw_vec.inc"
#endif
