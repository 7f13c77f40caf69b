# Makefile - builds the engine library, the `tandem` CLI and the test programs.
#   make               build/tandem and the test programs
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

ENGINE_SRC := $(wildcard src/engine/*.c) $(wildcard src/ops/*.c) $(wildcard src/kernels/*.c)
ENGINE_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(ENGINE_SRC))
CLI_SRC    := $(wildcard src/cli/*.c)
CLI_OBJ    := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CLI_SRC))
TEST_PROGS := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/*.c))

.PHONY: all test check clean deps demo
all: $(BUILD)/tandem $(TEST_PROGS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtandem.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tandem: $(CLI_OBJ) $(BUILD)/libtandem.a
	$(CC) $(LDFLAGS) -o $@ $^ -lstb $(LDLIBS)

$(BUILD)/%: tests/%.c $(BUILD)/libtandem.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libtandem.a $(LDFLAGS) $(LDLIBS)

deps:
	@scripts/install-deps.sh

test: deps
	$(MAKE) check
	$(MAKE) SAN=1 check

check: all
	BUILD=$(BUILD) tests/run_all.sh

SHARED ?= ../shared
demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD) $(SHARED)

clean:
	rm -rf build build-san

-include $(ENGINE_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# ---- fuzzing (owned by tests/fuzz; see tests/fuzz/README.md) ------------------------------------------------------
# `make fuzz` builds the libFuzzer targets with clang straight from the engine sources (not the gcc-built library),
# under ASan+UBSan. tests/fuzz_smoke.sh builds and runs them.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -std=c11 \
              -D_POSIX_C_SOURCE=200809L -Iinclude -pthread
FUZZ_DEPS  := $(ENGINE_SRC) $(wildcard include/*.h src/engine/*.h src/ops/*.h src/ops/*.def src/kernels/*.h)

.PHONY: fuzz
fuzz: build/fuzz_load build/fuzz_tensor

build/fuzz_load: tests/fuzz/fuzz_load.c $(FUZZ_DEPS)
	@mkdir -p build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_load.c $(ENGINE_SRC) -lm

build/fuzz_tensor: tests/fuzz/fuzz_tensor.c $(FUZZ_DEPS)
	@mkdir -p build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_tensor.c $(ENGINE_SRC) -lm
