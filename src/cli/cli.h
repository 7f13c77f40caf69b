/* cli.h - shared declarations of the `tandem` command-line tool: the command rows, error reporting, and the helpers
 * the commands share. The CLI sits on top: it uses the public API (tandem.h), the shared layer (src/common) and the
 * server's and the study's own headers; nothing below includes this header. */
#ifndef TANDEM_CLI_H
#define TANDEM_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tandem.h"
#include "../common/opts.h"
#include "../common/util.h"

/* Exit codes: 0 success, 1 runtime error (bad model, bad input, engine failure), 2 usage error. */
enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

/* One subcommand, as its cmd_<name>.c file defines it (`const cli_command cli_cmd_<name> = {...}`). The same row
 * drives the command list of `tandem help`, the command's own help and, through `options`, its parsing. */
typedef struct cli_command {
    const char *name;
    /* argv[0] is the command's name; returns the process exit code. self is this row (for cli_parse). */
    int (*run)(const struct cli_command *self, int argc, char **argv);
    const opt_spec *options; /* the option table: parsing and `tandem help NAME` (src/common/opts.h)     */
    const char *synopsis;    /* "info MODEL [--json] | info --ops [--json]"                                */
    const char *summary;     /* one line for the command list                                              */
} cli_command;

/* The commands, one per cmd_*.c file; main.c lists them. */
extern const cli_command cli_cmd_info, cli_cmd_run, cli_cmd_eval, cli_cmd_bench, cli_cmd_study, cli_cmd_serve,
    cli_cmd_export_image, cli_cmd_zoo, cli_cmd_worker;

/* Parse argv into opts with the command's option table. CLI_OK, or CLI_USAGE after printing the mistake. */
int cli_parse(const cli_command *c, int argc, char **argv, void *opts);

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
