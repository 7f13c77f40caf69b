# server.mk - extra build rules of `tandem serve` (src/server/, compiled into build/tandem by the Makefile's CLI rule):
# the fuzz target for its request parser, built like the engine's fuzz targets (clang, libFuzzer, ASan+UBSan):
#   make build/fuzz_infer_request      (also part of `make fuzz`)
#   build/fuzz_infer_request -max_total_time=60 tests/fuzz/infer_request_seeds
# The parser (src/server/protocol.c) uses cJSON and the JSON writer of src/common only, not libmicrohttpd or the engine.
build/fuzz_infer_request: tests/fuzz/fuzz_infer_request.c src/server/protocol.c src/common/json.c src/server/server.h \
                          include/tandem.h
	@mkdir -p build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_infer_request.c src/server/protocol.c src/common/json.c -lcjson -lm

# the test client of tests/server/run.sh (a KServe v2 client in C: JSON and binary tensors, concurrent batching check)
$(BUILD)/srv_client: tests/server/srv_client.c $(BUILD)/libtandem.a include/tandem.h
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtandem.a $(LDFLAGS) -lcjson $(LDLIBS)

all: $(BUILD)/srv_client

# unit tests of the request parser and response writer (no HTTP, no engine)
$(BUILD)/test_protocol: tests/server/test_protocol.c $(BUILD)/obj/server/protocol.o $(BUILD)/obj/common/json.o \
                        src/server/server.h
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/obj/server/protocol.o $(BUILD)/obj/common/json.o $(LDFLAGS) -lcjson $(LDLIBS)

all: $(BUILD)/test_protocol
