/* pb.h - a minimal protobuf wire-format reader and writer, enough for ONNX. No third-party code: the same sources
 * build under emscripten. Every read is bounds-checked; malformed input yields an error, never a crash. */
#ifndef TDM_PB_H
#define TDM_PB_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

typedef struct tdm_pb {
    const uint8_t *p, *end;
} tdm_pb;

/* Read the next field key. Returns 1 on a field, 0 at the end of the message, -1 on malformed input. */
int tdm_pb_next(tdm_pb *r, uint32_t *field, int *wire);
/* Read a value of the given wire type. Each returns 0 on success, -1 on malformed input or a wire-type mismatch. */
int tdm_pb_varint(tdm_pb *r, int wire, uint64_t *v);
int tdm_pb_bytes(tdm_pb *r, int wire, const uint8_t **p, size_t *len);
int tdm_pb_fixed32(tdm_pb *r, int wire, uint32_t *v);
int tdm_pb_fixed64(tdm_pb *r, int wire, uint64_t *v);
int tdm_pb_skip(tdm_pb *r, int wire);

/* A repeated scalar field may come packed (one LEN record) or unpacked (one record per element). These append to a
 * growable array. elem: 0 varint (as int64), 4 fixed32, 8 fixed64. Returns 0, -1 on malformed input, or -2 when the
 * array cannot grow (out of memory). */
typedef struct tdm_pb_array {
    void *data;
    size_t n, cap;
} tdm_pb_array;
int tdm_pb_repeated(tdm_pb *r, int wire, int elem, const tdm_alloc *a, tdm_pb_array *arr);

/* Parse a TensorProto into *out (the caller's struct; out->data is a 64-byte-aligned block from `a`, name from `a`).
 * base_dir is where external data lives (NULL: external data is an error). Errors go through tdm_error. */
tdm_status tdm_pb_tensor(const uint8_t *p, size_t len, const tdm_alloc *a, const char *base_dir, tdm_tensor *out);

/* A growable output buffer for the writer. */
typedef struct tdm_pb_buf {
    uint8_t *p;
    size_t len, cap;
    int failed;
} tdm_pb_buf;
void tdm_pb_put_varint_field(tdm_pb_buf *b, uint32_t field, uint64_t v);
void tdm_pb_put_bytes_field(tdm_pb_buf *b, uint32_t field, const void *p, size_t len);
void tdm_pb_put_tag(tdm_pb_buf *b, uint32_t field, int wire);
void tdm_pb_put_varint(tdm_pb_buf *b, uint64_t v);
void tdm_pb_put_raw(tdm_pb_buf *b, const void *p, size_t len);
/* Serialise a TensorProto with raw_data into b. */
void tdm_pb_put_tensor(tdm_pb_buf *b, const char *name, tdm_dtype dtype, int rank, const int64_t *dims,
                       const void *data);

/* Read a whole file. Returns a malloc'd buffer (libc free) or NULL with *st and the error message set. */
void *tdm_read_file(const char *path, size_t *size_out, tdm_status *st);

/* A whole file's bytes, read-only: mapped where the platform maps files (no copy, and the pages come from the page
 * cache in one go), else read into a buffer. Close with tdm_file_close. */
typedef struct tdm_file {
    const void *data;
    size_t size;
    int mapped; /* 1: munmap on close; 0: free */
} tdm_file;
tdm_status tdm_file_open(const char *path, tdm_file *f);
void tdm_file_close(tdm_file *f);
/* Tell f that the bytes [p, p + len) inside it will not be needed again: a mapped file gives the whole pages among them
 * back to the system, so a model's resident memory holds its file and its parsed weights together only for the tensor
 * at hand, not for the whole file (the peak of a load was the file plus every weight). Reading them again still
 * works (the pages come back from the page cache). A no-op for NULL, for a buffer that was read, and off Linux. */
void tdm_file_release(const tdm_file *f, const void *p, size_t len);

#endif
