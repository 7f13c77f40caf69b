#!/usr/bin/env bash
# transformers.sh - the transformers of `tandem zoo` against onnxruntime-node (issue 13): for each model, 20 input sets
# (new token ids over the vocabulary with masks padded at random lengths; images of uniform noise for the ViT) go
# through onnxruntime-node once (tests/text_golden.mjs writes them and its outputs as golden sets), then through
# tandem (tests/test_models.c) at 1 and 2 threads with every kernel set this CPU and build have (TDM_KERNELS); every
# output must match within 1e-4 of its largest magnitude. The models run with the fusions on (attention, LayerNorm,
# GELU, dense layers on packed weights), so this is the end-to-end check of those paths on real model shapes.
#
# Cost (2 cores, quiet): the default set below, about two minutes; TDM_ZOO_FULL=1 runs 20 sets of every model on
# every kernel set and adds bert_base (110 M parameters): several minutes more, the scalar kernels most of them.
# Under sanitizers (SAN=1) only bert_mini runs, with 3 sets, at the default kernels.
# Prints `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
T=$BUILD/tandem
TM=$BUILD/test_models
SAN=${SAN:-0}
FULL=${TDM_ZOO_FULL:-0}
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$T" ] || [ ! -x "$TM" ]; then echo "no $T or $TM: build first"; echo "0 passed, 1 failed"; exit 1; fi
if ! command -v node >/dev/null || ! node -e "require.resolve('onnxruntime-node')" 2>/dev/null; then
    echo "skip  node with onnxruntime-node is not available: nothing to compare with"; echo "0 passed, 0 failed"; exit 0
fi

# the kernel sets: the default, then each other one the CPU and build have (as tests/zoo/large.sh finds them)
"$T" zoo bert_tiny -o "$tmp/probe.onnx" >/dev/null 2>&1
isa() { TDM_KERNELS=$1 "$T" info "$tmp/probe.onnx" --json 2>/dev/null | grep -o '"kernel_isa": *"[^"]*"' | sed 's/.*: *"//; s/"$//'; }
KERNELS=(""); ISAS=("$(isa "")")
for k in scalar avx2 avx512; do
    got=$(isa "$k")
    case "$got" in "$k"*) [[ " ${ISAS[*]} " == *" $got "* ]] || { KERNELS+=("$k"); ISAS+=("$got"); } ;; esac
done
echo "note  kernel sets: ${ISAS[*]}"

# NAME:OPSET:SETS:KERNELS (all, simd: not the scalar set, default: the selected set only). The default keeps CI short:
# GPT-2's golden sets are 25 MB each (logits over 50257 tokens), and the scalar kernels take most of the ViT's time.
MODELS="bert_mini:13:20:all vit_tiny_16:13:20:simd gpt2_tiny:13:4:all bert_mini:17:4:default"
THREADS=1,2
[ "$FULL" = 1 ] && MODELS="bert_mini:13:20:all vit_tiny_16:13:20:all gpt2_tiny:13:20:all bert_mini:17:20:all bert_base:13:20:all"
[ "$SAN" = 1 ] && MODELS="bert_mini:13:3:default"
[ "$FULL" = 1 ] || echo "note  TDM_ZOO_FULL=1 runs 20 sets of every model on every kernel set, and bert_base"

for entry in $MODELS; do
    IFS=: read -r name opset SETS which <<<"$entry"; t0=$SECONDS
    dir=$tmp/models/$name.$opset
    mkdir -p "$dir"
    if ! "$T" zoo "$name" -o "$dir/model.onnx" --seed 13 --opset "$opset" >/dev/null 2>"$tmp/err"; then
        bad "$name opset $opset: tandem zoo: $(cat "$tmp/err")"; continue
    fi
    range=$("$T" zoo --list --json | node -e "
      const e = JSON.parse(require('fs').readFileSync(0, 'utf8')).find((m) => m.name === '$name');
      process.stdout.write((e.inputs || []).filter((i) => i.range).map((i) => i.name + '=' + i.range.join(':')).join(','));")
    if ! node tests/text_golden.mjs "$dir/model.onnx" "$dir" --sets "$SETS" --seed 21 --range "$range" 2>"$tmp/err"; then
        bad "$name opset $opset: onnxruntime-node: $(cat "$tmp/err")"; continue
    fi
    for i in "${!KERNELS[@]}"; do
        [ "$which" = default ] && [ "$i" != 0 ] && continue
        [ "$which" = simd ] && [ "${ISAS[$i]}" = scalar ] && continue
        if TDM_KERNELS=${KERNELS[$i]} "$TM" --models "$tmp/models" --threads "$THREADS" --max-rel 1e-4 >"$tmp/out" 2>&1; then
            worst=$(grep -o 'worst element [0-9.]*' "$tmp/out" | awk '{ if ($3 > w) w = $3 } END { print w + 0 }')
            ok "$name opset $opset, ${ISAS[$i]}, threads $THREADS: $SETS input sets match onnxruntime-node within 1e-4 of the largest output (worst element $worst of that)"
        else
            bad "$name opset $opset, ${ISAS[$i]}: $(grep FAIL "$tmp/out" | head -3 | tr '\n' ' ')$(tail -1 "$tmp/out")"
        fi
    done
    rm -rf "$dir"
    echo "note  $name opset $opset: $((SECONDS - t0)) s"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
