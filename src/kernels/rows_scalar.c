/* rows_scalar.c - the row kernels (rows_vec.inc: pooling, transformer row math) in portable C, one-lane vectors: the
 * fallback and the reference point of the kernel tests. */
#define ROWS_SUFFIX _scalar
#include "rows_vec.inc"
