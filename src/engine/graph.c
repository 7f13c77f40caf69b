/* graph.c - load-time graph preparation: Constant nodes become constants, op lookup and attribute checks, topological
 * order, Identity/Dropout removal, constant folding, BatchNormalization folded into Conv, activation epilogue fusion,
 * Winograd weight slots, dead-node removal, and the release of constants nothing uses.
 *
 * Memory: every constant keeps the block it was decoded or computed into (no compaction copy), and a pass frees a
 * constant's data as soon as the last node reading it is gone, so the peak of a load is the live constants plus one
 * layer's worth of transients, not twice the weights. */
#include <math.h>
#include <stdio.h>

#include "model.h"

static void attr_free(const tdm_alloc *a, tdm_attr *at) {
    tdm_free(a, at->name);
    tdm_free(a, at->s);
    tdm_free(a, at->floats);
    tdm_free(a, at->ints);
    if (at->t) {
        tdm_free(a, at->t->name);
        tdm_free_aligned(a, at->t->data);
        tdm_free(a, at->t);
    }
}

void tdm_node_release(const tdm_alloc *a, tdm_node *n) {
    tdm_free(a, n->name);
    tdm_free(a, n->op_type);
    tdm_free(a, n->in);
    tdm_free(a, n->out);
    for (int i = 0; i < n->n_attr; i++) attr_free(a, &n->attr[i]);
    tdm_free(a, n->attr);
    tdm_free(a, n->params);
    memset(n, 0, sizeof *n);
}

static tdm_ctx model_ctx(tdm_model *m) {
    tdm_ctx c = {&m->alloc, m->opset, m->values, m->n_values, NULL, NULL};
    return c;
}

/* Drop nodes whose op_type was cleared (marked dead by a pass), keeping order. */
static void compact_nodes(tdm_model *m) {
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        if (m->nodes[i].op_type) m->nodes[k++] = m->nodes[i];
    }
    m->n_nodes = k;
}

static void kill_node(tdm_model *m, tdm_node *n) { tdm_node_release(&m->alloc, n); }

/* Count how many node input slots (plus graph outputs) use each value. */
static void count_consumers(tdm_model *m) {
    for (int v = 0; v < m->n_values; v++) m->values[v].consumers = m->values[v].is_output ? 1 : 0;
    for (int i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++)
            if (m->nodes[i].in[j] >= 0) m->values[m->nodes[i].in[j]].consumers++;
}

/* Free the data of constants no node input (and no graph output) refers to any more. */
static void free_dead_constants(tdm_model *m) {
    count_consumers(m);
    for (int v = 0; v < m->n_values; v++) {
        tdm_value *x = &m->values[v];
        if (x->kind == TDM_V_CONST && !x->consumers && x->data) {
            tdm_free_aligned(&m->alloc, x->data);
            x->data = NULL;
        }
    }
}

/* Replace every use of value `from` by `to` in node inputs. */
static void rewire(tdm_model *m, int from, int to) {
    for (int i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++)
            if (m->nodes[i].in[j] == from) m->nodes[i].in[j] = to;
}

/* Constant node -> constant value (value, value_float(s), value_int(s)). */
static tdm_status constant_to_value(tdm_model *m, tdm_node *n) {
    if (n->n_out != 1 || n->out[0] < 0) return tdm_node_error(n, TDM_INVALID_MODEL, "needs exactly one output");
    if (n->n_attr != 1) return tdm_node_error(n, TDM_INVALID_MODEL, "needs exactly one value attribute");
    tdm_attr *a = &n->attr[0];
    tdm_value *v = &m->values[n->out[0]];
    int64_t dims[1] = {0};
    size_t bytes;
    void *data;
    tdm_dtype dt;
    int rank;
    if (strcmp(a->name, "value") == 0 && a->type == TDM_ATTR_TENSOR) {
        v->kind = TDM_V_CONST;
        v->dtype = a->t->dtype;
        v->rank = a->t->rank;
        memcpy(v->dims, a->t->dims, sizeof v->dims);
        v->data = a->t->data;
        a->t->data = NULL;
        return TDM_OK;
    }
    if (strcmp(a->name, "value_float") == 0 && a->type == TDM_ATTR_FLOAT) {
        dt = TDM_FLOAT, rank = 0, bytes = 4;
    } else if (strcmp(a->name, "value_int") == 0 && a->type == TDM_ATTR_INT) {
        dt = TDM_INT64, rank = 0, bytes = 8;
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == TDM_ATTR_FLOATS) {
        dt = TDM_FLOAT, rank = 1, dims[0] = a->n, bytes = 4 * (size_t)a->n;
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == TDM_ATTR_INTS) {
        dt = TDM_INT64, rank = 1, dims[0] = a->n, bytes = 8 * (size_t)a->n;
    } else {
        return tdm_node_error(n, TDM_UNSUPPORTED, "attribute '%s' is not supported", a->name);
    }
    data = tdm_malloc_aligned(&m->alloc, bytes ? bytes : 1);
    if (!data) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (rank == 0) memcpy(data, dt == TDM_FLOAT ? (void *)&a->f : (void *)&a->i, bytes);
    else if (bytes) memcpy(data, dt == TDM_FLOAT ? (void *)a->floats : (void *)a->ints, bytes);
    v->kind = TDM_V_CONST;
    v->dtype = dt;
    v->rank = rank;
    v->dims[0] = dims[0];
    v->data = data;
    return TDM_OK;
}

/* Kahn's algorithm over value producers. A cycle, or a node that uses its own output, is an invalid model. */
static tdm_status topo_sort(tdm_model *m) {
    int nn = m->n_nodes;
    if (nn == 0) return TDM_OK;
    const tdm_alloc *a = &m->alloc;
    int *producer = tdm_malloc(a, (size_t)m->n_values * sizeof(int));
    int *indeg = tdm_calloc(a, (size_t)nn, sizeof(int));
    int *order = tdm_malloc(a, (size_t)nn * sizeof(int));
    tdm_node *sorted = tdm_malloc(a, (size_t)nn * sizeof(tdm_node));
    tdm_status st = TDM_OK;
    if (!producer || !indeg || !order || !sorted) {
        st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    for (int v = 0; v < m->n_values; v++) producer[v] = -1;
    for (int i = 0; i < nn; i++)
        for (int j = 0; j < m->nodes[i].n_out; j++)
            if (m->nodes[i].out[j] >= 0) producer[m->nodes[i].out[j]] = i;
    for (int i = 0; i < nn; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++)
            if (m->nodes[i].in[j] >= 0 && producer[m->nodes[i].in[j]] >= 0) indeg[i]++;
    /* Stable: repeatedly take ready nodes in file order (O(n^2) worst case, fine for a few thousand nodes). */
    int done = 0;
    char *taken = (char *)sorted; /* reuse as a flag array until the final copy: sorted has >= nn bytes */
    memset(taken, 0, (size_t)nn);
    while (done < nn) {
        int progressed = 0;
        for (int i = 0; i < nn; i++) {
            if (taken[i] || indeg[i]) continue;
            taken[i] = 1;
            order[done++] = i;
            progressed = 1;
            for (int j = 0; j < m->nodes[i].n_out; j++) {
                int v = m->nodes[i].out[j];
                if (v < 0) continue;
                for (int k = 0; k < nn; k++)
                    for (int q = 0; q < m->nodes[k].n_in; q++)
                        if (m->nodes[k].in[q] == v) indeg[k]--;
            }
        }
        if (!progressed) {
            for (int i = 0; i < nn; i++)
                if (!taken[i]) {
                    st = tdm_node_error(&m->nodes[i], TDM_INVALID_MODEL, "the graph has a cycle through this node");
                    break;
                }
            goto out;
        }
    }
    for (int i = 0; i < nn; i++) sorted[i] = m->nodes[order[i]];
    memcpy(m->nodes, sorted, (size_t)nn * sizeof(tdm_node));
out:
    tdm_free(a, producer);
    tdm_free(a, indeg);
    tdm_free(a, order);
    tdm_free(a, sorted);
    return st;
}

tdm_status tdm_fold_node(tdm_ctx *c, tdm_node *n, void (*keep)(void *ud, void *block), void *ud) {
    tdm_status st = n->op->shape(c, n);
    if (st) return st;
    void *ws = NULL;
    for (int j = 0; j < n->n_out; j++) {
        tdm_value *o = tdm_out(c, n, j);
        if (!o) continue;
        size_t bytes = (size_t)tdm_numel(o) * tdm_dtype_size(o->dtype);
        o->data = tdm_malloc_aligned(c->alloc, bytes ? bytes : 1);
        if (!o->data) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory folding %s '%s'", n->op_type, n->name);
        o->kind = TDM_V_CONST;
        if (keep) keep(ud, o->data);
    }
    if (n->workspace) {
        ws = tdm_malloc_aligned(c->alloc, n->workspace);
        if (!ws) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory folding %s '%s'", n->op_type, n->name);
    }
    void *saved_ws = c->workspace;
    tdm_pool *saved_pool = c->pool;
    c->workspace = ws;
    c->pool = NULL;
    st = n->op->run(c, n);
    c->workspace = saved_ws;
    c->pool = saved_pool;
    tdm_free_aligned(c->alloc, ws);
    return st;
}

static int all_inputs_const(const tdm_model *m, const tdm_node *n) {
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && m->values[n->in[j]].kind != TDM_V_CONST) return 0;
    return 1;
}

/* Fold what is constant at load time. Shape-only ops need input shapes, which are known only for constants here. */
static tdm_status fold_constants(tdm_model *m) {
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *n = &m->nodes[i];
        if (!all_inputs_const(m, n) || n->n_in == 0) continue;
        tdm_ctx c = model_ctx(m);
        tdm_status st = tdm_fold_node(&c, n, NULL, NULL);
        if (st) return st;
        kill_node(m, n);
    }
    compact_nodes(m);
    return TDM_OK;
}

/* Nodes that forward their input at inference (Identity, most Dropouts: their hooks say) are removed by rewiring
 * their readers to the input. */
static void remove_identities(tdm_model *m) {
    count_consumers(m);
    tdm_ctx c = model_ctx(m);
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *n = &m->nodes[i];
        const tdm_op_hooks *h = tdm_node_hooks(n);
        if (!h->forwards || !h->forwards(&c, n)) continue;
        if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0) continue;
        int from = n->out[0], to = n->in[0];
        if (m->values[from].is_output) continue; /* keep as a copy: the graph output needs its own name */
        rewire(m, from, to);
        kill_node(m, n);
    }
    compact_nodes(m);
}

/* The node that produces value v, or NULL. */
static tdm_node *producer_of(tdm_model *m, int v) {
    for (int i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_out; j++)
            if (m->nodes[i].out[j] == v) return &m->nodes[i];
    return NULL;
}

static const float *const_f32(const tdm_model *m, const tdm_node *n, int i, int64_t numel) {
    if (i >= n->n_in || n->in[i] < 0) return NULL;
    const tdm_value *v = &m->values[n->in[i]];
    if (v->kind != TDM_V_CONST || v->dtype != TDM_FLOAT || tdm_numel(v) != numel) return NULL;
    return v->data;
}

/* New float constant of the given shape; returns its id or -1. */
static int new_const(tdm_model *m, const char *base, const char *suffix, int rank, const int64_t *dims) {
    char name[256];
    snprintf(name, sizeof name, "%.200s%s", base, suffix);
    int id = tdm_model_add_value(m, name);
    if (id < 0) return -1;
    tdm_value *v = &m->values[id];
    int64_t k = 1;
    for (int i = 0; i < rank; i++) k *= dims[i];
    v->data = tdm_malloc_aligned(&m->alloc, (size_t)(k ? k : 1) * 4);
    if (!v->data) return -1;
    v->kind = TDM_V_CONST;
    tdm_set_shape(v, TDM_FLOAT, rank, dims);
    return id;
}

/* Conv -> BatchNormalization with constant parameters: scale the weights and bias, drop the BN. */
static tdm_status fold_batchnorm(tdm_model *m) {
    count_consumers(m);
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *bn = &m->nodes[i];
        if (!bn->op || bn->op->id != TDM_OP_BatchNormalization || bn->n_in != 5 || bn->in[0] < 0) continue;
        if (bn->n_out > 1) {
            int extra = 0;
            for (int j = 1; j < bn->n_out; j++) extra |= bn->out[j] >= 0;
            if (extra) continue;
        }
        int64_t spatial = 1, training = 0;
        tdm_attr_int(bn, "spatial", 1, &spatial);
        tdm_attr_int(bn, "training_mode", 0, &training);
        if (!spatial || training) continue;
        float eps;
        if (tdm_attr_float(bn, "epsilon", 1e-5f, &eps)) continue;
        int x = bn->in[0];
        if (m->values[x].consumers != 1 || m->values[x].is_output) continue;
        tdm_node *cv = producer_of(m, x);
        if (!cv || cv->op->id != TDM_OP_Conv || cv->act != TDM_ACT_NONE || cv->n_in < 2) continue;
        const tdm_value *w = cv->in[1] >= 0 ? &m->values[cv->in[1]] : NULL;
        if (!w || w->kind != TDM_V_CONST || w->dtype != TDM_FLOAT || w->rank < 3) continue;
        int64_t M = w->dims[0], per = tdm_numel(w) / (M ? M : 1);
        const float *scale = const_f32(m, bn, 1, M), *beta = const_f32(m, bn, 2, M);
        const float *mean = const_f32(m, bn, 3, M), *var = const_f32(m, bn, 4, M);
        const float *bias = cv->n_in > 2 && cv->in[2] >= 0 ? const_f32(m, cv, 2, M) : NULL;
        if (!scale || !beta || !mean || !var || (cv->n_in > 2 && cv->in[2] >= 0 && !bias)) continue;
        /* The weights are scaled in place when this Conv is their only reader (the common case: no copy, no fresh
         * pages), else into a new constant; the bias is always a new one (M floats). */
        int in_place = m->values[cv->in[1]].consumers == 1 && !m->values[cv->in[1]].is_output;
        int wid = in_place ? cv->in[1] : new_const(m, m->values[cv->in[1]].name, "_bnfold", w->rank, w->dims);
        int64_t bd[1] = {M};
        int bid = wid >= 0 ? new_const(m, m->values[cv->in[1]].name, "_bnbias", 1, bd) : -1;
        if (wid < 0 || bid < 0) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory folding BatchNormalization");
        /* m->values may have moved: re-read everything through indices */
        const float *W = m->values[cv->in[1]].data;
        scale = const_f32(m, bn, 1, M), beta = const_f32(m, bn, 2, M);
        mean = const_f32(m, bn, 3, M), var = const_f32(m, bn, 4, M);
        bias = cv->n_in > 2 && cv->in[2] >= 0 ? const_f32(m, cv, 2, M) : NULL;
        float *W2 = m->values[wid].data, *B2 = m->values[bid].data;
        for (int64_t o = 0; o < M; o++) {
            double s = scale[o] / sqrt((double)var[o] + eps);
            for (int64_t k = 0; k < per; k++) W2[o * per + k] = (float)(W[o * per + k] * s);
            B2[o] = (float)(((bias ? bias[o] : 0.0) - mean[o]) * s + beta[o]);
        }
        if (cv->n_in < 3) {
            int *ni = tdm_realloc(&m->alloc, cv->in, 3 * sizeof(int));
            if (!ni) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
            cv->in = ni;
            cv->n_in = 3;
        }
        cv->in[1] = wid;
        cv->in[2] = bid;
        cv->out[0] = bn->out[0];
        kill_node(m, bn);
        free_dead_constants(m); /* the unscaled weights, now unused: the peak grows by one layer, not the model */
    }
    compact_nodes(m);
    return TDM_OK;
}

/* Fold an activation (an op whose hooks say it is one) into the epilogue of the op that produces its input, when that
 * op supports it. */
static void fuse_activations(tdm_model *m) {
    count_consumers(m);
    tdm_ctx c = model_ctx(m);
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *a = &m->nodes[i];
        if (!a->op_type || a->n_in < 1 || a->in[0] < 0 || a->n_out != 1 || a->out[0] < 0) continue;
        const tdm_op_hooks *h = tdm_node_hooks(a);
        int act;
        float alpha, beta;
        if (!h->as_act || !h->as_act(&c, a, &act, &alpha, &beta)) continue;
        int x = a->in[0];
        if (m->values[x].consumers != 1 || m->values[x].is_output) continue;
        tdm_node *p = producer_of(m, x);
        if (!p || !p->op || !(p->op->flags & TDM_OPF_FUSE_ACT) || p->act != TDM_ACT_NONE || p->out[0] != x) continue;
        p->act = act;
        p->act_alpha = alpha;
        p->act_beta = beta;
        p->out[0] = a->out[0];
        kill_node(m, a);
        count_consumers(m);
    }
    compact_nodes(m);
}

/* Mul(x, Sigmoid(x)) is SiLU, and Mul(x, HardSigmoid(x)) with alpha 1/6 and beta 1/2 is HardSwish: exporters write
 * them as two ops (torch.onnx at opset 13 does, for EfficientNet's and MobileNetV3's activations), two passes over
 * the tensor where one would do. The pair becomes an activation fused into x's producer when that op takes one;
 * otherwise the HardSwish pair becomes one HardSwish node (SiLU has no ONNX op of its own and stays a pair). */
static tdm_status fuse_gated_activations(tdm_model *m) {
    count_consumers(m);
    tdm_ctx c = model_ctx(m);
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *mul = &m->nodes[i];
        if (!mul->op_type || mul->op->id != TDM_OP_Mul || mul->n_in != 2 || mul->n_out != 1 || mul->out[0] < 0 ||
            mul->act != TDM_ACT_NONE)
            continue;
        for (int side = 0; side < 2; side++) {
            int g = mul->in[side], x = mul->in[1 - side];
            tdm_node *gate = g >= 0 ? producer_of(m, g) : NULL;
            if (!gate || gate->n_in < 1 || gate->in[0] != x || m->values[g].consumers != 1 || m->values[g].is_output)
                continue;
            int act = TDM_ACT_NONE;
            float alpha = 0, beta = 0;
            if (gate->op->id == TDM_OP_Sigmoid) act = TDM_ACT_SILU;
            else if (gate->op->id == TDM_OP_HardSigmoid && !tdm_attr_float(gate, "alpha", 0.2f, &alpha) &&
                     !tdm_attr_float(gate, "beta", 0.5f, &beta) && fabsf(alpha - 1.0f / 6.0f) < 1e-6f && beta == 0.5f)
                act = TDM_ACT_HARD_SWISH;
            if (act == TDM_ACT_NONE) continue;
            tdm_node *p = producer_of(m, x);
            if (p && (p->op->flags & TDM_OPF_FUSE_ACT) && p->act == TDM_ACT_NONE && p->out[0] == x &&
                m->values[x].consumers == 2 && !m->values[x].is_output) {
                p->act = act;
                p->act_alpha = p->act_beta = 0;
                p->out[0] = mul->out[0];
                kill_node(m, gate);
                kill_node(m, mul);
            } else if (act == TDM_ACT_HARD_SWISH) { /* the gate becomes HardSwish(x), writing the Mul's output */
                char *ty = tdm_strdup(&m->alloc, "HardSwish", 9);
                if (!ty) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
                tdm_free(&m->alloc, gate->op_type);
                gate->op_type = ty;
                for (int k = 0; k < gate->n_attr; k++) attr_free(&m->alloc, &gate->attr[k]);
                tdm_free(&m->alloc, gate->attr);
                tdm_free(&m->alloc, gate->params);
                gate->attr = NULL, gate->n_attr = 0, gate->params = NULL;
                gate->op = tdm_op_find("HardSwish");
                tdm_status st = gate->op->check(&c, gate);
                if (st) return st;
                gate->out[0] = mul->out[0];
                kill_node(m, mul);
            } else
                continue;
            count_consumers(m);
            break;
        }
    }
    compact_nodes(m);
    return TDM_OK;
}

/* graph_env.add_slot: a new empty derived constant (data NULL, `derived`) named after the weights, wired in as input
 * `input` of n (the inputs in between, if any, absent). */
static int env_add_slot(tdm_graph_env *e, tdm_node *n, int input, const char *suffix, int rank, const int64_t *dims) {
    tdm_model *m = e->model;
    const tdm_op_hooks *h = tdm_node_hooks(n);
    char name[256];
    snprintf(name, sizeof name, "%.200s%s", m->values[n->in[h->weight_input]].name, suffix);
    int uid = tdm_model_add_value(m, name);
    if (uid < 0) return -1;
    e->ctx->values = m->values; /* the table may have moved */
    tdm_value *u = &m->values[uid];
    u->kind = TDM_V_CONST;
    u->derived = 1;
    tdm_set_shape(u, TDM_FLOAT, rank, dims);
    if (input >= n->n_in) {
        int *ni = tdm_realloc(&m->alloc, n->in, (size_t)(input + 1) * sizeof(int));
        if (!ni) return -1;
        n->in = ni;
        for (int j = n->n_in; j < input; j++) n->in[j] = -1;
        n->n_in = input + 1;
    }
    n->in[input] = uid;
    return 0;
}

/* Ops that keep a derived form of their weights (Conv: Winograd's U, 1x1 weights packed for the GEMM) get an empty
 * slot for it now; each plan fills it for the form it picks, or drops it (session.c). */
static tdm_status add_weight_slots(tdm_model *m) {
    tdm_ctx c = model_ctx(m);
    tdm_graph_env env = {&c, env_add_slot, m};
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *n = &m->nodes[i];
        const tdm_op_hooks *h = tdm_node_hooks(n);
        tdm_status st;
        if (h->weight_slot && (st = h->weight_slot(&env, n))) return st;
    }
    return TDM_OK;
}

/* Drop nodes none of whose outputs is used (repeat until nothing changes). */
static void remove_dead(tdm_model *m) {
    for (int changed = 1; changed;) {
        changed = 0;
        count_consumers(m);
        for (int i = m->n_nodes - 1; i >= 0; i--) {
            tdm_node *n = &m->nodes[i];
            int used = 0;
            for (int j = 0; j < n->n_out; j++) used |= n->out[j] >= 0 && m->values[n->out[j]].consumers > 0;
            if (!used) {
                for (int j = 0; j < n->n_in; j++)
                    if (n->in[j] >= 0) m->values[n->in[j]].consumers--;
                kill_node(m, n);
                changed = 1;
            }
        }
        compact_nodes(m);
    }
}

/* Free the constants nothing uses and total the rest: every constant keeps its own aligned block. */
static void finish_weights(tdm_model *m) {
    free_dead_constants(m);
    m->weights_bytes = 0;
    m->params = 0;
    for (int v = 0; v < m->n_values; v++) {
        const tdm_value *x = &m->values[v];
        if (x->kind != TDM_V_CONST || !x->data) continue; /* dead, or a Winograd slot a plan fills */
        size_t b = (size_t)tdm_numel(x) * tdm_dtype_size(x->dtype);
        m->weights_bytes += (b + TDM_ALIGN - 1) & ~(size_t)(TDM_ALIGN - 1);
        if (x->dtype == TDM_FLOAT && !x->derived) m->params += tdm_numel(x);
    }
}

/* Which graph inputs decide shapes (tandem.h, tdm_model_input_decides_shape). Walking the nodes backwards, a value is
 * needed at plan time when an op reads it as a shape operand (the op table's shape_inputs: Reshape's shape, Slice's
 * starts, ...), or when it feeds a node one of whose outputs is needed, since that output's contents come from it,
 * except through ops that read only their inputs' shapes (Shape, Size). The graph inputs so marked are plan-time
 * constants; every other input is data. need[v] holds 1 + the index of a node that needs v, for messages. */
static tdm_status find_shape_inputs(tdm_model *m) {
    const tdm_alloc *a = &m->alloc;
    int ni = m->n_inputs ? m->n_inputs : 1;
    int *need = tdm_calloc(a, (size_t)(m->n_values ? m->n_values : 1), sizeof(int));
    m->input_decides_shape = tdm_calloc(a, (size_t)ni, sizeof(int));
    m->input_shape_node = tdm_calloc(a, (size_t)ni, sizeof(int));
    if (!need || !m->input_decides_shape || !m->input_shape_node) {
        tdm_free(a, need);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        const tdm_node *n = &m->nodes[i];
        int by = 0; /* 1 + the node that needs one of n's outputs */
        for (int j = 0; j < n->n_out && !by; j++)
            if (n->out[j] >= 0) by = need[n->out[j]];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || need[v]) continue;
            if (j < 32 && (n->op->shape_inputs >> j) & 1) need[v] = i + 1;
            else if (by && !(n->op->flags & TDM_OPF_SHAPE_ONLY)) need[v] = by;
        }
    }
    for (int k = 0; k < m->n_inputs; k++) {
        int v = m->inputs[k];
        m->input_decides_shape[k] = need[v] != 0;
        m->input_shape_node[k] = need[v] ? need[v] - 1 : -1;
    }
    tdm_free(a, need);
    return TDM_OK;
}

/* For integer data inputs: the rows of the constant table they index (token ids into an embedding), followed from
 * the input through ops that keep values (Cast, Reshape, Squeeze, Unsqueeze, Flatten) to Gather's indices. */
static tdm_status find_index_limits(tdm_model *m) {
    const tdm_alloc *a = &m->alloc;
    int *from = tdm_malloc(a, (size_t)(m->n_values ? m->n_values : 1) * sizeof(int)); /* the input a value carries */
    m->input_index_hi = tdm_calloc(a, (size_t)(m->n_inputs ? m->n_inputs : 1), sizeof(int64_t));
    if (!from || !m->input_index_hi) {
        tdm_free(a, from);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    for (int v = 0; v < m->n_values; v++) from[v] = -1;
    for (int k = 0; k < m->n_inputs; k++) {
        const tdm_value *x = &m->values[m->inputs[k]];
        if (!m->input_decides_shape[k] && (x->dtype == TDM_INT64 || x->dtype == TDM_INT32)) from[m->inputs[k]] = k;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const tdm_node *n = &m->nodes[i];
        int k = n->n_in > 0 && n->in[0] >= 0 ? from[n->in[0]] : -1;
        switch (n->op->id) {
        case TDM_OP_Cast: case TDM_OP_Reshape: case TDM_OP_Squeeze: case TDM_OP_Unsqueeze: case TDM_OP_Flatten:
            if (k >= 0 && n->n_out > 0 && n->out[0] >= 0) from[n->out[0]] = k;
            break;
        case TDM_OP_Gather: {
            k = n->n_in > 1 && n->in[1] >= 0 ? from[n->in[1]] : -1;
            const tdm_value *t = n->in[0] >= 0 ? &m->values[n->in[0]] : NULL;
            int64_t axis = 0;
            if (k < 0 || !t || t->kind != TDM_V_CONST || t->rank < 1 || tdm_attr_int(n, "axis", 0, &axis)) break;
            int ax = tdm_axis(axis, t->rank);
            if (ax < 0) break;
            int64_t rows = t->dims[ax];
            if (!m->input_index_hi[k] || rows < m->input_index_hi[k]) m->input_index_hi[k] = rows;
            break;
        }
        default: break;
        }
    }
    tdm_free(a, from);
    return TDM_OK;
}

tdm_status tdm_graph_prepare(tdm_model *m, int optimize) {
    tdm_status st;
    /* Constants first, then look every op up and check its attributes. */
    for (int i = 0; i < m->n_nodes; i++) {
        tdm_node *n = &m->nodes[i];
        n->op = tdm_op_find(n->op_type);
        if (n->op && n->op->id == TDM_OP_Constant) {
            if ((st = constant_to_value(m, n))) return st;
            kill_node(m, n);
            continue;
        }
        if (!m->has_opset && m->ir_version >= 3)
            return tdm_node_error(n, TDM_INVALID_MODEL, "the model has no opset_import for the default domain");
        if (!n->op || (n->op->flags & TDM_OPF_INTERNAL))
            return tdm_node_error(n, TDM_UNSUPPORTED, "op '%s' is not supported by tandem", n->op_type);
        tdm_ctx c = model_ctx(m);
        if ((st = n->op->check(&c, n))) return st;
    }
    compact_nodes(m);
    if ((st = topo_sort(m))) return st;
    remove_identities(m);
    if ((st = fold_constants(m))) return st;
    free_dead_constants(m);
    if (optimize) {
        if ((st = tdm_fuse_pads(m))) return st;       /* fuse.c: before BatchNorm folding, which wants Conv shapes */
        if ((st = fold_batchnorm(m))) return st;
        if ((st = tdm_fuse_transformer(m))) return st; /* fuse.c: LayerNorm, GELU, attention, dense biases */
        if ((st = fuse_gated_activations(m))) return st;
        fuse_activations(m);
        if ((st = add_weight_slots(m))) return st;
    }
    remove_dead(m);
    finish_weights(m);
    if ((st = find_shape_inputs(m))) return st;
    return find_index_limits(m);
}

/* ---- the graph helpers the transformer fusions use (fuse.c) --------------------------------------------------------- */

void tdm_graph_count_consumers(tdm_model *m) { count_consumers(m); }
tdm_node *tdm_graph_producer(tdm_model *m, int v) { return producer_of(m, v); }
void tdm_graph_kill(tdm_model *m, tdm_node *n) { kill_node(m, n); }
void tdm_graph_compact(tdm_model *m) { compact_nodes(m); }

tdm_status tdm_graph_retype(tdm_model *m, tdm_node *n, const char *op_type, int n_in, const int *in, int n_attr,
                            tdm_attr *attrs) {
    const tdm_alloc *a = &m->alloc;
    char *ty = tdm_strdup(a, op_type, strlen(op_type));
    int *ni = tdm_malloc(a, (size_t)(n_in ? n_in : 1) * sizeof(int));
    if (!ty || !ni) {
        tdm_free(a, ty);
        tdm_free(a, ni);
        for (int k = 0; k < n_attr; k++) attr_free(a, &attrs[k]);
        tdm_free(a, attrs);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(ni, in, (size_t)n_in * sizeof(int));
    tdm_free(a, n->op_type);
    tdm_free(a, n->in);
    for (int k = 0; k < n->n_attr; k++) attr_free(a, &n->attr[k]);
    tdm_free(a, n->attr);
    tdm_free(a, n->params);
    n->op_type = ty;
    n->in = ni;
    n->n_in = n_in;
    n->attr = attrs;
    n->n_attr = n_attr;
    n->params = NULL;
    n->op = tdm_op_find(op_type);
    if (!n->op) return tdm_node_error(n, TDM_INTERNAL, "no op '%s' to fuse into", op_type);
    tdm_ctx c = model_ctx(m);
    return n->op->check(&c, n);
}
