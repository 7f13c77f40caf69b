/* zoo.c - the registry of the zoo (see zoo.h): the names, what each is built from, parameter counts, the
 * variants, `--weights` (trained weights copied into a CIFAR architecture) and writing. The graphs are built by
 * zoo_cnn.c (the convolutional families) and zoo_text.c (the transformers) with the builder of zoo_build.c.
 *
 * BatchNormalization stays a node with non-trivial seeded statistics (random-looking running mean and variance,
 * scale and shift): the engine folds it at load time. The same name, seed, variant and opset give the same
 * bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem_onnx_write.h"
#include "../common/util.h"
#include "zoo.h"
#include "zoo_build.h"

#define ZOO_OPSET 13
#define ZOO_BN_EPS 1e-5f

typedef struct zoo_arch {
    const char *name[2]; /* the CIFAR-10 and the CIFAR-100 model */
    zoo_cnn cnn;
} zoo_arch;

static const zoo_arch zoo_archs[] = {
    {{"cifar10_resnet20", "cifar100_resnet20"}, {CNN_CIFAR_RESNET, 3, 0, {0}}},
    {{"cifar10_resnet32", "cifar100_resnet32"}, {CNN_CIFAR_RESNET, 5, 0, {0}}},
    {{"cifar10_resnet44", "cifar100_resnet44"}, {CNN_CIFAR_RESNET, 7, 0, {0}}},
    {{"cifar10_resnet56", "cifar100_resnet56"}, {CNN_CIFAR_RESNET, 9, 0, {0}}},
    {{"cifar10_mobilenetv2_x0_5", "cifar100_mobilenetv2_x0_5"}, {CNN_CIFAR_MOBILENETV2, 0, 0.5, {0}}},
    {{"cifar10_mobilenetv2_x0_75", "cifar100_mobilenetv2_x0_75"}, {CNN_CIFAR_MOBILENETV2, 0, 0.75, {0}}},
    {{"cifar10_mobilenetv2_x1_0", "cifar100_mobilenetv2_x1_0"}, {CNN_CIFAR_MOBILENETV2, 0, 1.0, {0}}},
    {{"cifar10_mobilenetv2_x1_4", "cifar100_mobilenetv2_x1_4"}, {CNN_CIFAR_MOBILENETV2, 0, 1.4, {0}}},
    {{"cifar10_shufflenetv2_x0_5", "cifar100_shufflenetv2_x0_5"},
     {CNN_CIFAR_SHUFFLENETV2, 0, 0, {24, 48, 96, 192, 1024}}},
    {{"cifar10_shufflenetv2_x1_0", "cifar100_shufflenetv2_x1_0"},
     {CNN_CIFAR_SHUFFLENETV2, 0, 0, {24, 116, 232, 464, 1024}}},
    {{"cifar10_shufflenetv2_x1_5", "cifar100_shufflenetv2_x1_5"},
     {CNN_CIFAR_SHUFFLENETV2, 0, 0, {24, 176, 352, 704, 1024}}},
    {{"cifar10_shufflenetv2_x2_0", "cifar100_shufflenetv2_x2_0"},
     {CNN_CIFAR_SHUFFLENETV2, 0, 0, {24, 244, 488, 976, 2048}}},
    {{"cifar10_vgg11_bn", "cifar100_vgg11_bn"}, {CNN_CIFAR_VGG_BN, 11, 0, {0}}},
    {{"cifar10_vgg13_bn", "cifar100_vgg13_bn"}, {CNN_CIFAR_VGG_BN, 13, 0, {0}}},
    {{"cifar10_vgg16_bn", "cifar100_vgg16_bn"}, {CNN_CIFAR_VGG_BN, 16, 0, {0}}},
    {{"cifar10_vgg19_bn", "cifar100_vgg19_bn"}, {CNN_CIFAR_VGG_BN, 19, 0, {0}}},
};
#define ZOO_NUM_ARCHS ((int)(sizeof zoo_archs / sizeof zoo_archs[0]))

static const int zoo_classes[2] = {10, 100};

/* The ImageNet classifiers and the transformers. */
typedef struct zoo_big {
    const char *name;
    int is_text;
    zoo_cnn cnn;        /* !is_text                                   */
    int size;           /* !is_text: the input is [N, 3, size, size]  */
    float bn_eps;       /* !is_text: BatchNorm's epsilon              */
    zoo_text text;      /* is_text                                    */
    const char *config;
} zoo_big;

#define IMAGENET(n, fam, sz, eps, cfg) {n, 0, {fam, 0, 0, {0}}, sz, eps, {0}, cfg}
#define BERT(n, l, h, a, cfg) {n, 1, {0}, 0, 0, {TXT_BERT, l, h, a, 4 * (h), 30522, 128, 512, 0, 0, 0}, cfg}
static const zoo_big zoo_bigs[] = {
    IMAGENET("imagenet_resnet18", CNN_RESNET18, 224, 1e-5f, "torchvision resnet18"),
    IMAGENET("imagenet_resnet50", CNN_RESNET50, 224, 1e-5f, "torchvision resnet50 (V1.5)"),
    IMAGENET("imagenet_mobilenet_v2", CNN_MOBILENET_V2, 224, 1e-5f, "torchvision mobilenet_v2"),
    IMAGENET("imagenet_mobilenet_v3_small", CNN_MOBILENET_V3_SMALL, 224, 1e-3f, "torchvision mobilenet_v3_small"),
    IMAGENET("imagenet_mobilenet_v3_large", CNN_MOBILENET_V3_LARGE, 224, 1e-3f, "torchvision mobilenet_v3_large"),
    IMAGENET("imagenet_efficientnet_b0", CNN_EFFICIENTNET_B0, 224, 1e-5f, "torchvision efficientnet_b0"),
    {"imagenet_shufflenet_v2_x1_0", 0, {CNN_SHUFFLENET_V2, 0, 0, {24, 116, 232, 464, 1024}}, 224, 1e-5f, {0},
     "torchvision shufflenet_v2_x1_0"},
    IMAGENET("imagenet_squeezenet1_1", CNN_SQUEEZENET1_1, 224, 1e-5f, "torchvision squeezenet1_1"),
    IMAGENET("imagenet_inception_v3", CNN_INCEPTION_V3, 299, 1e-3f, "torchvision inception_v3, no aux head"),
    IMAGENET("imagenet_vgg16", CNN_VGG16, 224, 1e-5f, "torchvision vgg16"),
    BERT("bert_tiny", 2, 128, 2, "BERT L2 H128 A2, seq 128, vocab 30522"),
    BERT("bert_mini", 4, 256, 4, "BERT L4 H256 A4, seq 128, vocab 30522"),
    BERT("bert_small", 4, 512, 8, "BERT L4 H512 A8, seq 128, vocab 30522"),
    BERT("bert_base", 12, 768, 12, "BERT L12 H768 A12, seq 128, vocab 30522"),
    {"vit_tiny_16", 1, {0}, 0, 0, {TXT_VIT, 12, 192, 3, 768, 0, 0, 0, 224, 16, 1000},
     "ViT-Ti/16 (timm vit_tiny_patch16_224): L12 H192 A3, 224x224"},
    {"gpt2_tiny", 1, {0}, 0, 0, {TXT_GPT2, 4, 256, 4, 1024, 50257, 128, 1024, 0, 0, 0},
     "GPT-2 style: L4 H256 A4, seq 128, vocab 50257, 1024 positions, tied LM head"},
};
#undef IMAGENET
#undef BERT
#define ZOO_NUM_BIGS ((int)(sizeof zoo_bigs / sizeof zoo_bigs[0]))

int zoo_num_models(void) { return 2 * ZOO_NUM_ARCHS + ZOO_NUM_BIGS; }

const char *zoo_model_name(int index) {
    if (index < 0 || index >= zoo_num_models()) return NULL;
    if (index >= 2 * ZOO_NUM_ARCHS) return zoo_bigs[index - 2 * ZOO_NUM_ARCHS].name;
    return zoo_archs[index % ZOO_NUM_ARCHS].name[index / ZOO_NUM_ARCHS];
}

/* A name's entry: *arch and *classes for a CIFAR model, *big for the others; 0 when unknown. */
static int zoo_lookup(const char *name, const zoo_arch **arch, int *classes, const zoo_big **big) {
    *arch = NULL;
    *big = NULL;
    *classes = 0;
    for (int i = 0; name && i < 2 * ZOO_NUM_ARCHS; i++)
        if (strcmp(zoo_model_name(i), name) == 0) {
            *classes = zoo_classes[i / ZOO_NUM_ARCHS];
            *arch = &zoo_archs[i % ZOO_NUM_ARCHS];
            return 1;
        }
    for (int i = 0; name && i < ZOO_NUM_BIGS; i++)
        if (strcmp(zoo_bigs[i].name, name) == 0) {
            *big = &zoo_bigs[i];
            *classes = !zoo_bigs[i].is_text ? 1000 : zoo_bigs[i].text.family == TXT_VIT ? zoo_bigs[i].text.classes : 0;
            return 1;
        }
    return 0;
}

int zoo_model_classes(const char *name) {
    const zoo_arch *a;
    const zoo_big *g;
    int classes;
    return zoo_lookup(name, &a, &classes, &g) ? classes : 0;
}

static zoo_input image_input(const char *name, int size) {
    zoo_input in = {name, TDM_FLOAT, 4, {-1, 3, size, size}, 0, 0};
    return in;
}

int zoo_model_info(const char *name, zoo_info *out) {
    const zoo_arch *a;
    const zoo_big *g;
    int classes;
    memset(out, 0, sizeof *out);
    if (!zoo_lookup(name, &a, &classes, &g)) return 0;
    out->name = a ? a->name[classes == 100] : g->name;
    out->classes = classes;
    out->n_inputs = 1;
    if (a) {
        out->family = "cifar";
        out->config = "pytorch-cifar-models";
        out->inputs[0] = image_input("input", 32);
        return 1;
    }
    out->config = g->config;
    if (!g->is_text) {
        out->family = "imagenet";
        out->inputs[0] = image_input("input", g->size);
        return 1;
    }
    out->family = "transformer";
    const zoo_text *t = &g->text;
    if (t->family == TXT_VIT) {
        out->inputs[0] = image_input("input", t->image);
        return 1;
    }
    zoo_input ids = {"input_ids", TDM_INT64, 2, {-1, t->seq}, 0, t->vocab};
    out->inputs[0] = ids;
    if (t->family == TXT_BERT) {
        zoo_input mask = {"attention_mask", TDM_INT64, 2, {-1, t->seq}, 0, 2};
        zoo_input types = {"token_type_ids", TDM_INT64, 2, {-1, t->seq}, 0, 2};
        out->inputs[1] = mask;
        out->inputs[2] = types;
        out->n_inputs = 3;
    }
    return 1;
}

/* Build the whole graph into b (b->w NULL: count only). */
static void zoo_build(zb *b, const zoo_arch *a, int classes, const zoo_big *g) {
    if (g && g->is_text) {
        zoo_text_build(b, &g->text);
        return;
    }
    int size = a ? 32 : g->size;
    b->bn_eps = a ? ZOO_BN_EPS : g->bn_eps;
    zv in;
    zv_set(&in, "input", 3, size, size, 0.0, 1.0);
    int64_t in_dims[4] = {-1, 3, size, size}, out_dims[2] = {-1, classes};
    const char *n_param[4] = {"N", NULL, NULL, NULL};
    if (b->w) tdm_onnx_writer_value(b->w, 0, "input", TDM_FLOAT, 4, in_dims, n_param);
    zoo_cnn_build(b, a ? &a->cnn : &g->cnn, &in, classes, "logits");
    if (b->w) tdm_onnx_writer_value(b->w, 1, "logits", TDM_FLOAT, 2, out_dims, n_param);
}

int64_t zoo_model_params(const char *name) {
    const zoo_arch *a;
    const zoo_big *g;
    int classes;
    if (!zoo_lookup(name, &a, &classes, &g)) return -1;
    zb b = {0};
    b.opset = ZOO_OPSET;
    zoo_build(&b, a, classes, g);
    int64_t p = b.failed ? -1 : b.params;
    zb_free(&b);
    return p;
}

/* ---- variants -------------------------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned flag;
    const char *what;
} zoo_variants[] = {
    {"shape-chain", ZV_SHAPE_CHAIN, "the batch size of every Reshape and Flatten from Shape, Gather, Unsqueeze and "
                                    "Concat (torch.onnx with a dynamic batch axis and x.view(x.size(0), -1))"},
    {"reshape", ZV_RESHAPE, "Flatten written as Reshape with a constant [-1, C] (tf2onnx, keras2onnx)"},
    {"pad", ZV_PAD, "explicit Pad nodes before Conv and MaxPool, whose pads are then 0 (tf2onnx's SAME padding)"},
    {"bn-mul-add", ZV_BN_MUL_ADD, "BatchNormalization as Mul and Add with per-channel constants (optimised or "
                                  "converted graphs: a scale and shift that do not follow the Conv directly)"},
};
#define ZOO_NUM_VARIANTS ((int)(sizeof zoo_variants / sizeof zoo_variants[0]))

const char *const *zoo_variant_names(void) {
    static char lines[ZOO_NUM_VARIANTS + 1][256];
    static const char *ptrs[ZOO_NUM_VARIANTS + 2];
    for (int i = 0; i < ZOO_NUM_VARIANTS; i++) {
        snprintf(lines[i], sizeof lines[i], "%s: %s", zoo_variants[i].name, zoo_variants[i].what);
        ptrs[i] = lines[i];
    }
    snprintf(lines[ZOO_NUM_VARIANTS], sizeof lines[0], "all: every one of them at once");
    ptrs[ZOO_NUM_VARIANTS] = lines[ZOO_NUM_VARIANTS];
    ptrs[ZOO_NUM_VARIANTS + 1] = NULL;
    return ptrs;
}

/* Parse "a,b" into ZV_* flags; -1 with the reason in err for an unknown name. */
static int parse_variant(const char *s, unsigned *flags, char *err, size_t errlen) {
    *flags = 0;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        int found = 0;
        if (n == 3 && !strncmp(s, "all", 3)) {
            for (int i = 0; i < ZOO_NUM_VARIANTS; i++) *flags |= zoo_variants[i].flag;
            found = 1;
        }
        for (int i = 0; i < ZOO_NUM_VARIANTS && !found; i++)
            if (strlen(zoo_variants[i].name) == n && !strncmp(s, zoo_variants[i].name, n)) {
                *flags |= zoo_variants[i].flag;
                found = 1;
            }
        if (!found && n)
            return err_set(err, errlen, "zoo: unknown --variant '%.*s' (tandem zoo --list-variants shows them)",
                           (int)n, s);
        s += n;
        if (*s == ',') s++;
    }
    return 0;
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
                rc = err_set(err, errlen, "--weights: '%s' has no BatchNormalization matching '%s' at weight-bearing node %d",
                               path, w->name, s);
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
            rc = err_set(err, errlen, "--weights: '%s': Gemm '%s' uses transA, alpha or beta, which the zoo's Linear layers do "
                           "not", path, n->name);
            break;
        }
        zb_init wt = *w;
        if (transpose) {
            wt.dims[0] = w->dims[1];
            wt.dims[1] = w->dims[0];
        }
        if (!n || strcmp(n->op_type, op) || !n->has_in[1] || !same_shape(&wt, &n->in[1])) {
            if (n && n->has_in[1]) shape_str(got, sizeof got, n->in[1].rank, n->in[1].dims);
            rc = err_set(err, errlen, "--weights: '%s' does not have this architecture: weight-bearing node %d should be %s with "
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
        rc = err_set(err, errlen, "--weights: '%s' has %d weight-bearing nodes, this architecture %d", path, src.n_node, s);
    if (rc == 0)
        snprintf(note, notelen, "%d weight-bearing nodes matched in order (%d BatchNorms folded in the source became "
                 "identities)", s, folded);
    tdm_onnx_weights_free(&src);
    return rc;
}

/* ---- writing --------------------------------------------------------------------------------------------------- */

int zoo_write(const char *name, const zoo_options *opts, const char *path, zoo_result *res, char *err,
              size_t errlen) {
    zoo_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    const zoo_arch *a;
    const zoo_big *g;
    int classes;
    if (!zoo_lookup(name, &a, &classes, &g))
        return err_set(err, errlen, "'%s' is not in the zoo (tandem zoo --list shows the names)", name);
    int opset = opts && opts->opset ? opts->opset : ZOO_OPSET;
    if (opset < 13 || opset > 17) return err_set(err, errlen, "zoo: --opset %d: 13 to 17 are written", opset);
    unsigned variant = 0;
    if (opts && parse_variant(opts->variant, &variant, err, errlen) != 0) return -1;
    if (opts && opts->weights && !a)
        return err_set(err, errlen, "zoo: --weights copies trained weights into the CIFAR architectures only, not '%s'", name);
    if (opts && opts->weights && (variant & ZV_BN_MUL_ADD))
        return err_set(err, errlen, "zoo: --variant bn-mul-add computes its scales and shifts from the seeded BatchNorms, so it "
                         "does not combine with --weights");
    zb b = {0};
    b.seed = opts ? opts->seed : 0;
    b.opset = opset;
    b.variant = variant;
    b.w = tdm_onnx_writer_new(name);
    if (!b.w) return err_set(err, errlen, "out of memory");
    zoo_build(&b, a, classes, g);
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
        if (!b.init[i].unused)
            tdm_onnx_writer_initializer(b.w, b.init[i].name, b.init[i].dtype, b.init[i].rank, b.init[i].dims,
                                        b.init[i].data);
    /* IR version 7 goes with opsets up to 13, 8 with 14 to 17 (onnx's versioning table) */
    tdm_status st = tdm_onnx_writer_save(b.w, path, opset <= 13 ? 7 : 8, opset, "tandem", TDM_VERSION);
    res->params = b.params;
    zb_free(&b);
    if (st != TDM_OK) {
        const char *msg = tdm_last_error();
        return err_set(err, errlen, "zoo: %s", msg && *msg ? msg : tdm_status_name(st));
    }
    return 0;
}
