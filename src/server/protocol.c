/* protocol.c - the Open Inference Protocol (KServe v2) request parser and response writer, with Triton's binary tensor
 * data extension: a JSON header of Inference-Header-Content-Length bytes followed by raw little-endian tensors for
 * the inputs that carry parameters.binary_data_size, and binary outputs on parameters.binary_data (per output) or
 * parameters.binary_data_output (per request). No HTTP and no engine calls here, so tests/fuzz drives it directly. */
#include "server.h"
#include "../common/json.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const struct {
    const char *name;
    tdm_dtype dtype;
    size_t size;
} proto_types[] = {
    {"BOOL", TDM_BOOL, 1},     {"UINT8", TDM_UINT8, 1},   {"UINT16", TDM_UINT16, 2}, {"UINT32", TDM_UINT32, 4},
    {"UINT64", TDM_UINT64, 8}, {"INT8", TDM_INT8, 1},     {"INT16", TDM_INT16, 2},   {"INT32", TDM_INT32, 4},
    {"INT64", TDM_INT64, 8},   {"FP16", TDM_FLOAT16, 2},  {"FP32", TDM_FLOAT, 4},    {"FP64", TDM_DOUBLE, 8},
    {"BYTES", TDM_STRING, 0},
};
#define PROTO_NTYPES ((int)(sizeof proto_types / sizeof proto_types[0]))

const char *proto_dtype_name(tdm_dtype t) {
    for (int i = 0; i < PROTO_NTYPES; i++)
        if (proto_types[i].dtype == t) return proto_types[i].name;
    return NULL;
}

tdm_dtype proto_dtype_parse(const char *s) {
    for (int i = 0; i < PROTO_NTYPES; i++)
        if (strcmp(proto_types[i].name, s) == 0) return proto_types[i].dtype;
    return TDM_UNDEFINED;
}

size_t proto_dtype_size(tdm_dtype t) {
    for (int i = 0; i < PROTO_NTYPES; i++)
        if (proto_types[i].dtype == t) return proto_types[i].size;
    return 0;
}

static int proto_fail(char *err, size_t errlen, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int proto_fail(char *err, size_t errlen, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* IEEE half <-> float, round to nearest even (FP16 tensors in JSON). */
static uint16_t proto_f32_to_f16(float f) {
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000u, x = v.u & 0x7FFFFFFFu;
    if (x >= 0x7F800000u) return (uint16_t)(sign | 0x7C00u | (x > 0x7F800000u ? 0x200u : 0)); /* inf, nan */
    if (x >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);                                   /* overflow */
    if (x < 0x38800000u) { /* subnormal half: round |f| / 2^-24 to nearest even (the default rounding mode) */
        union { uint32_t u; float f; } a = {x};
        return (uint16_t)(sign | (uint32_t)lrintf(a.f * 16777216.0f));
    }
    uint32_t h = ((x - 0x38000000u) >> 13);
    uint32_t rest = x & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float proto_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, u;
    if (e == 0) {
        if (m == 0) u = sign;
        else {
            float f = (float)m * (1.0f / 16777216.0f); /* m * 2^-24 */
            return sign ? -f : f;
        }
    } else if (e == 31) {
        u = sign | 0x7F800000u | (m << 13);
    } else {
        u = sign | ((e + 112) << 23) | (m << 13);
    }
    union { uint32_t u; float f; } v = {u};
    return v.f;
}

/* Store number v (is_bool: it was true/false) as element i of a dtype buffer. Returns 0, or -1 if the value does not
 * fit the type: integer types take integral values in range only, BOOL takes true/false/0/1. */
static int proto_store_value(void *buf, tdm_dtype t, int64_t i, double v, int is_bool) {
    if (t == TDM_BOOL) {
        if (v != 0 && v != 1) return -1;
        ((uint8_t *)buf)[i] = (uint8_t)v;
        return 0;
    }
    if (t == TDM_FLOAT) { ((float *)buf)[i] = (float)v; return 0; }
    if (t == TDM_DOUBLE) { ((double *)buf)[i] = v; return 0; }
    if (t == TDM_FLOAT16) { ((uint16_t *)buf)[i] = proto_f32_to_f16((float)v); return 0; }
    if (is_bool || !isfinite(v) || floor(v) != v) return -1; /* integers only for integer types */
    switch (t) {
    case TDM_UINT8: if (v < 0 || v > 255) return -1; ((uint8_t *)buf)[i] = (uint8_t)v; return 0;
    case TDM_UINT16: if (v < 0 || v > 65535) return -1; ((uint16_t *)buf)[i] = (uint16_t)v; return 0;
    case TDM_UINT32: if (v < 0 || v > 4294967295.0) return -1; ((uint32_t *)buf)[i] = (uint32_t)v; return 0;
    case TDM_UINT64: if (v < 0 || v >= 18446744073709551616.0) return -1; ((uint64_t *)buf)[i] = (uint64_t)v; return 0;
    case TDM_INT8: if (v < -128 || v > 127) return -1; ((int8_t *)buf)[i] = (int8_t)v; return 0;
    case TDM_INT16: if (v < -32768 || v > 32767) return -1; ((int16_t *)buf)[i] = (int16_t)v; return 0;
    case TDM_INT32: if (v < -2147483648.0 || v > 2147483647.0) return -1; ((int32_t *)buf)[i] = (int32_t)v; return 0;
    case TDM_INT64:
        if (v < -9223372036854775808.0 || v >= 9223372036854775808.0) return -1;
        ((int64_t *)buf)[i] = (int64_t)v;
        return 0;
    default: return -1;
    }
}

static int proto_store(void *buf, tdm_dtype t, int64_t i, const cJSON *j) {
    if (cJSON_IsBool(j)) return proto_store_value(buf, t, i, cJSON_IsTrue(j) ? 1 : 0, 1);
    if (cJSON_IsNumber(j)) return proto_store_value(buf, t, i, j->valuedouble, 0);
    return -1;
}

/* ---- the fast path for big "data" arrays ----
 * Building a cJSON node per element and strtod-ing it cost about as much as running ResNet-20 on the same image, so
 * before cJSON sees the request, every `"data": [numbers or nested arrays of numbers]` is parsed here into doubles
 * (a side table) and replaced in the text by a placeholder string "\x01<index>" padded with spaces. Raw control bytes
 * are not valid inside JSON strings, and the scan rejects them in the client's own strings, so a placeholder cannot be
 * forged. Anything else in an array (strings, objects, true/false, a malformed number) leaves it to cJSON, which then
 * reports the error as before. Numbers of up to 15 significant digits take the exact fast path; 16-19 digits (the
 * way Python and JavaScript print doubles) go through x87 long double, within one ulp of strtod's double: FP32 and
 * FP16 inputs take that (the float it rounds to can differ from strtod's only when the value sits within 2^-29
 * relative of a float rounding midpoint), FP64 and integer inputs re-read the array with strtod. */

typedef struct proto_arrays {
    int count, cap;
    struct { double *v; int64_t n; char *text; } *a; /* text: the array's source when some value was inexact */
} proto_arrays;

static void proto_arrays_free(proto_arrays *pa) {
    for (int i = 0; i < pa->count; i++) {
        free(pa->a[i].v);
        free(pa->a[i].text);
    }
    free(pa->a);
    memset(pa, 0, sizeof *pa);
}

static const double proto_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parse one JSON number at p (grammar checked strictly). Returns the end, or NULL if it is not a JSON number. Short
 * numbers use Clinger's fast path (an integer mantissa below 2^53 times or over an exact power of ten is correctly
 * rounded); the rest go to strtod. */
static const char *proto_number(const char *p, double *out, int exact, int *inexact) {
    const char *s = p;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    uint64_t mant = 0;
    int sig = 0, frac = 0, slow = 0; /* significant digits kept, decimal places, more than 19 significant digits */
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9') {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                slow = 1;
            }
            p++;
        }
    } else {
        return NULL;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9') {
            frac++;
            if (mant == 0 && *p == '0') { /* a leading zero of the fraction: only moves the point */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                slow = 1;
            }
            p++;
        }
    }
    int e10 = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = 0;
        if (*p == '+' || *p == '-') eneg = *p++ == '-';
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9') {
            if (e10 < 10000) e10 = e10 * 10 + (*p - '0');
            p++;
        }
        if (eneg) e10 = -e10;
    }
    int exp = e10 - frac;
    if (!slow && mant <= ((uint64_t)1 << 53) && exp >= -22 && exp <= 22) {
        double v = (double)mant;
        v = exp < 0 ? v / proto_pow10[-exp] : v * proto_pow10[exp];
        *out = neg ? -v : v;
#if LDBL_MANT_DIG >= 64
    } else if (!exact && !slow && exp >= -27 && exp <= 27) {
        /* 17-digit doubles as Python and JavaScript print them: the 64-bit mantissa and 10^|exp| are exact in x87
         * long double, so the quotient is within half an ulp there, and within one ulp of strtod's double here */
        static const long double p10l[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                           1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                           1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
        long double v = (long double)mant;
        v = exp < 0 ? v / p10l[-exp] : v * p10l[exp];
        *out = (double)(neg ? -v : v);
        *inexact = 1;
#endif
    } else {
        *out = strtod(s, NULL);
    }
    return p;
}

static const char *proto_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* Parse the array at p (a bracket) into v, n, cap. Returns the end (after the closing bracket), or NULL to leave it
 * to cJSON. */
static const char *proto_fast_array(const char *p, int depth, double **v, int64_t *n, int64_t *cap, int exact,
                                    int *inexact) {
    if (depth > TDM_MAX_RANK) return NULL;
    p = proto_ws(p + 1);
    if (*p == ']') return p + 1;
    for (;;) {
        if (*p == '[') {
            p = proto_fast_array(p, depth + 1, v, n, cap, exact, inexact);
            if (!p) return NULL;
        } else {
            if (*n == *cap) {
                int64_t nc = *cap ? *cap * 2 : 4096;
                double *nv = realloc(*v, (size_t)nc * sizeof *nv);
                if (!nv) return NULL;
                *v = nv;
                *cap = nc;
            }
            p = proto_number(p, &(*v)[*n], exact, inexact);
            if (!p) return NULL;
            (*n)++;
        }
        p = proto_ws(p);
        if (*p == ']') return p + 1;
        if (*p != ',') return NULL;
        p = proto_ws(p + 1);
    }
}

/* Scan text (NUL-terminated, len bytes, modified in place) for "data" arrays. Returns 0, or -1 when the text holds a
 * raw control byte inside a string (invalid JSON) or memory runs out. */
static int proto_prescan(char *text, size_t len, proto_arrays *pa) {
    char *p = text, *end = text + len;
    while (p < end) {
        if (*p != '"') {
            p++;
            continue;
        }
        char *str = ++p;
        while (p < end && *p != '"') {
            if ((unsigned char)*p < 0x20) return -1;
            if (*p == '\\' && p + 1 < end) p++;
            p++;
        }
        if (p >= end) return 0; /* unterminated: cJSON reports it */
        int is_data = p - str == 4 && memcmp(str, "data", 4) == 0;
        p++;
        if (!is_data) continue;
        char *q = (char *)proto_ws(p);
        if (*q != ':') continue;
        q = (char *)proto_ws(q + 1);
        if (*q != '[') continue;
        double *v = NULL;
        int64_t n = 0, cap = 0;
        int inexact = 0;
        const char *after = proto_fast_array(q, 1, &v, &n, &cap, 0, &inexact);
        char tag[24];
        int tl = snprintf(tag, sizeof tag, "\"\x01%d\"", pa->count);
        if (!after || after - q < tl || n == 0) { /* leave it to cJSON */
            free(v);
            p = q;
            continue;
        }
        if (pa->count == pa->cap) {
            int nc = pa->cap ? pa->cap * 2 : 4;
            void *na = realloc(pa->a, (size_t)nc * sizeof *pa->a);
            if (!na) {
                free(v);
                return -1;
            }
            pa->a = na;
            pa->cap = nc;
        }
        pa->a[pa->count].v = v;
        pa->a[pa->count].n = n;
        pa->a[pa->count].text = NULL;
        if (inexact) { /* keep the source: FP64 and integer inputs re-read it with strtod */
            char *t = malloc((size_t)(after - q) + 1);
            if (!t) {
                free(v);
                return -1;
            }
            memcpy(t, q, (size_t)(after - q));
            t[after - q] = 0;
            pa->a[pa->count].text = t;
        }
        pa->count++;
        memcpy(q, tag, (size_t)tl);
        memset(q + tl, ' ', (size_t)(after - q - tl));
        p = (char *)after;
    }
    return 0;
}

/* Copy the (possibly nested, row-major) "data" array into buf. *n counts the elements seen; at most cap are stored.
 * Returns 0, or -1 with *bad set to the first element that is not a number of the right kind. */
static int proto_flatten(const cJSON *a, int depth, void *buf, tdm_dtype t, int64_t cap, int64_t *n,
                         const cJSON **bad) {
    if (depth > TDM_MAX_RANK) {
        *bad = a;
        return -1;
    }
    for (const cJSON *e = a->child; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (proto_flatten(e, depth + 1, buf, t, cap, n, bad) != 0) return -1;
            continue;
        }
        if (*n >= cap) { /* too many: keep counting without storing, so the message can say how many */
            (*n)++;
            continue;
        }
        if (proto_store(buf, t, *n, e) != 0) {
            *bad = e;
            return -1;
        }
        (*n)++;
    }
    return 0;
}

static const char *proto_shape_str(const int64_t *dims, int rank, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

void proto_request_free(proto_request *req) {
    free(req->id);
    for (int i = 0; i < SRV_MAX_IO; i++) free(req->in[i].data);
    memset(req, 0, sizeof *req);
}

static int proto_is_int_pair(tdm_dtype a, tdm_dtype b) {
    return (a == TDM_INT32 || a == TDM_INT64) && (b == TDM_INT32 || b == TDM_INT64);
}

/* Parse one entry of "inputs" in the request's own datatype (*dt_out). *bin_off advances over the binary section as
 * inputs consume it. */
static int proto_parse_input_as_sent(const cJSON *in, int pos, const proto_model *m, const char *bin, size_t bin_len,
                                     size_t *bin_off, int have_bin, const proto_arrays *pa, proto_request *req,
                                     int *k_out, tdm_dtype *dt_out, char *err, size_t errlen) {
    char b1[160], b2[160];
    if (!cJSON_IsObject(in)) return proto_fail(err, errlen, 400, "inputs[%d] is not an object", pos);
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(in, "name");
    if (!cJSON_IsString(jn)) return proto_fail(err, errlen, 400, "inputs[%d] has no \"name\" string", pos);
    int k = -1;
    for (int i = 0; i < m->nin; i++)
        if (strcmp(m->in[i].name, jn->valuestring) == 0) k = i;
    if (k < 0) return proto_fail(err, errlen, 400, "model '%s' has no input named '%.100s'", m->name, jn->valuestring);
    *k_out = k;
    const srv_io *mi = &m->in[k];
    proto_tensor *t = &req->in[k];
    if (t->data) return proto_fail(err, errlen, 400, "input '%s' is given twice", mi->name);

    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    if (!cJSON_IsString(jt)) return proto_fail(err, errlen, 400, "input '%s' has no \"datatype\" string", mi->name);
    tdm_dtype dt = proto_dtype_parse(jt->valuestring);
    if (dt == TDM_UNDEFINED)
        return proto_fail(err, errlen, 400, "input '%s': unknown datatype '%.40s'", mi->name, jt->valuestring);
    *dt_out = dt;
    if (dt != mi->dtype && !proto_is_int_pair(dt, mi->dtype)) /* INT32 for INT64 and back: converted below */
        return proto_fail(err, errlen, 400, "input '%s': datatype %s, the model expects %s", mi->name,
                          jt->valuestring, proto_dtype_name(mi->dtype) ? proto_dtype_name(mi->dtype) : "?");
    size_t esz = proto_dtype_size(dt);
    if (esz == 0) return proto_fail(err, errlen, 400, "input '%s': datatype %s is not supported", mi->name, jt->valuestring);

    const cJSON *js = cJSON_GetObjectItemCaseSensitive(in, "shape");
    if (!cJSON_IsArray(js)) return proto_fail(err, errlen, 400, "input '%s' has no \"shape\" array", mi->name);
    int rank = cJSON_GetArraySize(js);
    if (rank != mi->rank)
        return proto_fail(err, errlen, 400, "input '%s': shape has rank %d, the model expects rank %d %s", mi->name,
                          rank, mi->rank, proto_shape_str(mi->dims, mi->rank, b2, sizeof b2));
    int64_t numel = 1;
    int d = 0;
    for (const cJSON *e = js->child; e; e = e->next, d++) {
        if (!cJSON_IsNumber(e) || floor(e->valuedouble) != e->valuedouble || e->valuedouble < 1 ||
            e->valuedouble > 9.0e15)
            return proto_fail(err, errlen, 400, "input '%s': shape[%d] is not a positive integer", mi->name, d);
        t->dims[d] = (int64_t)e->valuedouble;
        if (numel > m->max_elems / t->dims[d] + 1) numel = m->max_elems + 1;
        else numel *= t->dims[d];
    }
    t->rank = rank;
    for (d = 0; d < rank; d++)
        if (mi->dims[d] >= 0 && t->dims[d] != mi->dims[d])
            return proto_fail(err, errlen, 400, "input '%s': shape %s does not match the model's %s", mi->name,
                              proto_shape_str(t->dims, rank, b1, sizeof b1),
                              proto_shape_str(mi->dims, mi->rank, b2, sizeof b2));
    if (numel > m->max_elems)
        return proto_fail(err, errlen, 413, "input '%s': shape %s exceeds the limit of %lld elements", mi->name,
                          proto_shape_str(t->dims, rank, b1, sizeof b1), (long long)m->max_elems);
    size_t bytes = (size_t)numel * esz;

    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *jb = cJSON_IsObject(jp) ? cJSON_GetObjectItemCaseSensitive(jp, "binary_data_size") : NULL;
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (jp && !cJSON_IsObject(jp)) return proto_fail(err, errlen, 400, "input '%s': \"parameters\" is not an object", mi->name);
    if (jb && jd) return proto_fail(err, errlen, 400, "input '%s' has both \"data\" and binary_data_size", mi->name);

    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) return proto_fail(err, errlen, 500, "out of memory for input '%s'", mi->name);
    t->data = buf;
    t->bytes = bytes;
    if (jb) {
        if (!have_bin)
            return proto_fail(err, errlen, 400,
                              "input '%s' has binary_data_size but the request has no Inference-Header-Content-Length",
                              mi->name);
        if (!cJSON_IsNumber(jb) || jb->valuedouble < 0 || floor(jb->valuedouble) != jb->valuedouble)
            return proto_fail(err, errlen, 400, "input '%s': binary_data_size is not a non-negative integer", mi->name);
        if (jb->valuedouble != (double)bytes)
            return proto_fail(err, errlen, 400, "input '%s': binary_data_size %.0f, but %s %s takes %zu bytes",
                              mi->name, jb->valuedouble, jt->valuestring,
                              proto_shape_str(t->dims, rank, b1, sizeof b1), bytes);
        if (bin_len - *bin_off < bytes)
            return proto_fail(err, errlen, 400, "input '%s': binary data is truncated (%zu of %zu bytes present)",
                              mi->name, bin_len - *bin_off, bytes);
        memcpy(buf, bin + *bin_off, bytes);
        *bin_off += bytes;
        if (dt == TDM_BOOL)
            for (size_t i = 0; i < bytes; i++)
                if (((unsigned char *)buf)[i] > 1)
                    return proto_fail(err, errlen, 400, "input '%s': BOOL element %zu is not 0 or 1", mi->name, i);
        return 0;
    }
    if (cJSON_IsString(jd) && jd->valuestring[0] == '\x01') { /* a "data" array the prescan parsed */
        int k2 = atoi(jd->valuestring + 1);
        if (k2 < 0 || k2 >= pa->count) return proto_fail(err, errlen, 500, "internal error: data table");
        if (pa->a[k2].n != numel)
            return proto_fail(err, errlen, 400, "input '%s': shape %s holds %lld elements, data has %lld", mi->name,
                              proto_shape_str(t->dims, rank, b1, sizeof b1), (long long)numel, (long long)pa->a[k2].n);
        const double *v = pa->a[k2].v;
        double *exact_v = NULL;
        if (pa->a[k2].text && dt != TDM_FLOAT && dt != TDM_FLOAT16) { /* these want strtod's exact double */
            int64_t n2 = 0, cap2 = 0;
            int unused = 0;
            if (!proto_fast_array(pa->a[k2].text, 1, &exact_v, &n2, &cap2, 1, &unused) || n2 != numel) {
                free(exact_v);
                return proto_fail(err, errlen, 500, "out of memory reading input '%s'", mi->name);
            }
            v = exact_v;
        }
        for (int64_t i = 0; i < numel; i++)
            if (proto_store_value(buf, dt, i, v[i], 0) != 0) {
                free(exact_v);
                return proto_fail(err, errlen, 400, "input '%s': data element %lld is not a valid %s value", mi->name,
                                  (long long)i, jt->valuestring);
            }
        free(exact_v);
        return 0;
    }
    if (!cJSON_IsArray(jd)) return proto_fail(err, errlen, 400, "input '%s' has no \"data\" array", mi->name);
    int64_t n = 0;
    const cJSON *bad = NULL;
    if (proto_flatten(jd, 1, buf, dt, numel, &n, &bad) != 0) {
        if (bad && cJSON_IsArray(bad)) return proto_fail(err, errlen, 400, "input '%s': data nests too deeply", mi->name);
        return proto_fail(err, errlen, 400, "input '%s': data element %lld is not a valid %s value", mi->name,
                          (long long)n, jt->valuestring);
    }
    if (n != numel)
        return proto_fail(err, errlen, 400, "input '%s': shape %s holds %lld elements, data has %lld", mi->name,
                          proto_shape_str(t->dims, rank, b1, sizeof b1), (long long)numel, (long long)n);
    return 0;
}

/* One entry of "inputs", then in the model's datatype: INT32 data for an INT64 input (what JavaScript's Int32Array
 * and most tokenizers give) is widened, INT64 for INT32 narrowed when every value fits; and token ids checked against
 * the table they index (srv_io.index_hi), so that a bad id is the client's 400 naming the input, not an engine error
 * in the middle of a batch. */
static int proto_parse_input(const cJSON *in, int pos, const proto_model *m, const char *bin, size_t bin_len,
                             size_t *bin_off, int have_bin, const proto_arrays *pa, proto_request *req, char *err,
                             size_t errlen) {
    int k = -1;
    tdm_dtype dt = TDM_UNDEFINED;
    int rc = proto_parse_input_as_sent(in, pos, m, bin, bin_len, bin_off, have_bin, pa, req, &k, &dt, err, errlen);
    if (rc || k < 0) return rc;
    const srv_io *mi = &m->in[k];
    proto_tensor *t = &req->in[k];
    size_t n = t->bytes / proto_dtype_size(dt);
    if (dt != mi->dtype) { /* the INT32/INT64 pair */
        void *conv = malloc(n ? n * proto_dtype_size(mi->dtype) : 1);
        if (!conv) return proto_fail(err, errlen, 500, "out of memory for input '%s'", mi->name);
        for (size_t i = 0; i < n; i++) {
            if (dt == TDM_INT32) {
                ((int64_t *)conv)[i] = ((const int32_t *)t->data)[i];
                continue;
            }
            int64_t v = ((const int64_t *)t->data)[i];
            if (v < INT32_MIN || v > INT32_MAX) {
                free(conv);
                return proto_fail(err, errlen, 400, "input '%s': element %zu is %lld, which does not fit the model's "
                                  "INT32", mi->name, i, (long long)v);
            }
            ((int32_t *)conv)[i] = (int32_t)v;
        }
        free(t->data);
        t->data = conv;
        t->bytes = n * proto_dtype_size(mi->dtype);
    }
    if (mi->index_hi > 0)
        for (size_t i = 0; i < n; i++) {
            int64_t v = mi->dtype == TDM_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
            if (v < 0 || v >= mi->index_hi)
                return proto_fail(err, errlen, 400, "input '%s': element %zu is %lld, outside [0, %lld): the ids index "
                                  "a table of %lld rows", mi->name, i, (long long)v, (long long)mi->index_hi,
                                  (long long)mi->index_hi);
        }
    return 0;
}

static int proto_parse_root(const cJSON *root, const char *bin, size_t bin_len, int have_bin, const proto_model *m,
                            const proto_arrays *pa, proto_request *req, char *err, size_t errlen) {
    if (!cJSON_IsObject(root)) return proto_fail(err, errlen, 400, "the request is not a JSON object");
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (jid) {
        if (!cJSON_IsString(jid)) return proto_fail(err, errlen, 400, "\"id\" is not a string");
        req->id = strdup(jid->valuestring);
        if (!req->id) return proto_fail(err, errlen, 500, "out of memory");
    }
    int bin_out_all = 0;
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (jp) {
        if (!cJSON_IsObject(jp)) return proto_fail(err, errlen, 400, "\"parameters\" is not an object");
        const cJSON *jbo = cJSON_GetObjectItemCaseSensitive(jp, "binary_data_output");
        if (jbo && !cJSON_IsBool(jbo)) return proto_fail(err, errlen, 400, "binary_data_output is not a boolean");
        bin_out_all = cJSON_IsTrue(jbo);
    }
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(ji)) return proto_fail(err, errlen, 400, "the request has no \"inputs\" array");
    req->ninputs = m->nin;
    size_t off = 0;
    int pos = 0;
    for (const cJSON *in = ji->child; in; in = in->next, pos++) {
        int rc = proto_parse_input(in, pos, m, bin, bin_len, &off, have_bin, pa, req, err, errlen);
        if (rc) return rc;
    }
    for (int i = 0; i < m->nin; i++)
        if (!req->in[i].data) return proto_fail(err, errlen, 400, "input '%s' is missing", m->in[i].name);
    if (off != bin_len)
        return proto_fail(err, errlen, 400, "the binary section has %zu bytes that no input claims", bin_len - off);

    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (!jo) {
        req->nout = m->nout;
        for (int i = 0; i < m->nout; i++) {
            req->out_index[i] = i;
            req->out_binary[i] = bin_out_all;
        }
        return 0;
    }
    if (!cJSON_IsArray(jo)) return proto_fail(err, errlen, 400, "\"outputs\" is not an array");
    pos = 0;
    for (const cJSON *o = jo->child; o; o = o->next, pos++) {
        const cJSON *jn = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name") : NULL;
        if (!cJSON_IsString(jn)) return proto_fail(err, errlen, 400, "outputs[%d] has no \"name\" string", pos);
        int k = -1;
        for (int i = 0; i < m->nout; i++)
            if (strcmp(m->out[i].name, jn->valuestring) == 0) k = i;
        if (k < 0) return proto_fail(err, errlen, 400, "model '%s' has no output named '%.100s'", m->name, jn->valuestring);
        for (int i = 0; i < req->nout; i++)
            if (req->out_index[i] == k) return proto_fail(err, errlen, 400, "output '%s' is requested twice", m->out[k].name);
        if (req->nout >= SRV_MAX_IO) return proto_fail(err, errlen, 400, "too many outputs requested");
        int binary = bin_out_all;
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        if (op && !cJSON_IsObject(op)) return proto_fail(err, errlen, 400, "outputs[%d].parameters is not an object", pos);
        const cJSON *ob = op ? cJSON_GetObjectItemCaseSensitive(op, "binary_data") : NULL;
        if (ob && !cJSON_IsBool(ob)) return proto_fail(err, errlen, 400, "outputs[%d]: binary_data is not a boolean", pos);
        if (ob) binary = cJSON_IsTrue(ob);
        req->out_index[req->nout] = k;
        req->out_binary[req->nout] = binary;
        req->nout++;
    }
    return 0;
}

int proto_parse_infer(const char *body, size_t len, int64_t header_len, const proto_model *m, proto_request *req,
                      char *err, size_t errlen) {
    memset(req, 0, sizeof *req);
    if (m->nin > SRV_MAX_IO || m->nout > SRV_MAX_IO) return proto_fail(err, errlen, 500, "model has too many tensors");
    size_t jlen = len;
    if (header_len >= 0) {
        if ((uint64_t)header_len > len)
            return proto_fail(err, errlen, 400, "Inference-Header-Content-Length %lld exceeds the body's %zu bytes",
                              (long long)header_len, len);
        jlen = (size_t)header_len;
    }
    /* a NUL-terminated copy: cJSON then never reads past the header, whatever follows it */
    char *text = malloc(jlen + 1);
    if (!text) return proto_fail(err, errlen, 500, "out of memory");
    memcpy(text, body, jlen);
    text[jlen] = 0;
    proto_arrays pa;
    memset(&pa, 0, sizeof pa);
    if (proto_prescan(text, jlen, &pa) != 0) {
        proto_arrays_free(&pa);
        free(text);
        return proto_fail(err, errlen, 400, "the request is not valid JSON (a control character inside a string)");
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    int rc;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        rc = proto_fail(err, errlen, 400, "the request is not valid JSON (near byte %zu)", at);
    } else {
        /* trailing bytes after the JSON value (other than whitespace) are an error too */
        const char *p = end ? end : text + jlen;
        while (p < text + jlen && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
        if (p != text + jlen) rc = proto_fail(err, errlen, 400, "the request has bytes after its JSON value");
        else rc = proto_parse_root(root, body + jlen, len - jlen, header_len >= 0, m, &pa, req, err, errlen);
    }
    proto_arrays_free(&pa);
    cJSON_Delete(root);
    free(text);
    if (rc) proto_request_free(req);
    return rc;
}

/* One element of dtype t as a JSON value. */
static void proto_json_elem(json_writer *w, tdm_dtype t, const void *data, int64_t i) {
    switch (t) {
    case TDM_FLOAT: json_double(w, ((const float *)data)[i], 9); break;
    case TDM_DOUBLE: json_double(w, ((const double *)data)[i], 17); break;
    case TDM_FLOAT16: json_double(w, proto_f16_to_f32(((const uint16_t *)data)[i]), 6); break;
    case TDM_BOOL: json_bool(w, ((const uint8_t *)data)[i] != 0); break;
    case TDM_UINT8: json_int(w, ((const uint8_t *)data)[i]); break;
    case TDM_UINT16: json_int(w, ((const uint16_t *)data)[i]); break;
    case TDM_UINT32: json_int(w, ((const uint32_t *)data)[i]); break;
    case TDM_UINT64: json_uint(w, ((const uint64_t *)data)[i]); break;
    case TDM_INT8: json_int(w, ((const int8_t *)data)[i]); break;
    case TDM_INT16: json_int(w, ((const int16_t *)data)[i]); break;
    case TDM_INT32: json_int(w, ((const int32_t *)data)[i]); break;
    case TDM_INT64: json_int(w, ((const int64_t *)data)[i]); break;
    default: json_null(w); break;
    }
}

static int64_t proto_numel(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

int proto_write_response(const proto_model *m, const proto_request *req, const proto_output *outs, char **body,
                         size_t *len, size_t *json_len) {
    *body = NULL;
    *len = 0;
    *json_len = 0;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return -1;
    json_writer w;
    json_init(&w, f);
    int any_binary = 0;
    json_object_begin(&w);
    json_kv_string(&w, "model_name", m->name);
    json_kv_string(&w, "model_version", "1");
    if (req->id) json_kv_string(&w, "id", req->id);
    json_key(&w, "outputs");
    json_array_begin(&w);
    for (int r = 0; r < req->nout; r++) {
        int k = req->out_index[r];
        const proto_output *o = &outs[k];
        const char *dn = proto_dtype_name(o->dtype);
        int64_t n = proto_numel(o->dims, o->rank);
        json_object_begin(&w);
        json_kv_string(&w, "name", m->out[k].name);
        json_kv_string(&w, "datatype", dn ? dn : "BYTES");
        json_key(&w, "shape");
        json_array_begin(&w);
        for (int d = 0; d < o->rank; d++) json_int(&w, o->dims[d]);
        json_array_end(&w);
        if (req->out_binary[r]) {
            any_binary = 1;
            json_key(&w, "parameters");
            json_object_begin(&w);
            json_kv_uint(&w, "binary_data_size", (uint64_t)n * proto_dtype_size(o->dtype));
            json_object_end(&w);
        } else {
            json_key(&w, "data");
            json_array_begin(&w);
            for (int64_t i = 0; i < n; i++) proto_json_elem(&w, o->dtype, o->data, i);
            json_array_end(&w);
        }
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
    if (fflush(f) != 0) {
        fclose(f);
        free(buf);
        return -1;
    }
    size_t jl = blen;
    if (any_binary) {
        for (int r = 0; r < req->nout; r++) {
            if (!req->out_binary[r]) continue;
            const proto_output *o = &outs[req->out_index[r]];
            size_t n = (size_t)proto_numel(o->dims, o->rank) * proto_dtype_size(o->dtype);
            if (n && fwrite(o->data, 1, n, f) != n) {
                fclose(f);
                free(buf);
                return -1;
            }
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return -1;
    }
    *body = buf;
    *len = blen;
    *json_len = any_binary ? jl : 0;
    return 0;
}

char *proto_error_json(const char *msg, size_t *len) {
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return NULL;
    json_writer w;
    json_init(&w, f);
    json_object_begin(&w);
    json_kv_string(&w, "error", msg);
    json_object_end(&w);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = blen;
    return buf;
}
