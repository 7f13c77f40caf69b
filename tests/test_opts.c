/* test_opts.c - the table-driven option parser of src/common/opts.c, alone (no engine, no CLI): every kind of row
 * parses what it should and refuses what it should with the sentence the CLI prints; "--name=value", "-o" aliases,
 * "--", "-5" as a value, positional limits; and the help lines the same table prints. Prints `opts: N passed, M
 * failed`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"

static int passed, failed;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            passed++;                                                                                                  \
        } else {                                                                                                       \
            failed++;                                                                                                  \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                                \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
        }                                                                                                              \
    } while (0)

typedef struct t_opts {
    const char *model, *out, *name;
    const char *inputs[3];
    int ninputs, json;
    int64_t threads, size[2];
    uint64_t seed;
    float mean[3];
    int nmean;
    int list[4], nlist;
} t_opts;

static const opt_spec table[] = {
    OPT_POS(t_opts, model, "MODEL", 1, "the model"),
    OPT_STRS(t_opts, inputs, ninputs, "input", 3, "X", "an input"),
    OPT_STR_ALIAS(t_opts, out, "output", 'o', "FILE", "where it goes"),
    OPT_STR(t_opts, name, "name", "N", NULL), /* hidden from help */
    OPT_INT(t_opts, threads, "threads", 1, 64, "N", "threads (default 1)"),
    OPT_SIZE(t_opts, size, "size", "HxW", "a size"),
    OPT_U64(t_opts, seed, "seed", "S", "a seed"),
    OPT_FLOATS(t_opts, mean, nmean, "mean", 3, "R,G,B", "means,\nsecond line"),
    OPT_INTS(t_opts, list, nlist, "list", 1, 20, 4, "1,2", "a list"),
    OPT_FLAG(t_opts, json, "json", "JSON"),
    OPT_END,
};

/* Parse the space-separated words of line (argv[0] "cmd") into *o; returns opts_parse's result, err filled. */
static int parse(const char *line, t_opts *o, char *err, size_t errlen) {
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "cmd %s", line);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && argc < 32; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    memset(o, 0, sizeof *o);
    err[0] = 0;
    return opts_parse(table, argc, argv, o, err, errlen);
}

/* line must fail with a sentence containing want. */
static void refuse(const char *line, const char *want) {
    t_opts o;
    char err[256];
    int rc = parse(line, &o, err, sizeof err);
    CHECK(rc == -1 && strstr(err, want), "'%s': rc %d, err '%s', want '%s'", line, rc, err, want);
}

static void test_accepts(void) {
    t_opts o;
    char err[256];
    int rc = parse("m.onnx --input a --input=b --threads 4 -o out.png --size 32x48 --seed 7 --mean 0.5 --list 1,2,20 "
                   "--json --name x",
                   &o, err, sizeof err);
    CHECK(rc == 0, "a full command line: %s", err);
    CHECK(o.model && !strcmp(o.model, "m.onnx"), "positional");
    CHECK(o.ninputs == 2 && !strcmp(o.inputs[0], "a") && !strcmp(o.inputs[1], "b"), "repeated --input, --input=b");
    CHECK(o.threads == 4, "--threads 4: %lld", (long long)o.threads);
    CHECK(o.out && !strcmp(o.out, "out.png"), "-o alias");
    CHECK(o.size[0] == 32 && o.size[1] == 48, "--size 32x48");
    CHECK(o.seed == 7, "--seed");
    CHECK(o.nmean == 1 && o.mean[0] == 0.5f, "--mean 0.5");
    CHECK(o.nlist == 3 && o.list[0] == 1 && o.list[2] == 20, "--list 1,2,20");
    CHECK(o.json == 1 && o.name && !strcmp(o.name, "x"), "flag and hidden option");

    rc = parse("--threads 2 --threads=3", &o, err, sizeof err);
    CHECK(rc == 0 && o.threads == 3 && !o.model, "the last value wins, no positional: %s", err);
    rc = parse("--output x -- -m.onnx", &o, err, sizeof err);
    CHECK(rc == 0 && o.model && !strcmp(o.model, "-m.onnx"), "after --, a word starting with - is positional: %s",
          err);
    rc = parse("-5", &o, err, sizeof err);
    CHECK(rc == 0 && o.model && !strcmp(o.model, "-5"), "-5 is a positional value, not an option: %s", err);
    rc = parse("--mean -0.25,1e-3,3 --name -", &o, err, sizeof err);
    CHECK(rc == 0 && o.nmean == 3 && o.mean[0] == -0.25f && !strcmp(o.name, "-"), "negative values as values: %s",
          err);
    rc = parse("", &o, err, sizeof err);
    CHECK(rc == 0 && !o.model && !o.threads, "nothing given leaves the defaults");
}

static void test_refuses(void) {
    refuse("--bogus", "cmd: unknown option '--bogus' (try 'tandem help cmd')");
    refuse("--bogus=1", "unknown option '--bogus'");
    refuse("-x", "unknown option '-x'");
    refuse("--json=1", "cmd: option --json takes no value");
    refuse("--threads", "cmd: option --threads needs a value");
    refuse("--threads two", "--threads: 'two' is not an integer");
    refuse("--threads 0", "--threads: 0 is out of range [1, 64]");
    refuse("--threads 65", "out of range");
    refuse("--threads 4x", "not an integer");
    refuse("--threads=", "not an integer");
    refuse("--threads 99999999999999999999", "not an integer");
    refuse("--seed -5", "--seed: '-5' is not a non-negative integer");
    refuse("--seed 1.5", "not a non-negative integer");
    refuse("--size 32", "--size: '32' is not a size HxW");
    refuse("--size 0x32", "not a size HxW");
    refuse("--size 32x65537", "not a size HxW");
    refuse("--size 32x", "not a size HxW");
    refuse("--mean 0.1,x", "--mean: '0.1,x' is not a comma-separated list of numbers");
    refuse("--mean 1,2,3,4", "--mean: more than 3 values");
    refuse("--mean 1,,2", "not a comma-separated list");
    refuse("--mean nan", "not a comma-separated list");
    refuse("--mean inf", "not a comma-separated list");
    refuse("--list 1,21", "--list wants up to 4 comma-separated integers in [1, 20]");
    refuse("--list 1,2,3,4,5", "comma-separated integers");
    refuse("--list ,", "comma-separated integers");
    refuse("--list=", "--list: no value");
    refuse("--input a --input b --input c --input d", "cmd: more than 3 --input");
    refuse("a b", "cmd: more than one MODEL given ('a' and 'b')");
}

/* A table without positional rows refuses any positional word. */
static void test_no_positional(void) {
    static const opt_spec flags_only[] = {OPT_FLAG(t_opts, json, "json", "JSON"), OPT_END};
    t_opts o = {0};
    char err[256] = "";
    char *argv[] = {"serve", "extra"};
    int rc = opts_parse(flags_only, 2, argv, &o, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "serve: unexpected argument 'extra'"), "unexpected argument: '%s'", err);
}

static void test_help(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    opts_print_help(table, f);
    fclose(f);
    CHECK(text && strstr(text, "  --threads N       threads (default 1)\n"), "aligned help line:\n%s", text);
    CHECK(text && strstr(text, "  -o, --output FILE  where it goes\n"), "alias in help:\n%s", text);
    CHECK(text && strstr(text, "  --mean R,G,B      means,\n                    second line\n"),
          "continuation line indented:\n%s", text);
    CHECK(text && strstr(text, "  --json            JSON\n"), "flag without a value name:\n%s", text);
    CHECK(text && !strstr(text, "--name") && !strstr(text, "MODEL"), "hidden and positional rows left out:\n%s", text);
    free(text);
}

int main(void) {
    test_accepts();
    test_refuses();
    test_no_positional();
    test_help();
    printf("opts: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
