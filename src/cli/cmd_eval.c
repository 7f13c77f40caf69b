/* cmd_eval.c - `tandem eval`: top-1/top-5 accuracy of a classifier over a dataset in the CIFAR binary layout
 * (1 label byte + 3072 pixel bytes per record), read batch by batch so memory stays flat for any dataset size. */
#include "cli.h"
#include "../common/cifar.h"
#include "../common/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_SIDE CIFAR_SIDE
#define EVAL_PLANE CIFAR_PLANE
#define EVAL_RECORD CIFAR_RECORD

typedef struct eval_opts {
    const char *model, *dataset;
    float mean[3], std[3];
    int nmean, nstd;                  /* 0 when not given */
    int64_t limit, batch, threads;    /* batch 0 when not given: 64, or the model's fixed batch */
    int json;
} eval_opts;

static const opt_spec eval_options[] = {
    OPT_POS(eval_opts, model, "MODEL", 1, "the classifier"),
    OPT_STR(eval_opts, dataset, "dataset", "FILE",
            "records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32)"),
    OPT_FLOATS(eval_opts, mean, nmean, "mean", 3, "R,G,B", "per-channel normalisation, (x/255 - mean) / std"),
    OPT_FLOATS(eval_opts, std, nstd, "std", 3, "R,G,B", "the std of that normalisation"),
    OPT_INT(eval_opts, limit, "limit", 1, INT64_MAX, "N", "evaluate the first N images only"),
    OPT_INT(eval_opts, batch, "batch", 1, 4096, "B", "images per run (default 64)"),
    OPT_INT(eval_opts, threads, "threads", 1, 1024, "N", "worker threads (default 1)"),
    OPT_FLAG(eval_opts, json, "json", "print one JSON object instead of a summary line"),
    OPT_END,
};

/* One evaluation's state, released by eval_run_free on every path. */
typedef struct eval_run {
    cifar_file ds;
    tdm_model *m;
    tdm_session *s;
    unsigned char *rec;       /* one batch of records */
    int64_t images, batch, planned, K;
    int fixed_batch;
    double load_ms, run_ms;
    int64_t correct1, correct5, bad_labels;
} eval_run;

static void eval_run_free(eval_run *r) {
    free(r->rec);
    tdm_session_free(r->s);
    tdm_model_free(r->m);
    cifar_close(&r->ds);
}

/* Position of class `label` among the K scores: the number of classes that rank before it (higher score, or the
 * same score and a lower index; NaN ranks last). 0 means top-1. A label outside [0, K) gets K (never correct). */
static int64_t eval_rank(const float *row, int64_t K, int label) {
    if (label >= K) return K;
    float v = row[label];
    if (isnan(v)) return K;
    int64_t r = 0;
    for (int64_t c = 0; c < K; c++) {
        float x = row[c];
        if (x > v || (x == v && c < label)) r++;
    }
    return r;
}

/* Required options, and 1 or 3 values of mean and std (one value applies to every channel; defaults 0 and 1). */
static int eval_check(eval_opts *o) {
    if (!o->model) return cli_usage_error("eval: no MODEL given (try 'tandem help eval')");
    if (!o->dataset) return cli_usage_error("eval: --dataset FILE is required");
    const char *name[2] = {"mean", "std"};
    float *v[2] = {o->mean, o->std}, dflt[2] = {0.0f, 1.0f};
    int n[2] = {o->nmean, o->nstd};
    for (int k = 0; k < 2; k++) {
        if (n[k] == 2) return cli_usage_error("eval: --%s takes 1 or 3 values (R,G,B), got %d", name[k], n[k]);
        if (n[k] == 0) v[k][0] = dflt[k];
        if (n[k] < 3) v[k][1] = v[k][2] = v[k][0];
    }
    for (int c = 0; c < 3; c++)
        if (!(o->std[c] != 0.0f)) return cli_usage_error("eval: --std values must be nonzero");
    return CLI_OK;
}

/* The dataset, then the model with its input checked, the batch size, a session and the record buffer. */
static int eval_open(const eval_opts *o, eval_run *r) {
    char b1[1024];
    tdm_status st;
    /* The dataset first: its errors are cheaper to find than the model's. */
    if (cifar_open(o->dataset, &r->ds, b1, sizeof b1) != 0) return cli_error("%s", b1);
    r->images = o->limit > 0 && o->limit < r->ds.count ? o->limit : r->ds.count;
    if (!o->nmean || !o->nstd)
        fprintf(stderr, "tandem: warning: eval without --mean/--std uses mean 0 and std 1 (pixels in [0,1])\n");
    if (cli_load_model(o->model, &r->m, &r->load_ms) != CLI_OK) return CLI_ERR;
    if (tdm_model_num_inputs(r->m) != 1 || tdm_model_num_outputs(r->m) < 1)
        return cli_error("eval needs a classifier with one input and at least one output; '%s' has %d and %d",
                         o->model, tdm_model_num_inputs(r->m), tdm_model_num_outputs(r->m));
    tdm_tensor_info in;
    if ((st = tdm_model_input_info(r->m, 0, &in)) != TDM_OK) return cli_engine_error(st, "input info");
    if (in.dtype != TDM_FLOAT || in.rank != 4 || (in.dims[1] >= 0 && in.dims[1] != 3) ||
        (in.dims[2] >= 0 && in.dims[2] != EVAL_SIDE) || (in.dims[3] >= 0 && in.dims[3] != EVAL_SIDE))
        return cli_error("eval: the model input '%s' is %s %s; CIFAR records need float32 [N, 3, 32, 32]",
                         in.name ? in.name : "", cli_dtype_str(in.dtype), cli_shape_str(&in, b1, sizeof b1));
    /* A model with a fixed batch size takes exactly that many images per run; a partial last batch is padded. */
    r->fixed_batch = in.dims[0] >= 0;
    r->batch = r->fixed_batch ? in.dims[0] : o->batch ? o->batch : 64;
    if (r->batch < 1 || r->batch > 4096)
        return cli_error("eval: the model's fixed batch size %lld is out of range", (long long)r->batch);
    if (r->fixed_batch && o->batch && o->batch != r->batch)
        fprintf(stderr, "tandem: warning: the model's batch size is fixed at %lld; --batch %lld ignored\n",
                (long long)r->batch, (long long)o->batch);
    tdm_session_options so = {.threads = (int)o->threads};
    if ((st = tdm_session_create(r->m, &so, &r->s)) != TDM_OK) return cli_engine_error(st, "cannot create a session");
    if (!(r->rec = malloc((size_t)r->batch * EVAL_RECORD)))
        return cli_error("out of memory for a batch of %lld records", (long long)r->batch);
    r->planned = r->K = -1;
    return CLI_OK;
}

/* The input buffer for `rows` images, planned when the row count changes. */
static int eval_input(eval_run *r, int64_t rows, float **x) {
    char what[128];
    tdm_status st;
    if (rows != r->planned) {
        int64_t dims[4] = {rows, 3, EVAL_SIDE, EVAL_SIDE};
        if ((st = tdm_session_set_input_shape(r->s, 0, dims, 4)) != TDM_OK) {
            snprintf(what, sizeof what, "cannot set the input shape [%lld, 3, 32, 32]", (long long)rows);
            return cli_engine_error(st, what);
        }
        r->planned = rows;
    }
    tdm_tensor_info pi;
    void *data = NULL;
    if ((st = tdm_session_input_data(r->s, 0, &pi, &data)) != TDM_OK) return cli_engine_error(st, "input buffer");
    if (!data || pi.dtype != TDM_FLOAT || pi.rank != 4 || pi.dims[0] != rows)
        return cli_error("eval: the engine planned an unexpected input buffer");
    *x = data;
    return CLI_OK;
}

/* Records [first, first + n): normalise, run, and count the top-1 and top-5 hits. */
static int eval_batch(eval_run *r, int64_t first, int64_t n, const float lut[3][256]) {
    char b1[1024];
    tdm_status st;
    float *x = NULL;
    if (cifar_read(&r->ds, first, n, r->rec, b1, sizeof b1) != 0) return cli_error("%s", b1);
    int64_t rows = r->fixed_batch ? r->batch : n;
    if (eval_input(r, rows, &x) != CLI_OK) return CLI_ERR;
    for (int64_t b = 0; b < n; b++) cifar_to_chw(r->rec + b * EVAL_RECORD, lut, x + b * 3 * EVAL_PLANE);
    if (rows > n) memset(x + n * 3 * EVAL_PLANE, 0, (size_t)(rows - n) * 3 * EVAL_PLANE * sizeof(float));
    double t0 = clock_now_ms();
    st = tdm_session_run(r->s);
    r->run_ms += clock_now_ms() - t0;
    if (st != TDM_OK) return cli_engine_error(st, "run failed");
    tdm_tensor_info oi;
    const void *out = NULL;
    if ((st = tdm_session_output(r->s, 0, &oi, &out)) != TDM_OK) return cli_engine_error(st, "output");
    int64_t numel = 1;
    for (int d = 0; d < oi.rank && d < TDM_MAX_RANK; d++) numel *= oi.dims[d] < 0 ? 0 : oi.dims[d];
    if (oi.dtype != TDM_FLOAT || oi.rank < 2 || oi.dims[0] != rows || numel <= 0 || !out)
        return cli_error("eval: output '%s' is %s %s; a classifier gives float32 [N, classes]", oi.name ? oi.name : "",
                         cli_dtype_str(oi.dtype), cli_shape_str(&oi, b1, sizeof b1));
    int64_t k = numel / rows;
    if (r->K >= 0 && k != r->K)
        return cli_error("eval: the number of classes changed between batches (%lld, then %lld)", (long long)r->K,
                         (long long)k);
    r->K = k;
    for (int64_t b = 0; b < n; b++) {
        int label = cifar_label(r->rec + b * EVAL_RECORD);
        r->bad_labels += label >= k;
        int64_t rank = eval_rank((const float *)out + b * k, k, label);
        r->correct1 += rank == 0;
        r->correct5 += rank < 5;
    }
    return CLI_OK;
}

static void eval_print_json(const eval_opts *o, const eval_run *r, double seconds) {
    double top1 = 100.0 * (double)r->correct1 / (double)r->images;
    double top5 = 100.0 * (double)r->correct5 / (double)r->images;
    json_writer j;
    json_init(&j, stdout);
    json_object_begin(&j);
    json_kv_string(&j, "model", o->model);
    json_kv_string(&j, "dataset", o->dataset);
    json_kv_int(&j, "images", r->images);
    json_kv_int(&j, "classes", r->K);
    json_kv_int(&j, "correct_top1", r->correct1);
    json_kv_int(&j, "correct_top5", r->correct5);
    json_kv_double(&j, "top1", top1, 10);
    json_kv_double(&j, "top5", top5, 10);
    json_kv_double(&j, "images_per_s", seconds > 0 ? (double)r->images / seconds : 0, 6);
    json_kv_double(&j, "seconds", seconds, 6);
    json_kv_double(&j, "run_seconds", r->run_ms / 1e3, 6);
    json_kv_double(&j, "load_ms", r->load_ms, 6);
    json_kv_int(&j, "batch", r->batch);
    json_kv_int(&j, "threads", o->threads);
    json_key(&j, "mean");
    json_array_begin(&j);
    for (int c = 0; c < 3; c++) json_double(&j, o->mean[c], 7);
    json_array_end(&j);
    json_key(&j, "std");
    json_array_begin(&j);
    for (int c = 0; c < 3; c++) json_double(&j, o->std[c], 7);
    json_array_end(&j);
    json_kv_string(&j, "kernel_isa", tdm_kernel_isa());
    json_object_end(&j);
    json_finish(&j);
}

static void eval_print_text(const eval_opts *o, const eval_run *r, double seconds) {
    double top1 = 100.0 * (double)r->correct1 / (double)r->images;
    double top5 = 100.0 * (double)r->correct5 / (double)r->images;
    double ips = seconds > 0 ? (double)r->images / seconds : 0;
    printf("model      %s\n", o->model);
    printf("dataset    %s (%lld of %lld images)\n", o->dataset, (long long)r->images, (long long)r->ds.count);
    printf("top-1      %.2f %%  (%lld / %lld)\n", top1, (long long)r->correct1, (long long)r->images);
    printf("top-5      %.2f %%  (%lld / %lld)\n", top5, (long long)r->correct5, (long long)r->images);
    printf("speed      %.1f images/s  (%.2f s, %.2f s in the engine; batch %lld, %lld thread%s)\n", ips, seconds,
           r->run_ms / 1e3, (long long)r->batch, (long long)o->threads, o->threads == 1 ? "" : "s");
    fflush(stdout);
}

static int cmd_eval(const cli_command *self, int argc, char **argv) {
    eval_opts o = {.threads = 1};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    int rc = eval_check(&o);
    if (rc != CLI_OK) return rc;
    eval_run r = {0};
    rc = eval_open(&o, &r);
    float lut[3][256]; /* in float32 like the PyTorch preprocessing that the reference accuracies come from */
    cifar_norm_lut(o.mean, o.std, lut);
    double t_start = clock_now_ms();
    for (int64_t done = 0; rc == CLI_OK && done < r.images; done += r.batch)
        rc = eval_batch(&r, done, r.images - done < r.batch ? r.images - done : r.batch, lut);
    double seconds = (clock_now_ms() - t_start) / 1e3;
    if (rc == CLI_OK && r.bad_labels)
        fprintf(stderr, "tandem: warning: %lld labels are not below the model's %lld classes\n",
                (long long)r.bad_labels, (long long)r.K);
    if (rc == CLI_OK && o.json) eval_print_json(&o, &r, seconds);
    else if (rc == CLI_OK) eval_print_text(&o, &r, seconds);
    eval_run_free(&r);
    return rc;
}

const cli_command cli_cmd_eval = {
    "eval", cmd_eval, eval_options,
    "eval MODEL --dataset FILE --mean R,G,B --std R,G,B [--limit N] [--batch B] [--threads N] [--json]",
    "classifier accuracy (top-1, top-5) over a dataset in the CIFAR binary layout"};
