/* util.c - the clock, file reading and the seeded generator of src/common (see util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int err_set(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

double clock_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void clock_utc_stamp(char *buf, size_t cap) {
    time_t now = time(NULL);
    struct tm tmv;
    if (!gmtime_r(&now, &tmv) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tmv) == 0) snprintf(buf, cap, "?");
}

int file_check(const char *what, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (!path || !*path) return err_set(err, errlen, "no %s file given", what);
    if (stat(path, &st) != 0) return err_set(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return err_set(err, errlen, "cannot open %s '%s': it is a directory", what, path);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
    fclose(f);
    return 0;
}

int file_read(const char *what, const char *path, size_t max, char **data_out, size_t *size_out, char *err,
              size_t errlen) {
    *data_out = NULL;
    *size_out = 0;
    if (file_check(what, path, err, errlen) != 0) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    const char *why = buf ? NULL : "out of memory";
    while (!why) {
        if (n == cap) {
            if (cap >= max) {
                why = "too large";
                break;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                why = "out of memory";
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (!why && ferror(f)) why = "read error";
    fclose(f);
    if (why) {
        free(buf);
        if (why[0] == 't') return err_set(err, errlen, "%s '%s' is too large (more than %zu bytes)", what, path, max);
        if (why[0] == 'o') return err_set(err, errlen, "out of memory reading %s '%s'", what, path);
        return err_set(err, errlen, "cannot read %s '%s'", what, path);
    }
    buf[n] = 0;
    *data_out = buf;
    *size_out = n;
    return 0;
}

uint64_t rng_next(rng_state *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform(rng_state *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

int shape_list_parse(const char *list, int max_rank,
                     int (*fn)(void *ctx, const char *name, const int64_t *dims, int rank), void *ctx, char *err,
                     size_t errlen) {
    char buf[2048];
    if (strlen(list) >= sizeof buf) return err_set(err, errlen, "--shape: the list is too long");
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) return err_set(err, errlen, "--shape '%s' is not NAME=1x3x224x224", tok);
        *eq = 0;
        int64_t dims[16];
        int r = 0;
        for (char *d = eq + 1;;) {
            char *end;
            errno = 0;
            long long v = strtoll(d, &end, 10);
            if (end == d || errno || v < 1 || v > (1LL << 31) || r == max_rank || r == 16 || (*end && *end != 'x'))
                return err_set(err, errlen, "--shape %s=%s: at most %d positive integers joined by x", tok, eq + 1,
                               max_rank);
            dims[r++] = v;
            if (!*end) break;
            d = end + 1;
        }
        int rc = fn(ctx, tok, dims, r);
        if (rc) return rc;
    }
    return 0;
}
