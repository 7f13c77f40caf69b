/* store_pg.c - the results store on PostgreSQL through libpq, the scale-out path: several `tandem serve` processes
 * behind one load balancer share one database. A small mutex-guarded pool of connections (each with its prepared
 * statements and synchronous_commit on, so a row is durable before store_insert returns); the table is created on
 * first use under an advisory lock, so servers starting together do not race. Rows come back in single-row mode, so
 * a large query streams instead of being buffered whole by libpq. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_backend.h"

#define PG_POOL_MAX 4

typedef struct pg_store {
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn *idle[PG_POOL_MAX];
    int nidle, total; /* idle connections; all connections, idle or in use */
} pg_store;

static const char *const pg_schema =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(1953391725);" /* 0x746e646d, "tndm": serialises servers starting together */
    "CREATE TABLE IF NOT EXISTS results ("
    " id BIGSERIAL PRIMARY KEY,"
    " received TEXT COLLATE \"C\" NOT NULL,"
    " schema TEXT NOT NULL,"
    " source TEXT COLLATE \"C\","
    " model TEXT COLLATE \"C\","
    " engine TEXT COLLATE \"C\","
    " threads BIGINT,"
    " created TEXT COLLATE \"C\" NOT NULL," /* fixed-width UTC times: byte order is time order */
    " doc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS results_source ON results(source);"
    "CREATE INDEX IF NOT EXISTS results_model ON results(model);"
    "CREATE INDEX IF NOT EXISTS results_engine ON results(engine);"
    "CREATE INDEX IF NOT EXISTS results_created ON results(created);"
    "COMMIT;";

static const char *const pg_insert_sql =
    "INSERT INTO results (received, schema, source, model, engine, threads, created, doc)"
    " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8) RETURNING id";

static const char *const pg_select_sql =
    "SELECT id, received, schema, source, model, engine, threads, created, doc FROM results"
    " WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR model = $2)"
    " AND ($3::text IS NULL OR engine = $3) AND ($4::text IS NULL OR created >= $4)"
    " ORDER BY id DESC LIMIT $5::bigint";

/* libpq's message without its trailing newline. */
static int pg_fail(char *err, size_t errlen, const char *what, const char *msg) {
    size_t n = msg ? strlen(msg) : 0;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
    snprintf(err, errlen, "postgresql: %s: %.*s", what, (int)n, msg ? msg : "");
    return -1;
}

/* Run a command that returns no rows (or rows we ignore); returns 0 or -1 with err set. */
static int pg_exec(PGconn *c, const char *sql, const char *what, char *err, size_t errlen) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : pg_fail(err, errlen, what, PQerrorMessage(c));
    PQclear(r);
    return rc;
}

static int pg_prepare(PGconn *c, const char *name, const char *sql, int nparams, char *err, size_t errlen) {
    PGresult *r = PQprepare(c, name, sql, nparams, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_fail(err, errlen, "prepare", PQerrorMessage(c));
    PQclear(r);
    return rc;
}

/* A new connection with the session settings and prepared statements; create_schema on the first one. */
static PGconn *pg_connect(const pg_store *s, int create_schema, char *err, size_t errlen) {
    /* connect_timeout first: keywords after the expanded dbname override it, so one in the URL wins. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "tandem-serve", s->url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        pg_fail(err, errlen, "connect", "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        pg_fail(err, errlen, "connect", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    if (pg_exec(c, "SET synchronous_commit TO on; SET client_encoding TO 'UTF8'; SET client_min_messages TO warning",
                "session settings", err, errlen) ||
        (create_schema && pg_exec(c, pg_schema, "creating the results table", err, errlen)) ||
        pg_prepare(c, "tdm_insert", pg_insert_sql, 8, err, errlen) ||
        pg_prepare(c, "tdm_select", pg_select_sql, 5, err, errlen)) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Take an idle connection, open a new one while the pool has room, else wait for one to come back. NULL with err
 * set when a new connection fails. */
static PGconn *pg_acquire(pg_store *s, char *err, size_t errlen) {
    pthread_mutex_lock(&s->mu);
    while (!s->nidle && s->total >= PG_POOL_MAX) pthread_cond_wait(&s->cv, &s->mu);
    if (s->nidle) {
        PGconn *c = s->idle[--s->nidle];
        pthread_mutex_unlock(&s->mu);
        return c;
    }
    s->total++;
    pthread_mutex_unlock(&s->mu);
    PGconn *c = pg_connect(s, 0, err, errlen);
    if (!c) {
        pthread_mutex_lock(&s->mu);
        s->total--;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return c;
}

/* Give a connection back; a broken one is closed, so the next caller opens a fresh one. */
static void pg_release(pg_store *s, PGconn *c) {
    pthread_mutex_lock(&s->mu);
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE && s->nidle < PG_POOL_MAX) {
        s->idle[s->nidle++] = c;
    } else {
        PQfinish(c);
        s->total--;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void pg_close(void *impl) {
    pg_store *s = impl;
    if (!s) return;
    for (int i = 0; i < s->nidle; i++) PQfinish(s->idle[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->url);
    free(s);
}

int store_pg_open(const char *url, void **impl, char *err, size_t errlen) {
    *impl = NULL;
    pg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url))) {
        free(s);
        return pg_fail(err, errlen, "open", "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    PGconn *c = pg_connect(s, 1, err, errlen); /* fail early: a wrong URL is a start-up error, not a 500 later */
    if (!c) {
        pg_close(s);
        return -1;
    }
    s->idle[s->nidle++] = c;
    s->total = 1;
    *impl = s;
    return 0;
}

static int pg_insert_once(PGconn *c, const store_row *row, int64_t *id_out, char *err, size_t errlen) {
    char threads[32];
    if (row->has_threads) snprintf(threads, sizeof threads, "%lld", (long long)row->threads);
    const char *p[8] = {row->received, row->schema, row->source,
                        row->model,    row->engine, row->has_threads ? threads : NULL,
                        row->created,  row->doc};
    PGresult *r = PQexecPrepared(c, "tdm_insert", 8, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = pg_fail(err, errlen, "insert", PQerrorMessage(c));
    else *id_out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* An insert that fails because its pooled connection had died (the database restarted, an idle timeout) is tried
 * once more on a fresh connection. Should the connection die after the database committed the row but before the
 * reply came back, that row is then stored twice: an unacknowledged result may repeat, an acknowledged one is never
 * lost. */
static int pg_insert(void *impl, const store_row *row, int64_t *id_out, char *err, size_t errlen) {
    pg_store *s = impl;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = pg_acquire(s, err, errlen);
        if (!c) return -1;
        int rc = pg_insert_once(c, row, id_out, err, errlen);
        int broken = PQstatus(c) != CONNECTION_OK;
        pg_release(s, c);
        if (!rc || !broken) return rc;
    }
    return -1;
}

static const char *pg_val(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* One query in single-row mode. *broken says the connection died before any row was handed over (worth a retry). */
static int pg_query_once(PGconn *c, const store_query_args *q, store_row_fn fn, void *ctx, int *broken, char *err,
                         size_t errlen) {
    char limit[32];
    snprintf(limit, sizeof limit, "%lld", (long long)q->limit);
    const char *p[5] = {q->source, q->model, q->engine, q->since, limit};
    *broken = 0;
    if (!PQsendQueryPrepared(c, "tdm_select", 5, p, NULL, NULL, 0)) {
        *broken = PQstatus(c) != CONNECTION_OK;
        return pg_fail(err, errlen, "query", PQerrorMessage(c));
    }
    PQsetSingleRowMode(c);
    int rc = 0, rows = 0;
    PGresult *r;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) { /* TUPLES_OK: the end, or every row at once */
            for (int i = 0; i < PQntuples(r) && !rc; i++) {
                store_row row = {0};
                row.id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
                row.received = pg_val(r, i, 1);
                row.schema = pg_val(r, i, 2);
                row.source = pg_val(r, i, 3);
                row.model = pg_val(r, i, 4);
                row.engine = pg_val(r, i, 5);
                row.has_threads = !PQgetisnull(r, i, 6);
                row.threads = row.has_threads ? strtoll(PQgetvalue(r, i, 6), NULL, 10) : 0;
                row.created = pg_val(r, i, 7);
                row.doc = pg_val(r, i, 8);
                rows++;
                if (fn(ctx, &row)) {
                    /* Stop the server sending the rest; the loop drains what is already on the way. */
                    PGcancel *cn = PQgetCancel(c);
                    char buf[256];
                    if (cn) {
                        PQcancel(cn, buf, sizeof buf);
                        PQfreeCancel(cn);
                    }
                    rc = -1;
                    snprintf(err, errlen, "postgresql: query stopped");
                }
            }
        } else if (!rc) {
            rc = pg_fail(err, errlen, "query", PQerrorMessage(c));
        }
        PQclear(r);
    }
    /* A connection the server closed reports its FATAL message first and turns bad only once it is all read. */
    if (PQstatus(c) != CONNECTION_OK) {
        if (!rc) rc = pg_fail(err, errlen, "query", PQerrorMessage(c));
        *broken = rows == 0;
    }
    return rc;
}

static int pg_query(void *impl, const store_query_args *q, store_row_fn fn, void *ctx, char *err, size_t errlen) {
    pg_store *s = impl;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = pg_acquire(s, err, errlen);
        if (!c) return -2;
        int broken;
        int rc = pg_query_once(c, q, fn, ctx, &broken, err, errlen);
        pg_release(s, c);
        if (!rc) return 0;
        if (!broken) return -2;
    }
    return -2;
}

const store_backend store_pg_backend = {"postgresql", pg_insert, pg_query, pg_close};
