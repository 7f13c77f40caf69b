/* cmd_zoo.c - `tandem zoo`: writes a model of the zoo as ONNX (`tandem zoo NAME -o model.onnx [--seed S]
 * [--weights trained.onnx] [--variant V] [--opset 13..17]`), lists the zoo (`tandem zoo --list [--json]`) or the
 * variants (`--list-variants`). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/json.h"
#include "../study/zoo.h"

typedef struct zoo_opts {
    const char *name, *output, *weights, *variant;
    uint64_t seed;
    int64_t opset;
    int list, json, verbose, list_variants;
} zoo_opts;

static const opt_spec zoo_options_table[] = {
    OPT_POS(zoo_opts, name, "NAME", 1, "a zoo model's name"),
    OPT_STR_ALIAS(zoo_opts, output, "output", 'o', "FILE", "the ONNX file to write"),
    OPT_U64(zoo_opts, seed, "seed", "S",
            "seed of the generated weights (default 0); the same name and seed give the same bytes"),
    OPT_STR(zoo_opts, weights, "weights", "FILE",
            "copy the weights of a trained ONNX model of the same architecture (by name and shape,\n"
            "else by the order of its Conv/Gemm/BatchNormalization nodes; folded BatchNorms work; CIFAR models)"),
    OPT_STR(zoo_opts, variant, "variant", "V",
            "write the graph as another exporter would: a comma-separated list of --list-variants, or all"),
    OPT_INT(zoo_opts, opset, "opset", 13, 17, "N",
            "the opset written (default 13; 14 on writes HardSwish, 17 on LayerNormalization)"),
    OPT_FLAG(zoo_opts, verbose, "verbose", "say how --weights matched"),
    OPT_FLAG(zoo_opts, list, "list", "list the zoo's names with their parameter counts and inputs"),
    OPT_FLAG(zoo_opts, list_variants, "list-variants", "list the exporter variants --variant takes"),
    OPT_FLAG(zoo_opts, json, "json", "with --list: one JSON array"),
    OPT_END,
};

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

static int cmd_zoo(const cli_command *self, int argc, char **argv) {
    zoo_opts o = {0};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    if (o.list_variants) {
        for (const char *const *l = zoo_variant_names(); *l; l++) printf("%s\n", *l);
        return CLI_OK;
    }
    if (o.list) {
        if (o.name || o.output || o.weights)
            return cli_usage_error("zoo: --list takes no model name, --output or --weights");
        return zoo_list(o.json);
    }
    if (!o.name) return cli_usage_error("zoo: a model name is required (tandem zoo --list shows them)");
    if (!o.output) return cli_usage_error("zoo: --output FILE (-o FILE) is required");
    if (o.json) return cli_usage_error("zoo: --json goes with --list");
    zoo_info info;
    if (!zoo_model_info(o.name, &info))
        return cli_error("'%s' is not in the zoo (tandem zoo --list shows the names)", o.name);
    if (o.weights && cli_check_file("weights", o.weights) != CLI_OK) return CLI_ERR;
    zoo_options zo = {o.seed, o.weights, o.variant, (int)o.opset};
    zoo_result res;
    char err[1024];
    if (zoo_write(o.name, &zo, o.output, &res, err, sizeof err) != 0) return cli_error("%s", err);
    if (o.verbose && res.weights_note[0]) fprintf(stderr, "tandem: --weights: %s\n", res.weights_note);
    fprintf(stderr, "tandem: wrote %s (%s, %lld parameters, %s)\n", o.output, o.name, (long long)res.params,
            o.weights ? "weights from --weights" : "seeded weights");
    return CLI_OK;
}

const cli_command cli_cmd_zoo = {
    "zoo", cmd_zoo, zoo_options_table,
    "zoo NAME --output FILE.onnx [--seed S] [--weights TRAINED.onnx] [--variant V] [--opset N] [--verbose] | "
    "zoo --list [--json] | zoo --list-variants",
    "write a model of the zoo (CIFAR and ImageNet CNNs, BERT, ViT, GPT-2-style) as ONNX with seeded weights"};
