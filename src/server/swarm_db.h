/* swarm_db.h - the small SQL layer under the swarm's job store (swarm_store.c): one transaction API over SQLite
 * (swarm_db_sqlite.c) and PostgreSQL through libpq (swarm_db_pg.c), so the store's logic and SQL are written once.
 *
 * SQL is written for both: parameters are $1..$n (SQLite gets them as ?1..?n), and a SELECT that claims rows ends
 * with " FOR UPDATE SKIP LOCKED", which PostgreSQL honours (concurrent servers skip each other's claimed rows) and
 * SQLite drops (it has one writer at a time: BEGIN IMMEDIATE serialises the transactions). Column types that both
 * understand: TEXT, BIGINT, DOUBLE PRECISION and BYTEA (in SQLite a BLOB stays a BLOB in any column). */
#ifndef TANDEM_SERVER_SWARM_DB_H
#define TANDEM_SERVER_SWARM_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct sdb sdb;
typedef struct sdb_tx sdb_tx;
typedef struct sdb_row sdb_row;

enum { SDB_NULL, SDB_INT, SDB_REAL, SDB_TEXT, SDB_BLOB };

/* A statement parameter. The strings and bytes belong to the caller and must stay valid during the call. */
typedef struct sdb_val {
    int type;
    int64_t i;
    double r;
    const char *s;
    const void *b;
    size_t len;
} sdb_val;

static inline sdb_val sdb_int(int64_t v) { return (sdb_val){SDB_INT, v, 0, NULL, NULL, 0}; }
static inline sdb_val sdb_real(double v) { return (sdb_val){SDB_REAL, 0, v, NULL, NULL, 0}; }
static inline sdb_val sdb_text(const char *s) { return (sdb_val){s ? SDB_TEXT : SDB_NULL, 0, 0, s, NULL, 0}; }
static inline sdb_val sdb_blob(const void *b, size_t len) { return (sdb_val){SDB_BLOB, 0, 0, NULL, b, len}; }
static inline sdb_val sdb_null(void) { return (sdb_val){SDB_NULL, 0, 0, NULL, NULL, 0}; }

/* Column accessors of a row handed to an sdb_row_fn. Every pointer is valid only during that call. A NULL column
 * reads as 0, "" or an empty blob; sdb_col_null tells them apart. */
int sdb_col_null(const sdb_row *r, int col);
int64_t sdb_col_int(const sdb_row *r, int col);
double sdb_col_real(const sdb_row *r, int col);
const char *sdb_col_text(const sdb_row *r, int col);
const void *sdb_col_blob(const sdb_row *r, int col, size_t *len);

/* Called once per result row; return 0 to go on, nonzero to stop (sdb_exec then fails with that rollback). */
typedef int (*sdb_row_fn)(void *ctx, const sdb_row *row);

/* Open a database: "sqlite:PATH" or any plain path for SQLite (WAL, synchronous=FULL), "postgresql://..." or
 * "postgres://..." for PostgreSQL (a small connection pool, synchronous_commit on). Returns 0 with *out set, or -1
 * with err set. */
int sdb_open(const char *url, sdb **out, char *err, size_t errlen);
void sdb_close(sdb *db);
/* "sqlite" or "postgresql". */
const char *sdb_kind(const sdb *db);

/* Run fn(tx, ctx) inside one transaction. fn returns 0 to commit; anything else rolls back and is returned. When the
 * database reports a transient conflict (PostgreSQL: serialization failure, deadlock, a connection lost before
 * COMMIT; SQLite: busy), the transaction is rolled back and fn runs again, up to a few times, so fn must not keep
 * effects outside the database from a failed attempt. Returns fn's result, or SDB_ERR with err set when the database
 * failed. */
#define SDB_ERR (-100)
int sdb_transact(sdb *db, int (*fn)(sdb_tx *tx, void *ctx), void *ctx, char *err, size_t errlen);

/* Execute one statement in the transaction. Rows, if any, go to fn (may be NULL). Returns the number of rows
 * returned (a SELECT, or RETURNING) or changed (INSERT/UPDATE/DELETE), or -1 on an error: the message is kept for
 * sdb_transact to report, and the caller should return SDB_ERR from its fn at once. */
int64_t sdb_exec(sdb_tx *tx, const char *sql, const sdb_val *params, int nparams, sdb_row_fn fn, void *ctx);
/* Several statements without parameters or rows (schema creation). Returns 0 or -1. */
int sdb_exec_script(sdb_tx *tx, const char *sql);

/* ---- the backends' side (swarm_db_sqlite.c, swarm_db_pg.c); private to the layer ---------------------------- */
typedef struct sdb_backend {
    const char *name;
    int (*begin)(sdb *db, sdb_tx **tx, char *err, size_t errlen);
    /* commit (ok = 1) or roll back; returns 0, 1 when the failure is transient (retry), -1 otherwise (err set) */
    int (*end)(sdb_tx *tx, int ok, char *err, size_t errlen);
    int64_t (*exec)(sdb_tx *tx, const char *sql, const sdb_val *p, int n, sdb_row_fn fn, void *ctx);
    int (*script)(sdb_tx *tx, const char *sql);
    /* after a failed exec: 1 if the failure is transient (retry the transaction), and its message */
    int (*transient)(sdb_tx *tx);
    const char *(*message)(sdb_tx *tx);
    void (*close)(sdb *db);
} sdb_backend;

struct sdb {
    const sdb_backend *be;
    void *impl;
};

/* A row: the backend's accessors over its own result (a SQLite statement, or a PGresult and a row index). */
typedef struct sdb_row_ops {
    int (*is_null)(const sdb_row *r, int col);
    int64_t (*get_int)(const sdb_row *r, int col);
    double (*get_real)(const sdb_row *r, int col);
    const char *(*get_text)(const sdb_row *r, int col);
    const void *(*get_blob)(const sdb_row *r, int col, size_t *len);
} sdb_row_ops;

struct sdb_row {
    const sdb_row_ops *ops;
    void *res;
    int index;
    void *tmp[8]; /* PostgreSQL: unescaped blobs of this row, freed after the callback */
    int ntmp;
};

int sdb_sqlite_open(const char *path, sdb *db, char *err, size_t errlen);
int sdb_pg_open(const char *url, sdb *db, char *err, size_t errlen);

#endif /* TANDEM_SERVER_SWARM_DB_H */
