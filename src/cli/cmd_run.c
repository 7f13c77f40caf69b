/* cmd_run.c - `tandem run`: one inference on TensorProto files, images or seeded random data, writing the outputs as
 * TensorProto files and printing a JSON summary (shapes, top-k for classifier outputs, timings). */
#include "cli.h"
#include "../common/image.h"
#include "../common/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RUN_MAX_INPUTS 64
#define RUN_MAX_STATS 16
#define RUN_MAX_ELEMS ((int64_t)1 << 31)

enum { RUN_SRC_TENSOR, RUN_SRC_IMAGE, RUN_SRC_RANDOM };
static const char *const run_src_names[] = {"tensor", "image", "random"};

typedef struct run_input {
    const char *arg;       /* what --input said */
    int src;               /* RUN_SRC_* */
    tdm_tensor_info info;  /* the model's declaration */
    int rank;              /* the shape fed to the session */
    int64_t dims[TDM_MAX_RANK];
    tdm_tensor *tensor;    /* RUN_SRC_TENSOR */
    float *pixels;         /* RUN_SRC_IMAGE: [N, C, H, W] */
    size_t bytes;
} run_input;

typedef struct run_opts {
    const char *model, *output_dir, *labels;
    const char *inputs[RUN_MAX_INPUTS];
    int ninputs;
    int64_t threads, top;
    uint64_t seed;
    float mean[RUN_MAX_STATS], std[RUN_MAX_STATS];
    int nmean, nstd;
    int64_t size[2]; /* H, W; 0 when not given */
    int json;
} run_opts;

static const opt_spec run_options[] = {
    OPT_POS(run_opts, model, "MODEL", 1, "the ONNX model"),
    OPT_STRS(run_opts, inputs, ninputs, "input", RUN_MAX_INPUTS, "X",
             "one per model input, in order: a TensorProto file (.pb), a PNG/JPEG image,\n"
             "or the word 'random' (seeded uniform data; symbolic dims are 1)"),
    OPT_STR(run_opts, output_dir, "output-dir", "DIR", "write the outputs as DIR/output_0.pb, DIR/output_1.pb, ..."),
    OPT_INT(run_opts, threads, "threads", 1, 1024, "N", "worker threads (default 1)"),
    OPT_INT(run_opts, top, "top", 0, 64, "K", "top-k classes for [N, K] outputs (default 5, 0 for none)"),
    OPT_STR(run_opts, labels, "labels", "FILE", "class names, one per line, shown with the top-k"),
    OPT_FLOATS(run_opts, mean, nmean, "mean", RUN_MAX_STATS, "R,G,B",
               "image normalisation per channel, (x/255 - mean) / std (default 0)"),
    OPT_FLOATS(run_opts, std, nstd, "std", RUN_MAX_STATS, "R,G,B", "the std of that normalisation (default 1)"),
    OPT_SIZE(run_opts, size, "size", "HxW", "image size to feed when the model leaves H and W symbolic"),
    OPT_U64(run_opts, seed, "seed", "S", "seed for 'random' inputs (default 0)"),
    OPT_FLAG(run_opts, json, "json", "accepted for symmetry with info and eval: the summary is always JSON"),
    OPT_END,
};

/* Product of dims, or -1 if any is negative or the product exceeds RUN_MAX_ELEMS (garbage models can declare
 * anything). */
static int64_t run_numel(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] != 0 && n > RUN_MAX_ELEMS / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

static void run_json_dims(json_writer *j, const int64_t *dims, int rank) {
    json_array_begin(j);
    for (int i = 0; i < rank; i++) json_int(j, dims[i]);
    json_array_end(j);
}

static const char *run_dims_str(const int64_t *dims, int rank, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "",
                                                                      (long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* IEEE half from a float in a small positive range (random inputs only): enough precision, no denormal care. */
static uint16_t run_f32_to_f16(float f) {
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000u;
    int32_t exp = (int32_t)((v.u >> 23) & 0xFF) - 127 + 15;
    uint32_t mant = v.u & 0x7FFFFFu;
    if (exp <= 0) return (uint16_t)sign;
    if (exp >= 31) return (uint16_t)(sign | 0x7C00u);
    return (uint16_t)(sign | ((uint32_t)exp << 10) | (mant >> 13));
}

/* Fill a planned input buffer with seeded data: floats uniform in [0,1), uint8 in [0,255], other integers in
 * [0,9] (small, so index-like inputs stay in range), bools 0/1. */
static int run_fill_random(void *data, tdm_dtype dt, int64_t n, rng_state *rng) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rng_next(rng);
        double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
        switch (dt) {
        case TDM_FLOAT: ((float *)data)[i] = (float)u; break;
        case TDM_DOUBLE: ((double *)data)[i] = u; break;
        case TDM_FLOAT16: ((uint16_t *)data)[i] = run_f32_to_f16((float)u); break;
        case TDM_UINT8: ((uint8_t *)data)[i] = (uint8_t)(r >> 56); break;
        case TDM_INT8: ((int8_t *)data)[i] = (int8_t)(r % 10); break;
        case TDM_UINT16: ((uint16_t *)data)[i] = (uint16_t)(r % 10); break;
        case TDM_INT16: ((int16_t *)data)[i] = (int16_t)(r % 10); break;
        case TDM_INT32: ((int32_t *)data)[i] = (int32_t)(r % 10); break;
        case TDM_UINT32: ((uint32_t *)data)[i] = (uint32_t)(r % 10); break;
        case TDM_INT64: ((int64_t *)data)[i] = (int64_t)(r % 10); break;
        case TDM_UINT64: ((uint64_t *)data)[i] = r % 10; break;
        case TDM_BOOL: ((uint8_t *)data)[i] = (uint8_t)(r >> 63); break;
        default: return 0;
        }
    }
    return 1;
}

/* Fill planned input i with seeded data (an input given as 'random'); ids of a small table (token types) stay within
 * it (tdm_model_input_index_limit). */
static int run_fill_input(const tdm_model *m, tdm_session *s, int i, rng_state *rng) {
    tdm_tensor_info pi;
    void *data = NULL;
    tdm_status st = tdm_session_input_data(s, i, &pi, &data);
    if (st != TDM_OK) return cli_engine_error(st, "input buffer");
    int64_t n = run_numel(pi.dims, pi.rank < 0 ? 0 : pi.rank > TDM_MAX_RANK ? TDM_MAX_RANK : pi.rank);
    if (n < 0 || (n > 0 && !data)) return cli_error("input %d: the engine planned an unusable buffer", i);
    if (!run_fill_random(data, pi.dtype, n, rng))
        return cli_error("input %d: cannot make random data of type %s", i, cli_dtype_str(pi.dtype));
    int64_t hi = tdm_model_input_index_limit(m, i);
    for (int64_t k = 0; hi > 0 && hi < 10 && k < n; k++) {
        if (pi.dtype == TDM_INT64) ((int64_t *)data)[k] %= hi;
        else if (pi.dtype == TDM_INT32) ((int32_t *)data)[k] %= (int32_t)hi;
    }
    return CLI_OK;
}

/* Token ids must index the table they are looked up in (tdm_model_input_index_limit): an id outside it is the
 * user's error, said with the input's name and file rather than by the Gather deep inside the model. 1 when fine. */
static int run_ids_in_range(const tdm_model *m, int i, const run_input *in, const void *data) {
    int64_t hi = tdm_model_input_index_limit(m, i);
    if (hi <= 0 || (in->info.dtype != TDM_INT64 && in->info.dtype != TDM_INT32)) return 1;
    int64_t n = (int64_t)(in->bytes / tdm_dtype_size(in->info.dtype));
    for (int64_t k = 0; k < n; k++) {
        int64_t v = in->info.dtype == TDM_INT64 ? ((const int64_t *)data)[k] : ((const int32_t *)data)[k];
        if (v < 0 || v >= hi) {
            cli_error("input %d '%s' (%s): element %lld is %lld, outside [0, %lld): its ids index a table of %lld rows",
                      i, in->info.name ? in->info.name : "", in->arg, (long long)k, (long long)v, (long long)hi,
                      (long long)hi);
            return 0;
        }
    }
    return 1;
}

/* Read the first bytes of a file to tell an image from a TensorProto. */
static int run_sniff_image(const char *path) {
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return image_is_image(head, n);
}

/* An image input: decoded, resized to the model's H and W (or --size), normalised, repeated over a fixed batch. */
static int run_prepare_image(const run_opts *o, int i, run_input *in) {
    char b1[256], err[1024];
    const tdm_tensor_info *mi = &in->info;
    const char *iname = mi->name ? mi->name : "";
    in->src = RUN_SRC_IMAGE;
    if (mi->dtype != TDM_FLOAT || mi->rank != 4)
        return cli_error("input %d '%s': image '%s' needs a float32 [N, C, H, W] input, the model has %s %s", i, iname,
                         in->arg, cli_dtype_str(mi->dtype), cli_shape_str(mi, b1, sizeof b1));
    int64_t n = mi->dims[0] >= 0 ? mi->dims[0] : 1;
    int64_t c = mi->dims[1] >= 0 ? mi->dims[1] : 3;
    int64_t h = o->size[0] > 0 ? o->size[0] : mi->dims[2];
    int64_t w = o->size[1] > 0 ? o->size[1] : mi->dims[3];
    if (c != 1 && c != 3 && c != 4)
        return cli_error("input %d '%s': image '%s' cannot fill %lld channels", i, iname, in->arg, (long long)c);
    if ((o->nmean > 1 && o->nmean != c) || (o->nstd > 1 && o->nstd != c))
        return cli_error("input %d '%s': --mean/--std have %d/%d values for %lld channels", i, iname, o->nmean,
                         o->nstd, (long long)c);
    float *img = NULL;
    if (image_load_file(in->arg, (int)c, &h, &w, o->mean, o->std, o->nmean, &img, err, sizeof err) != 0)
        return cli_error("%s", err); /* nmean == nstd (run_check) */
    in->rank = 4;
    in->dims[0] = n;
    in->dims[1] = c;
    in->dims[2] = h;
    in->dims[3] = w;
    int64_t numel = run_numel(in->dims, 4);
    size_t one = (size_t)(c * h * w);
    in->pixels = numel >= 0 && n >= 1 ? malloc((size_t)numel * sizeof(float)) : NULL;
    if (in->pixels)
        for (int64_t b = 0; b < n; b++) memcpy(in->pixels + (size_t)b * one, img, one * sizeof(float));
    free(img);
    if (numel < 0 || n < 1)
        return cli_error("input %d '%s': batch %lld of %s images is too large", i, iname, (long long)n, in->arg);
    if (!in->pixels) return cli_error("out of memory for input %d", i);
    in->bytes = (size_t)numel * sizeof(float);
    return CLI_OK;
}

/* A TensorProto input, checked against the model's dtype and concrete dims. */
static int run_prepare_tensor(int i, run_input *in) {
    char b1[256], b2[256];
    const tdm_tensor_info *mi = &in->info;
    const char *iname = mi->name ? mi->name : "";
    in->src = RUN_SRC_TENSOR;
    tdm_status st = tdm_tensor_read_file(in->arg, &in->tensor);
    if (st != TDM_OK) {
        in->tensor = NULL;
        snprintf(b1, sizeof b1, "input %d '%s'", i, iname); /* the engine's message names the file */
        return cli_engine_error(st, b1);
    }
    tdm_tensor *t = in->tensor;
    if (t->rank < 0 || t->rank > TDM_MAX_RANK)
        return cli_error("input '%s': rank %d is out of range", in->arg, t->rank);
    if (t->dtype != mi->dtype)
        return cli_error("input %d '%s': '%s' holds %s data, the model expects %s", i, iname, in->arg,
                         cli_dtype_str(t->dtype), cli_dtype_str(mi->dtype));
    int bad = t->rank != mi->rank;
    for (int d = 0; !bad && d < t->rank; d++) bad = mi->dims[d] >= 0 && t->dims[d] != mi->dims[d];
    if (bad)
        return cli_error("input %d '%s': '%s' has shape %s, the model expects %s", i, iname, in->arg,
                         run_dims_str(t->dims, t->rank, b1, sizeof b1), cli_shape_str(mi, b2, sizeof b2));
    int64_t numel = tdm_tensor_numel(t);
    if (numel < 0) return cli_error("input '%s': bad element count", in->arg);
    in->rank = t->rank;
    memcpy(in->dims, t->dims, sizeof in->dims);
    in->bytes = (size_t)numel * tdm_dtype_size(t->dtype);
    return CLI_OK;
}

/* Work out the shape and data of input `i` from its --input argument. Validates dtype and the model's concrete
 * dims here, so a wrong tensor gets a message that names the file. */
static int run_prepare_input(const run_opts *o, int i, run_input *in) {
    const tdm_tensor_info *mi = &in->info;
    const char *iname = mi->name ? mi->name : "";
    if (mi->rank < 0 || mi->rank > TDM_MAX_RANK)
        return cli_error("input %d '%s': the model declares rank %d", i, iname, mi->rank);
    if (strcmp(in->arg, "random") != 0) {
        if (cli_check_file("input", in->arg) != CLI_OK) return CLI_ERR;
        return run_sniff_image(in->arg) ? run_prepare_image(o, i, in) : run_prepare_tensor(i, in);
    }
    in->src = RUN_SRC_RANDOM;
    if (tdm_dtype_size(mi->dtype) == 0)
        return cli_error("input %d '%s': cannot make random data of type %s", i, iname, cli_dtype_str(mi->dtype));
    in->rank = mi->rank;
    for (int d = 0; d < mi->rank; d++) in->dims[d] = mi->dims[d] >= 0 ? mi->dims[d] : 1;
    if (mi->rank == 4 && o->size[0] > 0) {
        if (mi->dims[2] < 0) in->dims[2] = o->size[0];
        if (mi->dims[3] < 0) in->dims[3] = o->size[1];
    }
    return CLI_OK;
}

/* Create DIR if it does not exist (one level, like `mkdir`, not `mkdir -p`). */
static int run_make_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return cli_error("--output-dir '%s' exists and is not a directory", dir);
        return CLI_OK;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cli_error("cannot create output directory '%s': %s", dir, strerror(errno));
    return CLI_OK;
}

/* 1 if class c ranks before class d: higher score first, NaN last, ties by lower index (a stable order). */
static int run_ranks_before(const float *row, int64_t c, int64_t d) {
    float a = row[c], b = row[d];
    if (isnan(a) != isnan(b)) return isnan(b);
    if (!isnan(a) && a != b) return a > b;
    return c < d;
}

/* Top-k of one row in O(K * k): each pass takes the best class that ranks after the previous pick. */
static void run_topk(const float *row, int64_t K, int k, int64_t *idx) {
    for (int r = 0; r < k; r++) {
        int64_t best = -1;
        for (int64_t c = 0; c < K; c++) {
            if (r > 0 && !run_ranks_before(row, idx[r - 1], c)) continue;
            if (best < 0 || run_ranks_before(row, c, best)) best = c;
        }
        idx[r] = best;
    }
}

/* The summary's top-k block for a float32 [N, K] output: per row, index, raw score, softmax probability, label. */
static void run_json_topk(json_writer *j, const float *data, int64_t N, int64_t K, int k, const cli_labels *labels) {
    int64_t idx[64];
    if (k > 64) k = 64;
    if (k > K) k = (int)K;
    json_key(j, "top");
    json_array_begin(j);
    for (int64_t n = 0; n < N; n++) {
        const float *row = data + n * K;
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < K; c++)
            if (row[c] > mx) mx = row[c];
        for (int64_t c = 0; c < K; c++) sum += isnan(row[c]) ? 0 : exp((double)row[c] - mx);
        run_topk(row, K, k, idx);
        json_array_begin(j);
        for (int r = 0; r < k; r++) {
            float v = row[idx[r]];
            json_object_begin(j);
            json_kv_int(j, "index", idx[r]);
            json_kv_double(j, "score", v, 9);
            json_kv_double(j, "prob", isfinite(mx) && sum > 0 ? exp((double)v - mx) / sum : NAN, 6);
            if (labels && labels->count > 0)
                json_kv_string(j, "label", idx[r] < labels->count ? labels->line[idx[r]] : NULL);
            json_object_end(j);
        }
        json_array_end(j);
    }
    json_array_end(j);
}

/* What the table cannot say: a model is required (its inputs are counted once it is loaded), std is nonzero, and one mean or std value applies to
 * every channel while lists of different lengths are a mistake. */
static int run_check(run_opts *o) {
    if (!o->model) return cli_usage_error("run: no MODEL given (try 'tandem help run')");
    if (o->output_dir && !*o->output_dir) return cli_usage_error("run: --output-dir is empty");
    for (int i = 0; i < o->nstd; i++)
        if (!(o->std[i] != 0.0f)) return cli_usage_error("run: --std values must be nonzero");
    if (o->nmean > 1 && o->nstd > 1 && o->nmean != o->nstd)
        return cli_usage_error("run: --mean has %d values but --std has %d", o->nmean, o->nstd);
    if (o->nmean == 1 && o->nstd > 1)
        for (int i = 1; i < o->nstd; i++) o->mean[i] = o->mean[0];
    if (o->nstd == 1 && o->nmean > 1)
        for (int i = 1; i < o->nmean; i++) o->std[i] = o->std[0];
    if (o->nmean < o->nstd) o->nmean = o->nstd;
    if (o->nstd < o->nmean) o->nstd = o->nmean;
    return CLI_OK;
}

/* One run's state, released by run_state_free on every path. */
typedef struct run_state {
    tdm_model *m;
    tdm_session *s;
    int nin, nout;
    run_input *ins;
    tdm_tensor_info *outs;
    const void **out_data;
    cli_labels labels;
    double load_ms, plan_ms, run_ms;
} run_state;

static void run_state_free(run_state *r) {
    if (r->ins)
        for (int i = 0; i < r->nin; i++) {
            tdm_tensor_free(r->ins[i].tensor);
            free(r->ins[i].pixels);
        }
    free(r->ins);
    free(r->outs);
    free(r->out_data);
    tdm_session_free(r->s);
    tdm_model_free(r->m);
    cli_labels_free(&r->labels);
}

/* Labels, the model, and every input read and checked against the model's declaration. */
static int run_load(const run_opts *o, run_state *r) {
    tdm_status st;
    if (o->labels && cli_labels_load(o->labels, &r->labels) != CLI_OK) return CLI_ERR;
    if (cli_load_model(o->model, &r->m, &r->load_ms) != CLI_OK) return CLI_ERR;
    r->nin = tdm_model_num_inputs(r->m), r->nout = tdm_model_num_outputs(r->m);
    if (r->nin < 0 || r->nout < 0)
        return cli_error("model '%s': the engine reports a negative input/output count", o->model);
    if (r->nin != o->ninputs && o->ninputs == 0)
        return cli_usage_error("run: no --input given: model '%s' has %d input%s (give each a TensorProto .pb file, a "
                               "PNG/JPEG image or 'random')", o->model, r->nin, r->nin == 1 ? "" : "s");
    if (r->nin != o->ninputs)
        return cli_error("model '%s' has %d input%s but %d --input %s given", o->model, r->nin, r->nin == 1 ? "" : "s",
                         o->ninputs, o->ninputs == 1 ? "was" : "were");
    r->ins = calloc((size_t)r->nin + 1, sizeof *r->ins);
    r->outs = calloc((size_t)r->nout + 1, sizeof *r->outs);
    r->out_data = calloc((size_t)r->nout + 1, sizeof *r->out_data);
    if (!r->ins || !r->outs || !r->out_data) return cli_error("out of memory");
    for (int i = 0; i < r->nin; i++) {
        r->ins[i].arg = o->inputs[i];
        if ((st = tdm_model_input_info(r->m, i, &r->ins[i].info)) != TDM_OK) return cli_engine_error(st, "input info");
        if (run_prepare_input(o, i, &r->ins[i]) != CLI_OK) return CLI_ERR;
    }
    return CLI_OK;
}

/* The values of the inputs from files and images, and seeded random values for the random inputs that decide shapes:
 * set before the plan, since an input whose values decide shapes (Reshape's shape, Slice's starts, ...) must be known
 * when the engine plans; the engine keeps the others until then. */
static int run_set_values(const run_state *r, rng_state *rng) {
    tdm_status st;
    char what[512];
    for (int i = 0; i < r->nin; i++) {
        const run_input *in = &r->ins[i];
        if (in->src == RUN_SRC_RANDOM) continue;
        const void *data = in->src == RUN_SRC_IMAGE ? (const void *)in->pixels : in->tensor->data;
        if (in->src != RUN_SRC_IMAGE && !run_ids_in_range(r->m, i, in, data)) return CLI_ERR;
        if ((st = tdm_session_set_input(r->s, i, data, in->bytes)) != TDM_OK) {
            snprintf(what, sizeof what, "input %d '%s'", i, in->arg);
            return cli_engine_error(st, what);
        }
    }
    for (int i = 0; i < r->nin; i++) {
        const run_input *in = &r->ins[i];
        if (in->src != RUN_SRC_RANDOM || !tdm_model_input_decides_shape(r->m, i)) continue;
        int64_t n = run_numel(in->dims, in->rank);
        size_t es = tdm_dtype_size(in->info.dtype);
        void *buf = malloc(n > 0 && es ? (size_t)n * es : 1);
        int ok = buf && run_fill_random(buf, in->info.dtype, n, rng);
        if (ok) st = tdm_session_set_input(r->s, i, buf, (size_t)n * es);
        free(buf);
        if (!ok) return cli_error("input %d: cannot make random data of type %s", i, cli_dtype_str(in->info.dtype));
        if (st != TDM_OK) return cli_engine_error(st, "random input");
    }
    return CLI_OK;
}

/* A session planned for the inputs' shapes and values, its input buffers filled. */
static int run_plan(const run_opts *o, run_state *r) {
    tdm_status st;
    char b1[256], what[512];
    tdm_session_options so = {.threads = (int)o->threads};
    if ((st = tdm_session_create(r->m, &so, &r->s)) != TDM_OK) return cli_engine_error(st, "cannot create a session");
    double t0 = clock_now_ms();
    /* All shapes first: setting a shape invalidates the input buffers of the previous plan. */
    for (int i = 0; i < r->nin; i++) {
        run_input *in = &r->ins[i];
        if ((st = tdm_session_set_input_shape(r->s, i, in->dims, in->rank)) != TDM_OK) {
            snprintf(what, sizeof what, "input %d '%s' with shape %s", i, in->info.name ? in->info.name : "",
                     run_dims_str(in->dims, in->rank, b1, sizeof b1));
            return cli_engine_error(st, what);
        }
    }
    rng_state rng = {o->seed};
    if (run_set_values(r, &rng) != CLI_OK) return CLI_ERR;
    if ((st = tdm_session_plan(r->s)) != TDM_OK) return cli_engine_error(st, "cannot plan the model");
    r->plan_ms = clock_now_ms() - t0;
    for (int i = 0; i < r->nin; i++) /* the other random inputs, straight into the planned buffers */
        if (r->ins[i].src == RUN_SRC_RANDOM && !tdm_model_input_decides_shape(r->m, i) &&
            run_fill_input(r->m, r->s, i, &rng) != CLI_OK)
            return CLI_ERR;
    return CLI_OK;
}

/* Run once, then read every output (and write it to --output-dir). */
static int run_execute(const run_opts *o, run_state *r) {
    char path[4096], what[4200];
    double t0 = clock_now_ms();
    tdm_status st = tdm_session_run(r->s);
    r->run_ms = clock_now_ms() - t0;
    if (st != TDM_OK) return cli_engine_error(st, "run failed");
    if (o->output_dir && run_make_dir(o->output_dir) != CLI_OK) return CLI_ERR;
    for (int i = 0; i < r->nout; i++) {
        tdm_tensor_info *oi = &r->outs[i];
        if ((st = tdm_session_output(r->s, i, oi, &r->out_data[i])) != TDM_OK) return cli_engine_error(st, "output");
        if (oi->rank < 0 || oi->rank > TDM_MAX_RANK || run_numel(oi->dims, oi->rank) < 0)
            return cli_error("output %d: the engine reports an unusable shape", i);
        if (!o->output_dir) continue;
        if (snprintf(path, sizeof path, "%s/output_%d.pb", o->output_dir, i) >= (int)sizeof path)
            return cli_error("--output-dir '%s' is too long", o->output_dir);
        st = tdm_tensor_write_file(path, oi->name, oi->dtype, oi->rank, oi->dims, r->out_data[i]);
        if (st != TDM_OK) {
            snprintf(what, sizeof what, "cannot write '%s'", path);
            return cli_engine_error(st, what);
        }
    }
    return CLI_OK;
}

/* The summary: inputs as fed, outputs with their files and top-k, timings. */
static void run_print(const run_opts *o, const run_state *r) {
    char path[4096];
    json_writer j;
    json_init(&j, stdout);
    json_object_begin(&j);
    json_kv_string(&j, "model", o->model);
    json_kv_int(&j, "threads", o->threads);
    json_key(&j, "inputs");
    json_array_begin(&j);
    for (int i = 0; i < r->nin; i++) {
        const run_input *in = &r->ins[i];
        json_object_begin(&j);
        json_kv_string(&j, "name", in->info.name ? in->info.name : "");
        json_kv_string(&j, "dtype", cli_dtype_str(in->info.dtype));
        json_key(&j, "shape");
        run_json_dims(&j, in->dims, in->rank);
        json_kv_string(&j, "source", run_src_names[in->src]);
        if (in->src != RUN_SRC_RANDOM) json_kv_string(&j, "file", in->arg);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "outputs");
    json_array_begin(&j);
    for (int i = 0; i < r->nout; i++) {
        const tdm_tensor_info *oi = &r->outs[i];
        json_object_begin(&j);
        json_kv_string(&j, "name", oi->name ? oi->name : "");
        json_kv_string(&j, "dtype", cli_dtype_str(oi->dtype));
        json_key(&j, "shape");
        run_json_dims(&j, oi->dims, oi->rank);
        if (o->output_dir) {
            snprintf(path, sizeof path, "%s/output_%d.pb", o->output_dir, i);
            json_kv_string(&j, "file", path);
        }
        if (o->top > 0 && oi->dtype == TDM_FLOAT && oi->rank == 2 && oi->dims[1] >= 2 && r->out_data[i])
            run_json_topk(&j, r->out_data[i], oi->dims[0], oi->dims[1], (int)o->top, o->labels ? &r->labels : NULL);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_double(&j, "load_ms", r->load_ms, 6);
    json_kv_double(&j, "plan_ms", r->plan_ms, 6);
    json_kv_double(&j, "run_ms", r->run_ms, 6);
    json_kv_string(&j, "kernel_isa", tdm_kernel_isa());
    json_object_end(&j);
    json_finish(&j);
}

static int cmd_run(const cli_command *self, int argc, char **argv) {
    run_opts o = {.threads = 1, .top = 5, .mean = {0.0f}, .std = {1.0f}, .nmean = 1, .nstd = 1};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    int rc = run_check(&o);
    if (rc != CLI_OK) return rc;
    run_state r = {0};
    rc = run_load(&o, &r);
    if (rc == CLI_OK) rc = run_plan(&o, &r);
    if (rc == CLI_OK) rc = run_execute(&o, &r);
    if (rc == CLI_OK) run_print(&o, &r);
    run_state_free(&r);
    return rc;
}

const cli_command cli_cmd_run = {
    "run", cmd_run, run_options,
    "run MODEL --input FILE|random [--input ...] [--output-dir DIR] [--threads N] [--top K]\n"
    "            [--mean R,G,B --std R,G,B] [--size HxW] [--seed S] [--labels FILE]",
    "run a model once on TensorProto, image or random inputs; prints a JSON summary"};
