/* util.c - helpers shared by the CLI commands: option scanning, strict number parsing, file checks that print, model
 * loading, shape formatting and labels files. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- option scanning ---- */

void cli_args_init(cli_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->cmd = argc > 0 ? argv[0] : "";
    a->i = 1;
}

int cli_next_arg(cli_args *a, const char **opt, const char **pos) {
    static char name[64];
    *opt = NULL;
    *pos = NULL;
    a->inline_val = NULL;
    if (a->i >= a->argc) return 0;
    const char *s = a->argv[a->i++];
    if (a->rest_positional) {
        *pos = s;
        return 1;
    }
    if (strcmp(s, "--") == 0) { /* everything after "--" is positional */
        a->rest_positional = 1;
        if (a->i >= a->argc) return 0;
        *pos = a->argv[a->i++];
        return 1;
    }
    if (s[0] == '-' && s[1] == '-' && s[2]) {
        const char *eq = strchr(s + 2, '=');
        size_t n = eq ? (size_t)(eq - (s + 2)) : strlen(s + 2);
        if (n >= sizeof name) n = sizeof name - 1;
        memcpy(name, s + 2, n);
        name[n] = 0;
        if (eq) a->inline_val = eq + 1;
        *opt = name;
        return 1;
    }
    if (s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9')) {
        /* Short options are not used; report "-x" as unknown by giving its full text as the name. */
        snprintf(name, sizeof name, "%s", s);
        *opt = name;
        return 1;
    }
    *pos = s;
    return 1;
}

const char *cli_opt_value(cli_args *a, const char *opt) {
    if (a->inline_val) return a->inline_val;
    if (a->i >= a->argc) {
        cli_usage_error("%s: option --%s needs a value", a->cmd, opt);
        return NULL;
    }
    return a->argv[a->i++];
}

int cli_opt_flag(cli_args *a, const char *opt) {
    if (a->inline_val) {
        cli_usage_error("%s: option --%s takes no value", a->cmd, opt);
        return 0;
    }
    return 1;
}

/* ---- numbers ---- */

int cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        cli_usage_error("--%s: '%s' is not an integer", opt, s);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_usage_error("--%s: %lld is out of range [%lld, %lld]", opt, v, (long long)lo, (long long)hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!*s || *s == '-') {
        cli_usage_error("--%s: '%s' is not a non-negative integer", opt, s);
        return 0;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) {
        cli_usage_error("--%s: '%s' is not a non-negative integer", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_floats(const char *opt, const char *s, float *out, int max, int *n_out) {
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || (*end && *end != ',')) {
            cli_usage_error("--%s: '%s' is not a comma-separated list of numbers", opt, s);
            return 0;
        }
        if (n >= max) {
            cli_usage_error("--%s: more than %d values in '%s'", opt, max, s);
            return 0;
        }
        out[n++] = (float)v;
        if (!*end) break;
        p = end + 1;
    }
    *n_out = n;
    return 1;
}

int cli_parse_size(const char *opt, const char *s, int64_t *h, int64_t *w) {
    char *end;
    errno = 0;
    long long a = strtoll(s, &end, 10);
    if (end == s || errno || (*end != 'x' && *end != 'X')) goto bad;
    const char *p = end + 1;
    long long b = strtoll(p, &end, 10);
    if (end == p || errno || *end) goto bad;
    if (a < 1 || b < 1 || a > 65536 || b > 65536) goto bad;
    *h = a;
    *w = b;
    return 1;
bad:
    cli_usage_error("--%s: '%s' is not a size HxW (e.g. 32x32)", opt, s);
    return 0;
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
