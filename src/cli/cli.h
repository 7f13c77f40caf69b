/* cli.h - shared declarations of the `tandem` command-line tool: the command table, error reporting, option parsing
 * helpers and input preparation. The CLI sits on top: it uses the public API (tandem.h), the shared layer
 * (src/common) and the server's and the study's own headers; nothing includes this header from below. */
#ifndef TANDEM_CLI_H
#define TANDEM_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tandem.h"
#include "../common/util.h"

/* Exit codes: 0 success, 1 runtime error (bad model, bad input, engine failure), 2 usage error. */
enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

/* One subcommand. run() gets argv with argv[0] = the command name and returns the process exit code. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;   /* "info MODEL [--json]" */
    const char *summary;    /* one line for the command list */
    const char *help;       /* the options, one per line, printed by `tandem help CMD` (may be NULL) */
} cli_command;

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export_image(int argc, char **argv);
int cmd_zoo(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_study(int argc, char **argv);

/* ---- errors (main.c) ---- */

/* Print "tandem: <message>" as one line on stderr (newlines and control characters in the message become spaces)
 * and return CLI_ERR, so a command can `return cli_error(...)`. */
int cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* The same for usage mistakes; returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Report an engine failure: "tandem: <what>: <tdm_last_error()>" (or the status name if the engine gave no message).
 * Returns CLI_ERR. */
int cli_engine_error(tdm_status st, const char *what);
/* Print the usage of command `name` (or of the whole tool when NULL) to f. */
void cli_print_usage(FILE *f, const char *name);

/* ---- option parsing (util.c) ---- */

/* A tiny getopt-long: options are `--name value`, `--name=value` or flags `--name`. Each command scans argv with
 * cli_next_opt and looks the option up itself, so unknown options are reported by name. */
typedef struct cli_args {
    int argc, i;
    char **argv;
    const char *cmd;        /* for messages */
    const char *inline_val; /* the part after '=' of the current option, or NULL */
    int rest_positional;    /* "--" was seen */
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv);
/* Advance to the next argument. Returns 1 with *opt set to the option name (without "--", and without "=value") or
 * *opt = NULL and *pos set to a positional argument; returns 0 at the end. "--" ends option parsing. */
int cli_next_arg(cli_args *a, const char **opt, const char **pos);
/* The value of the current option (inline or the next argument); NULL after printing a usage error if absent. */
const char *cli_opt_value(cli_args *a, const char *opt);
/* Reject "--flag=value" for options that take no value: returns 0 after printing a usage error. */
int cli_opt_flag(cli_args *a, const char *opt);

/* Strict number parsing: the whole string must be a number in [lo, hi]. Return 0 after printing a usage error
 * naming the option. */
int cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
int cli_parse_u64(const char *opt, const char *s, uint64_t *out);
/* A comma-separated list of 1..max finite floats ("0.485,0.456,0.406"). *n_out receives the count. */
int cli_parse_floats(const char *opt, const char *s, float *out, int max, int *n_out);
/* "HxW" with both in [1, 65536]. */
int cli_parse_size(const char *opt, const char *s, int64_t *h, int64_t *w);

/* ---- helpers (util.c) ---- */

/* Check that path names a readable regular file before handing it to the engine, so a missing file gets a clear
 * message ("cannot open model 'x': No such file or directory"). Returns CLI_OK or CLI_ERR (after printing). */
int cli_check_file(const char *what, const char *path);
/* Load a model with a clear error on failure; *load_ms (may be NULL) receives the load time. */
int cli_load_model(const char *path, tdm_model **model_out, double *load_ms);
/* "float32", "int64", ... (the numpy spelling, shorter than ONNX's). */
const char *cli_dtype_str(tdm_dtype t);
/* Format a shape like "[N, 3, 32, 32]" into buf (symbolic dims by name, "?" when unnamed). */
const char *cli_shape_str(const tdm_tensor_info *info, char *buf, size_t cap);
/* Read a whole small file (at most max bytes) into a malloc'd buffer (NUL-terminated). CLI_OK or CLI_ERR (after
 * printing). */
int cli_read_file(const char *what, const char *path, size_t max, char **data_out, size_t *size_out);

/* Labels file: one label per line. */
typedef struct cli_labels {
    char *text;
    char **line;
    int count;
} cli_labels;
int cli_labels_load(const char *path, cli_labels *out);
void cli_labels_free(cli_labels *l);

#endif /* TANDEM_CLI_H */
