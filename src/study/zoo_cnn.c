/* zoo_cnn.c - the convolutional families of the zoo, built with zoo_build.h:
 *   - pytorch-cifar-models (chenyaofo), which adapts torchvision's models to 32x32 inputs: CIFAR ResNet (3x3 stem of
 *     16 channels, three stages of basic blocks with 16/32/64 channels, a 1x1 convolution + BatchNorm shortcut where
 *     the shape changes), MobileNetV2 (stem and second stage at stride 1), ShuffleNetV2 (stride-1 stem, no max pool)
 *     and VGG with BatchNorm (a 512-512 classifier);
 *   - torchvision's ImageNet classifiers as torchvision defines them: ResNet-18/50, MobileNetV2, MobileNetV3
 *     Small/Large, EfficientNet-B0, ShuffleNetV2 x1.0, SqueezeNet 1.1, Inception-v3 and VGG-16.
 * Parameter names are PyTorch's state_dict keys ("layer1.0.conv1.weight", "features.3.1.running_var"), so weights
 * from a torch export that keeps BatchNorm can be matched by name. Dropout and stochastic depth (identities at
 * inference) are left out, as torch.onnx leaves them out in eval mode. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zoo_build.h"

/* ---- pytorch-cifar-models -------------------------------------------------------------------------------------- */

static zv cifar_resnet(zb *b, const zv *in, int blocks) {
    zv x = zb_cba(b, in, "conv1", "bn1", 16, 3, 1, 1, ACT_RELU);
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
            zv y = zb_cba(b, &x, c1, b1, planes[s], 3, stride, 1, ACT_RELU);
            y = zb_cba(b, &y, c2, b2, planes[s], 3, 1, 1, ACT_NONE);
            zv id = x;
            if (stride != 1 || x.c != planes[s]) {
                snprintf(dc, sizeof dc, "%s.downsample.0", p);
                snprintf(db, sizeof db, "%s.downsample.1", p);
                id = zb_cba(b, &x, dc, db, planes[s], 1, stride, 1, ACT_NONE);
            }
            snprintf(an, sizeof an, "%s.add", p);
            snprintf(rn, sizeof rn, "%s.relu", p);
            zv sum = zb_add(b, &y, &id, an);
            x = zb_act(b, &sum, rn, ACT_RELU);
        }
    return zb_pool_flatten(b, &x, "flatten");
}


/* torchvision's MobileNetV2; for 32x32 inputs (pytorch-cifar-models) the stem and the second stage run at stride 1
 * instead of 2. */
static zv mobilenetv2_features(zb *b, const zv *in, double width, int imagenet) {
    const int setting[7][4] = { /* t, c, n, s */
        {1, 16, 1, 1}, {6, 24, 2, imagenet ? 2 : 1}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
        {6, 320, 1, 1}};
    int cin = zb_make_divisible(32 * width), last = zb_make_divisible(1280 * (width > 1.0 ? width : 1.0));
    zv x = zb_cba(b, in, "features.0.0", "features.0.1", cin, 3, imagenet ? 2 : 1, 1, ACT_RELU6);
    int f = 1;
    for (int r = 0; r < 7; r++) {
        int t = setting[r][0], cout = zb_make_divisible(setting[r][1] * width);
        for (int i = 0; i < setting[r][2]; i++, f++) {
            int stride = i == 0 ? setting[r][3] : 1, hidden = (int)lround(x.c * (double)t);
            char p[64], cn[96], bn[96];
            snprintf(p, sizeof p, "features.%d.conv", f);
            zv y = x;
            int j = 0;
            if (t != 1) {
                snprintf(cn, sizeof cn, "%s.%d.0", p, j);
                snprintf(bn, sizeof bn, "%s.%d.1", p, j);
                y = zb_cba(b, &y, cn, bn, hidden, 1, 1, 1, ACT_RELU6);
                j++;
            }
            snprintf(cn, sizeof cn, "%s.%d.0", p, j);
            snprintf(bn, sizeof bn, "%s.%d.1", p, j);
            y = zb_cba(b, &y, cn, bn, hidden, 3, stride, hidden, ACT_RELU6);
            j++;
            snprintf(cn, sizeof cn, "%s.%d", p, j);
            snprintf(bn, sizeof bn, "%s.%d", p, j + 1);
            y = zb_cba(b, &y, cn, bn, cout, 1, 1, 1, ACT_NONE);
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
    x = zb_cba(b, &x, cn, bn, last, 1, 1, 1, ACT_RELU6);
    return zb_pool_flatten(b, &x, "flatten");
}


/* torchvision's ShuffleNetV2; for 32x32 inputs the stem runs at stride 1 without the max pool, and the mean over H
 * and W is GlobalAveragePool + Flatten instead of ReduceMean. */
static zv shufflenetv2_features(zb *b, const zv *in, const int *ch, int imagenet) {
    zv x = zb_cba(b, in, "conv1.0", "conv1.1", ch[0], 3, imagenet ? 2 : 1, 1, ACT_RELU);
    if (imagenet) x = zb_maxpool(b, &x, "maxpool", 3, 2, 1, 0);
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
                left = zb_cba(b, &x, n1, n2, x.c, 3, 2, x.c, ACT_NONE);
                snprintf(n1, sizeof n1, "%s.branch1.2", p);
                snprintf(n2, sizeof n2, "%s.branch1.3", p);
                left = zb_cba(b, &left, n1, n2, bf, 1, 1, 1, ACT_RELU);
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
            zv y = zb_cba(b, &right, n1, n2, bf, 1, 1, 1, ACT_RELU);
            snprintf(n3, sizeof n3, "%s.branch2.3", p);
            snprintf(n4, sizeof n4, "%s.branch2.4", p);
            y = zb_cba(b, &y, n3, n4, bf, 3, i == 0 ? 2 : 1, bf, ACT_NONE);
            snprintf(n3, sizeof n3, "%s.branch2.5", p);
            snprintf(n4, sizeof n4, "%s.branch2.6", p);
            y = zb_cba(b, &y, n3, n4, bf, 1, 1, 1, ACT_RELU);
            snprintf(n1, sizeof n1, "%s.concat", p);
            const zv *parts[2] = {&left, &y};
            zv cat = zb_concat(b, parts, 2, n1);
            x = zb_shuffle(b, &cat, p);
        }
    x = zb_cba(b, &x, "conv5.0", "conv5.1", ch[4], 1, 1, 1, ACT_RELU);
    return imagenet ? zb_mean_hw(b, &x, "mean") : zb_pool_flatten(b, &x, "flatten");
}

/* VGG's features: torchvision's configurations A, B, D, E (channels per 3x3 convolution, 0 for a 2x2 max pool),
 * each convolution with a bias and followed by BatchNorm (bn) and ReLU. Names follow torch's nn.Sequential indices. */
static zv vgg_features(zb *b, const zv *in, int depth, int bn) {
    static const int cfg11[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
    static const int cfg13[] = {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
    static const int cfg16[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0, -1};
    static const int cfg19[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0,
                                512, 512, 512, 512, 0, -1};
    const int *cfg = depth == 11 ? cfg11 : depth == 13 ? cfg13 : depth == 16 ? cfg16 : cfg19;
    zv x = *in;
    int idx = 0; /* the index in torch's nn.Sequential: conv, (bn), relu take 3 (2), a pool 1 */
    for (int i = 0; cfg[i] >= 0; i++) {
        char cn[64];
        if (cfg[i] == 0) {
            snprintf(cn, sizeof cn, "features.%d", idx++);
            x = zb_maxpool(b, &x, cn, 2, 2, 0, 0);
            continue;
        }
        snprintf(cn, sizeof cn, "features.%d", idx++);
        x = zb_conv(b, &x, cn, cfg[i], 3, 1, 1, 1);
        if (bn) {
            snprintf(cn, sizeof cn, "features.%d", idx++);
            x = zb_bn(b, &x, cn);
        }
        snprintf(cn, sizeof cn, "features.%d", idx++);
        x = zb_act(b, &x, cn, ACT_RELU);
    }
    return x;
}

/* pytorch-cifar-models' VGG with BatchNorm: the features end at 1x1, then a 512-512 classifier. */
static zv cifar_vgg_bn(zb *b, const zv *in, int depth) {
    zv x = vgg_features(b, in, depth, 1);
    x = zb_flatten(b, &x, "flatten");
    x = zb_gemm(b, &x, "classifier.0", 512, 2.0, "classifier.0");
    x = zb_act(b, &x, "classifier.1", ACT_RELU);
    x = zb_gemm(b, &x, "classifier.3", 512, 2.0, "classifier.3");
    return zb_act(b, &x, "classifier.4", ACT_RELU);
}

/* ---- torchvision's ImageNet classifiers ------------------------------------------------------------------------ */

/* torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]) and ResNet-50 (Bottleneck, [3, 4, 6, 3], the stride on the 3x3
 * convolution: "ResNet V1.5"): 7x7 stride-2 stem, 3x3 stride-2 max pool with padding, a 1x1 convolution + BatchNorm
 * shortcut where the shape changes, global average pool, Flatten, fc. */
static zv imagenet_resnet(zb *b, const zv *in, int bottleneck, int classes, const char *out) {
    static const int blocks18[4] = {2, 2, 2, 2}, blocks50[4] = {3, 4, 6, 3};
    const int *blocks = bottleneck ? blocks50 : blocks18, expansion = bottleneck ? 4 : 1;
    zv x = zb_conv(b, in, "conv1", 64, 7, 2, 1, 0);
    x = zb_bn(b, &x, "bn1");
    x = zb_act(b, &x, "relu", ACT_RELU);
    x = zb_maxpool(b, &x, "maxpool", 3, 2, 1, 0);
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < blocks[s]; i++) {
            int planes = 64 << s, stride = s > 0 && i == 0 ? 2 : 1, k;
            char p[32], cn[64], bn[64];
            snprintf(p, sizeof p, "layer%d.%d", s + 1, i);
            zv y = x;
            int convs = bottleneck ? 3 : 2;
            for (k = 1; k <= convs; k++) {
                int last = k == convs, ks = bottleneck && k != 2 ? 1 : 3;
                int st = (bottleneck ? k == 2 : k == 1) ? stride : 1;
                snprintf(cn, sizeof cn, "%s.conv%d", p, k);
                snprintf(bn, sizeof bn, "%s.bn%d", p, k);
                y = zb_cba(b, &y, cn, bn, last ? planes * expansion : planes, ks, st, 1, last ? ACT_NONE : ACT_RELU);
            }
            zv id = x;
            if (stride != 1 || x.c != planes * expansion) {
                snprintf(cn, sizeof cn, "%s.downsample.0", p);
                snprintf(bn, sizeof bn, "%s.downsample.1", p);
                id = zb_cba(b, &x, cn, bn, planes * expansion, 1, stride, 1, ACT_NONE);
            }
            snprintf(cn, sizeof cn, "%s.add", p);
            snprintf(bn, sizeof bn, "%s.relu", p);
            zv sum = zb_add(b, &y, &id, cn);
            x = zb_act(b, &sum, bn, ACT_RELU);
        }
    x = zb_pool_flatten(b, &x, "flatten");
    return zb_gemm(b, &x, "fc", classes, 1.0, out);
}

/* torchvision's SqueezeExcitation on x: global average pool, 1x1 convolution (fc1) with a bias, act, 1x1
 * convolution (fc2) back to x's channels, the gate (Sigmoid or HardSigmoid), then x times the gate. */
static zv squeeze_excite(zb *b, const zv *x, const char *prefix, int squeeze, int act, int gate) {
    char n[ZB_NAME + 16];
    snprintf(n, sizeof n, "%s.avgpool", prefix);
    zv s = zb_gap(b, x, n);
    snprintf(n, sizeof n, "%s.fc1", prefix);
    s = zb_conv(b, &s, n, squeeze, 1, 1, 1, 1);
    snprintf(n, sizeof n, "%s.fc1.act", prefix);
    s = zb_act(b, &s, n, act);
    snprintf(n, sizeof n, "%s.fc2", prefix);
    s = zb_conv(b, &s, n, x->c, 1, 1, 1, 1);
    snprintf(n, sizeof n, "%s.scale", prefix);
    s = zb_act(b, &s, n, gate);
    snprintf(n, sizeof n, "%s.mul", prefix);
    return zb_mul(b, x, &s, n);
}

/* An inverted residual block of MobileNetV3 or EfficientNet (torchvision's InvertedResidual and MBConv) as
 * features.<f>.block (MobileNetV3) or features.<f>.<i>.block (EfficientNet): an expanding 1x1 convolution when
 * `expanded` differs from the input, the k x k depthwise convolution, squeeze-and-excitation when `squeeze` > 0, a
 * linear 1x1 projection, and the residual add when the shapes allow. Stochastic depth is an identity at
 * inference. */
static zv inverted_residual(zb *b, const zv *x, const char *prefix, int k, int expanded, int cout, int stride,
                            int squeeze, int act, int se_act, int gate) {
    char cn[ZB_NAME + 16], bn[ZB_NAME + 16];
    zv y = *x;
    int j = 0;
    if (expanded != x->c) {
        snprintf(cn, sizeof cn, "%s.%d.0", prefix, j);
        snprintf(bn, sizeof bn, "%s.%d.1", prefix, j++);
        y = zb_cba(b, &y, cn, bn, expanded, 1, 1, 1, act);
    }
    snprintf(cn, sizeof cn, "%s.%d.0", prefix, j);
    snprintf(bn, sizeof bn, "%s.%d.1", prefix, j++);
    y = zb_cba(b, &y, cn, bn, expanded, k, stride, expanded, act);
    if (squeeze > 0) {
        snprintf(cn, sizeof cn, "%s.%d", prefix, j++);
        y = squeeze_excite(b, &y, cn, squeeze, se_act, gate);
    }
    snprintf(cn, sizeof cn, "%s.%d.0", prefix, j);
    snprintf(bn, sizeof bn, "%s.%d.1", prefix, j);
    y = zb_cba(b, &y, cn, bn, cout, 1, 1, 1, ACT_NONE);
    if (stride == 1 && x->c == cout) {
        snprintf(cn, sizeof cn, "%s.add", prefix);
        y = zb_add(b, x, &y, cn);
    }
    return y;
}

/* torchvision's MobileNetV3-Small and -Large (width 1.0): Hardswish stem, the bneck table, a 1x1 convolution to
 * 6x the last block's channels, global average pool, Flatten, Linear + Hardswish, Linear. BatchNorm eps 0.001;
 * squeeze-and-excitation with ReLU and HardSigmoid, squeezing to make_divisible(expanded / 4). */
static zv imagenet_mobilenetv3(zb *b, const zv *in, int large, int classes, const char *out) {
    /* input, kernel, expanded, output, SE, Hardswish (else ReLU), stride */
    static const int small_cfg[11][7] = {
        {16, 3, 16, 16, 1, 0, 2},   {16, 3, 72, 24, 0, 0, 2},   {24, 3, 88, 24, 0, 0, 1},   {24, 5, 96, 40, 1, 1, 2},
        {40, 5, 240, 40, 1, 1, 1},  {40, 5, 240, 40, 1, 1, 1},  {40, 5, 120, 48, 1, 1, 1},  {48, 5, 144, 48, 1, 1, 1},
        {48, 5, 288, 96, 1, 1, 2},  {96, 5, 576, 96, 1, 1, 1},  {96, 5, 576, 96, 1, 1, 1}};
    static const int large_cfg[15][7] = {
        {16, 3, 16, 16, 0, 0, 1},    {16, 3, 64, 24, 0, 0, 2},    {24, 3, 72, 24, 0, 0, 1},
        {24, 5, 72, 40, 1, 0, 2},    {40, 5, 120, 40, 1, 0, 1},   {40, 5, 120, 40, 1, 0, 1},
        {40, 3, 240, 80, 0, 1, 2},   {80, 3, 200, 80, 0, 1, 1},   {80, 3, 184, 80, 0, 1, 1},
        {80, 3, 184, 80, 0, 1, 1},   {80, 3, 480, 112, 1, 1, 1},  {112, 3, 672, 112, 1, 1, 1},
        {112, 5, 672, 160, 1, 1, 2}, {160, 5, 960, 160, 1, 1, 1}, {160, 5, 960, 160, 1, 1, 1}};
    const int(*cfg)[7] = large ? large_cfg : small_cfg;
    int n = large ? 15 : 11, last_channel = large ? 1280 : 1024;
    zv x = zb_cba(b, in, "features.0.0", "features.0.1", 16, 3, 2, 1, ACT_HSWISH);
    char p[64], cn[64], bn[64];
    for (int i = 0; i < n; i++) {
        const int *c = cfg[i];
        snprintf(p, sizeof p, "features.%d.block", i + 1);
        x = inverted_residual(b, &x, p, c[1], c[2], c[3], c[6], c[4] ? zb_make_divisible(c[2] / 4) : 0,
                              c[5] ? ACT_HSWISH : ACT_RELU, ACT_RELU, ACT_HSIGMOID);
    }
    snprintf(cn, sizeof cn, "features.%d.0", n + 1);
    snprintf(bn, sizeof bn, "features.%d.1", n + 1);
    x = zb_cba(b, &x, cn, bn, 6 * x.c, 1, 1, 1, ACT_HSWISH);
    x = zb_pool_flatten(b, &x, "flatten");
    x = zb_gemm(b, &x, "classifier.0", last_channel, 2.0, "classifier.0");
    x = zb_act(b, &x, "classifier.1", ACT_HSWISH);
    return zb_gemm(b, &x, "classifier.3", classes, 1.0, out);
}

/* torchvision's EfficientNet-B0: SiLU stem of 32 channels at stride 2, seven stages of MBConv blocks (expand ratio,
 * kernel, stride, output channels, repeats), squeeze-and-excitation with SiLU and Sigmoid squeezing to a quarter of
 * the block's input channels, a 1x1 convolution to 1280, global average pool, Flatten, Linear. */
static zv imagenet_efficientnet_b0(zb *b, const zv *in, int classes, const char *out) {
    static const int cfg[7][5] = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                                  {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
    zv x = zb_cba(b, in, "features.0.0", "features.0.1", 32, 3, 2, 1, ACT_SILU);
    char p[64];
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < cfg[s][4]; i++) {
            snprintf(p, sizeof p, "features.%d.%d.block", s + 1, i);
            int expanded = zb_make_divisible((double)x.c * cfg[s][0]);
            x = inverted_residual(b, &x, p, cfg[s][1], expanded, cfg[s][3], i == 0 ? cfg[s][2] : 1,
                                  x.c / 4 > 1 ? x.c / 4 : 1, ACT_SILU, ACT_SILU, ACT_SIGMOID);
        }
    x = zb_cba(b, &x, "features.8.0", "features.8.1", 1280, 1, 1, 1, ACT_SILU);
    x = zb_pool_flatten(b, &x, "flatten");
    return zb_gemm(b, &x, "classifier.1", classes, 1.0, out);
}

/* SqueezeNet's Fire module: a 1x1 squeeze convolution and ReLU, then 1x1 and 3x3 expand convolutions with ReLU,
 * concatenated. Every convolution has a bias (no BatchNorm in SqueezeNet). */
static zv fire(zb *b, const zv *x, int idx, int squeeze, int e1, int e3) {
    char n[64], a[64];
    snprintf(n, sizeof n, "features.%d.squeeze", idx);
    snprintf(a, sizeof a, "features.%d.squeeze_activation", idx);
    zv s = zb_conv(b, x, n, squeeze, 1, 1, 1, 1);
    s = zb_act(b, &s, a, ACT_RELU);
    snprintf(n, sizeof n, "features.%d.expand1x1", idx);
    snprintf(a, sizeof a, "features.%d.expand1x1_activation", idx);
    zv y1 = zb_conv(b, &s, n, e1, 1, 1, 1, 1);
    y1 = zb_act(b, &y1, a, ACT_RELU);
    snprintf(n, sizeof n, "features.%d.expand3x3", idx);
    snprintf(a, sizeof a, "features.%d.expand3x3_activation", idx);
    zv y3 = zb_conv(b, &s, n, e3, 3, 1, 1, 1);
    y3 = zb_act(b, &y3, a, ACT_RELU);
    snprintf(n, sizeof n, "features.%d.cat", idx);
    const zv *parts[2] = {&y1, &y3};
    return zb_concat(b, parts, 2, n);
}

/* torchvision's SqueezeNet 1.1: 3x3 stride-2 stem of 64 without padding, ceil-mode 3x3 stride-2 max pools, eight
 * Fire modules, and a classifier that is a 1x1 convolution to the classes, ReLU, global average pool, Flatten. */
static zv imagenet_squeezenet1_1(zb *b, const zv *in, int classes, const char *out) {
    static const int fires[8][4] = {{3, 16, 64, 64},   {4, 16, 64, 64},   {6, 32, 128, 128}, {7, 32, 128, 128},
                                    {9, 48, 192, 192}, {10, 48, 192, 192}, {11, 64, 256, 256}, {12, 64, 256, 256}};
    zv x = zb_conv_ex(b, in, "features.0", 64, 3, 3, 2, 0, 0, 1, 1);
    x = zb_act(b, &x, "features.1", ACT_RELU);
    x = zb_maxpool(b, &x, "features.2", 3, 2, 0, 1);
    for (int i = 0; i < 8; i++) {
        x = fire(b, &x, fires[i][0], fires[i][1], fires[i][2], fires[i][3]);
        if (fires[i][0] == 4 || fires[i][0] == 7) {
            char n[32];
            snprintf(n, sizeof n, "features.%d", fires[i][0] + 1);
            x = zb_maxpool(b, &x, n, 3, 2, 0, 1);
        }
    }
    x = zb_conv(b, &x, "classifier.1", classes, 1, 1, 1, 1);
    x = zb_act(b, &x, "classifier.2", ACT_RELU);
    x = zb_gap(b, &x, "classifier.3");
    return zb_flatten(b, &x, out);
}

/* Inception's BasicConv2d: convolution without bias (kh x kw, padding ph/pw), BatchNorm (eps 0.001), ReLU; named
 * `<prefix>.conv` and `<prefix>.bn`. */
static zv inc_conv(zb *b, const zv *x, const char *prefix, const char *name, int cout, int kh, int kw, int stride,
                   int ph, int pw) {
    char cn[ZB_NAME], bn[ZB_NAME], an[ZB_NAME];
    snprintf(cn, sizeof cn, "%s%s%s.conv", prefix, *prefix ? "." : "", name);
    snprintf(bn, sizeof bn, "%s%s%s.bn", prefix, *prefix ? "." : "", name);
    snprintf(an, sizeof an, "%s%s%s.relu", prefix, *prefix ? "." : "", name);
    zv y = zb_conv_ex(b, x, cn, cout, kh, kw, stride, ph, pw, 1, 0);
    y = zb_bn(b, &y, bn);
    return zb_act(b, &y, an, ACT_RELU);
}

/* Inception-v3's branch_pool of the A, C and E modules: 3x3 average pool at stride 1 with padding 1 (torch's
 * count_include_pad: a Pad node, then AveragePool), then a 1x1 BasicConv2d. */
static zv inc_pool_branch(zb *b, const zv *x, const char *p, int cout) {
    char n[ZB_NAME];
    snprintf(n, sizeof n, "%s.avg_pool", p);
    zv y = zb_avgpool(b, x, n, 3, 1, 1);
    return inc_conv(b, &y, p, "branch_pool", cout, 1, 1, 1, 0, 0);
}

static zv inc_cat(zb *b, const char *p, const char *what, const zv *const *parts, int n) {
    char name[ZB_NAME];
    snprintf(name, sizeof name, "%s.%s", p, what);
    return zb_concat(b, parts, n, name);
}

static zv inception_a(zb *b, const zv *x, const char *p, int pool_features) {
    zv b1 = inc_conv(b, x, p, "branch1x1", 64, 1, 1, 1, 0, 0);
    zv b5 = inc_conv(b, x, p, "branch5x5_1", 48, 1, 1, 1, 0, 0);
    b5 = inc_conv(b, &b5, p, "branch5x5_2", 64, 5, 5, 1, 2, 2);
    zv b3 = inc_conv(b, x, p, "branch3x3dbl_1", 64, 1, 1, 1, 0, 0);
    b3 = inc_conv(b, &b3, p, "branch3x3dbl_2", 96, 3, 3, 1, 1, 1);
    b3 = inc_conv(b, &b3, p, "branch3x3dbl_3", 96, 3, 3, 1, 1, 1);
    zv bp = inc_pool_branch(b, x, p, pool_features);
    const zv *parts[4] = {&b1, &b5, &b3, &bp};
    return inc_cat(b, p, "cat", parts, 4);
}

static zv inception_b(zb *b, const zv *x, const char *p) {
    zv b3 = inc_conv(b, x, p, "branch3x3", 384, 3, 3, 2, 0, 0);
    zv bd = inc_conv(b, x, p, "branch3x3dbl_1", 64, 1, 1, 1, 0, 0);
    bd = inc_conv(b, &bd, p, "branch3x3dbl_2", 96, 3, 3, 1, 1, 1);
    bd = inc_conv(b, &bd, p, "branch3x3dbl_3", 96, 3, 3, 2, 0, 0);
    char n[ZB_NAME];
    snprintf(n, sizeof n, "%s.max_pool", p);
    zv bp = zb_maxpool(b, x, n, 3, 2, 0, 0);
    const zv *parts[3] = {&b3, &bd, &bp};
    return inc_cat(b, p, "cat", parts, 3);
}

static zv inception_c(zb *b, const zv *x, const char *p, int c7) {
    zv b1 = inc_conv(b, x, p, "branch1x1", 192, 1, 1, 1, 0, 0);
    zv b7 = inc_conv(b, x, p, "branch7x7_1", c7, 1, 1, 1, 0, 0);
    b7 = inc_conv(b, &b7, p, "branch7x7_2", c7, 1, 7, 1, 0, 3);
    b7 = inc_conv(b, &b7, p, "branch7x7_3", 192, 7, 1, 1, 3, 0);
    zv bd = inc_conv(b, x, p, "branch7x7dbl_1", c7, 1, 1, 1, 0, 0);
    bd = inc_conv(b, &bd, p, "branch7x7dbl_2", c7, 7, 1, 1, 3, 0);
    bd = inc_conv(b, &bd, p, "branch7x7dbl_3", c7, 1, 7, 1, 0, 3);
    bd = inc_conv(b, &bd, p, "branch7x7dbl_4", c7, 7, 1, 1, 3, 0);
    bd = inc_conv(b, &bd, p, "branch7x7dbl_5", 192, 1, 7, 1, 0, 3);
    zv bp = inc_pool_branch(b, x, p, 192);
    const zv *parts[4] = {&b1, &b7, &bd, &bp};
    return inc_cat(b, p, "cat", parts, 4);
}

static zv inception_d(zb *b, const zv *x, const char *p) {
    zv b3 = inc_conv(b, x, p, "branch3x3_1", 192, 1, 1, 1, 0, 0);
    b3 = inc_conv(b, &b3, p, "branch3x3_2", 320, 3, 3, 2, 0, 0);
    zv b7 = inc_conv(b, x, p, "branch7x7x3_1", 192, 1, 1, 1, 0, 0);
    b7 = inc_conv(b, &b7, p, "branch7x7x3_2", 192, 1, 7, 1, 0, 3);
    b7 = inc_conv(b, &b7, p, "branch7x7x3_3", 192, 7, 1, 1, 3, 0);
    b7 = inc_conv(b, &b7, p, "branch7x7x3_4", 192, 3, 3, 2, 0, 0);
    char n[ZB_NAME];
    snprintf(n, sizeof n, "%s.max_pool", p);
    zv bp = zb_maxpool(b, x, n, 3, 2, 0, 0);
    const zv *parts[3] = {&b3, &b7, &bp};
    return inc_cat(b, p, "cat", parts, 3);
}

static zv inception_e(zb *b, const zv *x, const char *p) {
    zv b1 = inc_conv(b, x, p, "branch1x1", 320, 1, 1, 1, 0, 0);
    zv b3 = inc_conv(b, x, p, "branch3x3_1", 384, 1, 1, 1, 0, 0);
    zv b3a = inc_conv(b, &b3, p, "branch3x3_2a", 384, 1, 3, 1, 0, 1);
    zv b3b = inc_conv(b, &b3, p, "branch3x3_2b", 384, 3, 1, 1, 1, 0);
    const zv *p3[2] = {&b3a, &b3b};
    b3 = inc_cat(b, p, "branch3x3.cat", p3, 2);
    zv bd = inc_conv(b, x, p, "branch3x3dbl_1", 448, 1, 1, 1, 0, 0);
    bd = inc_conv(b, &bd, p, "branch3x3dbl_2", 384, 3, 3, 1, 1, 1);
    zv bda = inc_conv(b, &bd, p, "branch3x3dbl_3a", 384, 1, 3, 1, 0, 1);
    zv bdb = inc_conv(b, &bd, p, "branch3x3dbl_3b", 384, 3, 1, 1, 1, 0);
    const zv *pd[2] = {&bda, &bdb};
    bd = inc_cat(b, p, "branch3x3dbl.cat", pd, 2);
    zv bp = inc_pool_branch(b, x, p, 192);
    const zv *parts[4] = {&b1, &b3, &bd, &bp};
    return inc_cat(b, p, "cat", parts, 4);
}

/* torchvision's Inception-v3 (299x299, transform_input off as for seeded weights) as torch.onnx exports it in
 * eval mode: the auxiliary classifier (AuxLogits) only runs in training, so it is not in the graph, and its
 * 3,326,696 parameters are not counted (torchvision's documented 27,161,264 includes them). */
static zv imagenet_inception_v3(zb *b, const zv *in, int classes, const char *out) {
    zv x = inc_conv(b, in, "", "Conv2d_1a_3x3", 32, 3, 3, 2, 0, 0);
    x = inc_conv(b, &x, "", "Conv2d_2a_3x3", 32, 3, 3, 1, 0, 0);
    x = inc_conv(b, &x, "", "Conv2d_2b_3x3", 64, 3, 3, 1, 1, 1);
    x = zb_maxpool(b, &x, "maxpool1", 3, 2, 0, 0);
    x = inc_conv(b, &x, "", "Conv2d_3b_1x1", 80, 1, 1, 1, 0, 0);
    x = inc_conv(b, &x, "", "Conv2d_4a_3x3", 192, 3, 3, 1, 0, 0);
    x = zb_maxpool(b, &x, "maxpool2", 3, 2, 0, 0);
    x = inception_a(b, &x, "Mixed_5b", 32);
    x = inception_a(b, &x, "Mixed_5c", 64);
    x = inception_a(b, &x, "Mixed_5d", 64);
    x = inception_b(b, &x, "Mixed_6a");
    x = inception_c(b, &x, "Mixed_6b", 128);
    x = inception_c(b, &x, "Mixed_6c", 160);
    x = inception_c(b, &x, "Mixed_6d", 160);
    x = inception_c(b, &x, "Mixed_6e", 192);
    x = inception_d(b, &x, "Mixed_7a");
    x = inception_e(b, &x, "Mixed_7b");
    x = inception_e(b, &x, "Mixed_7c");
    x = zb_pool_flatten(b, &x, "flatten");
    return zb_gemm(b, &x, "fc", classes, 1.0, out);
}

/* torchvision's VGG-16 without BatchNorm: configuration D with biased convolutions and ReLU, the adaptive average
 * pool to 7x7 (torch.onnx writes it as AveragePool with kernel and stride 1 when the map is 7x7 already), Flatten,
 * then 25088-4096-4096-classes with ReLU. */
static zv imagenet_vgg16(zb *b, const zv *in, int classes, const char *out) {
    zv x = vgg_features(b, in, 16, 0);
    int64_t one[2] = {1, 1};
    tdm_onnx_attr at[2] = {{"kernel_shape", TDM_ONNX_ATTR_INTS, 0, 0, 2, one},
                           {"strides", TDM_ONNX_ATTR_INTS, 0, 0, 2, one}};
    const char *pin[1] = {x.name};
    zb_node(b, "AveragePool", "avgpool", 1, pin, "avgpool", 2, at);
    snprintf(x.name, sizeof x.name, "avgpool");
    x = zb_flatten(b, &x, "flatten");
    x = zb_gemm(b, &x, "classifier.0", 4096, 2.0, "classifier.0");
    x = zb_act(b, &x, "classifier.1", ACT_RELU);
    x = zb_gemm(b, &x, "classifier.3", 4096, 2.0, "classifier.3");
    x = zb_act(b, &x, "classifier.4", ACT_RELU);
    return zb_gemm(b, &x, "classifier.6", classes, 1.0, out);
}

/* ---- dispatch -------------------------------------------------------------------------------------------------- */

zv zoo_cnn_build(zb *b, const zoo_cnn *a, const zv *in, int classes, const char *out) {
    zv x;
    const char *fc = "fc";
    switch (a->family) {
    case CNN_CIFAR_RESNET: x = cifar_resnet(b, in, a->depth); break;
    case CNN_CIFAR_MOBILENETV2:
        x = mobilenetv2_features(b, in, a->width, 0);
        fc = "classifier.1";
        break;
    case CNN_CIFAR_SHUFFLENETV2: x = shufflenetv2_features(b, in, a->stage_ch, 0); break;
    case CNN_CIFAR_VGG_BN:
        x = cifar_vgg_bn(b, in, a->depth);
        fc = "classifier.6";
        break;
    case CNN_RESNET18: return imagenet_resnet(b, in, 0, classes, out);
    case CNN_RESNET50: return imagenet_resnet(b, in, 1, classes, out);
    case CNN_MOBILENET_V2:
        x = mobilenetv2_features(b, in, 1.0, 1);
        fc = "classifier.1";
        break;
    case CNN_MOBILENET_V3_SMALL: return imagenet_mobilenetv3(b, in, 0, classes, out);
    case CNN_MOBILENET_V3_LARGE: return imagenet_mobilenetv3(b, in, 1, classes, out);
    case CNN_EFFICIENTNET_B0: return imagenet_efficientnet_b0(b, in, classes, out);
    case CNN_SHUFFLENET_V2: x = shufflenetv2_features(b, in, a->stage_ch, 1); break;
    case CNN_SQUEEZENET1_1: return imagenet_squeezenet1_1(b, in, classes, out);
    case CNN_INCEPTION_V3: return imagenet_inception_v3(b, in, classes, out);
    default: return imagenet_vgg16(b, in, classes, out);
    }
    return zb_gemm(b, &x, fc, classes, 1.0, out);
}
