#!/usr/bin/env bash
# run.sh - the end-to-end browser test: builds the web folder (make web), then tests/e2e/e2e.mjs serves it with
# scripts/web-server.mjs and drives the measuring page in headless Chromium (playwright-core) for both wasm builds.
# Skips when ../shared (override TDM_SHARED) is absent. Screenshots and the downloaded JSON go to
# $BUILD/test-output/e2e/. Prints `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
OUT=$BUILD/test-output/e2e
model=$SHARED/models/cifar10_resnet20/model.onnx
data=$SHARED/data/cifar10_test_jpeg75.bin
if [ ! -f "$model" ] || [ ! -f "$data" ]; then
  echo "SKIP: $model or $data is absent (the e2e test needs the shared models and CIFAR-10 data)"
  echo "0 passed, 0 failed"; exit 0
fi
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (scripts/install-deps.sh installs Debian's chromium)"
[ -d node_modules/playwright-core ] || fail "node_modules/playwright-core is missing (run scripts/npm-deps.sh)"
[ -x "$BUILD/tandem" ] || fail "$BUILD/tandem is missing (run make)"
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
mkdir -p "$OUT"
# mk/wasm.mk always assembles build/web (whatever $BUILD is)
if ! make -s web >"$OUT/make-web.log" 2>&1; then
  tail -20 "$OUT/make-web.log"
  fail "make web failed (log: $OUT/make-web.log)"
fi
# a hung browser or page ends the run after 15 minutes (e2e.mjs stops its server and prints the summary on SIGTERM)
exec timeout 900 node tests/e2e/e2e.mjs --build-dir "$BUILD" --web build/web --shared "$SHARED" --out "$OUT" \
  --chromium "$CHROMIUM" --runs "${E2E_RUNS:-30}"
