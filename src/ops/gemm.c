/* gemm.c - Gemm (transA/transB, alpha, beta, broadcast C, fused activation) and MatMul (numpy semantics: 1-D operands
 * and broadcast batch dims), float32, on top of the tdm_sgemm kernel dispatcher, split into tiles over the pool; and
 * both as dense layers (below): constant weights packed once into the GEMM's panels, with the bias per column, the
 * residual and the activation fused into the tile stores. */
#include "../kernels/kernels.h"
#include "ops.h"

typedef struct gemm_params {
    int64_t trans_a, trans_b;
    float alpha, beta;
} gemm_params;

/* Tile sizes for an m x n product over `threads`: a few tiles per thread, columns in multiples of 16, rows in
 * multiples of 4; one tile when serial. */
static void gemm_tiles(tdm_pool *pool, size_t m, size_t n, size_t *tm, size_t *tn) {
    size_t t = (size_t)tdm_pool_threads(pool);
    *tm = m;
    *tn = n;
    if (t <= 1 || m * n < 4096) return;
    size_t want = 4 * t;
    size_t w = (n + want - 1) / want;
    w = (w + 15) / 16 * 16;
    if (w < 64) w = 64;
    if (w < n) *tn = w;
    size_t ntiles = (n + *tn - 1) / *tn;
    if (ntiles < 2 * t && m >= 16) {
        size_t rows = (m * ntiles + want - 1) / want;
        rows = (rows + 3) / 4 * 4;
        if (rows < 8) rows = 8;
        if (rows < m) *tm = rows;
    }
}

/* ---- Gemm ---------------------------------------------------------------------------------------------------- */

tdm_status gemm_gemm_check(tdm_ctx *c, tdm_node *n) {
    gemm_params *p = tdm_node_params(c, n, sizeof *p);
    if (!p) return tdm_node_error(n, TDM_OUT_OF_MEMORY, "out of memory");
    tdm_status st;
    if ((st = tdm_attr_int(n, "transA", 0, &p->trans_a))) return st;
    if ((st = tdm_attr_int(n, "transB", 0, &p->trans_b))) return st;
    if ((st = tdm_attr_float(n, "alpha", 1.0f, &p->alpha))) return st;
    if ((st = tdm_attr_float(n, "beta", 1.0f, &p->beta))) return st;
    if (n->n_in < 2 || n->n_in > 3 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs inputs A, B and optionally C (has %d)", n->n_in);
    return TDM_OK;
}

typedef struct gemm_dims {
    size_t m, n, k, lda, ldb;
    size_t cr, cc; /* C's rows and columns after right-aligning it to [M, N] (1 where broadcast); 0: no C */
} gemm_dims;

static tdm_status gemm_gemm_dims(tdm_ctx *c, const tdm_node *n, gemm_dims *d) {
    const gemm_params *p = n->params;
    const tdm_value *a = tdm_in(c, n, 0), *b = tdm_in(c, n, 1), *cv = tdm_in(c, n, 2);
    if (a->dtype != TDM_FLOAT || b->dtype != TDM_FLOAT || (cv && cv->dtype != TDM_FLOAT))
        return tdm_node_error(n, TDM_UNSUPPORTED, "only float32 is supported (A %s, B %s)", tdm_dtype_name(a->dtype),
                              tdm_dtype_name(b->dtype));
    if (a->rank != 2 || b->rank != 2)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "A and B must be 2-D (ranks %d and %d)", a->rank, b->rank);
    d->m = (size_t)(p->trans_a ? a->dims[1] : a->dims[0]);
    d->k = (size_t)(p->trans_a ? a->dims[0] : a->dims[1]);
    size_t kb = (size_t)(p->trans_b ? b->dims[1] : b->dims[0]);
    d->n = (size_t)(p->trans_b ? b->dims[0] : b->dims[1]);
    d->lda = (size_t)a->dims[1];
    d->ldb = (size_t)b->dims[1];
    if (kb != d->k)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "op(A) is [%zu, %zu] but op(B) is [%zu, %zu]", d->m, d->k, kb,
                              d->n);
    d->cr = d->cc = 0;
    if (cv) {
        if (cv->rank > 2) return tdm_node_error(n, TDM_SHAPE_MISMATCH, "C has rank %d, expected at most 2", cv->rank);
        size_t cr = cv->rank == 2 ? (size_t)cv->dims[0] : 1, cc = cv->rank >= 1 ? (size_t)cv->dims[cv->rank - 1] : 1;
        if ((cr != 1 && cr != d->m) || (cc != 1 && cc != d->n))
            return tdm_node_error(n, TDM_SHAPE_MISMATCH, "C [%zu, %zu] does not broadcast to [%zu, %zu]", cr, cc, d->m,
                                  d->n);
        d->cr = cr;
        d->cc = cc;
    }
    return TDM_OK;
}

tdm_status gemm_gemm_shape(tdm_ctx *c, tdm_node *n) {
    gemm_dims d;
    tdm_status st = gemm_gemm_dims(c, n, &d);
    if (st) return st;
    int64_t dims[2] = {(int64_t)d.m, (int64_t)d.n};
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, 2, dims);
    n->workspace = 0;
    n->macs = (int64_t)(d.m * d.n * d.k);
    return TDM_OK;
}

typedef struct gemm_job {
    const gemm_dims *d;
    const gemm_params *p;
    const float *a, *b, *cm;
    float *y;
    int act;
    float act_a, act_b;
} gemm_job;

/* One tile of Y: seed it with beta * C (broadcast), accumulate alpha * op(A) op(B), then the fused activation. */
static void gemm_gemm_tile(void *ctx, size_t i, size_t j, size_t ti, size_t tj) {
    const gemm_job *jb = ctx;
    const gemm_dims *d = jb->d;
    const gemm_params *p = jb->p;
    float *y = jb->y + i * d->n + j;
    int seeded = jb->cm != NULL && p->beta != 0.0f;
    if (seeded)
        for (size_t r = 0; r < ti; r++) {
            const float *crow = jb->cm + (d->cr == 1 ? 0 : (i + r) * d->cc);
            for (size_t q = 0; q < tj; q++) y[r * d->n + q] = p->beta * crow[d->cc == 1 ? 0 : j + q];
        }
    const float *a = jb->a + (p->trans_a ? i : i * d->lda);
    const float *b = jb->b + (p->trans_b ? j * d->ldb : j);
    tdm_sgemm((int)p->trans_a, (int)p->trans_b, ti, tj, d->k, p->alpha, a, d->lda, b, d->ldb, seeded ? 1.0f : 0.0f, y,
              d->n);
    if (jb->act != TDM_ACT_NONE)
        for (size_t r = 0; r < ti; r++) tdm_act(y + r * d->n, tj, jb->act, jb->act_a, jb->act_b);
}

static tdm_status dense_run(tdm_ctx *c, const tdm_node *n, size_t m, size_t k, size_t nn, const float *bias_col);

tdm_status gemm_gemm_run(tdm_ctx *c, const tdm_node *n) {
    gemm_dims d;
    tdm_status st = gemm_gemm_dims(c, n, &d);
    if (st) return st;
    if (tdm_in(c, n, 3)) { /* the weights packed (dense_weight_form: alpha 1, C absent or a bias per column, beta 1) */
        const tdm_value *cv = tdm_in(c, n, 2);
        return dense_run(c, n, d.m, d.k, d.n, cv ? cv->data : NULL);
    }
    const tdm_value *cv = tdm_in(c, n, 2);
    gemm_job j = {.d = &d,
                  .p = n->params,
                  .a = tdm_in(c, n, 0)->data,
                  .b = tdm_in(c, n, 1)->data,
                  .cm = cv ? cv->data : NULL,
                  .y = tdm_out(c, n, 0)->data,
                  .act = n->act,
                  .act_a = n->act_alpha,
                  .act_b = n->act_beta};
    size_t tm, tn;
    gemm_tiles(c->pool, d.m, d.n, &tm, &tn);
    tdm_parallelize_2d_tile(c->pool, gemm_gemm_tile, &j, d.m, d.n, tm, tn);
    return TDM_OK;
}

/* ---- MatMul -------------------------------------------------------------------------------------------------- */

/* In a model file MatMul has two inputs; graph passes may add a bias per column (input 2, fuse.c) and the packed
 * weights (input 3, the slot). */
tdm_status gemm_matmul_check(tdm_ctx *c, tdm_node *n) {
    if (n->n_in != 2 || !tdm_in(c, n, 0) || !tdm_in(c, n, 1))
        return tdm_node_error(n, TDM_INVALID_MODEL, "needs exactly two inputs A and B (has %d)", n->n_in);
    return TDM_OK;
}

/* MatMul as a batch of [m, k] x [k, n] products; batch dims broadcast numpy-style. */
typedef struct matmul_dims {
    size_t m, n, k;
    int brank;                        /* rank of the broadcast batch shape                                  */
    int64_t bdims[TDM_MAX_RANK];      /* broadcast batch shape                                              */
    int64_t astr[TDM_MAX_RANK];       /* per batch dim, matrix-sized stride into A (0 where broadcast)     */
    int64_t bstr[TDM_MAX_RANK];
    size_t batch;                     /* product of bdims                                                   */
    int orank;
    int64_t odims[TDM_MAX_RANK];
} matmul_dims;

static tdm_status gemm_matmul_dims(tdm_ctx *c, const tdm_node *n, matmul_dims *d) {
    const tdm_value *a = tdm_in(c, n, 0), *b = tdm_in(c, n, 1);
    if (a->dtype != TDM_FLOAT || b->dtype != TDM_FLOAT)
        return tdm_node_error(n, TDM_UNSUPPORTED, "only float32 is supported (A %s, B %s)", tdm_dtype_name(a->dtype),
                              tdm_dtype_name(b->dtype));
    if (a->rank < 1 || b->rank < 1)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "A and B must have rank >= 1 (ranks %d and %d)", a->rank,
                              b->rank);
    d->m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
    d->k = (size_t)a->dims[a->rank - 1];
    size_t kb = (size_t)(b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2]);
    d->n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
    if (kb != d->k)
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "inner dimensions differ: A has K = %zu, B has K = %zu", d->k, kb);
    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    tdm_status st = tdm_broadcast_shape(n, ra, a->dims, rb, b->dims, &d->brank, d->bdims);
    if (st) return st;
    /* strides in units of whole matrices, right-aligned */
    int64_t sa = 1, sb = 1;
    d->batch = 1;
    for (int i = d->brank - 1; i >= 0; i--) {
        int ia = i - (d->brank - ra), ib = i - (d->brank - rb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        d->astr[i] = da == 1 ? 0 : sa;
        d->bstr[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        d->batch *= (size_t)d->bdims[i];
    }
    d->orank = d->brank;
    memcpy(d->odims, d->bdims, sizeof(int64_t) * (size_t)d->brank);
    if (a->rank > 1) d->odims[d->orank++] = (int64_t)d->m;
    if (b->rank > 1) d->odims[d->orank++] = (int64_t)d->n;
    if (d->orank > TDM_MAX_RANK)
        return tdm_node_error(n, TDM_UNSUPPORTED, "output rank %d exceeds %d", d->orank, TDM_MAX_RANK);
    /* A batch that is contiguous over the whole broadcast shape, times one shared B, is a single taller GEMM. */
    int a_full = 1, b_shared = 1;
    for (int i = 0; i < d->brank; i++) {
        if (d->bstr[i] != 0 && d->bdims[i] != 1) b_shared = 0;
        if (d->astr[i] == 0 && d->bdims[i] != 1) a_full = 0;
    }
    if (a_full && b_shared && d->batch > 1 && a->rank > 1) {
        d->m *= d->batch;
        d->batch = 1;
        d->brank = 0;
    }
    return TDM_OK;
}

tdm_status gemm_matmul_shape(tdm_ctx *c, tdm_node *n) {
    matmul_dims d;
    tdm_status st = gemm_matmul_dims(c, n, &d);
    if (st) return st;
    const tdm_value *bias = tdm_in(c, n, 2);
    if (bias && (bias->dtype != TDM_FLOAT || (size_t)tdm_numel(bias) != d.n))
        return tdm_node_error(n, TDM_SHAPE_MISMATCH, "the fused bias has %lld values, expected %zu",
                              (long long)tdm_numel(bias), d.n);
    tdm_set_shape(tdm_out(c, n, 0), TDM_FLOAT, d.orank, d.odims);
    n->workspace = 0;
    n->macs = (int64_t)(d.batch * d.m * d.n * d.k);
    return TDM_OK;
}

typedef struct matmul_job {
    const matmul_dims *d;
    const float *a, *b;
    float *y;
    size_t aoff, boff, yoff; /* matrix offsets of the batch item being tiled */
} matmul_job;

static void matmul_offsets(const matmul_dims *d, size_t item, size_t *ao, size_t *bo) {
    size_t a = 0, b = 0;
    for (int i = d->brank - 1; i >= 0; i--) {
        size_t idx = item % (size_t)d->bdims[i];
        item /= (size_t)d->bdims[i];
        a += idx * (size_t)d->astr[i];
        b += idx * (size_t)d->bstr[i];
    }
    *ao = a * d->m * d->k;
    *bo = b * d->k * d->n;
}

static void matmul_tile(void *ctx, size_t i, size_t j, size_t ti, size_t tj) {
    const matmul_job *jb = ctx;
    const matmul_dims *d = jb->d;
    tdm_sgemm(0, 0, ti, tj, d->k, 1.0f, jb->a + jb->aoff + i * d->k, d->k, jb->b + jb->boff + j, d->n, 0.0f,
              jb->y + jb->yoff + i * d->n + j, d->n);
}

static void matmul_item(void *ctx, size_t item) {
    const matmul_job *jb = ctx;
    const matmul_dims *d = jb->d;
    size_t ao, bo;
    matmul_offsets(d, item, &ao, &bo);
    tdm_sgemm(0, 0, d->m, d->n, d->k, 1.0f, jb->a + ao, d->k, jb->b + bo, d->n, 0.0f, jb->y + item * d->m * d->n,
              d->n);
}

static void dense_epilogue(tdm_ctx *c, const tdm_node *n, float *y, size_t rows, size_t cols);

tdm_status gemm_matmul_run(tdm_ctx *c, const tdm_node *n) {
    matmul_dims d;
    tdm_status st = gemm_matmul_dims(c, n, &d);
    if (st) return st;
    const tdm_value *bias = tdm_in(c, n, 2);
    if (tdm_in(c, n, 3)) /* the weights packed: B is one matrix, so the batch is folded into the rows of A */
        return dense_run(c, n, d.batch * d.m, d.k, d.n, bias ? bias->data : NULL);
    float *y = n->fused_out >= 0 ? c->values[n->fused_out].data : tdm_out(c, n, 0)->data;
    matmul_job j = {.d = &d, .a = tdm_in(c, n, 0)->data, .b = tdm_in(c, n, 1)->data, .y = y};
    size_t threads = (size_t)tdm_pool_threads(c->pool);
    if (d.batch >= 2 * threads) {
        tdm_parallelize_1d(c->pool, matmul_item, &j, d.batch);
    } else {
        size_t tm, tn;
        gemm_tiles(c->pool, d.m, d.n, &tm, &tn);
        for (size_t item = 0; item < d.batch; item++) {
            matmul_offsets(&d, item, &j.aoff, &j.boff);
            j.yoff = item * d.m * d.n;
            tdm_parallelize_2d_tile(c->pool, matmul_tile, &j, d.m, d.n, tm, tn);
        }
    }
    dense_epilogue(c, n, y, d.batch * d.m, d.n);
    return TDM_OK;
}

/* ---- dense layers -------------------------------------------------------------------------------------------------
 * MatMul and Gemm whose B is a constant matrix are the linear layers of transformers. Their weights live packed as the
 * selected kernel set's GEMM packs B (tdm_sgemm_pack_b: KC-deep slices of NR-wide panels), made once by the planner in
 * the weight slot, input 3 (tdm_op_hooks: the form is the panel width NR, plus DENSE_TRANS when the plain weights are
 * B^T, Gemm's transB), so a run packs nothing. The GEMM (tdm_sgemm_pb) reads A in place and fuses into its stores what
 * graph passes put on the node: a bias per column (MatMul's input 2, fused from the Add that follows it; Gemm's C), a
 * residual Add (planner) and the activation (GELU after the feed-forward layer). Threads take blocks of rows, whole
 * register tiles each (the packed panels of one KC slice are contiguous across all columns). */
#define DENSE_TRANS 1024

/* The bias, residual and activation of a MatMul that ran the plain way (B not packed): one pass over y. */
static void dense_epilogue(tdm_ctx *c, const tdm_node *n, float *y, size_t rows, size_t cols) {
    const tdm_value *bias = tdm_in(c, n, 2);
    const float *b = bias ? bias->data : NULL, *res = n->residual >= 0 ? c->values[n->residual].data : NULL;
    if (!b && !res && n->act == TDM_ACT_NONE) return;
    for (size_t i = 0; i < rows; i++) {
        float *row = y + i * cols;
        if (b)
            for (size_t j = 0; j < cols; j++) row[j] += b[j];
        if (res)
            for (size_t j = 0; j < cols; j++) row[j] += res[i * cols + j];
        tdm_act(row, cols, n->act, n->act_alpha, n->act_beta);
    }
}

typedef struct dense_job {
    const float *a, *bp;
    float *y;
    size_t m, k, n;
    tdm_gemm_ep ep;
    tdm_sgemm_pb_fn gemm;
    tdm_sgemm_pb_cols_fn gemm_cols;
    size_t panels, nr; /* column parts: the packed panels of B and their width */
} dense_job;

static void dense_rows(void *ctx, size_t i, size_t j, size_t ti, size_t tj) {
    const dense_job *jb = ctx;
    tdm_gemm_ep ep = jb->ep;
    if (ep.res) ep.res += i * ep.ldr;
    jb->gemm(ti, jb->n, jb->k, jb->a + i * jb->k, jb->k, 1, jb->bp, jb->y + i * jb->n, jb->n, &ep);
}

/* Part `part` of the columns: a run of whole panels, every row. */
static void dense_cols(void *ctx, size_t part, size_t parts, size_t slot) {
    const dense_job *jb = ctx;
    (void)slot;
    size_t p0 = jb->panels * part / parts, p1 = jb->panels * (part + 1) / parts;
    jb->gemm_cols(jb->m, jb->n, jb->k, p0 * jb->nr, p1 * jb->nr, jb->a, jb->k, 1, jb->bp, jb->y, jb->n, &jb->ep);
}

/* Y [m x n] = act(A [m x k] * B + bias_col + residual) on the packed weights in input 3. */
static tdm_status dense_run(tdm_ctx *c, const tdm_node *n, size_t m, size_t k, size_t nn, const float *bias_col) {
    const tdm_kernel_set *ks = tdm_kernels();
    dense_job j = {.a = tdm_in(c, n, 0)->data,
                   .bp = tdm_in(c, n, 3)->data,
                   .y = n->fused_out >= 0 ? c->values[n->fused_out].data : tdm_out(c, n, 0)->data,
                   .k = k,
                   .n = nn,
                   .ep = {.res = n->residual >= 0 ? c->values[n->residual].data : NULL,
                          .ldr = nn,
                          .act = n->act,
                          .alpha = n->act_alpha,
                          .beta = n->act_beta,
                          .bias_col = bias_col},
                   .gemm = ks->sgemm_pb,
                   .gemm_cols = ks->sgemm_pb_cols,
                   .m = m,
                   .panels = (nn + ks->nr - 1) / ks->nr,
                   .nr = ks->nr};
    size_t t = (size_t)tdm_pool_threads(c->pool), tm = m;
    /* Wider than tall (a transformer's layers at sequence 128: 128 rows, 768 to 3072 columns): threads split the
     * columns, each streaming its own share of the weights once; split by rows, every thread read all of them (4 row
     * tiles on 2 threads: four passes over BERT-base's 9.4 MB feed-forward weights where one does). A is small
     * enough to be read again by each. Weights that fit in L2 (512 KiB and less) gain nothing by it, and parts keep
     * two panels at least (BERT-mini's 256 x 256 layers were 3-7 % slower split by columns). */
    if (t > 1 && nn >= m && j.panels >= 4 * t && k * nn * sizeof(float) > ((size_t)512 << 10)) {
        size_t parts = j.panels / 2 < 4 * t ? j.panels / 2 : 4 * t;
        tdm_parallelize_parts(c->pool, dense_cols, &j, parts);
        return TDM_OK;
    }
    if (t > 1 && m * nn * k >= 65536 && m > ks->mr) { /* about two blocks per thread, whole register tiles */
        size_t blocks = (m + ks->mr - 1) / ks->mr, want = 2 * t;
        tm = (blocks + want - 1) / want * ks->mr;
    }
    tdm_parallelize_2d_tile(c->pool, dense_rows, &j, m, 1, tm, 1);
    return TDM_OK;
}

/* Hooks (internal.h): a MatMul or Gemm with a constant 2-D float B gets the slot at load. */
static tdm_status dense_weight_slot(tdm_graph_env *env, tdm_node *n) {
    if (n->n_in < 2 || n->n_in > 3 || n->in[1] < 0) return TDM_OK;
    const tdm_value *w = &env->ctx->values[n->in[1]];
    if (w->kind != TDM_V_CONST || w->dtype != TDM_FLOAT || w->rank != 2 || !w->data) return TDM_OK;
    int64_t ud[3] = {0, w->dims[0], w->dims[1]};
    if (env->add_slot(env, n, 3, "_packed", 3, ud) < 0) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    return TDM_OK;
}

/* The packed form when the dense path can run the node at these shapes: float A; for Gemm, A not transposed, alpha 1,
 * and C absent or a bias per column added once (beta 1). */
static int dense_weight_form(tdm_ctx *c, const tdm_node *n) {
    const tdm_value *a = tdm_in(c, n, 0), *w = tdm_in(c, n, 1);
    if (!a || !w || a->dtype != TDM_FLOAT || w->rank != 2 || a->rank < 1) return 0;
    int nr = (int)tdm_kernels()->nr;
    if (n->op->id == TDM_OP_MatMul) return a->dims[a->rank - 1] == w->dims[0] ? nr : 0;
    const gemm_params *p = n->params;
    const tdm_value *cv = tdm_in(c, n, 2);
    int64_t cols = p->trans_b ? w->dims[0] : w->dims[1];
    if (p->trans_a || p->alpha != 1.0f || a->rank != 2) return 0;
    if (cv && (cv->dtype != TDM_FLOAT || p->beta != 1.0f || tdm_numel(cv) != cols || (cv->rank == 2 && cv->dims[0] != 1)))
        return 0;
    return nr + (p->trans_b ? DENSE_TRANS : 0);
}

/* op(B)'s k and n from the plain weights and the form. */
static void dense_kn(const tdm_value *w, int form, size_t *k, size_t *n) {
    int t = form >= DENSE_TRANS;
    *k = (size_t)(t ? w->dims[1] : w->dims[0]);
    *n = (size_t)(t ? w->dims[0] : w->dims[1]);
}

static size_t dense_weight_floats(const tdm_value *w, int form) {
    size_t k, n, nr = (size_t)(form % DENSE_TRANS);
    dense_kn(w, form, &k, &n);
    return k * ((n + nr - 1) / nr * nr);
}

static void dense_weight_make(const tdm_value *w, const float *plain, int form, float *slot, int plain_dies) {
    size_t k, n;
    dense_kn(w, form, &k, &n);
    tdm_pack_b_consuming(plain, (size_t)w->dims[1], form >= DENSE_TRANS, k, n, slot, plain_dies);
}

/* tdm_sgemm_pack_b in pieces that each read whole rows of b, which can then go (drop: tdm_pages_drop): VGG-16's first
 * dense layer is 411 MB, and packing it all at once held it twice at the load's peak. The layout is the one of one
 * call (kernels.h): slice p0 (KC deep) starts at p0 * n_pad, and its panel of columns j0 at kc * j0 within it, so
 * packing a slice, or a slice's run of whole panels, on its own writes the same floats. */
void tdm_pack_b_consuming(const float *b, size_t ldb, int trans_b, size_t k, size_t n, float *bp, int drop) {
    const tdm_sgemm_pack_b_fn pack = tdm_kernels()->sgemm_pack_b;
    const size_t nr = tdm_kernels()->nr, n_pad = (n + nr - 1) / nr * nr;
    if (!trans_b) { /* b is [k x n]: slice by slice, each KC rows of b */
        for (size_t p0 = 0; p0 < k; p0 += TDM_SGEMM_KC) {
            size_t kc = k - p0 < TDM_SGEMM_KC ? k - p0 : TDM_SGEMM_KC;
            pack(b + p0 * ldb, ldb, 0, kc, n, bp + p0 * n_pad);
            if (drop) tdm_pages_drop(b + p0 * ldb, kc * ldb * sizeof(float));
        }
        return;
    }
    /* b is [n x k]: runs of whole panels (about 1 MiB of b's rows each), every slice of them */
    size_t run = ((size_t)1 << 18) / (k ? k : 1) / nr * nr;
    if (run < nr) run = nr;
    for (size_t j0 = 0; j0 < n; j0 += run) {
        size_t nj = n - j0 < run ? n - j0 : run;
        for (size_t p0 = 0; p0 < k; p0 += TDM_SGEMM_KC) {
            size_t kc = k - p0 < TDM_SGEMM_KC ? k - p0 : TDM_SGEMM_KC;
            pack(b + j0 * ldb + p0, ldb, 1, kc, nj, bp + p0 * n_pad + kc * j0);
        }
        if (drop) tdm_pages_drop(b + j0 * ldb, nj * ldb * sizeof(float));
    }
}

/* B^T comes back as tdm_sgemm_unpack_b gives it; B [k x n] (a MatMul's) through that layout's own walk: KC-deep
 * slices of NR-wide panels, one after the other. */
static void dense_weight_restore(const tdm_value *w, const float *slot, int form, float *plain) {
    size_t k, n, nr = (size_t)(form % DENSE_TRANS);
    dense_kn(w, form, &k, &n);
    if (form >= DENSE_TRANS) {
        tdm_sgemm_unpack_b(slot, k, n, plain);
        return;
    }
    for (size_t p0 = 0; p0 < k; p0 += TDM_SGEMM_KC) {
        size_t kc = k - p0 < TDM_SGEMM_KC ? k - p0 : TDM_SGEMM_KC;
        for (size_t j0 = 0; j0 < n; j0 += nr, slot += kc * nr)
            for (size_t p = 0; p < kc; p++)
                memcpy(plain + (p0 + p) * n + j0, slot + p * nr, (n - j0 < nr ? n - j0 : nr) * sizeof(float));
    }
}

const tdm_op_hooks gemm_dense_hooks = {
    .weight_slot = dense_weight_slot,
    .weight_input = 1,
    .slot_input = 3,
    .weight_form = dense_weight_form,
    .weight_floats = dense_weight_floats,
    .weight_make = dense_weight_make,
    .weight_restore = dense_weight_restore,
};
