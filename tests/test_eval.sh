#!/usr/bin/env bash
# test_eval.sh - `tandem eval` of the trained CIFAR-10 ResNet-20 over the full ../shared/data test set must reproduce
# the PyTorch reference accuracy, 81.03 % +- 0.05. Under sanitizers only a 300-image prefix runs (no accuracy check).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
model=$SHARED/models/cifar10_resnet20/model.onnx
data=$SHARED/data/cifar10_test_jpeg75.bin
if [ ! -f "$model" ] || [ ! -f "$data" ]; then echo "SKIP: $model or $data is absent"; echo "0 passed, 0 failed"; exit 0; fi
limit=(); [ "${SAN:-0}" = 1 ] && limit=(--limit 300)
out=$("$BUILD/tandem" eval "$model" --dataset "$data" --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 \
      --threads 2 "${limit[@]}" --json) || { echo "FAIL: tandem eval exited $?"; echo "0 passed, 1 failed"; exit 1; }
echo "$out"
node -e '
const r = JSON.parse(process.argv[1]);
const full = process.argv[2] === "full";
let ok = r.images > 0 && r.top1 > 0 && r.top5 >= r.top1 && r.images_per_s > 0;
if (full) ok = ok && r.images === 10000 && Math.abs(r.top1 - 81.03) <= 0.05;
console.log(ok ? "eval: top1 " + r.top1 + " % over " + r.images + " images: ok" : "eval: FAIL (want 81.03 +- 0.05 over 10000)");
console.log(ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
process.exit(ok ? 0 : 1);' "$out" "$([ "${SAN:-0}" = 1 ] && echo prefix || echo full)"
