/* study.h - the parts of `tandem study`: the plan (what to measure), the native measurements, the browser and cloud
 * measurements (run by a headless-Chromium driver, scripts/study-browser.mjs), and the report. All results live in
 * one cJSON tree, which is also results.json; the report is computed from that tree alone, so `--report-from`
 * rebuilds it from stored results without measuring anything. Library code: progress lines go to stderr, every error
 * comes back as -1 (or NULL) with a sentence in the caller's err buffer; `tandem study` (src/cli/cmd_study.c) parses
 * the options into a study_plan and prints. */
#ifndef TANDEM_STUDY_H
#define TANDEM_STUDY_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tandem.h"

#define STUDY_MAX_MODELS 16
#define STUDY_MAX_LIST 8
#define STUDY_DEFAULT_MODELS "cifar100_resnet20,cifar100_resnet32,cifar100_resnet44,cifar100_resnet56"
#define STUDY_DEFAULT_NETWORKS "lan,wifi,4g,3g"
/* --preset wang: Wang et al. 2024's families as the zoo has them, plus a BERT-style encoder */
#define STUDY_WANG_MODELS                                                                                              \
    "imagenet_mobilenet_v2,imagenet_resnet50,imagenet_shufflenet_v2_x1_0,imagenet_efficientnet_b0,"                   \
    "imagenet_inception_v3,imagenet_vgg16,bert_tiny"
#define STUDY_MAX_INPUTS 8
#define STUDY_MAX_SHAPES 16

/* A network profile, as Chromium's DevTools emulate it: latency is added per request round trip, bandwidths cap
 * the transfer rates. 0 bandwidth means no limit. */
typedef struct study_network {
    const char *name;
    double rtt_ms, down_kbps, up_kbps;
} study_network;

/* One model input as the study feeds it: the model's declared shape with every symbolic dimension filled (from
 * --shape, or 1 for a batch, or the image size). */
typedef struct study_input {
    char name[128];
    tdm_dtype dtype;
    int rank;
    int64_t dims[TDM_MAX_RANK];
    int64_t index_limit;   /* rows of the table an integer input indexes (tdm_model_input_index_limit), 0: none */
} study_input;

/* How the study feeds one model (study_inputs.c). An image model (one float [N,C,H,W] or [N,H,W,C] input, C 1 or
 * 3) gets the study's pictures at its size; any other gets tensors: synthetic (token ids within the table, masks of
 * ones, float noise) or the user's TensorProto files, written as raw little-endian sample files that every path
 * reads. A model the engine cannot load, plan or run has ok = 0 and the engine's message in error. */
typedef struct study_model_io {
    int ok;
    char error[768];
    int image, nhwc;
    int64_t c, h, w;
    int n_inputs;
    study_input in[STUDY_MAX_INPUTS];
    float mean[3], std[3];        /* image models: the normalisation                                             */
    const char *norm_source;      /* where mean/std came from (static text)                                      */
    char tensor_source[PATH_MAX]; /* tensor models: "synthetic ..." or the --inputs folder                       */
    char sample_dir[PATH_MAX];    /* tensor models: OUT/inputs/<name>, holding K/input_I.bin                     */
    char image_dir[PATH_MAX];     /* image models: OUT/images/<H>x<W>                                            */
    const char *cloud_path;       /* "classify" (NCHW image classifiers) or "infer" (KServe v2, binary tensors)  */
} study_model_io;

typedef struct study_plan {
    const char *out_dir;
    const char *shared_dir;
    const char *self_exe;                /* this tandem binary, for `tandem bench/zoo/serve` children (NULL: found
                                          * by study_run from /proc/self/exe) */
    int n_models;
    const char *model_arg[STUDY_MAX_MODELS]; /* as given: a zoo name, a model folder or a .onnx file (points into
                                              * models_buf) */
    char *model_name[STUDY_MAX_MODELS];      /* the name in the report and in the model repository (owned) */
    char *model_path[STUDY_MAX_MODELS];      /* OUT/repo/<name>/model.onnx (owned) */
    char *models_buf;                        /* the --models list, split in place (owned) */
    int n_threads, threads[STUDY_MAX_LIST];
    int n_throttle;
    double throttle[STUDY_MAX_LIST];     /* client CPU slow-down factors; 1 = this machine's browser */
    int n_networks;
    study_network networks[STUDY_MAX_LIST];
    int runs;                            /* timed runs per measurement */
    int images;                          /* images for agreement, the phase split and the cloud path */
    int browser, cloud;                  /* run the browser / cloud paths */
    int ort;                             /* also bench onnxruntime-node natively (default on; --no-ort) */
    int baseline_ort;                    /* --baseline ort: onnxruntime-web in the browser, both ort engines as
                                          * rows of the decision and phase tables */
    const char *post_url;                /* also POST the results to this server's /api/results */
    float mean[3], std[3];               /* preprocessing of the model being measured */
    int user_norm;                       /* 1: --mean/--std given: user_mean/user_std for every image model */
    float user_mean[3], user_std[3];
    int n_shapes;                        /* --shape NAME=1x3x224x224, one per input name */
    char *shape_name[STUDY_MAX_SHAPES];  /* owned */
    int shape_rank[STUDY_MAX_SHAPES];
    int64_t shape_dims[STUDY_MAX_SHAPES][TDM_MAX_RANK];
    const char *inputs_dir;              /* --inputs DIR: the user's TensorProto files (DIR/<model>/ or DIR) */
    const char *preset;                  /* "kanev" or "wang" */
    const char *cloud_url;               /* --cloud URL: also measure this KServe v2 REST endpoint */
    study_model_io io[STUDY_MAX_MODELS];
} study_plan;

/* The defaults: out_dir study-out, shared_dir $TDM_SHARED or ../shared, 30 runs, 20 images, threads 1..CPUs (at
 * most STUDY_MAX_LIST), throttle 1,2,4,6, browser, cloud and onnxruntime-node on; no models and no networks yet. */
void study_plan_defaults(study_plan *p);
/* The models from a comma-separated list of zoo names, model folders and .onnx files (copied into the plan). */
int study_plan_models(study_plan *p, const char *list, char *err, size_t errlen);
/* The networks from a comma-separated list of profile names (lan, wifi, 4g, 3g, slow3g). */
int study_plan_networks(study_plan *p, const char *list, char *err, size_t errlen);
/* One --shape argument: "NAME=1x3x224x224" (several separated by ','). */
int study_plan_shape(study_plan *p, const char *arg, char *err, size_t errlen);
/* "a,b,c" into three floats (--mean, --std). */
int study_parse_triple(const char *arg, float out[3], char *err, size_t errlen);
/* Free what the plan owns (model names, paths, the models list); the plan may be filled again. */
void study_plan_free(study_plan *p);

/* Measure everything the plan asks for and write results.json, results.csv, report.md and report.html into
 * p->out_dir (and POST the results when post_url is set). Returns 0, or -1 with the reason in err. */
int study_run(study_plan *p, char *err, size_t errlen);
/* No measuring: rebuild the report in out_dir from a results.json, or (src starting with http://) from every device's
 * results in a tandem server's store (crowd mode). Returns 0, or -1 with the reason in err. */
int study_report_from(const char *src, const char *out_dir, char *err, size_t errlen);

/* Summary statistics of n samples as {"median","p25","p75","min","max","n"}; NULL when n == 0. v is sorted. */
cJSON *study_stats(double *v, int n);
/* The median of a stats object (or of a number); NAN when absent. */
double study_median(const cJSON *stats);
/* Print a progress line "[study mm:ss] ..." on stderr. */
void study_progress(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* A file of the tandem source tree beside this binary (build/tandem -> REL from the checkout), into out: 0, or -1
 * when not found. */
int study_tree_file(const study_plan *p, const char *rel, char *out, size_t cap);
/* mkdir -p: 0, or -1 when a folder cannot be created. */
int study_mkdir_p(const char *dir);
/* Run argv (argv[0] a path) with stdout captured into a malloc'd string (*out, may be NULL) and stderr passed
 * through; returns the exit status, or -1 if it could not start. */
int study_spawn_capture(char *const argv[], char **out);

/* Inspect model m (OUT/repo/<name>/model.onnx) and prepare its inputs (study_inputs.c): fills p->io[m]; the
 * engine's failure to run it is not an error (io.ok = 0). base_images holds the study's 32x32 pictures; pictures at
 * other sizes are made from them under out_dir/images. Returns -1 with err only when files cannot be written. */
int study_prepare_io(study_plan *p, int m, const char *base_images, char *err, size_t errlen);
/* Input i of sample k of model m as a malloc'd buffer of io.in[i]'s bytes (tensor models), or NULL. */
void *study_sample_read(const study_plan *p, int m, int k, int i, size_t *bytes);
/* An image file as model m's input tensor (resized, normalised with p->mean/p->std, NCHW or NHWC), malloc'd. */
float *study_image_tensor(const study_plan *p, int m, const char *path, size_t *bytes, char *err, size_t errlen);
/* The model's io as JSON (results.json's "io" and the browser plan). */
cJSON *study_io_json(const study_plan *p, int m);
/* argmax over the last dimension of the first row of out, softmax into prob (classes entries), top-5 into idx. */
int study_softmax_top(const float *row, int64_t k, float *prob, int top, int *idx);

/* The cloud path against any Open Inference Protocol (KServe v2 REST) endpoint (study_cloud.c): GET /v2, the
 * model's metadata, then one /infer per sample with binary tensors, timed on the client (connect, upload, wait,
 * download) and split by Server-Timing when the server sends it. Adds "remote_cloud" to results; an unreachable
 * or failing endpoint is recorded as an error there, not returned. */
void study_remote_cloud(const study_plan *p, cJSON *results);

/* Native measurements of one model (study_native.c): the phase split on the plan's images in-process, and
 * `tandem bench` children at each thread count. Returns a cJSON object, or NULL with the reason in err. */
cJSON *study_native_model(const study_plan *p, int m, char *err, size_t errlen);

/* The report (study_report.c): adds the computed "decisions" to results, then writes report.md, report.html and
 * results.csv into dir. Returns 0, or -1 with the reason in err. */
int study_write_report(cJSON *results, const char *dir, char *err, size_t errlen);

#endif /* TANDEM_STUDY_H */
