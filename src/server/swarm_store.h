/* swarm_store.h - the durable state of the swarm (Kanev's proposal: inference spread over client devices): jobs cut
 * into chunks, the clients that contribute, the leases they hold and the results they return, in SQLite or
 * PostgreSQL (swarm_db.h). Every call is one transaction, so a SIGKILL at any moment leaves a consistent state that
 * a restarted server resumes from, and several servers on one PostgreSQL database share one job (chunks are claimed
 * with FOR UPDATE SKIP LOCKED). Times are Unix milliseconds passed in by the caller, so tests can drive the clock.
 *
 * The rules this file keeps (docs/SWARM.md explains them):
 *   - a chunk's result is stored once: the first accepted submission wins, later ones are "late" and dropped;
 *   - a client may submit only for chunks it holds (an outstanding lease of its own);
 *   - a lease whose deadline passes is reissued to the next client that asks; near a job's end, chunks held by a
 *     client expected to finish later than the asking one are copied to it speculatively;
 *   - a share of accepted chunks waits in state "verifying" until the server recomputes it natively
 *     (swarm_verify.c); a mismatch replaces that chunk's result, discards every unverified result that client
 *     submitted since its last verified chunk (their chunks are redone), and refuses the client.
 * Pointers in the structs below belong to the caller unless a comment says "malloc'd". */
#ifndef TANDEM_SERVER_SWARM_STORE_H
#define TANDEM_SERVER_SWARM_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct swarm_store swarm_store;

#define SWS_JOB_ID 20    /* hex digits of a job id */
#define SWS_CLIENT_ID 33 /* 'c' + 32 hex digits */
#define SWS_LEASE_ID 24  /* hex digits of a lease id */

/* Results besides 0 and SDB_ERR (swarm_db.h). */
enum {
    SWS_NOT_FOUND = 1,      /* no such job */
    SWS_NO_WORK = 2,        /* sws_lease: nothing to hand out now */
    SWS_UNKNOWN_CLIENT = 3, /* the client id was never issued by a join */
    SWS_REFUSED = 4,        /* the client failed a check and gets no more work */
    SWS_NOT_HELD = 5,       /* a submission for a chunk the client does not hold */
    SWS_BAD = 6,            /* a submission whose sizes do not match its chunks */
};

/* Trust: until a client has passed this many checks, one chunk of each of its submissions is checked, whatever the
 * job's verify share (BOINC's adaptive replication: new hosts are checked more). */
#define SWS_TRUST_CHECKS 3
/* A chunk leased this many times without a result fails its job. */
#define SWS_MAX_ISSUES 25
/* A chunk for which workers reported this many errors fails its job. */
#define SWS_MAX_ERRORS 3

int sws_open(const char *url, swarm_store **out, char *err, size_t errlen);
void sws_close(swarm_store *s);
const char *sws_kind(const swarm_store *s); /* "sqlite" or "postgresql" */
/* A single server on SQLite owns every verification claim: release those a killed predecessor held. */
int sws_release_claims(swarm_store *s, char *err, size_t errlen);

/* ---- jobs ------------------------------------------------------------------------------------------------------ */

typedef struct sws_job_spec {
    char id[SWS_JOB_ID + 1];
    const char *model, *format;   /* format: "cifar" or "tensor" */
    const char *item_shape;       /* JSON array: one item's dims, e.g. [3,32,32] */
    const char *outputs;          /* JSON array: [{"name":..,"dims":[..],"numel":N}] per item */
    const char *prep;             /* JSON object: {"mean":[..],"std":[..]} (cifar) or {} */
    int batch_any;                /* 1: items stack along dim 0; 0: workers run them one at a time */
    int64_t items, chunk_items;
    int64_t item_bytes;           /* input bytes per item as stored (3073 for cifar records) */
    int64_t out_bytes;            /* bytes of every output of one item (float32) */
    double verify;                /* share of chunks recomputed natively, 0..1 */
    int speculate;                /* 1: reissue the tail speculatively */
    int64_t now_ms;
    const unsigned char *data;    /* items * item_bytes */
} sws_job_spec;

/* Store a job and its chunks in one transaction. Returns 0 with *chunks_out, or SDB_ERR. */
int sws_job_create(swarm_store *s, const sws_job_spec *spec, int64_t *chunks_out, char *err, size_t errlen);

typedef struct sws_job_info {
    char id[SWS_JOB_ID + 1];
    char model[256], format[16], state[16];
    char *item_shape, *outputs, *prep, *error; /* malloc'd (error may be NULL) */
    int batch_any, speculate;
    int64_t items, chunk_items, chunks, item_bytes, out_bytes;
    int64_t done_items, done_chunks, reissued, rejected_results, clients;
    int64_t created_ms, started_ms, finished_ms; /* 0 when not yet */
    double verify;
} sws_job_info;

void sws_job_info_free(sws_job_info *j);
/* Read one job (with clients counted). 0, SWS_NOT_FOUND or SDB_ERR. */
int sws_job_get(swarm_store *s, const char *id, sws_job_info *out, char *err, size_t errlen);
/* Every job, oldest first; fn gets each (valid during the call). 0 or SDB_ERR. */
int sws_job_list(swarm_store *s, int (*fn)(void *ctx, const sws_job_info *j), void *ctx, char *err, size_t errlen);
/* The stored results of a job, chunk by chunk in item order: fn(ctx, first_item, n, result, len, worker). 0,
 * SWS_NOT_FOUND or SDB_ERR. */
typedef int (*sws_result_fn)(void *ctx, int64_t first, int64_t n, const void *result, size_t len, const char *worker);
int sws_job_results(swarm_store *s, const char *id, sws_result_fn fn, void *ctx, char *err, size_t errlen);

/* ---- clients --------------------------------------------------------------------------------------------------- */

/* Register a client under a fresh id (the caller makes it), with a label shown in the results' worker column. */
int sws_client_join(swarm_store *s, const char *id, const char *label, const char *kind, int64_t now_ms, char *err,
                    size_t errlen);

typedef struct sws_client_info {
    const char *id, *label, *kind;
    int refused;
    double items_per_s;
    int64_t leases, accepted_chunks, late_chunks, outstanding, checks_passed, rejected_items;
} sws_client_info;
int sws_client_list(swarm_store *s, int64_t now_ms, int (*fn)(void *ctx, const sws_client_info *c), void *ctx,
                    char *err, size_t errlen);

/* ---- leases ---------------------------------------------------------------------------------------------------- */

typedef struct sws_lease_req {
    const char *client;
    int64_t now_ms;
    double target_s;         /* work per lease, in seconds of the client's measured speed */
    int64_t min_timeout_ms;  /* a lease's deadline is at least this far away */
    int64_t max_items;       /* at most this many items per lease */
    size_t max_bytes;        /* and at most this many input bytes */
} sws_lease_req;

/* How a chunk came into a lease. */
enum { SWS_FIRST = 1, SWS_REISSUE = 2, SWS_SPECULATIVE = 3 };

typedef struct sws_lease_chunk {
    int64_t idx, first, n;
    unsigned char *input;    /* malloc'd */
    size_t len;
    int kind;                /* SWS_FIRST, SWS_REISSUE (its lease expired, or its result was discarded) or
                                SWS_SPECULATIVE (a copy of a chunk another client holds) */
} sws_lease_chunk;

typedef struct sws_lease {
    char id[SWS_LEASE_ID + 1];
    sws_job_info job;
    int nchunks;
    sws_lease_chunk *chunks; /* malloc'd */
    int64_t deadline_ms;
    int64_t active_jobs;     /* with SWS_NO_WORK: jobs not yet finished (0: the client may stop) */
} sws_lease;

/* Lease work to a client. 0 (lease filled), SWS_NO_WORK (active_jobs set), SWS_UNKNOWN_CLIENT, SWS_REFUSED or
 * SDB_ERR. Free the lease with sws_lease_free in every case. */
int sws_take_lease(swarm_store *s, const sws_lease_req *req, sws_lease *out, char *err, size_t errlen);
void sws_lease_free(sws_lease *l);

/* ---- submissions ----------------------------------------------------------------------------------------------- */

enum { SWS_ACCEPTED = 1, SWS_LATE = 2, SWS_ERROR_NOTED = 3 };

typedef struct sws_submit_chunk {
    int64_t idx, n;
    const void *result;      /* n * job.out_bytes bytes, or NULL with error set */
    size_t len;
    const char *error;       /* the worker could not run it */
    int outcome;             /* out: SWS_ACCEPTED, SWS_LATE or SWS_ERROR_NOTED */
    int verifying;           /* out: 1 when the chunk waits for a native check */
} sws_submit_chunk;

typedef struct sws_submit {
    const char *client, *lease;
    int64_t now_ms;
    double compute_ms;        /* the client's own time for the lease (0: not said); sizes its next leases */
    int nchunks;
    sws_submit_chunk *chunks;
    char job[SWS_JOB_ID + 1]; /* out: the lease's job */
    int job_done;             /* out: this submission finished the job */
} sws_submit;

/* Store a submission: all of it or, on any refusal, none of it (err says which chunk and why). 0, SWS_NOT_HELD,
 * SWS_BAD, SWS_UNKNOWN_CLIENT, SWS_REFUSED or SDB_ERR. */
int sws_store_submit(swarm_store *s, sws_submit *sub, char *err, size_t errlen);

/* ---- verification (swarm_verify.c drives these) ------------------------------------------------------------ */

typedef struct sws_verify_task {
    sws_job_info job;
    int64_t idx, first, n, seq;
    char client[SWS_CLIENT_ID + 1];
    unsigned char *input, *result; /* malloc'd */
    size_t input_len, result_len;
} sws_verify_task;

/* Claim one chunk waiting for its check until now + hold_ms. 0 (task filled), SWS_NO_WORK or SDB_ERR. */
int sws_verify_claim(swarm_store *s, int64_t now_ms, int64_t hold_ms, sws_verify_task *t, char *err, size_t errlen);
void sws_verify_task_free(sws_verify_task *t);
/* Record a check. ok: the chunk is done, its client trusted a little more. !ok: native (n * out_bytes) replaces the
 * result and the client is refused, its unverified results since its last verified chunk discarded. *rejected_out
 * (may be NULL) gets the items discarded. 0 or SDB_ERR (a chunk that changed meanwhile is left alone: 0). */
int sws_verify_finish(swarm_store *s, const sws_verify_task *t, int ok, const void *native, size_t len, int64_t now_ms,
                      int64_t *rejected_out, char *err, size_t errlen);
/* Fail a job (a check that cannot run: the model is missing or fails on the chunk). */
int sws_job_fail(swarm_store *s, const char *id, const char *why, int64_t now_ms, char *err, size_t errlen);

/* Random hex digits from the kernel (ids and lease tokens): n digits into out (n + 1 bytes). */
void sws_random_hex(char *out, int n);
/* A uniform double in [0, 1) from the kernel. */
double sws_random_unit(void);

#endif /* TANDEM_SERVER_SWARM_STORE_H */
