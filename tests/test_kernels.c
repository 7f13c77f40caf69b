/* test_kernels.c - checks the fast GEMM variants (tdm_sgemm_blocked and the tdm_sgemm dispatcher) against the trusted
 * reference tdm_sgemm_ref on awkward sizes, transposes, strides, alpha/beta, plus the fused bias+activation epilogue.
 * Prints `kernels: N passed, M failed` last; exits nonzero on any failure. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "../src/engine/internal.h"
#include "../src/kernels/kernels.h"
#include "../src/ops/ops.h"

static int passed, failed;

static uint32_t rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1), reproducible */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void check(int ok, const char *fmt, ...) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* Runs fn and the reference on the same random problem and compares element-wise against an error bound scaled by
 * |alpha| |op(A)| |op(B)| + |beta| |C| (computed with the reference on absolute values), i.e. a relative error. */
static void gemm_case(const char *name, tdm_sgemm_fn fn, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                      float beta, size_t pad) {
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    size_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    size_t asz = ar * lda + 1, bsz = br * ldb + 1, csz = m * ldc + 1;
    float *a = malloc(asz * sizeof(float)), *b = malloc(bsz * sizeof(float));
    float *c = malloc(csz * sizeof(float)), *r = malloc(csz * sizeof(float));
    float *aa = malloc(asz * sizeof(float)), *ba = malloc(bsz * sizeof(float)), *bound = malloc(csz * sizeof(float));
    if (!a || !b || !c || !r || !aa || !ba || !bound) {
        check(0, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < asz; i++) aa[i] = fabsf(a[i] = frand());
    for (size_t i = 0; i < bsz; i++) ba[i] = fabsf(b[i] = frand());
    for (size_t i = 0; i < csz; i++) r[i] = c[i] = frand();
    if (beta == 0.0f) /* beta == 0 must not read C: poison it */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = NAN;
    for (size_t i = 0; i < csz; i++) bound[i] = fabsf(r[i]);
    const float sentinel = 12345.0f; /* one element past the end of C */
    c[csz - 1] = r[csz - 1] = sentinel;

    fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    tdm_sgemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, r, ldc);
    tdm_sgemm_ref(ta, tb, m, n, k, fabsf(alpha), aa, lda, ba, ldb, fabsf(beta), bound, ldc);

    double worst = 0.0;
    int bad_pad = c[csz - 1] != sentinel;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double e = fabs((double)c[i * ldc + j] - (double)r[i * ldc + j]);
            double s = (double)bound[i * ldc + j] + 1e-30;
            double rel = e / s;
            if (!(rel <= worst)) worst = isnan(rel) ? INFINITY : rel;
        }
        for (size_t j = n; j < ldc && i + 1 < m; j++) /* the gap between rows must be untouched */
            if (memcmp(&c[i * ldc + j], &r[i * ldc + j], sizeof(float)) != 0) bad_pad = 1;
    }
    /* float accumulation: error grows at most ~k * eps relative to the absolute-value product */
    double tol = 4.0 * (double)(k + 2) * 1.2e-7;
    check(worst <= tol && !bad_pad,
          "%s ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g pad=%zu: rel err %.3g (tol %.3g)%s", name, ta, tb, m, n, k,
          (double)alpha, (double)beta, pad, worst, tol, bad_pad ? ", wrote outside C" : "");
done:
    free(a);
    free(b);
    free(c);
    free(r);
    free(aa);
    free(ba);
    free(bound);
}

static void test_gemm_sizes(const char *name, tdm_sgemm_fn fn) {
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 67};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    /* every transpose combination over a spread of odd shapes */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < ns; i += 2)
                for (size_t j = 1; j < ns; j += 3)
                    for (size_t q = 0; q < ns; q += 4)
                        gemm_case(name, fn, ta, tb, sizes[i], sizes[j], sizes[q], 1.0f, 0.0f, 0);
    /* accumulate, scaling, padded leading dimensions */
    static const float alphas[] = {1.0f, -0.5f, 2.0f};
    static const float betas[] = {0.0f, 1.0f, 0.25f};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int s = 0; s < 3; s++)
                gemm_case(name, fn, ta, tb, 13, 29, 37, alphas[s], betas[(s + ta + tb) % 3], (size_t)(3 * s + 1));
    /* one row (the batch-1 Gemm, a matrix-vector product): both orientations of B, tails in n and k */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int s = 0; s < 3; s++) {
                gemm_case(name, fn, ta, tb, 1, 100, 1280, alphas[s], betas[(s + tb) % 3], (size_t)s);
                gemm_case(name, fn, ta, tb, 1, 37, 45, alphas[s], betas[(s + ta) % 3], (size_t)(2 * s + 1));
            }
    /* K deeper than one packed panel, tall/wide and vector shapes */
    gemm_case(name, fn, 0, 0, 37, 45, 700, 1.0f, 1.0f, 0);
    gemm_case(name, fn, 1, 1, 23, 19, 513, 0.5f, 0.5f, 2);
    gemm_case(name, fn, 0, 1, 1, 257, 300, 1.0f, 0.0f, 0);
    gemm_case(name, fn, 0, 0, 300, 1, 129, 1.0f, 0.0f, 0);
    gemm_case(name, fn, 0, 0, 64, 1024, 144, 1.0f, 0.0f, 0);
    gemm_case(name, fn, 1, 0, 1, 1, 1, 1.0f, 0.0f, 0);
    /* k == 0: C = beta * C */
    gemm_case(name, fn, 0, 0, 5, 6, 0, 1.0f, 0.5f, 0);
    gemm_case(name, fn, 0, 0, 5, 6, 0, 1.0f, 0.0f, 1);
    /* alpha == 0 */
    gemm_case(name, fn, 0, 1, 9, 10, 11, 0.0f, 0.75f, 0);
}

/* m == 0 or n == 0 must not touch memory at all. */
static void test_gemm_empty(void) {
    float c = 42.0f;
    tdm_sgemm_blocked(0, 0, 0, 5, 3, 1.0f, NULL, 3, NULL, 5, 0.0f, &c, 5);
    tdm_sgemm(0, 0, 4, 0, 3, 1.0f, NULL, 3, NULL, 1, 0.0f, &c, 1);
    check(c == 42.0f, "empty GEMM wrote to C");
}

static float act_ref(float x, int act, float a, float b) {
    switch (act) {
    case TDM_ACT_RELU: return x > 0 ? x : 0;
    case TDM_ACT_CLIP: return x < a ? a : (x > b ? b : x);
    case TDM_ACT_LEAKY_RELU: return x < 0 ? a * x : x;
    case TDM_ACT_HARD_SWISH: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case TDM_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)x)));
    case TDM_ACT_SILU: return (float)((double)x / (1.0 + exp(-(double)x)));
    case TDM_ACT_GELU: return (float)(0.5 * x * (1.0 + erf((double)x / sqrt(2.0))));
    case TDM_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, a * x + b));
    case TDM_ACT_GELU_TANH: return (float)(0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))));
    default: return x;
    }
}

static void test_epilogue(void) {
    static const int acts[] = {TDM_ACT_NONE,    TDM_ACT_RELU, TDM_ACT_CLIP, TDM_ACT_LEAKY_RELU, TDM_ACT_HARD_SWISH,
                               TDM_ACT_SIGMOID, TDM_ACT_SILU, TDM_ACT_GELU, TDM_ACT_HARD_SIGMOID};
    float x[37], y[37];
    for (int i = 0; i < 37; i++) x[i] = 8.0f * frand();
    x[0] = 0.0f;
    x[1] = -3.0f;
    x[2] = 3.0f;
    x[3] = 200.0f;
    x[4] = -200.0f;
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++) {
        float a = acts[t] == TDM_ACT_CLIP ? -1.5f : acts[t] == TDM_ACT_HARD_SIGMOID ? 0.2f : 0.1f,
              b = acts[t] == TDM_ACT_CLIP ? 2.5f : acts[t] == TDM_ACT_HARD_SIGMOID ? 0.5f : 0.0f, bias = 0.75f;
        memcpy(y, x, sizeof x);
        tdm_bias_act(y, 37, bias, acts[t], a, b);
        int ok = 1;
        for (int i = 0; i < 37; i++) {
            float want = act_ref(x[i] + bias, acts[t], a, b);
            if (!(fabsf(y[i] - want) <= 1e-6f * (1.0f + fabsf(want)))) ok = 0;
        }
        check(ok, "bias+activation epilogue, act %d", acts[t]);
    }
}

/* Plain convolution of one image, [c][h][w] * [k][c][kh][kw] -> [k][ho][wo], stride 1, padding pt/pl (and enough at
 * the bottom/right to give ho x wo), then + bias + res and act: the reference for the direct and Winograd kernels. */
static void conv_ref(const float *x, size_t c, size_t h, size_t w, const float *wt, size_t k, size_t kh, size_t kw,
                     size_t stride, size_t pt, size_t pl, size_t ho, size_t wo, const float *bias, const float *res,
                     int act, float alpha, float beta, float *y) {
    for (size_t o = 0; o < k; o++)
        for (size_t oy = 0; oy < ho; oy++)
            for (size_t ox = 0; ox < wo; ox++) {
                double acc = bias ? bias[o] : 0.0;
                for (size_t i = 0; i < c; i++)
                    for (size_t dy = 0; dy < kh; dy++)
                        for (size_t dx = 0; dx < kw; dx++) {
                            long iy = (long)(oy * stride + dy) - (long)pt, ix = (long)(ox * stride + dx) - (long)pl;
                            if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w) continue;
                            acc += (double)wt[((o * c + i) * kh + dy) * kw + dx] * x[(i * h + (size_t)iy) * w + (size_t)ix];
                        }
                size_t at = (o * ho + oy) * wo + ox;
                if (res) acc += res[at];
                y[at] = act_ref((float)acc, act, alpha, beta);
            }
}

/* Max |got - want| / (1 + |want|) over n values. */
static double max_rel(const float *got, const float *want, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (1.0 + fabs((double)want[i]));
        if (!(d <= e)) e = d; /* NaN propagates */
    }
    return e;
}

/* every fused activation; the kernels' epilogues take them all, with alpha -0.5 and beta 0.5 (Clip's bounds,
 * LeakyRelu's slope, HardSigmoid's alpha and beta) */
static const int test_acts[] = {TDM_ACT_NONE,    TDM_ACT_RELU, TDM_ACT_CLIP, TDM_ACT_LEAKY_RELU, TDM_ACT_HARD_SWISH,
                                TDM_ACT_SIGMOID, TDM_ACT_SILU, TDM_ACT_GELU, TDM_ACT_HARD_SIGMOID};

/* The direct convolution of kernel set ks on odd shapes, stride 1 and 2, with bias, residual and each epilogue
 * activation. */
static void test_conv_direct(const tdm_kernel_set *ks) {
    static const size_t shapes[][7] = {/* c, k, h, w, kh(=kw), pad, stride */
                                       {3, 16, 32, 32, 3, 1, 1}, {16, 16, 8, 8, 3, 1, 1}, {5, 7, 9, 13, 3, 1, 1},
                                       {4, 13, 1, 1, 3, 1, 1},  {2, 9, 11, 3, 5, 2, 1},  {7, 3, 17, 23, 1, 0, 1},
                                       {1, 1, 1, 17, 3, 0, 1},  {8, 20, 6, 19, 3, 1, 1}, {16, 32, 32, 32, 3, 1, 2},
                                       {32, 64, 16, 16, 3, 1, 2}, {5, 7, 9, 13, 3, 1, 2}, {3, 13, 11, 20, 5, 2, 2},
                                       {4, 6, 7, 7, 3, 0, 2},   {2, 5, 3, 1, 3, 1, 2}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t c = shapes[si][0], k = shapes[si][1], h = shapes[si][2], w = shapes[si][3], kk = shapes[si][4],
               p = shapes[si][5], s = shapes[si][6];
        if (h + 2 * p < kk || w + 2 * p < kk) continue;
        size_t hp = h + 2 * p, wp = w + 2 * p, ho = (hp - kk) / s + 1, wo = (wp - kk) / s + 1;
        if (s == 2) wp += wp & 1; /* stride 2: even rows split into their even and odd columns (kernels.h) */
        float *x = malloc(c * h * w * 4), *xp = calloc(c * hp * wp + TDM_CONV_SLACK, 4), *wt = malloc(k * c * kk * kk * 4);
        float *bias = malloc(k * 4), *res = malloc(k * ho * wo * 4), *want = malloc(k * ho * wo * 4),
              *got = malloc(k * ho * wo * 4);
        for (size_t i = 0; i < c * h * w; i++) x[i] = frand();
        for (size_t i = 0; i < k * c * kk * kk; i++) wt[i] = frand();
        for (size_t i = 0; i < k; i++) bias[i] = frand();
        for (size_t i = 0; i < k * ho * wo; i++) res[i] = frand();
        for (size_t i = 0; i < c; i++)
            for (size_t r = 0; r < h; r++)
                for (size_t q = 0; q < w; q++) {
                    size_t col = q + p, at = s == 1 ? col : (col & 1) * (wp / 2) + col / 2;
                    xp[(i * hp + r + p) * wp + at] = x[(i * h + r) * w + q];
                }
        for (size_t ai = 0; ai < sizeof test_acts / sizeof test_acts[0]; ai++)
            for (int with_res = 0; with_res < 2; with_res++) {
                int act = test_acts[ai];
                conv_ref(x, c, h, w, wt, k, kk, kk, s, p, p, ho, wo, bias, with_res ? res : NULL, act, -0.5f, 0.5f,
                         want);
                {
                    tdm_conv2d_direct_args a = {xp, c, hp, wp, kk, kk, ho, wo, wt, bias, with_res ? res : NULL, got,
                                                act, -0.5f, 0.5f, s};
                    memset(got, 0xff, k * ho * wo * 4); /* NaN: every output must be written */
                    /* two calls over disjoint channel and row ranges, as threads would make them */
                    ks->conv_direct(&a, 0, k / 2, 0, ho);
                    ks->conv_direct(&a, k / 2, k, 0, ho / 2);
                    ks->conv_direct(&a, k / 2, k, ho / 2, ho);
                    double e = max_rel(got, want, k * ho * wo);
                    check(e < 1e-5, "conv_direct %s c%zu k%zu %zux%zu k%zu stride %zu act %d res %d: error %.3g",
                          ks->name, c, k, h, w, kk, s, act, with_res, e);
                }
            }
        free(x), free(xp), free(wt), free(bias), free(res), free(want), free(got);
    }
}

/* Winograd F(2x2,3x3) and F(4x4,3x3): weight transform and its inverse, pack, input transform, packed GEMMs and output
 * transform together, against the plain convolution, for kernel set ks's wide and narrow transforms, on sizes that
 * leave partial tiles and panels. */
static void test_winograd(const tdm_kernel_set *ks_set) {
    static const size_t shapes[][5] = {/* c, k, h, w, pad */
                                       {16, 16, 32, 32, 1}, {8, 12, 7, 9, 1}, {9, 8, 5, 31, 1},
                                       {8, 8, 1, 1, 1},     {12, 17, 6, 6, 0}, {32, 24, 16, 16, 1},
                                       {64, 64, 8, 8, 1},   {20, 7, 4, 4, 1},  {5, 9, 9, 7, 1}};
    const tdm_wino_kernels *sel = &ks_set->wino;
    const tdm_wino_kernels narrow = {sel->input_narrow, sel->output_narrow, sel->gemm, sel->vw_narrow, sel->nr,
                                     NULL, NULL, 0, 4, 1, NULL, 0};
    /* the narrower panels of the set's small-map GEMM, where it has one, with both transforms */
    const tdm_wino_kernels small = {sel->input, sel->output, sel->gemm_small, sel->vw, sel->nr_small,
                                    NULL, NULL, 0, 4, 1, NULL, 0};
    const tdm_wino_kernels small_narrow = {sel->input_narrow, sel->output_narrow, sel->gemm_small, sel->vw_narrow,
                                           sel->nr_small, NULL, NULL, 0, 4, 1, NULL, 0};
    const tdm_wino_kernels *ks[4] = {sel, &narrow, &small, &small_narrow};
    const size_t rn = sel->rows_narrow ? sel->rows_narrow : 1, rows[4] = {1, rn, 1, rn}; /* tile rows per vector */
    char names_buf[3][64];
    snprintf(names_buf[0], sizeof names_buf[0], "%s narrow", ks_set->name);
    snprintf(names_buf[1], sizeof names_buf[1], "%s small-panel", ks_set->name);
    snprintf(names_buf[2], sizeof names_buf[2], "%s small-panel narrow", ks_set->name);
    const char *names[4] = {ks_set->name, names_buf[0], names_buf[1], names_buf[2]};
    const int nvariants = sel->gemm_small ? 4 : 2;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t c = shapes[si][0], k = shapes[si][1], h = shapes[si][2], w = shapes[si][3], p = shapes[si][4];
        if (h + 2 * p < 3 || w + 2 * p < 3) continue;
        size_t ho = h + 2 * p - 2, wo = w + 2 * p - 2;
        float *x = malloc(c * h * w * 4), *wt = malloc(k * c * 9 * 4), *u = malloc(36 * k * c * 4),
              *back = malloc(k * c * 9 * 4);
        float *bias = malloc(k * 4), *res = malloc(k * ho * wo * 4), *want = malloc(k * ho * wo * 4),
              *got = malloc(k * ho * wo * 4);
        for (size_t i = 0; i < c * h * w; i++) x[i] = frand();
        for (size_t i = 0; i < k * c * 9; i++) wt[i] = frand();
        for (size_t i = 0; i < k; i++) bias[i] = frand();
        for (size_t i = 0; i < k * ho * wo; i++) res[i] = frand();
        for (size_t m = 2; m <= 4; m += 2) {
        tdm_wino_weights(wt, k, c, u, m);
        tdm_wino_restore(u, k, c, back, m); /* the inverse, for plans that need the 3x3 weights back */
        check(max_rel(back, wt, k * c * 9) < 1e-6, "winograd F(%zux%zu) restore c%zu k%zu: error %.3g", m, m, c, k,
              max_rel(back, wt, k * c * 9));
        for (int f = 0; f < nvariants; f++) {
            tdm_wino_geom g;
            tdm_wino_geometry(&g, c, k, h, w, p, p, ho, wo, ks[f]->vw, rows[f], ks[f]->nr, m);
            float *X = calloc(tdm_wino_x_floats(&g), 4), *V = calloc(tdm_wino_v_floats(&g, g.tp), 4),
                  *M = calloc(tdm_wino_m_floats(&g, g.tp), 4);
            for (size_t ai = 0; ai < sizeof test_acts / sizeof test_acts[0]; ai++) {
                int act = test_acts[ai], with_res = (int)(ai & 1);
                conv_ref(x, c, h, w, wt, k, 3, 3, 1, p, p, ho, wo, bias, with_res ? res : NULL, act, -0.5f, 0.5f, want);
                memset(got, 0xff, k * ho * wo * 4);
                tdm_wino_pack_rows(&g, x, X, 0, c, 0, g.hq);
                /* two chunks split at a panel boundary, as two threads would do them, each in V and M from the start */
                size_t mid = g.tp / g.nr / 2 * g.nr;
                for (int part = 0; part < 2; part++) {
                    size_t t0 = part ? mid : 0, t1 = part ? g.tp : mid, span = (t1 - t0 + g.nr - 1) / g.nr * g.nr;
                    if (t0 == t1) continue;
                    memset(V, 0xff, tdm_wino_v_floats(&g, g.tp) * 4); /* NaN: a chunk must not read stale data */
                    ks[f]->input(&g, X, V, t0, t1);
                    for (size_t xi = 0; xi < g.pts; xi++)
                        ks[f]->gemm(k, t1 - t0, c, u + xi * k * c, c, V + xi * tdm_wino_v_stride(&g, t1 - t0),
                                    M + xi * tdm_wino_m_stride(&g, t1 - t0), span);
                    ks[f]->output(&g, M, bias, with_res ? res : NULL, got, act, -0.5f, 0.5f, t0, t1);
                }
                /* F(4x4)'s transforms have larger entries than F(2x2)'s (up to 3.4 in A^T and 2.8 in B^T, against
                 * 1) and their rounding grows with them: measured worst 2.1e-5 here (c64 k64 8x8), against 4.8e-6
                 * for F(2x2). */
                double e = max_rel(got, want, k * ho * wo), tol = m == 4 ? 5e-5 : 1e-5;
                check(e < tol, "winograd F(%zux%zu) %s c%zu k%zu %zux%zu pad %zu act %d: error %.3g", m, m,
                      names[f], c, k, h, w, p, act, e);
            }
            free(X), free(V), free(M);
        }
        }
        free(x), free(wt), free(u), free(back), free(bias), free(res), free(want), free(got);
    }
}

/* Depthwise kernels of set ks (plane and channel-block paths) against a plain loop: several channels with their own
 * filters and biases, stride 1 and 2, odd sizes and paddings, each activation, with and without residual. */
static void test_dwconv(const tdm_kernel_set *kset) {
    static const size_t shapes[][5] = {/* h, w, k, pad, channels */
                                       {32, 32, 3, 1, 3}, {7, 13, 3, 1, 5}, {1, 1, 3, 1, 9}, {9, 17, 5, 2, 2},
                                       {16, 16, 3, 0, 3}, {5, 30, 1, 0, 2}, {3, 8, 3, 1, 11}, {4, 4, 3, 1, 8},
                                       {8, 8, 3, 1, 17}};
    const tdm_dw_kernels *k1 = &kset->dw;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t stride = 1; stride <= 2; stride++) {
            size_t h = shapes[si][0], w = shapes[si][1], k = shapes[si][2], p = shapes[si][3], nc = shapes[si][4];
            size_t hp = h + 2 * p, wp = w + 2 * p;
            if (hp < k || wp < k) continue;
            size_t ho = (hp - k) / stride + 1, wo = (wp - k) / stride + 1, no = nc * ho * wo;
            float *x = malloc(nc * h * w * 4), *wt = malloc(nc * k * k * 4), *bias = malloc(nc * 4);
            float *res = malloc(no * 4), *want = malloc(no * 4), *got = malloc(no * 4);
            float *scratch = calloc((hp * wp + ho * wo + k * k) * 32 + hp * wp + TDM_CONV_SLACK, 4);
            for (size_t i = 0; i < nc * h * w; i++) x[i] = frand();
            for (size_t i = 0; i < nc * k * k; i++) wt[i] = frand();
            for (size_t i = 0; i < nc; i++) bias[i] = frand();
            for (size_t i = 0; i < no; i++) res[i] = frand();
            for (size_t ai = 0; ai < sizeof test_acts / sizeof test_acts[0]; ai++) {
                int act = test_acts[ai], with_res = (int)(ai & 1);
                for (size_t c = 0; c < nc; c++)
                    for (size_t oy = 0; oy < ho; oy++)
                        for (size_t ox = 0; ox < wo; ox++) {
                            double acc = bias[c];
                            for (size_t dy = 0; dy < k; dy++)
                                for (size_t dx = 0; dx < k; dx++) {
                                    long iy = (long)(oy * stride + dy) - (long)p, ix = (long)(ox * stride + dx) - (long)p;
                                    if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w) continue;
                                    acc += (double)wt[(c * k + dy) * k + dx] * x[(c * h + (size_t)iy) * w + (size_t)ix];
                                }
                            size_t o = (c * ho + oy) * wo + ox;
                            if (with_res) acc += res[o];
                            want[o] = act_ref((float)acc, act, -0.5f, 0.5f);
                        }
                for (int cb = 0; cb < 2; cb++) {
                        memset(got, 0xff, no * 4);
                        size_t step = cb ? k1->vw : nc;
                        for (size_t c0 = 0; c0 < nc; c0 += step) {
                            size_t o = c0 * ho * wo;
                            tdm_dwconv_args a = {x + c0 * h * w, wt + c0 * k * k, bias + c0, with_res ? res + o : NULL,
                                                 got + o, scratch, nc - c0 < step ? nc - c0 : step, h, w, p, p, hp,
                                                 wp, k, k, stride, ho, wo, -0.5f, 0.5f, act};
                            (cb ? k1->cb : k1->plane)(&a);
                        }
                        double e = max_rel(got, want, no);
                        check(e < 1e-5, "dwconv %s %s %zux%zu x%zu k%zu stride %zu act %d res %d: error %.3g",
                              kset->name, cb ? "cb" : "plane", h, w, nc, k, stride, act, with_res, e);
                    }
            }
            free(x), free(wt), free(bias), free(res), free(want), free(got), free(scratch);
        }
}

/* The GEMM of set ks with its fused epilogue against the reference GEMM plus bias, residual and activation: partial
 * tiles in both directions, K deeper than one KC slice (the epilogue must come once, last), A plain and packed. */
/* The worst relative error of got against want, m x n with row stride ldc, and whether the gaps between rows (which
 * the caller filled with -7) were written. */
static double worst_rel_ldc(const float *got, const float *want, size_t m, size_t n, size_t ldc, int *gap) {
    double worst = 0.0;
    *gap = 0;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double e = fabs((double)got[i * ldc + j] - want[i * ldc + j]) / (1.0 + fabs((double)want[i * ldc + j]));
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
        for (size_t j = n; j < ldc; j++) *gap |= got[i * ldc + j] != -7.0f;
    }
    return worst;
}

static void test_gemm_ep(const tdm_kernel_set *ks) {
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {16, 16, 160}, {13, 100, 300}, {6, 33, 600}, {32, 64, 9}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], ldc = n + 3;
        float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *bias = malloc(m * 4), *res = malloc(m * ldc * 4);
        float *want = malloc(m * ldc * 4), *got = malloc(m * ldc * 4);
        for (size_t q = 0; q < m * k; q++) a[q] = frand();
        for (size_t q = 0; q < k * n; q++) b[q] = frand();
        for (size_t q = 0; q < m; q++) bias[q] = frand();
        for (size_t q = 0; q < m * ldc; q++) res[q] = frand();
        for (size_t ai = 0; ai < sizeof test_acts / sizeof test_acts[0]; ai++) {
            int act = test_acts[ai], with_res = (int)(ai & 1), with_bias = (int)((ai >> 1) & 1) || ai == 0;
            tdm_sgemm_ref(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, want, ldc);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    float v = want[i * ldc + j] + (with_bias ? bias[i] : 0.0f) + (with_res ? res[i * ldc + j] : 0.0f);
                    want[i * ldc + j] = act_ref(v, act, -0.5f, 0.5f);
                }
            for (int f = 0; f < 2; f++) { /* A plain, then A packed in blocks of the set's MR rows */
                for (size_t q = 0; q < m * ldc; q++) got[q] = -7.0f; /* the row gaps must stay as they are */
                tdm_gemm_ep ep = {.bias = with_bias ? bias : NULL, .res = with_res ? res : NULL, .ldr = ldc, .act = act,
                                  .alpha = -0.5f, .beta = 0.5f};
                if (f == 0) {
                    ks->sgemm_ep(m, n, k, a, k, b, n, got, ldc, &ep);
                } else {
                    size_t mr = ks->mr, half = m / 2 / mr * mr;
                    tdm_sgemm_ep_pa_fn pa = ks->sgemm_ep_pa;
                    float *ap = malloc(m * k * 4), *back = malloc(m * k * 4);
                    tdm_sgemm_pack_a(a, m, k, mr, ap);
                    tdm_sgemm_unpack_a(ap, m, k, mr, back);
                    check(memcmp(back, a, m * k * 4) == 0, "gemm pack/unpack m=%zu k=%zu mr=%zu", m, k, mr);
                    /* two calls, rows [0, half) and [half, m), as threads would split them at row blocks */
                    pa(0, half, n, k, ap, b, n, got, ldc, &ep);
                    tdm_gemm_ep ep2 = ep;
                    if (ep2.bias) ep2.bias += half;
                    if (ep2.res) ep2.res += half * ldc;
                    pa(half, m - half, n, k, ap, b, n, got + half * ldc, ldc, &ep2);
                    free(ap), free(back);
                }
                int gap;
                double worst = worst_rel_ldc(got, want, m, n, ldc, &gap);
                check(worst <= 4.0 * (double)(k + 2) * 1.2e-7 && !gap,
                      "gemm_ep %s%s m=%zu n=%zu k=%zu act %d bias %d res %d: error %.3g%s",
                      ks->name, f ? " packed A" : "",
                      m, n, k, act, with_bias, with_res, worst, gap ? ", wrote outside C" : "");
            }
        }
        free(a), free(b), free(bias), free(res), free(want), free(got);
    }
}

/* 2-D pooling of set ks (max and average, strides 1 and 2, padding and ceil-mode overhang) against plain loops; and
 * the row sum and maximum. */
static void test_pool2d(const tdm_kernel_set *ks) {
    static const size_t shapes[][7] = {/* h, w, k, s, pad, extra (ceil-mode overhang), channels */
                                       {112, 112, 3, 2, 1, 0, 3}, {55, 55, 3, 2, 0, 1, 2}, {13, 13, 3, 2, 0, 1, 5},
                                       {7, 9, 3, 1, 1, 0, 4},     {35, 35, 3, 1, 1, 0, 2}, {8, 8, 2, 2, 0, 0, 3},
                                       {1, 1, 3, 1, 1, 0, 2},     {17, 31, 5, 1, 2, 0, 1},
                                       /* channels enough for the blocked path of small maps (whole blocks of the
                                        * set's width, then planes left over), incl. ceil-mode overhang */
                                       {17, 17, 3, 1, 1, 0, 35},  {8, 8, 3, 1, 1, 0, 16},  {13, 13, 3, 2, 0, 1, 20},
                                       {35, 35, 3, 2, 0, 0, 17},  {7, 9, 3, 2, 1, 1, 33}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int avg = 0; avg < 2; avg++) {
            size_t h = shapes[si][0], w = shapes[si][1], k = shapes[si][2], st = shapes[si][3], p = shapes[si][4],
                   ex = shapes[si][5], nc = shapes[si][6];
            size_t ho = (h + 2 * p + ex - k) / st + 1, wo = (w + 2 * p + ex - k) / st + 1;
            size_t hp = (ho - 1) * st + k, wp = (wo - 1) * st + k;
            if (hp < h + p) hp = h + p;
            if (wp < w + p) wp = w + p;
            float *x = malloc(nc * h * w * 4), *want = malloc(nc * ho * wo * 4), *got = malloc(nc * ho * wo * 4);
            float *scratch = malloc(TDM_POOL_SCRATCH(h, w, ho, wo, wp) * 4), *ir = malloc(ho * 4), *ic = malloc(wo * 4);
            for (size_t i = 0; i < nc * h * w; i++) x[i] = frand();
            for (size_t o = 0; o < ho; o++) { /* taps inside the input, per axis */
                long a = (long)(o * st) - (long)p, b = a + (long)k;
                ir[o] = 1.0f / (float)((b < (long)h ? b : (long)h) - (a > 0 ? a : 0));
            }
            for (size_t o = 0; o < wo; o++) {
                long a = (long)(o * st) - (long)p, b = a + (long)k;
                ic[o] = 1.0f / (float)((b < (long)w ? b : (long)w) - (a > 0 ? a : 0));
            }
            for (size_t c = 0; c < nc; c++)
                for (size_t oy = 0; oy < ho; oy++)
                    for (size_t ox = 0; ox < wo; ox++) {
                        double acc = avg ? 0.0 : -INFINITY;
                        for (size_t dy = 0; dy < k; dy++)
                            for (size_t dx = 0; dx < k; dx++) {
                                long iy = (long)(oy * st + dy) - (long)p, ix = (long)(ox * st + dx) - (long)p;
                                if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w) continue;
                                double v = x[(c * h + (size_t)iy) * w + (size_t)ix];
                                acc = avg ? acc + v : (v > acc ? v : acc);
                            }
                        want[(c * ho + oy) * wo + ox] = avg ? (float)(acc * ir[oy] * ic[ox]) : (float)acc;
                    }
            memset(got, 0xff, nc * ho * wo * 4);
            tdm_pool2d_args a = {x, got, scratch, nc, h, w, p, p, hp, wp, k, k, st, st, ho, wo, avg, ir, ic};
            ks->pool2d(&a);
            double e = max_rel(got, want, nc * ho * wo);
            check(e < 1e-5, "pool2d %s %s %zux%zu k%zu s%zu p%zu overhang %zu: error %.3g", ks->name,
                  avg ? "avg" : "max", h, w, k, st, p, ex, e);
            free(x), free(want), free(got), free(scratch), free(ir), free(ic);
        }
    for (size_t n = 1; n < 200; n += 13) {
        float x[200];
        double sum = 0, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            x[i] = frand();
            sum += x[i];
            mx = x[i] > mx ? x[i] : mx;
        }
        check(fabs(ks->row_sum(x, n) - sum) < 1e-5 * (double)n && ks->row_max(x, n) == (float)mx,
              "row_sum/row_max %s n=%zu", ks->name, n);
    }
}

/* The vectorised math of set ks against double-precision libm over [-30, 30], densely over [-1, 1], and special values
 * (0, tails, huge):
 * exp within 5e-7 relative (and infinite where float overflows), GELU within 4e-7 absolute (Abramowitz and Stegun's
 * 1.5e-7 plus the float rounding of 1 - t p(t) e^(-x^2)), the others (erf too: its series below |x| = 0.5 avoids that
 * rounding; A&S alone there reached 4.5e-7) within 3e-7 absolute; GELU and SiLU scaled by max(1, |x|), the others by
 * max(1, |y|). */
static double vop_ref(int op, double x) {
    switch (op) {
    case TDM_VOP_EXP: return exp(x);
    case TDM_VOP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case TDM_VOP_TANH: return tanh(x);
    case TDM_VOP_ERF: return erf(x);
    case TDM_VOP_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case TDM_VOP_SILU: return x / (1.0 + exp(-x));
    case TDM_VOP_HARD_SIGMOID: return fmin(fmax(0.2 * x + 0.5, 0.0), 1.0);
    case TDM_VOP_GELU_TANH: return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    default: return x * fmin(fmax(x / 6.0 + 0.5, 0.0), 1.0);
    }
}

static void test_vunary(const tdm_kernel_set *ks) {
    static const char *names[] = {"exp",          "sigmoid",    "tanh",     "erf", "gelu", "silu",
                                  "hard_sigmoid", "hard_swish", "gelu_tanh"};
    enum { NW = 1195, NS = 2001, N = NW + NS + 8 };
    static float x[N], y[N];
    for (int i = 0; i < NW; i++) x[i] = -30.0f + 60.0f * (float)i / (float)(NW - 1);
    /* and densely around 0, where A&S's erf cancels (its float rounding reached 4.5e-7 at x = -0.07) */
    for (int i = 0; i < NS; i++) x[NW + i] = -1.0f + 2.0f * (float)i / (float)(NS - 1);
    const float special[8] = {0.0f, -0.0f, 1e-8f, -1e-6f, 88.5f, -95.0f, 200.0f, -200.0f};
    memcpy(x + N - 8, special, sizeof special);
    for (int op = TDM_VOP_EXP; op <= TDM_VOP_GELU_TANH; op++) {
        ks->vunary(op, x, y, N, 0.2f, 0.5f);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < N; i++) {
            double want = vop_ref(op, x[i]), e;
            if (op == TDM_VOP_EXP)
                e = want > FLT_MAX ? (isinf(y[i]) ? 0 : 1) : fabs(y[i] - want) / (want > 1e-37 ? want : 1e-37);
            else if (op == TDM_VOP_GELU || op == TDM_VOP_SILU || op == TDM_VOP_GELU_TANH)
                e = fabs(y[i] - want) / fmax(1.0, fabs(x[i]));
            else e = fabs(y[i] - want) / fmax(1.0, fabs(want));
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e, at = i;
        }
        double tol = op == TDM_VOP_EXP ? 5e-7 : op == TDM_VOP_GELU ? 4e-7 : 3e-7;
        check(worst <= tol, "vunary %s %s: error %.3g at x = %g (tol %.1g)", ks->name, names[op], worst,
              at >= 0 ? (double)x[at] : 0.0, tol);
    }
    memcpy(y, x, sizeof x); /* in place, and a length that leaves a tail */
    ks->vunary(TDM_VOP_SIGMOID, y, y, 37, 0, 0);
    check(fabs(y[36] - vop_ref(TDM_VOP_SIGMOID, x[36])) < 3e-7 && y[37] == x[37], "vunary %s in place", ks->name);
}

/* ---- transformer kernels -------------------------------------------------------------------------------------- */

/* The dense layers' epilogue on set ks's packed-B GEMM (tdm_sgemm_pb, B packed from [k x n] or its transpose): a bias
 * per column, per row, a residual, activations including both GELUs, k past a KC slice, and the rows split in two
 * calls at a register-tile boundary, as dense layers split them over threads. The GEMM itself: test_gemm_pb. */
static void test_dense_ep(const tdm_kernel_set *ks) {
    static const size_t shapes[][3] = {{1, 1, 1},    {1, 70, 33},    {7, 13, 5},   {12, 64, 64},
                                       {13, 100, 300}, {30, 47, 600}, {257, 96, 40}, {128, 256, 256}};
    static const int acts[] = {TDM_ACT_NONE, TDM_ACT_GELU, TDM_ACT_RELU, TDM_ACT_GELU_TANH};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], ldc = n + 5;
        float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *bt = malloc(k * n * 4), *bc = malloc(n * 4);
        float *br = malloc(m * 4), *res = malloc(m * ldc * 4), *want = malloc(m * ldc * 4), *got = malloc(m * ldc * 4);
        float *bp = malloc(k * ((n + ks->nr - 1) / ks->nr) * ks->nr * 4);
        for (size_t q = 0; q < m * k; q++) a[q] = frand();
        for (size_t q = 0; q < k * n; q++) b[q] = frand();
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < n; j++) bt[j * k + p] = b[p * n + j];
        for (size_t q = 0; q < n; q++) bc[q] = frand();
        for (size_t q = 0; q < m; q++) br[q] = frand();
        for (size_t q = 0; q < m * ldc; q++) res[q] = frand();
        for (int tb = 0; tb < 2; tb++) {
            ks->sgemm_pack_b(tb ? bt : b, tb ? k : n, tb, k, n, bp);
            for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
                int act = acts[ai], with_res = (int)(ai & 1), with_row = ai == 2;
                tdm_sgemm_ref(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, want, ldc);
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        float v = want[i * ldc + j] + bc[j] + (with_row ? br[i] : 0.0f) +
                                  (with_res ? res[i * ldc + j] : 0.0f);
                        want[i * ldc + j] = act_ref(v, act, 0, 0);
                    }
                for (size_t q = 0; q < m * ldc; q++) got[q] = -7.0f;
                tdm_gemm_ep ep = {.bias = with_row ? br : NULL, .res = with_res ? res : NULL, .ldr = ldc, .act = act,
                                  .bias_col = bc};
                size_t half = m / 2 / ks->mr * ks->mr; /* two calls, rows [0, half) and [half, m) */
                ks->sgemm_pb(half, n, k, a, k, 1, bp, got, ldc, &ep);
                tdm_gemm_ep ep2 = ep;
                if (ep2.bias) ep2.bias += half;
                if (ep2.res) ep2.res += half * ldc;
                ks->sgemm_pb(m - half, n, k, a + half * k, k, 1, bp, got + half * ldc, ldc, &ep2);
                int gap;
                double worst = worst_rel_ldc(got, want, m, n, ldc, &gap);
                check(worst <= 4.0 * (double)(k + 2) * 1.2e-7 + 1e-6 && !gap,
                      "dense epilogue %s m=%zu n=%zu k=%zu trans_b %d act %d res %d row bias %d: error %.3g%s", ks->name,
                      m, n, k, tb, act, with_res, with_row, worst, gap ? ", wrote outside C" : "");
                /* by column windows, as threads split a wide layer: [0, j1), [j1, j2), [j2, n) at whole panels (the
                 * middle one empty when there are few panels), C, bias and residual indexed as for the whole */
                size_t panels = (n + ks->nr - 1) / ks->nr, j1 = panels / 3 * ks->nr, j2 = (2 * panels / 3) * ks->nr;
                for (size_t q = 0; q < m * ldc; q++) got[q] = -7.0f;
                ks->sgemm_pb_cols(m, n, k, 0, j1, a, k, 1, bp, got, ldc, &ep);
                ks->sgemm_pb_cols(m, n, k, j2, n + 9, a, k, 1, bp, got, ldc, &ep); /* past n: clipped to n */
                ks->sgemm_pb_cols(m, n, k, j1, j2, a, k, 1, bp, got, ldc, &ep);
                worst = worst_rel_ldc(got, want, m, n, ldc, &gap);
                check(worst <= 4.0 * (double)(k + 2) * 1.2e-7 + 1e-6 && !gap,
                      "dense epilogue by columns %s m=%zu n=%zu k=%zu trans_b %d act %d res %d row bias %d: error "
                      "%.3g%s", ks->name, m, n, k, tb, act, with_res, with_row, worst, gap ? ", wrote outside C" : "");
            }
        }
        free(a), free(b), free(bt), free(bc), free(br), free(res), free(want), free(got), free(bp);
    }
}

/* Softmax rows (scale, a mask per element or one per row, masks of the lowest float, a row masked whole, in place)
 * and LayerNorm rows (with and without beta, rows with a large mean) of set ks against double precision. */
static void test_tfm_rows(const tdm_kernel_set *ks) {
    static const size_t lens[] = {1, 3, 16, 17, 64, 100, 128, 197, 255};
    enum { MAXN = 256 };
    float x[MAXN], y[MAXN], mask[MAXN], g[MAXN], bt[MAXN];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        for (int mode = 0; mode < 4; mode++) { /* no mask, per element, per row, per element with masked-out */
            for (size_t i = 0; i < n; i++) {
                x[i] = 6.0f * frand();
                mask[i] = mode == 3 && (i % 3 == 1) ? -3.4028234663852886e38f : frand();
            }
            float scale = mode == 0 ? 1.0f : 0.125f;
            const float *mk = mode == 0 ? NULL : mask;
            size_t step = mode == 2 ? 0 : 1;
            double z[MAXN], mx = -INFINITY, sum = 0.0;
            for (size_t i = 0; i < n; i++) {
                z[i] = (double)scale * x[i] + (mk ? (double)mk[i * step] : 0.0);
                mx = z[i] > mx ? z[i] : mx;
            }
            for (size_t i = 0; i < n; i++) sum += exp(z[i] - mx);
            for (int inplace = 0; inplace < 2; inplace++) {
                float *out = y;
                if (inplace) memcpy(y, x, n * 4);
                y[n] = 42.0f;
                ks->tfm.softmax_row(inplace ? y : x, out, n, scale, mk, step);
                double worst = 0.0;
                for (size_t i = 0; i < n; i++) {
                    double e = fabs(out[i] - exp(z[i] - mx) / sum);
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                }
                check(worst < 2e-7 && y[n] == 42.0f, "softmax_row %s n=%zu mask mode %d%s: error %.3g", ks->name, n,
                      mode, inplace ? " in place" : "", worst);
            }
        }
        /* a row masked whole: uniform */
        for (size_t i = 0; i < n; i++) mask[i] = -3.4028234663852886e38f;
        ks->tfm.softmax_row(x, y, n, 1.0f, mask, 1);
        int uni = 1;
        for (size_t i = 0; i < n; i++) uni &= fabsf(y[i] - 1.0f / (float)n) < 1e-6f;
        check(uni, "softmax_row %s n=%zu masked whole: uniform", ks->name, n);
        for (int with_beta = 0; with_beta < 2; with_beta++) {
            double mean = 0.0, var = 0.0;
            for (size_t i = 0; i < n; i++) {
                x[i] = 3.0f * frand() + (with_beta ? 40.0f : 0.0f);
                g[i] = 1.0f + 0.2f * frand();
                bt[i] = frand();
                mean += x[i];
            }
            mean /= (double)n;
            for (size_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
            var /= (double)n;
            y[n] = 42.0f;
            ks->tfm.layernorm_row(x, y, n, g, with_beta ? bt : NULL, 1e-5f);
            double worst = 0.0;
            for (size_t i = 0; i < n; i++) {
                double want = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + (with_beta ? bt[i] : 0.0);
                double e = fabs(y[i] - want) / fmax(1.0, fabs(want));
                if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
            }
            check(worst < 2e-5 && y[n] == 42.0f, "layernorm_row %s n=%zu beta %d: error %.3g", ks->name, n, with_beta,
                  worst);
        }
    }
}

/* The NCHWc kernels of set ks: dense convolution from a plain and from a blocked input, and depthwise, against the
 * plain reference convolution, through to_blocked/from_blocked and the weight packing; odd channel counts (padded
 * blocks), strides 1 and 2, padding, 1x1 and 3x3 and 7x7, every epilogue on some shape, split as threads split. */
static void test_nchwc(const tdm_kernel_set *ks) {
    static const size_t shapes[][7] = {/* c, k, h, w, kernel, stride, pad */
                                       {3, 16, 17, 19, 7, 2, 3}, {16, 40, 9, 11, 1, 1, 0}, {24, 20, 14, 14, 3, 1, 1},
                                       {5, 7, 8, 13, 3, 2, 1},   {32, 64, 7, 7, 1, 2, 0},  {17, 33, 5, 30, 3, 1, 1},
                                       {8, 8, 1, 1, 3, 1, 1},    {48, 48, 20, 20, 5, 2, 2}};
    const size_t V = ks->cvw;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int dw = 0; dw < 2; dw++) {
            size_t c = shapes[si][0], k = dw ? c : shapes[si][1], h = shapes[si][2], w = shapes[si][3],
                   kk = shapes[si][4], st = shapes[si][5], p = shapes[si][6];
            size_t ho = (h + 2 * p - kk) / st + 1, wo = (w + 2 * p - kk) / st + 1, cb = (c + V - 1) / V,
                   kb = (k + V - 1) / V;
            size_t wn = k * (dw ? 1 : c) * kk * kk;
            float *x = malloc(c * h * w * 4), *xb = malloc(cb * V * h * w * 4), *wt = malloc(wn * 4);
            float *wp = malloc(kb * V * (dw ? 1 : c) * kk * kk * 4), *bias = calloc(kb * V, 4);
            float *res = malloc(k * ho * wo * 4), *resb = malloc(kb * V * ho * wo * 4), *want = malloc(k * ho * wo * 4);
            float *yb = malloc(kb * V * ho * wo * 4), *got = malloc(k * ho * wo * 4);
            for (size_t i = 0; i < c * h * w; i++) x[i] = frand();
            for (size_t i = 0; i < wn; i++) wt[i] = frand();
            for (size_t i = 0; i < k; i++) bias[i] = frand();
            for (size_t i = 0; i < k * ho * wo; i++) res[i] = frand();
            ks->to_blocked(x, xb, c, h * w);
            ks->to_blocked(res, resb, k, ho * wo);
            ks->cconv_pack(wt, wp, k, dw ? 1 : c, kk * kk);
            int act = test_acts[si % (sizeof test_acts / sizeof test_acts[0])], with_res = (int)(si & 1);
            float *wfull = wt; /* the reference takes dense weights: depthwise ones spread over the diagonal */
            if (dw) {
                wfull = calloc(k * c * kk * kk, 4);
                for (size_t m = 0; m < k; m++) memcpy(wfull + (m * c + m) * kk * kk, wt + m * kk * kk, kk * kk * 4);
            }
            conv_ref(x, c, h, w, wfull, k, kk, kk, st, p, p, ho, wo, bias, with_res ? res : NULL, act, -0.5f, 0.5f,
                     want);
            for (int from_blocked = dw; from_blocked < 2; from_blocked++) {
                tdm_cconv_args a = {from_blocked ? xb : x, c, h, w, from_blocked ? V : 1, wp, bias,
                                    with_res ? resb : NULL, yb, k, kk, kk, st, st, p, p, ho, wo, act, -0.5f, 0.5f};
                memset(yb, 0xff, kb * V * ho * wo * 4);
                tdm_cconv_fn f = dw ? ks->cdw : ks->cconv;
                f(&a, 0, kb / 2, 0, ho); /* as two threads would split it: blocks, then rows */
                f(&a, kb / 2, kb, 0, ho / 2);
                f(&a, kb / 2, kb, ho / 2, ho);
                ks->from_blocked(yb, got, k, ho * wo);
                /* float sums of C*KK terms: rounding grows like its square root (1e-5 up to 256 terms) */
                double e = max_rel(got, want, k * ho * wo), tol = 1e-5 * fmax(1.0, sqrt((double)((dw ? 1 : c) * kk * kk) / 256.0));
                check(e < tol, "nchwc %s %s c%zu k%zu %zux%zu k%zu s%zu p%zu %s input act %d res %d: error %.3g",
                      ks->name, dw ? "depthwise" : "dense", c, k, h, w, kk, st, p, from_blocked ? "blocked" : "plain",
                      act, with_res, e);
            }
            if (dw) free(wfull);
            free(x), free(xb), free(wt), free(wp), free(bias), free(res), free(resb), free(want), free(yb), free(got);
        }
}

/* B packed once (tdm_sgemm_pack_b) and the GEMM on it (tdm_sgemm_pb) of set ks, against the reference, both
 * orientations of B, K over several KC slices, partial panels and row blocks, with and without the epilogue; and the
 * transposed store with its epilogue. */
static void test_gemm_pb(const tdm_kernel_set *ks) {
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {49, 512, 300}, {13, 33, 600}, {196, 64, 27}, {12, 32, 256}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int tb = 0; tb < 2; tb++) {
            size_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], ldc = n + 1;
            float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *bp = malloc(k * ((n + ks->nr - 1) / ks->nr) * ks->nr * 4);
            float *bias = malloc(m * 4), *want = malloc(m * ldc * 4), *got = malloc(m * ldc * 4);
            for (size_t q = 0; q < m * k; q++) a[q] = frand();
            for (size_t q = 0; q < k * n; q++) b[q] = frand();
            for (size_t q = 0; q < m; q++) bias[q] = frand();
            ks->sgemm_pack_b(b, tb ? k : n, tb, k, n, bp);
            for (int with_ep = 0; with_ep < 2; with_ep++) {
                tdm_sgemm_ref(0, tb, m, n, k, 1.0f, a, k, b, tb ? k : n, 0.0f, want, ldc);
                if (with_ep)
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++) want[i * ldc + j] = act_ref(want[i * ldc + j] + bias[i], TDM_ACT_GELU, 0, 0);
                for (size_t q = 0; q < m * ldc; q++) got[q] = -7.0f;
                tdm_gemm_ep ep = {.bias = bias, .act = TDM_ACT_GELU};
                ks->sgemm_pb(m, n, k, a, k, 1, bp, got, ldc, with_ep ? &ep : NULL);
                double worst = 0;
                int gap = 0;
                for (size_t i = 0; i < m; i++) {
                    for (size_t j = 0; j < n; j++) {
                        double e = fabs((double)got[i * ldc + j] - want[i * ldc + j]) / (1.0 + fabs((double)want[i * ldc + j]));
                        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                    }
                    gap |= got[i * ldc + n] != -7.0f;
                }
                check(worst <= 4.0 * (double)(k + 2) * 1.2e-7 && !gap, "gemm_pb %s m=%zu n=%zu k=%zu trans_b %d ep %d: error %.3g%s",
                      ks->name, m, n, k, tb, with_ep, worst, gap ? ", wrote outside C" : "");
            }
            /* A read by columns: the transpose of a [k x m] matrix */
            float *at = malloc(k * m * 4);
            for (size_t i = 0; i < m; i++)
                for (size_t q = 0; q < k; q++) at[q * m + i] = a[i * k + q];
            tdm_sgemm_ref(0, tb, m, n, k, 1.0f, a, k, b, tb ? k : n, 0.0f, want, ldc);
            ks->sgemm_pb(m, n, k, at, 1, m, bp, got, ldc, NULL);
            double worst = 0;
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    double e = fabs((double)got[i * ldc + j] - want[i * ldc + j]) / (1.0 + fabs((double)want[i * ldc + j]));
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                }
            check(worst <= 4.0 * (double)(k + 2) * 1.2e-7, "gemm_pb %s m=%zu n=%zu k=%zu trans_b %d, A by columns: error %.3g",
                  ks->name, m, n, k, tb, worst);
            free(at);
            free(a), free(b), free(bp), free(bias), free(want), free(got);
        }
    static const size_t ts[][2] = {{49, 512}, {7, 3}, {196, 40}, {16, 16}, {1, 33}};
    for (size_t si = 0; si < sizeof ts / sizeof ts[0]; si++) {
        size_t n = ts[si][0], m = ts[si][1], ldct = m + 3;
        float *ct = malloc(n * ldct * 4), *bias = malloc(m * 4), *res = malloc(m * n * 4), *y = malloc(m * n * 4);
        for (size_t q = 0; q < n * ldct; q++) ct[q] = frand();
        for (size_t q = 0; q < m; q++) bias[q] = frand();
        for (size_t q = 0; q < m * n; q++) res[q] = frand();
        memset(y, 0xff, m * n * 4);
        size_t half = m / 2; /* two calls over channel ranges, as threads make them */
        ks->tstore(ct, ldct, n, 0, half, y, n, bias, res, TDM_ACT_HARD_SWISH, 0, 0);
        ks->tstore(ct, ldct, n, half, m, y, n, bias, res, TDM_ACT_HARD_SWISH, 0, 0);
        double worst = 0;
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < n; i++) {
                float want = act_ref(ct[i * ldct + j] + bias[j] + res[j * n + i], TDM_ACT_HARD_SWISH, 0, 0);
                double e = fabs((double)y[j * n + i] - want);
                if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
            }
        check(worst < 1e-6, "tstore %s n=%zu m=%zu: error %.3g", ks->name, n, m, worst);
        free(ct), free(bias), free(res), free(y);
    }
}

/* tdm_pack_b_consuming (gemm.c: the load packs dense weights piece by piece, giving b's pages back as it goes) writes
 * exactly what one tdm_sgemm_pack_b call writes, for both layouts of b, depths across several KC slices and widths
 * that are not whole panels; with drop set, b is a heap block whose pages may be zeroed, as at load. */
static void test_pack_b_consuming(void) {
    const tdm_kernel_set *ks = tdm_kernels();
    static const size_t shapes[][2] = {{1, 1}, {5, 7}, {256, 32}, {300, 33}, {600, 1000}, {25088, 70}, {3, 4096}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int tb = 0; tb < 2; tb++)
            for (int drop = 0; drop < 2; drop++) {
                size_t k = shapes[si][0], n = shapes[si][1], np = (n + ks->nr - 1) / ks->nr * ks->nr, ldb = tb ? k : n;
                float *b = malloc(k * n * 4), *want = malloc(k * np * 4), *got = malloc(k * np * 4);
                for (size_t q = 0; q < k * n; q++) b[q] = frand();
                ks->sgemm_pack_b(b, ldb, tb, k, n, want);
                memset(got, 0xff, k * np * 4);
                tdm_pack_b_consuming(b, ldb, tb, k, n, got, drop);
                check(memcmp(want, got, k * np * 4) == 0, "pack_b_consuming %s k=%zu n=%zu trans_b %d drop %d: differs",
                      ks->name, k, n, tb, drop);
                free(b), free(want), free(got);
            }
}

/* tdm_parallelize_parts: every part runs exactly once, with the part count it was asked for (64 at most), on a slot
 * below the thread count that no other call holds at the same time; NULL pool: one call (0, 1, slot 0). */
typedef struct {
    atomic_int calls[64], busy[8];
    atomic_int bad_parts, bad_slot, overlap;
    atomic_uint sink; /* keeps the busy work below from being optimised away */
    size_t want_parts, threads;
} parts_probe;

static void parts_fn(void *ctx, size_t part, size_t parts, size_t slot) {
    parts_probe *pr = ctx;
    if (parts != pr->want_parts || part >= parts) atomic_fetch_add(&pr->bad_parts, 1);
    if (slot >= pr->threads) {
        atomic_fetch_add(&pr->bad_slot, 1);
        return;
    }
    if (atomic_exchange(&pr->busy[slot], 1)) atomic_fetch_add(&pr->overlap, 1);
    unsigned spin = 0; /* some work, so that threads overlap and take each other's parts */
    for (unsigned i = 0; i < 2000u * (unsigned)(part % 3 + 1); i++) spin = spin * 31u + i;
    atomic_fetch_add_explicit(&pr->sink, spin, memory_order_relaxed);
    atomic_store(&pr->busy[slot], 0);
    if (part < 64) atomic_fetch_add(&pr->calls[part], 1);
}

static void test_pool_parts(void) {
    tdm_alloc al = {0};
    static const size_t counts[] = {0, 1, 2, 3, 5, 8, 13, 64, 65, 200};
    for (int threads = 1; threads <= 4; threads++) {
        tdm_pool *pool = tdm_pool_create(&al, threads);
        size_t t = (size_t)tdm_pool_threads(pool);
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
            for (int rep = 0; rep < 20; rep++) {
                parts_probe pr;
                memset(&pr, 0, sizeof pr);
                size_t asked = counts[ci];
                pr.want_parts = !pool || asked <= 1 ? (asked ? 1 : 0) : asked < 64 ? asked : 64;
                pr.threads = t;
                tdm_parallelize_parts(pool, parts_fn, &pr, asked);
                int once = 1;
                for (size_t i = 0; i < 64; i++) once &= atomic_load(&pr.calls[i]) == (i < pr.want_parts ? 1 : 0);
                if (rep == 19 || !once || pr.bad_parts || pr.bad_slot || pr.overlap)
                    check(once && !pr.bad_parts && !pr.bad_slot && !pr.overlap,
                          "parallelize_parts threads %zu parts %zu (x20): once %d, bad parts %d, bad slot %d, overlap %d",
                          t, asked, once, atomic_load(&pr.bad_parts), atomic_load(&pr.bad_slot),
                          atomic_load(&pr.overlap));
                if (!once) break;
            }
        tdm_pool_destroy(pool);
    }
}

int main(void) {
    printf("kernel set selected for this CPU: %s\n", tdm_kernel_isa());
    test_gemm_sizes("blocked", tdm_sgemm_blocked);
    test_gemm_sizes("portable-4x3", tdm_sgemm_4x3__scalar);
    /* every kernel set this build has, each against the references; the ones this CPU or build lacks are named */
    static const char *const sets[] = {"scalar", "avx2", "avx512", "wasm_simd128"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const char *why = NULL;
        const tdm_kernel_set *ks = tdm_kernels_named(sets[i], &why);
        if (!ks) {
            printf("SKIP kernel set %s: %s\n", sets[i], why);
            continue;
        }
        int before = failed;
        printf("kernel set %s\n", ks->name);
        test_gemm_sizes(ks->name, ks->sgemm);
        test_conv_direct(ks);
        test_winograd(ks);
        test_dwconv(ks);
        test_gemm_ep(ks);
        test_pool2d(ks);
        test_vunary(ks);
        test_dense_ep(ks);
        test_tfm_rows(ks);
        test_nchwc(ks);
        test_gemm_pb(ks);
        printf("kernel set %s: %s\n", ks->name, failed == before ? "ok" : "FAILED");
    }
    test_gemm_sizes("dispatch", tdm_sgemm);
    test_gemm_sizes("selected", tdm_sgemm_selected());
    test_gemm_empty();
    test_epilogue();
    test_pack_b_consuming();
    test_pool_parts();
    printf("kernels: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
