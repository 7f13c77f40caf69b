/* test_fusion.c - the transformer fusions (src/engine/fuse.c, src/ops/attention.c, the dense path of gemm.c) give the
 * outputs of the unfused graph. Each case writes a small ONNX graph the way exporters do, loads it twice (with and
 * without optimisation, tdm_load_options.no_optimize: the op-by-op reference), runs both on the same seeded inputs at
 * 1 and 3 threads, and compares every output within 2e-5 of the largest reference magnitude (fusion reorders float
 * sums). It also checks the executed ops: a pattern that must fuse leaves its fused op (Attention, LayerNormalization,
 * MatMul+Bias+Gelu, ...) and none of its parts; a pattern that is not what it looks like (GELU with another constant,
 * a LayerNorm over two axes) must stay as written. Odd sizes (sequence 1 and 5, head width 3), batch 2, masks that
 * broadcast, Where with a constant causal mask, heads split by Reshape/Transpose/Gather (the views attention.c reads
 * as strides), a Reshape whose shape is computed from Shape (torch's dynamic export), and an internal op named in a
 * model file (refused); the zero Pads that go into the Conv or AveragePool after them (and the Pads that must not);
 * and Concat, Reshape, Flatten, Squeeze and Unsqueeze inputs written in place into their outputs (plan.c), where the
 * arena must shrink and nothing may change.
 * Prints `N passed, M failed`. */
#include <math.h>
#include <stdint.h>

#include "tandem_onnx_write.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem.h"

static int passed, failed;
static void check(int ok, const char *what, const char *detail) {
    if (ok) passed++, printf("ok   %s%s%s\n", what, detail && *detail ? ": " : "", detail ? detail : "");
    else failed++, printf("FAIL %s%s%s\n", what, detail && *detail ? ": " : "", detail ? detail : "");
}

static uint32_t rng = 2024u;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

/* ---- graph writing --------------------------------------------------------------------------------------------- */

#define NAMES(...) ((const char *[]){__VA_ARGS__})
static tdm_onnx_writer *W;
static void node(const char *op, int nin, const char *const *in, const char *out, int nattr, const tdm_onnx_attr *at) {
    tdm_onnx_writer_node(W, op, out, nin, in, 1, NAMES(out), nattr, at);
}
static void bin(const char *op, const char *a, const char *b, const char *out) { node(op, 2, NAMES(a, b), out, 0, NULL); }
static void un(const char *op, const char *a, const char *out) { node(op, 1, NAMES(a), out, 0, NULL); }
/* A new graph with one float input x and one float output y of fixed shapes. */
static void graph_xy(int ri, const int64_t *di, int ro, const int64_t *dout) {
    W = tdm_onnx_writer_new("g");
    tdm_onnx_writer_value(W, 0, "x", TDM_FLOAT, ri, di, NULL);
    tdm_onnx_writer_value(W, 1, "y", TDM_FLOAT, ro, dout, NULL);
}
static void scalar(const char *name, float v) { tdm_onnx_writer_initializer(W, name, TDM_FLOAT, 0, NULL, &v); }
static void weights(const char *name, int rank, const int64_t *dims, float scale) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; i++) w[i] = scale * frand();
    tdm_onnx_writer_initializer(W, name, TDM_FLOAT, rank, dims, w);
    free(w);
}
static void ints(const char *name, int n, const int64_t *v) {
    tdm_onnx_writer_initializer(W, name, TDM_INT64, 1, (int64_t[]){n}, v);
}
static void transpose(const char *in, const char *out, int n, const int64_t *perm) {
    tdm_onnx_attr a = {"perm", TDM_ONNX_ATTR_INTS, 0, 0, n, perm};
    node("Transpose", 1, NAMES(in), out, 1, &a);
}
/* x [.., K] -> MatMul by a [K, N] weight, + a bias [N], named out */
static void linear(const char *x, const char *out, const char *prefix, int k, int n) {
    char w[64], b[64], mm[64];
    snprintf(w, sizeof w, "%s.w", prefix), snprintf(b, sizeof b, "%s.b", prefix), snprintf(mm, sizeof mm, "%s.mm", prefix);
    weights(w, 2, (int64_t[]){k, n}, 1.0f / sqrtf((float)k));
    weights(b, 1, (int64_t[]){n}, 0.1f);
    bin("MatMul", x, w, mm);
    bin("Add", mm, b, out);
}

/* ---- running --------------------------------------------------------------------------------------------------- */

typedef struct spec {
    const char *name;
    int64_t opset;
    int nin;
    tdm_dtype dtype[4];
    int rank[4];
    int64_t dims[4][4];
    int64_t hi[4];              /* integer inputs: values in [0, hi) */
    const char *must[6];        /* executed op names that must appear (prefix match: "MatMul+Bias" matches +Gelu) */
    const char *never[6];       /* executed op names that must not */
} spec;
/* set for the next verify(): the optimised plan's arena must be smaller than the reference's (inputs written in place
 * into a Concat's output) */
static int want_smaller_arena;

static size_t last_arena; /* the arena of run()'s last session */

static tdm_model *load(const uint8_t *bytes, size_t len, int no_opt) {
    tdm_model *m = NULL;
    tdm_load_options lo = {0};
    lo.no_optimize = no_opt;
    if (tdm_model_load_memory(bytes, len, &lo, &m)) return NULL;
    return m;
}

/* Run m on the inputs; *outs receives malloc'd copies of every output (float). 0 on failure (why set). */
static int run(tdm_model *m, const spec *sp, void **inputs, int threads, float **outs, int64_t *counts, char *why,
               size_t wl, char *ops, size_t ol) {
    tdm_session *s = NULL;
    tdm_session_options so = {.threads = threads};
    int ok = 0;
    if (tdm_session_create(m, &so, &s)) goto fail;
    for (int i = 0; i < sp->nin; i++)
        if (tdm_session_set_input_shape(s, i, sp->dims[i], sp->rank[i])) goto fail;
    for (int i = 0; i < sp->nin; i++) {
        int64_t n = 1;
        for (int d = 0; d < sp->rank[i]; d++) n *= sp->dims[i][d];
        if (tdm_session_set_input(s, i, inputs[i], (size_t)n * tdm_dtype_size(sp->dtype[i]))) goto fail;
    }
    if (tdm_session_run(s)) goto fail;
    tdm_stats st;
    last_arena = tdm_session_stats(s, &st) ? 0 : st.arena_bytes;
    for (int o = 0; o < tdm_model_num_outputs(m); o++) {
        tdm_tensor_info info;
        const void *data;
        if (tdm_session_output(s, o, &info, &data)) goto fail;
        int64_t n = 1;
        for (int d = 0; d < info.rank; d++) n *= info.dims[d];
        outs[o] = malloc((size_t)(n ? n : 1) * sizeof(float));
        memcpy(outs[o], data, (size_t)n * sizeof(float));
        counts[o] = n;
    }
    if (ops) {
        ops[0] = 0;
        for (int k = 0; k < tdm_session_num_exec_nodes(s); k++) {
            size_t l = strlen(ops);
            snprintf(ops + l, ol - l, "%s%s", k ? " " : "", tdm_session_exec_node_op(s, k));
        }
    }
    ok = 1;
    goto out;
fail:
    snprintf(why, wl, "%s", tdm_last_error());
out:
    tdm_session_free(s);
    return ok;
}

/* Whether the space-separated op list holds an op starting with `prefix`. */
static int has_op(const char *ops, const char *prefix) {
    size_t n = strlen(prefix);
    for (const char *p = ops; *p;) {
        if (!strncmp(p, prefix, n) && (p[n] == ' ' || p[n] == 0 || p[n] == '+')) return 1;
        const char *sp = strchr(p, ' ');
        if (!sp) break;
        p = sp + 1;
    }
    return 0;
}

/* Finish the graph in W, load it fused and unfused, compare at 1 and 3 threads, check the op list. */
static void verify(const spec *sp) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    char what[160], why[512] = "", ops[4096] = "";
    if (tdm_onnx_writer_finish(W, 8, sp->opset, "test_fusion", "1", &bytes, &len)) {
        check(0, sp->name, "writing the model failed");
        tdm_onnx_writer_free(W);
        return;
    }
    tdm_onnx_writer_free(W);
    tdm_model *fused = load(bytes, len, 0), *plain = load(bytes, len, 1);
    free(bytes);
    if (!fused || !plain) {
        check(0, sp->name, tdm_last_error());
        tdm_model_free(fused), tdm_model_free(plain);
        return;
    }
    void *in[4];
    for (int i = 0; i < sp->nin; i++) {
        int64_t n = 1;
        for (int d = 0; d < sp->rank[i]; d++) n *= sp->dims[i][d];
        in[i] = malloc((size_t)n * 8 + 8);
        for (int64_t k = 0; k < n; k++) {
            if (sp->dtype[i] == TDM_FLOAT) ((float *)in[i])[k] = 2.0f * frand();
            else if (sp->dtype[i] == TDM_BOOL) ((uint8_t *)in[i])[k] = frand() > -0.6f;
            else ((int64_t *)in[i])[k] = (int64_t)((frand() + 1.0f) * 0.5f * (float)sp->hi[i]) % sp->hi[i];
        }
    }
    int nout = tdm_model_num_outputs(plain);
    float *ref[4] = {0}, *got[4] = {0};
    int64_t nr[4], ng[4];
    size_t plain_arena = 0;
    if (!run(plain, sp, in, 1, ref, nr, why, sizeof why, NULL, 0)) {
        snprintf(what, sizeof what, "%s: the unfused reference", sp->name);
        check(0, what, why);
    } else if ((plain_arena = last_arena), 1)
        for (int threads = 1; threads <= 3; threads += 2) {
            snprintf(what, sizeof what, "%s, %d thread%s", sp->name, threads, threads > 1 ? "s" : "");
            if (!run(fused, sp, in, threads, got, ng, why, sizeof why, ops, sizeof ops)) {
                check(0, what, why);
                continue;
            }
            double worst = 0;
            int shape_ok = 1;
            for (int o = 0; o < nout; o++) {
                double mx = 0, d = 0;
                shape_ok &= ng[o] == nr[o];
                for (int64_t k = 0; shape_ok && k < nr[o]; k++) {
                    mx = fmax(mx, fabs(ref[o][k]));
                    double e = fabs((double)got[o][k] - ref[o][k]);
                    d = isnan(e) ? INFINITY : fmax(d, e);
                }
                worst = fmax(worst, d / (mx > 0 ? mx : 1));
                free(got[o]);
                got[o] = NULL;
            }
            int ops_ok = 1;
            char bad[256] = "";
            for (int k = 0; k < 6 && sp->must[k]; k++)
                if (!has_op(ops, sp->must[k])) ops_ok = 0, snprintf(bad, sizeof bad, "no %s", sp->must[k]);
            for (int k = 0; k < 6 && sp->never[k]; k++)
                if (has_op(ops, sp->never[k])) ops_ok = 0, snprintf(bad, sizeof bad, "%s left", sp->never[k]);
            if (want_smaller_arena && last_arena >= plain_arena)
                ops_ok = 0, snprintf(bad, sizeof bad, "arena %zu bytes, unoptimised %zu", last_arena, plain_arena);
            snprintf(why, sizeof why, "error %.2g of the largest magnitude; ran [%s]%s%s", worst, ops, *bad ? "; " : "",
                     bad);
            check(shape_ok && worst <= 2e-5 && ops_ok, what, why);
        }
    for (int o = 0; o < nout; o++) free(ref[o]);
    for (int i = 0; i < sp->nin; i++) free(in[i]);
    tdm_model_free(fused);
    tdm_model_free(plain);
}

/* q.t, k.t, v.t: x's three projections split into heads by Reshape(shape) and Transpose, K transposed for K^T. */
static void qkv_heads(int h, const char *shape) {
    const char *which[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        char out[16], r[16], t[16];
        snprintf(out, sizeof out, "%s.out", which[i]), snprintf(r, sizeof r, "%s.r", which[i]);
        snprintf(t, sizeof t, "%s.t", which[i]);
        linear("x", out, which[i], h, h);
        bin("Reshape", out, shape, r);
        transpose(r, t, 4, i == 1 ? (int64_t[]){0, 2, 3, 1} : (int64_t[]){0, 2, 1, 3});
    }
}

/* ---- the cases ----------------------------------------------------------------------------------------------------- */

/* BERT's self-attention at opset 13: projections, heads split by Reshape (constant shape, or computed from Shape as
 * torch writes it with dynamic axes) and Transpose, Q K^T / sqrt(D) + mask [N,1,1,S], Softmax, times V, heads merged
 * by Transpose and Reshape. */
static void case_bert(int n, int s, int a, int d, int dynamic, int mul_scale, int mask_kind) {
    int h = a * d;
    char name[160];
    snprintf(name, sizeof name, "attention, BERT-style, N %d S %d heads %d x %d%s%s%s", n, s, a, d,
             dynamic ? ", shapes from Shape" : "", mul_scale ? ", Mul scale" : "",
             mask_kind == 0 ? ", no mask" : mask_kind == 2 ? ", mask [S,S]" : "");
    W = tdm_onnx_writer_new("g");
    const char *np[4] = {"N", NULL, NULL, NULL};
    tdm_onnx_writer_value(W, 0, "x", TDM_FLOAT, 3, (int64_t[]){-1, s, h}, np);
    if (mask_kind == 1) tdm_onnx_writer_value(W, 0, "mask", TDM_FLOAT, 4, (int64_t[]){-1, 1, 1, s}, np);
    if (mask_kind == 2) tdm_onnx_writer_value(W, 0, "mask", TDM_FLOAT, 2, (int64_t[]){s, s}, NULL);
    tdm_onnx_writer_value(W, 1, "y", TDM_FLOAT, 3, (int64_t[]){-1, s, h}, np);
    const char *heads_shape = "hs", *merge_shape = "ms";
    if (!dynamic) {
        ints("hs", 4, (int64_t[]){0, 0, a, d});
        ints("ms", 3, (int64_t[]){0, 0, h});
    } else { /* Shape(x)[0:2] ++ [a, d], and Shape(context)[0:2] ++ [h], as torch's view(...size()[:-1] + ...) */
        ints("i0", 1, (int64_t[]){0}), ints("i2", 1, (int64_t[]){2}), ints("ad", 2, (int64_t[]){a, d});
        ints("hh", 1, (int64_t[]){h});
        un("Shape", "x", "xs");
        node("Slice", 3, NAMES("xs", "i0", "i2"), "xs2", 0, NULL);
        tdm_onnx_attr ax = {"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL};
        node("Concat", 2, NAMES("xs2", "ad"), "hs", 1, &ax);
    }
    qkv_heads(h, heads_shape);
    bin("MatMul", "q.t", "k.t", "sc");
    scalar("c", mul_scale ? 1.0f / sqrtf((float)d) : sqrtf((float)d));
    bin(mul_scale ? "Mul" : "Div", "sc", "c", "scaled");
    if (mask_kind) bin("Add", "scaled", "mask", "masked");
    tdm_onnx_attr ax = {"axis", TDM_ONNX_ATTR_INT, 0, -1, 0, NULL};
    node("Softmax", 1, NAMES(mask_kind ? "masked" : "scaled"), "p", 1, &ax);
    bin("MatMul", "p", "v.t", "ctx");
    transpose("ctx", "ctx.t", 4, (int64_t[]){0, 2, 1, 3});
    if (dynamic) {
        ints("i0b", 1, (int64_t[]){0}), ints("i2b", 1, (int64_t[]){2}), ints("hh2", 1, (int64_t[]){h});
        un("Shape", "ctx.t", "cs");
        node("Slice", 3, NAMES("cs", "i0b", "i2b"), "cs2", 0, NULL);
        tdm_onnx_attr ax0 = {"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL};
        node("Concat", 2, NAMES("cs2", "hh2"), "ms", 1, &ax0);
    }
    bin("Reshape", "ctx.t", merge_shape, "y");
    spec sp = {name, 13, mask_kind ? 2 : 1, {TDM_FLOAT, TDM_FLOAT}, {3, mask_kind == 2 ? 2 : 4},
               {{n, s, h}, {mask_kind == 2 ? s : n, mask_kind == 2 ? s : 1, 1, s}}, {0},
               {"Attention", "MatMul+Bias"}, {"Softmax", "Transpose", "Div", "Mul"}};
    if (mask_kind == 2) sp.dims[1][2] = 0, sp.dims[1][3] = 0;
    verify(&sp);
}

/* ViT's fused qkv: [N,S,3H] -> Reshape [N,S,3,A,D] -> Transpose (2,0,3,1,4) -> Gather 0/1/2 on axis 0, K^T by a
 * Transpose of k (0,1,3,2); Mul by D^-0.5; no mask. */
static void case_vit(int n, int s, int a, int d) {
    int h = a * d;
    char name[128];
    snprintf(name, sizeof name, "attention, ViT-style qkv with Gather, N %d S %d heads %d x %d", n, s, a, d);
    W = tdm_onnx_writer_new("g");
    const char *np[4] = {"N", NULL, NULL, NULL};
    tdm_onnx_writer_value(W, 0, "x", TDM_FLOAT, 3, (int64_t[]){-1, s, h}, np);
    tdm_onnx_writer_value(W, 1, "y", TDM_FLOAT, 3, (int64_t[]){-1, s, h}, np);
    linear("x", "qkv", "qkv", h, 3 * h);
    ints("s5", 5, (int64_t[]){-1, s, 3, a, d});
    bin("Reshape", "qkv", "s5", "r5");
    transpose("r5", "t5", 5, (int64_t[]){2, 0, 3, 1, 4});
    tdm_onnx_attr ax0 = {"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL};
    const char *which[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        char idx[8];
        snprintf(idx, sizeof idx, "i%d", i);
        int64_t iv = i;
        tdm_onnx_writer_initializer(W, idx, TDM_INT64, 0, NULL, &iv);
        node("Gather", 2, NAMES("t5", idx), which[i], 1, &ax0);
    }
    transpose("k", "kt", 4, (int64_t[]){0, 1, 3, 2});
    bin("MatMul", "q", "kt", "sc");
    scalar("c", 1.0f / sqrtf((float)d));
    bin("Mul", "sc", "c", "scaled");
    tdm_onnx_attr ax = {"axis", TDM_ONNX_ATTR_INT, 0, -1, 0, NULL};
    node("Softmax", 1, NAMES("scaled"), "p", 1, &ax);
    bin("MatMul", "p", "v", "ctx");
    transpose("ctx", "ctx.t", 4, (int64_t[]){0, 2, 1, 3});
    ints("ms", 3, (int64_t[]){-1, s, h});
    bin("Reshape", "ctx.t", "ms", "y");
    spec sp = {name, 13, 1, {TDM_FLOAT}, {3}, {{n, s, h}}, {0}, {"Attention"}, {"Softmax", "Gather", "Transpose"}};
    verify(&sp);
}

/* GPT-2's causal attention: Where(constant bool [1,1,S,S], scores / sqrt(D), lowest float); and the same with the
 * condition as an input and Where's branches swapped (Where(cond, fill, scores)). */
static void case_causal(int n, int s, int a, int d, int cond_input) {
    int h = a * d;
    char name[128];
    snprintf(name, sizeof name, "attention, causal Where%s, N %d S %d heads %d x %d",
             cond_input ? " (condition an input, branches swapped)" : "", n, s, a, d);
    W = tdm_onnx_writer_new("g");
    const char *np[4] = {"N", NULL, NULL, NULL};
    tdm_onnx_writer_value(W, 0, "x", TDM_FLOAT, 3, (int64_t[]){-1, s, h}, np);
    if (cond_input) tdm_onnx_writer_value(W, 0, "cond", TDM_BOOL, 4, (int64_t[]){1, 1, s, s}, NULL);
    tdm_onnx_writer_value(W, 1, "y", TDM_FLOAT, 4, (int64_t[]){-1, a, s, d}, np);
    uint8_t *m = malloc((size_t)(s * s));
    for (int i = 0; i < s; i++)
        for (int j = 0; j < s; j++) m[i * s + j] = j <= i;
    if (!cond_input) tdm_onnx_writer_initializer(W, "cond", TDM_BOOL, 4, (int64_t[]){1, 1, s, s}, m);
    free(m);
    ints("hs", 4, (int64_t[]){0, 0, a, d});
    qkv_heads(h, "hs");
    bin("MatMul", "q.t", "k.t", "sc");
    scalar("c", sqrtf((float)d));
    bin("Div", "sc", "c", "scaled");
    scalar("low", -3.4028234663852886e38f);
    node("Where", 3, cond_input ? NAMES("cond", "low", "scaled") : NAMES("cond", "scaled", "low"), "masked", 0, NULL);
    tdm_onnx_attr ax = {"axis", TDM_ONNX_ATTR_INT, 0, -1, 0, NULL};
    node("Softmax", 1, NAMES("masked"), "p", 1, &ax);
    bin("MatMul", "p", "v.t", "y"); /* the context left in [N, A, S, D] */
    spec sp = {name, 13, cond_input ? 2 : 1, {TDM_FLOAT, TDM_BOOL}, {3, 4}, {{n, s, h}, {1, 1, s, s}}, {0},
               {"Attention"}, {"Softmax", "Where"}};
    verify(&sp);
}

/* Attention on 3-D tensors given as inputs ([N*A, S, D], no views), with an additive mask input [S, S]. */
static void case_plain3d(int b, int s, int d) {
    char name[96];
    snprintf(name, sizeof name, "attention on 3-D inputs, [%d, %d, %d], mask [S,S]", b, s, d);
    W = tdm_onnx_writer_new("g");
    tdm_onnx_writer_value(W, 0, "q", TDM_FLOAT, 3, (int64_t[]){b, s, d}, NULL);
    tdm_onnx_writer_value(W, 0, "kt", TDM_FLOAT, 3, (int64_t[]){b, d, s}, NULL);
    tdm_onnx_writer_value(W, 0, "v", TDM_FLOAT, 3, (int64_t[]){b, s, d}, NULL);
    tdm_onnx_writer_value(W, 0, "mask", TDM_FLOAT, 2, (int64_t[]){s, s}, NULL);
    tdm_onnx_writer_value(W, 1, "y", TDM_FLOAT, 3, (int64_t[]){b, s, d}, NULL);
    bin("MatMul", "q", "kt", "sc");
    bin("Add", "mask", "sc", "masked"); /* the mask on the left */
    node("Softmax", 1, NAMES("masked"), "p", 0, NULL);
    bin("MatMul", "p", "v", "y");
    spec sp = {name, 13, 4, {TDM_FLOAT, TDM_FLOAT, TDM_FLOAT, TDM_FLOAT}, {3, 3, 3, 2},
               {{b, s, d}, {b, d, s}, {b, s, d}, {s, s}}, {0}, {"Attention"}, {"Softmax", "MatMul"}};
    verify(&sp);
}

/* LayerNorm as torch writes it before opset 17 (Pow, or Mul by itself), with gamma and beta; and two look-alikes
 * that must stay: a mean over two axes, and an epsilon that is a vector. */
static void case_layernorm(int variant) {
    static const char *names[4] = {"LayerNorm decomposed (Pow)", "LayerNorm decomposed (Mul by itself)",
                                   "not a LayerNorm: the means over two axes", "not a LayerNorm: a vector epsilon"};
    graph_xy(3, (int64_t[]){2, 5, 7}, 3, (int64_t[]){2, 5, 7});
    int64_t last[2] = {variant == 2 ? -2 : -1, -1};
    tdm_onnx_attr at = {"axes", TDM_ONNX_ATTR_INTS, 0, 0, variant == 2 ? 2 : 1, last};
    node("ReduceMean", 1, NAMES("x"), "mean", 1, &at);
    bin("Sub", "x", "mean", "d");
    scalar("two", 2.0f);
    if (variant == 1) bin("Mul", "d", "d", "sq");
    else bin("Pow", "d", "two", "sq");
    node("ReduceMean", 1, NAMES("sq"), "var", 1, &at);
    if (variant == 3) weights("eps", 1, (int64_t[]){7}, 0.001f);
    else scalar("eps", 1e-5f);
    bin("Add", "var", "eps", "ve");
    un("Sqrt", "ve", "sd");
    bin("Div", "d", "sd", "n");
    weights("g", 1, (int64_t[]){7}, 1.0f);
    weights("b", 1, (int64_t[]){7}, 0.5f);
    bin("Mul", "n", "g", "m");
    bin("Add", "m", "b", "y");
    spec sp = {names[variant], 13, 1, {TDM_FLOAT}, {3}, {{2, 5, 7}}, {0}, {NULL}, {NULL}};
    if (variant < 2) sp.must[0] = "LayerNormalization", sp.never[0] = "ReduceMean", sp.never[1] = "Sqrt";
    else sp.must[0] = "ReduceMean", sp.never[0] = "LayerNormalization";
    verify(&sp);
}

/* GELU after a dense layer in four spellings: torch's erf form, the erf form with Mul by 1/sqrt(2) and the halving
 * first, GPT-2's tanh form, and one with the wrong constant (not GELU: it must stay as written). */
static void case_gelu(int variant) {
    static const char *names[4] = {"GELU, erf form (torch)", "GELU, erf form (Mul by 1/sqrt 2, halved first)",
                                   "GELU, tanh form (GPT-2)", "not a GELU: erf(x / 1.5)"};
    graph_xy(3, (int64_t[]){2, 5, 12}, 3, (int64_t[]){2, 5, 20});
    linear("x", "h", "fc", 12, 20);
    scalar("one", 1.0f), scalar("half", 0.5f);
    if (variant == 0 || variant == 3) {
        scalar("r2", variant == 3 ? 1.5f : 1.41421353816986084f);
        bin("Div", "h", "r2", "t0"), un("Erf", "t0", "t1"), bin("Add", "t1", "one", "t2"), bin("Mul", "h", "t2", "t3");
        bin("Mul", "t3", "half", "y");
    } else if (variant == 1) {
        scalar("ir2", 0.70710678118654752f);
        bin("Mul", "half", "h", "t0"), bin("Mul", "h", "ir2", "t1"), un("Erf", "t1", "t2"), bin("Add", "one", "t2", "t3");
        bin("Mul", "t0", "t3", "y");
    } else {
        scalar("three", 3.0f), scalar("k", 0.044715f), scalar("s2p", 0.797884583473205566f);
        bin("Mul", "half", "h", "a0"), bin("Pow", "h", "three", "a1"), bin("Mul", "k", "a1", "a2");
        bin("Add", "h", "a2", "a3"), bin("Mul", "s2p", "a3", "a4"), un("Tanh", "a4", "a5");
        bin("Add", "one", "a5", "a6"), bin("Mul", "a0", "a6", "y");
    }
    spec sp = {names[variant], 13, 1, {TDM_FLOAT}, {3}, {{2, 5, 12}}, {0}, {NULL}, {NULL}};
    if (variant == 3) sp.must[0] = "Erf", sp.never[0] = "MatMul+Bias+Gelu";
    else sp.must[0] = variant == 2 ? "MatMul+Bias+GeluTanh" : "MatMul+Bias+Gelu", sp.never[0] = "Erf",
         sp.never[1] = "Tanh";
    verify(&sp);
}

/* Dense layers: MatMul + bias + residual (the residual joins the GEMM's stores), Gemm with transB and a bias, with
 * alpha 0.5, and with beta 2 (which stays on the plain path); a bias of rank 2 stays an Add. */
static void case_dense(int variant) {
    static const char *names[4] = {"dense: MatMul + bias + residual Add", "dense: Gemm transB with a bias, alpha 0.5",
                                   "dense: Gemm with beta 2 (plain path)", "dense: a [1, N] bias stays an Add"};
    if (variant == 0 || variant == 3) {
        graph_xy(3, (int64_t[]){2, 7, 16}, 3, (int64_t[]){2, 7, 16});
        weights("w", 2, (int64_t[]){16, 16}, 0.25f);
        weights("b", variant == 3 ? 2 : 1, variant == 3 ? (int64_t[]){1, 16} : (int64_t[]){16}, 0.1f);
        bin("MatMul", "x", "w", "mm"), bin("Add", "mm", "b", "lin"), bin("Add", "lin", "x", "y");
    } else {
        graph_xy(2, (int64_t[]){13, 24}, 2, (int64_t[]){13, 40});
        weights("w", 2, (int64_t[]){40, 24}, 0.2f);
        weights("c", 1, (int64_t[]){40}, 0.1f);
        tdm_onnx_attr at[3] = {{"transB", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL},
                               {"alpha", TDM_ONNX_ATTR_FLOAT, variant == 1 ? 0.5f : 1.0f, 0, 0, NULL},
                               {"beta", TDM_ONNX_ATTR_FLOAT, variant == 2 ? 2.0f : 1.0f, 0, 0, NULL}};
        node("Gemm", 3, NAMES("x", "w", "c"), "g", 3, at);
        un("Relu", "g", "y");
    }
    spec sp = {names[variant], 13, 1, {TDM_FLOAT}, {variant == 0 || variant == 3 ? 3 : 2},
               {{2, 7, 16}}, {0}, {NULL}, {NULL}};
    if (variant == 1 || variant == 2) sp.dims[0][0] = 13, sp.dims[0][1] = 24;
    if (variant == 0) sp.must[0] = "MatMul+Bias+Add", sp.never[0] = "Add";
    else if (variant == 3) sp.must[0] = "MatMul", sp.must[1] = "Add", sp.never[0] = "MatMul+Bias";
    else sp.must[0] = "Gemm+Relu";
    verify(&sp);
}

/* A zero Pad of the spatial axes goes into the Conv or AveragePool that reads it (fuse.c), and the Pads that are not
 * that stay: another value, the channel axis, an AveragePool with pads of its own that it does not count, MaxPool. */
static void case_pad(int variant) {
    static const char *names[6] = {"pad: zero Pad into a padded Conv", "pad: zero Pad into AveragePool",
                                   "pad: AveragePool with its own uncounted pads keeps the Pad",
                                   "pad: a Pad of 0.5 stays", "pad: a Pad of the channel axis stays",
                                   "pad: MaxPool keeps its Pad"};
    const int64_t in[4] = {2, 3, 9, 8};
    int chan = variant == 4, conv = variant == 0 || variant == 3 || variant == 4;
    /* pads: [N, C, H, W] begins then ends; the channel case adds one channel in front */
    const int64_t pads[8] = {0, chan, 1, 2, 0, 0, 2, 1};
    int64_t out[4] = {2, conv ? 4 : 3 + chan, 9 + 3, 8 + 3};
    if (variant == 0 || variant == 3 || variant == 4) out[2] = 9 + 3 + 2 - 2, out[3] = 8 + 3 + 2 - 2; /* own pads 1 */
    if (variant == 1 || variant == 5) out[2] = 9 + 3 - 2, out[3] = 8 + 3 - 2;
    if (variant == 2) out[2] = 9 + 3, out[3] = 8 + 3;
    graph_xy(4, in, 4, out);
    ints("pads", 8, pads);
    if (variant == 3) scalar("value", 0.5f);
    node("Pad", variant == 3 ? 3 : 2, variant == 3 ? NAMES("x", "pads", "value") : NAMES("x", "pads"), "p", 0, NULL);
    const int64_t k3[2] = {3, 3}, one[4] = {1, 1, 1, 1};
    if (conv) {
        weights("w", 4, (int64_t[]){4, 3 + chan, 3, 3}, 0.3f);
        weights("b", 1, (int64_t[]){4}, 0.1f);
        tdm_onnx_attr at[2] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, k3}, {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, one}};
        node("Conv", 3, NAMES("p", "w", "b"), "y", 2, at);
    } else {
        tdm_onnx_attr at[3] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, k3},
                               {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, one},
                               {"count_include_pad", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL}};
        node(variant == 5 ? "MaxPool" : "AveragePool", 1, NAMES("p"), "y", variant == 2 ? 3 : 1, at);
    }
    spec sp = {names[variant], 13, 1, {TDM_FLOAT}, {4}, {{2, 3, 9, 8}}, {0}, {NULL}, {NULL}};
    if (variant <= 1) sp.never[0] = "Pad", sp.must[0] = variant == 0 ? "Conv" : "AveragePool";
    else sp.must[0] = "Pad";
    verify(&sp);
}

/* Concat's inputs written straight into its output (plan.c, alias_inputs): the outputs equal the op-by-op reference's
 * wherever an input may or may not be placed there: a Conv's and a Relu's outputs (the arena must shrink), Concats
 * nested (negative axis), inputs that two Concats share, batch 2 (the inputs are not runs of the output: copied),
 * a concat along the height of a one-channel map, an input that is also a graph output (stays where it is), and an
 * input read after the Concat's output has died (its memory must live on: a value made meanwhile would take it). */
static void case_concat(int variant) {
    static const char *names[7] = {"concat: a Conv and a Relu written into the Concat", "concat: nested, axis -3",
                                   "concat: two Concats share their inputs", "concat: batch 2 copies",
                                   "concat: along the height of one channel", "concat: an input that is a graph output",
                                   "concat: an input read after the Concat's output is dead"};
    int64_t n = variant == 3 ? 2 : 1, c = variant == 4 ? 1 : 3, in[4] = {n, c, 8, 8};
    int64_t out[4] = {n, 2 * c, 8, 8};
    if (variant == 0) out[1] = 4 + c;
    if (variant == 1) out[1] = 3 * c;
    if (variant == 4) out[1] = 1, out[2] = 16;
    graph_xy(4, in, 4, out);
    if (variant == 5) tdm_onnx_writer_value(W, 1, "a", TDM_FLOAT, 4, in, NULL);
    tdm_onnx_attr ax = {"axis", TDM_ONNX_ATTR_INT, 0, variant == 4 ? 2 : variant == 1 ? -3 : 1, 0, NULL};
    un("Relu", "x", "a");
    un("Neg", "x", "b");
    if (variant == 0) {
        const int64_t k3[2] = {3, 3}, one[4] = {1, 1, 1, 1};
        weights("w", 4, (int64_t[]){4, c, 3, 3}, 0.3f);
        tdm_onnx_attr at[2] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, k3}, {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, one}};
        node("Conv", 2, NAMES("x", "w"), "cv", 2, at);
        node("Concat", 2, NAMES("cv", "a"), "y", 1, &ax);
    } else if (variant == 1) {
        un("Sigmoid", "x", "e");
        node("Concat", 2, NAMES("a", "b"), "ab", 1, &ax);
        node("Concat", 2, NAMES("ab", "e"), "y", 1, &ax);
    } else if (variant == 6) { /* cat dies at Sigmoid; Tanh's output is made while `a` (inside cat) is still read */
        node("Concat", 2, NAMES("a", "b"), "cat", 1, &ax);
        un("Sigmoid", "cat", "p");
        un("Tanh", "p", "q");
        node("Concat", 2, NAMES("a", "a"), "r", 1, &ax);
        bin("Add", "q", "r", "y");
    } else if (variant == 2) {
        node("Concat", 2, NAMES("a", "b"), "ab", 1, &ax);
        node("Concat", 2, NAMES("b", "a"), "ba", 1, &ax);
        bin("Sub", "ab", "ba", "y");
    } else {
        node("Concat", 2, NAMES("a", "b"), "y", 1, &ax);
    }
    spec sp = {names[variant], 13, 1, {TDM_FLOAT}, {4}, {{n, c, 8, 8}}, {0}, {"Concat"}, {NULL}};
    want_smaller_arena = variant == 0;
    verify(&sp);
    want_smaller_arena = 0;
}

/* Reshape, Flatten, Squeeze and Unsqueeze with their data input written in place: a chain of them into a Concat
 * (ShuffleNet's shuffle), one of a graph input (copied), an input read after the view has died, and a Conv's output
 * written into its Flatten's, then reduced: the arena must shrink (the Conv's output and the Flatten's are no longer
 * two buffers at once). */
static void case_view(int variant) {
    static const char *names[4] = {"view: Reshape, Unsqueeze, Squeeze, Flatten chain into a Concat",
                                   "view: a Reshape of the graph input is a copy",
                                   "view: an input read after its Flatten has died",
                                   "view: a Conv written into its Flatten (the arena shrinks)"};
    const int64_t in[4] = {1, 3, 8, 8}, flat[2] = {1, 192}, cat[2] = {1, 384}, one[2] = {1, 1};
    graph_xy(4, in, 2, variant == 0 ? cat : variant == 3 ? one : flat);
    if (variant == 3) {
        weights("w", 4, (int64_t[]){16, 3, 1, 1}, 0.5f);
        node("Conv", 2, NAMES("x", "w"), "c", 0, NULL);
        un("Flatten", "c", "f");
        node("ReduceMean", 1, NAMES("f"), "y", 1,
             &(tdm_onnx_attr){"axes", TDM_ONNX_ATTR_INTS, 0, 0, 1, (const int64_t[]){1}});
    } else if (variant == 0) {
        ints("s3", 3, (const int64_t[]){1, 3, 64});
        ints("ax", 1, (const int64_t[]){0});
        un("Relu", "x", "a");
        node("Reshape", 2, NAMES("a", "s3"), "r", 0, NULL);
        node("Unsqueeze", 2, NAMES("r", "ax"), "u", 0, NULL);
        node("Squeeze", 2, NAMES("u", "ax"), "q", 0, NULL);
        un("Flatten", "q", "f");
        un("Neg", "x", "b");
        un("Flatten", "b", "g");
        node("Concat", 2, NAMES("f", "g"), "y", 1, &(tdm_onnx_attr){"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL});
    } else if (variant == 1) {
        ints("s2", 2, flat);
        node("Reshape", 2, NAMES("x", "s2"), "y", 0, NULL);
    } else { /* f dies at Sigmoid; Tanh's output is made while `a` (inside f) is still read by Neg */
        un("Relu", "x", "a");
        un("Flatten", "a", "f");
        un("Sigmoid", "f", "p");
        un("Tanh", "p", "t");
        un("Neg", "a", "n");
        un("Flatten", "n", "g");
        bin("Add", "t", "g", "y");
    }
    spec sp = {names[variant], 13, 1, {TDM_FLOAT}, {4}, {{1, 3, 8, 8}}, {0}, {NULL}, {NULL}};
    want_smaller_arena = variant == 0 || variant == 3;
    verify(&sp);
    want_smaller_arena = 0;
}

/* The internal op's name in a model file is an unknown op, not a way into the engine's internals. */
static void case_internal_op(void) {
    graph_xy(1, (int64_t[]){4}, 1, (int64_t[]){4});
    un("Attention", "x", "y");
    uint8_t *bytes = NULL;
    size_t len = 0;
    tdm_model *m = NULL;
    tdm_status st = tdm_onnx_writer_finish(W, 8, 13, "t", "1", &bytes, &len);
    tdm_onnx_writer_free(W);
    if (!st) st = tdm_model_load_memory(bytes, len, NULL, &m);
    free(bytes);
    const char *e = tdm_last_error();
    check(st == TDM_UNSUPPORTED && !m && e && strstr(e, "'Attention' is not supported"),
          "a model naming the internal op Attention is refused", e);
    tdm_model_free(m);
}

int main(void) {
    case_bert(1, 8, 2, 4, 0, 0, 1);
    case_bert(2, 5, 2, 3, 0, 0, 1);
    case_bert(2, 1, 3, 3, 0, 1, 1);
    case_bert(2, 9, 3, 5, 1, 0, 1);
    case_bert(1, 7, 2, 4, 0, 1, 0);
    case_bert(2, 6, 2, 4, 0, 0, 2);
    case_bert(1, 40, 2, 16, 1, 0, 1); /* more rows than a block: several row blocks per head */
    case_vit(2, 5, 3, 4);
    case_vit(1, 17, 2, 8);
    case_causal(2, 6, 2, 4, 0);
    case_causal(1, 9, 3, 3, 1);
    case_plain3d(4, 7, 5);
    for (int v = 0; v < 4; v++) case_layernorm(v);
    for (int v = 0; v < 4; v++) case_gelu(v);
    for (int v = 0; v < 4; v++) case_dense(v);
    for (int v = 0; v < 6; v++) case_pad(v);
    for (int v = 0; v < 7; v++) case_concat(v);
    for (int v = 0; v < 4; v++) case_view(v);
    case_internal_op();
    printf("fusion: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
