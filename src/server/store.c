/* store.c - the results store's front half, shared by both backends: picks SQLite or PostgreSQL from the URL,
 * validates each posted document (size, UTF-8, strict JSON object, a known versioned "schema"), extracts the indexed
 * fields, and formats query results as JSON or CSV. The backends (store_sqlite.c, store_pg.c) only write and read
 * rows, so both behave the same by construction. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "store.h"
#include "store_backend.h"

/* A posted document may be at most this big; the server's body limit should not be smaller. */
#define STORE_MAX_DOC_BYTES (1u << 20)
/* Indexed strings (source, model, engine, filters) at most this many bytes. */
#define STORE_MAX_FIELD 256
/* A query's formatted output at most this big: beyond it the caller must ask for fewer rows. */
#define STORE_MAX_OUTPUT ((size_t)64 << 20)

struct tdm_store {
    const store_backend *be;
    void *impl;
};

/* The schemas this store takes: "tandem.<kind>/<version>" with 1 <= version <= max_version. Their fields, and the
 * indexed ones read below, are defined in docs/RESULTS.md: keep the two in step. */
static const struct {
    const char *kind;
    int max_version;
} store_schemas[] = {
    {"tandem.result", 1}, /* the page, `tandem study` and the server's own figures */
    {"tandem.bench", 1},  /* `tandem bench --json`, as it prints it */
    {"tandem.study", 1},  /* `tandem study`'s results.json (--post URL), which `--report-from URL` reads back */
    {"tandem.verdict", 1}, /* the page's device run: the cloud path from that device and its verdict */
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- opening ---------------------------------------------------------------------------------------------------- */

int store_open(const char *url, tdm_store **out, char *err, size_t errlen) {
    if (!out) return fail(err, errlen, -1, "store_open: no output pointer");
    *out = NULL;
    if (!url) url = "tandem-results.db";
    const store_backend *be;
    const char *target = url;
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
        be = &store_pg_backend;
    } else {
        be = &store_sqlite_backend;
        if (!strncmp(url, "sqlite:", 7)) target = url + 7;
    }
    if (!*target) return fail(err, errlen, -1, "results store: empty database path in '%s'", url);
    tdm_store *st = calloc(1, sizeof *st);
    if (!st) return fail(err, errlen, -1, "results store: out of memory");
    int rc = be == &store_pg_backend ? store_pg_open(target, &st->impl, err, errlen)
                                     : store_sqlite_open(target, &st->impl, err, errlen);
    if (rc) {
        free(st);
        return -1;
    }
    st->be = be;
    *out = st;
    return 0;
}

void store_close(tdm_store *st) {
    if (!st) return;
    st->be->close(st->impl);
    free(st);
}

/* ---- validation helpers ----------------------------------------------------------------------------------------- */

/* Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points past U+10FFFF included), or
 * len when all of s is valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if (len - i < n) return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n;
    }
    return len;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int read_digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* Format milliseconds since the epoch (UTC) as "YYYY-MM-DDTHH:MM:SS.mmmZ": one fixed-width form, so that string order
 * is time order in both SQL backends. */
static void format_utc_ms(int64_t ms, char out[32]) {
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)secs * 1000);
    struct tm tmv;
    gmtime_r(&secs, &tmv);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
             tmv.tm_hour, tmv.tm_min, tmv.tm_sec, milli);
}

/* Parse an ISO-8601 / RFC 3339 time: "YYYY-MM-DD", optionally followed by "T" (or a space) and "HH:MM[:SS[.frac]]",
 * optionally followed by "Z" or an offset "+HH:MM" / "-HH:MM" (none means UTC). Writes the normalised UTC form (see
 * format_utc_ms) and returns 1, or returns 0 when s is not such a time. */
static int normalize_time(const char *s, char out[32]) {
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' || !read_digits(&p, 2, &d))
        return 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi)) return 0;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &sec)) return 0;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p)) return 0;
                int scale = 100;
                for (; isdigit((unsigned char)*p); p++, scale /= 10) ms += (*p - '0') * scale;
            }
        }
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        /* a space stands for '+': what an unencoded "+01:00" becomes in a URL query (?since=...+01:00) */
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!read_digits(&p, 2, &oh)) return 0;
        if (*p == ':') p++;
        if (*p && !read_digits(&p, 2, &om)) return 0;
        if (oh > 23 || om > 59) return 0;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p) return 0;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return 0;
    if (h > 23 || mi > 59 || sec > 60) return 0; /* 60: a leap second, which counts as the next second */
    int64_t t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - offset_min) * 60 + sec;
    format_utc_ms(t * 1000 + ms, out);
    return 1;
}

static void now_utc(char out[32]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    format_utc_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, out);
}

/* Check "tandem.<kind>/<version>" against store_schemas. Returns 0, or -1 with err saying what was expected. */
static int check_schema(const char *s, char *err, size_t errlen) {
    const char *slash = strrchr(s, '/');
    char accepted[256] = "";
    for (size_t i = 0; i < sizeof store_schemas / sizeof store_schemas[0]; i++)
        snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted), "%s%s/%s%d", i ? ", " : "",
                 store_schemas[i].kind, store_schemas[i].max_version > 1 ? "1.." : "", store_schemas[i].max_version);
    const char *v = slash ? slash + 1 : NULL;
    int version_ok = v && *v && *v != '0' && strlen(v) <= 9 && strspn(v, "0123456789") == strlen(v);
    if (!version_ok)
        return fail(err, errlen, -1, "\"schema\" is '%.80s', not a versioned schema like 'tandem.result/1' (this "
                    "store takes %s)", s, accepted);
    int version = atoi(v);
    for (size_t i = 0; i < sizeof store_schemas / sizeof store_schemas[0]; i++) {
        size_t n = strlen(store_schemas[i].kind);
        if ((size_t)(slash - s) != n || strncmp(s, store_schemas[i].kind, n)) continue;
        if (version > store_schemas[i].max_version)
            return fail(err, errlen, -1, "\"schema\" '%.80s': version %d of %s is newer than this store knows "
                        "(it takes %s)", s, version, store_schemas[i].kind, accepted);
        return 0;
    }
    return fail(err, errlen, -1, "\"schema\" '%.80s' is not a schema this store takes (%s)", s, accepted);
}

/* An optional string member: absent or null gives *out = NULL; a string is checked for length; anything else is a
 * bad request. */
static int opt_string(const cJSON *doc, const char *key, const char **out, char *err, size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);
    *out = NULL;
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsString(it)) return fail(err, errlen, -1, "\"%s\" must be a string", key);
    if (strlen(it->valuestring) > STORE_MAX_FIELD)
        return fail(err, errlen, -1, "\"%s\" is longer than %d bytes", key, STORE_MAX_FIELD);
    *out = it->valuestring;
    return 0;
}

/* The model's name: "model": {"name": ...} (result/1), or "model": "path/to/<name>/model.onnx" as `tandem bench`
 * writes it, whose name is the folder (or the file name without .onnx when the file is not model.onnx). */
static int model_name(const cJSON *doc, char *out, size_t outlen, int *present, char *err, size_t errlen) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "model");
    *present = 0;
    if (!m || cJSON_IsNull(m)) return 0;
    const char *s;
    if (cJSON_IsObject(m)) {
        if (opt_string(m, "name", &s, err, errlen))
            return fail(err, errlen, -1, "\"model\": \"name\" must be a string");
        if (!s) return 0;
        if (strlen(s) > STORE_MAX_FIELD) return fail(err, errlen, -1, "\"model\".\"name\" is too long");
        snprintf(out, outlen, "%s", s);
        *present = 1;
        return 0;
    }
    if (!cJSON_IsString(m))
        return fail(err, errlen, -1, "\"model\" must be an object with a \"name\" or a path string");
    s = m->valuestring;
    size_t n = strlen(s);
    while (n && s[n - 1] == '/') n--;
    size_t b = n;
    while (b && s[b - 1] != '/') b--;
    if (n - b == 10 && !strncmp(s + b, "model.onnx", 10) && b > 1) { /* <dir>/model.onnx: the folder names it */
        n = b - 1;
        b = n;
        while (b && s[b - 1] != '/') b--;
    } else if (n - b > 5 && !strncmp(s + n - 5, ".onnx", 5)) {
        n -= 5;
    }
    if (n - b > STORE_MAX_FIELD)
        return fail(err, errlen, -1, "\"model\" name is longer than %d bytes", STORE_MAX_FIELD);
    if (n == b) return 0;
    snprintf(out, outlen, "%.*s", (int)(n - b), s + b);
    *present = 1;
    return 0;
}

/* ---- strict JSON -------------------------------------------------------------------------------------------- */

/* Nesting deeper than this is refused (cJSON itself stops at 1000). */
#define STORE_MAX_DEPTH 256

/* Check that s[0..len) is exactly one JSON text by RFC 8259 (cJSON alone is lenient: it takes 01, 1. and raw control
 * characters in strings), and copy it to out without the whitespace between tokens, so the store keeps the posted
 * tokens byte for byte (numbers are not reprinted). out needs len + 1 bytes; *outlen gets the compact length.
 * Returns 1, or 0 with *at = the offending byte's offset and *why = what was wrong. UTF-8 is checked elsewhere. */
static int json_strict_compact(const char *s, size_t len, char *out, size_t *outlen, size_t *at, const char **why) {
    enum { VALUE, ARRAY_FIRST, KEY_FIRST, KEY, COLON, AFTER, DONE } mode = VALUE;
    char stack[STORE_MAX_DEPTH];
    int depth = 0;
    size_t i = 0, o = 0;
#define JS_FAIL(msg)                                                                                                   \
    do {                                                                                                               \
        *at = i;                                                                                                       \
        *why = msg;                                                                                                    \
        return 0;                                                                                                      \
    } while (0)
    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i == len) {
            if (mode == DONE) break;
            JS_FAIL("unexpected end of the document");
        }
        char c = s[i];
        if (mode == DONE) JS_FAIL("trailing data after the JSON document");
        if (mode == COLON) {
            if (c != ':') JS_FAIL("expected ':' after an object key");
            out[o++] = s[i++];
            mode = VALUE;
            continue;
        }
        if (mode == AFTER) {
            if (c == ',') {
                out[o++] = s[i++];
                mode = stack[depth - 1] == '{' ? KEY : VALUE;
                continue;
            }
            if (c != (stack[depth - 1] == '{' ? '}' : ']')) JS_FAIL("expected ',' or the end of the object or array");
        }
        if ((mode == AFTER || mode == KEY_FIRST) && c == '}') {
            out[o++] = s[i++];
            mode = --depth ? AFTER : DONE;
            continue;
        }
        if ((mode == AFTER || mode == ARRAY_FIRST) && c == ']') {
            out[o++] = s[i++];
            mode = --depth ? AFTER : DONE;
            continue;
        }
        if ((mode == KEY || mode == KEY_FIRST) && c != '"') JS_FAIL("expected a string key");
        /* a value (or a key) starts here */
        size_t start = i;
        if (c == '{' || c == '[') {
            if (depth == STORE_MAX_DEPTH) JS_FAIL("the document is nested too deeply");
            stack[depth++] = c;
            out[o++] = s[i++];
            mode = c == '{' ? KEY_FIRST : ARRAY_FIRST;
            continue;
        }
        if (c == '"') {
            for (i++;; i++) {
                if (i == len) JS_FAIL("unterminated string");
                unsigned char ch = (unsigned char)s[i];
                if (ch == '"') break;
                if (ch < 0x20) JS_FAIL("a control character inside a string (it must be escaped)");
                if (ch == '\\') {
                    if (++i == len) JS_FAIL("unterminated string");
                    if (s[i] == 'u') {
                        for (int k = 1; k <= 4; k++)
                            if (i + k >= len || !isxdigit((unsigned char)s[i + k])) JS_FAIL("a bad \\u escape");
                        i += 4;
                    } else if (!strchr("\"\\/bfnrt", s[i]) || !s[i]) {
                        JS_FAIL("a bad escape in a string");
                    }
                }
            }
            i++;
            mode = mode == KEY || mode == KEY_FIRST ? COLON : AFTER;
        } else if (c == '-' || isdigit((unsigned char)c)) {
            if (c == '-') i++;
            if (i < len && s[i] == '0') i++;
            else if (i < len && s[i] >= '1' && s[i] <= '9')
                while (i < len && isdigit((unsigned char)s[i])) i++;
            else JS_FAIL("a bad number");
            if (i < len && s[i] == '.') {
                if (++i == len || !isdigit((unsigned char)s[i])) JS_FAIL("a bad number: no digit after '.'");
                while (i < len && isdigit((unsigned char)s[i])) i++;
            }
            if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < len && (s[i] == '+' || s[i] == '-')) i++;
                if (i == len || !isdigit((unsigned char)s[i])) JS_FAIL("a bad number: no digit in the exponent");
                while (i < len && isdigit((unsigned char)s[i])) i++;
            }
            mode = AFTER;
        } else if (len - i >= 4 && (!memcmp(s + i, "true", 4) || !memcmp(s + i, "null", 4))) {
            i += 4;
            mode = AFTER;
        } else if (len - i >= 5 && !memcmp(s + i, "false", 5)) {
            i += 5;
            mode = AFTER;
        } else {
            JS_FAIL("expected a value");
        }
        memcpy(out + o, s + start, i - start);
        o += i - start;
        if (mode == AFTER && depth == 0) mode = DONE;
    }
#undef JS_FAIL
    out[o] = 0;
    *outlen = o;
    return 1;
}

/* An indexed key given twice: cJSON reads the first, JavaScript's JSON.parse the last, so the index and a reader of the
 * document would disagree. Returns -1 with err set, or 0. */
static int indexed_key_twice(const cJSON *doc, char *err, size_t errlen) {
    static const char *const keys[] = {"schema", "source", "model", "engine", "threads", "created"};
    const cJSON *model = NULL;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int n = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, doc) {
            if (it->string && !strcmp(it->string, keys[k])) {
                n++;
                if (k == 2) model = it;
            }
        }
        if (n > 1) return fail(err, errlen, -1, "the key \"%s\" appears %d times in the document", keys[k], n);
    }
    int names = 0;
    const cJSON *it;
    if (cJSON_IsObject(model)) cJSON_ArrayForEach(it, model) names += it->string && !strcmp(it->string, "name");
    if (names > 1) return fail(err, errlen, -1, "the key \"model\".\"name\" appears %d times", names);
    return 0;
}

/* ---- insert ----------------------------------------------------------------------------------------------------- */

int store_insert(tdm_store *st, const char *json, size_t len, int64_t *id_out, char *err, size_t errlen) {
    if (!st || !json || !id_out) return fail(err, errlen, -2, "store_insert: bad arguments");
    if (len == 0) return fail(err, errlen, -1, "empty body: expected a JSON result document");
    if (len > STORE_MAX_DOC_BYTES)
        return fail(err, errlen, -1, "the document is %zu bytes; the store takes at most %u", len, STORE_MAX_DOC_BYTES);
    if (memchr(json, 0, len)) return fail(err, errlen, -1, "the document contains a NUL byte: not JSON text");
    size_t bad = utf8_invalid_at((const unsigned char *)json, len);
    if (bad < len) return fail(err, errlen, -1, "the document is not valid UTF-8 (byte offset %zu)", bad);
    char *compact = malloc(len + 1);
    if (!compact) return fail(err, errlen, -2, "out of memory while storing the document");
    size_t clen = 0, at = 0;
    const char *why = NULL;
    int rc = -1;
    cJSON *doc = NULL;
    if (!json_strict_compact(json, len, compact, &clen, &at, &why)) {
        fail(err, errlen, -1, "malformed JSON at byte offset %zu: %s", at, why);
        goto out;
    }
    /* A \u0000 escape would cut cJSON's copy of a string short, so the indexed fields could differ from the document:
     * refuse it. Backslashes occur only inside strings, always as two-character escapes, so a pairwise scan is exact.
     */
    for (size_t i = 0; i + 5 < clen; i++)
        if (compact[i] == '\\') {
            if (compact[i + 1] == 'u' && !memcmp(compact + i + 2, "0000", 4)) {
                fail(err, errlen, -1, "the document contains a \\u0000 escape, which the store does not take");
                goto out;
            }
            i++;
        }
    if (!(doc = cJSON_ParseWithLength(compact, clen))) { /* valid JSON that cJSON refuses: unpaired surrogates */
        fail(err, errlen, -1, "malformed JSON: a \\u escape that is not a valid UTF-16 character");
        goto out;
    }
    if (!cJSON_IsObject(doc)) {
        fail(err, errlen, -1, "the document must be a JSON object");
        goto out;
    }
    if (indexed_key_twice(doc, err, errlen)) goto out;
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    if (!schema) {
        fail(err, errlen, -1, "the document has no \"schema\" field (expected e.g. \"schema\": \"tandem.result/1\")");
        goto out;
    }
    if (!cJSON_IsString(schema)) {
        fail(err, errlen, -1, "\"schema\" must be a string like \"tandem.result/1\"");
        goto out;
    }
    if (check_schema(schema->valuestring, err, errlen)) goto out;

    store_row row = {0};
    char model[STORE_MAX_FIELD + 1], created[32], received[32];
    int has_model;
    const char *created_s;
    row.schema = schema->valuestring;
    if (opt_string(doc, "source", &row.source, err, errlen) || opt_string(doc, "engine", &row.engine, err, errlen) ||
        model_name(doc, model, sizeof model, &has_model, err, errlen) ||
        opt_string(doc, "created", &created_s, err, errlen))
        goto out;
    row.model = has_model ? model : NULL;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(doc, "threads");
    if (th && !cJSON_IsNull(th)) {
        double v = cJSON_IsNumber(th) ? th->valuedouble : -1; /* range first: casting 1e999 (inf) would be UB */
        if (!(v >= 0 && v <= 1e6) || v != (double)(int64_t)v) {
            fail(err, errlen, -1, "\"threads\" must be a whole number between 0 and 1000000");
            goto out;
        }
        row.threads = (int64_t)th->valuedouble;
        row.has_threads = 1;
    }
    if (created_s) {
        if (!normalize_time(created_s, created)) {
            fail(err, errlen, -1, "\"created\" is '%.64s', not an ISO-8601 time like 2026-11-23T22:00:00Z", created_s);
            goto out;
        }
        row.created = created;
    }
    now_utc(received);
    row.received = received;
    if (!row.created) row.created = received; /* so that the 'since' filter sees every result */
    row.doc = compact;
    rc = st->be->insert(st->impl, &row, id_out, err, errlen) ? -2 : 0;
out:
    free(compact);
    cJSON_Delete(doc);
    return rc;
}

/* ---- query ------------------------------------------------------------------------------------------------------ */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom, too_big;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->oom || b->too_big) return;
    if (b->len + n + 1 > STORE_MAX_OUTPUT) {
        b->too_big = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal (quotes included) of a UTF-8 string. */
static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR, LF or edge spaces, with quotes doubled. NULL is
 * the empty field. */
static void sb_csv_field(strbuf *b, const char *s) {
    if (!s) return;
    size_t n = strlen(s);
    if (!strpbrk(s, ",\"\r\n") && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
        sb_put(b, s, n);
        return;
    }
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') sb_put(b, "\"", 1);
        sb_put(b, p, 1);
    }
    sb_put(b, "\"", 1);
}

/* Columns of the CSV output after the indexed ones: figures looked up in the document's "figures" object
 * (tandem.result/1) or at its top level (tandem.bench/1, and batch/build/mode in both). The whole document comes
 * last, so the CSV loses nothing. */
static const char *const csv_doc_columns[] = {"build",  "batch",   "mode",           "p50_ms",      "p90_ms",
                                              "p99_ms", "mean_ms", "throughput_ips", "first_run_ms"};

typedef struct query_ctx {
    strbuf out;
    int format;
    int64_t rows;
} query_ctx;

static int on_row(void *vctx, const store_row *r) {
    query_ctx *c = vctx;
    strbuf *b = &c->out;
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)r->id);
    if (c->format == STORE_JSON) {
        sb_str(b, c->rows ? ",\n{\"id\":" : "\n{\"id\":");
        sb_str(b, num);
        sb_str(b, ",\"received\":");
        sb_json_string(b, r->received ? r->received : "");
        sb_str(b, ",\"document\":");
        sb_str(b, r->doc);
        sb_str(b, "}");
    } else {
        sb_str(b, num);
        const char *cols[] = {r->received, r->created, r->schema, r->source, r->model, r->engine};
        for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
            sb_put(b, ",", 1);
            sb_csv_field(b, cols[i]);
        }
        sb_put(b, ",", 1);
        if (r->has_threads) {
            snprintf(num, sizeof num, "%lld", (long long)r->threads);
            sb_str(b, num);
        }
        cJSON *doc = cJSON_Parse(r->doc);
        const cJSON *figs = doc ? cJSON_GetObjectItemCaseSensitive(doc, "figures") : NULL;
        for (size_t i = 0; i < sizeof csv_doc_columns / sizeof csv_doc_columns[0]; i++) {
            sb_put(b, ",", 1);
            const cJSON *it = cJSON_IsObject(figs) ? cJSON_GetObjectItemCaseSensitive(figs, csv_doc_columns[i]) : NULL;
            if (!it && doc) it = cJSON_GetObjectItemCaseSensitive(doc, csv_doc_columns[i]);
            if (!it || cJSON_IsNull(it)) continue;
            if (cJSON_IsString(it)) {
                sb_csv_field(b, it->valuestring);
            } else if (cJSON_IsNumber(it)) { /* the shortest form that reads back as the same double */
                char v[40];
                for (int prec = 15; prec <= 17; prec++) {
                    snprintf(v, sizeof v, "%.*g", prec, it->valuedouble);
                    if (strtod(v, NULL) == it->valuedouble) break;
                }
                sb_str(b, v);
            } else {
                char *s = cJSON_PrintUnformatted(it);
                if (!s) b->oom = 1;
                else sb_csv_field(b, s);
                free(s);
            }
        }
        cJSON_Delete(doc);
        sb_put(b, ",", 1);
        sb_csv_field(b, r->doc);
        sb_str(b, "\r\n");
    }
    c->rows++;
    return b->oom || b->too_big;
}

/* A filter string: NULL or "" is no filter; otherwise at most STORE_MAX_FIELD bytes of valid UTF-8. */
static int check_filter(const char *name, const char *v, const char **out, char *err, size_t errlen) {
    *out = v && *v ? v : NULL;
    if (!*out) return 0;
    size_t n = strlen(v);
    if (n > STORE_MAX_FIELD) return fail(err, errlen, -1, "filter '%s' is longer than %d bytes", name, STORE_MAX_FIELD);
    if (utf8_invalid_at((const unsigned char *)v, n) < n)
        return fail(err, errlen, -1, "filter '%s' is not UTF-8", name);
    return 0;
}

int store_query(tdm_store *st, const store_filter *f, int format, char **out, size_t *outlen, char *err,
                size_t errlen) {
    if (!st || !out || !outlen) return fail(err, errlen, -2, "store_query: bad arguments");
    *out = NULL;
    *outlen = 0;
    if (format != STORE_JSON && format != STORE_CSV) return fail(err, errlen, -1, "unknown output format %d", format);
    store_filter none = {0};
    if (!f) f = &none;
    store_query_args q = {0};
    char since[32];
    if (check_filter("source", f->source, &q.source, err, errlen) ||
        check_filter("model", f->model, &q.model, err, errlen) ||
        check_filter("engine", f->engine, &q.engine, err, errlen))
        return -1;
    if (f->since && *f->since) {
        if (!normalize_time(f->since, since))
            return fail(err, errlen, -1, "filter 'since' is '%.64s', not an ISO-8601 time like 2026-11-23T22:00:00Z",
                        f->since);
        q.since = since;
    }
    if (f->limit > STORE_MAX_LIMIT)
        return fail(err, errlen, -1, "limit %lld is above the maximum of %d", (long long)f->limit, STORE_MAX_LIMIT);
    q.limit = f->limit > 0 ? f->limit : STORE_DEFAULT_LIMIT;

    query_ctx c = {.format = format};
    if (format == STORE_JSON) {
        sb_str(&c.out, "{\"results\":[");
    } else {
        sb_str(&c.out, "id,received,created,schema,source,model,engine,threads");
        for (size_t i = 0; i < sizeof csv_doc_columns / sizeof csv_doc_columns[0]; i++) {
            sb_put(&c.out, ",", 1);
            sb_str(&c.out, csv_doc_columns[i]);
        }
        sb_str(&c.out, ",document\r\n");
    }
    int rc = st->be->query(st->impl, &q, on_row, &c, err, errlen);
    if (!rc && format == STORE_JSON) sb_str(&c.out, c.rows ? "\n]}\n" : "]}\n");
    if (c.out.too_big)
        rc = fail(err, errlen, -1, "the results exceed %zu MiB; ask for fewer with limit, since or a filter",
                  STORE_MAX_OUTPUT >> 20);
    else if (c.out.oom) rc = fail(err, errlen, -2, "out of memory while formatting the results");
    else if (rc) rc = -2;
    if (rc) {
        free(c.out.p);
        return rc;
    }
    *out = c.out.p;
    *outlen = c.out.len;
    return 0;
}
