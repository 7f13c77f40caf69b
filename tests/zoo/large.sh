#!/usr/bin/env bash
# large.sh - the ImageNet and transformer models of `tandem zoo` (issues 12 and 13): every one is listed with the
# parameter count its reference implementation publishes (torchvision, HuggingFace, timm); the models are generated,
# pass onnx.checker (full check) and hold that many learnable parameters in the graph; tandem's outputs match
# onnxruntime-node's within 1e-4 of the largest output magnitude on seeded random inputs (random token ids within the
# vocabulary, attention masks with padding) at threads 1, 2 and 3 with every kernel variant the CPU supports; the
# opset-17 writing (LayerNormalization, HardSwish) and the "exported by another tool" variants (--variant) give the
# same outputs as the plain export. Prints `N passed, M failed`.
#
# Time (2 cores, CI): the five small models (SqueezeNet, MobileNetV3-Small, ShuffleNetV2, BERT-tiny, ViT-Ti) run the
# whole matrix (every kernel variant x threads 1, 2, 3); the medium ones (GPT-2-tiny, whose 50257-word LM head is
# 1.6 GMACs per sequence, ResNet-18/50, MobileNetV2, MobileNetV3-Large, EfficientNet-B0, Inception-v3, BERT-mini and
# -small) run the default kernels at threads 1, 2, 3 and
# every other SIMD variant at 2 threads, but not the portable scalar kernels (10-20x slower; the small models cover
# them, and the kernel tests compare every variant with the reference on odd sizes); the two largest, imagenet_vgg16 (138 M parameters, 15.5 GMACs) and bert_base
# (109 M), are only counted (their counts come from the same builder that writes the others): writing VGG-16 alone
# takes ~20 s and loading it into onnx.checker and onnxruntime as much again, and their layers are the ones the
# medium models already run (3x3 convolutions and large Gemms; BERT-small's blocks). TDM_ZOO_FULL=1 runs every
# model through the whole matrix, and every variant test. Under sanitizers (SAN=1, ASan costs 3-10x) only the five
# small models and GPT-2-tiny run.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
T=$BUILD/tandem
PY=/usr/bin/python3
CHECK=tests/zoo/check.py
SAN=${SAN:-0}
FULL=${TDM_ZOO_FULL:-0}
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
skip() { echo "skip  $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$T" ]; then echo "no $T: build first"; echo "0 passed, 1 failed"; exit 1; fi
HAVE_PY=0
if "$PY" -c 'import onnx, numpy' 2>/dev/null; then HAVE_PY=1
else skip "python3-onnx/numpy are not installed for $PY: onnx.checker, graph counts and every comparison"; fi
HAVE_ORT=0
if command -v node >/dev/null && node -e "require.resolve('onnxruntime-node')" 2>/dev/null; then HAVE_ORT=1
else skip "node with onnxruntime-node is not available: the comparisons against onnxruntime"; fi

# ---- published parameter counts ----
# torchvision: the num_params of each model's IMAGENET1K_V1 weights in its documentation (torchvision.models).
# Inception-v3's 27,161,264 includes the auxiliary classifier (AuxLogits: conv0 768->128 1x1 + BN, conv1 128->768
# 5x5 + BN, fc 768->1000), which only runs in training: torch.onnx exports the eval-mode graph without it.
AUX=$(( 128*768 + 2*128 + 768*128*25 + 2*768 + 768*1000 + 1000 ))
declare -A PUBLISHED=(
  [imagenet_resnet18]=11689512 [imagenet_resnet50]=25557032 [imagenet_mobilenet_v2]=3504872
  [imagenet_mobilenet_v3_small]=2542856 [imagenet_mobilenet_v3_large]=5483032
  [imagenet_efficientnet_b0]=5288548 [imagenet_shufflenet_v2_x1_0]=2278604 [imagenet_squeezenet1_1]=1235496
  [imagenet_inception_v3]=$((27161264 - AUX)) [imagenet_vgg16]=138357544
  # timm's vit_tiny_patch16_224 (its model card: 5.7 M; timm counts 5,717,416)
  [vit_tiny_16]=5717416
)
# HuggingFace BertModel (with the pooler) for the BERT configs, vocabulary 30522, 512 positions, 2 token types,
# intermediate 4H: V*H + P*H + 2*H + 2*H (embeddings and their LayerNorm) + L*(12*H^2 + 13*H) + H^2 + H.
# bert_base gives 109,482,240, bert-base-uncased's count; the others the model cards' 4.4 M, 11.2 M and 28.8 M.
bert_count() { local L=$1 H=$2; echo $(( 30522*H + 512*H + 2*H + 2*H + L*(12*H*H + 13*H) + H*H + H )); }
PUBLISHED[bert_tiny]=$(bert_count 2 128); PUBLISHED[bert_mini]=$(bert_count 4 256)
PUBLISHED[bert_small]=$(bert_count 4 512); PUBLISHED[bert_base]=$(bert_count 12 768)
# HuggingFace GPT2LMHeadModel for n_layer 4, n_embd 256, n_head 4, n_positions 1024, vocab 50257 (the LM head is
# tied to wte, counted once): V*H + P*H + L*(12*H^2 + 13*H) + 2*H.
PUBLISHED[gpt2_tiny]=$(( 50257*256 + 1024*256 + 4*(12*256*256 + 13*256) + 2*256 ))

# within TOL: |count / published - 1| <= 0.005
within() { awk -v c="$1" -v p="$2" 'BEGIN { r = c / p; exit !(r >= 0.995 && r <= 1.005) }'; }

if "$T" zoo --list >"$tmp/list.txt" 2>"$tmp/err"; then ok "zoo --list"; else bad "zoo --list: $(cat "$tmp/err")"; fi
for n in "${!PUBLISHED[@]}"; do
  listed=$(awk -v n="$n" '$1 == n { print $3 }' "$tmp/list.txt")
  if [ -z "$listed" ]; then bad "$n is missing from zoo --list"; continue; fi
  if [ "$listed" = "${PUBLISHED[$n]}" ]; then ok "$n: $listed parameters, exactly the published count"
  elif within "$listed" "${PUBLISHED[$n]}"; then ok "$n: $listed parameters, published ${PUBLISHED[$n]} (within 0.5 %)"
  else bad "$n: $listed parameters, published ${PUBLISHED[$n]}"; fi
done
if "$T" zoo --list --json >"$tmp/list.json" && node -e "
  const a = JSON.parse(require('fs').readFileSync('$tmp/list.json', 'utf8'));
  const b = a.find((m) => m.name === 'bert_tiny'), r = a.find((m) => m.name === 'imagenet_resnet50');
  const ids = b && b.inputs.find((i) => i.name === 'input_ids');
  if (!ids || ids.dtype !== 'int64' || ids.range[1] !== 30522 || b.inputs.length !== 3 || b.family !== 'transformer')
    process.exit(1);
  if (!r || r.family !== 'imagenet' || r.inputs[0].shape.join() !== '-1,3,224,224') process.exit(1);"
then ok "zoo --list --json: family, inputs with shapes, dtypes and id ranges"; else bad "zoo --list --json"; fi

# ---- the kernel variants this CPU and build support ----
info_isa() { TDM_KERNELS=$1 "$T" info "$2" --json 2>/dev/null | grep -o '"kernel_isa": *"[^"]*"' | sed 's/.*: *"//; s/"$//'; }
"$T" zoo bert_tiny -o "$tmp/probe.onnx" 2>/dev/null
KERNELS=(); ISAS=()
default_isa=$(info_isa "" "$tmp/probe.onnx")
KERNELS+=(""); ISAS+=("$default_isa")
for k in scalar avx2 avx512; do
  isa=$(info_isa "$k" "$tmp/probe.onnx")
  case "$isa" in
    "$k"*) dup=0; for seen in "${ISAS[@]}"; do [ "$seen" = "$isa" ] && dup=1; done
           if [ $dup = 0 ]; then KERNELS+=("$k"); ISAS+=("$isa"); else echo "note  TDM_KERNELS=$k is $isa, the default here"; fi ;;
    *) skip "TDM_KERNELS=$k: the engine runs $isa (this CPU or build has no $k variant)" ;;
  esac
done
echo "note  kernel variants tested: ${ISAS[*]} (default first)"

# ---- which models run how ----
SMALL="imagenet_squeezenet1_1 imagenet_mobilenet_v3_small imagenet_shufflenet_v2_x1_0 bert_tiny vit_tiny_16"
MEDIUM="gpt2_tiny imagenet_resnet18 imagenet_resnet50 imagenet_mobilenet_v2 imagenet_mobilenet_v3_large imagenet_efficientnet_b0
        imagenet_inception_v3 bert_mini bert_small"
BIG="imagenet_vgg16 bert_base"
if [ "$SAN" = 1 ]; then MATRIX="$SMALL"; PARTIAL="gpt2_tiny"
elif [ "$FULL" = 1 ]; then MATRIX="$SMALL $MEDIUM $BIG"; PARTIAL=""
else MATRIX="$SMALL"; PARTIAL="$MEDIUM"; fi
[ "$SAN" = 1 ] && skip "under sanitizers: the medium and large models but gpt2_tiny are counted above, not run"
[ "$SAN" = 0 ] && [ "$FULL" = 0 ] && skip "imagenet_vgg16 and bert_base are counted above, not run (TDM_ZOO_FULL=1 runs them)"
# batch 2 (batch splitting, attention masks with different padding per sequence), 1 for the costly models
batch_of() {
  case "$1" in imagenet_resnet18|imagenet_resnet50|imagenet_inception_v3|imagenet_vgg16|bert_base|gpt2_tiny) echo 1 ;;
    *) echo 2 ;; esac
}

# run_tandem MODEL OUTDIR THREADS KERNELS INPUT_ARGS...: tandem run to OUTDIR
run_tandem() {
  local m=$1 out=$2 th=$3 k=$4; shift 4
  rm -rf "$out"
  TDM_KERNELS=$k "$T" run "$m" "$@" --threads "$th" --output-dir "$out" --top 0 >/dev/null 2>"$tmp/err"
}
# Runs are queued and compared in one Python call per model (a Python start with numpy and onnx costs ~0.5 s).
# queue_run MODEL DIR THREADS KERNELS LABEL INPUT_ARGS...: tandem run into DIR, queued for flush_runs
RUN_DIRS=(); RUN_LABELS=()
queue_run() {
  local m=$1 out=$2 th=$3 k=$4 label=$5; shift 5
  if run_tandem "$m" "$out" "$th" "$k" "$@"; then RUN_DIRS+=("$out"); RUN_LABELS+=("$label")
  else bad "$label: $(cat "$tmp/err")"; fi
}
# flush_runs MODEL REF TOL: every queued run's outputs against REF (REF<K>.bin, or a folder of output_K.pb)
flush_runs() {
  local m=$1 ref=$2 tol=$3 i line
  [ ${#RUN_DIRS[@]} = 0 ] && return
  "$PY" "$CHECK" compare-runs "$m" "$ref" "$tol" "${RUN_DIRS[@]}" >"$tmp/cmp" 2>&1
  for i in "${!RUN_DIRS[@]}"; do
    line=$(grep "^${RUN_DIRS[$i]} " "$tmp/cmp")
    case "$line" in
      "${RUN_DIRS[$i]} ok "*) ok "${RUN_LABELS[$i]} (${line#* ok })" ;;
      "${RUN_DIRS[$i]} FAIL "*) bad "${RUN_LABELS[$i]}: ${line#* FAIL }" ;;
      *) bad "${RUN_LABELS[$i]}: $(tail -n 2 "$tmp/cmp")" ;;
    esac
    rm -rf "${RUN_DIRS[$i]}"
  done
  RUN_DIRS=(); RUN_LABELS=()
}

# check_model NAME MODE: generate (kept as $tmp/NAME.onnx for the variant tests), check, compare against
# onnxruntime (MODE matrix: every kernel variant at threads 1, 2, 3; partial: the default kernels at 1, 2, 3 threads,
# the other SIMD ones at 2)
check_model() {
  local name=$1 mode=$2 m=$tmp/$1.onnx t0=$SECONDS
  if ! "$T" zoo "$name" -o "$m" --seed 7 2>"$tmp/err"; then bad "$name: zoo failed: $(cat "$tmp/err")"; return; fi
  [ "$HAVE_PY" = 1 ] || return
  local learnable ins args=() n; n=$(batch_of "$name")
  mkdir -p "$tmp/in"; rm -f "$tmp/in/"*
  if "$PY" "$CHECK" model "$m" "$n" 11 "$tmp/in" >"$tmp/model.txt" 2>"$tmp/err"; then
    read -r learnable _ <"$tmp/model.txt"
    if [ "$learnable" = "${PUBLISHED[$name]}" ]; then ok "$name: onnx.checker passes; the graph holds $learnable learnable parameters"
    else bad "$name: onnx.checker passes but the graph holds $learnable learnable parameters, published ${PUBLISHED[$name]}"; fi
  else bad "$name: onnx.checker: $(tail -n 3 "$tmp/err")"; rm -f "$m"; return; fi
  ins=$(sed -n 2p "$tmp/model.txt")
  for f in $ins; do args+=(--input "$f"); done
  if [ "$HAVE_ORT" = 1 ]; then
    if ! node tests/zoo/ort_ref.mjs "$m" --inputs "$tmp/in/inputs.json" "$tmp/ort_" >/dev/null 2>"$tmp/err"; then
      bad "$name: onnxruntime-node: $(cat "$tmp/err")"; rm -f "$m"; return
    fi
  fi
  for i in "${!KERNELS[@]}"; do
    local threads="1 2 3"
    if [ "$mode" = partial ] && [ "$i" -gt 0 ]; then [ "${ISAS[$i]}" = scalar ] && continue; threads=2; fi
    for th in $threads; do
      queue_run "$m" "$tmp/out.$i.$th" "$th" "${KERNELS[$i]}" \
        "$name: tandem ${ISAS[$i]}, $th thread(s), batch $n vs onnxruntime" "${args[@]}"
    done
  done
  if [ "$HAVE_ORT" = 1 ]; then flush_runs "$m" "$tmp/ort_" 1e-4
  else for l in "${RUN_LABELS[@]}"; do ok "$l: tandem ran (no onnxruntime to compare with)"; done; RUN_DIRS=(); RUN_LABELS=(); fi
  rm -f "$tmp/ort_"*
  [[ " $VARIANT_MODELS " == *" $name "* ]] || rm -f "$m"
  echo "note  $name: $((SECONDS - t0)) s"
}

# the variant tests below start from these models' plain files, which check_model keeps
VARIANT_MODELS="imagenet_mobilenet_v3_small imagenet_shufflenet_v2_x1_0 imagenet_squeezenet1_1 bert_tiny"
[ "$FULL" = 1 ] && VARIANT_MODELS="$VARIANT_MODELS imagenet_resnet18 imagenet_inception_v3 imagenet_efficientnet_b0"

for name in $MATRIX; do check_model "$name" matrix; done
for name in $PARTIAL; do check_model "$name" partial; done

# ---- opset 17 (LayerNormalization, HardSwish) ----
if [ "$HAVE_PY" = 1 ]; then
  for pair in bert_tiny:LayerNormalization vit_tiny_16:LayerNormalization gpt2_tiny:LayerNormalization \
              imagenet_mobilenet_v3_small:HardSwish; do
    name=${pair%%:*}; op=${pair#*:}; m=$tmp/$name.17.onnx
    if ! "$T" zoo "$name" -o "$m" --seed 7 --opset 17 2>"$tmp/err"; then bad "$name --opset 17: $(cat "$tmp/err")"; continue; fi
    if ! hist=" $("$PY" "$CHECK" ops "$m" check 2>"$tmp/err") "; then
      bad "$name --opset 17: onnx.checker: $(tail -n 2 "$tmp/err")"; continue
    fi
    if [[ "$hist" != *" $op="* ]] || { [ "$op" = LayerNormalization ] && [[ "$hist" == *" ReduceMean="* ]]; }; then
      bad "$name --opset 17: expected $op (and no decomposed LayerNorm): $hist"; continue
    fi
    ok "$name --opset 17: onnx.checker passes, the graph has $(echo "$hist" | grep -o "$op=[0-9]*")"
    rm -f "$tmp/in/"*
    ins=$("$PY" "$CHECK" inputs "$m" "$(batch_of "$name")" 11 "$tmp/in"); args=(); for f in $ins; do args+=(--input "$f"); done
    if [ "$HAVE_ORT" = 1 ] && node tests/zoo/ort_ref.mjs "$m" --inputs "$tmp/in/inputs.json" "$tmp/ort_" >/dev/null 2>"$tmp/err"; then
      for th in 1 2; do
        queue_run "$m" "$tmp/out.17.$th" "$th" "" "$name --opset 17: tandem, $th thread(s) vs onnxruntime" "${args[@]}"
      done
      flush_runs "$m" "$tmp/ort_" 1e-4
    elif [ "$HAVE_ORT" = 1 ]; then bad "$name --opset 17: onnxruntime-node: $(cat "$tmp/err")"; fi
    rm -f "$m"
  done
fi

# ---- variants: the same network as other exporters write it; tandem must compute the same outputs ----
# what each variant must have put in the graph: an op that appears, or (!op) one that disappears
declare -A MARK=([shape-chain]=Shape [reshape]='!Flatten' [pad]=Pad [bn-mul-add]='!BatchNormalization' [all]=Pad)
if [ "$HAVE_PY" = 1 ]; then
  for name in $VARIANT_MODELS; do
    m=$tmp/$name.onnx t0=$SECONDS
    [ -s "$m" ] || "$T" zoo "$name" -o "$m" --seed 7 2>/dev/null
    rm -f "$tmp/in/"*
    ins=$("$PY" "$CHECK" inputs "$m" 2 5 "$tmp/in"); args=(); for f in $ins; do args+=(--input "$f"); done
    if ! run_tandem "$m" "$tmp/plain" 1 "" "${args[@]}"; then bad "$name plain: $(cat "$tmp/err")"; continue; fi
    variants="shape-chain reshape pad bn-mul-add all"
    [ "$name" = bert_tiny ] && variants="shape-chain"
    for v in $variants; do
      mv=$tmp/$name.$v.onnx
      if ! "$T" zoo "$name" -o "$mv" --seed 7 --variant "$v" 2>"$tmp/err"; then bad "$name --variant $v: $(cat "$tmp/err")"; continue; fi
      if ! hist=" $("$PY" "$CHECK" ops "$mv" check 2>"$tmp/err") "; then
        bad "$name --variant $v: onnx.checker: $(tail -n 2 "$tmp/err")"; continue
      fi
      mark=${MARK[$v]}
      case "$mark" in
        !*) [[ "$hist" != *" ${mark#!}="* ]] && has=1 || has=0 ;;
        *) [[ "$hist" == *" $mark="* ]] && has=1 || has=0 ;;
      esac
      if [ $has = 0 ]; then bad "$name --variant $v: expected ${mark/!/no } in the graph: $hist"; continue; fi
      ths=1; [ "$v" = all ] && ths="1 2"
      for th in $ths; do
        queue_run "$mv" "$tmp/out.$v.$th" "$th" "" \
          "$name --variant $v (${mark/!/no }), $th thread(s): same outputs as the plain export" "${args[@]}"
      done
      rm -f "$mv"
    done
    flush_runs "$m" "$tmp/plain" 1e-5
    rm -f "$m"
    echo "note  $name variants: $((SECONDS - t0)) s"
  done
fi

# ---- determinism and bad requests ----
for name in bert_tiny imagenet_mobilenet_v3_small; do
  "$T" zoo "$name" -o "$tmp/a.onnx" --seed 4 2>/dev/null; "$T" zoo "$name" -o "$tmp/b.onnx" --seed 4 2>/dev/null
  if [ -s "$tmp/a.onnx" ] && cmp -s "$tmp/a.onnx" "$tmp/b.onnx"; then ok "$name: the same seed gives the same bytes"
  else bad "$name: two runs with seed 4 differ"; fi
done
"$T" zoo bert_tiny -o "$tmp/x.onnx" --variant bogus 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "unknown --variant 'bogus'" "$tmp/err"; then ok "unknown variant: exit 1, $(cat "$tmp/err")"
else bad "unknown variant: exit $rc, $(cat "$tmp/err")"; fi
"$T" zoo bert_tiny -o "$tmp/x.onnx" --opset 12 2>"$tmp/err"; rc=$?
if [ $rc = 2 ]; then ok "--opset 12: usage error (exit 2)"; else bad "--opset 12: exit $rc, $(cat "$tmp/err")"; fi
"$T" zoo imagenet_resnet18 -o "$tmp/x.onnx" --weights "$tmp/probe.onnx" 2>"$tmp/err"; rc=$?
if [ $rc = 1 ] && grep -q "CIFAR architectures only" "$tmp/err"; then ok "--weights on an ImageNet model: exit 1, $(cat "$tmp/err")"
else bad "--weights on an ImageNet model: exit $rc, $(cat "$tmp/err")"; fi
if "$T" zoo --list-variants | grep -q "^bn-mul-add: "; then ok "zoo --list-variants"; else bad "zoo --list-variants"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
