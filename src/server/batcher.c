/* batcher.c - dynamic batching for `tandem serve`: one FIFO queue per model and a fixed pool of inference workers.
 * A free worker takes the model whose oldest request has waited longest, stacks compatible queued requests along
 * the batch dimension up to max_batch (waiting at most max_delay_us after the oldest one arrived for the batch to
 * fill), runs one session, splits the outputs back per request and writes each response. Each worker keeps its own
 * sessions per model and batch size, so a steady load never re-plans. workers x engine threads <= cores. */
#include "server.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/json.h"

/* Sessions of one worker for one model: slot b (1..max_batch) runs batch b; slot 0 takes anything else. */
typedef struct bat_slot {
    tdm_session *s;
    int rank[SRV_MAX_IO];
    int64_t dims[SRV_MAX_IO][TDM_MAX_RANK];
} bat_slot;

typedef struct bat_worker {
    pthread_t thread;
    int index;
    bat_slot **slots; /* [model][max_batch + 1] */
} bat_worker;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    srv_repo *repo;
    bat_worker *workers;
    int nworkers, threads, max_queue;
    int stopping;
    int64_t queued;
} bat;

double srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void srv_job_clear(srv_job *job) {
    proto_request_free(&job->req);
    free(job->body);
    job->body = NULL;
}

static void bat_fail(srv_job *j, int status, const char *msg) {
    free(j->body);
    j->status = status;
    j->json_len = 0;
    j->body = proto_error_json(msg, &j->body_len);
    if (!j->body) j->body_len = 0;
}

/* Two jobs can share a batch when every input has the same dims after the leading one. */
static int bat_compatible(const srv_job *a, const srv_job *b) {
    for (int i = 0; i < a->req.ninputs; i++) {
        const proto_tensor *x = &a->req.in[i], *y = &b->req.in[i];
        if (x->rank != y->rank) return 0;
        for (int d = 1; d < x->rank; d++)
            if (x->dims[d] != y->dims[d]) return 0;
    }
    return 1;
}

int srv_batcher_submit(srv_job *job) {
    srv_model *m = job->model;
    job->batch = m->batchable ? job->req.in[0].dims[0] : 1;
    job->next = NULL;
    pthread_mutex_lock(&bat.lock);
    if (bat.stopping || m->queued >= bat.max_queue) {
        int rc = bat.stopping ? -1 : -2;
        pthread_mutex_unlock(&bat.lock);
        return rc;
    }
    job->t_enqueue = srv_now();
    if (m->tail) m->tail->next = job;
    else m->head = job;
    m->tail = job;
    m->queued++;
    bat.queued++;
    pthread_cond_broadcast(&bat.cond);
    pthread_mutex_unlock(&bat.lock);
    return 0;
}

/* The model whose head request is oldest, or NULL. Called with the lock held. */
static srv_model *bat_pick_model(void) {
    srv_model *best = NULL;
    for (int i = 0; i < bat.repo->count; i++) {
        srv_model *m = &bat.repo->models[i];
        if (m->head && (!best || m->head->t_enqueue < best->head->t_enqueue)) best = m;
    }
    return best;
}

/* The batch the head job would run in right now: itself plus the compatible jobs that fit (lock held). */
static int64_t bat_fill(const srv_model *m) {
    int64_t total = m->head->batch;
    for (const srv_job *j = m->head->next; j; j = j->next)
        if (bat_compatible(m->head, j) && total + j->batch <= m->max_batch) total += j->batch;
    return total;
}

/* Take the head job and the compatible queued jobs that fit next to it (lock held). */
static int bat_take(srv_model *m, srv_job **out, int max) {
    int n = 0;
    int64_t total = 0;
    srv_job *head = m->head, *prev = NULL, *j = m->head;
    while (j && n < max) {
        srv_job *next = j->next;
        int take = j == head || (bat_compatible(head, j) && total + j->batch <= m->max_batch);
        if (take) {
            if (prev) prev->next = next;
            else m->head = next;
            if (m->tail == j) m->tail = prev;
            j->next = NULL;
            out[n++] = j;
            total += j->batch;
            m->queued--;
            bat.queued--;
            if (total >= m->max_batch) break;
        } else {
            prev = j;
        }
        j = next;
    }
    return n;
}

/* A session of this worker shaped for the jobs' stacked inputs. */
static tdm_session *bat_session(bat_worker *w, srv_model *m, srv_job **jobs, int64_t total, char *err,
                                size_t errlen) {
    if (!w->slots[m->index]) {
        w->slots[m->index] = calloc((size_t)m->max_batch + 1, sizeof(bat_slot));
        if (!w->slots[m->index]) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    bat_slot *sl = &w->slots[m->index][total <= m->max_batch ? total : 0];
    tdm_status st = TDM_OK;
    if (!sl->s) {
        tdm_session_options o = {bat.threads, 0};
        st = tdm_session_create(m->model, &o, &sl->s);
        if (st != TDM_OK) {
            snprintf(err, errlen, "cannot create a session: %s", tdm_last_error());
            return NULL;
        }
        memset(sl->rank, 0, sizeof sl->rank);
    }
    for (int i = 0; i < m->nin; i++) {
        const proto_tensor *t = &jobs[0]->req.in[i];
        int64_t dims[TDM_MAX_RANK];
        memcpy(dims, t->dims, sizeof dims);
        if (m->batchable) dims[0] = total;
        if (sl->rank[i] == t->rank && memcmp(sl->dims[i], dims, (size_t)t->rank * sizeof dims[0]) == 0) continue;
        st = tdm_session_set_input_shape(sl->s, i, dims, t->rank);
        if (st != TDM_OK) {
            snprintf(err, errlen, "%s", tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
            sl->rank[i] = 0;
            return NULL;
        }
        sl->rank[i] = t->rank;
        memcpy(sl->dims[i], dims, sizeof dims);
    }
    return sl->s;
}

/* Softmax over one row of logits and the top k as JSON. */
static void bat_classify_body(srv_job *j, const float *row, int64_t k_all) {
    srv_model *m = j->model;
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < k_all; i++)
        if (row[i] > mx) mx = row[i];
    double *p = malloc((size_t)k_all * sizeof *p);
    int64_t *idx = malloc((size_t)k_all * sizeof *idx);
    if (!p || !idx) {
        free(p);
        free(idx);
        bat_fail(j, 500, "out of memory");
        return;
    }
    for (int64_t i = 0; i < k_all; i++) {
        p[i] = exp((double)row[i] - mx);
        sum += p[i];
        idx[i] = i;
    }
    int64_t top = j->top_k < k_all ? j->top_k : k_all;
    for (int64_t a = 0; a < top; a++) { /* partial selection sort: top is small */
        int64_t best = a;
        for (int64_t b = a + 1; b < k_all; b++)
            if (p[idx[b]] > p[idx[best]]) best = b;
        int64_t t = idx[a];
        idx[a] = idx[best];
        idx[best] = t;
    }
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) {
        free(p);
        free(idx);
        bat_fail(j, 500, "out of memory");
        return;
    }
    json_writer w;
    json_init(&w, f);
    json_object_begin(&w);
    json_kv_string(&w, "model_name", m->name);
    json_kv_string(&w, "model_version", "1");
    json_key(&w, "predictions");
    json_array_begin(&w);
    for (int64_t a = 0; a < top; a++) {
        json_object_begin(&w);
        json_kv_int(&w, "index", idx[a]);
        if (idx[a] < m->nlabels) json_kv_string(&w, "label", m->labels[idx[a]]);
        json_kv_double(&w, "probability", sum > 0 ? p[idx[a]] / sum : 0, 7);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
    free(p);
    free(idx);
    if (fclose(f) != 0) {
        free(buf);
        bat_fail(j, 500, "out of memory");
        return;
    }
    free(j->body);
    j->body = buf;
    j->body_len = blen;
    j->json_len = 0;
    j->status = 200;
}

/* Run one batch and answer every job in it. */
static void bat_run(bat_worker *w, srv_model *m, srv_job **jobs, int n) {
    char err[512];
    double t0 = srv_now();
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        total += jobs[i]->batch;
        jobs[i]->queue_ms = (t0 - jobs[i]->t_enqueue) * 1e3;
        srv_metrics_queue(m, t0 - jobs[i]->t_enqueue);
    }
    for (int i = 0; i < n; i++) jobs[i]->batch_run = m->batchable ? total : 1;
    srv_metrics_batch(m, m->batchable ? total : 1);
    tdm_status st = TDM_OK;
    int fail_status = 500;
    tdm_session *s = bat_session(w, m, jobs, total, err, sizeof err);
    if (!s) goto fail;
    for (int i = 0; i < m->nin && st == TDM_OK; i++) {
        if (n == 1) {
            st = tdm_session_set_input(s, i, jobs[0]->req.in[i].data, jobs[0]->req.in[i].bytes);
            continue;
        }
        void *dst;
        st = tdm_session_input_data(s, i, NULL, &dst);
        size_t off = 0;
        for (int k = 0; k < n && st == TDM_OK; k++) {
            memcpy((char *)dst + off, jobs[k]->req.in[i].data, jobs[k]->req.in[i].bytes);
            off += jobs[k]->req.in[i].bytes;
        }
    }
    if (st == TDM_OK) st = tdm_session_run(s);
    if (st != TDM_OK) {
        snprintf(err, sizeof err, "inference failed: %s", tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
        /* a value the model cannot take (an index out of range, say) is the client's error */
        fail_status = st == TDM_INVALID_ARGUMENT ? 400 : 500;
        goto fail;
    }
    double t1 = srv_now();
    proto_output outs[SRV_MAX_IO];
    const char *base[SRV_MAX_IO];
    size_t row_bytes[SRV_MAX_IO];
    for (int o = 0; o < m->nout; o++) {
        tdm_tensor_info info;
        const void *data;
        st = tdm_session_output(s, o, &info, &data);
        if (st != TDM_OK) {
            snprintf(err, sizeof err, "output %d: %s", o, tdm_last_error());
            goto fail;
        }
        if (m->batchable && (info.rank < 1 || info.dims[0] != total)) {
            snprintf(err, sizeof err, "output '%s' does not follow the batch dimension", m->out[o].name);
            goto fail;
        }
        outs[o].dtype = info.dtype;
        outs[o].rank = info.rank;
        memcpy(outs[o].dims, info.dims, sizeof outs[o].dims);
        int64_t numel = 1;
        for (int d = 0; d < info.rank; d++) numel *= info.dims[d];
        base[o] = data;
        row_bytes[o] = m->batchable ? (size_t)(numel / total) * tdm_dtype_size(info.dtype) : 0;
    }
    for (int k = 0; k < n; k++) {
        srv_job *j = jobs[k];
        double p0 = srv_now();
        j->infer_ms = (t1 - t0) * 1e3;
        for (int o = 0; o < m->nout; o++) {
            if (m->batchable) outs[o].dims[0] = j->batch;
            outs[o].data = base[o];
            base[o] += (size_t)j->batch * row_bytes[o];
        }
        if (j->kind == SRV_JOB_CLASSIFY) {
            const proto_output *o0 = &outs[0];
            int64_t k_all = o0->rank > 0 ? o0->dims[o0->rank - 1] : 1;
            if (o0->dtype != TDM_FLOAT || k_all < 1) bat_fail(j, 400, "the model's first output is not float scores");
            else bat_classify_body(j, o0->data, k_all);
        } else {
            free(j->body);
            j->body = NULL;
            if (proto_write_response(&m->proto, &j->req, outs, &j->body, &j->body_len, &j->json_len) != 0)
                bat_fail(j, 500, "out of memory writing the response");
            else j->status = 200;
        }
        j->post_ms = (srv_now() - p0) * 1e3;
    }
    for (int k = 0; k < n; k++) jobs[k]->done(jobs[k], jobs[k]->done_arg);
    return;
fail:
    for (int k = 0; k < n; k++) {
        jobs[k]->infer_ms = (srv_now() - t0) * 1e3;
        bat_fail(jobs[k], fail_status, err);
        jobs[k]->done(jobs[k], jobs[k]->done_arg);
    }
}

static void *bat_worker_main(void *arg) {
    bat_worker *w = arg;
    srv_job *jobs[SRV_MAX_BATCH];
    pthread_mutex_lock(&bat.lock);
    for (;;) {
        srv_model *m = bat_pick_model();
        if (!m) {
            if (bat.stopping) break;
            pthread_cond_wait(&bat.cond, &bat.lock);
            continue;
        }
        /* wait for the batch to fill, at most max_delay_us after its oldest request arrived */
        if (m->max_delay_us > 0 && !bat.stopping && bat_fill(m) < m->max_batch) {
            double deadline = m->head->t_enqueue + (double)m->max_delay_us * 1e-6;
            if (srv_now() < deadline) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                double left = deadline - srv_now();
                ts.tv_sec += (time_t)left;
                ts.tv_nsec += (long)((left - floor(left)) * 1e9);
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&bat.cond, &bat.lock, &ts);
                continue; /* re-pick: another worker may have taken the queue meanwhile */
            }
        }
        int n = bat_take(m, jobs, SRV_MAX_BATCH);
        pthread_mutex_unlock(&bat.lock);
        bat_run(w, m, jobs, n);
        pthread_mutex_lock(&bat.lock);
    }
    pthread_mutex_unlock(&bat.lock);
    return NULL;
}

int srv_batcher_start(srv_repo *repo, const srv_batcher_opts *o, char *err, size_t errlen) {
    memset(&bat, 0, sizeof bat);
    pthread_mutex_init(&bat.lock, NULL);
    pthread_cond_init(&bat.cond, NULL);
    bat.repo = repo;
    bat.nworkers = o->workers;
    bat.threads = o->threads;
    bat.max_queue = o->max_queue > 0 ? o->max_queue : 1024;
    bat.workers = calloc((size_t)o->workers, sizeof *bat.workers);
    if (!bat.workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < o->workers; i++) {
        bat_worker *w = &bat.workers[i];
        w->index = i;
        w->slots = calloc((size_t)repo->count, sizeof *w->slots);
        if (!w->slots || pthread_create(&w->thread, NULL, bat_worker_main, w) != 0) {
            snprintf(err, errlen, "cannot start inference worker %d", i);
            free(w->slots);
            w->slots = NULL;
            bat.nworkers = i;
            srv_batcher_stop();
            return -1;
        }
    }
    return 0;
}

void srv_batcher_stop(void) {
    pthread_mutex_lock(&bat.lock);
    bat.stopping = 1;
    pthread_cond_broadcast(&bat.cond);
    pthread_mutex_unlock(&bat.lock);
    for (int i = 0; i < bat.nworkers; i++) {
        bat_worker *w = &bat.workers[i];
        pthread_join(w->thread, NULL);
        for (int m = 0; m < bat.repo->count; m++) {
            if (!w->slots[m]) continue;
            for (int b = 0; b <= bat.repo->models[m].max_batch; b++) tdm_session_free(w->slots[m][b].s);
            free(w->slots[m]);
        }
        free(w->slots);
    }
    free(bat.workers);
    bat.workers = NULL;
    bat.nworkers = 0;
    pthread_cond_destroy(&bat.cond);
    pthread_mutex_destroy(&bat.lock);
}
