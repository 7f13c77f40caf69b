#!/usr/bin/env bash
# test_cli.sh - end-to-end tests of the `tandem` CLI (info, run, eval, usage) against ../shared/models: JSON fields,
# output files against the golden outputs, random and image inputs, eval/run agreement, exit codes 1 and 2.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
T=$BUILD/tandem
if [ ! -d "$SHARED/models" ]; then echo "SKIP: $SHARED/models is absent"; echo "0 passed, 0 failed"; exit 0; fi
if [ ! -x "$T" ]; then echo "FAIL: $T is not built"; echo "0 passed, 1 failed"; exit 1; fi
command -v node >/dev/null || { echo "FAIL: node is needed to parse JSON"; echo "0 passed, 1 failed"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# ---- a small node helper: JSON checks, TensorProto read/write, PNG writing, CIFAR records ----
cat > "$tmp/h.js" <<'EOF'
const fs = require('fs'), zlib = require('zlib');
function varint(v) { const b = []; v = BigInt.asUintN(64, BigInt(v)); do { let x = Number(v & 127n); v >>= 7n; if (v) x |= 128; b.push(x); } while (v); return Buffer.from(b); }
function field(tag, wt) { return varint((tag << 3) | wt); }
// TensorProto with dims, data_type, name and raw_data.
function writeTensor(path, name, dtype, dims, raw) {
  const parts = [];
  for (const d of dims) parts.push(field(1, 0), varint(d));
  parts.push(field(2, 0), varint(dtype));
  const nb = Buffer.from(name); parts.push(field(8, 2), varint(nb.length), nb);
  parts.push(field(9, 2), varint(raw.length), raw);
  fs.writeFileSync(path, Buffer.concat(parts));
}
// Minimal TensorProto reader for float32 tensors (raw_data or float_data).
function readTensor(path) {
  const b = fs.readFileSync(path); let p = 0; const dims = []; let dtype = 0, name = '', data = null; const fl = [];
  const rv = () => { let r = 0n, s = 0n; for (;;) { const x = b[p++]; r |= BigInt(x & 127) << s; s += 7n; if (!(x & 128)) return r; } };
  while (p < b.length) {
    const key = Number(rv()), tag = key >> 3, wt = key & 7;
    if (wt === 0) { const v = Number(rv()); if (tag === 1) dims.push(v); else if (tag === 2) dtype = v; }
    else if (wt === 2) { const n = Number(rv()); const s = b.subarray(p, p + n); p += n;
      if (tag === 8) name = s.toString(); else if (tag === 9) data = s;
      else if (tag === 1) { const q = b; let pp = 0; while (pp < s.length) { let r = 0, sh = 0, x; do { x = s[pp++]; r += (x & 127) * 2 ** sh; sh += 7; } while (x & 128); dims.push(r); } }
      else if (tag === 4) for (let i = 0; i + 4 <= s.length; i += 4) fl.push(s.readFloatLE(i)); }
    else if (wt === 5) { if (tag === 4) fl.push(b.readFloatLE(p)); p += 4; }
    else if (wt === 1) p += 8; else throw new Error('bad wire type ' + wt);
  }
  let vals;
  if (data) { vals = []; for (let i = 0; i + 4 <= data.length; i += 4) vals.push(data.readFloatLE(i)); } else vals = fl;
  return { name, dtype, dims, vals };
}
function crc32(buf) { let c = ~0; for (const x of buf) { c ^= x; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; } return ~c >>> 0; }
function chunk(t, d) { const l = Buffer.alloc(4); l.writeUInt32BE(d.length); const td = Buffer.concat([Buffer.from(t), d]);
  const c = Buffer.alloc(4); c.writeUInt32BE(crc32(td)); return Buffer.concat([l, td, c]); }
// RGB PNG from an HWC byte buffer.
function writePng(path, W, H, rgb) {
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((W * 3 + 1) * H);
  for (let y = 0; y < H; y++) rgb.copy(raw, y * (W * 3 + 1) + 1, y * W * 3, (y + 1) * W * 3);
  fs.writeFileSync(path, Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]));
}
const cmd = process.argv[2], a = process.argv.slice(3);
if (cmd === 'json') {          // json FILE EXPR: EXPR is a JS expression over `r` that must be true
  let r; try { r = JSON.parse(fs.readFileSync(a[0], 'utf8')); } catch (e) { console.log('not JSON: ' + e.message); process.exit(1); }
  let v; try { v = eval(a[1]); } catch (e) { console.log('check threw: ' + e.message); process.exit(1); }
  if (v !== true) { console.log('check failed: ' + a[1] + ' on ' + JSON.stringify(r).slice(0, 600)); process.exit(1); }
} else if (cmd === 'close') {  // close GOT.pb WANT.pb: same shape, |got-want| <= atol + rtol*|want|
  const g = readTensor(a[0]), w = readTensor(a[1]);
  if (g.dtype !== 1 || JSON.stringify(g.dims) !== JSON.stringify(w.dims) || g.vals.length !== w.vals.length) {
    console.log(`shape/dtype differ: ${g.dtype} ${g.dims} vs ${w.dtype} ${w.dims}`); process.exit(1); }
  let worst = 0; for (let i = 0; i < g.vals.length; i++) {
    const e = Math.abs(g.vals[i] - w.vals[i]) - (+a[2] || 1e-3) * Math.abs(w.vals[i]); if (!(e <= worst)) worst = isNaN(e) ? Infinity : e; }
  if (worst > (+a[2] || 1e-3)) { console.log('values differ by ' + worst); process.exit(1); }
} else if (cmd === 'argmax') { // argmax FILE.pb: per-row argmax of a [N, K] tensor, comma-separated
  const t = readTensor(a[0]), K = t.dims[t.dims.length - 1], out = [];
  for (let n = 0; n < t.vals.length / K; n++) { let best = 0; for (let k = 1; k < K; k++) if (t.vals[n * K + k] > t.vals[n * K + best]) best = k; out.push(best); }
  console.log(out.join(','));
} else if (cmd === 'cifar') {  // cifar DATA START COUNT OUTDIR MEAN STD: record images as PNG, a [COUNT,3,32,32] .pb, labels
  const [data, start, count, dir] = [a[0], +a[1], +a[2], a[3]]; const mean = a[4].split(',').map(Number), std = a[5].split(',').map(Number);
  const fd = fs.openSync(data, 'r'); const rec = Buffer.alloc(3073 * count); fs.readSync(fd, rec, 0, rec.length, 3073 * start);
  const x = new Float32Array(count * 3072), labels = [];
  for (let n = 0; n < count; n++) {
    const r = rec.subarray(n * 3073, (n + 1) * 3073); labels.push(r[0]); const rgb = Buffer.alloc(3072);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) {
      rgb[p * 3 + c] = r[1 + c * 1024 + p];
      x[n * 3072 + c * 1024 + p] = Math.fround(Math.fround(Math.fround(r[1 + c * 1024 + p] / 255) - Math.fround(mean[c])) / Math.fround(std[c]));
    }
    writePng(`${dir}/img_${n}.png`, 32, 32, rgb);
  }
  writeTensor(`${dir}/batch.pb`, 'input', 1, [count, 3, 32, 32], Buffer.from(x.buffer));
  fs.writeFileSync(`${dir}/labels.txt`, labels.join(','));
} else if (cmd === 'tensor') { // tensor OUT DTYPE DIMS(comma) [FILL]: a tensor of zeros (or FILL bytes) of that shape
  const dims = a[2].split(',').map(Number), n = dims.reduce((x, y) => x * y, 1);
  const size = { 1: 4, 7: 8, 6: 4, 2: 1 }[+a[1]] || 4; writeTensor(a[0], 'input', +a[1], dims, Buffer.alloc(n * size));
} else if (cmd === 'ids') {    // ids OUT NAME DIMS(comma) AT VALUE: int64 zeros with element AT = VALUE (token ids)
  const dims = a[2].split(',').map(Number), n = dims.reduce((x, y) => x * y, 1), v = new BigInt64Array(n);
  v[+a[3]] = BigInt(a[4]); writeTensor(a[0], a[1], 7, dims, Buffer.from(v.buffer));
} else if (cmd === 'png') {    // png OUT W H: a gradient image
  const W = +a[1], H = +a[2], rgb = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { const o = (y * W + x) * 3; rgb[o] = x * 7; rgb[o + 1] = y * 5; rgb[o + 2] = 99; }
  writePng(a[0], W, H, rgb);
} else { console.log('unknown helper command ' + cmd); process.exit(2); }
EOF
H() { node "$tmp/h.js" "$@"; }

# expect NAME CODE COMMAND...: run, check the exit code; an error exit must print exactly one "tandem: " line.
expect() {
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(grep -c '^tandem: ' "$tmp/err")
  if [ "$rc" != "$want" ]; then bad "$name: exit $rc, want $want: $(head -c 300 "$tmp/err")"; return 1; fi
  if [ "$want" != 0 ] && [ "$lines" != 1 ]; then bad "$name: $lines 'tandem: ' lines on stderr, want 1"; return 1; fi
  ok "$name"
}
# jcheck NAME EXPR: the last command's stdout is JSON and EXPR (over r) holds.
jcheck() {
  local msg; if msg=$(H json "$tmp/out" "$2"); then ok "$1"; else bad "$1: $msg"; fi
}

# ---- version, help ----
expect "--version" 0 "$T" --version && grep -q '^tandem [0-9]' "$tmp/out" && ok "--version prints the version" || bad "--version output"
expect "no args prints usage" 0 "$T"
for c in info run eval; do grep -q "tandem $c" "$tmp/out" || bad "usage lacks '$c'"; done
expect "help" 0 "$T" help
expect "help run" 0 "$T" help run
expect "run --help" 0 "$T" run --help
expect "info --ops --json" 0 "$T" info --ops --json && jcheck "info --ops lists ops" 'r.count > 0 && r.ops.length === r.count && r.ops.includes("Conv")'

# ---- usage errors: exit 2 ----
m20=$SHARED/models/cifar10_resnet20/model.onnx
expect "unknown command" 2 "$T" frobnicate
expect "unknown top-level option" 2 "$T" --frobnicate
expect "help for unknown command" 2 "$T" help frobnicate
expect "info without model" 2 "$T" info
expect "info unknown option" 2 "$T" info "$m20" --bogus
expect "info two models" 2 "$T" info "$m20" "$m20"
expect "info --json=1" 2 "$T" info "$m20" --json=1
expect "run without model" 2 "$T" run
expect "run without --input" 2 "$T" run "$m20"
expect "run --input without value" 2 "$T" run "$m20" --input
expect "run unknown option" 2 "$T" run "$m20" --input random --bogus 1
expect "run short option" 2 "$T" run "$m20" --input random -x
expect "run bad --threads" 2 "$T" run "$m20" --input random --threads two
expect "run --threads 0" 2 "$T" run "$m20" --input random --threads 0
expect "run bad --top" 2 "$T" run "$m20" --input random --top -1
expect "run bad --size" 2 "$T" run "$m20" --input random --size 32
expect "run bad --mean" 2 "$T" run "$m20" --input random --mean 0.1,x
expect "run --std 0" 2 "$T" run "$m20" --input random --std 0
expect "run --mean/--std lengths differ" 2 "$T" run "$m20" --input random --mean 1,2,3 --std 1,2
expect "run bad --seed" 2 "$T" run "$m20" --input random --seed -5
expect "eval without --dataset" 2 "$T" eval "$m20"
expect "eval bad --batch" 2 "$T" eval "$m20" --dataset x --batch 0
expect "eval bad --limit" 2 "$T" eval "$m20" --dataset x --limit abc
expect "eval --mean with 2 values" 2 "$T" eval "$m20" --dataset x --mean 0.1,0.2

# ---- runtime errors: exit 1 ----
expect "info missing model" 1 "$T" info "$tmp/nope.onnx"
grep -q "No such file" "$tmp/err" && ok "missing model message" || bad "missing model message: $(cat "$tmp/err")"
expect "info on a directory" 1 "$T" info "$tmp"
expect "run missing model" 1 "$T" run "$tmp/nope.onnx" --input random
expect "run missing input" 1 "$T" run "$m20" --input "$tmp/nope.pb"
grep -q "nope.pb" "$tmp/err" && ok "missing input message names the file" || bad "missing input message: $(cat "$tmp/err")"
expect "run too many inputs" 1 "$T" run "$m20" --input random --input random
H tensor "$tmp/short.pb" 1 1,3,31,32; H tensor "$tmp/i64.pb" 7 1,3,32,32; H tensor "$tmp/rank3.pb" 1 3,32,32
expect "run wrong shape" 1 "$T" run "$m20" --input "$tmp/short.pb"
expect "run wrong dtype" 1 "$T" run "$m20" --input "$tmp/i64.pb"
expect "run wrong rank" 1 "$T" run "$m20" --input "$tmp/rank3.pb"
expect "run with the model as input" 1 "$T" run "$m20" --input "$m20"
head -c 6000 "$SHARED/data/cifar10_test_jpeg75.bin" > "$tmp/bad.bin"
expect "eval dataset size not a multiple of 3073" 1 "$T" eval "$m20" --dataset "$tmp/bad.bin"
: > "$tmp/empty.bin"
expect "eval empty dataset" 1 "$T" eval "$m20" --dataset "$tmp/empty.bin"
expect "eval missing dataset" 1 "$T" eval "$m20" --dataset "$tmp/nope.bin"
mkdir -p "$tmp/ro"; echo x > "$tmp/ro/file"
expect "run --output-dir is a file" 1 "$T" run "$m20" --input random --output-dir "$tmp/ro/file"

# ---- info --json on every model ----
for model in "$SHARED"/models/*/model.onnx; do
  name=$(basename "$(dirname "$model")")
  expect "info $name" 0 "$T" info "$model" || continue
  grep -q opset "$tmp/out" || bad "info $name: no opset line"
  expect "info --json $name" 0 "$T" info "$model" --json || continue
  jcheck "info --json $name fields" '
    Array.isArray(r.inputs) && r.inputs.length >= 1 && Array.isArray(r.outputs) && r.outputs.length >= 1 &&
    r.inputs.every(t => typeof t.name === "string" && typeof t.dtype === "string" && Array.isArray(t.shape)) &&
    r.outputs.every(t => typeof t.name === "string" && Array.isArray(t.shape)) &&
    r.opset > 0 && r.ir_version > 0 && typeof r.producer === "string" &&
    typeof r.op_counts === "object" && Object.values(r.op_counts).reduce((a, b) => a + b, 0) === r.source_nodes &&
    r.params > 0 && r.macs > 0 && r.arena_bytes > 0 && r.weights_bytes > 0 && r.exec_nodes > 0 &&
    r.exec_nodes <= r.source_nodes'
  case $name in
  cifar*)
    jcheck "info --json $name shapes" \
      'JSON.stringify(r.inputs[0].shape) === JSON.stringify(["N",3,32,32]) && r.inputs[0].dtype === "float32" &&
       r.outputs[0].shape[0] === "N" && JSON.stringify(r.inputs[0].planned_shape) === "[1,3,32,32]" && r.op_counts.Conv > 0'
    if [ -f "$(dirname "$model")/info.json" ]; then
      want=$(node -e 'console.log(require(process.argv[1]).params)' "$(dirname "$model")/info.json")
      jcheck "info --json $name params near info.json ($want)" "Math.abs(r.params - $want) <= 0.05 * $want"
    fi ;;
  esac
done

# ---- token ids (issue 13): a text model from the zoo, ids inside and outside the embedding table ----
if "$T" zoo bert_tiny -o "$tmp/bert.onnx" >/dev/null 2>&1; then
  H ids "$tmp/ids_ok.pb" input_ids 1,128 7 30521; H ids "$tmp/ids_bad.pb" input_ids 1,128 7 30522
  H ids "$tmp/ids_neg.pb" input_ids 1,128 0 -3; H ids "$tmp/mask.pb" attention_mask 1,128 0 1
  H ids "$tmp/types.pb" token_type_ids 1,128 0 0
  expect "run a text model with ids from files" 0 "$T" run "$tmp/bert.onnx" --input "$tmp/ids_ok.pb" \
    --input "$tmp/mask.pb" --input "$tmp/types.pb" --top 0
  expect "run a text model on random inputs (ids within their tables)" 0 "$T" run "$tmp/bert.onnx" --input random \
    --input random --input random --top 0
  for f in ids_bad ids_neg; do
    expect "run with an id outside the table ($f)" 1 "$T" run "$tmp/bert.onnx" --input "$tmp/$f.pb" \
      --input "$tmp/mask.pb" --input "$tmp/types.pb"
    grep -q "input 0 'input_ids'.*outside \[0, 30522)" "$tmp/err" && ok "the message names the input and the table" \
      || bad "id message: $(cat "$tmp/err")"
  done
else bad "tandem zoo bert_tiny failed"; fi

# ---- run with .pb inputs against the goldens ----
for dir in "$SHARED"/models/*/; do
  name=$(basename "$dir")
  for set in "$dir"test_data_set_0 "$dir"test_data_set_1; do
    [ -f "$set/input_0.pb" ] || continue
    args=(); for f in "$set"/input_*.pb; do args+=(--input "$f"); done
    o="$tmp/out_${name}_$(basename "$set")"
    expect "run $name/$(basename "$set")" 0 "$T" run "$dir/model.onnx" "${args[@]}" --output-dir "$o" || continue
    if [ -f "$o/output_0.pb" ]; then ok "run $name writes output_0.pb"; else bad "run $name: no output_0.pb"; continue; fi
    if msg=$(H close "$o/output_0.pb" "$set/output_0.pb" 1e-3); then ok "run $name/$(basename "$set") matches the golden output"
    else bad "run $name/$(basename "$set") golden: $msg"; fi
    want=$(H argmax "$set/output_0.pb")
    jcheck "run $name summary" "r.model.length > 0 && r.inputs.length >= 1 && r.outputs.length >= 1 &&
      r.run_ms >= 0 && r.load_ms >= 0 && r.outputs[0].file.endsWith('output_0.pb') &&
      r.outputs[0].top.length === r.outputs[0].shape[0] && r.outputs[0].top.every(t => t.length === 5) &&
      r.outputs[0].top.map(t => t[0].index).join(',') === '$want' &&
      r.outputs[0].top.every(t => t[0].prob >= t[1].prob && t[0].prob <= 1 && t[4].prob >= 0)"
  done
done

# ---- random inputs ----
expect "run random" 0 "$T" run "$m20" --input random --output-dir "$tmp/r1" --seed 7
jcheck "run random summary" 'r.inputs[0].source === "random" && JSON.stringify(r.inputs[0].shape) === "[1,3,32,32]" &&
  JSON.stringify(r.outputs[0].shape) === "[1,10]" && r.outputs[0].top[0].length === 5'
expect "run random again (same seed)" 0 "$T" run "$m20" --input random --output-dir "$tmp/r2" --seed 7 --threads 2
cmp -s "$tmp/r1/output_0.pb" "$tmp/r2/output_0.pb" && ok "same seed, same output" || {
  msg=$(H close "$tmp/r1/output_0.pb" "$tmp/r2/output_0.pb" 1e-5) && ok "same seed, same output (within 1e-5)" || bad "same seed differs: $msg"; }
expect "run random other seed" 0 "$T" run "$m20" --input random --output-dir "$tmp/r3" --seed 8
cmp -s "$tmp/r1/output_0.pb" "$tmp/r3/output_0.pb" && bad "different seeds give the same output" || ok "different seeds differ"
expect "run random --top 0" 0 "$T" run "$m20" --input random --top 0
jcheck "--top 0 has no top" 'r.outputs[0].top === undefined'
expect "run random on mnist8" 0 "$T" run "$SHARED/models/mnist8/model.onnx" --input random
jcheck "mnist8 random shape" 'JSON.stringify(r.inputs[0].shape) === "[1,1,28,28]"'

# ---- images: PNG of CIFAR records == the same records as a TensorProto; eval agrees with run ----
mean=0.485,0.456,0.406; std=0.229,0.224,0.225
mkdir -p "$tmp/img"
H cifar "$SHARED/data/cifar10_test_jpeg75.bin" 0 16 "$tmp/img" "$mean" "$std"
expect "run image" 0 "$T" run "$m20" --input "$tmp/img/img_0.png" --mean "$mean" --std "$std" --output-dir "$tmp/ip" \
  --labels "$SHARED/data/cifar10_classes.txt"
jcheck "run image summary" 'r.inputs[0].source === "image" && JSON.stringify(r.inputs[0].shape) === "[1,3,32,32]" &&
  typeof r.outputs[0].top[0][0].label === "string"'
expect "run batch .pb" 0 "$T" run "$m20" --input "$tmp/img/batch.pb" --output-dir "$tmp/bp"
if [ -f "$tmp/ip/output_0.pb" ] && [ -f "$tmp/bp/output_0.pb" ]; then
  # the image run (PNG decode, normalise) predicts what row 0 of the TensorProto batch predicts
  first=$(H argmax "$tmp/bp/output_0.pb" | cut -d, -f1); img=$(H argmax "$tmp/ip/output_0.pb")
  [ "$first" = "$img" ] && ok "image and tensor input agree ($img)" || bad "image gives class $img, tensor gives $first"
  preds=$(H argmax "$tmp/bp/output_0.pb"); labels=$(cat "$tmp/img/labels.txt")
  correct=$(node -e 'const p=process.argv[1].split(","),l=process.argv[2].split(",");console.log(p.filter((x,i)=>x===l[i]).length)' "$preds" "$labels")
  for b in 64 5 1; do
    expect "eval --limit 16 --batch $b" 0 "$T" eval "$m20" --dataset "$SHARED/data/cifar10_test_jpeg75.bin" \
      --mean "$mean" --std "$std" --limit 16 --batch $b --json
    jcheck "eval batch $b agrees with run ($correct/16 correct)" "r.images === 16 && r.correct_top1 === $correct &&
      r.top1 === 100 * $correct / 16 && r.correct_top5 >= r.correct_top1 && r.top5 >= r.top1 && r.images_per_s > 0 &&
      r.seconds > 0 && r.batch === $b && r.threads === 1 && r.model.length > 0"
  done
fi
H png "$tmp/odd.png" 45 37
expect "run resized image" 0 "$T" run "$m20" --input "$tmp/odd.png"
jcheck "resized image shape" 'JSON.stringify(r.inputs[0].shape) === "[1,3,32,32]"'
expect "run image on mnist8 (grey)" 0 "$T" run "$SHARED/models/mnist8/model.onnx" --input "$tmp/odd.png"
jcheck "grey image shape" 'JSON.stringify(r.inputs[0].shape) === "[1,1,28,28]"'
head -c 200 "$tmp/odd.png" > "$tmp/trunc.png"
expect "run truncated image" 1 "$T" run "$m20" --input "$tmp/trunc.png"
expect "eval human-readable" 0 "$T" eval "$m20" --dataset "$SHARED/data/cifar10_test_jpeg75.bin" --mean "$mean" --std "$std" --limit 8
grep -q "top-1" "$tmp/out" && ok "eval prints top-1" || bad "eval human output: $(cat "$tmp/out")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
