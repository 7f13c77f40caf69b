/* swarm_store.c - the swarm's jobs, chunks, clients and leases in SQL (swarm_store.h says what the rules are). Each
 * public call is one transaction through swarm_db.h; the SQL is written once for SQLite and PostgreSQL. Within a
 * transaction rows are locked chunk rows first (in job, index order), then job rows, then client rows, so that two
 * servers sharing a PostgreSQL database rarely deadlock (and sdb_transact retries when they do). */
#include "swarm_store.h"
#include "swarm_db.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

struct swarm_store {
    sdb *db;
};

static const char *const sws_schema =
    "CREATE TABLE IF NOT EXISTS swarm_jobs ("
    " id TEXT PRIMARY KEY, model TEXT NOT NULL, format TEXT NOT NULL, state TEXT NOT NULL,"
    " item_shape TEXT NOT NULL, outputs TEXT NOT NULL, prep TEXT NOT NULL, error TEXT,"
    " batch_any BIGINT NOT NULL, speculate BIGINT NOT NULL, items BIGINT NOT NULL, chunk_items BIGINT NOT NULL,"
    " chunks BIGINT NOT NULL, item_bytes BIGINT NOT NULL, out_bytes BIGINT NOT NULL,"
    " done_items BIGINT NOT NULL, done_chunks BIGINT NOT NULL, reissued BIGINT NOT NULL,"
    " rejected_results BIGINT NOT NULL, created_ms BIGINT NOT NULL, started_ms BIGINT, finished_ms BIGINT,"
    " verify DOUBLE PRECISION NOT NULL);"
    /* the items, written once and only read: a chunk's row changes with every lease and result, and a row that held
     * its items would copy them at each change (SQLite rewrites a row's overflow pages) */
    "CREATE TABLE IF NOT EXISTS swarm_inputs ("
    " job TEXT NOT NULL, idx BIGINT NOT NULL, input BYTEA NOT NULL, PRIMARY KEY (job, idx));"
    "CREATE TABLE IF NOT EXISTS swarm_chunks ("
    " job TEXT NOT NULL, idx BIGINT NOT NULL, first_item BIGINT NOT NULL, n BIGINT NOT NULL,"
    " state TEXT NOT NULL," /* pending | leased | verifying | done */
    " lease TEXT, deadline_ms BIGINT, eta_ms BIGINT," /* the newest first or reissued lease, when it ends */
    " spec_lease TEXT,"                               /* an outstanding speculative copy */
    " issues BIGINT NOT NULL, errors BIGINT NOT NULL,"
    " result BYTEA, client TEXT, worker TEXT, seq BIGINT," /* who computed the result, its submission number */
    " verified BIGINT NOT NULL,"                           /* 0 not checked, 1 passed, 2 recomputed after a mismatch */
    " claim_ms BIGINT,"                                    /* a verifier holds the check until then */
    " PRIMARY KEY (job, idx));"
    "CREATE INDEX IF NOT EXISTS swarm_chunks_state ON swarm_chunks (state, job, idx);"
    "CREATE INDEX IF NOT EXISTS swarm_chunks_client ON swarm_chunks (client);"
    "CREATE TABLE IF NOT EXISTS swarm_clients ("
    " id TEXT PRIMARY KEY, label TEXT NOT NULL, kind TEXT NOT NULL, created_ms BIGINT NOT NULL,"
    " last_seen_ms BIGINT NOT NULL, refused BIGINT NOT NULL, seq BIGINT NOT NULL,"
    " items_per_s DOUBLE PRECISION NOT NULL, checks_passed BIGINT NOT NULL, leases BIGINT NOT NULL,"
    " accepted_chunks BIGINT NOT NULL, late_chunks BIGINT NOT NULL, rejected_items BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS swarm_leases ("
    " id TEXT NOT NULL, job TEXT NOT NULL, idx BIGINT NOT NULL, client TEXT NOT NULL,"
    " kind TEXT NOT NULL," /* first | reissue | speculative */
    " issued_ms BIGINT NOT NULL, deadline_ms BIGINT NOT NULL,"
    " outcome TEXT," /* NULL while outstanding; accepted | late | error | cancelled */
    " PRIMARY KEY (id, idx));"
    "CREATE INDEX IF NOT EXISTS swarm_leases_chunk ON swarm_leases (job, idx);"
    "CREATE INDEX IF NOT EXISTS swarm_leases_client ON swarm_leases (client, outcome);";

#define JOB_COLS                                                                                                      \
    "id, model, format, state, item_shape, outputs, prep, error, batch_any, speculate, items, chunk_items, chunks,"  \
    " item_bytes, out_bytes, done_items, done_chunks, reissued, rejected_results, created_ms, started_ms,"           \
    " finished_ms, verify"

/* ---- helpers ---------------------------------------------------------------------------------------------------- */

void sws_random_hex(char *out, int n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    size_t need = (size_t)(n + 1) / 2, got = 0;
    if (need > sizeof b) need = sizeof b;
    while (got < need) {
        ssize_t k = getrandom(b + got, need - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    for (int i = 0; i < n; i++) out[i] = hex[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[n] = 0;
}

double sws_random_unit(void) {
    uint64_t v = 0;
    while (getrandom(&v, sizeof v, 0) < 0 && errno == EINTR) {
    }
    return (double)(v >> 11) * (1.0 / 9007199254740992.0);
}

static char *sws_strdup(const char *s) { return s ? strdup(s) : NULL; }

/* Room for element n of a growable array v of *cap elements: v itself, a larger copy (with *cap updated), or NULL
 * when out of memory (v untouched). */
static void *sws_grow(void *v, int n, int *cap, size_t elem) {
    if (n < *cap) return v;
    int c = *cap ? *cap * 2 : 16;
    void *nv = realloc(v, (size_t)c * elem);
    if (nv) *cap = c;
    return nv;
}

static void sws_copy(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

void sws_job_info_free(sws_job_info *j) {
    if (!j) return;
    free(j->item_shape);
    free(j->outputs);
    free(j->prep);
    free(j->error);
    j->item_shape = j->outputs = j->prep = j->error = NULL;
}

/* A row of JOB_COLS into *j (strings malloc'd). */
static int job_from_row(const sdb_row *r, sws_job_info *j) {
    memset(j, 0, sizeof *j);
    sws_copy(j->id, sizeof j->id, sdb_col_text(r, 0));
    sws_copy(j->model, sizeof j->model, sdb_col_text(r, 1));
    sws_copy(j->format, sizeof j->format, sdb_col_text(r, 2));
    sws_copy(j->state, sizeof j->state, sdb_col_text(r, 3));
    j->item_shape = sws_strdup(sdb_col_text(r, 4));
    j->outputs = sws_strdup(sdb_col_text(r, 5));
    j->prep = sws_strdup(sdb_col_text(r, 6));
    j->error = sdb_col_null(r, 7) ? NULL : sws_strdup(sdb_col_text(r, 7));
    j->batch_any = (int)sdb_col_int(r, 8);
    j->speculate = (int)sdb_col_int(r, 9);
    j->items = sdb_col_int(r, 10);
    j->chunk_items = sdb_col_int(r, 11);
    j->chunks = sdb_col_int(r, 12);
    j->item_bytes = sdb_col_int(r, 13);
    j->out_bytes = sdb_col_int(r, 14);
    j->done_items = sdb_col_int(r, 15);
    j->done_chunks = sdb_col_int(r, 16);
    j->reissued = sdb_col_int(r, 17);
    j->rejected_results = sdb_col_int(r, 18);
    j->created_ms = sdb_col_int(r, 19);
    j->started_ms = sdb_col_int(r, 20);
    j->finished_ms = sdb_col_int(r, 21);
    j->verify = sdb_col_real(r, 22);
    if (!j->item_shape || !j->outputs || !j->prep) {
        sws_job_info_free(j);
        return 1; /* out of memory: stop the query */
    }
    return 0;
}

static int row_one_job(void *ctx, const sdb_row *r) { return job_from_row(r, ctx); }

static int row_int(void *ctx, const sdb_row *r) {
    *(int64_t *)ctx = sdb_col_int(r, 0);
    return 0;
}

/* Read a job row into *j; 1 when it is absent, -1 on an error. */
static int job_read(sdb_tx *tx, const char *id, sws_job_info *j) {
    static const char *const sql = "SELECT " JOB_COLS " FROM swarm_jobs WHERE id = $1";
    sdb_val p[] = {sdb_text(id)};
    int64_t n = sdb_exec(tx, sql, p, 1, row_one_job, j);
    return n < 0 ? -1 : n == 0 ? 1 : 0;
}

/* Add to a job's counters, then settle its state: done when every chunk is, running again when it no longer is. */
static int job_count(sdb_tx *tx, const char *id, int64_t items, int64_t chunks, int64_t rejected, int64_t now_ms,
                     int *done_out) {
    static const char *const add =
        "UPDATE swarm_jobs SET done_items = done_items + $2, done_chunks = done_chunks + $3,"
        " rejected_results = rejected_results + $4 WHERE id = $1";
    static const char *const reopen =
        "UPDATE swarm_jobs SET state = 'running', finished_ms = NULL WHERE id = $1 AND state = 'done'"
        " AND done_chunks < chunks";
    static const char *const finish =
        "UPDATE swarm_jobs SET state = 'done', finished_ms = $2 WHERE id = $1 AND state IN ('queued', 'running')"
        " AND done_chunks = chunks";
    sdb_val p[] = {sdb_text(id), sdb_int(items), sdb_int(chunks), sdb_int(rejected)};
    if (sdb_exec(tx, add, p, 4, NULL, NULL) < 0 || sdb_exec(tx, reopen, p, 1, NULL, NULL) < 0) return -1;
    sdb_val q[] = {sdb_text(id), sdb_int(now_ms)};
    int64_t n = sdb_exec(tx, finish, q, 2, NULL, NULL);
    if (n < 0) return -1;
    if (done_out) *done_out = n > 0;
    return 0;
}

static int job_fail_tx(sdb_tx *tx, const char *id, const char *why, int64_t now_ms) {
    static const char *const sql =
        "UPDATE swarm_jobs SET state = 'failed', error = $2, finished_ms = $3 WHERE id = $1"
        " AND state IN ('queued', 'running')";
    sdb_val p[] = {sdb_text(id), sdb_text(why), sdb_int(now_ms)};
    return sdb_exec(tx, sql, p, 3, NULL, NULL) < 0 ? -1 : 0;
}

/* ---- opening ---------------------------------------------------------------------------------------------------- */

static int schema_tx(sdb_tx *tx, void *ctx) {
    sdb *db = ctx;
    if (!strcmp(sdb_kind(db), "postgresql") &&
        sdb_exec(tx, "SELECT pg_advisory_xact_lock(1953391727)", NULL, 0, NULL, NULL) < 0) /* servers starting at once */
        return SDB_ERR;
    return sdb_exec_script(tx, sws_schema) ? SDB_ERR : 0;
}

int sws_open(const char *url, swarm_store **out, char *err, size_t errlen) {
    *out = NULL;
    swarm_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sdb_open(url, &s->db, err, errlen)) {
        free(s);
        return -1;
    }
    if (sdb_transact(s->db, schema_tx, s->db, err, errlen)) {
        sdb_close(s->db);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sws_close(swarm_store *s) {
    if (!s) return;
    sdb_close(s->db);
    free(s);
}

const char *sws_kind(const swarm_store *s) { return sdb_kind(s->db); }

static int release_tx(sdb_tx *tx, void *ctx) {
    (void)ctx;
    return sdb_exec(tx, "UPDATE swarm_chunks SET claim_ms = NULL WHERE state = 'verifying'", NULL, 0, NULL, NULL) < 0
               ? SDB_ERR
               : 0;
}

int sws_release_claims(swarm_store *s, char *err, size_t errlen) {
    return sdb_transact(s->db, release_tx, NULL, err, errlen);
}

/* ---- jobs ------------------------------------------------------------------------------------------------------- */

typedef struct create_ctx {
    const sws_job_spec *j;
    int64_t chunks;
} create_ctx;

static int create_tx(sdb_tx *tx, void *vctx) {
    create_ctx *c = vctx;
    const sws_job_spec *j = c->j;
    static const char *const job_sql =
        "INSERT INTO swarm_jobs (id, model, format, state, item_shape, outputs, prep, batch_any, speculate, items,"
        " chunk_items, chunks, item_bytes, out_bytes, done_items, done_chunks, reissued, rejected_results,"
        " created_ms, verify) VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, 0, 0,"
        " $14, $15)";
    static const char *const chunk_sql =
        "INSERT INTO swarm_chunks (job, idx, first_item, n, state, issues, errors, verified)"
        " VALUES ($1, $2, $3, $4, 'pending', 0, 0, 0)";
    static const char *const input_sql = "INSERT INTO swarm_inputs (job, idx, input) VALUES ($1, $2, $3)";
    c->chunks = (j->items + j->chunk_items - 1) / j->chunk_items;
    sdb_val p[] = {sdb_text(j->id),          sdb_text(j->model),    sdb_text(j->format),      sdb_text(j->item_shape),
                   sdb_text(j->outputs),     sdb_text(j->prep),     sdb_int(j->batch_any),    sdb_int(j->speculate),
                   sdb_int(j->items),        sdb_int(j->chunk_items), sdb_int(c->chunks),     sdb_int(j->item_bytes),
                   sdb_int(j->out_bytes),    sdb_int(j->now_ms),    sdb_real(j->verify)};
    if (sdb_exec(tx, job_sql, p, 15, NULL, NULL) < 0) return SDB_ERR;
    for (int64_t k = 0; k < c->chunks; k++) {
        int64_t first = k * j->chunk_items;
        int64_t n = j->items - first < j->chunk_items ? j->items - first : j->chunk_items;
        sdb_val q[] = {sdb_text(j->id), sdb_int(k), sdb_int(first), sdb_int(n)};
        sdb_val qi[] = {sdb_text(j->id), sdb_int(k),
                        sdb_blob(j->data + (size_t)first * (size_t)j->item_bytes, (size_t)(n * j->item_bytes))};
        if (sdb_exec(tx, chunk_sql, q, 4, NULL, NULL) < 0 || sdb_exec(tx, input_sql, qi, 3, NULL, NULL) < 0)
            return SDB_ERR;
    }
    return 0;
}

int sws_job_create(swarm_store *s, const sws_job_spec *spec, int64_t *chunks_out, char *err, size_t errlen) {
    create_ctx c = {spec, 0};
    int rc = sdb_transact(s->db, create_tx, &c, err, errlen);
    if (!rc && chunks_out) *chunks_out = c.chunks;
    return rc;
}

typedef struct get_ctx {
    const char *id;
    sws_job_info *j;
} get_ctx;

static int get_tx(sdb_tx *tx, void *vctx) {
    get_ctx *g = vctx;
    sws_job_info_free(g->j);
    int rc = job_read(tx, g->id, g->j);
    if (rc) return rc < 0 ? SDB_ERR : SWS_NOT_FOUND;
    sdb_val p[] = {sdb_text(g->id)};
    if (sdb_exec(tx, "SELECT COUNT(DISTINCT client) FROM swarm_leases WHERE job = $1", p, 1, row_int,
                 &g->j->clients) < 0)
        return SDB_ERR;
    return 0;
}

int sws_job_get(swarm_store *s, const char *id, sws_job_info *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    get_ctx g = {id, out};
    return sdb_transact(s->db, get_tx, &g, err, errlen);
}

typedef struct list_ctx {
    int (*fn)(void *ctx, const sws_job_info *j);
    void *ctx;
} list_ctx;

static int row_list_job(void *vctx, const sdb_row *r) {
    list_ctx *l = vctx;
    sws_job_info j;
    if (job_from_row(r, &j)) return 1;
    j.clients = sdb_col_int(r, 23);
    int stop = l->fn(l->ctx, &j);
    sws_job_info_free(&j);
    return stop;
}

static int list_tx(sdb_tx *tx, void *vctx) {
    static const char *const sql =
        "SELECT " JOB_COLS ", (SELECT COUNT(DISTINCT client) FROM swarm_leases l WHERE l.job = j.id)"
        " FROM swarm_jobs j ORDER BY created_ms, id";
    return sdb_exec(tx, sql, NULL, 0, row_list_job, vctx) < 0 ? SDB_ERR : 0;
}

int sws_job_list(swarm_store *s, int (*fn)(void *ctx, const sws_job_info *j), void *ctx, char *err, size_t errlen) {
    list_ctx l = {fn, ctx};
    return sdb_transact(s->db, list_tx, &l, err, errlen);
}

typedef struct results_ctx {
    const char *id;
    sws_result_fn fn;
    void *ctx;
} results_ctx;

static int row_result(void *vctx, const sdb_row *r) {
    results_ctx *c = vctx;
    size_t len;
    const void *b = sdb_col_blob(r, 2, &len);
    return c->fn(c->ctx, sdb_col_int(r, 0), sdb_col_int(r, 1), sdb_col_null(r, 2) ? NULL : b,
                 sdb_col_null(r, 2) ? 0 : len, sdb_col_null(r, 3) ? NULL : sdb_col_text(r, 3));
}

static int results_tx(sdb_tx *tx, void *vctx) {
    results_ctx *c = vctx;
    int64_t found = 0;
    sdb_val p[] = {sdb_text(c->id)};
    if (sdb_exec(tx, "SELECT COUNT(*) FROM swarm_jobs WHERE id = $1", p, 1, row_int, &found) < 0) return SDB_ERR;
    if (!found) return SWS_NOT_FOUND;
    static const char *const sql =
        "SELECT first_item, n, result, worker FROM swarm_chunks WHERE job = $1 ORDER BY idx";
    return sdb_exec(tx, sql, p, 1, row_result, c) < 0 ? SDB_ERR : 0;
}

int sws_job_results(swarm_store *s, const char *id, sws_result_fn fn, void *ctx, char *err, size_t errlen) {
    results_ctx c = {id, fn, ctx};
    return sdb_transact(s->db, results_tx, &c, err, errlen);
}

typedef struct fail_ctx {
    const char *id, *why;
    int64_t now_ms;
} fail_ctx;

static int fail_tx(sdb_tx *tx, void *vctx) {
    fail_ctx *f = vctx;
    return job_fail_tx(tx, f->id, f->why, f->now_ms) ? SDB_ERR : 0;
}

int sws_job_fail(swarm_store *s, const char *id, const char *why, int64_t now_ms, char *err, size_t errlen) {
    fail_ctx f = {id, why, now_ms};
    return sdb_transact(s->db, fail_tx, &f, err, errlen);
}

/* ---- clients ---------------------------------------------------------------------------------------------------- */

typedef struct join_ctx {
    const char *id, *label, *kind;
    int64_t now_ms;
} join_ctx;

static int join_tx(sdb_tx *tx, void *vctx) {
    join_ctx *j = vctx;
    static const char *const sql =
        "INSERT INTO swarm_clients (id, label, kind, created_ms, last_seen_ms, refused, seq, items_per_s,"
        " checks_passed, leases, accepted_chunks, late_chunks, rejected_items)"
        " VALUES ($1, $2, $3, $4, $4, 0, 0, 0, 0, 0, 0, 0, 0)";
    sdb_val p[] = {sdb_text(j->id), sdb_text(j->label), sdb_text(j->kind), sdb_int(j->now_ms)};
    return sdb_exec(tx, sql, p, 4, NULL, NULL) < 0 ? SDB_ERR : 0;
}

int sws_client_join(swarm_store *s, const char *id, const char *label, const char *kind, int64_t now_ms, char *err,
                    size_t errlen) {
    join_ctx j = {id, label, kind, now_ms};
    return sdb_transact(s->db, join_tx, &j, err, errlen);
}

typedef struct clients_ctx {
    int (*fn)(void *ctx, const sws_client_info *c);
    void *ctx;
} clients_ctx;

static int row_client(void *vctx, const sdb_row *r) {
    clients_ctx *c = vctx;
    sws_client_info ci = {sdb_col_text(r, 0), sdb_col_text(r, 1), sdb_col_text(r, 2), (int)sdb_col_int(r, 3),
                          sdb_col_real(r, 4), sdb_col_int(r, 5), sdb_col_int(r, 6), sdb_col_int(r, 7),
                          sdb_col_int(r, 8), sdb_col_int(r, 9), sdb_col_int(r, 10)};
    return c->fn(c->ctx, &ci);
}

static int clients_tx(sdb_tx *tx, void *vctx) {
    static const char *const sql =
        "SELECT id, label, kind, refused, items_per_s, leases, accepted_chunks, late_chunks,"
        " (SELECT COUNT(*) FROM swarm_leases l WHERE l.client = c.id AND l.outcome IS NULL), checks_passed,"
        " rejected_items FROM swarm_clients c ORDER BY created_ms, id";
    return sdb_exec(tx, sql, NULL, 0, row_client, vctx) < 0 ? SDB_ERR : 0;
}

int sws_client_list(swarm_store *s, int64_t now_ms, int (*fn)(void *ctx, const sws_client_info *c), void *ctx,
                    char *err, size_t errlen) {
    (void)now_ms;
    clients_ctx c = {fn, ctx};
    return sdb_transact(s->db, clients_tx, &c, err, errlen);
}

/* ---- leases ----------------------------------------------------------------------------------------------------- */

typedef struct client_row {
    int found, refused;
    int64_t seq, checks_passed;
    double items_per_s;
    char label[128];
} client_row;

static int row_client_state(void *ctx, const sdb_row *r) {
    client_row *c = ctx;
    c->found = 1;
    c->refused = (int)sdb_col_int(r, 0);
    c->seq = sdb_col_int(r, 1);
    c->items_per_s = sdb_col_real(r, 2);
    c->checks_passed = sdb_col_int(r, 3);
    sws_copy(c->label, sizeof c->label, sdb_col_text(r, 4));
    return 0;
}

static int client_read(sdb_tx *tx, const char *id, client_row *c) {
    static const char *const sql =
        "SELECT refused, seq, items_per_s, checks_passed, label FROM swarm_clients WHERE id = $1 FOR UPDATE";
    memset(c, 0, sizeof *c);
    sdb_val p[] = {sdb_text(id)};
    if (sdb_exec(tx, sql, p, 1, row_client_state, c) < 0) return -1;
    return c->found ? 0 : 1;
}

typedef struct job_array {
    sws_job_info *v;
    int n, cap;
} job_array;

static int row_job_array(void *ctx, const sdb_row *r) {
    job_array *a = ctx;
    sws_job_info *nv = sws_grow(a->v, a->n, &a->cap, sizeof *nv);
    if (!nv) return 1;
    a->v = nv;
    if (job_from_row(r, &a->v[a->n])) return 1;
    a->n++;
    return 0;
}

static void job_array_free(job_array *a) {
    for (int i = 0; i < a->n; i++) sws_job_info_free(&a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

typedef struct picked {
    sws_lease_chunk *v;
    int n, cap;
    int64_t issues_max, max_idx;
    int kind; /* of the query being read: SWS_REISSUE (expired), SWS_FIRST (pending) or SWS_SPECULATIVE */
    int64_t now_ms;
    double chunk_ms; /* speculative copies: this client's expected time per chunk */
} picked;

/* A speculative copy pays only if this client, computing its copies in order, would finish the k-th one before the
 * holder is expected to deliver it (with a margin: a measured speed is an estimate). */
#define SWS_SPEC_MARGIN 1.5

static int row_pick(void *ctx, const sdb_row *r) {
    picked *p = ctx;
    if (p->kind == SWS_SPECULATIVE && (double)sdb_col_int(r, 4) <=
                                          (double)p->now_ms + (double)(p->n + 1) * p->chunk_ms * SWS_SPEC_MARGIN)
        return 0; /* rows come latest-expected first: the rest would not pay either */
    sws_lease_chunk *nv = sws_grow(p->v, p->n, &p->cap, sizeof *nv);
    if (!nv) return 1;
    p->v = nv;
    sws_lease_chunk *c = &p->v[p->n];
    memset(c, 0, sizeof *c);
    c->idx = sdb_col_int(r, 0);
    c->first = sdb_col_int(r, 1);
    c->n = sdb_col_int(r, 2);
    int64_t issues = sdb_col_int(r, 3);
    c->kind = p->kind == SWS_FIRST && issues > 0 ? SWS_REISSUE : p->kind; /* pending again after a discard or error */
    if (issues > p->issues_max) {
        p->issues_max = issues;
        p->max_idx = c->idx;
    }
    p->n++;
    return 0;
}

/* A chunk's items (column 0) into c->input. */
static int row_blob(void *ctx, const sdb_row *r) {
    sws_lease_chunk *c = ctx;
    size_t len;
    const void *b = sdb_col_blob(r, 0, &len);
    free(c->input);
    c->input = malloc(len ? len : 1);
    if (!c->input) return 1;
    memcpy(c->input, b, len);
    c->len = len;
    return 0;
}

static void picked_clear(picked *p) {
    for (int i = 0; i < p->n; i++) free(p->v[i].input);
    p->n = 0;
    p->issues_max = 0;
}

typedef struct lease_ctx {
    const sws_lease_req *req;
    sws_lease *out;
} lease_ctx;

/* How many chunks of job j this client should get: its measured speed times the target time, in whole chunks. */
static int64_t lease_chunks(const sws_lease_req *q, double rate, const sws_job_info *j) {
    int64_t items = rate > 0 ? (int64_t)ceil(rate * q->target_s) : j->chunk_items;
    int64_t n = (items + j->chunk_items - 1) / j->chunk_items;
    int64_t by_items = q->max_items / j->chunk_items;
    int64_t by_bytes = (int64_t)(q->max_bytes / (size_t)(j->chunk_items * j->item_bytes));
    if (n > by_items) n = by_items;
    if (n > by_bytes) n = by_bytes;
    return n < 1 ? 1 : n;
}

static int lease_tx(sdb_tx *tx, void *vctx) {
    lease_ctx *lc = vctx;
    const sws_lease_req *q = lc->req;
    sws_lease *out = lc->out;
    static const char *const expired_sql =
        "SELECT idx, first_item, n, issues FROM swarm_chunks WHERE job = $1 AND state = 'leased'"
        " AND deadline_ms < $2 ORDER BY idx LIMIT $3 FOR UPDATE SKIP LOCKED";
    static const char *const pending_sql =
        "SELECT idx, first_item, n, issues FROM swarm_chunks WHERE job = $1 AND state = 'pending'"
        " ORDER BY idx LIMIT $2 FOR UPDATE SKIP LOCKED";
    static const char *const spec_sql =
        "SELECT idx, first_item, n, issues, eta_ms FROM swarm_chunks c WHERE job = $1 AND state = 'leased'"
        " AND spec_lease IS NULL AND eta_ms > $2 AND NOT EXISTS (SELECT 1 FROM swarm_leases l WHERE l.job = c.job"
        " AND l.idx = c.idx AND l.client = $3 AND l.outcome IS NULL) ORDER BY eta_ms DESC, idx LIMIT $4"
        " FOR UPDATE SKIP LOCKED";
    /* guided self-scheduling: with P clients at work, a lease takes at most 1/P of what is pending, so the last
     * leases shrink and the clients finish together */
    static const char *const pending_count_sql =
        "SELECT COUNT(*) FROM swarm_chunks WHERE job = $1 AND state = 'pending'";
    static const char *const others_sql =
        "SELECT COUNT(DISTINCT client) FROM swarm_leases WHERE job = $1 AND outcome IS NULL AND deadline_ms > $2"
        " AND client <> $3";
    static const char *const lease_chunk_sql =
        "UPDATE swarm_chunks SET state = 'leased', lease = $3, deadline_ms = $4, eta_ms = $5, issues = issues + 1"
        " WHERE job = $1 AND idx = $2";
    static const char *const spec_chunk_sql = "UPDATE swarm_chunks SET spec_lease = $3 WHERE job = $1 AND idx = $2";
    static const char *const lease_row_sql =
        "INSERT INTO swarm_leases (id, job, idx, client, kind, issued_ms, deadline_ms) VALUES ($1, $2, $3, $4, $5,"
        " $6, $7)";
    static const char *const job_sql =
        "UPDATE swarm_jobs SET state = 'running', started_ms = COALESCE(started_ms, $2), reissued = reissued + $3"
        " WHERE id = $1";
    static const char *const client_sql = "UPDATE swarm_clients SET leases = leases + 1, last_seen_ms = $2 WHERE id = $1";
    static const char *const kinds[] = {"", "first", "reissue", "speculative"};
    static const char *const input_sql = "SELECT input FROM swarm_inputs WHERE job = $1 AND idx = $2";

    sws_lease_free(out);
    client_row cl;
    int rc = client_read(tx, q->client, &cl);
    if (rc) return rc < 0 ? SDB_ERR : SWS_UNKNOWN_CLIENT;
    if (cl.refused) return SWS_REFUSED;
    job_array jobs = {0};
    picked pk = {0};
    int result = SWS_NO_WORK;
    static const char *const active_sql =
        "SELECT " JOB_COLS " FROM swarm_jobs WHERE state IN ('queued', 'running') ORDER BY created_ms, id";
    if (sdb_exec(tx, active_sql, NULL, 0, row_job_array, &jobs) < 0) {
        result = SDB_ERR;
        goto done;
    }
    out->active_jobs = jobs.n;
    for (int k = 0; k < jobs.n; k++) {
        sws_job_info *j = &jobs.v[k];
        int64_t want = lease_chunks(q, cl.items_per_s, j), pending = 0, others = 0;
        sdb_val pq[] = {sdb_text(j->id), sdb_int(q->now_ms), sdb_text(q->client)};
        if (sdb_exec(tx, pending_count_sql, pq, 1, row_int, &pending) < 0 ||
            sdb_exec(tx, others_sql, pq, 3, row_int, &others) < 0)
            goto fail;
        if (pending > 0 && want > (pending + others) / (others + 1)) want = (pending + others) / (others + 1);
        picked_clear(&pk);
        sdb_val pe[] = {sdb_text(j->id), sdb_int(q->now_ms), sdb_int(want)};
        pk.kind = SWS_REISSUE;
        if (sdb_exec(tx, expired_sql, pe, 3, row_pick, &pk) < 0) goto fail;
        if (pk.n < want) {
            sdb_val pp[] = {sdb_text(j->id), sdb_int(want - pk.n)};
            pk.kind = SWS_FIRST;
            if (sdb_exec(tx, pending_sql, pp, 2, row_pick, &pk) < 0) goto fail;
        }
        if (pk.n == 0 && j->speculate && cl.items_per_s > 0) {
            /* the tail: copy chunks whose holder is expected to finish after this client would */
            pk.chunk_ms = 1000.0 * (double)j->chunk_items / cl.items_per_s;
            pk.now_ms = q->now_ms;
            sdb_val ps[] = {sdb_text(j->id), sdb_int(q->now_ms + (int64_t)(pk.chunk_ms * SWS_SPEC_MARGIN)),
                            sdb_text(q->client), sdb_int(want)};
            pk.kind = SWS_SPECULATIVE;
            if (sdb_exec(tx, spec_sql, ps, 4, row_pick, &pk) < 0) goto fail;
        }
        if (pk.n == 0) continue;
        if (pk.issues_max >= SWS_MAX_ISSUES) {
            char why[160];
            snprintf(why, sizeof why, "chunk %lld was leased %lld times without a result", (long long)pk.max_idx,
                     (long long)pk.issues_max);
            if (job_fail_tx(tx, j->id, why, q->now_ms)) goto fail;
            out->active_jobs--;
            continue;
        }
        int64_t items = 0;
        for (int i = 0; i < pk.n; i++) {
            sdb_val pi[] = {sdb_text(j->id), sdb_int(pk.v[i].idx)};
            if (sdb_exec(tx, input_sql, pi, 2, row_blob, &pk.v[i]) != 1) goto fail;
            items += pk.v[i].n;
        }
        double expected_ms = cl.items_per_s > 0 ? 1000.0 * (double)items / cl.items_per_s : 0;
        int64_t timeout = cl.items_per_s > 0 ? q->min_timeout_ms : 2 * q->min_timeout_ms; /* the first lease also
                                                                                               loads the model */
        if (3 * expected_ms > (double)timeout) timeout = (int64_t)(3 * expected_ms);
        out->deadline_ms = q->now_ms + timeout;
        int64_t eta = cl.items_per_s > 0 ? q->now_ms + (int64_t)expected_ms : out->deadline_ms;
        sws_random_hex(out->id, SWS_LEASE_ID);
        int64_t reissued = 0;
        for (int i = 0; i < pk.n; i++) {
            sws_lease_chunk *c = &pk.v[i];
            int kind = c->kind;
            reissued += kind != SWS_FIRST;
            sdb_val pu[] = {sdb_text(j->id), sdb_int(c->idx), sdb_text(out->id), sdb_int(out->deadline_ms),
                            sdb_int(eta)};
            int spec = kind == SWS_SPECULATIVE;
            if (sdb_exec(tx, spec ? spec_chunk_sql : lease_chunk_sql, pu, spec ? 3 : 5, NULL, NULL) < 0)
                goto fail;
            sdb_val pl[] = {sdb_text(out->id), sdb_text(j->id),      sdb_int(c->idx),          sdb_text(q->client),
                            sdb_text(kinds[kind]), sdb_int(q->now_ms), sdb_int(out->deadline_ms)};
            if (sdb_exec(tx, lease_row_sql, pl, 7, NULL, NULL) < 0) goto fail;
        }
        sdb_val pj[] = {sdb_text(j->id), sdb_int(q->now_ms), sdb_int(reissued)};
        sdb_val pc[] = {sdb_text(q->client), sdb_int(q->now_ms)};
        if (sdb_exec(tx, job_sql, pj, 3, NULL, NULL) < 0 || sdb_exec(tx, client_sql, pc, 2, NULL, NULL) < 0) goto fail;
        out->job = *j;
        memset(j, 0, sizeof *j); /* moved */
        out->chunks = pk.v;
        out->nchunks = pk.n;
        pk.v = NULL;
        pk.n = 0;
        result = 0;
        break;
    }
    goto done;
fail:
    result = SDB_ERR;
done:
    picked_clear(&pk);
    free(pk.v);
    job_array_free(&jobs);
    if (result == SWS_NO_WORK) return 0; /* commit: a failed job stays failed */
    return result;
}

int sws_take_lease(swarm_store *s, const sws_lease_req *req, sws_lease *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    lease_ctx lc = {req, out};
    int rc = sdb_transact(s->db, lease_tx, &lc, err, errlen);
    if (rc == 0 && out->nchunks == 0) return SWS_NO_WORK;
    return rc;
}

void sws_lease_free(sws_lease *l) {
    if (!l) return;
    for (int i = 0; i < l->nchunks; i++) free(l->chunks[i].input);
    free(l->chunks);
    sws_job_info_free(&l->job);
    int64_t active = l->active_jobs;
    memset(l, 0, sizeof *l);
    l->active_jobs = active;
}

/* ---- submissions ------------------------------------------------------------------------------------------------ */

typedef struct lease_row {
    int found;
    char job[SWS_JOB_ID + 1];
    int64_t issued_ms;
    char outcome[16]; /* "" while outstanding */
} lease_row;

static int row_lease(void *ctx, const sdb_row *r) {
    lease_row *l = ctx;
    l->found = 1;
    sws_copy(l->job, sizeof l->job, sdb_col_text(r, 0));
    l->issued_ms = sdb_col_int(r, 1);
    sws_copy(l->outcome, sizeof l->outcome, sdb_col_null(r, 2) ? "" : sdb_col_text(r, 2));
    return 0;
}

/* A chunk's state, read with CHUNK_ROW_SQL. */
typedef struct chunk_row {
    int found;
    char state[16], lease[SWS_LEASE_ID + 1], client[SWS_CLIENT_ID + 1];
    int64_t n, errors, seq;
} chunk_row;

#define CHUNK_ROW_SQL "SELECT state, n, lease, errors, client, seq FROM swarm_chunks WHERE job = $1 AND idx = $2 FOR UPDATE"

static int row_chunk(void *ctx, const sdb_row *r) {
    chunk_row *c = ctx;
    c->found = 1;
    sws_copy(c->state, sizeof c->state, sdb_col_text(r, 0));
    c->n = sdb_col_int(r, 1);
    sws_copy(c->lease, sizeof c->lease, sdb_col_null(r, 2) ? "" : sdb_col_text(r, 2));
    c->errors = sdb_col_int(r, 3);
    sws_copy(c->client, sizeof c->client, sdb_col_null(r, 4) ? "" : sdb_col_text(r, 4));
    c->seq = sdb_col_int(r, 5);
    return 0;
}

typedef struct submit_ctx {
    sws_submit *sub;
    char *err;
    size_t errlen;
    int *order; /* chunk positions sorted by index */
} submit_ctx;

static int submit_tx(sdb_tx *tx, void *vctx) {
    submit_ctx *sc = vctx;
    sws_submit *sub = sc->sub;
    static const char *const lease_sql =
        "SELECT job, issued_ms, outcome FROM swarm_leases WHERE id = $1 AND idx = $2 AND client = $3 FOR UPDATE";
    static const char *const chunk_sql = CHUNK_ROW_SQL;
    static const char *const outcome_sql = "UPDATE swarm_leases SET outcome = $3 WHERE id = $1 AND idx = $2";
    static const char *const accept_sql =
        "UPDATE swarm_chunks SET state = $3, result = $4, client = $5, worker = $6, seq = $7, verified = 0,"
        " claim_ms = NULL, lease = NULL, deadline_ms = NULL, eta_ms = NULL, spec_lease = NULL"
        " WHERE job = $1 AND idx = $2";
    static const char *const error_sql =
        "UPDATE swarm_chunks SET errors = errors + 1, state = CASE WHEN state = 'leased' AND lease = $3"
        " THEN 'pending' ELSE state END WHERE job = $1 AND idx = $2";
    static const char *const client_sql =
        "UPDATE swarm_clients SET seq = $2, items_per_s = $3, accepted_chunks = accepted_chunks + $4,"
        " late_chunks = late_chunks + $5, last_seen_ms = $6 WHERE id = $1";

    sub->job[0] = 0;
    sub->job_done = 0;
    for (int i = 0; i < sub->nchunks; i++) sub->chunks[i].outcome = sub->chunks[i].verifying = 0;
    client_row cl;
    int rc = client_read(tx, sub->client, &cl);
    if (rc) return rc < 0 ? SDB_ERR : SWS_UNKNOWN_CLIENT;
    if (cl.refused) return SWS_REFUSED;
    /* pass 1: every chunk must be held by this client under this lease, and sized as its chunk is */
    sws_job_info job;
    memset(&job, 0, sizeof job);
    int64_t issued_ms = sub->now_ms;
    int status = 0;
    chunk_row *rows = calloc((size_t)sub->nchunks, sizeof *rows);
    if (!rows) return SDB_ERR;
    for (int k = 0; k < sub->nchunks && !status; k++) {
        sws_submit_chunk *c = &sub->chunks[sc->order[k]];
        lease_row lr = {0};
        sdb_val pl[] = {sdb_text(sub->lease), sdb_int(c->idx), sdb_text(sub->client)};
        if (sdb_exec(tx, lease_sql, pl, 3, row_lease, &lr) < 0) {
            status = SDB_ERR;
            break;
        }
        /* a lease row given up by an error report holds no result any more; the same report again is a repeat */
        if (!lr.found || !strcmp(lr.outcome, "cancelled") || (!strcmp(lr.outcome, "error") && !c->error)) {
            snprintf(sc->err, sc->errlen, "chunk %lld is not held by this client under lease %s", (long long)c->idx,
                     sub->lease);
            status = SWS_NOT_HELD;
            break;
        }
        if (!job.id[0]) {
            int jr = job_read(tx, lr.job, &job);
            if (jr) {
                status = SDB_ERR;
                break;
            }
            sws_copy(sub->job, sizeof sub->job, job.id);
            issued_ms = lr.issued_ms;
        }
        sdb_val pc[] = {sdb_text(job.id), sdb_int(c->idx)};
        if (sdb_exec(tx, chunk_sql, pc, 2, row_chunk, &rows[sc->order[k]]) < 0) {
            status = SDB_ERR;
            break;
        }
        chunk_row *cr = &rows[sc->order[k]];
        if (!c->error && (c->n != cr->n || c->len != (size_t)(cr->n * job.out_bytes))) {
            snprintf(sc->err, sc->errlen, "chunk %lld holds %lld items (%lld result bytes); the submission has %lld "
                     "items in %zu bytes", (long long)c->idx, (long long)cr->n, (long long)(cr->n * job.out_bytes),
                     (long long)c->n, c->len);
            status = SWS_BAD;
            break;
        }
        if (lr.outcome[0]) c->outcome = SWS_LATE; /* submitted before: a retry is answered the same way */
    }
    /* the check share: each chunk with probability verify, and one of every submission while trust is low */
    int accepting = 0;
    for (int k = 0; k < sub->nchunks && !status; k++) {
        sws_submit_chunk *c = &sub->chunks[k];
        int done = !strcmp(rows[k].state, "done") || !strcmp(rows[k].state, "verifying") ||
                   !strcmp(job.state, "failed");
        if (!c->error && !c->outcome && !done) accepting++;
    }
    int forced = accepting && job.verify > 0 && cl.checks_passed < SWS_TRUST_CHECKS
                     ? (int)(sws_random_unit() * accepting)
                     : -1;
    /* pass 2: write */
    int64_t seq = cl.seq, acc_items = 0, acc_chunks = 0, late = 0, computed = 0, nacc = 0;
    for (int k = 0; k < sub->nchunks && !status; k++) {
        sws_submit_chunk *c = &sub->chunks[sc->order[k]];
        chunk_row *cr = &rows[sc->order[k]];
        sdb_val pk[] = {sdb_text(sub->lease), sdb_int(c->idx), sdb_text("")};
        int done = !strcmp(cr->state, "done") || !strcmp(cr->state, "verifying") || !strcmp(job.state, "failed");
        if (c->error) {
            /* an error about a chunk that has its result (or a repeat of one already noted) changes nothing */
            int repeat = c->outcome == SWS_LATE;
            c->outcome = SWS_ERROR_NOTED;
            if (done || repeat) continue;
            pk[2] = sdb_text("error");
            sdb_val pe[] = {sdb_text(job.id), sdb_int(c->idx), sdb_text(sub->lease)};
            if (sdb_exec(tx, outcome_sql, pk, 3, NULL, NULL) < 0 || sdb_exec(tx, error_sql, pe, 3, NULL, NULL) < 0) {
                status = SDB_ERR;
                break;
            }
            if (cr->errors + 1 >= SWS_MAX_ERRORS) {
                char why[512];
                snprintf(why, sizeof why, "chunk %lld failed on %lld workers; the last said: %.300s", (long long)c->idx,
                         (long long)(cr->errors + 1), c->error);
                if (job_fail_tx(tx, job.id, why, sub->now_ms)) status = SDB_ERR;
            }
            continue;
        }
        if (c->outcome == SWS_LATE) continue; /* a repeat: its lease row keeps what the first one recorded */
        computed += c->n;
        if (done) {
            c->outcome = SWS_LATE;
            late++;
            pk[2] = sdb_text("late");
            if (sdb_exec(tx, outcome_sql, pk, 3, NULL, NULL) < 0) status = SDB_ERR;
            continue;
        }
        c->verifying = job.verify > 0 && (nacc == forced || sws_random_unit() < job.verify);
        nacc++;
        seq++;
        sdb_val pa[] = {sdb_text(job.id), sdb_int(c->idx), sdb_text(c->verifying ? "verifying" : "done"),
                        sdb_blob(c->result, c->len), sdb_text(sub->client), sdb_text(cl.label), sdb_int(seq)};
        pk[2] = sdb_text("accepted");
        if (sdb_exec(tx, accept_sql, pa, 7, NULL, NULL) < 0 || sdb_exec(tx, outcome_sql, pk, 3, NULL, NULL) < 0) {
            status = SDB_ERR;
            break;
        }
        c->outcome = SWS_ACCEPTED;
        acc_chunks += !c->verifying;
        acc_items += c->verifying ? 0 : c->n;
    }
    if (!status && job.id[0]) {
        /* the client's speed: what it computed over its own compute time when it says it, else over the time
         * since the lease was issued. The wall time would also hold the model's download and compilation (the first
         * lease), and the time the client spent on the lease before this one (a worker that fetches its next lease
         * while it computes): both would make it look slower. A client that lies only sizes its own leases wrongly,
         * within the server's limits. */
        double secs = (double)(sub->now_ms - issued_ms) / 1000.0;
        double rate = cl.items_per_s;
        if (sub->compute_ms > 0 && sub->compute_ms / 1000.0 < secs) secs = sub->compute_ms / 1000.0;
        if (computed > 0 && secs > 0.001) {
            double x = (double)computed / secs;
            rate = rate > 0 ? 0.5 * rate + 0.5 * x : x;
        }
        if (job_count(tx, job.id, acc_items, acc_chunks, 0, sub->now_ms, &sub->job_done)) status = SDB_ERR;
        sdb_val pc[] = {sdb_text(sub->client), sdb_int(seq), sdb_real(rate), sdb_int(nacc), sdb_int(late),
                        sdb_int(sub->now_ms)};
        if (!status && sdb_exec(tx, client_sql, pc, 6, NULL, NULL) < 0) status = SDB_ERR;
    }
    free(rows);
    sws_job_info_free(&job);
    return status;
}

int sws_store_submit(swarm_store *s, sws_submit *sub, char *err, size_t errlen) {
    if (sub->nchunks < 1) {
        snprintf(err, errlen, "the submission names no chunk");
        return SWS_BAD;
    }
    int *order = malloc((size_t)sub->nchunks * sizeof *order);
    if (!order) {
        snprintf(err, errlen, "out of memory");
        return SDB_ERR;
    }
    for (int i = 0; i < sub->nchunks; i++) order[i] = i;
    /* sorted, so that concurrent transactions lock chunk rows in one order */
    for (int i = 1; i < sub->nchunks; i++) {
        int v = order[i], j = i;
        while (j > 0 && sub->chunks[order[j - 1]].idx > sub->chunks[v].idx) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (int i = 1; i < sub->nchunks; i++)
        if (sub->chunks[order[i]].idx == sub->chunks[order[i - 1]].idx) {
            snprintf(err, errlen, "chunk %lld appears twice in the submission", (long long)sub->chunks[order[i]].idx);
            free(order);
            return SWS_BAD;
        }
    submit_ctx sc = {sub, err, errlen, order};
    int rc = sdb_transact(s->db, submit_tx, &sc, err, errlen);
    free(order);
    return rc;
}

/* ---- verification ----------------------------------------------------------------------------------------------- */

typedef struct claim_ctx {
    int64_t now_ms, hold_ms;
    sws_verify_task *t;
    int found;
} claim_ctx;

static int row_claim(void *ctx, const sdb_row *r) {
    claim_ctx *c = ctx;
    sws_verify_task *t = c->t;
    sws_copy(t->job.id, sizeof t->job.id, sdb_col_text(r, 0));
    t->idx = sdb_col_int(r, 1);
    t->first = sdb_col_int(r, 2);
    t->n = sdb_col_int(r, 3);
    size_t a, b;
    const void *in = sdb_col_blob(r, 8, &a);
    const void *res = sdb_col_blob(r, 4, &b);
    t->input = malloc(a ? a : 1);
    t->result = malloc(b ? b : 1);
    if (!t->input || !t->result) return 1;
    memcpy(t->input, in, a);
    memcpy(t->result, res, b);
    t->input_len = a;
    t->result_len = b;
    sws_copy(t->client, sizeof t->client, sdb_col_text(r, 5));
    t->seq = sdb_col_int(r, 6);
    c->found = 1;
    return 0;
}

static int claim_tx(sdb_tx *tx, void *vctx) {
    claim_ctx *c = vctx;
    static const char *const sql =
        "SELECT job, idx, first_item, n, result, client, seq, claim_ms, (SELECT input FROM swarm_inputs i"
        " WHERE i.job = c.job AND i.idx = c.idx) FROM swarm_chunks c WHERE state = 'verifying'"
        " AND (claim_ms IS NULL OR claim_ms < $1) ORDER BY job, idx LIMIT 1 FOR UPDATE SKIP LOCKED";
    static const char *const hold_sql = "UPDATE swarm_chunks SET claim_ms = $3 WHERE job = $1 AND idx = $2";
    sws_verify_task_free(c->t);
    c->found = 0;
    sdb_val p[] = {sdb_int(c->now_ms)};
    if (sdb_exec(tx, sql, p, 1, row_claim, c) < 0) return SDB_ERR;
    if (!c->found) return 0;
    char id[SWS_JOB_ID + 1];
    sws_copy(id, sizeof id, c->t->job.id);
    sdb_val ph[] = {sdb_text(id), sdb_int(c->t->idx), sdb_int(c->now_ms + c->hold_ms)};
    if (sdb_exec(tx, hold_sql, ph, 3, NULL, NULL) < 0) return SDB_ERR;
    return job_read(tx, id, &c->t->job) ? SDB_ERR : 0;
}

int sws_verify_claim(swarm_store *s, int64_t now_ms, int64_t hold_ms, sws_verify_task *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    claim_ctx c = {now_ms, hold_ms, t, 0};
    int rc = sdb_transact(s->db, claim_tx, &c, err, errlen);
    if (rc) return rc;
    return c.found ? 0 : SWS_NO_WORK;
}

void sws_verify_task_free(sws_verify_task *t) {
    if (!t) return;
    sws_job_info_free(&t->job);
    free(t->input);
    free(t->result);
    memset(t, 0, sizeof *t);
}

typedef struct job_delta {
    char id[SWS_JOB_ID + 1];
    int64_t items, chunks, rejected;
} job_delta;

typedef struct finish_ctx {
    const sws_verify_task *t;
    int ok;
    const void *native;
    size_t len;
    int64_t now_ms, rejected;
    job_delta *d;
    int nd, cap;
    int oom;
} finish_ctx;

static job_delta *delta_for(finish_ctx *f, const char *job) {
    for (int i = 0; i < f->nd; i++)
        if (!strcmp(f->d[i].id, job)) return &f->d[i];
    job_delta *nd = sws_grow(f->d, f->nd, &f->cap, sizeof *nd);
    if (!nd) return NULL;
    f->d = nd;
    job_delta *d = &f->d[f->nd++];
    memset(d, 0, sizeof *d);
    sws_copy(d->id, sizeof d->id, job);
    return d;
}

typedef struct discard_row {
    char job[SWS_JOB_ID + 1];
    int64_t idx, n;
    int done;
} discard_row;

typedef struct discard_list {
    discard_row *v;
    int n, cap;
} discard_list;

static int row_discard(void *ctx, const sdb_row *r) {
    discard_list *l = ctx;
    discard_row *nv = sws_grow(l->v, l->n, &l->cap, sizeof *nv);
    if (!nv) return 1;
    l->v = nv;
    discard_row *d = &l->v[l->n++];
    sws_copy(d->job, sizeof d->job, sdb_col_text(r, 0));
    d->idx = sdb_col_int(r, 1);
    d->n = sdb_col_int(r, 2);
    d->done = !strcmp(sdb_col_text(r, 3), "done");
    return 0;
}

/* The client failed a check: refuse it, cancel what it holds, and discard its unverified results submitted after
 * its last verified chunk before this one (their chunks go back to pending). */
static int refuse_client(sdb_tx *tx, finish_ctx *f, const char *client, int64_t failed_seq) {
    static const char *const last_good_sql =
        "SELECT COALESCE(MAX(seq), 0) FROM swarm_chunks WHERE client = $1 AND verified = 1 AND seq < $2";
    static const char *const list_sql =
        "SELECT job, idx, n, state FROM swarm_chunks WHERE client = $1 AND verified = 0 AND seq > $2"
        " AND state IN ('done', 'verifying') ORDER BY job, idx FOR UPDATE";
    static const char *const reset_sql =
        "UPDATE swarm_chunks SET state = 'pending', result = NULL, client = NULL, worker = NULL, seq = NULL,"
        " claim_ms = NULL, lease = NULL, deadline_ms = NULL, eta_ms = NULL, spec_lease = NULL"
        " WHERE job = $1 AND idx = $2";
    static const char *const held_sql =
        "UPDATE swarm_chunks SET state = 'pending', lease = NULL, deadline_ms = NULL, eta_ms = NULL"
        " WHERE state = 'leased' AND lease IN (SELECT id FROM swarm_leases WHERE client = $1 AND outcome IS NULL)";
    static const char *const spec_sql =
        "UPDATE swarm_chunks SET spec_lease = NULL"
        " WHERE spec_lease IN (SELECT id FROM swarm_leases WHERE client = $1 AND outcome IS NULL)";
    static const char *const cancel_sql =
        "UPDATE swarm_leases SET outcome = 'cancelled' WHERE client = $1 AND outcome IS NULL";
    int64_t last_good = 0;
    sdb_val p[] = {sdb_text(client), sdb_int(failed_seq)};
    if (sdb_exec(tx, last_good_sql, p, 2, row_int, &last_good) < 0) return -1;
    discard_list l = {0};
    sdb_val pl[] = {sdb_text(client), sdb_int(last_good)};
    int rc = sdb_exec(tx, list_sql, pl, 2, row_discard, &l) < 0 ? -1 : 0;
    for (int i = 0; i < l.n && !rc; i++) {
        sdb_val pr[] = {sdb_text(l.v[i].job), sdb_int(l.v[i].idx)};
        job_delta *d = delta_for(f, l.v[i].job);
        if (!d || sdb_exec(tx, reset_sql, pr, 2, NULL, NULL) < 0) {
            rc = -1;
            break;
        }
        d->rejected += l.v[i].n;
        f->rejected += l.v[i].n;
        if (l.v[i].done) {
            d->items -= l.v[i].n;
            d->chunks -= 1;
        }
    }
    free(l.v);
    sdb_val pc[] = {sdb_text(client)};
    if (!rc && (sdb_exec(tx, held_sql, pc, 1, NULL, NULL) < 0 || sdb_exec(tx, spec_sql, pc, 1, NULL, NULL) < 0 ||
                sdb_exec(tx, cancel_sql, pc, 1, NULL, NULL) < 0))
        rc = -1;
    return rc;
}

static int finish_tx(sdb_tx *tx, void *vctx) {
    finish_ctx *f = vctx;
    const sws_verify_task *t = f->t;
    static const char *const read_sql = CHUNK_ROW_SQL;
    static const char *const ok_sql =
        "UPDATE swarm_chunks SET state = 'done', verified = 1, claim_ms = NULL WHERE job = $1 AND idx = $2";
    static const char *const replace_sql =
        "UPDATE swarm_chunks SET state = 'done', verified = 2, result = $3, worker = 'server', client = NULL,"
        " seq = NULL, claim_ms = NULL WHERE job = $1 AND idx = $2";
    static const char *const trust_sql = "UPDATE swarm_clients SET checks_passed = checks_passed + 1 WHERE id = $1";
    static const char *const refuse_sql =
        "UPDATE swarm_clients SET refused = 1, rejected_items = rejected_items + $2 WHERE id = $1";
    f->nd = 0;
    f->rejected = 0;
    chunk_row v = {0};
    sdb_val p[] = {sdb_text(t->job.id), sdb_int(t->idx)};
    if (sdb_exec(tx, read_sql, p, 2, row_chunk, &v) < 0) return SDB_ERR;
    if (!v.found || strcmp(v.state, "verifying") || strcmp(v.client, t->client) || v.seq != t->seq)
        return 0; /* discarded or redone meanwhile */
    job_delta *d = delta_for(f, t->job.id);
    if (!d) return SDB_ERR;
    d->items += v.n;
    d->chunks += 1;
    if (f->ok) {
        if (sdb_exec(tx, ok_sql, p, 2, NULL, NULL) < 0) return SDB_ERR;
    } else {
        sdb_val pr[] = {sdb_text(t->job.id), sdb_int(t->idx), sdb_blob(f->native, f->len)};
        if (sdb_exec(tx, replace_sql, pr, 3, NULL, NULL) < 0) return SDB_ERR;
        d->rejected += v.n;
        f->rejected += v.n;
        if (refuse_client(tx, f, t->client, t->seq)) return SDB_ERR;
    }
    /* job rows after every chunk row, in id order */
    for (int i = 1; i < f->nd; i++)
        for (int k = i; k > 0 && strcmp(f->d[k - 1].id, f->d[k].id) > 0; k--) {
            job_delta tmp = f->d[k];
            f->d[k] = f->d[k - 1];
            f->d[k - 1] = tmp;
        }
    for (int i = 0; i < f->nd; i++)
        if (job_count(tx, f->d[i].id, f->d[i].items, f->d[i].chunks, f->d[i].rejected, f->now_ms, NULL))
            return SDB_ERR;
    sdb_val pc[] = {sdb_text(t->client), sdb_int(f->rejected)};
    if (sdb_exec(tx, f->ok ? trust_sql : refuse_sql, pc, f->ok ? 1 : 2, NULL, NULL) < 0) return SDB_ERR;
    return 0;
}

int sws_verify_finish(swarm_store *s, const sws_verify_task *t, int ok, const void *native, size_t len, int64_t now_ms,
                      int64_t *rejected_out, char *err, size_t errlen) {
    finish_ctx f = {t, ok, native, len, now_ms, 0, NULL, 0, 0, 0};
    int rc = sdb_transact(s->db, finish_tx, &f, err, errlen);
    free(f.d);
    if (rejected_out) *rejected_out = rc ? 0 : f.rejected;
    return rc;
}
