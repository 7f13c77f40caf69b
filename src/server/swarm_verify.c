/* swarm_verify.c - the swarm's native checks: a thread that claims chunks waiting in state "verifying" (the verify
 * share, and one chunk of each submission of a client not yet trusted), recomputes them with the server's own engine
 * and compares. A client's result matches when every output value is within SWARM_ATOL + SWARM_RTOL * |native| and
 * its top-1 is the native top-1, unless the two classes' native scores are themselves within that tolerance (a tie
 * that rounding may break either way). A mismatch stores the native result for the chunk and refuses the client
 * (swarm_store.c discards what it submitted since its last verified chunk). Claims carry a deadline, so a server
 * killed in the middle of a check leaves it to the next claimant. */
#include "swarm.h"
#include "swarm_run.h"
#include "swarm_store.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VERIFY_HOLD_MS 30000 /* a claimed check is someone else's after this */
#define VERIFY_POLL_MS 250   /* other servers' submissions are seen this often */

static struct {
    srv_repo *repo;
    swarm_store *store;
    int threads;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, wake, running;
    tdm_session **sessions; /* one per model of the repository, made on first use */
    atomic_llong passed, failed, rejected;
} V;

static int values_match(float v, float r) {
    if (isnan(r)) return isnan(v);
    return fabs((double)v - (double)r) <= SWARM_ATOL + SWARM_RTOL * fabs((double)r);
}

/* Compare a client's result with the native one; 1 if they agree. */
static int verify_compare(const swarm_desc *d, int64_t n, const float *client, const float *native) {
    for (int64_t i = 0; i < n * d->out_item; i++)
        if (!values_match(client[i], native[i])) return 0;
    for (int64_t i = 0; i < n; i++) {
        const float *c = client + i * d->out_numel[0], *r = native + i * d->out_numel[0];
        int64_t tc = swarm_top1(c, d->out_numel[0], NULL), tr = swarm_top1(r, d->out_numel[0], NULL);
        if (tc != tr && !values_match(r[tc], r[tr])) return 0;
    }
    return 1;
}

/* Check one claimed chunk. */
static void verify_one(sws_verify_task *t) {
    char err[512];
    int64_t now = swarm_now_ms();
    srv_model *m = srv_repo_find(V.repo, t->job.model, strlen(t->job.model));
    if (!m) {
        snprintf(err, sizeof err, "model '%s' is not in the repository of the server checking it", t->job.model);
        goto fail_job;
    }
    swarm_desc d;
    if (swarm_desc_parse_text(t->job.format, t->job.item_shape, t->job.outputs, t->job.prep, t->job.batch_any, &d, err,
                              sizeof err))
        goto fail_job;
    if (t->input_len != (size_t)(t->n * d.item_bytes) || t->result_len != (size_t)(t->n * d.out_item) * 4) {
        snprintf(err, sizeof err, "chunk %lld: stored sizes do not match the job", (long long)t->idx);
        goto fail_job;
    }
    tdm_session **s = &V.sessions[m->index];
    if (!*s) {
        tdm_session_options o = {V.threads, 0};
        if (tdm_session_create(m->model, &o, s) != TDM_OK) {
            snprintf(err, sizeof err, "cannot create a session: %s", tdm_last_error());
            goto fail_job;
        }
    }
    float *native = malloc((size_t)(t->n * d.out_item) * sizeof(float));
    if (!native) {
        fprintf(stderr, "tandem serve: swarm: out of memory checking chunk %lld of job %s\n", (long long)t->idx,
                t->job.id);
        return; /* the claim runs out and the check is tried again */
    }
    if (swarm_run_chunk(*s, &d, t->input, t->n, native, err, sizeof err)) {
        free(native);
        goto fail_job;
    }
    int ok = verify_compare(&d, t->n, (const float *)t->result, native);
    int64_t rejected = 0;
    if (sws_verify_finish(V.store, t, ok, native, (size_t)(t->n * d.out_item) * sizeof(float), swarm_now_ms(),
                          &rejected, err, sizeof err)) {
        fprintf(stderr, "tandem serve: swarm: recording a check: %s\n", err);
    } else if (ok) {
        atomic_fetch_add(&V.passed, 1);
    } else {
        atomic_fetch_add(&V.failed, 1);
        atomic_fetch_add(&V.rejected, rejected);
        fprintf(stderr, "tandem serve: swarm: chunk %lld of job %s failed its check: client %s refused, %lld item "
                "results discarded and redone\n", (long long)t->idx, t->job.id, t->client, (long long)rejected);
    }
    free(native);
    return;
fail_job:
    fprintf(stderr, "tandem serve: swarm: job %s cannot be checked: %s\n", t->job.id, err);
    char e2[512];
    if (sws_job_fail(V.store, t->job.id, err, now, e2, sizeof e2))
        fprintf(stderr, "tandem serve: swarm: failing job %s: %s\n", t->job.id, e2);
}

static void *verify_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&V.mu);
        int stop = V.stop;
        V.wake = 0;
        pthread_mutex_unlock(&V.mu);
        if (stop) break;
        sws_verify_task t;
        char err[512];
        int rc = sws_verify_claim(V.store, swarm_now_ms(), VERIFY_HOLD_MS, &t, err, sizeof err);
        if (rc == 0) {
            verify_one(&t);
            sws_verify_task_free(&t);
            continue;
        }
        if (rc != SWS_NO_WORK) fprintf(stderr, "tandem serve: swarm: claiming a check: %s\n", err);
        sws_verify_task_free(&t);
        pthread_mutex_lock(&V.mu);
        if (!V.stop && !V.wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += VERIFY_POLL_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&V.cv, &V.mu, &ts);
        }
        pthread_mutex_unlock(&V.mu);
    }
    return NULL;
}

int swarm_verify_start(srv_repo *repo, swarm_store *store, int threads, char *err, size_t errlen) {
    V.repo = repo;
    V.store = store;
    V.threads = threads > 0 ? threads : 1;
    V.stop = V.wake = 0;
    atomic_store(&V.passed, 0);
    atomic_store(&V.failed, 0);
    atomic_store(&V.rejected, 0);
    V.sessions = calloc((size_t)(repo->count > 0 ? repo->count : 1), sizeof *V.sessions);
    if (!V.sessions) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&V.mu, NULL);
    pthread_cond_init(&V.cv, NULL);
    if (pthread_create(&V.thread, NULL, verify_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the swarm's checker thread");
        free(V.sessions);
        V.sessions = NULL;
        return -1;
    }
    V.running = 1;
    return 0;
}

void swarm_verify_wake(void) {
    if (!V.running) return;
    pthread_mutex_lock(&V.mu);
    V.wake = 1;
    pthread_cond_signal(&V.cv);
    pthread_mutex_unlock(&V.mu);
}

void swarm_verify_stop(void) {
    if (!V.running) return;
    pthread_mutex_lock(&V.mu);
    V.stop = 1;
    pthread_cond_signal(&V.cv);
    pthread_mutex_unlock(&V.mu);
    pthread_join(V.thread, NULL);
    for (int i = 0; i < V.repo->count; i++) tdm_session_free(V.sessions[i]);
    free(V.sessions);
    V.sessions = NULL;
    pthread_cond_destroy(&V.cv);
    pthread_mutex_destroy(&V.mu);
    V.running = 0;
}

void swarm_verify_counts(int64_t *passed, int64_t *failed, int64_t *rejected) {
    *passed = atomic_load(&V.passed);
    *failed = atomic_load(&V.failed);
    *rejected = atomic_load(&V.rejected);
}
