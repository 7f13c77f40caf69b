/* fuzz_tensor.c - libFuzzer target: parse arbitrary bytes as a serialised TensorProto (the test-data .pb files) with
 * tdm_tensor_read_memory. A parsed tensor must be self-consistent: its bytes are read in full under ASan. */
#include <stdint.h>
#include <stdlib.h>

#include "tandem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tdm_tensor *t = NULL;
    if (tdm_tensor_read_memory(data, size, &t) != TDM_OK) {
        if (t) __builtin_trap(); /* a failed parse must leave tensor_out NULL */
        return 0;
    }
    if (!t || t->rank < 0 || t->rank > TDM_MAX_RANK || !t->data || tdm_dtype_size(t->dtype) == 0) __builtin_trap();
    int64_t n = tdm_tensor_numel(t);
    if (n < 0) __builtin_trap();
    size_t bytes = (size_t)n * tdm_dtype_size(t->dtype);
    volatile unsigned sum = 0;
    for (size_t b = 0; b < bytes; b++) sum += ((const unsigned char *)t->data)[b];
    (void)sum;
    tdm_tensor_free(t);
    return 0;
}
