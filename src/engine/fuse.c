/* fuse.c - load-time fusions: the patterns exporters write become the ops tandem runs fast. Called by graph.c after
 * constant folding: tdm_fuse_pads before BatchNorm folding (Pad into Conv and AveragePool, below), then
 * tdm_fuse_transformer after it and before the activation fusion (which then puts a Gelu into the dense layer before
 * it):
 *   LayerNorm:  ReduceMean, Sub, Pow (or Mul by itself), ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta over the
 *               last axis (torch.onnx before opset 17) -> LayerNormalization.
 *   GELU:       a chain of element-wise ops on one tensor x and scalar constants (Add, Sub, Mul, Div, Pow, Sqrt, Erf,
 *               Tanh) that computes x/2 (1 + erf(x / sqrt 2)) or the tanh form -> Gelu (approximate "none" or "tanh").
 *               The chain is recognised by evaluating it on sample points, not by its spelling: exporters order and
 *               scale the terms in several ways.
 *   Attention:  MatMul(Q, K^T), optionally Div or Mul by a scalar, optionally Add of a mask or Where(cond, ., fill),
 *               Softmax over the last axis, MatMul with V -> one Attention node (src/ops/attention.c). It also takes
 *               over the ops that split heads (Reshape, Transpose, Gather of one index: they become strides over the
 *               projections' outputs) and the Transpose and Reshape that merge them back (it writes that layout).
 *   Dense bias: MatMul(x, W), W a constant matrix, then Add of a constant vector -> MatMul with the bias as input 2
 *               (gemm.c adds it in the GEMM's stores).
 * Every rewrite keeps the graph's meaning exactly: intermediate values must have no readers outside the pattern, and
 * scalars must be true scalars (rank 0 or [1]), so that no broadcast is lost. */
#include <math.h>
#include <stdio.h>

#include "model.h"

/* ---- helpers -------------------------------------------------------------------------------------------------- */

static int is_op(const tdm_node *n, tdm_op_id id) { return n && n->op_type && n->op && n->op->id == id; }

/* A float constant with one element and rank 0 or 1 (so that it broadcasts without changing any shape). */
static int const_scalar(const tdm_model *m, int v, double *out) {
    if (v < 0) return 0;
    const tdm_value *x = &m->values[v];
    if (x->kind != TDM_V_CONST || !x->data || x->dtype != TDM_FLOAT || x->rank > 1 || tdm_numel(x) != 1) return 0;
    *out = *(const float *)x->data;
    return 1;
}

/* v is read by exactly one node input and is no graph output. */
static int single_use(const tdm_model *m, int v) { return v >= 0 && m->values[v].consumers == 1 && !m->values[v].is_output; }

/* The node that reads v, when exactly one node input does. */
static tdm_node *only_reader(tdm_model *m, int v) {
    if (!single_use(m, v)) return NULL;
    for (int i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++)
            if (m->nodes[i].in[j] == v) return &m->nodes[i];
    return NULL;
}

/* The producer of v when it is op `id`, or NULL. */
static tdm_node *made_by(tdm_model *m, int v, tdm_op_id id) {
    tdm_node *p = v >= 0 ? tdm_graph_producer(m, v) : NULL;
    return is_op(p, id) ? p : NULL;
}

/* The other input of a two-input node, given one. */
static int other_in(const tdm_node *n, int v) { return n->in[0] == v ? n->in[1] : n->in[0]; }

static int attr_int(const tdm_node *n, const char *name, int64_t def, int64_t *out) {
    return tdm_attr_int(n, name, def, out) == TDM_OK;
}

/* Attributes built here for a retyped node (tdm_graph_retype takes ownership), and their release when building them
 * ran out of memory. */
static tdm_status attrs_new(tdm_model *m, int n, tdm_attr **out) {
    *out = tdm_calloc(&m->alloc, (size_t)n, sizeof(tdm_attr));
    return *out ? TDM_OK : tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
}

static tdm_status attrs_oom(tdm_model *m, tdm_attr *at, int n) {
    for (int i = 0; i < n; i++) {
        tdm_free(&m->alloc, at[i].name);
        tdm_free(&m->alloc, at[i].s);
        tdm_free(&m->alloc, at[i].ints);
    }
    tdm_free(&m->alloc, at);
    return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
}

static int attr_name(tdm_model *m, tdm_attr *a, const char *name, tdm_attr_type type) {
    a->name = tdm_strdup(&m->alloc, name, strlen(name));
    a->type = type;
    return a->name != NULL;
}

static int attr_set_float(tdm_model *m, tdm_attr *a, const char *name, float v) {
    a->f = v;
    return attr_name(m, a, name, TDM_ATTR_FLOAT);
}

static int attr_set_int(tdm_model *m, tdm_attr *a, const char *name, int64_t v) {
    a->i = v;
    return attr_name(m, a, name, TDM_ATTR_INT);
}

static int attr_set_ints(tdm_model *m, tdm_attr *a, const char *name, const int64_t *v, int count) {
    a->ints = tdm_malloc(&m->alloc, (size_t)(count ? count : 1) * sizeof(int64_t));
    if (!a->ints) return 0;
    memcpy(a->ints, v, (size_t)count * sizeof(int64_t));
    a->n = count;
    return attr_name(m, a, name, TDM_ATTR_INTS);
}

static int attr_set_string(tdm_model *m, tdm_attr *a, const char *name, const char *v) {
    a->s = tdm_strdup(&m->alloc, v, strlen(v));
    a->s_len = strlen(v);
    return a->s && attr_name(m, a, name, TDM_ATTR_STRING);
}

/* ---- LayerNorm --------------------------------------------------------------------------------------------------- */

/* ReduceMean over the last axis only, keeping it (axes [-1] as attribute before opset 18, as constant input since). */
static int mean_last_axis(const tdm_model *m, const tdm_node *r) {
    int64_t keep = 1, axes[2];
    int cnt = 0;
    if (!is_op(r, TDM_OP_ReduceMean) || !attr_int(r, "keepdims", 1, &keep) || keep != 1) return 0;
    if (r->n_in > 1 && r->in[1] >= 0) {
        const tdm_value *a = &m->values[r->in[1]];
        if (a->kind != TDM_V_CONST || !a->data || a->dtype != TDM_INT64 || tdm_numel(a) != 1) return 0;
        return *(const int64_t *)a->data == -1;
    }
    return tdm_attr_ints(r, "axes", axes, 2, &cnt) == TDM_OK && cnt == 1 && axes[0] == -1;
}

/* From the Div of a decomposed LayerNorm: Div(d, Sqrt(Add(ReduceMean(d^2), eps))), d = Sub(x, ReduceMean(x)). */
static tdm_status fuse_layernorm_at(tdm_model *m, tdm_node *dv, int *done) {
    double eps, two;
    if (!is_op(dv, TDM_OP_Div) || dv->n_in != 2 || !single_use(m, dv->out[0])) return TDM_OK;
    int d = dv->in[0];
    tdm_node *sq = made_by(m, dv->in[1], TDM_OP_Sqrt), *ad, *var, *pw, *sub, *mean;
    if (!sq || !single_use(m, sq->out[0]) || !(ad = made_by(m, sq->in[0], TDM_OP_Add)) || !single_use(m, ad->out[0]))
        return TDM_OK;
    int vv = const_scalar(m, ad->in[1], &eps) ? ad->in[0] : const_scalar(m, ad->in[0], &eps) ? ad->in[1] : -1;
    if (!(var = tdm_graph_producer(m, vv)) || !mean_last_axis(m, var) || !single_use(m, var->out[0])) return TDM_OK;
    pw = tdm_graph_producer(m, var->in[0]);
    int squared = (is_op(pw, TDM_OP_Pow) && pw->in[0] == d && const_scalar(m, pw->in[1], &two) && two == 2.0) ||
                  (is_op(pw, TDM_OP_Mul) && pw->in[0] == d && pw->in[1] == d);
    if (!squared || !single_use(m, pw->out[0])) return TDM_OK;
    if (m->values[d].is_output || m->values[d].consumers != (is_op(pw, TDM_OP_Mul) ? 3 : 2)) return TDM_OK;
    if (!(sub = made_by(m, d, TDM_OP_Sub)) || !(mean = tdm_graph_producer(m, sub->in[1])) ||
        !mean_last_axis(m, mean) || mean->in[0] != sub->in[0] || !single_use(m, mean->out[0]))
        return TDM_OK;
    int x = sub->in[0];
    /* then Mul by gamma and, optionally, Add of beta: constant vectors */
    tdm_node *mul = only_reader(m, dv->out[0]), *add;
    if (!is_op(mul, TDM_OP_Mul) || mul->n_in != 2) return TDM_OK;
    int gamma = other_in(mul, dv->out[0]), beta = -1;
    const tdm_value *g = gamma >= 0 ? &m->values[gamma] : NULL;
    if (!g || g->kind != TDM_V_CONST || g->dtype != TDM_FLOAT || g->rank != 1 || g->dims[0] < 2) return TDM_OK;
    tdm_node *last = mul;
    if ((add = only_reader(m, mul->out[0])) && is_op(add, TDM_OP_Add) && add->n_in == 2) {
        int b = other_in(add, mul->out[0]);
        const tdm_value *bv = b >= 0 ? &m->values[b] : NULL;
        if (bv && bv->kind == TDM_V_CONST && bv->dtype == TDM_FLOAT && bv->rank == 1 && bv->dims[0] == g->dims[0])
            beta = b, last = add;
    }
    tdm_attr *at;
    tdm_status st = attrs_new(m, 2, &at);
    if (st) return st;
    if (!attr_set_int(m, &at[0], "axis", -1) || !attr_set_float(m, &at[1], "epsilon", (float)eps))
        return attrs_oom(m, at, 2);
    int in[3] = {x, gamma, beta};
    tdm_node *kill[6] = {mean, sub, pw, var, ad, sq};
    if (last != mul) tdm_graph_kill(m, mul);
    tdm_graph_kill(m, dv);
    for (int i = 0; i < 6; i++) tdm_graph_kill(m, kill[i]);
    *done = 1;
    return tdm_graph_retype(m, last, "LayerNormalization", beta >= 0 ? 3 : 2, in, 2, at);
}

/* ---- GELU, by evaluation -------------------------------------------------------------------------------------- */

#define GELU_MAX 16 /* nodes in a chain */

static int gelu_eligible_op(const tdm_node *n) {
    if (!n->op_type || !n->op) return 0;
    switch (n->op->id) {
    case TDM_OP_Add: case TDM_OP_Sub: case TDM_OP_Mul: case TDM_OP_Div: case TDM_OP_Pow:
        return n->n_in == 2 && n->n_out == 1 && n->act == TDM_ACT_NONE;
    case TDM_OP_Sqrt: case TDM_OP_Erf: case TDM_OP_Tanh: return n->n_in == 1 && n->n_out == 1;
    default: return 0;
    }
}

/* The region's nodes in file order (topological), their count, and the start value x. */
typedef struct gelu_region {
    tdm_node *n[GELU_MAX];
    int count, x;
} gelu_region;

static int in_region(const gelu_region *r, int v) {
    if (v == r->x) return 1;
    for (int i = 0; i < r->count; i++)
        if (r->n[i]->out[0] == v) return 1;
    return 0;
}

/* Value of element-wise node n at one point: inputs from vals (region values) or scalar constants; float rounding
 * after every op, as the graph would compute it. */
static double gelu_eval_node(const tdm_model *m, const tdm_node *n, const gelu_region *r, const double *vals) {
    double a[2] = {0, 0};
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        if (v == r->x) a[j] = vals[GELU_MAX];
        else if (!const_scalar(m, v, &a[j]))
            for (int i = 0; i < r->count; i++)
                if (r->n[i]->out[0] == v) a[j] = vals[i];
    }
    double y;
    switch (n->op->id) {
    case TDM_OP_Add: y = a[0] + a[1]; break;
    case TDM_OP_Sub: y = a[0] - a[1]; break;
    case TDM_OP_Mul: y = a[0] * a[1]; break;
    case TDM_OP_Div: y = a[0] / a[1]; break;
    case TDM_OP_Pow: y = pow(a[0], a[1]); break;
    case TDM_OP_Sqrt: y = sqrt(a[0]); break;
    case TDM_OP_Erf: y = erf(a[0]); break;
    default: y = tanh(a[0]); break;
    }
    return (float)y;
}

/* 1: the sub-region ending at node `t` computes GELU (erf form), 2: the tanh form, 0: neither. `use` marks the
 * region's nodes that t depends on. */
static int gelu_match(const tdm_model *m, const gelu_region *r, int t, const int *use) {
    static const double pts[] = {-8.0, -5.0, -3.0, -2.2, -1.3, -0.7, -0.2, 0.0, 0.15, 0.6, 1.1, 1.9, 2.7, 4.5, 9.0};
    int erf_ok = 1, tanh_ok = 1;
    for (size_t p = 0; p < sizeof pts / sizeof pts[0]; p++) {
        double vals[GELU_MAX + 1], x = pts[p];
        vals[GELU_MAX] = x;
        for (int i = 0; i <= t; i++)
            if (use[i]) vals[i] = gelu_eval_node(m, r->n[i], r, vals);
        double y = vals[t], tol = 2e-6 * (fabs(x) > 1 ? fabs(x) : 1);
        double ge = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        double gt = 0.5 * x * (1.0 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
        erf_ok &= fabs(y - ge) <= tol;
        tanh_ok &= fabs(y - gt) <= tol;
    }
    return erf_ok ? 1 : tanh_ok ? 2 : 0;
}

/* Readers of value v outside the nodes marked in use (graph outputs count as outside). */
static int read_outside(const tdm_model *m, const gelu_region *r, const int *use, int v) {
    if (m->values[v].is_output) return 1;
    int inside = 0;
    for (int i = 0; i < r->count; i++)
        if (use[i])
            for (int j = 0; j < r->n[i]->n_in; j++) inside += r->n[i]->in[j] == v;
    return m->values[v].consumers != inside;
}

/* From an Erf or Tanh node: find the one tensor x the chain starts from, grow the element-wise region from x forward,
 * and try each of its nodes as the chain's end, last first. */
static tdm_status fuse_gelu_at(tdm_model *m, tdm_node *e, int *done) {
    /* x: walk up through eligible nodes; the one non-constant value reached whose producer is not eligible */
    int stack[GELU_MAX * 2], sp = 0, x = -1, steps = 0;
    stack[sp++] = e->in[0];
    while (sp) {
        int v = stack[--sp];
        double c;
        if (const_scalar(m, v, &c)) continue;
        tdm_node *p = tdm_graph_producer(m, v);
        int interior = p && gelu_eligible_op(p);
        for (int j = 0; interior && j < p->n_in; j++) /* no constant but scalars (a bias vector ends the walk) */
            interior = p->in[j] >= 0 && (m->values[p->in[j]].kind != TDM_V_CONST || const_scalar(m, p->in[j], &c));
        if (!interior || ++steps > GELU_MAX) {
            if (x >= 0 && x != v) return TDM_OK;
            x = v;
            continue;
        }
        for (int j = 0; j < p->n_in && sp < GELU_MAX * 2; j++) stack[sp++] = p->in[j];
    }
    if (x < 0 || m->values[x].kind == TDM_V_CONST) return TDM_OK;
    gelu_region r = {.count = 0, .x = x};
    for (int i = 0; i < m->n_nodes && r.count < GELU_MAX; i++) {
        tdm_node *n = &m->nodes[i];
        if (!gelu_eligible_op(n)) continue;
        int ok = 1, touches = 0;
        for (int j = 0; j < n->n_in && ok; j++) {
            double c;
            if (in_region(&r, n->in[j])) touches = 1;
            else if (!const_scalar(m, n->in[j], &c)) ok = 0;
        }
        if (ok && touches) r.n[r.count++] = n;
    }
    for (int t = r.count - 1; t >= 0; t--) {
        int use[GELU_MAX] = {0};
        use[t] = 1;
        for (int i = t; i >= 0; i--) /* the nodes t depends on */
            if (use[i])
                for (int j = 0; j < r.n[i]->n_in; j++)
                    for (int k = 0; k < i; k++)
                        if (r.n[k]->out[0] == r.n[i]->in[j]) use[k] = 1;
        int has_e = 0, closed = 1;
        for (int i = 0; i <= t; i++) {
            if (!use[i]) continue;
            has_e |= r.n[i] == e;
            if (i != t && read_outside(m, &r, use, r.n[i]->out[0])) closed = 0;
        }
        int form;
        if (!has_e || !closed || !(form = gelu_match(m, &r, t, use))) continue;
        tdm_attr *at;
        tdm_status st = attrs_new(m, 1, &at);
        if (st) return st;
        if (!attr_set_string(m, at, "approximate", form == 2 ? "tanh" : "none")) return attrs_oom(m, at, 1);
        for (int i = 0; i < t; i++)
            if (use[i]) tdm_graph_kill(m, r.n[i]);
        *done = 1;
        return tdm_graph_retype(m, r.n[t], "Gelu", 1, &x, 1, at);
    }
    return TDM_OK;
}

/* ---- attention ---------------------------------------------------------------------------------------------------
 * An operand of the attention is read through a view of a base value: optionally reshaped (by the shape input of a
 * Reshape the node takes over), then transposed and indexed on leading axes, as the ops that split heads do. Encoded
 * as an ints attribute (attention.c decodes it): [R, allowzero, L, map[L], S, (axis, index)[S]]: R the rank after the
 * reshape (-1: not known at load, no map), map[i] the source axis of logical axis i, and S source axes fixed at an
 * index. */
#define VIEW_MAX 8

typedef struct fview {
    int base, shape;          /* the value read; the Reshape's shape input applied to it first, or -1     */
    int64_t allowzero, rank;  /* rank after the reshape: -1 when unknown (identity view)                  */
    int nmap, nsel;
    int64_t map[VIEW_MAX], sel_axis[VIEW_MAX], sel_idx[VIEW_MAX];
} fview;

/* A Gather that picks one index of axis 0 (a constant scalar): q, k, v = qkv[0], qkv[1], qkv[2]. */
static int gather_one(const tdm_model *m, const tdm_node *g, int64_t *idx) {
    int64_t axis = 0;
    if (!is_op(g, TDM_OP_Gather) || g->n_in != 2 || !attr_int(g, "axis", 0, &axis) || axis != 0) return 0;
    const tdm_value *i = g->in[1] >= 0 ? &m->values[g->in[1]] : NULL;
    if (!i || i->kind != TDM_V_CONST || !i->data || i->rank != 0) return 0;
    if (i->dtype == TDM_INT64) *idx = *(const int64_t *)i->data;
    else if (i->dtype == TDM_INT32) *idx = *(const int32_t *)i->data;
    else return 0;
    return 1;
}

static int transpose_perm(const tdm_node *t, int64_t *perm, int *n) {
    return is_op(t, TDM_OP_Transpose) && tdm_attr_ints(t, "perm", perm, VIEW_MAX, n) == TDM_OK && *n > 0;
}

/* The view of value v: the longest chain of Transposes and one-index Gathers (over at most one Reshape at its base)
 * that composes into strides. */
static void view_of(tdm_model *m, int v, fview *out) {
    tdm_node *steps[16];
    int ns = 0, cur = v;
    tdm_node *p;
    while (ns < 16 && (p = tdm_graph_producer(m, cur))) {
        int64_t tmp[VIEW_MAX], idx;
        int cnt;
        if (!transpose_perm(p, tmp, &cnt) && !gather_one(m, p, &idx) && !is_op(p, TDM_OP_Reshape)) break;
        steps[ns++] = p;
        cur = p->in[0];
        if (is_op(p, TDM_OP_Reshape)) break;
    }
    fview w = {.base = cur, .shape = -1, .allowzero = 0, .rank = -1};
    for (int s = ns - 1; s >= 0; s--) { /* from the base up */
        tdm_node *st = steps[s];
        int64_t perm[VIEW_MAX], idx;
        int cnt;
        if (is_op(st, TDM_OP_Reshape)) {
            if (st->n_in != 2 || st->in[1] < 0 || !attr_int(st, "allowzero", 0, &w.allowzero)) {
                w = (fview){.base = st->out[0], .shape = -1, .rank = -1};
                continue;
            }
            w.shape = st->in[1];
            const tdm_value *sv = &m->values[w.shape];
            if (sv->kind == TDM_V_CONST && sv->rank == 1 && sv->dims[0] <= VIEW_MAX) {
                w.rank = sv->dims[0];
                w.nmap = (int)w.rank;
                for (int i = 0; i < w.nmap; i++) w.map[i] = i;
            }
        } else if (transpose_perm(st, perm, &cnt)) {
            if (w.rank < 0) { /* the perm fixes the rank */
                w.rank = cnt;
                w.nmap = cnt;
                for (int i = 0; i < cnt; i++) w.map[i] = i;
            }
            int64_t nm[VIEW_MAX];
            int ok = cnt == w.nmap;
            for (int i = 0; i < cnt && ok; i++) ok = perm[i] >= 0 && perm[i] < cnt;
            if (!ok) { /* a perm this view cannot take: start over above it */
                w = (fview){.base = st->out[0], .shape = -1, .rank = -1};
                continue;
            }
            for (int i = 0; i < cnt; i++) nm[i] = w.map[perm[i]];
            memcpy(w.map, nm, sizeof nm);
        } else if (gather_one(m, st, &idx) && w.rank >= 0 && w.nmap > 1 && w.nsel < VIEW_MAX) {
            w.sel_axis[w.nsel] = w.map[0];
            w.sel_idx[w.nsel++] = idx;
            memmove(w.map, w.map + 1, (size_t)(w.nmap - 1) * sizeof w.map[0]);
            w.nmap--;
        } else {
            w = (fview){.base = st->out[0], .shape = -1, .rank = -1};
        }
    }
    *out = w;
}

static int view_attr(tdm_model *m, tdm_attr *a, const char *name, const fview *w) {
    int64_t e[4 + 3 * VIEW_MAX];
    int k = 0;
    e[k++] = w->rank;
    e[k++] = w->allowzero;
    e[k++] = w->rank >= 0 ? w->nmap : 0;
    for (int i = 0; w->rank >= 0 && i < w->nmap; i++) e[k++] = w->map[i];
    e[k++] = w->nsel;
    for (int i = 0; i < w->nsel; i++) e[k++] = w->sel_axis[i], e[k++] = w->sel_idx[i];
    return attr_set_ints(m, a, name, e, k);
}

/* From a Softmax over the last axis: the chain around it, then the Attention node in place of the second MatMul. */
static tdm_status fuse_attention_at(tdm_model *m, tdm_node *sm, int *done) {
    int64_t axis = m->opset >= 13 ? -1 : 1;
    if (!is_op(sm, TDM_OP_Softmax) || sm->n_in != 1 || sm->n_out != 1 || !attr_int(sm, "axis", axis, &axis) ||
        axis != -1)
        return TDM_OK;
    tdm_node *mm2 = only_reader(m, sm->out[0]);
    if (!is_op(mm2, TDM_OP_MatMul) || mm2->n_in != 2 || mm2->in[0] != sm->out[0] || mm2->in[1] < 0 ||
        m->values[mm2->in[1]].kind == TDM_V_CONST)
        return TDM_OK;
    /* backwards from the Softmax: [Add mask | Where], [Div | Mul scale], MatMul(Q, K^T) */
    int v = sm->in[0], mask = -1, cond = -1, inv = 0;
    double scale = 1.0, fill = 0.0, c;
    tdm_node *kill[4] = {NULL, NULL, NULL, NULL}, *p = single_use(m, v) ? tdm_graph_producer(m, v) : NULL;
    if (is_op(p, TDM_OP_Add) && p->n_in == 2 && p->act == TDM_ACT_NONE) {
        int a = p->in[0], b = p->in[1];
        tdm_node *pa = tdm_graph_producer(m, a);
        int a_scores = is_op(pa, TDM_OP_MatMul) || is_op(pa, TDM_OP_Div) || is_op(pa, TDM_OP_Mul);
        v = a_scores ? a : b;
        mask = a_scores ? b : a;
        kill[0] = p;
    } else if (is_op(p, TDM_OP_Where) && p->n_in == 3) {
        if (const_scalar(m, p->in[2], &fill)) v = p->in[1];
        else if (const_scalar(m, p->in[1], &fill)) v = p->in[2], inv = 1;
        else return TDM_OK;
        cond = p->in[0];
        kill[0] = p;
    }
    if (kill[0]) p = single_use(m, v) ? tdm_graph_producer(m, v) : NULL;
    if ((is_op(p, TDM_OP_Div) || is_op(p, TDM_OP_Mul)) && p->n_in == 2 && p->act == TDM_ACT_NONE) {
        int div = is_op(p, TDM_OP_Div);
        if (const_scalar(m, p->in[1], &c) && (!div || c != 0.0)) v = p->in[0], scale = div ? 1.0 / c : c;
        else if (!div && const_scalar(m, p->in[0], &c)) v = p->in[1], scale = c;
        else return TDM_OK;
        kill[1] = p;
        p = single_use(m, v) ? tdm_graph_producer(m, v) : NULL;
    }
    if (!is_op(p, TDM_OP_MatMul) || p->n_in != 2 || p->in[0] < 0 || p->in[1] < 0 ||
        m->values[p->in[0]].kind == TDM_V_CONST || m->values[p->in[1]].kind == TDM_V_CONST)
        return TDM_OK;
    if (mask >= 0 && m->values[mask].dtype != TDM_FLOAT && m->values[mask].dtype != TDM_UNDEFINED) return TDM_OK;
    kill[2] = p;
    kill[3] = sm;
    fview vq, vk, vv;
    view_of(m, p->in[0], &vq);
    view_of(m, p->in[1], &vk);
    view_of(m, mm2->in[1], &vv);
    /* the way back: a Transpose of the context (its output may have other readers: torch reads its Shape for the
     * Reshape that follows), then a Reshape of that when nothing else reads it and its shape is known before the
     * attention runs (torch computes it from the Transpose's output otherwise) */
    int out = mm2->out[0], out_shape = -1;
    int64_t perm[VIEW_MAX], out_allowzero = 0;
    int nperm = 0;
    tdm_node *t = only_reader(m, out), *r = NULL;
    if (transpose_perm(t, perm, &nperm) && nperm <= VIEW_MAX) {
        out = t->out[0];
        r = only_reader(m, out);
        tdm_node *sp = is_op(r, TDM_OP_Reshape) && r->n_in == 2 && r->in[1] >= 0 ? tdm_graph_producer(m, r->in[1]) : NULL;
        if (is_op(r, TDM_OP_Reshape) && r->n_in == 2 && r->in[1] >= 0 && (!sp || sp < mm2) &&
            attr_int(r, "allowzero", 0, &out_allowzero))
            out = r->out[0], out_shape = r->in[1];
        else
            r = NULL;
    } else {
        t = NULL, nperm = 0;
    }
    tdm_attr *at;
    int na = 7 + (nperm > 0);
    tdm_status st = attrs_new(m, na, &at);
    if (st) return st;
    int ok = attr_set_float(m, &at[0], "scale", (float)scale) && attr_set_float(m, &at[1], "fill", (float)fill) &&
             attr_set_int(m, &at[2], "where_inverted", inv) && view_attr(m, &at[3], "q_view", &vq) &&
             view_attr(m, &at[4], "kt_view", &vk) && view_attr(m, &at[5], "v_view", &vv) &&
             attr_set_int(m, &at[6], "out_allowzero", out_allowzero) &&
             (!nperm || attr_set_ints(m, &at[7], "out_perm", perm, nperm));
    int in[9] = {vq.base, vk.base, vv.base, mask, cond, vq.shape, vk.shape, vv.shape, out_shape};
    if (!ok) return attrs_oom(m, at, na);
    for (int i = 0; i < 4; i++)
        if (kill[i]) tdm_graph_kill(m, kill[i]);
    if (t) tdm_graph_kill(m, t);
    if (r) tdm_graph_kill(m, r);
    mm2->out[0] = out;
    *done = 1;
    return tdm_graph_retype(m, mm2, "Attention", 9, in, na, at);
}

/* ---- dense bias ------------------------------------------------------------------------------------------------ */

/* MatMul(x, W) with W a constant [K, N], then Add of a constant [N]: the bias goes into the MatMul. */
static void fuse_dense_bias_at(tdm_model *m, tdm_node *mm, int *done) {
    if (!is_op(mm, TDM_OP_MatMul) || mm->n_in != 2 || mm->in[1] < 0 || mm->act != TDM_ACT_NONE) return;
    const tdm_value *w = &m->values[mm->in[1]];
    if (w->kind != TDM_V_CONST || w->dtype != TDM_FLOAT || w->rank != 2) return;
    tdm_node *add = only_reader(m, mm->out[0]);
    if (!is_op(add, TDM_OP_Add) || add->n_in != 2 || add->act != TDM_ACT_NONE) return;
    int b = other_in(add, mm->out[0]);
    const tdm_value *bv = b >= 0 ? &m->values[b] : NULL;
    if (!bv || bv->kind != TDM_V_CONST || bv->dtype != TDM_FLOAT || bv->rank != 1 || bv->dims[0] != w->dims[1]) return;
    int *ni = tdm_realloc(&m->alloc, mm->in, 3 * sizeof(int));
    if (!ni) return; /* out of memory: the Add stays a node of its own */
    mm->in = ni;
    mm->in[2] = b;
    mm->n_in = 3;
    mm->out[0] = add->out[0];
    tdm_graph_kill(m, add);
    *done = 1;
}

/* ---- the pass ---------------------------------------------------------------------------------------------------- */

/* ---- Pad into the convolution or average pool that reads it ------------------------------------------------------
 * A constant zero Pad of the spatial axes only (tf2onnx's SAME padding; torch's avg_pool2d with count_include_pad)
 * becomes the pads of the Conv or AveragePool that alone reads it, so the padded copy of the map is never made.
 * An AveragePool counted the padded zeros as input, so it gets count_include_pad 1; one that has pads of its own and
 * does not count them, or rounds its output size up (ceil_mode), keeps its Pad, as do Pads with another value or mode
 * (edge, reflect), Pads of the batch or channel axis, negative pads (crops) and MaxPool (whose padding is -inf). */

/* The Pad's amounts when it is such a Pad: 2 * rank values in pads, rank >= 3, *rank_out set. */
static int zero_spatial_pad(const tdm_model *m, const tdm_node *pad, int64_t *pads, int *rank_out) {
    const char *mode = "constant";
    int cnt = 0;
    if (tdm_attr_string(pad, "mode", "constant", &mode) || strcmp(mode, "constant") != 0) return 0;
    if (m->opset >= 11) {
        if (pad->n_in < 2 || pad->in[1] < 0 || (pad->n_in > 3 && pad->in[3] >= 0)) return 0; /* no axes input */
        const tdm_value *pv = &m->values[pad->in[1]];
        if (pv->kind != TDM_V_CONST || !pv->data || pv->dtype != TDM_INT64 || tdm_numel(pv) > 2 * TDM_MAX_RANK) return 0;
        cnt = (int)tdm_numel(pv);
        memcpy(pads, pv->data, (size_t)cnt * sizeof(int64_t));
        if (pad->n_in > 2 && pad->in[2] >= 0) {
            const tdm_value *cv = &m->values[pad->in[2]];
            if (cv->kind != TDM_V_CONST || !cv->data || cv->dtype != TDM_FLOAT || tdm_numel(cv) != 1 ||
                *(const float *)cv->data != 0.0f)
                return 0;
        }
    } else {
        float value = 0.0f;
        if (tdm_attr_ints(pad, "pads", pads, 2 * TDM_MAX_RANK, &cnt) || tdm_attr_float(pad, "value", 0.0f, &value) ||
            value != 0.0f)
            return 0;
    }
    int rank = cnt / 2;
    if (cnt % 2 || rank < 3) return 0;
    for (int i = 0; i < cnt; i++)
        if (pads[i] < 0 || ((i % rank) < 2 && pads[i] != 0)) return 0;
    *rank_out = rank;
    return 1;
}

/* A copy of attribute a (ints, floats, int, float, string); 0 when out of memory or a kind not copied here. */
static int attr_copy(tdm_model *m, tdm_attr *dst, const tdm_attr *a) {
    memset(dst, 0, sizeof *dst);
    switch (a->type) {
    case TDM_ATTR_INT: return attr_set_int(m, dst, a->name, a->i);
    case TDM_ATTR_FLOAT: return attr_set_float(m, dst, a->name, a->f);
    case TDM_ATTR_INTS: return attr_set_ints(m, dst, a->name, a->ints, a->n);
    case TDM_ATTR_STRING: return attr_set_string(m, dst, a->name, a->s ? a->s : "");
    default: return 0;
    }
}

static tdm_status fuse_pad_at(tdm_model *m, tdm_node *pad, int *done) {
    int64_t pp[2 * TDM_MAX_RANK], own[2 * TDM_MAX_RANK] = {0}, v;
    int rank, cnt = 0;
    if (!is_op(pad, TDM_OP_Pad) || pad->n_out != 1 || !zero_spatial_pad(m, pad, pp, &rank)) return TDM_OK;
    tdm_node *c = only_reader(m, pad->out[0]);
    int conv = is_op(c, TDM_OP_Conv), avg = is_op(c, TDM_OP_AveragePool);
    if ((!conv && !avg) || c->in[0] != pad->out[0] || c->n_in > 8) return TDM_OK;
    const char *ap = "NOTSET";
    if (tdm_attr_string(c, "auto_pad", "NOTSET", &ap) || strcmp(ap, "NOTSET") != 0) return TDM_OK;
    int nsp = rank - 2;
    if (tdm_attr_ints(c, "pads", own, 2 * TDM_MAX_RANK, &cnt) || (cnt && cnt != 2 * nsp)) return TDM_OK;
    int has_own = 0;
    for (int i = 0; i < cnt; i++) has_own |= own[i] != 0;
    if (avg) {
        if (!attr_int(c, "ceil_mode", 0, &v) || v != 0) return TDM_OK;
        if (has_own && (!attr_int(c, "count_include_pad", 0, &v) || v != 1)) return TDM_OK;
    }
    for (int k = 0; k < c->n_attr; k++) /* only attribute kinds attr_copy takes */
        if (c->attr[k].type != TDM_ATTR_INT && c->attr[k].type != TDM_ATTR_FLOAT && c->attr[k].type != TDM_ATTR_INTS &&
            c->attr[k].type != TDM_ATTR_STRING)
            return TDM_OK;
    int64_t sum[2 * TDM_MAX_RANK];
    for (int i = 0; i < nsp; i++) {
        sum[i] = own[i] + pp[2 + i];
        sum[nsp + i] = own[nsp + i] + pp[rank + 2 + i];
    }
    tdm_attr *at;
    tdm_status st = attrs_new(m, c->n_attr + 2, &at);
    if (st) return st;
    int na = 0;
    for (int k = 0; k < c->n_attr; k++) {
        const char *nm = c->attr[k].name;
        if (!strcmp(nm, "pads") || !strcmp(nm, "auto_pad") || (avg && !strcmp(nm, "count_include_pad"))) continue;
        if (!attr_copy(m, &at[na++], &c->attr[k])) return attrs_oom(m, at, na);
    }
    if (!attr_set_ints(m, &at[na++], "pads", sum, 2 * nsp)) return attrs_oom(m, at, na);
    if (avg && !attr_set_int(m, &at[na++], "count_include_pad", 1)) return attrs_oom(m, at, na);
    int in[8];
    memcpy(in, c->in, (size_t)c->n_in * sizeof(int));
    in[0] = pad->in[0];
    if ((st = tdm_graph_retype(m, c, conv ? "Conv" : "AveragePool", c->n_in, in, na, at))) return st;
    tdm_graph_kill(m, pad);
    *done = 1;
    return TDM_OK;
}

tdm_status tdm_fuse_pads(tdm_model *m) {
    tdm_status st = TDM_OK;
    tdm_graph_count_consumers(m);
    for (int i = 0; i < m->n_nodes && !st; i++) {
        int done = 0;
        if (m->nodes[i].op_type) st = fuse_pad_at(m, &m->nodes[i], &done);
        if (done) tdm_graph_count_consumers(m);
    }
    tdm_graph_compact(m);
    return st;
}

tdm_status tdm_fuse_transformer(tdm_model *m) {
    tdm_status st = TDM_OK;
    for (int kind = 0; kind < 4 && !st; kind++) {
        tdm_graph_count_consumers(m);
        for (int i = 0; i < m->n_nodes && !st; i++) {
            tdm_node *n = &m->nodes[i];
            int done = 0;
            if (!n->op_type) continue;
            if (kind == 0) st = fuse_layernorm_at(m, n, &done);
            else if (kind == 1 && (is_op(n, TDM_OP_Erf) || is_op(n, TDM_OP_Tanh))) st = fuse_gelu_at(m, n, &done);
            else if (kind == 2) st = fuse_attention_at(m, n, &done);
            else if (kind == 3) fuse_dense_bias_at(m, n, &done);
            if (done) tdm_graph_count_consumers(m);
        }
        tdm_graph_compact(m);
    }
    return st;
}
