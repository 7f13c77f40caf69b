/* model.h - the loaded model and the session, shared by the loader (onnx.c), the graph passes (graph.c), the model
 * API (model.c), the planner (plan.c, arena.c), batch splitting (split.c) and the session API and run loop
 * (session.c). */
#ifndef TDM_MODEL_H
#define TDM_MODEL_H

#include "internal.h"

struct tdm_model {
    tdm_alloc alloc;
    int64_t ir_version, opset;
    int optimize;           /* load-time and plan-time fusion enabled (tdm_load_options.no_optimize == 0)        */
    int has_opset;          /* the model imports the default domain (required once a default-domain node exists) */
    char *producer;
    tdm_value *values;      /* every value; each constant owns its aligned block (data), NULL once unused        */
    int n_values, cap_values;
    tdm_node *nodes;        /* topologically ordered, after load-time folding and fusion                          */
    int n_nodes;
    int *inputs, n_inputs;  /* value ids of the graph's real inputs (initializers excluded)                      */
    int *input_decides_shape; /* per input: its values decide an output shape (graph.c's analysis), so a plan takes
                             * them as constants and a new value means a new plan; the others are plain data     */
    int *input_shape_node;  /* per such input: a node that needs it at plan time, for error messages            */
    int64_t *input_index_hi; /* per integer data input: the rows of the table it indexes (Gather on a constant),
                              * or 0 when unknown; valid ids are [0, hi) (token ids, say)                          */
    int *outputs, n_outputs;
    char **src_op, **src_name; /* the nodes as written in the file, for `tandem info`                             */
    int n_src;
    size_t weights_bytes;   /* the constants' blocks (Winograd weights are made per plan: session.c)            */
    int64_t params;
};

struct tdm_session {
    const tdm_model *model;
    tdm_alloc alloc;
    tdm_pool *pool;
    int threads;
    /* input shapes chosen by the user (or defaulted) */
    int64_t (*in_dims)[TDM_MAX_RANK];
    int *in_rank;
    void **in_value;        /* inputs that decide shapes: a copy of the values given to tdm_session_set_input; the
                             * planner treats them as constants (Reshape's shape, Slice's starts, ...)              */
    size_t *in_value_bytes;
    void **pending;         /* data inputs set before the plan could be made (a shape input's value was missing):
                             * copied into the arena by the plan                                                     */
    size_t *pending_bytes;
    int *given;             /* per data input: tdm_session_set_input gave it since the last change of shapes      */
    int64_t plans;          /* plans made so far (tdm_stats.plans)                                               */
    /* the plan */
    int planned;
    tdm_value *values;      /* per-plan copy of the model's value table                                         */
    tdm_node *nodes;        /* per-plan copy of the model's nodes (workspace, macs)                              */
    int *exec, n_exec;      /* node indices that run at run time                                                 */
    int *exec_pos, *exec_uses; /* per value: defining exec position and reader count (residual fusion scratch)   */
    int optimize;           /* plan-time fusion on (the model was loaded with optimisation)                      */
    int profile;            /* time each exec node into node_ms (allocated with the plan)                        */
    double *node_ms;        /* n_exec sums, then n_exec minimums of one run, per exec node                        */
    void **folded;          /* blocks of values folded at plan time                                              */
    int n_folded, cap_folded;
    int keep_failed;        /* a folded block could not be recorded: the plan fails                          */
    size_t derived_bytes;   /* Winograd or restored 3x3 weights this plan computed (kept in `folded`)            */
    int settling;           /* the load-time shape-only plan (session.c settle_winograd): it may edit the model */
    void *arena;
    size_t arena_bytes;
    void *workspace;
    size_t workspace_bytes;
    char **exec_names;      /* "Conv+Relu" per exec node, built on demand                                        */
    tdm_session **split;    /* batch splitting (split.c): one batch-1 session per thread, or NULL              */
    int n_split;
};

/* arena.c: best-fit placement of values in one arena, in run order. */
typedef struct tdm_arena_hole {
    size_t off, size;
} tdm_arena_hole;
typedef struct tdm_arena_plan {
    tdm_arena_hole *h; /* free holes */
    int n, cap;
    size_t end;        /* the arena's size so far */
    const tdm_alloc *a;
} tdm_arena_plan;
void tdm_arena_init(tdm_arena_plan *p, const tdm_alloc *a);
size_t tdm_arena_place(tdm_arena_plan *p, size_t size);              /* an offset for size bytes             */
int tdm_arena_release(tdm_arena_plan *p, size_t off, size_t size);   /* 0, or -1 when out of memory          */
void tdm_arena_free(tdm_arena_plan *p);

/* plan.c */
tdm_status tdm_plan(tdm_session *s);       /* plan s for its input shapes (and shape inputs' values)         */
void tdm_plan_release(tdm_session *s);     /* free the plan (the session stays usable)                        */
tdm_status tdm_plan_settle(tdm_model *m);  /* at load: a shapes-only plan that puts derived weights in the model */

/* model.c */
void tdm_fill_info(const tdm_value *v, tdm_tensor_info *info);

/* split.c: run a batch image by image on the pool threads, each in a batch-1 session of its own. */
tdm_status tdm_split_plan(tdm_session *s); /* after planning s: set up the sessions if the plan allows it */
void tdm_split_release(tdm_session *s);
tdm_status tdm_split_run(tdm_session *s);

/* onnx.c. src: the mapped file buf lies in, whose pages each initializer gives back once copied (NULL: a buffer the
 * caller owns, left alone). */
struct tdm_file;
tdm_status tdm_onnx_parse(tdm_model *m, const uint8_t *buf, size_t len, const char *base_dir, const struct tdm_file *src);
/* graph.c: load-time passes (Constant nodes, Identity/Dropout removal, folding, BatchNorm folding, activation fusion,
 * weight slots, weight compaction), then the analysis of which inputs decide shapes. */
tdm_status tdm_graph_prepare(tdm_model *m, int optimize);
/* Fold one node whose inputs are all constant: run shape() and run() now, outputs become constants whose blocks
 * are handed to keep(ud, block). Used at load time and at plan time. */
tdm_status tdm_fold_node(tdm_ctx *c, tdm_node *n, void (*keep)(void *ud, void *block), void *ud);
/* Free everything a node owns (names, attributes, params) and zero it. */
void tdm_node_release(const tdm_alloc *a, tdm_node *n);
/* Value-table growth used by the passes: returns the new value's index or -1 on OOM. */
int tdm_model_add_value(tdm_model *m, const char *name);
/* graph.c's helpers for the other load-time passes: consumer counts (tdm_value.consumers), the node that produces a
 * value (or NULL), removing a node (compacted later), and turning a node into another op: its inputs replaced by in,
 * its attributes by attrs (n_attr of them, allocated with the model's allocator; ownership passes to the node, also
 * on failure), then the new op's check(). */
void tdm_graph_count_consumers(tdm_model *m);
tdm_node *tdm_graph_producer(tdm_model *m, int v);
void tdm_graph_kill(tdm_model *m, tdm_node *n);
void tdm_graph_compact(tdm_model *m);
tdm_status tdm_graph_retype(tdm_model *m, tdm_node *n, const char *op_type, int n_in, const int *in, int n_attr,
                            tdm_attr *attrs);
/* fuse.c: the transformer fusions at load (LayerNorm and GELU from their exported formulas, attention, the bias Add
 * of dense layers), before the activation fusion. */
tdm_status tdm_fuse_transformer(tdm_model *m);
/* fuse.c: a zero Pad of the spatial axes becomes the pads of the Conv or AveragePool that alone reads it. */
tdm_status tdm_fuse_pads(tdm_model *m);

#endif
