/* testutil.h - helpers shared by the test programs: directory listing, TensorProto comparison, result counting. */
#ifndef TDM_TESTUTIL_H
#define TDM_TESTUTIL_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tandem.h"

static int tu_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir that start with prefix (NULL: all but dot entries). Caller frees each and the array. */
static char **tu_list(const char *dir, const char *prefix, int *count) {
    DIR *d = opendir(dir);
    *count = 0;
    if (!d) return NULL;
    char **names = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, (size_t)cap * sizeof *names);
        }
        names[(*count)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*count) qsort(names, (size_t)*count, sizeof *names, tu_cmp_str);
    return names;
}

static void tu_free_list(char **names, int count) {
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

static int tu_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Compare got (info + data) with the expected tensor: shape, dtype, then values within atol + rtol*|want| for
 * floats (NaN equals NaN), exactly for the rest. On mismatch writes a reason into why and returns 0. When worst is
 * not NULL it receives the largest |got - want| / (atol + rtol*|want|) over the float elements: the share of the
 * tolerance used (below 1 passes). */
static inline int tu_compare_worst(const tdm_tensor_info *gi, const void *got, const tdm_tensor *want, double rtol,
                                   double atol, char *why, size_t why_len, double *worst) {
    if (worst) *worst = 0;
    if (gi->dtype != want->dtype) {
        snprintf(why, why_len, "dtype %s, expected %s", tdm_dtype_name(gi->dtype), tdm_dtype_name(want->dtype));
        return 0;
    }
    int same = gi->rank == want->rank;
    for (int i = 0; same && i < gi->rank; i++) same = gi->dims[i] == want->dims[i];
    if (!same) {
        char a[128] = "", b[128] = "";
        for (int i = 0; i < gi->rank; i++) snprintf(a + strlen(a), sizeof a - strlen(a), "%lld,", (long long)gi->dims[i]);
        for (int i = 0; i < want->rank; i++)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%lld,", (long long)want->dims[i]);
        snprintf(why, why_len, "shape [%s], expected [%s]", a, b);
        return 0;
    }
    int64_t n = tdm_tensor_numel(want);
    for (int64_t i = 0; i < n; i++) {
        double g, w;
        switch (want->dtype) {
        case TDM_FLOAT: g = ((const float *)got)[i], w = ((const float *)want->data)[i]; break;
        case TDM_DOUBLE: g = ((const double *)got)[i], w = ((const double *)want->data)[i]; break;
        default: {
            size_t es = tdm_dtype_size(want->dtype);
            if (memcmp((const char *)got + i * es, (const char *)want->data + i * es, es) != 0) {
                snprintf(why, why_len, "element %lld differs (exact compare of %s)", (long long)i,
                         tdm_dtype_name(want->dtype));
                return 0;
            }
            continue;
        }
        }
        if (isnan(w) && isnan(g)) continue;
        if (isinf(w) && g == w) continue;
        if (worst && fabs(g - w) / (atol + rtol * fabs(w)) > *worst) *worst = fabs(g - w) / (atol + rtol * fabs(w));
        if (!(fabs(g - w) <= atol + rtol * fabs(w))) {
            snprintf(why, why_len, "element %lld: got %.8g, expected %.8g", (long long)i, g, w);
            return 0;
        }
    }
    return 1;
}

static inline int tu_compare(const tdm_tensor_info *gi, const void *got, const tdm_tensor *want, double rtol, double atol,
                      char *why, size_t why_len) {
    return tu_compare_worst(gi, got, want, rtol, atol, why, why_len, NULL);
}

#endif
