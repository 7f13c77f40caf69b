/* dw_scalar.c - the depthwise convolution (dw_vec.inc) in portable C (one-lane vectors): the fallback and the
 * reference point of the kernel tests. */
#define DW_FN tdm_dwconv__scalar
#define DWCB_FN tdm_dwconv_cb__scalar
#include "dw_vec.inc"
