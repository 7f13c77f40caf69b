/* swarm_run.h - how a swarm chunk is computed natively, shared by the server's checks (swarm_verify.c) and the native
 * worker (`tandem worker`, src/worker/worker.c), so both turn a chunk's stored bytes into model inputs and lay out
 * its outputs exactly as the browser worker (web/swarm-worker.mjs) does:
 *   - format "cifar": each item is a CIFAR record (1 label byte, then 3072 CHW pixel bytes), fed to the model as
 *     float32 [3, 32, 32] through lut[c][x] = (x / 255 - mean[c]) / std[c] in float32 (as `tandem eval` does);
 *   - format "tensor": each item is item_numel float32 values, fed as they are;
 *   - the result of n items is, output after output, n * out_numel[o] float32 values (little-endian). */
#ifndef TANDEM_SERVER_SWARM_RUN_H
#define TANDEM_SERVER_SWARM_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tandem.h"

#define SWARM_MAX_OUT 16
#define SWARM_CIFAR_RECORD 3073

typedef struct swarm_desc {
    int cifar;                          /* 1: items are CIFAR records */
    int batch_any;                      /* 1: n items run as one batch [n, ...]; 0: one at a time */
    int item_rank;
    int64_t item_dims[TDM_MAX_RANK - 1];
    int64_t item_numel;                 /* float32 values per item at the model input */
    int64_t item_bytes;                 /* stored bytes per item */
    float lut[3][256];                  /* cifar: the normalisation table */
    int nout;
    int64_t out_numel[SWARM_MAX_OUT];   /* float32 values per item of each output */
    int64_t out_item;                   /* their sum */
} swarm_desc;

/* Fill *d from a job's description: format "cifar" or "tensor", item_shape [d1, ...], outputs [{"numel": N}, ...],
 * prep {"mean": [..], "std": [..]} (cifar). Returns 0, or -1 with the reason in err. */
int swarm_desc_parse(const char *format, const cJSON *item_shape, const cJSON *outputs, const cJSON *prep,
                     int batch_any, swarm_desc *d, char *err, size_t errlen);
/* The same from the JSON texts stored with a job. */
int swarm_desc_parse_text(const char *format, const char *item_shape, const char *outputs, const char *prep,
                          int batch_any, swarm_desc *d, char *err, size_t errlen);

/* The model inputs of n stored items: n * item_numel float32 values into x. */
void swarm_items_to_float(const swarm_desc *d, const unsigned char *items, int64_t n, float *x);

/* Compute n stored items on session s (any thread count) into out (n * out_item floats, laid out as above).
 * Returns 0, or -1 with the engine's reason in err. */
int swarm_run_chunk(tdm_session *s, const swarm_desc *d, const unsigned char *items, int64_t n, float *out, char *err,
                    size_t errlen);

/* Index of the largest of k scores (the lowest index on ties; NaN never wins), and its softmax probability. */
int64_t swarm_top1(const float *scores, int64_t k, double *prob_out);

#endif /* TANDEM_SERVER_SWARM_RUN_H */
