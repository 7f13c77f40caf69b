/* image.c - image decoding and preprocessing of src/common (see image.h): decode with Debian's stb_image (built into
 * libstb), bilinear resize with half-pixel centres, scale to [0,1], (x - mean) / std. */
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "util.h"

int image_is_image(const unsigned char *head, size_t n) {
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n >= 8 && memcmp(head, png, 8) == 0) return 1;
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return 1;
    return 0;
}

/* Sample positions for one axis of a bilinear resize with half-pixel centres (the convention of PyTorch's
 * interpolate(align_corners=False) and ONNX Resize's default): output i reads input (i + 0.5) * in / out - 0.5,
 * clamped to the edge. lo/hi are the two source indices and frac the weight of hi. */
static void image_resize_axis(int64_t in, int64_t out, int64_t *lo, int64_t *hi, float *frac) {
    double scale = (double)in / (double)out;
    for (int64_t i = 0; i < out; i++) {
        double x = ((double)i + 0.5) * scale - 0.5;
        if (x < 0) x = 0;
        int64_t x0 = (int64_t)x;
        if (x0 > in - 1) x0 = in - 1;
        int64_t x1 = x0 + 1 < in ? x0 + 1 : in - 1;
        lo[i] = x0;
        hi[i] = x1;
        frac[i] = (float)(x - (double)x0);
        if (x1 == x0) frac[i] = 0;
    }
}

int image_decode(const unsigned char *bytes, size_t size, int channels, int64_t *h, int64_t *w, const float *mean,
                 const float *std, int nstats, float **data_out, char *err, size_t errlen) {
    *data_out = NULL;
    int rc = -1;
    unsigned char *pix = NULL;
    float *out = NULL;
    int64_t *ylo = NULL, *yhi = NULL, *xlo = NULL, *xhi = NULL;
    float *yf = NULL, *xf = NULL;

    if (channels != 1 && channels != 3 && channels != 4) {
        snprintf(err, errlen, "the model input has %d channels; images give 1, 3 or 4", channels);
        return -1;
    }
    if (size > (size_t)0x7FFFFFFF) {
        snprintf(err, errlen, "the image is too large");
        return -1;
    }
    int iw = 0, ih = 0, ic = 0;
    if (!stbi_info_from_memory(bytes, (int)size, &iw, &ih, &ic)) {
        const char *why = stbi_failure_reason();
        snprintf(err, errlen, "cannot decode the image: %s", why ? why : "unknown format");
        goto done;
    }
    if (iw <= 0 || ih <= 0 || (int64_t)iw * ih > IMAGE_MAX_PIXELS) {
        snprintf(err, errlen, "%d x %d pixels is out of range", iw, ih);
        goto done;
    }
    pix = stbi_load_from_memory(bytes, (int)size, &iw, &ih, &ic, channels);
    if (!pix) {
        const char *why = stbi_failure_reason();
        snprintf(err, errlen, "cannot decode the image: %s", why ? why : "corrupt data");
        goto done;
    }
    int64_t oh = *h > 0 ? *h : ih, ow = *w > 0 ? *w : iw;
    if (oh * ow > IMAGE_MAX_PIXELS) {
        snprintf(err, errlen, "target size %lld x %lld is too large", (long long)oh, (long long)ow);
        goto done;
    }
    out = malloc((size_t)(channels * oh * ow) * sizeof *out);
    ylo = malloc((size_t)oh * sizeof *ylo);
    yhi = malloc((size_t)oh * sizeof *yhi);
    yf = malloc((size_t)oh * sizeof *yf);
    xlo = malloc((size_t)ow * sizeof *xlo);
    xhi = malloc((size_t)ow * sizeof *xhi);
    xf = malloc((size_t)ow * sizeof *xf);
    if (!out || !ylo || !yhi || !yf || !xlo || !xhi || !xf) {
        snprintf(err, errlen, "out of memory decoding the image");
        goto done;
    }
    image_resize_axis(ih, oh, ylo, yhi, yf);
    image_resize_axis(iw, ow, xlo, xhi, xf);
    for (int c = 0; c < channels; c++) {
        float m = mean[nstats > 1 && c < nstats ? c : 0];
        float inv = 1.0f / std[nstats > 1 && c < nstats ? c : 0];
        float *plane = out + (size_t)c * (size_t)(oh * ow);
        for (int64_t y = 0; y < oh; y++) {
            const unsigned char *r0 = pix + (size_t)ylo[y] * (size_t)iw * (size_t)channels;
            const unsigned char *r1 = pix + (size_t)yhi[y] * (size_t)iw * (size_t)channels;
            float fy = yf[y];
            for (int64_t x = 0; x < ow; x++) {
                size_t a = (size_t)xlo[x] * (size_t)channels + (size_t)c;
                size_t b = (size_t)xhi[x] * (size_t)channels + (size_t)c;
                float fx = xf[x];
                float top = (float)r0[a] + ((float)r0[b] - (float)r0[a]) * fx;
                float bot = (float)r1[a] + ((float)r1[b] - (float)r1[a]) * fx;
                float v = (top + (bot - top) * fy) / 255.0f;
                plane[y * ow + x] = (v - m) * inv;
            }
        }
    }
    *h = oh;
    *w = ow;
    *data_out = out;
    out = NULL;
    rc = 0;
done:
    free(out);
    free(ylo);
    free(yhi);
    free(yf);
    free(xlo);
    free(xhi);
    free(xf);
    if (pix) stbi_image_free(pix);
    return rc;
}

int image_load_file(const char *path, int channels, int64_t *h, int64_t *w, const float *mean, const float *std,
                    int nstats, float **data_out, char *err, size_t errlen) {
    *data_out = NULL;
    char *bytes = NULL, why[256];
    size_t size = 0;
    if (channels != 1 && channels != 3 && channels != 4)
        return err_set(err, errlen, "image '%s': the model input has %d channels; images give 1, 3 or 4", path,
                       channels);
    if (file_read("image", path, IMAGE_MAX_BYTES, &bytes, &size, err, errlen) != 0) return -1;
    int rc = image_decode((const unsigned char *)bytes, size, channels, h, w, mean, std, nstats, data_out, why,
                          sizeof why);
    free(bytes);
    if (rc != 0) err_set(err, errlen, "image '%s': %s", path, why);
    return rc;
}
