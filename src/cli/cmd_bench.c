/* cmd_bench.c - `tandem bench`: the figures users know from onnxruntime_perf_test and TFLite's benchmark_model.
 * Model load, session set-up (plan), first run, steady-state percentiles, throughput, peak RSS and arena bytes. It
 * judges nothing: comparisons with other runtimes run side by side in bench/compare-*. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../common/json.h"

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

int cmd_bench(int argc, char **argv) {
    cli_args a;
    const char *opt, *pos, *model_path = NULL;
    int64_t threads = 1, batch = 1, runs = 100, warmup = 5;
    int json = 0, profile = 0;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        const char *v;
        if (!opt) {
            if (model_path) return cli_usage_error("bench: unexpected argument '%s'", pos);
            model_path = pos;
        } else if (!strcmp(opt, "profile")) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            profile = 1;
        } else if (!strcmp(opt, "json")) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            json = 1;
        } else if (!strcmp(opt, "threads") || !strcmp(opt, "batch") || !strcmp(opt, "runs") || !strcmp(opt, "warmup")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            int64_t *dst = !strcmp(opt, "threads") ? &threads : !strcmp(opt, "batch") ? &batch
                         : !strcmp(opt, "runs") ? &runs : &warmup;
            int64_t lo = !strcmp(opt, "warmup") ? 0 : 1, hi = !strcmp(opt, "runs") ? 1000000 : 4096;
            if (!cli_parse_int(opt, v, lo, hi, dst)) return CLI_USAGE;
        } else
            return cli_usage_error("bench: unknown option '--%s'", opt);
    }
    if (!model_path) return cli_usage_error("bench: a MODEL is required");
    if (cli_check_file("model", model_path) != CLI_OK) return CLI_ERR;

    double t0 = clock_now_ms();
    tdm_model *m = NULL;
    double load_ms;
    if (cli_load_model(model_path, &m, &load_ms) != CLI_OK) return CLI_ERR;
    int rc = CLI_ERR;
    tdm_session *s = NULL;
    double *times = NULL;
    tdm_session_options so = {(int)threads, profile};
    double t1 = clock_now_ms();
    tdm_status st = tdm_session_create(m, &so, &s);
    if (st) {
        rc = cli_engine_error(st, "session");
        goto out;
    }
    /* Symbolic dims: the first becomes the batch, the rest 1. Then fill every input with seeded noise. */
    rng_state rng = {12345};
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        tdm_tensor_info info;
        tdm_model_input_info(m, i, &info);
        int64_t dims[TDM_MAX_RANK];
        for (int d = 0; d < info.rank; d++) dims[d] = info.dims[d] >= 0 ? info.dims[d] : (d == 0 ? batch : 1);
        if (info.rank > 0 && info.dims[0] < 0) dims[0] = batch;
        if ((st = tdm_session_set_input_shape(s, i, dims, info.rank))) {
            rc = cli_engine_error(st, "input shape");
            goto out;
        }
    }
    if ((st = tdm_session_plan(s))) {
        rc = cli_engine_error(st, "plan");
        goto out;
    }
    double setup_ms = clock_now_ms() - t1;
    for (int i = 0; i < tdm_model_num_inputs(m); i++) {
        tdm_tensor_info info;
        void *data;
        if ((st = tdm_session_input_data(s, i, &info, &data))) {
            rc = cli_engine_error(st, "input");
            goto out;
        }
        int64_t n = 1;
        for (int d = 0; d < info.rank; d++) n *= info.dims[d];
        if (info.dtype == TDM_FLOAT)
            for (int64_t k = 0; k < n; k++) ((float *)data)[k] = (float)rng_uniform(&rng);
        else
            memset(data, 0, (size_t)n * tdm_dtype_size(info.dtype));
    }
    double t2 = clock_now_ms();
    if ((st = tdm_session_run(s))) {
        rc = cli_engine_error(st, "run");
        goto out;
    }
    double first_ms = clock_now_ms() - t2;
    for (int64_t k = 0; k < warmup; k++)
        if ((st = tdm_session_run(s))) {
            rc = cli_engine_error(st, "run");
            goto out;
        }
    times = malloc((size_t)runs * sizeof *times);
    if (!times) {
        rc = cli_error("out of memory");
        goto out;
    }
    double sum = 0;
    for (int64_t k = 0; k < runs; k++) {
        double r0 = clock_now_ms();
        if ((st = tdm_session_run(s))) {
            rc = cli_engine_error(st, "run");
            goto out;
        }
        times[k] = clock_now_ms() - r0;
        sum += times[k];
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    double mean = sum / (double)runs, p50 = percentile(times, (int)runs, 50), p90 = percentile(times, (int)runs, 90);
    double p99 = percentile(times, (int)runs, 99);
    tdm_stats stats;
    tdm_session_stats(s, &stats);
    double total_s = (clock_now_ms() - t0) / 1000.0;
    uint64_t rss = peak_rss_bytes();
    if (json) {
        json_writer w;
        json_init(&w, stdout);
        json_object_begin(&w);
        /* a versioned result document: `tandem serve`'s results store (POST /api/results) takes it as it is */
        json_kv_string(&w, "schema", "tandem.bench/1");
        json_kv_string(&w, "source", "native");
        json_kv_string(&w, "engine", "tandem");
        char created[32], host[256] = "";
        time_t now = time(NULL);
        struct tm tmv;
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
        json_kv_string(&w, "created", created);
        if (gethostname(host, sizeof host - 1) == 0) json_kv_string(&w, "host", host);
        json_kv_int(&w, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
        json_kv_string(&w, "model", model_path);
        json_kv_int(&w, "threads", threads);
        json_kv_int(&w, "batch", batch);
        json_kv_int(&w, "runs", runs);
        json_kv_int(&w, "warmup", warmup);
        json_kv_double(&w, "load_ms", load_ms, 6);
        json_kv_double(&w, "setup_ms", setup_ms, 6);
        json_kv_double(&w, "first_run_ms", first_ms, 6);
        json_kv_double(&w, "p50_ms", p50, 6);
        json_kv_double(&w, "p90_ms", p90, 6);
        json_kv_double(&w, "p99_ms", p99, 6);
        json_kv_double(&w, "mean_ms", mean, 6);
        json_kv_double(&w, "min_ms", times[0], 6);
        json_kv_double(&w, "max_ms", times[runs - 1], 6);
        json_kv_double(&w, "throughput_ips", 1000.0 * (double)batch / mean, 6);
        json_kv_double(&w, "gmacs_per_s", mean > 0 ? (double)stats.macs / (mean * 1e6) : 0, 5);
        json_kv_uint(&w, "peak_rss_bytes", rss);
        json_kv_uint(&w, "arena_bytes", stats.arena_bytes);
        json_kv_uint(&w, "workspace_bytes", stats.workspace_bytes);
        json_kv_uint(&w, "weights_bytes", stats.weights_bytes);
        json_kv_int(&w, "macs", stats.macs);
        json_kv_int(&w, "batch_split", stats.batch_split);
        json_kv_string(&w, "kernel_isa", tdm_kernel_isa());
        json_kv_double(&w, "total_s", total_s, 4);
        json_object_end(&w);
        json_finish(&w);
    } else {
        printf("model        %s\n", model_path);
        printf("threads      %lld   batch %lld%s   runs %lld (+%lld warm-up)   kernels %s\n", (long long)threads,
               (long long)batch, stats.batch_split ? " (image by image)" : "", (long long)runs,
               (long long)warmup, tdm_kernel_isa());
        printf("load         %10.3f ms\n", load_ms);
        printf("set-up       %10.3f ms   (session + plan)\n", setup_ms);
        printf("first run    %10.3f ms\n", first_ms);
        printf("steady       p50 %.3f   p90 %.3f   p99 %.3f   mean %.3f   min %.3f ms\n", p50, p90, p99, mean,
               times[0]);
        printf("throughput   %10.1f images/s   (%.2f GMAC/s)\n", 1000.0 * (double)batch / mean,
               (double)stats.macs / (mean * 1e6));
        printf("memory       peak RSS %.1f MiB   arena %.1f KiB   workspace %.1f KiB   weights %.1f KiB\n",
               (double)rss / 1048576.0, (double)stats.arena_bytes / 1024.0, (double)stats.workspace_bytes / 1024.0,
               (double)stats.weights_bytes / 1024.0);
    }
    if (profile && !json) { /* per node, summed over warm-up and timed runs, slowest first */
        int ne = tdm_session_num_exec_nodes(s);
        double total = 0;
        int *order = malloc((size_t)(ne ? ne : 1) * sizeof *order);
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
        printf("\nprofile (per run, over %lld runs; %d nodes)\n", (long long)(runs + warmup + 1), ne);
        const char *all = getenv("TANDEM_PROFILE_ALL"); /* every node instead of the slowest 25 */
        printf("       ms   share    MMAC  GMAC/s  op                     node\n");
        for (int i = 0; i < ne && (i < 25 || (all && *all)); i++) {
            double ms = tdm_session_exec_node_ms(s, order[i]) / (double)(runs + warmup + 1);
            double macs = (double)tdm_session_exec_node_macs(s, order[i]);
            printf("  %7.4f  %5.1f %%  %6.2f  %6.1f  %-22s %s\n", ms,
                   total > 0 ? 100.0 * tdm_session_exec_node_ms(s, order[i]) / total : 0.0, macs / 1e6,
                   ms > 0 ? macs / (ms * 1e6) : 0.0, tdm_session_exec_node_op(s, order[i]),
                   tdm_session_exec_node_name(s, order[i]));
        }
        free(order);
    }
    rc = CLI_OK;
out:
    free(times);
    tdm_session_free(s);
    tdm_model_free(m);
    return rc;
}
