/* metrics.c - Prometheus metrics of `tandem serve` in the text exposition format: request and failure counters per
 * model, request-duration, queue-duration and batch-size histograms (cumulative _bucket with le labels up to +Inf,
 * _sum, _count), the in-flight gauge and each model's load time. One mutex per model; updates are a few adds. */
#include "server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double met_time_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define MET_TIME_N ((int)(sizeof met_time_le / sizeof met_time_le[0]))
static const double met_batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define MET_BATCH_N ((int)(sizeof met_batch_le / sizeof met_batch_le[0]))

typedef struct met_hist {
    uint64_t bucket[16]; /* non-cumulative counts per bound; the last slot is +Inf */
    double sum;
    uint64_t count;
} met_hist;

struct srv_metrics {
    pthread_mutex_t lock;
    uint64_t requests, failures;
    met_hist duration, queue, batch;
};

static atomic_llong met_inflight;

int srv_metrics_init(srv_repo *repo) {
    for (int i = 0; i < repo->count; i++) {
        srv_metrics *x = calloc(1, sizeof *x);
        if (!x) return -1;
        pthread_mutex_init(&x->lock, NULL);
        repo->models[i].metrics = x;
    }
    return 0;
}

void srv_metrics_free(srv_repo *repo) {
    for (int i = 0; i < repo->count; i++) {
        srv_metrics *x = repo->models[i].metrics;
        if (!x) continue;
        pthread_mutex_destroy(&x->lock);
        free(x);
        repo->models[i].metrics = NULL;
    }
}

static void met_observe(met_hist *h, const double *le, int n, double v) {
    int b = 0;
    while (b < n && v > le[b]) b++;
    h->bucket[b]++;
    h->sum += v;
    h->count++;
}

void srv_metrics_request(srv_model *m, int failed, double seconds) {
    if (!m || !m->metrics) return;
    pthread_mutex_lock(&m->metrics->lock);
    m->metrics->requests++;
    if (failed) m->metrics->failures++;
    met_observe(&m->metrics->duration, met_time_le, MET_TIME_N, seconds);
    pthread_mutex_unlock(&m->metrics->lock);
}

void srv_metrics_queue(srv_model *m, double seconds) {
    if (!m->metrics) return;
    pthread_mutex_lock(&m->metrics->lock);
    met_observe(&m->metrics->queue, met_time_le, MET_TIME_N, seconds);
    pthread_mutex_unlock(&m->metrics->lock);
}

void srv_metrics_batch(srv_model *m, int64_t batch) {
    if (!m->metrics) return;
    pthread_mutex_lock(&m->metrics->lock);
    met_observe(&m->metrics->batch, met_batch_le, MET_BATCH_N, (double)batch);
    pthread_mutex_unlock(&m->metrics->lock);
}

void srv_metrics_inflight(int delta) { atomic_fetch_add(&met_inflight, delta); }
int64_t srv_metrics_inflight_now(void) { return (int64_t)atomic_load(&met_inflight); }

static void met_hist_write(FILE *f, const char *name, const char *model, const met_hist *h, const double *le, int n) {
    uint64_t cum = 0;
    for (int b = 0; b < n; b++) {
        cum += h->bucket[b];
        fprintf(f, "%s_bucket{model=\"%s\",le=\"%g\"} %llu\n", name, model, le[b], (unsigned long long)cum);
    }
    cum += h->bucket[n];
    fprintf(f, "%s_bucket{model=\"%s\",le=\"+Inf\"} %llu\n", name, model, (unsigned long long)cum);
    fprintf(f, "%s_sum{model=\"%s\"} %.9g\n", name, model, h->sum);
    fprintf(f, "%s_count{model=\"%s\"} %llu\n", name, model, (unsigned long long)h->count);
}

/* Model names come from folder names: keep the label value inside its quotes. */
static void met_label(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') out[n++] = '\\';
        if (*s == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
            continue;
        }
        out[n++] = *s;
    }
    out[n] = 0;
}

char *srv_metrics_render(srv_repo *repo, size_t *len) {
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return NULL;
    struct snap {
        char name[512];
        struct { uint64_t requests, failures; met_hist duration, queue, batch; } v;
        double load_s;
    } *s = calloc((size_t)(repo->count ? repo->count : 1), sizeof *s);
    if (!s) {
        fclose(f);
        free(buf);
        return NULL;
    }
    for (int i = 0; i < repo->count; i++) {
        srv_model *m = &repo->models[i];
        met_label(s[i].name, sizeof s[i].name, m->name);
        s[i].load_s = m->load_s;
        pthread_mutex_lock(&m->metrics->lock);
        s[i].v.requests = m->metrics->requests;
        s[i].v.failures = m->metrics->failures;
        s[i].v.duration = m->metrics->duration;
        s[i].v.queue = m->metrics->queue;
        s[i].v.batch = m->metrics->batch;
        pthread_mutex_unlock(&m->metrics->lock);
    }
    fprintf(f, "# HELP tandem_requests_total Inference requests (infer and classify) per model.\n"
               "# TYPE tandem_requests_total counter\n");
    for (int i = 0; i < repo->count; i++)
        fprintf(f, "tandem_requests_total{model=\"%s\"} %llu\n", s[i].name, (unsigned long long)s[i].v.requests);
    fprintf(f, "# HELP tandem_request_failures_total Inference requests answered with an error, per model.\n"
               "# TYPE tandem_request_failures_total counter\n");
    for (int i = 0; i < repo->count; i++)
        fprintf(f, "tandem_request_failures_total{model=\"%s\"} %llu\n", s[i].name, (unsigned long long)s[i].v.failures);
    fprintf(f, "# HELP tandem_request_duration_seconds Time from a request's arrival to its response.\n"
               "# TYPE tandem_request_duration_seconds histogram\n");
    for (int i = 0; i < repo->count; i++)
        met_hist_write(f, "tandem_request_duration_seconds", s[i].name, &s[i].v.duration, met_time_le, MET_TIME_N);
    fprintf(f, "# HELP tandem_queue_duration_seconds Time a request waited in its model's batch queue.\n"
               "# TYPE tandem_queue_duration_seconds histogram\n");
    for (int i = 0; i < repo->count; i++)
        met_hist_write(f, "tandem_queue_duration_seconds", s[i].name, &s[i].v.queue, met_time_le, MET_TIME_N);
    fprintf(f, "# HELP tandem_batch_size Batch sizes (stacked leading dimension) of the runs, per model.\n"
               "# TYPE tandem_batch_size histogram\n");
    for (int i = 0; i < repo->count; i++)
        met_hist_write(f, "tandem_batch_size", s[i].name, &s[i].v.batch, met_batch_le, MET_BATCH_N);
    fprintf(f, "# HELP tandem_inflight_requests Requests received and not yet answered.\n"
               "# TYPE tandem_inflight_requests gauge\n"
               "tandem_inflight_requests %lld\n",
            (long long)srv_metrics_inflight_now());
    fprintf(f, "# HELP tandem_model_load_seconds Time to load, check and first plan each model at start.\n"
               "# TYPE tandem_model_load_seconds gauge\n");
    for (int i = 0; i < repo->count; i++)
        fprintf(f, "tandem_model_load_seconds{model=\"%s\"} %.6f\n", s[i].name, s[i].load_s);
    free(s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = blen;
    return buf;
}
