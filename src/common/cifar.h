/* cifar.h - the one reader of datasets in the CIFAR binary layout (src/common), for `tandem eval`, `tandem
 * export-image` and the study's images: records of 1 label byte + 3072 pixel bytes, the R, G and B planes of a
 * 32x32 image one after another. Prints nothing: a failure is -1 with the reason in the caller's buffer. */
#ifndef TANDEM_COMMON_CIFAR_H
#define TANDEM_COMMON_CIFAR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CIFAR_SIDE 32
#define CIFAR_PLANE (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + 3 * CIFAR_PLANE)

/* An open dataset. The FILE is owned by it (cifar_close). */
typedef struct cifar_file {
    FILE *f;
    const char *path;   /* the caller's string, for messages */
    int64_t count;      /* records in the file */
    int64_t next;       /* the record cifar_read reads next */
} cifar_file;

/* Open path as a dataset: a readable, non-empty regular file whose size is a multiple of CIFAR_RECORD. Returns 0, or
 * -1 with the reason in err ("dataset 'x' is empty", "dataset 'x': size N is not a multiple of ..."). */
int cifar_open(const char *path, cifar_file *c, char *err, size_t errlen);
/* Read records [index, index + n) into rec (n * CIFAR_RECORD bytes); index -1 reads on from the last read. Returns 0,
 * or -1 with the reason in err ("dataset 'x' has no record I", "dataset 'x': short read at record I"). */
int cifar_read(cifar_file *c, int64_t index, int64_t n, unsigned char *rec, char *err, size_t errlen);
/* Close the file; harmless on a zeroed or closed cifar_file. */
void cifar_close(cifar_file *c);

/* The label of a record. */
static inline int cifar_label(const unsigned char *rec) { return rec[0]; }
/* A record's pixels as interleaved RGB rows (what PNG writers take), upscaled by `scale` with nearest neighbour:
 * rgb holds (32 * scale)^2 * 3 bytes. */
void cifar_to_rgb(const unsigned char *rec, int scale, unsigned char *rgb);
/* A record's pixels as float32 CHW [3, 32, 32] through a per-channel lookup table lut[c][byte] (the normalisation
 * (x / 255 - mean[c]) / std[c], precomputed by cifar_norm_lut). */
void cifar_to_chw(const unsigned char *rec, const float lut[3][256], float *chw);
/* lut[c][x] = (x / 255 - mean[c]) / std[c] in float32, like PyTorch's ToTensor + Normalize. */
void cifar_norm_lut(const float mean[3], const float std[3], float lut[3][256]);

#endif /* TANDEM_COMMON_CIFAR_H */
