/* fuzz_store_doc.c - libFuzzer target for the body parser of POST /api/results: store_insert on arbitrary bytes, on a
 * real SQLite store (in /dev/shm when it exists, so commits cost no disk flush). Any crash or sanitizer report is a
 * finding; beyond that it checks what the store promises for every document it takes: store_insert never reports a
 * store failure for a bad body, the stored document reads back through store_query as well-formed JSON equal to the
 * posted one, and the CSV output of it is produced too.
 *   make build/fuzz_store_doc && build/fuzz_store_doc -max_total_time=60 tests/fuzz/store_doc_seeds */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tdm_store *st;
static char db_path[256];

static void remove_store(void) {
    store_close(st);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s%s", db_path, suffix[i]);
        unlink(path);
    }
}

static void open_store(void) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(db_path, sizeof db_path, "%s/tandem-fuzz-store-%ld.db", dir, (long)getpid());
    char url[300], err[512];
    snprintf(url, sizeof url, "sqlite:%s", db_path);
    if (store_open(url, &st, err, sizeof err)) {
        fprintf(stderr, "fuzz_store_doc: %s\n", err);
        abort();
    }
    atexit(remove_store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!st) open_store();
    char err[512] = "";
    int64_t id = 0;
    int rc = store_insert(st, (const char *)data, size, &id, err, sizeof err);
    if (rc == -2) {
        fprintf(stderr, "store failure on a posted body: %s\n", err);
        abort();
    }
    if (rc == -1) {
        if (!err[0]) abort(); /* a refusal always says why */
        return 0;
    }
    /* Taken: read it back (the newest row) as JSON and as CSV. */
    store_filter f = {.limit = 1};
    char *out = NULL;
    size_t len = 0;
    if (store_query(st, &f, STORE_JSON, &out, &len, err, sizeof err)) abort();
    cJSON *res = cJSON_ParseWithLength(out, len);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 0);
    const cJSON *doc = cJSON_GetObjectItem(row, "document");
    const cJSON *rid = cJSON_GetObjectItem(row, "id");
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = 0;
    cJSON *want = cJSON_Parse(copy);
    /* compared as cJSON's reprints: cJSON_Compare misreads objects with a key given twice (valid JSON) */
    char *a = doc ? cJSON_PrintUnformatted(doc) : NULL, *b = want ? cJSON_PrintUnformatted(want) : NULL;
    if (!res || !a || !b || strcmp(a, b) || !cJSON_IsNumber(rid) || (int64_t)rid->valuedouble != id) {
        fprintf(stderr, "stored document differs from the posted one:\n%.*s\n", (int)len, out);
        abort();
    }
    free(a);
    free(b);
    cJSON_Delete(want);
    cJSON_Delete(res);
    free(copy);
    free(out);
    if (store_query(st, &f, STORE_CSV, &out, &len, err, sizeof err) || len == 0) abort();
    free(out);
    return 0;
}
