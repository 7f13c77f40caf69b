/* vmath.h - exp, sigmoid, tanh, erf and GELU on tdm_vf vectors, written once against vec.h (included after it by the
 * kernel sources that need them). Accuracy against double precision (checked by the kernel tests): exp within 5e-7
 * relative, sigmoid, tanh and erf within 3e-7 absolute, GELU within 4e-7. Out-of-range inputs saturate as the
 * functions do (exp overflows to infinity and underflows to zero). The activations (sigmoid, SiLU, tanh, erf) take the
 * cheaper vf_exp_narrow on a clamped argument and, for sigmoid and tanh, vec.h's refined reciprocal: in a 1x1
 * convolution with 16 input channels and SiLU, the activation costs as much as the arithmetic. */
#ifndef TDM_VMATH_H
#define TDM_VMATH_H

/* e^r for r = x - n ln2 (ln2 split in two for exactness, |r| <= ln2/2): cephes' degree-6 polynomial */
static inline tdm_vf vf_exp_reduced(tdm_vf x, tdm_vf n) {
    tdm_vf r = vf_fnmadd(n, vf_set1(0.693359375f), x);
    r = vf_fnmadd(n, vf_set1(-2.12194440e-4f), r);
    tdm_vf p = vf_set1(1.9875691500e-4f);
    p = vf_fmadd(p, r, vf_set1(1.3981999507e-3f));
    p = vf_fmadd(p, r, vf_set1(8.3334519073e-3f));
    p = vf_fmadd(p, r, vf_set1(4.1665795894e-2f));
    p = vf_fmadd(p, r, vf_set1(1.6666665459e-1f));
    p = vf_fmadd(p, r, vf_set1(5.0000001201e-1f));
    return vf_fmadd(p, vf_mul(r, r), vf_add(r, vf_set1(1.0f)));
}

/* e^x: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for exactness), e^r by cephes' degree-6 polynomial, then
 * times 2^n as two factors 2^(n/2) 2^(n - n/2), each a normal float, so that the product overflows to infinity and
 * underflows to zero as e^x does. */
static inline tdm_vf vf_exp(tdm_vf x) {
    x = vf_min(vf_max(x, vf_set1(-104.0f)), vf_set1(89.0f));
    tdm_vf n = vf_round(vf_mul(x, vf_set1(1.44269504088896341f)));
    tdm_vf p = vf_exp_reduced(x, n);
    tdm_vf n1 = vf_round(vf_mul(n, vf_set1(0.5f))), n2 = vf_sub(n, n1);
    return vf_mul(vf_mul(p, vf_pow2i(n1)), vf_pow2i(n2));
}

/* e^x for x in [-87.3, 88.3] (callers clamp to it, where e^x is a normal float): as vf_exp, but n is rounded by
 * adding 1.5 * 2^23 + 127 (the float's unit is then 1, so its low mantissa bits hold n + 127) and 2^n is those bits
 * shifted into the exponent: one scaling instead of two, no conversion. For the activations, where the ends saturate. */
static inline tdm_vf vf_exp_narrow(tdm_vf x) {
    const tdm_vf magic = vf_set1(12582912.0f + 127.0f);
    tdm_vf t = vf_fmadd(x, vf_set1(1.44269504088896341f), magic);
    tdm_vf n = vf_sub(t, magic);
    tdm_vf p = vf_exp_reduced(x, n);
    return vf_mul(p, vf_bits_shl23(t));
}

/* 1 / (1 + e^-x), e^-x clamped to the normal floats (beyond them the sigmoid is 0 or 1 to float precision), the
 * division a reciprocal estimate refined by a Newton step where the ISA has one (vec.h vf_recip) */
static inline tdm_vf vf_sigmoid(tdm_vf x) {
    tdm_vf e = vf_exp_narrow(vf_min(vf_max(vf_sub(vf_zero(), x), vf_set1(-87.0f)), vf_set1(88.0f)));
    return vf_recip(vf_add(vf_set1(1.0f), e));
}

/* tanh(x) = sign(x) (1 - 2 / (e^(2|x|) + 1)): absolute error about 1e-7 everywhere, saturating to +-1. */
static inline tdm_vf vf_tanh(tdm_vf x) {
    tdm_vf e = vf_exp_narrow(vf_min(vf_mul(vf_abs(x), vf_set1(2.0f)), vf_set1(88.0f)));
    tdm_vf t = vf_fnmadd(vf_set1(2.0f), vf_recip(vf_add(e, vf_set1(1.0f))), vf_set1(1.0f));
    return vf_copysign(t, x);
}

/* erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, but near 0, where 1 - t p(t) e^(-x^2) cancels
 * to a small number, the float rounding reaches 4.8e-7): 1 - t (a1 + t (a2 + ... t a5)) e^(-x^2), with
 * t = 1 / (1 + p |x|), and the sign of x. */
static inline tdm_vf vf_erf_as(tdm_vf x) {
    tdm_vf a = vf_abs(x);
    tdm_vf t = vf_div(vf_set1(1.0f), vf_fmadd(a, vf_set1(0.3275911f), vf_set1(1.0f)));
    tdm_vf p = vf_set1(1.061405429f);
    p = vf_fmadd(p, t, vf_set1(-1.453152027f));
    p = vf_fmadd(p, t, vf_set1(1.421413741f));
    p = vf_fmadd(p, t, vf_set1(-0.284496736f));
    p = vf_fmadd(p, t, vf_set1(0.254829592f));
    p = vf_mul(p, t);
    tdm_vf y = vf_fnmadd(p, vf_exp_narrow(vf_max(vf_sub(vf_zero(), vf_mul(a, a)), vf_set1(-87.0f))), vf_set1(1.0f));
    return vf_copysign(y, x);
}

/* erf: below |x| = 0.5 its Taylor series, x (2/sqrt(pi)) (1 - x^2/3 + x^4/10 - x^6/42 + x^8/216 - x^10/1320) (the
 * next term is below 2e-8 there), which keeps the small values A&S cancels; A&S beyond. GELU uses A&S alone: its
 * x/2 factor shrinks the error near 0. */
static inline tdm_vf vf_erf(tdm_vf x) {
    tdm_vf x2 = vf_mul(x, x);
    tdm_vf q = vf_set1(-1.0f / 1320.0f);
    q = vf_fmadd(q, x2, vf_set1(1.0f / 216.0f));
    q = vf_fmadd(q, x2, vf_set1(-1.0f / 42.0f));
    q = vf_fmadd(q, x2, vf_set1(1.0f / 10.0f));
    q = vf_fmadd(q, x2, vf_set1(-1.0f / 3.0f));
    q = vf_fmadd(q, x2, vf_set1(1.0f));
    tdm_vf small = vf_mul(vf_mul(q, vf_set1(1.12837916709551257f)), x);
    return vf_select_lt(vf_abs(x), vf_set1(0.5f), small, vf_erf_as(x));
}

/* GELU, the exact (erf) form: x/2 (1 + erf(x / sqrt 2)). */
static inline tdm_vf vf_gelu(tdm_vf x) {
    tdm_vf e = vf_erf_as(vf_mul(x, vf_set1(0.70710678118654752f)));
    return vf_mul(vf_mul(x, vf_set1(0.5f)), vf_add(e, vf_set1(1.0f)));
}

/* GELU, GPT-2's tanh form (gelu_new, ONNX Gelu with approximate="tanh"): x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static inline tdm_vf vf_gelu_tanh(tdm_vf x) {
    tdm_vf u = vf_mul(vf_fmadd(vf_mul(x, x), vf_set1(0.044715f), vf_set1(1.0f)), x);
    tdm_vf t = vf_tanh(vf_mul(u, vf_set1(0.79788456080286536f)));
    return vf_mul(vf_mul(x, vf_set1(0.5f)), vf_add(t, vf_set1(1.0f)));
}

#endif /* TDM_VMATH_H */
