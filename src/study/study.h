/* study.h - the parts of `tandem study`: the plan (what to measure), the native measurements, the browser and cloud
 * measurements (run by a headless-Chromium driver, scripts/study-browser.mjs), and the report. All results live in
 * one cJSON tree, which is also results.json; the report is computed from that tree alone, so `--report-from`
 * rebuilds it from stored results without measuring anything. */
#ifndef TANDEM_STUDY_H
#define TANDEM_STUDY_H

#include <cjson/cJSON.h>

#define STUDY_MAX_MODELS 16
#define STUDY_MAX_LIST 8

/* A network profile, as Chromium's DevTools emulate it: latency is added per request round trip, bandwidths cap
 * the transfer rates. 0 bandwidth means no limit. */
typedef struct study_network {
    const char *name;
    double rtt_ms, down_kbps, up_kbps;
} study_network;

typedef struct study_plan {
    const char *out_dir;
    const char *shared_dir;
    const char *self_exe;                /* this tandem binary, for `tandem bench/zoo/serve` children */
    int n_models;
    const char *model_arg[STUDY_MAX_MODELS]; /* as given: a zoo name, a model folder or a .onnx file */
    char *model_name[STUDY_MAX_MODELS];      /* the name in the report and in the model repository */
    char *model_path[STUDY_MAX_MODELS];      /* OUT/repo/<name>/model.onnx */
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

/* Summary statistics of n samples as {"median","p25","p75","min","max","n"}; NULL when n == 0. v is sorted. */
cJSON *study_stats(double *v, int n);
/* The median of a stats object (or of a number); NAN when absent. */
double study_median(const cJSON *stats);
double study_now_ms(void);
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
 * `tandem bench` children at each thread count. Returns a cJSON object, or NULL after printing an error. */
cJSON *study_native_model(const study_plan *p, int m, const char *image_dir);

/* The report (study_report.c): adds the computed "decisions" to results, then writes report.md, report.html and
 * results.csv into dir. Returns 0 or -1 after printing an error. */
int study_write_report(cJSON *results, const char *dir);

#endif /* TANDEM_STUDY_H */
