/* zoo.c - the architectures of the zoo (see zoo.h), built as ONNX graphs with the engine's writer.
 *
 * The layer structure follows pytorch-cifar-models (chenyaofo), which adapts torchvision's models to 32x32 inputs:
 *   - CIFAR ResNet: 3x3 stem of 16 channels, three stages of basic blocks (16, 32, 64 channels; 3/5/7/9 blocks),
 *     a 1x1 convolution + BatchNorm shortcut where the shape changes, global average pool, linear;
 *   - MobileNetV2: torchvision's inverted residuals with ReLU6, the stem and the second stage at stride 1;
 *   - ShuffleNetV2: channel split, two branches, concat and a channel shuffle (Reshape, Transpose, Reshape), a
 *     stride-1 3x3 stem and no max pool;
 *   - VGG with BatchNorm: the torchvision feature configurations A/B/D/E, then a 512-512-512-classes classifier.
 * Parameter names are PyTorch's state_dict keys ("layer1.0.conv1.weight", "features.3.1.running_var"), so weights
 * from a torch export that keeps BatchNorm can be matched by name. Dropout (an identity at inference) is left out,
 * and the mean over H and W at the end of ShuffleNetV2 is written as GlobalAveragePool + Flatten.
 *
 * BatchNormalization stays a node with non-trivial seeded statistics: the engine folds it at load time. Weights are
 * drawn from a generator seeded by (seed, tensor name), He-normal for convolutions. Every BatchNorm's running mean
 * and variance are set near the per-channel statistics its input is expected to have under unit-variance input
 * (estimated from the convolution weights just drawn, treating inputs as independent, then jittered), so each layer
 * roughly normalises and activations neither explode nor vanish, as in a trained network. The same name and seed
 * give the same bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem_onnx_write.h"
#include "../common/util.h"
#include "zoo.h"

#define ZOO_OPSET 13
#define ZOO_IR_VERSION 7
#define ZOO_BN_EPS 1e-5f

enum { FAM_RESNET, FAM_MOBILENETV2, FAM_SHUFFLENETV2, FAM_VGG };

typedef struct zoo_arch {
    const char *name[2]; /* the CIFAR-10 and the CIFAR-100 model */
    int family;
    int depth;        /* ResNet: blocks per stage; VGG: 11/13/16/19                                  */
    double width;     /* MobileNetV2 width multiplier                                                */
    int stage_ch[5];  /* ShuffleNetV2 output channels of the stem, the three stages and conv5        */
} zoo_arch;

static const zoo_arch zoo_archs[] = {
    {{"cifar10_resnet20", "cifar100_resnet20"}, FAM_RESNET, 3, 0, {0}},
    {{"cifar10_resnet32", "cifar100_resnet32"}, FAM_RESNET, 5, 0, {0}},
    {{"cifar10_resnet44", "cifar100_resnet44"}, FAM_RESNET, 7, 0, {0}},
    {{"cifar10_resnet56", "cifar100_resnet56"}, FAM_RESNET, 9, 0, {0}},
    {{"cifar10_mobilenetv2_x0_5", "cifar100_mobilenetv2_x0_5"}, FAM_MOBILENETV2, 0, 0.5, {0}},
    {{"cifar10_mobilenetv2_x0_75", "cifar100_mobilenetv2_x0_75"}, FAM_MOBILENETV2, 0, 0.75, {0}},
    {{"cifar10_mobilenetv2_x1_0", "cifar100_mobilenetv2_x1_0"}, FAM_MOBILENETV2, 0, 1.0, {0}},
    {{"cifar10_mobilenetv2_x1_4", "cifar100_mobilenetv2_x1_4"}, FAM_MOBILENETV2, 0, 1.4, {0}},
    {{"cifar10_shufflenetv2_x0_5", "cifar100_shufflenetv2_x0_5"}, FAM_SHUFFLENETV2, 0, 0, {24, 48, 96, 192, 1024}},
    {{"cifar10_shufflenetv2_x1_0", "cifar100_shufflenetv2_x1_0"}, FAM_SHUFFLENETV2, 0, 0, {24, 116, 232, 464, 1024}},
    {{"cifar10_shufflenetv2_x1_5", "cifar100_shufflenetv2_x1_5"}, FAM_SHUFFLENETV2, 0, 0, {24, 176, 352, 704, 1024}},
    {{"cifar10_shufflenetv2_x2_0", "cifar100_shufflenetv2_x2_0"}, FAM_SHUFFLENETV2, 0, 0, {24, 244, 488, 976, 2048}},
    {{"cifar10_vgg11_bn", "cifar100_vgg11_bn"}, FAM_VGG, 11, 0, {0}},
    {{"cifar10_vgg13_bn", "cifar100_vgg13_bn"}, FAM_VGG, 13, 0, {0}},
    {{"cifar10_vgg16_bn", "cifar100_vgg16_bn"}, FAM_VGG, 16, 0, {0}},
    {{"cifar10_vgg19_bn", "cifar100_vgg19_bn"}, FAM_VGG, 19, 0, {0}},
};
#define ZOO_NUM_ARCHS ((int)(sizeof zoo_archs / sizeof zoo_archs[0]))

static const int zoo_classes[2] = {10, 100};

int zoo_num_models(void) { return 2 * ZOO_NUM_ARCHS; }

const char *zoo_model_name(int index) {
    if (index < 0 || index >= zoo_num_models()) return NULL;
    return zoo_archs[index % ZOO_NUM_ARCHS].name[index / ZOO_NUM_ARCHS];
}

/* Split "cifar100_resnet20" into its class count and architecture; NULL when unknown. */
static const zoo_arch *zoo_lookup(const char *name, int *classes) {
    for (int i = 0; name && i < zoo_num_models(); i++)
        if (strcmp(zoo_model_name(i), name) == 0) {
            *classes = zoo_classes[i / ZOO_NUM_ARCHS];
            return &zoo_archs[i % ZOO_NUM_ARCHS];
        }
    return NULL;
}

int zoo_model_classes(const char *name) {
    int classes = 0;
    return zoo_lookup(name, &classes) ? classes : 0;
}

/* ---- the graph builder ----------------------------------------------------------------------------------------- */

/* What an initializer is for: it decides how it is drawn and whether it counts as a learnable parameter. */
enum { R_CONV_W, R_CONV_B, R_BN_GAMMA, R_BN_BETA, R_BN_MEAN, R_BN_VAR, R_FC_W, R_FC_B, R_FIXED };

typedef struct zb_init {
    char name[96];
    int role;
    tdm_dtype dtype;
    int rank;
    int64_t dims[5];
    int64_t numel;
    void *data;   /* NULL in counting mode */
} zb_init;

/* A weight-bearing layer, in graph order: what `--weights` walks when names do not match. */
enum { L_CONV, L_BN, L_GEMM };
typedef struct zb_layer {
    int kind;
    int w, b;       /* init indices: conv/gemm weight and bias (-1 if none); BN: scale and shift */
    int mean, var;  /* BN only */
} zb_layer;

/* A value of the graph: its name, shape (channels, height, width; h = w = 0 after flattening) and estimates of its
 * mean and variance under unit-variance input, which set the BatchNorm statistics. */
typedef struct zv {
    char name[96];
    int c, h, w;
    double mean, var;
} zv;

typedef struct zb {
    tdm_onnx_writer *w; /* NULL: counting mode (shapes only, no data) */
    uint64_t seed;
    zb_init *init;
    int n_init, cap_init;
    zb_layer *layer;
    int n_layer, cap_layer;
    int failed;
    int64_t params;
    /* per-channel mean and variance of the last convolution's output (filled when drawing data) */
    char stats_of[96];
    double *ch_mean, *ch_var;
    int ch_n;
    int have_relu6;
} zb;

static uint64_t zb_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

/* The generator of one tensor: seeded by the model seed and the tensor's name. */
static rng_state zb_rng(const zb *b, const char *name) {
    rng_state r = {b->seed * 0x9E3779B97F4A7C15ull ^ zb_hash(name)};
    rng_next(&r);
    return r;
}

static double zb_uniform(rng_state *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

static double zb_normal(rng_state *r) { /* Box-Muller */
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Register an initializer; returns its index or -1 (b->failed set) when out of memory. In counting mode no data is
 * allocated. The data is zeroed; the caller fills it. */
static int zb_add_init(zb *b, const char *name, int role, tdm_dtype dtype, int rank, const int64_t *dims) {
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

static void zb_add_layer(zb *b, int kind, int w, int bias, int mean, int var) {
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

static float *zb_f32(zb *b, int idx) { return idx >= 0 && b->w ? (float *)b->init[idx].data : NULL; }

static void zb_node(zb *b, const char *op, const char *name, int n_in, const char *const *in, const char *out,
                    int n_attr, const tdm_onnx_attr *attrs) {
    if (b->w && !b->failed) tdm_onnx_writer_node(b->w, op, name, n_in, in, 1, &out, n_attr, attrs);
}

static void zv_set(zv *v, const char *name, int c, int h, int w, double mean, double var) {
    snprintf(v->name, sizeof v->name, "%s", name);
    v->c = c;
    v->h = h;
    v->w = w;
    v->mean = mean;
    v->var = var;
}

/* Convolution `prefix` (weight "prefix.weight", and "prefix.bias" when bias) on x. He-normal weights (std
 * sqrt(2 / fan_in)); the bias, when present, small. Records the output's per-channel mean and variance assuming x's
 * elements independent with x's mean and variance (zero padding ignored). */
static zv zb_conv(zb *b, const zv *x, const char *prefix, int cout, int k, int stride, int groups, int bias) {
    char name[128];
    int cin_g = x->c / groups;
    int64_t wd[4] = {cout, cin_g, k, k}, bd[1] = {cout};
    snprintf(name, sizeof name, "%s.weight", prefix);
    int wi = zb_add_init(b, name, R_CONV_W, TDM_FLOAT, 4, wd);
    int bi = -1;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        bi = zb_add_init(b, name, R_CONV_B, TDM_FLOAT, 1, bd);
    }
    zb_add_layer(b, L_CONV, wi, bi, -1, -1);
    int64_t fan_in = (int64_t)cin_g * k * k;
    float *W = zb_f32(b, wi), *B = zb_f32(b, bi);
    double second = x->var + x->mean * x->mean, out_var = 2.0 * second;
    if (W) {
        rng_state r = zb_rng(b, b->init[wi].name);
        double sd = sqrt(2.0 / (double)fan_in);
        for (int64_t i = 0; i < b->init[wi].numel; i++) W[i] = (float)(sd * zb_normal(&r));
        if (B) {
            rng_state rb = zb_rng(b, b->init[bi].name);
            for (int i = 0; i < cout; i++) B[i] = (float)(0.05 * zb_normal(&rb));
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
    int64_t ks[2] = {k, k}, pads[4] = {k / 2, k / 2, k / 2, k / 2}, st[2] = {stride, stride};
    tdm_onnx_attr at[4] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, ks},
                           {"pads", TDM_ONNX_ATTR_INTS, 0, 0, 4, pads},
                           {"strides", TDM_ONNX_ATTR_INTS, 0, 0, 2, st},
                           {"group", TDM_ONNX_ATTR_INT, 0, groups, 0, NULL}};
    char wn[128], bn[128];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    const char *in[3] = {x->name, wn, bn};
    zb_node(b, "Conv", prefix, bias ? 3 : 2, in, prefix, groups > 1 ? 4 : 3, at);
    zv y;
    int oh = (x->h + 2 * (k / 2) - k) / stride + 1, ow = (x->w + 2 * (k / 2) - k) / stride + 1;
    zv_set(&y, prefix, cout, oh, ow, 0.0, out_var);
    return y;
}

/* BatchNormalization `prefix` on the convolution output x. gamma ~ U(0.75, 1.25), beta ~ U(-0.1, 0.1); the running
 * variance is the channel's variance times U(0.8, 1.25) and the running mean its mean plus up to 0.2 standard
 * deviations, so that the layer normalises like a trained one without being an identity. */
static zv zb_bn(zb *b, const zv *x, const char *prefix) {
    char name[128];
    int64_t d[1] = {x->c};
    const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    const int role[4] = {R_BN_GAMMA, R_BN_BETA, R_BN_MEAN, R_BN_VAR};
    int idx[4];
    char in_names[4][128];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.%s", prefix, sfx[k]);
        snprintf(in_names[k], sizeof in_names[k], "%s", name);
        idx[k] = zb_add_init(b, name, role[k], TDM_FLOAT, 1, d);
    }
    zb_add_layer(b, L_BN, idx[0], idx[1], idx[2], idx[3]);
    double out_mean = 0, out_var = 1;
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
            double scale = g[c] / sqrt(va[c] + ZOO_BN_EPS), m = be[c] + scale * (cm - mu[c]), v = scale * scale * cv;
            sm += m;
            s2 += v + m * m;
        }
        out_mean = sm / x->c;
        out_var = s2 / x->c - out_mean * out_mean;
    }
    tdm_onnx_attr at[1] = {{"epsilon", TDM_ONNX_ATTR_FLOAT, ZOO_BN_EPS, 0, 0, NULL}};
    const char *in[5] = {x->name, in_names[0], in_names[1], in_names[2], in_names[3]};
    zb_node(b, "BatchNormalization", prefix, 5, in, prefix, 1, at);
    zv y = *x;
    zv_set(&y, prefix, x->c, x->h, x->w, out_mean, out_var);
    return y;
}

/* Mean and variance of max(0, v) for v ~ N(mean, var). */
static void relu_moments(double mean, double var, double *m_out, double *v_out) {
    double s = sqrt(var > 1e-12 ? var : 1e-12), a = mean / s;
    double cdf = 0.5 * erfc(-a / sqrt(2.0)), pdf = exp(-0.5 * a * a) / sqrt(2.0 * 3.141592653589793);
    double e1 = mean * cdf + s * pdf, e2 = (mean * mean + var) * cdf + mean * s * pdf;
    *m_out = e1;
    *v_out = e2 - e1 * e1 > 1e-12 ? e2 - e1 * e1 : 1e-12;
}

/* Relu (relu6 0) or ReLU6 as Clip(0, 6) (relu6 1); the output is named `name`. */
static zv zb_act(zb *b, const zv *x, const char *name, int relu6) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    relu_moments(x->mean, x->var, &y.mean, &y.var);
    if (!relu6) {
        const char *in[1] = {x->name};
        zb_node(b, "Relu", name, 1, in, name, 0, NULL);
        return y;
    }
    if (!b->have_relu6) { /* the two bounds, shared by every Clip */
        b->have_relu6 = 1;
        int lo = zb_add_init(b, "relu6.min", R_FIXED, TDM_FLOAT, 0, NULL);
        int hi = zb_add_init(b, "relu6.max", R_FIXED, TDM_FLOAT, 0, NULL);
        float *pl = zb_f32(b, lo), *ph = zb_f32(b, hi);
        if (pl && ph) {
            *pl = 0.0f;
            *ph = 6.0f;
        }
    }
    const char *in[3] = {x->name, "relu6.min", "relu6.max"};
    zb_node(b, "Clip", name, 3, in, name, 0, NULL);
    return y;
}

static zv zb_add(zb *b, const zv *x, const zv *r, const char *name) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.mean = x->mean + r->mean;
    y.var = x->var + r->var;
    const char *in[2] = {x->name, r->name};
    zb_node(b, "Add", name, 2, in, name, 0, NULL);
    return y;
}

static zv zb_maxpool2(zb *b, const zv *x, const char *name) {
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.h = x->h / 2;
    y.w = x->w / 2;
    int64_t k[2] = {2, 2};
    tdm_onnx_attr at[2] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, k},
                           {"strides", TDM_ONNX_ATTR_INTS, 0, 0, 2, k}};
    const char *in[1] = {x->name};
    zb_node(b, "MaxPool", name, 1, in, name, 2, at);
    return y;
}

/* GlobalAveragePool then Flatten: [N, C, H, W] -> [N, C]. */
static zv zb_pool_flatten(zb *b, const zv *x, const char *name) {
    char pooled[128];
    snprintf(pooled, sizeof pooled, "%s.pool", name);
    const char *in[1] = {x->name};
    zb_node(b, "GlobalAveragePool", pooled, 1, in, pooled, 0, NULL);
    tdm_onnx_attr at[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in2[1] = {pooled};
    zb_node(b, "Flatten", name, 1, in2, name, 1, at);
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.h = y.w = 0;
    return y;
}

/* Flatten without pooling (VGG: the features end at 1x1). */
static zv zb_flatten(zb *b, const zv *x, const char *name) {
    tdm_onnx_attr at[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in[1] = {x->name};
    zb_node(b, "Flatten", name, 1, in, name, 1, at);
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.c = x->c * (x->h ? x->h : 1) * (x->w ? x->w : 1);
    y.h = y.w = 0;
    return y;
}

/* Linear `prefix` (Gemm with transB, weight [out, in] as PyTorch stores it); output named out_name. gain 2 for a
 * layer followed by ReLU (He), 1 for the logits. */
static zv zb_gemm(zb *b, const zv *x, const char *prefix, int nout, double gain, const char *out_name) {
    char wn[128], bn[128];
    snprintf(wn, sizeof wn, "%s.weight", prefix);
    snprintf(bn, sizeof bn, "%s.bias", prefix);
    int64_t wd[2] = {nout, x->c}, bd[1] = {nout};
    int wi = zb_add_init(b, wn, R_FC_W, TDM_FLOAT, 2, wd);
    int bi = zb_add_init(b, bn, R_FC_B, TDM_FLOAT, 1, bd);
    zb_add_layer(b, L_GEMM, wi, bi, -1, -1);
    float *W = zb_f32(b, wi), *B = zb_f32(b, bi);
    if (W && B) {
        double sd = sqrt(gain / x->c);
        rng_state r = zb_rng(b, wn), rb = zb_rng(b, bn);
        for (int64_t i = 0; i < b->init[wi].numel; i++) W[i] = (float)(sd * zb_normal(&r));
        for (int i = 0; i < nout; i++) B[i] = (float)(0.05 * zb_normal(&rb));
    }
    tdm_onnx_attr at[1] = {{"transB", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in[3] = {x->name, wn, bn};
    zb_node(b, "Gemm", prefix, 3, in, out_name, 1, at);
    zv y;
    zv_set(&y, out_name, nout, 0, 0, 0.0, gain * (x->var + x->mean * x->mean));
    return y;
}

/* ---- the families ---------------------------------------------------------------------------------------------- */

/* conv + BN (+ ReLU or ReLU6): the torchvision ConvBNActivation, or a plain conv + bn pair. act: 0 none, 1 relu,
 * 2 relu6. The convolution is `conv_name`, the BatchNorm `bn_name`. */
static zv zb_cba(zb *b, const zv *x, const char *conv_name, const char *bn_name, int cout, int k, int stride,
                 int groups, int act) {
    zv y = zb_conv(b, x, conv_name, cout, k, stride, groups, 0);
    y = zb_bn(b, &y, bn_name);
    if (act) {
        char n[128];
        snprintf(n, sizeof n, "%s.relu", bn_name);
        y = zb_act(b, &y, n, act == 2);
    }
    return y;
}

static zv build_resnet(zb *b, const zv *in, int blocks) {
    zv x = zb_cba(b, in, "conv1", "bn1", 16, 3, 1, 1, 1);
    int planes[3] = {16, 32, 64};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < blocks; i++) {
            char p[64], c1[96], b1[96], c2[96], b2[96], dc[96], db[96], an[96], rn[96];
            int stride = s > 0 && i == 0 ? 2 : 1;
            snprintf(p, sizeof p, "layer%d.%d", s + 1, i);
            snprintf(c1, sizeof c1, "%s.conv1", p);
            snprintf(b1, sizeof b1, "%s.bn1", p);
            snprintf(c2, sizeof c2, "%s.conv2", p);
            snprintf(b2, sizeof b2, "%s.bn2", p);
            zv y = zb_cba(b, &x, c1, b1, planes[s], 3, stride, 1, 1);
            y = zb_cba(b, &y, c2, b2, planes[s], 3, 1, 1, 0);
            zv id = x;
            if (stride != 1 || x.c != planes[s]) {
                snprintf(dc, sizeof dc, "%s.downsample.0", p);
                snprintf(db, sizeof db, "%s.downsample.1", p);
                id = zb_cba(b, &x, dc, db, planes[s], 1, stride, 1, 0);
            }
            snprintf(an, sizeof an, "%s.add", p);
            snprintf(rn, sizeof rn, "%s.relu", p);
            zv sum = zb_add(b, &y, &id, an);
            x = zb_act(b, &sum, rn, 0);
        }
    return zb_pool_flatten(b, &x, "flatten");
}

/* torchvision's _make_divisible: the nearest multiple of 8, never below 90 % of v. */
static int make_divisible(double v) {
    int nv = (int)(v + 4) / 8 * 8;
    if (nv < 8) nv = 8;
    if (nv < 0.9 * v) nv += 8;
    return nv;
}

static zv build_mobilenetv2(zb *b, const zv *in, double width) {
    static const int setting[7][4] = { /* t, c, n, s; the stride of the second row is 1 for 32x32 inputs */
        {1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int cin = make_divisible(32 * width), last = make_divisible(1280 * (width > 1.0 ? width : 1.0));
    zv x = zb_cba(b, in, "features.0.0", "features.0.1", cin, 3, 1, 1, 2); /* stride 1 for 32x32 */
    int f = 1;
    for (int r = 0; r < 7; r++) {
        int t = setting[r][0], cout = make_divisible(setting[r][1] * width);
        for (int i = 0; i < setting[r][2]; i++, f++) {
            int stride = i == 0 ? setting[r][3] : 1, hidden = (int)lround(x.c * (double)t);
            char p[64], cn[96], bn[96];
            snprintf(p, sizeof p, "features.%d.conv", f);
            zv y = x;
            int j = 0;
            if (t != 1) {
                snprintf(cn, sizeof cn, "%s.%d.0", p, j);
                snprintf(bn, sizeof bn, "%s.%d.1", p, j);
                y = zb_cba(b, &y, cn, bn, hidden, 1, 1, 1, 2);
                j++;
            }
            snprintf(cn, sizeof cn, "%s.%d.0", p, j);
            snprintf(bn, sizeof bn, "%s.%d.1", p, j);
            y = zb_cba(b, &y, cn, bn, hidden, 3, stride, hidden, 2);
            j++;
            snprintf(cn, sizeof cn, "%s.%d", p, j);
            snprintf(bn, sizeof bn, "%s.%d", p, j + 1);
            y = zb_cba(b, &y, cn, bn, cout, 1, 1, 1, 0);
            if (stride == 1 && x.c == cout) {
                char an[96];
                snprintf(an, sizeof an, "features.%d.add", f);
                y = zb_add(b, &x, &y, an);
            }
            x = y;
        }
    }
    char cn[64], bn[64];
    snprintf(cn, sizeof cn, "features.%d.0", f);
    snprintf(bn, sizeof bn, "features.%d.1", f);
    x = zb_cba(b, &x, cn, bn, last, 1, 1, 1, 2);
    return zb_pool_flatten(b, &x, "flatten");
}

/* ShuffleNetV2's channel shuffle with 2 groups: [N, C, H, W] -> [N, 2, C/2, H, W] -> swap 1, 2 -> [N, C, H, W]. */
static zv zb_shuffle(zb *b, const zv *x, const char *prefix) {
    char s5[128], s4[128], r1[128], tr[128], out[128];
    snprintf(s5, sizeof s5, "%s.shape5", prefix);
    snprintf(s4, sizeof s4, "%s.shape4", prefix);
    snprintf(r1, sizeof r1, "%s.split_groups", prefix);
    snprintf(tr, sizeof tr, "%s.transpose", prefix);
    snprintf(out, sizeof out, "%s.shuffle", prefix);
    int64_t d5[1] = {5}, d4[1] = {4};
    int i5 = zb_add_init(b, s5, R_FIXED, TDM_INT64, 1, d5), i4 = zb_add_init(b, s4, R_FIXED, TDM_INT64, 1, d4);
    if (b->w && i5 >= 0 && i4 >= 0) {
        int64_t v5[5] = {-1, 2, x->c / 2, x->h, x->w}, v4[4] = {-1, x->c, x->h, x->w};
        memcpy(b->init[i5].data, v5, sizeof v5);
        memcpy(b->init[i4].data, v4, sizeof v4);
    }
    const char *in1[2] = {x->name, s5};
    zb_node(b, "Reshape", r1, 2, in1, r1, 0, NULL);
    int64_t perm[5] = {0, 2, 1, 3, 4};
    tdm_onnx_attr at[1] = {{"perm", TDM_ONNX_ATTR_INTS, 0, 0, 5, perm}};
    const char *in2[1] = {r1};
    zb_node(b, "Transpose", tr, 1, in2, tr, 1, at);
    const char *in3[2] = {tr, s4};
    zb_node(b, "Reshape", out, 2, in3, out, 0, NULL);
    zv y = *x;
    snprintf(y.name, sizeof y.name, "%s", out);
    return y;
}

static zv zb_concat2(zb *b, const zv *x1, const zv *x2, const char *name) {
    tdm_onnx_attr at[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
    const char *in[2] = {x1->name, x2->name};
    zb_node(b, "Concat", name, 2, in, name, 1, at);
    zv y = *x1;
    snprintf(y.name, sizeof y.name, "%s", name);
    y.c = x1->c + x2->c;
    y.mean = (x1->mean * x1->c + x2->mean * x2->c) / y.c;
    y.var = (x1->var * x1->c + x2->var * x2->c) / y.c;
    return y;
}

static zv build_shufflenetv2(zb *b, const zv *in, const int *ch) {
    zv x = zb_cba(b, in, "conv1.0", "conv1.1", ch[0], 3, 1, 1, 1); /* stride 1 and no max pool for 32x32 */
    static const int repeats[3] = {4, 8, 4};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < repeats[s]; i++) {
            char p[64], n1[96], n2[96], n3[96], n4[96];
            int bf = ch[s + 1] / 2;
            snprintf(p, sizeof p, "stage%d.%d", s + 2, i);
            zv left, right;
            if (i == 0) { /* stride 2: both branches see the whole input */
                snprintf(n1, sizeof n1, "%s.branch1.0", p);
                snprintf(n2, sizeof n2, "%s.branch1.1", p);
                left = zb_cba(b, &x, n1, n2, x.c, 3, 2, x.c, 0);
                snprintf(n1, sizeof n1, "%s.branch1.2", p);
                snprintf(n2, sizeof n2, "%s.branch1.3", p);
                left = zb_cba(b, &left, n1, n2, bf, 1, 1, 1, 1);
                right = x;
            } else { /* stride 1: split the channels in two halves */
                snprintf(n1, sizeof n1, "%s.split.0", p);
                snprintf(n2, sizeof n2, "%s.split.1", p);
                const char *sin[1] = {x.name};
                const char *souts[2] = {n1, n2};
                tdm_onnx_attr at[1] = {{"axis", TDM_ONNX_ATTR_INT, 0, 1, 0, NULL}};
                if (b->w && !b->failed) tdm_onnx_writer_node(b->w, "Split", p, 1, sin, 2, souts, 1, at);
                left = x;
                snprintf(left.name, sizeof left.name, "%s", n1);
                left.c = x.c / 2;
                right = left;
                snprintf(right.name, sizeof right.name, "%s", n2);
            }
            snprintf(n1, sizeof n1, "%s.branch2.0", p);
            snprintf(n2, sizeof n2, "%s.branch2.1", p);
            zv y = zb_cba(b, &right, n1, n2, bf, 1, 1, 1, 1);
            snprintf(n3, sizeof n3, "%s.branch2.3", p);
            snprintf(n4, sizeof n4, "%s.branch2.4", p);
            y = zb_cba(b, &y, n3, n4, bf, 3, i == 0 ? 2 : 1, bf, 0);
            snprintf(n3, sizeof n3, "%s.branch2.5", p);
            snprintf(n4, sizeof n4, "%s.branch2.6", p);
            y = zb_cba(b, &y, n3, n4, bf, 1, 1, 1, 1);
            snprintf(n1, sizeof n1, "%s.concat", p);
            zv cat = zb_concat2(b, &left, &y, n1);
            x = zb_shuffle(b, &cat, p);
        }
    x = zb_cba(b, &x, "conv5.0", "conv5.1", ch[4], 1, 1, 1, 1);
    return zb_pool_flatten(b, &x, "flatten");
}

static zv build_vgg(zb *b, const zv *in, int depth) {
    /* torchvision's configurations A, B, D, E: channels per conv, 0 for a 2x2 max pool */
    static const int cfg11[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
    static const int cfg13[] = {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
    static const int cfg16[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0, -1};
    static const int cfg19[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0,
                                512, 512, 512, 512, 0, -1};
    const int *cfg = depth == 11 ? cfg11 : depth == 13 ? cfg13 : depth == 16 ? cfg16 : cfg19;
    zv x = *in;
    int idx = 0; /* the index in torch's nn.Sequential: conv, bn, relu take 3, a pool 1 */
    for (int i = 0; cfg[i] >= 0; i++) {
        char cn[64], bn[64];
        if (cfg[i] == 0) {
            snprintf(cn, sizeof cn, "features.%d", idx++);
            x = zb_maxpool2(b, &x, cn);
            continue;
        }
        snprintf(cn, sizeof cn, "features.%d", idx);
        snprintf(bn, sizeof bn, "features.%d", idx + 1);
        x = zb_conv(b, &x, cn, cfg[i], 3, 1, 1, 1);
        x = zb_bn(b, &x, bn);
        snprintf(cn, sizeof cn, "features.%d", idx + 2);
        x = zb_act(b, &x, cn, 0);
        idx += 3;
    }
    x = zb_flatten(b, &x, "flatten");
    x = zb_gemm(b, &x, "classifier.0", 512, 2.0, "classifier.0");
    x = zb_act(b, &x, "classifier.1", 0);
    x = zb_gemm(b, &x, "classifier.3", 512, 2.0, "classifier.3");
    return zb_act(b, &x, "classifier.4", 0);
}

/* Build the whole graph into b (b->w NULL: count only). */
static void zoo_build(zb *b, const zoo_arch *a, int classes) {
    zv in;
    zv_set(&in, "input", 3, 32, 32, 0.0, 1.0);
    int64_t in_dims[4] = {-1, 3, 32, 32}, out_dims[2] = {-1, classes};
    const char *n_param[4] = {"N", NULL, NULL, NULL};
    if (b->w) tdm_onnx_writer_value(b->w, 0, "input", TDM_FLOAT, 4, in_dims, n_param);
    zv x;
    switch (a->family) {
    case FAM_RESNET: x = build_resnet(b, &in, a->depth); break;
    case FAM_MOBILENETV2: x = build_mobilenetv2(b, &in, a->width); break;
    case FAM_SHUFFLENETV2: x = build_shufflenetv2(b, &in, a->stage_ch); break;
    default: x = build_vgg(b, &in, a->depth); break;
    }
    const char *fc = a->family == FAM_MOBILENETV2 ? "classifier.1" : a->family == FAM_VGG ? "classifier.6" : "fc";
    zb_gemm(b, &x, fc, classes, 1.0, "logits");
    if (b->w) tdm_onnx_writer_value(b->w, 1, "logits", TDM_FLOAT, 2, out_dims, n_param);
}

static void zb_free(zb *b) {
    for (int i = 0; i < b->n_init; i++) free(b->init[i].data);
    free(b->init);
    free(b->layer);
    free(b->ch_mean);
    free(b->ch_var);
    tdm_onnx_writer_free(b->w);
    memset(b, 0, sizeof *b);
}

int64_t zoo_model_params(const char *name) {
    int classes;
    const zoo_arch *a = zoo_lookup(name, &classes);
    if (!a) return -1;
    zb b = {0};
    zoo_build(&b, a, classes);
    int64_t p = b.failed ? -1 : b.params;
    zb_free(&b);
    return p;
}

/* ---- trained weights ------------------------------------------------------------------------------------------- */

static int same_shape(const zb_init *t, const tdm_onnx_const *c) {
    if (c->dtype != t->dtype || c->rank != t->rank) return 0;
    for (int i = 0; i < t->rank; i++)
        if (c->dims[i] != t->dims[i]) return 0;
    return 1;
}

static void shape_str(char *buf, size_t cap, int rank, const int64_t *dims) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static void copy_const(zb_init *t, const tdm_onnx_const *c) {
    memcpy(t->data, c->data, (size_t)t->numel * tdm_dtype_size(t->dtype));
}

/* BatchNorm `l` becomes y = x + shift (scale 1, mean 0, variance 1 - eps), for a source whose BatchNorm was folded
 * into the convolution before it (the shift is that convolution's bias, or 0). */
static void bn_identity(zb *b, const zb_layer *l, const float *shift) {
    float *g = zb_f32(b, l->w), *be = zb_f32(b, l->b), *mu = zb_f32(b, l->mean), *va = zb_f32(b, l->var);
    for (int64_t c = 0; c < b->init[l->w].numel; c++) {
        g[c] = 1.0f;
        be[c] = shift ? shift[c] : 0.0f;
        mu[c] = 0.0f;
        va[c] = 1.0f - ZOO_BN_EPS;
    }
}

/* Replace the seeded weights with those of the model at path. First by name and shape (a torch export that keeps
 * BatchNorm uses the same state_dict names); when some learnable tensor is not found that way, by the order of the
 * weight-bearing nodes: the source's Conv/Gemm/BatchNormalization nodes must line up with ours, shape by shape.
 * Where the source has a convolution with a bias and no BatchNorm after it (BatchNorm folded at export), our
 * BatchNorm becomes an identity that adds that bias, so the model computes exactly what the source does. */
static int zoo_load_weights(zb *b, const char *path, char *note, size_t notelen, char *err, size_t errlen) {
    tdm_onnx_weights src;
    tdm_status st = tdm_onnx_weights_load(path, &src);
    if (st != TDM_OK) return err_set(err, errlen, "--weights '%s': %s", path, tdm_last_error());
    int missing = 0, by_name = 0;
    for (int i = 0; i < b->n_init; i++) {
        zb_init *t = &b->init[i];
        if (t->role == R_FIXED) continue;
        int found = 0;
        for (int k = 0; k < src.n_constant && !found; k++)
            if (strcmp(src.constant[k].name, t->name) == 0 && same_shape(t, &src.constant[k])) found = 1;
        missing += !found;
    }
    if (!missing) {
        for (int i = 0; i < b->n_init; i++) {
            zb_init *t = &b->init[i];
            if (t->role == R_FIXED) continue;
            for (int k = 0; k < src.n_constant; k++)
                if (strcmp(src.constant[k].name, t->name) == 0 && same_shape(t, &src.constant[k])) {
                    copy_const(t, &src.constant[k]);
                    by_name++;
                    break;
                }
        }
        snprintf(note, notelen, "%d tensors matched by name", by_name);
        tdm_onnx_weights_free(&src);
        return 0;
    }
    /* by order */
    int s = 0, rc = 0, folded = 0;
    char want[64], got[64];
    for (int li = 0; li < b->n_layer && rc == 0; li++) {
        const zb_layer *l = &b->layer[li];
        zb_init *w = &b->init[l->w];
        if (l->kind == L_BN) { /* a BatchNorm the source kept */
            const tdm_onnx_weight_node *n = s < src.n_node ? &src.node[s] : NULL;
            int ok = n && !strcmp(n->op_type, "BatchNormalization") && n->n_in == 5;
            for (int k = 1; ok && k < 5; k++) {
                const int idx[5] = {0, l->w, l->b, l->mean, l->var};
                ok = n->has_in[k] && same_shape(&b->init[idx[k]], &n->in[k]);
            }
            if (!ok) {
                rc = err_set(err, errlen,
                             "--weights: '%s' has no BatchNormalization matching '%s' at weight-bearing node %d", path,
                             w->name, s);
                break;
            }
            const int idx[5] = {0, l->w, l->b, l->mean, l->var};
            for (int k = 1; k < 5; k++) copy_const(&b->init[idx[k]], &n->in[k]);
            s++;
            continue;
        }
        const char *op = l->kind == L_CONV ? "Conv" : "Gemm";
        const tdm_onnx_weight_node *n = s < src.n_node ? &src.node[s] : NULL;
        shape_str(want, sizeof want, w->rank, w->dims);
        /* a Gemm stored the other way round ([in, out], transB 0) is transposed while copying */
        int transpose = n && l->kind == L_GEMM && !strcmp(n->op_type, "Gemm") && !n->trans_b;
        if (n && l->kind == L_GEMM && !strcmp(n->op_type, "Gemm") &&
            (n->trans_a || n->alpha != 1.0f || (n->beta != 1.0f && n->has_in[2]))) {
            rc = err_set(err, errlen,
                         "--weights: '%s': Gemm '%s' uses transA, alpha or beta, which the zoo's Linear layers do not",
                         path, n->name);
            break;
        }
        zb_init wt = *w;
        if (transpose) {
            wt.dims[0] = w->dims[1];
            wt.dims[1] = w->dims[0];
        }
        if (!n || strcmp(n->op_type, op) || !n->has_in[1] || !same_shape(&wt, &n->in[1])) {
            if (n && n->has_in[1]) shape_str(got, sizeof got, n->in[1].rank, n->in[1].dims);
            rc = err_set(err, errlen,
                         "--weights: '%s' does not have this architecture: weight-bearing node %d should be %s with "
                         "weight %s (for '%s'), found %s%s%s", path, s, op, want, w->name,
                         n ? n->op_type : "the end of the model", n && n->has_in[1] ? " with weight " : "",
                         n && n->has_in[1] ? got : "");
            break;
        }
        if (transpose) {
            const float *src_w = n->in[1].data;
            float *dst = w->data;
            int64_t rows = w->dims[0], cols = w->dims[1];
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = src_w[c * rows + r];
        } else {
            copy_const(w, &n->in[1]);
        }
        const tdm_onnx_const *bias = n->n_in > 2 && n->has_in[2] ? &n->in[2] : NULL;
        if (bias && (bias->dtype != TDM_FLOAT || bias->rank != 1 || bias->dims[0] != w->dims[0])) bias = NULL;
        s++;
        if (l->kind == L_GEMM) {
            if (l->b >= 0) {
                if (bias) copy_const(&b->init[l->b], bias);
                else memset(b->init[l->b].data, 0, (size_t)b->init[l->b].numel * 4);
            }
            continue;
        }
        /* a convolution: is the source's next node our BatchNorm, or was it folded? */
        const zb_layer *nl = li + 1 < b->n_layer && b->layer[li + 1].kind == L_BN ? &b->layer[li + 1] : NULL;
        const tdm_onnx_weight_node *nn = s < src.n_node ? &src.node[s] : NULL;
        int src_has_bn = nn && !strcmp(nn->op_type, "BatchNormalization");
        if (nl && !src_has_bn) {
            float *cb = zb_f32(b, l->b);
            if (cb) { /* our conv has its own bias: it takes the source's, the BatchNorm adds nothing */
                if (bias) copy_const(&b->init[l->b], bias);
                else memset(cb, 0, (size_t)b->init[l->b].numel * 4);
                bn_identity(b, nl, NULL);
            } else {
                bn_identity(b, nl, bias ? (const float *)bias->data : NULL);
            }
            folded++;
            li++; /* that BatchNorm is done */
        } else if (l->b >= 0) {
            if (bias) copy_const(&b->init[l->b], bias);
            else memset(b->init[l->b].data, 0, (size_t)b->init[l->b].numel * 4);
        }
    }
    if (rc == 0 && s != src.n_node)
        rc = err_set(err, errlen, "--weights: '%s' has %d weight-bearing nodes, this architecture %d", path, src.n_node,
                     s);
    if (rc == 0)
        snprintf(note, notelen, "%d weight-bearing nodes matched in order (%d BatchNorms folded in the source became "
                 "identities)", s, folded);
    tdm_onnx_weights_free(&src);
    return rc;
}

/* ---- writing --------------------------------------------------------------------------------------------------- */

int zoo_write(const char *name, const zoo_options *opts, const char *path, zoo_result *res, char *err,
              size_t errlen) {
    int classes;
    zoo_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    const zoo_arch *a = zoo_lookup(name, &classes);
    if (!a) return err_set(err, errlen, "'%s' is not in the zoo (tandem zoo --list shows the names)", name);
    zb b = {0};
    b.seed = opts ? opts->seed : 0;
    b.w = tdm_onnx_writer_new(name);
    if (!b.w) return err_set(err, errlen, "out of memory");
    zoo_build(&b, a, classes);
    if (b.failed) {
        zb_free(&b);
        return err_set(err, errlen, "out of memory building '%s'", name);
    }
    if (opts && opts->weights &&
        zoo_load_weights(&b, opts->weights, res->weights_note, sizeof res->weights_note, err, errlen) != 0) {
        zb_free(&b);
        return -1;
    }
    for (int i = 0; i < b.n_init; i++)
        tdm_onnx_writer_initializer(b.w, b.init[i].name, b.init[i].dtype, b.init[i].rank, b.init[i].dims,
                                    b.init[i].data);
    tdm_status st = tdm_onnx_writer_save(b.w, path, ZOO_IR_VERSION, ZOO_OPSET, "tandem", TDM_VERSION);
    res->params = b.params;
    zb_free(&b);
    if (st != TDM_OK) {
        const char *msg = tdm_last_error();
        return err_set(err, errlen, "zoo: %s", msg && *msg ? msg : tdm_status_name(st));
    }
    return 0;
}
