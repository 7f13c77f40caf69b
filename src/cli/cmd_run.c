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
    int64_t size_h, size_w;
} run_opts;

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

/* Read the first bytes of a file to tell an image from a TensorProto. */
static int run_sniff_image(const char *path) {
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return image_is_image(head, n);
}

/* Work out the shape and data of input `i` from its --input argument. Validates dtype and the model's concrete
 * dims here, so a wrong tensor gets a message that names the file. */
static int run_prepare_input(const run_opts *o, int i, run_input *in) {
    char b1[256], b2[256];
    const tdm_tensor_info *mi = &in->info;
    const char *iname = mi->name ? mi->name : "";
    if (mi->rank < 0 || mi->rank > TDM_MAX_RANK)
        return cli_error("input %d '%s': the model declares rank %d", i, iname, mi->rank);

    if (strcmp(in->arg, "random") == 0) {
        in->src = RUN_SRC_RANDOM;
        if (tdm_dtype_size(mi->dtype) == 0)
            return cli_error("input %d '%s': cannot make random data of type %s", i, iname, cli_dtype_str(mi->dtype));
        in->rank = mi->rank;
        for (int d = 0; d < mi->rank; d++) in->dims[d] = mi->dims[d] >= 0 ? mi->dims[d] : 1;
        if (mi->rank == 4 && o->size_h > 0) {
            if (mi->dims[2] < 0) in->dims[2] = o->size_h;
            if (mi->dims[3] < 0) in->dims[3] = o->size_w;
        }
        return CLI_OK;
    }

    if (cli_check_file("input", in->arg) != CLI_OK) return CLI_ERR;
    if (run_sniff_image(in->arg)) {
        in->src = RUN_SRC_IMAGE;
        if (mi->dtype != TDM_FLOAT || mi->rank != 4)
            return cli_error("input %d '%s': image '%s' needs a float32 [N, C, H, W] input, the model has %s %s", i,
                             iname, in->arg, cli_dtype_str(mi->dtype), cli_shape_str(mi, b1, sizeof b1));
        int64_t n = mi->dims[0] >= 0 ? mi->dims[0] : 1;
        int64_t c = mi->dims[1] >= 0 ? mi->dims[1] : 3;
        int64_t h = o->size_h > 0 ? o->size_h : mi->dims[2];
        int64_t w = o->size_w > 0 ? o->size_w : mi->dims[3];
        if (c != 1 && c != 3 && c != 4)
            return cli_error("input %d '%s': image '%s' cannot fill %lld channels", i, iname, in->arg, (long long)c);
        if ((o->nmean > 1 && o->nmean != c) || (o->nstd > 1 && o->nstd != c))
            return cli_error("input %d '%s': --mean/--std have %d/%d values for %lld channels", i, iname, o->nmean,
                             o->nstd, (long long)c);
        float *img = NULL;
        char err[1024];
        if (image_load_file(in->arg, (int)c, &h, &w, o->mean, o->std, o->nmean, &img, err, sizeof err) != 0)
            return cli_error("%s", err); /* nmean == nstd */
        in->rank = 4;
        in->dims[0] = n;
        in->dims[1] = c;
        in->dims[2] = h;
        in->dims[3] = w;
        int64_t numel = run_numel(in->dims, 4);
        if (numel < 0 || n < 1) {
            free(img);
            return cli_error("input %d '%s': batch %lld of %s images is too large", i, iname, (long long)n, in->arg);
        }
        size_t one = (size_t)(c * h * w);
        in->pixels = malloc((size_t)numel * sizeof(float));
        if (!in->pixels) {
            free(img);
            return cli_error("out of memory for input %d", i);
        }
        for (int64_t b = 0; b < n; b++) memcpy(in->pixels + (size_t)b * one, img, one * sizeof(float));
        free(img);
        in->bytes = (size_t)numel * sizeof(float);
        return CLI_OK;
    }

    in->src = RUN_SRC_TENSOR;
    tdm_status st = tdm_tensor_read_file(in->arg, &in->tensor);
    if (st != TDM_OK) {
        in->tensor = NULL;
        snprintf(b1, sizeof b1, "input %d '%s'", i, iname); /* the engine's message names the file */
        return cli_engine_error(st, b1);
    }
    tdm_tensor *t = in->tensor;
    if (t->rank < 0 || t->rank > TDM_MAX_RANK) return cli_error("input '%s': rank %d is out of range", in->arg, t->rank);
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

static int run_parse(int argc, char **argv, run_opts *o) {
    cli_args a;
    const char *opt, *pos, *v;
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->top = 5;
    o->mean[0] = 0.0f;
    o->std[0] = 1.0f;
    o->nmean = o->nstd = 1;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        if (pos) {
            if (o->model) return cli_usage_error("run: more than one model given ('%s' and '%s')", o->model, pos);
            o->model = pos;
            continue;
        }
        if (strcmp(opt, "json") == 0) { /* the summary is always JSON; accepted for symmetry with info/eval */
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            continue;
        }
        if (strcmp(opt, "input") != 0 && strcmp(opt, "output-dir") != 0 && strcmp(opt, "threads") != 0 &&
            strcmp(opt, "top") != 0 && strcmp(opt, "mean") != 0 && strcmp(opt, "std") != 0 &&
            strcmp(opt, "size") != 0 && strcmp(opt, "seed") != 0 && strcmp(opt, "labels") != 0)
            return cli_usage_error("run: unknown option '%s%s' (try 'tandem help run')", opt[0] == '-' ? "" : "--",
                                   opt);
        if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
        if (strcmp(opt, "input") == 0) {
            if (o->ninputs >= RUN_MAX_INPUTS) return cli_usage_error("run: more than %d --input", RUN_MAX_INPUTS);
            o->inputs[o->ninputs++] = v;
        } else if (strcmp(opt, "output-dir") == 0) {
            if (!*v) return cli_usage_error("run: --output-dir is empty");
            o->output_dir = v;
        } else if (strcmp(opt, "threads") == 0) {
            if (!cli_parse_int(opt, v, 1, 1024, &o->threads)) return CLI_USAGE;
        } else if (strcmp(opt, "top") == 0) {
            if (!cli_parse_int(opt, v, 0, 64, &o->top)) return CLI_USAGE;
        } else if (strcmp(opt, "mean") == 0) {
            if (!cli_parse_floats(opt, v, o->mean, RUN_MAX_STATS, &o->nmean)) return CLI_USAGE;
        } else if (strcmp(opt, "std") == 0) {
            if (!cli_parse_floats(opt, v, o->std, RUN_MAX_STATS, &o->nstd)) return CLI_USAGE;
            for (int i = 0; i < o->nstd; i++)
                if (!(o->std[i] != 0.0f)) return cli_usage_error("run: --std values must be nonzero");
        } else if (strcmp(opt, "size") == 0) {
            if (!cli_parse_size(opt, v, &o->size_h, &o->size_w)) return CLI_USAGE;
        } else if (strcmp(opt, "seed") == 0) {
            if (!cli_parse_u64(opt, v, &o->seed)) return CLI_USAGE;
        } else {
            o->labels = v;
        }
    }
    if (!o->model) return cli_usage_error("run: no MODEL given (try 'tandem help run')");
    if (o->ninputs == 0)
        return cli_usage_error("run: no --input given (a TensorProto .pb file, a PNG/JPEG image or 'random')");
    /* A single mean/std value applies to every channel; lists of different lengths are a mistake. */
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

int cmd_run(int argc, char **argv) {
    run_opts o;
    int rc = run_parse(argc, argv, &o);
    if (rc != CLI_OK) return rc;

    rc = CLI_ERR;
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    run_input *ins = NULL;
    tdm_tensor_info *outs = NULL;
    const void **out_data = NULL;
    cli_labels labels;
    memset(&labels, 0, sizeof labels);
    double load_ms = 0, plan_ms = 0, run_ms = 0;
    char b1[256], path[4096];
    tdm_status st;

    if (o.labels && cli_labels_load(o.labels, &labels) != CLI_OK) return CLI_ERR;
    if (cli_load_model(o.model, &m, &load_ms) != CLI_OK) goto done;
    int nin = tdm_model_num_inputs(m), nout = tdm_model_num_outputs(m);
    if (nin < 0 || nout < 0) {
        cli_error("model '%s': the engine reports a negative input/output count", o.model);
        goto done;
    }
    if (nin != o.ninputs) {
        cli_error("model '%s' has %d input%s but %d --input %s given", o.model, nin, nin == 1 ? "" : "s", o.ninputs,
                  o.ninputs == 1 ? "was" : "were");
        goto done;
    }
    ins = calloc((size_t)nin + 1, sizeof *ins);
    outs = calloc((size_t)nout + 1, sizeof *outs);
    out_data = calloc((size_t)nout + 1, sizeof *out_data);
    if (!ins || !outs || !out_data) {
        cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < nin; i++) {
        ins[i].arg = o.inputs[i];
        if ((st = tdm_model_input_info(m, i, &ins[i].info)) != TDM_OK) {
            cli_engine_error(st, "input info");
            goto done;
        }
        if (run_prepare_input(&o, i, &ins[i]) != CLI_OK) goto done;
    }

    tdm_session_options so = {.threads = (int)o.threads};
    if ((st = tdm_session_create(m, &so, &s)) != TDM_OK) {
        cli_engine_error(st, "cannot create a session");
        goto done;
    }
    double t0 = clock_now_ms();
    /* All shapes first: setting a shape invalidates the input buffers of the previous plan. */
    for (int i = 0; i < nin; i++) {
        if ((st = tdm_session_set_input_shape(s, i, ins[i].dims, ins[i].rank)) != TDM_OK) {
            snprintf(path, sizeof path, "input %d '%s' with shape %s", i, ins[i].info.name ? ins[i].info.name : "",
                     run_dims_str(ins[i].dims, ins[i].rank, b1, sizeof b1));
            cli_engine_error(st, path);
            goto done;
        }
    }
    if ((st = tdm_session_plan(s)) != TDM_OK) {
        cli_engine_error(st, "cannot plan the model");
        goto done;
    }
    plan_ms = clock_now_ms() - t0;
    rng_state rng = {o.seed};
    for (int i = 0; i < nin; i++) {
        run_input *in = &ins[i];
        if (in->src == RUN_SRC_RANDOM) {
            tdm_tensor_info pi;
            void *data = NULL;
            if ((st = tdm_session_input_data(s, i, &pi, &data)) != TDM_OK) {
                cli_engine_error(st, "input buffer");
                goto done;
            }
            int64_t n = run_numel(pi.dims, pi.rank < 0 ? 0 : pi.rank > TDM_MAX_RANK ? TDM_MAX_RANK : pi.rank);
            if (n < 0 || (n > 0 && !data)) {
                cli_error("input %d: the engine planned an unusable buffer", i);
                goto done;
            }
            if (!run_fill_random(data, pi.dtype, n, &rng)) {
                cli_error("input %d: cannot make random data of type %s", i, cli_dtype_str(pi.dtype));
                goto done;
            }
        } else {
            const void *data = in->src == RUN_SRC_IMAGE ? (const void *)in->pixels : in->tensor->data;
            if ((st = tdm_session_set_input(s, i, data, in->bytes)) != TDM_OK) {
                snprintf(path, sizeof path, "input %d '%s'", i, in->arg);
                cli_engine_error(st, path);
                goto done;
            }
        }
    }

    t0 = clock_now_ms();
    st = tdm_session_run(s);
    run_ms = clock_now_ms() - t0;
    if (st != TDM_OK) {
        cli_engine_error(st, "run failed");
        goto done;
    }
    if (o.output_dir && run_make_dir(o.output_dir) != CLI_OK) goto done;
    for (int i = 0; i < nout; i++) {
        if ((st = tdm_session_output(s, i, &outs[i], &out_data[i])) != TDM_OK) {
            cli_engine_error(st, "output");
            goto done;
        }
        if (outs[i].rank < 0 || outs[i].rank > TDM_MAX_RANK || run_numel(outs[i].dims, outs[i].rank) < 0) {
            cli_error("output %d: the engine reports an unusable shape", i);
            goto done;
        }
        if (o.output_dir) {
            if (snprintf(path, sizeof path, "%s/output_%d.pb", o.output_dir, i) >= (int)sizeof path) {
                cli_error("--output-dir '%s' is too long", o.output_dir);
                goto done;
            }
            st = tdm_tensor_write_file(path, outs[i].name, outs[i].dtype, outs[i].rank, outs[i].dims, out_data[i]);
            if (st != TDM_OK) {
                char what[4200];
                snprintf(what, sizeof what, "cannot write '%s'", path);
                cli_engine_error(st, what);
                goto done;
            }
        }
    }

    json_writer j;
    json_init(&j, stdout);
    json_object_begin(&j);
    json_kv_string(&j, "model", o.model);
    json_kv_int(&j, "threads", o.threads);
    json_key(&j, "inputs");
    json_array_begin(&j);
    for (int i = 0; i < nin; i++) {
        json_object_begin(&j);
        json_kv_string(&j, "name", ins[i].info.name ? ins[i].info.name : "");
        json_kv_string(&j, "dtype", cli_dtype_str(ins[i].info.dtype));
        json_key(&j, "shape");
        run_json_dims(&j, ins[i].dims, ins[i].rank);
        json_kv_string(&j, "source", run_src_names[ins[i].src]);
        if (ins[i].src != RUN_SRC_RANDOM) json_kv_string(&j, "file", ins[i].arg);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "outputs");
    json_array_begin(&j);
    for (int i = 0; i < nout; i++) {
        json_object_begin(&j);
        json_kv_string(&j, "name", outs[i].name ? outs[i].name : "");
        json_kv_string(&j, "dtype", cli_dtype_str(outs[i].dtype));
        json_key(&j, "shape");
        run_json_dims(&j, outs[i].dims, outs[i].rank);
        if (o.output_dir) {
            snprintf(path, sizeof path, "%s/output_%d.pb", o.output_dir, i);
            json_kv_string(&j, "file", path);
        }
        if (o.top > 0 && outs[i].dtype == TDM_FLOAT && outs[i].rank == 2 && outs[i].dims[1] >= 2 && out_data[i])
            run_json_topk(&j, out_data[i], outs[i].dims[0], outs[i].dims[1], (int)o.top, o.labels ? &labels : NULL);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_double(&j, "load_ms", load_ms, 6);
    json_kv_double(&j, "plan_ms", plan_ms, 6);
    json_kv_double(&j, "run_ms", run_ms, 6);
    json_kv_string(&j, "kernel_isa", tdm_kernel_isa());
    json_object_end(&j);
    json_finish(&j);
    rc = CLI_OK;

done:
    if (ins)
        for (int i = 0; i < nin; i++) {
            tdm_tensor_free(ins[i].tensor);
            free(ins[i].pixels);
        }
    free(ins);
    free(outs);
    free(out_data);
    tdm_session_free(s);
    tdm_model_free(m);
    cli_labels_free(&labels);
    return rc;
}
