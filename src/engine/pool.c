/* pool.c - a small pthread pool in the shape of pthreadpool: a NULL pool means serial, the calling thread always
 * takes part, and work items are handed out through one atomic counter. A pool of T threads starts T-1 workers.
 * A batch-1 inference makes a few hundred parallel calls of a few microseconds each, so waking through a condition
 * variable every time would cost more than the work: workers and the caller spin briefly on atomics first and only
 * then sleep. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "internal.h"

struct tdm_pool {
    const tdm_alloc *alloc;
    int threads;          /* including the caller */
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* the current job; the three hot atomics sit on cache lines of their own: spinning threads poll `generation`
     * and `active` while the others claim items from `next` */
    _Alignas(64) atomic_uint_fast64_t generation; /* bumped for every job; workers run each generation once */
    atomic_int stop;
    int sleeping;         /* workers blocked on `wake` (under mu) */
    unsigned alarm;       /* bumped by tdm_pool_prewake (under mu): sleeping workers get up and spin */
    _Alignas(64) atomic_int active; /* workers still inside the current job */
    _Alignas(64) atomic_size_t next; /* next item to claim */
    atomic_uint_fast64_t claimed;     /* static mode: parts started */
    _Alignas(64) size_t range;
    size_t chunk;         /* 1d items per claim */
    tdm_task_1d fn1;
    tdm_task_2d_tile fn2;
    tdm_task_static fns;  /* static mode: every thread calls fns(ctx, its index, threads) once */
    tdm_task_parts fnp;   /* parts mode: `parts` parts, each thread its own run first, then the others' ends */
    size_t parts;
    atomic_int next_id;   /* worker indices, taken at start-up */
    void *ctx;
    size_t ri, rj, ti, tj, tiles_j;
};

/* Parts mode: 1 if this thread gets part i (a bit of `claimed`), 0 if another thread has it. */
static inline int claim_part(tdm_pool *p, size_t i) {
    uint64_t bit = (uint64_t)1 << i;
    if (atomic_load_explicit(&p->claimed, memory_order_relaxed) & bit) return 0;
    return !(atomic_fetch_or_explicit(&p->claimed, bit, memory_order_relaxed) & bit);
}

static void run_items(tdm_pool *p, int me) {
    if (p->fnp) {
        size_t parts = p->parts, t = (size_t)p->threads, own = (size_t)me;
        for (size_t i = own * parts / t, e = (own + 1) * parts / t; i < e; i++)
            if (claim_part(p, i)) p->fnp(p->ctx, i, parts, own);
        for (size_t k = 1; k < t; k++) { /* the runs of the threads that are behind, from their ends */
            size_t o = (own + k) % t;
            for (size_t i = (o + 1) * parts / t, b = o * parts / t; i-- > b;)
                if (claim_part(p, i)) p->fnp(p->ctx, i, parts, own);
        }
        return;
    }
    if (p->fns) {
        /* Each thread takes its own part first, then any part nobody has started: the parts land on the same threads
         * as long as every thread shows up in time, and a descheduled worker's part is done by someone else instead
         * of being waited for (what matters on a shared, oversubscribed machine). */
        size_t parts = (size_t)p->threads;
        for (size_t k = 0; k < parts; k++) {
            size_t part = ((size_t)me + k) % parts;
            uint64_t bit = (uint64_t)1 << (part % 64);
            if (parts > 64) { /* more parts than bits: plain claiming in order */
                size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
                if (i >= parts) break;
                part = i;
            } else if (atomic_fetch_or_explicit(&p->claimed, bit, memory_order_relaxed) & bit) {
                continue;
            }
            p->fns(p->ctx, part, parts);
        }
        return;
    }
    size_t i;
    if (p->fn1) {
        while ((i = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed)) < p->range)
            for (size_t e = i + p->chunk < p->range ? i + p->chunk : p->range; i < e; i++) p->fn1(p->ctx, i);
        return;
    }
    while ((i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < p->range) {
        size_t bi = i / p->tiles_j, bj = i % p->tiles_j;
        size_t i0 = bi * p->ti, j0 = bj * p->tj;
        size_t ei = i0 + p->ti < p->ri ? p->ti : p->ri - i0;
        size_t ej = j0 + p->tj < p->rj ? p->tj : p->rj - j0;
        p->fn2(p->ctx, i0, j0, ei, ej);
    }
}

/* How long a thread spins before it blocks: a clock, not a count, since a count of pause instructions means about
 * 350 us on this x86 machine but 10 us in wasm, which has no pause: there the workers fell asleep between layers and
 * every parallel call paid a browser thread wake-up (ResNet-20 on 2 threads in Chromium: slower than on 1). */
#define SPIN_NS 200000ull

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* One step of a spin: a pause, and every 256 steps a look at the clock; 0 once SPIN_NS have passed since *t0 (0
 * at the start: set on the first look). */
static inline int spin_step(unsigned *i, uint64_t *t0) {
    cpu_relax();
    if ((++*i & 255) != 0) return 1;
    uint64_t t = now_ns();
    if (!*t0) *t0 = t;
    return t - *t0 < SPIN_NS;
}

static void *worker_main(void *arg) {
    tdm_pool *p = arg;
    uint64_t seen = 0;
    int me = atomic_fetch_add(&p->next_id, 1) + 1; /* the caller is 0 */
    for (;;) {
        unsigned i = 0;
        uint64_t t0 = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed) && spin_step(&i, &t0)) {
        }
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleeping++;
            unsigned alarm = p->alarm;
            while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen && p->alarm == alarm)
                pthread_cond_wait(&p->wake, &p->mu);
            p->sleeping--;
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) continue; /* a prewake: spin again */
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_items(p, me);
        if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu); /* the caller may be asleep on `done` */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

tdm_pool *tdm_pool_create(const tdm_alloc *a, int threads) {
    if (threads <= 1) return NULL;
    tdm_pool *p = tdm_malloc_aligned(a, sizeof *p); /* _Alignas(64) members: a 64-byte-aligned block */
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->alloc = a;
    p->workers = tdm_calloc(a, (size_t)threads - 1, sizeof(pthread_t));
    if (!p->workers) {
        tdm_free_aligned(a, p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = 1;
    for (int i = 0; i < threads - 1; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) break;
        p->threads++;
    }
    if (p->threads == 1) {
        tdm_pool_destroy(p);
        return NULL;
    }
    return p;
}

void tdm_pool_destroy(tdm_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->threads - 1; i++) pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    const tdm_alloc *a = p->alloc;
    tdm_free(a, p->workers);
    tdm_free_aligned(a, p);
}

int tdm_pool_threads(const tdm_pool *p) { return p ? p->threads : 1; }

void tdm_pool_prewake(tdm_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (p->sleeping) {
        p->alarm++;
        pthread_cond_broadcast(&p->wake);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Publish a job, take part in it, and wait until every worker has left it. The job fields are written before the
 * generation bump (release), and workers read them after seeing it (acquire). */
static void pool_run(tdm_pool *p) {
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claimed, 0, memory_order_relaxed);
    atomic_store_explicit(&p->active, p->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
    pthread_mutex_lock(&p->mu); /* a worker between its last check and its wait holds mu: it cannot miss this */
    if (p->sleeping) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_items(p, 0);
    unsigned i = 0;
    uint64_t t0 = 0;
    while (atomic_load_explicit(&p->active, memory_order_acquire) > 0 && spin_step(&i, &t0)) {
    }
    if (atomic_load_explicit(&p->active, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->active) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void tdm_parallelize_1d(tdm_pool *p, tdm_task_1d fn, void *ctx, size_t range) {
    if (!p || range <= 1) {
        for (size_t i = 0; i < range; i++) fn(ctx, i);
        return;
    }
    p->fn1 = fn;
    p->fn2 = NULL;
    p->fns = NULL;
    p->fnp = NULL;
    p->ctx = ctx;
    p->range = range;
    /* Claims of several items where there are many: one atomic add per item, the two cores passing its cache line
     * back and forth, cost more than a small item (GlobalAveragePool over 1280 planes of 16 values: 33 us on two
     * threads against 11 on one). 16 claims per thread still even out uneven items. */
    p->chunk = range / ((size_t)p->threads * 16);
    if (p->chunk < 1) p->chunk = 1;
    pool_run(p);
}

void tdm_parallelize_2d_tile(tdm_pool *p, tdm_task_2d_tile fn, void *ctx, size_t ri, size_t rj, size_t tile_i,
                             size_t tile_j) {
    if (ri == 0 || rj == 0) return;
    if (tile_i == 0) tile_i = 1;
    if (tile_j == 0) tile_j = 1;
    size_t ni = (ri + tile_i - 1) / tile_i, nj = (rj + tile_j - 1) / tile_j;
    if (!p || ni * nj <= 1) {
        for (size_t i = 0; i < ri; i += tile_i)
            for (size_t j = 0; j < rj; j += tile_j)
                fn(ctx, i, j, i + tile_i < ri ? tile_i : ri - i, j + tile_j < rj ? tile_j : rj - j);
        return;
    }
    p->fn1 = NULL;
    p->fn2 = fn;
    p->fns = NULL;
    p->fnp = NULL;
    p->ctx = ctx;
    p->ri = ri;
    p->rj = rj;
    p->ti = tile_i;
    p->tj = tile_j;
    p->tiles_j = nj;
    p->range = ni * nj;
    pool_run(p);
}

void tdm_parallelize_static(tdm_pool *p, tdm_task_static fn, void *ctx) {
    if (!p) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn1 = NULL;
    p->fn2 = NULL;
    p->fns = fn;
    p->fnp = NULL;
    p->ctx = ctx;
    p->range = 0;
    pool_run(p);
}

void tdm_parallelize_parts(tdm_pool *p, tdm_task_parts fn, void *ctx, size_t parts) {
    if (!p || parts <= 1) {
        if (parts) fn(ctx, 0, 1, 0);
        return;
    }
    p->fn1 = NULL;
    p->fn2 = NULL;
    p->fns = NULL;
    p->fnp = fn;
    p->ctx = ctx;
    p->range = 0;
    p->parts = parts < 64 ? parts : 64; /* one bit of `claimed` each */
    pool_run(p);
}
