#!/usr/bin/env bash
# run.sh - the WebAssembly build against the same tests as the native one: tests/test_kernels.c,
# tests/test_conformance.c (same xfail list, same tolerances) and tests/test_models.c (the golden outputs of
# ../shared/models, 1e-4 relative / 1e-5 absolute, as natively) compiled with emcc and run under Node. The models run
# in the SIMD128 build at 1 thread and in the SIMD128+pthreads build at 1, 2 and 3 threads. Builds what it needs
# (make wasm-tests; emscripten is installed by scripts/install-deps.sh). Prints `N passed, M failed`.
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
if ! make -s wasm-tests >/tmp/tdm-wasm-build.$$ 2>&1; then
    tail -30 /tmp/tdm-wasm-build.$$
    rm -f /tmp/tdm-wasm-build.$$
    echo "wasm: make wasm-tests failed"
    echo "0 passed, 1 failed"
    exit 1
fi
rm -f /tmp/tdm-wasm-build.$$

passed=0; failed=0
# check NAME PROGRAM ARGS...: one test program under Node; it passes when it exits 0 (each prints its own counts)
check() {
    local name=$1; shift
    echo "--- wasm $name"
    # --no-experimental-fetch: emscripten 3.1.6's loader would otherwise fetch() the .wasm by file path
    if node --no-experimental-fetch "$@"; then passed=$((passed + 1)); echo "ok   wasm $name"
    else failed=$((failed + 1)); echo "FAIL wasm $name"; fi
}

check kernels "$T/test_kernels.js"
check conformance "$T/test_conformance.js" --xfail tests/conformance_xfail.txt
check "models (simd, 1 thread)" "$T/test_models.js" --threads 1
check "models (simd-mt, 1,2,3 threads)" "$T/test_models_mt.js" --threads 1,2,3

echo "wasm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
