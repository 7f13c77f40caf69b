/* vec.h - the thin vector layer: one `tdm_vf` float vector type and a handful of static inline operations, defined
 * once per ISA. Kernel sources are written against these names and compiled once per ISA (each *_avx2.c /
 * *_wasm128.c / *_neon.c file includes this header after defining its TDM_VEC_* macro). Only those files get ISA
 * flags such as -mavx2 -mfma or -msimd128. */
#ifndef TDM_VEC_H
#define TDM_VEC_H

#if defined(TDM_VEC_AVX2)
#include <immintrin.h>
typedef __m256 tdm_vf;
#define TDM_VW 8
#define TDM_VEC_NAME "avx2_fma"
/* Depthwise convolution: 4 independent output vectors per pass (dw_vec.inc); one vector at a time is one dependent
 * chain of KH*KW FMAs, bound by FMA latency. */
#define TDM_DW_NV 4
static inline tdm_vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline tdm_vf vf_set1(float x) { return _mm256_set1_ps(x); }
static inline tdm_vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, tdm_vf v) { _mm256_storeu_ps(p, v); }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return _mm256_add_ps(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return _mm256_sub_ps(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return _mm256_mul_ps(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return _mm256_max_ps(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return _mm256_min_ps(a, b); }
/* p[0..2W) = a0 b0 a1 b1 ...; and the inverse: even/odd elements of p[0..2W). */
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}
/* 4-way: q[k] = p[k], p[k+4], p[k+8], ... for p[0..4W); and the inverse. A 4x4 transpose inside each 128-bit lane
 * gives the right elements in the order (0 8 16 24 | 4 12 20 28); one lane-crossing permute fixes the order. */
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8), c = _mm256_loadu_ps(p + 16), d = _mm256_loadu_ps(p + 24);
    __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
    __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
    const __m256i idx = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    *q0 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0x44), idx);
    *q1 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0xEE), idx);
    *q2 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0x44), idx);
    *q3 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0xEE), idx);
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    q0 = _mm256_permutevar8x32_ps(q0, idx);
    q1 = _mm256_permutevar8x32_ps(q1, idx);
    q2 = _mm256_permutevar8x32_ps(q2, idx);
    q3 = _mm256_permutevar8x32_ps(q3, idx);
    __m256 t0 = _mm256_unpacklo_ps(q0, q1), t1 = _mm256_unpackhi_ps(q0, q1);
    __m256 t2 = _mm256_unpacklo_ps(q2, q3), t3 = _mm256_unpackhi_ps(q2, q3);
    _mm256_storeu_ps(p, _mm256_shuffle_ps(t0, t2, 0x44));
    _mm256_storeu_ps(p + 8, _mm256_shuffle_ps(t0, t2, 0xEE));
    _mm256_storeu_ps(p + 16, _mm256_shuffle_ps(t1, t3, 0x44));
    _mm256_storeu_ps(p + 24, _mm256_shuffle_ps(t1, t3, 0xEE));
}

#elif defined(TDM_VEC_X86_128)
/* 4-wide x86 vectors (SSE registers with the FMA of AVX2 machines), for the few kernels whose geometry wants 4 lanes
 * inside the AVX2 build: Winograd transforms on maps of 8x8 outputs or less, whose rows hold 4 tiles. */
#include <immintrin.h>
typedef __m128 tdm_vf;
#define TDM_VW 4
#define TDM_VEC_NAME "avx2_fma_128"
static inline tdm_vf vf_zero(void) { return _mm_setzero_ps(); }
static inline tdm_vf vf_set1(float x) { return _mm_set1_ps(x); }
static inline tdm_vf vf_load(const float *p) { return _mm_loadu_ps(p); }
static inline void vf_store(float *p, tdm_vf v) { _mm_storeu_ps(p, v); }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return _mm_fmadd_ps(a, b, c); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return _mm_add_ps(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return _mm_sub_ps(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return _mm_mul_ps(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return _mm_max_ps(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return _mm_min_ps(a, b); }
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    _mm_storeu_ps(p, _mm_unpacklo_ps(a, b));
    _mm_storeu_ps(p + 4, _mm_unpackhi_ps(a, b));
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 4);
    *even = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    *odd = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
}
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 4), c = _mm_loadu_ps(p + 8), d = _mm_loadu_ps(p + 12);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    *q0 = a, *q1 = b, *q2 = c, *q3 = d;
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    _MM_TRANSPOSE4_PS(q0, q1, q2, q3);
    _mm_storeu_ps(p, q0), _mm_storeu_ps(p + 4, q1), _mm_storeu_ps(p + 8, q2), _mm_storeu_ps(p + 12, q3);
}

#elif defined(TDM_VEC_WASM128)
#include <wasm_simd128.h>
typedef v128_t tdm_vf;
#define TDM_VW 4
#define TDM_VEC_NAME "wasm_simd128"
/* GEMM register tile 4 x 8 rather than 4 x 12: V8 gives wasm 16 xmm registers and keeps one for itself, so the 12
 * accumulators + 3 B vectors + 1 broadcast of 4 x 12 spill in the inner loop (4 x 8: 21 % less time for ResNets in
 * Node/V8). Honoured by gemm_vec.inc where it reads TDM_GEMM_NV. */
#define TDM_GEMM_NV 2
/* ... and its k loop walking one pointer per row of A (gemm_vec.inc says why). */
#define TDM_GEMM_ROW_POINTERS 1
/* Depthwise convolution: 2 output vectors per pass, across rows on small maps (dw_vec.inc). V8/Node, MobileNetV2's
 * depthwise layers: 2 per pass about 25 % less time than 1 a row at a time; 4 and 8 per pass are slower than 2. */
#define TDM_DW_NV 2
static inline tdm_vf vf_zero(void) { return wasm_f32x4_splat(0.0f); }
static inline tdm_vf vf_set1(float x) { return wasm_f32x4_splat(x); }
static inline tdm_vf vf_load(const float *p) { return wasm_v128_load(p); }
static inline void vf_store(float *p, tdm_vf v) { wasm_v128_store(p, v); }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return wasm_f32x4_add(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return wasm_f32x4_sub(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return wasm_f32x4_mul(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return wasm_f32x4_pmax(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return wasm_f32x4_pmin(a, b); }
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    wasm_v128_store(p, wasm_i32x4_shuffle(a, b, 0, 4, 1, 5));
    wasm_v128_store(p + 4, wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    v128_t a = wasm_v128_load(p), b = wasm_v128_load(p + 4);
    *even = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6);
    *odd = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
}
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    v128_t a = wasm_v128_load(p), b = wasm_v128_load(p + 4), c = wasm_v128_load(p + 8), d = wasm_v128_load(p + 12);
    v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
    *q0 = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
    *q1 = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
    *q2 = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
    *q3 = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    v128_t t0 = wasm_i32x4_shuffle(q0, q1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(q0, q1, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(q2, q3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(q2, q3, 2, 6, 3, 7);
    wasm_v128_store(p, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
    wasm_v128_store(p + 4, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
    wasm_v128_store(p + 8, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
    wasm_v128_store(p + 12, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
}

#elif defined(TDM_VEC_NEON)
#include <arm_neon.h>
typedef float32x4_t tdm_vf;
#define TDM_VW 4
#define TDM_VEC_NAME "neon"
static inline tdm_vf vf_zero(void) { return vdupq_n_f32(0.0f); }
static inline tdm_vf vf_set1(float x) { return vdupq_n_f32(x); }
static inline tdm_vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, tdm_vf v) { vst1q_f32(p, v); }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return vfmaq_f32(c, a, b); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return vaddq_f32(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return vsubq_f32(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return vmulq_f32(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return vmaxq_f32(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return vminq_f32(a, b); }
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    float32x4x2_t v = {{a, b}};
    vst2q_f32(p, v);
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    float32x4x2_t v = vld2q_f32(p);
    *even = v.val[0];
    *odd = v.val[1];
}
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    float32x4x4_t v = vld4q_f32(p);
    *q0 = v.val[0], *q1 = v.val[1], *q2 = v.val[2], *q3 = v.val[3];
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    float32x4x4_t v = {{q0, q1, q2, q3}};
    vst4q_f32(p, v);
}

#else /* scalar: a one-lane "vector", so the same kernel source also builds anywhere */
typedef float tdm_vf;
#define TDM_VW 1
#define TDM_VEC_NAME "scalar"
static inline tdm_vf vf_zero(void) { return 0.0f; }
static inline tdm_vf vf_set1(float x) { return x; }
static inline tdm_vf vf_load(const float *p) { return *p; }
static inline void vf_store(float *p, tdm_vf v) { *p = v; }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return a * b + c; }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return a + b; }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return a - b; }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return a * b; }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return a > b ? a : b; }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return a < b ? a : b; }
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    p[0] = a;
    p[1] = b;
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    *even = p[0];
    *odd = p[1];
}
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    *q0 = p[0], *q1 = p[1], *q2 = p[2], *q3 = p[3];
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    p[0] = q0, p[1] = q1, p[2] = q2, p[3] = q3;
}
#endif

#endif /* TDM_VEC_H */
