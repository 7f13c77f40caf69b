/* swarm_db_pg.c - the PostgreSQL backend of the swarm's SQL layer (swarm_db.h), through libpq: the path on which
 * several `tandem serve` processes share one job. A small mutex-guarded pool of connections (synchronous_commit on:
 * a committed lease or result is durable before the server answers); each transaction holds one connection from
 * BEGIN to COMMIT. Claims are SELECT ... FOR UPDATE SKIP LOCKED, so two servers never hand out the same chunk and
 * never wait for each other's rows. Serialization failures, deadlocks and lost connections are reported as
 * transient, so sdb_transact runs the transaction again. Parameters go as text (blobs as binary), results come back
 * as text (bytea hex-decoded by PQunescapeBytea). */
#include "swarm_db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define PG_POOL 4
#define PG_MAX_PARAMS 16

typedef struct pg_tx {
    const sdb_backend *be; /* first: sdb_exec reads it */
    struct pg_db *d;
    PGconn *c;
    int transient;
    char msg[512];
} pg_tx;

typedef struct pg_db {
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn *idle[PG_POOL];
    int nidle, total;
} pg_db;

extern const sdb_backend sdb_pg_backend;

static int pg_is_null(const sdb_row *r, int c) { return PQgetisnull(r->res, r->index, c); }
static const char *pg_get_text(const sdb_row *r, int c) { return PQgetvalue(r->res, r->index, c); }
static int64_t pg_get_int(const sdb_row *r, int c) { return strtoll(pg_get_text(r, c), NULL, 10); }
static double pg_get_real(const sdb_row *r, int c) { return strtod(pg_get_text(r, c), NULL); }
static const void *pg_get_blob(const sdb_row *r, int c, size_t *len) {
    *len = 0;
    if (PQgetisnull(r->res, r->index, c) || r->ntmp >= (int)(sizeof r->tmp / sizeof r->tmp[0])) return "";
    unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r->res, r->index, c), len);
    if (!b) {
        *len = 0;
        return "";
    }
    ((sdb_row *)r)->tmp[((sdb_row *)r)->ntmp++] = b;
    return b;
}
static const sdb_row_ops pg_row_ops = {pg_is_null, pg_get_int, pg_get_real, pg_get_text, pg_get_blob};

/* A failed command: its message, and whether retrying the transaction may succeed. */
static int pg_fail(pg_tx *t, PGresult *r, const char *what) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    t->transient = PQstatus(t->c) != CONNECTION_OK ||
                   (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")));
    const char *m = PQerrorMessage(t->c);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) n--;
    snprintf(t->msg, sizeof t->msg, "%s: %.*s", what, (int)n, m);
    return -1;
}

static int64_t pg_exec(sdb_tx *tx, const char *sql, const sdb_val *p, int n, sdb_row_fn fn, void *ctx) {
    pg_tx *t = (pg_tx *)tx;
    if (n > PG_MAX_PARAMS) {
        snprintf(t->msg, sizeof t->msg, "too many parameters");
        t->transient = 0;
        return -1;
    }
    char num[PG_MAX_PARAMS][32];
    const char *vals[PG_MAX_PARAMS];
    int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        lens[i] = 0;
        fmts[i] = 0;
        switch (p[i].type) {
        case SDB_INT: snprintf(num[i], sizeof num[i], "%lld", (long long)p[i].i); vals[i] = num[i]; break;
        case SDB_REAL: snprintf(num[i], sizeof num[i], "%.17g", p[i].r); vals[i] = num[i]; break;
        case SDB_TEXT: vals[i] = p[i].s; break;
        case SDB_BLOB:
            vals[i] = p[i].len ? p[i].b : "";
            lens[i] = (int)p[i].len;
            fmts[i] = 1;
            break;
        default: vals[i] = NULL; break;
        }
    }
    PGresult *r = PQexecParams(t->c, sql, n, NULL, vals, lens, fmts, 0);
    ExecStatusType st = PQresultStatus(r);
    int64_t result;
    if (st == PGRES_TUPLES_OK) {
        int rows = PQntuples(r);
        result = rows;
        for (int i = 0; i < rows && fn; i++) {
            sdb_row row = {&pg_row_ops, r, i, {0}, 0};
            int stop = fn(ctx, &row);
            for (int k = 0; k < row.ntmp; k++) PQfreemem(row.tmp[k]);
            if (stop) {
                snprintf(t->msg, sizeof t->msg, "a row was refused");
                t->transient = 0;
                result = -1;
                break;
            }
        }
    } else if (st == PGRES_COMMAND_OK) {
        result = strtoll(PQcmdTuples(r), NULL, 10);
    } else {
        result = pg_fail(t, r, "query");
    }
    PQclear(r);
    return result;
}

static int pg_script(sdb_tx *tx, const char *sql) {
    pg_tx *t = (pg_tx *)tx;
    PGresult *r = PQexec(t->c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(t, r, "schema");
    PQclear(r);
    return rc;
}

static PGconn *pg_connect(const char *url, char *err, size_t errlen) {
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "tandem-swarm", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "postgresql: connect: %s", c ? PQerrorMessage(c) : "out of memory");
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n') err[--n] = 0;
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, "SET synchronous_commit TO on; SET client_encoding TO 'UTF8';"
                            " SET client_min_messages TO warning");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        snprintf(err, errlen, "postgresql: session settings: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void pg_release(pg_db *d, PGconn *c) {
    pthread_mutex_lock(&d->mu);
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE && d->nidle < PG_POOL) {
        d->idle[d->nidle++] = c;
    } else {
        PQfinish(c);
        d->total--;
    }
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static int pg_begin(sdb *db, sdb_tx **out, char *err, size_t errlen) {
    pg_db *d = db->impl;
    pthread_mutex_lock(&d->mu);
    while (!d->nidle && d->total >= PG_POOL) pthread_cond_wait(&d->cv, &d->mu);
    PGconn *c = NULL;
    if (d->nidle) {
        c = d->idle[--d->nidle];
        pthread_mutex_unlock(&d->mu);
    } else {
        d->total++;
        pthread_mutex_unlock(&d->mu);
        c = pg_connect(d->url, err, errlen);
        if (!c) {
            pthread_mutex_lock(&d->mu);
            d->total--;
            pthread_cond_signal(&d->cv);
            pthread_mutex_unlock(&d->mu);
            return -1;
        }
    }
    pg_tx *t = calloc(1, sizeof *t);
    PGresult *r = t ? PQexec(c, "BEGIN") : NULL;
    if (!t || PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "postgresql: begin: %s", t ? PQerrorMessage(c) : "out of memory");
        PQclear(r);
        free(t);
        pg_release(d, c); /* a broken connection is closed there; the next begin opens a fresh one */
        return -1;
    }
    PQclear(r);
    t->be = &sdb_pg_backend;
    t->d = d;
    t->c = c;
    *out = (sdb_tx *)t;
    return 0;
}

static int pg_end(sdb_tx *tx, int ok, char *err, size_t errlen) {
    pg_tx *t = (pg_tx *)tx;
    int rc = 0;
    PGresult *r = PQexec(t->c, ok ? "COMMIT" : "ROLLBACK");
    if (ok && PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_fail(t, r, "commit");
        if (err) snprintf(err, errlen, "postgresql: %s", t->msg);
        rc = t->transient ? 1 : -1;
    }
    PQclear(r);
    pg_release(t->d, t->c);
    free(t);
    return rc;
}

static int pg_transient(sdb_tx *tx) { return ((pg_tx *)tx)->transient; }
static const char *pg_message(sdb_tx *tx) { return ((pg_tx *)tx)->msg; }

static void pg_close(sdb *db) {
    pg_db *d = db->impl;
    if (!d) return;
    for (int i = 0; i < d->nidle; i++) PQfinish(d->idle[i]);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->url);
    free(d);
    db->impl = NULL;
}

const sdb_backend sdb_pg_backend = {"postgresql", pg_begin, pg_end, pg_exec, pg_script, pg_transient, pg_message,
                                    pg_close};

int sdb_pg_open(const char *url, sdb *db, char *err, size_t errlen) {
    pg_db *d = calloc(1, sizeof *d);
    if (!d || !(d->url = strdup(url))) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    db->be = &sdb_pg_backend;
    db->impl = d;
    PGconn *c = pg_connect(url, err, errlen); /* fail at start: a wrong URL is a start-up error, not a 500 later */
    if (!c) {
        pg_close(db);
        return -1;
    }
    d->idle[d->nidle++] = c;
    d->total = 1;
    return 0;
}
