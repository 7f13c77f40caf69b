/* shape_util.h - helpers shared by the data-movement op files (shape_ops.c, layout.c), defined in shape_ops.c. */
#ifndef TDM_SHAPE_UTIL_H
#define TDM_SHAPE_UTIL_H

#include "ops.h"

/* Largest rank the strided copy takes (Tile views each axis as two). */
#define SC_MAX (2 * TDM_MAX_RANK)

/* Element size of v, or a node error naming `what` for dtypes without fixed-size elements (string). */
tdm_status shape_elem_size(const tdm_node *n, const tdm_value *v, const char *what, size_t *es);
/* TDM_UNSUPPORTED unless v is constant: shape-determining inputs must be known at plan time. */
tdm_status shape_need_const(const tdm_node *n, const tdm_value *v, const char *what);
/* Read an optional constant integer input (v may be NULL: *count = 0). */
tdm_status shape_opt_const_ints(const tdm_node *n, const tdm_value *v, const char *what, int64_t *out, int max,
                                int *count);
void shape_strides(int rank, const int64_t *dims, int64_t *st); /* row-major element strides */
int64_t shape_prod(const int64_t *d, int from, int to);         /* d[from] * ... * d[to-1] */
void shape_copy_bytes(void *dst, const void *src, size_t bytes); /* memcpy unless empty or in place */
/* Fill count elements of es bytes with the pattern at val. */
void shape_fill_pattern(void *dst, int64_t count, const void *val, size_t es);
/* TDM_UNSUPPORTED if a tensor of these dims and element size would exceed 2^47 bytes (or overflow int64): guards
 * shapes computed from data (Expand, Tile, Pad, ConstantOfShape, Gather...) before the planner sizes buffers. */
tdm_status shape_check_size(const tdm_node *n, int rank, const int64_t *dims, size_t es);
/* Store v as one element of dtype dt (float16: zero only). */
void shape_put_scalar(void *dst, tdm_dtype dt, double v);
/* Copy an index box of `rank` (<= SC_MAX) dims from src to dst with per-side element strides (negative and zero
 * allowed); src/dst point at the box origin. Contiguous runs become memcpy; large copies use the pool. */
void shape_strided_copy(tdm_pool *pool, int rank, const int64_t *dims, const int64_t *sstr, const int64_t *dstr,
                        const void *src, void *dst, size_t es);

#endif
