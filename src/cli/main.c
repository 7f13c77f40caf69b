/* main.c - entry point of the `tandem` CLI: the command table, usage text and one-line error reporting. A new
 * subcommand (bench, serve, study, zoo ...) is a cmd_<name>.c file plus one row in cli_commands[] below. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

static const cli_command cli_commands[] = {
    {"info", cmd_info, "info MODEL [--json] | info --ops [--json]",
     "describe a model: inputs, outputs, opset, ops, parameters, MACs, planned memory",
     "  --json            print one JSON object instead of a table\n"
     "  --ops             list the op types the engine implements (no MODEL needed)\n"},
    {"run", cmd_run,
     "run MODEL --input FILE|random [--input ...] [--output-dir DIR] [--threads N] [--top K]\n"
     "            [--mean R,G,B --std R,G,B] [--size HxW] [--seed S] [--labels FILE]",
     "run a model once on TensorProto, image or random inputs; prints a JSON summary",
     "  --input X         one per model input, in order: a TensorProto file (.pb), a PNG/JPEG image,\n"
     "                    or the word 'random' (seeded uniform data; symbolic dims are 1)\n"
     "  --output-dir DIR  write the outputs as DIR/output_0.pb, DIR/output_1.pb, ...\n"
     "  --threads N       worker threads (default 1)\n"
     "  --top K           top-k classes for [N, K] outputs (default 5, 0 for none)\n"
     "  --labels FILE     class names, one per line, shown with the top-k\n"
     "  --mean, --std     image normalisation per channel, (x/255 - mean) / std (default 0 and 1)\n"
     "  --size HxW        image size to feed when the model leaves H and W symbolic\n"
     "  --seed S          seed for 'random' inputs (default 0)\n"},
    {"eval", cmd_eval,
     "eval MODEL --dataset FILE --mean R,G,B --std R,G,B [--limit N] [--batch B] [--threads N] [--json]",
     "classifier accuracy (top-1, top-5) over a dataset in the CIFAR binary layout",
     "  --dataset FILE    records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32)\n"
     "  --mean, --std     per-channel normalisation, (x/255 - mean) / std\n"
     "  --limit N         evaluate the first N images only\n"
     "  --batch B         images per run (default 64)\n"
     "  --threads N       worker threads (default 1)\n"
     "  --json            print one JSON object instead of a summary line\n"},
    {"bench", cmd_bench,
     "bench MODEL [--threads N] [--batch B] [--runs R] [--warmup W] [--vary-input] [--profile] [--json]",
     "time a model: load, set-up, first run, steady-state p50/p90/p99, throughput, peak RSS, arena",
     "  --threads N       worker threads (default 1)\n"
     "  --batch B         size of the symbolic batch dimension (default 1)\n"
     "  --runs R          timed runs (default 100)\n"
     "  --warmup W        untimed runs after the first (default 5)\n"
     "  --vary-input      new input values before every run, outside the timing (token ids uniform over\n"
     "                    their embedding table, other integer inputs in [0, 2), floats uniform in [0, 1))\n"
     "  --profile         time every executed node and print the slowest\n"
     "  --json            print one JSON object instead of a table\n"},
    {"study", cmd_study,
     "study [--models a,b] [--out DIR] [--threads 1,2] [--throttle 1,2,4,6] [--networks lan,wifi,4g,3g]\n"
     "            [--runs R] [--images N] [--no-browser] [--no-cloud] [--quick] [--post URL] [--report-from URL|FILE]",
     "on-device or cloud? measure native, browser and cloud paths on this machine and write the report",
     "  --models a,b      zoo names, model folders or .onnx files (default: cifar100_resnet20,32,44,56 from the zoo)\n"
     "  --out DIR         where the report, results and models go (default study-out)\n"
     "  --threads 1,2     thread counts, native and in the browser (default 1..CPUs)\n"
     "  --throttle 1,2,4  client CPU slow-downs emulated in Chromium, standing in for weaker devices (default 1,2,4,6)\n"
     "  --networks ...    emulated networks for the cloud path: lan, wifi, 4g, 3g, slow3g (default lan,wifi,4g,3g)\n"
     "  --runs R          timed runs per measurement (default 30)\n"
     "  --images N        images for the phase split, agreement and cloud requests (default 20)\n"
     "  --no-browser, --no-cloud   skip the client or the cloud path\n"
     "  --quick           a reduced study (10 runs, 5 images), for tests\n"
     "  --post URL        also send the results to a tandem server's store (URL/api/results)\n"
     "  --report-from X   no measuring: rebuild the report from a results.json, or from every device's results in\n"
     "                    a tandem server's store (crowd mode)\n"},
    {"serve", cmd_serve,
     "serve --models DIR [--port P] [--host H] [--threads N] [--workers W] [--db URL] [--web DIR]",
     "KServe v2 inference server with dynamic batching, /metrics, the client page and the results store",
     "  --models DIR      model repository: DIR/<name>/model.onnx [+ config.json]\n"
     "  --port P          TCP port (default 8000; 0 picks a free one, printed at start)\n"
     "  --host H          address to listen on (default: every interface)\n"
     "  --threads N       engine threads per inference worker (default 1)\n"
     "  --workers W       inference workers (default: cores / threads)\n"
     "  --io-threads N    HTTP I/O threads (default 2)\n"
     "  --db URL          results store: sqlite:PATH, PATH.db or postgresql://... (default tandem-results.db)\n"
     "  --web DIR         static files at / (default: web/ beside the binary)\n"
     "  --samples DIR     PNG/JPEG images listed at /api/samples (cat_3.png is labelled cat)\n"
     "  --max-body-mb M   request body limit (default 32)\n"
     "  --max-header-kb K request line + headers limit (default 64)\n"
     "  --max-elements N  elements per input tensor (default 16777216)\n"
     "  --max-connections N  open connections (default 512)\n"
     "  --max-buffered-mb M  request bodies held at once, over all connections (default 512; 503 beyond)\n"
     "  --max-queue N     queued requests per model (default 1024; 503 beyond)\n"
     "  --timeout S       idle connection timeout in seconds (default 30)\n"
     "  --drain-timeout S on SIGTERM, wait at most S seconds for requests in flight (default 30)\n"
     "  --admin-token T   enables the swarm's job endpoints (/v2/jobs), which need 'Authorization: Bearer T'\n"
     "                    (default: $TANDEM_ADMIN_TOKEN; without either they answer 403)\n"
     "  --lease-timeout S a swarm lease's deadline is at least S seconds away (default 10)\n"
     "  --client-rate R   swarm lease/submit requests per second per worker, bursts of 4 s (default 20, 0: no limit)\n"
     "  --max-lease-items N  items per swarm lease at most (default 100000)\n"},
    {"worker", cmd_worker, "worker --server URL [--threads N] [--wait] [--patience S] [--max-leases N] [--log FILE]",
     "contribute this machine to a tandem server's swarm jobs: lease chunks, compute them natively, submit",
     "  --server URL      the tandem server (http://HOST:PORT)\n"
     "  --threads N       engine threads (default 1)\n"
     "  --wait            when no job is left, wait for the next one instead of exiting\n"
     "  --patience S      keep retrying a server that cannot be reached for S seconds (default 60)\n"
     "  --max-leases N    stop after N leases\n"
     "  --log FILE        append one line per computed chunk: job, chunk, first item, items, outcome\n"
     "  --quiet           print only the final JSON summary\n"},
    {"export-image", cmd_export_image, "export-image --dataset FILE --index I --output FILE.png [--scale S]",
     "write one record of a CIFAR-layout dataset as a PNG (label printed as JSON)",
     "  --dataset FILE    records of 1 label byte + 3072 pixel bytes\n"
     "  --index I         record number (default 0)\n"
     "  --output FILE     the PNG to write (-o also works)\n"
     "  --scale S         upscale by S with nearest neighbour (default 1)\n"},
    {"zoo", cmd_zoo, "zoo NAME --output FILE.onnx [--seed S] [--weights TRAINED.onnx] [--verbose] | zoo --list [--json]",
     "write a model of the CIFAR zoo (ResNet, MobileNetV2, ShuffleNetV2, VGG-BN) as ONNX with seeded weights",
     "  --output FILE     the ONNX file to write (-o also works)\n"
     "  --seed S          seed of the generated weights (default 0); the same name and seed give the same bytes\n"
     "  --weights FILE    copy the weights of a trained ONNX model of the same architecture (by name and shape,\n"
     "                    else by the order of its Conv/Gemm/BatchNormalization nodes; folded BatchNorms work)\n"
     "  --verbose         say how --weights matched\n"
     "  --list            list the zoo's names with their parameter counts\n"
     "  --json            with --list: one JSON array\n"},
};
#define CLI_NUM_COMMANDS ((int)(sizeof cli_commands / sizeof cli_commands[0]))

static const cli_command *cli_find_command(const char *name) {
    for (int i = 0; i < CLI_NUM_COMMANDS; i++)
        if (strcmp(cli_commands[i].name, name) == 0) return &cli_commands[i];
    return NULL;
}

void cli_print_usage(FILE *f, const char *name) {
    const cli_command *c = name ? cli_find_command(name) : NULL;
    if (c) {
        fprintf(f, "usage: tandem %s\n\n%s\n", c->synopsis, c->summary);
        if (c->help) fprintf(f, "\noptions:\n%s", c->help);
        return;
    }
    fprintf(f, "tandem %s - an ONNX inference engine for the client and the cloud\n\n", TDM_VERSION);
    fprintf(f, "usage: tandem <command> [options]\n\ncommands:\n");
    for (int i = 0; i < CLI_NUM_COMMANDS; i++) fprintf(f, "  %-6s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "  %-6s %s\n", "help", "show this list, or `tandem help COMMAND` for a command's options");
    fprintf(f, "\n  tandem --version   print the version\n");
    fprintf(f, "\nsynopsis:\n");
    for (int i = 0; i < CLI_NUM_COMMANDS; i++) fprintf(f, "  tandem %s\n", cli_commands[i].synopsis);
    fprintf(f, "\nexit codes: 0 success, 1 runtime error, 2 usage error\n");
}

/* Length of a valid UTF-8 sequence at s (2..4 bytes), or 0. */
static int cli_utf8_len(const unsigned char *s) {
    int n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* Print one "tandem: ..." line. Control characters (a newline inside an engine message) become spaces and bytes that
 * are not UTF-8 (names from a corrupted file) become '?', so the message stays one readable line. */
static void cli_vreport(const char *fmt, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    for (unsigned char *p = (unsigned char *)buf; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            *p = ' ';
        } else if (*p >= 0x80) {
            int n = cli_utf8_len(p);
            if (n) p += n - 1;
            else *p = '?';
        }
    }
    fflush(stdout);
    fprintf(stderr, "tandem: %s\n", buf);
    fflush(stderr);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_vreport(fmt, ap);
    va_end(ap);
    return CLI_ERR;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_vreport(fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

int cli_engine_error(tdm_status st, const char *what) {
    const char *msg = tdm_last_error();
    if (!msg || !*msg) msg = tdm_status_name(st);
    if (!msg) msg = "unknown error";
    return cli_error("%s: %s", what, msg);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_print_usage(stdout, NULL);
        return CLI_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("tandem %s (kernels: %s)\n", TDM_VERSION, tdm_kernel_isa());
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && !cli_find_command(argv[2]))
            return cli_usage_error("unknown command '%s' (try 'tandem help')", argv[2]);
        cli_print_usage(stdout, argc > 2 ? argv[2] : NULL);
        return CLI_OK;
    }
    const cli_command *c = cli_find_command(cmd);
    if (!c) {
        if (cmd[0] == '-') return cli_usage_error("unknown option '%s' (try 'tandem help')", cmd);
        return cli_usage_error("unknown command '%s' (try 'tandem help')", cmd);
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_usage(stdout, c->name);
            return CLI_OK;
        }
    }
    return c->run(argc - 1, argv + 1);
}
