/* fuzz_opts.c - libFuzzer target for the table-driven option parser (src/common/opts.c): the bytes, split at NUL
 * bytes into an argv, parsed with a table that has a row of every kind. Any crash or sanitizer report is a finding;
 * beyond that it checks what the parser promises: a failure comes with a sentence, and a success leaves every count
 * within its row's maximum and every value in its row's range. Every argv string also goes through the --shape list
 * parser (src/common/util.c, shape_list_parse), whose entries must have a name and 1..4 dimensions in 1..2^31.
 * Built by `make fuzz` (Makefile). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/opts.h"
#include "../../src/common/util.h"

typedef struct f_opts {
    const char *pos[2], *str;
    const char *strs[3];
    int nstrs, flag;
    int64_t num, size[2];
    uint64_t u;
    float floats[4];
    int nfloats;
    int ints[3], nints;
} f_opts;

static const opt_spec table[] = {
    OPT_POS(f_opts, pos, "A", 2, "two positionals"),
    OPT_STR_ALIAS(f_opts, str, "str", 's', "S", "a string"),
    OPT_STRS(f_opts, strs, nstrs, "strs", 3, "S", "repeatable"),
    OPT_INT(f_opts, num, "num", -5, 5, "N", "a small integer"),
    OPT_SIZE(f_opts, size, "size", "HxW", "a size"),
    OPT_U64(f_opts, u, "u", "U", "an unsigned"),
    OPT_FLOATS(f_opts, floats, nfloats, "floats", 4, "F", "floats"),
    OPT_INTS(f_opts, ints, nints, "ints", 1, 9, 3, "I", "ints"),
    OPT_FLAG(f_opts, flag, "flag", "a flag"),
    OPT_END,
};

static int shape_entry(void *ctx, const char *name, const int64_t *dims, int rank) {
    (void)ctx;
    if (!name[0] || rank < 1 || rank > 4) abort();
    for (int d = 0; d < rank; d++)
        if (dims[d] < 1 || dims[d] > ((int64_t)1 << 31)) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    char **argv = malloc((size + 2) * sizeof *argv);
    if (!buf || !argv) abort();
    memcpy(buf, data, size);
    buf[size] = 0;
    int argc = 0;
    argv[argc++] = "fuzz";
    for (size_t i = 0; i <= size; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    char err[256] = "";
    for (int i = 1; i < argc; i++) {
        err[0] = 0;
        if (shape_list_parse(argv[i], 4, shape_entry, NULL, err, sizeof err) < 0 && !err[0]) abort();
    }
    err[0] = 0;
    f_opts o;
    memset(&o, 0, sizeof o);
    if (opts_parse(table, argc, argv, &o, err, sizeof err) != 0) {
        if (!err[0]) abort(); /* a refusal always says why */
    } else {
        if (o.nstrs < 0 || o.nstrs > 3 || o.nfloats < 0 || o.nfloats > 4 || o.nints < 0 || o.nints > 3) abort();
        if (o.num < -5 || o.num > 5) abort();
        if ((o.size[0] || o.size[1]) && (o.size[0] < 1 || o.size[1] < 1 || o.size[0] > 65536 || o.size[1] > 65536))
            abort();
        for (int i = 0; i < o.nints; i++)
            if (o.ints[i] < 1 || o.ints[i] > 9) abort();
    }
    free(argv);
    free(buf);
    return 0;
}
