/* tandem.h - the public API of the tandem inference engine.
 *
 * One C11 engine that runs an ONNX model natively and, compiled to WebAssembly, in the browser. It depends on libc,
 * libm and pthreads only.
 *
 * Lifecycle (the XNNPACK shape):
 *
 *     tdm_model *m;    tdm_model_load_file("model.onnx", NULL, &m);      // parse, check, fold, fuse
 *     tdm_session *s;  tdm_session_create(m, &opts, &s);                  // thread pool, per-run state
 *     tdm_session_set_input_shape(s, 0, dims, 4);                          // plans the arena (optional: defaults)
 *     tdm_session_set_input(s, 0, pixels, bytes);                          // or fill tdm_session_input_data()
 *     tdm_session_run(s);                                                  // no allocation on this path
 *     tdm_session_output(s, 0, &info, &data);                              // data owned by the session
 *     tdm_session_free(s);  tdm_model_free(m);
 *
 * Errors: every call returns a tdm_status. TDM_OK is 0. On failure, tdm_last_error() returns a sentence that says
 * what went wrong, naming the node and op where there is one ("Conv 'conv1': weight rank 3, expected 4"). The message
 * is thread-local: it stays valid until the next failing tdm_* call on the same thread.
 *
 * Threads: a tdm_model is immutable once loaded and may be shared by any number of sessions on any threads. A
 * tdm_session must be used by one thread at a time. Every *_free(NULL) is a harmless no-op.
 */
#ifndef TANDEM_H
#define TANDEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TDM_VERSION "0.1.0"
#define TDM_MAX_RANK 8

typedef enum tdm_status {
    TDM_OK = 0,
    TDM_INVALID_ARGUMENT,  /* the caller passed something unusable: NULL, bad index, wrong byte count   */
    TDM_INVALID_MODEL,     /* the model bytes are malformed or inconsistent                              */
    TDM_UNSUPPORTED,       /* valid ONNX that this engine does not implement: op, attribute, data type    */
    TDM_SHAPE_MISMATCH,    /* input shapes that the model cannot take                                    */
    TDM_OUT_OF_MEMORY,
    TDM_IO_ERROR,          /* a file could not be opened or read                                         */
    TDM_INTERNAL           /* a bug in tandem: please report it with the model                           */
} tdm_status;

/* Element types, numbered as ONNX TensorProto.DataType. */
typedef enum tdm_dtype {
    TDM_UNDEFINED = 0,
    TDM_FLOAT = 1,
    TDM_UINT8 = 2,
    TDM_INT8 = 3,
    TDM_UINT16 = 4,
    TDM_INT16 = 5,
    TDM_INT32 = 6,
    TDM_INT64 = 7,
    TDM_STRING = 8,
    TDM_BOOL = 9,
    TDM_FLOAT16 = 10,
    TDM_DOUBLE = 11,
    TDM_UINT32 = 12,
    TDM_UINT64 = 13
} tdm_dtype;

/* Allocator, injectable like lua_Alloc. realloc semantics: (ptr NULL) allocates, (size 0) frees and returns NULL.
 * Returning NULL for size > 0 makes the calling tdm_* function fail cleanly with TDM_OUT_OF_MEMORY. */
typedef void *(*tdm_realloc_fn)(void *user, void *ptr, size_t size);

typedef struct tdm_model tdm_model;
typedef struct tdm_session tdm_session;

typedef struct tdm_load_options {
    tdm_realloc_fn realloc_fn; /* NULL: libc realloc/free                                                   */
    void *realloc_user;
    const char *base_dir;      /* where external tensor data lives; NULL: the model file's folder, or none   */
    int no_optimize;           /* 1: skip BatchNorm folding and op fusion (for debugging the optimiser)      */
    /* Optional: called once tdm_model_load_memory no longer needs its bytes (after parsing, before BatchNorm folding
     * and the weight transforms), with bytes_done_user. A caller that owns the bytes can free them there, so they
     * and the transformed weights never coexist (the wasm build's heap, which never shrinks, peaks lower). The
     * bytes are not read after the call. */
    void (*bytes_done)(void *user);
    void *bytes_done_user;
} tdm_load_options;

typedef struct tdm_session_options {
    int threads;               /* 0 or 1: run on the calling thread only, no extra threads are created      */
    int profile;               /* 1: time every executed node (tdm_session_exec_node_ms); costs two clock
                                * reads per node                                                           */
} tdm_session_options;

/* Shape and type of a model input or output. dims[i] is -1 where the model leaves the dimension symbolic; then
 * dim_param[i] holds the model's name for it (or "" if unnamed). All strings are owned by the model and valid until
 * tdm_model_free. After planning, tdm_session_output reports concrete dims. */
typedef struct tdm_tensor_info {
    const char *name;
    tdm_dtype dtype;
    int rank;
    int64_t dims[TDM_MAX_RANK];
    const char *dim_param[TDM_MAX_RANK];
} tdm_tensor_info;

/* Figures of a planned session (see tdm_session_stats). */
typedef struct tdm_stats {
    size_t weights_bytes;      /* the constants after folding (one aligned block each), plus the Winograd
                                * transforms this session's plans computed                                   */
    size_t arena_bytes;        /* planned activation arena for the current input shapes                      */
    size_t workspace_bytes;    /* the scratch buffer, sized to the largest op                                */
    int64_t params;            /* number of constant elements of float type (the model's parameters)         */
    int64_t macs;              /* multiply-accumulates of one run at the current input shapes                */
    int nodes;                 /* nodes that execute at run time, after folding and fusion                   */
    int batch_split;           /* 1: a batch runs image by image (one per thread with several), each in a
                                * batch-1 plan of its own (every op treats samples independently); 0: layer
                                * by layer over the whole batch                                           */
    int64_t plans;             /* plans this session has made: one per new set of input shapes, or of values of
                                * inputs that decide shapes (tdm_model_input_decides_shape); never per run     */
} tdm_stats;

/* ---- errors, versions ---------------------------------------------------------------------------------------- */

/* The message of the last failing tdm_* call on this thread. Owned by tandem; valid until the next failure. */
const char *tdm_last_error(void);
const char *tdm_status_name(tdm_status s);
const char *tdm_dtype_name(tdm_dtype t);
size_t tdm_dtype_size(tdm_dtype t);  /* bytes per element; 0 for STRING and UNDEFINED */
/* Name of the kernel variant set that tdm chose at start-up for this CPU, e.g. "avx2_fma" or "scalar". */
const char *tdm_kernel_isa(void);

/* ---- models ---------------------------------------------------------------------------------------------------- */

/* Load an ONNX model from a file. External tensor data is read from files next to it. *model_out is set to a model
 * owned by the caller (free with tdm_model_free), or to NULL on failure. opts may be NULL. */
tdm_status tdm_model_load_file(const char *path, const tdm_load_options *opts, tdm_model **model_out);

/* Load from memory. The bytes are copied as needed: the caller may free data as soon as this returns. */
tdm_status tdm_model_load_memory(const void *data, size_t size, const tdm_load_options *opts,
                                 tdm_model **model_out);

void tdm_model_free(tdm_model *model);

int tdm_model_num_inputs(const tdm_model *model);
int tdm_model_num_outputs(const tdm_model *model);
/* Fill *info_out for input/output `index`. The strings in it are owned by the model. */
tdm_status tdm_model_input_info(const tdm_model *model, int index, tdm_tensor_info *info_out);
tdm_status tdm_model_output_info(const tdm_model *model, int index, tdm_tensor_info *info_out);

/* 1 when the values of input `index` decide output shapes: it flows into Reshape's shape, Slice's starts, Expand's
 * shape, Tile's repeats, Pad's pads, Resize's scales or sizes, Range, ConstantOfShape, TopK's k, axes inputs, ...
 * (found by analysing the graph at load, whatever its type). Such an input is a plan-time constant: a new value
 * means a new plan. 0 for ordinary data (images, token ids, masks, gather indices): a new value never replans and
 * nothing is folded from it. */
int tdm_model_input_decides_shape(const tdm_model *model, int index);
/* For an integer data input that indexes a constant table (token ids into an embedding, through Gather), the number
 * of rows of that table: valid values are [0, limit), and a value outside makes the run fail with a message naming
 * the Gather. 0 when the input indexes no constant table (or is not an integer input). */
int64_t tdm_model_input_index_limit(const tdm_model *model, int index);

/* The default-domain opset, IR version and producer, as written in the model. producer is owned by the model. */
int64_t tdm_model_opset(const tdm_model *model);
int64_t tdm_model_ir_version(const tdm_model *model);
const char *tdm_model_producer(const tdm_model *model);

/* Nodes as written in the file, before any optimisation: op_type and name (owned by the model). */
int tdm_model_num_source_nodes(const tdm_model *model);
tdm_status tdm_model_source_node(const tdm_model *model, int index, const char **op_type_out, const char **name_out);

/* Every op type the engine implements, for `tandem info --ops`. The strings are static. */
int tdm_num_supported_ops(void);
const char *tdm_supported_op(int index);

/* ---- sessions ------------------------------------------------------------------------------------------------- */

/* Create a session on a loaded model. The model must outlive the session. opts may be NULL (1 thread). Symbolic
 * input dimensions default to 1 until tdm_session_set_input_shape changes them. */
tdm_status tdm_session_create(const tdm_model *model, const tdm_session_options *opts, tdm_session **session_out);
void tdm_session_free(tdm_session *session);

/* Set the shape of input `index` (all its dims, concrete). Planning happens lazily at the next run, input access or
 * stats call; it allocates the arena for exactly these shapes. A shape the model cannot take fails with
 * TDM_SHAPE_MISMATCH and leaves the previous shape in place. */
tdm_status tdm_session_set_input_shape(tdm_session *session, int index, const int64_t *dims, int rank);

/* Plan now (optional; run does it when needed). */
tdm_status tdm_session_plan(tdm_session *session);

/* Copy `bytes` bytes into input `index`. bytes must equal the element count of the input's shape (as set, or the
 * model's) times the element size. The call may come in any order with the others: an input that decides shapes
 * (tdm_model_input_decides_shape) is kept as a plan-time constant, and a new value for it triggers a new plan; data
 * for the other inputs given before such a value is kept and copied in when the plan is made. Inputs that decide
 * shapes can be set only through this call (not through tdm_session_input_data). */
tdm_status tdm_session_set_input(tdm_session *session, int index, const void *data, size_t bytes);

/* Pointer to the input buffer itself, for filling in place. Owned by the session; valid until the next
 * tdm_session_set_input_shape or tdm_session_free. *info_out (may be NULL) receives the planned shape. */
tdm_status tdm_session_input_data(tdm_session *session, int index, tdm_tensor_info *info_out, void **data_out);

/* Run the model on the current inputs. Performs no allocation once planned. */
tdm_status tdm_session_run(tdm_session *session);

/* Output `index` of the last run: its concrete shape in *info_out (may be NULL) and its data in *data_out. The data
 * is owned by the session and valid until the next tdm_session_run, tdm_session_set_input_shape or free. */
tdm_status tdm_session_output(tdm_session *session, int index, tdm_tensor_info *info_out, const void **data_out);

/* Figures of the current plan (plans first if needed). */
tdm_status tdm_session_stats(tdm_session *session, tdm_stats *stats_out);

/* The node list that actually runs, after folding and fusion: op name (e.g. "Conv+Relu") per executed node. */
int tdm_session_num_exec_nodes(tdm_session *session);
const char *tdm_session_exec_node_op(tdm_session *session, int index);
/* Name of executed node `index` (owned by the model) and, with opts.profile, the milliseconds it has taken summed over
 * every run since the last plan (0 without profiling). */
const char *tdm_session_exec_node_name(tdm_session *session, int index);
double tdm_session_exec_node_ms(tdm_session *session, int index);
/* The shortest single run of executed node `index` since the last plan (0 without profiling): on a shared machine,
 * what the node takes when nothing disturbs it. */
double tdm_session_exec_node_min_ms(tdm_session *session, int index);
/* Multiply-accumulates of executed node `index` per run at the planned shapes (0 for ops that do no MACs). */
int64_t tdm_session_exec_node_macs(tdm_session *session, int index);

/* ---- TensorProto files (the ONNX test-data layout) ------------------------------------------------------------- */

/* A dense tensor owned by the caller: free with tdm_tensor_free. */
typedef struct tdm_tensor {
    char *name;
    tdm_dtype dtype;
    int rank;
    int64_t dims[TDM_MAX_RANK];
    void *data;      /* numel * tdm_dtype_size(dtype) bytes, 64-byte aligned */
} tdm_tensor;

int64_t tdm_tensor_numel(const tdm_tensor *t);
/* Parse a serialised TensorProto. *tensor_out is owned by the caller. */
tdm_status tdm_tensor_read_file(const char *path, tdm_tensor **tensor_out);
tdm_status tdm_tensor_read_memory(const void *data, size_t size, tdm_tensor **tensor_out);
/* Serialise as a TensorProto (raw_data). name may be NULL. */
tdm_status tdm_tensor_write_file(const char *path, const char *name, tdm_dtype dtype, int rank, const int64_t *dims,
                                 const void *data);
tdm_tensor *tdm_tensor_new(tdm_dtype dtype, int rank, const int64_t *dims); /* zeroed; NULL on failure */
void tdm_tensor_free(tdm_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* TANDEM_H */
