# wasm.mk - the WebAssembly build of the engine (emscripten) and the deployable web folder.
#   make wasm         build/web/wasm/tandem-simd.{mjs,wasm}               SIMD128, no threads
#                     build/web/wasm/tandem-simd-mt.{mjs,wasm,worker.js}  SIMD128 + pthreads (needs crossOriginIsolated)
#                     build/web/wasm/tandem-relaxed{,-mt}.*               the same with relaxed SIMD's fused multiply-add
#                                                                         (clang-19; see "the relaxed-SIMD variant")
#   make web          build/web/: the page and JS API from web/, the wasm files, onnxruntime-web's dist files and uPlot
#                     from node_modules (everything local, relative URLs)
#   make wasm-tests   the C test programs built for Node (tests/wasm/run.sh runs them), the relaxed variant's too
# The engine sources are the native build's (src/engine, src/ops, src/kernels); the kernels pick their SIMD128 variants
# under __wasm_simd128__ (src/kernels/dispatch.c). src/wasm/ holds the exports for JS and is not part of the native
# build. Objects go to build/wasm/obj-{simd,mt}/ (the native build dir's .d files are not mixed with these).
# Debian's emcc runs Node tools (acorn, ...) that live in Debian's module folder, which Node does not search by itself:
# without NODE_PATH, emcc fails with "Cannot find module 'acorn'". Only emcc gets it
EMCC      ?= NODE_PATH=$${NODE_PATH:-/usr/share/nodejs} emcc
WASM_DIR  := build/wasm
WEB_DIR   := build/web

# clang has no -Wformat-truncation (a GCC warning the native build turns off)
WASM_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -O3 -msimd128 $(filter-out -Wno-format-truncation,$(WARN)) -Iinclude
WASM_SRC    := $(ENGINE_SRC) src/wasm/tandem_wasm.c
WASM_OBJ_SIMD := $(patsubst src/%.c,$(WASM_DIR)/obj-simd/%.o,$(WASM_SRC))
WASM_OBJ_MT   := $(patsubst src/%.c,$(WASM_DIR)/obj-mt/%.o,$(WASM_SRC))
WASM_ENGINE_SIMD := $(filter-out $(WASM_DIR)/obj-simd/wasm/%,$(WASM_OBJ_SIMD))
WASM_ENGINE_MT   := $(filter-out $(WASM_DIR)/obj-mt/wasm/%,$(WASM_OBJ_MT))

# Memory: start small and grow (memory.buffer never shrinks, so its size is also the peak the page reports). The main
# stack is 256 KiB and each pthread's 128 KiB (the engine's largest stack buffer is one 12 KiB packed GEMM panel; the
# conformance and model tests pass with a 128 KiB main stack under -sSTACK_OVERFLOW_CHECK=2).
WASM_LDFLAGS := -O3 -msimd128 -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1MB -sMEMORY_GROWTH_GEOMETRIC_STEP=0.05 -sMAXIMUM_MEMORY=2GB \
                -sTOTAL_STACK=256KB -sDEFAULT_PTHREAD_STACK_SIZE=128KB
WASM_EXPORT_NAMES := malloc free tdmw_open tdmw_open_owned tdmw_close tdmw_last_error tdmw_kernel_isa tdmw_version tdmw_threads \
    tdmw_load_ms tdmw_num_inputs tdmw_num_outputs tdmw_io_name tdmw_io_dtype tdmw_io_rank tdmw_io_dim \
    tdmw_set_input_shape tdmw_input_data tdmw_input_index_limit tdmw_input_numel tdmw_run tdmw_run_ms tdmw_output_rank tdmw_output_dim \
    tdmw_output_data tdmw_output_numel tdmw_bench tdmw_heap_bytes tdmw_num_exec_nodes tdmw_exec_node_op \
    tdmw_exec_node_name tdmw_exec_node_ms
wasm_comma := ,
wasm_space := $(subst ,, )
WASM_EXPORTS := $(subst $(wasm_space),$(wasm_comma),$(strip $(addprefix _,$(WASM_EXPORT_NAMES))))
# The browser modules: ES6 factories for a (module) Worker or the page. The threaded build starts its pthread pool when
# the module is created, sized by the factory argument {tdmPoolSize}: the engine's pool of T threads runs T-1 workers
# beside the calling thread, and pthread_create can only take an already-loaded worker without returning to the event
# loop, so the loader passes T-1, and at least 1 (web/tandem-worker.mjs says why).
WASM_WEBFLAGS := -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createTandemModule -sENVIRONMENT=web,worker \
                 -sFILESYSTEM=0 -sEXPORTED_FUNCTIONS=$(WASM_EXPORTS) -sEXPORTED_RUNTIME_METHODS=UTF8ToString
# (growable shared memory only slows JS's access to the heap, which the loader does a few times per run)
WASM_MTFLAGS  := -pthread -sPTHREAD_POOL_SIZE=Module.tdmPoolSize -sPTHREAD_POOL_SIZE_STRICT=2 -Wno-pthreads-mem-growth

.PHONY: wasm web wasm-tests
wasm: $(WEB_DIR)/wasm/tandem-simd.mjs $(WEB_DIR)/wasm/tandem-simd-mt.mjs $(WEB_DIR)/wasm/tandem-relaxed.mjs \
      $(WEB_DIR)/wasm/tandem-relaxed-mt.mjs

# every wasm output depends on this file too, so changed flags rebuild it
$(WASM_DIR)/obj-simd/%.o: src/%.c mk/wasm.mk
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_CFLAGS) -MMD -MP -c $< -o $@

$(WASM_DIR)/obj-mt/%.o: src/%.c mk/wasm.mk
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_CFLAGS) -pthread -MMD -MP -c $< -o $@

$(WEB_DIR)/wasm/tandem-simd.mjs: $(WASM_OBJ_SIMD) mk/wasm.mk
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_LDFLAGS) $(WASM_WEBFLAGS) -o $@ $(filter %.o,$^)

$(WEB_DIR)/wasm/tandem-simd-mt.mjs: $(WASM_OBJ_MT) mk/wasm.mk
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_LDFLAGS) $(WASM_WEBFLAGS) $(WASM_MTFLAGS) -o $@ $(filter %.o,$^)

# ---- the relaxed-SIMD variant ----------------------------------------------------------------------------------------
#   build/web/wasm/tandem-relaxed{,-mt}.{mjs,wasm}: the same sources with -mrelaxed-simd, so that vec.h's multiply-add
#   is one f32x4.relaxed_madd (a fused multiply-add where the CPU has one). web/tandem.mjs takes it where the browser
#   validates relaxed SIMD (Chromium 114+, Firefox 120+), and the plain SIMD128 build elsewhere.
# Debian's emcc 3.1.6 (clang 14) writes relaxed SIMD with the prototype's opcodes, which browsers reject. Debian's
# clang-19 writes the final ones: emcc is pointed at it by its own config file (LLVM_ROOT, no version suffix), and
# binaryen 108, which emcc runs on the linked module, reads them through tools/binaryen-relaxed (first in PATH, one
# link per binaryen tool), which renumbers them with tools/wasm_relaxed.c. clang-19 also turns on reference types and
# multivalue by default; they are turned off to keep the module's features those of the plain build plus relaxed SIMD.
EM19_DIR      := $(WASM_DIR)/em19
EM19_LLVM     := /usr/lib/llvm-19/bin
EM19_TOOLS    := wasm-emscripten-finalize wasm-opt wasm-metadce wasm-dis wasm-as wasm2js wasm-ctor-eval wasm-split
EMCC_RELAXED   = PATH=$(CURDIR)/$(EM19_DIR)/bin:$$PATH EM_CONFIG=$(CURDIR)/$(EM19_DIR)/config $(EMCC)
WASM_RELAXED  := -mrelaxed-simd -mno-reference-types -mno-multivalue
WASM_OBJ_RLX    := $(patsubst src/%.c,$(WASM_DIR)/obj-rlx/%.o,$(WASM_SRC))
WASM_OBJ_RLX_MT := $(patsubst src/%.c,$(WASM_DIR)/obj-rlx-mt/%.o,$(WASM_SRC))

$(EM19_DIR)/config: tools/wasm_relaxed.c tools/binaryen-relaxed mk/wasm.mk
	@test -x $(EM19_LLVM)/clang || { echo "make wasm: $(EM19_LLVM)/clang is missing: run scripts/install-deps.sh (clang-19, lld-19, llvm-19)" >&2; exit 1; }
	@mkdir -p $(EM19_DIR)/bin
	$(CC) -std=c11 -O2 $(WARN) -o $(EM19_DIR)/bin/wasm_relaxed tools/wasm_relaxed.c
	cp tools/binaryen-relaxed $(EM19_DIR)/bin/binaryen-relaxed
	for t in $(EM19_TOOLS); do ln -sf binaryen-relaxed $(EM19_DIR)/bin/$$t; done
	sed -e "s#^LLVM_ROOT = .*#LLVM_ROOT = '$(EM19_LLVM)'#" -e "s#^LLVM_ADD_VERSION = .*#LLVM_ADD_VERSION = ''#" \
	    -e "s#^CLANG_ADD_VERSION = .*#CLANG_ADD_VERSION = ''#" /usr/share/emscripten/.emscripten > $@.tmp
	grep -q "^LLVM_ROOT = '$(EM19_LLVM)'" $@.tmp
	mv $@.tmp $@

$(WASM_DIR)/obj-rlx/%.o: src/%.c mk/wasm.mk | $(EM19_DIR)/config
	@mkdir -p $(dir $@)
	$(EMCC_RELAXED) $(WASM_CFLAGS) $(WASM_RELAXED) -MMD -MP -c $< -o $@

$(WASM_DIR)/obj-rlx-mt/%.o: src/%.c mk/wasm.mk | $(EM19_DIR)/config
	@mkdir -p $(dir $@)
	$(EMCC_RELAXED) $(WASM_CFLAGS) $(WASM_RELAXED) -pthread -MMD -MP -c $< -o $@

$(WEB_DIR)/wasm/tandem-relaxed.mjs: $(WASM_OBJ_RLX) mk/wasm.mk $(EM19_DIR)/config
	@mkdir -p $(dir $@)
	$(EMCC_RELAXED) $(WASM_LDFLAGS) $(WASM_RELAXED) $(WASM_WEBFLAGS) -o $@ $(filter %.o,$^)

$(WEB_DIR)/wasm/tandem-relaxed-mt.mjs: $(WASM_OBJ_RLX_MT) mk/wasm.mk $(EM19_DIR)/config
	@mkdir -p $(dir $@)
	$(EMCC_RELAXED) $(WASM_LDFLAGS) $(WASM_RELAXED) $(WASM_WEBFLAGS) $(WASM_MTFLAGS) -o $@ $(filter %.o,$^)

# ---- the deployable folder -----------------------------------------------------------------------------------------
ORT_DIST   := node_modules/onnxruntime-web/dist
# ort.wasm.min.mjs is the CPU (wasm) bundle; it loads ort-wasm-simd-threaded.{mjs,wasm} from env.wasm.wasmPaths
ORT_FILES  := ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm
UPLOT_DIST := node_modules/uplot/dist
WEB_SRC    := $(wildcard web/*)

web: wasm $(WEB_SRC)
	@mkdir -p $(WEB_DIR)/vendor/ort $(WEB_DIR)/vendor/uplot
	@test -d $(ORT_DIST) || { echo "make web: $(ORT_DIST) is missing: run scripts/npm-deps.sh" >&2; exit 1; }
	@test -d $(UPLOT_DIST) || { echo "make web: $(UPLOT_DIST) is missing: run scripts/npm-deps.sh" >&2; exit 1; }
	cp -r $(WEB_SRC) $(WEB_DIR)/
	cp $(addprefix $(ORT_DIST)/,$(ORT_FILES)) $(WEB_DIR)/vendor/ort/
	cp $(UPLOT_DIST)/uPlot.esm.js $(UPLOT_DIST)/uPlot.min.css $(WEB_DIR)/vendor/uplot/

# ---- the test programs under Node (tests/wasm/run.sh) ----------------------------------------------------------------
# Plain (non-ES6) output with NODERAWFS, so the C tests read ../shared and libonnx-testdata through Node's fs. The
# threaded variant pre-starts 2 workers (the test runs up to 3 threads) and exits when main returns.
WASM_TEST_DIR   := $(WASM_DIR)/test
WASM_TESTFLAGS  := $(WASM_LDFLAGS) -sNODERAWFS=1 -sENVIRONMENT=node -sEXIT_RUNTIME=1
WASM_TEST_PROGS := $(WASM_TEST_DIR)/test_kernels.js $(WASM_TEST_DIR)/test_conformance.js \
                   $(WASM_TEST_DIR)/test_models.js $(WASM_TEST_DIR)/test_models_mt.js \
                   $(WASM_TEST_DIR)/test_kernels_relaxed.js $(WASM_TEST_DIR)/test_models_relaxed.js
wasm-tests: $(WASM_TEST_PROGS)

$(WASM_TEST_DIR)/package.json:
	@mkdir -p $(dir $@)
	echo '{"type":"commonjs"}' > $@

$(WASM_TEST_DIR)/shim_%.o: tests/wasm/shim_%.c
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_CFLAGS) -Isrc -c $< -o $@

$(WASM_TEST_DIR)/test_%.o: tests/test_%.c $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_CFLAGS) -Isrc -c $< -o $@

$(WASM_TEST_DIR)/test_kernels.js: $(WASM_TEST_DIR)/test_kernels.o $(WASM_ENGINE_SIMD) | $(WASM_TEST_DIR)/package.json
	$(EMCC) $(WASM_TESTFLAGS) -o $@ $(filter %.o,$^)

$(WASM_TEST_DIR)/test_conformance.js: $(WASM_TEST_DIR)/test_conformance.o $(WASM_TEST_DIR)/shim_conformance.o $(WASM_ENGINE_SIMD) | $(WASM_TEST_DIR)/package.json
	$(EMCC) $(WASM_TESTFLAGS) -o $@ $(filter %.o,$^)

$(WASM_TEST_DIR)/test_models.js: $(WASM_TEST_DIR)/test_models.o $(WASM_ENGINE_SIMD) | $(WASM_TEST_DIR)/package.json
	$(EMCC) $(WASM_TESTFLAGS) -o $@ $(filter %.o,$^)

$(WASM_TEST_DIR)/test_models_mt.o: tests/test_models.c $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(EMCC) $(WASM_CFLAGS) -pthread -Isrc -c $< -o $@

# the relaxed-SIMD variant's kernel and model tests (Node 20 runs relaxed SIMD behind --experimental-wasm-relaxed-simd):
# the plain build's test objects (clang 14) with the relaxed engine, since clang-19 names a main(argc, argv)
# __main_argc_argv, which emscripten 3.1.6's start-up code does not call
WASM_ENGINE_RLX := $(filter-out $(WASM_DIR)/obj-rlx/wasm/%,$(WASM_OBJ_RLX))
$(WASM_TEST_DIR)/test_kernels_relaxed.js: $(WASM_TEST_DIR)/test_kernels.o $(WASM_ENGINE_RLX) | $(WASM_TEST_DIR)/package.json
	$(EMCC_RELAXED) $(WASM_TESTFLAGS) $(WASM_RELAXED) -o $@ $(filter %.o,$^)

$(WASM_TEST_DIR)/test_models_relaxed.js: $(WASM_TEST_DIR)/test_models.o $(WASM_ENGINE_RLX) | $(WASM_TEST_DIR)/package.json
	$(EMCC_RELAXED) $(WASM_TESTFLAGS) $(WASM_RELAXED) -o $@ $(filter %.o,$^)

# the same exports as the browser build, as a CommonJS factory for Node (bench/browser/node-profile.cjs)
$(WASM_TEST_DIR)/tandem-node.js: $(WASM_OBJ_SIMD) | $(WASM_TEST_DIR)/package.json
	$(EMCC) $(WASM_LDFLAGS) -sMODULARIZE=1 -sEXPORT_NAME=createTandemModule -sENVIRONMENT=node -sFILESYSTEM=0 \
	    -sEXPORTED_FUNCTIONS=$(WASM_EXPORTS) -sEXPORTED_RUNTIME_METHODS=UTF8ToString -o $@ $(filter %.o,$^)

$(WASM_TEST_DIR)/test_models_mt.js: $(WASM_TEST_DIR)/test_models_mt.o $(WASM_ENGINE_MT) | $(WASM_TEST_DIR)/package.json
	$(EMCC) $(WASM_TESTFLAGS) -pthread -sPTHREAD_POOL_SIZE=2 -Wno-pthreads-mem-growth -o $@ $(filter %.o,$^)

-include $(WASM_OBJ_SIMD:.o=.d) $(WASM_OBJ_MT:.o=.d) $(WASM_OBJ_RLX:.o=.d) $(WASM_OBJ_RLX_MT:.o=.d)
