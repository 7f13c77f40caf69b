# Makefile - builds the engine library, the `tandem` CLI and the test programs.
#   make               build/tandem and the test programs
#   make study         tandem's main job: installs what is missing, builds the CLI and the web folder, then runs the
#                      default study (native, browser, cloud) and writes study-out/report.html (STUDY_ARGS=... to pass
#                      options, e.g. STUDY_ARGS="--models cifar100_resnet20 --quick")
#   make demo          installs what is missing, builds, classifies a CIFAR-10 test image with a real model
#   make test          installs what is missing, then every test suite twice: optimised (build/), then under
#                      ASan+UBSan (build-san/). `make check` runs only the optimised pass, `make SAN=1 check` only
#                      the sanitizer pass. Warnings are errors (WERROR=0 to relax on other compilers).
CC      ?= cc
SAN     ?= 0
WERROR  ?= 1
BUILD   ?= $(if $(filter 1,$(SAN)),build-san,build)

WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter -Wno-format-truncation
ifeq ($(WERROR),1)
WARN    += -Werror
endif
OPT     := -O2 -g
SANFL   :=
ifeq ($(SAN),1)
SANFL   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
OPT     := -O1 -g -fno-omit-frame-pointer $(SANFL)
endif
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L $(OPT) $(WARN) -Iinclude -pthread
LDFLAGS := $(SANFL) -pthread
LDLIBS  := -lm
# the CLI (not the engine) links Debian's libraries: stb_image for images, and the server's HTTP, JSON and stores
CLI_LIBS := -lstb -lmicrohttpd -lcjson -lsqlite3 -lpq

ENGINE_SRC := $(wildcard src/engine/*.c) $(wildcard src/ops/*.c) $(wildcard src/kernels/*.c)
ENGINE_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(ENGINE_SRC))
# above the engine: the shared layer (src/common), the server, the study, and the CLI on top (docs/DESIGN.md, "Layers")
CLI_SRC    := $(wildcard src/common/*.c) $(wildcard src/server/*.c) $(wildcard src/study/*.c) $(wildcard src/cli/*.c)
CLI_OBJ    := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CLI_SRC))
TEST_PROGS := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/*.c))

.PHONY: all test check clean deps demo study
all: $(BUILD)/tandem $(TEST_PROGS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Only the per-ISA kernel files get ISA flags; the dispatcher checks the CPU before calling them.
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mavx2
ARCH := $(shell $(CC) -dumpmachine)
ifneq ($(filter x86_64%,$(ARCH)),)
$(BUILD)/obj/kernels/%_avx2.o: CFLAGS += -mavx2 -mfma -O3
$(BUILD)/obj/kernels/%_avx512.o: CFLAGS += $(AVX512_FLAGS) -O3
endif

$(BUILD)/libtandem.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tandem: $(CLI_OBJ) $(BUILD)/libtandem.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

$(BUILD)/%: tests/%.c $(BUILD)/libtandem.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libtandem.a $(LDFLAGS) $(LDLIBS)

# the option parser of src/common alone (no engine)
$(BUILD)/test_opts: tests/test_opts.c $(BUILD)/obj/common/opts.o $(BUILD)/obj/common/util.o
	$(CC) $(CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LDLIBS)

deps:
	@scripts/install-deps.sh
	@scripts/npm-deps.sh

test: deps
	$(MAKE) check
	$(MAKE) SAN=1 check

check: all
	BUILD=$(BUILD) tests/run_all.sh

SHARED ?= ../shared
demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD) $(SHARED)

STUDY_ARGS ?=
study: deps
	$(MAKE) all web
	$(BUILD)/tandem study --out study-out $(STUDY_ARGS)

clean:
	rm -rf build build-san

-include $(ENGINE_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# ---- fuzzing (owned by tests/fuzz; see tests/fuzz/README.md) ------------------------------------------------------
# `make fuzz` builds the libFuzzer targets with clang from the engine sources (its own objects in build/fuzz-obj, not
# the gcc-built library), under ASan+UBSan. tests/fuzz/run.sh builds and runs them.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -std=c11 \
              -D_POSIX_C_SOURCE=200809L -Iinclude -pthread
FUZZ_OBJ   := $(patsubst src/%.c,build/fuzz-obj/%.o,$(ENGINE_SRC))

# every tests/fuzz/fuzz_<name>.c is a target build/fuzz_<name>: from the engine sources by the rule below, or by its own
# rule when it fuzzes something else (fuzz_opts below, mk/server.mk: fuzz_infer_request, mk/store.mk: fuzz_store_doc)
.PHONY: fuzz
fuzz: $(patsubst tests/fuzz/%.c,build/%,$(wildcard tests/fuzz/fuzz_*.c))

build/fuzz-obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c $< -o $@

# the per-ISA kernel files get their ISA flags, as in the main build
ifneq ($(filter x86_64%,$(shell $(FUZZ_CC) -dumpmachine 2>/dev/null)),)
build/fuzz-obj/kernels/%_avx2.o: FUZZ_FLAGS += -mavx2 -mfma
build/fuzz-obj/kernels/%_avx512.o: FUZZ_FLAGS += $(AVX512_FLAGS)
endif

build/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) include/tandem.h
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_OBJ) -lm

# the option parser of src/common alone
build/fuzz_opts: tests/fuzz/fuzz_opts.c src/common/opts.c src/common/opts.h src/common/util.c
	@mkdir -p build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_opts.c src/common/opts.c src/common/util.c -lm

-include $(FUZZ_OBJ:.o=.d)

# ---- further parts, one fragment each (mk/wasm.mk: the WebAssembly build, ...) ------------------------------------
-include $(wildcard mk/*.mk)
