/* cmd_study.c - `tandem study`: the options of a study into a study_plan, then src/study measures and writes the
 * report (study_run), or rebuilds it from stored results (study_report_from). Prints the output folder as JSON. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../study/study.h"

typedef struct study_opts {
    const char *models, *networks, *out, *shared, *report_from, *post, *preset, *shape, *inputs, *mean, *std, *cloud, *baseline;
    int threads[STUDY_MAX_LIST], n_threads;   /* 0: the plan's default, 1..CPUs */
    int throttle[STUDY_MAX_LIST], n_throttle; /* 0: the plan's default, 1,2,4,6 */
    int64_t runs, images;
    int quick, no_browser, no_cloud, no_ort;
} study_opts;

#define T study_opts
static const opt_spec study_options[] = {
    OPT_STR(T, models, "models", "a,b",
            "zoo names, model folders or .onnx files (default: cifar100_resnet20,32,44,56 from the zoo)"),
    OPT_STR(T, preset, "preset", "NAME",
            "kanev (default: CIFAR ResNet-20/32/44/56) or wang (the zoo's MobileNetV2, ResNet-50,\n"
            "ShuffleNetV2, EfficientNet-B0, Inception-v3, VGG-16 and BERT-tiny); --models replaces it"),
    OPT_STR(T, shape, "shape", "N=1x3x224x224",
            "shapes of named inputs (comma-separated), for symbolic dimensions"),
    OPT_STR(T, inputs, "inputs", "DIR",
            "your own input tensors: DIR/<model>/ or DIR holding input_0.pb ... or\n"
            "test_data_set_K/input_0.pb ... (the ONNX test layout); else synthetic ones"),
    OPT_STR(T, mean, "mean", "a,b,c", "image normalisation mean for every image model (else config.json or ImageNet's)"),
    OPT_STR(T, std, "std", "a,b,c", "image normalisation std (with --mean)"),
    OPT_STR(T, cloud, "cloud", "URL",
            "also measure the cloud path against this KServe v2 REST server (its models of the same names)"),
    OPT_STR(T, out, "out", "DIR", "where the report, results and models go (default study-out)"),
    OPT_INTS(T, threads, n_threads, "threads", 1, 64, STUDY_MAX_LIST, "1,2",
             "thread counts, native and in the browser (default 1..CPUs)"),
    OPT_INTS(T, throttle, n_throttle, "throttle", 1, 20, STUDY_MAX_LIST, "1,2,4",
             "client CPU slow-downs emulated in Chromium, standing in for weaker devices (default 1,2,4,6)"),
    OPT_STR(T, networks, "networks", "...",
            "emulated networks for the cloud path: lan, wifi, 4g, 3g, slow3g (default lan,wifi,4g,3g)"),
    OPT_INT(T, runs, "runs", 3, 100000, "R", "timed runs per measurement (default 30)"),
    OPT_INT(T, images, "images", 1, 10000, "N",
            "images for the phase split, agreement and cloud requests (default 20)"),
    OPT_FLAG(T, no_browser, "no-browser", "skip the client path"),
    OPT_FLAG(T, no_cloud, "no-cloud", "skip the cloud path"),
    OPT_FLAG(T, no_ort, "no-ort", "skip onnxruntime-node, the native engine the browser is also compared with"),
    OPT_STR(T, baseline, "baseline", "ort",
            "also run the incumbents as extra rows of the decision and phase tables: onnxruntime-web in the\n"
            "browser, onnxruntime-node natively (does the placement answer depend on the engine?)"),
    OPT_FLAG(T, quick, "quick", "a reduced study (10 runs, 5 images), for tests"),
    OPT_STR(T, post, "post", "URL", "also send the results to a tandem server's store (URL/api/results)"),
    OPT_STR(T, report_from, "report-from", "X",
            "no measuring: rebuild the report from a results.json, or from every device's results in\n"
            "a tandem server's store (crowd mode)"),
    OPT_STR(T, shared, "shared", "DIR", NULL), /* the data folder (default $TDM_SHARED or ../shared); for tests */
    OPT_END,
};
#undef T

/* The plan from the options: the given lists replace the defaults; --quick caps runs and images. */
static int study_plan_from(const study_opts *o, study_plan *p, char *err, size_t errlen) {
    study_plan_defaults(p);
    if (o->out) p->out_dir = o->out;
    if (o->shared) p->shared_dir = o->shared;
    if (o->runs) p->runs = (int)o->runs;
    if (o->images) p->images = (int)o->images;
    if (o->quick) { /* the test's reduced study: small and fast, every path still exercised */
        p->runs = p->runs < 10 ? p->runs : 10;
        p->images = p->images < 5 ? p->images : 5;
    }
    p->browser = !o->no_browser;
    p->cloud = !o->no_cloud;
    p->ort = !o->no_ort;
    p->post_url = o->post;
    if (o->n_threads) {
        p->n_threads = o->n_threads;
        memcpy(p->threads, o->threads, sizeof o->threads);
    }
    if (o->n_throttle) p->n_throttle = o->n_throttle;
    for (int i = 0; o->n_throttle && i < o->n_throttle; i++) p->throttle[i] = o->throttle[i];
    if (study_plan_networks(p, o->networks ? o->networks : STUDY_DEFAULT_NETWORKS, err, errlen)) return -1;
    const char *models = STUDY_DEFAULT_MODELS;
    p->preset = "kanev";
    if (o->preset && !strcmp(o->preset, "wang")) {
        /* 224- and 299-pixel CNNs up to VGG-16: fewer runs, samples and weak devices, to stay within 30 minutes on
         * a 2-core machine; the flags still override */
        models = STUDY_WANG_MODELS;
        p->preset = "wang";
        if (!o->runs) p->runs = o->quick ? p->runs : 20;
        if (!o->images) p->images = o->quick ? p->images : 10;
        if (!o->n_throttle) p->n_throttle = 1, p->throttle[0] = 1; /* a 4x device on VGG-16 alone takes ~3 min */
    } else if (o->preset && strcmp(o->preset, "kanev")) {
        return err_set(err, errlen, "study: unknown --preset '%s' (kanev or wang)", o->preset);
    }
    if (o->shape && study_plan_shape(p, o->shape, err, errlen)) return -1;
    if (!o->mean != !o->std) return err_set(err, errlen, "study: --mean and --std go together");
    if (o->mean && (study_parse_triple(o->mean, p->user_mean, err, errlen) ||
                    study_parse_triple(o->std, p->user_std, err, errlen)))
        return -1;
    for (int c = 0; o->std && c < 3; c++)
        if (!(p->user_std[c] > 0)) return err_set(err, errlen, "study: --std values must be positive");
    p->user_norm = o->mean != NULL;
    p->inputs_dir = o->inputs;
    if (o->cloud && strncmp(o->cloud, "http://", 7))
        return err_set(err, errlen, "study: --cloud takes an http:// URL (https is not supported)");
    p->cloud_url = o->cloud;
    if (o->baseline) {
        if (strcmp(o->baseline, "ort"))
            return err_set(err, errlen, "study: unknown --baseline '%s' (ort: onnxruntime-web and -node)", o->baseline);
        if (o->no_ort) return err_set(err, errlen, "study: --baseline ort runs onnxruntime-node: drop --no-ort");
        p->baseline_ort = 1;
    }
    return study_plan_models(p, o->models ? o->models : models, err, errlen);
}

static int cmd_study(const cli_command *self, int argc, char **argv) {
    study_opts o = {0};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    static study_plan plan;
    char err[1024];
    int rc = CLI_OK;
    const char *out_dir = o.out ? o.out : "study-out";
    if (o.report_from) {
        if (study_report_from(o.report_from, out_dir, err, sizeof err)) rc = cli_error("%s", err);
    } else if (study_plan_from(&o, &plan, err, sizeof err)) {
        rc = cli_usage_error("%s", err);
    } else if (study_run(&plan, err, sizeof err)) {
        rc = cli_error("%s", err);
    }
    study_plan_free(&plan);
    if (rc == CLI_OK) printf("{\"out\": \"%s\", \"report\": \"%s/report.html\"}\n", out_dir, out_dir);
    return rc;
}

const cli_command cli_cmd_study = {
    "study", cmd_study, study_options,
    "study [--preset kanev|wang] [--models a,b] [--shape N=1x3x224x224] [--inputs DIR] [--mean a,b,c --std a,b,c]\n"
    "            [--cloud URL] [--out DIR] [--threads 1,2] [--throttle 1,2,4,6] [--networks lan,wifi,4g,3g]\n"
    "            [--runs R] [--images N] [--no-browser] [--no-cloud] [--quick] [--post URL] [--report-from URL|FILE]",
    "on-device or cloud? measure native, browser and cloud paths on this machine and write the report"};
