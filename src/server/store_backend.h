/* store_backend.h - what store.c asks of a results-store backend (store_sqlite.c, store_pg.c). store.c validates the
 * document and extracts the indexed fields; a backend only writes rows and reads them back, so both backends see
 * exactly the same rows and store.c formats the output of both the same way. Private to the store. */
#ifndef TANDEM_SERVER_STORE_BACKEND_H
#define TANDEM_SERVER_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* One stored row. Strings are NUL-terminated UTF-8; NULL means SQL NULL. has_threads says whether threads holds a
 * value. doc is the document as compact JSON. In a row handed to a store_row_fn, every pointer belongs to the backend
 * and is valid only during the call. */
typedef struct store_row {
    int64_t id;
    const char *received; /* when the store took it: "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) */
    const char *schema;
    const char *source;
    const char *model;
    const char *engine;
    int64_t threads;
    int has_threads;
    const char *created; /* the document's "created", normalised like received; received when absent */
    const char *doc;
} store_row;

/* Called once per row found, newest (highest id) first. Returns 0 to go on, nonzero to stop the query with -2. */
typedef int (*store_row_fn)(void *ctx, const store_row *row);

/* A query already checked by store.c: NULL strings are "no filter", since is normalised like store_row.created, and
 * 1 <= limit <= STORE_MAX_LIMIT. */
typedef struct store_query_args {
    const char *source, *model, *engine, *since;
    int64_t limit;
} store_query_args;

/* A backend. Each call may come from any thread at any time; the backend serialises or pools its connections. insert
 * returns 0 only after the row is committed durably (the server then answers 201), else -2 with err set. query
 * returns 0, or -2 with err set. close frees everything (NULL is a no-op). */
typedef struct store_backend {
    const char *name; /* "sqlite" or "postgresql" */
    int (*insert)(void *impl, const store_row *row, int64_t *id_out, char *err, size_t errlen);
    int (*query)(void *impl, const store_query_args *q, store_row_fn fn, void *ctx, char *err, size_t errlen);
    void (*close)(void *impl);
} store_backend;

#define STORE_DEFAULT_LIMIT 1000
#define STORE_MAX_LIMIT 100000

/* Open a backend on path (SQLite) or a libpq connection URL (PostgreSQL), creating the table and indexes when they
 * are missing. Return 0 with *impl set, or -1 with err set. */
int store_sqlite_open(const char *path, void **impl, char *err, size_t errlen);
int store_pg_open(const char *url, void **impl, char *err, size_t errlen);
extern const store_backend store_sqlite_backend;
extern const store_backend store_pg_backend;

#endif /* TANDEM_SERVER_STORE_BACKEND_H */
