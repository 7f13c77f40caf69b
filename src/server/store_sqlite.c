/* store_sqlite.c - the embedded default results store: one SQLite file in WAL mode with synchronous=FULL, so a row is
 * on disk (WAL fsync'ed) before store_insert returns and the server answers 201: it survives SIGKILL of the server
 * and a power cut. Two connections, each behind its own mutex, with their prepared statements: one writes, one
 * reads, so a long GET /api/results does not hold up inserts (WAL lets the reader see a consistent snapshot). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_backend.h"

/* The version of the table layout below, kept in PRAGMA user_version. */
#define SQLITE_LAYOUT 1
#define SQLITE_BUSY_MS 10000

typedef struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt;
    pthread_mutex_t mu;
} sq_conn;

typedef struct sq_store {
    sq_conn w, r; /* writer: INSERT; reader: SELECT */
} sq_store;

static const char *const sq_schema =
    "CREATE TABLE IF NOT EXISTS results ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* ids are never reused, so an acknowledged id names one result forever */
    " received TEXT NOT NULL,"
    " schema TEXT NOT NULL,"
    " source TEXT,"
    " model TEXT,"
    " engine TEXT,"
    " threads INTEGER,"
    " created TEXT NOT NULL,"
    " doc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS results_source ON results(source);"
    "CREATE INDEX IF NOT EXISTS results_model ON results(model);"
    "CREATE INDEX IF NOT EXISTS results_engine ON results(engine);"
    "CREATE INDEX IF NOT EXISTS results_created ON results(created);";

static const char *const sq_insert_sql =
    "INSERT INTO results (received, schema, source, model, engine, threads, created, doc) VALUES (?,?,?,?,?,?,?,?)";

static const char *const sq_select_sql =
    "SELECT id, received, schema, source, model, engine, threads, created, doc FROM results"
    " WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR model = ?2) AND (?3 IS NULL OR engine = ?3)"
    " AND (?4 IS NULL OR created >= ?4) ORDER BY id DESC LIMIT ?5";

static int sq_fail(char *err, size_t errlen, const char *what, sqlite3 *db) {
    snprintf(err, errlen, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

/* Run a statement that returns one text value (a PRAGMA) into out; returns 0 or -1. */
static int sq_pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen) {
    sqlite3_stmt *s = NULL;
    int rc = -1;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(out, outlen, "%s", t ? (const char *)t : "");
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Open one connection with the store's settings and prepare its statement. */
static int sq_conn_open(sq_conn *c, const char *path, const char *sql, int first, char *err, size_t errlen) {
    char v[64];
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return sq_fail(err, errlen, path, c->db);
    sqlite3_busy_timeout(c->db, SQLITE_BUSY_MS);
    sqlite3_extended_result_codes(c->db, 1);
    /* The first statement that reads the file: a file that is not a database fails here, with SQLite's message. */
    if (sq_pragma_text(c->db, "PRAGMA journal_mode=WAL", v, sizeof v) || strcmp(v, "wal")) {
        if (!v[0]) return sq_fail(err, errlen, path, c->db);
        snprintf(err, errlen, "sqlite: %s: WAL mode is not available (journal_mode stays '%s')", path, v);
        return -1;
    }
    if (sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(err, errlen, "PRAGMA synchronous", c->db);
    if (first) {
        if (sq_pragma_text(c->db, "PRAGMA user_version", v, sizeof v)) return sq_fail(err, errlen, path, c->db);
        if (atoi(v) > SQLITE_LAYOUT) {
            snprintf(err, errlen, "sqlite: %s was written by a newer tandem (layout %s; this one knows %d)", path, v,
                     SQLITE_LAYOUT);
            return -1;
        }
        char ddl[1024];
        snprintf(ddl, sizeof ddl, "BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", sq_schema, SQLITE_LAYOUT);
        if (sqlite3_exec(c->db, ddl, NULL, NULL, NULL) != SQLITE_OK) {
            sq_fail(err, errlen, "creating the results table", c->db);
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt, NULL) != SQLITE_OK)
        return sq_fail(err, errlen, "preparing a statement", c->db);
    return 0;
}

static void sq_conn_close(sq_conn *c) {
    sqlite3_finalize(c->stmt);
    sqlite3_close(c->db); /* NULL is a no-op */
}

static void sq_close(void *impl) {
    sq_store *s = impl;
    if (!s) return;
    sq_conn_close(&s->r);
    sq_conn_close(&s->w);
    pthread_mutex_destroy(&s->r.mu);
    pthread_mutex_destroy(&s->w.mu);
    free(s);
}

int store_sqlite_open(const char *path, void **impl, char *err, size_t errlen) {
    sq_store *s = calloc(1, sizeof *s);
    *impl = NULL;
    if (!s) return sq_fail(err, errlen, path, NULL);
    pthread_mutex_init(&s->w.mu, NULL);
    pthread_mutex_init(&s->r.mu, NULL);
    if (sq_conn_open(&s->w, path, sq_insert_sql, 1, err, errlen) ||
        sq_conn_open(&s->r, path, sq_select_sql, 0, err, errlen)) {
        sq_close(s);
        return -1;
    }
    *impl = s;
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

static int sq_insert(void *impl, const store_row *row, int64_t *id_out, char *err, size_t errlen) {
    sq_store *s = impl;
    sq_conn *c = &s->w;
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = c->stmt;
    bind_text(st, 1, row->received);
    bind_text(st, 2, row->schema);
    bind_text(st, 3, row->source);
    bind_text(st, 4, row->model);
    bind_text(st, 5, row->engine);
    if (row->has_threads) sqlite3_bind_int64(st, 6, row->threads);
    else sqlite3_bind_null(st, 6);
    bind_text(st, 7, row->created);
    bind_text(st, 8, row->doc);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sq_fail(err, errlen, "insert", c->db);
    if (!rc) *id_out = sqlite3_last_insert_rowid(c->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

static int sq_query(void *impl, const store_query_args *q, store_row_fn fn, void *ctx, char *err, size_t errlen) {
    sq_store *s = impl;
    sq_conn *c = &s->r;
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = c->stmt;
    bind_text(st, 1, q->source);
    bind_text(st, 2, q->model);
    bind_text(st, 3, q->engine);
    bind_text(st, 4, q->since);
    sqlite3_bind_int64(st, 5, q->limit);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_row r = {0};
        r.id = sqlite3_column_int64(st, 0);
        r.received = col_text(st, 1);
        r.schema = col_text(st, 2);
        r.source = col_text(st, 3);
        r.model = col_text(st, 4);
        r.engine = col_text(st, 5);
        r.has_threads = sqlite3_column_type(st, 6) != SQLITE_NULL;
        r.threads = r.has_threads ? sqlite3_column_int64(st, 6) : 0;
        r.created = col_text(st, 7);
        r.doc = col_text(st, 8);
        if (!r.doc || !r.schema) {
            rc = sq_fail(err, errlen, "reading a row", c->db);
            break;
        }
        if (fn(ctx, &r)) {
            snprintf(err, errlen, "sqlite: query stopped");
            rc = -1;
            break;
        }
    }
    if (!rc && step != SQLITE_DONE) rc = sq_fail(err, errlen, "query", c->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&c->mu);
    return rc ? -2 : 0;
}

const store_backend store_sqlite_backend = {"sqlite", sq_insert, sq_query, sq_close};
