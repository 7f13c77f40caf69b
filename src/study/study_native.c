/* study_native.c - the native side of `tandem study`: for one model, the phase split of an on-device prediction
 * (model load, plan, preprocessing, inference, probability computation; the split of Guo 2018) measured in-process
 * on the study's images, the native top-1 of each image (for the agreement check), CPU-seconds and, where Linux
 * exposes RAPL, energy per inference; then `tandem bench` in a child process at every thread count (a child, so
 * that its peak RSS belongs to that model alone). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tandem.h"
#include "../common/image.h"
#include "../common/util.h"
#include "study.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

cJSON *study_stats(double *v, int n) {
    if (n <= 0) return NULL;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    cJSON *o = cJSON_CreateObject();
    double med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    cJSON_AddNumberToObject(o, "median", med);
    cJSON_AddNumberToObject(o, "p25", v[(n - 1) / 4]);
    cJSON_AddNumberToObject(o, "p75", v[(3 * (n - 1) + 3) / 4]);
    cJSON_AddNumberToObject(o, "min", v[0]);
    cJSON_AddNumberToObject(o, "max", v[n - 1]);
    cJSON_AddNumberToObject(o, "n", n);
    return o;
}

double study_median(const cJSON *s) {
    if (cJSON_IsNumber(s)) return s->valuedouble;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "median");
    return cJSON_IsNumber(m) ? m->valuedouble : NAN;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Package energy from Linux powercap (RAPL) in microjoules, or -1 when it is not exposed or not readable. */
static double rapl_uj(void) {
    FILE *f = fopen("/sys/class/powercap/intel-rapl:0/energy_uj", "r");
    if (!f) return -1;
    double v = -1;
    if (fscanf(f, "%lf", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The study's PNG images, sorted by name. */
static int list_images(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".png")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        size_t pl = strlen(dir) + l + 2;
        if (!(v[n] = malloc(pl))) break;
        snprintf(v[n++], pl, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof *v, name_cmp);
    *out = v;
    return n;
}

/* One sample's inputs into the session: an image decoded, resized and normalised (NCHW, or transposed to NHWC), or
 * a tensor model's sample files. This is the "preprocess" phase. */
static int set_sample(const study_plan *p, int m, tdm_session *s, const char *img, int k, char *err, size_t errlen) {
    const study_model_io *io = &p->io[m];
    if (io->image) {
        size_t n = 0;
        float *x = study_image_tensor(p, m, img, &n, err, errlen);
        if (!x) return -1;
        tdm_status st = tdm_session_set_input(s, 0, x, n);
        free(x);
        return st ? err_set(err, errlen, "study: input: %s", tdm_last_error()) : 0;
    }
    for (int i = 0; i < io->n_inputs; i++) {
        size_t n = 0;
        void *data = study_sample_read(p, m, k, i, &n);
        if (!data) return err_set(err, errlen, "study: cannot read sample %d of input %d", k, i);
        tdm_status st = tdm_session_set_input(s, i, data, n);
        free(data);
        if (st) return err_set(err, errlen, "study: input: %s", tdm_last_error());
    }
    return 0;
}

/* Phase split and top-1 over the samples, in this process, at 1 thread: the on-device pipeline of one prediction.
 * The "top-1" of a model that is not a classifier is the argmax over the last dimension of its first output's first
 * row: still a fingerprint of the output that every path must agree on. */
static cJSON *native_phases(const study_plan *p, int m, char *err, size_t errlen) {
    const study_model_io *io = &p->io[m];
    const char *path = p->model_path[m];
    char **img = NULL;
    int nimg = io->image ? list_images(io->image_dir, &img) : p->images;
    if (nimg > p->images) nimg = p->images;
    enum { REP = 5 };
    double load[REP], plan[REP];
    tdm_model *model = NULL;
    tdm_session *s = NULL;
    cJSON *o = NULL;
    double *pre = calloc((size_t)nimg + 1, sizeof *pre), *inf = calloc((size_t)nimg + 1, sizeof *inf);
    double *prob = calloc((size_t)nimg + 1, sizeof *prob);
    float *pbuf = NULL;
    if (!pre || !inf || !prob) {
        err_set(err, errlen, "out of memory");
        goto out;
    }
    for (int r = 0; r < REP; r++) { /* load and plan from a warm page cache, as a returning visitor would */
        if (s) tdm_session_free(s), s = NULL; /* a session refers to its model: free it first */
        if (model) tdm_model_free(model), model = NULL;
        double t0 = clock_now_ms();
        tdm_status st;
        if ((st = tdm_model_load_file(path, NULL, &model))) {
            err_set(err, errlen, "study: load: %s", tdm_last_error());
            goto out;
        }
        double t1 = clock_now_ms();
        tdm_session_options so = {.threads = 1};
        st = tdm_session_create(model, &so, &s);
        for (int i = 0; i < io->n_inputs && !st; i++)
            st = tdm_session_set_input_shape(s, i, io->in[i].dims, io->in[i].rank);
        if (!st) st = tdm_session_plan(s);
        if (st) {
            err_set(err, errlen, "study: plan: %s", tdm_last_error());
            goto out;
        }
        load[r] = t1 - t0;
        plan[r] = clock_now_ms() - t1;
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "load_ms", study_stats(load, REP));
    cJSON_AddItemToObject(o, "plan_ms", study_stats(plan, REP));
    cJSON *top1 = cJSON_AddArrayToObject(o, "top1");
    int64_t classes = 0;
    double e0 = rapl_uj(), c0 = cpu_seconds(), w0 = clock_now_ms();
    for (int i = 0; i < nimg; i++) {
        double t0 = clock_now_ms();
        if (set_sample(p, m, s, img ? img[i] : NULL, i, err, errlen)) goto fail;
        double t1 = clock_now_ms();
        tdm_tensor_info info;
        const float *y;
        tdm_status st;
        if ((st = tdm_session_run(s)) || (st = tdm_session_output(s, 0, &info, (const void **)&y))) {
            err_set(err, errlen, "study: run: %s", tdm_last_error());
            goto fail;
        }
        double t2 = clock_now_ms();
        if (info.dtype != TDM_FLOAT || info.rank < 1) {
            err_set(err, errlen, "study: output 0 is not float32: no top-1 to compare");
            goto fail;
        }
        classes = info.dims[info.rank - 1];
        if (!pbuf && !(pbuf = malloc((size_t)classes * sizeof *pbuf))) {
            err_set(err, errlen, "out of memory");
            goto fail;
        }
        int idx[5];
        cJSON_AddItemToArray(top1, cJSON_CreateNumber(study_softmax_top(y, classes, pbuf, 5, idx)));
        double t3 = clock_now_ms();
        pre[i] = t1 - t0, inf[i] = t2 - t1, prob[i] = t3 - t2;
    }
    double wall = clock_now_ms() - w0, cpu = cpu_seconds() - c0, e1 = rapl_uj();
    cJSON_AddNumberToObject(o, "images", nimg);
    cJSON_AddNumberToObject(o, "classes", (double)classes);
    cJSON_AddItemToObject(o, "preprocess_ms", study_stats(pre, nimg));
    cJSON_AddItemToObject(o, "inference_ms", study_stats(inf, nimg));
    cJSON_AddItemToObject(o, "probability_ms", study_stats(prob, nimg));
    if (nimg > 0) {
        cJSON_AddNumberToObject(o, "cpu_s_per_inference", cpu / nimg);
        cJSON_AddNumberToObject(o, "wall_ms_per_prediction", wall / nimg);
        if (e0 >= 0 && e1 >= e0) cJSON_AddNumberToObject(o, "energy_j_per_inference", (e1 - e0) / 1e6 / nimg);
        else cJSON_AddStringToObject(o, "energy", "not available here (no readable RAPL powercap)");
    }
    goto out;
fail:
    cJSON_Delete(o);
    o = NULL;
out:
    free(pre), free(inf), free(prob), free(pbuf);
    for (int i = 0; img && i < nimg; i++) free(img[i]);
    free(img);
    if (s) tdm_session_free(s);
    if (model) tdm_model_free(model);
    return o;
}

/* `tandem bench` in a child at one thread count; the parsed JSON, or NULL. */
static cJSON *native_bench(const study_plan *p, int m, int threads, char *err, size_t errlen) {
    char th[16], runs[16];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(runs, sizeof runs, "%d", p->runs);
    char shapes[2048] = ""; /* every input's shape as the study feeds it */
    for (int i = 0; i < p->io[m].n_inputs; i++) {
        const study_input *in = &p->io[m].in[i];
        size_t l = strlen(shapes);
        snprintf(shapes + l, sizeof shapes - l, "%s%s=", i ? "," : "", in->name);
        for (int d = 0; d < in->rank; d++) {
            l = strlen(shapes);
            snprintf(shapes + l, sizeof shapes - l, "%s%lld", d ? "x" : "", (long long)in->dims[d]);
        }
    }
    char *argv[] = {(char *)p->self_exe, "bench", p->model_path[m], "--threads", th, "--runs", runs, "--warmup", "5",
                    "--json", "--shape", shapes, NULL};
    char *out = NULL;
    int rc = study_spawn_capture(argv, &out);
    cJSON *j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    if (!j)
        err_set(err, errlen, "study: `tandem bench %s --threads %d` failed (exit %d)", p->model_path[m], threads, rc);
    free(out);
    return j;
}

/* onnxruntime-node on the same model file (bench/ort_bench.mjs, the counterpart of `tandem bench --json`), so the
 * browser's ratio can be taken against the fastest native engine too. Token ids get their table's range, other
 * integer inputs 1. NULL when onnxruntime-node or node is missing or the run fails (*why says which). */
static cJSON *ort_bench(const study_plan *p, int m, int threads, char *why, size_t cap) {
    char script[PATH_MAX], mods[PATH_MAX];
    if (study_tree_file(p, "bench/ort_bench.mjs", script, sizeof script) ||
        study_tree_file(p, "node_modules/onnxruntime-node/package.json", mods, sizeof mods)) {
        snprintf(why, cap, "onnxruntime-node is not installed beside this tandem (scripts/npm-deps.sh)");
        return NULL;
    }
    const study_model_io *io = &p->io[m];
    char th[16], runs[16], ranges[2048] = "";
    snprintf(th, sizeof th, "%d", threads);
    snprintf(runs, sizeof runs, "%d", p->runs);
    for (int i = 0; i < io->n_inputs; i++) {
        if (io->in[i].dtype != TDM_INT64 && io->in[i].dtype != TDM_INT32) continue;
        size_t l = strlen(ranges);
        if (io->in[i].index_limit > 0)
            snprintf(ranges + l, sizeof ranges - l, "%s%s=0:%lld", l ? "," : "", io->in[i].name,
                     (long long)io->in[i].index_limit);
        else snprintf(ranges + l, sizeof ranges - l, "%s%s=1:2", l ? "," : "", io->in[i].name);
    }
    char *argv[16] = {"node", script, p->model_path[m], "--threads", th, "--runs", runs, "--warmup", "5", "--json"};
    int a = 10;
    if (ranges[0]) argv[a++] = "--int-range", argv[a++] = ranges;
    argv[a] = NULL;
    char *out = NULL;
    int rc = study_spawn_capture(argv, &out);
    cJSON *j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    if (!j) snprintf(why, cap, "bench/ort_bench.mjs failed (exit %d)", rc);
    free(out);
    return j;
}

cJSON *study_native_model(const study_plan *p, int m, char *err, size_t errlen) {
    struct stat st;
    if (stat(p->model_path[m], &st)) {
        err_set(err, errlen, "study: cannot open %s", p->model_path[m]);
        return NULL;
    }
    study_progress("native: %s: phase split over %d images", p->model_name[m], p->images);
    cJSON *phases = native_phases(p, m, err, errlen);
    if (!phases) return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "phases", phases);
    cJSON *bench = cJSON_AddArrayToObject(o, "bench");
    for (int t = 0; t < p->n_threads; t++) {
        study_progress("native: %s: tandem bench at %d thread(s), %d runs", p->model_name[m], p->threads[t], p->runs);
        cJSON *b = native_bench(p, m, p->threads[t], err, errlen);
        if (!b) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(bench, b);
    }
    if (p->ort) {
        cJSON *ort = cJSON_AddArrayToObject(o, "ort_node");
        for (int t = 0; t < p->n_threads; t++) {
            char why[256];
            study_progress("native: %s: onnxruntime-node at %d thread(s)", p->model_name[m], p->threads[t]);
            cJSON *b = ort_bench(p, m, p->threads[t], why, sizeof why);
            if (!b) {
                study_progress("native: %s: onnxruntime-node: %s", p->model_name[m], why);
                cJSON_DeleteItemFromObject(o, "ort_node");
                cJSON_AddStringToObject(o, "ort_node_error", why);
                break;
            }
            cJSON_AddItemToArray(ort, b);
        }
    }
    return o;
}
