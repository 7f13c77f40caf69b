/* swarm_db_sqlite.c - the SQLite backend of the swarm's SQL layer (swarm_db.h): one connection in WAL mode with
 * synchronous=FULL (a committed lease or result is on disk before the server answers, so it survives SIGKILL and a
 * power cut), behind one mutex; every transaction is BEGIN IMMEDIATE, so transactions never interleave. Statements
 * are prepared once and kept, keyed by their SQL text's address (the store passes string constants). */
#include "swarm_db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define SQ_BUSY_MS 10000
#define SQ_CACHE 64

typedef struct sq_tx {
    const sdb_backend *be; /* first: sdb_exec reads it */
    struct sq_db *d;
    int transient;
    char msg[512];
} sq_tx;

typedef struct sq_db {
    sqlite3 *db;
    pthread_mutex_t mu;
    struct {
        const char *key;
        sqlite3_stmt *stmt;
    } cache[SQ_CACHE];
    int ncache;
    sq_tx tx;
} sq_db;

extern const sdb_backend sdb_sqlite_backend;

static int sq_is_null(const sdb_row *r, int c) { return sqlite3_column_type(r->res, c) == SQLITE_NULL; }
static int64_t sq_get_int(const sdb_row *r, int c) { return sqlite3_column_int64(r->res, c); }
static double sq_get_real(const sdb_row *r, int c) { return sqlite3_column_double(r->res, c); }
static const char *sq_get_text(const sdb_row *r, int c) {
    const char *t = (const char *)sqlite3_column_text(r->res, c);
    return t ? t : "";
}
static const void *sq_get_blob(const sdb_row *r, int c, size_t *len) {
    const void *b = sqlite3_column_blob(r->res, c);
    *len = (size_t)sqlite3_column_bytes(r->res, c);
    return b ? b : "";
}
static const sdb_row_ops sq_row_ops = {sq_is_null, sq_get_int, sq_get_real, sq_get_text, sq_get_blob};

/* The SQL as SQLite reads it: $N becomes ?N (outside string literals), and the row-locking clauses (" FOR UPDATE
 * SKIP LOCKED", " FOR UPDATE") go: SQLite's BEGIN IMMEDIATE already gives the transaction the whole database. */
static char *sq_translate(const char *sql) {
    static const char *const locks[] = {" FOR UPDATE SKIP LOCKED", " FOR UPDATE"};
    size_t n = strlen(sql);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    int quoted = 0;
    for (const char *p = sql; *p;) {
        if (*p == '\'') quoted = !quoted;
        size_t skip = 0;
        for (int k = 0; k < 2 && !quoted && !skip; k++) {
            size_t l = strlen(locks[k]);
            if (!strncmp(p, locks[k], l) && (p[l] == 0 || p[l] == ' ' || p[l] == ';')) skip = l;
        }
        if (skip) {
            p += skip;
            continue;
        }
        *o++ = (!quoted && *p == '$' && p[1] >= '0' && p[1] <= '9') ? '?' : *p;
        p++;
    }
    *o = 0;
    return out;
}

static sqlite3_stmt *sq_prepare(sq_db *d, const char *sql) {
    for (int i = 0; i < d->ncache; i++)
        if (d->cache[i].key == sql) return d->cache[i].stmt;
    char *text = sq_translate(sql);
    sqlite3_stmt *st = NULL;
    int rc = text ? sqlite3_prepare_v3(d->db, text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) : SQLITE_NOMEM;
    free(text);
    if (rc != SQLITE_OK) return NULL;
    if (d->ncache < SQ_CACHE) {
        d->cache[d->ncache].key = sql;
        d->cache[d->ncache].stmt = st;
        d->ncache++;
    }
    return st;
}

static int sq_fail(sq_tx *t, const char *what) {
    int code = sqlite3_errcode(t->d->db) & 0xff;
    t->transient = code == SQLITE_BUSY || code == SQLITE_LOCKED;
    snprintf(t->msg, sizeof t->msg, "%s: %s", what, sqlite3_errmsg(t->d->db));
    return -1;
}

static int64_t sq_exec(sdb_tx *tx, const char *sql, const sdb_val *p, int n, sdb_row_fn fn, void *ctx) {
    sq_tx *t = (sq_tx *)tx;
    sq_db *d = t->d;
    sqlite3_stmt *st = sq_prepare(d, sql);
    if (!st) return sq_fail(t, "prepare");
    int cached = 0;
    for (int i = 0; i < d->ncache; i++) cached |= d->cache[i].stmt == st;
    for (int i = 0; i < n; i++) {
        int k = i + 1;
        switch (p[i].type) {
        case SDB_INT: sqlite3_bind_int64(st, k, p[i].i); break;
        case SDB_REAL: sqlite3_bind_double(st, k, p[i].r); break;
        case SDB_TEXT: sqlite3_bind_text(st, k, p[i].s, -1, SQLITE_STATIC); break;
        case SDB_BLOB: sqlite3_bind_blob64(st, k, p[i].len ? p[i].b : "", p[i].len, SQLITE_STATIC); break;
        default: sqlite3_bind_null(st, k); break;
        }
    }
    int64_t rows = 0;
    int rc, stopped = 0;
    sdb_row row = {&sq_row_ops, st, 0, {0}, 0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        if (fn && fn(ctx, &row)) {
            stopped = 1;
            break;
        }
    }
    int64_t result;
    if (stopped) {
        snprintf(t->msg, sizeof t->msg, "a row was refused");
        t->transient = 0;
        result = -1;
    } else if (rc != SQLITE_DONE) {
        result = sq_fail(t, "step");
    } else {
        result = sqlite3_column_count(st) ? rows : (int64_t)sqlite3_changes(d->db);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!cached) sqlite3_finalize(st);
    return result;
}

static int sq_script(sdb_tx *tx, const char *sql) {
    sq_tx *t = (sq_tx *)tx;
    return sqlite3_exec(t->d->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sq_fail(t, "schema");
}

static int sq_begin(sdb *db, sdb_tx **out, char *err, size_t errlen) {
    sq_db *d = db->impl;
    pthread_mutex_lock(&d->mu);
    sq_tx *t = &d->tx;
    t->be = &sdb_sqlite_backend;
    t->d = d;
    t->transient = 0;
    t->msg[0] = 0;
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: begin: %s", sqlite3_errmsg(d->db));
        pthread_mutex_unlock(&d->mu);
        return -1;
    }
    *out = (sdb_tx *)t;
    return 0;
}

static int sq_end(sdb_tx *tx, int ok, char *err, size_t errlen) {
    sq_tx *t = (sq_tx *)tx;
    sq_db *d = t->d;
    int rc = 0;
    if (ok && sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int code = sqlite3_errcode(d->db) & 0xff;
        if (err) snprintf(err, errlen, "sqlite: commit: %s", sqlite3_errmsg(d->db));
        rc = code == SQLITE_BUSY ? 1 : -1;
        ok = 0;
    }
    if (!ok && sqlite3_get_autocommit(d->db) == 0) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int sq_transient(sdb_tx *tx) { return ((sq_tx *)tx)->transient; }
static const char *sq_message(sdb_tx *tx) { return ((sq_tx *)tx)->msg; }

static void sq_close(sdb *db) {
    sq_db *d = db->impl;
    if (!d) return;
    for (int i = 0; i < d->ncache; i++) sqlite3_finalize(d->cache[i].stmt);
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->mu);
    free(d);
    db->impl = NULL;
}

const sdb_backend sdb_sqlite_backend = {"sqlite", sq_begin, sq_end, sq_exec, sq_script, sq_transient, sq_message,
                                        sq_close};

int sdb_sqlite_open(const char *path, sdb *db, char *err, size_t errlen) {
    sq_db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    db->be = &sdb_sqlite_backend;
    db->impl = d;
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s: %s", path, d->db ? sqlite3_errmsg(d->db) : "out of memory");
        sq_close(db);
        return -1;
    }
    sqlite3_busy_timeout(d->db, SQ_BUSY_MS);
    sqlite3_extended_result_codes(d->db, 1);
    char *msg = NULL;
    if (sqlite3_exec(d->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s: %s", path, msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        sq_close(db);
        return -1;
    }
    return 0;
}
