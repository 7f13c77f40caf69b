/* json.c - the streaming JSON writer of src/common (see json.h). Output is compact, one document per line, so that
 * line-based tools can read it. */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_writer *w, FILE *f) {
    memset(w, 0, sizeof *w);
    w->f = f;
}

/* Emit the separator that must precede a new value at the current level. */
static void json_pre_value(json_writer *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->count[w->depth] > 0) fputs(", ", w->f);
    w->count[w->depth]++;
}

static void json_open(json_writer *w, char c) {
    json_pre_value(w);
    fputc(c, w->f);
    /* Deeper nesting than JSON_MAX_DEPTH is a programming error in the caller; stay safe by sharing the last level. */
    if (w->depth < JSON_MAX_DEPTH - 1) w->depth++;
    w->count[w->depth] = 0;
}

static void json_close(json_writer *w, char c) {
    if (w->depth > 0) w->depth--;
    w->after_key = 0;
    fputc(c, w->f);
}

void json_object_begin(json_writer *w) { json_open(w, '{'); }
void json_object_end(json_writer *w) { json_close(w, '}'); }
void json_array_begin(json_writer *w) { json_open(w, '['); }
void json_array_end(json_writer *w) { json_close(w, ']'); }

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 if the bytes there are not valid UTF-8. */
static int utf8_seq_len(const unsigned char *s) {
    unsigned c = s[0];
    int n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; min = 0x10000; }
    else return 0;
    unsigned cp = c & (0x7Fu >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL terminator */
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

void json_write_escaped(FILE *f, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            s++;
        } else if (c < 0x20 || c == 0x7F) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            s++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            s++;
        } else {
            int n = utf8_seq_len(s);
            if (n == 0) {
                fputs("\\ufffd", f); /* garbage bytes (e.g. names in a corrupted model) stay parseable */
                s++;
            } else {
                fwrite(s, 1, (size_t)n, f);
                s += n;
            }
        }
    }
    fputc('"', f);
}

void json_key(json_writer *w, const char *key) {
    json_pre_value(w);
    json_write_escaped(w->f, key ? key : "");
    fputs(": ", w->f);
    w->after_key = 1;
}

void json_string(json_writer *w, const char *s) {
    if (!s) {
        json_null(w);
        return;
    }
    json_pre_value(w);
    json_write_escaped(w->f, s);
}

void json_int(json_writer *w, int64_t v) {
    json_pre_value(w);
    fprintf(w->f, "%lld", (long long)v);
}

void json_uint(json_writer *w, uint64_t v) {
    json_pre_value(w);
    fprintf(w->f, "%llu", (unsigned long long)v);
}

void json_double(json_writer *w, double v, int sig) {
    if (!isfinite(v)) {
        json_null(w);
        return;
    }
    if (sig < 1) sig = 1;
    if (sig > 17) sig = 17;
    json_pre_value(w);
    if (v == 0.0) v = 0.0; /* no "-0" */
    fprintf(w->f, "%.*g", sig, v);
}

void json_bool(json_writer *w, int v) {
    json_pre_value(w);
    fputs(v ? "true" : "false", w->f);
}

void json_null(json_writer *w) {
    json_pre_value(w);
    fputs("null", w->f);
}

void json_finish(json_writer *w) {
    fputc('\n', w->f);
    fflush(w->f);
}

void json_kv_string(json_writer *w, const char *key, const char *s) { json_key(w, key); json_string(w, s); }
void json_kv_int(json_writer *w, const char *key, int64_t v) { json_key(w, key); json_int(w, v); }
void json_kv_uint(json_writer *w, const char *key, uint64_t v) { json_key(w, key); json_uint(w, v); }
void json_kv_double(json_writer *w, const char *key, double v, int sig) { json_key(w, key); json_double(w, v, sig); }
void json_kv_bool(json_writer *w, const char *key, int v) { json_key(w, key); json_bool(w, v); }

int json_doc_begin(json_doc *d) {
    memset(d, 0, sizeof *d);
    d->f = open_memstream(&d->buf, &d->len);
    if (!d->f) return -1;
    json_init(&d->w, d->f);
    return 0;
}

int json_doc_end(json_doc *d, char **buf, size_t *len) {
    if (fclose(d->f) != 0) {
        free(d->buf);
        return -1;
    }
    *buf = d->buf;
    *len = d->len;
    return 0;
}
