/* attention.c - the Attention op that fuse.c makes from softmax(Q K^T * scale + mask) V: tandem's own, never read from
 * a model file (TDM_OPF_INTERNAL). One node computes a whole multi-head attention without materialising the scores of
 * more than a block of query rows of one head at a time, and reads Q, K and V where the projections wrote them.
 *
 * Inputs: 0 Q, 1 K^T, 2 V (each read through a view: see fuse.c), 3 an additive mask or absent, 4 a bool condition
 * (Where(cond, scores, fill)) or absent, 5..7 the shape inputs of Reshapes the views apply to Q, K^T and V first, 8 the
 * shape input of a Reshape of the output. Attributes (set by fuse.c): scale, fill, where_inverted (Where(cond, fill,
 * scores)), q_view, kt_view, v_view ([R, allowzero, L, map[L], S, (axis, index)[S]]), out_perm, out_allowzero.
 *
 * Logically Q is [B1, B2, Sq, D], K^T [B1, B2, D, Sk], V [B1, B2, Sk, Dv] (ranks 2 to 4, batch axes broadcast as
 * MatMul does), each with any strides. Per (batch, head): K^T and V are packed into the GEMM's panels once; then per
 * block of query rows: scores = Q K^T (packed GEMM), each row scaled, masked and normalised (tdm softmax row kernel,
 * SIMD), and the block's output = P V (packed GEMM), stored through the output's strides (the layout the merging
 * Transpose would write). Threads take contiguous runs of (head, row block) items, each with its own scratch. */
#include "../kernels/kernels.h"
#include "ops.h"

#define ATTN_VIEW_MAX 8

typedef struct attn_view {
    int64_t rank, allowzero; /* rank after the reshape (-1: any, identity view)                           */
    int nmap, nsel;
    int64_t map[ATTN_VIEW_MAX], sel_axis[ATTN_VIEW_MAX], sel_idx[ATTN_VIEW_MAX];
} attn_view;

typedef struct attn_params {
    float scale, fill;
    int inverted;
    attn_view view[3]; /* Q, K^T, V */
    int nperm;         /* 0: the output is the context as MatMul writes it */
    int64_t perm[ATTN_VIEW_MAX], out_allowzero;
} attn_params;

static tdm_status view_parse(const tdm_node *n, const char *name, attn_view *w) {
    int64_t e[4 + 3 * ATTN_VIEW_MAX];
    int cnt = 0;
    tdm_status st = tdm_attr_ints(n, name, e, 4 + 3 * ATTN_VIEW_MAX, &cnt);
    if (st) return st;
    int k = 0;
    if (cnt < 4) goto bad;
    w->rank = e[k++];
    w->allowzero = e[k++];
    w->nmap = (int)e[k++];
    if (w->rank > ATTN_VIEW_MAX || w->nmap < 0 || w->nmap > ATTN_VIEW_MAX || k + w->nmap + 1 > cnt) goto bad;
    for (int i = 0; i < w->nmap; i++) {
        w->map[i] = e[k++];
        if (w->map[i] < 0 || w->map[i] >= w->rank) goto bad;
    }
    w->nsel = (int)e[k++];
    if (w->nsel < 0 || w->nsel > ATTN_VIEW_MAX || k + 2 * w->nsel != cnt) goto bad;
    for (int i = 0; i < w->nsel; i++) {
        w->sel_axis[i] = e[k++];
        w->sel_idx[i] = e[k++];
        if (w->sel_axis[i] < 0 || w->sel_axis[i] >= w->rank) goto bad;
    }
    if (w->rank >= 0 && w->nmap + w->nsel != w->rank) goto bad;
    return TDM_OK;
bad:
    return tdm_node_error(n, TDM_INVALID_MODEL, "attribute %s is not a view", name);
}

tdm_status attention_check(tdm_ctx *c, tdm_node *n) {
    attn_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    if (n->n_in != 9 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1) || !tdm_in(c, n, 2) || n->n_out != 1 || n->out[0] < 0)
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs Q, K^T, V and one output");
    tdm_status st;
    int64_t inv = 0;
    if ((st = tdm_attr_float(n, "scale", 1.0f, &p->scale)) || (st = tdm_attr_float(n, "fill", 0.0f, &p->fill)) ||
        (st = tdm_attr_int(n, "where_inverted", 0, &inv)) || (st = view_parse(n, "q_view", &p->view[0])) ||
        (st = view_parse(n, "kt_view", &p->view[1])) || (st = view_parse(n, "v_view", &p->view[2])) ||
        (st = tdm_attr_ints(n, "out_perm", p->perm, ATTN_VIEW_MAX, &p->nperm)) ||
        (st = tdm_attr_int(n, "out_allowzero", 0, &p->out_allowzero)))
        return st;
    p->inverted = inv != 0;
    return TDM_OK;
}

/* ---- geometry ------------------------------------------------------------------------------------------------- */

/* An operand as [B1, B2, rows, cols] with element strides (0 on broadcast axes) and an element offset. */
typedef struct attn_opnd {
    int rank; /* logical rank, 2..4 */
    int64_t dims[4], str[4], off;
} attn_opnd;

typedef struct attn_geom {
    attn_opnd q, kt, v, mask, cond, out;
    int has_mask, has_cond;
    size_t b1, b2, sq, sk, d, dv;
    int out_rank;
    int64_t out_dims[TDM_MAX_RANK];
    size_t nr, rb, ld, nblk;                 /* panel width, rows per block, scores row stride, blocks per head */
    size_t kp_floats, vp_floats, part_floats;
    int q_copy, o_copy;                      /* Q rows or output rows not contiguous: through scratch       */
} attn_geom;

/* Reshape's rule for target dims (0 copies the input's dim unless allowzero, one -1 is inferred). */
static tdm_status reshape_dims(const tdm_node *n, const int64_t *in, int rin, const tdm_value *shape, int64_t allowzero,
                               int64_t *out, int *rout) {
    if (shape->kind != TDM_V_CONST || !shape->data || (shape->dtype != TDM_INT64 && shape->dtype != TDM_INT32) ||
        shape->rank != 1 || shape->dims[0] > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_INVALID_MODEL, "a view's shape must be a constant 1-D integer tensor");
    int64_t numel = 1, known = 1;
    for (int i = 0; i < rin; i++) numel *= in[i];
    int r = (int)shape->dims[0], infer = -1;
    for (int i = 0; i < r; i++) {
        int64_t v = shape->dtype == TDM_INT64 ? ((const int64_t *)shape->data)[i] : ((const int32_t *)shape->data)[i];
        if (v == 0 && !allowzero) {
            if (i >= rin) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "reshape: 0 at %d has no input dim", i);
            v = in[i];
        }
        if (v == -1) {
            if (infer >= 0) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "reshape: two -1 in the shape");
            infer = i;
            v = 1;
        } else if (v < 0) {
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "reshape: dimension %lld", (long long)v);
        }
        out[i] = v;
        known *= v;
    }
    if (infer >= 0) {
        if (known == 0 || numel % known) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "reshape: cannot infer -1");
        out[infer] = numel / known;
    } else if (known != numel) {
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "reshape of %lld elements into %lld", (long long)numel,
                              (long long)known);
    }
    *rout = r;
    return TDM_OK;
}

static void contiguous_strides(const int64_t *dims, int rank, int64_t *str) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) str[i] = s, s *= dims[i];
}

/* Operand `which` (0 Q, 1 K^T, 2 V) through its view, as [B1, B2, rows, cols]. */
static tdm_status operand(tdm_ctx *c, const tdm_node *n, int which, attn_opnd *o) {
    static const char *names[3] = {"Q", "K^T", "V"};
    const attn_params *p = n->params;
    const attn_view *w = &p->view[which];
    const tdm_value *base = tdm_in(c, n, which), *shape = tdm_in(c, n, 5 + which);
    if (base->dtype != TDM_FLOAT)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%s is %s, only float is supported", names[which],
                              tdm_dtype_name(base->dtype));
    int64_t sd[TDM_MAX_RANK], ss[TDM_MAX_RANK], ld[ATTN_VIEW_MAX], ls[ATTN_VIEW_MAX];
    int rs = base->rank, lr;
    memcpy(sd, base->dims, sizeof sd);
    tdm_status st;
    if (shape && (st = reshape_dims(n, base->dims, base->rank, shape, w->allowzero, sd, &rs))) return st;
    contiguous_strides(sd, rs, ss);
    o->off = 0;
    if (w->rank >= 0) {
        if (rs != w->rank)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "%s has rank %d, its view expects %lld", names[which], rs,
                                  (long long)w->rank);
        lr = w->nmap;
        for (int i = 0; i < lr; i++) ld[i] = sd[w->map[i]], ls[i] = ss[w->map[i]];
        for (int i = 0; i < w->nsel; i++) {
            int64_t d = sd[w->sel_axis[i]], k = w->sel_idx[i];
            if (k < -d || k >= d)
                return tdm_node_error(n, TDM_INVALID_ARGUMENT, "%s: index %lld is out of range for an axis of %lld",
                                      names[which], (long long)k, (long long)d);
            o->off += (k < 0 ? k + d : k) * ss[w->sel_axis[i]];
        }
    } else {
        lr = rs;
        for (int i = 0; i < lr; i++) ld[i] = sd[i], ls[i] = ss[i];
    }
    if (lr < 2 || lr > 4)
        return tdm_node_error(n, TDM_UNSUPPORTED, "%s has rank %d: attention takes ranks 2 to 4", names[which], lr);
    o->rank = lr;
    for (int i = 0; i < 4; i++) {
        int k = i - (4 - lr);
        o->dims[i] = k >= 0 ? ld[k] : 1;
        o->str[i] = k >= 0 && ld[k] != 1 ? ls[k] : 0;
    }
    return TDM_OK;
}

/* A mask or condition broadcast onto the scores [B1, B2, Sq, Sk] (right-aligned; it may not enlarge Sq or Sk). */
static tdm_status broadcast_in(const tdm_node *n, const tdm_value *v, const char *what, attn_opnd *o) {
    if (v->rank > 4) return tdm_node_error(n, TDM_UNSUPPORTED, "the %s has rank %d, at most 4", what, v->rank);
    int64_t s[TDM_MAX_RANK];
    contiguous_strides(v->dims, v->rank, s);
    o->rank = v->rank;
    o->off = 0;
    for (int i = 0; i < 4; i++) {
        int k = i - (4 - v->rank);
        o->dims[i] = k >= 0 ? v->dims[k] : 1;
        o->str[i] = k >= 0 && v->dims[k] != 1 ? s[k] : 0;
    }
    return TDM_OK;
}

/* One batch axis of the output: the broadcast of the operands' (1 or the common size). */
static tdm_status batch_dim(const tdm_node *n, const attn_opnd *const *ops, int count, int axis, size_t *out) {
    int64_t d = 1;
    for (int i = 0; i < count; i++) {
        int64_t x = ops[i]->dims[axis];
        if (x != 1 && d != 1 && x != d)
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "batch axes %lld and %lld do not broadcast", (long long)d,
                                  (long long)x);
        if (x != 1) d = x;
    }
    *out = (size_t)d;
    return TDM_OK;
}

static tdm_status attn_geometry(tdm_ctx *c, const tdm_node *n, attn_geom *g) {
    const attn_params *p = n->params;
    const tdm_kernel_set *ks = tdm_kernels();
    tdm_status st;
    memset(g, 0, sizeof *g);
    if ((st = operand(c, n, 0, &g->q)) || (st = operand(c, n, 1, &g->kt)) || (st = operand(c, n, 2, &g->v))) return st;
    const tdm_value *mask = tdm_in(c, n, 3), *cond = tdm_in(c, n, 4);
    g->has_mask = mask != NULL;
    g->has_cond = cond != NULL;
    if (mask && (mask->dtype != TDM_FLOAT || (st = broadcast_in(n, mask, "mask", &g->mask))))
        return st ? st : tdm_node_error(n, TDM_UNSUPPORTED, "the mask is %s, not float", tdm_dtype_name(mask->dtype));
    if (cond && (cond->dtype != TDM_BOOL || (st = broadcast_in(n, cond, "condition", &g->cond))))
        return st ? st : tdm_node_error(n, TDM_INVALID_MODEL, "the condition is %s, not bool",
                                        tdm_dtype_name(cond->dtype));
    g->sq = (size_t)g->q.dims[2];
    g->d = (size_t)g->q.dims[3];
    g->sk = (size_t)g->kt.dims[3];
    g->dv = (size_t)g->v.dims[3];
    if ((int64_t)g->d != g->kt.dims[2] || (int64_t)g->sk != g->v.dims[2])
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "Q [.., %zu, %zu], K^T [.., %lld, %zu] and V [.., %lld, %zu] do "
                              "not multiply", g->sq, g->d, (long long)g->kt.dims[2], g->sk, (long long)g->v.dims[2],
                              g->dv);
    const attn_opnd *all[5] = {&g->q, &g->kt, &g->v, NULL, NULL};
    int cnt = 3;
    if (mask) all[cnt++] = &g->mask;
    if (cond) all[cnt++] = &g->cond;
    if ((st = batch_dim(n, all, cnt, 0, &g->b1)) || (st = batch_dim(n, all, cnt, 1, &g->b2))) return st;
    for (int i = 3; i < cnt; i++)
        if ((all[i]->dims[2] != 1 && all[i]->dims[2] != (int64_t)g->sq) ||
            (all[i]->dims[3] != 1 && all[i]->dims[3] != (int64_t)g->sk))
            return tdm_node_error(n, TDM_UNSUPPORTED, "a mask of [.., %lld, %lld] on scores [.., %zu, %zu]",
                                  (long long)all[i]->dims[2], (long long)all[i]->dims[3], g->sq, g->sk);
    /* the output: MatMul's rank rules, then the absorbed Transpose and Reshape */
    int rs = g->q.rank > g->kt.rank ? g->q.rank : g->kt.rank;
    if (mask && mask->rank > rs) rs = mask->rank;
    if (cond && cond->rank > rs) rs = cond->rank;
    int ro = rs > g->v.rank ? rs : g->v.rank;
    int64_t ld[4] = {(int64_t)g->b1, (int64_t)g->b2, (int64_t)g->sq, (int64_t)g->dv}, td[4], ts[4], ls[4] = {0, 0, 0, 0};
    const int64_t *l = ld + (4 - ro); /* the logical output's dims */
    if (p->nperm && p->nperm != ro)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "the output Transpose has %d axes, the context %d", p->nperm, ro);
    for (int i = 0; i < ro; i++) td[i] = l[p->nperm ? p->perm[i] : i];
    contiguous_strides(td, ro, ts);
    for (int i = 0; i < ro; i++) ls[(4 - ro) + (p->nperm ? p->perm[i] : i)] = ts[i];
    for (int i = 0; i < 4; i++) g->out.str[i] = ld[i] != 1 ? ls[i] : 0;
    const tdm_value *oshape = tdm_in(c, n, 8);
    if (oshape) {
        if ((st = reshape_dims(n, td, ro, oshape, p->out_allowzero, g->out_dims, &g->out_rank))) return st;
    } else {
        g->out_rank = ro;
        memcpy(g->out_dims, td, sizeof(int64_t) * (size_t)ro);
    }
    /* blocks and scratch */
    g->nr = ks->tfm.packed_nr;
    g->rb = 4 * ks->tfm.mr < g->sq ? 4 * ks->tfm.mr : g->sq;
    if (g->rb == 0) g->rb = 1;
    g->nblk = (g->sq + g->rb - 1) / g->rb;
    g->ld = TDM_PAD(g->sk ? g->sk : 1, 16);
    g->kp_floats = TDM_PAD((g->sk + g->nr - 1) / g->nr * g->nr * g->d, 16);
    g->vp_floats = TDM_PAD((g->dv + g->nr - 1) / g->nr * g->nr * g->sk, 16);
    g->q_copy = g->q.str[3] != 1 && g->d > 1;
    g->o_copy = g->out.str[3] != 1 && g->dv > 1;
    g->part_floats = g->kp_floats + g->vp_floats + g->rb * g->ld + (g->q_copy ? TDM_PAD(g->rb * g->d, 16) : 0) +
                     (g->o_copy ? TDM_PAD(g->rb * g->dv, 16) : 0);
    return TDM_OK;
}

tdm_status attention_shape(tdm_ctx *c, tdm_node *n) {
    attn_geom g;
    tdm_status st = attn_geometry(c, n, &g);
    if (st) return st;
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, g.out_rank, g.out_dims);
    n->workspace = (size_t)tdm_pool_threads(c->pool) * g.part_floats * sizeof(float);
    n->macs = (int64_t)(g.b1 * g.b2 * g.sq * g.sk * (g.d + g.dv));
    return TDM_OK;
}

/* ---- run --------------------------------------------------------------------------------------------------------- */

typedef struct attn_job {
    const attn_geom *g;
    const float *q, *kt, *v, *mask;
    const uint8_t *cond;
    float *o, *ws;
    float scale, fill;
    int inverted;
    const tdm_tfm_kernels *tk;
} attn_job;

/* K^T [D x Sk] (strides sd, sj) into panels of nr keys, D rows each, zero past Sk. */
static void pack_kt(float *kp, const float *k, size_t d, size_t sk, int64_t sd, int64_t sj, size_t nr) {
    for (size_t j0 = 0; j0 < sk; j0 += nr) {
        float *panel = kp + j0 * d;
        size_t cols = sk - j0 < nr ? sk - j0 : nr;
        for (size_t jj = 0; jj < nr; jj++) {
            if (jj >= cols) {
                for (size_t p = 0; p < d; p++) panel[p * nr + jj] = 0.0f;
                continue;
            }
            const float *src = k + (int64_t)(j0 + jj) * sj;
            for (size_t p = 0; p < d; p++) panel[p * nr + jj] = src[(int64_t)p * sd];
        }
    }
}

/* V [Sk x Dv] (strides sj, se) into panels of nr columns, Sk rows each, zero past Dv. */
static void pack_v(float *vp, const float *v, size_t sk, size_t dv, int64_t sj, int64_t se, size_t nr) {
    for (size_t e0 = 0; e0 < dv; e0 += nr) {
        float *panel = vp + e0 * sk;
        size_t cols = dv - e0 < nr ? dv - e0 : nr;
        for (size_t j = 0; j < sk; j++) {
            const float *src = v + (int64_t)j * sj + (int64_t)e0 * se;
            float *d = panel + j * nr;
            size_t e = 0;
            if (se == 1) {
                memcpy(d, src, cols * sizeof(float));
                e = cols;
            } else
                for (; e < cols; e++) d[e] = src[(int64_t)e * se];
            for (; e < nr; e++) d[e] = 0.0f;
        }
    }
}

/* Rows [i0, i0 + r) of head (b1, b2): scores, softmax, output. */
static void attn_block(const attn_job *j, float *kp, float *vp, float *sc, float *qb, float *ob, size_t b1, size_t b2,
                       size_t i0, size_t r) {
    const attn_geom *g = j->g;
    const float *q = j->q + g->q.off + (int64_t)b1 * g->q.str[0] + (int64_t)b2 * g->q.str[1] + (int64_t)i0 * g->q.str[2];
    size_t lda = (size_t)g->q.str[2];
    if (g->q_copy) {
        for (size_t i = 0; i < r; i++)
            for (size_t p = 0; p < g->d; p++) qb[i * g->d + p] = q[(int64_t)i * g->q.str[2] + (int64_t)p * g->q.str[3]];
        q = qb, lda = g->d;
    }
    j->tk->gemm_packed(r, g->sk, g->d, q, lda, kp, sc, g->ld);
    for (size_t i = 0; i < r; i++) {
        float *row = sc + i * g->ld;
        if (j->cond) {
            const uint8_t *cr = j->cond + (int64_t)b1 * g->cond.str[0] + (int64_t)b2 * g->cond.str[1] +
                                (int64_t)(i0 + i) * g->cond.str[2];
            for (size_t k = 0; k < g->sk; k++) {
                int keep = (cr[(int64_t)k * g->cond.str[3]] != 0) != j->inverted;
                row[k] = keep ? row[k] * j->scale : j->fill;
            }
            j->tk->softmax_row(row, row, g->sk, 1.0f, NULL, 0);
        } else if (j->mask) {
            const float *mr = j->mask + (int64_t)b1 * g->mask.str[0] + (int64_t)b2 * g->mask.str[1] +
                              (int64_t)(i0 + i) * g->mask.str[2];
            j->tk->softmax_row(row, row, g->sk, j->scale, mr, (size_t)g->mask.str[3]);
        } else {
            j->tk->softmax_row(row, row, g->sk, j->scale, NULL, 0);
        }
    }
    float *o = j->o + (int64_t)b1 * g->out.str[0] + (int64_t)b2 * g->out.str[1] + (int64_t)i0 * g->out.str[2];
    if (!g->o_copy) {
        j->tk->gemm_packed(r, g->dv, g->sk, sc, g->ld, vp, o, (size_t)g->out.str[2]);
        return;
    }
    j->tk->gemm_packed(r, g->dv, g->sk, sc, g->ld, vp, ob, g->dv);
    for (size_t i = 0; i < r; i++)
        for (size_t e = 0; e < g->dv; e++) o[(int64_t)i * g->out.str[2] + (int64_t)e * g->out.str[3]] = ob[i * g->dv + e];
}

static void attn_part(void *ctx, size_t part, size_t parts) {
    const attn_job *j = ctx;
    const attn_geom *g = j->g;
    size_t items = g->b1 * g->b2 * g->nblk, lo = items * part / parts, hi = items * (part + 1) / parts;
    float *kp = j->ws + part * g->part_floats, *vp = kp + g->kp_floats, *sc = vp + g->vp_floats;
    float *qb = sc + g->rb * g->ld, *ob = qb + (g->q_copy ? TDM_PAD(g->rb * g->d, 16) : 0);
    int64_t packed_k = -1, packed_v = -1;
    for (size_t it = lo; it < hi; it++) {
        size_t head = it / g->nblk, blk = it % g->nblk, b1 = head / g->b2, b2 = head % g->b2;
        int64_t ko = g->kt.off + (int64_t)b1 * g->kt.str[0] + (int64_t)b2 * g->kt.str[1];
        int64_t vo = g->v.off + (int64_t)b1 * g->v.str[0] + (int64_t)b2 * g->v.str[1];
        if (ko != packed_k) pack_kt(kp, j->kt + ko, g->d, g->sk, g->kt.str[2], g->kt.str[3], g->nr), packed_k = ko;
        if (vo != packed_v) pack_v(vp, j->v + vo, g->sk, g->dv, g->v.str[2], g->v.str[3], g->nr), packed_v = vo;
        size_t i0 = blk * g->rb, r = g->sq - i0 < g->rb ? g->sq - i0 : g->rb;
        attn_block(j, kp, vp, sc, qb, ob, b1, b2, i0, r);
    }
}

tdm_status attention_run(tdm_ctx *c, const tdm_node *n) {
    const attn_params *p = n->params;
    attn_geom g;
    tdm_status st = attn_geometry(c, n, &g);
    if (st) return st;
    const tdm_value *mask = tdm_in(c, n, 3), *cond = tdm_in(c, n, 4);
    attn_job j = {.g = &g,
                  .q = tdm_in(c, n, 0)->data,
                  .kt = tdm_in(c, n, 1)->data,
                  .v = tdm_in(c, n, 2)->data,
                  .mask = mask ? (const float *)mask->data : NULL,
                  .cond = cond ? (const uint8_t *)cond->data : NULL,
                  .o = tdm_out(c, n, 0)->data,
                  .ws = c->workspace,
                  .scale = p->scale,
                  .fill = p->fill,
                  .inverted = p->inverted,
                  .tk = &tdm_kernels()->tfm};
    if (!g.sq || !g.dv || !g.b1 || !g.b2) return TDM_OK;
    if (!g.sk) { /* softmax over no keys: nothing to weigh, the output is empty sums */
        for (size_t b = 0; b < g.b1 * g.b2; b++)
            for (size_t i = 0; i < g.sq; i++)
                for (size_t e = 0; e < g.dv; e++)
                    j.o[(int64_t)(b / g.b2) * g.out.str[0] + (int64_t)(b % g.b2) * g.out.str[1] +
                        (int64_t)i * g.out.str[2] + (int64_t)e * g.out.str[3]] = 0.0f;
        return TDM_OK;
    }
    tdm_parallelize_static(c->pool, attn_part, &j);
    return TDM_OK;
}
