/* opts.c - the table-driven option parser of src/common (see opts.h): one scan over argv, each option looked up in
 * the command's table and its value parsed strictly (the whole string, in range) into the command's struct. */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FIELD(opts, off, type) ((type *)(void *)((char *)(opts) + (off)))

/* ---- values ---- */

static int parse_int(const opt_spec *o, const char *s, int64_t *out, char *err, size_t errlen) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return err_set(err, errlen, "--%s: '%s' is not an integer", o->name, s);
    if (v < o->lo || v > o->hi)
        return err_set(err, errlen, "--%s: %lld is out of range [%lld, %lld]", o->name, v, (long long)o->lo,
                       (long long)o->hi);
    *out = v;
    return 0;
}

static int parse_u64(const opt_spec *o, const char *s, uint64_t *out, char *err, size_t errlen) {
    char *end;
    errno = 0;
    unsigned long long v = *s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (!*s || *s == '-' || *end || errno)
        return err_set(err, errlen, "--%s: '%s' is not a non-negative integer", o->name, s);
    *out = v;
    return 0;
}

static int parse_floats(const opt_spec *o, const char *s, float *out, int *n_out, char *err, size_t errlen) {
    int n = 0;
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || (*end && *end != ','))
            return err_set(err, errlen, "--%s: '%s' is not a comma-separated list of numbers", o->name, s);
        if (n >= o->max) return err_set(err, errlen, "--%s: more than %d values in '%s'", o->name, o->max, s);
        out[n++] = (float)v;
        if (!*end) break;
        p = end + 1;
    }
    *n_out = n;
    return 0;
}

static int parse_ints(const opt_spec *o, const char *s, int *out, int *n_out, char *err, size_t errlen) {
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < o->lo || x > o->hi || n == o->max || (*end && *end != ','))
            return err_set(err, errlen, "--%s wants up to %d comma-separated integers in [%lld, %lld]", o->name,
                           o->max, (long long)o->lo, (long long)o->hi);
        out[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (n == 0) return err_set(err, errlen, "--%s: no value in '%s'", o->name, s);
    *n_out = n;
    return 0;
}

static int parse_size(const opt_spec *o, const char *s, int64_t *hw, char *err, size_t errlen) {
    char *end;
    errno = 0;
    long long a = strtoll(s, &end, 10), b = 0;
    int ok = end != s && !errno && (*end == 'x' || *end == 'X');
    if (ok) {
        const char *p = end + 1;
        b = strtoll(p, &end, 10);
        ok = end != p && !errno && !*end && a >= 1 && b >= 1 && a <= 65536 && b <= 65536;
    }
    if (!ok) return err_set(err, errlen, "--%s: '%s' is not a size HxW (e.g. 32x32)", o->name, s);
    hw[0] = a;
    hw[1] = b;
    return 0;
}

/* Store the value of option o of command cmd (v is NULL for a flag). */
static int opt_store(const char *cmd, const opt_spec *o, const char *v, void *opts, char *err, size_t errlen) {
    void *dst = FIELD(opts, o->off, char);
    switch (o->kind) {
    case OPTK_FLAG: *(int *)dst = 1; return 0;
    case OPTK_STR: *(const char **)dst = v; return 0;
    case OPTK_STRS: {
        int *n = FIELD(opts, o->n_off, int);
        if (*n >= o->max) return err_set(err, errlen, "%s: more than %d --%s", cmd, o->max, o->name);
        ((const char **)dst)[(*n)++] = v;
        return 0;
    }
    case OPTK_INT: return parse_int(o, v, (int64_t *)dst, err, errlen);
    case OPTK_U64: return parse_u64(o, v, (uint64_t *)dst, err, errlen);
    case OPTK_FLOATS: return parse_floats(o, v, (float *)dst, FIELD(opts, o->n_off, int), err, errlen);
    case OPTK_INTS: return parse_ints(o, v, (int *)dst, FIELD(opts, o->n_off, int), err, errlen);
    case OPTK_SIZE: return parse_size(o, v, (int64_t *)dst, err, errlen);
    default: return err_set(err, errlen, "--%s: bad option table", o->name);
    }
}

/* ---- argv ---- */

/* The row for "--name" (long 1) or "-c" (long 0), or NULL. */
static const opt_spec *opt_find(const opt_spec *t, const char *name, size_t len, int is_long) {
    for (; t->kind != OPTK_END; t++) {
        if (t->kind == OPTK_POS) continue;
        if (is_long && strlen(t->name) == len && strncmp(t->name, name, len) == 0) return t;
        if (!is_long && len == 1 && t->alias && t->alias == name[0]) return t;
    }
    return NULL;
}

/* A positional argument into the next OPTK_POS row with room. */
static int opt_positional(const opt_spec *t, const char *cmd, const char *arg, void *opts, char *err, size_t errlen) {
    const opt_spec *last = NULL;
    for (; t->kind != OPTK_END; t++) {
        if (t->kind != OPTK_POS) continue;
        const char **dst = FIELD(opts, t->off, const char *);
        for (int k = 0; k < t->max; k++)
            if (!dst[k]) {
                dst[k] = arg;
                return 0;
            }
        last = t;
    }
    if (last && last->max == 1)
        return err_set(err, errlen, "%s: more than one %s given ('%s' and '%s')", cmd, last->name,
                       *FIELD(opts, last->off, const char *), arg);
    return err_set(err, errlen, "%s: unexpected argument '%s'", cmd, arg);
}

int opts_parse(const opt_spec *table, int argc, char **argv, void *opts, char *err, size_t errlen) {
    const char *cmd = argc > 0 ? argv[0] : "";
    int rest_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (rest_positional || s[0] != '-' || !s[1] || (s[1] >= '0' && s[1] <= '9')) { /* "-5" is a value */
            if (opt_positional(table, cmd, s, opts, err, errlen)) return -1;
            continue;
        }
        if (strcmp(s, "--") == 0) { /* everything after "--" is positional */
            rest_positional = 1;
            continue;
        }
        int is_long = s[1] == '-';
        const char *name = s + 1 + is_long, *eq = is_long ? strchr(name, '=') : NULL;
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_spec *o = opt_find(table, name, len, is_long);
        if (!o)
            return err_set(err, errlen, "%s: unknown option '%.*s' (try 'tandem help %s')", cmd,
                           (int)(name - s + (ptrdiff_t)len), s, cmd);
        const char *v = eq ? eq + 1 : NULL;
        if (o->kind == OPTK_FLAG) {
            if (v) return err_set(err, errlen, "%s: option --%s takes no value", cmd, o->name);
        } else if (!v) {
            if (i + 1 >= argc) return err_set(err, errlen, "%s: option --%s needs a value", cmd, o->name);
            v = argv[++i];
        }
        if (opt_store(cmd, o, v, opts, err, errlen)) return -1;
    }
    return 0;
}

/* ---- help ---- */

void opts_print_help(const opt_spec *t, FILE *f) {
    for (; t->kind != OPTK_END; t++) {
        if (!t->help || t->kind == OPTK_POS) continue;
        char left[96];
        int n = t->alias ? snprintf(left, sizeof left, "-%c, --%s", t->alias, t->name)
                         : snprintf(left, sizeof left, "--%s", t->name);
        if (t->arg && n < (int)sizeof left) snprintf(left + n, sizeof left - (size_t)n, " %s", t->arg);
        fprintf(f, "  %-16s  ", left);
        for (const char *h = t->help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "%20s", "");
        }
        fputc('\n', f);
    }
}
