/* test_api.c - unit tests of the public API in include/tandem.h, through the API only: argument checking, loading,
 * a failing allocator (no leak, clean status), re-planning, threads, tensor files, model info and session stats. */
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"
#include "tandem_onnx_write.h"
#include "kernels/kernels.h"

#define CONV_DIR "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding"

/* ---- the harness: a test fails if any CHECK in it fails --------------------------------------------------------- */

static int t_failed;      /* checks failed in the current test */
static int t_skipped;     /* the current test skipped itself */
static char t_skip_why[512];

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            t_failed++;                                                                                                \
            printf("  check failed at line %d: %s: ", __LINE__, #cond);                                               \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
        }                                                                                                              \
    } while (0)

/* A status check that names both statuses and the engine's message. */
#define CHECK_ST(expr, want)                                                                                           \
    do {                                                                                                               \
        tdm_status st_ = (expr);                                                                                       \
        CHECK(st_ == (want), "got %s, expected %s (%s)", tdm_status_name(st_), tdm_status_name(want),                  \
              st_ ? tdm_last_error() : "");                                                                            \
    } while (0)

static void skip(const char *fmt, const char *arg) {
    t_skipped = 1;
    snprintf(t_skip_why, sizeof t_skip_why, fmt, arg);
}

static const char *shared_dir(void) { return getenv("TDM_SHARED") ? getenv("TDM_SHARED") : "../shared"; }

/* Path of ${TDM_SHARED}/models/<name>/<file>, or NULL when it does not exist. Static buffer per slot. */
static const char *shared_path(const char *name, const char *file, int slot) {
    static char buf[4][4200];
    snprintf(buf[slot], sizeof buf[slot], "%s/models/%s/%s", shared_dir(), name, file);
    return tu_exists(buf[slot]) ? buf[slot] : NULL;
}

/* Set the message to a known sentence, so a later check can see that a call wrote its own. */
static void mark_error(void) {
    tdm_tensor_info info;
    tdm_model_input_info(NULL, 987654, &info);
}

static int has_new_error(void) {
    const char *e = tdm_last_error();
    return e && e[0] && strcmp(e, "no error") != 0 && !strstr(e, "987654");
}

/* Invalid-argument call: the status and a fresh message. */
#define CHECK_INVALID(expr)                                                                                            \
    do {                                                                                                               \
        mark_error();                                                                                                  \
        CHECK_ST(expr, TDM_INVALID_ARGUMENT);                                                                          \
        CHECK(has_new_error(), "no message of its own: '%s'", tdm_last_error());                                     \
    } while (0)

static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

/* ---- a counting allocator that fails the Nth allocation --------------------------------------------------------- */

typedef struct counting {
    long calls;     /* allocation attempts (new blocks and growth) since the last arm() */
    long fail_at;   /* the attempt that returns NULL; 0: never */
    long live;      /* blocks currently allocated */
    long failures;  /* NULLs returned */
} counting;

static void *counting_realloc(void *user, void *ptr, size_t size) {
    counting *c = user;
    if (size == 0) {
        if (ptr) {
            c->live--;
            free(ptr);
        }
        return NULL;
    }
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at) {
        c->failures++;
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr) c->live++;
    return p;
}

static void arm(counting *c, long fail_at) {
    c->calls = 0;
    c->fail_at = fail_at;
}

/* ---- shared helpers ----------------------------------------------------------------------------------------- */

/* Set every input of s from dir/input_K.pb (shape first), run, and compare output 0 with dir/output_0.pb. */
static int run_dataset(tdm_session *s, const char *dir, int nin, char *why, size_t why_len) {
    char path[4400];
    for (int i = 0; i < nin; i++) {
        tdm_tensor *in = NULL;
        snprintf(path, sizeof path, "%s/input_%d.pb", dir, i);
        if (tdm_tensor_read_file(path, &in)) {
            snprintf(why, why_len, "read %s: %s", path, tdm_last_error());
            return 0;
        }
        size_t bytes = (size_t)tdm_tensor_numel(in) * tdm_dtype_size(in->dtype);
        tdm_status st = tdm_session_set_input_shape(s, i, in->dims, in->rank);
        if (!st) st = tdm_session_set_input(s, i, in->data, bytes);
        tdm_tensor_free(in);
        if (st) {
            snprintf(why, why_len, "input %d: %s: %s", i, tdm_status_name(st), tdm_last_error());
            return 0;
        }
    }
    tdm_status st = tdm_session_run(s);
    if (st) {
        snprintf(why, why_len, "run: %s: %s", tdm_status_name(st), tdm_last_error());
        return 0;
    }
    tdm_tensor *want = NULL;
    snprintf(path, sizeof path, "%s/output_0.pb", dir);
    if (tdm_tensor_read_file(path, &want)) {
        snprintf(why, why_len, "read %s: %s", path, tdm_last_error());
        return 0;
    }
    tdm_tensor_info gi;
    const void *got;
    int ok = 0;
    if ((st = tdm_session_output(s, 0, &gi, &got)))
        snprintf(why, why_len, "output: %s: %s", tdm_status_name(st), tdm_last_error());
    else
        ok = tu_compare(&gi, got, want, 1e-4, 1e-5, why, why_len);
    tdm_tensor_free(want);
    return ok;
}

/* A copy of output 0 of the last run (malloc'd), with its element count. */
static float *copy_output(tdm_session *s, int64_t *n) {
    tdm_tensor_info gi;
    const void *got;
    if (tdm_session_output(s, 0, &gi, &got) || gi.dtype != TDM_FLOAT) return NULL;
    int64_t k = 1;
    for (int i = 0; i < gi.rank; i++) k *= gi.dims[i];
    float *p = malloc((size_t)(k ? k : 1) * sizeof(float));
    if (p) memcpy(p, got, (size_t)k * sizeof(float));
    *n = k;
    return p;
}

/* ---- tests -------------------------------------------------------------------------------------------------- */

static void test_free_null(void) {
    tdm_model_free(NULL);
    tdm_session_free(NULL);
    tdm_tensor_free(NULL);
    CHECK(1, "unreachable");
}

static void test_misc_queries(void) {
    CHECK(strcmp(tdm_status_name(TDM_OK), tdm_status_name(TDM_OUT_OF_MEMORY)) != 0, "status names collide");
    CHECK(tdm_dtype_size(TDM_FLOAT) == 4 && tdm_dtype_size(TDM_INT64) == 8 && tdm_dtype_size(TDM_BOOL) == 1 &&
              tdm_dtype_size(TDM_STRING) == 0 && tdm_dtype_size(TDM_UNDEFINED) == 0,
          "dtype sizes");
    CHECK(tdm_dtype_name(TDM_FLOAT) && tdm_dtype_name((tdm_dtype)999), "dtype names must never be NULL");
    CHECK(tdm_kernel_isa() && tdm_kernel_isa()[0], "kernel isa name is empty");
    int nops = tdm_num_supported_ops();
    CHECK(nops > 10, "only %d supported ops", nops);
    int has_conv = 0;
    for (int i = 0; i < nops; i++) {
        const char *op = tdm_supported_op(i);
        CHECK(op && op[0], "supported op %d has no name", i);
        if (op && !strcmp(op, "Conv")) has_conv = 1;
    }
    CHECK(has_conv, "Conv is not in the supported op list");
    /* NULL models answer 0, "" without crashing */
    CHECK(tdm_model_num_inputs(NULL) == 0 && tdm_model_num_outputs(NULL) == 0, "counts of a NULL model");
    CHECK(tdm_session_num_exec_nodes(NULL) == 0, "exec nodes of a NULL session");
    CHECK(tdm_session_exec_node_op(NULL, 0) == NULL, "exec op of a NULL session");
    CHECK(tdm_model_producer(NULL) != NULL, "producer of a NULL model is NULL");
    int64_t d0[1] = {0}, d2[2] = {2, 3};
    tdm_tensor *t = tdm_tensor_new(TDM_FLOAT, 2, d2);
    CHECK(t && tdm_tensor_numel(t) == 6 && t->data && ((uintptr_t)t->data % 64) == 0, "tdm_tensor_new [2,3]");
    if (t) CHECK(((float *)t->data)[5] == 0.0f, "tensor_new must zero the data");
    tdm_tensor_free(t);
    t = tdm_tensor_new(TDM_INT64, 1, d0);
    CHECK(t && tdm_tensor_numel(t) == 0, "tdm_tensor_new [0]");
    tdm_tensor_free(t);
    t = tdm_tensor_new(TDM_UINT8, 0, NULL);
    CHECK(t && tdm_tensor_numel(t) == 1, "tdm_tensor_new scalar");
    tdm_tensor_free(t);
    CHECK(tdm_tensor_new(TDM_STRING, 1, d2) == NULL, "string tensor must fail");
    CHECK(tdm_tensor_new(TDM_FLOAT, -1, d2) == NULL, "rank -1 must fail");
    CHECK(tdm_tensor_new(TDM_FLOAT, TDM_MAX_RANK + 1, d2) == NULL, "rank 9 must fail");
    int64_t neg[1] = {-3};
    CHECK(tdm_tensor_new(TDM_FLOAT, 1, neg) == NULL, "negative dim must fail");
}

static void test_invalid_arguments(void) {
    tdm_model *m = (tdm_model *)1; /* must be overwritten with NULL on failure */
    char byte = 0;
    CHECK_INVALID(tdm_model_load_memory(NULL, 10, NULL, &m));
    CHECK(m == NULL, "model_out not NULL after a failed load");
    CHECK_INVALID(tdm_model_load_memory(&byte, 1, NULL, NULL));
    CHECK_INVALID(tdm_model_load_file(NULL, NULL, &m));
    CHECK_INVALID(tdm_model_load_file(CONV_DIR "/model.onnx", NULL, NULL));

    if (tdm_model_load_file(CONV_DIR "/model.onnx", NULL, &m)) {
        CHECK(0, "cannot load %s: %s", CONV_DIR, tdm_last_error());
        return;
    }
    tdm_tensor_info info;
    const char *op, *name;
    int nin = tdm_model_num_inputs(m), nout = tdm_model_num_outputs(m);
    CHECK(nin == 2 && nout == 1, "conv model: %d inputs, %d outputs", nin, nout);
    CHECK_INVALID(tdm_model_input_info(NULL, 0, &info));
    CHECK_INVALID(tdm_model_input_info(m, -1, &info));
    CHECK_INVALID(tdm_model_input_info(m, nin, &info));
    CHECK_INVALID(tdm_model_input_info(m, 0, NULL));
    CHECK_INVALID(tdm_model_output_info(NULL, 0, &info));
    CHECK_INVALID(tdm_model_output_info(m, -1, &info));
    CHECK_INVALID(tdm_model_output_info(m, nout, &info));
    CHECK_INVALID(tdm_model_output_info(m, 0, NULL));
    CHECK_INVALID(tdm_model_source_node(NULL, 0, &op, &name));
    CHECK_INVALID(tdm_model_source_node(m, -1, &op, &name));
    CHECK_INVALID(tdm_model_source_node(m, tdm_model_num_source_nodes(m), &op, &name));

    tdm_session *s = (tdm_session *)1;
    tdm_session_options bad_threads = {.threads = -1}, huge_threads = {.threads = 100000};
    CHECK_INVALID(tdm_session_create(NULL, NULL, &s));
    CHECK(s == NULL, "session_out not NULL after a failed create");
    CHECK_INVALID(tdm_session_create(m, NULL, NULL));
    CHECK_INVALID(tdm_session_create(m, &bad_threads, &s));
    CHECK_INVALID(tdm_session_create(m, &huge_threads, &s));
    s = NULL;
    if (tdm_session_create(m, NULL, &s)) {
        CHECK(0, "session_create: %s", tdm_last_error());
        tdm_model_free(m);
        return;
    }
    int64_t dims[4] = {1, 1, 7, 5};
    float buf[35] = {0};
    void *data;
    const void *cdata;
    tdm_stats stats;
    CHECK_INVALID(tdm_session_set_input_shape(NULL, 0, dims, 4));
    CHECK_INVALID(tdm_session_set_input_shape(s, -1, dims, 4));
    CHECK_INVALID(tdm_session_set_input_shape(s, nin, dims, 4));
    CHECK_INVALID(tdm_session_set_input_shape(s, 0, NULL, 4));
    CHECK_INVALID(tdm_session_set_input_shape(s, 0, dims, -1));
    CHECK_INVALID(tdm_session_set_input_shape(s, 0, dims, TDM_MAX_RANK + 1));
    CHECK_INVALID(tdm_session_plan(NULL));
    CHECK_INVALID(tdm_session_set_input(NULL, 0, buf, sizeof buf));
    CHECK_INVALID(tdm_session_set_input(s, -1, buf, sizeof buf));
    CHECK_INVALID(tdm_session_set_input(s, nin, buf, sizeof buf));
    CHECK_INVALID(tdm_session_set_input(s, 0, NULL, sizeof buf));
    CHECK_INVALID(tdm_session_set_input(s, 0, buf, sizeof buf - 4)); /* wrong byte count */
    CHECK_INVALID(tdm_session_set_input(s, 0, buf, sizeof buf + 4));
    CHECK_INVALID(tdm_session_set_input(s, 0, buf, 0));
    CHECK_INVALID(tdm_session_input_data(NULL, 0, NULL, &data));
    CHECK_INVALID(tdm_session_input_data(s, -1, NULL, &data));
    CHECK_INVALID(tdm_session_input_data(s, nin, NULL, &data));
    CHECK_INVALID(tdm_session_input_data(s, 0, NULL, NULL));
    CHECK_INVALID(tdm_session_run(NULL));
    CHECK_INVALID(tdm_session_output(NULL, 0, NULL, &cdata));
    CHECK_INVALID(tdm_session_output(s, -1, NULL, &cdata));
    CHECK_INVALID(tdm_session_output(s, nout, NULL, &cdata));
    CHECK_INVALID(tdm_session_stats(NULL, &stats));
    CHECK_INVALID(tdm_session_stats(s, NULL));
    CHECK(tdm_session_exec_node_op(s, -1) == NULL, "exec op -1 must be NULL");
    CHECK(tdm_session_exec_node_op(s, tdm_session_num_exec_nodes(s)) == NULL, "exec op past the end must be NULL");

    tdm_tensor *t = (tdm_tensor *)1;
    CHECK_INVALID(tdm_tensor_read_memory(NULL, 10, &t));
    CHECK_INVALID(tdm_tensor_read_memory(&byte, 1, NULL));
    CHECK_INVALID(tdm_tensor_read_file(NULL, &t));
    CHECK_INVALID(tdm_tensor_read_file(CONV_DIR "/test_data_set_0/input_0.pb", NULL));
    CHECK_INVALID(tdm_tensor_write_file(NULL, "x", TDM_FLOAT, 4, dims, buf));
    CHECK_INVALID(tdm_tensor_write_file("/tmp/never-written.pb", "x", TDM_FLOAT, 4, NULL, buf));
    CHECK_INVALID(tdm_tensor_write_file("/tmp/never-written.pb", "x", TDM_FLOAT, 4, dims, NULL));
    CHECK_INVALID(tdm_tensor_write_file("/tmp/never-written.pb", "x", TDM_FLOAT, -1, dims, buf));
    CHECK_INVALID(tdm_tensor_write_file("/tmp/never-written.pb", "x", TDM_FLOAT, TDM_MAX_RANK + 1, dims, buf));
    CHECK_INVALID(tdm_tensor_write_file("/tmp/never-written.pb", "x", TDM_STRING, 4, dims, buf));

    /* the session still works after all those refusals */
    char why[512] = "";
    CHECK(run_dataset(s, CONV_DIR "/test_data_set_0", nin, why, sizeof why), "%s", why);
    tdm_session_free(s);
    tdm_model_free(m);
}

static void test_model_queries(void) {
    tdm_model *m = NULL;
    if (tdm_model_load_file(CONV_DIR "/model.onnx", NULL, &m)) {
        CHECK(0, "load: %s", tdm_last_error());
        return;
    }
    CHECK(tdm_model_opset(m) > 0, "opset %lld", (long long)tdm_model_opset(m));
    CHECK(tdm_model_ir_version(m) > 0, "ir_version %lld", (long long)tdm_model_ir_version(m));
    CHECK(tdm_model_producer(m) != NULL, "producer is NULL");
    CHECK(tdm_model_num_source_nodes(m) == 1, "%d source nodes", tdm_model_num_source_nodes(m));
    const char *op = NULL, *name = NULL;
    CHECK_ST(tdm_model_source_node(m, 0, &op, &name), TDM_OK);
    CHECK(op && !strcmp(op, "Conv"), "source node 0 is '%s'", op ? op : "(null)");
    CHECK(name != NULL, "source node name is NULL");
    CHECK_ST(tdm_model_source_node(m, 0, NULL, NULL), TDM_OK);
    tdm_tensor_info info;
    CHECK_ST(tdm_model_input_info(m, 0, &info), TDM_OK);
    CHECK(info.name && !strcmp(info.name, "x") && info.dtype == TDM_FLOAT && info.rank == 4 && info.dims[0] == 1 &&
              info.dims[1] == 1 && info.dims[2] == 7 && info.dims[3] == 5,
          "input 0: %s %d rank %d", info.name ? info.name : "(null)", info.dtype, info.rank);
    CHECK_ST(tdm_model_input_info(m, 1, &info), TDM_OK);
    CHECK(info.name && !strcmp(info.name, "W") && info.rank == 4 && info.dims[2] == 3, "input 1");
    CHECK_ST(tdm_model_output_info(m, 0, &info), TDM_OK);
    CHECK(info.name && !strcmp(info.name, "y") && info.rank == 4 && info.dims[2] == 4 && info.dims[3] == 3,
          "output 0");
    tdm_model_free(m);
}

/* Memory and file loading give the same model; the caller may scribble over its buffer after a memory load. */
/* tdm_load_options.bytes_done for the memory load below: poisons and frees the caller's bytes as soon as the engine
 * says it is done with them, so a later read of them shows (under ASan, or as wrong outputs). */
typedef struct release_ctx {
    void *bytes;
    size_t size;
    int calls;
} release_ctx;
static void release_bytes(void *user) {
    release_ctx *r = user;
    memset(r->bytes, 0xA5, r->size);
    free(r->bytes);
    r->bytes = NULL;
    r->calls++;
}

static void test_load_memory_vs_file(void) {
    const char *paths[2] = {CONV_DIR "/model.onnx", shared_path("cifar10_resnet20", "model.onnx", 0)};
    for (int k = 0; k < 2; k++) {
        if (!paths[k]) continue;
        size_t size;
        void *bytes = read_all(paths[k], &size);
        CHECK(bytes != NULL, "cannot read %s", paths[k]);
        if (!bytes) continue;
        tdm_model *mf = NULL, *mm = NULL;
        release_ctx rel = {bytes, size, 0};
        tdm_load_options lo = {.bytes_done = release_bytes, .bytes_done_user = &rel};
        CHECK_ST(tdm_model_load_file(paths[k], NULL, &mf), TDM_OK);
        CHECK_ST(tdm_model_load_memory(bytes, size, &lo, &mm), TDM_OK);
        CHECK(rel.calls == 1, "bytes_done called %d times, expected once", rel.calls);
        if (rel.bytes) release_bytes(&rel);
        if (!mf || !mm) {
            tdm_model_free(mf);
            tdm_model_free(mm);
            continue;
        }
        CHECK(tdm_model_num_inputs(mf) == tdm_model_num_inputs(mm), "input counts differ");
        CHECK(tdm_model_num_source_nodes(mf) == tdm_model_num_source_nodes(mm), "node counts differ");
        float *out[2] = {NULL, NULL};
        int64_t n[2] = {0, 0};
        tdm_model *ms[2] = {mf, mm};
        for (int j = 0; j < 2; j++) {
            tdm_session *s = NULL;
            if (tdm_session_create(ms[j], NULL, &s)) {
                CHECK(0, "session: %s", tdm_last_error());
                continue;
            }
            /* deterministic inputs, the same for both models */
            for (int i = 0; i < tdm_model_num_inputs(ms[j]); i++) {
                tdm_tensor_info info;
                void *d;
                if (tdm_session_input_data(s, i, &info, &d) || info.dtype != TDM_FLOAT) continue;
                int64_t e = 1;
                for (int r = 0; r < info.rank; r++) e *= info.dims[r];
                for (int64_t q = 0; q < e; q++) ((float *)d)[q] = (float)((q * 7 + i * 3) % 13) / 13.0f - 0.4f;
            }
            CHECK_ST(tdm_session_run(s), TDM_OK);
            out[j] = copy_output(s, &n[j]);
            tdm_session_free(s);
        }
        CHECK(out[0] && out[1] && n[0] == n[1] && n[0] > 0 && !memcmp(out[0], out[1], (size_t)n[0] * sizeof(float)),
              "%s: outputs of file and memory loads differ", paths[k]);
        free(out[0]);
        free(out[1]);
        tdm_model_free(mf);
        tdm_model_free(mm);
    }
    char why[512] = "";
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    if (!tdm_model_load_file(CONV_DIR "/model.onnx", NULL, &m) && !tdm_session_create(m, NULL, &s))
        CHECK(run_dataset(s, CONV_DIR "/test_data_set_0", 2, why, sizeof why), "golden: %s", why);
    tdm_session_free(s);
    tdm_model_free(m);
}

static void test_bad_models(void) {
    tdm_model *m = (tdm_model *)1;
    mark_error();
    CHECK_ST(tdm_model_load_file("/nonexistent/dir/model.onnx", NULL, &m), TDM_IO_ERROR);
    CHECK(m == NULL && has_new_error(), "missing file: model %p, message '%s'", (void *)m, tdm_last_error());
    CHECK_ST(tdm_model_load_file("/tmp", NULL, &m), TDM_IO_ERROR); /* a folder */
    char empty = 0;
    m = (tdm_model *)1;
    CHECK_ST(tdm_model_load_memory(&empty, 0, NULL, &m), TDM_INVALID_MODEL);
    CHECK(m == NULL, "empty buffer: model_out not NULL");
    CHECK_ST(tdm_model_load_memory(NULL, 0, NULL, &m), TDM_INVALID_MODEL);

    /* random bytes: a fixed seed, several lengths */
    uint32_t seed = 12345;
    unsigned char rnd[4096];
    int bad_random = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t len = 1 + (size_t)(trial * 37 % 4096);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1664525u + 1013904223u;
            rnd[i] = (unsigned char)(seed >> 24);
        }
        m = NULL;
        tdm_status st = tdm_model_load_memory(rnd, len, NULL, &m);
        if (st != TDM_INVALID_MODEL) {
            if (bad_random++ < 3) CHECK(0, "random bytes (trial %d, %zu bytes): %s", trial, len, tdm_status_name(st));
        }
        tdm_model_free(m);
    }
    CHECK(bad_random == 0, "%d random buffers did not give TDM_INVALID_MODEL", bad_random);

    /* every truncation of a small model, and a few of a real one */
    const char *paths[2] = {CONV_DIR "/model.onnx", shared_path("cifar10_resnet20", "model.onnx", 0)};
    for (int k = 0; k < 2; k++) {
        if (!paths[k]) continue;
        size_t size;
        unsigned char *bytes = read_all(paths[k], &size);
        if (!bytes) continue;
        size_t step = size < 4096 ? 1 : size / 97;
        int bad = 0;
        for (size_t len = 0; len < size; len += step) {
            /* copy into an exact-size block so ASan sees any read past the end */
            unsigned char *cut = malloc(len ? len : 1);
            memcpy(cut, bytes, len);
            m = NULL;
            tdm_status st = tdm_model_load_memory(cut, len, NULL, &m);
            free(cut);
            if (st != TDM_INVALID_MODEL && bad++ < 3)
                CHECK(0, "%s truncated to %zu of %zu bytes: %s (%s)", paths[k], len, size, tdm_status_name(st),
                      st ? tdm_last_error() : "loaded");
            tdm_model_free(m);
        }
        CHECK(bad == 0, "%s: %d truncations did not give TDM_INVALID_MODEL", paths[k], bad);
        /* flipped bytes: any status, never a crash (fewer on the big model: each one runs it) */
        for (int f = 0; f < (size < 4096 ? 300 : 40); f++) {
            unsigned char *mut = malloc(size);
            memcpy(mut, bytes, size);
            seed = seed * 1664525u + 1013904223u;
            size_t at = (seed >> 8) % size;
            mut[at] ^= (unsigned char)(1u << (f % 8));
            m = NULL;
            if (tdm_model_load_memory(mut, size, NULL, &m) == TDM_OK) {
                tdm_session *s = NULL;
                if (!tdm_session_create(m, NULL, &s)) tdm_session_run(s);
                tdm_session_free(s);
            }
            tdm_model_free(m);
            free(mut);
        }
        free(bytes);
    }
}

/* Load `path` with an allocator that fails attempt N, for N = 1, 2, ... until the load succeeds. Returns the number
 * of attempts a successful load makes, or -1. */
static long oom_load(const char *path, size_t size, const void *bytes) {
    counting c = {0};
    tdm_load_options lo = {.realloc_fn = counting_realloc, .realloc_user = &c};
    int bad_status = 0, leaks = 0;
    for (long n = 1;; n++) {
        tdm_model *m = (tdm_model *)1;
        arm(&c, n);
        tdm_status st = path ? tdm_model_load_file(path, &lo, &m) : tdm_model_load_memory(bytes, size, &lo, &m);
        if (st == TDM_OK) {
            CHECK(c.failures == n - 1, "the load succeeded although allocation %ld failed", n);
            long calls = c.calls;
            tdm_model_free(m);
            CHECK(c.live == 0, "%ld blocks live after tdm_model_free", c.live);
            return calls;
        }
        if (st != TDM_OUT_OF_MEMORY && bad_status++ < 3)
            CHECK(st == TDM_OUT_OF_MEMORY, "failing allocation %ld gave %s: %s", n, tdm_status_name(st),
                  tdm_last_error());
        if (m != NULL) CHECK(m == NULL, "failing allocation %ld left model_out set", n);
        if (c.live != 0 && leaks++ < 3) CHECK(c.live == 0, "failing allocation %ld leaked %ld blocks", n, c.live);
        c.live = 0;
        if (n > 2000000) {
            CHECK(0, "the load never succeeds");
            return -1;
        }
    }
}

static void test_failing_allocator_load(void) {
    const char *paths[3] = {CONV_DIR "/model.onnx", shared_path("cifar10_resnet20", "model.onnx", 0),
                            shared_path("mnist8", "model.onnx", 1)};
    for (int k = 0; k < 3; k++) {
        if (!paths[k]) {
            printf("  SKIP %s part: it is absent from %s/models\n", k == 1 ? "cifar10_resnet20" : "mnist8",
                   shared_dir());
            continue;
        }
        size_t size;
        void *bytes = read_all(paths[k], &size);
        long calls_mem = bytes ? oom_load(NULL, size, bytes) : -1;
        free(bytes);
        /* the file path shares the parser: fail it on the small models only, to keep the sanitizer pass quick */
        long calls = size < 500000 ? oom_load(paths[k], 0, NULL) : -1;
        if (calls >= 0)
            printf("  %s: failed each of the %ld allocations of a load from memory, and of %ld from file\n", paths[k],
                   calls_mem, calls);
        else
            printf("  %s: failed each of the %ld allocations of a load from memory\n", paths[k], calls_mem);
    }
}

/* Session create + plan + set input + run under an allocator that fails the Nth attempt after the load. */
static void oom_session(const char *model_path, const char *dataset, int nin, int threads) {
    counting c = {0};
    tdm_load_options lo = {.realloc_fn = counting_realloc, .realloc_user = &c};
    tdm_model *m = NULL;
    arm(&c, 0);
    if (tdm_model_load_file(model_path, &lo, &m)) {
        CHECK(0, "load %s: %s", model_path, tdm_last_error());
        return;
    }
    long base = c.live;
    int bad_status = 0, leaks = 0;
    long n;
    for (n = 1; n < 1000000; n++) {
        tdm_session *s = NULL;
        tdm_session_options so = {.threads = threads};
        arm(&c, n);
        tdm_status st = tdm_session_create(m, &so, &s);
        if (!st) st = tdm_session_plan(s);
        char why[512] = "";
        int ok = 0;
        long before_run = 0;
        if (!st) {
            /* set_input/run of the dataset: run itself must not allocate */
            before_run = c.calls;
            ok = run_dataset(s, dataset, nin, why, sizeof why);
        }
        if (ok) {
            CHECK(c.failures == n - 1, "the run succeeded although allocation %ld failed", n);
            CHECK(c.calls == before_run, "set_input+run allocated %ld times on a planned session",
                  c.calls - before_run);
            tdm_session_free(s);
            CHECK(c.live == base, "%ld blocks leaked by a successful session", c.live - base);
            break;
        }
        if (st == TDM_OK && c.failures == 0) { /* a real failure, not an injected one */
            CHECK(0, "%s: %s", dataset, why);
            tdm_session_free(s);
            break;
        }
        if (st != TDM_OK && st != TDM_OUT_OF_MEMORY && bad_status++ < 3)
            CHECK(0, "failing allocation %ld gave %s: %s", n, tdm_status_name(st), tdm_last_error());
        tdm_session_free(s);
        if (c.live != base && leaks++ < 3)
            CHECK(0, "failing allocation %ld leaked %ld blocks", n, c.live - base);
        c.live = base;
    }
    printf("  %s threads=%d: failed each of the %ld allocations of create+plan+run\n", model_path, threads, n - 1);
    tdm_model_free(m);
    CHECK(c.live == 0, "%ld blocks live after tdm_model_free", c.live);
}

static void test_failing_allocator_session(void) {
    oom_session(CONV_DIR "/model.onnx", CONV_DIR "/test_data_set_0", 2, 1);
    oom_session(CONV_DIR "/model.onnx", CONV_DIR "/test_data_set_0", 2, 3);
    const char *p = shared_path("cifar10_resnet20", "model.onnx", 0);
    const char *d = shared_path("cifar10_resnet20", "test_data_set_0", 1);
    if (p && d) {
        oom_session(p, d, 1, 1);
        oom_session(p, d, 1, 2);
    } else
        printf("  SKIP cifar10_resnet20 part: %s/models/cifar10_resnet20 is absent\n", shared_dir());
    /* BatchNormalization left in the graph, Clip, depthwise convolutions; and MatMul/Reshape/MaxPool */
    static const char *more[2] = {"cifar100_mobilenetv2_arch", "mnist8"};
    for (int k = 0; k < 2; k++) {
        p = shared_path(more[k], "model.onnx", 0);
        d = shared_path(more[k], "test_data_set_0", 1);
        if (p && d) {
            char pc[4200], dc[4200];
            snprintf(pc, sizeof pc, "%s", p);
            snprintf(dc, sizeof dc, "%s", d);
            oom_session(pc, dc, 1, 1);
        } else
            printf("  SKIP %s part: it is absent from %s/models\n", more[k], shared_dir());
    }
}

static void test_shape_errors(void) {
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    if (tdm_model_load_file(CONV_DIR "/model.onnx", NULL, &m) || tdm_session_create(m, NULL, &s)) {
        CHECK(0, "setup: %s", tdm_last_error());
        tdm_model_free(m);
        return;
    }
    int64_t d3[3] = {1, 7, 5}, d5[5] = {1, 1, 1, 7, 5}, wrong[4] = {1, 2, 7, 5}, neg[4] = {1, 1, -1, 5};
    mark_error();
    CHECK_ST(tdm_session_set_input_shape(s, 0, d3, 3), TDM_SHAPE_MISMATCH);
    CHECK(has_new_error(), "no message");
    CHECK_ST(tdm_session_set_input_shape(s, 0, d5, 5), TDM_SHAPE_MISMATCH);
    CHECK_ST(tdm_session_set_input_shape(s, 0, wrong, 4), TDM_SHAPE_MISMATCH);
    CHECK_ST(tdm_session_set_input_shape(s, 0, neg, 4), TDM_SHAPE_MISMATCH);
    /* the previous shape stays */
    tdm_tensor_info info;
    void *data;
    CHECK_ST(tdm_session_input_data(s, 0, &info, &data), TDM_OK);
    CHECK(info.rank == 4 && info.dims[1] == 1 && info.dims[2] == 7 && info.dims[3] == 5, "shape changed by a refusal");
    char why[512] = "";
    CHECK(run_dataset(s, CONV_DIR "/test_data_set_0", 2, why, sizeof why), "%s", why);
    tdm_session_free(s);
    tdm_model_free(m);
}

/* batch 1, 8, 1 in one session against the goldens; mismatches leave the session usable. */
static void test_replanning(void) {
    const char *p = shared_path("cifar10_resnet20", "model.onnx", 0);
    const char *d0 = shared_path("cifar10_resnet20", "test_data_set_0", 1);
    const char *d1 = shared_path("cifar10_resnet20", "test_data_set_1", 2);
    if (!p || !d0 || !d1) {
        skip("%s/models/cifar10_resnet20 is absent", shared_dir());
        return;
    }
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    if (tdm_model_load_file(p, NULL, &m) || tdm_session_create(m, NULL, &s)) {
        CHECK(0, "setup: %s", tdm_last_error());
        tdm_model_free(m);
        return;
    }
    const char *order[3] = {d0, d1, d0};
    for (int k = 0; k < 3; k++) {
        char why[512] = "";
        CHECK(run_dataset(s, order[k], 1, why, sizeof why), "step %d (%s): %s", k, order[k], why);
        tdm_tensor_info info;
        CHECK_ST(tdm_session_output(s, 0, &info, NULL), TDM_OK);
        CHECK(info.rank == 2 && info.dims[0] == (k == 1 ? 8 : 1) && info.dims[1] == 10, "output shape after step %d",
              k);
    }
    int64_t r3[3] = {1, 3, 32}, c4[4] = {1, 4, 32, 32}, h[4] = {2, 3, 31, 32}, ok4[4] = {2, 3, 32, 32};
    CHECK_ST(tdm_session_set_input_shape(s, 0, r3, 3), TDM_SHAPE_MISMATCH);
    CHECK_ST(tdm_session_set_input_shape(s, 0, c4, 4), TDM_SHAPE_MISMATCH);
    CHECK_ST(tdm_session_set_input_shape(s, 0, h, 4), TDM_SHAPE_MISMATCH);
    CHECK_ST(tdm_session_set_input_shape(s, 0, ok4, 4), TDM_OK);
    float *buf = calloc(2 * 3 * 32 * 32 + 1, sizeof(float));
    mark_error();
    CHECK_ST(tdm_session_set_input(s, 0, buf, 1 * 3 * 32 * 32 * sizeof(float)), TDM_INVALID_ARGUMENT);
    CHECK(has_new_error(), "no message");
    CHECK_ST(tdm_session_set_input(s, 0, buf, (2 * 3 * 32 * 32 + 1) * sizeof(float)), TDM_INVALID_ARGUMENT);
    CHECK_ST(tdm_session_set_input(s, 0, buf, 2 * 3 * 32 * 32 * sizeof(float)), TDM_OK);
    free(buf);
    CHECK_ST(tdm_session_run(s), TDM_OK);
    tdm_tensor_info info;
    CHECK_ST(tdm_session_output(s, 0, &info, NULL), TDM_OK);
    CHECK(info.rank == 2 && info.dims[0] == 2, "batch 2 output");
    /* macs are linear in the batch; the arena grows with it */
    tdm_stats s2, s8;
    CHECK_ST(tdm_session_stats(s, &s2), TDM_OK);
    int64_t b8[4] = {8, 3, 32, 32};
    CHECK_ST(tdm_session_set_input_shape(s, 0, b8, 4), TDM_OK);
    CHECK_ST(tdm_session_stats(s, &s8), TDM_OK);
    CHECK(s8.macs == 4 * s2.macs, "macs at batch 8 %lld, at batch 2 %lld", (long long)s8.macs, (long long)s2.macs);
    CHECK(s8.arena_bytes > s2.arena_bytes, "arena at batch 8 %zu, at batch 2 %zu", s8.arena_bytes, s2.arena_bytes);
    CHECK(s8.weights_bytes == s2.weights_bytes && s8.params == s2.params, "weights depend on the batch");
    tdm_session_free(s);
    tdm_model_free(m);
}

/* Sessions with 0, 1, 2, 3 threads give the same outputs (a batch of 8 so the workers have rows to share). */
static void test_threads(void) {
    const char *p = shared_path("cifar10_resnet20", "model.onnx", 0);
    const char *d1 = shared_path("cifar10_resnet20", "test_data_set_1", 1);
    const char *mp = p ? p : CONV_DIR "/model.onnx";
    const char *dp = p ? d1 : CONV_DIR "/test_data_set_0";
    int nin = p ? 1 : 2;
    if (!p) printf("  (cifar10_resnet20 absent: using the conv test model)\n");
    tdm_model *m = NULL;
    if (tdm_model_load_file(mp, NULL, &m)) {
        CHECK(0, "load: %s", tdm_last_error());
        return;
    }
    float *ref = NULL;
    int64_t nref = 0;
    int bitwise = 1;
    for (int threads = 0; threads <= 3; threads++) {
        tdm_session_options so = {.threads = threads};
        tdm_session *s = NULL;
        char why[512] = "";
        if (tdm_session_create(m, &so, &s)) {
            CHECK(0, "threads=%d: %s", threads, tdm_last_error());
            continue;
        }
        for (int rep = 0; rep < 2; rep++) {
            CHECK(run_dataset(s, dp, nin, why, sizeof why), "threads=%d golden: %s", threads, why);
            int64_t n;
            float *out = copy_output(s, &n);
            if (!out) continue;
            if (!ref) {
                ref = out;
                nref = n;
                continue;
            }
            CHECK(n == nref, "threads=%d: %lld elements, expected %lld", threads, (long long)n, (long long)nref);
            if (n == nref) {
                if (memcmp(out, ref, (size_t)n * sizeof(float))) bitwise = 0;
                int64_t bad = -1;
                for (int64_t i = 0; i < n && bad < 0; i++)
                    if (!(fabsf(out[i] - ref[i]) <= 1e-6f + 1e-5f * fabsf(ref[i]))) bad = i;
                CHECK(bad < 0, "threads=%d: element %lld is %g, threads=0 gave %g", threads, (long long)bad,
                      bad >= 0 ? out[bad] : 0.0, bad >= 0 ? ref[bad] : 0.0);
            }
            free(out);
        }
        tdm_session_free(s);
    }
    printf("  outputs of 0..3 threads are %s\n", bitwise ? "bitwise identical" : "equal within 1e-5 (not bitwise)");
    free(ref);
    tdm_model_free(m);
}

/* One model, several sessions on several threads at once (the model is documented as shareable). */
typedef struct worker {
    const tdm_model *m;
    const char *dataset;
    int nin, ok, threads;
    char why[512];
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    tdm_session_options so = {.threads = w->threads};
    tdm_session *s = NULL;
    if (tdm_session_create(w->m, &so, &s)) {
        snprintf(w->why, sizeof w->why, "session: %s", tdm_last_error());
        return NULL;
    }
    w->ok = 1;
    for (int rep = 0; rep < 3 && w->ok; rep++) w->ok = run_dataset(s, w->dataset, w->nin, w->why, sizeof w->why);
    tdm_session_free(s);
    return NULL;
}

static void test_shared_model(void) {
    const char *p = shared_path("cifar10_resnet20", "model.onnx", 0);
    const char *mp = p ? p : CONV_DIR "/model.onnx";
    tdm_model *m = NULL;
    if (tdm_model_load_file(mp, NULL, &m)) {
        CHECK(0, "load: %s", tdm_last_error());
        return;
    }
    enum { NW = 4 };
    worker w[NW];
    pthread_t th[NW];
    for (int i = 0; i < NW; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].m = m;
        w[i].nin = p ? 1 : 2;
        w[i].threads = i % 2 + 1;
        w[i].dataset = p ? shared_path("cifar10_resnet20", i % 2 ? "test_data_set_1" : "test_data_set_0", 1)
                         : CONV_DIR "/test_data_set_0";
        if (p) w[i].dataset = strdup(w[i].dataset);
        CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < NW; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].ok, "worker %d: %s", i, w[i].why);
        if (p) free((void *)w[i].dataset);
    }
    tdm_model_free(m);
}

static void test_tensor_files(void) {
    char dir[] = "/tmp/tdm_test_api_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/t.pb", dir);
    float f6[6] = {1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-30f};
    int64_t i4[4] = {INT64_MIN, -1, 0, INT64_MAX};
    uint8_t u8[8] = {0, 1, 2, 127, 128, 200, 254, 255};
    uint8_t b3[3] = {1, 0, 1};
    float scalar = 42.0f;
    struct {
        const char *name;
        tdm_dtype dt;
        int rank;
        int64_t dims[4];
        const void *data;
    } cases[] = {
        {"f32", TDM_FLOAT, 2, {2, 3}, f6},
        {"i64", TDM_INT64, 1, {4}, i4},
        {"u8", TDM_UINT8, 3, {2, 2, 2}, u8},
        {"b", TDM_BOOL, 1, {3}, b3},
        {"scalar", TDM_FLOAT, 0, {0}, &scalar},
        {"empty", TDM_FLOAT, 2, {0, 3}, f6},
        {NULL, TDM_INT64, 3, {2, 0, 5}, i4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_ST(tdm_tensor_write_file(path, cases[k].name, cases[k].dt, cases[k].rank, cases[k].dims, cases[k].data),
                 TDM_OK);
        for (int via = 0; via < 2; via++) {
            tdm_tensor *t = NULL;
            if (via == 0)
                CHECK_ST(tdm_tensor_read_file(path, &t), TDM_OK);
            else {
                size_t size;
                void *bytes = read_all(path, &size);
                CHECK_ST(tdm_tensor_read_memory(bytes, size, &t), TDM_OK);
                free(bytes);
            }
            if (!t) continue;
            CHECK(t->dtype == cases[k].dt && t->rank == cases[k].rank, "case %zu: dtype %d rank %d", k, t->dtype,
                  t->rank);
            int same = t->rank == cases[k].rank;
            for (int i = 0; same && i < t->rank; i++) same = t->dims[i] == cases[k].dims[i];
            CHECK(same, "case %zu: dims differ", k);
            if (cases[k].name)
                CHECK(t->name && !strcmp(t->name, cases[k].name), "case %zu: name '%s'", k, t->name ? t->name : "");
            else
                CHECK(!t->name || !t->name[0], "case %zu: unnamed tensor read back as '%s'", k, t->name);
            int64_t numel = tdm_tensor_numel(t);
            CHECK(t->data != NULL && ((uintptr_t)t->data % 64) == 0, "case %zu: data not 64-byte aligned", k);
            if (same && t->data)
                CHECK(!memcmp(t->data, cases[k].data, (size_t)numel * tdm_dtype_size(t->dtype)), "case %zu: data", k);
            tdm_tensor_free(t);
        }
    }
    tdm_tensor *t = (tdm_tensor *)1;
    snprintf(path, sizeof path, "%s/absent.pb", dir);
    CHECK_ST(tdm_tensor_read_file(path, &t), TDM_IO_ERROR);
    CHECK(t == NULL, "tensor_out not NULL after a failed read");
    CHECK_ST(tdm_tensor_write_file("/nonexistent/dir/t.pb", "x", TDM_FLOAT, 0, NULL, &scalar), TDM_IO_ERROR);
    unsigned char junk[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
    t = (tdm_tensor *)1;
    CHECK_ST(tdm_tensor_read_memory(junk, sizeof junk, &t), TDM_INVALID_MODEL);
    CHECK(t == NULL, "tensor_out not NULL after a failed parse");
    snprintf(path, sizeof path, "%s/t.pb", dir);
    unlink(path);
    rmdir(dir);
}

static void test_input_info_symbolic(void) {
    int seen = 0;
    int n;
    char mdir[4200];
    snprintf(mdir, sizeof mdir, "%s/models", shared_dir());
    char **names = tu_list(mdir, "cifar", &n);
    for (int k = 0; k < n; k++) {
        const char *p = shared_path(names[k], "model.onnx", 0);
        if (!p) continue;
        tdm_model *m = NULL;
        if (tdm_model_load_file(p, NULL, &m)) {
            CHECK(0, "%s: %s", names[k], tdm_last_error());
            continue;
        }
        seen++;
        tdm_tensor_info info;
        CHECK(tdm_model_num_inputs(m) == 1, "%s: %d inputs", names[k], tdm_model_num_inputs(m));
        CHECK_ST(tdm_model_input_info(m, 0, &info), TDM_OK);
        CHECK(info.dtype == TDM_FLOAT && info.rank == 4, "%s: dtype %d rank %d", names[k], info.dtype, info.rank);
        CHECK(info.dims[0] == -1 && info.dim_param[0] && !strcmp(info.dim_param[0], "N"),
              "%s: batch dim %lld '%s'", names[k], (long long)info.dims[0], info.dim_param[0] ? info.dim_param[0] : "");
        CHECK(info.dims[1] == 3 && info.dims[2] == 32 && info.dims[3] == 32, "%s: fixed dims", names[k]);
        CHECK(info.dim_param[1] && !info.dim_param[1][0], "%s: dim_param of a fixed dim is not \"\"", names[k]);
        CHECK_ST(tdm_model_output_info(m, 0, &info), TDM_OK);
        CHECK(info.rank == 2 && info.dims[0] == -1 && (info.dims[1] == 10 || info.dims[1] == 100),
              "%s: output rank %d dims %lld,%lld", names[k], info.rank, (long long)info.dims[0],
              (long long)info.dims[1]);
        /* a session defaults the symbolic dim to 1 */
        tdm_session *s = NULL;
        if (!tdm_session_create(m, NULL, &s)) {
            void *d;
            CHECK_ST(tdm_session_input_data(s, 0, &info, &d), TDM_OK);
            CHECK(info.dims[0] == 1, "%s: default batch %lld", names[k], (long long)info.dims[0]);
        }
        tdm_session_free(s);
        tdm_model_free(m);
    }
    tu_free_list(names, n);
    if (!seen) skip("no cifar models in %s/models", shared_dir());
}

static void check_stats(const char *path, const char *label) {
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    if (tdm_model_load_file(path, NULL, &m) || tdm_session_create(m, NULL, &s)) {
        CHECK(0, "%s: %s", label, tdm_last_error());
        tdm_model_free(m);
        return;
    }
    tdm_stats st;
    memset(&st, 0xff, sizeof st);
    CHECK_ST(tdm_session_stats(s, &st), TDM_OK);
    CHECK(st.arena_bytes > 0, "%s: arena_bytes %zu", label, st.arena_bytes);
    CHECK(st.macs > 0, "%s: macs %lld", label, (long long)st.macs);
    CHECK(st.params >= 0 && st.weights_bytes >= 4 * (size_t)st.params, "%s: weights_bytes %zu, params %lld", label,
          st.weights_bytes, (long long)st.params);
    CHECK(st.nodes >= 1 && st.nodes == tdm_session_num_exec_nodes(s), "%s: nodes %d, exec nodes %d", label, st.nodes,
          tdm_session_num_exec_nodes(s));
    for (int i = 0; i < st.nodes; i++) {
        const char *op = tdm_session_exec_node_op(s, i);
        CHECK(op && op[0], "%s: exec node %d has no op name", label, i);
    }
    printf("  %s: weights %zu B, params %lld, arena %zu B, workspace %zu B, macs %lld, %d nodes\n", label,
           st.weights_bytes, (long long)st.params, st.arena_bytes, st.workspace_bytes, (long long)st.macs, st.nodes);
    tdm_session_free(s);
    tdm_model_free(m);
}

static void test_stats(void) {
    check_stats(CONV_DIR "/model.onnx", "conv_with_strides_padding");
    const char *p = shared_path("cifar10_resnet20", "model.onnx", 0);
    if (p) {
        check_stats(p, "cifar10_resnet20");
        tdm_model *m = NULL;
        if (!tdm_model_load_file(p, NULL, &m)) {
            tdm_session *s = NULL;
            tdm_stats st;
            if (!tdm_session_create(m, NULL, &s) && !tdm_session_stats(s, &st)) {
                /* 269k parameters per ../shared/models/README.md */
                CHECK(st.params > 250000 && st.params < 300000, "resnet20 params %lld", (long long)st.params);
                CHECK(st.macs > 30000000, "resnet20 macs %lld (about 41M expected)", (long long)st.macs);
            }
            tdm_session_free(s);
            tdm_model_free(m);
        }
    } else
        printf("  SKIP cifar10_resnet20 part: %s/models/cifar10_resnet20 is absent\n", shared_dir());
}

/* Fill the input in place through tdm_session_input_data: the same result as tdm_session_set_input. */
static void test_input_in_place(void) {
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    if (tdm_model_load_file(CONV_DIR "/model.onnx", NULL, &m) || tdm_session_create(m, NULL, &s)) {
        CHECK(0, "setup: %s", tdm_last_error());
        tdm_model_free(m);
        return;
    }
    char why[512] = "";
    CHECK(run_dataset(s, CONV_DIR "/test_data_set_0", 2, why, sizeof why), "%s", why);
    int64_t n0;
    float *ref = copy_output(s, &n0);
    /* zero both inputs through the pointers, run (all zeros out), then put the data back in place */
    for (int i = 0; i < 2; i++) {
        tdm_tensor_info info;
        void *d;
        CHECK_ST(tdm_session_input_data(s, i, &info, &d), TDM_OK);
        CHECK(info.rank == 4 && info.dtype == TDM_FLOAT, "input %d info", i);
        int64_t e = 1;
        for (int r = 0; r < info.rank; r++) e *= info.dims[r];
        memset(d, 0, (size_t)e * sizeof(float));
    }
    CHECK_ST(tdm_session_run(s), TDM_OK);
    int64_t nz;
    float *z = copy_output(s, &nz);
    int zero = z != NULL;
    for (int64_t i = 0; z && i < nz; i++) zero &= z[i] == 0.0f;
    CHECK(zero, "zero inputs in place did not give zero outputs");
    free(z);
    for (int i = 0; i < 2; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", CONV_DIR, i);
        tdm_tensor *t = NULL;
        void *d;
        if (tdm_tensor_read_file(path, &t) || tdm_session_input_data(s, i, NULL, &d)) continue;
        memcpy(d, t->data, (size_t)tdm_tensor_numel(t) * sizeof(float));
        tdm_tensor_free(t);
    }
    CHECK_ST(tdm_session_run(s), TDM_OK);
    int64_t n1;
    float *out = copy_output(s, &n1);
    CHECK(ref && out && n0 == n1 && !memcmp(ref, out, (size_t)n0 * sizeof(float)), "in-place input differs");
    free(ref);
    free(out);
    tdm_session_free(s);
    tdm_model_free(m);
}

/* ---- peak memory ------------------------------------------------------------------------------------------- */

/* An allocator that keeps each block's size in a header, to follow the bytes the engine holds and their peak. */
typedef struct sizing {
    size_t live, peak;
} sizing;

static void *sizing_realloc(void *user, void *ptr, size_t size) {
    sizing *c = user;
    size_t old = 0;
    if (ptr) {
        ptr = (char *)ptr - 16;
        memcpy(&old, ptr, sizeof old);
    }
    if (size == 0) {
        c->live -= old;
        free(ptr);
        return NULL;
    }
    char *p = realloc(ptr, size + 16);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    c->live = c->live - old + size;
    if (c->live > c->peak) c->peak = c->live;
    return p + 16;
}

/* The engine's peak during a load stays near the weights it ends up with (each constant is decoded once into its own
 * block, and a pass holds at most one layer twice; tables of names and nodes come on top), and through plan + run
 * near weights + arena + workspace. Before, the load held every constant twice (2.03x the weights for ResNet-56, and
 * ResNet-56's Winograd weights beside the 3x3 ones: 17.97 MiB against a 3.3 MiB file); now 1.08x. The bound, 1.25x,
 * leaves room for the tables of smaller models. */
static void check_peak(const char *path, const char *label) {
    char dir[4400], why[512] = "";
    snprintf(dir, sizeof dir, "%.4000s", path);
    char *slash = strrchr(dir, '/');
    if (slash) strcpy(slash, "/test_data_set_0");
    sizing c = {0, 0};
    tdm_load_options lo = {.realloc_fn = sizing_realloc, .realloc_user = &c};
    tdm_model *m = NULL;
    if (tdm_model_load_file(path, &lo, &m)) {
        CHECK(0, "load %s: %s", path, tdm_last_error());
        return;
    }
    size_t load_peak = c.peak;
    tdm_session *s = NULL;
    tdm_stats st = {0};
    tdm_status rc = tdm_session_create(m, NULL, &s);
    if (!rc) rc = tdm_session_plan(s);
    if (!rc) rc = tdm_session_stats(s, &st);
    CHECK(rc == TDM_OK, "%s: plan: %s", label, tdm_last_error());
    if (!rc) CHECK(run_dataset(s, dir, 1, why, sizeof why), "%s: %s", label, why);
    size_t weights = st.weights_bytes, all = st.weights_bytes + st.arena_bytes + st.workspace_bytes;
    printf("  %s: load peak %.2f MiB for %.2f MiB of weights (%.2fx); load+plan+run peak %.2f MiB for %.2f MiB of "
           "weights+arena+workspace (%.2fx)\n", label, load_peak / 1048576.0, weights / 1048576.0,
           (double)load_peak / (double)(weights ? weights : 1), c.peak / 1048576.0, all / 1048576.0,
           (double)c.peak / (double)(all ? all : 1));
    CHECK(weights > 0 && load_peak <= weights + weights / 4, "%s: load peak %zu bytes above 1.25 x %zu of weights",
          label, load_peak, weights);
    CHECK(c.peak <= all + all / 4, "%s: peak %zu bytes above 1.25 x %zu of weights+arena+workspace", label, c.peak,
          all);
    tdm_session_free(s);
    tdm_model_free(m);
    CHECK(c.live == 0, "%s: %zu bytes live after freeing everything", label, c.live);
    /* One form of each weight: a 3x3 convolution keeps its weights or their Winograd transform, not both: 16/9 as big
     * for F(2x2,3x3) (the 8x8 maps), 36/9 for F(4x4,3x3) (16x16 and 32x32, AVX2 builds). So the weights stay under
     * the file size times the largest of these that the kernels use (holding both forms: 2.69x for ResNet-56 with
     * F(2x2) alone). */
    size_t file = 0, points = tdm_wino_selected()->max_m == 4 ? 36 : 16;
    void *bytes = read_all(path, &file);
    free(bytes);
    CHECK(file > 0 && weights <= file / 9 * points, "%s: %zu bytes of weights for a %zu-byte file", label, weights,
          file);
}

static void test_peak_memory(void) {
    static const char *const names[] = {"cifar10_resnet20", "cifar100_resnet56"};
    for (int k = 0; k < 2; k++) {
        const char *p = shared_path(names[k], "model.onnx", 0);
        if (!p) {
            printf("  SKIP %s: it is absent from %s/models\n", names[k], shared_dir());
            continue;
        }
        check_peak(p, names[k]);
    }
}

/* ---- main ------------------------------------------------------------------------------------------------- */

typedef struct test {
    const char *name;
    void (*fn)(void);
} test;

/* Batch splitting (engine/split.c): a batch runs image by image on the threads only where every op treats samples
 * independently and the shapes say the batch stays the leading axis; either way the results equal one thread's. */
/* Serialise the writer's model and load it; NULL on failure (tdm_last_error says why). Frees the writer. */
static tdm_model *write_and_load(tdm_onnx_writer *w) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    tdm_model *m = NULL;
    if (!tdm_onnx_writer_finish(w, 8, 13, "test_api", "1", &bytes, &len)) tdm_model_load_memory(bytes, len, NULL, &m);
    free(bytes);
    tdm_onnx_writer_free(w);
    return m;
}

/* The constant inputs st, en, ax, sp of a one-axis Slice: v = {start, end, axis, step}. */
static void split_slice_inputs(tdm_onnx_writer *w, const int64_t v[4]) {
    static const char *names[4] = {"st", "en", "ax", "sp"};
    for (int i = 0; i < 4; i++) tdm_onnx_writer_initializer(w, names[i], TDM_INT64, 1, (int64_t[]){1}, v + i);
}

static tdm_model *split_model(int kind) {
    tdm_onnx_writer *w = tdm_onnx_writer_new("split");
    const char *np[4] = {"N", NULL, NULL, NULL};
    int64_t xd[4] = {-1, 3, 8, 8}, yd[4] = {-1, 4, 8, 8}, fd[2] = {-1, 4}, gd[2] = {-1, -1}, wd[4] = {4, 3, 3, 3};
    float wt[108], b[4] = {0.1f, -0.2f, 0.3f, 0.0f};
    for (int i = 0; i < 108; i++) wt[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    if (kind == 0) { /* Conv + Relu: splits */
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 4, xd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 4, yd, np);
        tdm_onnx_writer_initializer(w, "w", TDM_FLOAT, 4, wd, wt);
        tdm_onnx_writer_initializer(w, "b", TDM_FLOAT, 1, (int64_t[]){4}, b);
        int64_t pads[4] = {1, 1, 1, 1};
        tdm_onnx_attr a = {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, pads};
        tdm_onnx_writer_node(w, "Conv", "conv", 3, (const char *[]){"x", "w", "b"}, 1, (const char *[]){"c"}, 1, &a);
        tdm_onnx_writer_node(w, "Relu", "relu", 1, (const char *[]){"c"}, 1, (const char *[]){"y"}, 0, NULL);
    } else if (kind == 1) { /* Softmax over the batch axis: must not split */
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 2, fd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 2, fd, np);
        tdm_onnx_attr a = {"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL};
        tdm_onnx_writer_node(w, "Softmax", "sm", 1, (const char *[]){"x"}, 1, (const char *[]){"y"}, 1, &a);
    } else if (kind == 3) { /* Slice reversing the batch: shapes as per-sample ops would have them, must not split */
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 4, xd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 4, xd, np);
        split_slice_inputs(w, (int64_t[]){-1, INT64_MIN, 0, -1});
        tdm_onnx_writer_node(w, "Slice", "sl", 5, (const char *[]){"x", "st", "en", "ax", "sp"}, 1,
                             (const char *[]){"s"}, 0, NULL);
        tdm_onnx_writer_node(w, "Relu", "relu", 1, (const char *[]){"s"}, 1, (const char *[]){"y"}, 0, NULL);
    } else if (kind == 5) { /* Concat on channels, Transpose keeping axis 0 first, Softmax on axis 1: splits */
        int64_t td[4] = {-1, 8, 6, 8};
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 4, xd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 4, td, np);
        tdm_onnx_attr ax1 = {"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL};
        int64_t perm[4] = {0, 2, 1, 3};
        tdm_onnx_attr pa = {"perm", TDM_ONNX_ATTR_INTS, 0, 0, 4, perm};
        tdm_onnx_writer_node(w, "Concat", "cat", 2, (const char *[]){"x", "x"}, 1, (const char *[]){"c"}, 1, &ax1);
        tdm_onnx_writer_node(w, "Transpose", "tr", 1, (const char *[]){"c"}, 1, (const char *[]){"t"}, 1, &pa);
        tdm_onnx_writer_node(w, "Softmax", "sm", 1, (const char *[]){"t"}, 1, (const char *[]){"y"}, 1, &ax1);
    } else if (kind == 6) { /* a Transpose that moves axis 0 away: must not split */
        int64_t td[4] = {3, -1, 8, 8};
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 4, xd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 4, td, NULL);
        int64_t perm[4] = {1, 0, 2, 3};
        tdm_onnx_attr pa = {"perm", TDM_ONNX_ATTR_INTS, 0, 0, 4, perm};
        tdm_onnx_writer_node(w, "Transpose", "tr", 1, (const char *[]){"x"}, 1, (const char *[]){"t"}, 1, &pa);
        tdm_onnx_writer_node(w, "Relu", "relu", 1, (const char *[]){"t"}, 1, (const char *[]){"y"}, 0, NULL);
    } else if (kind == 4) { /* ResNet's option-A shortcut: Slice rows 2 apart, Pad channels: splits */
        int64_t pd[8] = {0, 1, 0, 0, 0, 2, 0, 0}, od[4] = {-1, 6, 4, 8};
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 4, xd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 4, od, np);
        split_slice_inputs(w, (int64_t[]){0, 8, 2, 2});
        tdm_onnx_writer_initializer(w, "pd", TDM_INT64, 1, (int64_t[]){8}, pd);
        tdm_onnx_writer_node(w, "Slice", "sl", 5, (const char *[]){"x", "st", "en", "ax", "sp"}, 1,
                             (const char *[]){"s"}, 0, NULL);
        tdm_onnx_writer_node(w, "Pad", "pad", 2, (const char *[]){"s", "pd"}, 1, (const char *[]){"p"}, 0, NULL);
        tdm_onnx_writer_node(w, "Relu", "relu", 1, (const char *[]){"p"}, 1, (const char *[]){"y"}, 0, NULL);
    } else { /* Flatten at axis 0 folds the batch into one row, then Relu: an allowed op list, but the shapes differ */
        tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 2, fd, np);
        tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 2, gd, NULL);
        tdm_onnx_attr a = {"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL};
        tdm_onnx_writer_node(w, "Flatten", "fl", 1, (const char *[]){"x"}, 1, (const char *[]){"f"}, 1, &a);
        tdm_onnx_writer_node(w, "Relu", "relu", 1, (const char *[]){"f"}, 1, (const char *[]){"y"}, 0, NULL);
    }
    return write_and_load(w);
}

static void test_batch_split(void) {
    static const char *names[7] = {"conv+relu", "softmax axis 0", "flatten axis 0", "slice reversing axis 0",
                                   "slice axis 2 + pad axis 1", "concat + transpose + softmax on axis 1",
                                   "transpose moving axis 0"};
    for (int kind = 0; kind < 7; kind++) {
        tdm_model *m = split_model(kind);
        CHECK(m != NULL, "%s: the test model does not load: %s", names[kind], tdm_last_error());
        if (!m) continue;
        tdm_tensor_info info;
        tdm_model_input_info(m, 0, &info);
        int64_t dims[4] = {5, 3, 8, 8};
        if (info.rank == 2) dims[1] = 4;
        int64_t numel = 1;
        for (int d = 0; d < info.rank; d++) numel *= dims[d];
        float *x = malloc((size_t)numel * sizeof(float)), *ref = NULL;
        for (int64_t i = 0; i < numel; i++) x[i] = (float)((i * 13) % 17) / 17.0f - 0.4f;
        int64_t nref = 0;
        for (int threads = 1; threads <= 3; threads++) {
            tdm_session_options so = {.threads = threads};
            tdm_session *s = NULL;
            tdm_stats st;
            const void *out;
            tdm_tensor_info oi;
            if (tdm_session_create(m, &so, &s) || tdm_session_set_input_shape(s, 0, dims, info.rank) ||
                tdm_session_set_input(s, 0, x, (size_t)numel * sizeof(float)) || tdm_session_run(s) ||
                tdm_session_output(s, 0, &oi, &out) || tdm_session_stats(s, &st)) {
                CHECK(0, "%s threads=%d: %s", names[kind], threads, tdm_last_error());
                tdm_session_free(s);
                continue;
            }
            int want_split = kind == 0 || kind == 4 || kind == 5;
            CHECK(st.batch_split == want_split, "%s threads=%d: batch_split %d, expected %d", names[kind], threads,
                  st.batch_split, want_split);
            int64_t n = 1;
            for (int d = 0; d < oi.rank; d++) n *= oi.dims[d];
            if (!ref) {
                ref = malloc((size_t)n * sizeof(float));
                memcpy(ref, out, (size_t)n * sizeof(float));
                nref = n;
            } else {
                const float *o = out;
                int64_t bad = n == nref ? -1 : 0;
                for (int64_t i = 0; i < n && bad < 0; i++)
                    if (!(fabsf(o[i] - ref[i]) <= 1e-6f + 1e-5f * fabsf(ref[i]))) bad = i;
                CHECK(bad < 0, "%s threads=%d: output differs from one thread's at element %lld", names[kind],
                      threads, (long long)bad);
            }
            tdm_session_free(s);
        }
        free(x);
        free(ref);
        tdm_model_free(m);
    }
}

/* Inputs as data or as plan-time constants (tdm_model_input_decides_shape). A text-style model: token ids through an
 * embedding Gather, a mask through Cast and Unsqueeze; and a Reshape whose shape is a graph input. */
static void test_integer_inputs(void) {
    enum { V = 50, D = 4, S = 8 };
    float emb[V * D];
    for (int i = 0; i < V * D; i++) emb[i] = (float)((i * 37) % 23) / 23.0f - 0.5f;
    tdm_onnx_writer *w = tdm_onnx_writer_new("text");
    int64_t idd[2] = {1, S}, yd[3] = {1, S, D}, one = 1, ax = 2;
    tdm_onnx_writer_value(w, 0, "ids", TDM_INT64, 2, idd, NULL);
    tdm_onnx_writer_value(w, 0, "mask", TDM_INT64, 2, idd, NULL);
    tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 3, yd, NULL);
    tdm_onnx_writer_initializer(w, "emb", TDM_FLOAT, 2, (int64_t[]){V, D}, emb);
    tdm_onnx_writer_initializer(w, "axes", TDM_INT64, 1, &one, &ax);
    tdm_onnx_attr to = {"to", TDM_ONNX_ATTR_INT, 0, TDM_FLOAT, 0, NULL};
    tdm_onnx_writer_node(w, "Gather", "embed", 2, (const char *[]){"emb", "ids"}, 1, (const char *[]){"e"}, 0, NULL);
    tdm_onnx_writer_node(w, "Cast", "cast", 1, (const char *[]){"mask"}, 1, (const char *[]){"mf"}, 1, &to);
    tdm_onnx_writer_node(w, "Unsqueeze", "unsq", 2, (const char *[]){"mf", "axes"}, 1, (const char *[]){"mu"}, 0, NULL);
    tdm_onnx_writer_node(w, "Mul", "mul", 2, (const char *[]){"e", "mu"}, 1, (const char *[]){"y"}, 0, NULL);
    tdm_model *m = write_and_load(w);
    CHECK(m != NULL, "the text model does not load: %s", tdm_last_error());
    if (!m) return;
    CHECK(!tdm_model_input_decides_shape(m, 0) && !tdm_model_input_decides_shape(m, 1), "ids and mask are data");
    CHECK(tdm_model_input_index_limit(m, 0) == V, "ids index a table of %d rows, limit %lld", V,
          (long long)tdm_model_input_index_limit(m, 0));
    CHECK(tdm_model_input_index_limit(m, 1) == 0, "the mask indexes nothing");
    tdm_session *s = NULL;
    CHECK_ST(tdm_session_create(m, NULL, &s), TDM_OK);
    uint32_t r = 7;
    int bad = 0;
    for (int k = 0; k < 100 && s; k++) { /* 100 different id sequences, one plan */
        int64_t ids[S], mask[S];
        for (int i = 0; i < S; i++) {
            r = r * 1664525u + 1013904223u;
            ids[i] = (int64_t)((r >> 8) % V);
            mask[i] = (r >> 3) & 1;
        }
        const float *y;
        if (tdm_session_set_input(s, 1, mask, sizeof mask) || tdm_session_set_input(s, 0, ids, sizeof ids) ||
            tdm_session_run(s) || tdm_session_output(s, 0, NULL, (const void **)&y)) {
            CHECK(0, "run %d: %s", k, tdm_last_error());
            break;
        }
        for (int i = 0; i < S; i++)
            for (int d = 0; d < D; d++) bad += y[i * D + d] != emb[ids[i] * D + d] * (float)mask[i];
    }
    CHECK(bad == 0, "%d output elements differ from the embedding rows times the mask", bad);
    tdm_stats st;
    CHECK_ST(tdm_session_stats(s, &st), TDM_OK);
    CHECK(st.plans == 1, "100 id sequences made %lld plans, expected 1", (long long)st.plans);
    /* an id outside the table: a clear error, no read out of bounds */
    int64_t ids[S] = {0, 1, 2, V, 4, 5, 6, 7}, mask[S] = {1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_ST(tdm_session_set_input(s, 0, ids, sizeof ids), TDM_OK);
    CHECK_ST(tdm_session_set_input(s, 1, mask, sizeof mask), TDM_OK);
    CHECK_ST(tdm_session_run(s), TDM_INVALID_ARGUMENT);
    CHECK(strstr(tdm_last_error(), "embed") != NULL, "the message names the Gather: '%s'", tdm_last_error());
    tdm_session_free(s);
    tdm_model_free(m);

    /* Reshape(x, shape) with shape a graph input: a plan-time constant, whatever the order of the calls */
    w = tdm_onnx_writer_new("reshape");
    int64_t xd[2] = {2, 6}, sd[1] = {2}, od[2] = {-1, -1};
    tdm_onnx_writer_value(w, 0, "x", TDM_FLOAT, 2, xd, NULL);
    tdm_onnx_writer_value(w, 0, "shape", TDM_INT64, 1, sd, NULL);
    tdm_onnx_writer_value(w, 1, "y", TDM_FLOAT, 2, od, NULL);
    tdm_onnx_writer_node(w, "Reshape", "rs", 2, (const char *[]){"x", "shape"}, 1, (const char *[]){"r"}, 0, NULL);
    tdm_onnx_writer_node(w, "Relu", "relu", 1, (const char *[]){"r"}, 1, (const char *[]){"y"}, 0, NULL);
    m = write_and_load(w);
    CHECK(m != NULL, "the reshape model does not load: %s", tdm_last_error());
    if (!m) return;
    CHECK(!tdm_model_input_decides_shape(m, 0) && tdm_model_input_decides_shape(m, 1), "shape decides, x does not");
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i - 5.5f;
    CHECK_ST(tdm_session_create(m, NULL, &s), TDM_OK);
    CHECK_ST(tdm_session_plan(s), TDM_INVALID_ARGUMENT); /* the shape's value is missing: a message, no plan */
    CHECK(strstr(tdm_last_error(), "'shape'") != NULL, "the message names the input: '%s'", tdm_last_error());
    int64_t shp[2] = {3, 4}, shp2[2] = {4, 3};
    CHECK_ST(tdm_session_set_input(s, 0, x, sizeof x), TDM_OK); /* data before the shape: kept until the plan */
    CHECK_ST(tdm_session_set_input(s, 1, shp, sizeof shp), TDM_OK);
    CHECK_ST(tdm_session_run(s), TDM_OK);
    tdm_tensor_info oi;
    const float *y = NULL;
    CHECK_ST(tdm_session_output(s, 0, &oi, (const void **)&y), TDM_OK);
    CHECK(oi.rank == 2 && oi.dims[0] == 3 && oi.dims[1] == 4, "output shape [3, 4]");
    CHECK(y && y[0] == 0.0f && y[11] == 5.5f, "the data given before the plan reached the arena");
    CHECK_ST(tdm_session_set_input(s, 1, shp, sizeof shp), TDM_OK); /* the same value: no new plan */
    CHECK_ST(tdm_session_run(s), TDM_OK);
    CHECK_ST(tdm_session_stats(s, &st), TDM_OK);
    CHECK(st.plans == 1, "the same shape value replanned: %lld plans", (long long)st.plans);
    CHECK_ST(tdm_session_set_input(s, 1, shp2, sizeof shp2), TDM_OK); /* a new value: a new plan, x kept */
    CHECK_ST(tdm_session_run(s), TDM_OK);
    CHECK_ST(tdm_session_output(s, 0, &oi, (const void **)&y), TDM_OK);
    CHECK_ST(tdm_session_stats(s, &st), TDM_OK);
    CHECK(oi.dims[0] == 4 && oi.dims[1] == 3 && st.plans == 2, "a new shape value: output [4, 3] after 2 plans");
    CHECK(y && y[0] == 0.0f && y[11] == 5.5f, "the data given before the new shape value is still there");
    tdm_session_free(s);
    tdm_model_free(m);
}

int main(int argc, char **argv) {
    static const test tests[] = {
        {"free_null", test_free_null},
        {"misc_queries", test_misc_queries},
        {"invalid_arguments", test_invalid_arguments},
        {"model_queries", test_model_queries},
        {"load_memory_vs_file", test_load_memory_vs_file},
        {"bad_models", test_bad_models},
        {"failing_allocator_load", test_failing_allocator_load},
        {"failing_allocator_session", test_failing_allocator_session},
        {"shape_errors", test_shape_errors},
        {"replanning", test_replanning},
        {"threads", test_threads},
        {"shared_model", test_shared_model},
        {"tensor_files", test_tensor_files},
        {"input_info_symbolic", test_input_info_symbolic},
        {"stats", test_stats},
        {"input_in_place", test_input_in_place},
        {"peak_memory", test_peak_memory},
        {"batch_split", test_batch_split},
        {"integer_inputs", test_integer_inputs},
    };
    const char *filter = argc > 1 ? argv[1] : NULL;
    if (!tu_exists(CONV_DIR "/model.onnx")) {
        printf("SKIP: %s is absent (install libonnx-testdata)\napi: 0 passed, 0 failed\n", CONV_DIR);
        return 0;
    }
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        t_failed = 0;
        t_skipped = 0;
        printf("--- %s\n", tests[i].name);
        fflush(stdout);
        tests[i].fn();
        if (t_failed) {
            failed++;
            printf("FAIL %s (%d checks failed)\n", tests[i].name, t_failed);
        } else if (t_skipped) {
            skipped++;
            printf("SKIP %s: %s\n", tests[i].name, t_skip_why);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    if (skipped) printf("(%d skipped)\n", skipped);
    printf("api: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
