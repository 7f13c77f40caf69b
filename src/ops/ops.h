/* ops.h - prototypes of every op function, generated from the per-family .def tables.
 * Each family file (eltwise.c, conv.c, ...) lists its ops in its own <family>.def with rows
 *     OP(OnnxName, check_fn, shape_fn, run_fn, flags, shape_inputs, hooks)
 * and ops.c collects all rows into the one lookup table. */
#ifndef TDM_OPS_H
#define TDM_OPS_H

#include "../engine/internal.h"

#define OP(name, check, shape, run, flags, shape_inputs, hooks) \
    tdm_status check(tdm_ctx *c, tdm_node *n);                  \
    tdm_status shape(tdm_ctx *c, tdm_node *n);                  \
    tdm_status run(tdm_ctx *c, const tdm_node *n);
#include "ops_all.def"
#undef OP

/* The hook sets the rows name (internal.h, tdm_op_hooks). */
extern const tdm_op_hooks conv_conv_hooks;       /* derived weights: Winograd U, 1x1 weights packed for the GEMM */
extern const tdm_op_hooks shape_slice_hooks;     /* keeps_axis0                                                  */
extern const tdm_op_hooks shape_pad_hooks;       /* keeps_axis0                                                  */
extern const tdm_op_hooks shape_identity_hooks;  /* forwards                                                     */
extern const tdm_op_hooks shape_dropout_hooks;   /* forwards when the mask is unused and training is off         */
extern const tdm_op_hooks eltwise_act_hooks;     /* as_act: Relu, Sigmoid, Hard*, LeakyRelu, Clip                */
extern const tdm_op_hooks gemm_dense_hooks;      /* derived weights: B packed in the GEMM's panels (MatMul, Gemm) */
extern const tdm_op_hooks shape_concat_hooks;    /* keeps_axis0: along another axis; inputs_in_output at batch 1 */
extern const tdm_op_hooks shape_view_hooks;      /* inputs_in_output: Reshape, Flatten, Squeeze, Unsqueeze       */
extern const tdm_op_hooks shape_split_hooks;     /* keeps_axis0                                                  */
extern const tdm_op_hooks shape_transpose_hooks; /* keeps_axis0: axis 0 stays first                              */
extern const tdm_op_hooks reduce_reduce_hooks;   /* keeps_axis0: axis 0 not reduced                              */
extern const tdm_op_hooks reduce_softmax_hooks;  /* keeps_axis0: normalised along another axis                   */

/* gemm.c: tdm_sgemm_pack_b by pieces of b's rows, each given back after its piece when drop is set (b is then a block
 * of the default allocator that is freed next). */
void tdm_pack_b_consuming(const float *b, size_t ldb, int trans_b, size_t k, size_t n, float *bp, int drop);

#endif
