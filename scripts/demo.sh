#!/usr/bin/env bash
# demo.sh - the README's main command for now: export a CIFAR-10 test image as a PNG and classify it with the trained
# ResNet-20 through `tandem run`, then show the model and its timing figures. Usage: demo.sh BUILD SHARED
set -euo pipefail
BUILD=${1:-build}
SHARED=${2:-../shared}
model=$SHARED/models/cifar10_resnet20/model.onnx
data=$SHARED/data/cifar10_test_jpeg75.bin
if [ ! -f "$model" ] || [ ! -f "$data" ]; then
  echo "demo: $model or $data is absent; put the shared data folder beside the clone (or SHARED=DIR make demo)" >&2
  exit 1
fi
mkdir -p out
echo "== the model"
"$BUILD/tandem" info "$model"
echo
echo "== a test image (record 3 of the CIFAR-10 test set), written to out/sample.png"
"$BUILD/tandem" export-image --dataset "$data" --index 3 --output out/sample.png --scale 4
echo
echo "== tandem run on that image"
"$BUILD/tandem" run "$model" --input out/sample.png --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 \
  --labels "$SHARED/data/cifar10_classes.txt" --top 3 --output-dir out
echo
echo "== timing (tandem bench, batch 1, 1 thread)"
"$BUILD/tandem" bench "$model" --runs 50
