/* test_store.c - the results store's tests, run through store.h against whichever backend the URL names, so SQLite and
 * PostgreSQL pass the very same cases: round trip, filters, CSV quoting, bad documents (each a -1 with a clear message
 * and nothing stored), size and nesting limits, concurrent inserts and queries, reopening. Modes:
 *   test_store URL [BENCH_JSON]   URL: sqlite:PATH or postgresql://...; BENCH_JSON: what `tandem bench --json` wrote
 *   test_store --reconnect URL    insert, wait for a line on stdin (the database restarts meanwhile), insert again
 *   test_store --integrity PATH   PRAGMA integrity_check of a SQLite store and its row count (for test_crash.sh) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "store.h"

static int t_failed; /* checks failed in the current test */

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            t_failed++;                                                                                                \
            printf("  check failed at line %d: %s: ", __LINE__, #cond);                                                \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
        }                                                                                                              \
    } while (0)

static const char *g_url;
static tdm_store *g_st;

/* ---- helpers ---------------------------------------------------------------------------------------------------- */

static int64_t insert_ok(const char *doc) {
    int64_t id = -1;
    char err[512] = "";
    int rc = store_insert(g_st, doc, strlen(doc), &id, err, sizeof err);
    CHECK(rc == 0 && id > 0, "store_insert returned %d, id %lld: %s\n  document: %.200s", rc, (long long)id, err, doc);
    return rc == 0 ? id : -1;
}

/* Query as JSON and parse; the caller deletes the result. NULL (and a failed check) when anything is wrong. */
static cJSON *query_json(const store_filter *f) {
    char *out = NULL, err[512] = "";
    size_t len = 0;
    int rc = store_query(g_st, f, STORE_JSON, &out, &len, err, sizeof err);
    CHECK(rc == 0, "store_query returned %d: %s", rc, err);
    if (rc) return NULL;
    CHECK(len == strlen(out), "output length %zu, strlen %zu", len, strlen(out));
    cJSON *j = cJSON_ParseWithLength(out, len);
    CHECK(j && cJSON_IsArray(cJSON_GetObjectItem(j, "results")), "output is not {\"results\":[...]}: %.300s", out);
    free(out);
    return j;
}

static int count_engine(const char *engine) {
    store_filter f = {.engine = engine, .limit = 100000};
    cJSON *j = query_json(&f);
    int n = j ? cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")) : -1;
    cJSON_Delete(j);
    return n;
}

/* The ids of a JSON query's results, in order; returns how many (at most max). */
static int query_ids(const store_filter *f, int64_t *ids, int max) {
    cJSON *j = query_json(f);
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "results")) {
        if (n < max) ids[n++] = (int64_t)cJSON_GetObjectItem(it, "id")->valuedouble;
    }
    cJSON_Delete(j);
    return n;
}

/* Expect store_insert to refuse doc (len bytes) with -1 and a message containing want; nothing may be stored. */
static void expect_bad(const char *doc, size_t len, const char *want) {
    int before = count_engine("bad-input");
    int64_t id = -1;
    char err[512] = "";
    int rc = store_insert(g_st, doc, len, &id, err, sizeof err);
    CHECK(rc == -1, "got %d (%s), expected -1 for %.80s", rc, err, doc);
    CHECK(strstr(err, want) != NULL, "message '%s' does not say '%s' (document %.80s)", err, want, doc);
    CHECK(count_engine("bad-input") == before, "a refused document was stored: %.80s", doc);
}

/* ---- the cases -------------------------------------------------------------------------------------------------- */

static void test_round_trip(void) {
    const char *doc =
        "{\"schema\":\"tandem.result/1\",\"source\":\"browser\",\"created\":\"2026-11-23T22:00:00Z\","
        "\"device\":{\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) \\\"quoted\\\" \\u00e9\\u4e2d\","
        "\"hardware_concurrency\":8,\"device_memory\":8,\"platform\":\"Linux x86_64\",\"label\":\"laptop\"},"
        "\"model\":{\"name\":\"cifar10_resnet20\",\"bytes\":1092217},\"engine\":\"tandem-wasm\",\"build\":\"simd-mt\","
        "\"threads\":2,\"batch\":1,\"mode\":\"worker\",\"figures\":{\"setup_ms\":12.5,\"p50_ms\":3.25,\"p99_ms\":4.0,"
        "\"throughput_ips\":301.7,\"heap_bytes\":16777216,\"tiny\":1.0000000000000002e-300},\"runs\":50,"
        "\"extra\":{\"unknown_field\":[1,2,{\"deep\":null}],\"flag\":true},\"id\":\"not the store's id\"}";
    int64_t id = insert_ok(doc);
    store_filter f = {.engine = "tandem-wasm"};
    cJSON *j = query_json(&f), *want = cJSON_Parse(doc);
    const cJSON *res = j ? cJSON_GetObjectItem(j, "results") : NULL;
    CHECK(res && cJSON_GetArraySize(res) == 1, "expected 1 result for engine tandem-wasm, got %d",
          res ? cJSON_GetArraySize(res) : -1);
    const cJSON *r0 = res ? cJSON_GetArrayItem(res, 0) : NULL;
    if (r0) {
        CHECK((int64_t)cJSON_GetObjectItem(r0, "id")->valuedouble == id, "id %g, inserted %lld",
              cJSON_GetObjectItem(r0, "id")->valuedouble, (long long)id);
        const cJSON *rec = cJSON_GetObjectItem(r0, "received");
        CHECK(cJSON_IsString(rec) && strlen(rec->valuestring) == 24 && rec->valuestring[23] == 'Z',
              "received is not a UTC time: %s", cJSON_IsString(rec) ? rec->valuestring : "(absent)");
        CHECK(cJSON_Compare(cJSON_GetObjectItem(r0, "document"), want, 1), "the document changed on the way:\n%s",
              cJSON_PrintUnformatted(cJSON_GetObjectItem(r0, "document")));
        char *back = cJSON_PrintUnformatted(cJSON_GetObjectItem(r0, "document"));
        CHECK(back && strstr(back, "\"schema\":\"tandem.result/1\",\"source\"") == back + 1,
              "key order not kept: %.80s", back);
        free(back);
    }
    cJSON_Delete(j);
    cJSON_Delete(want);
}

/* The stored document is the posted text minus the whitespace between tokens: numbers keep their exact digits. */
static void test_exact_text(void) {
    const char *posted =
        "{ \"schema\" : \"tandem.result/1\",\n  \"engine\": \"exact\",\t\"n\": [0.1, 1.0000000000000002, "
        "5e-324, 123456789012345678901234567890, -0.0, 1E+2, 3.14159265358979323846],\r\n"
        "  \"s\": \"keep  these  spaces \\\" and \\u00e9\\n\" , \"t\" : true , \"f\":false,\"z\":null }\n";
    const char *compact =
        "{\"schema\":\"tandem.result/1\",\"engine\":\"exact\",\"n\":[0.1,1.0000000000000002,5e-324,"
        "123456789012345678901234567890,-0.0,1E+2,3.14159265358979323846],\"s\":\"keep  these  spaces "
        "\\\" and \\u00e9\\n\",\"t\":true,\"f\":false,\"z\":null}";
    insert_ok(posted);
    store_filter f = {.engine = "exact"};
    char *out = NULL, err[512] = "";
    size_t len;
    CHECK(store_query(g_st, &f, STORE_JSON, &out, &len, err, sizeof err) == 0, "query: %s", err);
    CHECK(out && strstr(out, compact), "the stored text is not the posted tokens:\n%s", out ? out : "(none)");
    free(out);
}

static void test_bench_document(const char *bench_file) {
    /* as src/cli/cmd_bench.c writes it: "tandem.bench/1", the model as a path, figures at the top level */
    const char *doc =
        "{\"schema\": \"tandem.bench/1\", \"source\": \"native\", \"engine\": \"bench-fixture\", "
        "\"created\": \"2026-11-23T21:00:00Z\", \"model\": \"../shared/models/cifar100_resnet56/model.onnx\", "
        "\"threads\": 2, \"batch\": 1, \"p50_ms\": 1.5, \"p99_ms\": 2.5, \"throughput_ips\": 650.25}";
    insert_ok(doc);
    store_filter f = {.model = "cifar100_resnet56", .engine = "bench-fixture"};
    cJSON *j = query_json(&f);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")) == 1,
          "model filter cifar100_resnet56 does not find the bench document (the model is a path)");
    cJSON_Delete(j);
    insert_ok("{\"schema\":\"tandem.bench/1\",\"engine\":\"bench-fixture\",\"model\":\"/tmp/x/other.onnx\"}");
    store_filter g = {.model = "other", .engine = "bench-fixture"};
    j = query_json(&g);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")) == 1, "a model path x.onnx is indexed as 'x'");
    cJSON_Delete(j);
    if (!bench_file) {
        printf("  (no `tandem bench --json` output given: the real bench document is not tried)\n");
        return;
    }
    FILE *fp = fopen(bench_file, "rb");
    CHECK(fp != NULL, "cannot open %s", bench_file);
    if (!fp) return;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    int before = count_engine("tandem");
    int64_t id = insert_ok(buf);
    CHECK(count_engine("tandem") == before + 1, "the bench document is not found by engine 'tandem'");
    store_filter h = {.source = "native", .engine = "tandem", .limit = 1};
    int64_t ids[2];
    CHECK(query_ids(&h, ids, 2) == 1 && ids[0] == id, "source=native engine=tandem limit=1 is not the bench result");
}

static void test_filters(void) {
    /* 12 documents over 3 sources, 2 models, 2 engines and times an hour apart, some with offsets */
    static const char *const sources[] = {"browser", "native", "server"};
    static const char *const times[] = {
        "2026-01-01T00:00:00Z", "2026-01-01T01:00:00.250Z", "2026-01-01T03:00:00+01:00", "2026-01-01T03:00:00Z",
        "2026-01-01T04:00:00Z", "2026-01-01T05:00:00Z",     "2026-01-01T01:00:00-05:00", "2026-01-01T07:00:00Z",
        "2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z",     "2026-01-01 10:00:00",       "2026-01-01T11:00:00.000Z"};
    int64_t ids[12];
    for (int i = 0; i < 12; i++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"schema\":\"tandem.result/1\",\"source\":\"%s\",\"model\":{\"name\":\"m%d\"},"
                 "\"engine\":\"filt-%s\",\"threads\":%d,\"created\":\"%s\",\"n\":%d}",
                 sources[i % 3], i % 2, i < 6 ? "a" : "b", 1 + i % 4, times[i], i);
        ids[i] = insert_ok(doc);
    }
    int64_t got[32];
    store_filter f = {.engine = "filt-a"};
    int n = query_ids(&f, got, 32);
    CHECK(n == 6, "engine filt-a: %d results, expected 6", n);
    for (int i = 0; i < n && i < 6; i++)
        CHECK(got[i] == ids[5 - i], "not newest first: [%d] = %lld", i, (long long)got[i]);
    store_filter g = {.engine = "filt-b", .source = "native"};
    n = query_ids(&g, got, 32);
    CHECK(n == 2 && got[0] == ids[10] && got[1] == ids[7], "engine filt-b + source native: %d results", n);
    store_filter h = {.engine = "filt-a", .model = "m1"};
    n = query_ids(&h, got, 32);
    CHECK(n == 3 && got[0] == ids[5] && got[1] == ids[3] && got[2] == ids[1], "engine filt-a + model m1: %d", n);
    /* since: offsets normalised to UTC (03:00+01:00 is 02:00Z, 01:00-05:00 is 06:00Z), a date alone is midnight */
    store_filter s1 = {.engine = "filt-a", .since = "2026-01-01T02:00:00Z"};
    n = query_ids(&s1, got, 32);
    CHECK(n == 4, "since 02:00Z among filt-a: %d results, expected 4 (02:00, 03:00, 04:00, 05:00)", n);
    store_filter s2 = {.engine = "filt-b", .since = "2026-01-01T07:00:00+01:00"};
    n = query_ids(&s2, got, 32);
    CHECK(n == 6, "since 06:00Z (as +01:00) among filt-b: %d results, expected 6", n);
    store_filter s3 = {.engine = "filt-a", .since = "2026-01-01T01:00:00.250Z"};
    n = query_ids(&s3, got, 32);
    CHECK(n == 5, "since 01:00:00.250Z among filt-a: %d, expected 5 (milliseconds count)", n);
    store_filter s5 = {.engine = "filt-b", .since = "2026-01-01T07:00:00 01:00"}; /* "+01:00" after URL decoding */
    CHECK(query_ids(&s5, got, 32) == 6, "since 07:00 01:00 (a URL-decoded '+') among filt-b: expected 6");
    store_filter s4 = {.engine = "filt-a", .since = "2026-01-02"};
    CHECK(query_ids(&s4, got, 32) == 0, "since the next day: expected nothing");
    store_filter l = {.engine = "filt-b", .limit = 2};
    n = query_ids(&l, got, 32);
    CHECK(n == 2 && got[0] == ids[11] && got[1] == ids[10], "limit 2: %d results", n);
    store_filter none = {.engine = "no-such-engine"};
    CHECK(query_ids(&none, got, 32) == 0, "an unknown engine matched something");
    /* bad filters are the caller's fault: -1 with a message */
    char *out = NULL, err[512] = "";
    size_t len;
    store_filter b1 = {.since = "yesterday"};
    CHECK(store_query(g_st, &b1, STORE_JSON, &out, &len, err, sizeof err) == -1 && strstr(err, "since"),
          "since=yesterday: %s", err);
    store_filter b2 = {.limit = 100000000};
    CHECK(store_query(g_st, &b2, STORE_JSON, &out, &len, err, sizeof err) == -1 && strstr(err, "limit"),
          "limit 1e8: %s", err);
    store_filter b3 = {.since = "2026-02-30"};
    CHECK(store_query(g_st, &b3, STORE_JSON, &out, &len, err, sizeof err) == -1, "since 2026-02-30 was taken");
    CHECK(store_query(g_st, NULL, 7, &out, &len, err, sizeof err) == -1, "format 7 was taken");
    CHECK(out == NULL, "a failed query left output behind");
}

/* Parse RFC 4180 CSV into rows of fields (CRLF or LF line ends). Returns the number of rows, fills cells[r][c]. */
#define CSV_MAX_ROWS 16
#define CSV_MAX_COLS 24
static int csv_parse(const char *s, char *cells[CSV_MAX_ROWS][CSV_MAX_COLS], int ncols[CSV_MAX_ROWS], int *ok) {
    int r = 0, c = 0;
    *ok = 1;
    size_t cap = strlen(s) + 1;
    while (*s && r < CSV_MAX_ROWS) {
        char *f = malloc(cap), *w = f;
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s) {
                    *ok = 0;
                    break;
                }
                if (*s == '"' && s[1] == '"') *w++ = '"', s += 2;
                else if (*s == '"') {
                    s++;
                    break;
                } else *w++ = *s++;
            }
        } else {
            while (*s && *s != ',' && *s != '\r' && *s != '\n') {
                if (*s == '"') *ok = 0; /* a bare quote inside an unquoted field */
                *w++ = *s++;
            }
        }
        *w = 0;
        if (c < CSV_MAX_COLS) cells[r][c++] = f;
        else free(f);
        if (*s == ',') {
            s++;
        } else if (*s == '\r' || *s == '\n' || !*s) {
            if (*s == '\r') {
                if (s[1] != '\n') *ok = 0;
                s++;
            }
            if (*s == '\n') s++;
            ncols[r++] = c;
            c = 0;
        } else {
            *ok = 0; /* text after a closing quote */
            ncols[r++] = c;
            break;
        }
    }
    return r;
}

static void test_csv(void) {
    const char *doc =
        "{\"schema\":\"tandem.result/1\",\"source\":\"browser\",\"model\":{\"name\":\"odd, \\\"name\\\"\\nline2\"},"
        "\"engine\":\"csv-test\",\"threads\":4,\"batch\":8,\"build\":\" padded \",\"created\":\"2026-03-04T05:06:07Z\","
        "\"figures\":{\"p50_ms\":1.25,\"p99_ms\":9.5,\"throughput_ips\":1e3},\"note\":\"a,b\"}";
    int64_t id = insert_ok(doc);
    insert_ok("{\"schema\":\"tandem.result/1\",\"engine\":\"csv-test\"}");
    store_filter f = {.engine = "csv-test"};
    char *out = NULL, err[512] = "";
    size_t len = 0;
    int rc = store_query(g_st, &f, STORE_CSV, &out, &len, err, sizeof err);
    CHECK(rc == 0, "CSV query: %d %s", rc, err);
    if (rc) return;
    char *cells[CSV_MAX_ROWS][CSV_MAX_COLS] = {{0}};
    int ncols[CSV_MAX_ROWS] = {0}, ok;
    int rows = csv_parse(out, cells, ncols, &ok);
    CHECK(ok, "the CSV does not parse as RFC 4180:\n%s", out);
    CHECK(rows == 3, "%d CSV rows (header + 2 expected):\n%s", rows, out);
    const char *hdr = "id,received,created,schema,source,model,engine,threads,";
    CHECK(strncmp(out, hdr, strlen(hdr)) == 0, "header: %.120s", out);
    CHECK(strstr(out, "\r\n") != NULL, "rows do not end in CRLF");
    int col_model = -1, col_doc = -1, col_p50 = -1, col_build = -1, col_created = -1, col_threads = -1, col_tp = -1;
    for (int c = 0; rows > 0 && c < ncols[0]; c++) {
        if (!strcmp(cells[0][c], "model")) col_model = c;
        if (!strcmp(cells[0][c], "document")) col_doc = c;
        if (!strcmp(cells[0][c], "p50_ms")) col_p50 = c;
        if (!strcmp(cells[0][c], "build")) col_build = c;
        if (!strcmp(cells[0][c], "created")) col_created = c;
        if (!strcmp(cells[0][c], "threads")) col_threads = c;
        if (!strcmp(cells[0][c], "throughput_ips")) col_tp = c;
    }
    CHECK(col_model >= 0 && col_doc == ncols[0] - 1 && col_p50 >= 0 && col_build >= 0, "header columns missing");
    for (int r = 1; r < rows; r++)
        CHECK(ncols[r] == ncols[0], "row %d has %d fields, the header %d", r, ncols[r], ncols[0]);
    if (rows == 3 && ok && col_model >= 0 && col_doc >= 0 && col_p50 >= 0 && col_build >= 0) {
        /* newest first: row 1 is the bare document, row 2 the odd one */
        CHECK(atoll(cells[2][0]) == id, "id column %s, expected %lld", cells[2][0], (long long)id);
        CHECK(!strcmp(cells[2][col_model], "odd, \"name\"\nline2"), "model field came back as [%s]",
              cells[2][col_model]);
        CHECK(!strcmp(cells[2][col_build], " padded "), "build field came back as [%s]", cells[2][col_build]);
        CHECK(!strcmp(cells[2][col_p50], "1.25"), "p50_ms field [%s]", cells[2][col_p50]);
        CHECK(!strcmp(cells[2][col_tp], "1000"), "throughput_ips field [%s]", cells[2][col_tp]);
        CHECK(!strcmp(cells[2][col_threads], "4"), "threads field [%s]", cells[2][col_threads]);
        CHECK(!strcmp(cells[2][col_created], "2026-03-04T05:06:07.000Z"), "created field [%s]", cells[2][col_created]);
        CHECK(!strcmp(cells[1][col_model], "") && !strcmp(cells[1][col_p50], ""), "absent fields are not empty");
        cJSON *a = cJSON_Parse(cells[2][col_doc]), *b = cJSON_Parse(doc);
        CHECK(a && cJSON_Compare(a, b, 1), "the CSV's document column is not the document: %s", cells[2][col_doc]);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < ncols[r]; c++) free(cells[r][c]);
    free(out);
}

static void test_bad_documents(void) {
    static const struct {
        const char *doc, *want;
    } cases[] = {
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\"", "malformed JSON"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",}", "malformed JSON"},
        {"{schema:\"tandem.result/1\"}", "malformed JSON"},
        {"not json at all", "malformed JSON"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\"} {}", "trailing data"},
        {"[{\"schema\":\"tandem.result/1\"}]", "must be a JSON object"},
        {"\"tandem.result/1\"", "must be a JSON object"},
        {"{\"engine\":\"bad-input\",\"figures\":{}}", "no \"schema\""},
        {"{\"schema\":1,\"engine\":\"bad-input\"}", "\"schema\" must be a string"},
        {"{\"schema\":null,\"engine\":\"bad-input\"}", "\"schema\" must be a string"},
        {"{\"schema\":\"tandem.result/2\",\"engine\":\"bad-input\"}", "newer than this store knows"},
        {"{\"schema\":\"tandem.bench/7\",\"engine\":\"bad-input\"}", "newer than this store knows"},
        {"{\"schema\":\"tandem.result\",\"engine\":\"bad-input\"}", "not a versioned schema"},
        {"{\"schema\":\"tandem.result/0\",\"engine\":\"bad-input\"}", "not a versioned schema"},
        {"{\"schema\":\"tandem.result/1x\",\"engine\":\"bad-input\"}", "not a versioned schema"},
        {"{\"schema\":\"acme.result/1\",\"engine\":\"bad-input\"}", "not a schema this store takes"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"source\":5}", "\"source\" must be a string"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":[\"bad-input\"]}", "\"engine\" must be a string"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"model\":7}", "\"model\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"model\":{\"name\":1}}", "\"name\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"threads\":2.5}", "\"threads\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"threads\":\"2\"}", "\"threads\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"threads\":-1}", "\"threads\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"threads\":1e999}", "\"threads\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"threads\":-1e999}", "\"threads\" must be"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"created\":\"last tuesday\"}", "\"created\""},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"created\":\"2026-13-01T00:00:00Z\"}",
         "\"created\""},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"created\":\"2026-11-23T25:00:00Z\"}",
         "\"created\""},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"a\\u0000b\"}", "\\u0000"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"\\ud800\"}", "malformed JSON"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"\xff\xfe\"}", "not valid UTF-8"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"\xc0\xaf\"}", "not valid UTF-8"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"\xed\xa0\x80\"}", "not valid UTF-8"},
        {"   ", "malformed JSON"},
        /* what cJSON alone would let through, and strict JSON does not */
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":01}", "malformed JSON at byte offset 54"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":1.}", "no digit after '.'"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":1e}", "exponent"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":+1}", "expected a value"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"a\tb\"}", "control character"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"a\\xb\"}", "bad escape"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":\"\\u12g4\"}", "bad \\u escape"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":tru}", "expected a value"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\" \"x\":1}", "expected ','"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\" 1}", "expected ':'"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":[1,2}", "expected ','"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",7:1}", "string key"},
        /* an indexed key twice: cJSON would index the first, JSON.parse show the last */
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"source\":\"a\",\"source\":\"b\"}",
         "\"source\" appears 2"},
        {"{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"model\":{\"name\":\"a\",\"name\":\"b\"}}",
         "appears 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(cases[i].doc, strlen(cases[i].doc), cases[i].want);
    expect_bad("", 0, "empty body");
    /* an embedded NUL byte: the length says there is more after it */
    static const char nul[] = "{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\"}\0{}";
    expect_bad(nul, sizeof nul - 1, "NUL byte");
    /* not NUL-terminated: the store reads exactly len bytes (a valid prefix of a longer buffer is a valid document) */
    const char *buf = "{\"schema\":\"tandem.result/1\",\"engine\":\"len-test\"}GARBAGE";
    int64_t id;
    char err[512] = "";
    CHECK(store_insert(g_st, buf, strlen(buf) - 7, &id, err, sizeof err) == 0, "a length-bounded document: %s", err);
    CHECK(count_engine("len-test") == 1, "the length-bounded document is not stored once");
    /* the message of an escaped backslash before u0000 is not mistaken for the escape */
    insert_ok("{\"schema\":\"tandem.result/1\",\"engine\":\"len-test\",\"path\":\"C:\\\\u0000dir\"}");
    CHECK(count_engine("len-test") == 2, "an escaped backslash followed by u0000 was refused");
}

static void test_limits(void) {
    /* just under the 1 MiB document limit: taken and returned whole */
    size_t big = (1u << 20) - 200;
    char *doc = malloc(big + 1);
    int head = snprintf(doc, big, "{\"schema\":\"tandem.result/1\",\"engine\":\"big\",\"pad\":\"");
    memset(doc + head, 'x', big - (size_t)head - 2);
    memcpy(doc + big - 2, "\"}", 3);
    int64_t id = -1;
    char err[512] = "";
    CHECK(store_insert(g_st, doc, big, &id, err, sizeof err) == 0, "a %zu-byte document: %s", big, err);
    store_filter f = {.engine = "big"};
    cJSON *j = query_json(&f);
    const cJSON *d =
        j ? cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0), "document") : NULL;
    const cJSON *pad = d ? cJSON_GetObjectItem(d, "pad") : NULL;
    CHECK(cJSON_IsString(pad) && strlen(pad->valuestring) == big - (size_t)head - 2, "the big document came back cut");
    cJSON_Delete(j);
    free(doc);
    /* over the limit: refused before parsing */
    size_t huge = (1u << 20) + 1;
    doc = malloc(huge + 1);
    head = snprintf(doc, huge, "{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"pad\":\"");
    memset(doc + head, 'x', huge - (size_t)head - 2);
    memcpy(doc + huge - 2, "\"}", 3);
    expect_bad(doc, huge, "at most 1048576");
    free(doc);
    /* deep nesting: cJSON's nesting limit refuses it, no stack overflow */
    size_t depth = 100000;
    doc = malloc(2 * depth + 64);
    size_t n = (size_t)sprintf(doc, "{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"x\":");
    memset(doc + n, '[', depth);
    memset(doc + n + depth, ']', depth);
    memcpy(doc + n + 2 * depth, "}", 2);
    expect_bad(doc, n + 2 * depth + 1, "nested too deeply");
    free(doc);
    /* long indexed strings are refused, not truncated */
    char longdoc[1024];
    snprintf(longdoc, sizeof longdoc, "{\"schema\":\"tandem.result/1\",\"engine\":\"bad-input\",\"source\":\"%0300d\"}",
             7);
    expect_bad(longdoc, strlen(longdoc), "longer than");
}

/* A query whose output would pass 64 MiB is refused (-1, "ask for fewer"), the backend stops reading rows midway, and
 * the store works on; with a limit the same query succeeds. */
static void test_output_cap(void) {
    size_t big = (1u << 20) - 256;
    char *doc = malloc(big + 1);
    int head = snprintf(doc, big, "{\"schema\":\"tandem.result/1\",\"engine\":\"huge-out\",\"pad\":\"");
    memset(doc + head, 'y', big - (size_t)head - 2);
    memcpy(doc + big - 2, "\"}", 3);
    int stored = 0;
    for (int i = 0; i < 66; i++) {
        int64_t id;
        char err[512] = "";
        if (store_insert(g_st, doc, big, &id, err, sizeof err) == 0) stored++;
        else CHECK(0, "insert %d: %s", i, err);
    }
    free(doc);
    store_filter f = {.engine = "huge-out"};
    char *out = NULL, err[512] = "";
    size_t len = 0;
    int rc = store_query(g_st, &f, STORE_JSON, &out, &len, err, sizeof err);
    CHECK(rc == -1 && out == NULL && strstr(err, "limit"), "66 MiB of results: rc %d, '%s'", rc, err);
    rc = store_query(g_st, &f, STORE_CSV, &out, &len, err, sizeof err);
    CHECK(rc == -1 && out == NULL, "66 MiB of results as CSV: rc %d, '%s'", rc, err);
    f.limit = 10;
    rc = store_query(g_st, &f, STORE_JSON, &out, &len, err, sizeof err);
    CHECK(rc == 0 && len > 10u * (1u << 20) - 10000, "limit 10: rc %d (%s), %zu bytes", rc, err, len);
    free(out);
    CHECK(stored == 66, "%d of 66 big documents stored", stored);
    store_filter g = {.engine = "exact"};
    int64_t ids[4];
    CHECK(query_ids(&g, ids, 4) == 1, "a query after the stopped one does not find its row");
}

#define CONC_THREADS 8
#define CONC_EACH 40

typedef struct conc_arg {
    int t;
    int64_t ids[CONC_EACH];
    int failures;
    char err[512];
} conc_arg;

static void *conc_insert(void *p) {
    conc_arg *a = p;
    for (int k = 0; k < CONC_EACH; k++) {
        char doc[256];
        snprintf(doc, sizeof doc, "{\"schema\":\"tandem.result/1\",\"engine\":\"concurrent\",\"threads\":%d,\"k\":%d}",
                 a->t, k);
        char err[512] = "";
        if (store_insert(g_st, doc, strlen(doc), &a->ids[k], err, sizeof err)) {
            a->failures++;
            snprintf(a->err, sizeof a->err, "%s", err);
        }
        if (k % 8 == 0) { /* readers interleaved with the writers */
            store_filter f = {.engine = "concurrent", .limit = 5};
            char *out = NULL;
            size_t len;
            if (store_query(g_st, &f, k % 16 ? STORE_CSV : STORE_JSON, &out, &len, err, sizeof err)) {
                a->failures++;
                snprintf(a->err, sizeof a->err, "query: %s", err);
            }
            free(out);
        }
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent(void) {
    pthread_t th[CONC_THREADS];
    static conc_arg args[CONC_THREADS];
    for (int t = 0; t < CONC_THREADS; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].t = t;
        pthread_create(&th[t], NULL, conc_insert, &args[t]);
    }
    for (int t = 0; t < CONC_THREADS; t++) pthread_join(th[t], NULL);
    static int64_t all[CONC_THREADS * CONC_EACH];
    int n = 0;
    for (int t = 0; t < CONC_THREADS; t++) {
        CHECK(args[t].failures == 0, "thread %d: %d failures, last: %s", t, args[t].failures, args[t].err);
        for (int k = 0; k < CONC_EACH; k++) all[n++] = args[t].ids[k];
    }
    qsort(all, (size_t)n, sizeof all[0], cmp_i64);
    int dup = 0;
    for (int i = 1; i < n; i++) dup += all[i] == all[i - 1];
    CHECK(dup == 0, "%d duplicate ids among %d concurrent inserts", dup, n);
    /* every (thread, k) pair is there exactly once, under the id it was acknowledged with */
    store_filter f = {.engine = "concurrent", .limit = 100000};
    cJSON *j = query_json(&f);
    static unsigned char seen[CONC_THREADS][CONC_EACH];
    memset(seen, 0, sizeof seen);
    int rows = 0, wrong = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "results")) {
        const cJSON *d = cJSON_GetObjectItem(it, "document");
        int t = (int)cJSON_GetObjectItem(d, "threads")->valuedouble, k = (int)cJSON_GetObjectItem(d, "k")->valuedouble;
        int64_t id = (int64_t)cJSON_GetObjectItem(it, "id")->valuedouble;
        rows++;
        if (t < 0 || t >= CONC_THREADS || k < 0 || k >= CONC_EACH || args[t].ids[k] != id) wrong++;
        else seen[t][k]++;
    }
    cJSON_Delete(j);
    int missing = 0;
    for (int t = 0; t < CONC_THREADS; t++)
        for (int k = 0; k < CONC_EACH; k++) missing += seen[t][k] != 1;
    CHECK(rows == CONC_THREADS * CONC_EACH && wrong == 0 && missing == 0,
          "%d rows (expected %d), %d under a wrong id, %d missing or repeated", rows, CONC_THREADS * CONC_EACH, wrong,
          missing);
}

/* Close and open the same store: the rows are still there (and the schema is not created twice). */
static void test_reopen(void) {
    int before = count_engine("concurrent");
    store_close(g_st);
    g_st = NULL;
    char err[512] = "";
    CHECK(store_open(g_url, &g_st, err, sizeof err) == 0, "reopen: %s", err);
    if (!g_st) return;
    CHECK(count_engine("concurrent") == before && before > 0, "after reopening: %d rows, before %d",
          count_engine("concurrent"), before);
    tdm_store *second = NULL;
    CHECK(store_open(g_url, &second, err, sizeof err) == 0, "a second handle on the same store: %s", err);
    if (second) { /* a row written through one handle is seen through the other, as with two servers */
        int64_t id;
        const char *doc = "{\"schema\":\"tandem.result/1\",\"engine\":\"second-handle\"}";
        CHECK(store_insert(second, doc, strlen(doc), &id, err, sizeof err) == 0, "insert via the second handle: %s",
              err);
        CHECK(count_engine("second-handle") == 1, "the first handle does not see the second's row");
        store_close(second);
    }
}

static void test_open_errors(void) {
    tdm_store *s = (tdm_store *)1;
    char err[512] = "";
    CHECK(store_open("sqlite:", &s, err, sizeof err) == -1 && s == NULL && err[0], "empty sqlite path accepted");
    CHECK(store_open("/nonexistent-dir/x/results.db", &s, err, sizeof err) == -1 && strstr(err, "sqlite"),
          "a path in a missing folder: %s", err);
    CHECK(store_open("sqlite:/proc/version", &s, err, sizeof err) == -1 && err[0], "a file that is no database: %s",
          err);
    CHECK(store_open("postgresql://127.0.0.1:1/none?connect_timeout=2", &s, err, sizeof err) == -1 &&
              strstr(err, "postgresql"),
          "an unreachable PostgreSQL: %s", err);
    store_close(NULL);
}

/* ---- the integrity check for test_crash.sh ----------------------------------------------------------------------- */

static int integrity(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_stmt *s = NULL;
    int bad = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK) bad = 1;
    while (!bad && sqlite3_step(s) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (!t || strcmp(t, "ok")) {
            printf("integrity_check: %s\n", t ? t : "(null)");
            bad = 1;
        }
    }
    sqlite3_finalize(s);
    long long rows = -1;
    if (!bad && sqlite3_prepare_v2(db, "SELECT count(*) FROM results", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        rows = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (!bad) printf("integrity ok, %lld rows\n", rows);
    else printf("%s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return bad || rows < 0;
}

/* ---- surviving a database restart (driven by test_store.sh) ------------------------------------------------------ */

/* Insert, print "ready" and wait for a line on stdin while the script restarts the database, query; again "ready",
 * a restart, insert. The handle's pooled connection died each time: both calls must open a new one, not fail. */
static int reconnect(const char *url) {
    char err[512] = "", line[64];
    tdm_store *st = NULL;
    if (store_open(url, &st, err, sizeof err)) {
        printf("FAIL reconnect: open: %s\n0 passed, 1 failed\n", err);
        return 1;
    }
    const char *doc = "{\"schema\":\"tandem.result/1\",\"engine\":\"reconnect\"}";
    store_filter f = {.engine = "reconnect"};
    int64_t id1 = 0, id2 = 0;
    char *out = NULL;
    size_t len;
    int bad = 0;
    if (store_insert(st, doc, strlen(doc), &id1, err, sizeof err)) printf("  before the restart: %s\n", err), bad++;
    printf("ready\n");
    if (!fgets(line, sizeof line, stdin)) bad++;
    if (store_query(st, &f, STORE_JSON, &out, &len, err, sizeof err))
        printf("  query after the first restart: %s\n", err), bad++;
    else if (!strstr(out, "\"id\":")) printf("  query after the first restart: no row in %s\n", out), bad++;
    free(out);
    printf("ready\n");
    if (!fgets(line, sizeof line, stdin)) bad++;
    if (store_insert(st, doc, strlen(doc), &id2, err, sizeof err))
        printf("  insert after the second restart: %s\n", err), bad++;
    else if (id2 <= id1) printf("  ids %lld then %lld\n", (long long)id1, (long long)id2), bad++;
    store_close(st);
    printf("%s reconnect after database restarts\n%d passed, %d failed\n", bad ? "FAIL" : "ok  ", !bad, !!bad);
    return bad != 0;
}

/* ---- main ------------------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "--integrity")) return integrity(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "--reconnect")) return reconnect(argv[2]);
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: test_store URL [BENCH_JSON] | test_store --integrity SQLITE_PATH\n");
        return 2;
    }
    g_url = argv[1];
    char err[512] = "";
    if (store_open(g_url, &g_st, err, sizeof err)) {
        printf("FAIL open %s: %s\n0 passed, 1 failed\n", g_url, err);
        return 1;
    }
    const char *bench = argc == 3 ? argv[2] : NULL;
    int passed = 0, failed = 0;
#define RUN(name, call)                                                                                                \
    do {                                                                                                               \
        t_failed = 0;                                                                                                  \
        if (g_st) call;                                                                                                \
        else t_failed = 1;                                                                                             \
        if (t_failed) failed++, printf("FAIL %s\n", name);                                                             \
        else passed++, printf("ok   %s\n", name);                                                                      \
    } while (0)
    RUN("round trip", test_round_trip());
    RUN("exact document text", test_exact_text());
    RUN("bench documents", test_bench_document(bench));
    RUN("filters", test_filters());
    RUN("CSV output", test_csv());
    RUN("bad documents", test_bad_documents());
    RUN("limits", test_limits());
    RUN("output cap", test_output_cap());
    RUN("concurrent inserts and queries", test_concurrent());
    RUN("reopen", test_reopen());
    RUN("open errors", test_open_errors());
    store_close(g_st);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
