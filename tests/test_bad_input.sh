#!/usr/bin/env bash
# test_bad_input.sh - robustness of `tandem run` and `tandem info` on hostile files: truncated and bit-flipped copies
# of the ../shared models, seeded random files, wrong-shape/wrong-dtype/garbage input tensors, missing files. Every
# case must end with exit 0 or 1 (never a signal, never a timeout), an error exit with exactly one "tandem: " line on
# stderr, and wrong input shapes/dtypes with exit 1. The corrupted files are generated from a fixed seed, so runs repeat.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
T=$BUILD/tandem
if [ ! -d "$SHARED/models" ]; then echo "SKIP: $SHARED/models is absent"; echo "0 passed, 0 failed"; exit 0; fi
if [ ! -x "$T" ]; then echo "FAIL: $T is not built"; echo "0 passed, 1 failed"; exit 1; fi
command -v node >/dev/null || { echo "FAIL: node is needed to generate the cases"; echo "0 passed, 1 failed"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bad.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0; n_ok=0; n_err=0
mkdir -p "$tmp/json"  # stdout of every successful info/run, parsed in one go at the end
# Fewer cases under the sanitizers (SAN=1 from run_all.sh), which run about 10x slower.
per=${BAD_CASES:-$([ "${SAN:-0}" = 1 ] && echo 8 || echo 24)}

# Models: a small old-opset one, one with Shape/Slice/Pad subgraphs, one with unfolded BatchNorm.
models=()
for m in mnist8 cifar10_resnet20 cifar100_mobilenetv2_arch; do
  [ -f "$SHARED/models/$m/model.onnx" ] && models+=("$SHARED/models/$m/model.onnx")
done

# ---- generate the corrupted files (seeded xorshift, so every run sees the same bytes) ----
cat > "$tmp/gen.js" <<'EOF'
const fs = require('fs');
const [out, per] = [process.argv[2], +process.argv[3]]; const models = process.argv.slice(4);
let s = 0x9E3779B9 >>> 0;
const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
const ri = n => Math.floor(rnd() * n);
models.forEach((path, mi) => {
  const b = fs.readFileSync(path), n = b.length;
  // truncations: the first bytes one by one, powers of two, seeded offsets, the last bytes
  const lens = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16, 24, 32, 64, 100, 128, 256, 512, 1024, 4096,
                        n >> 1, n - 100, n - 4, n - 2, n - 1]);
  for (let i = 0; i < per; i++) lens.add(ri(n));
  for (const l of lens) if (l >= 0 && l < n) fs.writeFileSync(`${out}/m${mi}_trunc_${l}.onnx`, b.subarray(0, l));
  // bit flips: half within the first 8 KB (graph structure, names, attributes), half anywhere (mostly weights)
  for (let i = 0; i < per; i++) {
    const c = Buffer.from(b), flips = 1 + ri(4), span = i % 2 ? n : Math.min(n, 8192);
    for (let k = 0; k < flips; k++) { const p = ri(span); c[p] ^= 1 << ri(8); }
    fs.writeFileSync(`${out}/m${mi}_flip_${i}.onnx`, c);
  }
  // spliced garbage: 1..64 random bytes written over the structure
  for (let i = 0; i < per / 4; i++) {
    const c = Buffer.from(b), p = ri(Math.min(n, 8192)), len = 1 + ri(64);
    for (let k = 0; k < len && p + k < n; k++) c[p + k] = ri(256);
    fs.writeFileSync(`${out}/m${mi}_splice_${i}.onnx`, c);
  }
});
// purely random files, and random files behind a plausible ModelProto prefix (ir_version 7, a graph field)
for (const [i, len] of [0, 1, 2, 10, 100, 1000, 10000, 100000].entries()) {
  const c = Buffer.alloc(len); for (let k = 0; k < len; k++) c[k] = ri(256);
  fs.writeFileSync(`${out}/rand_${i}.onnx`, c);
  const h = Buffer.from([0x08, 0x07, 0x3a, 0xff, 0xff, 0x03]);
  fs.writeFileSync(`${out}/randpb_${i}.onnx`, Buffer.concat([h, c]));
}
EOF
node "$tmp/gen.js" "$tmp" "$per" "${models[@]}" || { echo "FAIL: cannot generate cases"; echo "0 passed, 1 failed"; exit 1; }

# check NAME WANT COMMAND...: WANT is "01" (exit 0 or 1) or "1" (exit 1 exactly).
check() {
  local name=$1 want=$2; shift 2
  timeout 20 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; local rc=$?
  local why=""
  if [ $rc -eq 124 ]; then why="timed out"
  elif [ $rc -ge 128 ]; then why="killed by signal $((rc - 128))"
  elif [ "$want" = 1 ] && [ $rc -ne 1 ]; then why="exit $rc, want 1"
  elif [ $rc -gt 1 ]; then why="exit $rc, want 0 or 1"
  elif grep -q -e 'AddressSanitizer' -e 'LeakSanitizer' -e 'runtime error:' "$tmp/err"; then why="sanitizer report"
  elif [ $rc -eq 1 ] && [ "$(grep -c '^tandem: ' "$tmp/err")" != 1 ]; then
    why="$(grep -c '^tandem: ' "$tmp/err") 'tandem: ' lines on stderr, want 1"
  elif [ $rc -eq 0 ] && [ "$(head -c 1 "$tmp/out")" != "{" ] && [ "$2" = run ]; then why="exit 0 without a JSON summary"
  fi
  if [ -z "$why" ]; then
    passed=$((passed + 1)); [ $rc -eq 0 ] && n_ok=$((n_ok + 1)) || n_err=$((n_err + 1))
    [ $rc -eq 0 ] && case $2 in info|run) cp "$tmp/out" "$tmp/json/$n_ok.json" ;; esac
    [ -n "${VERBOSE:-}" ] && echo "ok   $name: exit $rc $(head -n 1 "$tmp/err")"
    return 0
  fi
  failed=$((failed + 1))
  echo "FAIL $name: $why"
  head -c 400 "$tmp/err" | sed 's/^/     /'
  return 1
}

# ---- corrupted models: info and run (random input) on each ----
n_models=0
for f in "$tmp"/*.onnx; do
  b=$(basename "$f")
  check "info $b" 01 "$T" info "$f" --json
  check "run $b" 01 "$T" run "$f" --input random
  n_models=$((n_models + 1))
done
echo "corrupted models: $n_models files"

# ---- bad input tensors on a good model ----
good=$SHARED/models/cifar10_resnet20/model.onnx
[ -f "$good" ] || good=${models[0]}
cat > "$tmp/tensors.js" <<'EOF'
const fs = require('fs'); const dir = process.argv[2], golden = process.argv[3];
function varint(v) { const b = []; v = BigInt.asUintN(64, BigInt(v)); do { let x = Number(v & 127n); v >>= 7n; if (v) x |= 128; b.push(x); } while (v); return Buffer.from(b); }
const f = (tag, wt) => varint((tag << 3) | wt);
function tensor(name, dtype, dims, raw, extra) {
  const p = []; for (const d of dims) p.push(f(1, 0), varint(d)); p.push(f(2, 0), varint(dtype));
  if (raw) p.push(f(9, 2), varint(raw.length), raw); if (extra) p.push(extra);
  fs.writeFileSync(`${dir}/${name}`, Buffer.concat(p));
}
tensor('shape_31.pb', 1, [1, 3, 31, 32], Buffer.alloc(4 * 3 * 31 * 32));           // wrong H
tensor('shape_rank3.pb', 1, [3, 32, 32], Buffer.alloc(4 * 3 * 32 * 32));            // wrong rank
tensor('shape_c4.pb', 1, [1, 4, 32, 32], Buffer.alloc(4 * 4 * 32 * 32));            // wrong C
tensor('dtype_i64.pb', 7, [1, 3, 32, 32], Buffer.alloc(8 * 3 * 32 * 32));           // int64
tensor('dtype_f64.pb', 11, [1, 3, 32, 32], Buffer.alloc(8 * 3 * 32 * 32));          // double
tensor('dtype_u8.pb', 2, [1, 3, 32, 32], Buffer.alloc(3 * 32 * 32));                // uint8
tensor('short_raw.pb', 1, [1, 3, 32, 32], Buffer.alloc(100));                      // raw_data too short
tensor('long_raw.pb', 1, [1, 3, 32, 32], Buffer.alloc(4 * 3 * 32 * 32 + 8));        // raw_data too long
tensor('huge_dims.pb', 1, [1 << 30, 1 << 30, 3, 32], Buffer.alloc(16));             // numel overflows memory
tensor('neg_dim.pb', 1, [-1, 3, 32, 32], Buffer.alloc(16));                         // negative dim
tensor('rank9.pb', 1, [1, 1, 1, 1, 1, 1, 1, 1, 1], Buffer.alloc(4));                // rank above TDM_MAX_RANK
tensor('no_data.pb', 1, [1, 3, 32, 32], null);                                      // no data at all
tensor('bad_dtype.pb', 99, [1, 3, 32, 32], Buffer.alloc(4 * 3 * 32 * 32));          // unknown dtype
tensor('float_data_short.pb', 1, [1, 3, 32, 32], null, Buffer.concat([f(4, 2), varint(8), Buffer.alloc(8)]));
fs.writeFileSync(`${dir}/empty.pb`, Buffer.alloc(0));
let s = 12345; const r = () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
for (let i = 0; i < 8; i++) { const c = Buffer.alloc(10 + 997 * i); for (let k = 0; k < c.length; k++) c[k] = r(); fs.writeFileSync(`${dir}/garbage_${i}.pb`, c); }
const g = fs.readFileSync(golden);
for (const l of [1, 2, 5, 10, 20, g.length >> 1, g.length - 1]) fs.writeFileSync(`${dir}/trunc_${l}.pb`, g.subarray(0, l));
for (let i = 0; i < 8; i++) { const c = Buffer.from(g); c[r() % 24] ^= 1 << (r() % 8); fs.writeFileSync(`${dir}/flip_${i}.pb`, c); }
EOF
mkdir -p "$tmp/in"
golden_in=$(dirname "$good")/test_data_set_0/input_0.pb
node "$tmp/tensors.js" "$tmp/in" "$golden_in" || { echo "FAIL: cannot generate tensors"; failed=$((failed + 1)); }
for f in "$tmp"/in/shape_*.pb "$tmp"/in/dtype_*.pb; do
  check "run wrong $(basename "$f")" 1 "$T" run "$good" --input "$f"
done
for f in "$tmp"/in/*.pb; do
  case $(basename "$f") in shape_*|dtype_*) continue ;; esac
  check "run input $(basename "$f")" 01 "$T" run "$good" --input "$f" --output-dir "$tmp/o"
done
for f in short_raw long_raw huge_dims neg_dim rank9 bad_dtype empty garbage_0 trunc_1; do
  check "run input $f must fail" 1 "$T" run "$good" --input "$tmp/in/$f.pb"
done

# ---- missing and odd paths ----
check "run missing model" 1 "$T" run "$tmp/none.onnx" --input random
check "info missing model" 1 "$T" info "$tmp/none.onnx"
check "run missing input" 1 "$T" run "$good" --input "$tmp/none.pb"
check "run model is a directory" 1 "$T" run "$tmp" --input random
check "info model is a directory" 1 "$T" info "$tmp"
check "run input is a directory" 1 "$T" run "$good" --input "$tmp"
check "run empty model" 1 "$T" run "$tmp/rand_0.onnx" --input random
printf '\x89PNG\r\n\x1a\n garbage' > "$tmp/fake.png"
check "run fake PNG" 1 "$T" run "$good" --input "$tmp/fake.png"
printf '\xff\xd8\xff\xe0 garbage' > "$tmp/fake.jpg"
check "run fake JPEG" 1 "$T" run "$good" --input "$tmp/fake.jpg"
check "bench --shape names no input" 1 "$T" bench "$good" --runs 1 --warmup 0 --shape no_such_input=1x3x32x32

# Successful runs on corrupted models print names from the file: the JSON must still parse.
if msg=$(node -e '
  const fs = require("fs"), dir = process.argv[1]; let bad = 0;
  for (const f of fs.readdirSync(dir)) {
    try { const r = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")); if (typeof r !== "object" || !r) throw new Error("not an object"); }
    catch (e) { bad++; console.log(f + ": " + e.message); } }
  process.exit(bad ? 1 : 0);' "$tmp/json"); then passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL stdout of a successful run is not JSON: $msg"; fi

echo "cases that ran (exit 0): $n_ok, rejected with one error line (exit 1): $n_err"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
