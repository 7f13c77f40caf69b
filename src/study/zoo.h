/* zoo.h - the model zoo: reference architectures built layer by layer and written as ONNX with the engine's writer,
 * with seeded weights (or, for the CIFAR families, weights copied from a trained ONNX model):
 *   - the CIFAR families of pytorch-cifar-models (ResNet-20/32/44/56, MobileNetV2 x0.5-x1.4, ShuffleNetV2
 *     x0.5-x2.0, VGG-11/13/16/19 with BatchNorm), for 10 and 100 classes, input [N,3,32,32];
 *   - torchvision's ImageNet classifiers ("imagenet_resnet50", ...), input [N,3,224,224] (Inception-v3 299x299);
 *   - transformers: BERT encoders ("bert_tiny" ... "bert_base", INT64 token inputs [N,128]), ViT-Ti/16 and a
 *     GPT-2-style decoder ("gpt2_tiny").
 * Each is written the way torch.onnx writes it (opset 13, or 17 on request), or as another exporter would
 * (zoo_options.variant). Library code: it prints nothing and returns its errors. */
#ifndef TANDEM_ZOO_H
#define TANDEM_ZOO_H

#include <stddef.h>
#include <stdint.h>

#include "tandem.h"

/* Models are named like pytorch-cifar-models' entry points ("cifar100_resnet20", "cifar10_mobilenetv2_x0_5"),
 * "imagenet_" + torchvision's builder name, or as listed. */
int zoo_num_models(void);
const char *zoo_model_name(int index);
/* The number of classes of a classifier in the zoo; 0 when the name is not in the zoo or is not a classifier (BERT,
 * GPT-2). */
int zoo_model_classes(const char *name);

/* One graph input of a zoo model. */
typedef struct zoo_input {
    const char *name;
    tdm_dtype dtype;
    int rank;
    int64_t dims[4];   /* dims[0] = -1: the batch                                                             */
    int64_t lo, hi;    /* integer inputs: the meaningful values are in [lo, hi) (token ids, token types, 0/1)  */
} zoo_input;

typedef struct zoo_info {
    const char *name;
    const char *family;  /* "cifar", "imagenet" or "transformer"                                           */
    int classes;         /* as zoo_model_classes                                                           */
    int n_inputs;
    zoo_input inputs[3];
    const char *config;  /* a short description ("L4 H256 A4, seq 128, vocab 30522")                       */
} zoo_info;
/* Fill *out for `name`; returns 0 when the name is not in the zoo. */
int zoo_model_info(const char *name, zoo_info *out);

/* Learnable parameters in PyTorch's convention (convolution and linear weights and biases, BatchNorm and LayerNorm
 * scale and shift, embeddings; not the BatchNorm running statistics; a tied weight once), without generating any
 * weights. Returns -1 for an unknown name. */
int64_t zoo_model_params(const char *name);

typedef struct zoo_options {
    uint64_t seed;            /* seed of the generated weights                                                   */
    const char *weights;      /* NULL, or an ONNX model of the same architecture whose weights replace the seeded
                               * ones (by name and shape; else by the order of the weight-bearing nodes)          */
    const char *variant;      /* NULL or "": as torch.onnx writes it; else a comma-separated list of
                               * zoo_variant_names() ("shape-chain,pad"), or "all"                                */
    int opset;                /* 0 (13) or 13..17: 14 on writes HardSwish, 17 on LayerNormalization              */
} zoo_options;

/* The variant names and what each means, one "name: description" line each, NULL-terminated. */
const char *const *zoo_variant_names(void);

/* What zoo_write did, for the caller to report. */
typedef struct zoo_result {
    int64_t params;           /* zoo_model_params(name)                                                          */
    char weights_note[160];   /* with weights: how they matched ("24 tensors matched by name"), else ""          */
} zoo_result;

/* Build model `name` and write it to path as ONNX. Prints nothing. Returns 0 (res, which may be NULL, filled), or
 * -1 with the reason in err. */
int zoo_write(const char *name, const zoo_options *opts, const char *path, zoo_result *res, char *err, size_t errlen);

#endif /* TANDEM_ZOO_H */
