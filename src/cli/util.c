/* util.c - helpers shared by the CLI commands: option parsing with the command's table, file checks that print, model
 * loading, shape formatting and labels files. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int cli_parse(const cli_command *c, int argc, char **argv, void *opts) {
    char err[512];
    if (opts_parse(c->options, argc, argv, opts, err, sizeof err) != 0) return cli_usage_error("%s", err);
    return CLI_OK;
}

/* ---- files, models ---- */

int cli_check_file(const char *what, const char *path) {
    char err[1024];
    if (file_check(what, path, err, sizeof err) != 0) return cli_error("%s", err);
    return CLI_OK;
}

int cli_load_model(const char *path, tdm_model **model_out, double *load_ms) {
    *model_out = NULL;
    if (cli_check_file("model", path) != CLI_OK) return CLI_ERR;
    double t0 = clock_now_ms();
    tdm_status st = tdm_model_load_file(path, NULL, model_out);
    double t1 = clock_now_ms();
    if (st != TDM_OK) {
        tdm_model_free(*model_out); /* the API sets it to NULL on failure; free(NULL) is harmless either way */
        *model_out = NULL;
        char what[512];
        snprintf(what, sizeof what, "cannot load model '%s'", path);
        return cli_engine_error(st, what);
    }
    if (load_ms) *load_ms = t1 - t0;
    return CLI_OK;
}

const char *cli_dtype_str(tdm_dtype t) {
    switch (t) {
    case TDM_FLOAT: return "float32";
    case TDM_UINT8: return "uint8";
    case TDM_INT8: return "int8";
    case TDM_UINT16: return "uint16";
    case TDM_INT16: return "int16";
    case TDM_INT32: return "int32";
    case TDM_INT64: return "int64";
    case TDM_STRING: return "string";
    case TDM_BOOL: return "bool";
    case TDM_FLOAT16: return "float16";
    case TDM_DOUBLE: return "float64";
    case TDM_UINT32: return "uint32";
    case TDM_UINT64: return "uint64";
    default: return "undefined";
    }
}

const char *cli_shape_str(const tdm_tensor_info *info, char *buf, size_t cap) {
    size_t n = 0;
    int rank = info->rank < 0 ? 0 : info->rank > TDM_MAX_RANK ? TDM_MAX_RANK : info->rank;
    if (cap == 0) return buf;
    buf[0] = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < rank && n < cap; i++) {
        const char *sep = i ? ", " : "";
        if (info->dims[i] < 0) {
            const char *p = info->dim_param[i];
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep, p && *p ? p : "?");
        } else {
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", sep, (long long)info->dims[i]);
        }
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

int cli_read_file(const char *what, const char *path, size_t max, char **data_out, size_t *size_out) {
    char err[1024];
    if (file_read(what, path, max, data_out, size_out, err, sizeof err) != 0) return cli_error("%s", err);
    return CLI_OK;
}

int cli_labels_load(const char *path, cli_labels *out) {
    memset(out, 0, sizeof *out);
    size_t size;
    if (cli_read_file("labels", path, (size_t)64 << 20, &out->text, &size) != CLI_OK) return CLI_ERR;
    int lines = 1;
    for (size_t i = 0; i < size; i++) lines += out->text[i] == '\n';
    out->line = calloc((size_t)lines, sizeof *out->line);
    if (!out->line) {
        cli_labels_free(out);
        return cli_error("out of memory reading labels '%s'", path);
    }
    char *p = out->text, *end = out->text + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        *e = 0;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        out->line[out->count++] = p;
        p = e + 1;
    }
    return CLI_OK;
}

void cli_labels_free(cli_labels *l) {
    free(l->line);
    free(l->text);
    memset(l, 0, sizeof *l);
}
