/* cmd_info.c - `tandem info`: what a model is and what it costs to run. Reports the graph as written (inputs, outputs,
 * opset, op histogram) and the engine's plan at batch 1 (parameters, MACs, weights, arena, executed nodes). */
#include "cli.h"
#include "../common/json.h"

#include <stdlib.h>
#include <string.h>

typedef struct info_op_count {
    const char *op;
    int count;
} info_op_count;

static int info_cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Most frequent first; ties by name, so the output is stable. */
static int info_cmp_count(const void *a, const void *b) {
    const info_op_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->op, y->op);
}

/* Build an op histogram from n op names (sorted in place). *out is malloc'd; returns the number of distinct ops or
 * -1 when out of memory. */
static int info_histogram(const char **names, int n, info_op_count **out) {
    *out = NULL;
    if (n <= 0) return 0;
    qsort(names, (size_t)n, sizeof *names, info_cmp_name);
    info_op_count *h = malloc((size_t)n * sizeof *h);
    if (!h) return -1;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && strcmp(h[k - 1].op, names[i]) == 0) {
            h[k - 1].count++;
        } else {
            h[k].op = names[i];
            h[k].count = 1;
            k++;
        }
    }
    qsort(h, (size_t)k, sizeof *h, info_cmp_count);
    *out = h;
    return k;
}

static void info_json_shape(json_writer *j, const tdm_tensor_info *t) {
    json_array_begin(j);
    for (int d = 0; d < t->rank && d < TDM_MAX_RANK; d++) {
        if (t->dims[d] >= 0) {
            json_int(j, t->dims[d]);
        } else {
            const char *p = t->dim_param[d];
            json_string(j, p && *p ? p : "?");
        }
    }
    json_array_end(j);
}

static void info_json_tensors(json_writer *j, const char *key, const tdm_tensor_info *t, int n,
                              const tdm_tensor_info *planned) {
    json_key(j, key);
    json_array_begin(j);
    for (int i = 0; i < n; i++) {
        json_object_begin(j);
        json_kv_string(j, "name", t[i].name ? t[i].name : "");
        json_kv_string(j, "dtype", cli_dtype_str(t[i].dtype));
        json_key(j, "shape");
        info_json_shape(j, &t[i]);
        if (planned) {
            json_key(j, "planned_shape");
            info_json_shape(j, &planned[i]);
        }
        json_object_end(j);
    }
    json_array_end(j);
}

static void info_json_hist(json_writer *j, const char *key, const info_op_count *h, int k) {
    json_key(j, key);
    json_object_begin(j);
    for (int i = 0; i < k; i++) json_kv_int(j, h[i].op, h[i].count);
    json_object_end(j);
}

/* "1,234,567" */
static const char *info_group(int64_t v, char *buf, size_t cap) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < cap) buf[o++] = '-';
    for (int i = 0; i < n && o + 1 < cap; i++) {
        buf[o++] = tmp[i];
        int left = n - 1 - i;
        if (left > 0 && left % 3 == 0 && o + 1 < cap) buf[o++] = ',';
    }
    buf[o] = 0;
    return buf;
}

static const char *info_bytes(size_t b, char *buf, size_t cap) {
    char g[40];
    if (b >= ((size_t)1 << 20))
        snprintf(buf, cap, "%.2f MiB (%s bytes)", (double)b / 1048576.0, info_group((int64_t)b, g, sizeof g));
    else if (b >= 1024)
        snprintf(buf, cap, "%.1f KiB (%s bytes)", (double)b / 1024.0, info_group((int64_t)b, g, sizeof g));
    else
        snprintf(buf, cap, "%zu bytes", b);
    return buf;
}

static int info_list_ops(int as_json) {
    int n = tdm_num_supported_ops();
    if (as_json) {
        json_writer j;
        json_init(&j, stdout);
        json_object_begin(&j);
        json_kv_int(&j, "count", n);
        json_key(&j, "ops");
        json_array_begin(&j);
        for (int i = 0; i < n; i++) json_string(&j, tdm_supported_op(i));
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("%d supported ops:\n", n);
        for (int i = 0; i < n; i++) printf("  %s\n", tdm_supported_op(i));
    }
    return CLI_OK;
}

int cmd_info(int argc, char **argv) {
    cli_args a;
    const char *opt, *pos, *path = NULL;
    int as_json = 0, list_ops = 0;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        if (pos) {
            if (path) return cli_usage_error("info: more than one model given ('%s' and '%s')", path, pos);
            path = pos;
        } else if (strcmp(opt, "json") == 0) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            as_json = 1;
        } else if (strcmp(opt, "ops") == 0) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            list_ops = 1;
        } else {
            return cli_usage_error("info: unknown option '%s%s' (try 'tandem help info')", opt[0] == '-' ? "" : "--",
                                   opt);
        }
    }
    if (list_ops && !path) return info_list_ops(as_json);
    if (!path) return cli_usage_error("info: no MODEL given (usage: tandem %s)", "info MODEL [--json]");

    int rc = CLI_ERR;
    tdm_model *m = NULL;
    tdm_session *s = NULL;
    tdm_tensor_info *ins = NULL, *outs = NULL, *planned = NULL;
    const char **src_ops = NULL, **exec_ops = NULL;
    info_op_count *src_hist = NULL, *exec_hist = NULL;
    double load_ms = 0;
    tdm_status st;

    if (cli_load_model(path, &m, &load_ms) != CLI_OK) return CLI_ERR;
    int nin = tdm_model_num_inputs(m), nout = tdm_model_num_outputs(m), nsrc = tdm_model_num_source_nodes(m);
    if (nin < 0 || nout < 0 || nsrc < 0) {
        cli_error("model '%s': the engine reports a negative input/output/node count", path);
        goto done;
    }
    ins = calloc((size_t)nin + 1, sizeof *ins);
    planned = calloc((size_t)nin + 1, sizeof *planned);
    outs = calloc((size_t)nout + 1, sizeof *outs);
    src_ops = calloc((size_t)nsrc + 1, sizeof *src_ops);
    if (!ins || !planned || !outs || !src_ops) {
        cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < nin; i++)
        if ((st = tdm_model_input_info(m, i, &ins[i])) != TDM_OK) {
            cli_engine_error(st, "input info");
            goto done;
        }
    for (int i = 0; i < nout; i++)
        if ((st = tdm_model_output_info(m, i, &outs[i])) != TDM_OK) {
            cli_engine_error(st, "output info");
            goto done;
        }
    for (int i = 0; i < nsrc; i++) {
        const char *op = NULL, *name = NULL;
        if ((st = tdm_model_source_node(m, i, &op, &name)) != TDM_OK) {
            cli_engine_error(st, "source node");
            goto done;
        }
        src_ops[i] = op ? op : "?";
    }
    int nsrc_hist = info_histogram(src_ops, nsrc, &src_hist);

    /* The plan at batch 1: symbolic dims default to 1 in a fresh session. */
    tdm_session_options so = {.threads = 1};
    tdm_stats stats;
    memset(&stats, 0, sizeof stats);
    if ((st = tdm_session_create(m, &so, &s)) != TDM_OK) {
        cli_engine_error(st, "cannot create a session");
        goto done;
    }
    if ((st = tdm_session_stats(s, &stats)) != TDM_OK) {
        cli_engine_error(st, "cannot plan the model at batch 1");
        goto done;
    }
    for (int i = 0; i < nin; i++) {
        void *data;
        if ((st = tdm_session_input_data(s, i, &planned[i], &data)) != TDM_OK) {
            cli_engine_error(st, "planned input");
            goto done;
        }
    }
    int nexec = tdm_session_num_exec_nodes(s);
    if (nexec < 0) nexec = 0;
    exec_ops = calloc((size_t)nexec + 1, sizeof *exec_ops);
    if (!exec_ops) {
        cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < nexec; i++) {
        const char *op = tdm_session_exec_node_op(s, i);
        exec_ops[i] = op ? op : "?";
    }
    int nexec_hist = info_histogram(exec_ops, nexec, &exec_hist);
    if (nsrc_hist < 0 || nexec_hist < 0) {
        cli_error("out of memory");
        goto done;
    }
    const char *producer = tdm_model_producer(m);

    if (as_json) {
        json_writer j;
        json_init(&j, stdout);
        json_object_begin(&j);
        json_kv_string(&j, "model", path);
        json_kv_string(&j, "producer", producer ? producer : "");
        json_kv_int(&j, "ir_version", tdm_model_ir_version(m));
        json_kv_int(&j, "opset", tdm_model_opset(m));
        info_json_tensors(&j, "inputs", ins, nin, planned);
        info_json_tensors(&j, "outputs", outs, nout, NULL);
        json_kv_int(&j, "source_nodes", nsrc);
        info_json_hist(&j, "op_counts", src_hist, nsrc_hist);
        json_kv_int(&j, "params", stats.params);
        json_kv_int(&j, "macs", stats.macs);
        json_kv_uint(&j, "weights_bytes", stats.weights_bytes);
        json_kv_uint(&j, "arena_bytes", stats.arena_bytes);
        json_kv_uint(&j, "workspace_bytes", stats.workspace_bytes);
        json_kv_int(&j, "plan_batch", 1);
        json_kv_int(&j, "exec_nodes", nexec);
        info_json_hist(&j, "exec_op_counts", exec_hist, nexec_hist);
        json_kv_string(&j, "kernel_isa", tdm_kernel_isa());
        json_kv_double(&j, "load_ms", load_ms, 6);
        json_object_end(&j);
        json_finish(&j);
    } else {
        char b1[256], b2[64];
        printf("model          %s\n", path);
        printf("producer       %s\n", producer && *producer ? producer : "(none)");
        printf("ir_version     %lld\n", (long long)tdm_model_ir_version(m));
        printf("opset          %lld\n", (long long)tdm_model_opset(m));
        printf("inputs\n");
        for (int i = 0; i < nin; i++)
            printf("  %-24s %-8s %s\n", ins[i].name ? ins[i].name : "", cli_dtype_str(ins[i].dtype),
                   cli_shape_str(&ins[i], b1, sizeof b1));
        printf("outputs\n");
        for (int i = 0; i < nout; i++)
            printf("  %-24s %-8s %s\n", outs[i].name ? outs[i].name : "", cli_dtype_str(outs[i].dtype),
                   cli_shape_str(&outs[i], b1, sizeof b1));
        printf("parameters     %s\n", info_group(stats.params, b2, sizeof b2));
        printf("MACs           %s  (%.2f M, batch 1)\n", info_group(stats.macs, b2, sizeof b2),
               (double)stats.macs / 1e6);
        printf("weights        %s\n", info_bytes(stats.weights_bytes, b1, sizeof b1));
        printf("arena          %s  (batch 1)\n", info_bytes(stats.arena_bytes, b1, sizeof b1));
        printf("workspace      %s\n", info_bytes(stats.workspace_bytes, b1, sizeof b1));
        printf("nodes          %d in the file, %d executed after folding and fusion\n", nsrc, nexec);
        printf("kernels        %s\n", tdm_kernel_isa());
        printf("\n  %-28s %6s      %-28s %6s\n", "op (file)", "count", "op (executed)", "count");
        int rows = nsrc_hist > nexec_hist ? nsrc_hist : nexec_hist;
        for (int i = 0; i < rows; i++) {
            if (i < nsrc_hist)
                printf("  %-28s %6d", src_hist[i].op, src_hist[i].count);
            else
                printf("  %-28s %6s", "", "");
            if (i < nexec_hist)
                printf("      %-28s %6d\n", exec_hist[i].op, exec_hist[i].count);
            else
                printf("\n");
        }
        fflush(stdout);
    }
    rc = CLI_OK;
done:
    free(src_hist);
    free(exec_hist);
    free(src_ops);
    free(exec_ops);
    free(ins);
    free(outs);
    free(planned);
    tdm_session_free(s);
    tdm_model_free(m);
    return rc;
}
