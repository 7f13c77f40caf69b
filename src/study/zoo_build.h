/* zoo_build.h - the graph builder behind `tandem zoo`, internal to src/study: seeded initializers, layers written as
 * ONNX nodes the way torch.onnx writes them (opset 13 by default, 17 on request), shape and activation-statistics
 * tracking, and the "exported by another tool" variants. zoo.c (the CIFAR families, the registry, --weights and
 * writing), zoo_imagenet.c (torchvision's ImageNet classifiers) and zoo_text.c (BERT, ViT, a GPT-2-style decoder)
 * build their graphs with it.
 *
 * A builder runs in one of two modes: counting (b->w NULL: shapes and parameter counts only, no data, no nodes) or
 * writing (b->w set: every initializer is drawn and every node added to the writer). Out of memory sets b->failed;
 * every later call then does nothing, so builders need not check after each call. */
#ifndef TANDEM_ZOO_BUILD_H
#define TANDEM_ZOO_BUILD_H

#include <stdint.h>

#include "tandem_onnx_write.h"
#include "../common/util.h"

#define ZB_NAME 128

/* What an initializer is for: it decides whether it counts as a learnable parameter (everything float except the
 * BatchNorm running statistics and R_FIXED constants) and what --weights does with it. */
enum { R_CONV_W, R_CONV_B, R_BN_GAMMA, R_BN_BETA, R_BN_MEAN, R_BN_VAR, R_FC_W, R_FC_B, R_PARAM, R_FIXED };

/* The "exported by another tool" variants (zoo_options.variant), as flags. */
enum {
    ZV_SHAPE_CHAIN = 1, /* the batch size of every Reshape/Flatten comes from Shape -> Gather -> Unsqueeze -> Concat */
    ZV_RESHAPE = 2,     /* Flatten written as Reshape with a constant [-1, C]                                         */
    ZV_PAD = 4,         /* explicit Pad nodes before Conv, MaxPool and AveragePool; their pads attributes are 0       */
    ZV_BN_MUL_ADD = 8   /* BatchNormalization written as Mul and Add with per-channel [C,1,1] constants               */
};

/* Activations, written as torch.onnx writes them at the builder's opset. */
enum { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_HSWISH, ACT_HSIGMOID, ACT_SILU, ACT_SIGMOID };

typedef struct zb_init {
    char name[ZB_NAME];
    int role;
    tdm_dtype dtype;
    int rank;
    int64_t dims[5];
    int64_t numel;
    int unused;   /* registered for counting and --weights but not written (a variant replaced its use) */
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
    char name[ZB_NAME];
    int c, h, w;
    double mean, var;
} zv;

typedef struct zb {
    tdm_onnx_writer *w; /* NULL: counting mode (shapes only, no data) */
    uint64_t seed;
    int opset;          /* 13 or 17                                          */
    unsigned variant;   /* ZV_* flags                                        */
    float bn_eps;       /* BatchNormalization epsilon of the model           */
    zb_init *init;
    int n_init, cap_init;
    zb_layer *layer;
    int n_layer, cap_layer;
    int failed;
    int64_t params;
    /* per-channel mean and variance of the last convolution's output (filled when drawing data) */
    char stats_of[ZB_NAME];
    double *ch_mean, *ch_var;
    int ch_n;
} zb;

void zb_free(zb *b);

/* ---- initializers and nodes ---- */
rng_state zb_rng(const zb *b, const char *name);
double zb_uniform(rng_state *r, double lo, double hi);
/* Register an initializer (zeroed data in writing mode); its index, or -1 after a failure. */
int zb_add_init(zb *b, const char *name, int role, tdm_dtype dtype, int rank, const int64_t *dims);
void zb_add_layer(zb *b, int kind, int w, int bias, int mean, int var);
float *zb_f32(zb *b, int idx);
/* A float initializer of `rank` dims drawn as std * N(0, 1) (role decides whether it counts). Returns its index. */
int zb_param_normal(zb *b, const char *name, int role, int rank, const int64_t *dims, double std);
/* A float initializer drawn uniformly in [lo, hi). */
int zb_param_uniform(zb *b, const char *name, int role, int rank, const int64_t *dims, double lo, double hi);
/* Constants, shared by name: a second call with the same name reuses the first (the values must agree). */
void zb_const_f32(zb *b, const char *name, int rank, const int64_t *dims, const float *vals);
void zb_scalar_f32(zb *b, const char *name, float v);
void zb_const_i64(zb *b, const char *name, int rank, const int64_t *dims, const int64_t *vals);
/* One node with one output. */
void zb_node(zb *b, const char *op, const char *name, int n_in, const char *const *in, const char *out, int n_attr,
             const tdm_onnx_attr *attrs);
/* One node with several outputs. */
void zb_node_n(zb *b, const char *op, const char *name, int n_in, const char *const *in, int n_out,
               const char *const *out, int n_attr, const tdm_onnx_attr *attrs);
void zv_set(zv *v, const char *name, int c, int h, int w, double mean, double var);

/* ---- layers (each returns its output value) ---- */
/* Convolution `prefix` ("prefix.weight" [cout, cin/groups, kh, kw], "prefix.bias" when bias), He-normal weights,
 * padding ph/pw on both sides. gain 2 before a ReLU-like activation, 1 otherwise. */
zv zb_conv_ex(zb *b, const zv *x, const char *prefix, int cout, int kh, int kw, int stride, int ph, int pw,
              int groups, int bias);
/* The square case with padding k/2. */
zv zb_conv(zb *b, const zv *x, const char *prefix, int cout, int k, int stride, int groups, int bias);
/* BatchNormalization `prefix` with seeded non-trivial statistics near those its input will have. */
zv zb_bn(zb *b, const zv *x, const char *prefix);
/* An activation node (or torch's decomposition of it) named `name`. */
zv zb_act(zb *b, const zv *x, const char *name, int kind);
zv zb_add(zb *b, const zv *x, const zv *r, const char *name);
/* x * s where s is [N, C, 1, 1] (a squeeze-and-excitation gate) or has x's shape. */
zv zb_mul(zb *b, const zv *x, const zv *s, const char *name);
zv zb_maxpool(zb *b, const zv *x, const char *name, int k, int stride, int pad, int ceil_mode);
/* torch's avg_pool2d with count_include_pad (its default): a Pad node, then AveragePool without padding. */
zv zb_avgpool(zb *b, const zv *x, const char *name, int k, int stride, int pad);
/* GlobalAveragePool, keeping [N, C, 1, 1]. */
zv zb_gap(zb *b, const zv *x, const char *name);
/* GlobalAveragePool then Flatten (or its variant): [N, C, H, W] -> [N, C]. */
zv zb_pool_flatten(zb *b, const zv *x, const char *name);
/* Flatten from axis 1 (or its variant). */
zv zb_flatten(zb *b, const zv *x, const char *name);
/* ReduceMean over H and W without keepdims (torch's x.mean([2, 3])): [N, C, H, W] -> [N, C]. */
zv zb_mean_hw(zb *b, const zv *x, const char *name);
zv zb_concat(zb *b, const zv *const *xs, int n, const char *name);
/* Linear `prefix` as Gemm (transB 1, weight [out, in]) on a [N, C] value; gain 2 before a ReLU, 1 otherwise. */
zv zb_gemm(zb *b, const zv *x, const char *prefix, int nout, double gain, const char *out_name);
/* conv + BN + activation (torchvision's Conv2dNormActivation); act is ACT_*. */
zv zb_cba(zb *b, const zv *x, const char *conv_name, const char *bn_name, int cout, int k, int stride, int groups,
          int act);
/* ShuffleNetV2's channel shuffle with 2 groups: Reshape, Transpose, Reshape. */
zv zb_shuffle(zb *b, const zv *x, const char *prefix);
/* Reshape `in` to `out` with target dims[rank] whose first entry is the batch: written as a constant shape with -1
 * there, or (ZV_SHAPE_CHAIN, or always when `chain`) with the batch size taken from Shape(in). */
/* The int64 shape tensor `shape` = [batch of `in`, dims[1], ..., dims[rank-1]], written as a constant with -1 for
 * the batch, or (ZV_SHAPE_CHAIN, or always when `chain`) as Shape(in) -> Gather(0) -> Unsqueeze -> Concat. */
void zb_batch_shape(zb *b, const char *in, const char *shape, int rank, const int64_t *dims, int chain);
void zb_reshape(zb *b, const char *in, const char *out, int rank, const int64_t *dims, int chain);
/* torchvision's _make_divisible(v, 8). */
int zb_make_divisible(double v);

/* ---- the families (zoo_cnn.c, zoo_text.c) ---- */
enum {
    CNN_CIFAR_RESNET, CNN_CIFAR_MOBILENETV2, CNN_CIFAR_SHUFFLENETV2, CNN_CIFAR_VGG_BN,
    CNN_RESNET18, CNN_RESNET50, CNN_MOBILENET_V2, CNN_MOBILENET_V3_SMALL, CNN_MOBILENET_V3_LARGE, CNN_EFFICIENTNET_B0,
    CNN_SHUFFLENET_V2, CNN_SQUEEZENET1_1, CNN_INCEPTION_V3, CNN_VGG16
};
typedef struct zoo_cnn {
    int family;       /* CNN_*                                                                     */
    int depth;        /* CIFAR ResNet: blocks per stage; CIFAR VGG: 11/13/16/19                     */
    double width;     /* CIFAR MobileNetV2 width multiplier                                        */
    int stage_ch[5];  /* ShuffleNetV2 output channels of the stem, the three stages and conv5      */
} zoo_cnn;
/* The network on `in` ([N, 3, H, W]) up to the logits, a value named `out` with `classes` entries per image. */
zv zoo_cnn_build(zb *b, const zoo_cnn *a, const zv *in, int classes, const char *out);

enum { TXT_BERT, TXT_VIT, TXT_GPT2 };
typedef struct zoo_text {
    int family;       /* TXT_*                                                                     */
    int layers, hidden, heads, intermediate;
    int vocab;        /* BERT and GPT-2: token ids in [0, vocab)                                   */
    int seq;          /* BERT and GPT-2: the sequence length of the inputs                         */
    int positions;    /* rows of the position table (BERT 512, GPT-2 n_positions)                  */
    int image, patch, classes; /* ViT                                                              */
} zoo_text;
/* The whole graph: its inputs, outputs and nodes (b->opset 17 writes LayerNormalization ops). */
void zoo_text_build(zb *b, const zoo_text *t);

#endif /* TANDEM_ZOO_BUILD_H */
