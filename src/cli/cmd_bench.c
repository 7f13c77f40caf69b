/* cmd_bench.c - `tandem bench`: the figures users know from onnxruntime_perf_test and TFLite's benchmark_model.
 * Model load, session set-up (plan), first run, steady-state percentiles, throughput, peak RSS and arena bytes. It
 * judges nothing: comparisons with other runtimes run side by side in bench/compare-*. With --vary-input every data
 * input gets new values before every run, outside the timed region (token ids uniform over the table they index):
 * what a server sees, and proof that nothing is reused from one run to the next. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../common/json.h"

typedef struct bench_opts {
    const char *model, *shape;
    int64_t threads, batch, runs, warmup;
    int json, profile, vary;
} bench_opts;

static const opt_spec bench_options[] = {
    OPT_POS(bench_opts, model, "MODEL", 1, "the ONNX model"),
    OPT_INT(bench_opts, threads, "threads", 1, 4096, "N", "worker threads (default 1)"),
    OPT_INT(bench_opts, batch, "batch", 1, 4096, "B", "size of the symbolic batch dimension (default 1)"),
    OPT_INT(bench_opts, runs, "runs", 1, 1000000, "R", "timed runs (default 100)"),
    OPT_INT(bench_opts, warmup, "warmup", 0, 4096, "W", "untimed runs after the first (default 5)"),
    OPT_STR(bench_opts, shape, "shape", "N=1x3x224x224",
            "the shapes of named inputs (comma-separated), for symbolic dimensions beyond the batch"),
    OPT_FLAG(bench_opts, profile, "profile", "time every executed node and print the slowest"),
    OPT_FLAG(bench_opts, vary, "vary-input", "new input values before every run, outside the timed region"),
    OPT_FLAG(bench_opts, json, "json", "print one JSON object instead of a table"),
    OPT_END,
};

/* What one benchmark measured. */
typedef struct bench_result {
    double load_ms, setup_ms, first_ms, total_s;
    double *times; /* the timed runs, ascending */
    double mean, p50, p90, p99;
    tdm_stats stats;
    uint64_t rss;
    rng_state rng; /* the inputs' values */
} bench_result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n]. */
static double percentile(const double *v, int n, double p) {
    int k = (int)ceil(p / 100.0 * n) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

/* Peak resident set of this process in bytes (VmHWM), or 0 where /proc is absent. */
static uint64_t peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (uint64_t)ru.ru_maxrss * 1024u;
    return 0;
}

/* Every data input of the planned session s, filled: float inputs with uniform [0,1) noise, integer ones with values
 * uniform in [0, rows of the table they index) (tdm_model_input_index_limit: token ids), or in [0, 2) when they index
 * none (attention masks, token types of unknown range), other types with zeros. The first fill (again = 0) gives
 * integers zeros unless they index a table, as bench always did; with --vary-input (again = 1) every fill is new. */
static tdm_status bench_fill_inputs(tdm_model *m, tdm_session *s, rng_state *rng, int again) {
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        if (tdm_model_input_decides_shape(m, i)) continue;
        tdm_tensor_info info;
        void *data;
        tdm_status st = tdm_session_input_data(s, i, &info, &data);
        if (st) return st;
        int64_t n = 1, hi = tdm_model_input_index_limit(m, i);
        for (int d = 0; d < info.rank; d++) n *= info.dims[d];
        if (hi <= 0) hi = 2;
        if (info.dtype == TDM_FLOAT)
            for (int64_t k = 0; k < n; k++) ((float *)data)[k] = (float)rng_uniform(rng);
        else if ((info.dtype == TDM_INT64 || info.dtype == TDM_INT32) && (again || tdm_model_input_index_limit(m, i) > 0))
            for (int64_t k = 0; k < n; k++) {
                int64_t v = (int64_t)(rng_next(rng) % (uint64_t)hi);
                if (info.dtype == TDM_INT64) ((int64_t *)data)[k] = v;
                else ((int32_t *)data)[k] = (int32_t)v;
            }
        else
            memset(data, 0, (size_t)n * tdm_dtype_size(info.dtype));
    }
    return TDM_OK;
}

/* --shape's entry for one input: set its shape on the session. */
typedef struct bench_shape_ctx {
    tdm_model *m;
    tdm_session *s;
    char err[256];
} bench_shape_ctx;

static int bench_shape_one(void *ctx, const char *name, const int64_t *dims, int rank) {
    bench_shape_ctx *c = ctx;
    for (int i = 0; i < tdm_model_num_inputs(c->m); i++) {
        tdm_tensor_info info;
        tdm_model_input_info(c->m, i, &info);
        if (!info.name || strcmp(info.name, name)) continue;
        if (tdm_session_set_input_shape(c->s, i, dims, rank)) {
            snprintf(c->err, sizeof c->err, "--shape %s: %s", name, tdm_last_error() ? tdm_last_error() : "refused");
            return 2;
        }
        return 0;
    }
    snprintf(c->err, sizeof c->err, "--shape: the model has no input named '%s'", name);
    return 2;
}

/* A session planned for the batch (symbolic dims: the first becomes the batch, the rest 1, unless --shape names the
 * input), inputs seeded noise. */
static int bench_setup(const bench_opts *o, tdm_model *m, tdm_session **s, bench_result *r) {
    tdm_session_options so = {(int)o->threads, o->profile};
    double t1 = clock_now_ms();
    tdm_status st = tdm_session_create(m, &so, s);
    if (st) return cli_engine_error(st, "session");
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        tdm_tensor_info info;
        tdm_model_input_info(m, i, &info);
        int64_t dims[TDM_MAX_RANK];
        for (int d = 0; d < info.rank; d++) dims[d] = info.dims[d] >= 0 ? info.dims[d] : (d == 0 ? o->batch : 1);
        if (info.rank > 0 && info.dims[0] < 0) dims[0] = o->batch;
        if ((st = tdm_session_set_input_shape(*s, i, dims, info.rank))) return cli_engine_error(st, "input shape");
    }
    if (o->shape) {
        bench_shape_ctx c = {m, *s, ""};
        char err[256];
        int rc = shape_list_parse(o->shape, TDM_MAX_RANK, bench_shape_one, &c, err, sizeof err);
        if (rc > 0) return cli_error("%s", c.err);
        if (rc < 0) return cli_usage_error("%s", err);
    }
    if ((st = tdm_session_plan(*s))) return cli_engine_error(st, "plan");
    r->setup_ms = clock_now_ms() - t1;
    if ((st = bench_fill_inputs(m, *s, &r->rng, 0))) return cli_engine_error(st, "input");
    return CLI_OK;
}

/* The first run, the warm-up, then the timed runs and their percentiles. */
static int bench_time(const bench_opts *o, tdm_model *m, tdm_session *s, bench_result *r) {
    tdm_status st;
    double t2 = clock_now_ms();
    if ((st = tdm_session_run(s))) return cli_engine_error(st, "run");
    r->first_ms = clock_now_ms() - t2;
    for (int64_t k = 0; k < o->warmup; k++)
        if ((o->vary && (st = bench_fill_inputs(m, s, &r->rng, 1))) || (st = tdm_session_run(s)))
            return cli_engine_error(st, "run");
    if (!(r->times = malloc((size_t)o->runs * sizeof *r->times))) return cli_error("out of memory");
    double sum = 0;
    for (int64_t k = 0; k < o->runs; k++) {
        if (o->vary && (st = bench_fill_inputs(m, s, &r->rng, 1))) return cli_engine_error(st, "input");
        double r0 = clock_now_ms();
        if ((st = tdm_session_run(s))) return cli_engine_error(st, "run");
        r->times[k] = clock_now_ms() - r0;
        sum += r->times[k];
    }
    qsort(r->times, (size_t)o->runs, sizeof *r->times, cmp_double);
    r->mean = sum / (double)o->runs;
    r->p50 = percentile(r->times, (int)o->runs, 50);
    r->p90 = percentile(r->times, (int)o->runs, 90);
    r->p99 = percentile(r->times, (int)o->runs, 99);
    tdm_session_stats(s, &r->stats);
    return CLI_OK;
}

/* The versioned result document (schema tandem.bench/1, docs/RESULTS.md): `tandem serve`'s results store
 * (POST /api/results) takes it as it is. */
static void bench_print_json(const bench_opts *o, const bench_result *r) {
    json_writer w;
    json_init(&w, stdout);
    json_object_begin(&w);
    json_kv_string(&w, "schema", "tandem.bench/1");
    json_kv_string(&w, "source", "native");
    json_kv_string(&w, "engine", "tandem");
    char created[32], host[256] = "";
    clock_utc_stamp(created, sizeof created);
    json_kv_string(&w, "created", created);
    if (gethostname(host, sizeof host - 1) == 0) json_kv_string(&w, "host", host);
    json_kv_int(&w, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
    json_kv_string(&w, "model", o->model);
    json_kv_int(&w, "threads", o->threads);
    json_kv_int(&w, "batch", o->batch);
    json_kv_int(&w, "runs", o->runs);
    json_kv_int(&w, "warmup", o->warmup);
    json_kv_double(&w, "load_ms", r->load_ms, 6);
    json_kv_double(&w, "setup_ms", r->setup_ms, 6);
    json_kv_double(&w, "first_run_ms", r->first_ms, 6);
    json_kv_double(&w, "p50_ms", r->p50, 6);
    json_kv_double(&w, "p90_ms", r->p90, 6);
    json_kv_double(&w, "p99_ms", r->p99, 6);
    json_kv_double(&w, "mean_ms", r->mean, 6);
    json_kv_double(&w, "min_ms", r->times[0], 6);
    json_kv_double(&w, "max_ms", r->times[o->runs - 1], 6);
    json_kv_double(&w, "throughput_ips", 1000.0 * (double)o->batch / r->mean, 6);
    json_kv_double(&w, "gmacs_per_s", r->mean > 0 ? (double)r->stats.macs / (r->mean * 1e6) : 0, 5);
    json_kv_uint(&w, "peak_rss_bytes", r->rss);
    json_kv_uint(&w, "arena_bytes", r->stats.arena_bytes);
    json_kv_uint(&w, "workspace_bytes", r->stats.workspace_bytes);
    json_kv_uint(&w, "weights_bytes", r->stats.weights_bytes);
    json_kv_int(&w, "macs", r->stats.macs);
    json_kv_int(&w, "batch_split", r->stats.batch_split);
    json_kv_int(&w, "plans", r->stats.plans);
    json_kv_int(&w, "vary_input", o->vary);
    json_kv_string(&w, "kernel_isa", tdm_kernel_isa());
    json_kv_double(&w, "total_s", r->total_s, 4);
    json_object_end(&w);
    json_finish(&w);
}

static void bench_print_text(const bench_opts *o, const bench_result *r) {
    const tdm_stats *st = &r->stats;
    printf("model        %s\n", o->model);
    printf("threads      %lld   batch %lld%s   runs %lld (+%lld warm-up)   kernels %s\n", (long long)o->threads,
           (long long)o->batch, st->batch_split ? " (image by image)" : "", (long long)o->runs, (long long)o->warmup,
           tdm_kernel_isa());
    printf("load         %10.3f ms\n", r->load_ms);
    printf("set-up       %10.3f ms   (session + plan)\n", r->setup_ms);
    printf("first run    %10.3f ms\n", r->first_ms);
    printf("steady       p50 %.3f   p90 %.3f   p99 %.3f   mean %.3f   min %.3f ms\n", r->p50, r->p90, r->p99, r->mean,
           r->times[0]);
    printf("throughput   %10.1f images/s   (%.2f GMAC/s)\n", 1000.0 * (double)o->batch / r->mean,
           (double)st->macs / (r->mean * 1e6));
    printf("memory       peak RSS %.1f MiB   arena %.1f KiB   workspace %.1f KiB   weights %.1f KiB\n",
           (double)r->rss / 1048576.0, (double)st->arena_bytes / 1024.0, (double)st->workspace_bytes / 1024.0,
           (double)st->weights_bytes / 1024.0);
}

/* Per node, summed over the first, warm-up and timed runs, slowest first. */
static void bench_print_profile(const bench_opts *o, tdm_session *s) {
    int ne = tdm_session_num_exec_nodes(s);
    double total = 0;
    int *order = malloc((size_t)(ne ? ne : 1) * sizeof *order);
    if (!order) return;
    for (int i = 0; i < ne; i++) {
        order[i] = i;
        total += tdm_session_exec_node_ms(s, i);
    }
    for (int i = 1; i < ne; i++) /* insertion sort: a few hundred nodes at most */
        for (int k = i; k > 0 && tdm_session_exec_node_ms(s, order[k]) > tdm_session_exec_node_ms(s, order[k - 1]);
             k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    int64_t n_runs = o->runs + o->warmup + 1;
    printf("\nprofile (per run, over %lld runs; %d nodes)\n", (long long)n_runs, ne);
    const char *all = getenv("TANDEM_PROFILE_ALL"); /* every node instead of the slowest 25 */
    printf("       ms   share    MMAC  GMAC/s    min ms  op                     node\n");
    for (int i = 0; i < ne && (i < 25 || (all && *all)); i++) {
        double ms = tdm_session_exec_node_ms(s, order[i]) / (double)n_runs;
        double macs = (double)tdm_session_exec_node_macs(s, order[i]);
        printf("  %7.4f  %5.1f %%  %6.2f  %6.1f  %8.4f  %-22s %s\n", ms,
               total > 0 ? 100.0 * tdm_session_exec_node_ms(s, order[i]) / total : 0.0, macs / 1e6,
               ms > 0 ? macs / (ms * 1e6) : 0.0, tdm_session_exec_node_min_ms(s, order[i]),
               tdm_session_exec_node_op(s, order[i]), tdm_session_exec_node_name(s, order[i]));
    }
    free(order);
}

static int cmd_bench(const cli_command *self, int argc, char **argv) {
    bench_opts o = {.threads = 1, .batch = 1, .runs = 100, .warmup = 5};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    if (!o.model) return cli_usage_error("bench: a MODEL is required");
    double t0 = clock_now_ms();
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    bench_result r = {.rng = {12345}};
    int rc = cli_load_model(o.model, &m, &r.load_ms);
    if (rc == CLI_OK) rc = bench_setup(&o, m, &s, &r);
    if (rc == CLI_OK) rc = bench_time(&o, m, s, &r);
    if (rc == CLI_OK) {
        r.total_s = (clock_now_ms() - t0) / 1000.0;
        r.rss = peak_rss_bytes();
        if (o.json) bench_print_json(&o, &r);
        else bench_print_text(&o, &r);
        if (o.profile && !o.json) bench_print_profile(&o, s);
    }
    free(r.times);
    tdm_session_free(s);
    tdm_model_free(m);
    return rc;
}

const cli_command cli_cmd_bench = {
    "bench", cmd_bench, bench_options,
    "bench MODEL [--threads N] [--batch B] [--shape N=1x128] [--runs R] [--warmup W] [--vary-input] [--profile] [--json]",
    "time a model: load, set-up, first run, steady-state p50/p90/p99, throughput, peak RSS, arena"};
