/* session.c - the public model and session API: loading, per-input-shape planning (shape inference, plan-time
 * constant folding, lifetimes and best-fit arena placement), and the allocation-free run loop. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../kernels/kernels.h"
#include "model.h"
#include "pb.h"

/* ---- models ---------------------------------------------------------------------------------------------------- */

static void model_free_values(tdm_model *m) {
    const tdm_alloc *a = &m->alloc;
    for (int v = 0; v < m->n_values; v++) {
        tdm_value *x = &m->values[v];
        tdm_free(a, x->name);
        for (int i = 0; i < TDM_MAX_RANK; i++) tdm_free(a, x->dim_param[i]);
        if (x->kind == TDM_V_CONST) tdm_free_aligned(a, x->data); /* each constant owns its block */
    }
    tdm_free(a, m->values);
}

void tdm_model_free(tdm_model *m) {
    if (!m) return;
    const tdm_alloc *a = &m->alloc;
    for (int i = 0; i < m->n_nodes; i++) tdm_node_release(a, &m->nodes[i]);
    tdm_free(a, m->nodes);
    model_free_values(m);
    for (int i = 0; i < m->n_src; i++) {
        tdm_free(a, m->src_op[i]);
        tdm_free(a, m->src_name[i]);
    }
    tdm_free(a, m->src_op);
    tdm_free(a, m->src_name);
    tdm_free(a, m->inputs);
    tdm_free(a, m->outputs);
    tdm_free(a, m->producer);
    tdm_alloc copy = *a;
    tdm_free(&copy, m);
}

/* Remember the nodes as written, for `tandem info`, before the passes change them. */
static tdm_status record_source_nodes(tdm_model *m) {
    const tdm_alloc *a = &m->alloc;
    if (!m->n_nodes) return TDM_OK;
    m->src_op = tdm_calloc(a, (size_t)m->n_nodes, sizeof(char *));
    m->src_name = tdm_calloc(a, (size_t)m->n_nodes, sizeof(char *));
    if (!m->src_op || !m->src_name) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < m->n_nodes; i++) {
        m->n_src = i + 1;
        m->src_op[i] = tdm_strdup(a, m->nodes[i].op_type, strlen(m->nodes[i].op_type));
        m->src_name[i] = tdm_strdup(a, m->nodes[i].name, strlen(m->nodes[i].name));
        if (!m->src_op[i] || !m->src_name[i]) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    return TDM_OK;
}

static tdm_status settle_winograd(tdm_model *m); /* below, beside the planner */

/* done(done_user), when set, is told as soon as the bytes are parsed (the model keeps no reference to them). */
static tdm_status load_common(const void *data, size_t size, const tdm_load_options *opts, const char *base_dir,
                              void (*done)(void *), void *done_user, tdm_model **model_out) {
    tdm_alloc al = {opts ? opts->realloc_fn : NULL, opts ? opts->realloc_user : NULL};
    tdm_model *m = tdm_calloc(&al, 1, sizeof *m);
    if (!m) {
        if (done) done(done_user);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    m->alloc = al;
    tdm_status st = tdm_onnx_parse(m, data, size, base_dir);
    if (done) done(done_user);
    if (!st) st = record_source_nodes(m);
    m->optimize = !(opts && opts->no_optimize);
    if (!st) st = tdm_graph_prepare(m, m->optimize);
    if (!st) st = settle_winograd(m);
    if (!st) {
        for (int i = 0; i < m->n_inputs && !st; i++) {
            tdm_value *v = &m->values[m->inputs[i]];
            if (tdm_dtype_size(v->dtype) == 0)
                st = tdm_error(TDM_UNSUPPORTED, "graph input '%s' has data type %s, which is not supported", v->name,
                               tdm_dtype_name(v->dtype));
        }
    }
    if (st) {
        tdm_model_free(m);
        return st;
    }
    *model_out = m;
    return TDM_OK;
}

tdm_status tdm_model_load_memory(const void *data, size_t size, const tdm_load_options *opts, tdm_model **model_out) {
    if (!model_out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_model_load_memory: model_out is NULL");
    *model_out = NULL;
    if (!data && size) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_model_load_memory: data is NULL");
    return load_common(data, size, opts, opts ? opts->base_dir : NULL, opts ? opts->bytes_done : NULL,
                       opts ? opts->bytes_done_user : NULL, model_out);
}

tdm_status tdm_model_load_file(const char *path, const tdm_load_options *opts, tdm_model **model_out) {
    if (!model_out || !path) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_model_load_file: NULL argument");
    *model_out = NULL;
    size_t size;
    tdm_status st;
    void *buf = tdm_read_file(path, &size, &st);
    if (!buf) return st;
    char dir[4096];
    const char *base = opts && opts->base_dir ? opts->base_dir : NULL;
    if (!base) {
        const char *slash = strrchr(path, '/');
        if (slash && (size_t)(slash - path) < sizeof dir) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = 0;
            if (!dir[0]) strcpy(dir, "/");
        } else
            strcpy(dir, ".");
        base = dir;
    }
    return load_common(buf, size, opts, base, free, buf, model_out); /* the file's bytes go as soon as parsed */
}

int tdm_model_num_inputs(const tdm_model *m) { return m ? m->n_inputs : 0; }
int tdm_model_num_outputs(const tdm_model *m) { return m ? m->n_outputs : 0; }

static void fill_info(const tdm_value *v, tdm_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->dtype = v->dtype;
    info->rank = v->rank;
    for (int i = 0; i < v->rank && i < TDM_MAX_RANK; i++) {
        info->dims[i] = v->dims[i];
        info->dim_param[i] = v->dim_param[i] ? v->dim_param[i] : "";
    }
}

tdm_status tdm_model_input_info(const tdm_model *m, int index, tdm_tensor_info *info_out) {
    if (!m || !info_out || index < 0 || index >= m->n_inputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "input index %d out of range", index);
    fill_info(&m->values[m->inputs[index]], info_out);
    return TDM_OK;
}

tdm_status tdm_model_output_info(const tdm_model *m, int index, tdm_tensor_info *info_out) {
    if (!m || !info_out || index < 0 || index >= m->n_outputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "output index %d out of range", index);
    fill_info(&m->values[m->outputs[index]], info_out);
    return TDM_OK;
}

int64_t tdm_model_opset(const tdm_model *m) { return m ? m->opset : 0; }
int64_t tdm_model_ir_version(const tdm_model *m) { return m ? m->ir_version : 0; }
const char *tdm_model_producer(const tdm_model *m) { return m && m->producer ? m->producer : ""; }
int tdm_model_num_source_nodes(const tdm_model *m) { return m ? m->n_src : 0; }

tdm_status tdm_model_source_node(const tdm_model *m, int index, const char **op_type_out, const char **name_out) {
    if (!m || index < 0 || index >= m->n_src) return tdm_error(TDM_INVALID_ARGUMENT, "node index %d out of range", index);
    if (op_type_out) *op_type_out = m->src_op[index];
    if (name_out) *name_out = m->src_name[index];
    return TDM_OK;
}

/* ---- sessions: planning --------------------------------------------------------------------------------------- */

static void plan_release(tdm_session *s) {
    const tdm_alloc *a = &s->alloc;
    tdm_split_release(s);
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
    tdm_free(a, s->exec_pos);
    tdm_free(a, s->exec_uses);
    s->exec_pos = s->exec_uses = NULL;
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

#define ALIGN_UP(x) (((x) + TDM_ALIGN - 1) & ~(size_t)(TDM_ALIGN - 1))

/* Best-fit placement over a free list of [offset, size) holes; the arena grows at the end when nothing fits. */
typedef struct hole {
    size_t off, size;
} hole;

typedef struct placer {
    hole *h;
    int n, cap;
    size_t end;
    const tdm_alloc *a;
} placer;

static int place(placer *p, size_t size, size_t *off) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (p->h[i].size >= size && (best < 0 || p->h[i].size < p->h[best].size)) best = i;
    if (best >= 0) {
        *off = p->h[best].off;
        p->h[best].off += size;
        p->h[best].size -= size;
        if (!p->h[best].size) p->h[best] = p->h[--p->n];
        return 0;
    }
    /* extend: if the last hole touches the end, grow it */
    for (int i = 0; i < p->n; i++)
        if (p->h[i].off + p->h[i].size == p->end) {
            *off = p->h[i].off;
            p->end = p->h[i].off + size;
            p->h[i] = p->h[--p->n];
            return 0;
        }
    *off = p->end;
    p->end += size;
    return 0;
}

static int release(placer *p, size_t off, size_t size) {
    /* merge with neighbours */
    for (int i = 0; i < p->n; i++) {
        if (p->h[i].off + p->h[i].size == off) {
            off = p->h[i].off;
            size += p->h[i].size;
            p->h[i--] = p->h[--p->n];
        } else if (off + size == p->h[i].off) {
            size += p->h[i].size;
            p->h[i--] = p->h[--p->n];
        }
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 32;
        hole *nh = tdm_realloc(p->a, p->h, (size_t)cap * sizeof *nh);
        if (!nh) return -1;
        p->h = nh;
        p->cap = cap;
    }
    p->h[p->n].off = off;
    p->h[p->n].size = size;
    p->n++;
    return 0;
}

static size_t value_bytes(const tdm_value *v) {
    size_t b = (size_t)tdm_numel(v) * tdm_dtype_size(v->dtype);
    return ALIGN_UP(b ? b : 1);
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
        if (strcmp(a->op_type, "Add") == 0 && a->n_in == 2 && a->n_out == 1 && a->in[0] >= 0 && a->in[1] >= 0 &&
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

/* ---- Winograd weights ------------------------------------------------------------------------------------------
 * A 3x3 Conv may carry a Winograd slot, input 3 (graph.c): U = G g G^T, which conv.c uses when the plan's map size
 * pays for the transforms. The plan asks the op for its shapes with and without the slot: when the slot changes
 * nothing, the op would run direct and the session's copy of the node drops input 3; otherwise the plan makes sure U
 * is there, computing it into a plan block when the slot is still empty. Dropping the slot is always correct (a Conv
 * without input 3 never uses Winograd), so at worst a coincidence of scratch sizes costs speed, not a wrong result.
 *
 * At load, a model whose inputs have static shapes (the batch aside) is planned once for shapes only (settle_winograd):
 * the convolutions that take Winograd there get U in the model and, when nothing else reads them, lose their 3x3
 * weights, so the model holds one form of each weight instead of two. Should a later plan run such a convolution
 * direct anyway, or with the other tile size (conv.c decides from the map size, which those shapes fix, so it does
 * not today), the plan recomputes the 3x3 weights from U (tdm_wino_restore: exact for the taps the transform copies,
 * within a rounding of the others) and, where needed, the other U from them. */
static int winograd_slot(const tdm_model *m, const tdm_node *n) {
    if (n->n_in < 4 || n->in[3] < 0 || n->in[1] < 0 || strcmp(n->op_type, "Conv") != 0) return 0;
    const tdm_value *u = &m->values[n->in[3]];
    return u->kind == TDM_V_CONST && u->derived;
}

static size_t rounded(size_t b) { return (b + TDM_ALIGN - 1) & ~(size_t)(TDM_ALIGN - 1); }

/* The forms of a Conv's weights in input 3 (points: 16/36 Winograd, 1 packed for the GEMM) and back. */
static void weights_to(const float *w, size_t k, size_t c, float *u, size_t points) {
    if (points == 1) tdm_sgemm_pack_a(w, k, c, tdm_sgemm_mr(), u);
    else tdm_wino_weights(w, k, c, u, points == 36 ? 4 : 2);
}

static void weights_from(const float *u, size_t k, size_t c, float *w, size_t points) {
    if (points == 1) tdm_sgemm_unpack_a(u, k, c, tdm_sgemm_mr(), w);
    else tdm_wino_restore(u, k, c, w, points == 36 ? 4 : 2);
}

static tdm_status plan_winograd(tdm_session *s, tdm_ctx *c, tdm_node *n, int folded) {
    tdm_value *w = tdm_in(c, n, 1), *u = tdm_in(c, n, 3);
    n->n_in = 3;
    int pts = folded ? 0 : tdm_conv_winograd_points(c, n); /* folding runs the plain convolution */
    if (w->kind != TDM_V_CONST || w->dtype != TDM_FLOAT || w->rank != 4 || u->dims[1] != w->dims[0] ||
        u->dims[2] != w->dims[1])
        return TDM_OK; /* not a slot graph.c made (it checks the same), so never settled: run it plainly */
    size_t K = (size_t)w->dims[0], C = (size_t)w->dims[1], have = u->data ? (size_t)u->dims[0] : 0;
    /* The 3x3 weights, when this plan needs them (direct, or a U of the other size) and the model kept only U. */
    if (!w->data && u->data && (size_t)pts != have) {
        size_t bytes = (size_t)tdm_numel(w) * sizeof(float);
        void *block = tdm_malloc_aligned(c->alloc, bytes);
        if (!block) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory restoring the weights of Conv '%s'", n->name);
        keep_folded(s, block);
        if (s->keep_failed) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
        weights_from(u->data, K, C, block, have);
        w->data = block;
        s->derived_bytes += bytes;
    }
    if (!pts) return TDM_OK;
    if ((size_t)pts != have) { /* compute U for this plan's tile size */
        if (!w->data) return TDM_OK;
        size_t bytes = (size_t)pts * K * C * sizeof(float);
        void *block = tdm_malloc_aligned(c->alloc, bytes);
        if (!block) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory transforming the weights of Conv '%s'", n->name);
        weights_to(w->data, K, C, block, (size_t)pts);
        u->dims[0] = pts;
        if (s->settling && !have) { /* load time: U joins the model, and the 3x3 weights go if nothing else reads them */
            tdm_model *m = (tdm_model *)s->model;
            tdm_value *mw = &m->values[n->in[1]], *mu = &m->values[n->in[3]];
            mu->data = block;
            mu->dims[0] = pts;
            m->weights_bytes += rounded(bytes);
            if (mw->consumers == 1 && !mw->is_output) {
                m->weights_bytes -= rounded((size_t)tdm_numel(mw) * sizeof(float));
                tdm_free_aligned(&m->alloc, mw->data);
                mw->data = NULL;
                w->data = NULL;
            }
        } else {
            keep_folded(s, block);
            if (s->keep_failed) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
            s->derived_bytes += bytes;
        }
        u->data = block;
    }
    /* conv.c's Winograd path reads only the weights' shape; a non-NULL pointer keeps its arithmetic defined */
    if (!w->data) w->data = u->data;
    n->n_in = 4;
    return TDM_OK;
}

static tdm_status plan(tdm_session *s) {
    const tdm_model *m = s->model;
    const tdm_alloc *a = &s->alloc;
    tdm_status st = TDM_OK;
    placer pl = {NULL, 0, 0, 0, a};
    plan_release(s);
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
    }
    for (int i = 0; i < m->n_inputs; i++) {
        tdm_value *x = &s->values[m->inputs[i]];
        x->rank = s->in_rank[i];
        memcpy(x->dims, s->in_dims[i], sizeof x->dims);
        if (s->in_value[i]) {
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
        if (winograd_slot(m, n) && (st = plan_winograd(s, &c, n, all_const))) goto fail;
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
    if (s->settling) return TDM_OK; /* shapes were all settle_winograd wanted */
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
    /* Placement: inputs first, then each exec node's outputs, freeing values after their last use. */
    for (int i = 0; i < m->n_inputs; i++) {
        tdm_value *x = &s->values[m->inputs[i]];
        if (x->kind == TDM_V_INPUT) place(&pl, value_bytes(x), &x->offset);
    }
    for (int k = 0; k < s->n_exec; k++) {
        tdm_node *n = &s->nodes[s->exec[k]];
        for (int j = 0; j < n->n_out; j++) {
            int id = node_out(n, j);
            tdm_value *x = id >= 0 ? &s->values[id] : NULL;
            if (x && x->kind == TDM_V_ACT) place(&pl, value_bytes(x), &x->offset);
        }
        if (n->workspace > s->workspace_bytes) s->workspace_bytes = n->workspace;
        for (int j = 0; j < node_nin(n) + n->n_out; j++) {
            int id = j < node_nin(n) ? node_in(n, j) : node_out(n, j - node_nin(n));
            if (id < 0) continue;
            tdm_value *x = &s->values[id];
            if (x->kind != TDM_V_ACT || x->is_output || x->last_use != k) continue;
            x->last_use = -2; /* released once even if listed twice */
            if (release(&pl, x->offset, value_bytes(x)) < 0) {
                st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory planning");
                goto fail;
            }
        }
    }
    if (s->profile && s->n_exec && !(s->node_ms = tdm_calloc(a, (size_t)s->n_exec, sizeof(double)))) {
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
    tdm_free(a, pl.h);
    s->planned = 1;
    return TDM_OK;
fail:
    tdm_free(a, pl.h);
    plan_release(s);
    return st;
}

/* ---- sessions: public ----------------------------------------------------------------------------------------- */

static int is_shape_input(tdm_dtype t);

/* See "Winograd weights" above: plan the model once for shapes only, at batch 1, when its inputs fix everything but
 * the batch. Inputs that carry shapes (integers) would need their values, so such models keep their empty slots. */
static tdm_status settle_winograd(tdm_model *m) {
    int slots = 0;
    for (int i = 0; i < m->n_nodes; i++) slots += winograd_slot(m, &m->nodes[i]);
    if (!slots) return TDM_OK;
    for (int i = 0; i < m->n_inputs; i++) {
        const tdm_value *v = &m->values[m->inputs[i]];
        if (v->rank < 1 || is_shape_input(v->dtype)) return TDM_OK;
        for (int d = 1; d < v->rank; d++)
            if (v->dims[d] < 0) return TDM_OK;
    }
    tdm_session *s;
    tdm_session_options so = {1, 0};
    tdm_status st = tdm_session_create(m, &so, &s);
    if (st) return st;
    s->settling = 1;
    st = plan(s);
    tdm_session_free(s);
    /* out of memory fails the load; any other failure is left for a real plan to report */
    return st == TDM_OUT_OF_MEMORY ? st : TDM_OK;
}

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
    if (!s->in_dims || !s->in_rank || !s->in_value || !s->in_value_bytes) {
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
    plan_release(s);
    tdm_pool_destroy(s->pool);
    tdm_free(&s->alloc, s->in_dims);
    tdm_free(&s->alloc, s->in_rank);
    for (int i = 0; s->in_value && i < s->model->n_inputs; i++) tdm_free_aligned(&s->alloc, s->in_value[i]);
    tdm_free(&s->alloc, s->in_value);
    tdm_free(&s->alloc, s->in_value_bytes);
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
    plan_release(s);
    return TDM_OK;
}

tdm_status tdm_session_plan(tdm_session *s) {
    if (!s) return tdm_error(TDM_INVALID_ARGUMENT, "session is NULL");
    if (s->planned) return TDM_OK;
    for (int i = 0; i < s->model->n_inputs; i++)
        if (s->in_rank[i] < 0)
            return tdm_error(TDM_SHAPE_MISMATCH, "input '%s' has no shape in the model: set it with "
                             "tdm_session_set_input_shape", s->model->values[s->model->inputs[i]].name);
    tdm_status st = plan(s);
    if (!st && (st = tdm_split_plan(s))) plan_release(s);
    return st;
}

tdm_status tdm_session_input_data(tdm_session *s, int index, tdm_tensor_info *info_out, void **data_out) {
    if (!s || !data_out || index < 0 || index >= s->model->n_inputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "input index %d out of range", index);
    tdm_status st = tdm_session_plan(s);
    if (st) return st;
    tdm_value *v = &s->values[s->model->inputs[index]];
    if (info_out) fill_info(v, info_out);
    *data_out = v->data;
    return TDM_OK;
}

static int is_shape_input(tdm_dtype t) { return t == TDM_INT64 || t == TDM_INT32; }

/* Integer inputs are kept as plan-time constants: a new value means a new plan. */
static tdm_status set_shape_input(tdm_session *s, int index, const void *data, size_t bytes) {
    const tdm_value *v = &s->model->values[s->model->inputs[index]];
    int64_t numel = 1;
    for (int d = 0; d < s->in_rank[index]; d++) numel *= s->in_dims[index][d];
    size_t want = (size_t)numel * tdm_dtype_size(v->dtype);
    if (s->in_rank[index] < 0 || bytes != want || (!data && bytes))
        return tdm_error(TDM_INVALID_ARGUMENT, "input '%s': %zu bytes given, its %s shape needs %zu", v->name, bytes,
                         tdm_dtype_name(v->dtype), want);
    if (s->in_value[index] && s->in_value_bytes[index] == bytes && memcmp(s->in_value[index], data, bytes) == 0)
        return TDM_OK;
    void *copy = tdm_malloc_aligned(&s->alloc, bytes ? bytes : 1);
    if (!copy) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    if (bytes) memcpy(copy, data, bytes);
    tdm_free_aligned(&s->alloc, s->in_value[index]);
    s->in_value[index] = copy;
    s->in_value_bytes[index] = bytes;
    plan_release(s);
    return TDM_OK;
}

tdm_status tdm_session_set_input(tdm_session *s, int index, const void *data, size_t bytes) {
    if (s && index >= 0 && index < s->model->n_inputs &&
        is_shape_input(s->model->values[s->model->inputs[index]].dtype))
        return set_shape_input(s, index, data, bytes);
    void *dst;
    tdm_tensor_info info;
    tdm_status st = tdm_session_input_data(s, index, &info, &dst);
    if (st) return st;
    const tdm_value *v = &s->values[s->model->inputs[index]];
    size_t want = (size_t)tdm_numel(v) * tdm_dtype_size(v->dtype);
    if (bytes != want || (!data && bytes))
        return tdm_error(TDM_INVALID_ARGUMENT, "input '%s': %zu bytes given, its %s shape needs %zu", v->name, bytes,
                         tdm_dtype_name(v->dtype), want);
    if (bytes) memcpy(dst, data, bytes);
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
            s->node_ms[k] += (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
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
    if (info_out) fill_info(v, info_out);
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
        static const char *act_names[] = {"", "+Relu", "+Clip", "+LeakyRelu", "+HardSwish", "+Sigmoid"};
        const tdm_node *n = &s->nodes[s->exec[index]];
        char buf[128];
        snprintf(buf, sizeof buf, "%s%s%s", n->op_type, n->residual >= 0 ? "+Add" : "",
                 n->act > 0 && n->act <= 5 ? act_names[n->act] : "");
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
