/* tandem_onnx_write.h - tandem's second public header: the ONNX model writer and the weights reader, part of
 * libtandem.a beside tandem.h (implemented in src/engine/onnx_write.c). The writer builds a ModelProto (graph inputs
 * and outputs, initializers, nodes with attributes) in memory and serialises it; the reader hands a model's
 * weight-bearing nodes and their constants to a caller. Users: `tandem zoo` (src/study/zoo.c) and the tests that
 * build small models (tests/test_api.c). It needs only tandem.h's types.
 *
 * Ownership: every writer call copies what it is given (names, dims, data), so the caller's buffers may go as soon as
 * a call returns; the writer owns its copies until tdm_onnx_writer_free. Serialised bytes are the caller's (libc
 * free). A tdm_onnx_weights owns every pointer inside it (names, dims, data) until tdm_onnx_weights_free. Errors go
 * through tdm_last_error(), as in tandem.h. */
#ifndef TANDEM_ONNX_WRITE_H
#define TANDEM_ONNX_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "tandem.h"

/* ---- writer ---------------------------------------------------------------------------------------------------- */

typedef struct tdm_onnx_writer tdm_onnx_writer;

enum { TDM_ONNX_ATTR_FLOAT = 1, TDM_ONNX_ATTR_INT = 2, TDM_ONNX_ATTR_INTS = 7 };

/* One node attribute. type selects f, i or (n, ints). */
typedef struct tdm_onnx_attr {
    const char *name;
    int type;
    float f;
    int64_t i;
    int n;
    const int64_t *ints;
} tdm_onnx_attr;

/* A writer for a graph called graph_name. NULL when out of memory. Every adding call copies what it is given; after a
 * failure (out of memory) the writer remembers it and tdm_onnx_writer_finish reports TDM_OUT_OF_MEMORY. */
tdm_onnx_writer *tdm_onnx_writer_new(const char *graph_name);
void tdm_onnx_writer_free(tdm_onnx_writer *w);

/* A graph input (is_output 0) or output (1): a tensor of dtype with `rank` dims; dims[i] < 0 is symbolic, named by
 * dim_param[i] (dim_param may be NULL, or hold NULL for unnamed dims). */
void tdm_onnx_writer_value(tdm_onnx_writer *w, int is_output, const char *name, tdm_dtype dtype, int rank,
                           const int64_t *dims, const char *const *dim_param);
/* An initializer, stored as raw_data. */
void tdm_onnx_writer_initializer(tdm_onnx_writer *w, const char *name, tdm_dtype dtype, int rank, const int64_t *dims,
                                 const void *data);
/* A node of the default domain. An empty input name ("") marks an absent optional input. Nodes must be added in
 * topological order (the ONNX rule; the writer does not reorder). */
void tdm_onnx_writer_node(tdm_onnx_writer *w, const char *op_type, const char *name, int n_in,
                          const char *const *inputs, int n_out, const char *const *outputs, int n_attr,
                          const tdm_onnx_attr *attrs);

/* Serialise the ModelProto: ir_version, the producer, one default-domain opset import, and the graph. *bytes_out is
 * malloc'd (libc free). Deterministic: the same calls give the same bytes. The writer stays usable. */
tdm_status tdm_onnx_writer_finish(const tdm_onnx_writer *w, int64_t ir_version, int64_t opset, const char *producer,
                                  const char *producer_version, uint8_t **bytes_out, size_t *len_out);
/* The same, written to a file. */
tdm_status tdm_onnx_writer_save(const tdm_onnx_writer *w, const char *path, int64_t ir_version, int64_t opset,
                                const char *producer, const char *producer_version);

/* ---- reading a model's weights --------------------------------------------------------------------------------- */

/* A constant input of a node (an initializer or a Constant node's value). data is owned by the tdm_onnx_weights. */
typedef struct tdm_onnx_const {
    const char *name;
    tdm_dtype dtype;
    int rank;
    int64_t dims[TDM_MAX_RANK];
    const void *data;
} tdm_onnx_const;

/* A node that carries weights: Conv, ConvTranspose, Gemm, MatMul or BatchNormalization, in the file's order. in[k] is
 * input k when it is constant (has_in[k] 1), or zeroed when it is an activation or absent. */
typedef struct tdm_onnx_weight_node {
    const char *op_type;
    const char *name;
    int n_in;
    int has_in[5];
    tdm_onnx_const in[5];
    /* Gemm only (ONNX defaults elsewhere): Y = alpha * A' * B' + beta * C, ' = transposed when trans_* is 1 */
    int trans_a, trans_b;
    float alpha, beta;
} tdm_onnx_weight_node;

typedef struct tdm_onnx_weights {
    tdm_onnx_weight_node *node;
    int n_node;
    tdm_onnx_const *constant;  /* every constant of the model, by name */
    int n_constant;
    void *owner;               /* the loaded model holding the data */
} tdm_onnx_weights;

/* Load the model at path without any optimisation (no BatchNorm folding, no fusion) and list its weights. Errors go
 * through tdm_last_error(). Free with tdm_onnx_weights_free. */
tdm_status tdm_onnx_weights_load(const char *path, tdm_onnx_weights *out);
void tdm_onnx_weights_free(tdm_onnx_weights *wts);

#endif /* TANDEM_ONNX_WRITE_H */
