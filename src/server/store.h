/* store.h - the results store behind POST/GET /api/results of `tandem serve`: one interface, two backends (SQLite in
 * WAL mode by default, PostgreSQL through libpq for a fleet of servers sharing one store). The server calls only
 * these functions; store_sqlite.c and store_pg.c implement them and store_open picks one from the URL.
 *
 * A stored result is the whole JSON document as posted (unknown fields kept), indexed by schema, source, model.name,
 * engine, threads and created. A store handle may be used from several threads at once (the server's HTTP threads);
 * each implementation serialises or pools connections as it needs. */
#ifndef TANDEM_SERVER_STORE_H
#define TANDEM_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tdm_store tdm_store;

/* Output formats of store_query. */
enum { STORE_JSON = 0, STORE_CSV = 1 };

/* Filters of GET /api/results; a NULL string or a zero/negative number means "no filter". */
typedef struct store_filter {
    const char *source;   /* "browser", "native", "server", "study" */
    const char *model;    /* model.name */
    const char *engine;   /* "tandem-wasm", "onnxruntime-web", ... */
    const char *since;    /* ISO-8601 time: results with created >= since */
    int64_t limit;        /* at most this many, newest first; <= 0: the store's default */
} store_filter;

/* Open a store. url: NULL (the default SQLite file, tandem-results.db in the working directory), "sqlite:PATH",
 * "PATH.db" (or any other plain path) for SQLite, "postgresql://..." or "postgres://..." for PostgreSQL. Creates the
 * schema if needed. Returns 0 with *out set, or -1 with a message in err. */
int store_open(const char *url, tdm_store **out, char *err, size_t errlen);

/* Validate and insert one result document (json, len bytes, not necessarily NUL-terminated). Checks that it is a JSON
 * object whose "schema" field is a string starting with "tandem.result/". The row is durable when this returns 0
 * (committed), with its id in *id_out. Returns -1 when the document is bad (err says why: the server answers 400)
 * and -2 when the store failed (err says why: the server answers 500). */
int store_insert(tdm_store *st, const char *json, size_t len, int64_t *id_out, char *err, size_t errlen);

/* Query stored results. STORE_JSON: {"results":[{"id":N,"document":{...}}...]} ; STORE_CSV: a header row and one
 * row per result with the indexed columns. *out is malloc'd (the caller frees it), *outlen its length. Returns 0, -1
 * for a bad filter (err says why: 400) or -2 for a store failure (500). */
int store_query(tdm_store *st, const store_filter *f, int format, char **out, size_t *outlen, char *err,
                size_t errlen);

void store_close(tdm_store *st);

#endif /* TANDEM_SERVER_STORE_H */
