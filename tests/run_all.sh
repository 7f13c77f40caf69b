#!/usr/bin/env bash
# run_all.sh - runs every test suite against $BUILD (build or build-san) and prints one summary line.
# Each suite is a program or script that exits nonzero on failure and prints its own `N passed, M failed` line.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export TDM_SHARED=${TDM_SHARED:-../shared}
SAN=0; [ "$BUILD" = build-san ] && SAN=1
export SAN
passed=0; failed=0; failed_names=()

suite() { # suite NAME COMMAND...
  local name=$1; shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then passed=$((passed + 1)); echo "--- $name: ok ($((SECONDS - t0)) s)"
  else failed=$((failed + 1)); failed_names+=("$name"); echo "--- $name: FAILED ($((SECONDS - t0)) s)"; fi
}

[ -x "$BUILD/test_kernels" ] && suite kernels "$BUILD/test_kernels"
[ -x "$BUILD/test_api" ] && suite api "$BUILD/test_api"
# the transformer fusions against the unfused graphs (src/engine/fuse.c, attention, dense layers)
[ -x "$BUILD/test_fusion" ] && suite fusion "$BUILD/test_fusion"
suite conformance "$BUILD/test_conformance"
# again on 3 threads: batched node tests then run image by image where the engine splits batches (engine/split.c)
suite conformance-threads "$BUILD/test_conformance" --threads 3
# again through the command line: `tandem run MODEL --input ... --output-dir ...`, as a user runs a model
suite conformance-cli "$BUILD/test_conformance" --cli "$BUILD/tandem"
suite models "$BUILD/test_models"
suite eval tests/eval_test.sh
suite cli tests/cli_test.sh
suite bad-input tests/bad_input.sh
[ "$SAN" = 1 ] || suite fuzz-smoke tests/fuzz_smoke.sh
# the parts beyond the engine; each folder's run.sh prints its own `N passed, M failed` line
[ -x tests/server/run.sh ] && suite server tests/server/run.sh
[ -x tests/zoo/run.sh ] && suite zoo tests/zoo/run.sh
[ -x tests/zoo/large.sh ] && suite zoo-large tests/zoo/large.sh
# the transformers against onnxruntime-node on 20 input sets each, threads 1 and 2, every kernel set (issue 13)
[ -x tests/zoo/transformers.sh ] && suite zoo-transformers tests/zoo/transformers.sh
[ -x tests/swarm/run.sh ] && suite swarm tests/swarm/run.sh
# the WebAssembly build is tested once, in the optimised pass (emscripten has its own runtime, not ASan's)
[ "$SAN" = 1 ] || { [ -x tests/wasm/run.sh ] && suite wasm tests/wasm/run.sh; }
[ "$SAN" = 1 ] || { [ -x tests/e2e/run.sh ] && suite browser-e2e tests/e2e/run.sh; }
suite study tests/study/run.sh

echo
[ $failed -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
