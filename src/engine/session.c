/* session.c - the public session API: creating and freeing sessions, input shapes and values (the values of inputs
 * that decide shapes go to the planner, plan.c; data goes into the arena), the allocation-free run loop, outputs,
 * statistics and the executed nodes for profiles. */
#include <stdio.h>
#include <time.h>

#include "model.h"


tdm_status tdm_session_create(const tdm_model *m, const tdm_session_options *opts, tdm_session **session_out) {
    if (session_out) *session_out = NULL;
    if (!m || !session_out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_session_create: NULL argument");
    int threads = opts ? opts->threads : 1;
    if (threads < 0 || threads > 256) return tdm_error(TDM_INVALID_ARGUMENT, "threads must be in 0..256, not %d", threads);
    tdm_session *s = tdm_calloc(&m->alloc, 1, sizeof *s);
    if (!s) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    s->model = m;
    s->alloc = m->alloc;
    s->optimize = m->optimize;
    s->threads = threads < 1 ? 1 : threads;
    s->profile = opts && opts->profile;
    int ni = m->n_inputs ? m->n_inputs : 1;
    s->in_dims = tdm_calloc(&s->alloc, (size_t)ni, sizeof *s->in_dims);
    s->in_rank = tdm_calloc(&s->alloc, (size_t)ni, sizeof(int));
    s->in_value = tdm_calloc(&s->alloc, (size_t)ni, sizeof(void *));
    s->in_value_bytes = tdm_calloc(&s->alloc, (size_t)ni, sizeof(size_t));
    s->pending = tdm_calloc(&s->alloc, (size_t)ni, sizeof(void *));
    s->pending_bytes = tdm_calloc(&s->alloc, (size_t)ni, sizeof(size_t));
    s->given = tdm_calloc(&s->alloc, (size_t)ni, sizeof(int));
    if (!s->in_dims || !s->in_rank || !s->in_value || !s->in_value_bytes || !s->pending || !s->pending_bytes ||
        !s->given) {
        tdm_session_free(s);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < m->n_inputs; i++) {
        const tdm_value *v = &m->values[m->inputs[i]];
        s->in_rank[i] = v->rank;
        for (int d = 0; d < v->rank; d++) s->in_dims[i][d] = v->dims[d] < 0 ? 1 : v->dims[d];
    }
    if (s->threads > 1) {
        s->pool = tdm_pool_create(&s->alloc, s->threads);
        if (!s->pool) {
            tdm_session_free(s);
            return tdm_error(TDM_OUT_OF_MEMORY, "cannot start %d threads", threads);
        }
    }
    *session_out = s;
    return TDM_OK;
}

void tdm_session_free(tdm_session *s) {
    if (!s) return;
    tdm_plan_release(s);
    tdm_pool_destroy(s->pool);
    tdm_free(&s->alloc, s->in_dims);
    tdm_free(&s->alloc, s->in_rank);
    for (int i = 0; s->in_value && i < s->model->n_inputs; i++) tdm_free_aligned(&s->alloc, s->in_value[i]);
    for (int i = 0; s->pending && i < s->model->n_inputs; i++) tdm_free_aligned(&s->alloc, s->pending[i]);
    tdm_free(&s->alloc, s->in_value);
    tdm_free(&s->alloc, s->in_value_bytes);
    tdm_free(&s->alloc, s->pending);
    tdm_free(&s->alloc, s->pending_bytes);
    tdm_free(&s->alloc, s->given);
    tdm_alloc a = s->alloc;
    tdm_free(&a, s);
}

tdm_status tdm_session_set_input_shape(tdm_session *s, int index, const int64_t *dims, int rank) {
    if (!s || index < 0 || index >= s->model->n_inputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "input index %d out of range", index);
    if (rank < 0 || rank > TDM_MAX_RANK || (rank && !dims))
        return tdm_error(TDM_INVALID_ARGUMENT, "invalid rank %d", rank);
    const tdm_value *v = &s->model->values[s->model->inputs[index]];
    if (v->rank >= 0 && v->rank != rank)
        return tdm_error(TDM_SHAPE_MISMATCH, "input '%s' has rank %d, the model expects %d", v->name, rank, v->rank);
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0 || dims[d] > ((int64_t)1 << 31))
            return tdm_error(TDM_SHAPE_MISMATCH, "input '%s': dimension %d is %lld", v->name, d, (long long)dims[d]);
        if (v->rank >= 0 && v->dims[d] >= 0 && v->dims[d] != dims[d])
            return tdm_error(TDM_SHAPE_MISMATCH, "input '%s': dimension %d is %lld, the model expects %lld", v->name, d,
                             (long long)dims[d], (long long)v->dims[d]);
    }
    int same = s->in_rank[index] == rank;
    for (int d = 0; same && d < rank; d++) same = s->in_dims[index][d] == dims[d];
    if (same) return TDM_OK;
    s->in_rank[index] = rank;
    for (int d = 0; d < rank; d++) s->in_dims[index][d] = dims[d];
    tdm_free_aligned(&s->alloc, s->in_value[index]);
    s->in_value[index] = NULL;
    tdm_free_aligned(&s->alloc, s->pending[index]);
    s->pending[index] = NULL;
    for (int i = 0; i < s->model->n_inputs; i++) s->given[i] = 0; /* a new arena holds nothing yet */
    tdm_plan_release(s);
    return TDM_OK;
}

tdm_status tdm_session_plan(tdm_session *s) {
    if (!s) return tdm_error(TDM_INVALID_ARGUMENT, "session is NULL");
    if (s->planned) return TDM_OK;
    for (int i = 0; i < s->model->n_inputs; i++)
        if (s->in_rank[i] < 0)
            return tdm_error(TDM_SHAPE_MISMATCH, "input '%s' has no shape in the model: set it with "
                             "tdm_session_set_input_shape", s->model->values[s->model->inputs[i]].name);
    tdm_status st = tdm_plan(s);
    if (!st && (st = tdm_split_plan(s))) tdm_plan_release(s);
    return st;
}

tdm_status tdm_session_input_data(tdm_session *s, int index, tdm_tensor_info *info_out, void **data_out) {
    if (!s || !data_out || index < 0 || index >= s->model->n_inputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "input index %d out of range", index);
    tdm_status st = tdm_session_plan(s);
    if (st) return st;
    tdm_value *v = &s->values[s->model->inputs[index]];
    if (info_out) tdm_fill_info(v, info_out);
    *data_out = v->data;
    return TDM_OK;
}

/* The bytes input `index` takes at the session's shape for it, or an error naming the input when bytes differ. */
static tdm_status input_bytes_ok(tdm_session *s, int index, const void *data, size_t bytes) {
    const tdm_value *v = &s->model->values[s->model->inputs[index]];
    int64_t numel = 1;
    for (int d = 0; d < s->in_rank[index]; d++) numel *= s->in_dims[index][d];
    size_t want = (size_t)numel * tdm_dtype_size(v->dtype);
    if (s->in_rank[index] < 0 || bytes != want || (!data && bytes))
        return tdm_error(TDM_INVALID_ARGUMENT, "input '%s': %zu bytes given, its %s shape needs %zu", v->name, bytes,
                         tdm_dtype_name(v->dtype), want);
    return TDM_OK;
}

/* An aligned copy of bytes into *slot (freeing what was there), or out of memory. */
static tdm_status keep_copy(tdm_session *s, void **slot, size_t *slot_bytes, const void *data, size_t bytes) {
    void *copy = tdm_malloc_aligned(&s->alloc, bytes ? bytes : 1);
    if (!copy) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (bytes) memcpy(copy, data, bytes);
    tdm_free_aligned(&s->alloc, *slot);
    *slot = copy;
    *slot_bytes = bytes;
    return TDM_OK;
}

/* An input that decides shapes is a plan-time constant: a new value means a new plan, the same value none. */
static tdm_status set_shape_input(tdm_session *s, int index, const void *data, size_t bytes) {
    if (s->in_value[index] && s->in_value_bytes[index] == bytes && memcmp(s->in_value[index], data, bytes) == 0)
        return TDM_OK;
    tdm_status st = keep_copy(s, &s->in_value[index], &s->in_value_bytes[index], data, bytes);
    if (st || !s->planned) return st;
    /* The data already given stays given: it moves out of the arena (their shapes do not change), then the plan goes. */
    for (int i = 0; i < s->model->n_inputs; i++) {
        if (!s->given[i] || s->pending[i]) continue;
        const tdm_value *v = &s->values[s->model->inputs[i]];
        if ((st = keep_copy(s, &s->pending[i], &s->pending_bytes[i], v->data,
                            (size_t)tdm_numel(v) * tdm_dtype_size(v->dtype))))
            return st;
    }
    tdm_plan_release(s);
    return TDM_OK;
}

/* 1 when a plan cannot be made yet: an input that decides shapes has no value. */
static int waits_for_shape_values(const tdm_session *s) {
    for (int i = 0; i < s->model->n_inputs; i++)
        if (s->model->input_decides_shape[i] && !s->in_value[i]) return 1;
    return 0;
}

tdm_status tdm_session_set_input(tdm_session *s, int index, const void *data, size_t bytes) {
    if (!s || index < 0 || index >= s->model->n_inputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "input index %d out of range", index);
    tdm_status st = input_bytes_ok(s, index, data, bytes);
    if (st) return st;
    if (s->model->input_decides_shape[index]) return set_shape_input(s, index, data, bytes);
    if (!s->planned && waits_for_shape_values(s)) { /* kept until the plan can be made, whatever the order of calls */
        if (!(st = keep_copy(s, &s->pending[index], &s->pending_bytes[index], data, bytes))) s->given[index] = 1;
        return st;
    }
    void *dst;
    if ((st = tdm_session_input_data(s, index, NULL, &dst))) return st;
    if (bytes) memcpy(dst, data, bytes);
    s->given[index] = 1;
    return TDM_OK;
}

tdm_status tdm_session_run(tdm_session *s) {
    if (!s) return tdm_error(TDM_INVALID_ARGUMENT, "session is NULL");
    tdm_pool_prewake(s->pool); /* the workers wake while this thread plans and runs the first layers */
    tdm_status st = tdm_session_plan(s);
    if (st) return st;
    if (s->n_split) return tdm_split_run(s);
    tdm_ctx c = {&s->alloc, s->model->opset, s->values, s->model->n_values, s->workspace, s->pool};
    if (s->node_ms) {
        for (int k = 0; k < s->n_exec; k++) {
            const tdm_node *n = &s->nodes[s->exec[k]];
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            st = n->op->run(&c, n);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            s->node_ms[k] += ms;
            double *mn = &s->node_ms[s->n_exec + k]; /* the minimum: what the node takes undisturbed */
            if (*mn == 0.0 || ms < *mn) *mn = ms;
            if (st) return st;
        }
        return TDM_OK;
    }
    for (int k = 0; k < s->n_exec; k++) {
        const tdm_node *n = &s->nodes[s->exec[k]];
        if ((st = n->op->run(&c, n))) return st;
    }
    return TDM_OK;
}

tdm_status tdm_session_output(tdm_session *s, int index, tdm_tensor_info *info_out, const void **data_out) {
    if (!s || index < 0 || index >= s->model->n_outputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "output index %d out of range", index);
    tdm_status st = tdm_session_plan(s);
    if (st) return st;
    const tdm_value *v = &s->values[s->model->outputs[index]];
    if (info_out) tdm_fill_info(v, info_out);
    if (data_out) *data_out = v->data;
    return TDM_OK;
}

tdm_status tdm_session_stats(tdm_session *s, tdm_stats *out) {
    if (!s || !out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_session_stats: NULL argument");
    tdm_status st = tdm_session_plan(s);
    if (st) return st;
    memset(out, 0, sizeof *out);
    out->weights_bytes = s->model->weights_bytes + s->derived_bytes;
    out->arena_bytes = s->arena_bytes;
    out->workspace_bytes = s->workspace_bytes;
    out->params = s->model->params;
    out->nodes = s->n_exec;
    out->batch_split = s->n_split > 0;
    out->plans = s->plans;
    for (int k = 0; k < s->n_exec; k++) out->macs += s->nodes[s->exec[k]].macs;
    return TDM_OK;
}

int tdm_session_num_exec_nodes(tdm_session *s) {
    if (!s || tdm_session_plan(s)) return 0;
    return s->n_exec;
}

const char *tdm_session_exec_node_op(tdm_session *s, int index) {
    if (!s || tdm_session_plan(s) || index < 0 || index >= s->n_exec) return NULL;
    if (!s->exec_names) {
        s->exec_names = tdm_calloc(&s->alloc, (size_t)(s->n_exec ? s->n_exec : 1), sizeof(char *));
        if (!s->exec_names) return NULL;
    }
    if (!s->exec_names[index]) {
        const tdm_node *n = &s->nodes[s->exec[index]];
        char buf[128];
        snprintf(buf, sizeof buf, "%s%s%s", n->op_type, n->residual >= 0 ? "+Add" : "",
                 tdm_act_suffix(n->act));
        s->exec_names[index] = tdm_strdup(&s->alloc, buf, strlen(buf));
    }
    return s->exec_names[index];
}


const char *tdm_session_exec_node_name(tdm_session *s, int index) {
    if (!s || tdm_session_plan(s) || index < 0 || index >= s->n_exec) return NULL;
    return s->nodes[s->exec[index]].name;
}

int64_t tdm_session_exec_node_macs(tdm_session *s, int index) {
    if (!s || tdm_session_plan(s) || index < 0 || index >= s->n_exec) return 0;
    return s->nodes[s->exec[index]].macs;
}

double tdm_session_exec_node_ms(tdm_session *s, int index) {
    if (!s || !s->node_ms || index < 0 || index >= s->n_exec) return 0.0;
    return s->node_ms[index];
}

double tdm_session_exec_node_min_ms(tdm_session *s, int index) {
    if (!s || !s->node_ms || index < 0 || index >= s->n_exec) return 0.0;
    return s->node_ms[s->n_exec + index];
}
