/* cmd_zoo.c - `tandem zoo`: writes a model of the zoo as ONNX (`tandem zoo NAME -o model.onnx [--seed S]
 * [--weights trained.onnx]`) or lists the zoo (`tandem zoo --list [--json]`). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/json.h"
#include "../study/zoo.h"

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

int cmd_zoo(int argc, char **argv) {
    cli_args a;
    const char *opt, *pos, *name = NULL, *out = NULL, *weights = NULL;
    int list = 0, as_json = 0, verbose = 0;
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
        } else if (!strcmp(opt, "seed")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            if (!cli_parse_u64(opt, v, &seed)) return CLI_USAGE;
        } else if (!strcmp(opt, "list") || !strcmp(opt, "json") || !strcmp(opt, "verbose")) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            if (!strcmp(opt, "list")) list = 1;
            else if (!strcmp(opt, "json")) as_json = 1;
            else verbose = 1;
        } else
            return cli_usage_error("zoo: unknown option '--%s'", opt);
    }
    if (list) {
        if (name || out || weights) return cli_usage_error("zoo: --list takes no model name, --output or --weights");
        return zoo_list(as_json);
    }
    if (!name) return cli_usage_error("zoo: a model name is required (tandem zoo --list shows them)");
    if (!out) return cli_usage_error("zoo: --output FILE (-o FILE) is required");
    if (as_json) return cli_usage_error("zoo: --json goes with --list");
    if (!zoo_model_classes(name)) return cli_error("'%s' is not in the zoo (tandem zoo --list shows the names)", name);
    if (weights && cli_check_file("weights", weights) != CLI_OK) return CLI_ERR;
    zoo_options o = {seed, weights};
    zoo_result res;
    char err[1024];
    if (zoo_write(name, &o, out, &res, err, sizeof err) != 0) return cli_error("%s", err);
    if (verbose && res.weights_note[0]) fprintf(stderr, "tandem: --weights: %s\n", res.weights_note);
    fprintf(stderr, "tandem: wrote %s (%s, %lld parameters, %s)\n", out, name, (long long)res.params,
            weights ? "weights from --weights" : "seeded weights");
    return CLI_OK;
}
