#!/usr/bin/env bash
# run.sh - the WebAssembly build against the same tests as the native one: tests/test_kernels.c,
# tests/test_conformance.c (same xfail list, same tolerances) and tests/test_models.c (the golden outputs of
# ../shared/models, 1e-4 relative / 1e-5 absolute, as natively) compiled with emcc and run under Node. The models run
# in the SIMD128 build at 1 thread and in the SIMD128+pthreads build at 1, 2 and 3 threads; the kernels and models
# also in the relaxed-SIMD build (clang-19, fused multiply-adds) at 1 thread. Then the JS API
# (web/tandem.mjs, baseline-ort.mjs) in headless Chromium: tests/wasm/browser-api.mjs (skips without chromium).
# Builds what it needs (make wasm-tests web; emscripten is installed by scripts/install-deps.sh).
# Prints `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
export TDM_SHARED=${TDM_SHARED:-../shared}
T=build/wasm/test

if ! command -v emcc >/dev/null || ! command -v node >/dev/null; then
    echo "wasm: emcc or node is missing (scripts/install-deps.sh installs them)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! make -s wasm-tests web >/tmp/tdm-wasm-build.$$ 2>&1; then
    tail -30 /tmp/tdm-wasm-build.$$
    rm -f /tmp/tdm-wasm-build.$$
    echo "wasm: make wasm-tests web failed"
    echo "0 passed, 1 failed"
    exit 1
fi
rm -f /tmp/tdm-wasm-build.$$

passed=0; failed=0
# check NAME COMMAND...: one test program; it passes when it exits 0 (each prints its own counts)
check() {
    local name=$1; shift
    echo "--- wasm $name"
    if "$@"; then passed=$((passed + 1)); echo "ok   wasm $name"
    else failed=$((failed + 1)); echo "FAIL wasm $name"; fi
}
# --no-experimental-fetch: emscripten 3.1.6's Node loader would otherwise fetch() the .wasm by file path
NODE_EM=(node --no-experimental-fetch)

check kernels "${NODE_EM[@]}" "$T/test_kernels.js"
check conformance "${NODE_EM[@]}" "$T/test_conformance.js" --xfail tests/conformance_xfail.txt
check "models (simd, 1 thread)" "${NODE_EM[@]}" "$T/test_models.js" --threads 1
check "models (simd-mt, 1,2,3 threads)" "${NODE_EM[@]}" "$T/test_models_mt.js" --threads 1,2,3
# the relaxed-SIMD build (fused multiply-adds): the same kernel tests and goldens, same tolerances
check "kernels (relaxed)" "${NODE_EM[@]}" --experimental-wasm-relaxed-simd "$T/test_kernels_relaxed.js"
check "models (relaxed, 1 thread)" "${NODE_EM[@]}" --experimental-wasm-relaxed-simd "$T/test_models_relaxed.js" --threads 1
# a text model (issue 13): the zoo's bert_tiny with onnxruntime-node's outputs on seeded token ids (batch 2, masks
# with padding) as golden sets, through the same test program: int64 inputs, attention, LayerNorm, GELU, in wasm
text=$(mktemp -d)
trap 'rm -rf "$text"' EXIT
NATIVE=${BUILD:-build}/tandem
if [ -x "$NATIVE" ] && node -e "require.resolve('onnxruntime-node')" 2>/dev/null && mkdir -p "$text/bert_tiny" &&
   "$NATIVE" zoo bert_tiny -o "$text/bert_tiny/model.onnx" --seed 5 >/dev/null 2>&1 &&
   node tests/text_golden.mjs "$text/bert_tiny/model.onnx" "$text/bert_tiny" --sets 2 --batch 2 --seed 9 \
     --range input_ids=0:30522; then
    check "text model bert_tiny vs onnxruntime (simd, 1 thread)" "${NODE_EM[@]}" "$T/test_models.js" --models "$text" --threads 1
    check "text model bert_tiny vs onnxruntime (simd-mt, 1,2,3 threads)" "${NODE_EM[@]}" "$T/test_models_mt.js" --models "$text" \
        --threads 1,2,3
    export TDM_TEXT_MODELS=$text
else
    echo "note: no native $NATIVE or onnxruntime-node: the text model's golden check is skipped"
fi
check "JS API in Chromium" node tests/wasm/browser-api.mjs

echo "wasm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
