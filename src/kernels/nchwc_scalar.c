/* nchwc_scalar.c - the blocked-layout kernels (nchwc_vec.inc) in portable C with one-lane vectors: blocks of one
 * channel, i.e. the plain layout; the reference point of the kernel tests. */
#define NCHWC_SUFFIX _scalar
#include "nchwc_vec.inc"
