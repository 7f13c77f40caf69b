/* kernels.c - times the kernel sets side by side on the layer shapes of the reference models: each kernel on each set
 * this CPU has (scalar left out unless asked), the minimum over many short repetitions (robust on a shared machine:
 * some repetitions run undisturbed), as GFLOP/s. A tool for choosing tiles and paths, not a test.
 *   cc -O2 -Iinclude bench/kernels.c build/libtandem.a -lm -pthread -o build/bench_kernels && build/bench_kernels [--sets avx2,avx512] [--filter TEXT]
 *   [--act relu|silu|none] (the epilogue of the GEMMs and convolutions; relu unless asked) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/kernels/kernels.h"

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static float *rnd(size_t n) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64);
    uint32_t r = 1;
    for (size_t i = 0; i < n; i++) r = r * 1664525u + 1013904223u, p[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    return p;
}

static int bench_act = TDM_ACT_RELU;

typedef void (*call_fn)(const tdm_kernel_set *ks, void *ctx);

/* Minimum time of one call over repetitions that last at least ~0.2 s in all. */
static double time_min(const tdm_kernel_set *ks, call_fn f, void *ctx) {
    double best = 1e30, total = 0;
    for (int rep = 0; rep < 5000 && (total < 2e8 || rep < 20); rep++) {
        double t0 = now_ns();
        f(ks, ctx);
        double t = now_ns() - t0;
        total += t;
        if (t < best) best = t;
    }
    return best;
}

typedef struct gemm_case { size_t m, n, k; float *a, *ap, *b, *c, *bias; } gemm_case;
static void call_ep(const tdm_kernel_set *ks, void *p) {
    gemm_case *g = p;
    tdm_gemm_ep ep = {.bias = g->bias, .act = bench_act};
    ks->sgemm_ep(g->m, g->n, g->k, g->a, g->k, g->b, g->n, g->c, g->n, &ep);
}
static void call_pa(const tdm_kernel_set *ks, void *p) {
    gemm_case *g = p;
    tdm_gemm_ep ep = {.bias = g->bias, .act = bench_act};
    tdm_sgemm_pack_a(g->a, g->m, g->k, ks->mr, g->ap); /* outside the timing would be fairer; it is ~1/n of the work */
    ks->sgemm_ep_pa(0, g->m, g->n, g->k, g->ap, g->b, g->n, g->c, g->n, &ep);
}
static void call_packed(const tdm_kernel_set *ks, void *p) {
    gemm_case *g = p; /* B already in panels of the set's NR: the layout is irrelevant to the time */
    ks->wino.gemm(g->m, g->n, g->k, g->a, g->k, g->b, g->c, (g->n + ks->wino.nr - 1) / ks->wino.nr * ks->wino.nr);
}

static void call_pb(const tdm_kernel_set *ks, void *p) {
    gemm_case *g = p; /* a dense layer: A [m x k] activations, B [k x n] weights packed at load, bias per column */
    tdm_gemm_ep ep = {.bias_col = g->bias};
    ks->sgemm_pb(g->m, g->n, g->k, g->a, g->k, 1, g->ap, g->c, g->n, &ep);
}

typedef struct conv_case { size_t c, k, h, w, kk, s, p; float *xp, *w_, *y, *bias; size_t hp, wp, ho, wo; int dwk; } conv_case;
static void call_direct(const tdm_kernel_set *ks, void *p) {
    conv_case *q = p;
    if (q->kk == 1 && q->s == 1) { /* 1x1: the GEMM with packed weights, as conv.c runs it */
        tdm_gemm_ep ep = {q->bias, NULL, 0, bench_act, 0, 0};
        ks->sgemm_ep_pa(0, q->k, q->h * q->w, q->c, q->w_, q->xp, q->h * q->w, q->y, q->h * q->w, &ep);
        return;
    }
    tdm_conv2d_direct_args a = {q->xp, q->c, q->hp, q->wp, q->kk, q->kk, q->ho, q->wo, q->w_, q->bias, NULL, q->y,
                                bench_act, 0, 0, q->s};
    ks->conv_direct(&a, 0, q->k, 0, q->ho);
}
/* the NCHWc kernels on blocked data (the steady state inside a blocked part of a network: no layout changes) */
static void call_cconv(const tdm_kernel_set *ks, void *p) {
    conv_case *q = p;
    tdm_cconv_args a = {q->xp, q->c, q->h, q->w, ks->cvw, q->w_, q->bias, NULL, q->y, q->k, q->kk, q->kk, q->s, q->s,
                        q->p, q->p, q->ho, q->wo, bench_act, 0, 0};
    (q->c == q->k && q->kk > 1 && q->dwk ? ks->cdw : ks->cconv)(&a, 0, (q->k + ks->cvw - 1) / ks->cvw, 0, q->ho);
}
static void call_dw(const tdm_kernel_set *ks, void *p) {
    conv_case *q = p;
    int cb = (size_t)q->wo <= ks->dw.cb_max_wo;
    size_t step = cb ? ks->dw.vw : q->c;
    for (size_t c0 = 0; c0 < q->c; c0 += step) {
        tdm_dwconv_args a = {q->xp + c0 * q->h * q->w, q->w_ + c0 * q->kk * q->kk, q->bias + c0, NULL,
                             q->y + c0 * q->ho * q->wo, q->y + q->c * q->ho * q->wo, q->c - c0 < step ? q->c - c0 : step,
                             q->h, q->w, q->p, q->p, q->hp, q->wp, q->kk, q->kk, q->s, q->ho, q->wo, 0, 0,
                             TDM_ACT_RELU};
        (cb ? ks->dw.cb : ks->dw.plane)(&a);
    }
}

int main(int argc, char **argv) {
    const char *sets_arg = "avx2,avx512", *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sets") && i + 1 < argc) sets_arg = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--act") && i + 1 < argc && !strcmp(argv[i + 1], "relu")) bench_act = TDM_ACT_RELU, i++;
        else if (!strcmp(argv[i], "--act") && i + 1 < argc && !strcmp(argv[i + 1], "silu")) bench_act = TDM_ACT_SILU, i++;
        else if (!strcmp(argv[i], "--act") && i + 1 < argc && !strcmp(argv[i + 1], "none")) bench_act = TDM_ACT_NONE, i++;
        else {
            fprintf(stderr, "usage: %s [--sets a,b] [--filter TEXT] [--act relu|silu|none]\n", argv[0]);
            return 2;
        }
    }
    const tdm_kernel_set *sets[8];
    int ns = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sets_arg);
    for (char *t = strtok(buf, ","); t && ns < 8; t = strtok(NULL, ",")) {
        const char *why;
        const tdm_kernel_set *k = tdm_kernels_named(t, &why);
        if (k) sets[ns++] = k;
        else printf("skip %s: %s\n", t, why);
    }
    printf("%-44s", "kernel and shape (GFLOP/s, min over repetitions)");
    for (int s = 0; s < ns; s++) printf(" %12s", sets[s]->name);
    printf("\n");
    /* 1x1 convolutions (m = out channels, n = pixels, k = in channels) and GEMMs of the ImageNet and CIFAR nets */
    static const size_t g[][3] = {{64, 3136, 64},  {256, 3136, 64}, {64, 3136, 256}, {128, 784, 512}, {512, 784, 128},
                                  {256, 196, 1024}, {1024, 196, 256}, {512, 49, 2048}, {2048, 49, 512}, {32, 12544, 16}, {96, 12544, 16},
                                  {96, 3136, 24}, {144, 784, 24}, {320, 49, 960}, {1280, 49, 320}, {64, 1024, 16},
                                  {64, 64, 64},   {768, 128, 768}, {3072, 128, 768}, {768, 128, 3072}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        for (int kind = 0; kind < 3; kind++) {
            static const char *kn[3] = {"gemm_ep", "gemm_ep_pa", "wino_packed"};
            char name[128];
            snprintf(name, sizeof name, "%s m%zu n%zu k%zu", kn[kind], g[i][0], g[i][1], g[i][2]);
            if (filter && !strstr(name, filter)) continue;
            if (kind == 2 && g[i][1] > 1024) continue;
            gemm_case c = {g[i][0], g[i][1], g[i][2], rnd(g[i][0] * g[i][2]), rnd(g[i][0] * g[i][2]),
                           rnd((g[i][1] + 64) * g[i][2]), rnd(g[i][0] * (g[i][1] + 64)), rnd(g[i][0])};
            printf("%-44s", name);
            for (int s = 0; s < ns; s++) {
                double t = time_min(sets[s], kind == 0 ? call_ep : kind == 1 ? call_pa : call_packed, &c);
                printf(" %12.1f", 2.0 * (double)(c.m * c.n * c.k) / t);
            }
            printf("\n");
            free(c.a), free(c.ap), free(c.b), free(c.c), free(c.bias);
        }
    /* dense layers of the transformers (m = tokens, n = outputs, k = inputs): BERT-mini/base, ViT-Ti */
    static const size_t d[][3] = {{128, 256, 256}, {128, 1024, 256}, {128, 256, 1024}, {128, 768, 768},
                                  {128, 3072, 768}, {128, 768, 3072}, {197, 576, 192}, {197, 768, 192},
                                  {197, 192, 768}, {1, 768, 768}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "dense_pb m%zu n%zu k%zu", d[i][0], d[i][1], d[i][2]);
        if (filter && !strstr(name, filter)) continue;
        gemm_case c = {d[i][0], d[i][1], d[i][2], rnd(d[i][0] * d[i][2]), NULL, rnd(d[i][1] * d[i][2]),
                       rnd(d[i][0] * d[i][1]), rnd(d[i][1] + 64)};
        printf("%-44s", name);
        for (int s = 0; s < ns; s++) {
            c.ap = rnd(c.k * ((c.n + sets[s]->nr - 1) / sets[s]->nr * sets[s]->nr));
            sets[s]->sgemm_pack_b(c.b, c.n, 0, c.k, c.n, c.ap);
            double t = time_min(sets[s], call_pb, &c);
            printf(" %12.1f", 2.0 * (double)(c.m * c.n * c.k) / t);
            free(c.ap);
        }
        printf("\n");
        free(c.a), free(c.b), free(c.c), free(c.bias);
    }
    /* direct and depthwise convolutions: c, k, h, w, kernel, stride, pad */
    static const size_t cv[][7] = {{3, 64, 224, 224, 7, 2, 3}, {64, 64, 56, 56, 3, 1, 1},  {128, 128, 28, 28, 3, 1, 1},
                                   {64, 128, 56, 56, 3, 2, 1}, {256, 256, 14, 14, 3, 1, 1}, {512, 512, 7, 7, 3, 1, 1},
                                   {3, 32, 224, 224, 3, 2, 1}, {16, 16, 32, 32, 3, 1, 1},  {64, 64, 8, 8, 3, 1, 1},
                                   {64, 256, 56, 56, 1, 2, 0},   {64, 256, 56, 56, 1, 1, 0},  {128, 512, 28, 28, 1, 1, 0},
                                   {256, 1024, 14, 14, 1, 1, 0}, {512, 2048, 7, 7, 1, 1, 0},  {112, 672, 14, 14, 1, 1, 0},
                                   {672, 112, 14, 14, 1, 1, 0},  {160, 960, 7, 7, 1, 1, 0},   {960, 160, 7, 7, 1, 1, 0},
                                   {24, 144, 56, 56, 1, 1, 0},   {144, 24, 56, 56, 1, 1, 0},  {16, 64, 112, 112, 1, 1, 0},
                                   {16, 16, 112, 112, 1, 1, 0}};
    static const size_t dw[][7] = {{32, 32, 112, 112, 3, 1, 1}, {96, 96, 112, 112, 3, 2, 1}, {96, 96, 112, 112, 3, 1, 1}, {8, 8, 112, 112, 3, 2, 1}, {144, 144, 56, 56, 3, 1, 1},
                                   {240, 240, 28, 28, 5, 1, 2}, {672, 672, 14, 14, 5, 2, 2}, {960, 960, 7, 7, 3, 1, 1},
                                   {384, 384, 4, 4, 3, 1, 1}};
    for (int kind = 0; kind < 2; kind++)
        for (size_t i = 0; i < (kind ? sizeof dw / sizeof dw[0] : sizeof cv / sizeof cv[0]); i++) {
            const size_t *q = kind ? dw[i] : cv[i];
            conv_case c = {q[0], q[1], q[2], q[3], q[4], q[5], q[6]};
            c.hp = c.h + 2 * c.p, c.wp = c.w + 2 * c.p;
            c.ho = (c.hp - c.kk) / c.s + 1, c.wo = (c.wp - c.kk) / c.s + 1;
            if (!kind && c.s == 2) c.wp += c.wp & 1;
            char name[128];
            snprintf(name, sizeof name, "%s c%zu k%zu %zux%zu %zux%zu s%zu", kind ? "dwconv" : "direct", c.c, c.k, c.h,
                     c.w, c.kk, c.kk, c.s);
            if (filter && !strstr(name, filter)) continue;
            c.xp = rnd((c.c + 16) * (c.hp + 1) * (c.wp + 1) + TDM_CONV_SLACK);
            c.w_ = rnd((c.k + 16) * (kind ? 1 : c.c) * c.kk * c.kk);
            c.y = rnd((c.k + 16) * c.ho * c.wo + (c.hp * c.wp + c.ho * c.wo + c.kk * c.kk) * 32 + c.hp * c.wp + TDM_CONV_SLACK);
            c.bias = rnd(c.k + 16);
            printf("%-44s", name);
            double flop = 2.0 * (double)(c.k * c.ho * c.wo * c.kk * c.kk * (kind ? 1 : c.c));
            for (int s = 0; s < ns; s++) printf(" %12.1f", flop / time_min(sets[s], kind ? call_dw : call_direct, &c));
            printf("\n");
            c.dwk = kind;
            printf("%-44s", "  same, NCHWc");
            for (int s = 0; s < ns; s++) printf(" %12.1f", flop / time_min(sets[s], call_cconv, &c));
            printf("\n");
            free(c.xp), free(c.w_), free(c.y), free(c.bias);
        }
    return 0;
}
