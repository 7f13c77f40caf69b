/* tandem_wasm.c - the C functions that the WebAssembly build exports to JavaScript (web/tandem-worker.mjs): a thin
 * layer over include/tandem.h with only 32-bit integers, doubles and pointers in its signatures, since emscripten
 * 3.1.6 passes no 64-bit integers to JS without WASM_BIGINT. One tdmw handle holds a model and its session.
 *
 * The JS side loads a model by malloc-ing a buffer, copying the file into it, calling tdmw_open and freeing the
 * buffer straight away (the engine copies what it keeps); or by calling tdmw_open_owned, which takes the buffer and
 * frees it as soon as it is parsed (tdm_load_options.bytes_done), before the weights are folded and transformed, so
 * their blocks reuse its space (the wasm heap never shrinks: for ResNet-56, 9.6 MiB instead of 12.4 when freed after
 * the load, 2.91x the file instead of 3.76). Inputs are written in place through tdmw_input_data, and outputs
 * are read in place from tdmw_output_data. Errors: NULL / nonzero returns, and tdmw_last_error() says why.
 *
 * It is plain C11 against the public API and builds natively too (mk/wasm.mk builds it with emcc only). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tandem.h"

typedef struct tdmw {
    tdm_model *model;
    tdm_session *session;
    int threads;
    double load_ms; /* parse + optimise + session create + plan */
    double run_ms;  /* the last tdmw_run */
} tdmw;

/* Function prototypes: the exports (named in mk/wasm.mk's EXPORTED_FUNCTIONS). */
tdmw *tdmw_open(const void *bytes, int size, int threads, int profile);
tdmw *tdmw_open_owned(void *bytes, int size, int threads, int profile);
void tdmw_close(tdmw *w);
const char *tdmw_last_error(void);
const char *tdmw_kernel_isa(void);
const char *tdmw_version(void);
int tdmw_threads(const tdmw *w);
double tdmw_load_ms(const tdmw *w);
int tdmw_num_inputs(const tdmw *w);
int tdmw_num_outputs(const tdmw *w);
const char *tdmw_io_name(const tdmw *w, int is_output, int index);
int tdmw_io_dtype(const tdmw *w, int is_output, int index);
int tdmw_io_rank(const tdmw *w, int is_output, int index);
int tdmw_io_dim(const tdmw *w, int is_output, int index, int axis);
int tdmw_set_input_shape(tdmw *w, int index, const int *dims, int rank);
void *tdmw_input_data(tdmw *w, int index);
double tdmw_input_index_limit(const tdmw *w, int index);
int tdmw_input_numel(tdmw *w, int index);
int tdmw_run(tdmw *w);
double tdmw_run_ms(const tdmw *w);
int tdmw_output_rank(tdmw *w, int index);
int tdmw_output_dim(tdmw *w, int index, int axis);
const float *tdmw_output_data(tdmw *w, int index);
int tdmw_output_numel(tdmw *w, int index);
int tdmw_bench(tdmw *w, int runs, int warmup, int vary, double *times_ms, double *first_ms);
double tdmw_heap_bytes(void);
int tdmw_num_exec_nodes(tdmw *w);
const char *tdmw_exec_node_op(tdmw *w, int index);
const char *tdmw_exec_node_name(tdmw *w, int index);
double tdmw_exec_node_ms(tdmw *w, int index);

static char err_buf[512];

static const char *set_error(const char *msg) {
    snprintf(err_buf, sizeof err_buf, "%s", msg);
    return err_buf;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Keep the engine's message (thread-local there) where a later JS call can read it. */
static int fail(tdm_status st) {
    set_error(tdm_last_error());
    return st ? (int)st : (int)TDM_INTERNAL;
}

const char *tdmw_last_error(void) { return err_buf; }
const char *tdmw_kernel_isa(void) { return tdm_kernel_isa(); }
const char *tdmw_version(void) { return TDM_VERSION; }

/* Load, create the session and plan; `owned`: bytes came from malloc and are freed as soon as they are parsed. */
static tdmw *open_model(const void *bytes, int size, int threads, int profile, void *owned) {
    if (!bytes || size <= 0) {
        free(owned);
        set_error("no model bytes");
        return NULL;
    }
    tdmw *w = calloc(1, sizeof *w);
    if (!w) {
        free(owned);
        set_error("out of memory");
        return NULL;
    }
    double t0 = now_ms();
    tdm_session_options so = {threads > 1 ? threads : 1, profile != 0};
    /* owned bytes go as soon as they are parsed, before the weights are folded and transformed */
    tdm_load_options lo = {.bytes_done = owned ? free : NULL, .bytes_done_user = owned};
    tdm_status st = tdm_model_load_memory(bytes, (size_t)size, &lo, &w->model);
    if (!st) st = tdm_session_create(w->model, &so, &w->session);
    if (!st) st = tdm_session_plan(w->session);
    if (st) {
        fail(st);
        tdmw_close(w);
        return NULL;
    }
    w->threads = so.threads;
    w->load_ms = now_ms() - t0;
    return w;
}

tdmw *tdmw_open(const void *bytes, int size, int threads, int profile) {
    return open_model(bytes, size, threads, profile, NULL);
}

tdmw *tdmw_open_owned(void *bytes, int size, int threads, int profile) {
    return open_model(bytes, size, threads, profile, bytes);
}

void tdmw_close(tdmw *w) {
    if (!w) return;
    tdm_session_free(w->session);
    tdm_model_free(w->model);
    free(w);
}

int tdmw_threads(const tdmw *w) { return w ? w->threads : 0; }
double tdmw_load_ms(const tdmw *w) { return w ? w->load_ms : 0.0; }
int tdmw_num_inputs(const tdmw *w) { return w ? tdm_model_num_inputs(w->model) : 0; }
int tdmw_num_outputs(const tdmw *w) { return w ? tdm_model_num_outputs(w->model) : 0; }

/* The model's declared input/output `index`, or 0 on a bad index (after setting the error). */
static int io_info(const tdmw *w, int is_output, int index, tdm_tensor_info *info) {
    if (!w) return set_error("no engine"), 0;
    tdm_status st = is_output ? tdm_model_output_info(w->model, index, info) : tdm_model_input_info(w->model, index, info);
    if (st) return fail(st), 0;
    return 1;
}

const char *tdmw_io_name(const tdmw *w, int is_output, int index) {
    tdm_tensor_info info;
    return io_info(w, is_output, index, &info) ? info.name : NULL;
}

int tdmw_io_dtype(const tdmw *w, int is_output, int index) {
    tdm_tensor_info info;
    return io_info(w, is_output, index, &info) ? (int)info.dtype : -1;
}

int tdmw_io_rank(const tdmw *w, int is_output, int index) {
    tdm_tensor_info info;
    return io_info(w, is_output, index, &info) ? info.rank : -1;
}

/* -1 for a symbolic dimension (and for a bad index). */
int tdmw_io_dim(const tdmw *w, int is_output, int index, int axis) {
    tdm_tensor_info info;
    if (!io_info(w, is_output, index, &info) || axis < 0 || axis >= info.rank) return -1;
    return info.dims[axis] < 0 || info.dims[axis] > 0x7fffffff ? -1 : (int)info.dims[axis];
}

int tdmw_set_input_shape(tdmw *w, int index, const int *dims, int rank) {
    if (!w || !dims || rank < 0 || rank > TDM_MAX_RANK) return set_error("set_input_shape: bad arguments"), (int)TDM_INVALID_ARGUMENT;
    int64_t d[TDM_MAX_RANK];
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    tdm_status st = tdm_session_set_input_shape(w->session, index, d, rank);
    if (!st) st = tdm_session_plan(w->session);
    return st ? fail(st) : 0;
}

/* The input buffer itself, to be filled in place: float32, int64 (token ids, masks) or int32; NULL on error. */
void *tdmw_input_data(tdmw *w, int index) {
    if (!w) return set_error("no engine"), NULL;
    tdm_tensor_info info;
    void *p;
    tdm_status st = tdm_session_input_data(w->session, index, &info, &p);
    if (st) return fail(st), NULL;
    if (info.dtype != TDM_FLOAT && info.dtype != TDM_INT64 && info.dtype != TDM_INT32) {
        snprintf(err_buf, sizeof err_buf, "input '%s' is %s; JS can set float32, int64 and int32 inputs", info.name,
                 tdm_dtype_name(info.dtype));
        return NULL;
    }
    return p;
}

/* The rows of the table an integer input indexes (token ids: the vocabulary), or 0 when it indexes none. */
double tdmw_input_index_limit(const tdmw *w, int index) {
    return w ? (double)tdm_model_input_index_limit(w->model, index) : 0.0;
}

int tdmw_input_numel(tdmw *w, int index) {
    if (!w) return -1;
    tdm_tensor_info info;
    void *p;
    if (tdm_session_input_data(w->session, index, &info, &p)) return fail(TDM_INVALID_ARGUMENT), -1;
    int64_t n = 1;
    for (int i = 0; i < info.rank; i++) n *= info.dims[i];
    return n > 0x7fffffff ? -1 : (int)n;
}

int tdmw_run(tdmw *w) {
    if (!w) return set_error("no engine"), (int)TDM_INVALID_ARGUMENT;
    double t0 = now_ms();
    tdm_status st = tdm_session_run(w->session);
    w->run_ms = now_ms() - t0;
    return st ? fail(st) : 0;
}

double tdmw_run_ms(const tdmw *w) { return w ? w->run_ms : 0.0; }

static int out_info(tdmw *w, int index, tdm_tensor_info *info, const void **data) {
    if (!w) return set_error("no engine"), 0;
    tdm_status st = tdm_session_output(w->session, index, info, data);
    if (st) return fail(st), 0;
    return 1;
}

int tdmw_output_rank(tdmw *w, int index) {
    tdm_tensor_info info;
    const void *d;
    return out_info(w, index, &info, &d) ? info.rank : -1;
}

int tdmw_output_dim(tdmw *w, int index, int axis) {
    tdm_tensor_info info;
    const void *d;
    if (!out_info(w, index, &info, &d) || axis < 0 || axis >= info.rank) return -1;
    return info.dims[axis] > 0x7fffffff ? -1 : (int)info.dims[axis];
}

/* Float outputs only; NULL (with the error set) for other types. */
const float *tdmw_output_data(tdmw *w, int index) {
    tdm_tensor_info info;
    const void *d;
    if (!out_info(w, index, &info, &d)) return NULL;
    if (info.dtype != TDM_FLOAT) {
        snprintf(err_buf, sizeof err_buf, "output '%s' is %s; only float32 outputs are returned to JS", info.name,
                 tdm_dtype_name(info.dtype));
        return NULL;
    }
    return d;
}

int tdmw_output_numel(tdmw *w, int index) {
    tdm_tensor_info info;
    const void *d;
    if (!out_info(w, index, &info, &d)) return -1;
    int64_t n = 1;
    for (int i = 0; i < info.rank; i++) n *= info.dims[i];
    return n > 0x7fffffff ? -1 : (int)n;
}

/* New values for the integer inputs, outside any timing: ids uniform over the table they index (tdm_model_input
 * index_limit), other integers in [0, 2); the same rule as `tandem bench --vary-input`. */
static void vary_inputs(tdmw *w, uint64_t *state) {
    for (int i = 0; i < tdm_model_num_inputs(w->model); i++) {
        tdm_tensor_info info;
        void *p;
        if (tdm_session_input_data(w->session, i, &info, &p) || (info.dtype != TDM_INT64 && info.dtype != TDM_INT32))
            continue;
        int64_t n = 1, hi = tdm_model_input_index_limit(w->model, i);
        for (int d = 0; d < info.rank; d++) n *= info.dims[d];
        if (hi <= 0) hi = 2;
        for (int64_t k = 0; k < n; k++) {
            *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17; /* xorshift64 */
            int64_t v = (int64_t)(*state % (uint64_t)hi);
            if (info.dtype == TDM_INT64) ((int64_t *)p)[k] = v;
            else ((int32_t *)p)[k] = (int32_t)v;
        }
    }
}

/* One first run, `warmup` untimed runs, then `runs` timed runs into times_ms[0..runs): the benchmark loop without a
 * trip through JS per run. With vary, the integer inputs get new values before every run (vary_inputs). Returns 0 or
 * the failing status. */
int tdmw_bench(tdmw *w, int runs, int warmup, int vary, double *times_ms, double *first_ms) {
    if (!w || runs < 0 || warmup < 0 || (runs && !times_ms)) return set_error("bench: bad arguments"), (int)TDM_INVALID_ARGUMENT;
    uint64_t state = 0x9e3779b97f4a7c15u;
    int st = tdmw_run(w);
    if (st) return st;
    if (first_ms) *first_ms = w->run_ms;
    for (int i = 0; i < warmup; i++) {
        if (vary) vary_inputs(w, &state);
        if ((st = tdmw_run(w))) return st;
    }
    for (int i = 0; i < runs; i++) {
        if (vary) vary_inputs(w, &state);
        if ((st = tdmw_run(w))) return st;
        times_ms[i] = w->run_ms;
    }
    return 0;
}

/* Bytes of linear memory now (the wasm heap, which never shrinks, so also its peak); 0 natively. */
double tdmw_heap_bytes(void) {
#if defined(__wasm__)
    return (double)__builtin_wasm_memory_size(0) * 65536.0;
#else
    return 0.0;
#endif
}

/* The executed node list and, when opened with profile != 0, each node's milliseconds summed over the runs so far. */
int tdmw_num_exec_nodes(tdmw *w) { return w ? tdm_session_num_exec_nodes(w->session) : 0; }
const char *tdmw_exec_node_op(tdmw *w, int index) { return w ? tdm_session_exec_node_op(w->session, index) : NULL; }
const char *tdmw_exec_node_name(tdmw *w, int index) { return w ? tdm_session_exec_node_name(w->session, index) : NULL; }
double tdmw_exec_node_ms(tdmw *w, int index) { return w ? tdm_session_exec_node_ms(w->session, index) : 0.0; }
