/* zoo.h - the model zoo of the study: the CIFAR families of the pytorch-cifar-models zoo (ResNet-20/32/44/56,
 * MobileNetV2 x0.5-x1.4, ShuffleNetV2 x0.5-x2.0, VGG-11/13/16/19 with BatchNorm) built layer by layer and written
 * as ONNX with the engine's writer (include/tandem_onnx_write.h), with seeded weights or with weights copied from a
 * trained ONNX model. Library code: it prints nothing and returns its errors. */
#ifndef TANDEM_ZOO_H
#define TANDEM_ZOO_H

#include <stddef.h>
#include <stdint.h>

/* Models are named like pytorch-cifar-models' entry points: "cifar100_resnet20", "cifar10_mobilenetv2_x0_5". */
int zoo_num_models(void);
const char *zoo_model_name(int index);
/* The number of classes (10 or 100) of a zoo name, or 0 when the name is not in the zoo. */
int zoo_model_classes(const char *name);

/* Learnable parameters in PyTorch's convention (convolution and linear weights and biases, BatchNorm scale and shift;
 * not the BatchNorm running statistics), without generating any weights. Returns -1 for an unknown name. */
int64_t zoo_model_params(const char *name);

typedef struct zoo_options {
    uint64_t seed;            /* seed of the generated weights                                                   */
    const char *weights;      /* NULL, or an ONNX model of the same architecture whose weights replace the seeded
                               * ones (by name and shape; else by the order of the weight-bearing nodes)          */
} zoo_options;

/* What zoo_write did, for the caller to report. */
typedef struct zoo_result {
    int64_t params;           /* zoo_model_params(name)                                                          */
    char weights_note[160];   /* with weights: how they matched ("24 tensors matched by name"), else ""          */
} zoo_result;

/* Build model `name` and write it to path as ONNX (input "input" float32 [N,3,32,32], output "logits" [N,classes]).
 * Prints nothing. Returns 0 (res, which may be NULL, filled), or -1 with the reason in err. */
int zoo_write(const char *name, const zoo_options *opts, const char *path, zoo_result *res, char *err, size_t errlen);

#endif /* TANDEM_ZOO_H */
