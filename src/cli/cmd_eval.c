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
    int have_mean, have_std;
    int64_t limit, batch, threads;
    int as_json, batch_given;
} eval_opts;

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

static int eval_parse(int argc, char **argv, eval_opts *o) {
    cli_args a;
    const char *opt, *pos, *v;
    memset(o, 0, sizeof *o);
    o->batch = 64;
    o->threads = 1;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        if (pos) {
            if (o->model) return cli_usage_error("eval: more than one model given ('%s' and '%s')", o->model, pos);
            o->model = pos;
            continue;
        }
        if (strcmp(opt, "json") == 0) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            o->as_json = 1;
            continue;
        }
        if (strcmp(opt, "dataset") != 0 && strcmp(opt, "mean") != 0 && strcmp(opt, "std") != 0 &&
            strcmp(opt, "limit") != 0 && strcmp(opt, "batch") != 0 && strcmp(opt, "threads") != 0)
            return cli_usage_error("eval: unknown option '%s%s' (try 'tandem help eval')", opt[0] == '-' ? "" : "--",
                                   opt);
        if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
        if (strcmp(opt, "dataset") == 0) {
            o->dataset = v;
        } else if (strcmp(opt, "mean") == 0 || strcmp(opt, "std") == 0) {
            int is_mean = opt[0] == 'm', n = 0;
            float *dst = is_mean ? o->mean : o->std;
            if (!cli_parse_floats(opt, v, dst, 3, &n)) return CLI_USAGE;
            if (n == 1) dst[1] = dst[2] = dst[0];
            else if (n != 3) return cli_usage_error("eval: --%s takes 1 or 3 values (R,G,B), got %d", opt, n);
            if (is_mean) o->have_mean = 1;
            else o->have_std = 1;
        } else if (strcmp(opt, "limit") == 0) {
            if (!cli_parse_int(opt, v, 1, INT64_MAX, &o->limit)) return CLI_USAGE;
        } else if (strcmp(opt, "batch") == 0) {
            if (!cli_parse_int(opt, v, 1, 4096, &o->batch)) return CLI_USAGE;
            o->batch_given = 1;
        } else {
            if (!cli_parse_int(opt, v, 1, 1024, &o->threads)) return CLI_USAGE;
        }
    }
    if (!o->model) return cli_usage_error("eval: no MODEL given (try 'tandem help eval')");
    if (!o->dataset) return cli_usage_error("eval: --dataset FILE is required");
    if (!o->have_mean) o->mean[0] = o->mean[1] = o->mean[2] = 0.0f;
    if (!o->have_std) o->std[0] = o->std[1] = o->std[2] = 1.0f;
    for (int c = 0; c < 3; c++)
        if (!(o->std[c] != 0.0f)) return cli_usage_error("eval: --std values must be nonzero");
    return CLI_OK;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    int rc = eval_parse(argc, argv, &o);
    if (rc != CLI_OK) return rc;
    rc = CLI_ERR;

    cifar_file ds = {0};
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    unsigned char *rec = NULL;
    double load_ms = 0;
    tdm_status st;
    char b1[1024];

    /* The dataset first: its errors are cheaper to find than the model's. */
    if (cifar_open(o.dataset, &ds, b1, sizeof b1) != 0) return cli_error("%s", b1);
    int64_t total = ds.count;
    int64_t images = o.limit > 0 && o.limit < total ? o.limit : total;
    if (!o.have_mean || !o.have_std)
        fprintf(stderr, "tandem: warning: eval without --mean/--std uses mean 0 and std 1 (pixels in [0,1])\n");

    if (cli_load_model(o.model, &m, &load_ms) != CLI_OK) goto done;
    if (tdm_model_num_inputs(m) != 1 || tdm_model_num_outputs(m) < 1) {
        cli_error("eval needs a classifier with one input and at least one output; '%s' has %d and %d", o.model,
                  tdm_model_num_inputs(m), tdm_model_num_outputs(m));
        goto done;
    }
    tdm_tensor_info in;
    if ((st = tdm_model_input_info(m, 0, &in)) != TDM_OK) {
        cli_engine_error(st, "input info");
        goto done;
    }
    if (in.dtype != TDM_FLOAT || in.rank != 4 || (in.dims[1] >= 0 && in.dims[1] != 3) ||
        (in.dims[2] >= 0 && in.dims[2] != EVAL_SIDE) || (in.dims[3] >= 0 && in.dims[3] != EVAL_SIDE)) {
        cli_error("eval: the model input '%s' is %s %s; CIFAR records need float32 [N, 3, 32, 32]",
                  in.name ? in.name : "", cli_dtype_str(in.dtype), cli_shape_str(&in, b1, sizeof b1));
        goto done;
    }
    /* A model with a fixed batch size takes exactly that many images per run; a partial last batch is padded. */
    int fixed_batch = in.dims[0] >= 0;
    int64_t batch = fixed_batch ? in.dims[0] : o.batch;
    if (batch < 1 || batch > 4096) {
        cli_error("eval: the model's fixed batch size %lld is out of range", (long long)batch);
        goto done;
    }
    if (fixed_batch && o.batch_given && o.batch != batch)
        fprintf(stderr, "tandem: warning: the model's batch size is fixed at %lld; --batch %lld ignored\n",
                (long long)batch, (long long)o.batch);

    tdm_session_options so = {.threads = (int)o.threads};
    if ((st = tdm_session_create(m, &so, &s)) != TDM_OK) {
        cli_engine_error(st, "cannot create a session");
        goto done;
    }
    rec = malloc((size_t)batch * EVAL_RECORD);
    if (!rec) {
        cli_error("out of memory for a batch of %lld records", (long long)batch);
        goto done;
    }
    float lut[3][256]; /* in float32 like the PyTorch preprocessing that the reference accuracies come from */
    cifar_norm_lut(o.mean, o.std, lut);

    int64_t done_images = 0, correct1 = 0, correct5 = 0, planned = -1, K = -1, bad_labels = 0;
    double run_ms = 0, t_start = clock_now_ms();
    while (done_images < images) {
        int64_t n = images - done_images < batch ? images - done_images : batch;
        if (cifar_read(&ds, done_images, n, rec, b1, sizeof b1) != 0) {
            cli_error("%s", b1);
            goto done;
        }
        int64_t rows = fixed_batch ? batch : n;
        if (rows != planned) {
            int64_t dims[4] = {rows, 3, EVAL_SIDE, EVAL_SIDE};
            if ((st = tdm_session_set_input_shape(s, 0, dims, 4)) != TDM_OK) {
                snprintf(b1, sizeof b1, "cannot set the input shape [%lld, 3, 32, 32]", (long long)rows);
                cli_engine_error(st, b1);
                goto done;
            }
            planned = rows;
        }
        tdm_tensor_info pi;
        void *data = NULL;
        if ((st = tdm_session_input_data(s, 0, &pi, &data)) != TDM_OK) {
            cli_engine_error(st, "input buffer");
            goto done;
        }
        if (!data || pi.dtype != TDM_FLOAT || pi.rank != 4 || pi.dims[0] != rows) {
            cli_error("eval: the engine planned an unexpected input buffer");
            goto done;
        }
        float *x = data;
        for (int64_t b = 0; b < n; b++) cifar_to_chw(rec + b * EVAL_RECORD, lut, x + b * 3 * EVAL_PLANE);
        if (rows > n) memset(x + n * 3 * EVAL_PLANE, 0, (size_t)(rows - n) * 3 * EVAL_PLANE * sizeof(float));

        double t0 = clock_now_ms();
        st = tdm_session_run(s);
        run_ms += clock_now_ms() - t0;
        if (st != TDM_OK) {
            cli_engine_error(st, "run failed");
            goto done;
        }
        tdm_tensor_info oi;
        const void *out = NULL;
        if ((st = tdm_session_output(s, 0, &oi, &out)) != TDM_OK) {
            cli_engine_error(st, "output");
            goto done;
        }
        int64_t numel = 1;
        for (int d = 0; d < oi.rank && d < TDM_MAX_RANK; d++) numel *= oi.dims[d] < 0 ? 0 : oi.dims[d];
        if (oi.dtype != TDM_FLOAT || oi.rank < 2 || oi.dims[0] != rows || numel <= 0 || !out) {
            cli_error("eval: output '%s' is %s %s; a classifier gives float32 [N, classes]", oi.name ? oi.name : "",
                      cli_dtype_str(oi.dtype), cli_shape_str(&oi, b1, sizeof b1));
            goto done;
        }
        int64_t k = numel / rows;
        if (K >= 0 && k != K) {
            cli_error("eval: the number of classes changed between batches (%lld, then %lld)", (long long)K,
                      (long long)k);
            goto done;
        }
        K = k;
        const float *scores = out;
        for (int64_t b = 0; b < n; b++) {
            int label = cifar_label(rec + b * EVAL_RECORD);
            if (label >= K) bad_labels++;
            int64_t r = eval_rank(scores + b * K, K, label);
            correct1 += r == 0;
            correct5 += r < 5;
        }
        done_images += n;
    }
    double seconds = (clock_now_ms() - t_start) / 1e3;
    double top1 = 100.0 * (double)correct1 / (double)images, top5 = 100.0 * (double)correct5 / (double)images;
    double ips = seconds > 0 ? (double)images / seconds : 0;
    if (bad_labels)
        fprintf(stderr, "tandem: warning: %lld labels are not below the model's %lld classes\n",
                (long long)bad_labels, (long long)K);

    if (o.as_json) {
        json_writer j;
        json_init(&j, stdout);
        json_object_begin(&j);
        json_kv_string(&j, "model", o.model);
        json_kv_string(&j, "dataset", o.dataset);
        json_kv_int(&j, "images", images);
        json_kv_int(&j, "classes", K);
        json_kv_int(&j, "correct_top1", correct1);
        json_kv_int(&j, "correct_top5", correct5);
        json_kv_double(&j, "top1", top1, 10);
        json_kv_double(&j, "top5", top5, 10);
        json_kv_double(&j, "images_per_s", ips, 6);
        json_kv_double(&j, "seconds", seconds, 6);
        json_kv_double(&j, "run_seconds", run_ms / 1e3, 6);
        json_kv_double(&j, "load_ms", load_ms, 6);
        json_kv_int(&j, "batch", batch);
        json_kv_int(&j, "threads", o.threads);
        json_key(&j, "mean");
        json_array_begin(&j);
        for (int c = 0; c < 3; c++) json_double(&j, o.mean[c], 7);
        json_array_end(&j);
        json_key(&j, "std");
        json_array_begin(&j);
        for (int c = 0; c < 3; c++) json_double(&j, o.std[c], 7);
        json_array_end(&j);
        json_kv_string(&j, "kernel_isa", tdm_kernel_isa());
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("model      %s\n", o.model);
        printf("dataset    %s (%lld of %lld images)\n", o.dataset, (long long)images, (long long)total);
        printf("top-1      %.2f %%  (%lld / %lld)\n", top1, (long long)correct1, (long long)images);
        printf("top-5      %.2f %%  (%lld / %lld)\n", top5, (long long)correct5, (long long)images);
        printf("speed      %.1f images/s  (%.2f s, %.2f s in the engine; batch %lld, %lld thread%s)\n", ips, seconds,
               run_ms / 1e3, (long long)batch, (long long)o.threads, o.threads == 1 ? "" : "s");
        fflush(stdout);
    }
    rc = CLI_OK;
done:
    free(rec);
    tdm_session_free(s);
    tdm_model_free(m);
    cifar_close(&ds);
    return rc;
}
