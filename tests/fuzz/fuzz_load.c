/* fuzz_load.c - libFuzzer target: load arbitrary bytes as an ONNX model and, when that works, plan and run it once
 * on zero inputs. Any crash, sanitizer report, leak or hang here is a bug in the loader, the passes, the planner or
 * an op. Build with `make fuzz`; run with tests/fuzz/run.sh (see tests/fuzz/README.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem.h"

/* Budgets that keep one input cheap: what a fuzzed model may allocate in one block, the input bytes we fill, and
 * the multiply-accumulates we are willing to run. Above them the input is dropped, not reported. */
#define MAX_BLOCK ((size_t)256 << 20)
#define MAX_INPUT_BYTES ((size_t)4 << 20)
#define MAX_MACS ((int64_t)200 * 1000 * 1000)
#define MAX_TOTAL ((size_t)768 << 20)

/* An allocator with a ceiling, as an embedder with a memory budget would pass: huge shapes in a fuzzed model must
 * end in TDM_OUT_OF_MEMORY, not in libFuzzer's malloc limit. It tracks live bytes with a small header. */
static size_t live_bytes;

static void *capped_realloc(void *user, void *ptr, size_t size) {
    (void)user;
    size_t old = 0;
    char *raw = ptr ? (char *)ptr - 16 : NULL;
    if (raw) memcpy(&old, raw, sizeof old);
    if (size == 0) {
        live_bytes -= old;
        free(raw);
        return NULL;
    }
    if (size > MAX_BLOCK || live_bytes - old + size > MAX_TOTAL) return NULL;
    char *p = realloc(raw, size + 16);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    live_bytes = live_bytes - old + size;
    return p + 16;
}

static int64_t numel_of(const tdm_tensor_info *info) {
    int64_t n = 1;
    for (int i = 0; i < info->rank; i++) {
        int64_t d = info->dims[i] < 0 ? 1 : info->dims[i];
        if (d && n > INT64_MAX / d) return -1;
        n *= d;
    }
    return n;
}

/* Integer inputs are shape inputs: set them (zeros) first through tdm_session_set_input, as the API asks. */
static int set_shape_inputs(tdm_session *s, const tdm_model *m) {
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        tdm_tensor_info info;
        if (tdm_model_input_info(m, i, &info)) return -1;
        if (info.dtype != TDM_INT64 && info.dtype != TDM_INT32) continue;
        if (info.rank < 0) return -1;
        int64_t n = numel_of(&info);
        size_t bytes = (size_t)n * tdm_dtype_size(info.dtype);
        if (n < 0 || bytes > MAX_INPUT_BYTES) return -1;
        void *zeros = calloc(1, bytes ? bytes : 1);
        if (!zeros) return -1;
        tdm_session_set_input(s, i, zeros, bytes); /* a refusal is fine: the plan below then fails cleanly */
        free(zeros);
    }
    return 0;
}

/* Plan, zero the other inputs in place, run once and read every output. */
static void run_once(tdm_session *s, const tdm_model *m) {
    if (set_shape_inputs(s, m) != 0) return;
    if (tdm_session_plan(s) != TDM_OK) return;
    tdm_stats st;
    if (tdm_session_stats(s, &st) != TDM_OK || st.macs > MAX_MACS) return;
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        tdm_tensor_info info;
        void *data;
        tdm_tensor_info minfo;
        if (tdm_model_input_info(m, i, &minfo) || minfo.dtype == TDM_INT64 || minfo.dtype == TDM_INT32) continue;
        if (tdm_session_input_data(s, i, &info, &data) != TDM_OK) return;
        int64_t n = numel_of(&info);
        size_t bytes = (size_t)n * tdm_dtype_size(info.dtype);
        if (n < 0 || bytes > MAX_INPUT_BYTES) return;
        if (bytes) memset(data, 0, bytes);
    }
    if (tdm_session_run(s) != TDM_OK) return;
    volatile unsigned sum = 0;
    for (int i = 0; i < tdm_model_num_outputs(m); i++) {
        tdm_tensor_info info;
        const void *data;
        if (tdm_session_output(s, i, &info, &data) != TDM_OK) continue;
        int64_t n = numel_of(&info);
        size_t bytes = n < 0 ? 0 : (size_t)n * tdm_dtype_size(info.dtype);
        /* touching every byte lets ASan check that the reported shape fits the output's storage */
        for (size_t b = 0; data && b < bytes; b += 1) sum += ((const unsigned char *)data)[b];
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tdm_load_options lo = {.realloc_fn = capped_realloc};
    tdm_model *m = NULL;
    if (tdm_model_load_memory(data, size, &lo, &m) != TDM_OK) {
        if (m) __builtin_trap(); /* a failed load must leave model_out NULL */
        return 0;
    }
    /* the queries a CLI makes, on whatever loaded */
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        tdm_tensor_info info;
        if (tdm_model_input_info(m, i, &info) == TDM_OK && (!info.name || info.rank > TDM_MAX_RANK)) __builtin_trap();
    }
    for (int i = 0; i < tdm_model_num_source_nodes(m); i++) {
        const char *op, *name;
        if (tdm_model_source_node(m, i, &op, &name) == TDM_OK && (!op || !name)) __builtin_trap();
    }
    tdm_session_options so = {.threads = 1};
    tdm_session *s = NULL;
    if (tdm_session_create(m, &so, &s) == TDM_OK) {
        run_once(s, m);
        for (int k = 0; k < tdm_session_num_exec_nodes(s); k++) (void)tdm_session_exec_node_op(s, k);
        tdm_session_free(s);
    }
    tdm_model_free(m);
    if (live_bytes != 0) __builtin_trap(); /* everything the engine allocated came back */
    return 0;
}
