/* zoo.h - the model zoo of the study: the CIFAR families of the pytorch-cifar-models zoo (ResNet-20/32/44/56,
 * MobileNetV2 x0.5-x1.4, ShuffleNetV2 x0.5-x2.0, VGG-11/13/16/19 with BatchNorm) built layer by layer and written
 * as ONNX with the engine's writer, with seeded weights or with weights copied from a trained ONNX model. */
#ifndef TANDEM_ZOO_H
#define TANDEM_ZOO_H

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
    int verbose;              /* print what --weights matched, on stderr                                         */
} zoo_options;

/* Build model `name` and write it to path as ONNX (input "input" float32 [N,3,32,32], output "logits" [N,classes]).
 * Returns CLI_OK, or CLI_ERR after printing a "tandem: ..." message. *params_out (may be NULL) receives
 * zoo_model_params(name). */
int zoo_write(const char *name, const zoo_options *opts, const char *path, int64_t *params_out);

#endif /* TANDEM_ZOO_H */
