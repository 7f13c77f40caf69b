/* cifar.c - the CIFAR binary-layout reader of src/common (see cifar.h). */
#include "cifar.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int cifar_open(const char *path, cifar_file *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->path = path;
    if (file_check("dataset", path, err, errlen) != 0) return -1;
    struct stat sb;
    c->f = fopen(path, "rb");
    if (!c->f || fstat(fileno(c->f), &sb) != 0) {
        err_set(err, errlen, "cannot open dataset '%s': %s", path, strerror(errno));
        cifar_close(c);
        return -1;
    }
    if (sb.st_size == 0 || sb.st_size % CIFAR_RECORD != 0) {
        if (sb.st_size == 0) err_set(err, errlen, "dataset '%s' is empty", path);
        else err_set(err, errlen, "dataset '%s': size %lld is not a multiple of the %d-byte record (1 label + 3x32x32 "
                     "pixels)", path, (long long)sb.st_size, CIFAR_RECORD);
        cifar_close(c);
        return -1;
    }
    c->count = (int64_t)(sb.st_size / CIFAR_RECORD);
    return 0;
}

int cifar_read(cifar_file *c, int64_t index, int64_t n, unsigned char *rec, char *err, size_t errlen) {
    if (index < 0) index = c->next;
    if (index >= c->count || n < 0 || n > c->count - index)
        return err_set(err, errlen, "dataset '%s' has no record %lld", c->path,
                       (long long)(index >= c->count ? index : c->count));
    if (index != c->next && fseeko(c->f, (off_t)(index * CIFAR_RECORD), SEEK_SET) != 0)
        return err_set(err, errlen, "dataset '%s': cannot seek to record %lld", c->path, (long long)index);
    if (fread(rec, CIFAR_RECORD, (size_t)n, c->f) != (size_t)n) {
        c->next = -1; /* the position is unknown: the next read seeks */
        return err_set(err, errlen, "dataset '%s': short read at record %lld", c->path, (long long)index);
    }
    c->next = index + n;
    return 0;
}

void cifar_close(cifar_file *c) {
    if (c->f) fclose(c->f);
    c->f = NULL;
}

void cifar_to_rgb(const unsigned char *rec, int scale, unsigned char *rgb) {
    int side = CIFAR_SIDE * scale;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * side + x) * 3 + c] = rec[1 + c * CIFAR_PLANE + (y / scale) * CIFAR_SIDE + x / scale];
}

void cifar_to_chw(const unsigned char *rec, const float lut[3][256], float *chw) {
    const unsigned char *px = rec + 1;
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < CIFAR_PLANE; p++) chw[c * CIFAR_PLANE + p] = lut[c][px[c * CIFAR_PLANE + p]];
}

void cifar_norm_lut(const float mean[3], const float std[3], float lut[3][256]) {
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 256; x++) lut[c][x] = ((float)x / 255.0f - mean[c]) / std[c];
}
