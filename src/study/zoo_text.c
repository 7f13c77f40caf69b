/* zoo_text.c - the transformers of the zoo, built with zoo_build.h and written as torch.onnx writes them:
 *   - BERT encoders (HuggingFace BertModel: bert_tiny L2 H128 A2, bert_mini L4 H256 A4, bert_small L4 H512 A8,
 *     bert_base L12 H768 A12; vocabulary 30522, 512 positions, 2 token types, intermediate 4H, LayerNorm eps 1e-12),
 *     inputs input_ids, attention_mask and token_type_ids (INT64 [N, seq]), outputs last_hidden_state [N, seq, H]
 *     and pooler_output [N, H] (the first token through Linear + Tanh);
 *   - ViT-Ti/16 (timm's vit_tiny_patch16_224: 224x224, 16x16 patches, 12 blocks of width 192 with 3 heads, fused
 *     qkv, class token and learned position embeddings, pre-norm blocks with LayerNorm eps 1e-6, the class token's
 *     final state through the head);
 *   - a GPT-2-style decoder (HuggingFace GPT2LMHeadModel layout: Conv1D weights [in, out], fused c_attn split in
 *     three, the causal mask as a constant bool tensor applied with Where, gelu_new (the tanh form), a final
 *     LayerNorm and an LM head tied to the token embedding), input input_ids, output logits [N, seq, vocab], no
 *     KV cache.
 * Linear layers on 3-D activations are MatMul with the weight stored [in, out] plus Add of the bias, as torch
 * writes them; on 2-D ones Gemm. At opset 13 LayerNorm is decomposed (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt,
 * Div, Mul, Add) and GELU is Div by sqrt(2), Erf, Add 1, Mul, Mul 0.5; at opset 17 LayerNorm is the
 * LayerNormalization op. Attention: per-head Reshape and Transpose, MatMul of Q and K^T, Div by sqrt(d) (Mul by
 * d^-0.5 in ViT), the mask, Softmax, MatMul with V, Transpose, Reshape, the output projection. Weights are seeded:
 * linear layers N(0, 1/in), embeddings N(0, 1), LayerNorm scale U(0.8, 1.2) and shift U(-0.1, 0.1), so every
 * softmax sees logits of order one. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zoo_build.h"

#define TN (ZB_NAME + 32)

/* `<prefix>.weight` [nin, nout] and `<prefix>.bias` [nout]: MatMul then Add, the output named `out`. */
static void t_linear(zb *b, const char *in, const char *out, const char *prefix, int nin, int nout) {
    char wn[TN], bn[TN], mm[TN];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    snprintf(mm, sizeof mm, "%s.MatMul", prefix);
    int64_t wd[2] = {nin, nout}, bd[1] = {nout};
    zb_param_normal(b, wn, R_FC_W, 2, wd, 1.0 / sqrt((double)nin));
    zb_param_normal(b, bn, R_FC_B, 1, bd, 0.1);
    const char *i1[2] = {in, wn}, *i2[2] = {mm, bn};
    zb_node(b, "MatMul", mm, 2, i1, mm, 0, NULL);
    zb_node(b, "Add", out, 2, i2, out, 0, NULL);
}

/* A node with two inputs and one output named like the node. */
static void t_bin(zb *b, const char *op, const char *x, const char *y, const char *out) {
    const char *in[2] = {x, y};
    zb_node(b, op, out, 2, in, out, 0, NULL);
}

static void t_un(zb *b, const char *op, const char *x, const char *out) {
    const char *in[1] = {x};
    zb_node(b, op, out, 1, in, out, 0, NULL);
}

static void t_scalar(zb *b, char *name, size_t cap, float v) {
    snprintf(name, cap, "const.f32.%.9g", v);
    zb_scalar_f32(b, name, v);
}

/* LayerNorm over the last axis (width h), `<prefix>.weight` and `<prefix>.bias`, output `out`. */
static void t_layernorm(zb *b, const char *in, const char *out, const char *prefix, int h, float eps) {
    char wn[TN], bn[TN], n[6][TN], two[48], epsn[48];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    int64_t d[1] = {h};
    zb_param_uniform(b, wn, R_PARAM, 1, d, 0.8, 1.2);
    zb_param_uniform(b, bn, R_PARAM, 1, d, -0.1, 0.1);
    if (b->opset >= 17) {
        tdm_onnx_attr at[2] = {{"axis", TDM_ONNX_ATTR_INT, 0, -1, 0, NULL},
                               {"epsilon", TDM_ONNX_ATTR_FLOAT, eps, 0, 0, NULL}};
        const char *i3[3] = {in, wn, bn};
        zb_node(b, "LayerNormalization", out, 3, i3, out, 2, at);
        return;
    }
    static const char *const sfx[6] = {"ReduceMean", "Sub", "Pow", "ReduceMean_1", "Add", "Sqrt"};
    for (int i = 0; i < 6; i++) snprintf(n[i], sizeof n[i], "%s.%s", prefix, sfx[i]);
    char dv[TN], mu[TN];
    snprintf(dv, sizeof dv, "%s.Div", prefix);
    snprintf(mu, sizeof mu, "%s.Mul", prefix);
    t_scalar(b, two, sizeof two, 2.0f);
    t_scalar(b, epsn, sizeof epsn, eps);
    int64_t last[1] = {-1};
    tdm_onnx_attr at[1] = {{"axes", TDM_ONNX_ATTR_INTS, 0, 0, 1, last}};
    const char *i0[1] = {in}, *i1[1] = {n[2]};
    zb_node(b, "ReduceMean", n[0], 1, i0, n[0], 1, at);
    t_bin(b, "Sub", in, n[0], n[1]);
    t_bin(b, "Pow", n[1], two, n[2]);
    zb_node(b, "ReduceMean", n[3], 1, i1, n[3], 1, at);
    t_bin(b, "Add", n[3], epsn, n[4]);
    t_un(b, "Sqrt", n[4], n[5]);
    t_bin(b, "Div", n[1], n[5], dv);
    t_bin(b, "Mul", dv, wn, mu);
    t_bin(b, "Add", mu, bn, out);
}

/* GELU as torch writes the exact (erf) form: x * 0.5 * (1 + erf(x / sqrt(2))). */
static void t_gelu_erf(zb *b, const char *in, const char *out, const char *prefix) {
    char n[4][TN], c[3][48];
    static const char *const sfx[4] = {"Div", "Erf", "Add", "Mul"};
    for (int i = 0; i < 4; i++) snprintf(n[i], sizeof n[i], "%s.%s", prefix, sfx[i]);
    t_scalar(b, c[0], sizeof c[0], 1.41421353816986084f);
    t_scalar(b, c[1], sizeof c[1], 1.0f);
    t_scalar(b, c[2], sizeof c[2], 0.5f);
    t_bin(b, "Div", in, c[0], n[0]);
    t_un(b, "Erf", n[0], n[1]);
    t_bin(b, "Add", n[1], c[1], n[2]);
    t_bin(b, "Mul", in, n[2], n[3]);
    t_bin(b, "Mul", n[3], c[2], out);
}

/* GPT-2's gelu_new: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))). */
static void t_gelu_tanh(zb *b, const char *in, const char *out, const char *prefix) {
    char n[7][TN], c[5][48];
    static const char *const sfx[7] = {"Mul", "Pow", "Mul_1", "Add", "Mul_2", "Tanh", "Add_1"};
    for (int i = 0; i < 7; i++) snprintf(n[i], sizeof n[i], "%s.%s", prefix, sfx[i]);
    t_scalar(b, c[0], sizeof c[0], 0.5f);
    t_scalar(b, c[1], sizeof c[1], 3.0f);
    t_scalar(b, c[2], sizeof c[2], 0.044715f);
    t_scalar(b, c[3], sizeof c[3], 0.797884583473205566f);
    t_scalar(b, c[4], sizeof c[4], 1.0f);
    t_bin(b, "Mul", c[0], in, n[0]);
    t_bin(b, "Pow", in, c[1], n[1]);
    t_bin(b, "Mul", c[2], n[1], n[2]);
    t_bin(b, "Add", in, n[2], n[3]);
    t_bin(b, "Mul", c[3], n[3], n[4]);
    t_un(b, "Tanh", n[4], n[5]);
    t_bin(b, "Add", c[4], n[5], n[6]);
    t_bin(b, "Mul", n[0], n[6], out);
}

static void t_transpose(zb *b, const char *in, const char *out, int rank, const int64_t *perm) {
    tdm_onnx_attr at[1] = {{"perm", TDM_ONNX_ATTR_INTS, 0, 0, rank, perm}};
    const char *i1[1] = {in};
    zb_node(b, "Transpose", out, 1, i1, out, 1, at);
}

/* [N, S, H] -> [N, A, S, D] (perm 0,2,1,3) or, for keys, [N, A, D, S] (perm 0,2,3,1). */
static void t_heads(zb *b, const char *in, const char *out, int s, int a, int d, int key) {
    char r[TN];
    snprintf(r, sizeof r, "%s.Reshape", out);
    int64_t dims[4] = {-1, s, a, d}, pq[4] = {0, 2, 1, 3}, pk[4] = {0, 2, 3, 1};
    zb_reshape(b, in, r, 4, dims, 0);
    t_transpose(b, r, out, 4, key ? pk : pq);
}

enum { MASK_ADD, MASK_CAUSAL, MASK_NONE };

/* softmax(q k^T / sqrt(d) + mask) v on heads q [N,A,S,D], kt [N,A,D,S], v [N,A,S,D], back to [N, S, H] as `out`.
 * MASK_ADD adds `mask` ([N,1,1,S]); MASK_CAUSAL keeps the scores where the bool constant `mask` ([1,1,S,S]) is
 * true and puts the lowest float elsewhere; ViT (mul_scale) multiplies by d^-0.5 instead of dividing. */
static void t_attention(zb *b, const char *p, const char *q, const char *kt, const char *v, int s, int a, int d,
                        int mask_kind, const char *mask, int mul_scale, const char *out) {
    char sc[TN], scaled[TN], masked[TN], prob[TN], ctx[TN], tr[TN], cst[48], low[48];
    snprintf(sc, sizeof sc, "%s.scores", p);
    snprintf(scaled, sizeof scaled, "%s.scaled", p);
    snprintf(masked, sizeof masked, "%s.masked", p);
    snprintf(prob, sizeof prob, "%s.Softmax", p);
    snprintf(ctx, sizeof ctx, "%s.context", p);
    snprintf(tr, sizeof tr, "%s.context.Transpose", p);
    t_bin(b, "MatMul", q, kt, sc);
    if (mul_scale) {
        t_scalar(b, cst, sizeof cst, (float)(1.0 / sqrt((double)d)));
        t_bin(b, "Mul", sc, cst, scaled);
    } else {
        t_scalar(b, cst, sizeof cst, (float)sqrt((double)d));
        t_bin(b, "Div", sc, cst, scaled);
    }
    const char *logits = scaled;
    if (mask_kind == MASK_ADD) {
        t_bin(b, "Add", scaled, mask, masked);
        logits = masked;
    } else if (mask_kind == MASK_CAUSAL) {
        t_scalar(b, low, sizeof low, -3.4028234663852886e38f);
        const char *wi[3] = {mask, scaled, low};
        zb_node(b, "Where", masked, 3, wi, masked, 0, NULL);
        logits = masked;
    }
    tdm_onnx_attr ax[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, -1, 0, NULL}};
    const char *si[1] = {logits};
    zb_node(b, "Softmax", prob, 1, si, prob, 1, ax);
    t_bin(b, "MatMul", prob, v, ctx);
    int64_t perm[4] = {0, 2, 1, 3}, dims[3] = {-1, s, a * d};
    t_transpose(b, ctx, tr, 4, perm);
    zb_reshape(b, tr, out, 3, dims, 0);
}

/* Gather rows of table `table` ([rows, h], drawn N(0, std^2)) at `ids`. */
static void t_embedding(zb *b, const char *table, int rows, int h, double std, const char *ids, const char *out) {
    int64_t d[2] = {rows, h};
    zb_param_normal(b, table, R_PARAM, 2, d, std);
    tdm_onnx_attr ax[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL}};
    const char *in[2] = {table, ids};
    zb_node(b, "Gather", out, 2, in, out, 1, ax);
}

/* Row `index` of axis 1: [N, S, H] -> [N, H] (the class token, BERT's first token). */
static void t_take_first(zb *b, const char *in, const char *out) {
    int64_t zero = 0;
    zb_const_i64(b, "const.i64.0", 0, NULL, &zero);
    tdm_onnx_attr ax[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *gi[2] = {in, "const.i64.0"};
    zb_node(b, "Gather", out, 2, gi, out, 1, ax);
}

/* Position ids 0..seq-1 as a constant [1, seq] (the slice of the position_ids buffer torch folds). */
static void t_positions(zb *b, const char *name, int seq) {
    int64_t vals[4096], d[2] = {1, seq};
    for (int i = 0; i < seq && i < 4096; i++) vals[i] = i;
    zb_const_i64(b, name, 2, d, vals);
}

static void t_gemm(zb *b, const char *in, const char *out, const char *prefix, int nin, int nout) {
    char wn[TN], bn[TN];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    int64_t wd[2] = {nout, nin}, bd[1] = {nout};
    zb_param_normal(b, wn, R_FC_W, 2, wd, 1.0 / sqrt((double)nin));
    zb_param_normal(b, bn, R_FC_B, 1, bd, 0.1);
    tdm_onnx_attr at[1] = {{"transB", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in3[3] = {in, wn, bn};
    zb_node(b, "Gemm", out, 3, in3, out, 1, at);
}

static void build_bert(zb *b, const zoo_text *t) {
    const int H = t->hidden, S = t->seq, A = t->heads, D = H / A;
    const float eps = 1e-12f;
    char x[TN], y[TN], q[TN], k[TN], v[TN], p[TN], n[TN], ctx[TN], c1[48], cmin[48];
    t_embedding(b, "embeddings.word_embeddings.weight", t->vocab, H, 1.0, "input_ids", "embeddings.word");
    t_embedding(b, "embeddings.token_type_embeddings.weight", 2, H, 1.0, "token_type_ids", "embeddings.token_type");
    t_positions(b, "embeddings.position_ids", S);
    t_embedding(b, "embeddings.position_embeddings.weight", t->positions, H, 1.0, "embeddings.position_ids",
                "embeddings.position");
    t_bin(b, "Add", "embeddings.word", "embeddings.token_type", "embeddings.Add");
    t_bin(b, "Add", "embeddings.Add", "embeddings.position", "embeddings.Add_1");
    t_layernorm(b, "embeddings.Add_1", "embeddings.out", "embeddings.LayerNorm", H, eps);
    /* the extended mask: (1 - mask[:, None, None, :]) * lowest float */
    int64_t one = 1, two = 2, d1[1] = {1};
    zb_const_i64(b, "const.axes.1", 1, d1, &one);
    zb_const_i64(b, "const.axes.2", 1, d1, &two);
    const char *u1[2] = {"attention_mask", "const.axes.1"}, *u2[2] = {"mask.Unsqueeze", "const.axes.2"};
    zb_node(b, "Unsqueeze", "mask.Unsqueeze", 2, u1, "mask.Unsqueeze", 0, NULL);
    zb_node(b, "Unsqueeze", "mask.Unsqueeze_1", 2, u2, "mask.Unsqueeze_1", 0, NULL);
    tdm_onnx_attr to[1] = {{"to", TDM_ONNX_ATTR_INT, 0, TDM_FLOAT, 0, NULL}};
    const char *ci[1] = {"mask.Unsqueeze_1"};
    zb_node(b, "Cast", "mask.Cast", 1, ci, "mask.Cast", 1, to);
    t_scalar(b, c1, sizeof c1, 1.0f);
    t_scalar(b, cmin, sizeof cmin, -3.4028234663852886e38f);
    t_bin(b, "Sub", c1, "mask.Cast", "mask.Sub");
    t_bin(b, "Mul", "mask.Sub", cmin, "mask.extended");
    snprintf(x, sizeof x, "embeddings.out");
    for (int l = 0; l < t->layers; l++) {
        char pl[64];
        snprintf(pl, sizeof pl, "encoder.layer.%d", l);
        const char *names[3] = {"query", "key", "value"};
        char *dst[3] = {q, k, v};
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s.attention.self.%s", pl, names[i]);
            snprintf(n, sizeof n, "%s.out", p);
            t_linear(b, x, n, p, H, H);
            snprintf(dst[i], TN, "%s.heads", p);
            t_heads(b, n, dst[i], S, A, D, i == 1);
        }
        snprintf(p, sizeof p, "%s.attention.self", pl);
        snprintf(ctx, sizeof ctx, "%s.attention.self.out", pl);
        t_attention(b, p, q, k, v, S, A, D, MASK_ADD, "mask.extended", 0, ctx);
        snprintf(p, sizeof p, "%s.attention.output.dense", pl);
        snprintf(n, sizeof n, "%s.out", p);
        t_linear(b, ctx, n, p, H, H);
        snprintf(y, sizeof y, "%s.attention.output.residual", pl);
        t_bin(b, "Add", n, x, y);
        snprintf(p, sizeof p, "%s.attention.output.LayerNorm", pl);
        snprintf(x, sizeof x, "%s.attention.output.out", pl);
        t_layernorm(b, y, x, p, H, eps);
        snprintf(p, sizeof p, "%s.intermediate.dense", pl);
        snprintf(n, sizeof n, "%s.out", p);
        t_linear(b, x, n, p, H, t->intermediate);
        snprintf(y, sizeof y, "%s.intermediate.gelu", pl);
        t_gelu_erf(b, n, y, y);
        snprintf(p, sizeof p, "%s.output.dense", pl);
        snprintf(n, sizeof n, "%s.out", p);
        t_linear(b, y, n, p, t->intermediate, H);
        snprintf(y, sizeof y, "%s.output.residual", pl);
        t_bin(b, "Add", n, x, y);
        snprintf(p, sizeof p, "%s.output.LayerNorm", pl);
        if (l == t->layers - 1) snprintf(x, sizeof x, "last_hidden_state");
        else snprintf(x, sizeof x, "%s.output.out", pl);
        t_layernorm(b, y, x, p, H, eps);
    }
    t_take_first(b, "last_hidden_state", "pooler.first_token");
    t_gemm(b, "pooler.first_token", "pooler.dense.out", "pooler.dense", H, H);
    t_un(b, "Tanh", "pooler.dense.out", "pooler_output");
}

static void build_vit(zb *b, const zoo_text *t) {
    const int H = t->hidden, A = t->heads, D = H / A, g = t->image / t->patch, P = g * g, S = P + 1;
    const float eps = 1e-6f;
    char x[TN], y[TN], p[TN], n[TN], qkv[TN], ctx[TN];
    zv in;
    zv_set(&in, "input", 3, t->image, t->image, 0.0, 1.0);
    zv pe = zb_conv_ex(b, &in, "patch_embed.proj", H, t->patch, t->patch, t->patch, 0, 0, 1, 1);
    int64_t flat[3] = {-1, H, P}, perm[3] = {0, 2, 1};
    zb_reshape(b, pe.name, "patch_embed.flatten", 3, flat, 0);
    t_transpose(b, "patch_embed.flatten", "patch_embed.out", 3, perm);
    /* the class token, expanded to the batch (torch writes the target shape from Shape of the input) */
    int64_t cd[3] = {1, 1, H}, pd[3] = {1, S, H}, ed[3] = {-1, 1, H};
    zb_param_normal(b, "cls_token", R_PARAM, 3, cd, 1.0);
    zb_batch_shape(b, "patch_embed.out", "cls_token.shape", 3, ed, 1);
    t_bin(b, "Expand", "cls_token", "cls_token.shape", "cls_token.expanded");
    tdm_onnx_attr ax1[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *cat[2] = {"cls_token.expanded", "patch_embed.out"};
    zb_node(b, "Concat", "tokens", 2, cat, "tokens", 1, ax1);
    zb_param_normal(b, "pos_embed", R_PARAM, 3, pd, 0.5);
    t_bin(b, "Add", "tokens", "pos_embed", "pos_drop.out");
    snprintf(x, sizeof x, "pos_drop.out");
    for (int l = 0; l < t->layers; l++) {
        char pl[32];
        snprintf(pl, sizeof pl, "blocks.%d", l);
        snprintf(p, sizeof p, "%s.norm1", pl);
        snprintf(n, sizeof n, "%s.norm1.out", pl);
        t_layernorm(b, x, n, p, H, eps);
        snprintf(p, sizeof p, "%s.attn.qkv", pl);
        snprintf(qkv, sizeof qkv, "%s.attn.qkv.out", pl);
        t_linear(b, n, qkv, p, H, 3 * H);
        /* [N, S, 3H] -> [N, S, 3, A, D] -> [3, N, A, S, D], then q, k, v = unbind(0) */
        char r5[TN], t5[TN], q[TN], k[TN], kt[TN], v[TN];
        snprintf(r5, sizeof r5, "%s.attn.Reshape", pl);
        snprintf(t5, sizeof t5, "%s.attn.Transpose", pl);
        int64_t d5[5] = {-1, S, 3, A, D}, p5[5] = {2, 0, 3, 1, 4}, p4[4] = {0, 1, 3, 2};
        zb_reshape(b, qkv, r5, 5, d5, 0);
        t_transpose(b, r5, t5, 5, p5);
        char *dst[3] = {q, k, v};
        const char *which[3] = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            char idx[32];
            int64_t iv = i;
            snprintf(idx, sizeof idx, "const.i64.%d", i);
            zb_const_i64(b, idx, 0, NULL, &iv);
            snprintf(dst[i], TN, "%s.attn.%s", pl, which[i]);
            tdm_onnx_attr ax0[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL}};
            const char *gi[2] = {t5, idx};
            zb_node(b, "Gather", dst[i], 2, gi, dst[i], 1, ax0);
        }
        snprintf(kt, sizeof kt, "%s.attn.k.Transpose", pl);
        t_transpose(b, k, kt, 4, p4);
        snprintf(p, sizeof p, "%s.attn", pl);
        snprintf(ctx, sizeof ctx, "%s.attn.context.out", pl);
        t_attention(b, p, q, kt, v, S, A, D, MASK_NONE, NULL, 1, ctx);
        snprintf(p, sizeof p, "%s.attn.proj", pl);
        snprintf(n, sizeof n, "%s.attn.proj.out", pl);
        t_linear(b, ctx, n, p, H, H);
        snprintf(y, sizeof y, "%s.residual1", pl);
        t_bin(b, "Add", x, n, y);
        snprintf(p, sizeof p, "%s.norm2", pl);
        snprintf(n, sizeof n, "%s.norm2.out", pl);
        t_layernorm(b, y, n, p, H, eps);
        snprintf(p, sizeof p, "%s.mlp.fc1", pl);
        snprintf(qkv, sizeof qkv, "%s.mlp.fc1.out", pl);
        t_linear(b, n, qkv, p, H, t->intermediate);
        snprintf(n, sizeof n, "%s.mlp.act", pl);
        t_gelu_erf(b, qkv, n, n);
        snprintf(p, sizeof p, "%s.mlp.fc2", pl);
        snprintf(qkv, sizeof qkv, "%s.mlp.fc2.out", pl);
        t_linear(b, n, qkv, p, t->intermediate, H);
        snprintf(x, sizeof x, "%s.out", pl);
        t_bin(b, "Add", y, qkv, x);
    }
    t_layernorm(b, x, "norm.out", "norm", H, eps);
    t_take_first(b, "norm.out", "cls");
    t_gemm(b, "cls", "logits", "head", H, t->classes);
}

static void build_gpt2(zb *b, const zoo_text *t) {
    const int H = t->hidden, S = t->seq, A = t->heads, D = H / A;
    const float eps = 1e-5f;
    char x[TN], y[TN], p[TN], n[TN], q[TN], k[TN], v[TN], ctx[TN];
    t_embedding(b, "transformer.wte.weight", t->vocab, H, 1.0, "input_ids", "transformer.wte.out");
    t_positions(b, "transformer.position_ids", S);
    t_embedding(b, "transformer.wpe.weight", t->positions, H, 1.0, "transformer.position_ids",
                "transformer.wpe.out");
    t_bin(b, "Add", "transformer.wte.out", "transformer.wpe.out", "transformer.embeddings");
    /* the causal mask: the [S, S] corner of the model's bias buffer, true on and below the diagonal */
    int64_t md[4] = {1, 1, S, S};
    int mi = zb_add_init(b, "transformer.causal_mask", R_FIXED, TDM_BOOL, 4, md);
    if (mi >= 0 && b->w) {
        uint8_t *m = b->init[mi].data;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) m[i * S + j] = j <= i;
    }
    snprintf(x, sizeof x, "transformer.embeddings");
    for (int l = 0; l < t->layers; l++) {
        char pl[32];
        snprintf(pl, sizeof pl, "transformer.h.%d", l);
        snprintf(p, sizeof p, "%s.ln_1", pl);
        snprintf(n, sizeof n, "%s.ln_1.out", pl);
        t_layernorm(b, x, n, p, H, eps);
        snprintf(p, sizeof p, "%s.attn.c_attn", pl);
        snprintf(y, sizeof y, "%s.attn.c_attn.out", pl);
        t_linear(b, n, y, p, H, 3 * H);
        char sp[3][TN], split[48];
        int64_t three[1] = {3}, sizes[3] = {H, H, H};
        snprintf(split, sizeof split, "split.%d.%d.%d", H, H, H);
        zb_const_i64(b, split, 1, three, sizes);
        const char *which[3] = {"query", "key", "value"};
        const char *outs[3] = {sp[0], sp[1], sp[2]};
        for (int i = 0; i < 3; i++) snprintf(sp[i], sizeof sp[i], "%s.attn.%s", pl, which[i]);
        tdm_onnx_attr ax2[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 2, 0, NULL}};
        const char *si[2] = {y, split};
        snprintf(p, sizeof p, "%s.attn.Split", pl);
        zb_node_n(b, "Split", p, 2, si, 3, outs, 1, ax2);
        snprintf(q, sizeof q, "%s.heads", sp[0]);
        snprintf(k, sizeof k, "%s.heads", sp[1]);
        snprintf(v, sizeof v, "%s.heads", sp[2]);
        t_heads(b, sp[0], q, S, A, D, 0);
        t_heads(b, sp[1], k, S, A, D, 1);
        t_heads(b, sp[2], v, S, A, D, 0);
        snprintf(p, sizeof p, "%s.attn", pl);
        snprintf(ctx, sizeof ctx, "%s.attn.context.out", pl);
        t_attention(b, p, q, k, v, S, A, D, MASK_CAUSAL, "transformer.causal_mask", 0, ctx);
        snprintf(p, sizeof p, "%s.attn.c_proj", pl);
        snprintf(n, sizeof n, "%s.attn.c_proj.out", pl);
        t_linear(b, ctx, n, p, H, H);
        snprintf(y, sizeof y, "%s.residual1", pl);
        t_bin(b, "Add", n, x, y);
        snprintf(p, sizeof p, "%s.ln_2", pl);
        snprintf(n, sizeof n, "%s.ln_2.out", pl);
        t_layernorm(b, y, n, p, H, eps);
        snprintf(p, sizeof p, "%s.mlp.c_fc", pl);
        snprintf(q, sizeof q, "%s.mlp.c_fc.out", pl);
        t_linear(b, n, q, p, H, t->intermediate);
        snprintf(n, sizeof n, "%s.mlp.act", pl);
        t_gelu_tanh(b, q, n, n);
        snprintf(p, sizeof p, "%s.mlp.c_proj", pl);
        snprintf(q, sizeof q, "%s.mlp.c_proj.out", pl);
        t_linear(b, n, q, p, t->intermediate, H);
        snprintf(x, sizeof x, "%s.out", pl);
        t_bin(b, "Add", y, q, x);
    }
    t_layernorm(b, x, "transformer.ln_f.out", "transformer.ln_f", H, eps);
    /* the LM head shares the token embedding: a Transpose of it, which the loader folds */
    int64_t perm[2] = {1, 0};
    t_transpose(b, "transformer.wte.weight", "lm_head.weight", 2, perm);
    t_bin(b, "MatMul", "transformer.ln_f.out", "lm_head.weight", "logits");
}

void zoo_text_build(zb *b, const zoo_text *t) {
    const char *np[4] = {"N", NULL, NULL, NULL};
    if (t->family == TXT_VIT) {
        int64_t in[4] = {-1, 3, t->image, t->image}, out[2] = {-1, t->classes};
        if (b->w) tdm_onnx_writer_value(b->w, 0, "input", TDM_FLOAT, 4, in, np);
        build_vit(b, t);
        if (b->w) tdm_onnx_writer_value(b->w, 1, "logits", TDM_FLOAT, 2, out, np);
        return;
    }
    int64_t ids[2] = {-1, t->seq};
    if (t->family == TXT_GPT2) {
        int64_t out[3] = {-1, t->seq, t->vocab};
        if (b->w) tdm_onnx_writer_value(b->w, 0, "input_ids", TDM_INT64, 2, ids, np);
        build_gpt2(b, t);
        if (b->w) tdm_onnx_writer_value(b->w, 1, "logits", TDM_FLOAT, 3, out, np);
        return;
    }
    int64_t hs[3] = {-1, t->seq, t->hidden}, po[2] = {-1, t->hidden};
    if (b->w) {
        tdm_onnx_writer_value(b->w, 0, "input_ids", TDM_INT64, 2, ids, np);
        tdm_onnx_writer_value(b->w, 0, "attention_mask", TDM_INT64, 2, ids, np);
        tdm_onnx_writer_value(b->w, 0, "token_type_ids", TDM_INT64, 2, ids, np);
    }
    build_bert(b, t);
    if (b->w) {
        tdm_onnx_writer_value(b->w, 1, "last_hidden_state", TDM_FLOAT, 3, hs, np);
        tdm_onnx_writer_value(b->w, 1, "pooler_output", TDM_FLOAT, 2, po, np);
    }
}
