/* cmd_info.c - `tandem info`: what a model is and what it costs to run. Reports the graph as written (inputs, outputs,
 * opset, op histogram) and the engine's plan at batch 1 (parameters, MACs, weights, arena, executed nodes). */
#include "cli.h"
#include "../common/json.h"

#include <stdlib.h>
#include <string.h>

typedef struct info_opts {
    const char *model;
    int json, ops;
} info_opts;

static const opt_spec info_options[] = {
    OPT_POS(info_opts, model, "MODEL", 1, "the ONNX model"),
    OPT_FLAG(info_opts, json, "json", "print one JSON object instead of a table"),
    OPT_FLAG(info_opts, ops, "ops", "list the op types the engine implements (no MODEL needed)"),
    OPT_END,
};

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

/* What `tandem info` reports about one model: the graph as written and the plan at batch 1. */
typedef struct info_data {
    const char *path;
    tdm_model *m;
    tdm_session *s;
    int nin, nout, nsrc, nexec, nsrc_hist, nexec_hist;
    tdm_tensor_info *ins, *outs, *planned;
    const char **src_ops, **exec_ops;
    info_op_count *src_hist, *exec_hist;
    tdm_stats stats;
    double load_ms;
} info_data;

static void info_data_free(info_data *d) {
    free(d->src_hist);
    free(d->exec_hist);
    free(d->src_ops);
    free(d->exec_ops);
    free(d->ins);
    free(d->outs);
    free(d->planned);
    tdm_session_free(d->s);
    tdm_model_free(d->m);
}

/* The graph as written: inputs, outputs, the source op histogram. */
static int info_read_graph(info_data *d) {
    tdm_status st;
    tdm_model *m = d->m;
    d->nin = tdm_model_num_inputs(m), d->nout = tdm_model_num_outputs(m), d->nsrc = tdm_model_num_source_nodes(m);
    if (d->nin < 0 || d->nout < 0 || d->nsrc < 0)
        return cli_error("model '%s': the engine reports a negative input/output/node count", d->path);
    d->ins = calloc((size_t)d->nin + 1, sizeof *d->ins);
    d->planned = calloc((size_t)d->nin + 1, sizeof *d->planned);
    d->outs = calloc((size_t)d->nout + 1, sizeof *d->outs);
    d->src_ops = calloc((size_t)d->nsrc + 1, sizeof *d->src_ops);
    if (!d->ins || !d->planned || !d->outs || !d->src_ops) return cli_error("out of memory");
    for (int i = 0; i < d->nin; i++)
        if ((st = tdm_model_input_info(m, i, &d->ins[i])) != TDM_OK) return cli_engine_error(st, "input info");
    for (int i = 0; i < d->nout; i++)
        if ((st = tdm_model_output_info(m, i, &d->outs[i])) != TDM_OK) return cli_engine_error(st, "output info");
    for (int i = 0; i < d->nsrc; i++) {
        const char *op = NULL, *name = NULL;
        if ((st = tdm_model_source_node(m, i, &op, &name)) != TDM_OK) return cli_engine_error(st, "source node");
        d->src_ops[i] = op ? op : "?";
    }
    d->nsrc_hist = info_histogram(d->src_ops, d->nsrc, &d->src_hist);
    return d->nsrc_hist < 0 ? cli_error("out of memory") : CLI_OK;
}

/* The plan at batch 1 (symbolic dims default to 1 in a fresh session): stats, planned inputs, executed ops. */
static int info_read_plan(info_data *d) {
    tdm_status st;
    tdm_session_options so = {.threads = 1};
    if ((st = tdm_session_create(d->m, &so, &d->s)) != TDM_OK) return cli_engine_error(st, "cannot create a session");
    if ((st = tdm_session_stats(d->s, &d->stats)) != TDM_OK)
        return cli_engine_error(st, "cannot plan the model at batch 1");
    for (int i = 0; i < d->nin; i++) {
        void *data;
        if ((st = tdm_session_input_data(d->s, i, &d->planned[i], &data)) != TDM_OK)
            return cli_engine_error(st, "planned input");
    }
    d->nexec = tdm_session_num_exec_nodes(d->s);
    if (d->nexec < 0) d->nexec = 0;
    if (!(d->exec_ops = calloc((size_t)d->nexec + 1, sizeof *d->exec_ops))) return cli_error("out of memory");
    for (int i = 0; i < d->nexec; i++) {
        const char *op = tdm_session_exec_node_op(d->s, i);
        d->exec_ops[i] = op ? op : "?";
    }
    d->nexec_hist = info_histogram(d->exec_ops, d->nexec, &d->exec_hist);
    return d->nexec_hist < 0 ? cli_error("out of memory") : CLI_OK;
}

static void info_print_json(const info_data *d) {
    const char *producer = tdm_model_producer(d->m);
    json_writer j;
    json_init(&j, stdout);
    json_object_begin(&j);
    json_kv_string(&j, "model", d->path);
    json_kv_string(&j, "producer", producer ? producer : "");
    json_kv_int(&j, "ir_version", tdm_model_ir_version(d->m));
    json_kv_int(&j, "opset", tdm_model_opset(d->m));
    info_json_tensors(&j, "inputs", d->ins, d->nin, d->planned);
    info_json_tensors(&j, "outputs", d->outs, d->nout, NULL);
    json_kv_int(&j, "source_nodes", d->nsrc);
    info_json_hist(&j, "op_counts", d->src_hist, d->nsrc_hist);
    json_kv_int(&j, "params", d->stats.params);
    json_kv_int(&j, "macs", d->stats.macs);
    json_kv_uint(&j, "weights_bytes", d->stats.weights_bytes);
    json_kv_uint(&j, "arena_bytes", d->stats.arena_bytes);
    json_kv_uint(&j, "workspace_bytes", d->stats.workspace_bytes);
    json_kv_int(&j, "plan_batch", 1);
    json_kv_int(&j, "exec_nodes", d->nexec);
    info_json_hist(&j, "exec_op_counts", d->exec_hist, d->nexec_hist);
    json_kv_string(&j, "kernel_isa", tdm_kernel_isa());
    json_kv_double(&j, "load_ms", d->load_ms, 6);
    json_object_end(&j);
    json_finish(&j);
}

static void info_print_tensors(const char *title, const tdm_tensor_info *t, int n) {
    char b1[256];
    printf("%s\n", title);
    for (int i = 0; i < n; i++)
        printf("  %-24s %-8s %s\n", t[i].name ? t[i].name : "", cli_dtype_str(t[i].dtype),
               cli_shape_str(&t[i], b1, sizeof b1));
}

static void info_print_text(const info_data *d) {
    char b1[256], b2[64];
    const char *producer = tdm_model_producer(d->m);
    const tdm_stats *st = &d->stats;
    printf("model          %s\n", d->path);
    printf("producer       %s\n", producer && *producer ? producer : "(none)");
    printf("ir_version     %lld\n", (long long)tdm_model_ir_version(d->m));
    printf("opset          %lld\n", (long long)tdm_model_opset(d->m));
    info_print_tensors("inputs", d->ins, d->nin);
    info_print_tensors("outputs", d->outs, d->nout);
    printf("parameters     %s\n", info_group(st->params, b2, sizeof b2));
    printf("MACs           %s  (%.2f M, batch 1)\n", info_group(st->macs, b2, sizeof b2), (double)st->macs / 1e6);
    printf("weights        %s\n", info_bytes(st->weights_bytes, b1, sizeof b1));
    printf("arena          %s  (batch 1)\n", info_bytes(st->arena_bytes, b1, sizeof b1));
    printf("workspace      %s\n", info_bytes(st->workspace_bytes, b1, sizeof b1));
    printf("nodes          %d in the file, %d executed after folding and fusion\n", d->nsrc, d->nexec);
    printf("kernels        %s\n", tdm_kernel_isa());
    printf("\n  %-28s %6s      %-28s %6s\n", "op (file)", "count", "op (executed)", "count");
    int rows = d->nsrc_hist > d->nexec_hist ? d->nsrc_hist : d->nexec_hist;
    for (int i = 0; i < rows; i++) {
        if (i < d->nsrc_hist) printf("  %-28s %6d", d->src_hist[i].op, d->src_hist[i].count);
        else printf("  %-28s %6s", "", "");
        if (i < d->nexec_hist) printf("      %-28s %6d\n", d->exec_hist[i].op, d->exec_hist[i].count);
        else printf("\n");
    }
    fflush(stdout);
}

static int cmd_info(const cli_command *self, int argc, char **argv) {
    info_opts o = {0};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    if (o.ops && !o.model) return info_list_ops(o.json);
    if (!o.model) return cli_usage_error("info: no MODEL given (usage: tandem %s)", "info MODEL [--json]");
    info_data d = {.path = o.model};
    int rc = cli_load_model(o.model, &d.m, &d.load_ms);
    if (rc == CLI_OK) rc = info_read_graph(&d);
    if (rc == CLI_OK) rc = info_read_plan(&d);
    if (rc == CLI_OK) {
        if (o.json) info_print_json(&d);
        else info_print_text(&d);
    }
    info_data_free(&d);
    return rc;
}

const cli_command cli_cmd_info = {"info", cmd_info, info_options, "info MODEL [--json] | info --ops [--json]",
                                  "describe a model: inputs, outputs, opset, ops, parameters, MACs, planned memory"};
