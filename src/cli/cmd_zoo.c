/* cmd_zoo.c - `tandem zoo`: writes a model of the zoo as ONNX (`tandem zoo NAME -o model.onnx [--seed S]
 * [--weights trained.onnx]`) or lists the zoo (`tandem zoo --list [--json]`). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/json.h"
#include "../study/zoo.h"

typedef struct zoo_opts {
    const char *name, *output, *weights;
    uint64_t seed;
    int list, json, verbose;
} zoo_opts;

static const opt_spec zoo_options_table[] = {
    OPT_POS(zoo_opts, name, "NAME", 1, "a zoo model's name"),
    OPT_STR_ALIAS(zoo_opts, output, "output", 'o', "FILE", "the ONNX file to write"),
    OPT_U64(zoo_opts, seed, "seed", "S",
            "seed of the generated weights (default 0); the same name and seed give the same bytes"),
    OPT_STR(zoo_opts, weights, "weights", "FILE",
            "copy the weights of a trained ONNX model of the same architecture (by name and shape,\n"
            "else by the order of its Conv/Gemm/BatchNormalization nodes; folded BatchNorms work)"),
    OPT_FLAG(zoo_opts, verbose, "verbose", "say how --weights matched"),
    OPT_FLAG(zoo_opts, list, "list", "list the zoo's names with their parameter counts"),
    OPT_FLAG(zoo_opts, json, "json", "with --list: one JSON array"),
    OPT_END,
};

static int zoo_list(int as_json) {
    json_writer j;
    if (as_json) {
        json_init(&j, stdout);
        json_array_begin(&j);
    } else {
        printf("%-28s %8s %12s\n", "name", "classes", "params");
    }
    for (int i = 0; i < zoo_num_models(); i++) {
        const char *name = zoo_model_name(i);
        int64_t params = zoo_model_params(name);
        if (params < 0) return cli_error("out of memory");
        if (as_json) {
            json_object_begin(&j);
            json_kv_string(&j, "name", name);
            json_kv_int(&j, "classes", zoo_model_classes(name));
            json_kv_int(&j, "params", params);
            json_object_end(&j);
        } else {
            printf("%-28s %8d %12lld\n", name, zoo_model_classes(name), (long long)params);
        }
    }
    if (as_json) {
        json_array_end(&j);
        json_finish(&j);
    } else {
        printf("\nparams: learnable parameters as PyTorch counts them (BatchNorm scale and shift included, running\n"
               "statistics not); `tandem info` shows the count after BatchNorm folding.\n");
    }
    return CLI_OK;
}

static int cmd_zoo(const cli_command *self, int argc, char **argv) {
    zoo_opts o = {0};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    if (o.list) {
        if (o.name || o.output || o.weights)
            return cli_usage_error("zoo: --list takes no model name, --output or --weights");
        return zoo_list(o.json);
    }
    if (!o.name) return cli_usage_error("zoo: a model name is required (tandem zoo --list shows them)");
    if (!o.output) return cli_usage_error("zoo: --output FILE (-o FILE) is required");
    if (o.json) return cli_usage_error("zoo: --json goes with --list");
    if (!zoo_model_classes(o.name))
        return cli_error("'%s' is not in the zoo (tandem zoo --list shows the names)", o.name);
    if (o.weights && cli_check_file("weights", o.weights) != CLI_OK) return CLI_ERR;
    zoo_options zo = {o.seed, o.weights};
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
    "zoo NAME --output FILE.onnx [--seed S] [--weights TRAINED.onnx] [--verbose] | zoo --list [--json]",
    "write a model of the CIFAR zoo (ResNet, MobileNetV2, ShuffleNetV2, VGG-BN) as ONNX with seeded weights"};
