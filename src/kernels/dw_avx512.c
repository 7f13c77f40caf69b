/* dw_avx512.c - the depthwise convolution (dw_vec.inc) with AVX-512: 16 output pixels per vector (plane path), or one
 * pixel of 16 channels (channel-block path). Compiled with the AVX-512 flags; dispatch.c checks the CPU first. */
#if defined(__x86_64__)
#define TDM_VEC_AVX512
#define DW_FN tdm_dwconv__avx512
#define DWCB_FN tdm_dwconv_cb__avx512
#include "dw_vec.inc"
#endif
