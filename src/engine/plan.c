/* plan.c - planning a session for its input shapes: shape inference in order with plan-time constant folding, the
 * derived weights ops keep (Winograd U, packed GEMM weights), residual fusion, value lifetimes and their placement in
 * one arena (arena.c), then the arena and the one scratch workspace. A plan is made once per set of input shapes (and
 * values of the inputs that decide shapes); tdm_session_run then performs no allocation. */
#include "model.h"

void tdm_plan_release(tdm_session *s) {
    const tdm_alloc *a = &s->alloc;
    tdm_split_release(s);
    tdm_free(a, s->exec_pos);
    tdm_free(a, s->exec_uses);
    s->exec_pos = s->exec_uses = NULL;
    for (int i = 0; i < s->n_folded; i++) tdm_free_aligned(a, s->folded[i]);
    tdm_free(a, s->folded);
    s->folded = NULL;
    s->n_folded = s->cap_folded = 0;
    s->derived_bytes = 0;
    tdm_free(a, s->values);
    tdm_free(a, s->nodes);
    tdm_free(a, s->exec);
    tdm_free(a, s->node_ms);
    s->node_ms = NULL;
    if (s->exec_names)
        for (int i = 0; i < s->n_exec; i++) tdm_free(a, s->exec_names[i]);
    tdm_free(a, s->exec_names);
    tdm_free_aligned(a, s->arena);
    tdm_free_aligned(a, s->workspace);
    s->values = NULL;
    s->nodes = NULL;
    s->exec = NULL;
    s->exec_names = NULL;
    s->arena = s->workspace = NULL;
    s->n_exec = 0;
    s->arena_bytes = s->workspace_bytes = 0;
    s->planned = 0;
}

static void keep_folded(void *ud, void *block) {
    tdm_session *s = ud;
    if (s->n_folded == s->cap_folded) {
        int cap = s->cap_folded ? s->cap_folded * 2 : 16;
        void **nf = tdm_realloc(&s->alloc, s->folded, (size_t)cap * sizeof(void *));
        if (!nf) { /* cannot record it: free now and make the plan fail */
            tdm_free_aligned(&s->alloc, block);
            s->keep_failed = 1;
            return;
        }
        s->folded = nf;
        s->cap_folded = cap;
    }
    s->folded[s->n_folded++] = block;
}

static size_t value_bytes(const tdm_value *v) {
    size_t b = (size_t)tdm_numel(v) * tdm_dtype_size(v->dtype);
    return TDM_PAD(b ? b : 1, TDM_ALIGN);
}

/* The values a node reads and writes at run time, after plan-time fusion: inputs plus the fused residual, and
 * out[0] replaced by fused_out. */
static int node_in(const tdm_node *n, int j) { return j < n->n_in ? n->in[j] : n->residual; }
static int node_nin(const tdm_node *n) { return n->n_in + (n->residual >= 0); }
static int node_out(const tdm_node *n, int j) { return j == 0 && n->fused_out >= 0 ? n->fused_out : n->out[j]; }

static int same_shape(const tdm_value *a, const tdm_value *b) {
    if (a->rank != b->rank || a->dtype != b->dtype) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* Residual fusion, once shapes are known: Add(P(x), R) where P declares TDM_OPF_FUSE_RESIDUAL, has no activation
 * yet, and is the only reader of its output, and R has exactly P's output shape and is ready before P runs. P then
 * adds R in its epilogue, takes over the Add's activation (Add+Relu was fused at load) and writes the Add's output;
 * the Add leaves the run list. This is the ResNet block's "conv, add the shortcut, ReLU" in one pass. */
static void fuse_residuals(tdm_session *s) {
    const tdm_model *m = s->model;
    int *pos = s->exec_pos, *uses = s->exec_uses;
    for (int v = 0; v < m->n_values; v++) {
        pos[v] = -1;
        uses[v] = s->values[v].is_output;
    }
    for (int k = 0; k < s->n_exec; k++) {
        const tdm_node *n = &s->nodes[s->exec[k]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) pos[n->out[j]] = k;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) uses[n->in[j]]++;
    }
    int w = 0;
    for (int k = 0; k < s->n_exec; k++) {
        tdm_node *a = &s->nodes[s->exec[k]];
        int fused = 0;
        if (a->op->id == TDM_OP_Add && a->n_in == 2 && a->n_out == 1 && a->in[0] >= 0 && a->in[1] >= 0 &&
            a->in[0] != a->in[1]) {
            for (int side = 0; side < 2 && !fused; side++) {
                int x = a->in[side], r = a->in[1 - side];
                if (pos[x] < 0 || uses[x] != 1 || s->values[x].is_output) continue;
                tdm_node *p = &s->nodes[s->exec[pos[x]]];
                if (!(p->op->flags & TDM_OPF_FUSE_RESIDUAL) || p->act != TDM_ACT_NONE || p->residual >= 0 ||
                    p->out[0] != x)
                    continue;
                const tdm_value *xv = &s->values[x], *rv = &s->values[r];
                if (xv->dtype != TDM_FLOAT || !same_shape(xv, rv) || !same_shape(xv, &s->values[a->out[0]])) continue;
                if (rv->kind != TDM_V_CONST && rv->kind != TDM_V_INPUT && !(pos[r] >= 0 && pos[r] < pos[x])) continue;
                p->residual = r;
                p->fused_out = a->out[0];
                p->act = a->act;
                p->act_alpha = a->act_alpha;
                p->act_beta = a->act_beta;
                pos[a->out[0]] = pos[x];
                fused = 1;
            }
        }
        if (!fused) s->exec[w++] = s->exec[k];
    }
    s->n_exec = w;
}

/* Inputs written in place: where a node's hook says its inputs are runs of its output (Concat with only size-1 axes
 * before the concat axis: a batch-1 channel concat, SqueezeNet's fire modules, Inception's branches; the data input of
 * Reshape, Flatten, Squeeze and Unsqueeze, which is all of the output: ShuffleNet's channel shuffle), each input that
 * qualifies becomes a slice of the output (alias, alias_off): its producer writes straight into the output and the
 * op copies only the rest. An input qualifies when it is an activation that an earlier node of this run makes,
 * not a graph output, not already a slice of another value, listed once, not empty, and lands TDM_ALIGN-aligned.
 * Nodes are visited last to first, so a Concat whose output is itself a slice of a later Concat (Inception's nested
 * branches) places its inputs in that later output: a slice's home is never a slice. The home is placed when its
 * first slice is made and released after the last read of any slice. */
static void alias_inputs(tdm_session *s, tdm_ctx *c) {
    size_t off[64];
    for (int k = s->n_exec - 1; k >= 0; k--) {
        const tdm_node *n = &s->nodes[s->exec[k]];
        const tdm_op_hooks *h = tdm_node_hooks(n);
        if (!h->inputs_in_output || n->n_out != 1 || n->n_in > 64 || n->residual >= 0) continue;
        int yid = node_out(n, 0);
        if (yid < 0 || s->values[yid].kind != TDM_V_ACT || !h->inputs_in_output(c, n, off)) continue;
        const tdm_value *y = &s->values[yid];
        int root = y->alias >= 0 ? y->alias : yid;
        size_t base = y->alias >= 0 ? y->alias_off : 0;
        for (int j = 0; j < n->n_in; j++) {
            int xid = n->in[j], twice = 0;
            if (xid < 0 || xid == yid || off[j] == SIZE_MAX) continue;
            for (int i = 0; i < n->n_in; i++) twice |= i != j && n->in[i] == xid;
            tdm_value *x = &s->values[xid];
            if (twice || x->kind != TDM_V_ACT || x->is_output || x->alias >= 0 || x->def < 0 || x->def >= k ||
                tdm_numel(x) <= 0 || (base + off[j]) % TDM_ALIGN)
                continue;
            x->alias = root;
            x->alias_off = base + off[j];
            if (x->last_use > s->values[root].last_use) s->values[root].last_use = x->last_use;
        }
    }
}

/* ---- derived weights ---------------------------------------------------------------------------------------
 * An op with weight hooks (internal.h: Conv's Winograd U and packed 1x1 weights) may carry a slot input that graph.c
 * added empty. Each plan asks the op which form it wants at the plan's shapes: none (the session's copy of the node
 * drops the slot, which is always correct: an op never needs it), or a form, which the plan makes sure is in the slot,
 * computing it into a plan block when the slot holds nothing or another form.
 *
 * At load, a model whose inputs have static shapes (the batch aside) is planned once for shapes only (tdm_plan_settle):
 * the ops that take a form there get it in the model and, when nothing else reads them, lose their plain weights, so
 * the model holds one form of each weight instead of two. Should a later plan want the plain weights or another form
 * (Conv decides from the map size, which those shapes fix, so it does not today), the plan restores the plain weights
 * from the slot (weight_restore: Winograd's inverse is exact for the taps the transform copies, within a rounding of
 * the others) and makes the other form from them. */
static int has_weight_slot(const tdm_model *m, const tdm_node *n) {
    const tdm_op_hooks *h = tdm_node_hooks(n);
    if (!h->weight_form || n->n_in != h->slot_input + 1 || n->in[h->slot_input] < 0 || n->in[h->weight_input] < 0)
        return 0;
    const tdm_value *u = &m->values[n->in[h->slot_input]];
    return u->kind == TDM_V_CONST && u->derived;
}

/* A float block that lives as long as the plan, counted in its derived bytes; NULL on out of memory. */
static float *plan_block(tdm_session *s, size_t floats) {
    size_t bytes = floats * sizeof(float);
    void *block = tdm_malloc_aligned(&s->alloc, bytes ? bytes : 1);
    if (!block) return NULL;
    keep_folded(s, block);
    if (s->keep_failed) return NULL;
    s->derived_bytes += bytes;
    return block;
}

static tdm_status plan_weights(tdm_session *s, tdm_ctx *c, tdm_node *n, int folded) {
    const tdm_op_hooks *h = tdm_node_hooks(n);
    tdm_value *w = tdm_in(c, n, h->weight_input), *u = tdm_in(c, n, h->slot_input);
    n->n_in = h->slot_input; /* without the slot unless a form is there at the end */
    int form = folded ? 0 : h->weight_form(c, n); /* folding runs the plain op */
    if (w->kind != TDM_V_CONST || w->dtype != TDM_FLOAT) return TDM_OK;
    int have = u->data ? (int)u->dims[0] : 0;
    if (!w->data && have && form != have) { /* the plain weights, which the model dropped, for this plan */
        float *plain = plan_block(s, (size_t)tdm_numel(w));
        if (!plain) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory restoring the weights of %s '%s'", n->op_type,
                                     n->name);
        h->weight_restore(w, u->data, have, plain);
        w->data = plain;
    }
    if (!form) return TDM_OK;
    if (form != have) {
        if (!w->data) return TDM_OK;
        size_t floats = h->weight_floats(w, form), bytes = floats * sizeof(float);
        float *block;
        if (s->settling && !have) { /* load time: the form joins the model */
            block = tdm_malloc_aligned(c->alloc, bytes ? bytes : 1);
            if (!block) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory preparing the weights of %s '%s'",
                                         n->op_type, n->name);
        } else if (!(block = plan_block(s, floats)))
            return tdm_error(TDM_OUT_OF_MEMORY, "out of memory preparing the weights of %s '%s'", n->op_type, n->name);
        /* at load the plain weights leave the model after this if nothing else reads them, and may then go page by
         * page while they are read (only from the default allocator's blocks) */
        tdm_model *m = (tdm_model *)s->model;
        tdm_value *mw = &m->values[n->in[h->weight_input]];
        int leaves = s->settling && !have && mw->consumers == 1 && !mw->is_output;
        h->weight_make(w, w->data, form, block, leaves && !m->alloc.fn);
        u->dims[0] = form;
        if (s->settling && !have) { /* ... and the form joins the model */
            tdm_value *mu = &m->values[n->in[h->slot_input]];
            mu->data = block;
            mu->dims[0] = form;
            m->weights_bytes += TDM_PAD(bytes, TDM_ALIGN);
            if (leaves) {
                m->weights_bytes -= TDM_PAD((size_t)tdm_numel(mw) * sizeof(float), TDM_ALIGN);
                tdm_free_aligned(&m->alloc, mw->data);
                mw->data = NULL;
                w->data = NULL;
            }
        }
        u->data = block;
    }
    /* an op running on the slot reads only the plain weights' shape; a non-NULL pointer keeps its arithmetic defined */
    if (!w->data) w->data = u->data;
    n->n_in = h->slot_input + 1;
    return TDM_OK;
}

tdm_status tdm_plan(tdm_session *s) {
    const tdm_model *m = s->model;
    const tdm_alloc *a = &s->alloc;
    tdm_status st = TDM_OK;
    tdm_arena_plan pl;
    tdm_arena_init(&pl, a);
    tdm_plan_release(s);
    s->keep_failed = 0;
    s->values = tdm_malloc(a, (size_t)m->n_values * sizeof(tdm_value));
    s->nodes = tdm_malloc(a, (size_t)(m->n_nodes ? m->n_nodes : 1) * sizeof(tdm_node));
    s->exec = tdm_malloc(a, (size_t)(m->n_nodes ? m->n_nodes : 1) * sizeof(int));
    s->exec_pos = tdm_malloc(a, (size_t)m->n_values * sizeof(int));
    s->exec_uses = tdm_malloc(a, (size_t)m->n_values * sizeof(int));
    if (!s->values || !s->nodes || !s->exec || !s->exec_pos || !s->exec_uses) {
        st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
        goto fail;
    }
    memcpy(s->values, m->values, (size_t)m->n_values * sizeof(tdm_value));
    if (m->n_nodes) memcpy(s->nodes, m->nodes, (size_t)m->n_nodes * sizeof(tdm_node));
    for (int v = 0; v < m->n_values; v++) {
        tdm_value *x = &s->values[v];
        if (x->kind != TDM_V_CONST) {
            x->data = NULL;
            if (x->kind == TDM_V_ACT) x->rank = -1;
        }
        x->def = -1;
        x->last_use = -1;
        x->alias = -1;
        x->alias_off = 0;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        tdm_value *x = &s->values[m->inputs[i]];
        x->rank = s->in_rank[i];
        memcpy(x->dims, s->in_dims[i], sizeof x->dims);
        if (m->input_decides_shape[i]) { /* a plan-time constant (graph.c's analysis) */
            if (!s->in_value[i]) {
                const tdm_node *why = &m->nodes[m->input_shape_node[i]];
                st = tdm_error(TDM_INVALID_ARGUMENT, "input '%s' decides output shapes (through %s '%s'): set its "
                               "value before planning", x->name, why->op_type, why->name);
                goto fail;
            }
            x->kind = TDM_V_CONST;
            x->data = s->in_value[i];
        }
    }
    /* Shape inference in order; fold what became constant. */
    tdm_ctx c = {a, m->opset, s->values, m->n_values, NULL, s->pool}; /* shape() may size scratch per thread */
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *n = &s->nodes[i];
        int all_const = 1;
        for (int j = 0; j < n->n_in; j++) {
            tdm_value *x = tdm_in(&c, n, j);
            if (!x) continue;
            if (x->rank < 0) {
                st = tdm_node_error(n, TDM_INTERNAL, "input '%s' has no shape", x->name);
                goto fail;
            }
            if (x->kind != TDM_V_CONST) all_const = 0;
        }
        n->workspace = 0;
        n->macs = 0;
        if (has_weight_slot(m, n) && (st = plan_weights(s, &c, n, all_const))) goto fail;
        if (all_const || (n->op->flags & TDM_OPF_SHAPE_ONLY)) {
            st = tdm_fold_node(&c, n, keep_folded, s);
            if (!st && s->keep_failed) st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
            if (st) goto fail;
            continue;
        }
        if ((st = n->op->shape(&c, n))) goto fail;
        for (int j = 0; j < n->n_out; j++) {
            tdm_value *o = tdm_out(&c, n, j);
            if (o && (o->rank < 0 || tdm_dtype_size(o->dtype) == 0)) {
                st = tdm_node_error(n, TDM_INTERNAL, "output %d has no shape or type after inference", j);
                goto fail;
            }
        }
        s->exec[s->n_exec++] = i;
    }
    if (s->settling) return TDM_OK; /* shapes were all tdm_plan_settle wanted */
    if (s->optimize) fuse_residuals(s);
    /* Lifetimes over exec positions. Graph inputs and outputs are pinned for the whole run. */
    for (int k = 0; k < s->n_exec; k++) {
        tdm_node *n = &s->nodes[s->exec[k]];
        for (int j = 0; j < node_nin(n); j++)
            if (node_in(n, j) >= 0) s->values[node_in(n, j)].last_use = k;
        for (int j = 0; j < n->n_out; j++) {
            int id = node_out(n, j);
            if (id >= 0) {
                s->values[id].def = k;
                if (s->values[id].last_use < k) s->values[id].last_use = k;
            }
        }
    }
    if (s->optimize) alias_inputs(s, &c);
    /* Placement: inputs first, then each exec node's outputs, freeing values after their last use. A value that is a
     * slice of another (alias) is placed inside it, which is placed when its first slice is made. */
    for (int v = 0; v < m->n_values; v++) s->values[v].offset = SIZE_MAX; /* not placed */
    for (int i = 0; i < m->n_inputs; i++) {
        tdm_value *x = &s->values[m->inputs[i]];
        if (x->kind == TDM_V_INPUT) x->offset = tdm_arena_place(&pl, value_bytes(x));
    }
    for (int k = 0; k < s->n_exec; k++) {
        tdm_node *n = &s->nodes[s->exec[k]];
        for (int j = 0; j < n->n_out; j++) {
            int id = node_out(n, j);
            tdm_value *x = id >= 0 ? &s->values[id] : NULL;
            if (!x || x->kind != TDM_V_ACT) continue;
            tdm_value *home = x->alias >= 0 ? &s->values[x->alias] : x;
            if (home->offset == SIZE_MAX) home->offset = tdm_arena_place(&pl, value_bytes(home));
            if (home != x) x->offset = home->offset + x->alias_off;
        }
        if (n->workspace > s->workspace_bytes) s->workspace_bytes = n->workspace;
        for (int j = 0; j < node_nin(n) + n->n_out; j++) {
            int id = j < node_nin(n) ? node_in(n, j) : node_out(n, j - node_nin(n));
            if (id < 0) continue;
            if (s->values[id].alias >= 0) id = s->values[id].alias; /* a slice lives as long as its home */
            tdm_value *x = &s->values[id];
            if (x->kind != TDM_V_ACT || x->is_output || x->last_use != k) continue;
            x->last_use = -2; /* released once even if listed twice */
            if (tdm_arena_release(&pl, x->offset, value_bytes(x)) < 0) {
                st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
                goto fail;
            }
        }
    }
    if (s->profile && s->n_exec && !(s->node_ms = tdm_calloc(a, 2 * (size_t)s->n_exec, sizeof(double)))) {
        st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
        goto fail;
    }
    s->arena_bytes = pl.end;
    s->arena = tdm_malloc_aligned(a, s->arena_bytes ? s->arena_bytes : 1);
    s->workspace = s->workspace_bytes ? tdm_malloc_aligned(a, s->workspace_bytes) : NULL;
    if (!s->arena || (s->workspace_bytes && !s->workspace)) {
        st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory: the arena needs %zu bytes", s->arena_bytes);
        goto fail;
    }
    for (int v = 0; v < m->n_values; v++) {
        tdm_value *x = &s->values[v];
        if (x->kind != TDM_V_CONST && x->rank >= 0 && (x->def >= 0 || x->kind == TDM_V_INPUT))
            x->data = (char *)s->arena + x->offset;
    }
    /* The arena is not cleared: every op writes all of its outputs, and pages are touched by the first run instead of
     * by planning (a 64-image MobileNetV2 plan is 60 MB). Sanitizer builds fill it with NaN bits instead, so that an
     * op that leaves part of an output unwritten fails the goldens and the conformance tests. */
#if defined(__SANITIZE_ADDRESS__)
    memset(s->arena, 0xff, s->arena_bytes);
#endif
    for (int i = 0; i < m->n_inputs; i++) /* data given before the plan could be made (session.c) */
        if (s->pending[i]) {
            tdm_value *x = &s->values[m->inputs[i]];
            memcpy(x->data, s->pending[i], s->pending_bytes[i]);
            tdm_free_aligned(a, s->pending[i]);
            s->pending[i] = NULL;
        }
    tdm_arena_free(&pl);
    s->planned = 1;
    s->plans++;
    return TDM_OK;
fail:
    tdm_arena_free(&pl);
    tdm_plan_release(s);
    return st;
}


/* See "derived weights" above: plan the model once for shapes only, at batch 1, when its inputs fix everything but the
 * batch. Inputs that decide shapes would need their values, so such models keep their empty slots. */
tdm_status tdm_plan_settle(tdm_model *m) {
    int slots = 0;
    for (int i = 0; i < m->n_nodes; i++) slots += has_weight_slot(m, &m->nodes[i]);
    if (!slots) return TDM_OK;
    for (int i = 0; i < m->n_inputs; i++) {
        const tdm_value *v = &m->values[m->inputs[i]];
        if (v->rank < 1 || m->input_decides_shape[i]) return TDM_OK;
        for (int d = 1; d < v->rank; d++)
            if (v->dims[d] < 0) return TDM_OK;
    }
    tdm_session *s;
    tdm_session_options so = {1, 0};
    tdm_status st = tdm_session_create(m, &so, &s);
    if (st) return st;
    s->settling = 1;
    st = tdm_plan(s);
    tdm_session_free(s);
    /* out of memory fails the load; any other failure is left for a real plan to report */
    return st == TDM_OUT_OF_MEMORY ? st : TDM_OK;
}
