/* test_kernels.c - checks the fast GEMM variants (tdm_sgemm_blocked and the tdm_sgemm dispatcher) against the trusted
 * reference tdm_sgemm_ref on awkward sizes, transposes, strides, alpha/beta, plus the fused bias+activation epilogue.
 * Prints `kernels: N passed, M failed` last; exits nonzero on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/engine/internal.h"
#include "../src/kernels/kernels.h"

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
    default: return x;
    }
}

static void test_epilogue(void) {
    static const int acts[] = {TDM_ACT_NONE, TDM_ACT_RELU, TDM_ACT_CLIP, TDM_ACT_LEAKY_RELU, TDM_ACT_HARD_SWISH,
                               TDM_ACT_SIGMOID};
    float x[37], y[37];
    for (int i = 0; i < 37; i++) x[i] = 8.0f * frand();
    x[0] = 0.0f;
    x[1] = -3.0f;
    x[2] = 3.0f;
    x[3] = 200.0f;
    x[4] = -200.0f;
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++) {
        float a = acts[t] == TDM_ACT_CLIP ? -1.5f : 0.1f, b = acts[t] == TDM_ACT_CLIP ? 2.5f : 0.0f, bias = 0.75f;
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

int main(void) {
    test_gemm_sizes("blocked", tdm_sgemm_blocked);
    test_gemm_sizes("dispatch", tdm_sgemm);
    test_gemm_sizes("selected", tdm_sgemm_selected());
    test_gemm_empty();
    test_epilogue();
    printf("kernels: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
