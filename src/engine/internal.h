/* internal.h - the engine's intermediate representation and the contract every op implements.
 *
 * A model is a list of values (tensors: inputs, constants, activations) and a list of nodes in topological order.
 * Each node refers to values by index. A session owns a copy of the value table with concrete shapes for its input
 * shapes (a "plan"); ops read shapes and data from that copy through tdm_in()/tdm_out().
 *
 * Every op implements three functions, listed in ops.def:
 *   check(ctx, node): once at load. Validate attributes (with their ONNX defaults) and store them parsed in
 *                     node->params. Input shapes are not known yet.
 *   shape(ctx, node): once per plan. Input dtypes and shapes are known, and constant inputs have data. Set every
 *                     output's dtype and shape, node->workspace (scratch bytes) and node->macs. Reject shapes the op
 *                     cannot take with TDM_SHAPE_MISMATCH.
 *   run(ctx, node):   compute. Outputs are preallocated; ctx->workspace holds node->workspace bytes. Must not
 *                     allocate. Returns TDM_OK except for data-dependent errors (e.g. Gather index out of range).
 * When all inputs of a node are constant after shape(), the planner runs it at plan time and the node disappears from
 * the run list (constant folding). Errors go through tdm_node_error(), which names the node and op.
 */
#ifndef TDM_INTERNAL_H
#define TDM_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tandem.h"

#define TDM_ALIGN 64

typedef struct tdm_pool tdm_pool; /* thread pool, pool.c; NULL means serial */

/* ---- allocation ---------------------------------------------------------------------------------------------- */

typedef struct tdm_alloc {
    tdm_realloc_fn fn;
    void *user;
} tdm_alloc;

void *tdm_malloc(const tdm_alloc *a, size_t size);          /* NULL on failure (or size 0) */
void *tdm_calloc(const tdm_alloc *a, size_t n, size_t size); /* zeroed; overflow-checked */
void *tdm_realloc(const tdm_alloc *a, void *p, size_t size);
void tdm_free(const tdm_alloc *a, void *p);
char *tdm_strdup(const tdm_alloc *a, const char *s, size_t len); /* NUL-terminated copy of len bytes */
/* 64-byte aligned blocks (for tensors). Freed with tdm_free_aligned. */
void *tdm_malloc_aligned(const tdm_alloc *a, size_t size);
void tdm_free_aligned(const tdm_alloc *a, void *p);

/* ---- errors -------------------------------------------------------------------------------------------------- */

/* Record the thread-local error message and return st. */
tdm_status tdm_error(tdm_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
tdm_status tdm_verror(tdm_status st, const char *fmt, va_list ap);

/* ---- values and nodes ------------------------------------------------------------------------------------------ */

enum {
    TDM_V_ACT = 0,   /* activation: lives in the arena                                                       */
    TDM_V_INPUT = 1, /* graph input: lives in the arena, pinned                                               */
    TDM_V_CONST = 2  /* initializer, Constant, or folded: data is known                                       */
};

typedef struct tdm_value {
    char *name;
    tdm_dtype dtype;
    int rank;                       /* -1: unknown (before shape inference)                             */
    int64_t dims[TDM_MAX_RANK];     /* -1: symbolic (model level only)                                  */
    char *dim_param[TDM_MAX_RANK];  /* symbolic names of graph inputs/outputs, or NULL                  */
    int kind;                       /* TDM_V_*                                                          */
    int is_output;                  /* a graph output: pinned to the end of the run                     */
    void *data;                     /* CONST: the constant; otherwise: set by the planner               */
    /* planner bookkeeping */
    int def, last_use;              /* node positions; -1 for inputs; INT32_MAX for outputs             */
    size_t offset;                  /* arena offset                                                     */
    int consumers;                  /* number of node input slots referring to this value               */
    int derived;                    /* a constant the engine computed for speed (Winograd weights): counted
                                     * in weights bytes, not in the model's parameters                  */
} tdm_value;

/* An ONNX attribute, as parsed. Arrays and strings are owned by the model. */
typedef enum tdm_attr_type {
    TDM_ATTR_UNDEFINED = 0,
    TDM_ATTR_FLOAT = 1,
    TDM_ATTR_INT = 2,
    TDM_ATTR_STRING = 3,
    TDM_ATTR_TENSOR = 4,
    TDM_ATTR_GRAPH = 5,
    TDM_ATTR_FLOATS = 6,
    TDM_ATTR_INTS = 7,
    TDM_ATTR_STRINGS = 8
} tdm_attr_type;

typedef struct tdm_attr {
    char *name;
    tdm_attr_type type;
    float f;
    int64_t i;
    char *s;            /* STRING (NUL-terminated; s_len bytes)                                       */
    size_t s_len;
    int n;              /* element count of FLOATS / INTS                                             */
    float *floats;
    int64_t *ints;
    tdm_tensor *t;      /* TENSOR                                                                     */
} tdm_attr;

struct tdm_op_info;

typedef struct tdm_node {
    char *name;
    char *op_type;
    const struct tdm_op_info *op;
    int n_in, n_out;
    int *in, *out;      /* value indices; -1 where an optional input/output is absent                 */
    int n_attr;
    tdm_attr *attr;
    void *params;       /* op-specific parsed attributes, from check(); allocated with tdm_node_params  */
    /* fusion: an activation applied in the op's epilogue (set by the optimiser, honoured by ops that
     * declare TDM_OPF_FUSE_ACT). */
    int act;            /* TDM_ACT_* */
    float act_alpha, act_beta;
    /* plan-time residual fusion (session node copies only; honoured by ops that declare TDM_OPF_FUSE_RESIDUAL):
     * `residual` is a value added to the output before the activation, and `fused_out` the value the op then
     * writes instead of out[0]. Both -1 when unused. */
    int residual, fused_out;
    /* per plan (valid in the session's node copies) */
    size_t workspace;
    int64_t macs;
} tdm_node;

/* Activations that can be fused into an epilogue. */
enum { TDM_ACT_NONE = 0, TDM_ACT_RELU, TDM_ACT_CLIP, TDM_ACT_LEAKY_RELU, TDM_ACT_HARD_SWISH, TDM_ACT_SIGMOID };

/* The context ops see. At check time only model, opset and alloc are meaningful. */
typedef struct tdm_ctx {
    const tdm_alloc *alloc;
    int64_t opset;      /* default-domain opset of the model                                            */
    tdm_value *values;  /* the value table of this model (check) or plan (shape/run)                    */
    int n_values;
    void *workspace;    /* run: scratch of node->workspace bytes, 64-byte aligned                       */
    tdm_pool *pool;     /* run: NULL means serial                                                       */
} tdm_ctx;

typedef tdm_status (*tdm_check_fn)(tdm_ctx *c, tdm_node *n);
typedef tdm_status (*tdm_shape_fn)(tdm_ctx *c, tdm_node *n);
typedef tdm_status (*tdm_run_fn)(tdm_ctx *c, const tdm_node *n);

enum {
    TDM_OPF_SHAPE_ONLY = 1, /* output depends only on input shapes (Shape, Size): always folded at plan time */
    TDM_OPF_FUSE_ACT = 2,   /* run() applies node->act in its epilogue                                       */
    TDM_OPF_FUSE_RESIDUAL = 4 /* run() adds node->residual before the activation and writes node->fused_out    */
};

typedef struct tdm_op_info {
    const char *name;
    tdm_check_fn check;
    tdm_shape_fn shape;
    tdm_run_fn run;
    int flags;
} tdm_op_info;

/* The op table (ops.def). Lookup is by exact op_type. NULL if the engine lacks the op. */
const tdm_op_info *tdm_op_find(const char *op_type);
int tdm_op_count(void);
const tdm_op_info *tdm_op_at(int i);

/* ---- helpers for op implementations -------------------------------------------------------------------------- */

/* Input/output i of n as a value, or NULL if absent (index beyond n_in or -1). */
static inline tdm_value *tdm_in(tdm_ctx *c, const tdm_node *n, int i) {
    return (i < n->n_in && n->in[i] >= 0) ? &c->values[n->in[i]] : NULL;
}
static inline tdm_value *tdm_out(tdm_ctx *c, const tdm_node *n, int i) {
    return (i < n->n_out && n->out[i] >= 0) ? &c->values[n->out[i]] : NULL;
}
static inline int64_t tdm_numel(const tdm_value *v) {
    int64_t k = 1;
    for (int i = 0; i < v->rank; i++) k *= v->dims[i];
    return k;
}
static inline int tdm_is_const(const tdm_value *v) { return v && v->kind == TDM_V_CONST; }

/* Record "OpType 'name': <message>" and return st. */
tdm_status tdm_node_error(const tdm_node *n, tdm_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Attribute lookup; NULL if absent. The typed getters return the default when absent and fail (with a node error)
 * when present with the wrong type. */
const tdm_attr *tdm_attr_find(const tdm_node *n, const char *name);
tdm_status tdm_attr_int(const tdm_node *n, const char *name, int64_t def, int64_t *out);
tdm_status tdm_attr_float(const tdm_node *n, const char *name, float def, float *out);
/* Copies at most max ints into out; *count receives the number present (0 when absent). More than max is an error. */
tdm_status tdm_attr_ints(const tdm_node *n, const char *name, int64_t *out, int max, int *count);
/* String attribute; *out = def when absent. Owned by the model. */
tdm_status tdm_attr_string(const tdm_node *n, const char *name, const char *def, const char **out);

/* An ints attribute of at most max entries, every one >= lo (strides, kernel shapes, dilations, pads). */
tdm_status tdm_attr_ints_min(const tdm_node *n, const char *name, int64_t *out, int max, int *count, int64_t lo);
/* The auto_pad attribute of Conv, ConvTranspose and the pools. */
enum { TDM_AUTO_PAD_NOTSET = 0, TDM_AUTO_PAD_SAME_UPPER, TDM_AUTO_PAD_SAME_LOWER, TDM_AUTO_PAD_VALID };
tdm_status tdm_attr_auto_pad(const tdm_node *n, int *out);
/* SAME_UPPER / SAME_LOWER padding of one spatial axis: output ceil(in / stride), the padding split with the odd unit
 * at the end (upper) or the beginning (lower). dk is the dilated kernel extent. */
void tdm_same_pad(int64_t in, int64_t stride, int64_t dk, int upper, int64_t *out, int64_t *pad_begin,
                  int64_t *pad_end);

/* The index range [lo, hi) of i in [0, n) for which start + i * step lands inside [0, in): the valid taps of a
 * pooling window, or the output positions a convolution tap reaches. step > 0. */
void tdm_valid_range(int64_t start, int64_t step, int64_t n, int64_t in, int64_t *lo, int64_t *hi);

/* Allocate n->params (zeroed) of `size` bytes; freed with the model. */
void *tdm_node_params(tdm_ctx *c, tdm_node *n, size_t size);

/* Set an output's dtype and shape. */
void tdm_set_shape(tdm_value *v, tdm_dtype dt, int rank, const int64_t *dims);

/* Read a constant integer tensor (INT64 or INT32) into out[max]; *count receives its element count.
 * Fails with a node error if v is not constant, not an integer type, or larger than max. */
tdm_status tdm_const_ints(const tdm_node *n, const tdm_value *v, int64_t *out, int max, int *count);

/* Numpy-style multidirectional broadcast of a and b into out; TDM_SHAPE_MISMATCH (with node error) if impossible. */
tdm_status tdm_broadcast_shape(const tdm_node *n, int ra, const int64_t *da, int rb, const int64_t *db, int *rank_out,
                               int64_t *dims_out);

/* Normalise an axis in [-rank, rank) to [0, rank); -1 if out of range. */
static inline int tdm_axis(int64_t axis, int rank) {
    if (axis < -rank || axis >= rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

/* ---- thread pool (pool.c) ------------------------------------------------------------------------------------- */

typedef void (*tdm_task_1d)(void *ctx, size_t i);
typedef void (*tdm_task_2d_tile)(void *ctx, size_t i, size_t j, size_t ti, size_t tj);
typedef void (*tdm_task_static)(void *ctx, size_t part, size_t parts);

/* ops/conv.c, for the planner: the form of weights a Conv takes in input 3 at its current shapes: Winograd points
 * (16 or 36), 1 (1x1: packed for the GEMM), or 0 (none). */
int tdm_conv_winograd_points(tdm_ctx *c, const tdm_node *n);
/* For batch splitting (split.c), at plan time: 1 when this Slice or Pad leaves axis 0 as it is (output sample i is
 * made from input sample i alone), 0 otherwise or when it cannot tell. */
int tdm_slice_keeps_axis0(tdm_ctx *c, const tdm_node *n);
int tdm_pad_keeps_axis0(tdm_ctx *c, const tdm_node *n);

tdm_pool *tdm_pool_create(const tdm_alloc *a, int threads); /* threads <= 1 returns NULL (serial) */
void tdm_pool_destroy(tdm_pool *p);
int tdm_pool_threads(const tdm_pool *p); /* 1 for NULL */
/* Gets sleeping workers up to spin, ahead of the parallel calls of a run: a run that starts after an idle spell (a
 * server between requests, a first run) then finds them awake at its first parallel layer instead of paying a
 * wake-up there. Cheap when they are awake. */
void tdm_pool_prewake(tdm_pool *p);
/* Call fn(ctx, i) for i in [0, range), spread over the pool. NULL pool: a plain loop on this thread. */
void tdm_parallelize_1d(tdm_pool *p, tdm_task_1d fn, void *ctx, size_t range);
/* Call fn(ctx, part, parts) for every part in [0, parts), parts = the pool's thread count (1 for a NULL pool, on
 * this thread). Part i runs on thread i (0 is the caller) whenever that thread is ready in time, so ops that split
 * every layer the same way (by image rows, say) keep each thread's share of the activations in its own caches from
 * one layer to the next; a part whose thread is late is taken by another thread rather than waited for. */
void tdm_parallelize_static(tdm_pool *p, tdm_task_static fn, void *ctx);
/* Call fn(ctx, i, j, ti, tj) for tiles of [0,ri) x [0,rj); ti, tj are the tile extents (clipped at the edges). */
void tdm_parallelize_2d_tile(tdm_pool *p, tdm_task_2d_tile fn, void *ctx, size_t ri, size_t rj, size_t tile_i,
                             size_t tile_j);

#endif /* TDM_INTERNAL_H */
