/* winograd.c - the ISA-independent parts of Winograd F(2x2,3x3): geometry, the weight transform (done once at load
 * time, in double) and the padded copy of the input; plus the one-lane (portable) transforms from winograd_vec.inc. */
#define WINO_SUFFIX __scalar
#include "winograd_vec.inc"

void tdm_wino_geometry(tdm_wino_geom *g, size_t c, size_t k, size_t h, size_t w, size_t pad_top, size_t pad_left,
                       size_t ho, size_t wo, size_t vw, size_t nr) {
    g->c = c;
    g->k = k;
    g->h = h;
    g->w = w;
    g->pt = pad_top;
    g->pl = pad_left;
    g->ho = ho;
    g->wo = wo;
    g->ty = (ho + 1) / 2;
    g->tx = (wo + 1) / 2;
    g->txp = (g->tx + vw - 1) / vw * vw;
    g->nr = nr;
    g->vw = vw;
    g->tp = (g->ty * g->txp + nr - 1) / nr * nr;
    g->hq = 2 * g->ty + 2;
    g->wq = 2 * g->txp + 2 * vw + 2;
}

size_t tdm_wino_x_floats(const tdm_wino_geom *g) { return g->c * g->hq * g->wq; }
size_t tdm_wino_v_floats(const tdm_wino_geom *g, size_t tiles) { return 16 * g->c * ((tiles + g->nr - 1) / g->nr * g->nr); }
size_t tdm_wino_m_floats(const tdm_wino_geom *g, size_t tiles) { return 16 * g->k * ((tiles + g->nr - 1) / g->nr * g->nr); }

void tdm_wino_weights(const float *w, size_t k, size_t c, float *u) {
    /* U = G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; u is [16][k][c]. */
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (size_t o = 0; o < k; o++)
        for (size_t i = 0; i < c; i++) {
            const float *g3 = w + (o * c + i) * 9;
            double t[4][3];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 3; b++) t[a][b] = G[a][0] * g3[b] + G[a][1] * g3[3 + b] + G[a][2] * g3[6 + b];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                    u[((size_t)(a * 4 + b) * k + o) * c + i] =
                        (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
        }
}

void tdm_wino_pack_rows(const tdm_wino_geom *g, const float *x, float *X, size_t c0, size_t c1, size_t r0, size_t r1) {
    const size_t plane = g->hq * g->wq, left = g->pl, w = g->w;
    for (size_t c = c0; c < c1; c++) {
        float *d = X + c * plane;
        const float *xc = x + c * g->h * w;
        for (size_t r = r0; r < r1; r++) {
            float *dr = d + r * g->wq;
            if (r < g->pt || r - g->pt >= g->h) {
                memset(dr, 0, g->wq * sizeof(float));
                continue;
            }
            size_t n = w < g->wq - left ? w : g->wq - left;
            memset(dr, 0, left * sizeof(float));
            memcpy(dr + left, xc + (r - g->pt) * w, n * sizeof(float));
            memset(dr + left + n, 0, (g->wq - left - n) * sizeof(float));
        }
    }
}
