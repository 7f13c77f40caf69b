/* winograd.c - the ISA-independent parts of Winograd F(2x2,3x3) and F(4x4,3x3): geometry, the weight transform (done
 * once at load time, in double) and its inverse, and the padded copy of the input; plus the one-lane (portable)
 * transforms from winograd_vec.inc. */
#define WINO_SUFFIX __scalar
#include <string.h>
#include "winograd_vec.inc"

void tdm_wino_geometry(tdm_wino_geom *g, size_t c, size_t k, size_t h, size_t w, size_t pad_top, size_t pad_left,
                       size_t ho, size_t wo, size_t vw, size_t rows, size_t nr, size_t m) {
    g->c = c;
    g->k = k;
    g->h = h;
    g->w = w;
    g->pt = pad_top;
    g->pl = pad_left;
    g->ho = ho;
    g->wo = wo;
    g->m = m;
    g->pts = (m + 2) * (m + 2);
    g->rows = rows ? rows : 1;
    g->ty = ((ho + m - 1) / m + g->rows - 1) / g->rows * g->rows;
    g->tx = (wo + m - 1) / m;
    g->txp = (g->tx + vw - 1) / vw * vw;
    g->nr = nr;
    g->vw = vw;
    g->tp = (g->ty * g->txp + nr - 1) / nr * nr;
    g->hq = m * g->ty + 2;
    /* the last vector of tiles (t = txp - vw) loads m*vw floats at m*t and at m*t + m: up to column m*txp + m - 1 */
    g->wq = m * g->txp + m;
}

size_t tdm_wino_x_floats(const tdm_wino_geom *g) { return g->c * g->hq * g->wq; }
#define WINO_POINT_PAD 16 /* floats: one cache line between the points' slices */
size_t tdm_wino_v_stride(const tdm_wino_geom *g, size_t tiles) {
    return g->c * ((tiles + g->nr - 1) / g->nr * g->nr) + WINO_POINT_PAD;
}
size_t tdm_wino_m_stride(const tdm_wino_geom *g, size_t tiles) {
    return g->k * ((tiles + g->nr - 1) / g->nr * g->nr) + WINO_POINT_PAD;
}
size_t tdm_wino_v_floats(const tdm_wino_geom *g, size_t tiles) { return g->pts * tdm_wino_v_stride(g, tiles); }
size_t tdm_wino_m_floats(const tdm_wino_geom *g, size_t tiles) { return g->pts * tdm_wino_m_stride(g, tiles); }

/* The weight transform G: row i is [1, p_i, p_i^2] / prod_{j != i} (p_i - p_j) for the finite points p_i and [0 0 1]
 * for the infinite one. F(2x2,3x3) (points 0, +-1): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. F(4x4,3x3): points
 * 0, +-a, +-b (TDM_WINO4_A, _B), rows in that order. */
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static void wino4_g(double G[6][3]) {
    const double p[5] = {0, TDM_WINO4_A, -TDM_WINO4_A, TDM_WINO4_B, -TDM_WINO4_B};
    for (int i = 0; i < 5; i++) {
        double n = 1;
        for (int j = 0; j < 5; j++)
            if (j != i) n *= p[i] - p[j];
        G[i][0] = 1 / n, G[i][1] = p[i] / n, G[i][2] = p[i] * p[i] / n;
    }
    G[5][0] = 0, G[5][1] = 0, G[5][2] = 1;
}

/* U = G g G^T per (output, input) channel, in double, 8 input channels at a time: the innermost loops run over the
 * 8 channels with fixed trip counts, so compilers vectorise them (a model's load transforms every 3x3 weight; one
 * channel at a time took a quarter of ResNet-50's load), and the 8 results of a transform point are stored
 * contiguously, as U's layout [(m+2)^2][k][c] has them. */
#define WINO_WB 8
void tdm_wino_weights(const float *w, size_t k, size_t c, float *u, size_t m) {
    const size_t n = m + 2;
    double G4[6][3];
    wino4_g(G4);
    for (size_t o = 0; o < k; o++)
        for (size_t i0 = 0; i0 < c; i0 += WINO_WB) {
            const size_t nb = c - i0 < WINO_WB ? c - i0 : WINO_WB;
            double g[9][WINO_WB] = {{0}}, t[6][3][WINO_WB];
            for (size_t q = 0; q < nb; q++)
                for (int e = 0; e < 9; e++) g[e][q] = w[(o * c + i0 + q) * 9 + (size_t)e];
            for (size_t a = 0; a < n; a++) {
                const double *G = m == 4 ? G4[a] : G2[a];
                for (int b = 0; b < 3; b++)
                    for (int q = 0; q < WINO_WB; q++) t[a][b][q] = G[0] * g[b][q] + G[1] * g[3 + b][q] + G[2] * g[6 + b][q];
            }
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++) {
                    const double *G = m == 4 ? G4[b] : G2[b];
                    float r[WINO_WB];
                    for (int q = 0; q < WINO_WB; q++) r[q] = (float)(t[a][0][q] * G[0] + t[a][1][q] * G[1] + t[a][2][q] * G[2]);
                    memcpy(u + ((a * n + b) * k + o) * c + i0, r, nb * sizeof(float));
                }
        }
}

/* G's first and last rows pick one tap, and the rows of +-p differ only by the centre tap, so g = R (R U^T)^T with
 * R(x) = (x0, x1 - x2, x3) for F(2x2) and R(x) = (a^2 b^2 x0, a (a^2 - b^2) (x1 - x2), x5) for F(4x4) (the first
 * row's 1 / prod p_j and the centre tap's 2a / prod (a - p_j) inverted). */
void tdm_wino_restore(const float *u, size_t k, size_t c, float *w, size_t m) {
    const size_t n = m + 2;
    const double pa = TDM_WINO4_A, pb = TDM_WINO4_B;
    const double s0 = m == 4 ? pa * pa * pb * pb : 1.0, s1 = m == 4 ? pa * (pa * pa - pb * pb) : 1.0;
    for (size_t o = 0; o < k; o++)
        for (size_t i = 0; i < c; i++) {
            double x[6][6], t[6][3];
            for (size_t a = 0; a < n * n; a++) x[a / n][a % n] = u[(a * k + o) * c + i];
            for (size_t a = 0; a < n; a++) {
                t[a][0] = s0 * x[a][0];
                t[a][1] = s1 * (x[a][1] - x[a][2]);
                t[a][2] = x[a][n - 1];
            }
            float *g = w + (o * c + i) * 9;
            for (int b = 0; b < 3; b++) {
                g[b] = (float)(s0 * t[0][b]);
                g[3 + b] = (float)(s1 * (t[1][b] - t[2][b]));
                g[6 + b] = (float)t[n - 1][b];
            }
        }
}

void tdm_wino_pack_rows(const tdm_wino_geom *g, const float *x, float *X, size_t c0, size_t c1, size_t r0, size_t r1) {
    /* Per channel, one memset of the rows [r0, r1) (contiguous, and short: a call per pad cost more than the zeros),
     * then a memcpy per image row. */
    const size_t plane = g->hq * g->wq, left = g->pl, w = g->w;
    const size_t n = w < g->wq - left ? w : g->wq - left;
    const size_t i0 = r0 > g->pt ? r0 : g->pt, i1 = r1 < g->pt + g->h ? r1 : g->pt + g->h; /* image rows */
    for (size_t c = c0; c < c1; c++) {
        float *d = X + c * plane;
        const float *xc = x + c * g->h * w;
        if (r0 < r1) memset(d + r0 * g->wq, 0, (r1 - r0) * g->wq * sizeof(float));
        for (size_t r = i0; r < i1; r++) memcpy(d + r * g->wq + left, xc + (r - g->pt) * w, n * sizeof(float));
    }
}
