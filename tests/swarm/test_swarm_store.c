/* test_swarm_store.c - the swarm store's rules (src/server/swarm_store.h) on a real database, with the clock driven
 * by the test: leases and their sizes, a submission only for held chunks (all or nothing), first result wins,
 * reissue after a deadline, speculative copies of the tail, a job done exactly when every chunk is, the native check
 * that passes (trust) and the one that fails (refusal, discard since the last verified chunk, redo), and a job that
 * fails when a chunk is leased too often or fails on three workers. No engine: results are bytes the test makes.
 *   build/test_swarm_store sqlite:/tmp/x.db        build/test_swarm_store postgresql://...
 * Prints `N passed, M failed`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm_db.h"
#include "swarm_store.h"

static int passed, failed;

static void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) passed++;
    else failed++;
}

static swarm_store *S;
static char err[512];
static int64_t now = 1700000000000;

#define ITEM_BYTES 4
#define OUT_BYTES 8

/* A job of `items` items in chunks of `chunk`; returns its id in id. */
static void make_job(char *id, int64_t items, int64_t chunk, double verify, int speculate) {
    unsigned char *data = malloc((size_t)(items * ITEM_BYTES));
    for (int64_t i = 0; i < items * ITEM_BYTES; i++) data[i] = (unsigned char)i;
    sws_job_spec j = {{0}, "m", "tensor", "[1]", "[{\"name\":\"y\",\"dims\":[2],\"numel\":2}]", "{}", 1, items, chunk,
                      ITEM_BYTES, OUT_BYTES, verify, speculate, now, data};
    sws_random_hex(j.id, SWS_JOB_ID);
    int64_t chunks = 0;
    int rc = sws_job_create(S, &j, &chunks, err, sizeof err);
    check(rc == 0 && chunks == (items + chunk - 1) / chunk, "job %s: %lld items in %lld chunks (%s)", j.id,
          (long long)items, (long long)chunks, rc ? err : "stored");
    strcpy(id, j.id);
    free(data);
}

static void join(char *id) {
    id[0] = 'c';
    sws_random_hex(id + 1, SWS_CLIENT_ID - 1);
    int rc = sws_client_join(S, id, "test", "native", now, err, sizeof err);
    check(rc == 0, "client %.9s joins (%s)", id, rc ? err : "ok");
}

static int lease(const char *client, sws_lease *l) {
    sws_lease_req q = {client, now, 2.0, 1000, 100000, 1 << 20};
    return sws_take_lease(S, &q, l, err, sizeof err);
}

/* Submit every chunk of a lease with results `fill` (or only the first `only` chunks when only > 0). */
static int submit(const char *client, const sws_lease *l, int only, unsigned char fill, sws_submit *out) {
    int n = only > 0 && only < l->nchunks ? only : l->nchunks;
    sws_submit_chunk *c = calloc((size_t)n, sizeof *c);
    unsigned char *res = malloc(100000);
    memset(res, fill, 100000);
    for (int i = 0; i < n; i++) {
        c[i].idx = l->chunks[i].idx;
        c[i].n = l->chunks[i].n;
        c[i].result = res;
        c[i].len = (size_t)(c[i].n * OUT_BYTES);
    }
    sws_submit s = {client, l->id, now, 0, n, c, {0}, 0};
    int rc = sws_store_submit(S, &s, err, sizeof err);
    if (out) {
        *out = s;
        out->chunks = NULL;
    }
    free(res);
    free(c);
    return rc;
}

static void job(const char *id, sws_job_info *j) {
    if (sws_job_get(S, id, j, err, sizeof err)) check(0, "reading job %s: %s", id, err);
}

typedef struct res_count {
    int64_t items, null_chunks;
    char workers[8][64];
} res_count;

static int count_result(void *ctx, int64_t first, int64_t n, const void *r, size_t len, const char *worker) {
    res_count *c = ctx;
    (void)first;
    (void)len;
    if (r) c->items += n;
    else c->null_chunks++;
    (void)worker;
    return 0;
}

static void test_leases(void) {
    printf("-- leases, submissions, reissue, speculation\n");
    char jid[SWS_JOB_ID + 1], a[SWS_CLIENT_ID + 1], b[SWS_CLIENT_ID + 1], stranger[SWS_CLIENT_ID + 1];
    make_job(jid, 10, 2, 0, 1);
    join(a);
    join(b);
    strcpy(stranger, "c00000000000000000000000000000000");
    sws_lease l;
    check(lease(stranger, &l) == SWS_UNKNOWN_CLIENT, "a client that never joined gets no lease");
    sws_lease_free(&l);

    int rc = lease(a, &l);
    check(rc == 0 && l.nchunks == 1 && l.chunks[0].idx == 0 && l.chunks[0].kind == SWS_FIRST &&
              l.deadline_ms >= now + 2000,
          "a new client's first lease is one chunk with twice the minimum deadline (%d chunks)", l.nchunks);
    check(l.chunks[0].len == 2 * ITEM_BYTES && l.chunks[0].input[4] == 4, "the lease carries the chunk's items");
    sws_job_info j;
    job(jid, &j);
    check(!strcmp(j.state, "running") && j.clients == 1, "the job runs once leased (%s, %lld clients)", j.state,
          (long long)j.clients);
    sws_job_info_free(&j);

    /* a submission for a chunk B does not hold, and one with a wrong size: refused whole */
    sws_lease fake = l;
    now += 500;
    check(submit(b, &fake, 0, 1, NULL) == SWS_NOT_HELD, "a submission for a chunk the client does not hold: %s", err);
    sws_submit_chunk bad = {l.chunks[0].idx, 2, "12345678", 8, NULL, 0, 0};
    sws_submit sb = {a, l.id, now, 0, 1, &bad, {0}, 0};
    check(sws_store_submit(S, &sb, err, sizeof err) == SWS_BAD, "a result of the wrong size: %s", err);
    job(jid, &j);
    check(j.done_items == 0, "nothing was stored from either");
    sws_job_info_free(&j);

    sws_submit out;
    rc = submit(a, &l, 0, 7, &out);
    job(jid, &j);
    check(rc == 0 && j.done_items == 2 && j.done_chunks == 1, "the holder's submission is stored (%lld items)",
          (long long)j.done_items);
    sws_job_info_free(&j);
    rc = submit(a, &l, 0, 9, &out);
    job(jid, &j);
    check(rc == 0 && j.done_items == 2, "the same submission again changes nothing (rc %d, %lld items)", rc,
          (long long)j.done_items);
    sws_job_info_free(&j);
    sws_lease_free(&l);

    /* A is measured at 2 items per 0.5 s = 4 items/s: its next lease fills 2 s = 8 items = 4 chunks */
    rc = lease(a, &l);
    check(rc == 0 && l.nchunks == 4, "the lease size follows the measured speed: 4 items/s x 2 s = 4 chunks (%d)",
          l.nchunks);
    sws_lease la = l;
    rc = lease(b, &l);
    check(rc == SWS_NO_WORK && l.active_jobs >= 1, "nothing pending: no work for B (rc %d, %lld active)", rc,
          (long long)l.active_jobs);
    sws_lease_free(&l);

    /* A's lease expires: B gets those chunks as reissues */
    now += la.deadline_ms - now + 1;
    rc = lease(b, &l);
    check(rc == 0 && l.nchunks == 1 && l.chunks[0].kind == SWS_REISSUE && l.chunks[0].idx == la.chunks[0].idx,
          "an expired lease's chunk is reissued to the next client (%d chunks, kind %d)", l.nchunks,
          l.nchunks ? l.chunks[0].kind : 0);
    job(jid, &j);
    check(j.reissued == 1, "reissued counts it (%lld)", (long long)j.reissued);
    sws_job_info_free(&j);
    /* the late holder still wins when it comes first; the reissue's result is then late */
    now += 100;
    rc = submit(a, &la, 1, 3, &out);
    check(rc == 0, "the expired holder's result is still taken while the chunk is open");
    rc = submit(b, &l, 0, 4, &out);
    job(jid, &j);
    check(rc == 0 && j.done_chunks == 2, "the reissued copy that comes second is dropped (%lld done chunks)",
          (long long)j.done_chunks);
    sws_job_info_free(&j);
    sws_lease_free(&l);

    /* the rest of A's expired lease goes to B; the job ends done with each item once */
    rc = lease(b, &l);
    check(rc == 0 && l.nchunks == 3, "B takes the other expired chunks (%d)", l.nchunks);
    now += 100;
    rc = submit(b, &l, 0, 8, &out);
    job(jid, &j);
    check(rc == 0 && out.job_done && !strcmp(j.state, "done") && j.done_items == 10 && j.done_chunks == 5,
          "the job is done when every chunk is (%s, %lld items, %lld chunks)", j.state, (long long)j.done_items,
          (long long)j.done_chunks);
    sws_job_info_free(&j);
    res_count rcnt = {0};
    sws_job_results(S, jid, count_result, &rcnt, err, sizeof err);
    check(rcnt.items == 10 && rcnt.null_chunks == 0, "the results hold every item once (%lld)", (long long)rcnt.items);
    check(submit(a, &la, 0, 1, &out) == 0 && out.job_done == 0, "a late result for a finished job changes nothing");
    sws_lease_free(&l);
    sws_lease_free(&la);

    printf("-- the tail: speculative copies\n");
    char fast[SWS_CLIENT_ID + 1], slow[SWS_CLIENT_ID + 1];
    make_job(jid, 4, 2, 0, 1);
    join(fast);
    join(slow);
    lease(fast, &l);
    now += 100; /* measured: 2 items in 0.1 s */
    submit(fast, &l, 0, 1, &out);
    sws_lease_free(&l);
    sws_lease ls;
    lease(slow, &ls); /* never measured: expected to take until its deadline */
    rc = lease(fast, &l);
    check(rc == 0 && l.nchunks == 1 && l.chunks[0].kind == SWS_SPECULATIVE && l.chunks[0].idx == ls.chunks[0].idx,
          "with nothing pending, the fast client gets a copy of the slow one's chunk (kind %d)",
          l.nchunks ? l.chunks[0].kind : 0);
    sws_lease l2;
    check(lease(fast, &l2) == SWS_NO_WORK, "one speculative copy per chunk");
    sws_lease_free(&l2);
    now += 100;
    rc = submit(fast, &l, 0, 2, &out);
    check(rc == 0 && out.job_done, "the copy that comes first wins and finishes the job");
    rc = submit(slow, &ls, 0, 3, &out);
    job(jid, &j);
    check(rc == 0 && !strcmp(j.state, "done") && j.done_items == 4 && j.reissued == 1,
          "the original's result is late and dropped (%lld items, %lld reissued)", (long long)j.done_items,
          (long long)j.reissued);
    sws_job_info_free(&j);
    sws_lease_free(&l);
    sws_lease_free(&ls);
}

static void test_checks(void) {
    printf("-- native checks: trust, mismatch, discard since the last verified chunk\n");
    char jid[SWS_JOB_ID + 1], c[SWS_CLIENT_ID + 1], h[SWS_CLIENT_ID + 1];
    make_job(jid, 40, 2, 1e-9, 0); /* a tiny share: only the trust rule picks chunks */
    join(c);
    join(h);
    sws_lease l;
    lease(c, &l);
    now += 100; /* C: 2 items in 0.1 s = 20 items/s: next lease 40 items, limited to what is left */
    sws_submit out;
    submit(c, &l, 0, 1, &out);
    sws_lease_free(&l);
    sws_verify_task t;
    int rc = sws_verify_claim(S, now, 30000, &t, err, sizeof err);
    check(rc == 0 && t.n == 2, "a new client's first submission waits for a check (rc %d)", rc);
    sws_verify_task t2;
    check(sws_verify_claim(S, now, 30000, &t2, err, sizeof err) == SWS_NO_WORK, "a claimed check is not claimed twice");
    sws_verify_task_free(&t2);
    sws_verify_finish(S, &t, 1, NULL, 0, now, NULL, err, sizeof err);
    sws_verify_task_free(&t);

    rc = lease(c, &l);
    check(rc == 0 && l.nchunks >= 6, "C's next lease: %d chunks", l.nchunks);
    now += 100;
    int first_n = l.nchunks / 2;
    submit(c, &l, first_n, 1, &out); /* half now: one of them is checked */
    rc = sws_verify_claim(S, now, 30000, &t, err, sizeof err);
    int64_t verified_idx = t.idx;
    check(rc == 0, "one chunk of the submission is checked (chunk %lld)", (long long)verified_idx);
    sws_verify_finish(S, &t, 1, NULL, 0, now, NULL, err, sizeof err);
    sws_verify_task_free(&t);
    /* the rest of the lease: C now cheats; its chunk fails the check */
    sws_lease rest = l;
    rest.chunks = l.chunks + first_n;
    rest.nchunks = l.nchunks - first_n;
    submit(c, &rest, 0, 2, &out);
    sws_job_info j;
    job(jid, &j);
    int64_t done_before = j.done_items;
    sws_job_info_free(&j);
    rc = sws_verify_claim(S, now, 30000, &t, err, sizeof err);
    check(rc == 0 && t.idx >= rest.chunks[0].idx, "a chunk of the later submission is checked (chunk %lld)",
          (long long)t.idx);
    unsigned char native[16];
    memset(native, 0xAA, sizeof native);
    int64_t rejected = 0;
    rc = sws_verify_finish(S, &t, 0, native, (size_t)(t.n * OUT_BYTES), now, &rejected, err, sizeof err);
    /* kept: the first lease's chunk and the first half up to the verified chunk; discarded: the rest */
    int64_t kept = 2, discarded = 0;
    for (int i = 0; i < l.nchunks; i++) {
        if (l.chunks[i].idx == t.idx) continue;
        if (i < first_n && l.chunks[i].idx <= verified_idx) kept += l.chunks[i].n;
        else discarded += l.chunks[i].n;
    }
    job(jid, &j);
    check(rc == 0 && rejected == discarded + t.n && j.rejected_results == rejected,
          "the failed check discards the chunk and every unverified result since C's last verified one (%lld "
          "discarded, %lld expected)", (long long)rejected, (long long)(discarded + t.n));
    check(j.done_items == kept + t.n, "what C did before its last verified chunk is kept, the failed chunk holds "
          "the server's result (%lld done, %lld expected; %lld before)", (long long)j.done_items,
          (long long)(kept + t.n), (long long)done_before);
    sws_job_info_free(&j);
    sws_verify_task_free(&t);
    sws_lease l2;
    check(lease(c, &l2) == SWS_REFUSED, "C is refused further leases");
    sws_lease_free(&l2);
    check(submit(c, &l, 0, 1, NULL) == SWS_REFUSED, "and its submissions");
    /* an honest client redoes the discarded chunks */
    int rounds = 0;
    while (lease(h, &l2) == 0 && rounds++ < 50) {
        now += 50;
        submit(h, &l2, 0, 3, &out);
        sws_lease_free(&l2);
        while (sws_verify_claim(S, now, 30000, &t, err, sizeof err) == 0) {
            sws_verify_finish(S, &t, 1, NULL, 0, now, NULL, err, sizeof err);
            sws_verify_task_free(&t);
        }
    }
    sws_lease_free(&l2);
    job(jid, &j);
    res_count rcnt = {0};
    sws_job_results(S, jid, count_result, &rcnt, err, sizeof err);
    check(!strcmp(j.state, "done") && j.done_items == 40 && rcnt.items == 40,
          "the redone job ends done with every item once (%s, %lld items)", j.state, (long long)rcnt.items);
    sws_job_info_free(&j);
    sws_lease_free(&l);
}

static void test_failure(void) {
    printf("-- a chunk leased too often fails its job\n");
    char jid[SWS_JOB_ID + 1], a[SWS_CLIENT_ID + 1];
    make_job(jid, 1, 1, 0, 0);
    join(a);
    sws_lease l;
    for (int i = 0; i < SWS_MAX_ISSUES; i++) {
        lease(a, &l);
        now += l.deadline_ms - now + 1;
        sws_lease_free(&l);
    }
    int rc = lease(a, &l);
    sws_lease_free(&l);
    sws_job_info j;
    job(jid, &j);
    check(rc == SWS_NO_WORK && !strcmp(j.state, "failed") && j.error && strstr(j.error, "leased"),
          "after %d leases without a result the job fails (%s: %s)", SWS_MAX_ISSUES, j.state, j.error ? j.error : "");
    sws_job_info_free(&j);
}

/* Report every chunk of a lease as failed. */
static int report_errors(const char *client, const sws_lease *l) {
    sws_submit_chunk c[64];
    memset(c, 0, sizeof c);
    for (int i = 0; i < l->nchunks && i < 64; i++) {
        c[i].idx = l->chunks[i].idx;
        c[i].error = "the model failed: test";
    }
    sws_submit s = {client, l->id, now, 0, l->nchunks < 64 ? l->nchunks : 64, c, {0}, 0};
    return sws_store_submit(S, &s, err, sizeof err);
}

static void test_errors(void) {
    printf("-- workers that cannot run a chunk\n");
    char jid[SWS_JOB_ID + 1], w[3][SWS_CLIENT_ID + 1];
    make_job(jid, 4, 2, 0, 0);
    for (int k = 0; k < 3; k++) join(w[k]);
    sws_lease l;
    lease(w[0], &l);
    int rc = report_errors(w[0], &l);
    sws_job_info j;
    job(jid, &j);
    check(rc == 0 && !strcmp(j.state, "running"), "an error report puts the chunk back (job %s)", j.state);
    sws_job_info_free(&j);
    check(report_errors(w[0], &l) == 0, "the same report again is answered and changes nothing");
    sws_lease_free(&l);
    for (int k = 1; k < 3; k++) {
        lease(w[k], &l);
        check(l.nchunks >= 1 && l.chunks[0].idx == 0 && l.chunks[0].kind == SWS_REISSUE,
              "the failed chunk goes to the next worker as a reissue");
        report_errors(w[k], &l);
        sws_lease_free(&l);
    }
    job(jid, &j);
    check(!strcmp(j.state, "failed") && j.error && strstr(j.error, "failed on 3 workers"),
          "after %d workers fail on a chunk its job fails (%s: %s)", SWS_MAX_ERRORS, j.state, j.error ? j.error : "");
    sws_job_info_free(&j);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_swarm_store sqlite:PATH | postgresql://...\n");
        return 2;
    }
    if (sws_open(argv[1], &S, err, sizeof err)) {
        printf("FAIL opening %s: %s\n0 passed, 1 failed\n", argv[1], err);
        return 1;
    }
    printf("store: %s\n", sws_kind(S));
    test_leases();
    test_checks();
    test_failure();
    test_errors();
    sws_close(S);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
