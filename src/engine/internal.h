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
#include "../kernels/kernels.h" /* TDM_ACT_*: the activations fused into epilogues */

#define TDM_ALIGN 64
/* x rounded up to a multiple of n, a power of two (ggml's GGML_PAD). */
#define TDM_PAD(x, n) (((x) + (n)-1) & ~(size_t)((n)-1))

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
/* The whole pages inside [p, p + len) go back to the system now (madvise on Linux; a no-op elsewhere). For a block of
 * the default allocator that is freed next and never read before (never for memory a user allocator gave), or a
 * private read-only file mapping (tdm_file_release: the pages come back from the page cache if read again). */
void tdm_pages_drop(const void *p, size_t len);
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
    int alias;                      /* planner: the value this one is a slice of (its producer writes into
                                     * a Concat's or Reshape's output), or -1; alias_off: the offset    */
    size_t alias_off;
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

/* Op identity as data: one id per row of the op table (the .def files in src/ops, collected by ops_all.def), spelled as the ONNX
 * op type (TDM_OP_Conv). Passes that match patterns compare ids; everything else asks the row's flags and hooks. */
typedef enum tdm_op_id {
#define OP(name, check, shape, run, flags, shape_inputs, hooks) TDM_OP_##name,
#include "../ops/ops_all.def"
#undef OP
    TDM_OP_COUNT
} tdm_op_id;

/* Facts about an op, as flags in its row. */
enum {
    TDM_OPF_SHAPE_ONLY = 1,    /* output depends only on input shapes (Shape, Size): always folded at plan time  */
    TDM_OPF_FUSE_ACT = 2,      /* run() applies node->act in its epilogue                                        */
    TDM_OPF_FUSE_RESIDUAL = 4, /* run() adds node->residual before the activation and writes node->fused_out     */
    TDM_OPF_PER_SAMPLE = 8,    /* computes sample i of the batch from sample i of its inputs alone, given shapes
                                * that keep the batch on axis 0 (batch splitting, split.c, checks those)          */
    TDM_OPF_INTERNAL = 16      /* tandem's own op, made by graph passes (fuse.c: Attention): a model file naming it
                                * is refused as using an unknown op, and the list of supported ops leaves it out  */
};

/* The load-time environment a weight hook may use to add a constant to the model (graph.c provides it). */
typedef struct tdm_graph_env {
    tdm_ctx *ctx;                                             /* ctx->values moves when a value is added     */
    int (*add_slot)(struct tdm_graph_env *e, tdm_node *n, int input, const char *suffix, int rank,
                    const int64_t *dims); /* an empty derived constant as input `input` of n; 0, or -1 on OOM     */
    void *model;
} tdm_graph_env;

/* Per-op hooks: optional behaviour the engine's generic passes ask an op about. NULL members mean "no". */
typedef struct tdm_op_hooks {
    /* 1 when, at inference, output 0 is input 0 unchanged (Identity; Dropout without a used mask or training_mode),
     * so the node can be removed by rewiring its readers. */
    int (*forwards)(tdm_ctx *c, const tdm_node *n);
    /* 1 when this node is an activation a producer can apply in its epilogue: *act a TDM_ACT_* code, with
     * alpha/beta as tdm_act takes them (Clip needs constant bounds). */
    int (*as_act)(tdm_ctx *c, const tdm_node *n, int *act, float *alpha, float *beta);
    /* Batch splitting, at plan time: 1 when output sample i is made from input sample i alone (a Slice or Pad that
     * leaves axis 0 as it is), 0 otherwise or when it cannot tell. Ops with TDM_OPF_PER_SAMPLE need no hook. */
    int (*keeps_axis0)(tdm_ctx *c, const tdm_node *n);
    /* Inputs written in place, at plan time: 1 when input j, as a whole, is the bytes of output 0 from off[j] on (a
     * Concat whose axes before the concat axis are all 1; Reshape's data input), off[j] SIZE_MAX for an input that is
     * not, so that its producer may write it there; the op's run must then skip an input whose data already lies at
     * its place (plan.c, alias_inputs). */
    int (*inputs_in_output)(tdm_ctx *c, const tdm_node *n, size_t *off);
    /* Derived weights: a form of a constant input that the op computes from it once (Winograd's U, weights packed
     * for a GEMM) and keeps in another input, its "slot" (weight_input -> slot_input). At load, weight_slot() may
     * add the slot through env (empty: data NULL, dims[0] = 0 until a form is chosen). At each plan, weight_form()
     * says which form the op wants at the plan's shapes (0: none, and the plan drops the slot), weight_floats() its
     * size, and weight_make() / weight_restore() convert between the plain weights and a form (restore: for a plan
     * that needs the plain weights or another form when the model kept only the slot). The planner owns the
     * memory and decides where each block lives (session.c). */
    tdm_status (*weight_slot)(tdm_graph_env *env, tdm_node *n);
    int weight_input, slot_input;
    int (*weight_form)(tdm_ctx *c, const tdm_node *n);
    size_t (*weight_floats)(const tdm_value *w, int form);
    /* plain_dies: plain is freed right after and read by nothing else, so weight_make may give its pages back as it
     * goes (tdm_pages_drop), and the load's peak holds one form of the weight and a slice of the other, not both. */
    void (*weight_make)(const tdm_value *w, const float *plain, int form, float *slot, int plain_dies);
    void (*weight_restore)(const tdm_value *w, const float *slot, int form, float *plain);
} tdm_op_hooks;

typedef struct tdm_op_info {
    const char *name;
    tdm_op_id id;
    tdm_check_fn check;
    tdm_shape_fn shape;
    tdm_run_fn run;
    int flags;                 /* TDM_OPF_*                                                                       */
    unsigned shape_inputs;     /* bit j set: the VALUES of input j decide output shapes (Reshape's shape, Slice's
                                * starts, ...): they must be known at plan time, so a graph input that flows into
                                * one is a plan-time constant (graph.c's analysis, docs/DESIGN.md)             */
    const tdm_op_hooks *hooks; /* NULL when the op has none                                                       */
} tdm_op_info;

/* The op table (ops.def). Lookup is by exact op_type. NULL if the engine lacks the op. */
const tdm_op_info *tdm_op_find(const char *op_type);
int tdm_op_count(void);
const tdm_op_info *tdm_op_at(int i);
/* The hooks of n's op, never NULL (an all-NULL set for ops without hooks). */
const tdm_op_hooks *tdm_node_hooks(const tdm_node *n);

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
typedef void (*tdm_task_parts)(void *ctx, size_t part, size_t parts, size_t slot);

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
/* Call fn(ctx, part, parts, slot) for every part in [0, parts), parts <= 64 (more are clamped to 64; the op splits
 * its work by the parts it is given). slot is the index of the thread running the call, in [0, the pool's thread
 * count): scratch indexed by it is never used by two calls at once. Thread t first takes its own run of parts in
 * order, [t * parts / threads, (t + 1) * parts / threads), so layer after layer the same rows land on the same thread;
 * then it takes parts of the runs of threads that are late, from their ends. A worker descheduled by the system in
 * the middle of its run (a shared machine) then holds up one part, not half the layer. NULL pool: one call
 * fn(ctx, 0, 1, 0) on this thread (the op then runs all its work in one piece). */
void tdm_parallelize_parts(tdm_pool *p, tdm_task_parts fn, void *ctx, size_t parts);
/* Call fn(ctx, i, j, ti, tj) for tiles of [0,ri) x [0,rj); ti, tj are the tile extents (clipped at the edges). */
void tdm_parallelize_2d_tile(tdm_pool *p, tdm_task_2d_tile fn, void *ctx, size_t ri, size_t rj, size_t tile_i,
                             size_t tile_j);

#endif /* TDM_INTERNAL_H */
