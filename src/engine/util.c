/* util.c - allocation through the injectable allocator, the thread-local error message, and the small helpers that
 * every op uses (attributes, constant integer inputs, broadcasting). */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#endif
#include <stdio.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "internal.h"

/* ---- allocation ---------------------------------------------------------------------------------------------- */

void *tdm_realloc(const tdm_alloc *a, void *p, size_t size) {
    if (a && a->fn) return a->fn(a->user, p, size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, size);
}

void *tdm_malloc(const tdm_alloc *a, size_t size) { return size ? tdm_realloc(a, NULL, size) : NULL; }

void *tdm_calloc(const tdm_alloc *a, size_t n, size_t size) {
    if (n == 0 || size == 0) return NULL;
    if (n > SIZE_MAX / size) return NULL;
    void *p = tdm_realloc(a, NULL, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void tdm_free(const tdm_alloc *a, void *p) {
    if (p) tdm_realloc(a, p, 0);
}

char *tdm_strdup(const tdm_alloc *a, const char *s, size_t len) {
    char *d = tdm_realloc(a, NULL, len + 1);
    if (!d) return NULL;
    if (len) memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* Aligned blocks keep the offset to the real start in the word just before the returned pointer. */
/* Blocks of 4 MiB and more (weights, their transformed forms, arenas) are aligned to 2 MiB and, on Linux, asked for
 * transparent huge pages: a model's load fills a few hundred MB of fresh memory, and one fault per 4 KiB page (costly
 * under a hypervisor) took a third of ResNet-50's load; 2 MiB pages also spare the TLB when the weights stream. */
#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define TDM_HUGE ((size_t)2 << 20)
#endif

void *tdm_malloc_aligned(const tdm_alloc *a, size_t size) {
    size_t align = TDM_ALIGN;
#ifdef TDM_HUGE
    if (size >= 2 * TDM_HUGE) align = TDM_HUGE;
#endif
    if (size > SIZE_MAX - align - sizeof(void *)) return NULL;
    char *raw = tdm_realloc(a, NULL, size + align + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t p = ((uintptr_t)raw + sizeof(void *) + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)p)[-1] = raw;
#ifdef TDM_HUGE
    if (align == TDM_HUGE) (void)madvise((void *)p, size & ~(TDM_HUGE - 1), MADV_HUGEPAGE); /* a hint: may be ignored */
#endif
    return (void *)p;
}

void tdm_pages_drop(const void *p, size_t len) {
#if defined(__linux__) && defined(MADV_DONTNEED)
    /* MADV_DONTNEED, not posix_madvise: glibc makes POSIX_MADV_DONTNEED a no-op */
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!p || page == 0 || (page & (page - 1))) return;
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + len) & ~(page - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
#else
    (void)p, (void)len;
#endif
}

void tdm_free_aligned(const tdm_alloc *a, void *p) {
    if (p) tdm_free(a, ((void **)p)[-1]);
}

/* ---- errors ---------------------------------------------------------------------------------------------------- */

static _Thread_local char err_buf[512];

const char *tdm_last_error(void) { return err_buf[0] ? err_buf : "no error"; }

tdm_status tdm_verror(tdm_status st, const char *fmt, va_list ap) {
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    return st;
}

tdm_status tdm_error(tdm_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tdm_verror(st, fmt, ap);
    va_end(ap);
    return st;
}

tdm_status tdm_node_error(const tdm_node *n, tdm_status st, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tdm_error(st, "%s '%s': %s", n->op_type ? n->op_type : "?", n->name ? n->name : "", msg);
}

const char *tdm_status_name(tdm_status s) {
    switch (s) {
    case TDM_OK: return "ok";
    case TDM_INVALID_ARGUMENT: return "invalid argument";
    case TDM_INVALID_MODEL: return "invalid model";
    case TDM_UNSUPPORTED: return "unsupported";
    case TDM_SHAPE_MISMATCH: return "shape mismatch";
    case TDM_OUT_OF_MEMORY: return "out of memory";
    case TDM_IO_ERROR: return "i/o error";
    case TDM_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *tdm_dtype_name(tdm_dtype t) {
    static const char *names[] = {"undefined", "float32", "uint8",   "int8",    "uint16", "int16",  "int32",
                                  "int64",     "string",  "bool",    "float16", "float64", "uint32", "uint64"};
    if ((unsigned)t < sizeof names / sizeof names[0]) return names[t];
    switch ((int)t) {
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    }
    return "unknown";
}

size_t tdm_dtype_size(tdm_dtype t) {
    switch (t) {
    case TDM_FLOAT: case TDM_INT32: case TDM_UINT32: return 4;
    case TDM_UINT8: case TDM_INT8: case TDM_BOOL: return 1;
    case TDM_UINT16: case TDM_INT16: case TDM_FLOAT16: return 2;
    case TDM_INT64: case TDM_DOUBLE: case TDM_UINT64: return 8;
    default: return 0;
    }
}

/* ---- attributes ------------------------------------------------------------------------------------------------ */

const tdm_attr *tdm_attr_find(const tdm_node *n, const char *name) {
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attr[i].name, name) == 0) return &n->attr[i];
    return NULL;
}

tdm_status tdm_attr_int(const tdm_node *n, const char *name, int64_t def, int64_t *out) {
    const tdm_attr *a = tdm_attr_find(n, name);
    *out = def;
    if (!a) return TDM_OK;
    if (a->type != TDM_ATTR_INT) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute '%s' must be an int", name);
    *out = a->i;
    return TDM_OK;
}

tdm_status tdm_attr_float(const tdm_node *n, const char *name, float def, float *out) {
    const tdm_attr *a = tdm_attr_find(n, name);
    *out = def;
    if (!a) return TDM_OK;
    if (a->type == TDM_ATTR_INT) { /* some exporters write integral floats as ints */
        *out = (float)a->i;
        return TDM_OK;
    }
    if (a->type != TDM_ATTR_FLOAT) return tdm_node_error(n, TDM_INVALID_MODEL, "attribute '%s' must be a float", name);
    *out = a->f;
    return TDM_OK;
}

tdm_status tdm_attr_ints(const tdm_node *n, const char *name, int64_t *out, int max, int *count) {
    const tdm_attr *a = tdm_attr_find(n, name);
    *count = 0;
    if (!a) return TDM_OK;
    if (a->type != TDM_ATTR_INTS && a->type != TDM_ATTR_INT)
        return tdm_node_error(n, TDM_INVALID_MODEL, "attribute '%s' must be a list of ints", name);
    if (a->type == TDM_ATTR_INT) {
        if (max < 1) return tdm_node_error(n, TDM_UNSUPPORTED, "attribute '%s' has too many values", name);
        out[0] = a->i;
        *count = 1;
        return TDM_OK;
    }
    if (a->n > max)
        return tdm_node_error(n, TDM_UNSUPPORTED, "attribute '%s' has %d values, at most %d supported", name, a->n,
                              max);
    if (a->n) memcpy(out, a->ints, (size_t)a->n * sizeof(int64_t));
    *count = a->n;
    return TDM_OK;
}

tdm_status tdm_attr_string(const tdm_node *n, const char *name, const char *def, const char **out) {
    const tdm_attr *a = tdm_attr_find(n, name);
    *out = def;
    if (!a) return TDM_OK;
    if (a->type != TDM_ATTR_STRING)
        return tdm_node_error(n, TDM_INVALID_MODEL, "attribute '%s' must be a string", name);
    *out = a->s;
    return TDM_OK;
}

tdm_status tdm_attr_ints_min(const tdm_node *n, const char *name, int64_t *out, int max, int *count, int64_t lo) {
    const tdm_attr *a = tdm_attr_find(n, name);
    if (a && a->type == TDM_ATTR_INTS && a->n > max)
        return tdm_node_error(n, TDM_UNSUPPORTED, "attribute %s has %d entries; at most %d spatial dims are supported",
                              name, a->n, max);
    tdm_status st = tdm_attr_ints(n, name, out, max, count);
    if (st) return st;
    for (int i = 0; i < *count; i++)
        if (out[i] < lo)
            return tdm_node_error(n, TDM_INVALID_MODEL, "attribute %s[%d] = %lld, must be >= %lld", name, i,
                                  (long long)out[i], (long long)lo);
    return TDM_OK;
}

tdm_status tdm_attr_auto_pad(const tdm_node *n, int *out) {
    const char *s;
    tdm_status st = tdm_attr_string(n, "auto_pad", "NOTSET", &s);
    if (st) return st;
    if (strcmp(s, "NOTSET") == 0) *out = TDM_AUTO_PAD_NOTSET;
    else if (strcmp(s, "SAME_UPPER") == 0) *out = TDM_AUTO_PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0) *out = TDM_AUTO_PAD_SAME_LOWER;
    else if (strcmp(s, "VALID") == 0) *out = TDM_AUTO_PAD_VALID;
    else return tdm_node_error(n, TDM_INVALID_MODEL, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", s);
    return TDM_OK;
}

void tdm_same_pad(int64_t in, int64_t stride, int64_t dk, int upper, int64_t *out, int64_t *pad_begin,
                  int64_t *pad_end) {
    *out = (in + stride - 1) / stride;
    int64_t total = (*out - 1) * stride + dk - in;
    if (total < 0) total = 0;
    *pad_begin = upper ? total / 2 : total - total / 2;
    *pad_end = total - *pad_begin;
}

void tdm_valid_range(int64_t start, int64_t step, int64_t n, int64_t in, int64_t *lo, int64_t *hi) {
    int64_t l = start >= 0 ? 0 : (-start + step - 1) / step;
    int64_t h = in - 1 - start >= 0 ? (in - 1 - start) / step + 1 : 0;
    if (h > n) h = n;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* params live with the model; the model frees them when it frees its nodes. */
void *tdm_node_params(tdm_ctx *c, tdm_node *n, size_t size) {
    if (n->params) tdm_free(c->alloc, n->params);
    n->params = tdm_calloc(c->alloc, 1, size ? size : 1);
    return n->params;
}

void tdm_set_shape(tdm_value *v, tdm_dtype dt, int rank, const int64_t *dims) {
    v->dtype = dt;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
}

tdm_status tdm_const_ints(const tdm_node *n, const tdm_value *v, int64_t *out, int max, int *count) {
    if (!tdm_is_const(v) || (!v->data && tdm_numel(v) > 0))
        return tdm_node_error(n, TDM_UNSUPPORTED, "input '%s' must be constant (data-dependent shapes are not supported)",
                              v ? v->name : "?");
    if (v->dtype != TDM_INT64 && v->dtype != TDM_INT32)
        return tdm_node_error(n, TDM_INVALID_MODEL, "input '%s' must be int64 or int32, not %s", v->name,
                              tdm_dtype_name(v->dtype));
    int64_t k = tdm_numel(v);
    if (k > max) return tdm_node_error(n, TDM_UNSUPPORTED, "input '%s' has %lld values, at most %d supported", v->name,
                                       (long long)k, max);
    for (int64_t i = 0; i < k; i++)
        out[i] = v->dtype == TDM_INT64 ? ((const int64_t *)v->data)[i] : ((const int32_t *)v->data)[i];
    *count = (int)k;
    return TDM_OK;
}

tdm_status tdm_broadcast_shape(const tdm_node *n, int ra, const int64_t *da, int rb, const int64_t *db, int *rank_out,
                               int64_t *dims_out) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t a = i - (r - ra) >= 0 ? da[i - (r - ra)] : 1;
        int64_t b = i - (r - rb) >= 0 ? db[i - (r - rb)] : 1;
        if (a == b || b == 1) dims_out[i] = a;
        else if (a == 1) dims_out[i] = b;
        else
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "cannot broadcast dimension %d: %lld against %lld", i,
                                  (long long)a, (long long)b);
    }
    *rank_out = r;
    return TDM_OK;
}
