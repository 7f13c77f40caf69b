/* image.h - PNG and JPEG files (or bytes in memory, for `tandem serve`'s /classify) turned into a normalised float32
 * NCHW tensor: decode (Debian's stb_image), bilinear resize to the model's input size, scale to [0,1],
 * (x - mean) / std. Prints nothing: a failure is -1 with the reason in the caller's buffer. */
#ifndef TANDEM_COMMON_IMAGE_H
#define TANDEM_COMMON_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_MAX_BYTES ((size_t)256 << 20)
#define IMAGE_MAX_PIXELS ((int64_t)64 << 20)

/* 1 if the bytes start like a PNG or JPEG file. */
int image_is_image(const unsigned char *head, size_t n);

/* Decode image bytes and write them as float32 NCHW [1, channels, h, w]: resized (bilinear, half-pixel centres) to
 * h x w when it differs, scaled to [0,1], then (x - mean[c]) / std[c]. mean/std have `nstats` entries (1 means the
 * same for every channel). If *h or *w is <= 0 the image's own size is used and written back. *data_out is malloc'd
 * (the caller frees it). Returns 0, or -1 with the reason in err ("cannot decode the image: ..."). */
int image_decode(const unsigned char *bytes, size_t size, int channels, int64_t *h, int64_t *w, const float *mean,
                 const float *std, int nstats, float **data_out, char *err, size_t errlen);

/* The same from a file (at most IMAGE_MAX_BYTES). The reason names the file: "cannot open image 'x': ..." or
 * "image 'x': cannot decode the image: ...". */
int image_load_file(const char *path, int channels, int64_t *h, int64_t *w, const float *mean, const float *std,
                    int nstats, float **data_out, char *err, size_t errlen);

#endif /* TANDEM_COMMON_IMAGE_H */
