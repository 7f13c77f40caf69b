/* json.h - a tiny streaming JSON writer (src/common: used by the CLI's machine-readable output and the server's
 * responses): escaped strings (invalid UTF-8 becomes U+FFFD), integers, doubles (NaN/Inf become null), nested objects
 * and arrays, commas handled for the caller. Writes to a FILE the caller owns (an open_memstream for the server). */
#ifndef TANDEM_COMMON_JSON_H
#define TANDEM_COMMON_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
    FILE *f;
    int depth;
    int count[JSON_MAX_DEPTH]; /* values written so far at each level: decides the comma */
    int after_key;             /* a key was just written: the next value needs no comma */
} json_writer;

void json_init(json_writer *w, FILE *f);
void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
/* Write a key inside an object; the next call writes its value. */
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s); /* NULL writes null */
void json_int(json_writer *w, int64_t v);
void json_uint(json_writer *w, uint64_t v);
/* sig significant digits (6..17); non-finite values are written as null, which JSON requires. */
void json_double(json_writer *w, double v, int sig);
void json_bool(json_writer *w, int v);
void json_null(json_writer *w);
/* End the document with a newline and flush. */
void json_finish(json_writer *w);

/* Key-value shorthands. */
void json_kv_string(json_writer *w, const char *key, const char *s);
void json_kv_int(json_writer *w, const char *key, int64_t v);
void json_kv_uint(json_writer *w, const char *key, uint64_t v);
void json_kv_double(json_writer *w, const char *key, double v, int sig);
void json_kv_bool(json_writer *w, const char *key, int v);

/* Write s to f as a JSON string literal (with quotes). */
void json_write_escaped(FILE *f, const char *s);

/* A JSON document built in memory (an open_memstream under the writer `w`): json_doc_begin, write through &d->w, then
 * json_doc_end hands over the malloc'd bytes (*buf, the caller frees them; *len without a terminating NUL). Both
 * return 0, or -1 when memory ran out (nothing is left to free). */
typedef struct json_doc {
    char *buf;
    size_t len;
    FILE *f;
    json_writer w;
} json_doc;
int json_doc_begin(json_doc *d);
int json_doc_end(json_doc *d, char **buf, size_t *len);

#endif /* TANDEM_COMMON_JSON_H */
