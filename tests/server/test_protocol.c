/* test_protocol.c - unit tests of `tandem serve`'s KServe v2 request parser (src/server/protocol.c), without HTTP:
 * numbers in every form a client prints them (the fast path for "data" arrays against strtod: FP64 and INT64 exact,
 * FP32 within the documented one ulp and counted), FP16 rounding, nested data, binary sections and their errors, and
 * the response writer's JSON and binary parts. Run by tests/server/run.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/server/server.h"

static int passed, failed;
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) passed++;                                                                                            \
        else {                                                                                                         \
            failed++;                                                                                                  \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                                \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
        }                                                                                                              \
    } while (0)

static const srv_io t_out[] = {{"out", TDM_FLOAT, 1, {-1}, 0}};

static int parse1(tdm_dtype dt, const char *dtname, const char *data_text, int64_t n, proto_request *req, char *err) {
    srv_io in = {"x", dt, 1, {-1}, 0};
    proto_model m = {"t", 1, 1, &in, t_out, 1 << 24};
    size_t cap = strlen(data_text) + 256;
    char *body = malloc(cap);
    snprintf(body, cap, "{\"inputs\":[{\"name\":\"x\",\"shape\":[%lld],\"datatype\":\"%s\",\"data\":%s}]}",
             (long long)n, dtname, data_text);
    int rc = proto_parse_infer(body, strlen(body), -1, &m, req, err, 512);
    free(body);
    return rc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random numbers printed the ways clients print them; the parsed values must be strtod's. */
static void test_numbers(void) {
    enum { N = 200000 };
    static const char *fmts[] = {"%.17g", "%.9g", "%.6g", "%g", "%.3f", "%.12e", "%.0f"};
    char *text = malloc((size_t)N * 32 + 16);
    double *want = malloc(N * sizeof *want);
    size_t len = 0;
    text[len++] = '[';
    for (int i = 0; i < N; i++) {
        double mag = pow(10.0, (double)(int)(rng() % 40) - 20);
        double v = ((double)(rng() >> 11) / 9007199254740992.0 - 0.5) * mag;
        if (i % 50 == 0) v = 0;
        if (i % 97 == 0) v = -0.0;
        len += (size_t)sprintf(text + len, fmts[i % 7], v);
        text[len++] = ',';
    }
    text[len - 1] = ']';
    text[len] = 0;
    /* the expected values: strtod of each printed token */
    const char *p = text + 1;
    for (int i = 0; i < N; i++) {
        char *e;
        want[i] = strtod(p, &e);
        p = e + 1;
    }
    proto_request req;
    char err[512];
    int rc = parse1(TDM_DOUBLE, "FP64", text, N, &req, err);
    CHECK(rc == 0, "FP64 parse: %s", err);
    if (rc == 0) {
        int bad = 0;
        for (int i = 0; i < N; i++)
            if (memcmp(&((double *)req.in[0].data)[i], &want[i], 8) != 0 && bad++ < 3)
                printf("  FP64 element %d: got %.17g want %.17g\n", i, ((double *)req.in[0].data)[i], want[i]);
        CHECK(bad == 0, "FP64: %d of %d values differ from strtod", bad, N);
        proto_request_free(&req);
    }
    rc = parse1(TDM_FLOAT, "FP32", text, N, &req, err);
    CHECK(rc == 0, "FP32 parse: %s", err);
    if (rc == 0) {
        int off = 0, far = 0;
        for (int i = 0; i < N; i++) {
            float got = ((float *)req.in[0].data)[i], w = (float)want[i];
            if (memcmp(&got, &w, 4) == 0) continue;
            off++;
            if (fabsf(got - w) > fabsf(nextafterf(w, INFINITY) - w) && far++ < 3)
                printf("  FP32 element %d: got %.9g want %.9g\n", i, got, w);
        }
        CHECK(far == 0, "FP32: %d values more than one ulp from (float)strtod", far);
        printf("  FP32: %d of %d values differ from (float)strtod by one ulp (documented bound; expected ~0)\n", off, N);
        proto_request_free(&req);
    }
    /* integers: exact for INT64 however they are written */
    len = 0;
    text[len++] = '[';
    int64_t *wi = malloc(N * sizeof *wi);
    for (int i = 0; i < N; i++) {
        int64_t v = (int64_t)(rng() >> (i % 60)) * (i % 2 ? -1 : 1);
        if (v > ((int64_t)1 << 53) || v < -((int64_t)1 << 53)) v /= 1024; /* exactly representable as JSON doubles */
        wi[i] = v;
        len += (size_t)sprintf(text + len, i % 3 ? "%lld," : "%lld.0e0,", (long long)v);
    }
    text[len - 1] = ']';
    text[len] = 0;
    rc = parse1(TDM_INT64, "INT64", text, N, &req, err);
    CHECK(rc == 0, "INT64 parse: %s", err);
    if (rc == 0) {
        int bad = 0;
        for (int i = 0; i < N; i++) {
            double d = (double)wi[i];
            if (((int64_t *)req.in[0].data)[i] != (int64_t)d) bad++;
        }
        CHECK(bad == 0, "INT64: %d values differ", bad);
        proto_request_free(&req);
    }
    free(wi);
    free(text);
    free(want);
}

static void test_values(void) {
    proto_request req;
    char err[512];
    /* nested data flattens row-major */
    srv_io in = {"x", TDM_INT32, 2, {2, 3}, 0};
    proto_model m = {"t", 1, 1, &in, t_out, 100};
    const char *nested = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"INT32\",\"data\":[[1,2,3],[4,5,-6]]}]}";
    int rc = proto_parse_infer(nested, strlen(nested), -1, &m, &req, err, sizeof err);
    CHECK(rc == 0 && ((int32_t *)req.in[0].data)[5] == -6 && ((int32_t *)req.in[0].data)[3] == 4, "nested: %s", err);
    if (rc == 0) proto_request_free(&req);
    /* token ids: INT32 data for an INT64 input widens, INT64 for INT32 narrows when it fits; ids index a table of 5 */
    srv_io ids = {"ids", TDM_INT64, 2, {-1, 3}, 5}, ids32 = {"ids", TDM_INT32, 2, {-1, 3}, 0};
    proto_model mi = {"t", 1, 1, &ids, t_out, 100}, mi32 = {"t", 1, 1, &ids32, t_out, 100};
    const struct { const proto_model *m; const char *req; int want; int64_t last; } idc[] = {
        {&mi, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"INT32\",\"data\":[0,4,2]}]}", 0, 2},
        {&mi, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"INT64\",\"data\":[0,4,3]}]}", 0, 3},
        {&mi, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"INT64\",\"data\":[0,5,3]}]}", 400, 0},
        {&mi, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"INT32\",\"data\":[-1,0,0]}]}", 400, 0},
        {&mi, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[0,0,0]}]}", 400, 0},
        {&mi32, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"INT64\",\"data\":[7,8,-9]}]}", 0, -9},
        {&mi32, "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,3],\"datatype\":\"INT64\",\"data\":[0,3000000000,1]}]}", 400, 0},
    };
    for (size_t i = 0; i < sizeof idc / sizeof idc[0]; i++) {
        rc = proto_parse_infer(idc[i].req, strlen(idc[i].req), -1, idc[i].m, &req, err, sizeof err);
        int64_t last = 0;
        if (rc == 0) {
            last = idc[i].m == &mi ? ((int64_t *)req.in[0].data)[2] : ((int32_t *)req.in[0].data)[2];
            CHECK(req.in[0].bytes == 3 * (idc[i].m == &mi ? 8u : 4u), "ids %zu: %zu bytes", i, req.in[0].bytes);
            proto_request_free(&req);
        }
        CHECK(rc == idc[i].want && (rc || last == idc[i].last), "ids %zu: status %d (%s), last %lld", i, rc, err,
              (long long)last);
    }
    /* FP16: round to nearest even, overflow to inf, subnormals */
    const char *h = "[1, -2, 65504, 65520, 5.9604644775390625e-8, 0.1, 1.00048828125, 0]";
    rc = parse1(TDM_FLOAT16, "FP16", h, 8, &req, err);
    CHECK(rc == 0, "FP16: %s", err);
    if (rc == 0) {
        static const uint16_t want[] = {0x3C00, 0xC000, 0x7BFF, 0x7C00, 0x0001, 0x2E66, 0x3C00, 0x0000};
        for (int i = 0; i < 8; i++)
            CHECK(((uint16_t *)req.in[0].data)[i] == want[i], "FP16 element %d: %04x want %04x", i,
                  ((uint16_t *)req.in[0].data)[i], want[i]);
        proto_request_free(&req);
    }
    /* values that do not fit the type, or are not JSON numbers */
    static const struct { tdm_dtype dt; const char *name, *data; } badv[] = {
        {TDM_UINT8, "UINT8", "[256, 1]"},     {TDM_INT8, "INT8", "[-129, 1]"},   {TDM_INT32, "INT32", "[1.5, 2]"},
        {TDM_UINT32, "UINT32", "[-1, 1]"},    {TDM_BOOL, "BOOL", "[2, 1]"},      {TDM_FLOAT, "FP32", "[NaN, 1]"},
        {TDM_FLOAT, "FP32", "[Infinity, 1]"}, {TDM_FLOAT, "FP32", "[\"1\", 1]"}, {TDM_FLOAT, "FP32", "[{}, 1]"},
        {TDM_FLOAT, "FP32", "[1, 2, 3]"},     {TDM_FLOAT, "FP32", "[[[[[[[[[[1]]]]]]]]], 2]"},
    };
    for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++) {
        rc = parse1(badv[i].dt, badv[i].name, badv[i].data, 2, &req, err);
        CHECK(rc == 400, "%s %s: status %d (%s)", badv[i].name, badv[i].data, rc, err);
    }
    /* a raw control byte inside a string is not JSON (and cannot forge the fast path's placeholder) */
    const char *forged = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":\"\x01" "0\"}]}";
    srv_io in1 = {"x", TDM_FLOAT, 1, {-1}, 0};
    proto_model m1 = {"t", 1, 1, &in1, t_out, 100};
    rc = proto_parse_infer(forged, strlen(forged), -1, &m1, &req, err, sizeof err);
    CHECK(rc == 400, "forged placeholder: status %d", rc);
}

static void test_binary(void) {
    srv_io in = {"x", TDM_FLOAT, 2, {-1, 2}, 0};
    srv_io out = {"y", TDM_INT64, 1, {-1}, 0};
    proto_model m = {"t", 1, 1, &in, &out, 100};
    const char *hdr = "{\"id\":\"b\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\","
                      "\"parameters\":{\"binary_data_size\":16}}],\"outputs\":[{\"name\":\"y\",\"parameters\":"
                      "{\"binary_data\":true}}]}";
    float x[4] = {1.5f, -2.0f, 3.25f, 1e-3f};
    size_t hl = strlen(hdr);
    char body[1024];
    memcpy(body, hdr, hl);
    memcpy(body + hl, x, sizeof x);
    proto_request req;
    char err[512];
    int rc = proto_parse_infer(body, hl + 16, (int64_t)hl, &m, &req, err, sizeof err);
    CHECK(rc == 0 && memcmp(req.in[0].data, x, 16) == 0 && req.out_binary[0] == 1 && req.id && !strcmp(req.id, "b"),
          "binary input: %s", err);
    if (rc == 0) {
        int64_t y[2] = {-7, 1234567890123};
        proto_output o = {TDM_INT64, 1, {2}, y};
        char *resp = NULL;
        size_t len = 0, jl = 0;
        CHECK(proto_write_response(&m, &req, &o, &resp, &len, &jl) == 0 && jl > 0 && len == jl + 16 &&
                  memcmp(resp + jl, y, 16) == 0 && strstr(resp, "\"binary_data_size\": 16") &&
                  strstr(resp, "\"id\": \"b\""),
              "binary response");
        free(resp);
        req.out_binary[0] = 0;
        CHECK(proto_write_response(&m, &req, &o, &resp, &len, &jl) == 0 && jl == 0 &&
                  strstr(resp, "\"data\": [-7, 1234567890123]"),
              "JSON response: %s", resp ? resp : "");
        free(resp);
        proto_request_free(&req);
    }
    /* truncated, over-long, mismatched and header-less binary sections */
    CHECK(proto_parse_infer(body, hl + 15, (int64_t)hl, &m, &req, err, sizeof err) == 400 && strstr(err, "truncated"),
          "truncated: %s", err);
    CHECK(proto_parse_infer(body, hl + 16, (int64_t)hl + 1, &m, &req, err, sizeof err) == 400, "header off by one");
    CHECK(proto_parse_infer(body, hl + 16, (int64_t)hl + 100, &m, &req, err, sizeof err) == 400, "header past body");
    CHECK(proto_parse_infer(body, hl, -1, &m, &req, err, sizeof err) == 400, "binary size without header");
    memcpy(body + hl + 16, "xx", 2);
    CHECK(proto_parse_infer(body, hl + 18, (int64_t)hl, &m, &req, err, sizeof err) == 400 && strstr(err, "no input"),
          "unclaimed bytes: %s", err);
}

int main(void) {
    test_numbers();
    test_values();
    test_binary();
    printf("protocol: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
