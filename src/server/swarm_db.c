/* swarm_db.c - the backend-independent half of the swarm's SQL layer (swarm_db.h): picking SQLite or PostgreSQL from
 * the URL, the transaction loop that retries transient conflicts, and the row accessors' dispatch. */
#include "swarm_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SDB_ATTEMPTS 8

int sdb_open(const char *url, sdb **out, char *err, size_t errlen) {
    *out = NULL;
    if (!url) url = "tandem-results.db";
    sdb *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc;
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
        rc = sdb_pg_open(url, db, err, errlen);
    } else {
        const char *path = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
        if (!*path) {
            snprintf(err, errlen, "empty database path in '%s'", url);
            rc = -1;
        } else {
            rc = sdb_sqlite_open(path, db, err, errlen);
        }
    }
    if (rc) {
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

void sdb_close(sdb *db) {
    if (!db) return;
    db->be->close(db);
    free(db);
}

const char *sdb_kind(const sdb *db) { return db->be->name; }

/* A short pause before retrying a conflicting transaction, growing with the attempt: the other side finishes. */
static void sdb_backoff(int attempt) {
    struct timespec ts = {0, (long)(1 + attempt * attempt) * 2000000L};
    nanosleep(&ts, NULL);
}

int sdb_transact(sdb *db, int (*fn)(sdb_tx *tx, void *ctx), void *ctx, char *err, size_t errlen) {
    for (int attempt = 0;; attempt++) {
        sdb_tx *tx = NULL;
        if (db->be->begin(db, &tx, err, errlen) != 0) {
            if (attempt + 1 < SDB_ATTEMPTS) {
                sdb_backoff(attempt);
                continue;
            }
            return SDB_ERR;
        }
        int rc = fn(tx, ctx);
        if (rc == SDB_ERR) {
            int transient = db->be->transient(tx);
            snprintf(err, errlen, "%s: %s", db->be->name, db->be->message(tx));
            db->be->end(tx, 0, NULL, 0);
            if (transient && attempt + 1 < SDB_ATTEMPTS) {
                sdb_backoff(attempt);
                continue;
            }
            return SDB_ERR;
        }
        int e = db->be->end(tx, rc == 0, err, errlen);
        if (e == 0) return rc;
        if (e > 0 && attempt + 1 < SDB_ATTEMPTS) {
            sdb_backoff(attempt);
            continue;
        }
        return SDB_ERR;
    }
}

int64_t sdb_exec(sdb_tx *tx, const char *sql, const sdb_val *params, int nparams, sdb_row_fn fn, void *ctx) {
    /* every sdb_tx starts with its backend pointer (see the backends' tx structs) */
    const sdb_backend *be = *(const sdb_backend *const *)tx;
    return be->exec(tx, sql, params, nparams, fn, ctx);
}

int sdb_exec_script(sdb_tx *tx, const char *sql) {
    const sdb_backend *be = *(const sdb_backend *const *)tx;
    return be->script(tx, sql);
}

int sdb_col_null(const sdb_row *r, int col) { return r->ops->is_null(r, col); }
int64_t sdb_col_int(const sdb_row *r, int col) { return r->ops->get_int(r, col); }
double sdb_col_real(const sdb_row *r, int col) { return r->ops->get_real(r, col); }
const char *sdb_col_text(const sdb_row *r, int col) { return r->ops->get_text(r, col); }
const void *sdb_col_blob(const sdb_row *r, int col, size_t *len) { return r->ops->get_blob(r, col, len); }
