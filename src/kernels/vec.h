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
/* masked loads and stores for the tails of rows (masked-off lanes are neither read nor written) */
#define TDM_VEC_HAS_PARTIAL 1
static inline __m256i vf_mask8(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline tdm_vf vf_load_partial(const float *p, size_t n) { return _mm256_maskload_ps(p, vf_mask8(n)); }
static inline void vf_store_partial(float *p, tdm_vf v, size_t n) { _mm256_maskstore_ps(p, vf_mask8(n), v); }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline tdm_vf vf_fnmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return _mm256_add_ps(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return _mm256_sub_ps(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return _mm256_mul_ps(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return _mm256_max_ps(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return _mm256_min_ps(a, b); }
static inline tdm_vf vf_div(tdm_vf a, tdm_vf b) { return _mm256_div_ps(a, b); }
/* 1/a: the 12-bit estimate and a Newton step (relative error about 2e-7, as a division's rounding); 0 past 2^126 */
static inline tdm_vf vf_recip(tdm_vf a) {
    __m256 r = _mm256_rcp_ps(a);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
}
/* the float whose bits are t's shifted left by 23 (vf_exp_narrow's 2^n from the integer in t's low mantissa bits) */
static inline tdm_vf vf_bits_shl23(tdm_vf t) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)); }
static inline tdm_vf vf_abs(tdm_vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
/* a < b ? x : y, lane by lane */
static inline tdm_vf vf_select_lt(tdm_vf a, tdm_vf b, tdm_vf x, tdm_vf y) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
/* |mag| with the sign of sgn */
static inline tdm_vf vf_copysign(tdm_vf mag, tdm_vf sgn) {
    const __m256 s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sgn));
}
static inline tdm_vf vf_round(tdm_vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for integer-valued n in [-126, 127] */
static inline tdm_vf vf_pow2i(tdm_vf n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
/* p[0..2W) = a0 b0 a1 b1 ...; and the inverse: even/odd elements of p[0..2W). */
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
/* Even and odd elements of a and b inside each 128-bit lane: the core of the 2-way deinterleaves. */
static inline void vf_unzip2_lanes(__m256 a, __m256 b, tdm_vf *even, tdm_vf *odd) {
    *even = _mm256_shuffle_ps(a, b, 0x88);
    *odd = _mm256_shuffle_ps(a, b, 0xDD);
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    vf_unzip2_lanes(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), even, odd); /* then the lanes' halves in order */
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(*even), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(*odd), 0xD8));
}
/* A 4x4 transpose inside each 128-bit lane: the core of the 4-way (de)interleaves (it is its own inverse). */
static inline void vf_transpose4_lanes(__m256 a, __m256 b, __m256 c, __m256 d, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2,
                                       tdm_vf *q3) {
    __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
    __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
    *q0 = _mm256_shuffle_ps(t0, t2, 0x44);
    *q1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    *q2 = _mm256_shuffle_ps(t1, t3, 0x44);
    *q3 = _mm256_shuffle_ps(t1, t3, 0xEE);
}
static inline void vf_store4(float *p, tdm_vf a, tdm_vf b, tdm_vf c, tdm_vf d) {
    _mm256_storeu_ps(p, a), _mm256_storeu_ps(p + 8, b), _mm256_storeu_ps(p + 16, c), _mm256_storeu_ps(p + 24, d);
}
/* 4-way: q[k] = p[k], p[k+4], p[k+8], ... for p[0..4W); and the inverse. The in-lane transpose gives the right
 * elements in the order (0 8 16 24 | 4 12 20 28); one lane-crossing permute fixes the order. */
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    vf_transpose4_lanes(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24),
                        q0, q1, q2, q3);
    const __m256i idx = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    *q0 = _mm256_permutevar8x32_ps(*q0, idx);
    *q1 = _mm256_permutevar8x32_ps(*q1, idx);
    *q2 = _mm256_permutevar8x32_ps(*q2, idx);
    *q3 = _mm256_permutevar8x32_ps(*q3, idx);
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    tdm_vf r0, r1, r2, r3;
    vf_transpose4_lanes(_mm256_permutevar8x32_ps(q0, idx), _mm256_permutevar8x32_ps(q1, idx),
                        _mm256_permutevar8x32_ps(q2, idx), _mm256_permutevar8x32_ps(q3, idx), &r0, &r1, &r2, &r3);
    vf_store4(p, r0, r1, r2, r3);
}

/* Transposes the TDM_VW x TDM_VW block r[0..VW) (r[i] lane j <-> r[j] lane i): pixels of VW channels <-> channels of
 * VW pixels (the depthwise channel-block kernel). */
static inline void vf_transpose_block(tdm_vf *r) {
    __m256 u[8]; /* the 4x4 transposes of rows 0-3 and 4-7 inside each lane, then the lanes swapped across */
    vf_transpose4_lanes(r[0], r[1], r[2], r[3], &u[0], &u[1], &u[2], &u[3]);
    vf_transpose4_lanes(r[4], r[5], r[6], r[7], &u[4], &u[5], &u[6], &u[7]);
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* The same (de)interleaves with the vector's lanes in an order of the ISA's choosing, which the matching store
 * undoes: for data whose lanes are independent (Winograd's tiles), they skip the lane-crossing permutes. Here the
 * lanes come as (0 1 4 5 | 2 3 6 7) for 2-way and (0 2 4 6 | 1 3 5 7) for 4-way. */
#define TDM_VEC_UNZIP_PERMUTED 1
static inline void vf_load_unzip2(const float *p, tdm_vf *even, tdm_vf *odd) {
    vf_unzip2_lanes(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), even, odd);
}
static inline void vf_store_zip2(float *p, tdm_vf a, tdm_vf b) {
    _mm256_storeu_ps(p, _mm256_unpacklo_ps(a, b));
    _mm256_storeu_ps(p + 8, _mm256_unpackhi_ps(a, b));
}
static inline void vf_load_unzip4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    vf_transpose4_lanes(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24),
                        q0, q1, q2, q3);
}
static inline void vf_store_zip4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    tdm_vf r0, r1, r2, r3;
    vf_transpose4_lanes(q0, q1, q2, q3, &r0, &r1, &r2, &r3);
    vf_store4(p, r0, r1, r2, r3);
}

/* Two tile rows per vector, for maps whose rows hold 4 tiles (half a vector): lanes 0-3 come from (go to) the row at
 * p, lanes 4-7 from the row at q, each in order; otherwise as vf_load_unzip2/4 and vf_store_zip2/4. */
static inline __m256 vf_load_rows2(const float *p, const float *q) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(q), 1);
}
static inline void vf_store_rows2(float *p, float *q, __m256 v) {
    _mm_storeu_ps(p, _mm256_castps256_ps128(v));
    _mm_storeu_ps(q, _mm256_extractf128_ps(v, 1));
}
static inline void vf_load_unzip2_rows2(const float *p, const float *q, tdm_vf *even, tdm_vf *odd) {
    vf_unzip2_lanes(vf_load_rows2(p, q), vf_load_rows2(p + 4, q + 4), even, odd);
}
static inline void vf_store_zip2_rows2(float *p, float *q, tdm_vf a, tdm_vf b) {
    vf_store_rows2(p, q, _mm256_unpacklo_ps(a, b));
    vf_store_rows2(p + 4, q + 4, _mm256_unpackhi_ps(a, b));
}
static inline void vf_load_unzip4_rows2(const float *p, const float *q, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2,
                                        tdm_vf *q3) {
    vf_transpose4_lanes(vf_load_rows2(p, q), vf_load_rows2(p + 4, q + 4), vf_load_rows2(p + 8, q + 8),
                        vf_load_rows2(p + 12, q + 12), q0, q1, q2, q3);
}
static inline void vf_store_zip4_rows2(float *p, float *q, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    tdm_vf r0, r1, r2, r3;
    vf_transpose4_lanes(q0, q1, q2, q3, &r0, &r1, &r2, &r3);
    vf_store_rows2(p, q, r0), vf_store_rows2(p + 4, q + 4, r1), vf_store_rows2(p + 8, q + 8, r2);
    vf_store_rows2(p + 12, q + 12, r3);
}

#elif defined(TDM_VEC_AVX512)
#include <immintrin.h>
typedef __m512 tdm_vf;
#define TDM_VW 16
#define TDM_VEC_NAME "avx512"
#define TDM_DW_NV 4
/* Tails through mask registers: a partial vector is one masked load or store, no buffer (vf_*_partial below). */
#define TDM_VEC_HAS_PARTIAL 1
static inline tdm_vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline tdm_vf vf_set1(float x) { return _mm512_set1_ps(x); }
static inline tdm_vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, tdm_vf v) { _mm512_storeu_ps(p, v); }
static inline __mmask16 vf_mask(size_t n) { return (__mmask16)((1u << n) - 1u); } /* n <= 16 lanes */
static inline tdm_vf vf_load_partial(const float *p, size_t n) { return _mm512_maskz_loadu_ps(vf_mask(n), p); }
static inline void vf_store_partial(float *p, tdm_vf v, size_t n) { _mm512_mask_storeu_ps(p, vf_mask(n), v); }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline tdm_vf vf_fnmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return _mm512_add_ps(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return _mm512_sub_ps(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return _mm512_mul_ps(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return _mm512_max_ps(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return _mm512_min_ps(a, b); }
static inline tdm_vf vf_div(tdm_vf a, tdm_vf b) { return _mm512_div_ps(a, b); }
static inline tdm_vf vf_recip(tdm_vf a) { /* the 14-bit estimate and a Newton step */
    __m512 r = _mm512_rcp14_ps(a);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
}
static inline tdm_vf vf_bits_shl23(tdm_vf t) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)); }
static inline tdm_vf vf_abs(tdm_vf a) { return _mm512_abs_ps(a); }
static inline tdm_vf vf_select_lt(tdm_vf a, tdm_vf b, tdm_vf x, tdm_vf y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x);
}
static inline tdm_vf vf_copysign(tdm_vf mag, tdm_vf sgn) {
    const __m512i s = _mm512_set1_epi32((int)0x80000000u);
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(s, _mm512_castps_si512(mag), _mm512_castps_si512(sgn), 0xAC));
}
static inline tdm_vf vf_round(tdm_vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline tdm_vf vf_pow2i(tdm_vf n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
/* Two-source permutes pick any lanes of a:b (0-15 from a, 16-31 from b): the 2- and 4-way (de)interleaves. */
static inline void vf_unzip2_512(tdm_vf a, tdm_vf b, tdm_vf *even, tdm_vf *odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *even = _mm512_permutex2var_ps(a, ie, b);
    *odd = _mm512_permutex2var_ps(a, io, b);
}
static inline void vf_store_interleaved(float *p, tdm_vf a, tdm_vf b) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    _mm512_storeu_ps(p, _mm512_permutex2var_ps(a, lo, b));
    _mm512_storeu_ps(p + 16, _mm512_permutex2var_ps(a, hi, b));
}
static inline void vf_load_deinterleaved(const float *p, tdm_vf *even, tdm_vf *odd) {
    vf_unzip2_512(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), even, odd);
}
/* 4-way: the even and odd elements of the even and odd streams. */
static inline void vf_load_deinterleaved4(const float *p, tdm_vf *q0, tdm_vf *q1, tdm_vf *q2, tdm_vf *q3) {
    tdm_vf e0, o0, e1, o1;
    vf_unzip2_512(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), &e0, &o0);
    vf_unzip2_512(_mm512_loadu_ps(p + 32), _mm512_loadu_ps(p + 48), &e1, &o1);
    vf_unzip2_512(e0, e1, q0, q2);
    vf_unzip2_512(o0, o1, q1, q3);
}
static inline void vf_store_interleaved4(float *p, tdm_vf q0, tdm_vf q1, tdm_vf q2, tdm_vf q3) {
    float e[32], o[32];
    vf_store_interleaved(e, q0, q2); /* elements 0, 2, 4, ... */
    vf_store_interleaved(o, q1, q3); /* elements 1, 3, 5, ... */
    vf_store_interleaved(p, _mm512_loadu_ps(e), _mm512_loadu_ps(o));
    vf_store_interleaved(p + 32, _mm512_loadu_ps(e + 16), _mm512_loadu_ps(o + 16));
}
/* 16 x 16: 4 x 4 transposes inside each 128-bit block of four rows at a time, then the blocks themselves. */
static inline void vf_transpose_block(tdm_vf *r) {
    __m512 v[4][4];
    for (int g = 0; g < 4; g++) {
        __m512 t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]), t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
        __m512 t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]), t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
        v[g][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        v[g][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        v[g][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
        v[g][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    }
    /* block L of v[g][k] holds column 4L + k of rows 4g..4g+3 */
    for (int k = 0; k < 4; k++) {
        __m512 a = _mm512_shuffle_f32x4(v[0][k], v[1][k], 0x44), b = _mm512_shuffle_f32x4(v[0][k], v[1][k], 0xEE);
        __m512 c = _mm512_shuffle_f32x4(v[2][k], v[3][k], 0x44), d = _mm512_shuffle_f32x4(v[2][k], v[3][k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(a, c, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(a, c, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(b, d, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
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
#ifdef __wasm_relaxed_simd__
/* the relaxed-SIMD build (mk/wasm.mk, clang-19): one f32x4.relaxed_madd, which the browser runs as a fused
 * multiply-add where the CPU has one (and as a multiply and an add where it does not) */
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return wasm_f32x4_relaxed_madd(a, b, c); }
static inline tdm_vf vf_fnmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return wasm_f32x4_relaxed_nmadd(a, b, c); }
#else
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }
static inline tdm_vf vf_fnmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return wasm_f32x4_sub(c, wasm_f32x4_mul(a, b)); }
#endif
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return wasm_f32x4_add(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return wasm_f32x4_sub(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return wasm_f32x4_mul(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return wasm_f32x4_pmax(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return wasm_f32x4_pmin(a, b); }
static inline tdm_vf vf_div(tdm_vf a, tdm_vf b) { return wasm_f32x4_div(a, b); }
static inline tdm_vf vf_recip(tdm_vf a) { return wasm_f32x4_div(wasm_f32x4_splat(1.0f), a); }
static inline tdm_vf vf_bits_shl23(tdm_vf t) { return wasm_i32x4_shl(t, 23); }
static inline tdm_vf vf_abs(tdm_vf a) { return wasm_f32x4_abs(a); }
static inline tdm_vf vf_select_lt(tdm_vf a, tdm_vf b, tdm_vf x, tdm_vf y) {
    return wasm_v128_bitselect(x, y, wasm_f32x4_lt(a, b));
}
static inline tdm_vf vf_copysign(tdm_vf mag, tdm_vf sgn) {
    return wasm_v128_bitselect(sgn, wasm_f32x4_abs(mag), wasm_f32x4_splat(-0.0f));
}
static inline tdm_vf vf_round(tdm_vf a) { return wasm_f32x4_nearest(a); }
static inline tdm_vf vf_pow2i(tdm_vf n) {
    return wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
}
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

static inline void vf_transpose_block(tdm_vf *r) {
    v128_t t0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
    r[0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
    r[1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
    r[2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
    r[3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
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
static inline tdm_vf vf_fnmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return vfmsq_f32(c, a, b); }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return vaddq_f32(a, b); }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return vsubq_f32(a, b); }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return vmulq_f32(a, b); }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return vmaxq_f32(a, b); }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return vminq_f32(a, b); }
static inline tdm_vf vf_div(tdm_vf a, tdm_vf b) { return vdivq_f32(a, b); }
static inline tdm_vf vf_recip(tdm_vf a) { return vdivq_f32(vdupq_n_f32(1.0f), a); }
static inline tdm_vf vf_bits_shl23(tdm_vf t) { return vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23)); }
static inline tdm_vf vf_abs(tdm_vf a) { return vabsq_f32(a); }
static inline tdm_vf vf_select_lt(tdm_vf a, tdm_vf b, tdm_vf x, tdm_vf y) { return vbslq_f32(vcltq_f32(a, b), x, y); }
static inline tdm_vf vf_copysign(tdm_vf mag, tdm_vf sgn) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sgn, vabsq_f32(mag));
}
static inline tdm_vf vf_round(tdm_vf a) { return vrndnq_f32(a); }
static inline tdm_vf vf_pow2i(tdm_vf n) {
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23));
}
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

static inline void vf_transpose_block(tdm_vf *r) {
    float32x4x2_t a = vtrnq_f32(r[0], r[1]), b = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
    r[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
    r[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
    r[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
}
#else /* scalar: a one-lane "vector", so the same kernel source also builds anywhere */
#include <stdint.h>
#include <string.h>
typedef float tdm_vf;
#define TDM_VW 1
#define TDM_VEC_NAME "scalar"
static inline tdm_vf vf_zero(void) { return 0.0f; }
static inline tdm_vf vf_set1(float x) { return x; }
static inline tdm_vf vf_load(const float *p) { return *p; }
static inline void vf_store(float *p, tdm_vf v) { *p = v; }
static inline tdm_vf vf_fmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return a * b + c; }
static inline tdm_vf vf_fnmadd(tdm_vf a, tdm_vf b, tdm_vf c) { return c - a * b; }
static inline tdm_vf vf_add(tdm_vf a, tdm_vf b) { return a + b; }
static inline tdm_vf vf_sub(tdm_vf a, tdm_vf b) { return a - b; }
static inline tdm_vf vf_mul(tdm_vf a, tdm_vf b) { return a * b; }
static inline tdm_vf vf_max(tdm_vf a, tdm_vf b) { return a > b ? a : b; }
static inline tdm_vf vf_min(tdm_vf a, tdm_vf b) { return a < b ? a : b; }
static inline tdm_vf vf_div(tdm_vf a, tdm_vf b) { return a / b; }
static inline tdm_vf vf_recip(tdm_vf a) { return 1.0f / a; }
static inline tdm_vf vf_bits_shl23(tdm_vf t) {
    uint32_t u;
    memcpy(&u, &t, sizeof u);
    u <<= 23;
    memcpy(&t, &u, sizeof t);
    return t;
}
static inline tdm_vf vf_abs(tdm_vf a) { return a < 0 ? -a : a; }
static inline tdm_vf vf_select_lt(tdm_vf a, tdm_vf b, tdm_vf x, tdm_vf y) { return a < b ? x : y; }
static inline tdm_vf vf_copysign(tdm_vf mag, tdm_vf sgn) { return __builtin_copysignf(mag, sgn); }
static inline tdm_vf vf_round(tdm_vf a) { return __builtin_rintf(a); }
static inline tdm_vf vf_pow2i(tdm_vf n) {
    union {
        int i;
        float f;
    } u = {((int)n + 127) << 23};
    return u.f;
}
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
static inline void vf_transpose_block(tdm_vf *r) { (void)r; }
#endif

/* A vector of the first n < TDM_VW floats at p (the rest zero), and a store of the first n lanes: tails of rows. ISAs
 * with masked memory operations define them above; the others go through a buffer. */
#if !defined(TDM_VEC_HAS_PARTIAL)
#include <string.h>
static inline tdm_vf vf_load_partial(const float *p, size_t n) {
    float t[TDM_VW] = {0};
    memcpy(t, p, n * sizeof(float));
    return vf_load(t);
}
static inline void vf_store_partial(float *p, tdm_vf v, size_t n) {
    float t[TDM_VW];
    vf_store(t, v);
    memcpy(p, t, n * sizeof(float));
}
#endif

#if !defined(TDM_VEC_UNZIP_PERMUTED) /* other ISAs: the lanes in order */
#define vf_load_unzip2 vf_load_deinterleaved
#define vf_store_zip2 vf_store_interleaved
#define vf_load_unzip4 vf_load_deinterleaved4
#define vf_store_zip4 vf_store_interleaved4
#endif

#endif /* TDM_VEC_H */
