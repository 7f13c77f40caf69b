/* study.h - the parts of `tandem study`: the plan (what to measure), the native measurements, the browser and cloud
 * measurements (run by a headless-Chromium driver, scripts/study-browser.mjs), and the report. All results live in
 * one cJSON tree, which is also results.json; the report is computed from that tree alone, so `--report-from`
 * rebuilds it from stored results without measuring anything. Library code: progress lines go to stderr, every error
 * comes back as -1 (or NULL) with a sentence in the caller's err buffer; `tandem study` (src/cli/cmd_study.c) parses
 * the options into a study_plan and prints. */
#ifndef TANDEM_STUDY_H
#define TANDEM_STUDY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define STUDY_MAX_MODELS 16
#define STUDY_MAX_LIST 8
#define STUDY_DEFAULT_MODELS "cifar100_resnet20,cifar100_resnet32,cifar100_resnet44,cifar100_resnet56"
#define STUDY_DEFAULT_NETWORKS "lan,wifi,4g,3g"

/* A network profile, as Chromium's DevTools emulate it: latency is added per request round trip, bandwidths cap
 * the transfer rates. 0 bandwidth means no limit. */
typedef struct study_network {
    const char *name;
    double rtt_ms, down_kbps, up_kbps;
} study_network;

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
    const char *post_url;                /* also POST the results to this server's /api/results */
    float mean[3], std[3];               /* preprocessing of the default (zoo) models */
} study_plan;

/* The defaults: out_dir study-out, shared_dir $TDM_SHARED or ../shared, 30 runs, 20 images, threads 1..CPUs (at
 * most STUDY_MAX_LIST), throttle 1,2,4,6, browser and cloud on; no models and no networks yet. */
void study_plan_defaults(study_plan *p);
/* The models from a comma-separated list of zoo names, model folders and .onnx files (copied into the plan). */
int study_plan_models(study_plan *p, const char *list, char *err, size_t errlen);
/* The networks from a comma-separated list of profile names (lan, wifi, 4g, 3g, slow3g). */
int study_plan_networks(study_plan *p, const char *list, char *err, size_t errlen);
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
/* Run argv (argv[0] a path) with stdout captured into a malloc'd string (*out, may be NULL) and stderr passed
 * through; returns the exit status, or -1 if it could not start. */
int study_spawn_capture(char *const argv[], char **out);

/* Native measurements of one model (study_native.c): the phase split on the plan's images in-process, and
 * `tandem bench` children at each thread count. Returns a cJSON object, or NULL with the reason in err. */
cJSON *study_native_model(const study_plan *p, int m, const char *image_dir, char *err, size_t errlen);

/* The report (study_report.c): adds the computed "decisions" to results, then writes report.md, report.html and
 * results.csv into dir. Returns 0, or -1 with the reason in err. */
int study_write_report(cJSON *results, const char *dir, char *err, size_t errlen);

#endif /* TANDEM_STUDY_H */
