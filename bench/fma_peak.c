/* fma_peak.c - measures this CPU's single-precision FMA peak per core with AVX2 (12 independent 8-wide FMA chains,
 * each kept live with an empty asm so the compiler cannot merge them), on 1 thread and on 2 threads at once. The
 * figure that docs/PERFORMANCE.md divides the kernels' GFLOP/s by.
 *   cc -O2 -mavx2 -mfma -pthread bench/fma_peak.c -o build/fma_peak && build/fma_peak */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define KEEP(x) __asm__ volatile("" : "+x"(x))
#define STEP(x) x = _mm256_fmadd_ps(x, b, c)

static void *run(void *out) {
    __m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f), a3 = _mm256_set1_ps(0.4f);
    __m256 a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f), a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f);
    __m256 a8 = _mm256_set1_ps(0.9f), a9 = _mm256_set1_ps(1.0f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.2f);
    __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(0.0001f);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        const long n = 20000000;
        double t0 = now();
        for (long i = 0; i < n; i++) {
            STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5);
            STEP(a6); STEP(a7); STEP(a8); STEP(a9); STEP(a10); STEP(a11);
            KEEP(a0); KEEP(a1); KEEP(a2); KEEP(a3); KEEP(a4); KEEP(a5);
            KEEP(a6); KEEP(a7); KEEP(a8); KEEP(a9); KEEP(a10); KEEP(a11);
        }
        double g = (double)n * 12 * 16 / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    *(double *)out = best;
    return NULL;
}

int main(void) {
    double one, two_a, two_b;
    run(&one);
    pthread_t th;
    pthread_create(&th, NULL, run, &two_a);
    run(&two_b);
    pthread_join(th, NULL);
    printf("FMA peak: 1 thread %.1f GFLOP/s; 2 threads %.1f + %.1f GFLOP/s\n", one, two_a, two_b);
    return 0;
}
