#!/usr/bin/env bash
# run_all.sh - runs the test suites against $BUILD (build or build-san) and prints one summary line over suites.
#   tests/run_all.sh                  every suite, in the order below (what `make check` runs)
#   tests/run_all.sh api conformance  only the named suites, in the order given
#   tests/run_all.sh --list           the suite names, one per line, running nothing
# Each suite is a program or script that exits nonzero on failure and prints its own `N passed, M failed` line; how
# to run one case of a suite is in docs/TESTING.md.
#
# Naming: suite NAME is tests/test_NAME.c (built by `make` to $BUILD/test_NAME), tests/test_NAME.sh, or the folder
# tests/NAME/ with its run.sh; a second run of one of them with other arguments is NAME_VARIANT
# (conformance_threads, conformance_cli). Adding a suite is one line in SUITES below, and a row in docs/TESTING.md's table.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export TDM_SHARED=${TDM_SHARED:-../shared}
SAN=0; [ "$BUILD" = build-san ] && SAN=1
export SAN

# NAME  PASSES  COMMAND (words split on spaces). PASSES: all, or opt for the optimised pass only.
SUITES=(
  "kernels              all  $BUILD/test_kernels"
  "api                  all  $BUILD/test_api"
  # the transformer fusions against the unfused graphs (src/engine/fuse.c, attention, dense layers)
  "fusion               all  $BUILD/test_fusion"
  "opts                 all  $BUILD/test_opts"
  "conformance          all  $BUILD/test_conformance"
  # again on 3 threads: batched node tests then run image by image where the engine splits batches (engine/split.c)
  "conformance_threads  all  $BUILD/test_conformance --threads 3"
  # again through the command line: `tandem run MODEL --input ... --output-dir ...`, as a user runs a model
  "conformance_cli      all  $BUILD/test_conformance --cli $BUILD/tandem"
  "models               all  $BUILD/test_models"
  "eval                 all  tests/test_eval.sh"
  "cli                  all  tests/test_cli.sh"
  "bad_input            all  tests/test_bad_input.sh"
  # libFuzzer builds its own ASan+UBSan binaries with clang: once is enough
  "fuzz                 opt  tests/fuzz/run.sh"
  "server               all  tests/server/run.sh"
  "zoo                  all  tests/zoo/run.sh"
  "zoo_large            all  tests/zoo/large.sh"
  # the transformers against onnxruntime-node on 20 input sets each, threads 1 and 2, every kernel set
  "zoo_transformers     all  tests/zoo/transformers.sh"
  "swarm                all  tests/swarm/run.sh"
  # the WebAssembly build and the page run in emscripten's and Chromium's runtimes, which ASan does not see
  "wasm                 opt  tests/wasm/run.sh"
  "e2e                  opt  tests/e2e/run.sh"
  "study                all  tests/study/run.sh"
)

suite_names() {
  local line
  for line in "${SUITES[@]}"; do echo "${line%% *}"; done
}

# The SUITES line of suite $1, or nothing.
suite_line() {
  local line
  for line in "${SUITES[@]}"; do [ "${line%% *}" = "$1" ] && { echo "$line"; return; }; done
}

if [ "${1:-}" = --list ]; then
  suite_names
  exit 0
fi
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && mapfile -t wanted < <(suite_names)
for name in "${wanted[@]}"; do
  if [ -z "$(suite_line "$name")" ]; then
    echo "run_all.sh: no suite '$name' (the suites: $(suite_names | paste -sd ' '))" >&2
    exit 2
  fi
done

passed=0; failed=0; failed_names=()
for name in "${wanted[@]}"; do
  read -r _ passes cmd <<<"$(suite_line "$name")"
  if [ "$passes" = opt ] && [ "$SAN" = 1 ]; then
    [ $# -gt 0 ] && echo "=== $name: runs in the optimised pass only (BUILD=build), not under the sanitizers"
    continue
  fi
  echo "=== $name"
  t0=$SECONDS
  # shellcheck disable=SC2086 # the command's words
  if $cmd; then passed=$((passed + 1)); echo "--- $name: ok ($((SECONDS - t0)) s)"
  else failed=$((failed + 1)); failed_names+=("$name"); echo "--- $name: FAILED ($((SECONDS - t0)) s)"; fi
done

echo
[ $failed -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
