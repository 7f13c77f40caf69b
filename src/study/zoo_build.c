/* zoo_build.c - the zoo's graph builder (see zoo_build.h): seeded initializers, and layers written as torch.onnx
 * writes them, with the "exported by another tool" variants.
 *
 * Weights are drawn from a generator seeded by (seed, tensor name), He-normal for convolutions. Every BatchNorm's
 * running mean and variance are set near the per-channel statistics its input is expected to have under
 * unit-variance input (estimated from the convolution weights just drawn, treating inputs as independent, then
 * jittered), so each layer roughly normalises and activations neither explode nor vanish, as in a trained network.
 * The same name and seed give the same bytes. */
#include "zoo_build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t zb_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

/* The generator of one tensor: seeded by the model seed and the tensor's name. */
rng_state zb_rng(const zb *b, const char *name) {
    rng_state r = {b->seed * 0x9E3779B97F4A7C15ull ^ zb_hash(name)};
    rng_next(&r);
    return r;
}

double zb_uniform(rng_state *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

/* n values std * N(0, 1) by Marsaglia's polar method: two values per accepted pair, no trigonometry (VGG-16 draws
 * 138 million of them). */
static void zb_fill_normal(rng_state *r, float *dst, int64_t n, double std) {
    for (int64_t i = 0; i < n;) {
        double u = 2 * rng_uniform(r) - 1, v = 2 * rng_uniform(r) - 1, s = u * u + v * v;
        if (s >= 1 || s == 0) continue;
        double f = std * sqrt(-2 * log(s) / s);
        dst[i++] = (float)(u * f);
        if (i < n) dst[i++] = (float)(v * f);
    }
}

void zb_free(zb *b) {
    for (int i = 0; i < b->n_init; i++) free(b->init[i].data);
    free(b->init);
    free(b->layer);
    free(b->ch_mean);
    free(b->ch_var);
    tdm_onnx_writer_free(b->w);
    memset(b, 0, sizeof *b);
}

int zb_add_init(zb *b, const char *name, int role, tdm_dtype dtype, int rank, const int64_t *dims) {
    if (b->failed) return -1;
    if (b->n_init == b->cap_init) {
        int cap = b->cap_init ? 2 * b->cap_init : 64;
        zb_init *p = realloc(b->init, (size_t)cap * sizeof *p);
        if (!p) {
            b->failed = 1;
            return -1;
        }
        b->init = p;
        b->cap_init = cap;
    }
    zb_init *t = &b->init[b->n_init];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->role = role;
    t->dtype = dtype;
    t->rank = rank;
    t->numel = 1;
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->numel *= dims[i];
    }
    if (dtype == TDM_FLOAT && role != R_BN_MEAN && role != R_BN_VAR && role != R_FIXED) b->params += t->numel;
    if (b->w) {
        t->data = calloc((size_t)(t->numel ? t->numel : 1), tdm_dtype_size(dtype));
        if (!t->data) {
            b->failed = 1;
            return -1;
        }
    }
    return b->n_init++;
}

void zb_add_layer(zb *b, int kind, int w, int bias, int mean, int var) {
    if (b->failed) return;
    if (b->n_layer == b->cap_layer) {
        int cap = b->cap_layer ? 2 * b->cap_layer : 64;
        zb_layer *p = realloc(b->layer, (size_t)cap * sizeof *p);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->layer = p;
        b->cap_layer = cap;
    }
    b->layer[b->n_layer++] = (zb_layer){kind, w, bias, mean, var};
}

float *zb_f32(zb *b, int idx) { return idx >= 0 && b->w ? (float *)b->init[idx].data : NULL; }

int zb_param_normal(zb *b, const char *name, int role, int rank, const int64_t *dims, double std) {
    int i = zb_add_init(b, name, role, TDM_FLOAT, rank, dims);
    float *p = zb_f32(b, i);
    if (p) {
        rng_state r = zb_rng(b, name);
        zb_fill_normal(&r, p, b->init[i].numel, std);
    }
    return i;
}

int zb_param_uniform(zb *b, const char *name, int role, int rank, const int64_t *dims, double lo, double hi) {
    int i = zb_add_init(b, name, role, TDM_FLOAT, rank, dims);
    float *p = zb_f32(b, i);
    if (p) {
        rng_state r = zb_rng(b, name);
        for (int64_t k = 0; k < b->init[i].numel; k++) p[k] = (float)zb_uniform(&r, lo, hi);
    }
    return i;
}

static int zb_find_init(const zb *b, const char *name) {
    for (int i = b->n_init - 1; i >= 0; i--)
        if (strcmp(b->init[i].name, name) == 0) return i;
    return -1;
}

static void zb_const(zb *b, const char *name, tdm_dtype dt, int rank, const int64_t *dims, const void *vals) {
    if (b->failed || zb_find_init(b, name) >= 0) return;
    int i = zb_add_init(b, name, R_FIXED, dt, rank, dims);
    if (i >= 0 && b->w) memcpy(b->init[i].data, vals, (size_t)b->init[i].numel * tdm_dtype_size(dt));
}

void zb_const_f32(zb *b, const char *name, int rank, const int64_t *dims, const float *vals) {
    zb_const(b, name, TDM_FLOAT, rank, dims, vals);
}

void zb_scalar_f32(zb *b, const char *name, float v) { zb_const(b, name, TDM_FLOAT, 0, NULL, &v); }

void zb_const_i64(zb *b, const char *name, int rank, const int64_t *dims, const int64_t *vals) {
    zb_const(b, name, TDM_INT64, rank, dims, vals);
}

void zb_node(zb *b, const char *op, const char *name, int n_in, const char *const *in, const char *out, int n_attr,
             const tdm_onnx_attr *attrs) {
    if (b->w && !b->failed) tdm_onnx_writer_node(b->w, op, name, n_in, in, 1, &out, n_attr, attrs);
}

void zb_node_n(zb *b, const char *op, const char *name, int n_in, const char *const *in, int n_out,
               const char *const *out, int n_attr, const tdm_onnx_attr *attrs) {
    if (b->w && !b->failed) tdm_onnx_writer_node(b->w, op, name, n_in, in, n_out, out, n_attr, attrs);
}

void zv_set(zv *v, const char *name, int c, int h, int w, double mean, double var) {
    snprintf(v->name, sizeof v->name, "%s", name);
    v->c = c;
    v->h = h;
    v->w = w;
    v->mean = mean;
    v->var = var;
}

/* ---- explicit padding (the ZV_PAD variant, and torch's average pooling) ---- */

/* Pad `in` by ph rows and pw columns on both sides into `out`, with the constant `value` (0 or a very negative
 * number before a MaxPool). */
static void zb_pad(zb *b, const char *in, const char *out, int ph, int pw, int very_negative) {
    char pads[ZB_NAME + 16], val[32];
    snprintf(pads, sizeof pads, "pads.%d.%d", ph, pw);
    int64_t d8[1] = {8}, p[8] = {0, 0, ph, pw, 0, 0, ph, pw};
    zb_const_i64(b, pads, 1, d8, p);
    snprintf(val, sizeof val, "%s", very_negative ? "pad.lowest" : "pad.zero");
    zb_scalar_f32(b, val, very_negative ? -3.4028234663852886e38f : 0.0f);
    const char *pin[3] = {in, pads, val};
    zb_node(b, "Pad", out, 3, pin, out, 0, NULL);
}

/* ---- layers ---- */

zv zb_conv_ex(zb *b, const zv *x, const char *prefix, int cout, int kh, int kw, int stride, int ph, int pw,
              int groups, int bias) {
    char wn[ZB_NAME + 8], bn[ZB_NAME + 8];
    int cin_g = x->c / groups;
    int64_t wd[4] = {cout, cin_g, kh, kw}, bd[1] = {cout};
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    int wi = zb_add_init(b, wn, R_CONV_W, TDM_FLOAT, 4, wd);
    int bi = bias ? zb_add_init(b, bn, R_CONV_B, TDM_FLOAT, 1, bd) : -1;
    zb_add_layer(b, L_CONV, wi, bi, -1, -1);
    int64_t fan_in = (int64_t)cin_g * kh * kw;
    float *W = zb_f32(b, wi), *B = zb_f32(b, bi);
    double second = x->var + x->mean * x->mean, out_var = 2.0 * second;
    if (W) {
        rng_state r = zb_rng(b, wn);
        zb_fill_normal(&r, W, b->init[wi].numel, sqrt(2.0 / (double)fan_in));
        if (B) {
            rng_state rb = zb_rng(b, bn);
            zb_fill_normal(&rb, B, cout, 0.05);
        }
        double *m = realloc(b->ch_mean, (size_t)cout * sizeof *m);
        if (m) b->ch_mean = m;
        double *v = m ? realloc(b->ch_var, (size_t)cout * sizeof *v) : NULL;
        if (!m || !v) {
            b->failed = 1;
            return *x;
        }
        b->ch_var = v;
        b->ch_n = cout;
        double vsum = 0;
        for (int o = 0; o < cout; o++) {
            double s = 0, s2 = 0;
            for (int64_t i = 0; i < fan_in; i++) {
                double wv = W[o * fan_in + i];
                s += wv;
                s2 += wv * wv;
            }
            m[o] = x->mean * s + (B ? B[o] : 0);
            v[o] = x->var * s2;
            vsum += v[o];
        }
        out_var = vsum / cout;
    }
    snprintf(b->stats_of, sizeof b->stats_of, "%s", prefix);
    const char *src = x->name;
    char padded[ZB_NAME + 8];
    int explicit_pad = (b->variant & ZV_PAD) && (ph || pw);
    if (explicit_pad) {
        snprintf(padded, sizeof padded, "%s.pad", prefix);
        zb_pad(b, x->name, padded, ph, pw, 0);
        src = padded;
    }
    int64_t ks[2] = {kh, kw}, st[2] = {stride, stride};
    int64_t pads[4] = {explicit_pad ? 0 : ph, explicit_pad ? 0 : pw, explicit_pad ? 0 : ph, explicit_pad ? 0 : pw};
    tdm_onnx_attr at[4] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, ks},
                           {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, pads},
                           {"strides", TDM_ONNX_ATTR_INTS, 0, 0, 2, st},
                           {"group", TDM_ONNX_ATTR_INT, 0, groups, 0, NULL}};
    const char *in[3] = {src, wn, bn};
    zb_node(b, "Conv", prefix, bias ? 3 : 2, in, prefix, groups > 1 ? 4 : 3, at);
    zv y;
    int oh = (x->h + 2 * ph - kh) / stride + 1, ow = (x->w + 2 * pw - kw) / stride + 1;
    zv_set(&y, prefix, cout, oh, ow, 0.0, out_var);
    return y;
}

zv zb_conv(zb *b, const zv *x, const char *prefix, int cout, int k, int stride, int groups, int bias) {
    return zb_conv_ex(b, x, prefix, cout, k, k, stride, k / 2, k / 2, groups, bias);
}

/* gamma ~ U(0.75, 1.25), beta ~ U(-0.1, 0.1); the running variance is the channel's variance times U(0.8, 1.25) and
 * the running mean its mean plus up to 0.2 standard deviations, so that the layer normalises like a trained one
 * without being an identity. */
zv zb_bn(zb *b, const zv *x, const char *prefix) {
    char name[ZB_NAME + 16];
    int64_t d[1] = {x->c};
    const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    const int role[4] = {R_BN_GAMMA, R_BN_BETA, R_BN_MEAN, R_BN_VAR};
    int idx[4];
    char in_names[4][ZB_NAME + 16];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.%s", prefix, sfx[k]);
        snprintf(in_names[k], sizeof in_names[k], "%s", name);
        idx[k] = zb_add_init(b, name, role[k], TDM_FLOAT, 1, d);
    }
    zb_add_layer(b, L_BN, idx[0], idx[1], idx[2], idx[3]);
    double out_mean = 0, out_var = 1, eps = b->bn_eps > 0 ? b->bn_eps : 1e-5;
    float *g = zb_f32(b, idx[0]), *be = zb_f32(b, idx[1]), *mu = zb_f32(b, idx[2]), *va = zb_f32(b, idx[3]);
    if (g && be && mu && va) {
        int have = strcmp(b->stats_of, x->name) == 0 && b->ch_n == x->c;
        rng_state r = zb_rng(b, prefix);
        double sm = 0, s2 = 0;
        for (int c = 0; c < x->c; c++) {
            double cm = have ? b->ch_mean[c] : x->mean, cv = have ? b->ch_var[c] : x->var;
            if (cv < 1e-6) cv = 1e-6;
            g[c] = (float)zb_uniform(&r, 0.75, 1.25);
            be[c] = (float)zb_uniform(&r, -0.1, 0.1);
            va[c] = (float)(cv * exp(zb_uniform(&r, log(0.8), log(1.25))));
            mu[c] = (float)(cm + sqrt(cv) * zb_uniform(&r, -0.2, 0.2));
            /* what the layer then outputs for this channel */
            double scale = g[c] / sqrt(va[c] + eps), m = be[c] + scale * (cm - mu[c]), v = scale * scale * cv;
            sm += m;
            s2 += v + m * m;
        }
        out_mean = sm / x->c;
        out_var = s2 / x->c - out_mean * out_mean;
    }
    zv y = *x;
    zv_set(&y, prefix, x->c, x->h, x->w, out_mean, out_var);
    if (b->variant & ZV_BN_MUL_ADD) {
        /* y = x * scale + shift, with scale and shift as [C, 1, 1] constants (what graph optimisers and some
         * converters leave); the BatchNorm's own tensors stay registered for counting but are not written */
        char sn[ZB_NAME + 16], hn[ZB_NAME + 16], mn[ZB_NAME + 16];
        snprintf(sn, sizeof sn, "%s.scale", prefix);
        snprintf(hn, sizeof hn, "%s.shift", prefix);
        snprintf(mn, sizeof mn, "%s.mul", prefix);
        int64_t d3[3] = {x->c, 1, 1};
        int si = zb_add_init(b, sn, R_FIXED, TDM_FLOAT, 3, d3), hi = zb_add_init(b, hn, R_FIXED, TDM_FLOAT, 3, d3);
        float *S = zb_f32(b, si), *H = zb_f32(b, hi);
        if (S && H && g)
            for (int c = 0; c < x->c; c++) {
                double scale = g[c] / sqrt((double)va[c] + eps);
                S[c] = (float)scale;
                H[c] = (float)(be[c] - mu[c] * scale);
            }
        for (int k = 0; k < 4 && !b->failed; k++) b->init[idx[k]].unused = 1;
        const char *in1[2] = {x->name, sn}, *in2[2] = {mn, hn};
        zb_node(b, "Mul", mn, 2, in1, mn, 0, NULL);
        zb_node(b, "Add", prefix, 2, in2, prefix, 0, NULL);
        return y;
    }
    tdm_onnx_attr at[1] = {{"epsilon", TDM_ONNX_ATTR_FLOAT, (float)eps, 0, 0, NULL}};
    const char *in[5] = {x->name, in_names[0], in_names[1], in_names[2], in_names[3]};
    zb_node(b, "BatchNormalization", prefix, 5, in, prefix, 1, at);
    return y;
}

static double act_value(int kind, double v) {
    switch (kind) {
    case ACT_RELU: return v > 0 ? v : 0;
    case ACT_RELU6: return v < 0 ? 0 : v > 6 ? 6 : v;
    case ACT_HSIGMOID: return v <= -3 ? 0 : v >= 3 ? 1 : v / 6 + 0.5;
    case ACT_HSWISH: return v * act_value(ACT_HSIGMOID, v);
    case ACT_SIGMOID: return 1 / (1 + exp(-v));
    case ACT_SILU: return v / (1 + exp(-v));
    default: return v;
    }
}

/* Mean and variance of act(v) for v ~ N(mean, var), by quadrature over +-8 standard deviations. */
static void act_moments(int kind, double mean, double var, double *m_out, double *v_out) {
    double s = sqrt(var > 1e-12 ? var : 1e-12), e1 = 0, e2 = 0, wsum = 0;
    for (int i = -400; i <= 400; i++) {
        double z = i / 50.0, wgt = exp(-0.5 * z * z), f = act_value(kind, mean + s * z);
        e1 += wgt * f;
        e2 += wgt * f * f;
        wsum += wgt;
    }
    e1 /= wsum;
    e2 /= wsum;
    *m_out = e1;
    *v_out = e2 - e1 * e1 > 1e-12 ? e2 - e1 * e1 : 1e-12;
}

/* HardSigmoid as torch writes it (alpha 1/6, beta 0.5), into `out`. */
static void zb_hardsigmoid(zb *b, const char *in, const char *out) {
    tdm_onnx_attr at[2] = {{"alpha", TDM_ONNX_ATTR_FLOAT, 1.0f / 6.0f, 0, 0, NULL},
                           {"beta", TDM_ONNX_ATTR_FLOAT, 0.5f, 0, 0, NULL}};
    const char *i1[1] = {in};
    zb_node(b, "HardSigmoid", out, 1, i1, out, 2, at);
}

zv zb_act(zb *b, const zv *x, const char *name, int kind) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    act_moments(kind, x->mean, x->var, &y.mean, &y.var);
    const char *in[3] = {x->name, "relu6.min", "relu6.max"};
    char mid[ZB_NAME + 16];
    snprintf(mid, sizeof mid, "%s.gate", name);
    const char *mul_in[2] = {x->name, mid};
    switch (kind) {
    case ACT_RELU: zb_node(b, "Relu", name, 1, in, name, 0, NULL); break;
    case ACT_RELU6: /* Clip with the two bounds as inputs (opset 11 on), shared by every Clip */
        zb_scalar_f32(b, "relu6.min", 0.0f);
        zb_scalar_f32(b, "relu6.max", 6.0f);
        zb_node(b, "Clip", name, 3, in, name, 0, NULL);
        break;
    case ACT_HSIGMOID: zb_hardsigmoid(b, x->name, name); break;
    case ACT_HSWISH: /* the HardSwish op from opset 14; before, torch writes x * HardSigmoid(x) */
        if (b->opset >= 14) {
            zb_node(b, "HardSwish", name, 1, in, name, 0, NULL);
        } else {
            zb_hardsigmoid(b, x->name, mid);
            zb_node(b, "Mul", name, 2, mul_in, name, 0, NULL);
        }
        break;
    case ACT_SIGMOID: zb_node(b, "Sigmoid", name, 1, in, name, 0, NULL); break;
    case ACT_SILU: /* torch writes SiLU as x * Sigmoid(x) */
        zb_node(b, "Sigmoid", mid, 1, in, mid, 0, NULL);
        zb_node(b, "Mul", name, 2, mul_in, name, 0, NULL);
        break;
    default: y = *x; break;
    }
    return y;
}

zv zb_add(zb *b, const zv *x, const zv *r, const char *name) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.mean = x->mean + r->mean;
    y.var = x->var + r->var;
    const char *in[2] = {x->name, r->name};
    zb_node(b, "Add", name, 2, in, name, 0, NULL);
    return y;
}

zv zb_mul(zb *b, const zv *x, const zv *s, const char *name) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    double s2 = s->var + s->mean * s->mean;
    y.mean = x->mean * s->mean;
    y.var = (x->var + x->mean * x->mean) * s2 - y.mean * y.mean;
    if (y.var < 1e-12) y.var = 1e-12;
    const char *in[2] = {x->name, s->name};
    zb_node(b, "Mul", name, 2, in, name, 0, NULL);
    return y;
}

static int pool_out(int in, int k, int s, int p, int ceil_mode) {
    int span = in + 2 * p - k;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--; /* a last window starting in the end padding is dropped */
    return out;
}

zv zb_maxpool(zb *b, const zv *x, const char *name, int k, int stride, int pad, int ceil_mode) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.h = pool_out(x->h, k, stride, pad, ceil_mode);
    y.w = pool_out(x->w, k, stride, pad, ceil_mode);
    const char *src = x->name;
    char padded[ZB_NAME + 8];
    if ((b->variant & ZV_PAD) && pad) {
        snprintf(padded, sizeof padded, "%s.pad", name);
        zb_pad(b, x->name, padded, pad, pad, 1);
        src = padded;
        pad = 0;
    }
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pads[4] = {pad, pad, pad, pad};
    tdm_onnx_attr at[4] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, ks},
                           {"strides", TDM_ONNX_ATTR_INTS, 0, 0, 2, st},
                           {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, pads},
                           {"ceil_mode", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in[1] = {src};
    zb_node(b, "MaxPool", name, 1, in, name, ceil_mode ? 4 : 3, at);
    return y;
}

zv zb_avgpool(zb *b, const zv *x, const char *name, int k, int stride, int pad) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.h = pool_out(x->h, k, stride, pad, 0);
    y.w = pool_out(x->w, k, stride, pad, 0);
    y.var = x->var / 3; /* neighbouring values are correlated: less than 1/k^2 of the variance goes */
    const char *src = x->name;
    char padded[ZB_NAME + 8];
    if (pad) {
        snprintf(padded, sizeof padded, "%s.pad", name);
        zb_pad(b, x->name, padded, pad, pad, 0);
        src = padded;
    }
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pads[4] = {0, 0, 0, 0};
    tdm_onnx_attr at[3] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, ks},
                           {"strides", TDM_ONNX_ATTR_INTS, 0, 0, 2, st},
                           {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, pads}};
    const char *in[1] = {src};
    zb_node(b, "AveragePool", name, 1, in, name, 3, at);
    return y;
}

zv zb_gap(zb *b, const zv *x, const char *name) {
    const char *in[1] = {x->name};
    zb_node(b, "GlobalAveragePool", name, 1, in, name, 0, NULL);
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.h = y.w = 1;
    y.var = x->var / 4;
    return y;
}

void zb_batch_shape(zb *b, const char *in, const char *shape, int rank, const int64_t *dims, int chain) {
    int64_t vals[8], d1[1] = {rank};
    if (!chain && !(b->variant & ZV_SHAPE_CHAIN)) {
        for (int i = 0; i < rank; i++) vals[i] = i == 0 ? -1 : dims[i];
        zb_const_i64(b, shape, 1, d1, vals);
        return;
    }
    /* what torch writes for x.view(x.size(0), ...) with a dynamic batch axis */
    char sh[ZB_NAME + 16], g[ZB_NAME + 16], u[ZB_NAME + 16], rest[ZB_NAME + 16];
    snprintf(sh, sizeof sh, "%s.Shape", shape);
    snprintf(g, sizeof g, "%s.Gather", shape);
    snprintf(u, sizeof u, "%s.Unsqueeze", shape);
    snprintf(rest, sizeof rest, "%s.rest", shape);
    const char *i1[1] = {in};
    zb_node(b, "Shape", sh, 1, i1, sh, 0, NULL);
    int64_t zero = 0, one = 1, dr[1] = {rank - 1};
    zb_const_i64(b, "const.i64.0", 0, NULL, &zero);
    zb_const_i64(b, "const.axes.0", 1, &one, &zero);
    tdm_onnx_attr ax[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL}};
    const char *i2[2] = {sh, "const.i64.0"}, *i3[2] = {g, "const.axes.0"}, *i4[2] = {u, rest};
    zb_node(b, "Gather", g, 2, i2, g, 1, ax);
    zb_node(b, "Unsqueeze", u, 2, i3, u, 0, NULL);
    for (int i = 1; i < rank; i++) vals[i - 1] = dims[i];
    zb_const_i64(b, rest, 1, dr, vals);
    zb_node(b, "Concat", shape, 2, i4, shape, 1, ax);
}

void zb_reshape(zb *b, const char *in, const char *out, int rank, const int64_t *dims, int chain) {
    char shape[ZB_NAME + 16];
    snprintf(shape, sizeof shape, "%s.shape", out);
    zb_batch_shape(b, in, shape, rank, dims, chain);
    const char *ri[2] = {in, shape};
    zb_node(b, "Reshape", out, 2, ri, out, 0, NULL);
}

zv zb_flatten(zb *b, const zv *x, const char *name) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.c = x->c * (x->h ? x->h : 1) * (x->w ? x->w : 1);
    y.h = y.w = 0;
    if (b->variant & (ZV_SHAPE_CHAIN | ZV_RESHAPE)) {
        int64_t d[2] = {-1, y.c};
        zb_reshape(b, x->name, name, 2, d, 0);
        return y;
    }
    tdm_onnx_attr at[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in[1] = {x->name};
    zb_node(b, "Flatten", name, 1, in, name, 1, at);
    return y;
}

zv zb_pool_flatten(zb *b, const zv *x, const char *name) {
    char pooled[ZB_NAME + 8];
    snprintf(pooled, sizeof pooled, "%s.pool", name);
    zv p = zb_gap(b, x, pooled);
    return zb_flatten(b, &p, name);
}

zv zb_mean_hw(zb *b, const zv *x, const char *name) {
    int64_t axes[2] = {2, 3};
    tdm_onnx_attr at[2] = {{"axes", TDM_ONNX_ATTR_INTS, 0, 0, 2, axes}, {"keepdims", TDM_ONNX_ATTR_INT, 0, 0, 0, NULL}};
    const char *in[1] = {x->name};
    zb_node(b, "ReduceMean", name, 1, in, name, 2, at);
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.h = y.w = 0;
    y.var = x->var / 4;
    return y;
}

zv zb_concat(zb *b, const zv *const *xs, int n, const char *name) {
    const char *in[8];
    zv y = *xs[0];
    snprintf(y.name, sizeof y.name, "%s", name);
    double sm = 0, s2 = 0;
    y.c = 0;
    for (int i = 0; i < n && i < 8; i++) {
        in[i] = xs[i]->name;
        y.c += xs[i]->c;
        sm += xs[i]->mean * xs[i]->c;
        s2 += (xs[i]->var + xs[i]->mean * xs[i]->mean) * xs[i]->c;
    }
    y.mean = sm / y.c;
    y.var = s2 / y.c - y.mean * y.mean;
    tdm_onnx_attr at[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    zb_node(b, "Concat", name, n, in, name, 1, at);
    return y;
}

zv zb_gemm(zb *b, const zv *x, const char *prefix, int nout, double gain, const char *out_name) {
    char wn[ZB_NAME + 8], bn[ZB_NAME + 8];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    int64_t wd[2] = {nout, x->c}, bd[1] = {nout};
    int wi = zb_param_normal(b, wn, R_FC_W, 2, wd, sqrt(gain / x->c));
    int bi = zb_param_normal(b, bn, R_FC_B, 1, bd, 0.05);
    zb_add_layer(b, L_GEMM, wi, bi, -1, -1);
    tdm_onnx_attr at[1] = {{"transB", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in[3] = {x->name, wn, bn};
    zb_node(b, "Gemm", prefix, 3, in, out_name, 1, at);
    zv y;
    zv_set(&y, out_name, nout, 0, 0, 0.0, gain * (x->var + x->mean * x->mean));
    return y;
}

zv zb_cba(zb *b, const zv *x, const char *conv_name, const char *bn_name, int cout, int k, int stride, int groups,
          int act) {
    zv y = zb_conv(b, x, conv_name, cout, k, stride, groups, 0);
    y = zb_bn(b, &y, bn_name);
    if (act != ACT_NONE) {
        char n[ZB_NAME + 8];
        snprintf(n, sizeof n, "%s.act", bn_name);
        y = zb_act(b, &y, n, act);
    }
    return y;
}

zv zb_shuffle(zb *b, const zv *x, const char *prefix) {
    char r1[ZB_NAME + 16], tr[ZB_NAME + 16], out[ZB_NAME + 16];
    snprintf(r1, sizeof r1, "%s.split_groups", prefix);
    snprintf(tr, sizeof tr, "%s.transpose", prefix);
    snprintf(out, sizeof out, "%s.shuffle", prefix);
    int64_t v5[5] = {-1, 2, x->c / 2, x->h, x->w}, v4[4] = {-1, x->c, x->h, x->w};
    zb_reshape(b, x->name, r1, 5, v5, 0);
    int64_t perm[5] = {0, 2, 1, 3, 4};
    tdm_onnx_attr at[1] = {{"perm", TDM_ONNX_ATTR_INTS, 0, 0, 5, perm}};
    const char *in2[1] = {r1};
    zb_node(b, "Transpose", tr, 1, in2, tr, 1, at);
    zb_reshape(b, tr, out, 4, v4, 0);
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", out);
    return y;
}

int zb_make_divisible(double v) {
    int nv = (int)(v + 4) / 8 * 8;
    if (nv < 8) nv = 8;
    if (nv < 0.9 * v) nv += 8;
    return nv;
}
