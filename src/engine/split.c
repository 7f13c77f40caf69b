/* split.c - batch splitting: a batch of N images on T threads runs as N batch-1 inferences, one per thread at a time,
 * each in a private batch-1 session (its own arena and workspace), instead of layer by layer over the whole batch
 * (on one thread too: the images then run one after another in one batch-1 session).
 *
 * Why: a layer over a whole batch streams every activation through memory (ResNet-20 at batch 64: 4 MiB per tensor),
 * while one image's activations stay in the core's L2 from layer to layer; and one image per thread needs no
 * synchronisation inside the network. Measured on the 2-core machine: ResNet-20 at batch 64 on 2 threads, 33.1 ms
 * layer by layer, 24.7 ms image by image (from 0.75x onnxruntime's throughput to parity; docs/PERFORMANCE.md).
 *
 * When: only where it cannot change a result. Every executed op must be one that treats the samples of a batch
 * independently (TDM_OPF_PER_SAMPLE in the op table, and Slice and Pad that leave axis 0 as it is, which their hooks
 * tell: the option-A shortcuts of the CIFAR ResNets subsample and zero-pad channels with them), every input must be
 * float data, and the batch-1
 * plan must have the same shapes as the batch-N plan apart from the leading dimension of every non-constant value
 * (which catches Reshape/Flatten/Transpose/Concat that fold the batch into other axes). Profiling sessions never
 * split, so that their per-node times describe the layer-by-layer plan. */
#include <stdatomic.h>

#include "model.h"

/* Every op treats samples independently: its row says so (TDM_OPF_PER_SAMPLE), or its hooks say this node leaves axis
 * 0 as it is (Slice and Pad). */
static int per_sample(tdm_ctx *c, const tdm_node *n) {
    if (n->op->flags & TDM_OPF_PER_SAMPLE) return 1;
    const tdm_op_hooks *h = tdm_node_hooks(n);
    return h->keeps_axis0 && h->keeps_axis0(c, n);
}

void tdm_split_release(tdm_session *s) {
    for (int i = 0; i < s->n_split; i++) tdm_session_free(s->split[i]);
    tdm_free(&s->alloc, s->split);
    s->split = NULL;
    s->n_split = 0;
}

/* After a successful plan of s: set up the batch-1 sessions if the plan qualifies. Failing to set them up is not an
 * error (the plan runs layer by layer); running out of memory is. */
tdm_status tdm_split_plan(tdm_session *s) {
    const tdm_model *m = s->model;
    if (s->threads > 32 || s->profile || m->n_inputs < 1 || m->n_outputs < 1) return TDM_OK;
    int64_t n = -1;
    for (int i = 0; i < m->n_inputs; i++) {
        const tdm_value *v = &s->values[m->inputs[i]];
        if (v->dtype != TDM_FLOAT || v->rank < 1) return TDM_OK;
        if (n < 0) n = v->dims[0];
        if (v->dims[0] != n) return TDM_OK;
    }
    if (n < 2) return TDM_OK;
    tdm_ctx c = {&s->alloc, m->opset, s->values, m->n_values, NULL, NULL};
    for (int k = 0; k < s->n_exec; k++) {
        const tdm_node *nd = &s->nodes[s->exec[k]];
        if (!per_sample(&c, nd)) return TDM_OK;
    }
    int t = s->threads < n ? s->threads : (int)n;
    s->split = tdm_calloc(&s->alloc, (size_t)t, sizeof *s->split);
    if (!s->split) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    tdm_session_options so = {1, 0};
    tdm_status st = TDM_OK;
    for (int i = 0; i < t && !st; i++) {
        if ((st = tdm_session_create(m, &so, &s->split[i]))) break;
        s->n_split++;
        for (int q = 0; q < m->n_inputs && !st; q++) {
            int64_t dims[TDM_MAX_RANK];
            memcpy(dims, s->in_dims[q], sizeof dims);
            dims[0] = 1;
            st = tdm_session_set_input_shape(s->split[i], q, dims, s->in_rank[q]);
        }
        if (!st) st = tdm_session_plan(s->split[i]);
    }
    int same = !st;
    for (int v = 0; same && v < m->n_values; v++) { /* every value: the batch-N shape with a leading 1 */
        const tdm_value *a = &s->values[v], *b = &s->split[0]->values[v];
        if (a->kind != b->kind || a->rank != b->rank || a->dtype != b->dtype) same = 0;
        else if (a->kind != TDM_V_CONST && a->rank >= 0) {
            if (a->rank < 1 || a->dims[0] != n || b->dims[0] != 1) same = 0;
            for (int d = 1; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
        }
    }
    if (st == TDM_OUT_OF_MEMORY) {
        tdm_split_release(s);
        return st;
    }
    if (!same) tdm_split_release(s);
    return TDM_OK;
}

typedef struct split_job {
    tdm_session *s;
    atomic_uint busy;       /* which batch-1 sessions are in use */
    atomic_int status;      /* the first failure */
} split_job;

static void split_task(void *ctx, size_t img) {
    split_job *j = ctx;
    tdm_session *s = j->s;
    const tdm_model *m = s->model;
    if (atomic_load_explicit(&j->status, memory_order_relaxed)) return;
    int slot;
    for (;;) { /* at most one task per pool thread at a time, and there are as many sessions as threads */
        unsigned cur = atomic_load_explicit(&j->busy, memory_order_relaxed);
        for (slot = 0; slot < s->n_split; slot++)
            if (!(cur & (1u << slot)) && atomic_compare_exchange_weak_explicit(&j->busy, &cur, cur | (1u << slot),
                                                                                memory_order_acquire,
                                                                                memory_order_relaxed))
                break;
        if (slot < s->n_split) break;
    }
    tdm_session *sub = s->split[slot];
    tdm_status st = TDM_OK;
    for (int i = 0; i < m->n_inputs && !st; i++) {
        const tdm_value *v = &s->values[m->inputs[i]];
        size_t per = (size_t)tdm_numel(v) / (size_t)v->dims[0] * tdm_dtype_size(v->dtype);
        st = tdm_session_set_input(sub, i, (const char *)v->data + img * per, per);
    }
    if (!st) st = tdm_session_run(sub);
    for (int i = 0; i < m->n_outputs && !st; i++) {
        const tdm_value *v = &s->values[m->outputs[i]];
        size_t per = (size_t)tdm_numel(v) / (size_t)v->dims[0] * tdm_dtype_size(v->dtype);
        const void *src;
        if (!(st = tdm_session_output(sub, i, NULL, &src))) memcpy((char *)v->data + img * per, src, per);
    }
    if (st) {
        int zero = 0;
        atomic_compare_exchange_strong(&j->status, &zero, (int)st);
    }
    atomic_fetch_and_explicit(&j->busy, ~(1u << slot), memory_order_release);
}

tdm_status tdm_split_run(tdm_session *s) {
    split_job j = {.s = s};
    atomic_init(&j.busy, 0u);
    atomic_init(&j.status, 0);
    const tdm_value *v = &s->values[s->model->inputs[0]];
    tdm_parallelize_1d(s->pool, split_task, &j, (size_t)v->dims[0]);
    tdm_status st = (tdm_status)atomic_load(&j.status);
    return st ? tdm_error(st, "running one image of the batch failed (%s)", tdm_status_name(st)) : TDM_OK;
}
