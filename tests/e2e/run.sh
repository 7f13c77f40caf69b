#!/usr/bin/env bash
# run.sh - the end-to-end browser tests: builds the web folder (make web), then
#   tests/e2e/e2e.mjs    serves it with scripts/web-server.mjs and drives the measuring page in headless Chromium
#                        (playwright-core) for both wasm builds (skipped when ../shared, override TDM_SHARED, is absent);
#   tests/e2e/crowd.mjs  crowd mode against `tandem serve` with a SQLite results store over zoo models: the
#                        "Run the standard study on this device" button, its progress, the stored documents and
#                        `tandem study --report-from` (needs no ../shared);
#   tests/e2e/crowd_plan.mjs  unit tests of web/crowd.mjs (model choice, plan, time-left estimate), in Node.
# Screenshots and downloads go to $BUILD/test-output/e2e/. Prints the total `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
OUT=$BUILD/test-output/e2e
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

passed=0 failed=0
. tests/run_driver.sh

model=$SHARED/models/cifar10_resnet20/model.onnx
data=$SHARED/data/cifar10_test_jpeg75.bin
if [ ! -f "$model" ] || [ ! -f "$data" ]; then
  echo "SKIP e2e.mjs: $model or $data is absent (it needs the shared models and CIFAR-10 data)"
else
  run_driver e2e 900 node tests/e2e/e2e.mjs --build-dir "$BUILD" --web build/web --shared "$SHARED" --out "$OUT" \
    --chromium "$CHROMIUM" --runs "${E2E_RUNS:-30}"
fi
run_driver crowd_plan 60 node tests/e2e/crowd_plan.mjs
run_driver crowd 600 node tests/e2e/crowd.mjs --build-dir "$BUILD" --web build/web --out "$OUT" --chromium "$CHROMIUM" \
  --runs "${CROWD_RUNS:-10}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
