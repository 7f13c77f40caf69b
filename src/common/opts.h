/* opts.h - table-driven option parsing (src/common): a command describes its options once, as rows of an opt_spec
 * table, and the same table parses argv into the command's own options struct and prints `tandem help CMD`. Options
 * are `--name value`, `--name=value`, flags `--name`, and one-letter aliases `-o value`; "--" ends the options.
 *
 * Adding an option is one row in the command's table (src/cli/cmd_*.c), written with the macros below:
 *     OPT_INT(bench_opts, threads, "threads", 1, 4096, "N", "worker threads (default 1)"),
 * names the struct and field it fills, the option's name, what it accepts, and its help line. Defaults are the
 * struct's values before parsing; what one row cannot express (options that exclude each other, a required option)
 * is checked by the command after opts_parse. Parsing prints nothing: a mistake is -1 with a sentence in err. */
#ifndef TANDEM_COMMON_OPTS_H
#define TANDEM_COMMON_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum opt_kind {
    OPTK_END = 0,  /* ends a table                                                                                 */
    OPTK_POS,      /* a positional argument: const char *; `max` of them at most (the rest is an error)            */
    OPTK_FLAG,     /* int, set to 1; "--flag=value" is an error                                                   */
    OPTK_STR,      /* const char * (points into argv); given twice, the last wins                                 */
    OPTK_STRS,     /* const char *[max], repeatable; the count goes to the int at n_off                           */
    OPTK_INT,      /* int64_t in [lo, hi]                                                                          */
    OPTK_U64,      /* uint64_t                                                                                     */
    OPTK_FLOATS,   /* "0.485,0.456,0.406": float[max], 1..max finite values; the count goes to the int at n_off   */
    OPTK_INTS,     /* "1,2,4": int[max], each in [lo, hi]; the count goes to the int at n_off                      */
    OPTK_SIZE,     /* "HxW": int64_t[2] = {H, W}, both in [1, 65536]                                               */
} opt_kind;

/* One row of a command's option table. */
typedef struct opt_spec {
    opt_kind kind;
    const char *name;   /* "threads" for --threads; for OPTK_POS, the argument's name in help ("MODEL")           */
    char alias;         /* 'o' accepts -o as well, or 0                                                            */
    size_t off;         /* offsetof(the command's options struct, the field that receives the value)              */
    size_t n_off;       /* OPTK_STRS, OPTK_FLOATS, OPTK_INTS: offsetof the int that receives the count           */
    int64_t lo, hi;     /* OPTK_INT, OPTK_INTS: the accepted range                                                */
    int max;            /* OPTK_POS, OPTK_STRS, OPTK_FLOATS, OPTK_INTS: most values                               */
    const char *arg;    /* the value's name in help ("N", "FILE", "R,G,B"); NULL for flags                        */
    const char *help;   /* the help text ('\n' starts a continuation line); NULL hides the option from help       */
} opt_spec;

/* Row makers: T is the options struct, f its field. */
#define OPT_POS(T, f, name, max, help) {OPTK_POS, name, 0, offsetof(T, f), 0, 0, 0, max, NULL, help}
#define OPT_FLAG(T, f, name, help) {OPTK_FLAG, name, 0, offsetof(T, f), 0, 0, 0, 0, NULL, help}
#define OPT_STR(T, f, name, arg, help) {OPTK_STR, name, 0, offsetof(T, f), 0, 0, 0, 0, arg, help}
#define OPT_STR_ALIAS(T, f, name, alias, arg, help) {OPTK_STR, name, alias, offsetof(T, f), 0, 0, 0, 0, arg, help}
#define OPT_STRS(T, f, n, name, max, arg, help) \
    {OPTK_STRS, name, 0, offsetof(T, f), offsetof(T, n), 0, 0, max, arg, help}
#define OPT_INT(T, f, name, lo, hi, arg, help) {OPTK_INT, name, 0, offsetof(T, f), 0, lo, hi, 0, arg, help}
#define OPT_U64(T, f, name, arg, help) {OPTK_U64, name, 0, offsetof(T, f), 0, 0, 0, 0, arg, help}
#define OPT_FLOATS(T, f, n, name, max, arg, help) \
    {OPTK_FLOATS, name, 0, offsetof(T, f), offsetof(T, n), 0, 0, max, arg, help}
#define OPT_INTS(T, f, n, name, lo, hi, max, arg, help) \
    {OPTK_INTS, name, 0, offsetof(T, f), offsetof(T, n), lo, hi, max, arg, help}
#define OPT_SIZE(T, f, name, arg, help) {OPTK_SIZE, name, 0, offsetof(T, f), 0, 0, 0, 0, arg, help}
#define OPT_END {OPTK_END, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL}

/* Parse argv[1..argc) (argv[0] is the command's name, used in messages) into opts, the struct the table's offsets
 * refer to. Returns 0, or -1 with the mistake in err: "bench: unknown option '--x' (try 'tandem help bench')",
 * "--threads: 'two' is not an integer", ... */
int opts_parse(const opt_spec *table, int argc, char **argv, void *opts, char *err, size_t errlen);

/* The table's options as help lines, "  -o, --output FILE  the ONNX file to write", aligned, hidden rows left out. */
void opts_print_help(const opt_spec *table, FILE *f);

#endif /* TANDEM_COMMON_OPTS_H */
