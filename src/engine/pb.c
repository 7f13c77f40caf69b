/* pb.c - protobuf wire reader/writer and TensorProto (de)serialisation, including external data and the public
 * tdm_tensor_* file helpers used for the ONNX test-data layout. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* MADV_WILLNEED */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) && !defined(__EMSCRIPTEN__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define TDM_HAVE_MMAP 1
#endif

#include "pb.h"

/* Upper bound on one tensor's bytes; a corrupted dims field must not make us try to allocate petabytes. */
#define TDM_MAX_TENSOR_BYTES ((uint64_t)1 << 34)

/* ---- reader ---------------------------------------------------------------------------------------------------- */

static int read_varint(tdm_pb *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int tdm_pb_next(tdm_pb *r, uint32_t *field, int *wire) {
    if (r->p >= r->end) return 0;
    uint64_t key;
    if (read_varint(r, &key) < 0) return -1;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    if (*field == 0 || key >> 32) return -1;
    return 1;
}

int tdm_pb_varint(tdm_pb *r, int wire, uint64_t *v) { return wire == PB_VARINT ? read_varint(r, v) : -1; }

int tdm_pb_bytes(tdm_pb *r, int wire, const uint8_t **p, size_t *len) {
    uint64_t n;
    if (wire != PB_LEN || read_varint(r, &n) < 0) return -1;
    if (n > (uint64_t)(r->end - r->p)) return -1;
    *p = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

int tdm_pb_fixed32(tdm_pb *r, int wire, uint32_t *v) {
    if (wire != PB_I32 || r->end - r->p < 4) return -1;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 0;
}

int tdm_pb_fixed64(tdm_pb *r, int wire, uint64_t *v) {
    if (wire != PB_I64 || r->end - r->p < 8) return -1;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = x << 8 | r->p[i];
    *v = x;
    r->p += 8;
    return 0;
}

int tdm_pb_skip(tdm_pb *r, int wire) {
    uint64_t v;
    const uint8_t *p;
    size_t n;
    switch (wire) {
    case PB_VARINT: return read_varint(r, &v);
    case PB_I64: return tdm_pb_fixed64(r, wire, &v);
    case PB_LEN: return tdm_pb_bytes(r, wire, &p, &n);
    case PB_I32: {
        uint32_t w;
        return tdm_pb_fixed32(r, wire, &w);
    }
    default: return -1; /* groups (3, 4) are not used by ONNX */
    }
}

static int arr_push(const tdm_alloc *a, tdm_pb_array *arr, const void *elem, size_t size) {
    if (arr->n == arr->cap) {
        size_t cap = arr->cap ? arr->cap * 2 : 16;
        void *d = tdm_realloc(a, arr->data, cap * size);
        if (!d) return -1;
        arr->data = d;
        arr->cap = cap;
    }
    memcpy((char *)arr->data + arr->n * size, elem, size);
    arr->n++;
    return 0;
}

static int read_elem(tdm_pb *r, int elem, void *out) {
    uint64_t v;
    uint32_t w;
    switch (elem) {
    case 0:
        if (read_varint(r, &v) < 0) return -1;
        memcpy(out, &v, 8);
        return 0;
    case 4:
        if (tdm_pb_fixed32(r, PB_I32, &w) < 0) return -1;
        memcpy(out, &w, 4);
        return 0;
    default:
        if (tdm_pb_fixed64(r, PB_I64, &v) < 0) return -1;
        memcpy(out, &v, 8);
        return 0;
    }
}

/* Returns -2 (not -1) when the array cannot grow, so callers can report out-of-memory rather than a malformed
 * model. */
int tdm_pb_repeated(tdm_pb *r, int wire, int elem, const tdm_alloc *a, tdm_pb_array *arr) {
    size_t size = elem == 4 ? 4 : 8;
    int want = elem == 0 ? PB_VARINT : elem == 4 ? PB_I32 : PB_I64;
    uint8_t buf[8];
    if (wire == PB_LEN) {
        tdm_pb sub;
        size_t len;
        if (tdm_pb_bytes(r, wire, &sub.p, &len) < 0) return -1;
        sub.end = sub.p + len;
        if (elem != 0 && len % size) return -1;
        if (elem != 0 && arr->cap - arr->n < len / size) { /* reserve in one step for big packed arrays */
            size_t cap = arr->n + len / size;
            void *d = tdm_realloc(a, arr->data, cap * size + 1);
            if (!d) return -2;
            arr->data = d;
            arr->cap = cap;
        }
        while (sub.p < sub.end) {
            if (read_elem(&sub, elem, buf) < 0) return -1;
            if (arr_push(a, arr, buf, size) < 0) return -2;
        }
        return 0;
    }
    if (wire != want) return -1;
    if (read_elem(r, elem, buf) < 0) return -1;
    return arr_push(a, arr, buf, size) < 0 ? -2 : 0;
}

/* ---- TensorProto ----------------------------------------------------------------------------------------------- */

enum {
    TP_DIMS = 1, TP_DATA_TYPE = 2, TP_SEGMENT = 3, TP_FLOAT_DATA = 4, TP_INT32_DATA = 5, TP_STRING_DATA = 6,
    TP_INT64_DATA = 7, TP_NAME = 8, TP_RAW_DATA = 9, TP_DOUBLE_DATA = 10, TP_UINT64_DATA = 11, TP_DOC = 12,
    TP_EXTERNAL_DATA = 13, TP_DATA_LOCATION = 14
};

/* Read `length` bytes at `offset` of base_dir/location into dst. Only plain relative paths inside base_dir. */
static tdm_status read_external(const char *base_dir, const char *location, uint64_t offset, uint64_t length,
                                void *dst, const char *tname) {
    if (!base_dir) return tdm_error(TDM_INVALID_MODEL, "tensor '%s': external data needs the model's folder (load "
                                                       "from a file, or set base_dir)", tname);
    if (!location || !location[0] || location[0] == '/' || strstr(location, ".."))
        return tdm_error(TDM_INVALID_MODEL, "tensor '%s': external data location '%s' is not a relative path inside "
                                            "the model's folder", tname, location ? location : "");
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", base_dir, location) >= sizeof path)
        return tdm_error(TDM_INVALID_MODEL, "tensor '%s': external data path too long", tname);
    FILE *f = fopen(path, "rb");
    if (!f) return tdm_error(TDM_IO_ERROR, "tensor '%s': cannot open external data '%s'", tname, path);
    tdm_status st = TDM_OK;
    if (fseek(f, (long)offset, SEEK_SET) != 0 || fread(dst, 1, (size_t)length, f) != length)
        st = tdm_error(TDM_INVALID_MODEL, "tensor '%s': external data '%s' is shorter than offset %llu + length %llu",
                       tname, path, (unsigned long long)offset, (unsigned long long)length);
    fclose(f);
    return st;
}

static int str_eq(const uint8_t *p, size_t n, const char *s) { return strlen(s) == n && memcmp(p, s, n) == 0; }

tdm_status tdm_pb_tensor(const uint8_t *buf, size_t len, const tdm_alloc *a, const char *base_dir, tdm_tensor *out) {
    tdm_pb r = {buf, buf + len};
    tdm_pb_array dims = {0}, f32 = {0}, i64 = {0}, f64 = {0}, u64 = {0}, i32 = {0};
    const uint8_t *raw = NULL, *name = NULL;
    size_t raw_len = 0, name_len = 0;
    int has_raw = 0, external = 0, n_strings = 0, oom = 0;
    uint64_t dtype = 0, loc = 0, ext_off = 0, ext_len = UINT64_MAX;
    char ext_loc[1024] = "";
    tdm_status st = TDM_OK;
    uint32_t field;
    int wire, rc;

    memset(out, 0, sizeof *out);
    while ((rc = tdm_pb_next(&r, &field, &wire)) == 1) {
        int bad = 0;
        switch (field) {
        case TP_DIMS: bad = tdm_pb_repeated(&r, wire, 0, a, &dims); break;
        case TP_DATA_TYPE: bad = tdm_pb_varint(&r, wire, &dtype); break;
        case TP_FLOAT_DATA: bad = tdm_pb_repeated(&r, wire, 4, a, &f32); break;
        case TP_INT32_DATA: bad = tdm_pb_repeated(&r, wire, 0, a, &i32); break;
        case TP_INT64_DATA: bad = tdm_pb_repeated(&r, wire, 0, a, &i64); break;
        case TP_DOUBLE_DATA: bad = tdm_pb_repeated(&r, wire, 8, a, &f64); break;
        case TP_UINT64_DATA: bad = tdm_pb_repeated(&r, wire, 0, a, &u64); break;
        case TP_STRING_DATA: n_strings++; bad = tdm_pb_skip(&r, wire); break;
        case TP_NAME: bad = tdm_pb_bytes(&r, wire, &name, &name_len); break;
        case TP_RAW_DATA: bad = tdm_pb_bytes(&r, wire, &raw, &raw_len); has_raw = 1; break;
        case TP_DATA_LOCATION: bad = tdm_pb_varint(&r, wire, &loc); break;
        case TP_EXTERNAL_DATA: {
            const uint8_t *e;
            size_t elen;
            if ((bad = tdm_pb_bytes(&r, wire, &e, &elen)) != 0) break;
            tdm_pb er = {e, e + elen};
            const uint8_t *k = NULL, *v = NULL;
            size_t kl = 0, vl = 0;
            uint32_t ef;
            int ew;
            while (!bad && (rc = tdm_pb_next(&er, &ef, &ew)) == 1) {
                if (ef == 1) bad = tdm_pb_bytes(&er, ew, &k, &kl);
                else if (ef == 2) bad = tdm_pb_bytes(&er, ew, &v, &vl);
                else bad = tdm_pb_skip(&er, ew);
            }
            if (rc < 0 || !k || !v) {
                bad = 1;
                break;
            }
            char val[1024];
            if (vl >= sizeof val) {
                bad = 1;
                break;
            }
            memcpy(val, v, vl);
            val[vl] = 0;
            external = 1;
            if (str_eq(k, kl, "location")) memcpy(ext_loc, val, vl + 1);
            else if (str_eq(k, kl, "offset")) ext_off = strtoull(val, NULL, 10);
            else if (str_eq(k, kl, "length")) ext_len = strtoull(val, NULL, 10);
            break;
        }
        default: bad = tdm_pb_skip(&r, wire); break;
        }
        if (bad) {
            oom = bad == -2; /* tdm_pb_repeated could not grow its array */
            rc = -1;
            break;
        }
    }
    char tname[128];
    snprintf(tname, sizeof tname, "%.*s", (int)(name_len < 100 ? name_len : 100), name ? (const char *)name : "");
    if (rc < 0) {
        st = oom ? tdm_error(TDM_OUT_OF_MEMORY, "tensor '%s': out of memory", tname)
                 : tdm_error(TDM_INVALID_MODEL, "tensor '%s': malformed TensorProto", tname);
        goto done;
    }
    size_t esize = tdm_dtype_size((tdm_dtype)dtype);
    if (dtype == TDM_STRING || n_strings) {
        st = tdm_error(TDM_UNSUPPORTED, "tensor '%s': string tensors are not supported", tname);
        goto done;
    }
    if (esize == 0) {
        st = tdm_error(dtype > 16 ? TDM_INVALID_MODEL : TDM_UNSUPPORTED, "tensor '%s': data type %s (%llu) is not "
                       "supported", tname, tdm_dtype_name((tdm_dtype)dtype), (unsigned long long)dtype);
        goto done;
    }
    if (dims.n > TDM_MAX_RANK) {
        st = tdm_error(TDM_UNSUPPORTED, "tensor '%s': rank %zu, at most %d supported", tname, dims.n, TDM_MAX_RANK);
        goto done;
    }
    uint64_t numel = 1;
    for (size_t i = 0; i < dims.n; i++) {
        int64_t d = ((int64_t *)dims.data)[i];
        if (d < 0 || (d > 0 && numel > TDM_MAX_TENSOR_BYTES / (uint64_t)d)) {
            st = tdm_error(TDM_INVALID_MODEL, "tensor '%s': invalid dimension %lld", tname, (long long)d);
            goto done;
        }
        numel *= (uint64_t)d;
        out->dims[i] = d;
    }
    out->rank = (int)dims.n;
    out->dtype = (tdm_dtype)dtype;
    uint64_t bytes = numel * esize;
    if (bytes > TDM_MAX_TENSOR_BYTES) {
        st = tdm_error(TDM_UNSUPPORTED, "tensor '%s': %llu bytes is too large", tname, (unsigned long long)bytes);
        goto done;
    }
    /* Check that the data matches the shape before allocating: a corrupted dims field in a few bytes of input must
     * not cost a huge allocation. */
    if ((loc == 1 || external) && !base_dir) {
        st = read_external(base_dir, ext_loc, ext_off, 0, NULL, tname); /* the "needs the model's folder" error */
        goto done;
    }
    if (!(loc == 1 || external)) {
        size_t given = has_raw ? raw_len
                       : out->dtype == TDM_FLOAT ? f32.n * esize
                       : out->dtype == TDM_DOUBLE ? f64.n * esize
                       : out->dtype == TDM_INT64 ? i64.n * esize
                       : (out->dtype == TDM_UINT64 || out->dtype == TDM_UINT32) ? u64.n * esize
                       : i32.n * esize;
        if (given != bytes) {
            st = tdm_error(TDM_INVALID_MODEL, "tensor '%s': %zu bytes of data given, shape needs %llu", tname, given,
                           (unsigned long long)bytes);
            goto done;
        }
    }
    out->name = tdm_strdup(a, name ? (const char *)name : "", name_len);
    out->data = tdm_malloc_aligned(a, bytes ? (size_t)bytes : 1);
    if (!out->name || !out->data) {
        st = tdm_error(TDM_OUT_OF_MEMORY, "tensor '%s': out of memory", tname);
        goto done;
    }
    uint8_t *dst = out->data;
    size_t have = 0; /* elements supplied by the typed field in use */
    if (loc == 1 || external) {
        if (ext_len == UINT64_MAX) ext_len = bytes;
        if (ext_len != bytes) {
            st = tdm_error(TDM_INVALID_MODEL, "tensor '%s': external data length %llu, expected %llu bytes", tname,
                           (unsigned long long)ext_len, (unsigned long long)bytes);
            goto done;
        }
        st = read_external(base_dir, ext_loc, ext_off, bytes, dst, tname);
        goto done;
    } else if (has_raw) {
        if (raw_len != bytes) {
            st = tdm_error(TDM_INVALID_MODEL, "tensor '%s': raw_data holds %zu bytes, shape needs %llu", tname,
                           raw_len, (unsigned long long)bytes);
            goto done;
        }
        if (bytes) memcpy(dst, raw, (size_t)bytes); /* little-endian host assumed, as ONNX specifies */
        goto done;
    }
    switch (out->dtype) {
    case TDM_FLOAT:
        have = f32.n;
        if (have == numel && numel) memcpy(dst, f32.data, (size_t)bytes);
        break;
    case TDM_DOUBLE:
        have = f64.n;
        if (have == numel && numel) memcpy(dst, f64.data, (size_t)bytes);
        break;
    case TDM_INT64:
        have = i64.n;
        if (have == numel && numel) memcpy(dst, i64.data, (size_t)bytes);
        break;
    case TDM_UINT64: case TDM_UINT32:
        have = u64.n;
        if (have == numel)
            for (size_t i = 0; i < numel; i++) {
                uint64_t v = ((uint64_t *)u64.data)[i];
                if (esize == 8) memcpy(dst + 8 * i, &v, 8);
                else {
                    uint32_t w = (uint32_t)v;
                    memcpy(dst + 4 * i, &w, 4);
                }
            }
        break;
    default: /* int32, int16, int8, uint16, uint8, bool, float16: all carried in int32_data */
        have = i32.n;
        if (have == numel)
            for (size_t i = 0; i < numel; i++) {
                int64_t v = ((int64_t *)i32.data)[i];
                if (esize == 4) { int32_t w = (int32_t)v; memcpy(dst + 4 * i, &w, 4); }
                else if (esize == 2) { uint16_t w = (uint16_t)v; memcpy(dst + 2 * i, &w, 2); }
                else dst[i] = (uint8_t)v;
            }
        break;
    }
    if (have != numel)
        st = tdm_error(TDM_INVALID_MODEL, "tensor '%s': %zu values given, shape needs %llu", tname, have,
                       (unsigned long long)numel);
done:
    tdm_free(a, dims.data);
    tdm_free(a, f32.data);
    tdm_free(a, i64.data);
    tdm_free(a, f64.data);
    tdm_free(a, u64.data);
    tdm_free(a, i32.data);
    if (st != TDM_OK) {
        tdm_free(a, out->name);
        tdm_free_aligned(a, out->data);
        out->name = NULL;
        out->data = NULL;
    }
    return st;
}

/* ---- writer ---------------------------------------------------------------------------------------------------- */

void tdm_pb_put_raw(tdm_pb_buf *b, const void *p, size_t len) {
    if (b->failed) return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len) cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->len, p, len);
    b->len += len;
}

void tdm_pb_put_varint(tdm_pb_buf *b, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    tdm_pb_put_raw(b, tmp, (size_t)n);
}

void tdm_pb_put_tag(tdm_pb_buf *b, uint32_t field, int wire) { tdm_pb_put_varint(b, (uint64_t)field << 3 | (unsigned)wire); }

void tdm_pb_put_varint_field(tdm_pb_buf *b, uint32_t field, uint64_t v) {
    tdm_pb_put_tag(b, field, PB_VARINT);
    tdm_pb_put_varint(b, v);
}

void tdm_pb_put_bytes_field(tdm_pb_buf *b, uint32_t field, const void *p, size_t len) {
    tdm_pb_put_tag(b, field, PB_LEN);
    tdm_pb_put_varint(b, len);
    tdm_pb_put_raw(b, p, len);
}

void tdm_pb_put_tensor(tdm_pb_buf *b, const char *name, tdm_dtype dtype, int rank, const int64_t *dims,
                       const void *data) {
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        tdm_pb_put_varint_field(b, TP_DIMS, (uint64_t)dims[i]);
        numel *= (uint64_t)dims[i];
    }
    tdm_pb_put_varint_field(b, TP_DATA_TYPE, (uint64_t)dtype);
    if (name && name[0]) tdm_pb_put_bytes_field(b, TP_NAME, name, strlen(name));
    tdm_pb_put_bytes_field(b, TP_RAW_DATA, data, (size_t)(numel * tdm_dtype_size(dtype)));
}

/* ---- public tensor helpers ------------------------------------------------------------------------------------- */

int64_t tdm_tensor_numel(const tdm_tensor *t) {
    int64_t k = 1;
    for (int i = 0; i < t->rank; i++) k *= t->dims[i];
    return k;
}

tdm_tensor *tdm_tensor_new(tdm_dtype dtype, int rank, const int64_t *dims) {
    if (rank < 0 || rank > TDM_MAX_RANK || tdm_dtype_size(dtype) == 0) return NULL;
    tdm_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (dims[i] && numel > TDM_MAX_TENSOR_BYTES / (uint64_t)dims[i])) {
            free(t);
            return NULL;
        }
        numel *= (uint64_t)dims[i];
        t->dims[i] = dims[i];
    }
    size_t bytes = (size_t)(numel * tdm_dtype_size(dtype));
    t->data = tdm_malloc_aligned(NULL, bytes ? bytes : 1);
    if (!t->data) {
        free(t);
        return NULL;
    }
    memset(t->data, 0, bytes);
    t->dtype = dtype;
    t->rank = rank;
    return t;
}

void tdm_tensor_free(tdm_tensor *t) {
    if (!t) return;
    free(t->name);
    tdm_free_aligned(NULL, t->data);
    free(t);
}

tdm_status tdm_tensor_read_memory(const void *data, size_t size, tdm_tensor **tensor_out) {
    if (!tensor_out || (!data && size)) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_tensor_read_memory: NULL argument");
    *tensor_out = NULL;
    tdm_tensor *t = calloc(1, sizeof *t);
    if (!t) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st = tdm_pb_tensor(data, size, NULL, NULL, t);
    if (st != TDM_OK) {
        free(t);
        return st;
    }
    *tensor_out = t;
    return TDM_OK;
}

/* A seekable file is read with one allocation of its size (growing a buffer by doubling copied a 100 MB model twice
 * over and faulted in every copy); other streams grow. */
void *tdm_read_file(const char *path, size_t *size_out, tdm_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = tdm_error(TDM_IO_ERROR, "cannot open '%s'", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    long end = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1; /* a folder's "size" can be LONG_MAX: bounded below */
    if (end >= 0 && (uint64_t)end < TDM_MAX_TENSOR_BYTES && fseek(f, 0, SEEK_SET) == 0)
        cap = (size_t)end + 1; /* + 1: a read that fills it means the file grew */
    else {
        clearerr(f);
        rewind(f);
    }
    uint8_t *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) {
        *st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory reading '%s'", path);
        return NULL;
    }
    if (err) {
        free(buf);
        *st = tdm_error(TDM_IO_ERROR, "cannot read '%s' (is it a folder?)", path);
        return NULL;
    }
    *size_out = len;
    *st = TDM_OK;
    return buf;
}

tdm_status tdm_file_open(const char *path, tdm_file *f) {
    memset(f, 0, sizeof *f);
#ifdef TDM_HAVE_MMAP
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        return tdm_error(TDM_IO_ERROR, "cannot read '%s': it is a folder", path);
    }
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p != MAP_FAILED) {
#ifdef MADV_WILLNEED
            /* Read ahead into the page cache, but map nothing yet (MAP_POPULATE would make the whole file resident at
             * once, and the load's peak the file plus its weights): pages are mapped as the parser reaches them and
             * given back by tdm_file_release once their tensor is copied. */
            madvise(p, (size_t)sb.st_size, MADV_WILLNEED);
#endif
            f->data = p;
            f->size = (size_t)sb.st_size;
            f->mapped = 1;
            return TDM_OK;
        }
    } else if (fd >= 0) {
        close(fd);
    }
#endif
    tdm_status st;
    void *buf = tdm_read_file(path, &f->size, &st);
    if (!buf) return st;
    f->data = buf;
    return TDM_OK;
}

void tdm_file_close(tdm_file *f) {
    if (!f->data) return;
#ifdef TDM_HAVE_MMAP
    if (f->mapped) munmap((void *)f->data, f->size);
    else
#endif
        free((void *)f->data);
    f->data = NULL;
}

void tdm_file_release(const tdm_file *f, const void *p, size_t len) {
    /* only inside a file we mapped ourselves: a buffer that was read, or the caller's, is left alone */
    if (!f || !f->mapped || !p) return;
    uintptr_t lo = (uintptr_t)p, base = (uintptr_t)f->data;
    if (lo < base || lo - base > f->size || len > f->size - (lo - base)) return;
    tdm_pages_drop(p, len);
}

tdm_status tdm_tensor_read_file(const char *path, tdm_tensor **tensor_out) {
    if (!path || !tensor_out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_tensor_read_file: NULL argument");
    *tensor_out = NULL;
    size_t size;
    tdm_status st;
    void *buf = tdm_read_file(path, &size, &st);
    if (!buf) return st;
    st = tdm_tensor_read_memory(buf, size, tensor_out);
    free(buf);
    if (st != TDM_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tdm_last_error());
        return tdm_error(st, "%s: %s", path, msg);
    }
    return TDM_OK;
}

tdm_status tdm_tensor_write_file(const char *path, const char *name, tdm_dtype dtype, int rank, const int64_t *dims,
                                 const void *data) {
    if (!path || (rank && !dims) || rank < 0 || rank > TDM_MAX_RANK || !data || tdm_dtype_size(dtype) == 0)
        return tdm_error(TDM_INVALID_ARGUMENT, "tdm_tensor_write_file: invalid argument");
    tdm_pb_buf b = {0};
    tdm_pb_put_tensor(&b, name, dtype, rank, dims, data);
    if (b.failed) {
        free(b.p);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b.p);
        return tdm_error(TDM_IO_ERROR, "cannot create '%s'", path);
    }
    size_t w = fwrite(b.p, 1, b.len, f);
    int rc = fclose(f);
    free(b.p);
    if (w != b.len || rc != 0) return tdm_error(TDM_IO_ERROR, "cannot write '%s'", path);
    return TDM_OK;
}
