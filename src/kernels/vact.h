/* vact.h - every fused activation (TDM_ACT_*, kernels.h) on a vector, for the kernels' epilogues: applied as each
 * vector of outputs is stored, with no second pass and no call per row. Included after vec.h. */
#ifndef TDM_VACT_H
#define TDM_VACT_H

#include "vmath.h"

/* The activation and its parameters, broadcast once per call: a/b are Clip's bounds, LeakyRelu's slope (a), or
 * HardSigmoid's alpha and beta. */
typedef struct vf_actp {
    int act;
    tdm_vf a, b;
} vf_actp;

static inline vf_actp vf_act_params(int act, float alpha, float beta) {
    vf_actp p = {act, vf_set1(alpha), vf_set1(beta)};
    if (act == TDM_ACT_RELU) p.a = vf_zero();
    return p;
}

static inline tdm_vf vf_act(tdm_vf v, const vf_actp *p) {
    switch (p->act) {
    case TDM_ACT_NONE: return v;
    case TDM_ACT_RELU: return vf_max(v, p->a);
    case TDM_ACT_CLIP: return vf_min(vf_max(v, p->a), p->b);
    case TDM_ACT_LEAKY_RELU: return vf_fmadd(vf_min(v, vf_zero()), p->a, vf_max(v, vf_zero()));
    case TDM_ACT_HARD_SWISH:
        return vf_mul(v, vf_min(vf_max(vf_fmadd(v, vf_set1(1.0f / 6.0f), vf_set1(0.5f)), vf_zero()), vf_set1(1.0f)));
    case TDM_ACT_SIGMOID: return vf_sigmoid(v);
    case TDM_ACT_SILU: return vf_mul(v, vf_sigmoid(v));
    case TDM_ACT_GELU: return vf_gelu(v);
    case TDM_ACT_HARD_SIGMOID: return vf_min(vf_max(vf_fmadd(v, p->a, p->b), vf_zero()), vf_set1(1.0f));
    default: return v;
    }
}

#endif /* TDM_VACT_H */
