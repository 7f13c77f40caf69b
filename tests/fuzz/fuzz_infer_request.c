/* fuzz_infer_request.c - libFuzzer target for `tandem serve`'s KServe v2 request parser (src/server/protocol.c): JSON
 * requests and Triton binary-extension requests against two fake models (a float image model with a symbolic batch
 * and a mixed-type one), then the response writer on whatever parsed. Built by `make fuzz` (mk/server.mk).
 *
 * Input layout: byte 0 picks the model (bit 1) and whether the request is binary (bit 0); for a binary request bytes
 * 1-2 are the Inference-Header-Content-Length (little endian); the rest is the body. Seeds: tests/fuzz/infer_request_seeds/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const srv_io fz_in_a[] = {{"input", TDM_FLOAT, 4, {-1, 3, 4, 4}}};
static const srv_io fz_out_a[] = {{"logits", TDM_FLOAT, 2, {-1, 10}}};
static const srv_io fz_in_b[] = {{"input0", TDM_UINT32, 2, {2, 2}},
                                 {"input1", TDM_BOOL, 1, {3}},
                                 {"half", TDM_FLOAT16, 1, {-1}},
                                 {"ids", TDM_INT64, 2, {-1, 2}, 5}}; /* token ids into a table of 5 rows */
static const srv_io fz_out_b[] = {{"output0", TDM_FLOAT, 2, {2, 2}}, {"output1", TDM_INT32, 1, {3}},
                                  {"output2", TDM_FLOAT16, 1, {-1}}, {"output3", TDM_INT64, 2, {-1, 2}}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    proto_model m;
    memset(&m, 0, sizeof m);
    if (data[0] & 2) {
        m.name = "mixed";
        m.nin = 4;
        m.nout = 4;
        m.in = fz_in_b;
        m.out = fz_out_b;
    } else {
        m.name = "image";
        m.nin = 1;
        m.nout = 1;
        m.in = fz_in_a;
        m.out = fz_out_a;
    }
    m.max_elems = 1 << 16;
    int64_t hl = -1;
    size_t off = 1;
    if (data[0] & 1) {
        if (size < 3) return 0;
        hl = (int64_t)(data[1] | (data[2] << 8));
        off = 3;
    }
    proto_request req;
    char err[512];
    int rc = proto_parse_infer((const char *)data + off, size - off, hl, &m, &req, err, sizeof err);
    if (rc != 0) {
        if (rc < 400 || rc > 599 || !err[0]) abort(); /* every failure is an HTTP error with a message */
        return 0;
    }
    /* outputs shaped after the inputs' batch, filled with zeros, written back as JSON and binary */
    proto_output outs[SRV_MAX_IO];
    void *bufs[SRV_MAX_IO] = {0};
    int64_t batch = req.in[m.nin - 1].dims[0];
    for (int o = 0; o < m.nout; o++) {
        outs[o].dtype = m.out[o].dtype;
        outs[o].rank = m.out[o].rank;
        int64_t n = 1;
        for (int d = 0; d < m.out[o].rank; d++) {
            outs[o].dims[d] = m.out[o].dims[d] >= 0 ? m.out[o].dims[d] : batch;
            n *= outs[o].dims[d];
        }
        bufs[o] = calloc((size_t)n, proto_dtype_size(outs[o].dtype));
        outs[o].data = bufs[o];
    }
    char *body = NULL;
    size_t len = 0, jl = 0;
    if (proto_write_response(&m, &req, outs, &body, &len, &jl) == 0 && jl > len) abort();
    free(body);
    for (int o = 0; o < m.nout; o++) free(bufs[o]);
    proto_request_free(&req);
    return 0;
}
