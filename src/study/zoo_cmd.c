/* zoo_cmd.c - `tandem zoo`: writes a model of the zoo as ONNX (`tandem zoo NAME -o model.onnx [--seed S]
 * [--weights trained.onnx] [--variant V] [--opset 13..17]`), lists the zoo (`tandem zoo --list [--json]`) or the
 * variants (`--list-variants`). */
#include <stdlib.h>
#include <string.h>

#include "../cli/cli.h"
#include "../cli/json.h"
#include "zoo.h"

/* "input [N,3,224,224]" or "input_ids [N,128] int64 < 30522, ..." into buf. */
static void zoo_inputs_str(const zoo_info *z, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < z->n_inputs && n < cap; i++) {
        const zoo_input *in = &z->inputs[i];
        n += (size_t)snprintf(buf + n, cap - n, "%s%s [N", i ? ", " : "", in->name);
        for (int d = 1; d < in->rank && n < cap; d++) n += (size_t)snprintf(buf + n, cap - n, ",%lld", (long long)in->dims[d]);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "]%s", in->dtype == TDM_INT64 ? " int64" : "");
    }
}

static int zoo_list(int as_json) {
    json_writer j;
    if (as_json) {
        json_init(&j, stdout);
        json_array_begin(&j);
    } else {
        printf("%-28s %8s %12s  %s\n", "name", "classes", "params", "inputs");
    }
    for (int i = 0; i < zoo_num_models(); i++) {
        const char *name = zoo_model_name(i);
        int64_t params = zoo_model_params(name);
        zoo_info z;
        if (params < 0 || !zoo_model_info(name, &z)) return cli_error("out of memory");
        char ins[256];
        zoo_inputs_str(&z, ins, sizeof ins);
        if (as_json) {
            json_object_begin(&j);
            json_kv_string(&j, "name", name);
            json_kv_string(&j, "family", z.family);
            json_kv_int(&j, "classes", z.classes);
            json_kv_int(&j, "params", params);
            json_kv_string(&j, "config", z.config);
            json_key(&j, "inputs");
            json_array_begin(&j);
            for (int k = 0; k < z.n_inputs; k++) {
                const zoo_input *in = &z.inputs[k];
                json_object_begin(&j);
                json_kv_string(&j, "name", in->name);
                json_kv_string(&j, "dtype", in->dtype == TDM_INT64 ? "int64" : "float32");
                json_key(&j, "shape");
                json_array_begin(&j);
                for (int d = 0; d < in->rank; d++) json_int(&j, in->dims[d]);
                json_array_end(&j);
                if (in->dtype == TDM_INT64) {
                    json_key(&j, "range");
                    json_array_begin(&j);
                    json_int(&j, in->lo);
                    json_int(&j, in->hi);
                    json_array_end(&j);
                }
                json_object_end(&j);
            }
            json_array_end(&j);
            json_object_end(&j);
        } else {
            char cls[16] = "-";
            if (z.classes) snprintf(cls, sizeof cls, "%d", z.classes);
            printf("%-28s %8s %12lld  %s\n", name, cls, (long long)params, ins);
        }
    }
    if (as_json) {
        json_array_end(&j);
        json_finish(&j);
    } else {
        printf("\nparams: learnable parameters as PyTorch counts them (BatchNorm scale and shift included, running\n"
               "statistics not; a tied weight once); `tandem info` shows the count after BatchNorm folding.\n"
               "`tandem zoo NAME -o FILE --variant V` writes a model as another exporter would (--list-variants).\n");
    }
    return CLI_OK;
}

int cmd_zoo(int argc, char **argv) {
    cli_args a;
    const char *opt, *pos, *name = NULL, *out = NULL, *weights = NULL, *variant = NULL;
    int list = 0, as_json = 0, verbose = 0, list_variants = 0;
    int64_t opset = 0;
    uint64_t seed = 0;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        const char *v;
        if (!opt) {
            if (name) return cli_usage_error("zoo: one model name only (got '%s' and '%s')", name, pos);
            name = pos;
        } else if (!strcmp(opt, "o") || !strcmp(opt, "-o") || !strcmp(opt, "output")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            out = v;
        } else if (!strcmp(opt, "weights")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            weights = v;
        } else if (!strcmp(opt, "variant")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            variant = v;
        } else if (!strcmp(opt, "opset")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            if (!cli_parse_int(opt, v, 13, 17, &opset)) return CLI_USAGE;
        } else if (!strcmp(opt, "seed")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            if (!cli_parse_u64(opt, v, &seed)) return CLI_USAGE;
        } else if (!strcmp(opt, "list") || !strcmp(opt, "json") || !strcmp(opt, "verbose") ||
                   !strcmp(opt, "list-variants")) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            if (!strcmp(opt, "list")) list = 1;
            else if (!strcmp(opt, "list-variants")) list_variants = 1;
            else if (!strcmp(opt, "json")) as_json = 1;
            else verbose = 1;
        } else
            return cli_usage_error("zoo: unknown option '--%s'", opt);
    }
    if (list_variants) {
        for (const char *const *l = zoo_variant_names(); *l; l++) printf("%s\n", *l);
        return CLI_OK;
    }
    if (list) {
        if (name || out || weights) return cli_usage_error("zoo: --list takes no model name, --output or --weights");
        return zoo_list(as_json);
    }
    if (!name) return cli_usage_error("zoo: a model name is required (tandem zoo --list shows them)");
    if (!out) return cli_usage_error("zoo: --output FILE (-o FILE) is required");
    if (as_json) return cli_usage_error("zoo: --json goes with --list");
    zoo_info info;
    if (!zoo_model_info(name, &info)) return cli_error("'%s' is not in the zoo (tandem zoo --list shows the names)", name);
    if (weights && cli_check_file("weights", weights) != CLI_OK) return CLI_ERR;
    zoo_options o = {seed, weights, verbose, variant, (int)opset};
    int64_t params = 0;
    int rc = zoo_write(name, &o, out, &params);
    if (rc != CLI_OK) return rc;
    fprintf(stderr, "tandem: wrote %s (%s, %lld parameters, %s)\n", out, name, (long long)params,
            weights ? "weights from --weights" : "seeded weights");
    return CLI_OK;
}
