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
#endif

#endif /* TDM_VEC_H */
