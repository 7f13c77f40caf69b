#!/usr/bin/env bash
# run.sh - tests of `tandem zoo`'s CIFAR families (large.sh tests the ImageNet and transformer models): every one is
# generated, passes onnx.checker, has the parameter count that pytorch-cifar-models publishes (within 1 %), runs
# natively to finite logits of the right shape, and comes out byte-identical for the same seed; one model per family
# matches onnxruntime-node; trained weights load through --weights (../shared, skipped when absent); bad requests fail
# cleanly. Prints `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
T=$BUILD/tandem
SHARED=${TDM_SHARED:-../shared}
PY=/usr/bin/python3
CHECK=tests/zoo/check.py
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
skip() { echo "skip  $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$T" ]; then echo "no $T: build first"; echo "0 passed, 1 failed"; exit 1; fi
HAVE_PY=0
if "$PY" -c 'import onnx, numpy' 2>/dev/null; then HAVE_PY=1
else skip "python3-onnx/numpy are not installed for $PY: onnx.checker, graph parameter counts and tensor checks"; fi
HAVE_ORT=0
if command -v node >/dev/null && node -e "require.resolve('onnxruntime-node')" 2>/dev/null; then HAVE_ORT=1
else skip "node with onnxruntime-node is not available: the cross-check against onnxruntime"; fi

# Published parameter counts in millions, from the "Model Zoo" tables (#Params.(M)) of the README of
# https://github.com/chenyaofo/pytorch-cifar-models (README at commit d1c8e99b911da7d412979600c84d2a4fe3728473).
# They count what PyTorch's model.parameters() holds: BatchNorm scale and shift, not its running statistics.
declare -A PUBLISHED=(
  [cifar10_resnet20]=0.27 [cifar10_resnet32]=0.47 [cifar10_resnet44]=0.66 [cifar10_resnet56]=0.86
  [cifar10_vgg11_bn]=9.76 [cifar10_vgg13_bn]=9.94 [cifar10_vgg16_bn]=15.25 [cifar10_vgg19_bn]=20.57
  [cifar10_mobilenetv2_x0_5]=0.70 [cifar10_mobilenetv2_x0_75]=1.37 [cifar10_mobilenetv2_x1_0]=2.24
  [cifar10_mobilenetv2_x1_4]=4.33
  [cifar10_shufflenetv2_x0_5]=0.35 [cifar10_shufflenetv2_x1_0]=1.26 [cifar10_shufflenetv2_x1_5]=2.49
  [cifar10_shufflenetv2_x2_0]=5.37
  [cifar100_resnet20]=0.28 [cifar100_resnet32]=0.47 [cifar100_resnet44]=0.67 [cifar100_resnet56]=0.86
  [cifar100_vgg11_bn]=9.80 [cifar100_vgg13_bn]=9.99 [cifar100_vgg16_bn]=15.30 [cifar100_vgg19_bn]=20.61
  [cifar100_mobilenetv2_x0_5]=0.82 [cifar100_mobilenetv2_x0_75]=1.48 [cifar100_mobilenetv2_x1_0]=2.35
  [cifar100_mobilenetv2_x1_4]=4.50
  [cifar100_shufflenetv2_x0_5]=0.44 [cifar100_shufflenetv2_x1_0]=1.36 [cifar100_shufflenetv2_x1_5]=2.58
  [cifar100_shufflenetv2_x2_0]=5.55
)

# within_1pct COUNT MILLIONS
within_1pct() { awk -v c="$1" -v p="$2" 'BEGIN { r = c / (p * 1e6); exit !(r >= 0.99 && r <= 1.01) }'; }

# ---- the list ----
if "$T" zoo --list >"$tmp/list.txt" 2>"$tmp/err"; then ok "zoo --list"; else bad "zoo --list: $(cat "$tmp/err")"; fi
names=$(awk 'NR > 1 && /^cifar/ { print $1 }' "$tmp/list.txt")
n_names=$(echo "$names" | grep -c .)
if [ "$n_names" = "${#PUBLISHED[@]}" ]; then ok "the list has the ${#PUBLISHED[@]} published models"
else bad "the list has $n_names models, the published table ${#PUBLISHED[@]}"; fi
for n in "${!PUBLISHED[@]}"; do
  grep -q "^$n " "$tmp/list.txt" || bad "$n is missing from zoo --list"
done
if "$T" zoo --list --json >"$tmp/list.json" && node -e "
  const a = JSON.parse(require('fs').readFileSync('$tmp/list.json', 'utf8'));
  const good = (m) => m.name && m.classes > 0 && m.params > 0 && m.inputs.length === 1;
  const cifar = Array.isArray(a) ? a.filter((m) => m.family === 'cifar') : [];
  if (cifar.length !== $n_names || !cifar.every(good)) process.exit(1);"
then ok "zoo --list --json is an array of {name, family, classes, params, inputs}"; else bad "zoo --list --json"; fi

# ---- every model ----
for name in $names; do
  m=$tmp/$name.onnx
  classes=${name#cifar}; classes=${classes%%_*}
  if ! "$T" zoo "$name" -o "$m" --seed 7 2>"$tmp/err"; then bad "$name: zoo failed: $(cat "$tmp/err")"; continue; fi
  listed=$(awk -v n="$name" '$1 == n { print $3 }' "$tmp/list.txt")
  pub=${PUBLISHED[$name]:-}
  if [ -z "$pub" ]; then bad "$name: no published figure in this test"
  elif within_1pct "$listed" "$pub"; then ok "$name: $listed parameters (published ${pub}M)"
  else bad "$name: $listed parameters, published ${pub}M (more than 1 % apart)"; fi
  # determinism: the same seed gives the same bytes
  "$T" zoo "$name" -o "$tmp/again.onnx" --seed 7 2>/dev/null
  if cmp -s "$m" "$tmp/again.onnx"; then ok "$name: same seed, same bytes"
  else bad "$name: two runs with seed 7 differ"; fi
  rm -f "$tmp/again.onnx"
  info_params=$("$T" info "$m" --json 2>"$tmp/err" | grep -o '"params": *[0-9]*' | grep -o '[0-9]*$')
  if [ "$HAVE_PY" = 1 ]; then
    if read -r learnable folded out_classes in_shape < <("$PY" "$CHECK" model "$m" 2>"$tmp/err"); then
      ok "$name: onnx.checker (full check) passes"
      if [ "$learnable" = "$listed" ] && within_1pct "$learnable" "$pub"; then
        ok "$name: the graph holds $learnable learnable parameters (published ${pub}M)"
      else bad "$name: the graph holds $learnable learnable parameters, zoo --list says $listed, published ${pub}M"; fi
      if [ "$info_params" = "$folded" ]; then ok "$name: tandem info shows $info_params, the BatchNorm-folded count"
      else bad "$name: tandem info shows '$info_params', folding the graph's BatchNorms gives $folded"; fi
      if [ "$out_classes" = "$classes" ] && [ "$in_shape" = "N,3,32,32" ]; then ok "$name: [N,3,32,32] -> [N,$classes]"
      else bad "$name: input [$in_shape], $out_classes classes"; fi
    else
      bad "$name: onnx.checker: $(tail -n 3 "$tmp/err")"
    fi
  else
    [ -n "$info_params" ] && ok "$name: tandem info loads it ($info_params parameters after folding)" \
      || bad "$name: tandem info failed: $(cat "$tmp/err")"
  fi
  # one native run on random input: finite logits of the right shape
  rm -rf "$tmp/out"
  if "$T" run "$m" --input random --output-dir "$tmp/out" >"$tmp/run.json" 2>"$tmp/err"; then
    if [ "$HAVE_PY" = 1 ]; then
      if r=$("$PY" "$CHECK" finite "$tmp/out/output_0.pb" "$classes" 1 2>&1); then ok "$name: tandem run: $r"
      else bad "$name: tandem run: $r"; fi
    elif grep -q "\"shape\": \[1, $classes\]" "$tmp/run.json" && ! grep -qi 'nan\|inf' "$tmp/run.json"; then
      ok "$name: tandem run gives [1, $classes]"
    else bad "$name: tandem run output: $(head -c 300 "$tmp/run.json")"; fi
  else
    bad "$name: tandem run failed: $(cat "$tmp/err")"
  fi
  rm -f "$m"
done

# a different seed gives different weights
"$T" zoo cifar10_resnet20 -o "$tmp/s1.onnx" --seed 1 2>/dev/null
"$T" zoo cifar10_resnet20 -o "$tmp/s2.onnx" --seed 2 2>/dev/null
if [ -s "$tmp/s1.onnx" ] && ! cmp -s "$tmp/s1.onnx" "$tmp/s2.onnx"; then ok "seeds 1 and 2 give different models"
else bad "seeds 1 and 2 give the same model"; fi

# ---- against onnxruntime: one model per family, batch 2 ----
if [ "$HAVE_PY" = 1 ] && [ "$HAVE_ORT" = 1 ]; then
  "$PY" "$CHECK" input 2 11 "$tmp/x.bin" "$tmp/x.pb"
  for name in cifar100_resnet20 cifar10_resnet56 cifar100_mobilenetv2_x0_5 cifar100_shufflenetv2_x0_5 \
              cifar10_vgg11_bn; do
    m=$tmp/$name.onnx
    "$T" zoo "$name" -o "$m" --seed 3 2>/dev/null
    rm -rf "$tmp/out"
    if ! "$T" run "$m" --input "$tmp/x.pb" --output-dir "$tmp/out" --top 0 >/dev/null 2>"$tmp/err"; then
      bad "$name: tandem run on batch 2: $(cat "$tmp/err")"; continue
    fi
    if ! node tests/zoo/ort_ref.mjs "$m" "$tmp/x.bin" 2 "$tmp/ort_" >/dev/null 2>"$tmp/err"; then
      bad "$name: onnxruntime-node: $(cat "$tmp/err")"; continue
    fi
    if r=$("$PY" "$CHECK" compare "$tmp/out/output_0.pb" "$tmp/ort_0.bin" 1e-4 2>&1); then
      ok "$name: tandem matches onnxruntime-node ($r)"
    else bad "$name: tandem against onnxruntime-node: $r"; fi
    rm -f "$m"
  done
else
  skip "the cross-check against onnxruntime-node (needs python3-onnx and onnxruntime-node)"
fi

# ---- --weights ----
# by name: a zoo model's own weights, loaded into a model with another seed, give back the same bytes
"$T" zoo cifar100_mobilenetv2_x0_5 -o "$tmp/w1.onnx" --seed 5 2>/dev/null
if "$T" zoo cifar100_mobilenetv2_x0_5 -o "$tmp/w2.onnx" --seed 6 --weights "$tmp/w1.onnx" 2>"$tmp/err" &&
   cmp -s "$tmp/w1.onnx" "$tmp/w2.onnx"; then ok "--weights by name reproduces the source model byte for byte"
else bad "--weights by name: $(cat "$tmp/err")"; fi
if [ "$HAVE_PY" = 1 ]; then
  # by order, BatchNorm kept: the same weights under other names
  "$PY" "$CHECK" rename "$tmp/w1.onnx" "$tmp/renamed.onnx"
  if "$T" zoo cifar100_mobilenetv2_x0_5 -o "$tmp/w2.onnx" --seed 6 --weights "$tmp/renamed.onnx" 2>"$tmp/err" &&
     cmp -s "$tmp/w1.onnx" "$tmp/w2.onnx"; then
    ok "--weights by node order (names differ) reproduces the source byte for byte"
  else bad "--weights by node order: $(cat "$tmp/err")"; fi
  # by order, BatchNorm folded into the convolutions and Linear stored [in, out]: the same function comes back
  [ -f "$tmp/x.pb" ] || "$PY" "$CHECK" input 2 11 "$tmp/x.bin" "$tmp/x.pb"
  for name in cifar100_resnet20 cifar10_vgg11_bn cifar100_mobilenetv2_x0_5 cifar100_shufflenetv2_x0_5; do
    "$T" zoo "$name" -o "$tmp/src.onnx" --seed 5 2>/dev/null
    if ! "$PY" "$CHECK" fold "$tmp/src.onnx" "$tmp/folded.onnx" 2>"$tmp/err"; then
      bad "$name: fold: $(cat "$tmp/err")"; continue
    fi
    if ! "$T" zoo "$name" -o "$tmp/back.onnx" --seed 9 --weights "$tmp/folded.onnx" 2>"$tmp/err"; then
      bad "$name: --weights from its folded export: $(cat "$tmp/err")"; continue
    fi
    rm -rf "$tmp/o1" "$tmp/o2"
    "$T" run "$tmp/src.onnx" --input "$tmp/x.pb" --output-dir "$tmp/o1" --top 0 >/dev/null 2>&1
    "$T" run "$tmp/back.onnx" --input "$tmp/x.pb" --output-dir "$tmp/o2" --top 0 >/dev/null 2>&1
    if r=$("$PY" "$CHECK" compare "$tmp/o2/output_0.pb" "$tmp/o1/output_0.pb" 1e-4 2>&1); then
      ok "$name: --weights from a BatchNorm-folded export computes what the source does ($r)"
    else bad "$name: --weights from a BatchNorm-folded export: $r"; fi
  done
  rm -f "$tmp/src.onnx" "$tmp/folded.onnx" "$tmp/back.onnx"
fi
# another architecture's weights are refused with a message
if "$T" zoo cifar100_resnet20 -o "$tmp/w3.onnx" --weights "$tmp/w1.onnx" 2>"$tmp/err"; then
  bad "--weights from MobileNetV2 into ResNet-20 was accepted"
elif grep -q "does not have this architecture" "$tmp/err"; then
  ok "--weights from another architecture: $(cat "$tmp/err")"
else bad "--weights from another architecture: unclear error: $(cat "$tmp/err")"; fi
head -c 1000 /dev/urandom >"$tmp/junk.onnx"
"$T" zoo cifar100_resnet20 -o "$tmp/w4.onnx" --weights "$tmp/junk.onnx" 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "weights" "$tmp/err"; then ok "--weights with a malformed file: exit 1, $(cat "$tmp/err")"
else bad "--weights with a malformed file: exit $rc, $(cat "$tmp/err")"; fi
# models PyTorch exported from pytorch-cifar-models' own code (../shared/models: the trained ResNet-56 with BatchNorm
# folded, seeded ResNet-20/32/44 folded, seeded MobileNetV2 x1.0 with BatchNorm kept): their weights in our graphs
# must reproduce PyTorch's golden outputs, which shows the architectures are the same layer for layer
if [ -d "$SHARED/models" ] && [ "$HAVE_PY" = 1 ]; then
  for pair in cifar100_resnet56:cifar100_resnet56 cifar100_resnet20:cifar100_resnet20_arch \
              cifar100_resnet32:cifar100_resnet32_arch cifar100_resnet44:cifar100_resnet44_arch \
              cifar100_mobilenetv2_x1_0:cifar100_mobilenetv2_arch; do
    name=${pair%%:*}; dir=$SHARED/models/${pair#*:}
    if [ ! -f "$dir/model.onnx" ]; then skip "$dir/model.onnx is absent"; continue; fi
    if ! "$T" zoo "$name" -o "$tmp/shared.onnx" --weights "$dir/model.onnx" 2>"$tmp/err"; then
      bad "$name --weights $dir/model.onnx: $(cat "$tmp/err")"; continue
    fi
    for set in test_data_set_0 test_data_set_1; do
      rm -rf "$tmp/out"
      "$T" run "$tmp/shared.onnx" --input "$dir/$set/input_0.pb" --output-dir "$tmp/out" --top 0 >/dev/null 2>&1
      if r=$("$PY" "$CHECK" compare "$tmp/out/output_0.pb" "$dir/$set/output_0.pb" 1e-4 2>&1); then
        ok "$name with the weights of ${dir##*/} reproduces PyTorch's $set ($r)"
      else bad "$name with the weights of ${dir##*/}, $set: $r"; fi
    done
  done
  # an option-A ResNet (slice and zero-pad shortcuts, no 1x1 convolution) is another architecture
  if [ -f "$SHARED/models/cifar10_resnet20/model.onnx" ]; then
    if "$T" zoo cifar10_resnet20 -o "$tmp/a.onnx" --weights "$SHARED/models/cifar10_resnet20/model.onnx" 2>"$tmp/err"
    then bad "the option-A ResNet-20's weights were accepted"
    elif grep -q "does not have this architecture" "$tmp/err"; then
      ok "the option-A ResNet-20 is refused: $(cat "$tmp/err")"
    else bad "the option-A ResNet-20: unclear error: $(cat "$tmp/err")"; fi
  fi
else
  skip "PyTorch exports in $SHARED/models (absent) or python3-onnx (absent)"
fi

# ---- bad requests ----
"$T" zoo no_such_model -o "$tmp/x.onnx" 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "not in the zoo" "$tmp/err"; then ok "unknown name: exit 1, $(cat "$tmp/err")"
else bad "unknown name: exit $rc, $(cat "$tmp/err")"; fi
"$T" zoo cifar10_resnet20 2>"$tmp/err"; rc=$?
if [ $rc = 2 ]; then ok "no --output: usage error (exit 2)"; else bad "no --output: exit $rc"; fi
"$T" zoo cifar10_resnet20 -o "$tmp/x.onnx" --seed -3 2>"$tmp/err"; rc=$?
if [ $rc = 2 ]; then ok "a negative seed: usage error (exit 2)"; else bad "a negative seed: exit $rc"; fi
"$T" zoo cifar10_resnet20 -o "$tmp/no/such/dir/x.onnx" 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "cannot create" "$tmp/err"; then ok "unwritable output: exit 1, $(cat "$tmp/err")"
else bad "unwritable output: exit $rc, $(cat "$tmp/err")"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
